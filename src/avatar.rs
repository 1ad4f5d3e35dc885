//! Avatar image processing: turns one uploaded image into the square JPEG
//! renditions the API serves.
//!
//! This module owns the whole path from untrusted upload bytes to encoded
//! renditions: the size cap on the upload, deciding the format from the bytes
//! themselves, refusing oversized images from their header before any pixel is
//! decoded (decompression bombs), decoding under an allocation budget,
//! flattening transparency onto white, centre-cropping to a square, resampling
//! to [`RENDITION_SIZES`] and JPEG encoding. It does no I/O and holds no state;
//! storing the renditions and mapping errors to HTTP responses belong to the
//! caller. The functions are synchronous and CPU-bound, so async callers should
//! run them on a blocking pool (e.g. `tokio::task::spawn_blocking`).

use std::io::Cursor;

use image::codecs::jpeg::JpegEncoder;
use image::error::{LimitError, LimitErrorKind};
use image::imageops::FilterType;
use image::metadata::Orientation;
use image::{
    DynamicImage, ImageDecoder, ImageEncoder, ImageError, ImageFormat, ImageReader, RgbImage,
};

/// Edge lengths, in pixels, of the square renditions stored for every avatar,
/// largest first.
pub const RENDITION_SIZES: [u32; 4] = [500, 240, 160, 80];

/// Quality 85 keeps faces free of visible blocking while a 500 px rendition
/// stays small; higher settings grow the file much faster than they improve it.
const JPEG_QUALITY: u8 = 85;

/// Lanczos3 and CatmullRom were timed in a release build rendering a
/// 1200×800 JPEG (decode, all four renditions, encode) on a 2-core machine:
/// about 45 ms against 37 ms. Lanczos3's wider kernel keeps the downscaled
/// renditions crisper and suppresses moiré on fine patterns (hair, fabric)
/// better, which is worth a few milliseconds on an upload that happens once
/// per avatar.
const RESIZE_FILTER: FilterType = FilterType::Lanczos3;

/// Upper bounds on what [`render`] will accept and decode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Largest accepted upload, in bytes, checked before anything is parsed.
    pub max_bytes: usize,
    /// Largest accepted width in pixels, checked from the image header.
    pub max_width: u32,
    /// Largest accepted height in pixels, checked from the image header.
    pub max_height: u32,
    /// Budget, in bytes, for the decoder's allocations (decoded pixels
    /// included). It catches what width and height alone do not, such as
    /// 16-bit-per-channel images.
    pub max_alloc: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            // A 12-megapixel phone photo is 2–5 MB as a JPEG; nothing larger
            // is needed for a picture shown at most 500 px wide. It also bounds
            // the copy the JPEG decoder makes; the caller should cap the request
            // body at the same size so the bytes never pile up in the first place.
            max_bytes: 5 * 1024 * 1024,
            // 8000 × 8000 (64 megapixels) admits photos from any current phone
            // or camera (48 MP sensors give 8000 × 6000) while stopping
            // crafted headers that claim tens of thousands of pixels a side.
            max_width: 8000,
            max_height: 8000,
            // 8000 × 8000 RGBA at 8 bits is 244 MiB, so every image within the
            // dimension limits at 8 bits per channel fits; 16-bit images of
            // that size (488 MiB) are refused. Peak use of one render is about
            // twice this (decoded image plus its converted copy), so callers
            // should bound how many renders run at once.
            max_alloc: 256 * 1024 * 1024,
        }
    }
}

/// Why an avatar upload was refused. The `Display` texts are written for the
/// API's error details; the decoder's own message, when there is one, is kept
/// as the error's `source()` for logs.
#[derive(Debug, thiserror::Error)]
pub enum AvatarError {
    #[error("image is {size} bytes; the maximum is {max} bytes")]
    TooLarge { size: usize, max: usize },

    #[error("image must be JPEG, PNG or GIF")]
    UnsupportedType,

    #[error("image data is not a valid {format} image (corrupt or truncated)")]
    Undecodable {
        format: &'static str,
        #[source]
        source: ImageError,
    },

    #[error("image is larger than {max_width}×{max_height} pixels")]
    TooManyPixels { max_width: u32, max_height: u32 },

    #[error("image needs more memory to decode than the {max_mib} MiB allowed")]
    TooMuchMemory { max_mib: u64 },

    #[error("image has no pixels")]
    Empty,

    #[error("could not encode the avatar as JPEG")]
    Encoding(#[source] ImageError),
}

impl AvatarError {
    /// True when the upload itself is at fault (answer 400); false for a
    /// failure on our side (answer 500).
    pub fn is_client_error(&self) -> bool {
        !matches!(self, Self::Encoding(_))
    }
}

/// One stored rendition: a `size`×`size` JPEG.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendition {
    pub size: u32,
    pub jpeg: Vec<u8>,
}

