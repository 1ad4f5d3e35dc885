//! Authentication using Skalio ID: signing keys (#10), exists (#11),
//! login (#12) and access tokens (#18).

use axum::Json;
use axum::extract::State;
use axum::http::HeaderValue;
use axum::http::header::SET_COOKIE;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use skalio_id_aggregates::password::Password;
use skalio_id_projections::email_view;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::signup::TokenResponse;
use crate::app::AppState;
use crate::error::{ApiError, ErrorBody};
use crate::event_store::RequestMeta;
use crate::extract::{ACCESS_COOKIE, ApiJson, ApiQuery, IdToken};
use crate::rate_limit;
use crate::sessions;
use crate::tokens::Jwks;

/// The provider the exists check names for Skalio ID persons.
const SKALIO_PROVIDER: &str = "http://skalio.com";

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(keys))
        .routes(routes!(exists))
        .routes(routes!(login))
        .routes(routes!(access))
}

/// Returns every public key whose tokens may still be valid. Keys rotate by
/// themselves: fetch regularly. No authentication.
#[utoipa::path(get, path = "/id/v3/auth/keys", tag = "Authentication",
    responses((status = 200, description = "The JSON Web Key Set.", body = Jwks)))]
async fn keys(State(state): State<AppState>) -> Json<Jwks> {
    Json(state.tokens().keys().jwks())
}

#[derive(Deserialize, ToSchema)]
pub struct ExistsRequest {
    address: String,
}

#[derive(Serialize, ToSchema)]
pub struct ExistsResponse {
    provider: &'static str,
}

/// Tells whether an address belongs to a Skalio ID person. No authentication.
#[utoipa::path(post, path = "/id/v3/auth/exists", tag = "Authentication",
    request_body = ExistsRequest,
    responses(
        (status = 200, description = "The address is in use.", body = ExistsResponse),
        (status = 400, description = "The payload is missing or invalid.", body = ErrorBody),
        (status = 404, description = "The address is not known.", body = ErrorBody),
    ))]
async fn exists(
    State(state): State<AppState>,
    ApiJson(request): ApiJson<ExistsRequest>,
) -> Result<Json<ExistsResponse>, ApiError> {
    match email_view::find(state.pool(), &request.address).await? {
        Some(_) => Ok(Json(ExistsResponse {
            provider: SKALIO_PROVIDER,
        })),
        None => Err(ApiError::not_found("The email address is not known.")),
    }
}

/// The kinds of authenticator the document names.
#[derive(Deserialize, ToSchema, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum AuthenticatorType {
    Bcrypt,
    Totp,
    Sms,
    U2f,
    Recovery,
}

#[derive(Deserialize, ToSchema)]
pub struct LoginRequest {
    email: String,
    #[serde(rename = "type")]
    kind: AuthenticatorType,
    key: String,
}

/// Authenticates with email and password and returns an ID token. Limited
/// per address (capacity 3, one drop per 15 s). No authentication.
#[utoipa::path(post, path = "/id/v3/auth/login", tag = "Authentication",
    request_body = LoginRequest,
    responses(
        (status = 200, description = "Authenticated.", body = TokenResponse,
            headers(("Authorization" = String), ("X-RateLimit-Limit" = u32), ("X-RateLimit-Remaining" = u32))),
        (status = 400, description = "Malformed, or a second factor without an mfa token.", body = ErrorBody),
        (status = 401, description = "Invalid credentials.", body = ErrorBody),
        (status = 509, description = "Rate limit exceeded; see Retry-After.", body = ErrorBody),
    ))]
async fn login(
    State(state): State<AppState>,
    meta: RequestMeta,
    ApiJson(request): ApiJson<LoginRequest>,
) -> Result<Response, ApiError> {
    let bucket = rate_limit::login_bucket(&request.email);
    let headers =
        rate_limit::enforce(state.pool(), &bucket, state.settings().rate_limits.login).await?;
    if request.kind != AuthenticatorType::Bcrypt {
        let detail = "A second factor needs an mfa token from a password login first.";
        return Err(ApiError::invalid(detail).with_headers(headers));
    }

    let password = Password::new(request.key);
    let signed = sessions::log_in(&state, &request.email, password, &meta).await;

    let signed = signed.map_err(|e| e.with_headers(headers.clone()))?;
    Ok((headers, signed).into_response())
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AccessQuery {
    /// If true, the access token is also set as the `acct` cookie.
    #[serde(default)]
    cookie: bool,
}

/// Exchanges an ID token for a short-lived access token. Requires an ID token.
#[utoipa::path(post, path = "/id/v3/auth/access", tag = "Authentication",
    params(AccessQuery),
    security(("idToken" = [])),
    responses(
        (status = 200, description = "An access token.", body = TokenResponse),
        (status = 401, description = "The ID token is missing, invalid or expired.", body = ErrorBody),
    ))]
async fn access(
    State(state): State<AppState>,
    IdToken(id_token): IdToken,
    ApiQuery(query): ApiQuery<AccessQuery>,
) -> Result<Response, ApiError> {
    let signed = sessions::issue_access_token(&state, &id_token)?;

    let mut response = Json(TokenResponse {
        token: signed.token.clone(),
    })
    .into_response();
    if query.cookie {
        let cookie = access_cookie(&state, &signed.token, signed.claims.exp - signed.claims.iat);
        response.headers_mut().insert(SET_COOKIE, cookie);
    }
    Ok(response)
}

fn access_cookie(state: &AppState, token: &str, max_age: i64) -> HeaderValue {
    let secure = if state.settings().public_url().starts_with("https://") {
        "; Secure"
    } else {
        ""
    };
    let cookie = format!(
        "{ACCESS_COOKIE}={token}; Path=/; Max-Age={max_age}; HttpOnly; SameSite=Strict{secure}"
    );
    HeaderValue::from_str(&cookie).unwrap_or_else(|_| HeaderValue::from_static(""))
}
