//! The binary as a new user runs it: no configuration, an embedded database
//! in a data folder, data kept across restarts; and the admin commands.

mod common;

use common::process::{free_port, skalio_id, start, stop};
use common::token_of;
use reqwest::StatusCode;
use serde_json::json;

#[tokio::test]
async fn with_no_configuration_it_serves_from_an_embedded_database_that_outlives_restarts() {
    let folder = tempfile::tempdir().unwrap();
    let port = free_port();
    let client = reqwest::Client::new();

    let service = start(skalio_id(folder.path()), port).await;
    let signup = json!({"address": "first@example.org", "password": "CorrectHorse"});
    let response = client
        .post(format!("{}/id/v3/signup", service.base))
        .json(&signup)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    stop(service);

    assert!(
        folder.path().join("data/postgres").is_dir(),
        "no embedded cluster in ./data"
    );
    let mail = std::fs::read_dir(folder.path().join("data/mail"))
        .unwrap()
        .count();
    assert_eq!(
        mail, 1,
        "the verification mail was not written to ./data/mail"
    );

    let service = start(skalio_id(folder.path()), port).await;
    let login = json!({"email": "first@example.org", "type": "bcrypt", "key": "CorrectHorse"});
    let response = client
        .post(format!("{}/id/v3/auth/login", service.base))
        .json(&login)
        .send()
        .await
        .unwrap();
    token_of(response).await;
    stop(service);

    let rebuild = skalio_id(folder.path())
        .args(["rebuild", "--quiet"])
        .status()
        .unwrap();
    assert!(rebuild.success());
    let unknown = skalio_id(folder.path())
        .args(["rebuild", "no_such_view"])
        .status()
        .unwrap();
    assert!(!unknown.success());
}
