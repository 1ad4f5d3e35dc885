//! Avatars (#25–#27, #44) with real JPEG, PNG and GIF inputs, and the
//! SignalingEvents they cause, by long poll and Server-Sent Events.

mod common;

use std::io::Cursor;
use std::time::Duration;

use common::{TestApp, claims_of, error_code};
use image::{ImageFormat, Rgba, RgbaImage};
use reqwest::{Response, StatusCode};
use serde_json::Value;

fn encoded(width: u32, height: u32, format: ImageFormat) -> Vec<u8> {
    let image = RgbaImage::from_fn(width, height, |x, y| {
        let alpha = if format == ImageFormat::Png && x < width / 2 {
            0
        } else {
            255
        };
        Rgba([(x % 256) as u8, (y % 256) as u8, 90, alpha])
    });
    let mut bytes = Cursor::new(Vec::new());
    match format {
        ImageFormat::Jpeg => image::DynamicImage::ImageRgba8(image)
            .to_rgb8()
            .write_to(&mut bytes, format),
        _ => image.write_to(&mut bytes, format),
    }
    .expect("encode test image");
    bytes.into_inner()
}

/// A valid PNG header claiming 20000 × 20000 pixels, with almost no data.
fn bomb() -> Vec<u8> {
    fn chunk(kind: &[u8], data: &[u8]) -> Vec<u8> {
        let mut crc_input = kind.to_vec();
        crc_input.extend_from_slice(data);
        let mut out = (data.len() as u32).to_be_bytes().to_vec();
        out.extend_from_slice(&crc_input);
        out.extend_from_slice(&crc32(&crc_input).to_be_bytes());
        out
    }
    let mut ihdr = 20_000u32.to_be_bytes().to_vec();
    ihdr.extend_from_slice(&20_000u32.to_be_bytes());
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]);
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    png.extend(chunk(b"IHDR", &ihdr));
    png.extend(chunk(
        b"IDAT",
        &[0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01],
    ));
    png.extend(chunk(b"IEND", &[]));
    png
}

fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for byte in bytes {
        crc ^= u32::from(*byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

async fn upload(app: &TestApp, access: &str, content_type: &str, body: Vec<u8>) -> Response {
    let url = app.url("/id/v3/profile/avatar");
    app.client
        .put(url)
        .bearer_auth(access)
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .unwrap()
}

async fn avatar(app: &TestApp, access: &str, query: &str) -> Response {
    app.get_with(&format!("/id/v3/profile/avatar{query}"), access)
        .await
}

fn dimensions(jpeg: &[u8]) -> (u32, u32) {
    let image = image::load_from_memory_with_format(jpeg, ImageFormat::Jpeg).expect("a JPEG");
    (image.width(), image.height())
}

async fn has_avatar(app: &TestApp, access: &str) -> bool {
    let profile: Value = app.profile(access).await.json().await.unwrap();
    profile["hasAvatar"].as_bool().unwrap()
}

#[tokio::test]
async fn jpeg_png_and_gif_of_odd_sizes_become_square_jpeg_renditions() {
    let app = TestApp::spawn().await;
    let (_, access) = app.verified_person("bob@example.org", "CorrectHorse").await;
    let inputs = [
        ("image/jpeg", encoded(1201, 803, ImageFormat::Jpeg)),
        ("image/png", encoded(77, 1000, ImageFormat::Png)),
        ("image/gif", encoded(333, 101, ImageFormat::Gif)),
    ];

    for (content_type, bytes) in inputs {
        let response = upload(&app, &access, content_type, bytes).await;
        assert_eq!(response.status(), StatusCode::OK, "{content_type}");
        assert_eq!(response.headers()["content-type"], "image/jpeg");
        assert_eq!(response.headers()["location"], "/id/v3/profile/avatar");
        assert_eq!(dimensions(&response.bytes().await.unwrap()), (500, 500));
        for (height, size) in [
            ("", 500),
            ("?height=100", 80),
            ("?height=200", 240),
            ("?height=9999", 500),
        ] {
            let rendition = avatar(&app, &access, height).await.bytes().await.unwrap();
            assert_eq!(
                dimensions(&rendition),
                (size, size),
                "{content_type} {height}"
            );
        }
    }
    assert!(has_avatar(&app, &access).await);
    let stored: i64 = sqlx::query_scalar("SELECT count(*) FROM avatar_blobs")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(stored, 4, "replaced avatars leave no images behind");
}

#[tokio::test]
async fn unusable_uploads_are_refused_and_change_nothing() {
    let app = TestApp::spawn().await;
    let (_, access) = app.verified_person("bob@example.org", "CorrectHorse").await;
    upload(
        &app,
        &access,
        "image/jpeg",
        encoded(300, 300, ImageFormat::Jpeg),
    )
    .await;
    let before = avatar(&app, &access, "").await.bytes().await.unwrap();

    let text = upload(&app, &access, "text/plain", b"hello".to_vec()).await;
    let garbage = upload(&app, &access, "image/png", b"definitely not a png".to_vec()).await;
    let mut truncated = encoded(400, 400, ImageFormat::Jpeg);
    truncated.truncate(200);
    let truncated = upload(&app, &access, "image/jpeg", truncated).await;

    assert_eq!(text.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_eq!(error_code(garbage).await, 400002);
    assert_eq!(truncated.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        avatar(&app, &access, "").await.bytes().await.unwrap(),
        before
    );
}

#[tokio::test]
async fn a_decompression_bomb_is_refused_quickly() {
    let app = TestApp::spawn().await;
    let (_, access) = app.verified_person("bob@example.org", "CorrectHorse").await;

    let started = std::time::Instant::now();
    let response = upload(&app, &access, "image/png", bomb()).await;

    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "took {:?}",
        started.elapsed()
    );
    assert!(!has_avatar(&app, &access).await);
}

#[tokio::test]
async fn deleting_the_avatar_leaves_none_and_the_cookie_also_authenticates() {
    let app = TestApp::spawn().await;
    let (_, access) = app.verified_person("bob@example.org", "CorrectHorse").await;
    upload(
        &app,
        &access,
        "image/jpeg",
        encoded(120, 90, ImageFormat::Jpeg),
    )
    .await;

    let by_cookie = app
        .client
        .get(app.url("/id/v3/profile/avatar?height=80"))
        .header("cookie", format!("acct={access}"))
        .send()
        .await
        .unwrap();
    assert_eq!(by_cookie.status(), StatusCode::OK);
    let url = app.url("/id/v3/profile/avatar");
    let deleted = app
        .client
        .delete(&url)
        .bearer_auth(&access)
        .send()
        .await
        .unwrap();
    let again = app
        .client
        .delete(&url)
        .bearer_auth(&access)
        .send()
        .await
        .unwrap();

    assert_eq!(
        (deleted.status(), again.status()),
        (StatusCode::NO_CONTENT, StatusCode::NO_CONTENT)
    );
    assert_eq!(error_code(avatar(&app, &access, "").await).await, 404001);
    assert!(!has_avatar(&app, &access).await);
}

#[tokio::test]
async fn the_public_avatar_has_an_etag_and_answers_304() {
    let app = TestApp::spawn().await;
    let (id_token, access) = app.verified_person("bob@example.org", "CorrectHorse").await;
    let uid = claims_of(&id_token)["sub"].as_str().unwrap().to_string();
    let path = format!("/id/v3/public/avatar/{uid}?height=160");
    assert_eq!(error_code(app.get(&path).await).await, 404001);
    upload(
        &app,
        &access,
        "image/gif",
        encoded(64, 64, ImageFormat::Gif),
    )
    .await;

    let response = app.get(&path).await;

    assert_eq!(response.status(), StatusCode::OK);
    let tag = response.headers()["etag"].to_str().unwrap().to_string();
    assert_eq!(dimensions(&response.bytes().await.unwrap()), (160, 160));
    let unchanged = app
        .client
        .get(app.url(&path))
        .header("if-none-match", tag)
        .send()
        .await
        .unwrap();
    assert_eq!(unchanged.status(), StatusCode::NOT_MODIFIED);
    let by_address = app.get("/id/v3/public/avatar/bob@example.org").await;
    assert_eq!(by_address.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn an_avatar_change_is_a_signaling_event_by_long_poll() {
    let app = TestApp::spawn().await;
    let (id_token, access) = app.verified_person("bob@example.org", "CorrectHorse").await;
    let empty: Value = app
        .get_with("/id/v3/signaling", &access)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(empty["events"], serde_json::json!([]));

    let waiting = app.get_with("/id/v3/signaling?wait=10", &access);
    let uploading = async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        upload(
            &app,
            &access,
            "image/jpeg",
            encoded(50, 50, ImageFormat::Jpeg),
        )
        .await
    };
    let (page, uploaded) = tokio::join!(waiting, uploading);

    assert_eq!(uploaded.status(), StatusCode::OK);
    let page: Value = page.json().await.unwrap();
    let event = &page["events"][0];
    assert_eq!(event["type"], "PROFILE_AVATAR_UPDATED");
    assert_eq!(event["subject"], claims_of(&id_token)["sub"]);
    let cursor = page["cursor"].as_i64().unwrap();
    let after: Value = app
        .get_with(&format!("/id/v3/signaling?cursor={cursor}"), &access)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(after["events"], serde_json::json!([]));
}

#[tokio::test]
async fn an_avatar_change_reaches_a_listening_sse_client() {
    let app = TestApp::spawn().await;
    let (_, access) = app.verified_person("bob@example.org", "CorrectHorse").await;
    let mut stream = app
        .client
        .get(app.url("/id/v3/signaling/stream"))
        .header("accept", "text/event-stream")
        .bearer_auth(&access)
        .send()
        .await
        .unwrap();
    assert_eq!(stream.status(), StatusCode::OK);
    assert!(
        stream.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/event-stream")
    );

    upload(
        &app,
        &access,
        "image/jpeg",
        encoded(40, 60, ImageFormat::Jpeg),
    )
    .await;

    let mut received = String::new();
    let read = tokio::time::timeout(Duration::from_secs(10), async {
        while !received.contains("PROFILE_AVATAR_UPDATED") {
            let chunk = stream
                .chunk()
                .await
                .unwrap()
                .expect("the stream stays open");
            received.push_str(&String::from_utf8_lossy(&chunk));
        }
    })
    .await;
    assert!(read.is_ok(), "no event within 10 s: {received}");
    assert!(received.contains("event: PROFILE_AVATAR_UPDATED"));
    assert!(received.contains("id: 1"));
}

#[tokio::test]
async fn images_no_avatar_uses_are_deleted_after_an_hour() {
    let app = TestApp::spawn().await;
    let (_, access) = app.verified_person("bob@example.org", "CorrectHorse").await;
    upload(
        &app,
        &access,
        "image/jpeg",
        encoded(60, 60, ImageFormat::Jpeg),
    )
    .await;
    for (avatar_id, age) in [("stray-old", "2 hours"), ("stray-new", "1 minute")] {
        let sql = format!(
            "INSERT INTO avatar_blobs (avatar_id, person_id, size, jpeg, created_at)
             VALUES ($1, 'nobody', 80, '\\x00', now() - interval '{age}')"
        );
        sqlx::query(&sql)
            .bind(avatar_id)
            .execute(&app.pool)
            .await
            .unwrap();
    }

    let deleted = skalio_id::avatars::forget_unused(&app.pool).await.unwrap();

    assert_eq!(deleted, 1);
    let left: Vec<String> =
        sqlx::query_scalar("SELECT DISTINCT avatar_id FROM avatar_blobs ORDER BY 1")
            .fetch_all(&app.pool)
            .await
            .unwrap();
    assert_eq!(
        left.len(),
        2,
        "the avatar in use and the fresh stray stay: {left:?}"
    );
    assert!(left.contains(&"stray-new".to_string()));
    assert_eq!(avatar(&app, &access, "").await.status(), StatusCode::OK);
}
