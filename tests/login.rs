//! Login (#12), exists (#11) and access tokens (#18).

mod common;

use common::{TestApp, claims_of, error_code, token_of};
use reqwest::StatusCode;
use serde_json::{Value, json};
use skalio_id::config::BucketSettings;

#[tokio::test]
async fn login_with_the_right_password_returns_an_id_token_and_records_the_login() {
    let app = TestApp::spawn().await;
    app.signed_up("bob@example.org", "CorrectHorse").await;

    let response = app.login("BOB@example.org", "CorrectHorse").await;

    assert_eq!(response.status(), StatusCode::OK);
    assert!(
        response.headers()["authorization"]
            .to_str()
            .unwrap()
            .starts_with("Bearer ")
    );
    let token = token_of(response).await;
    let claims = claims_of(&token);
    assert_eq!(
        (claims["scope"].as_str(), claims["authLevel"].as_u64()),
        (Some("idtoken"), Some(1))
    );
    let lifetime = claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap();
    assert_eq!(
        lifetime, 3600,
        "an unverified person gets a short-lived token"
    );
    let access = token_of(app.access(&token).await).await;
    let profile: Value = app.profile(&access).await.json().await.unwrap();
    assert!(profile["lastLoginAt"].as_str().unwrap().ends_with("+00:00"));
}

#[tokio::test]
async fn a_verified_person_logs_in_at_auth_level_two() {
    let app = TestApp::spawn().await;
    let (id_token, _) = app.verified_person("bob@example.org", "CorrectHorse").await;
    let claims = claims_of(&id_token);
    assert_eq!(claims["authLevel"], 2);
    let lifetime = claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap();
    assert_eq!(lifetime, 30 * 24 * 3600);
}

#[tokio::test]
async fn wrong_password_and_unknown_address_are_answered_alike() {
    let app = TestApp::spawn().await;
    app.signed_up("bob@example.org", "CorrectHorse").await;

    let wrong = app.login("bob@example.org", "WrongHorse").await;
    let unknown = app.login("nobody@example.org", "CorrectHorse").await;

    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(unknown.status(), StatusCode::UNAUTHORIZED);
    let (wrong, unknown): (Value, Value) =
        (wrong.json().await.unwrap(), unknown.json().await.unwrap());
    assert_eq!(wrong, unknown);
    assert_eq!(wrong["error"]["code"], 401001);
}

#[tokio::test]
async fn login_needs_email_type_and_key_of_the_right_types() {
    let app = TestApp::spawn().await;
    let cases = [
        json!({"email": "bob@example.org", "key": "CorrectHorse"}),
        json!({"email": "bob@example.org", "type": "bcrypt"}),
        json!({"email": "bob@example.org", "type": "magic", "key": "x"}),
        json!({"email": ["bob"], "type": "bcrypt", "key": "x"}),
    ];
    for body in cases {
        let response = app.post_json("/id/v3/auth/login", &body).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(error_code(response).await, 400001, "{body}");
    }
}

#[tokio::test]
async fn a_second_factor_without_an_mfa_token_is_a_bad_request() {
    let app = TestApp::spawn().await;
    app.signed_up("bob@example.org", "CorrectHorse").await;

    let body = json!({"email": "bob@example.org", "type": "totp", "key": "123456"});
    let response = app.post_json("/id/v3/auth/login", &body).await;

    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert_eq!(error_code(response).await, 400002);
}

