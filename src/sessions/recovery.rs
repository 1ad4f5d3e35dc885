//! Password recovery: a single-use key mailed to a verified address, and
//! the short-lived ID token (`setPassword: true`) it is redeemed for.

use chrono::{Duration, Utc};
use skalio_id_aggregates::person::{
    PersonCommand, PersonError, RedeemPasswordResetKey, RequestPasswordReset, VerificationKey,
};
use skalio_id_aggregates::token::IssuedFor;
use skalio_id_projections::{email_view, password_reset_view};

use super::{Grant, SignedToken, auth_level, issue_id_token};
use crate::app::AppState;
use crate::error::ApiError;
use crate::event_store::RequestMeta;
use crate::ids::new_reset_key;

/// Mails a reset key to `address` if it is a verified address of a person
/// with a password. Every refusal reads the same: an unknown address is
/// answered like an unverified one.
pub async fn request_password_reset(
    state: &AppState,
    address: &str,
    meta: &RequestMeta,
) -> Result<(), ApiError> {
    let refused = || ApiError::from(PersonError::PasswordResetNotAllowed);
    let email = email_view::find(state.pool(), address)
        .await?
        .ok_or_else(refused)?;
    let now = Utc::now();
    let ttl = Duration::seconds(state.settings().auth.password_reset_key_ttl_secs);
    let command = PersonCommand::RequestPasswordReset(RequestPasswordReset {
        address: address.to_string(),
        key: VerificationKey {
            key: new_reset_key(),
            expires_at: now + ttl,
        },
        at: now,
    });
    let person = &email.person_id;
    state
        .bus()
        .person(person, command, &meta.acting_as(person))
        .await
}

/// Redeems a reset key, once, for a short-lived ID token that may set a new
/// password without the current one.
pub async fn reset_password(
    state: &AppState,
    key: &str,
    meta: &RequestMeta,
) -> Result<SignedToken, ApiError> {
    let person = password_reset_view::person_for_key(state.pool(), key)
        .await?
        .ok_or_else(|| ApiError::not_found("The key is not known or has expired."))?;
    let meta = meta.acting_as(&person);
    let command = PersonCommand::RedeemPasswordResetKey(RedeemPasswordResetKey {
        key: key.to_string(),
        at: Utc::now(),
    });
    state.bus().person(&person, command, &meta).await?;

    let level = auth_level(state, &person).await?;
    let ttl = Duration::seconds(state.settings().auth.password_reset_token_ttl_secs);
    let grant = Grant::new(&person, IssuedFor::PasswordReset, level)
        .expiring_at(Utc::now() + ttl)
        .allowing_password_change();
    issue_id_token(state, grant, &meta).await
}
