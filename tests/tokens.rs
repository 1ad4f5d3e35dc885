//! Tokens against the served key set: discovery (#3) → JWKS (#10) → verify;
//! rotation; forged and expired tokens.

mod common;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use common::{TestApp, claims_of, error_code, token_of};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use p256::elliptic_curve::Generate;
use p256::pkcs8::EncodePrivateKey;
use reqwest::StatusCode;
use serde_json::{Value, json};

async fn jwks(app: &TestApp) -> Value {
    let discovery: Value = app
        .get("/.well-known/openid-configuration")
        .await
        .json()
        .await
        .unwrap();
    let path = discovery["jwksUrl"]
        .as_str()
        .unwrap()
        .trim_start_matches(&app.address)
        .to_string();
    assert_eq!(discovery["jwks_uri"], discovery["jwksUrl"]);
    app.get(&path).await.json().await.unwrap()
}

fn verify_against(
    jwks: &Value,
    token: &str,
    app: &TestApp,
) -> Result<Value, jsonwebtoken::errors::Error> {
    let kid = jsonwebtoken::decode_header(token)?.kid.expect("kid header");
    let jwk = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kid"] == kid.as_str())
        .expect("kid in JWKS");
    assert_eq!(
        (
            jwk["kty"].as_str(),
            jwk["crv"].as_str(),
            jwk["alg"].as_str()
        ),
        (Some("EC"), Some("P-256"), Some("ES256"))
    );
    assert_eq!(jwk["use"], "sig");
    let key =
        DecodingKey::from_ec_components(jwk["x"].as_str().unwrap(), jwk["y"].as_str().unwrap())?;
    let mut validation = Validation::new(Algorithm::ES256);
    validation.set_issuer(&[app.address.as_str()]);
    validation.set_audience(&[format!("{}/id", app.address)]);
    Ok(jsonwebtoken::decode::<Value>(token, &key, &validation)?.claims)
}

#[tokio::test]
async fn discovery_is_served_under_both_paths() {
    let app = TestApp::spawn().await;
    let documented: Value = app.get("/id/v3/oidc/discovery").await.json().await.unwrap();
    let well_known: Value = app
        .get("/.well-known/openid-configuration")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(documented, well_known);
    assert_eq!(documented["issuer"], app.address.as_str());
    assert_eq!(
        documented["jwksUrl"],
        format!("{}/id/v3/auth/keys", app.address)
    );
}

#[tokio::test]
async fn every_token_verifies_against_the_served_key_set() {
    let app = TestApp::spawn().await;
    let signup = app.signed_up("bob@example.org", "CorrectHorse").await;
    let login = token_of(app.login("bob@example.org", "CorrectHorse").await).await;
    let access = token_of(app.access(&login).await).await;
    let keys = jwks(&app).await;

    for token in [&signup, &login, &access] {
        let claims = verify_against(&keys, token, &app).expect("token verifies");
        assert_eq!(claims["ver"], "3.0");
    }
}

