//! Sessions: signing up, logging in and every step of an ID token's life
//! that spans more than one aggregate (a person command, then a token
//! command) live here, so that handlers stay one call long. This module
//! issues and signs the tokens themselves.

mod credentials;
mod lifecycle;
mod recovery;

pub use credentials::{confirm_email, log_in, sign_up};
pub use lifecycle::{
    Logout, blacklist, blacklist_all, list_tokens, log_out, park, pick_up,
    reissue_after_privileges_changed, upgrade,
};
pub use recovery::{request_password_reset, reset_password};

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use skalio_id_aggregates::locale::Locale;
use skalio_id_aggregates::password::Password;
use skalio_id_aggregates::token::{IssueIdToken, IssuedFor, TokenCommand, TokenScope};
use skalio_id_projections::{email_view, membership_view, profile_view};

use crate::app::AppState;
use crate::error::ApiError;
use crate::event_store::RequestMeta;
use crate::ids::new_uid;
use crate::tokens::{Claims, Scope, TOKEN_VERSION};

/// `authLevel` of a person none of whose addresses is verified yet.
pub const AUTH_LEVEL_UNVERIFIED: u8 = 1;
/// `authLevel` after a password login with a verified address.
pub const AUTH_LEVEL_VERIFIED: u8 = 2;

/// A signed token with the claims it carries.
pub struct SignedToken {
    pub token: String,
    pub claims: Arc<Claims>,
}

/// What a new person gives at signup.
pub struct Signup {
    pub address: String,
    pub password: Password,
    pub name: Option<String>,
    pub locale: Locale,
    pub time_zone: String,
}

/// Until an address is verified, every ID token is as short-lived as the
/// signup token: the document grants full validity only after verification.
fn id_token_ttl(state: &AppState, level: u8) -> Duration {
    let auth = &state.settings().auth;
    let seconds = if level >= AUTH_LEVEL_VERIFIED {
        auth.id_token_ttl_secs
    } else {
        auth.signup_token_ttl_secs
    };
    Duration::seconds(seconds)
}

async fn auth_level(state: &AppState, person: &str) -> Result<u8, ApiError> {
    let emails = email_view::of_person(state.pool(), person).await?;
    let verified = emails.iter().any(|e| e.is_verified);
    Ok(if verified {
        AUTH_LEVEL_VERIFIED
    } else {
        AUTH_LEVEL_UNVERIFIED
    })
}

/// Who gets an ID token, why, at which `authLevel`, and for how long.
pub struct Grant<'a> {
    person: &'a str,
    issued_for: IssuedFor,
    level: u8,
    set_password: bool,
    expires_at: Option<DateTime<Utc>>,
}

impl<'a> Grant<'a> {
    /// A token whose lifetime follows from its level.
    pub fn new(person: &'a str, issued_for: IssuedFor, level: u8) -> Self {
        Self {
            person,
            issued_for,
            level,
            set_password: false,
            expires_at: None,
        }
    }

    /// The token expires at `at` instead (carried over, or short-lived).
    pub fn expiring_at(self, at: DateTime<Utc>) -> Self {
        Self {
            expires_at: Some(at),
            ..self
        }
    }

    /// The token (and access tokens obtained with it) may set a new password
    /// without the current one.
    pub fn allowing_password_change(self) -> Self {
        Self {
            set_password: true,
            ..self
        }
    }
}

/// Records an ID token as a Token aggregate, then signs it.
pub async fn issue_id_token(
    state: &AppState,
    grant: Grant<'_>,
    meta: &RequestMeta,
) -> Result<SignedToken, ApiError> {
    let (jti, issued_at) = (new_uid(), Utc::now());
    let expires_at = grant
        .expires_at
        .unwrap_or(issued_at + id_token_ttl(state, grant.level));
    let command = TokenCommand::IssueIdToken(IssueIdToken {
        person: grant.person.to_string(),
        issued_for: grant.issued_for,
        scope: TokenScope::Idtoken,
        auth_level: grant.level,
        set_password: grant.set_password,
        issued_at,
        expires_at,
        user_agent: meta.user_agent.clone(),
        client_address: meta.client_address.clone(),
    });
    state.bus().token(&jti, command, meta).await?;
    let (org_id, roles) = privileges(state, grant.person).await?;
    let times = (issued_at.timestamp(), expires_at.timestamp());
    let claims = Claims {
        set_password: grant.set_password.then_some(true),
        org_id,
        roles,
        ..base_claims(state, grant.person, jti, times, grant.level)
    };
    sign(state, claims)
}

/// The organization a person belongs to and every role they hold: in it,
/// and over the whole service. Every change of these blacklists the
/// person's tokens, so that claims read here stay true while they live.
async fn privileges(
    state: &AppState,
    person: &str,
) -> Result<(Option<String>, Vec<String>), ApiError> {
    let membership = membership_view::of_person(state.pool(), person).await?;
    let cluster_roles = profile_view::find(state.pool(), person)
        .await?
        .map(|p| p.cluster_roles)
        .unwrap_or_default();
    let (org_id, mut roles) = match membership {
        Some(m) => (Some(m.organization_id), m.roles),
        None => (None, Vec::new()),
    };
    roles.extend(cluster_roles);
    Ok((org_id, roles))
}

/// A long-lived token (scope `uid`) that identifies the person in otherwise
/// unauthenticated requests. It is not recorded and cannot be revoked.
pub fn issue_uid_token(state: &AppState, id_token: &Claims) -> Result<SignedToken, ApiError> {
    let now = Utc::now().timestamp();
    let times = (now, now + state.settings().auth.uid_token_ttl_secs);
    let claims = Claims {
        scope: Scope::Uid,
        ..base_claims(state, &id_token.sub, new_uid(), times, id_token.auth_level)
    };
    sign(state, claims)
}

/// A short-lived access token for the holder of `id_token`; it carries the
/// ID token's `jti` as `sid` and never outlives it.
pub fn issue_access_token(state: &AppState, id_token: &Claims) -> Result<SignedToken, ApiError> {
    let now = Utc::now().timestamp();
    let ttl = state.settings().auth.access_token_ttl_secs;
    let times = (now, (now + ttl).min(id_token.exp));
    let claims = Claims {
        sid: Some(id_token.jti.clone()),
        scope: Scope::Access,
        roles: id_token.roles.clone(),
        org_id: id_token.org_id.clone(),
        set_password: id_token.set_password,
        ..base_claims(state, &id_token.sub, new_uid(), times, id_token.auth_level)
    };
    sign(state, claims)
}

/// Claims of an ID token; other kinds override what differs. `times` is
/// (issued at, expires at) in Unix seconds.
fn base_claims(
    state: &AppState,
    person: &str,
    jti: String,
    times: (i64, i64),
    level: u8,
) -> Claims {
    Claims {
        iss: state.settings().issuer(),
        aud: state.settings().audience(),
        sub: person.to_string(),
        iat: times.0,
        exp: times.1,
        jti,
        sid: None,
        scope: Scope::Idtoken,
        ver: TOKEN_VERSION.to_string(),
        roles: Vec::new(),
        org_id: None,
        auth_level: level,
        set_password: None,
    }
}

fn sign(state: &AppState, claims: Claims) -> Result<SignedToken, ApiError> {
    let token = state
        .tokens()
        .sign(&claims)
        .map_err(|e| ApiError::internal(&e))?;
    Ok(SignedToken {
        token,
        claims: Arc::new(claims),
    })
}
