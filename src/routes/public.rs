//! Public information about a person (#43): by uid without authentication,
//! by verified address with a UID token; and about an organization (#45); answered with an `ETag`, and 304
//! for a matching `If-None-Match`.

use axum::extract::{Path, State};
use axum::http::header::{CONTENT_TYPE, ETAG};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use skalio_id_projections::organization_view::{self, OrganizationRow};
use skalio_id_projections::profile_view::ProfileRow;
use skalio_id_projections::{email_view, profile_view};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::app::AppState;
use crate::error::{ApiError, ErrorBody};
use crate::etag;
use crate::extract::{ApiQuery, verify_uid_token};
use crate::fingerprint::{self, Emoji};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(public_profile))
        .routes(routes!(public_organization))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UidTokenQuery {
    /// A UID token; needed to look a person up by address.
    #[serde(rename = "_uidt")]
    uid_token: Option<String>,
}

/// What anyone may know about a person.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PublicProfile {
    uid: String,
    name: Option<String>,
    /// The primary address if it is verified; empty otherwise.
    email: String,
    has_avatar: bool,
    fingerprint: Vec<Emoji>,
    locale: String,
    time_zone: String,
}

/// The person `key` names: a uid, or (with a valid UID token) one of their
/// verified addresses.
pub async fn find_person(
    state: &AppState,
    key: &str,
    uid_token: Option<&str>,
) -> Result<ProfileRow, ApiError> {
    let not_found = || ApiError::not_found("No profile matches the key.");
    let person = if key.contains('@') {
        let token =
            uid_token.ok_or_else(|| ApiError::unauthenticated("A UID token is required."))?;
        verify_uid_token(state, token).await?;
        let email = email_view::find(state.pool(), key)
            .await?
            .filter(|e| e.is_verified);
        email.ok_or_else(not_found)?.person_id
    } else {
        key.to_string()
    };
    profile_view::find(state.pool(), &person)
        .await?
        .ok_or_else(not_found)
}

/// The public profile of `person`, who exists.
pub async fn public_profile_of(state: &AppState, person: &str) -> Result<PublicProfile, ApiError> {
    let row = profile_view::find(state.pool(), person)
        .await?
        .ok_or_else(|| ApiError::not_found("No profile matches the key."))?;
    public_profile_from(state, row).await
}

async fn public_profile_from(
    state: &AppState,
    person: ProfileRow,
) -> Result<PublicProfile, ApiError> {
    let email = verified_primary(state, &person.person_id).await?;
    Ok(PublicProfile {
        fingerprint: fingerprint::of(&person.person_id),
        uid: person.person_id,
        name: person.name,
        email,
        has_avatar: person.has_avatar,
        locale: person.locale,
        time_zone: person.time_zone,
    })
}

async fn verified_primary(state: &AppState, person: &str) -> Result<String, ApiError> {
    let emails = email_view::of_person(state.pool(), person).await?;
    let primary = emails.into_iter().find(|e| e.is_primary && e.is_verified);
    Ok(primary.map(|e| e.address).unwrap_or_default())
}

/// The public profile of a person. No authentication by uid; a UID token
/// (`_uidt`) by verified address.
#[utoipa::path(get, path = "/id/v3/public/profile/{key}", tag = "Public",
    params(("key" = String, Path, description = "The uid or a verified address of a person."), UidTokenQuery),
    responses(
        (status = 200, description = "The public profile.", body = PublicProfile,
            headers(("ETag" = String))),
        (status = 304, description = "Unchanged since the tag in If-None-Match."),
        (status = 401, description = "The UID token is missing or not valid.", body = ErrorBody),
        (status = 403, description = "The account is disabled.", body = ErrorBody),
        (status = 404, description = "No profile matches the key.", body = ErrorBody),
    ))]
async fn public_profile(
    State(state): State<AppState>,
    Path(key): Path<String>,
    ApiQuery(query): ApiQuery<UidTokenQuery>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let person = find_person(&state, &key, query.uid_token.as_deref()).await?;
    if person.is_disabled {
        return Err(ApiError::forbidden("The account is disabled."));
    }
    let profile = public_profile_from(&state, person).await?;
    let body = serde_json::to_vec(&profile).map_err(|e| ApiError::internal(&e))?;
    Ok(conditional(
        &headers,
        body,
        HeaderValue::from_static("application/json"),
    ))
}

/// 304 when the client holds the current version, else the body with its tag.
pub fn conditional(request: &HeaderMap, body: Vec<u8>, content_type: HeaderValue) -> Response {
    let tag = etag::of(&body);
    let tag_value =
        HeaderValue::from_str(&tag).unwrap_or_else(|_| HeaderValue::from_static("\"\""));
    if etag::matches(request, &tag) {
        return (StatusCode::NOT_MODIFIED, [(ETAG, tag_value)]).into_response();
    }
    ([(ETAG, tag_value), (CONTENT_TYPE, content_type)], body).into_response()
}

/// What anyone may know about an organization; also how a person's
/// profile shows their organization.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct OrganizationSummary {
    uid: String,
    name: String,
    has_avatar: bool,
    /// Whether anyone may join by signing up; only the service's "free"
    /// organization allows that, and customer organizations never do.
    self_signup: bool,
    #[schema(example = "de_DE")]
    locale: String,
    time_zone: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    global_signature: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    legal_notice_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    privacy_policy_url: Option<String>,
    hostname: String,
    mfa_required: bool,
}

impl From<OrganizationRow> for OrganizationSummary {
    fn from(row: OrganizationRow) -> Self {
        let profile = row.profile.0;
        Self {
            uid: row.organization_id,
            name: profile.name,
            has_avatar: row.has_avatar,
            self_signup: false,
            locale: profile.locale.as_str().to_string(),
            time_zone: profile.time_zone,
            global_signature: profile.global_signature,
            legal_notice_url: profile.legal_notice_url,
            privacy_policy_url: profile.privacy_policy_url,
            hostname: row.hostname,
            mfa_required: row.mfa_required,
        }
    }
}

/// The public profile of an organization, by uid or by an active or
/// inactive hostname. No authentication.
#[utoipa::path(get, path = "/id/v3/public/organization/{key}", tag = "Public",
    params(("key" = String, Path, description = "The uid or a hostname of an organization.")),
    responses(
        (status = 200, description = "The organization.", body = OrganizationSummary,
            headers(("ETag" = String))),
        (status = 304, description = "Unchanged since the tag in If-None-Match."),
        (status = 404, description = "No organization matches the key.", body = ErrorBody),
    ))]
async fn public_organization(
    State(state): State<AppState>,
    Path(key): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let found = match organization_view::find(state.pool(), &key).await? {
        Some(row) => Some(row),
        None => organization_view::find_by_hostname(state.pool(), &key).await?,
    };
    let row = found.ok_or_else(|| ApiError::not_found("No organization matches the key."))?;
    let body =
        serde_json::to_vec(&OrganizationSummary::from(row)).map_err(|e| ApiError::internal(&e))?;
    Ok(conditional(
        &headers,
        body,
        HeaderValue::from_static("application/json"),
    ))
}
