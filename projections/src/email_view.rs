//! `email_view_v1`: every address of every person, for login, the exists
//! check and the profile.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use skalio_id_aggregates::email::canonical;
use skalio_id_aggregates::person::PersonEvent;
use sqlx::{FromRow, PgConnection, PgExecutor};

use crate::event_log::StoredEvent;
use crate::projector::{Projection, ProjectionError};

/// The projection that keeps `email_view_v1`.
pub struct EmailView;

/// One address of a person.
#[derive(Debug, Clone, FromRow)]
pub struct EmailRow {
    pub address: String,
    pub person_id: String,
    pub is_primary: bool,
    pub is_verified: bool,
    pub remove_at: Option<DateTime<Utc>>,
}

const COLUMNS: &str = "address, person_id, is_primary, is_verified, remove_at";

/// The addresses of one person, primary first.
pub async fn of_person<'e>(
    db: impl PgExecutor<'e>,
    person_id: &str,
) -> Result<Vec<EmailRow>, sqlx::Error> {
    let sql = format!(
        "SELECT {COLUMNS} FROM email_view_v1 WHERE person_id = $1
          ORDER BY is_primary DESC, added_at, canonical_address"
    );
    sqlx::query_as(&sql).bind(person_id).fetch_all(db).await
}

/// The address, compared case-insensitively, with its owner.
pub async fn find<'e>(
    db: impl PgExecutor<'e>,
    address: &str,
) -> Result<Option<EmailRow>, sqlx::Error> {
    let sql = format!("SELECT {COLUMNS} FROM email_view_v1 WHERE canonical_address = $1");
    sqlx::query_as(&sql)
        .bind(canonical(address))
        .fetch_optional(db)
        .await
}

#[async_trait]
impl Projection for EmailView {
    fn name(&self) -> &'static str {
        "email_view_v1"
    }

    async fn apply(
        &self,
        db: &mut PgConnection,
        event: &StoredEvent,
    ) -> Result<(), ProjectionError> {
        let Some(person_event) = event.person_event()? else {
            return Ok(());
        };
        let person = &event.aggregate_id;
        match person_event {
            PersonEvent::PersonRegistered {
                address,
                registered_at,
                ..
            } => {
                let Some(address) = address.into_inner() else {
                    return Ok(());
                };
                sqlx::query(
                    "INSERT INTO email_view_v1
                        (canonical_address, address, person_id, is_primary, is_verified, added_at)
                     VALUES ($1, $2, $3, true, false, $4)",
                )
                .bind(canonical(&address))
                .bind(&address)
                .bind(person)
                .bind(registered_at)
                .execute(db)
                .await?;
            }
            PersonEvent::EmailAddressVerified { address, .. } => {
                let Some(address) = address.into_inner() else {
                    return Ok(());
                };
                sqlx::query(
                    "UPDATE email_view_v1 SET is_verified = true, remove_at = NULL
                      WHERE canonical_address = $1 AND person_id = $2",
                )
                .bind(canonical(&address))
                .bind(person)
                .execute(db)
                .await?;
            }
            PersonEvent::EmailVerificationRequested { .. }
            | PersonEvent::ProfileUpdated { .. }
            | PersonEvent::PasswordResetRequested { .. }
            | PersonEvent::PasswordResetKeyRedeemed { .. } => {}
        }
        Ok(())
    }

    async fn reset(&self, db: &mut PgConnection) -> Result<(), ProjectionError> {
        sqlx::query("DELETE FROM email_view_v1").execute(db).await?;
        Ok(())
    }
}
