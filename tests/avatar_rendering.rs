//! The avatar module on its own: real JPEG, PNG and GIF inputs, limits, bombs
//! and bad input. Every input is generated here; there are no binary fixtures.

use std::io::Cursor;
use std::time::{Duration, Instant};

use image::codecs::gif::GifEncoder;
use image::codecs::jpeg::JpegEncoder;
use image::codecs::png::PngEncoder;
use image::{
    Delay, ExtendedColorType, Frame, ImageEncoder, ImageFormat, ImageReader, Rgb, RgbImage, Rgba,
    RgbaImage,
};
use skalio_id::avatar::{
    AvatarError, Limits, RENDITION_SIZES, Rendition, accepts_media_type, closest_size, render,
};

// ---------- input generators ----------

fn gradient_rgb(width: u32, height: u32) -> RgbImage {
    RgbImage::from_fn(width, height, |x, y| {
        Rgb([(x * 255 / width) as u8, (y * 255 / height) as u8, 128])
    })
}

fn jpeg_bytes(image: &RgbImage) -> Vec<u8> {
    let mut out = Vec::new();
    JpegEncoder::new_with_quality(&mut out, 90)
        .write_image(
            image.as_raw(),
            image.width(),
            image.height(),
            ExtendedColorType::Rgb8,
        )
        .expect("encode test JPEG");
    out
}

fn jpeg_with_exif(image: &RgbImage, exif: Vec<u8>) -> Vec<u8> {
    let mut out = Vec::new();
    let mut encoder = JpegEncoder::new_with_quality(&mut out, 90);
    encoder.set_exif_metadata(exif).expect("JPEG takes EXIF");
    encoder
        .write_image(
            image.as_raw(),
            image.width(),
            image.height(),
            ExtendedColorType::Rgb8,
        )
        .expect("encode test JPEG");
    out
}

fn png_rgba_bytes(image: &RgbaImage) -> Vec<u8> {
    let mut out = Vec::new();
    PngEncoder::new(&mut out)
        .write_image(
            image.as_raw(),
            image.width(),
            image.height(),
            ExtendedColorType::Rgba8,
        )
        .expect("encode test PNG");
    out
}

/// Two frames: solid red, then solid green. Only the first may be used.
fn animated_gif_bytes(width: u32, height: u32) -> Vec<u8> {
    let mut out = Vec::new();
    {
        let mut encoder = GifEncoder::new(&mut out);
        for colour in [[255, 0, 0, 255], [0, 255, 0, 255]] {
            let frame = Frame::from_parts(
                RgbaImage::from_pixel(width, height, Rgba(colour)),
                0,
                0,
                Delay::from_numer_denom_ms(100, 1),
            );
            encoder.encode_frame(frame).expect("encode GIF frame");
        }
    }
    out
}

/// A little-endian TIFF/EXIF block holding only an Orientation tag.
fn exif_orientation(value: u16) -> Vec<u8> {
    let mut exif = b"II*\0".to_vec();
    exif.extend_from_slice(&8u32.to_le_bytes()); // IFD0 right after the header
    exif.extend_from_slice(&1u16.to_le_bytes()); // one entry
    exif.extend_from_slice(&0x0112u16.to_le_bytes()); // Orientation
    exif.extend_from_slice(&3u16.to_le_bytes()); // SHORT
    exif.extend_from_slice(&1u32.to_le_bytes()); // count
    exif.extend_from_slice(&value.to_le_bytes());
    exif.extend_from_slice(&[0, 0]); // value padding
    exif.extend_from_slice(&0u32.to_le_bytes()); // no next IFD
    exif
}

// ---------- a decompression bomb crafted without compressing 400 MB ----------

fn crc32(data: &[u8]) -> u32 {
    let table: Vec<u32> = (0..256u32)
        .map(|n| {
            (0..8).fold(n, |c, _| {
                if c & 1 == 1 {
                    0xEDB8_8320 ^ (c >> 1)
                } else {
                    c >> 1
                }
            })
        })
        .collect();
    !data.iter().fold(!0u32, |crc, &byte| {
        table[((crc ^ u32::from(byte)) & 0xFF) as usize] ^ (crc >> 8)
    })
}

fn png_chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
    out.extend_from_slice(&(data.len() as u32).to_be_bytes());
    let mut body = kind.to_vec();
    body.extend_from_slice(data);
    out.extend_from_slice(&body);
    out.extend_from_slice(&crc32(&body).to_be_bytes());
}

