//! `signaling_feed_v1`: the SignalingEvents each person should hear of,
//! filled from the event stream, and the hub that tells this instance's
//! waiting clients that a person's feed grew.
//!
//! Interested persons are the person an event is about and the other
//! members of their organization; the feed keeps its own copy of the
//! memberships, changed in the same order as the events it fans out.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use skalio_id_aggregates::organization::OrganizationEvent;
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
/// The profile of the person's organization changed.
pub const ORGANIZATION_PROFILE_UPDATED: &str = "ORGANIZATION_PROFILE_UPDATED";
/// The person's membership or roles changed.
pub const PRIVILEGES_UPDATED: &str = "PRIVILEGES_UPDATED";

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

/// The person and the other members of their organization.
async fn person_and_colleagues(
    db: &mut PgConnection,
    person: &str,
) -> Result<Vec<String>, sqlx::Error> {
    let colleagues: Vec<String> = sqlx::query_scalar(
        "SELECT m.person_id FROM signaling_members_v1 m
           JOIN signaling_members_v1 me ON me.organization_id = m.organization_id
          WHERE me.person_id = $1 AND m.person_id <> $1
          ORDER BY m.person_id",
    )
    .bind(person)
    .fetch_all(&mut *db)
    .await?;
    Ok(std::iter::once(person.to_string())
        .chain(colleagues)
        .collect())
}

async fn members_of(db: &mut PgConnection, organization: &str) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT person_id FROM signaling_members_v1 WHERE organization_id = $1 ORDER BY person_id",
    )
    .bind(organization)
    .fetch_all(db)
    .await
}

impl SignalingFeed {
    async fn apply_person_event(
        db: &mut PgConnection,
        person: &str,
        event: PersonEvent,
    ) -> Result<(), sqlx::Error> {
        match event {
            PersonEvent::AvatarUploaded {
                uploaded_at: at, ..
            }
            | PersonEvent::AvatarRemoved { removed_at: at } => {
                let interested = person_and_colleagues(db, person).await?;
                publish(db, &interested, PROFILE_AVATAR_UPDATED, person, at).await?;
            }
            PersonEvent::PersonDeleted { .. } => {
                sqlx::query("DELETE FROM signaling_feed_v1 WHERE person_id = $1")
                    .bind(person)
                    .execute(&mut *db)
                    .await?;
                sqlx::query("DELETE FROM signaling_members_v1 WHERE person_id = $1")
                    .bind(person)
                    .execute(db)
                    .await?;
            }
            _ => {}
        }
        Ok(())
    }

    async fn apply_organization_event(
        db: &mut PgConnection,
        organization: &str,
        event: OrganizationEvent,
    ) -> Result<(), sqlx::Error> {
        match event {
            OrganizationEvent::OrganizationProfileUpdated { updated_at, .. } => {
                let members = members_of(db, organization).await?;
                let kind = ORGANIZATION_PROFILE_UPDATED;
                publish(db, &members, kind, organization, updated_at).await?;
            }
            OrganizationEvent::MemberJoined {
                person, joined_at, ..
            } => {
                sqlx::query(
                    "INSERT INTO signaling_members_v1 (person_id, organization_id) VALUES ($1, $2)
                     ON CONFLICT (person_id) DO UPDATE SET organization_id = EXCLUDED.organization_id",
                )
                .bind(&person)
                .bind(organization)
                .execute(&mut *db)
                .await?;
                let person = std::slice::from_ref(&person);
                publish(db, person, PRIVILEGES_UPDATED, organization, joined_at).await?;
            }
            OrganizationEvent::MemberRolesAssigned {
                person,
                assigned_at,
                ..
            } => {
                let person = std::slice::from_ref(&person);
                publish(db, person, PRIVILEGES_UPDATED, organization, assigned_at).await?;
            }
            OrganizationEvent::MemberDeparted {
                person,
                departed_at,
                ..
            } => {
                sqlx::query(
                    "DELETE FROM signaling_members_v1 WHERE person_id = $1 AND organization_id = $2",
                )
                .bind(&person)
                .bind(organization)
                .execute(&mut *db)
                .await?;
                let person = std::slice::from_ref(&person);
                publish(db, person, PRIVILEGES_UPDATED, organization, departed_at).await?;
            }
            OrganizationEvent::OrganizationCreated { .. }
            | OrganizationEvent::HostnameChanged { .. }
            | OrganizationEvent::OrganizationDetailsUpdated { .. } => {}
        }
        Ok(())
    }
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
        let id = event.aggregate_id.as_str();
        if let Some(person_event) = event.person_event()? {
            Self::apply_person_event(db, id, person_event).await?;
        } else if let Some(organization_event) = event.organization_event()? {
            Self::apply_organization_event(db, id, organization_event).await?;
        }
        Ok(())
    }

    /// Restarting the numbering gives the rebuilt feed the ids it had.
    async fn reset(&self, db: &mut PgConnection) -> Result<(), ProjectionError> {
        sqlx::query("TRUNCATE signaling_feed_v1, signaling_members_v1 RESTART IDENTITY")
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
