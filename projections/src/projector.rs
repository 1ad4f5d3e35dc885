//! The projector: every consumer of events reads the store in its global
//! order and records how far it got in the same transaction as its own
//! writes, so it never skips an event, never applies one twice, and resumes
//! by itself after a restart. Commands wait here until the read models have
//! caught up with their events (read your writes).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::postgres::PgListener;
use sqlx::{PgConnection, PgPool};
use tokio::sync::{Notify, watch};
use tokio::task::JoinHandle;
use tracing::{Instrument, error, info, info_span, warn};

use crate::event_log::{self, EventLogError, StoredEvent};
use crate::position::Position;

/// Events one projection applies per transaction.
const BATCH_SIZE: i64 = 500;
/// How often a projection looks for events when no notification came.
const IDLE_POLL: Duration = Duration::from_secs(1);
/// How soon a projection looks again while a command waits for it and the
/// awaited events are not yet readable (an older transaction still runs).
const DEMAND_POLL: Duration = Duration::from_millis(5);
const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// A failure inside a projection.
pub type ProjectionError = Box<dyn std::error::Error + Send + Sync>;

/// One consumer of the event stream.
#[async_trait]
pub trait Projection: Send + Sync + 'static {
    /// Versioned name; also the key of its checkpoint.
    fn name(&self) -> &'static str;

    /// Read models are awaited by commands and can be rebuilt; consumers with
    /// effects outside the database (mail) are neither.
    fn is_read_model(&self) -> bool {
        true
    }

    /// Applies one event inside the projection's transaction.
    async fn apply(
        &self,
        db: &mut PgConnection,
        event: &StoredEvent,
    ) -> Result<(), ProjectionError>;

    /// Empties the projection's tables before a rebuild.
    async fn reset(&self, db: &mut PgConnection) -> Result<(), ProjectionError>;
}

