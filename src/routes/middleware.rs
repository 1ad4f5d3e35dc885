//! Middleware: a request id and one span per request keyed on the matched
//! route, and refusing requests whose `Accept` rules out JSON.

use axum::extract::{MatchedPath, Request};
use axum::http::HeaderValue;
use axum::http::header::ACCEPT;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tower::ServiceBuilder;
use tower::layer::util::{Identity, Stack};
use tower_http::LatencyUnit;
use tower_http::classify::{ServerErrorsAsFailures, SharedClassifier};
use tower_http::request_id::{
    MakeRequestUuid, PropagateRequestIdLayer, RequestId, SetRequestIdLayer,
};
use tower_http::trace::{DefaultOnResponse, TraceLayer};
use tracing::{Level, Span, info_span};

use crate::error::ApiError;

type RequestSpan = fn(&Request) -> Span;
type Layers = Stack<
    PropagateRequestIdLayer,
    Stack<
        TraceLayer<SharedClassifier<ServerErrorsAsFailures>, RequestSpan>,
        Stack<SetRequestIdLayer<MakeRequestUuid>, Identity>,
    >,
>;

/// Request id (`x-request-id`, kept if the client sent one) and a span per
/// request with method, matched route and request id; the trace layer adds
/// status and latency when the response is sent.
pub fn observability() -> ServiceBuilder<Layers> {
    ServiceBuilder::new()
        .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(request_span as RequestSpan)
                .on_response(
                    DefaultOnResponse::new()
                        .level(Level::INFO)
                        .latency_unit(LatencyUnit::Micros),
                ),
        )
        .layer(PropagateRequestIdLayer::x_request_id())
}

fn request_span(request: &Request) -> Span {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", |p| p.as_str());
    let request_id = request
        .extensions()
        .get::<RequestId>()
        .and_then(|id| id.header_value().to_str().ok())
        .unwrap_or("-");
    info_span!("request", method = %request.method(), route = %route, request_id = %request_id)
}

/// What a route answers with when it succeeds; errors are always JSON.
fn produces(route: &str) -> &'static str {
    if route.ends_with("/signaling/stream") {
        "text/event-stream"
    } else if route.ends_with("/avatar") || route.contains("/avatar/") {
        "image/jpeg"
    } else {
        "application/json"
    }
}

/// Answers 406 when the client's `Accept` rules out what the route answers
/// with.
pub async fn negotiate(request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string());
    let media = produces(route.as_deref().unwrap_or_default());
    if let Some(accept) = request.headers().get(ACCEPT)
        && !accepts(accept, media)
    {
        let detail = format!("This resource answers in {media}.");
        return ApiError::not_acceptable(detail).into_response();
    }
    next.run(request).await
}

fn accepts(accept: &HeaderValue, media: &str) -> bool {
    let Ok(accept) = accept.to_str() else {
        return false;
    };
    let family = media.split('/').next().unwrap_or_default();
    accept.split(',').any(|range| {
        let mut parts = range.split(';');
        let offered = parts.next().unwrap_or("").trim().to_ascii_lowercase();
        let refused = parts.any(|p| p.trim().replace(' ', "") == "q=0");
        let json_like = media == "application/json" && offered.ends_with("+json");
        !refused
            && (offered == "*/*"
                || offered == format!("{family}/*")
                || offered == media
                || json_like)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_route_answers_in_its_own_media_type() {
        assert_eq!(produces("/id/v3/profile"), "application/json");
        assert_eq!(produces("/id/v3/signaling/stream"), "text/event-stream");
        assert_eq!(produces("/id/v3/profile/avatar"), "image/jpeg");
        assert_eq!(produces("/id/v3/public/avatar/{key}"), "image/jpeg");
        let image = HeaderValue::from_static("image/*");
        assert!(accepts(&image, "image/jpeg") && !accepts(&image, "application/json"));
    }

    #[test]
    fn json_is_acceptable_unless_ruled_out() {
        for ok in [
            "*/*",
            "application/json",
            "text/html, application/*;q=0.5",
            "application/problem+json",
        ] {
            assert!(
                accepts(&HeaderValue::from_static(ok), "application/json"),
                "{ok}"
            );
        }
        for refused in ["text/html", "image/png", "application/json;q=0"] {
            assert!(
                !accepts(&HeaderValue::from_static(refused), "application/json"),
                "{refused}"
            );
        }
    }
}
