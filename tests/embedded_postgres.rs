//! The embedded PostgreSQL: first start, restart with the same data, reuse
//! of a server left running, recovery after a kill, and bad configurations.

use anyhow::{Context, Result};
use skalio_id::embedded_postgres::EmbeddedPostgres;
use sqlx::Connection;
use sqlx::postgres::PgConnection;
use std::path::Path;
use std::time::Instant;

fn init_tracing() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_test_writer()
        .try_init();
}

fn port_of(url: &str) -> Result<u16> {
    let after_host = url.rsplit_once(':').context("no port in url")?.1;
    let port = after_host.split('/').next().context("no port in url")?;
    Ok(port.parse()?)
}

async fn timed_start(dir: &Path, label: &str) -> Result<EmbeddedPostgres> {
    let started = Instant::now();
    let pg = EmbeddedPostgres::start(dir, None).await?;
    println!("{label}: {} ms", started.elapsed().as_millis());
    Ok(pg)
}

#[tokio::test]
async fn keeps_data_across_restarts() -> Result<()> {
    init_tracing();
    let dir = tempfile::tempdir()?;
    let pg = timed_start(dir.path(), "first start (initdb)").await?;
    let url = pg.database_url().to_owned();
    assert!(url.starts_with("postgres://postgres@127.0.0.1:"));
    assert!(url.ends_with("/skalio_id"));
    let mut conn = PgConnection::connect(&url).await?;
    sqlx::query("CREATE TABLE marker (value TEXT NOT NULL)")
        .execute(&mut conn)
        .await?;
    sqlx::query("INSERT INTO marker VALUES ('persisted')")
        .execute(&mut conn)
        .await?;
    conn.close().await?;
    let stopping = Instant::now();
    pg.stop().await?;
    println!("stop: {} ms", stopping.elapsed().as_millis());

    let pg = timed_start(dir.path(), "restart").await?;
    assert_eq!(pg.database_url(), url, "port is persisted");
    let mut conn = PgConnection::connect(pg.database_url()).await?;
    let value: String = sqlx::query_scalar("SELECT value FROM marker")
        .fetch_one(&mut conn)
        .await?;
    assert_eq!(value, "persisted");
    conn.close().await?;
    pg.stop().await?;
    assert!(!dir.path().join("postgres/postmaster.pid").exists());
    Ok(())
}

#[tokio::test]
async fn reuses_server_left_running() -> Result<()> {
    init_tracing();
    let dir = tempfile::tempdir()?;
    let first = EmbeddedPostgres::start(dir.path(), None).await?;
    let url = first.database_url().to_owned();
    // Dropping without stop() is what a crashed or killed service leaves behind.
    drop(first);
    let second = timed_start(dir.path(), "reuse of running server").await?;
    assert_eq!(second.database_url(), url);
    PgConnection::connect(&url).await?.close().await?;
    second.stop().await?;
    Ok(())
}

#[tokio::test]
async fn moves_to_another_port_when_persisted_one_is_taken() -> Result<()> {
    init_tracing();
    let dir = tempfile::tempdir()?;
    let pg = EmbeddedPostgres::start(dir.path(), None).await?;
    let old_port = port_of(pg.database_url())?;
    pg.stop().await?;

    let _squatter = std::net::TcpListener::bind(("127.0.0.1", old_port))?;
    let pg = EmbeddedPostgres::start(dir.path(), None).await?;
    let new_port = port_of(pg.database_url())?;
    assert_ne!(new_port, old_port);
    let persisted = std::fs::read_to_string(dir.path().join("postgres.port"))?;
    assert_eq!(persisted.trim(), new_port.to_string());
    PgConnection::connect(pg.database_url())
        .await?
        .close()
        .await?;
    pg.stop().await?;
    Ok(())
}

