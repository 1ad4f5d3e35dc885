//! The HTTP API: one module per resource group of the API document, the
//! OpenAPI document generated from them, and the middleware every request
//! passes (request id, span, body limit, content negotiation, error shape
//! for unknown routes and methods).

mod auth;
mod avatar;
mod emails;
mod health;
mod members;
mod middleware;
mod oidc;
mod openapi;
mod organizations;
mod profile;
mod public;
mod recovery;
mod sessions;
mod signaling;
mod signup;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::get;
use utoipa_axum::router::OpenApiRouter;

use crate::app::AppState;
use crate::error::ApiError;
use crate::sessions::SignedToken;

/// Path prefix of every API v3 route.
pub const BASE: &str = "/id/v3";

/// Puts `token` in the `Authorization` header, where the document hands a
/// client its new ID token.
pub fn deliver_in_header(response: &mut axum::response::Response, token: &SignedToken) {
    // A JWT is plain ASCII, so it always makes a valid header value.
    if let Ok(value) = format!("Bearer {}", token.token).parse() {
        response
            .headers_mut()
            .insert(axum::http::header::AUTHORIZATION, value);
    }
}

/// The complete router, with state and middleware.
pub fn router(state: AppState) -> Router {
    let (api, openapi) = OpenApiRouter::with_openapi(openapi::base())
        .merge(signup::routes())
        .merge(oidc::routes())
        .merge(auth::routes())
        .merge(profile::routes())
        .merge(sessions::routes())
        .merge(recovery::routes())
        .merge(emails::routes())
        .merge(public::routes())
        .merge(avatar::routes())
        .merge(signaling::routes())
        .merge(organizations::routes())
        .merge(members::routes())
        .merge(health::routes())
        .split_for_parts();
    let max_body = state.settings().http.max_body_bytes;
    api.route(
        &format!("{BASE}/openapi.json"),
        get(openapi::serve(openapi)),
    )
    .fallback(|| async { ApiError::not_found("No such resource.") })
    .method_not_allowed_fallback(|| async { ApiError::method_not_allowed() })
    .layer(axum::middleware::from_fn(middleware::negotiate))
    .layer(DefaultBodyLimit::max(max_body))
    .layer(middleware::observability())
    .with_state(state)
}
