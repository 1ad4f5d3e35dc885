//! A postgres-es repository that seals personal data on the way in and
//! opens it on the way out.

use cqrs_es::Aggregate;
use cqrs_es::persist::{
    PersistedEventRepository, PersistenceError, ReplayStream, SerializedEvent, SerializedSnapshot,
};
use postgres_es::PostgresEventRepository;
use serde_json::Value;
use skalio_id_aggregates::sealed::{self, KeyRing};
use skalio_id_projections::event_log;
use skalio_id_projections::vault;
use sqlx::PgPool;
/// The metadata field naming the person who acted (or was created).
pub(super) const ACTOR: &str = "actor";
/// Metadata fields that are personal data of the actor.
const PERSONAL_METADATA: &[&str] = &["client_address", "user_agent"];

/// A postgres-es repository that seals personal data before it is written
/// and opens it after it is read.
pub struct SealingRepository {
    inner: PostgresEventRepository,
    pool: PgPool,
}

impl SealingRepository {
    pub fn new(pool: PgPool) -> Self {
        Self {
            inner: PostgresEventRepository::new(pool.clone()),
            pool,
        }
    }

    async fn open(
        &self,
        events: Vec<SerializedEvent>,
    ) -> Result<Vec<SerializedEvent>, PersistenceError> {
        let owners = owners_of(&events);
        let keys = vault::keys_for(&self.pool, &owners)
            .await
            .map_err(unknown)?;
        events
            .into_iter()
            .map(|event| open_event(event, &keys))
            .collect()
    }
}

fn owners_of(events: &[SerializedEvent]) -> Vec<String> {
    sealed::owners_in_all(events.iter().flat_map(|e| [&e.payload, &e.metadata]))
}

fn open_event(
    mut event: SerializedEvent,
    keys: &KeyRing,
) -> Result<SerializedEvent, PersistenceError> {
    sealed::open_json(&mut event.payload, keys).map_err(deserialization)?;
    sealed::open_metadata(&mut event.metadata, keys).map_err(deserialization)?;
    Ok(event)
}

/// Personal metadata is sealed under the actor's key; without an actor it is
/// not stored at all, never in clear.
fn mark_personal_metadata(event: &mut SerializedEvent) {
    let actor = event
        .metadata
        .get(ACTOR)
        .and_then(Value::as_str)
        .map(str::to_string);
    match actor {
        Some(actor) => sealed::mark_metadata(&mut event.metadata, &actor, PERSONAL_METADATA),
        None => {
            if let Value::Object(fields) = &mut event.metadata {
                PERSONAL_METADATA
                    .iter()
                    .for_each(|f| drop(fields.remove(*f)));
            }
        }
    }
}

fn unknown(error: impl std::error::Error + Send + Sync + 'static) -> PersistenceError {
    PersistenceError::UnknownError(Box::new(error))
}

fn deserialization(error: impl std::error::Error + Send + Sync + 'static) -> PersistenceError {
    PersistenceError::DeserializationError(Box::new(error))
}

impl PersistedEventRepository for SealingRepository {
    async fn get_events<A: Aggregate>(
        &self,
        id: &str,
    ) -> Result<Vec<SerializedEvent>, PersistenceError> {
        let events = self.inner.get_events::<A>(id).await?;
        self.open(events).await
    }

    async fn get_last_events<A: Aggregate>(
        &self,
        id: &str,
        last_sequence: usize,
    ) -> Result<Vec<SerializedEvent>, PersistenceError> {
        let events = self.inner.get_last_events::<A>(id, last_sequence).await?;
        self.open(events).await
    }

    /// Aggregates are never snapshotted here: a snapshot would hold personal
    /// data outside the sealed events.
    async fn get_snapshot<A: Aggregate>(
        &self,
        _id: &str,
    ) -> Result<Option<SerializedSnapshot>, PersistenceError> {
        Ok(None)
    }

    async fn persist<A: Aggregate>(
        &self,
        events: &[SerializedEvent],
        snapshot_update: Option<(String, Value, usize)>,
    ) -> Result<(), PersistenceError> {
        if snapshot_update.is_some() {
            return Err(unknown(std::io::Error::other(
                "snapshots are not supported",
            )));
        }
        let mut sealed_events = events.to_vec();
        sealed_events.iter_mut().for_each(mark_personal_metadata);
        let keys = vault::keys_for_sealing(&self.pool, &owners_of(&sealed_events))
            .await
            .map_err(unknown)?;
        for event in &mut sealed_events {
            sealed::seal_json(&mut event.payload, &keys).map_err(unknown)?;
            sealed::seal_json(&mut event.metadata, &keys).map_err(unknown)?;
        }
        self.inner.persist::<A>(&sealed_events, None).await
    }

    async fn stream_events<A: Aggregate>(
        &self,
        id: &str,
    ) -> Result<ReplayStream, PersistenceError> {
        let events = self.get_events::<A>(id).await?;
        Ok(replay_stream(events))
    }

    async fn stream_all_events<A: Aggregate>(&self) -> Result<ReplayStream, PersistenceError> {
        let mut db = self.pool.acquire().await.map_err(unknown)?;
        let stored = event_log::read_type(&mut db, A::TYPE)
            .await
            .map_err(unknown)?;
        let events = stored
            .into_iter()
            .map(|e| SerializedEvent {
                aggregate_id: e.aggregate_id,
                sequence: e.sequence as usize,
                aggregate_type: e.aggregate_type,
                event_type: e.event_type,
                event_version: e.event_version,
                payload: e.payload,
                metadata: e.metadata,
            })
            .collect();
        Ok(replay_stream(events))
    }
}

fn replay_stream(events: Vec<SerializedEvent>) -> ReplayStream {
    let (mut feed, stream) = ReplayStream::new(events.len().max(1));
    tokio::spawn(async move {
        for event in events {
            if feed.push(Ok(event)).await.is_err() {
                return;
            }
        }
    });
    stream
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn event_with(metadata: Value) -> SerializedEvent {
        let payload = json!({});
        SerializedEvent::new(
            "p1".into(),
            1,
            "Person".into(),
            "E".into(),
            "1.0".into(),
            payload,
            metadata,
        )
    }

    #[test]
    fn personal_metadata_is_marked_for_the_actor() {
        let mut event =
            event_with(json!({"actor": "p1", "client_address": "192.0.2.1", "request_id": "r"}));
        mark_personal_metadata(&mut event);
        assert_eq!(event.metadata["client_address"]["sealedFor"], "p1");
        assert_eq!(event.metadata["request_id"], "r");
    }

    #[test]
    fn without_an_actor_personal_metadata_is_dropped_not_kept_in_clear() {
        let mut event = event_with(
            json!({"client_address": "192.0.2.1", "user_agent": "curl", "request_id": "r"}),
        );
        mark_personal_metadata(&mut event);
        assert_eq!(event.metadata, json!({"request_id": "r"}));
    }
}
