//! Reading the event store in its global order, with sealed personal data
//! opened (or marked erased) on the way out.

use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;
use serde_json::Value;
use skalio_id_aggregates::organization::{Organization, OrganizationEvent};
use skalio_id_aggregates::person::{Person, PersonEvent};
use skalio_id_aggregates::sealed::{self, SealError};
use skalio_id_aggregates::token::{Token, TokenEvent};
use sqlx::{FromRow, PgConnection};

use crate::position::Position;
use crate::vault::{self, VaultError};

/// One event as consumers see it.
#[derive(Debug, Clone)]
pub struct StoredEvent {
    pub position: Position,
    pub aggregate_type: String,
    pub aggregate_id: String,
    pub sequence: i64,
    pub event_type: String,
    pub event_version: String,
    pub payload: Value,
    pub metadata: Value,
    pub recorded_at: DateTime<Utc>,
}

/// Why the log could not be read.
#[derive(Debug, thiserror::Error)]
pub enum EventLogError {
    #[error("event store query failed")]
    Database(#[from] sqlx::Error),
    #[error("key vault failed")]
    Vault(#[from] VaultError),
    #[error("sealed data in event {0} cannot be opened")]
    Seal(String, #[source] SealError),
    #[error("event {0} does not decode")]
    Decode(String, #[source] serde_json::Error),
}

impl StoredEvent {
    /// The payload as the aggregate's event type.
    pub fn decode<E: DeserializeOwned>(&self) -> Result<E, EventLogError> {
        serde_json::from_value(self.payload.clone())
            .map_err(|e| EventLogError::Decode(self.describe(), e))
    }

    /// The payload as a Person event, or `None` for another aggregate's event.
    pub fn person_event(&self) -> Result<Option<PersonEvent>, EventLogError> {
        if self.aggregate_type != <Person as cqrs_es::Aggregate>::TYPE {
            return Ok(None);
        }
        self.decode().map(Some)
    }

    /// The payload as an Organization event, or `None` for another
    /// aggregate's event.
    pub fn organization_event(&self) -> Result<Option<OrganizationEvent>, EventLogError> {
        if self.aggregate_type != <Organization as cqrs_es::Aggregate>::TYPE {
            return Ok(None);
        }
        self.decode().map(Some)
    }

    /// The payload as a Token event, or `None` for another aggregate's event.
    pub fn token_event(&self) -> Result<Option<TokenEvent>, EventLogError> {
        if self.aggregate_type != <Token as cqrs_es::Aggregate>::TYPE {
            return Ok(None);
        }
        self.decode().map(Some)
    }

    /// Names the event in errors and logs, without its contents.
    pub fn describe(&self) -> String {
        format!(
            "{}/{}#{} {}",
            self.aggregate_type, self.aggregate_id, self.sequence, self.event_type
        )
    }
}

#[derive(FromRow)]
struct EventRow {
    transaction_id: i64,
    global_sequence: i64,
    aggregate_type: String,
    aggregate_id: String,
    sequence: i64,
    event_type: String,
    event_version: String,
    payload: Value,
    metadata: Value,
    recorded_at: DateTime<Utc>,
}

const SELECT_COLUMNS: &str = "transaction_id::text::bigint AS transaction_id, global_sequence, \
     aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata, \
     recorded_at";

/// Up to `limit` events after `after`, only from transactions that committed
/// before every transaction still running began, so a later read never finds
/// an event that belongs before one already returned.
pub async fn read_after(
    db: &mut PgConnection,
    after: Position,
    limit: i64,
) -> Result<Vec<StoredEvent>, EventLogError> {
    let sql = format!(
        "SELECT {SELECT_COLUMNS} FROM events
          WHERE (transaction_id, global_sequence) > ($1::text::xid8, $2)
            AND transaction_id < pg_snapshot_xmin(pg_current_snapshot())
          ORDER BY transaction_id, global_sequence
          LIMIT $3"
    );
    let rows: Vec<EventRow> = sqlx::query_as(&sql)
        .bind(after.transaction_id.to_string())
        .bind(after.global_sequence)
        .bind(limit)
        .fetch_all(&mut *db)
        .await?;
    open_rows(db, rows).await
}

/// Every event of one aggregate type, in global order.
pub async fn read_type(
    db: &mut PgConnection,
    aggregate_type: &str,
) -> Result<Vec<StoredEvent>, EventLogError> {
    let sql = format!(
        "SELECT {SELECT_COLUMNS} FROM events WHERE aggregate_type = $1
          ORDER BY transaction_id, global_sequence"
    );
    let rows: Vec<EventRow> = sqlx::query_as(&sql)
        .bind(aggregate_type)
        .fetch_all(&mut *db)
        .await?;
    open_rows(db, rows).await
}

/// The position of the newest event of one aggregate, if it has any.
pub async fn last_position_of(
    db: &mut PgConnection,
    aggregate_type: &str,
    aggregate_id: &str,
) -> Result<Option<Position>, sqlx::Error> {
    let row: Option<(i64, i64)> = sqlx::query_as(
        "SELECT transaction_id::text::bigint, global_sequence FROM events
          WHERE aggregate_type = $1 AND aggregate_id = $2
          ORDER BY sequence DESC LIMIT 1",
    )
    .bind(aggregate_type)
    .bind(aggregate_id)
    .fetch_optional(db)
    .await?;
    Ok(row.map(|(transaction_id, global_sequence)| Position {
        transaction_id,
        global_sequence,
    }))
}

/// The position of the newest event in the store.
pub async fn head(db: &mut PgConnection) -> Result<Position, sqlx::Error> {
    let row: Option<(i64, i64)> = sqlx::query_as(
        "SELECT transaction_id::text::bigint, global_sequence FROM events
          ORDER BY transaction_id DESC, global_sequence DESC LIMIT 1",
    )
    .fetch_optional(db)
    .await?;
    Ok(
        row.map_or(Position::START, |(transaction_id, global_sequence)| {
            Position {
                transaction_id,
                global_sequence,
            }
        }),
    )
}

async fn open_rows(
    db: &mut PgConnection,
    rows: Vec<EventRow>,
) -> Result<Vec<StoredEvent>, EventLogError> {
    let owners = sealed::owners_in_all(rows.iter().flat_map(|r| [&r.payload, &r.metadata]));
    let keys = vault::keys_for(&mut *db, &owners).await?;
    rows.into_iter().map(|row| open_row(row, &keys)).collect()
}

fn open_row(row: EventRow, keys: &sealed::KeyRing) -> Result<StoredEvent, EventLogError> {
    let mut event = StoredEvent {
        position: Position {
            transaction_id: row.transaction_id,
            global_sequence: row.global_sequence,
        },
        aggregate_type: row.aggregate_type,
        aggregate_id: row.aggregate_id,
        sequence: row.sequence,
        event_type: row.event_type,
        event_version: row.event_version,
        payload: row.payload,
        metadata: row.metadata,
        recorded_at: row.recorded_at,
    };
    let describe = event.describe();
    sealed::open_json(&mut event.payload, keys)
        .map_err(|e| EventLogError::Seal(describe.clone(), e))?;
    sealed::open_metadata(&mut event.metadata, keys)
        .map_err(|e| EventLogError::Seal(describe, e))?;
    Ok(event)
}
