//! The command bus: runs one command against one aggregate, records who
//! asked from where, retries lost races, and returns once the read models
//! show the command's events.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use cqrs_es::persist::PersistedEventStore;
use cqrs_es::{Aggregate, AggregateError, CqrsFramework};
use skalio_id_aggregates::organization::{Organization, OrganizationCommand, OrganizationServices};
use skalio_id_aggregates::person::{Person, PersonCommand, PersonServices};
use skalio_id_aggregates::token::{Token, TokenCommand};
use skalio_id_projections::event_log;
use skalio_id_projections::projector::Projector;
use sqlx::PgPool;
use tracing::{Instrument, info_span, warn};

use super::sealing_repository::{ACTOR, SealingRepository};
use crate::claims::{EMAIL_ADDRESSES, HOSTNAMES, MEMBERSHIPS, Registry};
use crate::error::ApiError;

/// How often a command is retried when another wrote the aggregate first;
/// enough for a burst of concurrent requests by one person.
const CONFLICT_RETRIES: u32 = 16;

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
    pub actor: Option<String>,
}

impl RequestMeta {
    /// The same request, acting as `person`.
    pub fn acting_as(&self, person: &str) -> Self {
        Self {
            actor: Some(person.to_string()),
            ..self.clone()
        }
    }

    fn to_metadata(&self) -> HashMap<String, String> {
        let fields = [
            ("request_id", &self.request_id),
            ("client_address", &self.client_address),
            ("user_agent", &self.user_agent),
            (ACTOR, &self.actor),
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
    organizations: Framework<Organization>,
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
        organization_services: Arc<dyn OrganizationServices>,
        read_your_writes_timeout: Duration,
    ) -> Self {
        let repository = || SealingRepository::new(pool.clone());
        Self {
            persons: CqrsFramework::new(
                PersistedEventStore::new_event_store(repository()),
                vec![],
                person_services,
            ),
            organizations: CqrsFramework::new(
                PersistedEventStore::new_event_store(repository()),
                vec![],
                organization_services,
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
        let claimed = command.claimed_address();
        let result = execute(&self.persons, id, command, meta)
            .instrument(span.clone())
            .await;
        if let (Err(_), Some(address)) = (&result, claimed) {
            self.release(&EMAIL_ADDRESSES, &address, id).await;
        }
        result?;
        self.wait_for_read_models(Person::TYPE, id)
            .instrument(span)
            .await
    }

    /// Runs one command against the organization `id`.
    pub async fn organization(
        &self,
        id: &str,
        command: OrganizationCommand,
        meta: &RequestMeta,
    ) -> Result<(), ApiError> {
        let span = info_span!("command", aggregate = "Organization", command = command.name(), organization = %id);
        let hostname = command.claimed_hostname();
        let member = command.claimed_member().map(str::to_string);
        let result = execute(&self.organizations, id, command, meta)
            .instrument(span.clone())
            .await;
        if result.is_err() {
            if let Some(hostname) = &hostname {
                self.release(&HOSTNAMES, hostname, id).await;
            }
            if let Some(member) = &member {
                self.release(&MEMBERSHIPS, member, id).await;
            }
        }
        result?;
        self.wait_for_read_models(Organization::TYPE, id)
            .instrument(span)
            .await
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

    /// Frees the claim a failed command of `owner` made on `key`; a claim
    /// that cannot be freed now lapses by itself.
    async fn release(&self, registry: &Registry, key: &str, owner: &str) {
        if let Err(e) = registry.release_unconfirmed(&self.pool, key, owner).await {
            warn!(error = %e, "could not release a claim; it lapses by itself");
        }
    }
}

/// Runs `command`; a conflict means another command for the same aggregate
/// was appended first, and the command is decided again against the newer
/// state.
async fn execute<A>(
    framework: &Framework<A>,
    id: &str,
    command: A::Command,
    meta: &RequestMeta,
) -> Result<(), AggregateError<A::Error>>
where
    A: Aggregate,
    A::Command: Clone,
{
    let mut attempt = 0;
    loop {
        let result = framework
            .execute_with_metadata(id, command.clone(), meta.to_metadata())
            .await;
        match result {
            Err(AggregateError::AggregateConflict) if attempt < CONFLICT_RETRIES => {
                attempt += 1;
                // Jitter keeps the losers of one race from meeting again.
                let pause = rand::random_range(1..=5 * u64::from(attempt));
                tokio::time::sleep(Duration::from_millis(pause)).await;
            }
            other => return other,
        }
    }
}
