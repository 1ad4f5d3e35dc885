//! The test harness: the real service on a free port against a fresh,
//! uniquely named database with migrations applied, a real SMTP server that
//! collects mail, and one helper per endpoint.
#![allow(dead_code)]

pub mod process;
pub mod smtp;

use std::process::Command;
use std::time::Duration;

use reqwest::{Response, StatusCode};
use serde_json::{Value, json};
use skalio_id::app::{self, RunningApp};
use skalio_id::config::{BucketSettings, Settings};
use sqlx::PgPool;
use tokio::net::TcpListener;

pub use smtp::Mailbox;

/// The server every test database is created on.
pub fn server_url() -> String {
    std::env::var("TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into())
}

/// A fresh database with all migrations; returns its URL.
pub async fn fresh_database() -> String {
    let name = format!("skalio_test_{}", uuid::Uuid::new_v4().simple());
    let admin = PgPool::connect(&format!("{}/postgres", server_url()))
        .await
        .expect("test server reachable");
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&admin)
        .await
        .expect("create database");
    admin.close().await;
    let url = format!("{}/{name}", server_url());
    let pool = PgPool::connect(&url).await.expect("connect test database");
    skalio_id::db::migrate(&pool)
        .await
        .expect("migrate test database");
    pool.close().await;
    url
}

/// Settings for tests: cheap bcrypt, generous rate limits, mail to `smtp`.
pub fn test_settings(database_url: &str, smtp: &Mailbox) -> Settings {
    let mut settings = Settings::default();
    settings.database.url = Some(database_url.to_string());
    settings.database.max_connections = Some(10);
    settings.data_dir =
        std::env::temp_dir().join(format!("skalio-test-{}", uuid::Uuid::new_v4().simple()));
    settings.mail.smtp_url = Some(smtp.url());
    settings.auth.bcrypt_cost = 4;
    let generous = BucketSettings {
        capacity: 1000.0,
        drain_per_sec: 100.0,
    };
    settings.rate_limits.login = generous;
    settings.rate_limits.email_verification = generous;
    settings
}

pub struct TestApp {
    pub address: String,
    pub client: reqwest::Client,
    pub pool: PgPool,
    pub mailbox: Mailbox,
    pub database_url: String,
    pub running: Option<RunningApp>,
}

impl TestApp {
    /// The service with test settings on a fresh database.
    pub async fn spawn() -> Self {
        Self::spawn_with(|_| {}).await
    }

    /// The service with test settings changed by `tweak`.
    pub async fn spawn_with(tweak: impl FnOnce(&mut Settings)) -> Self {
        let url = fresh_database().await;
        Self::spawn_on(&url, Mailbox::start(), tweak).await
    }

