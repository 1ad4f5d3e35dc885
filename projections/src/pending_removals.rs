//! `pending_removals_v1`: members removed by an administrator whose account
//! deletion has not followed yet. Removing a member changes the
//! organization first and deletes the account second; the two appends
//! cannot share a transaction, so this read model lets the upkeep sweep
//! finish a removal whose process died in between.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use skalio_id_aggregates::organization::{DepartureReason, OrganizationEvent};
use skalio_id_aggregates::person::PersonEvent;
use sqlx::{PgConnection, PgExecutor};

use crate::event_log::StoredEvent;
use crate::projector::{Projection, ProjectionError};

/// The projection of removals awaiting their account deletion.
pub struct PendingRemovals;

/// Persons removed before `before` whose account still exists.
pub async fn overdue<'e>(
    db: impl PgExecutor<'e>,
    before: DateTime<Utc>,
) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT person_id FROM pending_removals_v1 WHERE removed_at < $1 ORDER BY removed_at",
    )
    .bind(before)
    .fetch_all(db)
    .await
}

#[async_trait]
impl Projection for PendingRemovals {
    fn name(&self) -> &'static str {
        "pending_removals_v1"
    }

    async fn apply(
        &self,
        db: &mut PgConnection,
        event: &StoredEvent,
    ) -> Result<(), ProjectionError> {
        if let Some(OrganizationEvent::MemberDeparted {
            person,
            reason: DepartureReason::Removed { .. },
            departed_at,
        }) = event.organization_event()?
        {
            sqlx::query(
                "INSERT INTO pending_removals_v1 (person_id, organization_id, removed_at)
                 VALUES ($1, $2, $3) ON CONFLICT (person_id) DO NOTHING",
            )
            .bind(person)
            .bind(&event.aggregate_id)
            .bind(departed_at)
            .execute(db)
            .await?;
        } else if let Some(PersonEvent::PersonDeleted { .. }) = event.person_event()? {
            sqlx::query("DELETE FROM pending_removals_v1 WHERE person_id = $1")
                .bind(&event.aggregate_id)
                .execute(db)
                .await?;
        }
        Ok(())
    }

    async fn reset(&self, db: &mut PgConnection) -> Result<(), ProjectionError> {
        sqlx::query("DELETE FROM pending_removals_v1")
            .execute(db)
            .await?;
        Ok(())
    }
}
