//! The data folder: permissions for the cluster's owner, the port file and
//! the server log.

use super::*;

/// Creates the data directory and, as root, lets the postgres user reach and own its files.
pub(super) fn prepare_data_dir(layout: &Layout, owner: Option<&Owner>) -> Result<()> {
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
pub(super) fn grant_traversal(data_dir: &Path, owner: &Owner) -> Result<()> {
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
pub(super) fn chown_tree(root: &Path, owner: &Owner) -> Result<()> {
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

/// Keeps the log bounded across restarts and writable by the server's account.
pub(super) fn prepare_log_file(log_file: &Path, owner: Option<&Owner>) -> Result<()> {
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
pub(super) fn choose_port(port_file: &Path) -> Result<u16> {
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

pub(super) fn read_port(port_file: &Path) -> Result<Option<u16>> {
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

/// Last lines of the server log for error messages; never fails, since it only adds context.
pub(super) fn log_tail(log_file: &Path) -> String {
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
