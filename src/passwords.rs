//! bcrypt, run on the blocking pool with a bound on how many hashes are
//! computed at once, so that a burst of logins cannot starve the runtime or
//! spawn hundreds of threads.

use std::sync::Arc;

use skalio_id_aggregates::password::Password;
use tokio::sync::Semaphore;

/// Why hashing failed.
#[derive(Debug, thiserror::Error)]
pub enum HashError {
    #[error("bcrypt failed")]
    Bcrypt(#[from] bcrypt::BcryptError),
    #[error("the hashing worker stopped")]
    Worker(#[from] tokio::task::JoinError),
    #[error("the hashing pool is closed")]
    Closed(#[from] tokio::sync::AcquireError),
}

/// Hashes and verifies passwords at a fixed cost.
pub struct PasswordHasher {
    cost: u32,
    permits: Arc<Semaphore>,
    /// A hash of the configured cost to verify against when the address is
    /// unknown, so that such a login costs as long as a wrong password.
    decoy: String,
}

impl PasswordHasher {
    /// `workers` = 0 means one per CPU.
    pub fn new(cost: u32, workers: usize) -> Result<Self, HashError> {
        let workers = if workers == 0 { num_cpus() } else { workers };
        let decoy = bcrypt::hash("decoy password for unknown addresses", cost)?;
        Ok(Self {
            cost,
            permits: Arc::new(Semaphore::new(workers)),
            decoy,
        })
    }

    pub async fn hash(&self, password: &Password) -> Result<String, HashError> {
        let (plain, cost) = (password.expose().to_string(), self.cost);
        self.off_runtime(move || bcrypt::hash(plain, cost)).await
    }

    pub async fn verify(&self, password: &Password, hash: &str) -> Result<bool, HashError> {
        let (plain, hash) = (password.expose().to_string(), hash.to_string());
        self.off_runtime(move || bcrypt::verify(plain, &hash)).await
    }

    /// Spends the time of one verification and always fails.
    pub async fn verify_decoy(&self, password: &Password) -> Result<bool, HashError> {
        self.verify(password, &self.decoy.clone()).await?;
        Ok(false)
    }

    async fn off_runtime<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> Result<T, bcrypt::BcryptError> + Send + 'static,
    ) -> Result<T, HashError> {
        let _permit = self.permits.acquire().await?;
        Ok(tokio::task::spawn_blocking(work).await??)
    }
}

fn num_cpus() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get())
}
