//! The event store and its consumers: global order under concurrent writers,
//! catching up after a crash, rebuilding read models, erased keys.

mod common;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use common::{Mailbox, TestApp, eventually, token_of};
use reqwest::StatusCode;
use serde_json::Value;
use skalio_id::event_store::RequestMeta;
use skalio_id_aggregates::person::{PersonCommand, UpdateProfile};
use skalio_id_projections::event_log::StoredEvent;
use skalio_id_projections::projector::{Projection, ProjectionError, Projector};
use sqlx::{PgConnection, PgPool};

/// Records every event it is given; its primary key refuses a second copy.
struct Ledger;

#[async_trait]
impl Projection for Ledger {
    fn name(&self) -> &'static str {
        "test_ledger"
    }

    async fn apply(
        &self,
        db: &mut PgConnection,
        event: &StoredEvent,
    ) -> Result<(), ProjectionError> {
        sqlx::query("INSERT INTO test_ledger (transaction_id, global_sequence) VALUES ($1, $2)")
            .bind(event.position.transaction_id)
            .bind(event.position.global_sequence)
            .execute(db)
            .await?;
        Ok(())
    }

    async fn reset(&self, db: &mut PgConnection) -> Result<(), ProjectionError> {
        sqlx::query("DELETE FROM test_ledger").execute(db).await?;
        Ok(())
    }
}

async fn positions(pool: &PgPool, sql: &str) -> Vec<(i64, i64)> {
    sqlx::query_as(sql).fetch_all(pool).await.unwrap()
}

/// An append that takes its insert number early and commits late, while
/// other appends commit around it.
async fn slow_append(pool: &PgPool, hold: Duration) {
    let mut tx = pool.begin().await.unwrap();
    sqlx::query(
        "INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata)
         VALUES ('Probe', 'late', 1, 'ProbeRecorded', '1.0', '{}', '{}')",
    )
    .execute(&mut *tx)
    .await
    .unwrap();
    tokio::time::sleep(hold).await;
    tx.commit().await.unwrap();
}

#[tokio::test]
async fn every_consumer_sees_every_event_exactly_once_under_concurrent_writers() {
    let app = TestApp::spawn().await;
    sqlx::query("CREATE TABLE test_ledger (transaction_id bigint, global_sequence bigint, PRIMARY KEY (transaction_id, global_sequence))")
        .execute(&app.pool)
        .await
        .unwrap();
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let ledger = Projector::new(app.pool.clone(), vec![Arc::new(Ledger)]);
    let tasks = ledger.spawn(stopped);

    let slow = slow_append(&app.pool, Duration::from_millis(700));
    let signups = (0..40).map(|i| {
        let app = &app;
        async move {
            app.signup(&format!("writer{i}@example.org"), "CorrectHorse")
                .await
                .status()
        }
    });
    let (_, statuses) = tokio::join!(slow, futures::future::join_all(signups));

    assert!(
        statuses.iter().all(|s| *s == StatusCode::OK),
        "{statuses:?}"
    );
    let all = "SELECT transaction_id::text::bigint, global_sequence FROM events ORDER BY 1, 2";
    let expected = positions(&app.pool, all).await;
    assert_eq!(expected.len(), 40 * 3 + 1);
    let seen = "SELECT transaction_id, global_sequence FROM test_ledger ORDER BY 1, 2";
    let caught_up = eventually(Duration::from_secs(10), || async {
        positions(&app.pool, seen).await.len() >= expected.len()
    })
    .await;
    assert!(caught_up, "the ledger did not catch up");
    assert_eq!(positions(&app.pool, seen).await, expected);
    let profiles: i64 = sqlx::query_scalar("SELECT count(*) FROM profile_view_v1")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(profiles, 40);
    stop.send(true).unwrap();
    for task in tasks {
        task.await.unwrap();
    }
}

