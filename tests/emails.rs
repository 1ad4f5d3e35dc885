//! Email addresses (#28–#33): any number per person, each verified by a
//! mailed key; exactly one verified primary; limits; lapsing.

mod common;

use common::{TestApp, error_code, token_of};
use reqwest::{Response, StatusCode};
use serde_json::{Value, json};
use skalio_id::config::BucketSettings;

async fn add(app: &TestApp, access: &str, address: &str) -> Response {
    let url = app.url("/id/v3/profile/emails");
    app.client
        .post(url)
        .bearer_auth(access)
        .json(&json!({"address": address}))
        .send()
        .await
        .unwrap()
}

async fn emails(app: &TestApp, access: &str) -> Vec<Value> {
    let list: Value = app
        .get_with("/id/v3/profile/emails", access)
        .await
        .json()
        .await
        .unwrap();
    list["emails"].as_array().unwrap().clone()
}

async fn post(app: &TestApp, access: &str, path: &str) -> Response {
    app.post_with(path, access).await
}

async fn delete(app: &TestApp, access: &str, address: &str) -> Response {
    let url = app.url(&format!("/id/v3/profile/emails/{address}"));
    app.client
        .delete(url)
        .bearer_auth(access)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_second_address_is_added_unverified_verified_by_mail_and_made_primary() {
    let app = TestApp::spawn().await;
    let (_, access) = app.verified_person("bob@example.org", "CorrectHorse").await;

    let response = add(&app, &access, "Bob.Work@Example.org").await;

    assert_eq!(response.status(), StatusCode::CREATED);
    assert_eq!(
        response.headers()["location"],
        "/id/v3/profile/emails/Bob.Work@Example.org"
    );
    let added: Value = response.json().await.unwrap();
    assert_eq!(
        (added["primary"].as_bool(), added["verified"].as_bool()),
        (Some(false), Some(false))
    );
    assert!(added["removeAt"].as_str().unwrap().ends_with("+00:00"));

    let key = app
        .mailbox
        .verification_key_for("Bob.Work@Example.org")
        .await;
    assert_eq!(
        app.confirm(&access, &key).await.status(),
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        post(
            &app,
            &access,
            "/id/v3/profile/emails/bob.work@example.org/primary"
        )
        .await
        .status(),
        StatusCode::NO_CONTENT
    );

    let listed = emails(&app, &access).await;
    let primary: Vec<&str> = listed
        .iter()
        .filter(|e| e["primary"] == true)
        .map(|e| e["address"].as_str().unwrap())
        .collect();
    assert_eq!(primary, ["Bob.Work@Example.org"]);
    assert!(
        listed
            .iter()
            .all(|e| e["verified"] == true && e["removeAt"].is_null())
    );
    let login = app.login("bob.work@example.org", "CorrectHorse").await;
    assert_eq!(
        login.status(),
        StatusCode::OK,
        "every verified address logs in"
    );
}

#[tokio::test]
async fn the_signup_address_must_be_verified_before_another_is_added() {
    let app = TestApp::spawn().await;
    let signup = app.signed_up("bob@example.org", "CorrectHorse").await;
    let access = token_of(app.access(&signup).await).await;

    let response = add(&app, &access, "second@example.org").await;

    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert_eq!(error_code(response).await, 403001);
}

#[tokio::test]
async fn an_address_in_use_anywhere_or_malformed_is_refused() {
    let app = TestApp::spawn().await;
    let (_, access) = app.verified_person("bob@example.org", "CorrectHorse").await;
    app.signed_up("alice@example.org", "CorrectHorse").await;

    assert_eq!(
        error_code(add(&app, &access, "ALICE@example.org").await).await,
        403002
    );
    assert_eq!(
        error_code(add(&app, &access, "bob@example.org").await).await,
        403002
    );
    assert_eq!(
        error_code(add(&app, &access, "not an address").await).await,
        400002
    );
    assert_eq!(emails(&app, &access).await.len(), 1);
}

#[tokio::test]
async fn the_primary_address_cannot_be_removed_nor_someone_elses() {
    let app = TestApp::spawn().await;
    let (_, access) = app.verified_person("bob@example.org", "CorrectHorse").await;
    app.signed_up("alice@example.org", "CorrectHorse").await;

    let primary = delete(&app, &access, "bob@example.org").await;
    let foreign = delete(&app, &access, "alice@example.org").await;

    assert_eq!(primary.status(), StatusCode::FORBIDDEN);
    assert_eq!(foreign.status(), StatusCode::FORBIDDEN);
    assert_eq!(emails(&app, &access).await.len(), 1);
}

#[tokio::test]
async fn a_removed_address_is_free_for_anyone() {
    let app = TestApp::spawn().await;
    let (_, access) = app.verified_person("bob@example.org", "CorrectHorse").await;
    add(&app, &access, "shared@example.org").await;

    assert_eq!(
        delete(&app, &access, "Shared@Example.org").await.status(),
        StatusCode::NO_CONTENT
    );

    assert_eq!(emails(&app, &access).await.len(), 1);
    assert_eq!(
        app.signup("shared@example.org", "CorrectHorse")
            .await
            .status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn only_a_verified_address_of_ones_own_becomes_primary() {
    let app = TestApp::spawn().await;
    let (_, access) = app.verified_person("bob@example.org", "CorrectHorse").await;
    add(&app, &access, "unverified@example.org").await;

    let unverified = post(
        &app,
        &access,
        "/id/v3/profile/emails/unverified@example.org/primary",
    )
    .await;
    let unknown = post(
        &app,
        &access,
        "/id/v3/profile/emails/nobody@example.org/primary",
    )
    .await;

    assert_eq!(unverified.status(), StatusCode::FORBIDDEN);
    assert_eq!(unknown.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn asking_again_voids_the_earlier_key_and_a_verified_address_gets_no_mail() {
    let app = TestApp::spawn().await;
    let (_, access) = app.verified_person("bob@example.org", "CorrectHorse").await;
    add(&app, &access, "second@example.org").await;
    let first = app.mailbox.verification_key_for("second@example.org").await;

    let again = post(
        &app,
        &access,
        "/id/v3/profile/emails/second@example.org/verify",
    )
    .await;
    assert_eq!(again.status(), StatusCode::NO_CONTENT);
    let renewed = common::eventually(std::time::Duration::from_secs(5), || async {
        app.mailbox.verification_key_for("second@example.org").await != first
    })
    .await;
    assert!(renewed, "no second verification mail");
    let newest = app.mailbox.verification_key_for("second@example.org").await;

    assert_eq!(
        app.confirm(&access, &first).await.status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.confirm(&access, &newest).await.status(),
        StatusCode::NO_CONTENT
    );
    let mails_before = app.mailbox.all().len();
    let verified = post(
        &app,
        &access,
        "/id/v3/profile/emails/bob@example.org/verify",
    )
    .await;
    assert_eq!(verified.status(), StatusCode::NO_CONTENT);
    let unknown = post(
        &app,
        &access,
        "/id/v3/profile/emails/nobody@example.org/verify",
    )
    .await;
    assert_eq!(unknown.status(), StatusCode::NOT_FOUND);
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(app.mailbox.all().len(), mails_before);
}

#[tokio::test]
async fn requesting_verification_is_limited_to_once_a_minute() {
    let app = TestApp::spawn_with(|s| {
        s.rate_limits.email_verification = BucketSettings {
            capacity: 1.0,
            drain_per_sec: 1.0 / 60.0,
        };
    })
    .await;
    let signup = app.signed_up("bob@example.org", "CorrectHorse").await;
    let access = token_of(app.access(&signup).await).await;

    let first = post(
        &app,
        &access,
        "/id/v3/profile/emails/bob@example.org/verify",
    )
    .await;
    let second = post(
        &app,
        &access,
        "/id/v3/profile/emails/bob@example.org/verify",
    )
    .await;

    assert_eq!(first.status(), StatusCode::NO_CONTENT);
    assert_eq!(second.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(second.headers().contains_key("retry-after"));
    let body: Value = second.json().await.unwrap();
    assert_eq!(body["error"]["code"], 429002);
    assert_eq!(
        body["error"]["message"],
        "Maximum number of concurrent API requests reached."
    );
}

#[tokio::test]
async fn an_address_not_verified_in_time_is_removed_by_the_service() {
    let app = TestApp::spawn_with(|s| s.auth.unverified_address_ttl_secs = 0).await;
    let (_, access) = app.verified_person("bob@example.org", "CorrectHorse").await;
    add(&app, &access, "lapsing@example.org").await;

    let state = &app.running.as_ref().unwrap().state;
    let swept = skalio_id::accounts::remove_lapsed_addresses(state)
        .await
        .unwrap();

    assert_eq!(swept, 1);
    assert_eq!(emails(&app, &access).await.len(), 1);
    assert_eq!(
        app.signup("lapsing@example.org", "CorrectHorse")
            .await
            .status(),
        StatusCode::OK
    );
    assert_eq!(
        app.event_types()
            .await
            .iter()
            .filter(|t| *t == "EmailAddressRemoved")
            .count(),
        1
    );
}

#[tokio::test]
async fn concurrent_additions_by_one_person_all_land_with_their_claims() {
    let app = TestApp::spawn().await;
    let (_, access) = app.verified_person("bob@example.org", "CorrectHorse").await;

    let addresses: Vec<String> = (0..6).map(|i| format!("extra{i}@example.org")).collect();
    let added = futures::future::join_all(addresses.iter().map(|a| add(&app, &access, a))).await;

    assert!(added.iter().all(|r| r.status() == StatusCode::CREATED));
    assert_eq!(emails(&app, &access).await.len(), 7);
    let confirmed: i64 = sqlx::query_scalar("SELECT count(*) FROM email_claims WHERE confirmed")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(confirmed, 7);
}
