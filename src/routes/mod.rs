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

/// Path prefix of every API v3 route.
pub const BASE: &str = "/id/v3";

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
