//! Embedded PostgreSQL for deployments that configure no `DATABASE_URL`.
//!
//! This module owns everything below `<data_dir>` that concerns the embedded server:
//!
//! * `postgres/`       – the cluster (PGDATA). When the service runs as root it is owned by the
//!   `postgres` system user, because `initdb` and `postgres` refuse to run as root.
//! * `postgres.init/`  – scratch cluster while `initdb` runs; renamed to `postgres/` when complete,
//!   so an interrupted first start never leaves a half-initialised cluster behind.
//! * `postgres.port`   – the loopback TCP port picked at first start, reused while it is free.
//! * `postgres.lease`  – locked by every process that uses the server (see [`lease`]).
//! * `postgres.log`    – the server log (moved to `postgres.log.1` at start once it exceeds 10 MiB).
//! * `pg-bin/<major>/` – server binaries downloaded once, only with the `fetch-postgres` feature and
//!   only when no installed PostgreSQL is found.
//!
//! The server listens on 127.0.0.1 only and trusts every connection from there (no password).
//! It deliberately outlives the process unless [`EmbeddedPostgres::stop`] is called while no
//! other process uses it; the next [`EmbeddedPostgres::start`] then reuses it instead of failing
//! on the existing `postmaster.pid`.
//!
//! File-system preparation uses blocking `std::fs` calls: it runs once at start-up on a handful
//! of small files, before the service accepts traffic.

use anyhow::{Context, Result, anyhow, bail};
use sqlx::Connection;
use sqlx::postgres::{PgConnectOptions, PgConnection, PgSslMode};
use std::fs;
use std::io::{ErrorKind, Read, Seek, SeekFrom};
use std::net::{Ipv4Addr, TcpListener};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use std::time::{Duration, Instant};
use tokio::process::Command;
use tracing::{debug, info, warn};

mod binaries;
mod files;
mod lease;
mod process;
mod server;

use binaries::*;
use files::*;
use lease::Lease;
use process::*;
use server::*;

/// Database the service uses; created on first start.
const DATABASE: &str = "skalio_id";
/// Superuser created by `initdb`.
const SUPERUSER: &str = "postgres";
/// System account that runs the server when the service itself runs as root.
const SYSTEM_USER: &str = "postgres";
const LISTEN_HOST: Ipv4Addr = Ipv4Addr::LOCALHOST;
const INITDB_TIMEOUT: Duration = Duration::from_secs(180);
const PG_CTL_WAIT: Duration = Duration::from_secs(60);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);
const LOG_ROTATE_BYTES: u64 = 10 * 1024 * 1024;
const LOG_TAIL_LINES: usize = 25;
/// Linux `sun_path` holds 108 bytes including the terminating NUL.
const MAX_SOCKET_PATH: usize = 107;
/// Major version downloaded when no installed PostgreSQL is found and no cluster exists yet.
#[cfg(feature = "fetch-postgres")]
const FETCH_MAJOR: &str = "17";

/// A running embedded PostgreSQL server and the URL of the service database in it.
#[derive(Debug)]
pub struct EmbeddedPostgres {
    layout: Layout,
    runner: Runner,
    database_url: String,
    lease: Lease,
}

impl EmbeddedPostgres {
    /// Starts (initialising on first use) the cluster in `data_dir/postgres`; idempotent across
    /// restarts; if a previous process left it running (postmaster.pid with live pid), reuse it.
    pub async fn start(data_dir: &Path, bin_dir_override: Option<&Path>) -> Result<Self> {
        let layout = Layout::new(data_dir)?;
        fs::create_dir_all(&layout.data_dir)
            .with_context(|| format!("creating data directory {}", layout.data_dir.display()))?;
        let lease = Lease::share(&layout.lease_file).await?;
        let owner = system_owner().await?;
        let cluster_major = cluster_major(&layout.pgdata)?;
        let bin_dir = locate_binaries(bin_dir_override, &layout, cluster_major.as_deref()).await?;
        let runner = Runner { bin_dir, owner };
        prepare_data_dir(&layout, runner.owner.as_ref())?;
        if cluster_major.is_none() {
            initialise(&layout, &runner).await?;
        }
        let port = match running_port(&layout, &runner).await? {
            Some(port) => {
                info!(port, data_dir = %layout.data_dir.display(), "reusing running embedded PostgreSQL");
                port
            }
            None => launch(&layout, &runner).await?,
        };
        ensure_database(port, &layout.log_file).await?;
        info!(port, data_dir = %layout.data_dir.display(), "embedded PostgreSQL ready");
        let database_url = format!("postgres://{SUPERUSER}@{LISTEN_HOST}:{port}/{DATABASE}");
        Ok(Self {
            layout,
            runner,
            database_url,
            lease,
        })
    }

