//! Liveness and readiness for load balancers and orchestrators.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde_json::{Value, json};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::app::AppState;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(live))
        .routes(routes!(ready))
}

/// The process answers. No authentication.
#[utoipa::path(get, path = "/health/live", tag = "Operations",
    responses((status = 200, description = "The process is live.", body = Object)))]
async fn live() -> Json<Value> {
    Json(json!({"status": "live"}))
}

/// The database answers and every read model has applied every event.
/// No authentication.
#[utoipa::path(get, path = "/health/ready", tag = "Operations",
    responses(
        (status = 200, description = "Ready to serve.", body = Object),
        (status = 503, description = "Database unreachable or read models behind.", body = Object),
    ))]
async fn ready(State(state): State<AppState>) -> (StatusCode, Json<Value>) {
    let database = sqlx::query("SELECT 1").execute(state.pool()).await.is_ok();
    let caught_up = database && state.projector().is_caught_up().await.unwrap_or(false);
    let status = if caught_up {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let body = json!({
        "status": if caught_up { "ready" } else { "not ready" },
        "database": database,
        "projectionsCaughtUp": caught_up,
    });
    (status, Json(body))
}
