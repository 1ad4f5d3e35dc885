//! The life of an ID token: list (#13), UID token (#14), upgrade (#15),
//! park and pickup (#16, #17), logout (#19), and tokens that die with it.

mod common;

use common::{TestApp, claims_of, error_code, token_of};
use reqwest::StatusCode;
use serde_json::Value;

async fn logged_in(app: &TestApp) -> String {
    token_of(app.login_after_signup("bob@example.org").await).await
}

fn lifetime(token: &str) -> i64 {
    let claims = claims_of(token);
    claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap()
}

#[tokio::test]
async fn the_token_list_shows_unexpired_live_tokens_with_their_client() {
    let app = TestApp::spawn().await;
    let first = logged_in(&app).await;
    let url = app.url("/id/v3/auth/login");
    let body =
        serde_json::json!({"email": "bob@example.org", "type": "bcrypt", "key": "CorrectHorse"});
    let second = app
        .client
        .post(url)
        .header("user-agent", "probe/1.0")
        .json(&body)
        .send()
        .await
        .unwrap();
    let second = token_of(second).await;

    let listed: Value = app
        .get_with("/id/v3/auth", &first)
        .await
        .json()
        .await
        .unwrap();

    let tokens = listed["tokens"].as_array().unwrap();
    let jtis: Vec<&str> = tokens.iter().map(|t| t["jti"].as_str().unwrap()).collect();
    assert!(jtis.contains(&claims_of(&first)["jti"].as_str().unwrap()));
    let newest = &tokens[0];
    assert_eq!(newest["jti"], claims_of(&second)["jti"]);
    assert_eq!(newest["userAgent"], "probe/1.0");
    assert_eq!(newest["ip"], "127.0.0.1");
    let issued = newest["issuedTimestamp"].as_str().unwrap();
    assert!(chrono::DateTime::parse_from_rfc3339(issued).is_ok() && issued.ends_with("+00:00"));
    assert!(newest["expirationTimestamp"].is_string());

    app.post_with("/id/v3/auth/logout", &second).await;
    let listed: Value = app
        .get_with("/id/v3/auth", &first)
        .await
        .json()
        .await
        .unwrap();
    assert!(
        listed["tokens"]
            .as_array()
            .unwrap()
            .iter()
            .all(|t| t["jti"] != claims_of(&second)["jti"])
    );
}

