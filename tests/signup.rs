//! Signup (#2), the verification mail, and confirming the address (#33).

mod common;

use common::{TestApp, claims_of, error_code, token_of};
use reqwest::StatusCode;
use serde_json::{Value, json};

#[tokio::test]
async fn signup_returns_a_short_lived_low_level_id_token_in_body_and_header() {
    let app = TestApp::spawn().await;

    let response = app.signup("bob@example.org", "CorrectHorse").await;

    assert_eq!(response.status(), StatusCode::OK);
    let header = response.headers()["authorization"]
        .to_str()
        .unwrap()
        .to_string();
    let token = token_of(response).await;
    assert_eq!(header, format!("Bearer {token}"));
    let claims = claims_of(&token);
    assert_eq!(claims["scope"], "idtoken");
    assert_eq!(claims["ver"], "3.0");
    assert_eq!(claims["authLevel"], 1);
    assert_eq!(claims["roles"], json!([]));
    let lifetime = claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap();
    assert_eq!(lifetime, 3600);
}

#[tokio::test]
async fn signup_records_the_person_and_a_token_and_shows_the_profile_at_once() {
    let app = TestApp::spawn().await;
    let id_token = app.signed_up("Bob@Example.org", "CorrectHorse").await;
    let access = token_of(app.access(&id_token).await).await;

    let profile: Value = app.profile(&access).await.json().await.unwrap();

    assert_eq!(profile["name"], "Bob");
    assert_eq!(profile["locale"], "de_DE");
    assert_eq!(profile["timeZone"], "Europe/Berlin");
    assert_eq!(profile["uid"], claims_of(&id_token)["sub"]);
    assert_eq!(
        profile["emails"],
        json!([{"address": "Bob@Example.org", "primary": true, "verified": false, "removeAt": null}])
    );
    assert_eq!(profile["membership"], Value::Null);
    let events = app.event_types().await;
    assert_eq!(
        events,
        [
            "PersonRegistered",
            "EmailVerificationRequested",
            "IdTokenIssued"
        ]
    );
}

#[tokio::test]
async fn the_verification_mail_carries_the_key_and_a_link() {
    let app = TestApp::spawn().await;
    app.signed_up("bob@example.org", "CorrectHorse").await;

    let mail = app.mailbox.wait_for("bob@example.org").await;
    let key = app.mailbox.verification_key_for("bob@example.org").await;

    assert_eq!(key.len(), 6);
    assert!(
        mail.data
            .contains(&format!("Your verification key is: {key}"))
    );
    assert!(
        mail.data
            .contains(&format!("{}/confirm/{key}", app.address))
    );
}

#[tokio::test]
async fn confirming_the_first_address_returns_a_fresh_id_token_with_higher_auth_level() {
    let app = TestApp::spawn().await;
    let id_token = app.signed_up("bob@example.org", "CorrectHorse").await;
    let access = token_of(app.access(&id_token).await).await;
    let key = app.mailbox.verification_key_for("bob@example.org").await;

    let response = app.confirm(&access, &key.to_lowercase()).await;

    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let header = response.headers()["authorization"].to_str().unwrap();
    let renewed = header.strip_prefix("Bearer ").unwrap();
    let claims = claims_of(renewed);
    assert_eq!(claims["authLevel"], 2);
    assert_eq!(claims["scope"], "idtoken");
    let profile: Value = app.profile(&access).await.json().await.unwrap();
    assert_eq!(profile["emails"][0]["verified"], true);
    assert_eq!(profile["emails"][0]["removeAt"], Value::Null);
}

