//! The edges of HTTP: malformed and oversized bodies, unknown routes and
//! methods, media types — all in the document's error shape.

mod common;

use common::{TestApp, error_code};
use reqwest::StatusCode;
use serde_json::json;

#[tokio::test]
async fn malformed_json_is_a_bad_request() {
    let app = TestApp::spawn().await;
    let response = app
        .client
        .post(app.url("/id/v3/signup"))
        .header("content-type", "application/json")
        .body("{\"address\": ")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert_eq!(error_code(response).await, 400001);
}

#[tokio::test]
async fn an_oversized_body_is_refused_with_413() {
    let app = TestApp::spawn().await;
    let huge = json!({"address": "bob@example.org", "password": "CorrectHorse", "name": "x".repeat(100_000)});
    let response = app.post_json("/id/v3/signup", &huge).await;
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(error_code(response).await, 413001);
    assert!(app.event_types().await.is_empty());
}

#[tokio::test]
async fn a_body_that_is_not_json_is_refused_with_415() {
    let app = TestApp::spawn().await;
    let response = app
        .client
        .post(app.url("/id/v3/signup"))
        .header("content-type", "text/plain")
        .body("address=bob@example.org")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_eq!(error_code(response).await, 415001);
}

#[tokio::test]
async fn an_accept_header_that_rules_out_json_is_refused_with_406() {
    let app = TestApp::spawn().await;
    let response = app
        .client
        .get(app.url("/id/v3/auth/keys"))
        .header("accept", "text/html")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NOT_ACCEPTABLE);
    assert_eq!(error_code(response).await, 406001);
    let fine = app
        .client
        .get(app.url("/id/v3/auth/keys"))
        .header("accept", "application/json")
        .send()
        .await
        .unwrap();
    assert_eq!(fine.status(), StatusCode::OK);
}

#[tokio::test]
async fn unknown_routes_are_404_and_wrong_methods_405_in_the_error_shape() {
    let app = TestApp::spawn().await;
    let unknown = app.get("/id/v3/no-such-thing").await;
    assert_eq!(unknown.status(), StatusCode::NOT_FOUND);
    assert_eq!(error_code(unknown).await, 404001);

    let wrong_method = app
        .client
        .delete(app.url("/id/v3/signup"))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong_method.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(error_code(wrong_method).await, 405001);
}

#[tokio::test]
async fn every_response_carries_a_request_id() {
    let app = TestApp::spawn().await;
    let response = app
        .client
        .get(app.url("/id/v3/auth/keys"))
        .header("x-request-id", "trace-me")
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["x-request-id"], "trace-me");
    let generated = app.get("/id/v3/auth/keys").await;
    assert!(!generated.headers()["x-request-id"].is_empty());
}

#[tokio::test]
async fn health_reports_live_and_ready() {
    let app = TestApp::spawn().await;
    assert_eq!(app.get("/health/live").await.status(), StatusCode::OK);
    let ready = app.get("/health/ready").await;
    assert_eq!(ready.status(), StatusCode::OK);
    let body: serde_json::Value = ready.json().await.unwrap();
    assert_eq!(body["projectionsCaughtUp"], true);
}

#[tokio::test]
async fn the_openapi_document_lists_every_route() {
    let app = TestApp::spawn().await;
    let document: serde_json::Value = app.get("/id/v3/openapi.json").await.json().await.unwrap();
    assert!(document["openapi"].as_str().unwrap().starts_with("3.1"));
    let paths = document["paths"].as_object().unwrap();
    let expected = [
        ("/id/v3/signup", "post"),
        ("/id/v3/oidc/discovery", "get"),
        ("/id/v3/auth/keys", "get"),
        ("/id/v3/auth/exists", "post"),
        ("/id/v3/auth/login", "post"),
        ("/id/v3/auth/access", "post"),
        ("/id/v3/profile", "get"),
        ("/id/v3/profile", "put"),
        ("/id/v3/confirm/{key}", "post"),
        ("/.well-known/openid-configuration", "get"),
        ("/id/v3/auth", "get"),
        ("/id/v3/auth/uid", "post"),
        ("/id/v3/auth/upgrade", "post"),
        ("/id/v3/auth/park", "post"),
        ("/id/v3/auth/park", "get"),
        ("/id/v3/auth/logout", "post"),
        ("/id/v3/auth/reset", "post"),
        ("/id/v3/auth/reset/{key}", "post"),
        ("/id/v3/profile", "delete"),
        ("/id/v3/profile/emails", "get"),
        ("/id/v3/profile/emails", "post"),
        ("/id/v3/profile/emails/{address}", "delete"),
        ("/id/v3/profile/emails/{address}/primary", "post"),
        ("/id/v3/profile/emails/{address}/verify", "post"),
        ("/id/v3/public/profile/{key}", "get"),
        ("/id/v3/signaling", "get"),
        ("/id/v3/profile/avatar", "put"),
        ("/id/v3/profile/avatar", "get"),
        ("/id/v3/profile/avatar", "delete"),
        ("/id/v3/public/avatar/{key}", "get"),
        ("/id/v3/signaling/stream", "get"),
        ("/health/live", "get"),
        ("/health/ready", "get"),
        ("/id/v3/public/organization/{key}", "get"),
        ("/id/v3/organizations", "post"),
        ("/id/v3/organizations/{uid}", "get"),
        ("/id/v3/organizations/{uid}", "put"),
        ("/id/v3/organizations/{uid}/leave", "post"),
        ("/id/v3/organizations/{uid}/profile", "get"),
        ("/id/v3/organizations/{uid}/profile", "put"),
        ("/id/v3/organizations/{uid}/import/person", "put"),
        ("/id/v3/organizations/{uid}/import/person", "post"),
        ("/id/v3/organizations/{uid}/members", "get"),
        ("/id/v3/organizations/{uid}/members", "post"),
        ("/id/v3/organizations/{uid}/members/{personUid}", "get"),
        ("/id/v3/organizations/{uid}/members/{personUid}", "delete"),
    ];
    for (path, method) in expected {
        assert!(
            paths.get(path).and_then(|p| p.get(method)).is_some(),
            "{method} {path} missing"
        );
    }
    let operations: usize = paths.values().map(|p| p.as_object().unwrap().len()).sum();
    assert_eq!(
        operations,
        expected.len(),
        "an undocumented or unexpected operation"
    );
}
