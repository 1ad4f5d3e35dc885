//! The cluster's life: initdb, detecting a server left running, launching,
//! and creating the service database.

use super::*;

/// Runs initdb in a staging directory and renames it into place once complete.
pub(super) async fn initialise(layout: &Layout, runner: &Runner) -> Result<()> {
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

pub(super) async fn initdb(runner: &Runner, pgdata: &Path, locale: &str) -> Result<()> {
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
pub(super) async fn running_port(layout: &Layout, runner: &Runner) -> Result<Option<u16>> {
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
pub(super) struct PidFile<'a>(&'a str);

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
pub(super) async fn recorded_server_alive(pgdata: &Path, lock: &PidFile<'_>) -> Result<bool> {
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
pub(super) fn remove_stale_socket_lock(lock: &PidFile<'_>, pid: u32) -> Result<()> {
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
pub(super) fn is_postmaster_of(pid: u32, pgdata: &Path) -> bool {
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

pub(super) fn same_file(a: &Path, b: &Path) -> bool {
    match (fs::canonicalize(a), fs::canonicalize(b)) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

/// Waits briefly for orphaned server processes, which exit soon after their postmaster died.
pub(super) async fn shared_memory_released(shmem_field: Option<&str>) -> bool {
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
pub(super) fn shared_memory_in_use(shmem_field: Option<&str>) -> bool {
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
pub(super) async fn pg_ctl_status(layout: &Layout, runner: &Runner) -> Result<bool> {
    let mut cmd = runner.command("pg_ctl");
    cmd.arg("status").arg("-D").arg(&layout.pgdata);
    let output = run(cmd, "pg_ctl status", Duration::from_secs(30)).await?;
    Ok(output.status.success())
}

/// Starts the server with pg_ctl, waiting until it accepts connections.
pub(super) async fn launch(layout: &Layout, runner: &Runner) -> Result<u16> {
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
pub(super) fn server_options(pgdata: &Path, port: u16) -> String {
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

pub(super) fn shell_quote(value: &str) -> String {
    format!("'{}'", value.replace('\'', r"'\''"))
}

/// Waits until the server accepts connections and creates the service database if missing.
pub(super) async fn ensure_database(port: u16, log_file: &Path) -> Result<()> {
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

pub(super) async fn create_database(conn: &mut PgConnection) -> Result<()> {
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
pub(super) async fn connect_with_retry(options: &PgConnectOptions) -> Result<PgConnection> {
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
