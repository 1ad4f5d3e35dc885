//! Signing up, logging in with a password, and confirming an address: the
//! ways a person comes to hold an ID token.

use chrono::Utc;
use skalio_id_aggregates::password::Password;
use skalio_id_aggregates::person::{
    AuthenticateWithPassword, ConfirmEmailAddress, PersonCommand, RegisterPerson,
};
use skalio_id_aggregates::token::IssuedFor;
use skalio_id_projections::email_view;

use super::{
    AUTH_LEVEL_UNVERIFIED, AUTH_LEVEL_VERIFIED, Grant, SignedToken, Signup, auth_level,
    issue_id_token,
};
use crate::accounts::verification_key;
use crate::app::AppState;
use crate::error::ApiError;
use crate::event_store::RequestMeta;
use crate::ids::new_uid;

/// Registers a person and issues their first, short-lived ID token.
pub async fn sign_up(
    state: &AppState,
    signup: Signup,
    meta: &RequestMeta,
) -> Result<SignedToken, ApiError> {
    let uid = new_uid();
    let now = Utc::now();
    let command = PersonCommand::Register(RegisterPerson {
        uid: uid.clone(),
        address: signup.address,
        password: signup.password,
        name: signup.name,
        locale: signup.locale,
        time_zone: signup.time_zone,
        verification: verification_key(state),
        at: now,
    });
    let meta = meta.acting_as(&uid);
    state.bus().person(&uid, command, &meta).await?;
    let grant = Grant::new(&uid, IssuedFor::Signup, AUTH_LEVEL_UNVERIFIED);
    issue_id_token(state, grant, &meta).await
}

/// Checks an address and password and issues an ID token. An unknown
/// address costs as long as a wrong password and is answered the same way.
pub async fn log_in(
    state: &AppState,
    address: &str,
    password: Password,
    meta: &RequestMeta,
) -> Result<SignedToken, ApiError> {
    let Some(email) = email_view::find(state.pool(), address).await? else {
        state
            .hasher()
            .verify_decoy(&password)
            .await
            .map_err(|e| ApiError::internal(&e))?;
        return Err(ApiError::unauthenticated("The credentials are not valid."));
    };
    let person = email.person_id;
    let meta = meta.acting_as(&person);
    let command = AuthenticateWithPassword { password };
    state
        .bus()
        .person(
            &person,
            PersonCommand::AuthenticateWithPassword(command),
            &meta,
        )
        .await?;
    let level = auth_level(state, &person).await?;
    let grant = Grant::new(&person, IssuedFor::PasswordLogin, level);
    issue_id_token(state, grant, &meta).await
}

/// Confirms an address with its mailed key. When it is the person's first
/// verified address, returns a new ID token with the higher `authLevel`.
pub async fn confirm_email(
    state: &AppState,
    person: &str,
    key: String,
    meta: &RequestMeta,
) -> Result<Option<SignedToken>, ApiError> {
    let was_verified = auth_level(state, person).await? == AUTH_LEVEL_VERIFIED;
    let meta = meta.acting_as(person);
    let command = ConfirmEmailAddress {
        key,
        at: Utc::now(),
    };
    state
        .bus()
        .person(person, PersonCommand::ConfirmEmailAddress(command), &meta)
        .await?;
    if was_verified {
        return Ok(None);
    }
    let grant = Grant::new(person, IssuedFor::AddressVerification, AUTH_LEVEL_VERIFIED);
    Ok(Some(issue_id_token(state, grant, &meta).await?))
}
