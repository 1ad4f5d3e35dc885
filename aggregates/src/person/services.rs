//! What the Person aggregate needs from outside: a password hasher and the
//! registry that keeps every address with at most one person.

use async_trait::async_trait;

use crate::password::Password;

/// The address is claimed by another person.
#[derive(Debug, thiserror::Error)]
#[error("the email address is claimed by another person")]
pub struct EmailAddressTaken;

/// A service failed for reasons of its own (database down, worker gone).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ServiceFailure(pub String);

/// Implemented by the server; faked in the aggregate's tests.
#[async_trait]
pub trait PersonServices: Send + Sync {
    /// Reserves `canonical_address` for `person`. Claiming an address the
    /// same person already holds succeeds.
    async fn claim_email(
        &self,
        canonical_address: &str,
        person: &str,
    ) -> Result<Result<(), EmailAddressTaken>, ServiceFailure>;

    /// Hashes a new password.
    async fn hash_password(&self, password: &Password) -> Result<String, ServiceFailure>;

    /// Checks a password against a stored hash.
    async fn verify_password(
        &self,
        password: &Password,
        hash: &str,
    ) -> Result<bool, ServiceFailure>;
}
