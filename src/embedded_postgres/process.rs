//! Running PostgreSQL's programs, as the `postgres` system user when the
//! service runs as root.

use super::*;

/// Runs a command to completion within `limit`, returning its output whatever the exit status.
pub(super) async fn run(mut cmd: Command, what: &str, limit: Duration) -> Result<Output> {
    debug!(command = ?cmd.as_std(), "running {what}");
    let output = tokio::time::timeout(limit, cmd.output())
        .await
        .map_err(|_| anyhow!("{what} did not finish within {}s", limit.as_secs()))?
        .with_context(|| format!("running {what}"))?;
    Ok(output)
}

/// Runs a command and fails with its stderr/stdout unless it exits successfully.
pub(super) async fn run_checked(cmd: Command, what: &str, limit: Duration) -> Result<String> {
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
pub(super) async fn system_owner() -> Result<Option<Owner>> {
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
pub(super) fn effective_uid() -> Result<u32> {
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
pub(super) async fn account_id(flag: &str) -> Result<u32> {
    let mut cmd = Command::new("id");
    cmd.arg(flag).arg(SYSTEM_USER).kill_on_drop(true);
    let text = run_checked(cmd, "id", Duration::from_secs(10)).await?;
    text.parse()
        .with_context(|| format!("parsing `id {flag} {SYSTEM_USER}` output {text:?}"))
}
