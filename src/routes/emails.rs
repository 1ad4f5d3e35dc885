//! Email address verification: confirming with the mailed key (#33).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::http::header::AUTHORIZATION;
use axum::response::{IntoResponse, Response};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::app::AppState;
use crate::error::{ApiError, ErrorBody};
use crate::event_store::RequestMeta;
use crate::extract::AccessToken;
use crate::rate_limit;
use crate::sessions;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(confirm))
}

/// Completes the verification of an address. At most one attempt per minute
/// per person. When this verifies the person's first address, the response
/// carries a new ID token with a higher `authLevel` in `Authorization`.
/// Requires an access token.
#[utoipa::path(post, path = "/id/v3/confirm/{key}", tag = "Profile",
    params(("key" = String, Path, description = "Confirmation key from the verification mail.")),
    security(("accessToken" = [])),
    responses(
        (status = 204, description = "The address is verified.",
            headers(("Authorization" = String, description = "A new ID token, after the first verification"))),
        (status = 401, description = "The access token is missing or invalid.", body = ErrorBody),
        (status = 404, description = "The key is not known or has expired.", body = ErrorBody),
        (status = 429, description = "Too many attempts; see Retry-After.", body = ErrorBody),
    ))]
async fn confirm(
    State(state): State<AppState>,
    AccessToken(token): AccessToken,
    meta: RequestMeta,
    Path(key): Path<String>,
) -> Result<Response, ApiError> {
    let bucket = format!("email-verification:{}", token.sub);
    let settings = state.settings().rate_limits.email_verification;
    let limit = rate_limit::add_drop(state.pool(), &bucket, settings).await?;
    if !limit.accepted {
        return Err(ApiError::too_many_requests(limit.retry_after_secs));
    }

    let renewed = sessions::confirm_email(&state, &token.sub, key, &meta).await?;

    let mut response = StatusCode::NO_CONTENT.into_response();
    if let Some(renewed) = renewed {
        let value = format!("Bearer {}", renewed.token)
            .parse()
            .map_err(|e| ApiError::internal(&e))?;
        response.headers_mut().insert(AUTHORIZATION, value);
    }
    Ok(response)
}
