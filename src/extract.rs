//! Extractors: JSON bodies whose rejections answer in the document's error
//! format, who is calling from where, and the tokens that authenticate.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::rejection::JsonRejection;
use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, Request};
use axum::http::StatusCode;
use axum::http::header::{AUTHORIZATION, COOKIE, USER_AGENT};
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use crate::app::AppState;
use crate::error::ApiError;
use crate::event_store::RequestMeta;
use crate::tokens::{Claims, Scope, TokenRejected};

/// Name of the cookie that may carry an access token.
pub const ACCESS_COOKIE: &str = "acct";

/// A JSON body; malformed, mistyped or oversized bodies get the document's
/// error body with 400, 413 or 415.
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(value)) => Ok(Self(value)),
            Err(rejection) => Err(json_rejection(rejection)),
        }
    }
}

fn json_rejection(rejection: JsonRejection) -> ApiError {
    match rejection.status() {
        StatusCode::PAYLOAD_TOO_LARGE => ApiError::too_large(),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => {
            ApiError::unsupported_media_type("Expected Content-Type: application/json.")
        }
        _ => ApiError::malformed(rejection.body_text()),
    }
}

/// Query parameters; unparsable ones get the document's error body with 400.
pub struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(value)) => Ok(Self(value)),
            Err(rejection) => Err(ApiError::malformed(rejection.body_text())),
        }
    }
}

/// Who is calling, from where; recorded with the events a request causes.
impl<S: Send + Sync> FromRequestParts<S> for RequestMeta {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let header = |name| {
            parts
                .headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        let client = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip().to_string());
        Ok(Self {
            request_id: header("x-request-id"),
            client_address: client,
            user_agent: header(USER_AGENT.as_str()).map(|ua| ua.chars().take(512).collect()),
            actor: None,
        })
    }
}

/// The verified claims of an ID token (scope `idtoken`) from the
/// `Authorization` header.
pub struct IdToken(pub Arc<Claims>);

/// The verified claims of a pickup token (scope `park`) from the
/// `Authorization` header.
pub struct PickupToken(pub Arc<Claims>);

impl FromRequestParts<AppState> for PickupToken {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let token = bearer(parts)
            .ok_or_else(|| ApiError::unauthenticated("A pickup token is required."))?;
        Ok(Self(verify_scope(state, &token, Scope::Park).await?))
    }
}

/// The verified claims of an access token (scope `access`) from the
/// `Authorization` header or, failing that, the `acct` cookie.
pub struct AccessToken(pub Arc<Claims>);

impl FromRequestParts<AppState> for IdToken {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let token =
            bearer(parts).ok_or_else(|| ApiError::unauthenticated("An ID token is required."))?;
        Ok(Self(verify_scope(state, &token, Scope::Idtoken).await?))
    }
}

impl FromRequestParts<AppState> for AccessToken {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let token = bearer(parts)
            .or_else(|| access_cookie(parts))
            .ok_or_else(|| ApiError::unauthenticated("An access token is required."))?;
        Ok(Self(verify_scope(state, &token, Scope::Access).await?))
    }
}

/// Verifies a UID token handed over outside the `Authorization` header (the
/// document's `_uidt` query parameter).
pub async fn verify_uid_token(state: &AppState, token: &str) -> Result<Arc<Claims>, ApiError> {
    verify_scope(state, token, Scope::Uid).await
}

async fn verify_scope(
    state: &AppState,
    token: &str,
    scope: Scope,
) -> Result<Arc<Claims>, ApiError> {
    let claims = state.tokens().verify(token).await.map_err(|e| match e {
        TokenRejected::NoSigningKey => ApiError::internal(&e),
        other => ApiError::unauthenticated(format!("The token is not valid: {other}.")),
    })?;
    if claims.scope != scope {
        return Err(ApiError::unauthenticated(
            "The token's scope does not allow this request.",
        ));
    }
    // An access token dies with the ID token named in its `sid`. (A pickup
    // token's `sid` names the parked token, which is dead by design.)
    let blacklist = state.blacklist();
    let parent_dead = scope == Scope::Access
        && claims
            .sid
            .as_deref()
            .is_some_and(|sid| blacklist.contains(sid));
    let dead = blacklist.contains(&claims.jti) || parent_dead;
    if dead {
        return Err(ApiError::unauthenticated("The token is no longer valid."));
    }
    Ok(claims)
}

fn bearer(parts: &Parts) -> Option<String> {
    let value = parts.headers.get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim().to_string())
}

fn access_cookie(parts: &Parts) -> Option<String> {
    parts
        .headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == ACCESS_COOKIE)
        .map(|(_, value)| value.to_string())
}
