//! `organization_view_v1`: every organization with its profile, hostnames,
//! details and member count, as the organization endpoints and the public
//! lookup answer them.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use skalio_id_aggregates::organization::{OrganizationEvent, OrganizationProfile};
use sqlx::types::Json;
use sqlx::{FromRow, PgConnection, PgExecutor};

use crate::event_log::StoredEvent;
use crate::projector::{Projection, ProjectionError};

/// The projection that keeps `organization_view_v1`.
pub struct OrganizationView;

/// One organization.
#[derive(Debug, Clone, FromRow)]
pub struct OrganizationRow {
    pub organization_id: String,
    pub external_uid: Option<String>,
    pub profile: Json<OrganizationProfile>,
    pub hostname: String,
    pub inactive_hostnames: Vec<String>,
    pub mfa_required: bool,
    pub member_limit: i32,
    pub member_count: i32,
    pub has_avatar: bool,
    pub created_at: DateTime<Utc>,
}

/// The organization `organization_id`, if it exists.
pub async fn find<'e>(
    db: impl PgExecutor<'e>,
    organization_id: &str,
) -> Result<Option<OrganizationRow>, sqlx::Error> {
    sqlx::query_as("SELECT * FROM organization_view_v1 WHERE organization_id = $1")
        .bind(organization_id)
        .fetch_optional(db)
        .await
}

/// The organization whose active or inactive hostname is `hostname`.
pub async fn find_by_hostname<'e>(
    db: impl PgExecutor<'e>,
    hostname: &str,
) -> Result<Option<OrganizationRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT * FROM organization_view_v1
          WHERE hostname = lower($1) OR inactive_hostnames @> ARRAY[lower($1)]",
    )
    .bind(hostname)
    .fetch_optional(db)
    .await
}

async fn count_members(db: &mut PgConnection, id: &str, change: i32) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE organization_view_v1 SET member_count = member_count + $2
          WHERE organization_id = $1",
    )
    .bind(id)
    .bind(change)
    .execute(db)
    .await?;
    Ok(())
}

#[async_trait]
impl Projection for OrganizationView {
    fn name(&self) -> &'static str {
        "organization_view_v1"
    }

    async fn apply(
        &self,
        db: &mut PgConnection,
        event: &StoredEvent,
    ) -> Result<(), ProjectionError> {
        let Some(organization_event) = event.organization_event()? else {
            return Ok(());
        };
        let id = event.aggregate_id.as_str();
        match organization_event {
            OrganizationEvent::OrganizationCreated {
                profile,
                hostname,
                external_uid,
                member_limit,
                mfa_required,
                created_at,
                ..
            } => {
                sqlx::query(
                    "INSERT INTO organization_view_v1 (organization_id, external_uid, profile,
                            hostname, mfa_required, member_limit, created_at)
                     VALUES ($1, $2, $3, $4, $5, $6, $7)",
                )
                .bind(id)
                .bind(external_uid)
                .bind(Json(profile))
                .bind(hostname)
                .bind(mfa_required)
                .bind(i32::try_from(member_limit).unwrap_or(i32::MAX))
                .bind(created_at)
                .execute(db)
                .await?;
            }
            OrganizationEvent::OrganizationProfileUpdated { profile, .. } => {
                sqlx::query(
                    "UPDATE organization_view_v1 SET profile = $2 WHERE organization_id = $1",
                )
                .bind(id)
                .bind(Json(profile))
                .execute(db)
                .await?;
            }
            OrganizationEvent::HostnameChanged {
                hostname, previous, ..
            } => {
                sqlx::query(
                    "UPDATE organization_view_v1
                        SET hostname = $2,
                            inactive_hostnames = array_append(array_remove(inactive_hostnames, $2), $3)
                      WHERE organization_id = $1",
                )
                .bind(id)
                .bind(hostname)
                .bind(previous)
                .execute(db)
                .await?;
            }
            OrganizationEvent::OrganizationDetailsUpdated { mfa_required, .. } => {
                sqlx::query(
                    "UPDATE organization_view_v1 SET mfa_required = $2 WHERE organization_id = $1",
                )
                .bind(id)
                .bind(mfa_required)
                .execute(db)
                .await?;
            }
            OrganizationEvent::MemberJoined { .. } => count_members(db, id, 1).await?,
            OrganizationEvent::MemberDeparted { .. } => count_members(db, id, -1).await?,
            OrganizationEvent::MemberRolesAssigned { .. } => {}
        }
        Ok(())
    }

    async fn reset(&self, db: &mut PgConnection) -> Result<(), ProjectionError> {
        sqlx::query("DELETE FROM organization_view_v1")
            .execute(db)
            .await?;
        Ok(())
    }
}
