//! The command line: `serve` (the default), `migrate`, `rebuild` for
//! admins who rebuild read models from the event store, and the operator
//! commands `cluster-roles`, `disable` and `enable`.

use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};
use tokio::net::TcpListener;
use tracing::info;

use crate::admin::{self, AdminChange};
use crate::config::Settings;
use crate::{app, db};

#[derive(Parser)]
#[command(name = "skalio-id", version, about = "Skalio ID API v3")]
pub struct Cli {
    /// A TOML configuration file (also SKALIO_ID_CONFIG).
    #[arg(long, global = true)]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the API (the default).
    Serve,
    /// Apply database migrations and exit.
    Migrate,
    /// Rebuild read models from the whole event store.
    Rebuild {
        /// Projections to rebuild; all read models when none is named.
        projections: Vec<String>,
        /// No progress bar.
        #[arg(long)]
        quiet: bool,
    },
    /// Set the roles a person holds over the whole service (Cluster.Admin,
    /// Cluster.AssetManagement); none removes them all.
    ClusterRoles {
        /// The person's uid or one of their addresses.
        person: String,
        roles: Vec<String>,
    },
    /// Suspend an account: no login, no public profile, every token ends.
    Disable {
        /// The person's uid or one of their addresses.
        person: String,
    },
    /// End the suspension of an account.
    Enable {
        /// The person's uid or one of their addresses.
        person: String,
    },
}

/// Runs the command line.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    let settings = Settings::load(cli.config.as_deref()).context("invalid configuration")?;
    let database = db::open(&settings).await?;
    db::migrate(&database.pool).await?;
    let outcome = match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => serve(settings, database.pool.clone()).await,
        Command::Migrate => {
            info!("migrations applied");
            Ok(())
        }
        Command::Rebuild { projections, quiet } => {
            rebuild(settings, database.pool.clone(), &projections, !quiet).await
        }
        Command::ClusterRoles { person, roles } => {
            let change = AdminChange::ClusterRoles(roles);
            administer(settings, database.pool.clone(), &person, change).await
        }
        Command::Disable { person } => {
            administer(
                settings,
                database.pool.clone(),
                &person,
                AdminChange::Disable,
            )
            .await
        }
        Command::Enable { person } => {
            administer(
                settings,
                database.pool.clone(),
                &person,
                AdminChange::Enable,
            )
            .await
        }
    };
    database.pool.close().await;
    if let Some(embedded) = database.embedded {
        embedded.stop().await?;
    }
    outcome
}

async fn serve(settings: Settings, pool: sqlx::PgPool) -> anyhow::Result<()> {
    let listen = settings.http.listen;
    let listener = TcpListener::bind(listen)
        .await
        .with_context(|| format!("cannot listen on {listen}"))?;
    let running = app::start(settings, pool, listener).await?;
    shutdown_signal().await;
    info!("shutting down");
    running.stop().await;
    Ok(())
}

async fn rebuild(
    settings: Settings,
    pool: sqlx::PgPool,
    names: &[String],
    progress: bool,
) -> anyhow::Result<()> {
    let projector =
        skalio_id_projections::projector::Projector::new(pool, app::projections(&settings)?);
    let rebuilt = skalio_id_replay::rebuild(&projector, names, progress).await?;
    for r in rebuilt {
        info!(projection = %r.projection, events = r.events, elapsed_ms = r.elapsed.as_millis() as u64, "rebuilt");
    }
    Ok(())
}

/// Runs one operator change with the service's state (command bus,
/// projector, blacklist), then stops it.
async fn administer(
    settings: Settings,
    pool: sqlx::PgPool,
    person: &str,
    change: AdminChange,
) -> anyhow::Result<()> {
    let (shutdown, shutdown_rx) = tokio::sync::watch::channel(false);
    let (state, tasks) = app::build_state(settings, pool, &shutdown_rx).await?;
    let outcome = async {
        let uid = admin::find_person(&state, person).await?;
        admin::apply(&state, &uid, change).await?;
        Ok::<_, crate::error::ApiError>(uid)
    }
    .await;
    let _ = shutdown.send(true);
    for task in tasks {
        let _ = task.await;
    }
    match outcome {
        Ok(uid) => {
            info!(person = %uid, "done");
            Ok(())
        }
        Err(e) => anyhow::bail!("{}", e.detail()),
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => drop(signal.recv().await),
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = terminate => {} }
}
