//! Organization management: create (#67) and import the profile of (#68)
//! an organization as a service administrator; fetch (#47) and update
//! (#48) it, leave it (#49), fetch (#50) and update (#51) its profile.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::header::LOCATION;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use serde::{Deserialize, Serialize};
use skalio_id_aggregates::locale::Locale;
use skalio_id_aggregates::organization::{
    Actor, OrganizationCommand, OrganizationProfile, ProfileChanges, UpdateDetails,
    UpdateOrganizationProfile,
};
use skalio_id_projections::organization_view::OrganizationRow;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::BASE;
use crate::app::AppState;
use crate::authorization::{
    is_member, require_cluster_admin, require_member, require_mfa, require_org_admin,
};
use crate::error::{ApiError, ErrorBody};
use crate::event_store::RequestMeta;
use crate::extract::{AccessToken, ApiJson};
use crate::organizations::{self, NewOrganization, existing};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_organization))
        .routes(routes!(get_organization, update_organization))
        .routes(routes!(leave_organization))
        .routes(routes!(
            get_organization_profile,
            update_organization_profile
        ))
        .routes(routes!(import_organization_profile))
}

/// An organization's profile with its hostnames. Fields without a value
/// are left out.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct OrganizationProfileResponse {
    name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    address_line1: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    address_line2: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    post_code: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    city: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    state: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    country: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    phone_number: Option<String>,
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
    inactive_hostnames: Vec<String>,
}

impl From<&OrganizationRow> for OrganizationProfileResponse {
    fn from(row: &OrganizationRow) -> Self {
        let p = row.profile.0.clone();
        Self {
            name: p.name,
            address_line1: p.address_line1,
            address_line2: p.address_line2,
            post_code: p.post_code,
            city: p.city,
            state: p.state,
            country: p.country,
            phone_number: p.phone_number,
            locale: p.locale.as_str().to_string(),
            time_zone: p.time_zone,
            global_signature: p.global_signature,
            legal_notice_url: p.legal_notice_url,
            privacy_policy_url: p.privacy_policy_url,
            hostname: row.hostname.clone(),
            inactive_hostnames: row.inactive_hostnames.clone(),
        }
    }
}

/// An organization as its members see it.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct OrganizationResponse {
    mfa_required: bool,
    uid: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    external_uid: Option<String>,
    has_avatar: bool,
    profile: OrganizationProfileResponse,
    /// The organization's subscriptions; none until it subscribes.
    #[schema(value_type = Vec<Object>)]
    subscriptions: Vec<serde_json::Value>,
    member_count: i32,
    member_limit: i32,
}

impl From<OrganizationRow> for OrganizationResponse {
    fn from(row: OrganizationRow) -> Self {
        Self {
            profile: OrganizationProfileResponse::from(&row),
            mfa_required: row.mfa_required,
            uid: row.organization_id,
            external_uid: row.external_uid,
            has_avatar: row.has_avatar,
            subscriptions: Vec::new(),
            member_count: row.member_count,
            member_limit: row.member_limit,
        }
    }
}

/// Profile fields as requests give them; absent fields stay as they are,
/// an empty string clears an optional one.
#[derive(Deserialize, ToSchema, Default)]
#[serde(rename_all = "camelCase")]
pub struct ProfileFields {
    name: Option<String>,
    address_line1: Option<String>,
    address_line2: Option<String>,
    post_code: Option<String>,
    city: Option<String>,
    state: Option<String>,
    country: Option<String>,
    phone_number: Option<String>,
    #[schema(value_type = Option<String>, example = "de_DE")]
    locale: Option<Locale>,
    time_zone: Option<String>,
    global_signature: Option<String>,
    legal_notice_url: Option<String>,
    privacy_policy_url: Option<String>,
}

impl ProfileFields {
    fn into_changes(self) -> ProfileChanges {
        ProfileChanges {
            name: self.name,
            locale: self.locale,
            time_zone: self.time_zone,
            address_line1: self.address_line1,
            address_line2: self.address_line2,
            post_code: self.post_code,
            city: self.city,
            state: self.state,
            country: self.country,
            phone_number: self.phone_number,
            global_signature: self.global_signature,
            legal_notice_url: self.legal_notice_url,
            privacy_policy_url: self.privacy_policy_url,
        }
    }

    /// A complete profile: the name is required, locale and time zone
    /// default to `en_US` and `UTC`.
    fn into_profile(self) -> Result<OrganizationProfile, ApiError> {
        let name = self
            .name
            .clone()
            .ok_or_else(|| ApiError::malformed("The field name is required."))?;
        let base = OrganizationProfile::new(name, Locale::default(), "UTC".into());
        Ok(base.changed(self.into_changes())?)
    }
}

/// A profile with the organization's hostname, as migrations bring it.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ImportedProfile {
    #[serde(flatten)]
    profile: ProfileFields,
    /// The active hostname; a random one under the service's domain when
    /// absent at creation, unchanged when absent at import.
    hostname: Option<String>,
}

