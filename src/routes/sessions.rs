//! Sessions: list tokens (#13), UID token (#14), upgrade (#15), park and
//! pickup (#16, #17), logout (#19).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::profile::timestamp;
use super::signup::TokenResponse;
use crate::app::AppState;
use crate::error::{ApiError, ErrorBody};
use crate::event_store::RequestMeta;
use crate::extract::{ApiQuery, IdToken, PickupToken};
use crate::sessions::{self, Logout, SignedToken};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_tokens))
        .routes(routes!(uid_token))
        .routes(routes!(upgrade))
        .routes(routes!(park, pick_up))
        .routes(routes!(logout))
}

/// One unexpired ID token of the person.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TokenInfo {
    jti: String,
    issued_timestamp: String,
    expiration_timestamp: String,
    user_agent: Option<String>,
    ip: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct TokenList {
    tokens: Vec<TokenInfo>,
}

/// Lists the person's unexpired, not blacklisted ID tokens. Requires an ID
/// token.
#[utoipa::path(get, path = "/id/v3/auth", tag = "Authentication",
    security(("idToken" = [])),
    responses(
        (status = 200, description = "The tokens.", body = TokenList),
        (status = 401, description = "The ID token is missing or invalid.", body = ErrorBody),
    ))]
async fn list_tokens(
    State(state): State<AppState>,
    IdToken(id_token): IdToken,
) -> Result<Json<TokenList>, ApiError> {
    let tokens = sessions::list_tokens(&state, &id_token.sub).await?;

    let tokens = tokens
        .into_iter()
        .map(|t| TokenInfo {
            jti: t.jti,
            issued_timestamp: timestamp(t.issued_at),
            expiration_timestamp: timestamp(t.expires_at),
            user_agent: t.user_agent,
            ip: t.client_address,
        })
        .collect();
    Ok(Json(TokenList { tokens }))
}

/// Issues a long-lived UID token (scope `uid`) that identifies the person
/// in otherwise unauthenticated requests; it cannot be revoked. Requires an
/// ID token.
#[utoipa::path(post, path = "/id/v3/auth/uid", tag = "Authentication",
    security(("idToken" = [])),
    responses(
        (status = 200, description = "A UID token.", body = TokenResponse),
        (status = 401, description = "The ID token is missing or invalid.", body = ErrorBody),
    ))]
async fn uid_token(
    State(state): State<AppState>,
    IdToken(id_token): IdToken,
) -> Result<Json<TokenResponse>, ApiError> {
    let signed = sessions::issue_uid_token(&state, &id_token)?;
    Ok(Json(TokenResponse {
        token: signed.token,
    }))
}

/// Replaces the ID token with a new one and blacklists it; claims are
/// recomputed, the expiry carries over unless the `authLevel` changed.
/// Requires an ID token.
#[utoipa::path(post, path = "/id/v3/auth/upgrade", tag = "Authentication",
    security(("idToken" = [])),
    responses(
        (status = 200, description = "The new ID token.", body = TokenResponse,
            headers(("Authorization" = String))),
        (status = 401, description = "The ID token is not valid or has expired.", body = ErrorBody),
    ))]
async fn upgrade(
    State(state): State<AppState>,
    IdToken(id_token): IdToken,
    meta: RequestMeta,
) -> Result<SignedToken, ApiError> {
    sessions::upgrade(&state, &id_token, &meta).await
}

/// Exchanges the ID token for a short-lived, single-use pickup token (scope
/// `park`) and blacklists it. Requires an ID token.
#[utoipa::path(post, path = "/id/v3/auth/park", tag = "Authentication",
    security(("idToken" = [])),
    responses(
        (status = 200, description = "The pickup token.", body = TokenResponse),
        (status = 401, description = "The ID token is not valid or has expired.", body = ErrorBody),
        (status = 404, description = "No person matches the ID token.", body = ErrorBody),
    ))]
async fn park(
    State(state): State<AppState>,
    IdToken(id_token): IdToken,
    meta: RequestMeta,
) -> Result<Json<TokenResponse>, ApiError> {
    let pickup = sessions::park(&state, &id_token, &meta).await?;
    Ok(Json(TokenResponse {
        token: pickup.token,
    }))
}

/// Returns a new ID token for the parked one, with its original expiry;
/// works once. Requires a pickup token.
#[utoipa::path(get, path = "/id/v3/auth/park", tag = "Authentication",
    security(("pickupToken" = [])),
    responses(
        (status = 200, description = "The new ID token.", body = TokenResponse,
            headers(("Authorization" = String))),
        (status = 401, description = "The pickup token is not valid or has expired.", body = ErrorBody),
        (status = 404, description = "No parked token matches the pickup token.", body = ErrorBody),
    ))]
async fn pick_up(
    State(state): State<AppState>,
    PickupToken(pickup): PickupToken,
    meta: RequestMeta,
) -> Result<SignedToken, ApiError> {
    sessions::pick_up(&state, &pickup, &meta).await
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LogoutQuery {
    /// The `jti` of the token to end, or `all` for every token of the
    /// person; absent: the presenting token.
    jti: Option<String>,
}

/// Blacklists the presenting ID token, the one named by `jti`, or with
/// `jti=all` every token of the person. Requires an ID token.
#[utoipa::path(post, path = "/id/v3/auth/logout", tag = "Authentication",
    params(LogoutQuery),
    security(("idToken" = [])),
    responses(
        (status = 204, description = "Logged out."),
        (status = 401, description = "The ID token is missing or invalid.", body = ErrorBody),
        (status = 403, description = "The token belongs to someone else.", body = ErrorBody),
    ))]
async fn logout(
    State(state): State<AppState>,
    IdToken(id_token): IdToken,
    meta: RequestMeta,
    ApiQuery(query): ApiQuery<LogoutQuery>,
) -> Result<StatusCode, ApiError> {
    let which = match query.jti.as_deref() {
        None | Some("") => Logout::This,
        Some("all") => Logout::All,
        Some(jti) => Logout::Token(jti.to_string()),
    };

    sessions::log_out(&state, &id_token, which, &meta).await?;

    Ok(StatusCode::NO_CONTENT)
}
