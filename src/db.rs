//! The database: connecting (to the configured server or the embedded one)
//! and applying migrations.

use std::time::Duration;

use anyhow::Context;
use sqlx::PgPool;
use sqlx::postgres::PgPoolOptions;

use crate::config::Settings;
use crate::embedded_postgres::EmbeddedPostgres;

/// The migrations in `migrations/`, compiled into the binary.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// A database the service can use, and the embedded server if it runs one.
pub struct Database {
    pub pool: PgPool,
    pub embedded: Option<EmbeddedPostgres>,
}

/// Connects to the configured database, or starts the embedded one.
pub async fn open(settings: &Settings) -> anyhow::Result<Database> {
    let (url, embedded) = match &settings.database.url {
        Some(url) => (url.clone(), None),
        None => {
            let bin_dir = settings.database.embedded_bin_dir.as_deref();
            let embedded = EmbeddedPostgres::start(&settings.data_dir, bin_dir).await?;
            (embedded.database_url().to_string(), Some(embedded))
        }
    };
    let pool = connect(&url, settings.database.max_connections.unwrap_or(20)).await?;
    Ok(Database { pool, embedded })
}

/// A pool of at most `max_connections`.
pub async fn connect(url: &str, max_connections: u32) -> anyhow::Result<PgPool> {
    PgPoolOptions::new()
        .max_connections(max_connections)
        .acquire_timeout(Duration::from_secs(5))
        .connect(url)
        .await
        .context("cannot connect to the database")
}

/// Applies every migration not yet applied.
pub async fn migrate(pool: &PgPool) -> anyhow::Result<()> {
    MIGRATOR
        .run(pool)
        .await
        .context("cannot apply database migrations")
}
