//! Password recovery (#20) and reset (#21), through a real SMTP server.

mod common;

use common::{TestApp, claims_of, error_code, token_of};
use reqwest::StatusCode;
use serde_json::{Value, json};
use skalio_id::config::BucketSettings;

async fn ask_for_reset(app: &TestApp, address: &str) -> reqwest::Response {
    app.post_json("/id/v3/auth/reset", &json!({"address": address}))
        .await
}

async fn redeem(app: &TestApp, key: &str) -> reqwest::Response {
    app.client
        .post(app.url(&format!("/id/v3/auth/reset/{key}")))
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_reset_key_mailed_to_a_verified_address_yields_a_short_set_password_token_once() {
    let app = TestApp::spawn().await;
    app.verified_person("bob@example.org", "CorrectHorse").await;

    let asked = ask_for_reset(&app, "BOB@example.org").await;
    assert_eq!(asked.status(), StatusCode::NO_CONTENT);
    let key = app.mailbox.reset_key_for("bob@example.org").await;
    assert_eq!(key.len(), 32);

    let response = redeem(&app, &key).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(
        response.headers()["authorization"]
            .to_str()
            .unwrap()
            .starts_with("Bearer ")
    );
    let token = token_of(response).await;
    let claims = claims_of(&token);
    assert_eq!(claims["setPassword"], true);
    assert_eq!(claims["scope"], "idtoken");
    assert_eq!(
        claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
        900
    );
    let access = token_of(app.access(&token).await).await;
    assert_eq!(claims_of(&access)["setPassword"], true);

    let replay = redeem(&app, &key).await;
    assert_eq!(replay.status(), StatusCode::NOT_FOUND);
    assert_eq!(error_code(replay).await, 404001);
}

#[tokio::test]
async fn ordinary_tokens_carry_no_set_password_claim() {
    let app = TestApp::spawn().await;
    let (id_token, access) = app.verified_person("bob@example.org", "CorrectHorse").await;
    assert!(claims_of(&id_token).get("setPassword").is_none());
    assert!(claims_of(&access).get("setPassword").is_none());
}

#[tokio::test]
async fn unknown_or_unverified_addresses_get_the_same_403_and_no_mail() {
    let app = TestApp::spawn().await;
    app.signed_up("unverified@example.org", "CorrectHorse")
        .await;
    app.mailbox.wait_for("unverified@example.org").await;

    let unverified = ask_for_reset(&app, "unverified@example.org").await;
    let unknown = ask_for_reset(&app, "nobody@example.org").await;

    assert_eq!(unverified.status(), StatusCode::FORBIDDEN);
    assert_eq!(unknown.status(), StatusCode::FORBIDDEN);
    let (a, b): (Value, Value) = (
        unverified.json().await.unwrap(),
        unknown.json().await.unwrap(),
    );
    assert_eq!(a, b);
    assert!(
        app.mailbox
            .all()
            .iter()
            .all(|m| !m.data.contains("/reset/"))
    );
    let bad = app
        .post_json("/id/v3/auth/reset", &json!({"mail": "x"}))
        .await;
    assert_eq!(error_code(bad).await, 400001);
}

#[tokio::test]
async fn asking_again_voids_the_earlier_key() {
    let app = TestApp::spawn().await;
    app.verified_person("bob@example.org", "CorrectHorse").await;
    ask_for_reset(&app, "bob@example.org").await;
    let first = app.mailbox.reset_key_for("bob@example.org").await;
    ask_for_reset(&app, "bob@example.org").await;
    let second = common::eventually(std::time::Duration::from_secs(5), || async {
        app.mailbox.reset_key_for("bob@example.org").await != first
    })
    .await;
    assert!(second, "no second reset mail");
    let newest = app.mailbox.reset_key_for("bob@example.org").await;

    assert_eq!(redeem(&app, &first).await.status(), StatusCode::NOT_FOUND);
    assert_eq!(redeem(&app, &newest).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn an_expired_or_guessed_key_is_not_found() {
    let app = TestApp::spawn_with(|s| s.auth.password_reset_key_ttl_secs = 1).await;
    app.verified_person("bob@example.org", "CorrectHorse").await;
    ask_for_reset(&app, "bob@example.org").await;
    let key = app.mailbox.reset_key_for("bob@example.org").await;

    tokio::time::sleep(std::time::Duration::from_millis(1_500)).await;

    assert_eq!(redeem(&app, &key).await.status(), StatusCode::NOT_FOUND);
    assert_eq!(
        redeem(&app, "GUESSEDGUESSEDGUESSEDGUESSED1234")
            .await
            .status(),
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn both_steps_are_rate_limited() {
    let app = TestApp::spawn_with(|s| {
        s.rate_limits.password_reset = BucketSettings {
            capacity: 1.0,
            drain_per_sec: 1.0 / 300.0,
        };
        s.rate_limits.password_reset_key = BucketSettings {
            capacity: 2.0,
            drain_per_sec: 1.0 / 60.0,
        };
    })
    .await;
    app.verified_person("bob@example.org", "CorrectHorse").await;

    assert_eq!(
        ask_for_reset(&app, "bob@example.org").await.status(),
        StatusCode::NO_CONTENT
    );
    let limited = ask_for_reset(&app, "Bob@Example.org").await;
    assert_eq!(limited.status().as_u16(), 509);
    assert!(limited.headers().contains_key("retry-after"));

    assert_eq!(redeem(&app, "WRONG1").await.status(), StatusCode::NOT_FOUND);
    assert_eq!(redeem(&app, "WRONG2").await.status(), StatusCode::NOT_FOUND);
    let limited = redeem(&app, "WRONG3").await;
    assert_eq!(limited.status().as_u16(), 509);
    assert_eq!(error_code(limited).await, 509001);
}
