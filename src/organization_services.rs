//! What the Organization aggregate asks of the outside world, implemented
//! over Postgres: the hostname and membership registries.

use async_trait::async_trait;
use skalio_id_aggregates::organization::{OrganizationServices, Taken};
use skalio_id_aggregates::person::ServiceFailure;
use sqlx::PgPool;

/// The server's [`OrganizationServices`].
pub struct PostgresOrganizationServices {
    pool: PgPool,
}

impl PostgresOrganizationServices {
    pub fn new(pool: PgPool) -> Self {
        Self { pool }
    }
}

/// Inserts a claim on `key` for `organization`, or takes over one that the
/// same organization holds or that lapsed unconfirmed. Concurrent claims on
/// one key serialize on its primary key: exactly one wins. `table` and
/// `column` are fixed names from this file, never input.
async fn claim(
    pool: &PgPool,
    table: &str,
    column: &str,
    key: &str,
    organization: &str,
) -> Result<Result<(), Taken>, ServiceFailure> {
    let sql = format!(
        "INSERT INTO {table} ({column}, organization_id) VALUES ($1, $2)
         ON CONFLICT ({column}) DO UPDATE
            SET organization_id = EXCLUDED.organization_id, claimed_at = now(),
                confirmed = {table}.confirmed AND {table}.organization_id = EXCLUDED.organization_id
          WHERE {table}.organization_id = EXCLUDED.organization_id
             OR (NOT {table}.confirmed AND {table}.claimed_at < now() - interval '1 minute')
         RETURNING organization_id"
    );
    let won: Option<String> = sqlx::query_scalar(&sql)
        .bind(key)
        .bind(organization)
        .fetch_optional(pool)
        .await
        .map_err(|e| ServiceFailure(skalio_id_projections::projector::error_chain(&e)))?;
    Ok(if won.is_some() { Ok(()) } else { Err(Taken) })
}

#[async_trait]
impl OrganizationServices for PostgresOrganizationServices {
    async fn claim_hostname(
        &self,
        hostname: &str,
        organization: &str,
    ) -> Result<Result<(), Taken>, ServiceFailure> {
        claim(
            &self.pool,
            "hostname_claims",
            "hostname",
            hostname,
            organization,
        )
        .await
    }

    async fn claim_membership(
        &self,
        person: &str,
        organization: &str,
    ) -> Result<Result<(), Taken>, ServiceFailure> {
        claim(
            &self.pool,
            "membership_claims",
            "person_id",
            person,
            organization,
        )
        .await
    }
}

/// Frees the claims a failed command of `organization` made, unless an
/// append confirmed them meanwhile.
pub async fn release_claims(
    pool: &PgPool,
    organization: &str,
    hostname: Option<&str>,
    person: Option<&str>,
) -> Result<(), sqlx::Error> {
    if let Some(hostname) = hostname {
        sqlx::query(
            "DELETE FROM hostname_claims
              WHERE hostname = $1 AND organization_id = $2 AND NOT confirmed",
        )
        .bind(hostname)
        .bind(organization)
        .execute(pool)
        .await?;
    }
    if let Some(person) = person {
        sqlx::query(
            "DELETE FROM membership_claims
              WHERE person_id = $1 AND organization_id = $2 AND NOT confirmed",
        )
        .bind(person)
        .bind(organization)
        .execute(pool)
        .await?;
    }
    Ok(())
}
