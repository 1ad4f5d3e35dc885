//! `profile_view_v1`: a person's own profile fields, as GET /profile shows
//! them. Addresses are in [`crate::email_view`].

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use skalio_id_aggregates::person::PersonEvent;
use skalio_id_aggregates::sealed::Sealed;
use skalio_id_aggregates::token::TokenEvent;
use sqlx::{FromRow, PgConnection, PgExecutor};

use crate::event_log::StoredEvent;
use crate::projector::{Projection, ProjectionError};

/// The projection that keeps `profile_view_v1`.
pub struct ProfileView;

/// One row of the profile read model.
#[derive(Debug, Clone, FromRow)]
pub struct ProfileRow {
    pub person_id: String,
    pub name: Option<String>,
    pub locale: String,
    pub time_zone: String,
    pub has_avatar: bool,
    pub avatar_id: Option<String>,
    pub created_at: DateTime<Utc>,
    pub last_login_at: Option<DateTime<Utc>>,
    /// Roles over the whole service (`Cluster.Admin` and the like).
    pub cluster_roles: Vec<String>,
    pub is_disabled: bool,
}

/// The profile of `person_id`, if such a person exists.
pub async fn find<'e>(
    db: impl PgExecutor<'e>,
    person_id: &str,
) -> Result<Option<ProfileRow>, sqlx::Error> {
    sqlx::query_as("SELECT * FROM profile_view_v1 WHERE person_id = $1")
        .bind(person_id)
        .fetch_optional(db)
        .await
}

/// The profiles of `person_ids` that exist, in no particular order.
pub async fn find_many<'e>(
    db: impl PgExecutor<'e>,
    person_ids: &[String],
) -> Result<Vec<ProfileRow>, sqlx::Error> {
    sqlx::query_as("SELECT * FROM profile_view_v1 WHERE person_id = ANY($1)")
        .bind(person_ids)
        .fetch_all(db)
        .await
}

async fn set_avatar(
    db: &mut PgConnection,
    person: &str,
    avatar_id: Option<String>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE profile_view_v1 SET avatar_id = $2, has_avatar = ($2 IS NOT NULL)
          WHERE person_id = $1",
    )
    .bind(person)
    .bind(avatar_id)
    .execute(db)
    .await?;
    Ok(())
}

/// A login is recorded by the ID token it led to.
async fn record_login(db: &mut PgConnection, event: TokenEvent) -> Result<(), ProjectionError> {
    let TokenEvent::IdTokenIssued {
        person,
        issued_for,
        issued_at,
        ..
    } = event
    else {
        return Ok(());
    };
    if issued_for.is_login() {
        sqlx::query("UPDATE profile_view_v1 SET last_login_at = $2 WHERE person_id = $1")
            .bind(person)
            .bind(issued_at)
            .execute(db)
            .await?;
    }
    Ok(())
}

fn opened(name: Option<Sealed<String>>) -> Option<String> {
    name.and_then(Sealed::into_inner)
}

#[async_trait]
impl Projection for ProfileView {
    fn name(&self) -> &'static str {
        "profile_view_v1"
    }

    async fn apply(
        &self,
        db: &mut PgConnection,
        event: &StoredEvent,
    ) -> Result<(), ProjectionError> {
        if let Some(token_event) = event.token_event()? {
            return record_login(db, token_event).await;
        }
        let Some(person_event) = event.person_event()? else {
            return Ok(());
        };
        let person = &event.aggregate_id;
        match person_event {
            PersonEvent::PersonRegistered {
                name,
                locale,
                time_zone,
                registered_at: at,
                ..
            }
            | PersonEvent::PersonImported {
                name,
                locale,
                time_zone,
                imported_at: at,
                ..
            } => {
                sqlx::query(
                    "INSERT INTO profile_view_v1 (person_id, name, locale, time_zone, created_at)
                     VALUES ($1, $2, $3, $4, $5)",
                )
                .bind(person)
                .bind(opened(name))
                .bind(locale.as_str())
                .bind(time_zone)
                .bind(at)
                .execute(db)
                .await?;
            }
            PersonEvent::ClusterRolesSet { roles, .. } => {
                sqlx::query("UPDATE profile_view_v1 SET cluster_roles = $2 WHERE person_id = $1")
                    .bind(person)
                    .bind(roles)
                    .execute(db)
                    .await?;
            }
            PersonEvent::AccountDisabled { .. } | PersonEvent::AccountEnabled { .. } => {
                let disabled = matches!(person_event, PersonEvent::AccountDisabled { .. });
                sqlx::query("UPDATE profile_view_v1 SET is_disabled = $2 WHERE person_id = $1")
                    .bind(person)
                    .bind(disabled)
                    .execute(db)
                    .await?;
            }
            PersonEvent::ProfileUpdated {
                name,
                locale,
                time_zone,
            } => {
                sqlx::query(
                    "UPDATE profile_view_v1
                        SET name = CASE WHEN $2 THEN $3 ELSE name END,
                            locale = coalesce($4, locale),
                            time_zone = coalesce($5, time_zone)
                      WHERE person_id = $1",
                )
                .bind(person)
                .bind(name.is_some())
                .bind(opened(name))
                .bind(locale.map(|l| l.as_str()))
                .bind(time_zone)
                .execute(db)
                .await?;
            }
            PersonEvent::AvatarUploaded { avatar_id, .. } => {
                set_avatar(db, person, Some(avatar_id)).await?;
            }
            PersonEvent::AvatarRemoved { .. } => set_avatar(db, person, None).await?,
            PersonEvent::PersonDeleted { .. } => {
                sqlx::query("DELETE FROM profile_view_v1 WHERE person_id = $1")
                    .bind(person)
                    .execute(db)
                    .await?;
            }
            PersonEvent::EmailVerificationRequested { .. }
            | PersonEvent::EmailAddressVerified { .. }
            | PersonEvent::EmailAddressAdded { .. }
            | PersonEvent::PrimaryEmailAddressChanged { .. }
            | PersonEvent::EmailAddressRemoved { .. }
            | PersonEvent::PasswordResetRequested { .. }
            | PersonEvent::PasswordResetKeyRedeemed { .. } => {}
        }
        Ok(())
    }

    async fn reset(&self, db: &mut PgConnection) -> Result<(), ProjectionError> {
        sqlx::query("DELETE FROM profile_view_v1")
            .execute(db)
            .await?;
        Ok(())
    }
}
