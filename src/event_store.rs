//! The write side's event store: postgres-es underneath, with personal data
//! sealed on the way in and opened on the way out, and the command bus that
//! runs one command and returns once the read models show its events.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use cqrs_es::persist::{
    PersistedEventRepository, PersistedEventStore, PersistenceError, ReplayStream, SerializedEvent,
    SerializedSnapshot,
};
use cqrs_es::{Aggregate, AggregateError, CqrsFramework};
use postgres_es::PostgresEventRepository;
use serde_json::Value;
use skalio_id_aggregates::person::{Person, PersonCommand, PersonError, PersonServices};
use skalio_id_aggregates::sealed::{self, KeyRing};
use skalio_id_aggregates::token::{Token, TokenCommand};
use skalio_id_projections::event_log;
use skalio_id_projections::projector::Projector;
use skalio_id_projections::vault;
use sqlx::PgPool;
use tracing::{Instrument, info_span, warn};

use crate::error::ApiError;

/// The metadata field naming the person who acted (or was created).
const ACTOR: &str = "actor";
/// Metadata fields that are personal data of the actor.
const PERSONAL_METADATA: &[&str] = &["client_address", "user_agent"];
/// How often a command is retried when another wrote the aggregate first;
/// enough for a burst of concurrent requests by one person.
const CONFLICT_RETRIES: u32 = 16;

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
    let mut owners = Vec::new();
    for event in events {
        for owner in sealed::owners_in(&event.payload)
            .into_iter()
            .chain(sealed::owners_in(&event.metadata))
        {
            if !owners.contains(&owner) {
                owners.push(owner);
            }
        }
    }
    owners
}

fn open_event(
    mut event: SerializedEvent,
    keys: &KeyRing,
) -> Result<SerializedEvent, PersistenceError> {
    sealed::open_json(&mut event.payload, keys).map_err(deserialization)?;
    sealed::open_metadata(&mut event.metadata, keys).map_err(deserialization)?;
    Ok(event)
}

fn mark_personal_metadata(event: &mut SerializedEvent) {
    let person = event
        .metadata
        .get(ACTOR)
        .and_then(Value::as_str)
        .map(str::to_string);
    if let Some(person) = person {
        sealed::mark_metadata(&mut event.metadata, &person, PERSONAL_METADATA);
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

type Framework<A> = CqrsFramework<A, PersistedEventStore<SealingRepository, A>>;

/// Who asked, from where: recorded with every event so that logs and audit
/// history join.
#[derive(Debug, Clone, Default)]
pub struct RequestMeta {
    pub request_id: Option<String>,
    pub client_address: Option<String>,
    pub user_agent: Option<String>,
    /// The person acting (or being created); personal metadata is sealed
    /// under their key.
    pub person: Option<String>,
}

impl RequestMeta {
    /// The same request, acting as `person`.
    pub fn acting_as(&self, person: &str) -> Self {
        Self {
            person: Some(person.to_string()),
            ..self.clone()
        }
    }

    fn to_metadata(&self) -> HashMap<String, String> {
        let fields = [
            ("request_id", &self.request_id),
            ("client_address", &self.client_address),
            ("user_agent", &self.user_agent),
            (ACTOR, &self.person),
        ];
        fields
            .into_iter()
            .filter_map(|(name, value)| value.clone().map(|v| (name.to_string(), v)))
            .collect()
    }
}

/// Runs commands against aggregates and waits for the read models.
pub struct CommandBus {
    persons: Framework<Person>,
    tokens: Framework<Token>,
    pool: PgPool,
    projector: Arc<Projector>,
    read_your_writes_timeout: Duration,
}

impl CommandBus {
    pub fn new(
        pool: PgPool,
        projector: Arc<Projector>,
        person_services: Arc<dyn PersonServices>,
        read_your_writes_timeout: Duration,
    ) -> Self {
        let repository = || SealingRepository::new(pool.clone());
        Self {
            persons: CqrsFramework::new(
                PersistedEventStore::new_event_store(repository()),
                vec![],
                person_services,
            ),
            tokens: CqrsFramework::new(
                PersistedEventStore::new_event_store(repository()),
                vec![],
                (),
            ),
            pool,
            projector,
            read_your_writes_timeout,
        }
    }

    /// Runs one command against the person `id`.
    pub async fn person(
        &self,
        id: &str,
        command: PersonCommand,
        meta: &RequestMeta,
    ) -> Result<(), ApiError> {
        let span =
            info_span!("command", aggregate = "Person", command = command.name(), person = %id);
        let result = self
            .execute_person(id, command, meta)
            .instrument(span.clone())
            .await;
        if result.is_err() {
            self.release_unconfirmed_claims(id).await;
        }
        result?;
        self.wait_for_read_models(Person::TYPE, id)
            .instrument(span)
            .await
    }

    async fn execute_person(
        &self,
        id: &str,
        command: PersonCommand,
        meta: &RequestMeta,
    ) -> Result<(), AggregateError<PersonError>> {
        // A conflict means another command for the same person was appended
        // first; the command is decided again against the newer state.
        let mut attempt = 0;
        loop {
            let result = self
                .persons
                .execute_with_metadata(id, command.clone(), meta.to_metadata())
                .await;
            match result {
                Err(AggregateError::AggregateConflict) if attempt < CONFLICT_RETRIES => {
                    attempt += 1
                }
                other => return other,
            }
        }
    }

    /// Runs one command against the token `jti`.
    pub async fn token(
        &self,
        jti: &str,
        command: TokenCommand,
        meta: &RequestMeta,
    ) -> Result<(), ApiError> {
        let span =
            info_span!("command", aggregate = "Token", command = command.name(), token = %jti);
        let metadata = meta.to_metadata();
        self.tokens
            .execute_with_metadata(jti, command, metadata)
            .instrument(span.clone())
            .await?;
        self.wait_for_read_models(Token::TYPE, jti)
            .instrument(span)
            .await
    }

    async fn wait_for_read_models(&self, aggregate_type: &str, id: &str) -> Result<(), ApiError> {
        let mut db = self.pool.acquire().await?;
        let Some(position) = event_log::last_position_of(&mut db, aggregate_type, id).await? else {
            return Ok(());
        };
        drop(db);
        if !self
            .projector
            .wait_for(position, self.read_your_writes_timeout)
            .await
        {
            warn!(
                ?position,
                "read models did not catch up in time; answering anyway"
            );
        }
        Ok(())
    }

    async fn release_unconfirmed_claims(&self, person: &str) {
        let released =
            sqlx::query("DELETE FROM email_claims WHERE person_id = $1 AND NOT confirmed")
                .bind(person)
                .execute(&self.pool)
                .await;
        if let Err(e) = released {
            warn!(error = %e, "could not release address claims; they lapse by themselves");
        }
    }
}
