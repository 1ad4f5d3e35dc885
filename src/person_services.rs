//! What the Person aggregate asks of the outside world, implemented over
//! Postgres and bcrypt: address claims and password hashing.

use std::sync::Arc;

use async_trait::async_trait;
use skalio_id_aggregates::password::Password;
use skalio_id_aggregates::person::{EmailAddressTaken, PersonServices, ServiceFailure};
use sqlx::PgPool;

use crate::claims::EMAIL_ADDRESSES;
use crate::passwords::PasswordHasher;

/// The server's [`PersonServices`].
pub struct PostgresPersonServices {
    pool: PgPool,
    hasher: Arc<PasswordHasher>,
}

impl PostgresPersonServices {
    pub fn new(pool: PgPool, hasher: Arc<PasswordHasher>) -> Self {
        Self { pool, hasher }
    }
}

fn failed(error: impl std::error::Error) -> ServiceFailure {
    ServiceFailure(skalio_id_projections::projector::error_chain(&error))
}

#[async_trait]
impl PersonServices for PostgresPersonServices {
    /// Inserts the claim, or takes over one that the same person holds or
    /// that lapsed unconfirmed. Concurrent claims for one address serialize
    /// on its primary key: exactly one wins.
    async fn claim_email(
        &self,
        canonical_address: &str,
        person: &str,
    ) -> Result<Result<(), EmailAddressTaken>, ServiceFailure> {
        let won = EMAIL_ADDRESSES
            .claim(&self.pool, canonical_address, person)
            .await
            .map_err(failed)?;
        Ok(if won { Ok(()) } else { Err(EmailAddressTaken) })
    }

    async fn hash_password(&self, password: &Password) -> Result<String, ServiceFailure> {
        self.hasher.hash(password).await.map_err(failed)
    }

    async fn verify_password(
        &self,
        password: &Password,
        hash: &str,
    ) -> Result<bool, ServiceFailure> {
        self.hasher.verify(password, hash).await.map_err(failed)
    }
}
