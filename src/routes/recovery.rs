//! Password recovery (#20) and reset (#21).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::signup::TokenResponse;
use crate::app::AppState;
use crate::error::{ApiError, ErrorBody};
use crate::event_store::RequestMeta;
use crate::extract::ApiJson;
use crate::rate_limit;
use crate::sessions;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(request_reset))
        .routes(routes!(reset))
}

#[derive(Deserialize, ToSchema)]
pub struct ResetRequest {
    address: String,
}

/// Mails a password reset link to a verified address of a person with a
/// password. Limited per address. No authentication.
#[utoipa::path(post, path = "/id/v3/auth/reset", tag = "Authentication",
    request_body = ResetRequest,
    responses(
        (status = 204, description = "The mail is on its way."),
        (status = 400, description = "The payload is missing or invalid.", body = ErrorBody),
        (status = 403, description = "The address is unknown or not verified, or the person has no password.", body = ErrorBody),
        (status = 509, description = "Rate limit exceeded; see Retry-After.", body = ErrorBody),
    ))]
async fn request_reset(
    State(state): State<AppState>,
    meta: RequestMeta,
    ApiJson(request): ApiJson<ResetRequest>,
) -> Result<Response, ApiError> {
    let bucket = rate_limit::password_reset_bucket(&request.address);
    let settings = state.settings().rate_limits.password_reset;
    let headers = rate_limit::enforce(state.pool(), &bucket, settings).await?;

    let sent = sessions::request_password_reset(&state, &request.address, &meta).await;

    sent.map_err(|e| e.with_headers(headers.clone()))?;
    Ok((headers, StatusCode::NO_CONTENT).into_response())
}

/// Redeems the key from the recovery mail, once, for a short-lived ID token
/// with `setPassword: true`. Limited per client address. No authentication.
#[utoipa::path(post, path = "/id/v3/auth/reset/{key}", tag = "Authentication",
    params(("key" = String, Path, description = "The key from the password recovery mail.")),
    responses(
        (status = 200, description = "A short-lived ID token.", body = TokenResponse,
            headers(("Authorization" = String))),
        (status = 404, description = "The key is not known, was used, or has expired.", body = ErrorBody),
        (status = 509, description = "Rate limit exceeded; see Retry-After.", body = ErrorBody),
    ))]
async fn reset(
    State(state): State<AppState>,
    meta: RequestMeta,
    Path(key): Path<String>,
) -> Result<Response, ApiError> {
    let client = meta.client_address.clone().unwrap_or_default();
    let bucket = format!("password-reset-key:{client}");
    let settings = state.settings().rate_limits.password_reset_key;
    let headers = rate_limit::enforce(state.pool(), &bucket, settings).await?;

    let signed = sessions::reset_password(&state, &key, &meta).await;

    let signed = signed.map_err(|e| e.with_headers(headers.clone()))?;
    Ok((headers, signed).into_response())
}