/// Whether a request's declared Content-Type is one the API accepts:
/// `image/jpeg` (with `image/jpg` as a common alias), `image/png` or
/// `image/gif`, ignoring case and parameters such as `; charset=...`.
///
/// This checks only the label. [`render`] decides the format from the bytes
/// and accepts any of the three allowed formats whatever the label said, so an
/// upload declared `image/png` that is really a JPEG is accepted and decoded as
/// a JPEG: clients mislabel files often (renamed files, generic upload
/// widgets), the bytes are what gets decoded, and both the label and the real
/// format are within the allowed set, so refusing would gain no safety.
pub fn accepts_media_type(declared: &str) -> bool {
    let essence = declared.split(';').next().unwrap_or_default().trim();
    ["image/jpeg", "image/jpg", "image/png", "image/gif"]
        .iter()
        .any(|allowed| essence.eq_ignore_ascii_case(allowed))
}

/// The rendition size closest to a requested display `height`; on a tie the
/// larger size wins, so the picture is scaled down rather than blown up.
pub fn closest_size(height: u32) -> u32 {
    RENDITION_SIZES
        .into_iter()
        .min_by_key(|&size| (size.abs_diff(height), std::cmp::Reverse(size)))
        .unwrap_or(RENDITION_SIZES[0])
}

/// Turns an uploaded image into one JPEG per entry of [`RENDITION_SIZES`], in
/// that order.
///
/// The image is centre-cropped to a square whose side is its shorter edge, so
/// nothing is stretched. Images whose square is smaller than a rendition are
/// upscaled to it (they come out soft) so every stored rendition has exactly
/// its nominal size and clients never need to special-case small avatars.
/// Animated GIFs and PNGs keep their first frame only.
///
/// JPEG decoding is lenient, like browsers: a JPEG cut off after its headers
/// renders with the missing rows filled in, and only damage the decoder cannot
/// get past is [`AvatarError::Undecodable`]. Nothing is stored on error; the
/// caller persists the result only when this returns `Ok`.
pub fn render(bytes: &[u8], limits: &Limits) -> Result<Vec<Rendition>, AvatarError> {
    if bytes.len() > limits.max_bytes {
        return Err(AvatarError::TooLarge {
            size: bytes.len(),
            max: limits.max_bytes,
        });
    }
    let format = sniff_format(bytes)?;
    let (image, orientation) = decode(bytes, format, limits)?;
    let mut square = centre_square(image)?;
    // Phone cameras store pixels sideways and record the turn in EXIF;
    // ignoring it would store a rotated face.
    square.apply_orientation(orientation);
    let square = flatten_onto_white(square);
    resample_all(square).iter().map(encode_rendition).collect()
}

/// Decides the format from the magic bytes only: the declared Content-Type
/// and any file name are client claims and cannot be trusted.
fn sniff_format(bytes: &[u8]) -> Result<ImageFormat, AvatarError> {
    match image::guess_format(bytes) {
        Ok(format @ (ImageFormat::Jpeg | ImageFormat::Png | ImageFormat::Gif)) => Ok(format),
        _ => Err(AvatarError::UnsupportedType),
    }
}

fn format_name(format: ImageFormat) -> &'static str {
    match format {
        ImageFormat::Jpeg => "JPEG",
        ImageFormat::Png => "PNG",
        _ => "GIF",
    }
}

/// Decodes the first frame, refusing oversized images from the header alone.
///
/// The width/height limits go to the decoder before it reads the header, so a
/// bomb is refused as soon as its dimensions are parsed; the explicit check
/// after it guards against a decoder that skips the (documented as strict)
/// limit. The EXIF orientation is returned rather than applied so the caller
/// can crop first and rotate only the pixels it keeps.
fn decode(
    bytes: &[u8],
    format: ImageFormat,
    limits: &Limits,
) -> Result<(DynamicImage, Orientation), AvatarError> {
    let name = format_name(format);
    let failed = |err| decode_error(err, name, limits);
    let mut reader = ImageReader::with_format(Cursor::new(bytes), format);
    reader.limits(decoder_limits(limits));
    let mut decoder = reader.into_decoder().map_err(failed)?;
    check_dimensions(decoder.dimensions(), limits)?;
    // As `ImageReader::decode` does: the output buffer is charged to the
    // budget up front, leaving the rest for the decoder's own allocations.
    let mut budget = decoder_limits(limits);
    budget
        .reserve(decoder.total_bytes())
        .and_then(|()| decoder.set_limits(budget))
        .map_err(failed)?;
    // Read before decoding: `from_decoder` consumes the decoder.
    let orientation = decoder.orientation().map_err(failed)?;
    let image = DynamicImage::from_decoder(decoder).map_err(failed)?;
    Ok((image, orientation))
}

fn decoder_limits(limits: &Limits) -> image::Limits {
    // `image::Limits` is non-exhaustive, so it is built field by field.
    let mut decoder = image::Limits::default();
    decoder.max_image_width = Some(limits.max_width);
    decoder.max_image_height = Some(limits.max_height);
    decoder.max_alloc = Some(limits.max_alloc);
    decoder
}

fn check_dimensions((width, height): (u32, u32), limits: &Limits) -> Result<(), AvatarError> {
    if width > limits.max_width || height > limits.max_height {
        return Err(too_many_pixels(limits));
    }
    if width == 0 || height == 0 {
        return Err(AvatarError::Empty);
    }
    Ok(())
}

