//! A real SMTP server (mailin-embedded) on a free port that keeps every mail
//! it receives.

use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use mailin_embedded::response::OK;
use mailin_embedded::{Handler, Response, Server};

/// One mail as received.
#[derive(Debug, Clone)]
pub struct ReceivedMail {
    pub to: Vec<String>,
    pub data: String,
}

#[derive(Clone)]
struct Collector {
    received: Arc<Mutex<Vec<ReceivedMail>>>,
    to: Vec<String>,
    data: Vec<u8>,
}

impl Handler for Collector {
    fn data_start(&mut self, _domain: &str, _from: &str, _is8bit: bool, to: &[String]) -> Response {
        self.to = to.to_vec();
        self.data.clear();
        OK
    }

    fn data(&mut self, buf: &[u8]) -> std::io::Result<()> {
        self.data.extend_from_slice(buf);
        Ok(())
    }

    fn data_end(&mut self) -> Response {
        let mail = ReceivedMail {
            to: self.to.clone(),
            data: String::from_utf8_lossy(&self.data).into_owned(),
        };
        self.received.lock().expect("mailbox lock").push(mail);
        OK
    }
}

/// The mail a test's service has sent.
#[derive(Clone)]
pub struct Mailbox {
    port: u16,
    received: Arc<Mutex<Vec<ReceivedMail>>>,
}

impl Mailbox {
    /// Starts the server on a thread of its own.
    pub fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind smtp");
        let port = listener.local_addr().expect("smtp address").port();
        let received = Arc::new(Mutex::new(Vec::new()));
        let handler = Collector {
            received: Arc::clone(&received),
            to: vec![],
            data: vec![],
        };
        let mut server = Server::new(handler);
        server
            .with_name("smtp.test")
            .with_num_threads(2)
            .with_tcp_listener(listener);
        std::thread::spawn(move || {
            let _ = server.serve().map_err(|e| e.to_string());
        });
        Self { port, received }
    }

    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    pub fn all(&self) -> Vec<ReceivedMail> {
        self.received.lock().expect("mailbox lock").clone()
    }

    /// Waits for mail to `address` and returns the newest.
    pub async fn wait_for(&self, address: &str) -> ReceivedMail {
        self.wait_for_containing(address, "").await
    }

    /// Waits for mail to `address` whose text contains `marker` and returns
    /// the newest such mail.
    pub async fn wait_for_containing(&self, address: &str, marker: &str) -> ReceivedMail {
        for _ in 0..250 {
            let found = self.all().into_iter().rev().find(|m| {
                m.to.iter().any(|t| t.eq_ignore_ascii_case(address)) && m.data.contains(marker)
            });
            if let Some(mail) = found {
                return mail;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("no mail to {address} containing {marker} within 5 s");
    }

    /// The password reset key from the newest reset mail to `address`, read
    /// from the last path segment of its link.
    pub async fn reset_key_for(&self, address: &str) -> String {
        let mail = self.wait_for_containing(address, "/reset/").await;
        let link = mail
            .data
            .lines()
            .find(|l| l.contains("/reset/"))
            .expect("reset link");
        link.trim()
            .rsplit('/')
            .next()
            .expect("key segment")
            .to_string()
    }

    /// The verification key from the newest mail to `address`, read from the
    /// last path segment of its confirmation link.
    pub async fn verification_key_for(&self, address: &str) -> String {
        let mail = self.wait_for_containing(address, "/confirm/").await;
        let link = mail
            .data
            .lines()
            .find(|l| l.contains("/confirm/"))
            .expect("confirmation link");
        link.trim()
            .rsplit('/')
            .next()
            .expect("key segment")
            .to_string()
    }
}
