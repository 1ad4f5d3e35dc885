//! OpenID Connect discovery (#3), also at `/.well-known/openid-configuration`.

use axum::Json;
use axum::extract::State;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::app::AppState;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(discovery))
        .routes(routes!(well_known_discovery))
}

/// The discovery document: the document's field names, and the standard
/// OpenID Connect names for what this service supports, so that both
/// Skalio clients and generic JWT libraries find the key set.
#[derive(Serialize, ToSchema)]
pub struct Discovery {
    issuer: String,
    #[serde(rename = "jwksUrl")]
    jwks_url: String,
    #[serde(rename = "authUrl")]
    auth_url: Option<String>,
    #[serde(rename = "tokenUrl")]
    token_url: Option<String>,
    #[serde(rename = "userinfoUrl")]
    userinfo_url: Option<String>,
    #[serde(rename = "revocationUrl")]
    revocation_url: Option<String>,
    #[serde(rename = "responseTypes")]
    response_types: Option<Vec<String>>,
    #[serde(rename = "responseModes")]
    response_modes: Option<Vec<String>>,
    scopes: Option<Vec<String>>,
    #[serde(rename = "grantTypes")]
    grant_types: Option<Vec<String>>,
    jwks_uri: String,
    id_token_signing_alg_values_supported: Vec<&'static str>,
    subject_types_supported: Vec<&'static str>,
}

/// Returns the discovery document; currently it names the JSON Web Key Set.
/// No authentication.
#[utoipa::path(get, path = "/id/v3/oidc/discovery", tag = "OIDC",
    responses((status = 200, description = "The discovery document.", body = Discovery)))]
async fn discovery(State(state): State<AppState>) -> Json<Discovery> {
    let jwks = format!("{}/id/v3/auth/keys", state.settings().public_url());
    Json(Discovery {
        issuer: state.settings().issuer(),
        jwks_url: jwks.clone(),
        auth_url: None,
        token_url: None,
        userinfo_url: None,
        revocation_url: None,
        response_types: None,
        response_modes: None,
        scopes: None,
        grant_types: None,
        jwks_uri: jwks,
        id_token_signing_alg_values_supported: vec!["ES256"],
        subject_types_supported: vec!["public"],
    })
}

/// The same discovery document at the path OpenID Connect clients look for.
/// No authentication.
#[utoipa::path(get, path = "/.well-known/openid-configuration", tag = "OIDC",
    responses((status = 200, description = "The discovery document.", body = Discovery)))]
async fn well_known_discovery(state: State<AppState>) -> Json<Discovery> {
    discovery(state).await
}
