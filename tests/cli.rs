//! The binary as a new user runs it: no configuration, an embedded database
//! in a data folder, data kept across restarts; and the admin commands.

mod common;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::token_of;
use reqwest::StatusCode;
use serde_json::json;

struct Service {
    child: Child,
    base: String,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn skalio_id(data_dir: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_skalio-id"));
    command
        .current_dir(data_dir)
        .env_remove("DATABASE_URL")
        .env("SKALIO_ID_AUTH__BCRYPT_COST", "4")
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    command
}

async fn start(data_dir: &Path, port: u16) -> Service {
    let child = skalio_id(data_dir)
        .env("SKALIO_ID_HTTP__LISTEN", format!("127.0.0.1:{port}"))
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    for _ in 0..300 {
        if let Ok(r) = client.get(format!("{base}/health/ready")).send().await {
            if r.status() == StatusCode::OK {
                return Service { child, base };
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let mut child = child;
    let _ = child.kill();
    let _ = child.wait();
    panic!("the service did not become ready in 30 s");
}

fn stop(mut service: Service) {
    let pid = service.child.id().to_string();
    Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    let status = service.child.wait().unwrap();
    assert!(
        status.success(),
        "the service did not stop cleanly: {status}"
    );
}

#[tokio::test]
async fn with_no_configuration_it_serves_from_an_embedded_database_that_outlives_restarts() {
    let folder = tempfile::tempdir().unwrap();
    let port = free_port();
    let client = reqwest::Client::new();

    let service = start(folder.path(), port).await;
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

    let service = start(folder.path(), port).await;
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
