//! An ID token's life after issue: listing, upgrading, parking and picking
//! up, and logging out. Every token that dies is blacklisted through its
//! aggregate, and at once in this instance; the others learn of it from the
//! event stream.

use chrono::{DateTime, Duration, Utc};
use skalio_id_aggregates::token::{
    BlacklistReason, BlacklistToken, IssuedFor, ParkToken, PickUpParkedToken, TokenCommand,
};
use skalio_id_projections::token_view::{self, TokenRow};

use super::{Grant, SignedToken, auth_level, base_claims, issue_id_token, sign};
use crate::app::AppState;
use crate::error::ApiError;
use crate::event_store::RequestMeta;
use crate::ids::new_uid;
use crate::tokens::{Claims, Scope};

/// The person's ID tokens that are neither expired nor blacklisted.
pub async fn list_tokens(state: &AppState, person: &str) -> Result<Vec<TokenRow>, ApiError> {
    Ok(token_view::active_of(state.pool(), person).await?)
}

/// Replaces `id_token` by a new one with recomputed claims and blacklists
/// it. The expiry carries over unless the `authLevel` changed.
pub async fn upgrade(
    state: &AppState,
    id_token: &Claims,
    meta: &RequestMeta,
) -> Result<SignedToken, ApiError> {
    let meta = meta.acting_as(&id_token.sub);
    let level = auth_level(state, &id_token.sub).await?;
    let mut grant = Grant::new(&id_token.sub, IssuedFor::Upgrade, level);
    if level == id_token.auth_level {
        grant = grant.expiring_at(expiry_of(id_token)?);
    }
    let upgraded = issue_id_token(state, grant, &meta).await?;
    blacklist(
        state,
        &id_token.jti,
        id_token.exp,
        BlacklistReason::Upgrade,
        &meta,
    )
    .await?;
    Ok(upgraded)
}

/// Exchanges `id_token` for a short-lived, single-use pickup token (scope
/// `park`, `sid` = the parked token) and blacklists it.
pub async fn park(
    state: &AppState,
    id_token: &Claims,
    meta: &RequestMeta,
) -> Result<SignedToken, ApiError> {
    let (pickup_jti, now) = (new_uid(), Utc::now());
    let ttl = Duration::seconds(state.settings().auth.pickup_token_ttl_secs);
    let pickup_expires_at = (now + ttl).min(expiry_of(id_token)?);
    let command = TokenCommand::Park(ParkToken {
        pickup_jti: pickup_jti.clone(),
        pickup_expires_at,
        at: now,
    });
    state
        .bus()
        .token(&id_token.jti, command, &meta.acting_as(&id_token.sub))
        .await?;
    state.blacklist().insert(&id_token.jti, id_token.exp);

    let times = (now.timestamp(), pickup_expires_at.timestamp());
    let claims = Claims {
        sid: Some(id_token.jti.clone()),
        scope: Scope::Park,
        ..base_claims(state, &id_token.sub, pickup_jti, times, id_token.auth_level)
    };
    sign(state, claims)
}

/// Redeems a pickup token, once, for a new ID token with the parked token's
/// expiry and level.
pub async fn pick_up(
    state: &AppState,
    pickup: &Claims,
    meta: &RequestMeta,
) -> Result<SignedToken, ApiError> {
    let parked = pickup
        .sid
        .as_deref()
        .ok_or_else(|| ApiError::unauthenticated("The pickup token names no parked token."))?;
    let meta = meta.acting_as(&pickup.sub);
    let command = TokenCommand::PickUp(PickUpParkedToken {
        pickup_jti: pickup.jti.clone(),
        at: Utc::now(),
    });
    state.bus().token(parked, command, &meta).await?;
    state.blacklist().insert(&pickup.jti, pickup.exp);

    let original = token_view::find(state.pool(), parked)
        .await?
        .ok_or_else(|| ApiError::not_found("No parked token matches the pickup token."))?;
    let level = u8::try_from(original.auth_level).unwrap_or_default();
    let grant = Grant::new(&pickup.sub, IssuedFor::Pickup, level).expiring_at(original.expires_at);
    issue_id_token(state, grant, &meta).await
}