    /// The service on an existing database.
    pub async fn spawn_on(url: &str, mailbox: Mailbox, tweak: impl FnOnce(&mut Settings)) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let port = listener.local_addr().expect("address").port();
        let mut settings = test_settings(url, &mailbox);
        settings.public_url = Some(format!("http://127.0.0.1:{port}"));
        tweak(&mut settings);
        let pool = skalio_id::db::connect(url, 10).await.expect("connect");
        let running = app::start(settings, pool.clone(), listener)
            .await
            .expect("start app");
        let client = reqwest::Client::builder().build().expect("client");
        Self {
            address: format!("http://127.0.0.1:{port}"),
            client,
            pool,
            mailbox,
            database_url: url.to_string(),
            running: Some(running),
        }
    }

    /// Stops the service (server, projector, key rotation).
    pub async fn stop(&mut self) {
        if let Some(running) = self.running.take() {
            running.stop().await;
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    pub async fn signup(&self, address: &str, password: &str) -> Response {
        let body = json!({"address": address, "password": password, "name": "Bob",
                          "locale": "de_DE", "timeZone": "Europe/Berlin"});
        self.post_json("/id/v3/signup", &body).await
    }

    pub async fn login(&self, email: &str, password: &str) -> Response {
        self.post_json(
            "/id/v3/auth/login",
            &json!({"email": email, "type": "bcrypt", "key": password}),
        )
        .await
    }

    pub async fn access(&self, id_token: &str) -> Response {
        self.client
            .post(self.url("/id/v3/auth/access"))
            .bearer_auth(id_token)
            .send()
            .await
            .expect("request")
    }

    pub async fn profile(&self, access_token: &str) -> Response {
        self.client
            .get(self.url("/id/v3/profile"))
            .bearer_auth(access_token)
            .send()
            .await
            .expect("request")
    }

    pub async fn update_profile(&self, access_token: &str, body: &Value) -> Response {
        self.client
            .put(self.url("/id/v3/profile"))
            .bearer_auth(access_token)
            .json(body)
            .send()
            .await
            .expect("request")
    }

    pub async fn confirm(&self, access_token: &str, key: &str) -> Response {
        let url = self.url(&format!("/id/v3/confirm/{key}"));
        self.client
            .post(url)
            .bearer_auth(access_token)
            .send()
            .await
            .expect("request")
    }

    /// A POST carrying `token` as bearer and no body.
    pub async fn post_with(&self, path: &str, token: &str) -> Response {
        self.client
            .post(self.url(path))
            .bearer_auth(token)
            .send()
            .await
            .expect("request")
    }

    /// A GET carrying `token` as bearer.
    pub async fn get_with(&self, path: &str, token: &str) -> Response {
        self.client
            .get(self.url(path))
            .bearer_auth(token)
            .send()
            .await
            .expect("request")
    }

    pub async fn post_json(&self, path: &str, body: &Value) -> Response {
        self.client
            .post(self.url(path))
            .json(body)
            .send()
            .await
            .expect("request")
    }

    pub async fn get(&self, path: &str) -> Response {
        self.client
            .get(self.url(path))
            .send()
            .await
            .expect("request")
    }

    /// Signs up and returns the signup ID token.
    pub async fn signed_up(&self, address: &str, password: &str) -> String {
        let response = self.signup(address, password).await;
        assert_eq!(response.status(), StatusCode::OK, "signup failed");
        token_of(response).await
    }

    /// Signs up with a standard password, then logs in.
    pub async fn login_after_signup(&self, address: &str) -> Response {
        self.signed_up(address, "CorrectHorse").await;
        self.login(address, "CorrectHorse").await
    }

    /// Signs up, confirms the address from the mail, logs in, and returns an
    /// ID token and an access token of a verified person.
    pub async fn verified_person(&self, address: &str, password: &str) -> (String, String) {
        let id_token = self.signed_up(address, password).await;
        let access = token_of(self.access(&id_token).await).await;
        let key = self.mailbox.verification_key_for(address).await;
        assert_eq!(
            self.confirm(&access, &key).await.status(),
            StatusCode::NO_CONTENT
        );
        let id_token = token_of(self.login(address, password).await).await;
        let access = token_of(self.access(&id_token).await).await;
        (id_token, access)
    }

    /// Names of every event in the store, in global order.
    pub async fn event_types(&self) -> Vec<String> {
        sqlx::query_scalar("SELECT event_type FROM events ORDER BY transaction_id, global_sequence")
            .fetch_all(&self.pool)
            .await
            .expect("events")
    }
}

/// The `token` field of a token response.
pub async fn token_of(response: Response) -> String {
    let status = response.status();
    let body: Value = response.json().await.expect("json body");
    assert_eq!(status, StatusCode::OK, "expected a token, got {body}");
    body["token"].as_str().expect("token field").to_string()
}

/// The error body's code, asserting the document's error shape.
pub async fn error_code(response: Response) -> u64 {
    let body: Value = response.json().await.expect("json error body");
    let error = &body["error"];
    assert!(error["message"].is_string(), "no message in {body}");
    assert!(error["details"].is_array(), "no details in {body}");
    error["code"]
        .as_u64()
        .unwrap_or_else(|| panic!("no code in {body}"))
}

/// The claims of a JWT, without verifying it.
pub fn claims_of(token: &str) -> Value {
    use base64::Engine;
    let payload = token.split('.').nth(1).expect("three parts");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .expect("base64");
    serde_json::from_slice(&bytes).expect("json claims")
}

/// Polls `check` until it holds or `timeout` passes.
pub async fn eventually<F, Fut>(timeout: Duration, mut check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    while tokio::time::Instant::now() < deadline {
        if check().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    false
}

/// The data of the whole database as `pg_dump` writes it, lowercased, so
/// a test can look for personal data anywhere in it.
pub fn dump(database_url: &str) -> String {
    let output = Command::new("pg_dump")
        .arg("--data-only")
        .arg(database_url)
        .output()
        .expect("pg_dump runs");
    assert!(
        output.status.success(),
        "pg_dump failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).to_lowercase()
}
