//! `person_erasure_v1`: destroys a deleted person's key, so that every value
//! sealed for them in the event log becomes unreadable, and their avatar
//! images. Driven by the event
//! stream, it happens even when the process that appended `PersonDeleted`
//! died right after; replaying it destroys an already destroyed key again,
//! which changes nothing.

use async_trait::async_trait;
use skalio_id_aggregates::person::PersonEvent;
use sqlx::PgConnection;

use crate::event_log::StoredEvent;
use crate::projector::{Projection, ProjectionError};
use crate::vault;

/// The projection that erases deleted persons.
pub struct PersonErasure;

#[async_trait]
impl Projection for PersonErasure {
    fn name(&self) -> &'static str {
        "person_erasure_v1"
    }

    async fn apply(
        &self,
        db: &mut PgConnection,
        event: &StoredEvent,
    ) -> Result<(), ProjectionError> {
        if let Some(PersonEvent::PersonDeleted { .. }) = event.person_event()? {
            vault::destroy_key(&mut *db, &event.aggregate_id).await?;
            sqlx::query("DELETE FROM avatar_blobs WHERE person_id = $1")
                .bind(&event.aggregate_id)
                .execute(db)
                .await?;
        }
        Ok(())
    }

    /// Nothing to empty: destroyed keys stay destroyed.
    async fn reset(&self, _db: &mut PgConnection) -> Result<(), ProjectionError> {
        Ok(())
    }
}
