//! Account-level steps that span aggregates or run on the service's own
//! account: verification keys, deleting an account, and removing addresses
//! that were not verified in time.

use std::time::Duration;

use chrono::Utc;
use skalio_id_aggregates::organization::{DepartOnAccountDeletion, OrganizationCommand};
use skalio_id_aggregates::person::{
    DeleteAccount, PersonCommand, RemoveLapsedEmailAddress, VerificationKey,
};
use skalio_id_aggregates::token::BlacklistReason;
use skalio_id_projections::{deletion_notice, email_view, membership_view, pending_removals};
use tokio::sync::watch;
use tracing::{info, warn};

use crate::app::AppState;
use crate::avatars;
use crate::error::ApiError;
use crate::event_store::RequestMeta;
use crate::ids::new_verification_key;
use crate::rate_limit;
use crate::sessions;

/// How often unverified addresses past their time are looked for.
const SWEEP_EVERY: Duration = Duration::from_secs(60);

/// A fresh verification key with the configured lifetime.
pub fn verification_key(state: &AppState) -> VerificationKey {
    let ttl = chrono::Duration::seconds(state.settings().auth.verification_key_ttl_secs);
    VerificationKey {
        key: new_verification_key(),
        expires_at: Utc::now() + ttl,
    }
}

/// Deletes the account of `person`. The person first departs from their
/// organization, which refuses the last administrator of an organization
/// others still belong to. Then their tokens die, so that a crash midway
/// leaves a person who can log in and try again rather than a deleted one
/// with live tokens. The consumers of `PersonDeleted` then destroy the
/// person's key and erase the read models; this step only forgets the
/// rate-limit buckets named after the person's addresses.
pub async fn delete_account(
    state: &AppState,
    person: &str,
    meta: &RequestMeta,
) -> Result<(), ApiError> {
    let meta = meta.acting_as(person);
    if let Some(membership) = membership_view::of_person(state.pool(), person).await? {
        let command = OrganizationCommand::DepartOnAccountDeletion(DepartOnAccountDeletion {
            person: person.to_string(),
            at: Utc::now(),
        });
        let organization = &membership.organization_id;
        state
            .bus()
            .organization(organization, command, &meta)
            .await?;
    }
    let addresses = email_view::of_person(state.pool(), person).await?;
    let reason = BlacklistReason::AccountDeleted;
    sessions::blacklist_all(state, person, reason, &meta).await?;
    let command = PersonCommand::DeleteAccount(DeleteAccount { at: Utc::now() });
    state.bus().person(person, command, &meta).await?;
    let buckets: Vec<String> = addresses
        .iter()
        .flat_map(|e| rate_limit::address_buckets(&e.address))
        .collect();
    sqlx::query("DELETE FROM rate_limit_buckets WHERE bucket = ANY($1)")
        .bind(&buckets)
        .execute(state.pool())
        .await?;
    info!(person = %person, "account deleted");
    Ok(())
}

/// Removes unverified addresses whose time ran out, forgets idle
/// rate-limit buckets (their names hold addresses), avatar images no
/// avatar uses and deletion notices whose deletion never came, and
/// deletes the accounts of removed members whose removal was cut short,
/// every minute, until shutdown. Every instance may sweep; a removal that another instance made
/// first changes nothing.
pub fn spawn_lapsed_address_sweeper(state: AppState, mut shutdown: watch::Receiver<bool>) {
    tokio::spawn(async move {
        loop {
            tokio::select! {
                _ = tokio::time::sleep(SWEEP_EVERY) => {}
                _ = shutdown.changed() => return,
            }
            if let Err(e) = remove_lapsed_addresses(&state).await {
                warn!(error = ?e.status(), "removing lapsed addresses failed; retrying later");
            }
            if let Err(e) = rate_limit::forget_idle_buckets(state.pool()).await {
                warn!(error = %e, "pruning rate-limit buckets failed; retrying later");
            }
            if let Err(e) = avatars::forget_unused(state.pool()).await {
                warn!(error = %e, "pruning unused avatar images failed; retrying later");
            }
            if let Err(e) = finish_interrupted_removals(&state, REMOVAL_GRACE).await {
                warn!(error = ?e.status(), "finishing interrupted removals failed; retrying later");
            }
            if let Err(e) = deletion_notice::forget_stale(state.pool()).await {
                warn!(error = %e, "pruning stale deletion notices failed; retrying later");
            }
        }
    });
}

/// How long a removed member's account deletion may take before the sweep
/// takes it for interrupted; a removal normally finishes within
/// milliseconds.
const REMOVAL_GRACE: Duration = Duration::from_secs(60);

/// Deletes the accounts of members removed more than `grace` ago whose
/// deletion never followed (the removing process died in between).
/// Returns how many were finished.
pub async fn finish_interrupted_removals(
    state: &AppState,
    grace: Duration,
) -> Result<usize, ApiError> {
    let before = Utc::now() - grace;
    let overdue = pending_removals::overdue(state.pool(), before).await?;
    for person in &overdue {
        warn!(person = %person, "finishing the account deletion of an interrupted removal");
        delete_account(state, person, &RequestMeta::default()).await?;
    }
    Ok(overdue.len())
}

/// One sweep; returns how many addresses were looked at.
pub async fn remove_lapsed_addresses(state: &AppState) -> Result<usize, ApiError> {
    let lapsed = email_view::lapsed(state.pool()).await?;
    for (person, address) in &lapsed {
        let command = RemoveLapsedEmailAddress {
            address: address.clone(),
            at: Utc::now(),
        };
        let meta = RequestMeta::default().acting_as(person);
        let command = PersonCommand::RemoveLapsedEmailAddress(command);
        state.bus().person(person, command, &meta).await?;
    }
    Ok(lapsed.len())
}