#[tokio::test]
async fn a_token_signed_by_a_retired_key_verifies_until_it_expires() {
    let app = TestApp::spawn().await;
    let login = token_of(app.login_after_signup("bob@example.org").await).await;
    let old_access = token_of(app.access(&login).await).await;
    let old_kid = jsonwebtoken::decode_header(&old_access)
        .unwrap()
        .kid
        .unwrap();

    sqlx::query("UPDATE signing_keys SET retires_at = now()")
        .execute(&app.pool)
        .await
        .unwrap();
    app.running
        .as_ref()
        .unwrap()
        .state
        .tokens()
        .keys()
        .rotate_if_due()
        .await
        .unwrap();
    let new_access = token_of(app.access(&login).await).await;

    let new_kid = jsonwebtoken::decode_header(&new_access)
        .unwrap()
        .kid
        .unwrap();
    assert_ne!(old_kid, new_kid, "a new key signs after rotation");
    let keys = jwks(&app).await;
    let kids: Vec<&str> = keys["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap())
        .collect();
    assert!(kids.contains(&old_kid.as_str()) && kids.contains(&new_kid.as_str()));
    assert!(verify_against(&keys, &old_access, &app).is_ok());
    assert_eq!(app.profile(&old_access).await.status(), StatusCode::OK);
    assert_eq!(app.profile(&new_access).await.status(), StatusCode::OK);
}

fn forge(header: &Value, claims: &Value, signature: &[u8]) -> String {
    let part = |v: &Value| URL_SAFE_NO_PAD.encode(serde_json::to_vec(v).unwrap());
    format!(
        "{}.{}.{}",
        part(header),
        part(claims),
        URL_SAFE_NO_PAD.encode(signature)
    )
}

#[tokio::test]
async fn forged_tokens_are_rejected() {
    let app = TestApp::spawn().await;
    let login = token_of(app.login_after_signup("bob@example.org").await).await;
    let access = token_of(app.access(&login).await).await;
    let claims = claims_of(&access);
    let kid = jsonwebtoken::decode_header(&access).unwrap().kid.unwrap();

    let alg_none = forge(
        &json!({"alg": "none", "typ": "JWT", "kid": kid}),
        &claims,
        b"",
    );
    let mut hs256 = Header::new(Algorithm::HS256);
    hs256.kid = Some(kid.clone());
    let hs256 = jsonwebtoken::encode(
        &hs256,
        &claims,
        &EncodingKey::from_secret(b"guessed").unwrap(),
    )
    .unwrap();
    let foreign_key = p256::ecdsa::SigningKey::generate();
    let foreign_der = foreign_key.to_pkcs8_der().unwrap();
    let mut same_kid = Header::new(Algorithm::ES256);
    same_kid.kid = Some(kid);
    let foreign_same_kid = jsonwebtoken::encode(
        &same_kid,
        &claims,
        &EncodingKey::from_ec_der(foreign_der.as_bytes()),
    )
    .unwrap();
    let mut other_kid = Header::new(Algorithm::ES256);
    other_kid.kid = Some("unknown-kid".into());
    let foreign_other_kid = jsonwebtoken::encode(
        &other_kid,
        &claims,
        &EncodingKey::from_ec_der(foreign_der.as_bytes()),
    )
    .unwrap();
    let mut tampered_claims = claims.clone();
    tampered_claims["sub"] = json!("someone-else");
    let parts: Vec<&str> = access.split('.').collect();
    let tampered = format!(
        "{}.{}.{}",
        parts[0],
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(&tampered_claims).unwrap()),
        parts[2]
    );

    for forged in [
        alg_none,
        hs256,
        foreign_same_kid,
        foreign_other_kid,
        tampered,
    ] {
        let response = app.profile(&forged).await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{forged}");
        assert_eq!(error_code(response).await, 401001);
    }
    assert_eq!(app.profile(&access).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn expired_tokens_are_rejected() {
    let app = TestApp::spawn_with(|s| s.auth.access_token_ttl_secs = 1).await;
    let login = token_of(app.login_after_signup("bob@example.org").await).await;
    let access = token_of(app.access(&login).await).await;
    assert_eq!(app.profile(&access).await.status(), StatusCode::OK);

    // One second of lifetime plus the five seconds of tolerated clock skew.
    tokio::time::sleep(std::time::Duration::from_millis(7_100)).await;

    let response = app.profile(&access).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(error_code(response).await, 401001);
}

#[tokio::test]
async fn an_id_token_is_no_access_token_and_vice_versa() {
    let app = TestApp::spawn().await;
    let login = token_of(app.login_after_signup("bob@example.org").await).await;

    let response = app.profile(&login).await;

    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let header_wins = app
        .client
        .get(app.url("/id/v3/profile"))
        .bearer_auth(&login)
        .header(
            "cookie",
            format!("acct={}", token_of(app.access(&login).await).await),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(
        header_wins.status(),
        StatusCode::UNAUTHORIZED,
        "the Authorization header wins over the cookie"
    );
}
