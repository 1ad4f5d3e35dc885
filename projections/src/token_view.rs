//! `token_view_v1`: every ID token with its owner, terms and whether it was
//! blacklisted. Each blacklisting is also announced on the
//! `token_blacklisted` channel, delivered to every instance at commit.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use skalio_id_aggregates::person::PersonEvent;
use skalio_id_aggregates::sealed::Sealed;
use skalio_id_aggregates::token::TokenEvent;
use sqlx::{FromRow, PgConnection, PgExecutor};

use crate::event_log::StoredEvent;
use crate::projector::{Projection, ProjectionError};

/// The channel every instance's blacklist listens on.
pub const BLACKLIST_CHANNEL: &str = "token_blacklisted";

/// The projection that keeps `token_view_v1`.
pub struct TokenView;

/// One ID token.
#[derive(Debug, Clone, FromRow)]
pub struct TokenRow {
    pub jti: String,
    pub person_id: String,
    pub auth_level: i16,
    pub issued_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub user_agent: Option<String>,
    pub client_address: Option<String>,
    pub is_blacklisted: bool,
}

const COLUMNS: &str = "jti, person_id, auth_level, issued_at, expires_at, user_agent, \
                       client_address, is_blacklisted";

/// The token `jti`, if it was issued.
pub async fn find<'e>(db: impl PgExecutor<'e>, jti: &str) -> Result<Option<TokenRow>, sqlx::Error> {
    let sql = format!("SELECT {COLUMNS} FROM token_view_v1 WHERE jti = $1");
    sqlx::query_as(&sql).bind(jti).fetch_optional(db).await
}

/// A person's tokens that are neither expired nor blacklisted, newest first.
pub async fn active_of<'e>(
    db: impl PgExecutor<'e>,
    person_id: &str,
) -> Result<Vec<TokenRow>, sqlx::Error> {
    let sql = format!(
        "SELECT {COLUMNS} FROM token_view_v1
          WHERE person_id = $1 AND expires_at > now() AND NOT is_blacklisted
          ORDER BY issued_at DESC, jti"
    );
    sqlx::query_as(&sql).bind(person_id).fetch_all(db).await
}

/// Every blacklisted token that has not expired yet, with its expiry.
pub async fn blacklisted<'e>(
    db: impl PgExecutor<'e>,
) -> Result<Vec<(String, DateTime<Utc>)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT jti, expires_at FROM token_view_v1 WHERE is_blacklisted AND expires_at > now()",
    )
    .fetch_all(db)
    .await
}

fn opened(value: Option<Sealed<String>>) -> Option<String> {
    value.and_then(Sealed::into_inner)
}

async fn mark_blacklisted(
    db: &mut PgConnection,
    jti: &str,
    expires_at: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE token_view_v1 SET is_blacklisted = true WHERE jti = $1")
        .bind(jti)
        .execute(&mut *db)
        .await?;
    let payload = format!("{jti} {}", expires_at.timestamp());
    sqlx::query("SELECT pg_notify($1, $2)")
        .bind(BLACKLIST_CHANNEL)
        .bind(payload)
        .execute(db)
        .await?;
    Ok(())
}

/// An erased person's tokens keep their terms (the blacklist needs them until
/// they expire) but lose the user agent and client address.
async fn forget_client_details(db: &mut PgConnection, person: &str) -> Result<(), ProjectionError> {
    sqlx::query(
        "UPDATE token_view_v1 SET user_agent = NULL, client_address = NULL WHERE person_id = $1",
    )
    .bind(person)
    .execute(db)
    .await?;
    Ok(())
}

#[async_trait]
impl Projection for TokenView {
    fn name(&self) -> &'static str {
        "token_view_v1"
    }

    async fn apply(
        &self,
        db: &mut PgConnection,
        event: &StoredEvent,
    ) -> Result<(), ProjectionError> {
        if let Some(PersonEvent::PersonDeleted { .. }) = event.person_event()? {
            return forget_client_details(db, &event.aggregate_id).await;
        }
        let Some(token_event) = event.token_event()? else {
            return Ok(());
        };
        let jti = &event.aggregate_id;
        match token_event {
            TokenEvent::IdTokenIssued {
                person,
                issued_for,
                auth_level,
                set_password,
                issued_at,
                expires_at,
                user_agent,
                client_address,
                ..
            } => {
                sqlx::query(
                    "INSERT INTO token_view_v1 (jti, person_id, issued_for, auth_level,
                        set_password, issued_at, expires_at, user_agent, client_address)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                )
                .bind(jti)
                .bind(person)
                .bind(
                    serde_json::to_value(issued_for)?
                        .as_str()
                        .unwrap_or_default()
                        .to_string(),
                )
                .bind(i16::from(auth_level))
                .bind(set_password)
                .bind(issued_at)
                .bind(expires_at)
                .bind(opened(user_agent))
                .bind(opened(client_address))
                .execute(db)
                .await?;
            }
            TokenEvent::TokenBlacklisted { expires_at, .. }
            | TokenEvent::TokenParked { expires_at, .. } => {
                mark_blacklisted(db, jti, expires_at).await?
            }
            TokenEvent::ParkedTokenPickedUp { .. } => {}
        }
        Ok(())
    }

    async fn reset(&self, db: &mut PgConnection) -> Result<(), ProjectionError> {
        sqlx::query("DELETE FROM token_view_v1").execute(db).await?;
        Ok(())
    }
}
