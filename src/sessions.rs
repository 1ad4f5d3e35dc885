//! Signing up, logging in and handing out tokens: the steps that span more
//! than one aggregate (a person command, then a token command) live here so
//! that handlers stay one call long.

use std::sync::Arc;

use chrono::{Duration, Utc};
use skalio_id_aggregates::locale::Locale;
use skalio_id_aggregates::password::Password;
use skalio_id_aggregates::person::{
    AuthenticateWithPassword, ConfirmEmailAddress, PersonCommand, RegisterPerson, VerificationKey,
};
use skalio_id_aggregates::token::{IssueIdToken, IssuedFor, TokenCommand, TokenScope};
use skalio_id_projections::email_view;

use crate::app::AppState;
use crate::error::ApiError;
use crate::event_store::RequestMeta;
use crate::ids::{new_uid, new_verification_key};
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

/// Registers a person and issues their first, short-lived ID token.
pub async fn sign_up(
    state: &AppState,
    signup: Signup,
    meta: &RequestMeta,
) -> Result<SignedToken, ApiError> {
    let uid = new_uid();
    let settings = &state.settings().auth;
    let now = Utc::now();
    let command = PersonCommand::Register(RegisterPerson {
        uid: uid.clone(),
        address: signup.address,
        password: signup.password,
        name: signup.name,
        locale: signup.locale,
        time_zone: signup.time_zone,
        verification: VerificationKey {
            key: new_verification_key(),
            expires_at: now + Duration::seconds(settings.verification_key_ttl_secs),
        },
        at: now,
    });
    let meta = meta.acting_as(&uid);
    state.bus().person(&uid, command, &meta).await?;
    let grant = Grant {
        person: &uid,
        issued_for: IssuedFor::Signup,
        level: AUTH_LEVEL_UNVERIFIED,
    };
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
    let grant = Grant {
        person: &person,
        issued_for: IssuedFor::PasswordLogin,
        level,
    };
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
    let grant = Grant {
        person,
        issued_for: IssuedFor::AddressVerification,
        level: AUTH_LEVEL_VERIFIED,
    };
    Ok(Some(issue_id_token(state, grant, &meta).await?))
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

/// Who gets an ID token, why, and at which `authLevel`.
pub struct Grant<'a> {
    pub person: &'a str,
    pub issued_for: IssuedFor,
    pub level: u8,
}

/// Records an ID token as a Token aggregate, then signs it. Its lifetime
/// follows from its level.
pub async fn issue_id_token(
    state: &AppState,
    grant: Grant<'_>,
    meta: &RequestMeta,
) -> Result<SignedToken, ApiError> {
    let (jti, issued_at, ttl) = (new_uid(), Utc::now(), id_token_ttl(state, grant.level));
    let Grant {
        person,
        issued_for,
        level: auth_level,
    } = grant;
    let command = TokenCommand::IssueIdToken(IssueIdToken {
        person: person.to_string(),
        issued_for,
        scope: TokenScope::Idtoken,
        auth_level,
        set_password: false,
        issued_at,
        expires_at: issued_at + ttl,
        user_agent: meta.user_agent.clone(),
        client_address: meta.client_address.clone(),
    });
    state.bus().token(&jti, command, meta).await?;
    let claims = Claims {
        sid: None,
        scope: Scope::Idtoken,
        ..base_claims(
            state,
            person,
            jti,
            issued_at.timestamp(),
            (issued_at + ttl).timestamp(),
            auth_level,
        )
    };
    sign(state, claims)
}

/// A short-lived access token for the holder of `id_token`; it carries the
/// ID token's `jti` as `sid` and never outlives it.
pub fn issue_access_token(state: &AppState, id_token: &Claims) -> Result<SignedToken, ApiError> {
    let now = Utc::now().timestamp();
    let ttl = state.settings().auth.access_token_ttl_secs;
    let claims = Claims {
        sid: Some(id_token.jti.clone()),
        scope: Scope::Access,
        roles: id_token.roles.clone(),
        org_id: id_token.org_id.clone(),
        set_password: id_token.set_password,
        ..base_claims(
            state,
            &id_token.sub,
            new_uid(),
            now,
            (now + ttl).min(id_token.exp),
            id_token.auth_level,
        )
    };
    sign(state, claims)
}

fn base_claims(
    state: &AppState,
    person: &str,
    jti: String,
    iat: i64,
    exp: i64,
    level: u8,
) -> Claims {
    Claims {
        iss: state.settings().issuer(),
        aud: state.settings().audience(),
        sub: person.to_string(),
        exp,
        iat,
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