#[tokio::test]
async fn login_is_rate_limited_per_address_as_the_document_says() {
    let app = TestApp::spawn_with(|s| {
        s.rate_limits.login = BucketSettings {
            capacity: 3.0,
            drain_per_sec: 1.0 / 15.0,
        };
    })
    .await;
    app.signed_up("bob@example.org", "CorrectHorse").await;

    let mut remaining = Vec::new();
    for _ in 0..3 {
        let response = app.login("bob@example.org", "WrongHorse").await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(response.headers()["x-ratelimit-limit"], "3");
        remaining.push(
            response.headers()["x-ratelimit-remaining"]
                .to_str()
                .unwrap()
                .to_string(),
        );
    }
    let limited = app.login("Bob@Example.org", "CorrectHorse").await;
    let other_address = app.login("alice@example.org", "CorrectHorse").await;

    assert_eq!(remaining, ["2", "1", "0"]);
    assert_eq!(limited.status().as_u16(), 509);
    let retry_after: u64 = limited.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=15).contains(&retry_after), "Retry-After {retry_after}");
    assert_eq!(error_code(limited).await, 509001);
    assert_eq!(other_address.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn exists_tells_known_addresses_from_unknown_ones() {
    let app = TestApp::spawn().await;
    app.signed_up("bob@example.org", "CorrectHorse").await;

    let known = app
        .post_json("/id/v3/auth/exists", &json!({"address": "BOB@example.org"}))
        .await;
    let unknown = app
        .post_json("/id/v3/auth/exists", &json!({"address": "eve@example.org"}))
        .await;
    let invalid = app
        .post_json("/id/v3/auth/exists", &json!({"mail": "bob@example.org"}))
        .await;

    assert_eq!(known.status(), StatusCode::OK);
    assert_eq!(
        known.json::<Value>().await.unwrap(),
        json!({"provider": "http://skalio.com"})
    );
    assert_eq!(error_code(unknown).await, 404001);
    assert_eq!(error_code(invalid).await, 400001);
}

#[tokio::test]
async fn an_access_token_carries_the_id_tokens_jti_as_sid_and_is_short_lived() {
    let app = TestApp::spawn().await;
    let id_token = token_of(app.login_after_signup("bob@example.org").await).await;

    let access = token_of(app.access(&id_token).await).await;

    let (id, access) = (claims_of(&id_token), claims_of(&access));
    assert_eq!(access["scope"], "access");
    assert_eq!(access["sid"], id["jti"]);
    assert_eq!(access["sub"], id["sub"]);
    assert_ne!(access["jti"], id["jti"]);
    assert_eq!(
        access["exp"].as_i64().unwrap() - access["iat"].as_i64().unwrap(),
        600
    );
}

#[tokio::test]
async fn with_cookie_true_the_access_token_is_also_an_http_only_cookie_that_authenticates() {
    let app = TestApp::spawn().await;
    let id_token = token_of(app.login_after_signup("bob@example.org").await).await;

    let url = app.url("/id/v3/auth/access?cookie=true");
    let response = app
        .client
        .post(url)
        .bearer_auth(&id_token)
        .send()
        .await
        .unwrap();

    let cookie = response.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .to_string();
    let token = token_of(response).await;
    assert!(cookie.starts_with(&format!("acct={token};")), "{cookie}");
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"));
    let by_cookie = app
        .client
        .get(app.url("/id/v3/profile"))
        .header("cookie", format!("acct={token}"))
        .send()
        .await
        .unwrap();
    assert_eq!(by_cookie.status(), StatusCode::OK);
}

#[tokio::test]
async fn access_needs_a_valid_id_token() {
    let app = TestApp::spawn().await;
    let id_token = token_of(app.login_after_signup("bob@example.org").await).await;
    let access = token_of(app.access(&id_token).await).await;

    let none = app
        .client
        .post(app.url("/id/v3/auth/access"))
        .send()
        .await
        .unwrap();
    let with_access = app.access(&access).await;
    let garbage = app.access("not.a.token").await;
    let bad_flag = app
        .client
        .post(app.url("/id/v3/auth/access?cookie=maybe"))
        .bearer_auth(&id_token)
        .send()
        .await
        .unwrap();

    assert_eq!(error_code(none).await, 401001);
    assert_eq!(error_code(with_access).await, 401001);
    assert_eq!(error_code(garbage).await, 401001);
    assert_eq!(error_code(bad_flag).await, 400001);
}

#[tokio::test]
async fn concurrent_logins_of_one_person_all_succeed() {
    let app = TestApp::spawn().await;
    app.signed_up("bob@example.org", "CorrectHorse").await;

    let logins = (0..12).map(|_| app.login("bob@example.org", "CorrectHorse"));
    let statuses: Vec<StatusCode> = futures::future::join_all(logins)
        .await
        .iter()
        .map(|r| r.status())
        .collect();

    assert!(
        statuses.iter().all(|s| *s == StatusCode::OK),
        "{statuses:?}"
    );
    let issued = app
        .event_types()
        .await
        .iter()
        .filter(|t| *t == "IdTokenIssued")
        .count();
    assert_eq!(issued, 13);
}