#[tokio::test]
async fn a_uid_token_is_long_lived_and_no_id_or_access_token() {
    let app = TestApp::spawn().await;
    let id_token = logged_in(&app).await;

    let uid = token_of(app.post_with("/id/v3/auth/uid", &id_token).await).await;

    assert_eq!(claims_of(&uid)["scope"], "uid");
    assert_eq!(lifetime(&uid), 365 * 24 * 3600);
    assert_eq!(app.access(&uid).await.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(app.profile(&uid).await.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn an_upgrade_replaces_the_token_and_keeps_its_expiry_at_the_same_level() {
    let app = TestApp::spawn().await;
    let old = logged_in(&app).await;

    let response = app.post_with("/id/v3/auth/upgrade", &old).await;

    assert!(
        response.headers()["authorization"]
            .to_str()
            .unwrap()
            .starts_with("Bearer ")
    );
    let new = token_of(response).await;
    let (old_claims, new_claims) = (claims_of(&old), claims_of(&new));
    assert_ne!(old_claims["jti"], new_claims["jti"]);
    assert_eq!(old_claims["exp"], new_claims["exp"]);
    assert_eq!(error_code(app.access(&old).await).await, 401001);
    assert_eq!(app.access(&new).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn an_upgrade_after_verification_raises_the_level_and_the_lifetime() {
    let app = TestApp::spawn().await;
    let signup = app.signed_up("bob@example.org", "CorrectHorse").await;
    let access = token_of(app.access(&signup).await).await;
    let key = app.mailbox.verification_key_for("bob@example.org").await;
    app.confirm(&access, &key).await;

    let upgraded = token_of(app.post_with("/id/v3/auth/upgrade", &signup).await).await;

    assert_eq!(claims_of(&upgraded)["authLevel"], 2);
    assert_eq!(lifetime(&upgraded), 30 * 24 * 3600);
}

#[tokio::test]
async fn a_parked_token_is_picked_up_once_with_its_original_expiry() {
    let app = TestApp::spawn().await;
    let id_token = logged_in(&app).await;

    let pickup = token_of(app.post_with("/id/v3/auth/park", &id_token).await).await;

    let pickup_claims = claims_of(&pickup);
    assert_eq!(pickup_claims["scope"], "park");
    assert!(lifetime(&pickup) <= 300);
    assert_eq!(
        app.access(&id_token).await.status(),
        StatusCode::UNAUTHORIZED,
        "parking kills the token"
    );
    assert_eq!(
        app.access(&pickup).await.status(),
        StatusCode::UNAUTHORIZED,
        "a pickup token is no ID token"
    );

    let response = app.get_with("/id/v3/auth/park", &pickup).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.headers().contains_key("authorization"));
    let renewed = token_of(response).await;
    assert_eq!(claims_of(&renewed)["exp"], claims_of(&id_token)["exp"]);
    assert_eq!(claims_of(&renewed)["scope"], "idtoken");
    assert_eq!(app.access(&renewed).await.status(), StatusCode::OK);

    let replay = app.get_with("/id/v3/auth/park", &pickup).await;
    assert_eq!(replay.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_pickup_needs_a_pickup_token_and_a_dead_token_cannot_be_parked() {
    let app = TestApp::spawn().await;
    let id_token = logged_in(&app).await;

    assert_eq!(
        error_code(app.get_with("/id/v3/auth/park", &id_token).await).await,
        401001
    );
    app.post_with("/id/v3/auth/park", &id_token).await;
    let again = app.post_with("/id/v3/auth/park", &id_token).await;
    assert_eq!(again.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_pickup_token_expires() {
    let app = TestApp::spawn_with(|s| s.auth.pickup_token_ttl_secs = 1).await;
    let id_token = logged_in(&app).await;
    let pickup = token_of(app.post_with("/id/v3/auth/park", &id_token).await).await;

    // One second of lifetime plus the five seconds of tolerated clock skew.
    tokio::time::sleep(std::time::Duration::from_millis(7_100)).await;

    assert_eq!(
        error_code(app.get_with("/id/v3/auth/park", &pickup).await).await,
        401001
    );
}

#[tokio::test]
async fn logout_ends_the_presenting_token_and_the_access_tokens_obtained_with_it() {
    let app = TestApp::spawn().await;
    let id_token = logged_in(&app).await;
    let access = token_of(app.access(&id_token).await).await;
    let other = token_of(app.login("bob@example.org", "CorrectHorse").await).await;

    let response = app.post_with("/id/v3/auth/logout", &id_token).await;

    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert_eq!(error_code(app.access(&id_token).await).await, 401001);
    assert_eq!(error_code(app.profile(&access).await).await, 401001);
    assert_eq!(
        app.access(&other).await.status(),
        StatusCode::OK,
        "other sessions live on"
    );
    let events = app.event_types().await;
    assert_eq!(events.last().map(String::as_str), Some("TokenBlacklisted"));
}

#[tokio::test]
async fn logout_by_jti_ends_that_token_only_and_refuses_a_foreign_one() {
    let app = TestApp::spawn().await;
    let mine = logged_in(&app).await;
    let second = token_of(app.login("bob@example.org", "CorrectHorse").await).await;
    let alice = token_of(app.login_after_signup("alice@example.org").await).await;
    let jti = |t: &str| claims_of(t)["jti"].as_str().unwrap().to_string();

    let foreign = app
        .post_with(&format!("/id/v3/auth/logout?jti={}", jti(&alice)), &mine)
        .await;
    let unknown = app
        .post_with("/id/v3/auth/logout?jti=no-such-token", &mine)
        .await;
    let own = app
        .post_with(&format!("/id/v3/auth/logout?jti={}", jti(&second)), &mine)
        .await;

    assert_eq!(foreign.status(), StatusCode::FORBIDDEN);
    assert_eq!(error_code(foreign).await, 403001);
    assert_eq!(unknown.status(), StatusCode::FORBIDDEN);
    assert_eq!(own.status(), StatusCode::NO_CONTENT);
    assert_eq!(app.access(&second).await.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(app.access(&mine).await.status(), StatusCode::OK);
    assert_eq!(app.access(&alice).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn logout_all_ends_every_session_of_the_person_only() {
    let app = TestApp::spawn().await;
    let first = logged_in(&app).await;
    let others: Vec<String> = futures::future::join_all(
        (0..3)
            .map(|_| async { token_of(app.login("bob@example.org", "CorrectHorse").await).await }),
    )
    .await;
    let alice = token_of(app.login_after_signup("alice@example.org").await).await;

    assert_eq!(
        app.post_with("/id/v3/auth/logout?jti=all", &first)
            .await
            .status(),
        StatusCode::NO_CONTENT
    );

    for token in others.iter().chain([&first]) {
        assert_eq!(app.access(token).await.status(), StatusCode::UNAUTHORIZED);
    }
    assert_eq!(app.access(&alice).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_blacklisted_token_stays_dead_after_a_restart() {
    let mut app = TestApp::spawn().await;
    let id_token = logged_in(&app).await;
    app.post_with("/id/v3/auth/logout", &id_token).await;
    let issuer = app.address.clone();
    app.stop().await;

    let restarted = TestApp::spawn_on(&app.database_url, common::Mailbox::start(), |s| {
        s.auth.issuer = Some(issuer)
    })
    .await;

    assert_eq!(
        restarted.access(&id_token).await.status(),
        StatusCode::UNAUTHORIZED
    );
}
