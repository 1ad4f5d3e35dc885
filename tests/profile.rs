//! Profile (#22, #23).

mod common;

use common::{TestApp, error_code, token_of};
use reqwest::StatusCode;
use serde_json::{Value, json};

async fn person(app: &TestApp) -> String {
    let login = token_of(app.login_after_signup("bob@example.org").await).await;
    token_of(app.access(&login).await).await
}

#[tokio::test]
async fn the_profile_has_every_documented_field() {
    let app = TestApp::spawn().await;
    let access = person(&app).await;

    let profile: Value = app.profile(&access).await.json().await.unwrap();

    for field in [
        "name",
        "locale",
        "timeZone",
        "uid",
        "hasAvatar",
        "fingerprint",
        "createdAt",
        "lastLoginAt",
        "emails",
        "membership",
    ] {
        assert!(profile.get(field).is_some(), "{field} missing in {profile}");
    }
    assert_eq!(profile["hasAvatar"], false);
    let created =
        chrono::DateTime::parse_from_rfc3339(profile["createdAt"].as_str().unwrap()).unwrap();
    assert!((chrono::Utc::now() - created.to_utc()).num_seconds() < 60);
    let fingerprint = profile["fingerprint"].as_array().unwrap();
    assert_eq!(fingerprint.len(), 5);
    for emoji in fingerprint {
        assert!(
            emoji["name"].is_string() && emoji["codePoint"].is_u64() && emoji["title"].is_string()
        );
    }
    let again: Value = app.profile(&access).await.json().await.unwrap();
    assert_eq!(
        again["fingerprint"], profile["fingerprint"],
        "the fingerprint is stable"
    );
}

#[tokio::test]
async fn an_update_changes_only_the_given_fields_and_is_read_back_at_once() {
    let app = TestApp::spawn().await;
    let access = person(&app).await;

    let response = app
        .update_profile(&access, &json!({"locale": "fr_FR", "name": "Robert"}))
        .await;

    assert_eq!(response.status(), StatusCode::OK);
    let updated: Value = response.json().await.unwrap();
    assert_eq!(
        (updated["name"].as_str(), updated["locale"].as_str()),
        (Some("Robert"), Some("fr_FR"))
    );
    assert_eq!(updated["timeZone"], "Europe/Berlin");
    let read: Value = app.profile(&access).await.json().await.unwrap();
    assert_eq!(read, updated);
    let events = app.event_types().await;
    assert_eq!(events.last().map(String::as_str), Some("ProfileUpdated"));
}

#[tokio::test]
async fn an_empty_update_changes_nothing_and_records_nothing() {
    let app = TestApp::spawn().await;
    let access = person(&app).await;
    let before = app.event_types().await.len();

    let response = app.update_profile(&access, &json!({})).await;

    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(app.event_types().await.len(), before);
}

#[tokio::test]
async fn invalid_updates_are_refused_and_change_nothing() {
    let app = TestApp::spawn().await;
    let access = person(&app).await;
    let before: Value = app.profile(&access).await.json().await.unwrap();
    let cases = [
        (json!({"locale": "tlh_KL"}), 400001),
        (json!({"timeZone": "Europe/Atlantis"}), 400002),
        (json!({"name": "x".repeat(201)}), 400002),
        (json!({"uid": "mine-now"}), 400001),
        (json!({"name": 7}), 400001),
    ];
    for (body, code) in cases {
        let response = app.update_profile(&access, &body).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(error_code(response).await, code, "{body}");
    }
    let after: Value = app.profile(&access).await.json().await.unwrap();
    assert_eq!(before, after);
}

#[tokio::test]
async fn the_profile_needs_an_access_token() {
    let app = TestApp::spawn().await;
    let anonymous = app.get("/id/v3/profile").await;
    let garbage = app.profile("garbage").await;
    assert_eq!(error_code(anonymous).await, 401001);
    assert_eq!(error_code(garbage).await, 401001);
    let put = app
        .client
        .put(app.url("/id/v3/profile"))
        .json(&json!({"name": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn concurrent_updates_of_one_person_all_land() {
    let app = TestApp::spawn().await;
    let access = person(&app).await;

    let locales = [
        "de_DE", "en_US", "fr_FR", "ja_JP", "ko_KR", "ru_RU", "zh_CN", "zh_TW",
    ];
    let bodies = locales.map(|locale| json!({"locale": locale}));
    let updates = bodies.iter().map(|body| app.update_profile(&access, body));
    let statuses: Vec<StatusCode> = futures::future::join_all(updates)
        .await
        .iter()
        .map(|r| r.status())
        .collect();

    assert!(
        statuses.iter().all(|s| *s == StatusCode::OK),
        "{statuses:?}"
    );
    let updates = app
        .event_types()
        .await
        .iter()
        .filter(|t| *t == "ProfileUpdated")
        .count();
    assert_eq!(updates, 8);
}