/// Which tokens a logout ends.
pub enum Logout {
    /// The token that authenticates the request.
    This,
    /// Every token of the person, including this one.
    All,
    /// One named token of the person.
    Token(String),
}

/// Blacklists the tokens `which` names. A token of someone else is
/// forbidden, and so is an unknown one: the answer does not tell them apart.
pub async fn log_out(
    state: &AppState,
    id_token: &Claims,
    which: Logout,
    meta: &RequestMeta,
) -> Result<(), ApiError> {
    let meta = meta.acting_as(&id_token.sub);
    let targets = match which {
        Logout::This => vec![(id_token.jti.clone(), id_token.exp)],
        Logout::All => everyone_of(state, id_token).await?,
        Logout::Token(jti) => vec![owned_token(state, id_token, &jti).await?],
    };
    for (jti, exp) in targets {
        blacklist(state, &jti, exp, BlacklistReason::Logout, &meta).await?;
    }
    Ok(())
}

async fn everyone_of(state: &AppState, id_token: &Claims) -> Result<Vec<(String, i64)>, ApiError> {
    let active = token_view::active_of(state.pool(), &id_token.sub).await?;
    let mut targets: Vec<(String, i64)> = active
        .into_iter()
        .map(|t| (t.jti, t.expires_at.timestamp()))
        .collect();
    if !targets.iter().any(|(jti, _)| *jti == id_token.jti) {
        targets.push((id_token.jti.clone(), id_token.exp));
    }
    Ok(targets)
}

async fn owned_token(
    state: &AppState,
    id_token: &Claims,
    jti: &str,
) -> Result<(String, i64), ApiError> {
    match token_view::find(state.pool(), jti).await? {
        Some(token) if token.person_id == id_token.sub => {
            Ok((token.jti, token.expires_at.timestamp()))
        }
        _ => Err(ApiError::forbidden(
            "The requested token belongs to someone else.",
        )),
    }
}

/// Ends the token `jti` (expiring at `expires_at`, Unix seconds) through
/// its aggregate, and in this instance's blacklist at once.
pub async fn blacklist(
    state: &AppState,
    jti: &str,
    expires_at: i64,
    reason: BlacklistReason,
    meta: &RequestMeta,
) -> Result<(), ApiError> {
    let command = TokenCommand::Blacklist(BlacklistToken {
        reason,
        at: Utc::now(),
    });
    state.bus().token(jti, command, meta).await?;
    state.blacklist().insert(jti, expires_at);
    Ok(())
}

fn expiry_of(id_token: &Claims) -> Result<DateTime<Utc>, ApiError> {
    DateTime::from_timestamp(id_token.exp, 0)
        .ok_or_else(|| ApiError::unauthenticated("The token's expiry is not a valid time."))
}

/// Ends every live ID token of `person` for `reason`.
pub async fn blacklist_all(
    state: &AppState,
    person: &str,
    reason: BlacklistReason,
    meta: &RequestMeta,
) -> Result<(), ApiError> {
    for token in token_view::active_of(state.pool(), person).await? {
        let expires_at = token.expires_at.timestamp();
        blacklist(state, &token.jti, expires_at, reason, meta).await?;
    }
    Ok(())
}

/// After a change of the caller's own membership or roles: every token they
/// hold dies with the old privileges, and they get a new ID token with the
/// level and expiry of the one their access token came from. The old ones
/// die first, so that a failure midway never leaves stale privileges alive.
pub async fn reissue_after_privileges_changed(
    state: &AppState,
    access: &Claims,
    meta: &RequestMeta,
) -> Result<SignedToken, ApiError> {
    let person = access.sub.as_str();
    let meta = meta.acting_as(person);
    let parent = match access.sid.as_deref() {
        Some(sid) => token_view::find(state.pool(), sid).await?,
        None => None,
    };
    let parent = parent.ok_or_else(|| ApiError::unauthenticated("The token's session is gone."))?;
    blacklist_all(state, person, BlacklistReason::MembershipChanged, &meta).await?;
    let level = u8::try_from(parent.auth_level).unwrap_or_default();
    let grant =
        Grant::new(person, IssuedFor::MembershipChange, level).expiring_at(parent.expires_at);
    issue_id_token(state, grant, &meta).await
}