/// Deflate bit writer: fields go in least-significant bit first.
struct Bits {
    out: Vec<u8>,
    acc: u64,
    len: u32,
}

impl Bits {
    fn put(&mut self, value: u32, count: u32) {
        self.acc |= u64::from(value) << self.len;
        self.len += count;
        while self.len >= 8 {
            self.out.push(self.acc as u8);
            self.acc >>= 8;
            self.len -= 8;
        }
    }

    /// Huffman codes are defined most-significant bit first.
    fn code(&mut self, code: u32, count: u32) {
        self.put(code.reverse_bits() >> (32 - count), count);
    }
}

/// A zlib stream of `total` zero bytes using one fixed-Huffman block: a
/// literal 0, then back-references of length 258 at distance 1 (13 bits per
/// 258 bytes), then literals for the remainder.
fn zlib_zeros(total: u64) -> Vec<u8> {
    let mut bits = Bits {
        out: vec![0x78, 0x01],
        acc: 0,
        len: 0,
    };
    bits.put(1, 1); // BFINAL
    bits.put(1, 2); // BTYPE = fixed Huffman
    let literal_zero = |bits: &mut Bits| bits.code(0x30, 8);
    literal_zero(&mut bits);
    let rest = total - 1;
    for _ in 0..rest / 258 {
        bits.code(0xC5, 8); // length symbol 285 = 258
        bits.code(0, 5); // distance symbol 0 = 1
    }
    for _ in 0..rest % 258 {
        literal_zero(&mut bits);
    }
    bits.code(0, 7); // end of block
    if bits.len > 0 {
        bits.put(0, 8 - bits.len);
    }
    // Adler-32 of zeros: a stays 1, b grows by 1 per byte.
    let adler = (((total % 65521) as u32) << 16) | 1;
    bits.out.extend_from_slice(&adler.to_be_bytes());
    bits.out
}

/// A valid 8-bit greyscale PNG, all black, whose pixels are never stored
/// uncompressed: each row is a zero filter byte plus `width` zero samples.
fn black_grey_png(width: u32, height: u32) -> Vec<u8> {
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut ihdr = Vec::new();
    ihdr.extend_from_slice(&width.to_be_bytes());
    ihdr.extend_from_slice(&height.to_be_bytes());
    ihdr.extend_from_slice(&[8, 0, 0, 0, 0]); // depth 8, grey, deflate, filter 0, no interlace
    png_chunk(&mut png, b"IHDR", &ihdr);
    let raw = u64::from(height) * (1 + u64::from(width));
    png_chunk(&mut png, b"IDAT", &zlib_zeros(raw));
    png_chunk(&mut png, b"IEND", &[]);
    png
}

// ---------- checks ----------

fn assert_renditions(renditions: &[Rendition]) {
    let sizes: Vec<u32> = renditions.iter().map(|r| r.size).collect();
    assert_eq!(sizes, RENDITION_SIZES);
    for rendition in renditions {
        assert_eq!(
            image::guess_format(&rendition.jpeg).expect("sniffable"),
            ImageFormat::Jpeg
        );
        let decoded = image::load_from_memory_with_format(&rendition.jpeg, ImageFormat::Jpeg)
            .expect("rendition decodes");
        assert_eq!(
            (decoded.width(), decoded.height()),
            (rendition.size, rendition.size)
        );
    }
}

fn decode_rgb(rendition: &Rendition) -> RgbImage {
    image::load_from_memory_with_format(&rendition.jpeg, ImageFormat::Jpeg)
        .expect("rendition decodes")
        .into_rgb8()
}

fn near(actual: Rgb<u8>, expected: [u8; 3], tolerance: u8) -> bool {
    actual
        .0
        .iter()
        .zip(expected)
        .all(|(&a, e)| a.abs_diff(e) <= tolerance)
}

// ---------- render: successful inputs ----------

#[test]
fn jpeg_1201x803_gives_four_square_jpegs() {
    let renditions =
        render(&jpeg_bytes(&gradient_rgb(1201, 803)), &Limits::default()).expect("render JPEG");
    assert_renditions(&renditions);
}

#[test]
fn centre_crop_keeps_the_middle_of_a_wide_image() {
    // Red | green | blue thirds of a 300×100 image: the centred 100×100
    // square is the green third only.
    let image = RgbImage::from_fn(300, 100, |x, _| match x / 100 {
        0 => Rgb([255, 0, 0]),
        1 => Rgb([0, 255, 0]),
        _ => Rgb([0, 0, 255]),
    });
    let renditions = render(&jpeg_bytes(&image), &Limits::default()).expect("render");
    let big = decode_rgb(&renditions[0]);
    for (x, y) in [(10, 10), (250, 250), (490, 490), (10, 490)] {
        let pixel = *big.get_pixel(x, y);
        assert!(near(pixel, [0, 255, 0], 40), "pixel {x},{y} = {pixel:?}");
    }
}

