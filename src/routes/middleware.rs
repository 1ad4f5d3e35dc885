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

/// Answers 406 when the client accepts neither JSON nor anything.
pub async fn negotiate_json(request: Request, next: Next) -> Response {
    if let Some(accept) = request.headers().get(ACCEPT) {
        if !accepts_json(accept) {
            return ApiError::not_acceptable("This resource answers in application/json.")
                .into_response();
        }
    }
    next.run(request).await
}

fn accepts_json(accept: &HeaderValue) -> bool {
    let Ok(accept) = accept.to_str() else {
        return false;
    };
    accept.split(',').any(|range| {
        let mut parts = range.split(';');
        let media = parts.next().unwrap_or("").trim().to_ascii_lowercase();
        let refused = parts.any(|p| p.trim().replace(' ', "") == "q=0");
        !refused
            && (media == "*/*"
                || media == "application/*"
                || media == "application/json"
                || media.ends_with("+json"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_is_acceptable_unless_ruled_out() {
        for ok in [
            "*/*",
            "application/json",
            "text/html, application/*;q=0.5",
            "application/problem+json",
        ] {
            assert!(accepts_json(&HeaderValue::from_static(ok)), "{ok}");
        }
        for refused in ["text/html", "image/png", "application/json;q=0"] {
            assert!(
                !accepts_json(&HeaderValue::from_static(refused)),
                "{refused}"
            );
        }
    }
}
