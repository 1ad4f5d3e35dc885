//! Several instances on one database: a token logged out through one is
//! refused by the other within milliseconds, and a listener that lost its
//! connection catches up by reloading.

mod common;

use std::time::{Duration, Instant};

use common::process::{free_port, skalio_id, start, stop};
use common::{Mailbox, TestApp, eventually, fresh_database, token_of};
use reqwest::{Client, StatusCode};
use serde_json::json;

const TRIALS: usize = 200;

async fn token(
    client: &Client,
    url: String,
    bearer: Option<&str>,
    body: Option<serde_json::Value>,
) -> String {
    let mut request = client.post(url);
    if let Some(bearer) = bearer {
        request = request.bearer_auth(bearer);
    }
    if let Some(body) = body {
        request = request.json(&body);
    }
    token_of(request.send().await.unwrap()).await
}

/// Logs out through `a` and returns how long `b` kept accepting the access
/// token obtained with the logged-out ID token.
async fn one_trial(client: &Client, a: &str, b: &str) -> Duration {
    let login = json!({"email": "bob@example.org", "type": "bcrypt", "key": "CorrectHorse"});
    let id_token = token(client, format!("{a}/id/v3/auth/login"), None, Some(login)).await;
    let access = token(
        client,
        format!("{a}/id/v3/auth/access"),
        Some(&id_token),
        None,
    )
    .await;
    let profile = format!("{b}/id/v3/profile");
    let accepted = client
        .get(&profile)
        .bearer_auth(&access)
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(
        accepted,
        StatusCode::OK,
        "the other instance accepts the fresh token"
    );

    let logout = client
        .post(format!("{a}/id/v3/auth/logout"))
        .bearer_auth(&id_token)
        .send()
        .await
        .unwrap();
    assert_eq!(logout.status(), StatusCode::NO_CONTENT);
    let logged_out = Instant::now();
    while client
        .get(&profile)
        .bearer_auth(&access)
        .send()
        .await
        .unwrap()
        .status()
        == StatusCode::OK
    {
        assert!(
            logged_out.elapsed() < Duration::from_secs(5),
            "the other instance never learned of the logout"
        );
    }
    logged_out.elapsed()
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

#[tokio::test]
async fn a_logout_through_one_instance_is_honoured_by_another_at_once() {
    let database = fresh_database().await;
    let folder = tempfile::tempdir().unwrap();
    let (port_a, port_b) = (free_port(), free_port());
    let instance = |port: u16| {
        let mut command = skalio_id(folder.path());
        command
            .env("DATABASE_URL", &database)
            .env("SKALIO_ID_AUTH__ISSUER", "http://skalio-id.test")
            .env("SKALIO_ID_PUBLIC_URL", format!("http://127.0.0.1:{port}"))
            .env("SKALIO_ID_RATE_LIMITS__LOGIN__CAPACITY", "1000000");
        command
    };
    let a = start(instance(port_a), port_a).await;
    let b = start(instance(port_b), port_b).await;
    let client = Client::new();
    let signup = json!({"address": "bob@example.org", "password": "CorrectHorse"});
    token(
        &client,
        format!("{}/id/v3/signup", a.base),
        None,
        Some(signup),
    )
    .await;

    let mut delays = Vec::with_capacity(TRIALS);
    for _ in 0..TRIALS {
        delays.push(one_trial(&client, &a.base, &b.base).await);
    }
    delays.sort();

    println!(
        "logout → rejection on the other instance over {TRIALS} trials: p50 {:?}, p99 {:?}, max {:?}",
        percentile(&delays, 0.5),
        percentile(&delays, 0.99),
        delays[TRIALS - 1]
    );
    stop(a);
    stop(b);
}

#[tokio::test]
async fn a_blacklist_listener_that_lost_its_connection_reloads_what_it_missed() {
    let a = TestApp::spawn().await;
    let issuer = a.address.clone();
    let b = TestApp::spawn_on(&a.database_url, Mailbox::start(), |s| {
        s.auth.issuer = Some(issuer)
    })
    .await;
    let id_token = token_of(a.login_after_signup("bob@example.org").await).await;
    assert_eq!(b.access(&id_token).await.status(), StatusCode::OK);

    // Cut every listening connection of both instances, then log out while
    // they reconnect: the notification may be lost, the reload is not.
    let database = a.database_url.rsplit('/').next().unwrap().to_string();
    let listening = "SELECT count(*) FROM pg_stat_activity
                      WHERE datname = $1 AND query ILIKE 'LISTEN%token_blacklisted%'";
    let both_listen = eventually(Duration::from_secs(5), || async {
        let count: i64 = sqlx::query_scalar(listening)
            .bind(&database)
            .fetch_one(&a.pool)
            .await
            .unwrap();
        count == 2
    })
    .await;
    assert!(
        both_listen,
        "the instances' blacklist listeners did not connect"
    );
    let cut: i64 = sqlx::query_scalar(
        "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) FROM pg_stat_activity
          WHERE datname = $1 AND query ILIKE 'LISTEN%token_blacklisted%'",
    )
    .bind(&database)
    .fetch_one(&a.pool)
    .await
    .unwrap();
    assert_eq!(cut, 2, "both instances' blacklist listeners were cut");
    assert_eq!(
        a.post_with("/id/v3/auth/logout", &id_token).await.status(),
        StatusCode::NO_CONTENT
    );

    let refused = eventually(Duration::from_secs(5), || async {
        b.access(&id_token).await.status() == StatusCode::UNAUTHORIZED
    })
    .await;
    assert!(refused, "instance b still accepts the logged-out token");
}