#[tokio::test]
async fn a_projector_stopped_between_append_and_view_update_catches_up_on_restart() {
    let mut app = TestApp::spawn_with(|s| s.auth.read_your_writes_timeout_ms = 200).await;
    let login = token_of(app.login_after_signup("bob@example.org").await).await;
    let access = token_of(app.access(&login).await).await;
    let person = common::claims_of(&access)["sub"]
        .as_str()
        .unwrap()
        .to_string();
    let state = app.running.as_ref().unwrap().state.clone();

    app.stop().await;
    let rename = PersonCommand::UpdateProfile(UpdateProfile {
        name: Some("After Crash".into()),
        ..Default::default()
    });
    state
        .bus()
        .person(&person, rename, &RequestMeta::default().acting_as(&person))
        .await
        .unwrap();
    let name: Option<String> =
        sqlx::query_scalar("SELECT name FROM profile_view_v1 WHERE person_id = $1")
            .bind(&person)
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(
        name.as_deref(),
        Some("Bob"),
        "the view was updated although no projector ran"
    );

    // Same issuer as before, so that the tokens issued then stay valid.
    let issuer = app.address.clone();
    let restarted = TestApp::spawn_on(&app.database_url, Mailbox::start(), |s| {
        s.auth.issuer = Some(issuer)
    })
    .await;
    let renamed = eventually(Duration::from_secs(5), || async {
        let profile: Value = restarted.profile(&access).await.json().await.unwrap();
        profile["name"] == "After Crash"
    })
    .await;
    assert!(renamed, "the restarted projector did not catch up");
}

/// Every row of every read model, as JSON, in a stable order.
async fn read_models(pool: &PgPool) -> Vec<Vec<Value>> {
    let tables = [
        ("profile_view_v1", "person_id"),
        ("email_view_v1", "canonical_address"),
        ("token_view_v1", "jti"),
        ("password_reset_view_v1", "key_digest"),
    ];
    let mut models = Vec::new();
    for (table, key) in tables {
        let sql = format!("SELECT to_jsonb(t) FROM {table} t ORDER BY {key}");
        models.push(
            sqlx::query_scalar::<_, Value>(&sql)
                .fetch_all(pool)
                .await
                .unwrap(),
        );
    }
    models
}

#[tokio::test]
async fn rebuilding_the_read_models_leaves_them_identical() {
    let app = TestApp::spawn().await;
    app.verified_person("bob@example.org", "CorrectHorse").await;
    let login = token_of(app.login_after_signup("alice@example.org").await).await;
    let access = token_of(app.access(&login).await).await;
    app.update_profile(
        &access,
        &serde_json::json!({"name": "Alice", "locale": "ja_JP"}),
    )
    .await;
    let before = read_models(&app.pool).await;

    let state = &app.running.as_ref().unwrap().state;
    let rebuilt = skalio_id_replay::rebuild(state.projector(), &[], false)
        .await
        .unwrap();

    assert_eq!(rebuilt.len(), state.projector().read_model_names().len());
    let events = app.event_types().await.len() as u64;
    assert!(rebuilt.iter().all(|r| r.events == events), "{rebuilt:?}");
    assert_eq!(read_models(&app.pool).await, before);
    let mail =
        skalio_id_replay::rebuild(state.projector(), &["account_mail_v1".to_string()], false).await;
    assert!(mail.is_err(), "the mail consumer must not be rebuilt");
}

#[tokio::test]
async fn an_erased_key_reads_as_erased_data_and_history_still_rebuilds() {
    let app = TestApp::spawn().await;
    let login = token_of(app.login_after_signup("bob@example.org").await).await;
    let person = common::claims_of(&login)["sub"]
        .as_str()
        .unwrap()
        .to_string();

    skalio_id_projections::vault::destroy_key(&app.pool, &person)
        .await
        .unwrap();
    let state = &app.running.as_ref().unwrap().state;
    skalio_id_replay::rebuild(state.projector(), &[], false)
        .await
        .unwrap();

    let name: Option<String> =
        sqlx::query_scalar("SELECT name FROM profile_view_v1 WHERE person_id = $1")
            .bind(&person)
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(name, None);
    let addresses: i64 = sqlx::query_scalar("SELECT count(*) FROM email_view_v1")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(addresses, 0);
}
