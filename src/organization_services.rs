//! What the Organization aggregate asks of the outside world, implemented
//! over Postgres: the hostname and membership registries.

use async_trait::async_trait;
use skalio_id_aggregates::organization::{OrganizationServices, Taken};
use skalio_id_aggregates::person::ServiceFailure;
use sqlx::PgPool;

use crate::claims::{HOSTNAMES, MEMBERSHIPS, Registry};

/// The server's [`OrganizationServices`].
pub struct PostgresOrganizationServices {
    pool: PgPool,
}

impl PostgresOrganizationServices {
    pub fn new(pool: PgPool) -> Self {
        Self { pool }
    }

    async fn claim(
        &self,
        registry: &Registry,
        key: &str,
        organization: &str,
    ) -> Result<Result<(), Taken>, ServiceFailure> {
        let won = registry
            .claim(&self.pool, key, organization)
            .await
            .map_err(|e| ServiceFailure(skalio_id_projections::projector::error_chain(&e)))?;
        Ok(if won { Ok(()) } else { Err(Taken) })
    }
}

#[async_trait]
impl OrganizationServices for PostgresOrganizationServices {
    async fn claim_hostname(
        &self,
        hostname: &str,
        organization: &str,
    ) -> Result<Result<(), Taken>, ServiceFailure> {
        self.claim(&HOSTNAMES, hostname, organization).await
    }

    async fn claim_membership(
        &self,
        person: &str,
        organization: &str,
    ) -> Result<Result<(), Taken>, ServiceFailure> {
        self.claim(&MEMBERSHIPS, person, organization).await
    }
}
