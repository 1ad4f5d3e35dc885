//! The `skalio-id` binary.
#![forbid(unsafe_code)]

use clap::Parser;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    skalio_id::telemetry::init();
    jsonwebtoken_provider();
    match skalio_id::cli::run(skalio_id::cli::Cli::parse()).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!(error = format!("{error:#}"), "skalio-id failed");
            std::process::ExitCode::FAILURE
        }
    }
}

/// Fails at start, not at the first login, if the build has no usable
/// signing backend.
fn jsonwebtoken_provider() {
    if jsonwebtoken::crypto::CryptoProvider::try_get_default().is_none() {
        eprintln!("jsonwebtoken has no crypto provider; build with its aws_lc_rs feature");
        std::process::exit(2);
    }
}