#[tokio::test]
async fn rejects_bin_dir_without_server_binaries() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let empty_bin = tempfile::tempdir()?;
    let err = EmbeddedPostgres::start(dir.path(), Some(empty_bin.path()))
        .await
        .expect_err("an empty bin dir cannot run PostgreSQL");
    assert!(format!("{err:#}").contains("lacks initdb"), "{err:#}");
    Ok(())
}

#[tokio::test]
async fn uses_configured_bin_dir() -> Result<()> {
    let system_bin = Path::new("/usr/lib/postgresql/15/bin");
    if !system_bin.is_dir() {
        return Ok(());
    }
    let dir = tempfile::tempdir()?;
    let pg = EmbeddedPostgres::start(dir.path(), Some(system_bin)).await?;
    PgConnection::connect(pg.database_url())
        .await?
        .close()
        .await?;
    pg.stop().await?;
    Ok(())
}

#[tokio::test]
async fn recovers_after_server_was_killed() -> Result<()> {
    init_tracing();
    let dir = tempfile::tempdir()?;
    let pg = EmbeddedPostgres::start(dir.path(), None).await?;
    let url = pg.database_url().to_owned();
    drop(pg);
    let pid_file = std::fs::read_to_string(dir.path().join("postgres/postmaster.pid"))?;
    let pid = pid_file
        .lines()
        .next()
        .context("empty postmaster.pid")?
        .trim()
        .to_owned();
    let status = std::process::Command::new("kill")
        .args(["-9", &pid])
        .status()?;
    assert!(status.success());
    // Dead or zombie (unreaped orphans stay zombies where PID 1 does not reap): both must recover.
    for _ in 0..50 {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        if stat.is_empty() || stat.contains(") Z") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let pg = timed_start(dir.path(), "start after kill -9").await?;
    assert_eq!(pg.database_url(), url);
    PgConnection::connect(&url).await?.close().await?;
    pg.stop().await?;
    Ok(())
}

#[tokio::test]
async fn serves_tcp_when_socket_path_would_be_too_long() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let deep = dir.path().join("a".repeat(60)).join("b".repeat(60));
    let pg = EmbeddedPostgres::start(&deep, None).await?;
    PgConnection::connect(pg.database_url())
        .await?
        .close()
        .await?;
    pg.stop().await?;
    Ok(())
}

#[tokio::test]
async fn discards_interrupted_initialisation() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let staging = dir.path().join("postgres.init");
    std::fs::create_dir_all(&staging)?;
    std::fs::write(staging.join("PG_VERSION"), "15\n")?;
    let pg = EmbeddedPostgres::start(dir.path(), None).await?;
    assert!(!staging.exists());
    pg.stop().await?;
    Ok(())
}

#[tokio::test]
async fn refuses_foreign_directory_in_cluster_place() -> Result<()> {
    let dir = tempfile::tempdir()?;
    std::fs::create_dir_all(dir.path().join("postgres"))?;
    std::fs::write(dir.path().join("postgres/unrelated.txt"), "keep me")?;
    let err = EmbeddedPostgres::start(dir.path(), None)
        .await
        .expect_err("a non-cluster directory must not be overwritten");
    assert!(format!("{err:#}").contains("no PG_VERSION"), "{err:#}");
    assert!(dir.path().join("postgres/unrelated.txt").exists());
    Ok(())
}

#[tokio::test]
async fn stays_up_while_another_process_uses_it() -> Result<()> {
    init_tracing();
    let dir = tempfile::tempdir()?;
    // Separate leases, as the service and an operator's command beside it hold.
    let service = EmbeddedPostgres::start(dir.path(), None).await?;
    let operator = EmbeddedPostgres::start(dir.path(), None).await?;
    assert_eq!(operator.database_url(), service.database_url());
    let url = service.database_url().to_owned();

    operator.stop().await?;
    PgConnection::connect(&url).await?.close().await?;

    service.stop().await?;
    assert!(!dir.path().join("postgres/postmaster.pid").exists());
    Ok(())
}