/// A new organization, as a migration brings it.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct OrganizationCreation {
    #[serde(flatten)]
    imported: ImportedProfile,
    /// Optional external uid, such as a Microsoft Entra tenant id.
    external_uid: Option<String>,
    /// How many members it may have; the configured default when absent.
    member_limit: Option<u32>,
    #[serde(default)]
    mfa_required: bool,
}

fn location(uid: &str) -> Result<HeaderValue, ApiError> {
    HeaderValue::from_str(&format!("{BASE}/organizations/{uid}"))
        .map_err(|e| ApiError::internal(&e))
}

async fn organization_response(
    state: &AppState,
    uid: &str,
) -> Result<Json<OrganizationResponse>, ApiError> {
    Ok(Json(existing(state, uid).await?.into()))
}

/// Creates an organization with its profile and hostname, without members
/// or subscriptions. For migrations; requires `Cluster.Admin`.
#[utoipa::path(post, path = "/id/v3/organizations", tag = "Organizations",
    request_body = OrganizationCreation,
    security(("accessToken" = [])),
    responses(
        (status = 201, description = "The organization is created.", body = OrganizationResponse,
            headers(("Location" = String))),
        (status = 400, description = "A field is missing or invalid.", body = ErrorBody),
        (status = 401, description = "The access token is missing or invalid.", body = ErrorBody),
        (status = 403, description = "Not a service administrator, or the hostname is in use.", body = ErrorBody),
    ))]
async fn create_organization(
    State(state): State<AppState>,
    AccessToken(token): AccessToken,
    meta: RequestMeta,
    ApiJson(request): ApiJson<OrganizationCreation>,
) -> Result<Response, ApiError> {
    require_cluster_admin(&token)?;
    let new = NewOrganization {
        profile: request.imported.profile.into_profile()?,
        hostname: request.imported.hostname,
        external_uid: request.external_uid,
        member_limit: request.member_limit,
        mfa_required: request.mfa_required,
    };
    let uid = organizations::create(&state, new, &meta.acting_as(&token.sub)).await?;
    let body = organization_response(&state, &uid).await?;
    Ok((StatusCode::CREATED, [(LOCATION, location(&uid)?)], body).into_response())
}

/// Returns the organization. Requires an access token of a member.
#[utoipa::path(get, path = "/id/v3/organizations/{uid}", tag = "Organizations",
    params(("uid" = String, Path, description = "The organization's uid.")),
    security(("accessToken" = [])),
    responses(
        (status = 200, description = "The organization.", body = OrganizationResponse),
        (status = 401, description = "The access token is missing or invalid.", body = ErrorBody),
        (status = 403, description = "Not a member of the organization.", body = ErrorBody),
        (status = 404, description = "No such organization.", body = ErrorBody),
    ))]
async fn get_organization(
    State(state): State<AppState>,
    AccessToken(token): AccessToken,
    Path(uid): Path<String>,
) -> Result<Json<OrganizationResponse>, ApiError> {
    let organization = existing(&state, &uid).await?;
    require_member(&token, &uid)?;
    Ok(Json(organization.into()))
}

/// Technical details an administrator may change.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DetailsUpdate {
    mfa_required: bool,
}

/// Updates technical details of the organization. Requires an access token
/// of an `Organization.Admin` who authenticated with a second factor.
#[utoipa::path(put, path = "/id/v3/organizations/{uid}", tag = "Organizations",
    params(("uid" = String, Path, description = "The organization's uid.")),
    request_body = DetailsUpdate,
    security(("accessToken" = [])),
    responses(
        (status = 200, description = "The updated organization.", body = OrganizationResponse),
        (status = 400, description = "A field is missing or invalid.", body = ErrorBody),
        (status = 401, description = "The access token is missing or invalid.", body = ErrorBody),
        (status = 403, description = "Not an administrator, or without multi-factor authentication.", body = ErrorBody),
        (status = 404, description = "No such organization.", body = ErrorBody),
    ))]
async fn update_organization(
    State(state): State<AppState>,
    AccessToken(token): AccessToken,
    meta: RequestMeta,
    Path(uid): Path<String>,
    ApiJson(update): ApiJson<DetailsUpdate>,
) -> Result<Json<OrganizationResponse>, ApiError> {
    existing(&state, &uid).await?;
    require_org_admin(&token, &uid)?;
    require_mfa(&token)?;
    let command = OrganizationCommand::UpdateDetails(UpdateDetails {
        by: Actor::Member(token.sub.clone()),
        mfa_required: update.mfa_required,
        at: Utc::now(),
    });
    state
        .bus()
        .organization(&uid, command, &meta.acting_as(&token.sub))
        .await?;
    organization_response(&state, &uid).await
}

