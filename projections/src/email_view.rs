//! `email_view_v1`: every address of every person, for login, the exists
//! check and the profile.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use skalio_id_aggregates::email::canonical;
use skalio_id_aggregates::person::PersonEvent;
use skalio_id_aggregates::sealed::Sealed;
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

/// The addresses of each of `person_ids`, every person's primary first.
pub async fn of_persons<'e>(
    db: impl PgExecutor<'e>,
    person_ids: &[String],
) -> Result<Vec<EmailRow>, sqlx::Error> {
    let sql = format!(
        "SELECT {COLUMNS} FROM email_view_v1 WHERE person_id = ANY($1)
          ORDER BY person_id, is_primary DESC, added_at, canonical_address"
    );
    sqlx::query_as(&sql).bind(person_ids).fetch_all(db).await
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

/// Unverified addresses whose time ran out: (person, address).
pub async fn lapsed<'e>(db: impl PgExecutor<'e>) -> Result<Vec<(String, String)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT person_id, address FROM email_view_v1
          WHERE NOT is_verified AND remove_at <= now() ORDER BY remove_at LIMIT 500",
    )
    .fetch_all(db)
    .await
}

/// An address as it enters the view.
struct NewAddress<'a> {
    person: &'a str,
    address: String,
    is_primary: bool,
    added_at: DateTime<Utc>,
    remove_at: Option<DateTime<Utc>>,
}

async fn insert(db: &mut PgConnection, new: NewAddress<'_>) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO email_view_v1 (canonical_address, address, person_id, is_primary,
            is_verified, added_at, remove_at)
         VALUES ($1, $2, $3, $4, false, $5, $6)",
    )
    .bind(canonical(&new.address))
    .bind(&new.address)
    .bind(new.person)
    .bind(new.is_primary)
    .bind(new.added_at)
    .bind(new.remove_at)
    .execute(db)
    .await?;
    Ok(())
}

async fn mark_verified(
    db: &mut PgConnection,
    person: &str,
    address: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE email_view_v1 SET is_verified = true, remove_at = NULL
          WHERE canonical_address = $1 AND person_id = $2",
    )
    .bind(canonical(address))
    .bind(person)
    .execute(db)
    .await?;
    Ok(())
}

async fn make_primary(
    db: &mut PgConnection,
    person: &str,
    address: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE email_view_v1 SET is_primary = (canonical_address = $1) WHERE person_id = $2",
    )
    .bind(canonical(address))
    .bind(person)
    .execute(db)
    .await?;
    Ok(())
}

/// Removes the address and frees it for anyone, in the same transaction.
async fn remove(db: &mut PgConnection, person: &str, address: &str) -> Result<(), sqlx::Error> {
    let address = canonical(address);
    sqlx::query("DELETE FROM email_view_v1 WHERE canonical_address = $1 AND person_id = $2")
        .bind(&address)
        .bind(person)
        .execute(&mut *db)
        .await?;
    sqlx::query("DELETE FROM email_claims WHERE address = $1 AND person_id = $2")
        .bind(&address)
        .bind(person)
        .execute(db)
        .await?;
    Ok(())
}

/// An erased person's addresses go, and are free again.
async fn remove_person(db: &mut PgConnection, person: &str) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM email_view_v1 WHERE person_id = $1")
        .bind(person)
        .execute(&mut *db)
        .await?;
    sqlx::query("DELETE FROM email_claims WHERE person_id = $1")
        .bind(person)
        .execute(db)
        .await?;
    Ok(())
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
        let person = event.aggregate_id.as_str();
        let opened = |address: Sealed<String>| address.into_inner();
        match person_event {
            PersonEvent::PersonRegistered {
                address,
                registered_at,
                ..
            } => {
                if let Some(address) = opened(address) {
                    let new = NewAddress {
                        person,
                        address,
                        is_primary: true,
                        added_at: registered_at,
                        remove_at: None,
                    };
                    insert(db, new).await?;
                }
            }
            PersonEvent::EmailAddressAdded {
                address,
                added_at,
                remove_at,
            } => {
                if let Some(address) = opened(address) {
                    let new = NewAddress {
                        person,
                        address,
                        is_primary: false,
                        added_at,
                        remove_at: Some(remove_at),
                    };
                    insert(db, new).await?;
                }
            }
            PersonEvent::EmailAddressVerified { address, .. } => {
                if let Some(address) = opened(address) {
                    mark_verified(db, person, &address).await?;
                }
            }
            PersonEvent::PrimaryEmailAddressChanged { address } => {
                if let Some(address) = opened(address) {
                    make_primary(db, person, &address).await?;
                }
            }
            PersonEvent::EmailAddressRemoved { address, .. } => {
                if let Some(address) = opened(address) {
                    remove(db, person, &address).await?;
                }
            }
            PersonEvent::PersonImported {
                address,
                imported_at,
                ..
            } => {
                if let Some(address) = opened(address) {
                    let new = NewAddress {
                        person,
                        address: address.clone(),
                        is_primary: true,
                        added_at: imported_at,
                        remove_at: None,
                    };
                    insert(db, new).await?;
                    mark_verified(db, person, &address).await?;
                }
            }
            PersonEvent::PersonDeleted { .. } => remove_person(db, person).await?,
            PersonEvent::ClusterRolesSet { .. }
            | PersonEvent::AccountDisabled { .. }
            | PersonEvent::AccountEnabled { .. }
            | PersonEvent::EmailVerificationRequested { .. }
            | PersonEvent::ProfileUpdated { .. }
            | PersonEvent::PasswordResetRequested { .. }
            | PersonEvent::PasswordResetKeyRedeemed { .. }
            | PersonEvent::AvatarUploaded { .. }
            | PersonEvent::AvatarRemoved { .. } => {}
        }
        Ok(())
    }

    async fn reset(&self, db: &mut PgConnection) -> Result<(), ProjectionError> {
        sqlx::query("DELETE FROM email_view_v1").execute(db).await?;
        Ok(())
    }
}
