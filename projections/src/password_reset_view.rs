//! `password_reset_view_v1`: the person a password reset key belongs to,
//! found by the key's digest.

use async_trait::async_trait;
use skalio_id_aggregates::person::{PersonEvent, reset_key_digest};
use sqlx::{PgConnection, PgExecutor};

use crate::event_log::StoredEvent;
use crate::projector::{Projection, ProjectionError};

/// The projection that keeps `password_reset_view_v1`.
pub struct PasswordResetView;

/// The person who was mailed `key`, if anyone was.
pub async fn person_for_key<'e>(
    db: impl PgExecutor<'e>,
    key: &str,
) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar("SELECT person_id FROM password_reset_view_v1 WHERE key_digest = $1")
        .bind(reset_key_digest(key))
        .fetch_optional(db)
        .await
}

#[async_trait]
impl Projection for PasswordResetView {
    fn name(&self) -> &'static str {
        "password_reset_view_v1"
    }

    async fn apply(
        &self,
        db: &mut PgConnection,
        event: &StoredEvent,
    ) -> Result<(), ProjectionError> {
        let person = &event.aggregate_id;
        match event.person_event()? {
            Some(PersonEvent::PasswordResetRequested {
                key_digest,
                expires_at,
                ..
            }) => {
                // A newer key makes the older ones void.
                sqlx::query("DELETE FROM password_reset_view_v1 WHERE person_id = $1")
                    .bind(person)
                    .execute(&mut *db)
                    .await?;
                sqlx::query(
                    "INSERT INTO password_reset_view_v1 (key_digest, person_id, expires_at)
                     VALUES ($1, $2, $3)",
                )
                .bind(key_digest)
                .bind(person)
                .bind(expires_at)
                .execute(db)
                .await?;
            }
            Some(PersonEvent::PasswordResetKeyRedeemed { key_digest, .. }) => {
                sqlx::query("DELETE FROM password_reset_view_v1 WHERE key_digest = $1")
                    .bind(key_digest)
                    .execute(db)
                    .await?;
            }
            Some(PersonEvent::PersonDeleted { .. }) => {
                sqlx::query("DELETE FROM password_reset_view_v1 WHERE person_id = $1")
                    .bind(person)
                    .execute(db)
                    .await?;
            }
            _ => {}
        }
        Ok(())
    }

    async fn reset(&self, db: &mut PgConnection) -> Result<(), ProjectionError> {
        sqlx::query("DELETE FROM password_reset_view_v1")
            .execute(db)
            .await?;
        Ok(())
    }
}
