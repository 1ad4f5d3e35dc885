//! SignalingEvents for clients: the person's feed page by page with an
//! optional long poll, and as Server-Sent Events resumable with
//! `Last-Event-ID`. The document names the events but not how clients
//! receive them; these two endpoints are this service's answer.

use std::convert::Infallible;
use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures::Stream;
use serde::{Deserialize, Serialize};
use skalio_id_projections::signaling::{self, FeedEntry};
use tokio::sync::broadcast;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::profile::timestamp;
use crate::app::AppState;
use crate::error::{ApiError, ErrorBody};
use crate::extract::{AccessToken, ApiQuery};

/// Longest long poll a client may ask for.
const MAX_WAIT_SECS: u64 = 30;
const MAX_PAGE: i64 = 500;
const DEFAULT_PAGE: i64 = 100;
/// How often an idle stream reads the feed even without a notification.
const RECHECK: Duration = Duration::from_secs(5);

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(feed))
        .routes(routes!(stream))
}

/// One SignalingEvent.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SignalingEvent {
    /// Position in the person's feed; pass it back as `cursor`.
    id: i64,
    #[schema(example = "PROFILE_AVATAR_UPDATED")]
    #[serde(rename = "type")]
    kind: String,
    /// The uid of the person or organization the event is about.
    subject: String,
    occurred_at: String,
}

impl From<FeedEntry> for SignalingEvent {
    fn from(entry: FeedEntry) -> Self {
        Self {
            id: entry.id,
            kind: entry.event_type,
            subject: entry.subject,
            occurred_at: timestamp(entry.occurred_at),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct FeedPage {
    events: Vec<SignalingEvent>,
    /// The position to continue after.
    cursor: i64,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct FeedQuery {
    /// Return events after this position (default 0: from the start).
    #[serde(default)]
    cursor: i64,
    /// At most this many events (default 100, at most 500).
    limit: Option<i64>,
    /// Seconds to wait for an event when there is none yet (at most 30).
    #[serde(default)]
    wait: u64,
}

/// The person's SignalingEvents after `cursor`; with `wait`, the request
/// is held until one arrives or the time is up. Requires an access token.
#[utoipa::path(get, path = "/id/v3/signaling", tag = "Signaling",
    params(FeedQuery),
    security(("accessToken" = [])),
    responses(
        (status = 200, description = "Events after the cursor (possibly none).", body = FeedPage),
        (status = 400, description = "A parameter is malformed.", body = ErrorBody),
        (status = 401, description = "The access token is missing or invalid.", body = ErrorBody),
    ))]
async fn feed(
    State(state): State<AppState>,
    AccessToken(token): AccessToken,
    ApiQuery(query): ApiQuery<FeedQuery>,
) -> Result<Json<FeedPage>, ApiError> {
    let limit = query.limit.unwrap_or(DEFAULT_PAGE).clamp(1, MAX_PAGE);
    let wait = Duration::from_secs(query.wait.min(MAX_WAIT_SECS));

    let mut woken = state.signaling().subscribe();
    let mut entries = signaling::after(state.pool(), &token.sub, query.cursor, limit).await?;
    if entries.is_empty() && !wait.is_zero() {
        let _ = tokio::time::timeout(wait, grew_for(&mut woken, &token.sub)).await;
        entries = signaling::after(state.pool(), &token.sub, query.cursor, limit).await?;
    }

    let cursor = entries.last().map_or(query.cursor, |e| e.id);
    let events = entries.into_iter().map(SignalingEvent::from).collect();
    Ok(Json(FeedPage { events, cursor }))
}

/// Resolves once the feed of `person` may have grown.
async fn grew_for(woken: &mut broadcast::Receiver<String>, person: &str) {
    loop {
        match woken.recv().await {
            Ok(grown) if grown.is_empty() || grown == person => return,
            Ok(_) => {}
            Err(broadcast::error::RecvError::Lagged(_)) => return,
            Err(broadcast::error::RecvError::Closed) => std::future::pending::<()>().await,
        }
    }
}

/// The person's SignalingEvents as Server-Sent Events (`id` = position,
/// `event` = type). Resumes after `Last-Event-ID`; without it, starts with
/// the next event. The access token may come as `acct` cookie, which
/// browsers' EventSource sends. Requires an access token.
#[utoipa::path(get, path = "/id/v3/signaling/stream", tag = "Signaling",
    security(("accessToken" = [])),
    responses(
        (status = 200, description = "An endless text/event-stream.", content_type = "text/event-stream", body = String),
        (status = 401, description = "The access token is missing or invalid.", body = ErrorBody),
    ))]
async fn stream(
    State(state): State<AppState>,
    AccessToken(token): AccessToken,
    headers: HeaderMap,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let resume = headers.get("last-event-id").and_then(|v| v.to_str().ok());
    let cursor = match resume.and_then(|id| id.trim().parse::<i64>().ok()) {
        Some(cursor) => cursor,
        None => signaling::newest(state.pool(), &token.sub).await?,
    };
    let woken = state.signaling().subscribe();
    let events = futures::stream::unfold(
        Follow {
            state,
            person: token.sub.clone(),
            cursor,
            woken,
            pending: Vec::new(),
        },
        Follow::next,
    );
    Ok(Sse::new(events).keep_alive(KeepAlive::default()))
}

/// The state of one SSE client: where it is in the feed, and what has been
/// read but not sent yet.
struct Follow {
    state: AppState,
    person: String,
    cursor: i64,
    woken: broadcast::Receiver<String>,
    pending: Vec<FeedEntry>,
}

impl Follow {
    async fn next(mut self) -> Option<(Result<Event, Infallible>, Self)> {
        loop {
            if let Some(entry) = self.pending.pop() {
                self.cursor = entry.id;
                return Some((Ok(to_sse(entry)), self));
            }
            match signaling::after(self.state.pool(), &self.person, self.cursor, MAX_PAGE).await {
                Ok(entries) if !entries.is_empty() => {
                    self.pending = entries.into_iter().rev().collect();
                }
                // Looking again now and then covers a notification lost
                // while the listener reconnected.
                Ok(_) => drop(
                    tokio::time::timeout(RECHECK, grew_for(&mut self.woken, &self.person)).await,
                ),
                // The database is away: try again shortly rather than end
                // the stream; the keep-alive holds the connection meanwhile.
                Err(_) => tokio::time::sleep(Duration::from_secs(1)).await,
            }
        }
    }
}

fn to_sse(entry: FeedEntry) -> Event {
    let (id, kind) = (entry.id.to_string(), entry.event_type.clone());
    let data = serde_json::to_string(&SignalingEvent::from(entry)).unwrap_or_default();
    Event::default().id(id).event(kind).data(data)
}
