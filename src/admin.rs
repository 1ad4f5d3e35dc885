//! What operators do to a person from the command line: grant roles over
//! the whole service, and disable or enable an account. Each is a Person
//! command; the person's tokens die with the old privileges or state.

use chrono::Utc;
use skalio_id_aggregates::person::{DisableAccount, EnableAccount, PersonCommand, SetClusterRoles};
use skalio_id_aggregates::token::BlacklistReason;
use skalio_id_projections::{email_view, profile_view};

use crate::app::AppState;
use crate::error::ApiError;
use crate::event_store::RequestMeta;
use crate::sessions;

/// An operator's change to a person.
pub enum AdminChange {
    /// Replaces the person's roles over the service.
    ClusterRoles(Vec<String>),
    Disable,
    Enable,
}

/// The uid of the person `key` names: a uid or any of their addresses.
pub async fn find_person(state: &AppState, key: &str) -> Result<String, ApiError> {
    if key.contains('@') {
        if let Some(email) = email_view::find(state.pool(), key).await? {
            return Ok(email.person_id);
        }
    } else if profile_view::find(state.pool(), key).await?.is_some() {
        return Ok(key.to_string());
    }
    Err(ApiError::not_found(format!("No person matches '{key}'.")))
}

/// Applies `change` to `person`, then ends their tokens.
pub async fn apply(state: &AppState, person: &str, change: AdminChange) -> Result<(), ApiError> {
    let at = Utc::now();
    let (command, reason) = match change {
        AdminChange::ClusterRoles(roles) => (
            PersonCommand::SetClusterRoles(SetClusterRoles { roles, at }),
            BlacklistReason::MembershipChanged,
        ),
        AdminChange::Disable => (
            PersonCommand::Disable(DisableAccount { at }),
            BlacklistReason::AccountDisabled,
        ),
        AdminChange::Enable => {
            let command = PersonCommand::Enable(EnableAccount { at });
            let meta = RequestMeta::default().acting_as(person);
            return state.bus().person(person, command, &meta).await;
        }
    };
    let meta = RequestMeta::default().acting_as(person);
    state.bus().person(person, command, &meta).await?;
    sessions::blacklist_all(state, person, reason, &meta).await
}
