//! `signaling_feed_v1`: the SignalingEvents each person should hear of,
//! filled from the event stream, and the hub that tells this instance's
//! waiting clients that a person's feed grew.
//!
//! Interested persons are the person an event is about and, once
//! organizations exist, the other members of their organization.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use skalio_id_aggregates::person::PersonEvent;
use sqlx::postgres::PgListener;
use sqlx::{FromRow, PgConnection, PgExecutor, PgPool};
use tokio::sync::{broadcast, watch};
use tracing::warn;

use crate::event_log::StoredEvent;
use crate::projector::{Projection, ProjectionError};

/// The channel announcing, with a person's uid, that their feed grew.
pub const SIGNALING_CHANNEL: &str = "signaling_feed";
/// A person's avatar was uploaded or deleted.
pub const PROFILE_AVATAR_UPDATED: &str = "PROFILE_AVATAR_UPDATED";

/// The projection that keeps `signaling_feed_v1`.
pub struct SignalingFeed;

/// One SignalingEvent in one person's feed.
#[derive(Debug, Clone, FromRow)]
pub struct FeedEntry {
    pub id: i64,
    pub event_type: String,
    pub subject: String,
    pub occurred_at: DateTime<Utc>,
}

/// Up to `limit` entries of `person`'s feed after `cursor`, oldest first.
pub async fn after<'e>(
    db: impl PgExecutor<'e>,
    person: &str,
    cursor: i64,
    limit: i64,
) -> Result<Vec<FeedEntry>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, event_type, subject, occurred_at FROM signaling_feed_v1
          WHERE person_id = $1 AND id > $2 ORDER BY id LIMIT $3",
    )
    .bind(person)
    .bind(cursor)
    .bind(limit)
    .fetch_all(db)
    .await
}

/// The id of the newest entry of `person`'s feed (0 when it is empty).
pub async fn newest<'e>(db: impl PgExecutor<'e>, person: &str) -> Result<i64, sqlx::Error> {
    let newest: Option<i64> =
        sqlx::query_scalar("SELECT max(id) FROM signaling_feed_v1 WHERE person_id = $1")
            .bind(person)
            .fetch_one(db)
            .await?;
    Ok(newest.unwrap_or(0))
}

async fn publish(
    db: &mut PgConnection,
    interested: &[String],
    event_type: &str,
    subject: &str,
    occurred_at: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    for person in interested {
        sqlx::query(
            "INSERT INTO signaling_feed_v1 (person_id, event_type, subject, occurred_at)
             VALUES ($1, $2, $3, $4)",
        )
        .bind(person)
        .bind(event_type)
        .bind(subject)
        .bind(occurred_at)
        .execute(&mut *db)
        .await?;
        sqlx::query("SELECT pg_notify($1, $2)")
            .bind(SIGNALING_CHANNEL)
            .bind(person)
            .execute(&mut *db)
            .await?;
    }
    Ok(())
}

#[async_trait]
impl Projection for SignalingFeed {
    fn name(&self) -> &'static str {
        "signaling_feed_v1"
    }

    async fn apply(
        &self,
        db: &mut PgConnection,
        event: &StoredEvent,
    ) -> Result<(), ProjectionError> {
        let person = event.aggregate_id.clone();
        match event.person_event()? {
            Some(PersonEvent::AvatarUploaded {
                uploaded_at: at, ..
            })
            | Some(PersonEvent::AvatarRemoved { removed_at: at }) => {
                publish(
                    db,
                    std::slice::from_ref(&person),
                    PROFILE_AVATAR_UPDATED,
                    &person,
                    at,
                )
                .await?;
            }
            Some(PersonEvent::PersonDeleted { .. }) => {
                sqlx::query("DELETE FROM signaling_feed_v1 WHERE person_id = $1")
                    .bind(&person)
                    .execute(db)
                    .await?;
            }
            _ => {}
        }
        Ok(())
    }

    /// Restarting the numbering gives the rebuilt feed the ids it had.
    async fn reset(&self, db: &mut PgConnection) -> Result<(), ProjectionError> {
        sqlx::query("TRUNCATE signaling_feed_v1 RESTART IDENTITY")
            .execute(db)
            .await?;
        Ok(())
    }
}

/// Tells this instance's waiting clients whose feed grew.
pub struct SignalingHub {
    grew: broadcast::Sender<String>,
}

impl Default for SignalingHub {
    fn default() -> Self {
        Self {
            grew: broadcast::channel(1024).0,
        }
    }
}

impl SignalingHub {
    /// A receiver of the uids whose feed grew from now on. A lagging
    /// receiver may miss names; its owner re-reads the feed on every wake.
    pub fn subscribe(&self) -> broadcast::Receiver<String> {
        self.grew.subscribe()
    }

    /// Follows the channel until shutdown, reconnecting when it drops.
    pub fn spawn(self: &Arc<Self>, pool: PgPool, mut shutdown: watch::Receiver<bool>) {
        let hub = Arc::clone(self);
        tokio::spawn(async move {
            while !*shutdown.borrow() {
                if let Err(e) = hub.follow(&pool, &mut shutdown).await {
                    warn!(error = %e, "signaling listener failed; reconnecting");
                }
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_millis(500)) => {}
                    _ = shutdown.changed() => {}
                }
            }
        });
    }

    async fn follow(
        &self,
        pool: &PgPool,
        shutdown: &mut watch::Receiver<bool>,
    ) -> Result<(), sqlx::Error> {
        let mut listener = PgListener::connect_with(pool).await?;
        listener.listen(SIGNALING_CHANNEL).await?;
        loop {
            tokio::select! {
                received = listener.try_recv() => match received? {
                    Some(notification) => drop(self.grew.send(notification.payload().to_string())),
                    // Reconnected: wake everyone, whose feeds may have grown meanwhile.
                    None => drop(self.grew.send(String::new())),
                },
                _ = shutdown.changed() => return Ok(()),
            }
        }
    }
}