#[test]
fn transparent_png_77x1000_flattens_onto_white() {
    // Left half fully transparent (stored colour black), right half opaque blue.
    let image = RgbaImage::from_fn(77, 1000, |x, _| {
        if x < 38 {
            Rgba([0, 0, 0, 0])
        } else {
            Rgba([0, 0, 255, 255])
        }
    });
    let renditions = render(&png_rgba_bytes(&image), &Limits::default()).expect("render PNG");
    assert_renditions(&renditions);
    for rendition in &renditions {
        let rgb = decode_rgb(rendition);
        let (left, right) = (rendition.size / 10, rendition.size * 9 / 10);
        let middle = rendition.size / 2;
        let transparent = *rgb.get_pixel(left, middle);
        let opaque = *rgb.get_pixel(right, middle);
        assert!(
            transparent.0.iter().all(|&c| c >= 240),
            "{}px transparent area came out {transparent:?}",
            rendition.size
        );
        assert!(
            near(opaque, [0, 0, 255], 40),
            "{}px opaque area came out {opaque:?}",
            rendition.size
        );
    }
}

#[test]
fn half_transparent_pixel_blends_towards_white() {
    let image = RgbaImage::from_pixel(10, 10, Rgba([0, 0, 0, 128]));
    let renditions = render(&png_rgba_bytes(&image), &Limits::default()).expect("render");
    let pixel = *decode_rgb(&renditions[3]).get_pixel(40, 40);
    assert!(near(pixel, [127, 127, 127], 6), "got {pixel:?}");
}

#[test]
fn animated_gif_uses_its_first_frame() {
    let renditions = render(&animated_gif_bytes(40, 30), &Limits::default()).expect("render GIF");
    assert_renditions(&renditions);
    let pixel = *decode_rgb(&renditions[1]).get_pixel(120, 120);
    assert!(
        near(pixel, [255, 0, 0], 40),
        "first frame is red, got {pixel:?}"
    );
}

#[test]
fn tiny_3x5_gif_is_upscaled_to_every_size() {
    let renditions = render(&animated_gif_bytes(3, 5), &Limits::default()).expect("render");
    assert_renditions(&renditions);
}

#[test]
fn one_pixel_png_is_upscaled() {
    let image = RgbaImage::from_pixel(1, 1, Rgba([10, 200, 30, 255]));
    let renditions = render(&png_rgba_bytes(&image), &Limits::default()).expect("render");
    assert_renditions(&renditions);
    let pixel = *decode_rgb(&renditions[0]).get_pixel(250, 250);
    assert!(near(pixel, [10, 200, 30], 25), "got {pixel:?}");
}

#[test]
fn exif_orientation_is_applied() {
    // Stored 200×100, left half red, right half blue. Orientation 6 means
    // "rotate 90° clockwise to display", which puts red on top.
    let image = RgbImage::from_fn(200, 100, |x, _| {
        if x < 100 {
            Rgb([255, 0, 0])
        } else {
            Rgb([0, 0, 255])
        }
    });
    let bytes = jpeg_with_exif(&image, exif_orientation(6));
    let big = decode_rgb(&render(&bytes, &Limits::default()).expect("render")[0]);
    assert!(
        near(*big.get_pixel(250, 50), [255, 0, 0], 40),
        "top should be red"
    );
    assert!(
        near(*big.get_pixel(250, 450), [0, 0, 255], 40),
        "bottom should be blue"
    );
}

#[test]
fn declared_type_does_not_matter_to_render() {
    // Render looks only at the bytes: a JPEG uploaded as image/png renders.
    assert!(accepts_media_type("image/png"));
    assert!(render(&jpeg_bytes(&gradient_rgb(64, 48)), &Limits::default()).is_ok());
}

// ---------- render: refusals ----------

#[test]
fn crafted_png_generator_produces_a_valid_image() {
    // The bomb below is only trustworthy if the same generator makes PNGs
    // that really decode.
    let png = black_grey_png(301, 203);
    let decoded = image::load_from_memory(&png).expect("crafted PNG decodes");
    assert_eq!((decoded.width(), decoded.height()), (301, 203));
    assert!(decoded.to_luma8().pixels().all(|p| p.0 == [0]));
    assert_renditions(&render(&png, &Limits::default()).expect("render"));
}