fn too_many_pixels(limits: &Limits) -> AvatarError {
    AvatarError::TooManyPixels {
        max_width: limits.max_width,
        max_height: limits.max_height,
    }
}

/// Maps a decoder failure onto the API's errors: exhausted limits are the
/// image being too big, everything else is bad data.
fn decode_error(err: ImageError, format: &'static str, limits: &Limits) -> AvatarError {
    match &err {
        ImageError::Limits(limit) => limit_error(limit, limits),
        _ => AvatarError::Undecodable {
            format,
            source: err,
        },
    }
}

fn limit_error(limit: &LimitError, limits: &Limits) -> AvatarError {
    match limit.kind() {
        LimitErrorKind::DimensionError => too_many_pixels(limits),
        // InsufficientMemory; the only other kind, an unsupported strict
        // limit, cannot arise from the limits set here.
        _ => AvatarError::TooMuchMemory {
            max_mib: limits.max_alloc / (1024 * 1024),
        },
    }
}

/// Cuts the largest centred square. Done before orientation and colour
/// conversion so those touch only the pixels that are kept: a centred square
/// is the same whether cut before or after a rotation or flip.
fn centre_square(image: DynamicImage) -> Result<DynamicImage, AvatarError> {
    let (width, height) = (image.width(), image.height());
    let side = width.min(height);
    if side == 0 {
        return Err(AvatarError::Empty);
    }
    if width == height {
        // Already square: avoid copying what may be a large buffer.
        return Ok(image);
    }
    Ok(image.crop_imm((width - side) / 2, (height - side) / 2, side, side))
}

/// Converts to 8-bit RGB, compositing any transparency over white.
///
/// Dropping the alpha channel instead would expose whatever colour the
/// transparent pixels happen to store, usually black. Compositing before
/// resampling also keeps that hidden colour from bleeding into the edges of
/// the visible shape.
fn flatten_onto_white(image: DynamicImage) -> RgbImage {
    if !image.color().has_alpha() {
        return image.into_rgb8();
    }
    let rgba = image.into_rgba8();
    let mut rgb = RgbImage::new(rgba.width(), rgba.height());
    for (out, pixel) in rgb.pixels_mut().zip(rgba.pixels()) {
        let [r, g, b, a] = pixel.0;
        out.0 = [over_white(r, a), over_white(g, a), over_white(b, a)];
    }
    rgb
}

/// `channel` at opacity `alpha` over white, both 0–255, rounded. The blend is
/// done on the stored sRGB values, as browsers composite images over a page.
fn over_white(channel: u8, alpha: u8) -> u8 {
    let (c, a) = (u32::from(channel), u32::from(alpha));
    let blended = (c * a + 255 * (255 - a) + 127) / 255;
    u8::try_from(blended).unwrap_or(u8::MAX)
}

/// Resamples the square to every rendition size, largest first.
///
/// Each rendition is resampled from the smallest image already made that is
/// at least twice its size and was not upscaled, otherwise from the square:
/// with a 2× margin the result cannot be told from resampling the original,
/// and the work shrinks with the source (a 1200×800 upload renders in about
/// 45 ms instead of the 73 ms taken to resample the full square four times).
///
/// Resampling goes through `DynamicImage` methods because those are compiled
/// inside the image crate, where `[profile.dev.package.image]` optimises them;
/// the generic `imageops::resize` would be compiled in the calling crate and
/// run about ten times slower in debug builds.
fn resample_all(square: RgbImage) -> Vec<DynamicImage> {
    let source = box_reduce(DynamicImage::ImageRgb8(square));
    let mut renditions: Vec<DynamicImage> = Vec::with_capacity(RENDITION_SIZES.len());
    for size in RENDITION_SIZES {
        let from = renditions
            .iter()
            .rev()
            .find(|done| done.width() >= 2 * size && done.width() < source.width())
            .unwrap_or(&source);
        let resized = from.resize_exact(size, size, RESIZE_FILTER);
        renditions.push(resized);
    }
    renditions
}

/// Shrinks very large squares by a whole factor with a fast box average,
/// keeping at least twice the largest rendition. Lanczos3 on an 8000 px
/// square costs over a second per rendition; the box average takes a quarter
/// of a second and leaves the final filter the same 2× margin as above.
fn box_reduce(square: DynamicImage) -> DynamicImage {
    let factor = square.width() / (2 * RENDITION_SIZES[0]);
    if factor < 2 {
        return square;
    }
    let side = square.width() / factor;
    square.thumbnail_exact(side, side)
}

fn encode_rendition(image: &DynamicImage) -> Result<Rendition, AvatarError> {
    let size = image.width();
    let mut jpeg = Vec::new();
    JpegEncoder::new_with_quality(&mut jpeg, JPEG_QUALITY)
        .write_image(image.as_bytes(), size, size, image.color().into())
        .map_err(AvatarError::Encoding)?;
    Ok(Rendition { size, jpeg })
}