#[tokio::test]
async fn a_wrong_or_reused_key_is_not_found() {
    let app = TestApp::spawn().await;
    let id_token = app.signed_up("bob@example.org", "CorrectHorse").await;
    let access = token_of(app.access(&id_token).await).await;
    let key = app.mailbox.verification_key_for("bob@example.org").await;

    assert_eq!(
        error_code(app.confirm(&access, "ZZZZZZ").await).await,
        404001
    );
    assert_eq!(
        app.confirm(&access, &key).await.status(),
        StatusCode::NO_CONTENT
    );
    let again = app.confirm(&access, &key).await;
    assert_eq!(again.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn confirming_is_limited_to_once_a_minute_per_person() {
    let app = TestApp::spawn_with(|s| {
        s.rate_limits.email_verification = skalio_id::config::BucketSettings {
            capacity: 1.0,
            drain_per_sec: 1.0 / 60.0,
        };
    })
    .await;
    let id_token = app.signed_up("bob@example.org", "CorrectHorse").await;
    let access = token_of(app.access(&id_token).await).await;
    let key = app.mailbox.verification_key_for("bob@example.org").await;

    assert_eq!(
        app.confirm(&access, "WRONG2").await.status(),
        StatusCode::NOT_FOUND
    );
    let limited = app.confirm(&access, &key).await;

    assert_eq!(limited.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry_after: u64 = limited.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry_after));
    assert_eq!(error_code(limited).await, 429002);
}

#[tokio::test]
async fn confirming_needs_an_access_token_not_an_id_token() {
    let app = TestApp::spawn().await;
    let id_token = app.signed_up("bob@example.org", "CorrectHorse").await;

    let response = app.confirm(&id_token, "ABCDEF").await;

    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(error_code(response).await, 401001);
}

#[tokio::test]
async fn an_address_in_use_is_refused_in_any_case_and_nothing_is_written() {
    let app = TestApp::spawn().await;
    app.signed_up("bob@example.org", "CorrectHorse").await;
    let before = app.event_types().await.len();

    let response = app.signup("BOB@example.ORG", "OtherHorse1").await;

    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], 403002);
    assert_eq!(body["error"]["message"], "The data could not be stored.");
    assert_eq!(app.event_types().await.len(), before);
}

#[tokio::test]
async fn bad_signup_input_is_refused_with_400_and_leaves_no_trace() {
    let app = TestApp::spawn().await;
    let cases = [
        json!({"address": "not-an-address", "password": "CorrectHorse"}),
        json!({"address": "bob@example.org", "password": "short"}),
        json!({"address": "bob@example.org", "password": "x".repeat(73)}),
        json!({"address": "bob@example.org", "password": "CorrectHorse", "timeZone": "Mars/Base"}),
        json!({"address": "bob@example.org", "password": "CorrectHorse", "locale": "xx_XX"}),
        json!({"address": "bob@example.org", "password": "CorrectHorse", "name": "n".repeat(201)}),
        json!({"address": "bob@example.org"}),
        json!({"address": 42, "password": "CorrectHorse"}),
    ];
    for body in cases {
        let response = app.post_json("/id/v3/signup", &body).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{body}");
        let code = error_code(response).await;
        assert!(code == 400001 || code == 400002, "{body}: {code}");
    }
    assert!(app.event_types().await.is_empty());
    let claims: i64 = sqlx::query_scalar("SELECT count(*) FROM email_claims")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(claims, 0, "a refused signup left a claim");
}

#[tokio::test]
async fn twenty_concurrent_signups_with_one_address_have_one_winner() {
    let app = TestApp::spawn().await;

    let attempts = (0..20).map(|i| {
        let app = &app;
        let address = if i % 2 == 0 {
            "race@example.org"
        } else {
            "RACE@Example.org"
        };
        async move { app.signup(address, "CorrectHorse").await.status() }
    });
    let statuses = futures::future::join_all(attempts).await;

    let winners = statuses.iter().filter(|s| **s == StatusCode::OK).count();
    let losers = statuses
        .iter()
        .filter(|s| **s == StatusCode::FORBIDDEN)
        .count();
    assert_eq!((winners, losers), (1, 19), "{statuses:?}");
    let claims: Vec<(String, bool)> = sqlx::query_as("SELECT address, confirmed FROM email_claims")
        .fetch_all(&app.pool)
        .await
        .unwrap();
    assert_eq!(claims, vec![("race@example.org".to_string(), true)]);
    let persons: i64 = sqlx::query_scalar("SELECT count(*) FROM profile_view_v1")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(persons, 1);
}

#[tokio::test]
async fn the_event_table_holds_no_plaintext_address_name_or_hash() {
    let app = TestApp::spawn().await;
    app.signed_up("secret.person@example.org", "CorrectHorse")
        .await;

    let dump: Vec<String> =
        sqlx::query_scalar("SELECT payload::text || metadata::text FROM events")
            .fetch_all(&app.pool)
            .await
            .unwrap();
    let dump = dump.join("\n");

    assert!(
        !dump.to_lowercase().contains("secret.person"),
        "address in clear"
    );
    assert!(!dump.contains("\"Bob\""), "name in clear");
    assert!(!dump.contains("$2b$"), "password hash in clear");
    assert!(!dump.contains("127.0.0.1"), "client address in clear");
    assert!(dump.contains("ciphertext"));
}
