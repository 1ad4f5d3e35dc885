//! Public lookups (#43): by uid without authentication, by verified address
//! with a UID token; ETag and 304.

mod common;

use common::{TestApp, claims_of, error_code, token_of};
use reqwest::StatusCode;
use serde_json::{Value, json};

#[tokio::test]
async fn by_uid_anyone_sees_the_public_profile_with_an_etag_and_a_304() {
    let app = TestApp::spawn().await;
    let (id_token, access) = app.verified_person("bob@example.org", "CorrectHorse").await;
    let uid = claims_of(&id_token)["sub"].as_str().unwrap().to_string();
    let path = format!("/id/v3/public/profile/{uid}");

    let response = app.get(&path).await;

    assert_eq!(response.status(), StatusCode::OK);
    let tag = response.headers()["etag"].to_str().unwrap().to_string();
    let profile: Value = response.json().await.unwrap();
    assert_eq!(profile["uid"], uid.as_str());
    assert_eq!(profile["email"], "bob@example.org");
    assert_eq!(profile["name"], "Bob");
    assert_eq!(profile["hasAvatar"], false);
    assert_eq!(profile["fingerprint"].as_array().unwrap().len(), 5);
    assert!(profile.get("emails").is_none() && profile.get("lastLoginAt").is_none());

    let unchanged = app
        .client
        .get(app.url(&path))
        .header("if-none-match", &tag)
        .send()
        .await
        .unwrap();
    assert_eq!(unchanged.status(), StatusCode::NOT_MODIFIED);
    app.update_profile(&access, &json!({"name": "Robert"}))
        .await;
    let changed = app
        .client
        .get(app.url(&path))
        .header("if-none-match", &tag)
        .send()
        .await
        .unwrap();
    assert_eq!(changed.status(), StatusCode::OK);
    assert_ne!(changed.headers()["etag"].to_str().unwrap(), tag);
}

#[tokio::test]
async fn by_address_a_uid_token_is_needed_and_only_verified_addresses_count() {
    let app = TestApp::spawn().await;
    let (id_token, _) = app.verified_person("bob@example.org", "CorrectHorse").await;
    let uid_token = token_of(app.post_with("/id/v3/auth/uid", &id_token).await).await;
    app.signed_up("unverified@example.org", "CorrectHorse")
        .await;

    let anonymous = app.get("/id/v3/public/profile/bob@example.org").await;
    let with_id_token = app
        .get(&format!(
            "/id/v3/public/profile/bob@example.org?_uidt={id_token}"
        ))
        .await;
    let found = app
        .get(&format!(
            "/id/v3/public/profile/BOB@example.org?_uidt={uid_token}"
        ))
        .await;
    let unverified = app
        .get(&format!(
            "/id/v3/public/profile/unverified@example.org?_uidt={uid_token}"
        ))
        .await;

    assert_eq!(error_code(anonymous).await, 401001);
    assert_eq!(error_code(with_id_token).await, 401001);
    assert_eq!(found.status(), StatusCode::OK);
    assert_eq!(
        found.json::<Value>().await.unwrap()["uid"],
        claims_of(&id_token)["sub"]
    );
    assert_eq!(error_code(unverified).await, 404001);
}

#[tokio::test]
async fn an_unverified_person_shows_an_empty_email_and_unknown_keys_are_not_found() {
    let app = TestApp::spawn().await;
    let signup = app.signed_up("bob@example.org", "CorrectHorse").await;
    let uid = claims_of(&signup)["sub"].as_str().unwrap().to_string();

    let profile: Value = app
        .get(&format!("/id/v3/public/profile/{uid}"))
        .await
        .json()
        .await
        .unwrap();
    let unknown = app.get("/id/v3/public/profile/no-such-person").await;

    assert_eq!(profile["email"], "");
    assert_eq!(error_code(unknown).await, 404001);
}