/// Ends the caller's membership. Every earlier token dies; the new ID
/// token comes in the `Authorization` header. The last administrator
/// cannot leave.
#[utoipa::path(post, path = "/id/v3/organizations/{uid}/leave", tag = "Organizations",
    params(("uid" = String, Path, description = "The organization's uid.")),
    security(("accessToken" = [])),
    responses(
        (status = 204, description = "The person left; a new ID token is issued.",
            headers(("Authorization" = String))),
        (status = 401, description = "The access token is missing or invalid.", body = ErrorBody),
        (status = 403, description = "The last administrator cannot leave.", body = ErrorBody),
        (status = 404, description = "No such organization, or not a member of it.", body = ErrorBody),
    ))]
async fn leave_organization(
    State(state): State<AppState>,
    AccessToken(token): AccessToken,
    meta: RequestMeta,
    Path(uid): Path<String>,
) -> Result<Response, ApiError> {
    existing(&state, &uid).await?;
    if !is_member(&token, &uid) {
        return Err(ApiError::not_found(
            "The person is not a member of this organization.",
        ));
    }
    let renewed = organizations::leave(&state, &uid, &token, &meta).await?;
    let mut response = StatusCode::NO_CONTENT.into_response();
    super::deliver_in_header(&mut response, &renewed);
    Ok(response)
}

/// Returns the organization's profile. Requires an access token of a member.
#[utoipa::path(get, path = "/id/v3/organizations/{uid}/profile", tag = "Organizations",
    params(("uid" = String, Path, description = "The organization's uid.")),
    security(("accessToken" = [])),
    responses(
        (status = 200, description = "The profile.", body = OrganizationProfileResponse),
        (status = 401, description = "The access token is missing or invalid.", body = ErrorBody),
        (status = 403, description = "Not a member of the organization.", body = ErrorBody),
        (status = 404, description = "No such organization.", body = ErrorBody),
    ))]
async fn get_organization_profile(
    State(state): State<AppState>,
    AccessToken(token): AccessToken,
    Path(uid): Path<String>,
) -> Result<Json<OrganizationProfileResponse>, ApiError> {
    let organization = existing(&state, &uid).await?;
    require_member(&token, &uid)?;
    Ok(Json((&organization).into()))
}

/// Changes the organization's profile; every member hears of it through an
/// `ORGANIZATION_PROFILE_UPDATED` SignalingEvent. Requires an access token
/// of an `Organization.Admin`.
#[utoipa::path(put, path = "/id/v3/organizations/{uid}/profile", tag = "Organizations",
    params(("uid" = String, Path, description = "The organization's uid.")),
    request_body = ProfileFields,
    security(("accessToken" = [])),
    responses(
        (status = 200, description = "The updated profile.", body = OrganizationProfileResponse),
        (status = 400, description = "A field is invalid.", body = ErrorBody),
        (status = 401, description = "The access token is missing or invalid.", body = ErrorBody),
        (status = 403, description = "Not an administrator of the organization.", body = ErrorBody),
        (status = 404, description = "No such organization.", body = ErrorBody),
    ))]
async fn update_organization_profile(
    State(state): State<AppState>,
    AccessToken(token): AccessToken,
    meta: RequestMeta,
    Path(uid): Path<String>,
    ApiJson(fields): ApiJson<ProfileFields>,
) -> Result<Json<OrganizationProfileResponse>, ApiError> {
    existing(&state, &uid).await?;
    require_org_admin(&token, &uid)?;
    let command = OrganizationCommand::UpdateProfile(UpdateOrganizationProfile {
        by: Actor::Member(token.sub.clone()),
        changes: fields.into_changes(),
        at: Utc::now(),
    });
    state
        .bus()
        .organization(&uid, command, &meta.acting_as(&token.sub))
        .await?;
    Ok(Json((&existing(&state, &uid).await?).into()))
}

/// Overwrites the profile and hostname of an organization; the former
/// hostname stays the organization's as an inactive one. Memberships and
/// subscriptions are unchanged. For migrations; requires `Cluster.Admin`.
#[utoipa::path(put, path = "/id/v3/organizations/{uid}/import/person", tag = "Organizations",
    params(("uid" = String, Path, description = "The organization's uid.")),
    request_body = ImportedProfile,
    security(("accessToken" = [])),
    responses(
        (status = 200, description = "The updated organization.", body = OrganizationResponse),
        (status = 400, description = "A field is missing or invalid.", body = ErrorBody),
        (status = 401, description = "The access token is missing or invalid.", body = ErrorBody),
        (status = 403, description = "Not a service administrator, or the hostname is in use.", body = ErrorBody),
        (status = 404, description = "No such organization.", body = ErrorBody),
    ))]
async fn import_organization_profile(
    State(state): State<AppState>,
    AccessToken(token): AccessToken,
    meta: RequestMeta,
    Path(uid): Path<String>,
    ApiJson(imported): ApiJson<ImportedProfile>,
) -> Result<Json<OrganizationResponse>, ApiError> {
    require_cluster_admin(&token)?;
    existing(&state, &uid).await?;
    let profile = imported.profile.into_profile()?;
    let meta = meta.acting_as(&token.sub);
    organizations::import_profile(&state, &uid, profile, imported.hostname, &meta).await?;
    organization_response(&state, &uid).await
}
