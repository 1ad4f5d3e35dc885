//! Who uses the cluster. Several processes may share one embedded server:
//! the service, and an operator's command (`cluster-roles`, `rebuild`) run
//! beside it. Each holds a shared `flock` on `postgres.lease` from before it
//! looks for a running server until it is done; a stop needs the lock
//! exclusively. So a process stops the server only when nobody else uses
//! it, a start waits for a stop in progress and then launches afresh, and a
//! process that dies releases its share with its file descriptors.

use std::fs::{File, OpenOptions, TryLockError};

use super::*;

/// This process's claim on the cluster.
#[derive(Debug)]
pub(super) struct Lease {
    file: File,
}

impl Lease {
    /// Opens the lease file and takes a share, waiting while another
    /// process stops the server.
    pub(super) async fn share(path: &Path) -> Result<Self> {
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(path)
            .with_context(|| format!("opening {}", path.display()))?;
        let waiting = file.try_clone().context("sharing the lease file")?;
        tokio::task::spawn_blocking(move || waiting.lock_shared())
            .await
            .context("waiting for the lease")?
            .with_context(|| format!("locking {}", path.display()))?;
        Ok(Self { file })
    }

    /// Takes exclusive use if no other process holds a share; false when
    /// one does, and the server must keep running for it. A failed attempt
    /// may drop this process's own share, which matters no more: it is
    /// done with the server either way.
    pub(super) fn try_exclusive(&self) -> Result<bool> {
        match self.file.try_lock() {
            Ok(()) => Ok(true),
            Err(TryLockError::WouldBlock) => Ok(false),
            Err(TryLockError::Error(err)) => Err(err).context("locking the lease"),
        }
    }
}