#[test]
fn png_bomb_20000x20000_is_refused_quickly() {
    let bomb = black_grey_png(20_000, 20_000);
    assert!(
        bomb.len() < Limits::default().max_bytes,
        "{} bytes",
        bomb.len()
    );
    let header = ImageReader::new(Cursor::new(&bomb))
        .with_guessed_format()
        .expect("sniff")
        .into_dimensions()
        .expect("header parses");
    assert_eq!(header, (20_000, 20_000));

    let started = Instant::now();
    let result = render(&bomb, &Limits::default());
    let elapsed = started.elapsed();
    assert!(
        matches!(
            result,
            Err(AvatarError::TooManyPixels {
                max_width: 8000,
                max_height: 8000
            })
        ),
        "got {result:?}"
    );
    assert!(elapsed < Duration::from_millis(250), "took {elapsed:?}");
}

#[test]
fn dimension_limits_apply_to_jpeg_and_gif_too() {
    let limits = Limits {
        max_width: 1000,
        max_height: 1000,
        ..Limits::default()
    };
    let jpeg = jpeg_bytes(&gradient_rgb(1201, 803));
    assert!(matches!(
        render(&jpeg, &limits),
        Err(AvatarError::TooManyPixels { .. })
    ));
    let tall_gif = animated_gif_bytes(10, 1001);
    assert!(matches!(
        render(&tall_gif, &limits),
        Err(AvatarError::TooManyPixels { .. })
    ));
}

#[test]
fn allocation_budget_is_enforced() {
    // 200×200 RGBA needs 160 000 bytes decoded; allow 100 000.
    let image = RgbaImage::from_pixel(200, 200, Rgba([1, 2, 3, 255]));
    let limits = Limits {
        max_alloc: 100_000,
        ..Limits::default()
    };
    let result = render(&png_rgba_bytes(&image), &limits);
    assert!(
        matches!(result, Err(AvatarError::TooMuchMemory { .. })),
        "got {result:?}"
    );
}

#[test]
fn oversized_upload_is_refused_before_parsing() {
    let limits = Limits::default();
    let mut bytes = jpeg_bytes(&gradient_rgb(32, 32));
    bytes.resize(limits.max_bytes + 1, 0);
    assert!(matches!(
        render(&bytes, &limits),
        Err(AvatarError::TooLarge { size, max }) if size == max + 1
    ));
}

#[test]
fn non_image_bytes_are_unsupported() {
    for bytes in [
        &b""[..],
        b"hello, this is not an image",
        b"<svg xmlns=\"http://www.w3.org/2000/svg\"/>",
        b"%PDF-1.7\n",
    ] {
        assert!(
            matches!(
                render(bytes, &Limits::default()),
                Err(AvatarError::UnsupportedType)
            ),
            "{bytes:?}"
        );
    }
}

#[test]
fn bmp_and_webp_headers_are_unsupported() {
    let mut bmp = b"BM".to_vec();
    bmp.extend_from_slice(&[0; 60]);
    let mut webp = b"RIFF\x24\0\0\0WEBPVP8 ".to_vec();
    webp.extend_from_slice(&[0; 40]);
    for bytes in [bmp, webp] {
        assert!(matches!(
            render(&bytes, &Limits::default()),
            Err(AvatarError::UnsupportedType)
        ));
    }
}

#[test]
fn truncated_images_are_undecodable() {
    let jpeg = jpeg_bytes(&gradient_rgb(1201, 803));
    let png = png_rgba_bytes(&RgbaImage::from_pixel(300, 300, Rgba([9, 9, 9, 255])));
    let gif = animated_gif_bytes(300, 300);
    for (bytes, format) in [(&jpeg, "JPEG"), (&png, "PNG"), (&gif, "GIF")] {
        let cut = &bytes[..bytes.len().min(60)];
        let result = render(cut, &Limits::default());
        assert!(
            matches!(&result, Err(AvatarError::Undecodable { format: f, .. }) if *f == format),
            "{format}: {result:?}"
        );
    }
}

#[test]
fn png_cut_mid_data_is_undecodable() {
    let image = RgbaImage::from_fn(300, 300, |x, y| Rgba([x as u8, y as u8, 7, 255]));
    let png = png_rgba_bytes(&image);
    let result = render(&png[..png.len() / 2], &Limits::default());
    assert!(
        matches!(result, Err(AvatarError::Undecodable { .. })),
        "got {result:?}"
    );
}

