//! `membership_view_v1`: who is a member of which organization, with which
//! roles; what tokens carry as `roles` and `http://skalio.com/org_id`.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use skalio_id_aggregates::organization::OrganizationEvent;
use skalio_id_aggregates::sealed::Sealed;
use sqlx::{FromRow, PgConnection, PgExecutor};

use crate::event_log::StoredEvent;
use crate::projector::{Projection, ProjectionError};

/// The projection that keeps `membership_view_v1`.
pub struct MembershipView;

/// One membership.
#[derive(Debug, Clone, FromRow)]
pub struct MembershipRow {
    pub person_id: String,
    pub organization_id: String,
    pub roles: Vec<String>,
    /// The organization's note about the member.
    pub reference: Option<String>,
    pub joined_at: DateTime<Utc>,
}

/// The membership of `person`, if they are a member anywhere.
pub async fn of_person<'e>(
    db: impl PgExecutor<'e>,
    person: &str,
) -> Result<Option<MembershipRow>, sqlx::Error> {
    sqlx::query_as("SELECT * FROM membership_view_v1 WHERE person_id = $1")
        .bind(person)
        .fetch_optional(db)
        .await
}

/// Every membership of `organization`, oldest first.
pub async fn of_organization<'e>(
    db: impl PgExecutor<'e>,
    organization: &str,
) -> Result<Vec<MembershipRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT * FROM membership_view_v1 WHERE organization_id = $1
          ORDER BY joined_at, person_id",
    )
    .bind(organization)
    .fetch_all(db)
    .await
}

fn opened(reference: Option<Sealed<String>>) -> (bool, Option<String>) {
    (reference.is_some(), reference.and_then(Sealed::into_inner))
}

#[async_trait]
impl Projection for MembershipView {
    fn name(&self) -> &'static str {
        "membership_view_v1"
    }

    async fn apply(
        &self,
        db: &mut PgConnection,
        event: &StoredEvent,
    ) -> Result<(), ProjectionError> {
        let Some(organization_event) = event.organization_event()? else {
            return Ok(());
        };
        let organization = event.aggregate_id.as_str();
        match organization_event {
            OrganizationEvent::MemberJoined {
                person,
                roles,
                reference,
                joined_at,
            } => {
                sqlx::query(
                    "INSERT INTO membership_view_v1
                            (person_id, organization_id, roles, reference, joined_at)
                     VALUES ($1, $2, $3, $4, $5)",
                )
                .bind(person)
                .bind(organization)
                .bind(roles)
                .bind(opened(reference).1)
                .bind(joined_at)
                .execute(db)
                .await?;
            }
            OrganizationEvent::MemberRolesAssigned {
                person,
                roles,
                reference,
                ..
            } => {
                let (changed, reference) = opened(reference);
                sqlx::query(
                    "UPDATE membership_view_v1
                        SET roles = $3, reference = CASE WHEN $4 THEN $5 ELSE reference END
                      WHERE person_id = $1 AND organization_id = $2",
                )
                .bind(person)
                .bind(organization)
                .bind(roles)
                .bind(changed)
                .bind(reference)
                .execute(db)
                .await?;
            }
            OrganizationEvent::MemberDeparted { person, .. } => {
                sqlx::query(
                    "DELETE FROM membership_view_v1 WHERE person_id = $1 AND organization_id = $2",
                )
                .bind(person)
                .bind(organization)
                .execute(db)
                .await?;
            }
            OrganizationEvent::OrganizationCreated { .. }
            | OrganizationEvent::OrganizationProfileUpdated { .. }
            | OrganizationEvent::HostnameChanged { .. }
            | OrganizationEvent::OrganizationDetailsUpdated { .. } => {}
        }
        Ok(())
    }

    async fn reset(&self, db: &mut PgConnection) -> Result<(), ProjectionError> {
        sqlx::query("DELETE FROM membership_view_v1")
            .execute(db)
            .await?;
        Ok(())
    }
}
