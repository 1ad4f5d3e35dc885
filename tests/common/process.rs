//! The service as a separate process of the built binary, as a new user or
//! a second instance runs it.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use reqwest::StatusCode;

/// A running `skalio-id` process.
pub struct Service {
    child: Child,
    pub base: String,
}

/// A port nothing listens on right now.
pub fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("address").port()
}

/// The binary, run in `folder`, with cheap bcrypt and its output discarded.
pub fn skalio_id(folder: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_skalio-id"));
    command
        .current_dir(folder)
        .env_remove("DATABASE_URL")
        .env("SKALIO_ID_AUTH__BCRYPT_COST", "4")
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    command
}

/// Starts `command` listening on `port` and waits until it is ready.
pub async fn start(mut command: Command, port: u16) -> Service {
    let child = command
        .env("SKALIO_ID_HTTP__LISTEN", format!("127.0.0.1:{port}"))
        .spawn()
        .expect("spawn");
    let mut service = Service {
        child,
        base: format!("http://127.0.0.1:{port}"),
    };
    let client = reqwest::Client::new();
    for _ in 0..300 {
        let ready = client
            .get(format!("{}/health/ready", service.base))
            .send()
            .await;
        if ready.is_ok_and(|r| r.status() == StatusCode::OK) {
            return service;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let _ = service.child.kill();
    let _ = service.child.wait();
    panic!("the service did not become ready in 30 s");
}

/// Stops the service with SIGTERM and checks that it exited cleanly.
pub fn stop(mut service: Service) {
    let pid = service.child.id().to_string();
    Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("kill");
    let status = service.child.wait().expect("wait");
    assert!(
        status.success(),
        "the service did not stop cleanly: {status}"
    );
}
