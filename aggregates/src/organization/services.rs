//! What the Organization aggregate needs from outside: the registries that
//! keep a hostname with at most one organization and a person in at most
//! one organization.

use async_trait::async_trait;

use crate::person::ServiceFailure;

/// The hostname or person is claimed by another organization.
#[derive(Debug, thiserror::Error)]
#[error("claimed by another organization")]
pub struct Taken;

/// Implemented by the server; faked in the aggregate's tests.
#[async_trait]
pub trait OrganizationServices: Send + Sync {
    /// Reserves `hostname` for `organization`; claiming a hostname the same
    /// organization holds succeeds.
    async fn claim_hostname(
        &self,
        hostname: &str,
        organization: &str,
    ) -> Result<Result<(), Taken>, ServiceFailure>;

    /// Reserves `person` as a member of `organization`; claiming a person
    /// the same organization holds succeeds.
    async fn claim_membership(
        &self,
        person: &str,
        organization: &str,
    ) -> Result<Result<(), Taken>, ServiceFailure>;
}
