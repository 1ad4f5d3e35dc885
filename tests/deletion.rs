//! Account deletion (#24): tokens die, personal data becomes unreadable in
//! the log and leaves the read models, the address is free again, and the
//! history still replays.

mod common;

use common::{TestApp, claims_of, dump, error_code, token_of};
use reqwest::StatusCode;

const NAME: &str = "Zebulon Quixotic";
const ADDRESS: &str = "zebulon.quixotic@example.org";

async fn delete_account(app: &TestApp, access: &str) -> reqwest::Response {
    app.client
        .delete(app.url("/id/v3/profile"))
        .bearer_auth(access)
        .send()
        .await
        .unwrap()
}

async fn named_person(app: &TestApp) -> (String, String) {
    let (id_token, access) = app.verified_person(ADDRESS, "CorrectHorse").await;
    let renamed = app
        .update_profile(&access, &serde_json::json!({"name": NAME}))
        .await;
    assert_eq!(renamed.status(), StatusCode::OK);
    (id_token, access)
}

#[tokio::test]
async fn after_deletion_a_dump_of_the_database_holds_no_trace_of_address_or_name() {
    let app = TestApp::spawn().await;
    let (_, access) = named_person(&app).await;
    let before = dump(&app.database_url);
    let live = before.contains(&NAME.to_lowercase()) && before.contains(ADDRESS);
    assert!(
        live,
        "the read models hold name and address while the account lives"
    );

    assert_eq!(
        delete_account(&app, &access).await.status(),
        StatusCode::NO_CONTENT
    );

    let after = dump(&app.database_url);
    assert!(!after.contains(ADDRESS), "the address survived deletion");
    assert!(
        !after.contains("zebulon"),
        "a part of the name or address survived deletion"
    );
    assert!(
        app.event_types()
            .await
            .contains(&"PersonDeleted".to_string())
    );
}

#[tokio::test]
async fn deletion_ends_every_token_and_frees_the_address() {
    let app = TestApp::spawn().await;
    let (id_token, access) = named_person(&app).await;
    let other = token_of(app.login(ADDRESS, "CorrectHorse").await).await;

    assert_eq!(
        delete_account(&app, &access).await.status(),
        StatusCode::NO_CONTENT
    );

    assert_eq!(error_code(app.profile(&access).await).await, 401001);
    assert_eq!(
        app.access(&id_token).await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(app.access(&other).await.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        app.login(ADDRESS, "CorrectHorse").await.status(),
        StatusCode::UNAUTHORIZED
    );
    let exists = app
        .post_json(
            "/id/v3/auth/exists",
            &serde_json::json!({"address": ADDRESS}),
        )
        .await;
    assert_eq!(exists.status(), StatusCode::NOT_FOUND);
    let again = app.signup(ADDRESS, "AnotherHorse1").await;
    assert_eq!(
        again.status(),
        StatusCode::OK,
        "the freed address signs up again"
    );
    assert_ne!(
        claims_of(&token_of(again).await)["sub"],
        claims_of(&id_token)["sub"]
    );
}

#[tokio::test]
async fn the_history_of_a_deleted_person_still_replays_and_rebuilds() {
    let app = TestApp::spawn().await;
    let (_, access) = named_person(&app).await;
    delete_account(&app, &access).await;
    let state = &app.running.as_ref().unwrap().state;

    let rebuilt = skalio_id_replay::rebuild(state.projector(), &[], false)
        .await
        .unwrap();

    let events = app.event_types().await.len() as u64;
    assert!(rebuilt.iter().all(|r| r.events == events));
    let profiles: i64 = sqlx::query_scalar("SELECT count(*) FROM profile_view_v1")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(profiles, 0);
    assert!(!dump(&app.database_url).contains(ADDRESS));
}
