//! Liveness and readiness for load balancers and orchestrators.

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use serde_json::{Value, json};

use crate::app::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/health/live", get(live))
        .route("/health/ready", get(ready))
}

/// The process answers.
async fn live() -> Json<Value> {
    Json(json!({"status": "live"}))
}

/// The database answers and every read model has applied every event.
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