#[test]
fn corrupt_jpeg_body_is_undecodable() {
    // A JPEG header followed by garbage where the scan should be.
    let mut jpeg = jpeg_bytes(&gradient_rgb(64, 64));
    let start_of_scan = jpeg
        .windows(2)
        .position(|w| w == [0xFF, 0xDA])
        .expect("has SOS");
    jpeg.truncate(start_of_scan);
    let result = render(&jpeg, &Limits::default());
    assert!(
        matches!(result, Err(AvatarError::Undecodable { format: "JPEG", .. })),
        "got {result:?}"
    );
}

// ---------- errors ----------

#[test]
fn error_texts_are_fit_for_api_details() {
    let limits = Limits::default();
    let cases = [
        (
            render(&vec![0; limits.max_bytes + 1], &limits),
            "image is 5242881 bytes; the maximum is 5242880 bytes",
        ),
        (render(b"nope", &limits), "image must be JPEG, PNG or GIF"),
        (
            render(&black_grey_png(20_000, 20_000), &limits),
            "image is larger than 8000×8000 pixels",
        ),
    ];
    for (result, text) in cases {
        let err = result.expect_err("refused");
        assert_eq!(err.to_string(), text);
        assert!(err.is_client_error());
    }
    let undecodable =
        render(&png_rgba_bytes(&RgbaImage::new(5, 5))[..40], &limits).expect_err("truncated");
    assert_eq!(
        undecodable.to_string(),
        "image data is not a valid PNG image (corrupt or truncated)"
    );
    assert!(std::error::Error::source(&undecodable).is_some());
}

#[test]
fn default_limits() {
    let limits = Limits::default();
    assert_eq!(limits.max_bytes, 5 * 1024 * 1024);
    assert_eq!((limits.max_width, limits.max_height), (8000, 8000));
    assert_eq!(limits.max_alloc, 256 * 1024 * 1024);
}

// ---------- closest_size and accepts_media_type ----------

#[test]
fn closest_size_table() {
    let table = [
        (0, 80),
        (1, 80),
        (80, 80),
        (119, 80),
        (120, 160), // tie 80/160 → larger
        (121, 160),
        (160, 160),
        (199, 160),
        (200, 240), // tie 160/240 → larger
        (240, 240),
        (369, 240),
        (370, 500), // tie 240/500 → larger
        (500, 500),
        (4000, 500),
        (u32::MAX, 500),
    ];
    for (height, expected) in table {
        assert_eq!(closest_size(height), expected, "height {height}");
    }
}

#[test]
fn accepts_media_type_table() {
    let accepted = [
        "image/jpeg",
        "image/jpg",
        "image/png",
        "image/gif",
        "IMAGE/PNG",
        "Image/Jpeg",
        " image/png ",
        "image/png; charset=binary",
        "image/gif;foo=bar",
    ];
    let refused = [
        "",
        "image/webp",
        "image/bmp",
        "image/svg+xml",
        "image/*",
        "image/pngx",
        "text/plain",
        "application/octet-stream",
        "multipart/form-data; boundary=x",
        "image/png,image/gif",
    ];
    for media_type in accepted {
        assert!(accepts_media_type(media_type), "{media_type:?}");
    }
    for media_type in refused {
        assert!(!accepts_media_type(media_type), "{media_type:?}");
    }
}

#[test]
fn large_greyscale_square_is_box_reduced_then_resampled() {
    // 2400×2001 crops to 2001², which is box-reduced by 2 before Lanczos3.
    let renditions = render(&black_grey_png(2400, 2001), &Limits::default()).expect("render");
    assert_renditions(&renditions);
    for rendition in &renditions {
        let rgb = decode_rgb(rendition);
        assert!(
            rgb.pixels().all(|p| near(*p, [0, 0, 0], 3)),
            "{}px",
            rendition.size
        );
    }
}

#[test]
fn jpeg_cut_mid_scan_still_renders() {
    // Pins the image crate's lenient JPEG decoding (zune-jpeg, non-strict):
    // a JPEG that loses its tail after the headers decodes with the missing
    // rows filled in, as browsers show it. Only damage the decoder cannot
    // get past is Undecodable.
    let jpeg = jpeg_bytes(&gradient_rgb(601, 403));
    let renditions = render(&jpeg[..jpeg.len() / 2], &Limits::default()).expect("lenient");
    assert_renditions(&renditions);
}