/// Why a batch or a rebuild failed.
#[derive(Debug, thiserror::Error)]
pub enum ProjectorError {
    #[error("database failed")]
    Database(#[from] sqlx::Error),
    #[error("reading the event log failed")]
    EventLog(#[from] EventLogError),
    #[error("projection {projection} failed on {event}")]
    Apply {
        projection: &'static str,
        event: String,
        source: ProjectionError,
    },
    #[error("projection {0} failed to reset")]
    Reset(&'static str, #[source] ProjectionError),
    #[error("no projection is named {0}")]
    Unknown(String),
    #[error("projection {0} has effects outside the database and is not rebuilt")]
    NotRebuildable(String),
}

struct Runner {
    projection: Arc<dyn Projection>,
    progress: watch::Sender<Position>,
}

/// Runs every projection and tells commands when they have caught up.
pub struct Projector {
    pool: PgPool,
    runners: Vec<Runner>,
    wake: Notify,
    demand: watch::Sender<Position>,
}

impl Projector {
    /// A projector for `projections` over the store behind `pool`.
    pub fn new(pool: PgPool, projections: Vec<Arc<dyn Projection>>) -> Arc<Self> {
        let runners = projections
            .into_iter()
            .map(|projection| Runner {
                projection,
                progress: watch::channel(Position::START).0,
            })
            .collect();
        Arc::new(Self {
            pool,
            runners,
            wake: Notify::new(),
            demand: watch::channel(Position::START).0,
        })
    }

    /// The names of the read models (the projections that can be rebuilt).
    pub fn read_model_names(&self) -> Vec<&'static str> {
        let read_models = self.runners.iter().filter(|r| r.projection.is_read_model());
        read_models.map(|r| r.projection.name()).collect()
    }

    /// Starts one task per projection and one listening for appends.
    pub fn spawn(self: &Arc<Self>, shutdown: watch::Receiver<bool>) -> Vec<JoinHandle<()>> {
        let mut tasks = vec![tokio::spawn(Arc::clone(self).listen(shutdown.clone()))];
        for index in 0..self.runners.len() {
            let name = self.runners[index].projection.name();
            let span = info_span!("projection", projection = name);
            let run = Arc::clone(self).run(index, shutdown.clone());
            tasks.push(tokio::spawn(run.instrument(span)));
        }
        tasks
    }

    /// Wakes the projections after this process appended events.
    pub fn nudge(&self) {
        self.wake.notify_waiters();
    }

    /// Waits until every read model has applied the event at `target`.
    /// Returns false if `timeout` passed first.
    pub async fn wait_for(&self, target: Position, timeout: Duration) -> bool {
        self.demand.send_if_modified(|demand| {
            let raise = *demand < target;
            if raise {
                *demand = target;
            }
            raise
        });
        self.nudge();
        let all = async {
            for runner in self.runners.iter().filter(|r| r.projection.is_read_model()) {
                let mut progress = runner.progress.subscribe();
                if progress
                    .wait_for(|reached| *reached >= target)
                    .await
                    .is_err()
                {
                    return false;
                }
            }
            true
        };
        tokio::time::timeout(timeout, all).await.unwrap_or(false)
    }

    /// Whether every read model has applied everything in the store.
    pub async fn is_caught_up(&self) -> Result<bool, sqlx::Error> {
        let mut db = self.pool.acquire().await?;
        let head = event_log::head(&mut db).await?;
        let checkpoints = load_all_checkpoints(&mut db).await?;
        Ok(self
            .runners
            .iter()
            .filter(|r| r.projection.is_read_model())
            .all(|r| {
                let reached = checkpoints.get(r.projection.name()).copied();
                reached.unwrap_or(Position::START) >= head
            }))
    }

    async fn listen(self: Arc<Self>, mut shutdown: watch::Receiver<bool>) {
        loop {
            match PgListener::connect_with(&self.pool).await {
                Ok(mut listener) => {
                    if let Err(e) = listener.listen("events_appended").await {
                        warn!(error = %e, "cannot listen for appended events");
                    } else {
                        self.forward_notifications(&mut listener, &mut shutdown)
                            .await;
                    }
                }
                Err(e) => warn!(error = %e, "cannot connect the event listener"),
            }
            if *shutdown.borrow() {
                return;
            }
            // Whatever was appended while disconnected is found by the poll.
            tokio::time::sleep(IDLE_POLL).await;
        }
    }

    async fn forward_notifications(
        &self,
        listener: &mut PgListener,
        shutdown: &mut watch::Receiver<bool>,
    ) {
        loop {
            tokio::select! {
                received = listener.try_recv() => match received {
                    Ok(Some(_)) => self.nudge(),
                    // The connection dropped and was re-established by sqlx;
                    // nudge in case a notification was lost meanwhile.
                    Ok(None) => self.nudge(),
                    Err(e) => {
                        warn!(error = %e, "event listener failed");
                        return;
                    }
                },
                _ = shutdown.changed() => return,
            }
        }
    }

    async fn run(self: Arc<Self>, index: usize, mut shutdown: watch::Receiver<bool>) {
        let runner = &self.runners[index];
        let mut backoff = Duration::from_millis(100);
        info!("projection started");
        while !*shutdown.borrow() {
            let woken = self.wake.notified();
            match self.catch_up_batch(runner).await {
                Ok(applied) if applied as i64 == BATCH_SIZE => continue,
                Ok(_) => {
                    backoff = Duration::from_millis(100);
                    let pause = self.pause_after_idle_batch(runner);
                    tokio::select! {
                        _ = woken => {}
                        _ = tokio::time::sleep(pause) => {}
                        _ = shutdown.changed() => {}
                    }
                }
                Err(e) => {
                    error!(error = %error_chain(&e), "projection batch failed; retrying");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                }
            }
        }
        info!("projection stopped");
    }

    fn pause_after_idle_batch(&self, runner: &Runner) -> Duration {
        let awaited =
            runner.projection.is_read_model() && *self.demand.borrow() > *runner.progress.borrow();
        if awaited { DEMAND_POLL } else { IDLE_POLL }
    }

    /// Applies the next batch of events in one transaction with the
    /// checkpoint. The advisory lock lets one instance at a time run a given
    /// projection; the others wait and then find the checkpoint moved on.
    async fn catch_up_batch(&self, runner: &Runner) -> Result<usize, ProjectorError> {
        let projection = &runner.projection;
        let mut tx = self.pool.begin().await?;
        lock_projection(&mut tx, projection.name()).await?;
        let checkpoint = load_checkpoint(&mut tx, projection.name()).await?;
        let events = event_log::read_after(&mut tx, checkpoint, BATCH_SIZE).await?;
        let reached = apply_all(projection.as_ref(), &mut tx, &events)
            .await?
            .unwrap_or(checkpoint);
        if reached > checkpoint {
            save_checkpoint(&mut tx, projection.name(), reached).await?;
        }
        tx.commit().await?;
        runner.progress.send_if_modified(|p| {
            let moved = *p != reached;
            *p = reached;
            moved
        });
        Ok(events.len())
    }

    /// Rebuilds one read model from the whole store in a single transaction,
    /// so readers see the old model until the new one is complete.
    /// `on_progress` is told how many events were applied of how many.
    pub async fn rebuild(
        &self,
        name: &str,
        on_progress: &(dyn Fn(u64, u64) + Sync),
    ) -> Result<u64, ProjectorError> {
        let runner = self.runner(name)?;
        let projection = runner.projection.as_ref();
        if !projection.is_read_model() {
            return Err(ProjectorError::NotRebuildable(name.to_string()));
        }
        let mut tx = self.pool.begin().await?;
        lock_projection(&mut tx, projection.name()).await?;
        let total: i64 = sqlx::query_scalar("SELECT count(*) FROM events")
            .fetch_one(&mut *tx)
            .await?;
        projection
            .reset(&mut tx)
            .await
            .map_err(|e| ProjectorError::Reset(projection.name(), e))?;
        let (mut position, mut applied) = (Position::START, 0u64);
        loop {
            let events = event_log::read_after(&mut tx, position, BATCH_SIZE).await?;
            let Some(reached) = apply_all(projection, &mut tx, &events).await? else {
                break;
            };
            position = reached;
            applied += events.len() as u64;
            on_progress(applied, total as u64);
        }
        save_checkpoint(&mut tx, projection.name(), position).await?;
        tx.commit().await?;
        runner.progress.send_replace(position);
        Ok(applied)
    }

    fn runner(&self, name: &str) -> Result<&Runner, ProjectorError> {
        self.runners
            .iter()
            .find(|r| r.projection.name() == name)
            .ok_or_else(|| ProjectorError::Unknown(name.to_string()))
    }
}

async fn apply_all(
    projection: &dyn Projection,
    db: &mut PgConnection,
    events: &[StoredEvent],
) -> Result<Option<Position>, ProjectorError> {
    for event in events {
        projection
            .apply(db, event)
            .await
            .map_err(|source| ProjectorError::Apply {
                projection: projection.name(),
                event: event.describe(),
                source,
            })?;
    }
    Ok(events.last().map(|e| e.position))
}

async fn lock_projection(db: &mut PgConnection, name: &str) -> Result<(), sqlx::Error> {
    sqlx::query("SELECT pg_advisory_xact_lock(hashtext('projection:' || $1))")
        .bind(name)
        .execute(db)
        .await?;
    Ok(())
}

async fn load_checkpoint(db: &mut PgConnection, name: &str) -> Result<Position, sqlx::Error> {
    let row: Option<(i64, i64)> = sqlx::query_as(
        "SELECT transaction_id, global_sequence FROM projection_checkpoints WHERE projection = $1",
    )
    .bind(name)
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

async fn load_all_checkpoints(
    db: &mut PgConnection,
) -> Result<HashMap<String, Position>, sqlx::Error> {
    let rows: Vec<(String, i64, i64)> = sqlx::query_as(
        "SELECT projection, transaction_id, global_sequence FROM projection_checkpoints",
    )
    .fetch_all(db)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(name, transaction_id, global_sequence)| {
            (
                name,
                Position {
                    transaction_id,
                    global_sequence,
                },
            )
        })
        .collect())
}

async fn save_checkpoint(
    db: &mut PgConnection,
    name: &str,
    at: Position,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO projection_checkpoints (projection, transaction_id, global_sequence, updated_at)
         VALUES ($1, $2, $3, now())
         ON CONFLICT (projection) DO UPDATE
            SET transaction_id = $2, global_sequence = $3, updated_at = now()",
    )
    .bind(name)
    .bind(at.transaction_id)
    .bind(at.global_sequence)
    .execute(db)
    .await?;
    Ok(())
}

/// An error with its causes, for logs.
pub fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