    /// postgres://postgres@127.0.0.1:<port>/skalio_id
    pub fn database_url(&self) -> &str {
        &self.database_url
    }

    /// Stops the cluster (pg_ctl stop -m fast), waiting for it, unless another process still
    /// uses it: an operator's command run beside the service leaves the service's database up.
    pub async fn stop(self) -> Result<()> {
        if !self.lease.try_exclusive()? {
            info!(data_dir = %self.layout.data_dir.display(), "embedded PostgreSQL left running for the other processes using it");
            return Ok(());
        }
        if running_port(&self.layout, &self.runner).await?.is_none() {
            info!(data_dir = %self.layout.data_dir.display(), "embedded PostgreSQL already stopped");
            return Ok(());
        }
        let mut cmd = self.runner.command("pg_ctl");
        cmd.arg("stop").arg("-D").arg(&self.layout.pgdata);
        cmd.args(["-m", "fast", "-w", "-t"])
            .arg(PG_CTL_WAIT.as_secs().to_string());
        run_checked(cmd, "pg_ctl stop", PG_CTL_WAIT + Duration::from_secs(5))
            .await
            .with_context(|| {
                format!(
                    "stopping embedded PostgreSQL in {}",
                    self.layout.pgdata.display()
                )
            })?;
        info!(data_dir = %self.layout.data_dir.display(), "embedded PostgreSQL stopped");
        Ok(())
    }
}

/// Paths of everything the module keeps below the data directory.
#[derive(Debug)]
struct Layout {
    data_dir: PathBuf,
    pgdata: PathBuf,
    staging: PathBuf,
    port_file: PathBuf,
    lease_file: PathBuf,
    log_file: PathBuf,
    fetched_bins: PathBuf,
}

impl Layout {
    fn new(data_dir: &Path) -> Result<Self> {
        // Absolute paths: child processes run with `/` as working directory, and the socket
        // path and pg_ctl's shell command line must not depend on our working directory.
        let data_dir = std::path::absolute(data_dir)
            .with_context(|| format!("resolving data directory {}", data_dir.display()))?;
        Ok(Self {
            pgdata: data_dir.join("postgres"),
            staging: data_dir.join("postgres.init"),
            port_file: data_dir.join("postgres.port"),
            lease_file: data_dir.join("postgres.lease"),
            log_file: data_dir.join("postgres.log"),
            fetched_bins: data_dir.join("pg-bin"),
            data_dir,
        })
    }
}

/// The unprivileged account that owns the cluster when the service runs as root.
#[derive(Debug, Clone)]
struct Owner {
    uid: u32,
    gid: u32,
    runuser: PathBuf,
}

/// Builds PostgreSQL commands from one binary directory, as the cluster owner.
#[derive(Debug, Clone)]
struct Runner {
    bin_dir: PathBuf,
    owner: Option<Owner>,
}

impl Runner {
    fn command(&self, program: &str) -> Command {
        let program = self.bin_dir.join(program);
        let mut cmd = match &self.owner {
            Some(owner) => {
                let mut cmd = Command::new(&owner.runuser);
                cmd.args(["-u", SYSTEM_USER, "--"]).arg(program);
                cmd
            }
            None => Command::new(program),
        };
        // `/` is traversable by the postgres user, unlike e.g. /root as working directory.
        cmd.current_dir("/").stdin(Stdio::null()).kill_on_drop(true);
        cmd
    }
}
