//! Profile management: get (#22) and update (#23) the principal's profile.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use skalio_id_aggregates::locale::Locale;
use skalio_id_aggregates::person::{PersonCommand, UpdateProfile};
use skalio_id_projections::email_view::{self, EmailRow};
use skalio_id_projections::{membership_view, organization_view, profile_view};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::public::OrganizationSummary;
use crate::accounts;
use crate::app::AppState;
use crate::error::{ApiError, ErrorBody};
use crate::event_store::RequestMeta;
use crate::extract::{AccessToken, ApiJson};
use crate::fingerprint::{self, Emoji};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(get_profile, update_profile, delete_account))
}

/// An address of the principal.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EmailResponse {
    address: String,
    primary: bool,
    verified: bool,
    /// When an unverified address is removed; null once verified.
    remove_at: Option<String>,
}

impl From<EmailRow> for EmailResponse {
    fn from(email: EmailRow) -> Self {
        Self {
            address: email.address,
            primary: email.is_primary,
            verified: email.is_verified,
            remove_at: email.remove_at.map(timestamp),
        }
    }
}

/// The complete profile of the principal.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProfileResponse {
    name: Option<String>,
    #[schema(example = "de_DE")]
    locale: String,
    time_zone: String,
    uid: String,
    has_avatar: bool,
    fingerprint: Vec<Emoji>,
    created_at: String,
    last_login_at: Option<String>,
    emails: Vec<EmailResponse>,
    /// Membership of an organization, or null if not a member.
    membership: Option<MembershipResponse>,
}

/// The organization a person belongs to and their roles in it.
#[derive(Serialize, ToSchema)]
pub struct MembershipResponse {
    organization: OrganizationSummary,
    roles: Vec<String>,
}

async fn membership_of(
    state: &AppState,
    person: &str,
) -> Result<Option<MembershipResponse>, ApiError> {
    let Some(membership) = membership_view::of_person(state.pool(), person).await? else {
        return Ok(None);
    };
    let organization = organization_view::find(state.pool(), &membership.organization_id).await?;
    Ok(organization.map(|o| MembershipResponse {
        organization: o.into(),
        roles: membership.roles,
    }))
}

/// Renders a timestamp as the document wants: ISO 8601 with offset.
pub fn timestamp(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Secs, false)
}

async fn load_profile(state: &AppState, person: &str) -> Result<ProfileResponse, ApiError> {
    let profile = profile_view::find(state.pool(), person)
        .await?
        .ok_or_else(|| ApiError::not_found("No person matches the token."))?;
    let emails = email_view::of_person(state.pool(), person).await?;
    let membership = membership_of(state, person).await?;
    Ok(ProfileResponse {
        name: profile.name,
        locale: profile.locale,
        time_zone: profile.time_zone,
        fingerprint: fingerprint::of(&profile.person_id),
        uid: profile.person_id,
        has_avatar: profile.has_avatar,
        created_at: timestamp(profile.created_at),
        last_login_at: profile.last_login_at.map(timestamp),
        emails: emails.into_iter().map(EmailResponse::from).collect(),
        membership,
    })
}

/// Returns the complete profile of the principal. Requires an access token.
#[utoipa::path(get, path = "/id/v3/profile", tag = "Profile",
    security(("accessToken" = [])),
    responses(
        (status = 200, description = "The profile.", body = ProfileResponse),
        (status = 401, description = "The access token is missing or invalid.", body = ErrorBody),
    ))]
async fn get_profile(
    State(state): State<AppState>,
    AccessToken(token): AccessToken,
) -> Result<Json<ProfileResponse>, ApiError> {
    Ok(Json(load_profile(&state, &token.sub).await?))
}

/// The fields a person may change here; absent fields stay as they are.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ProfileUpdate {
    name: Option<String>,
    #[schema(value_type = Option<String>, example = "de_DE")]
    locale: Option<Locale>,
    time_zone: Option<String>,
}

/// Changes name, locale or time zone of the principal and returns the new
/// profile. Requires an access token.
#[utoipa::path(put, path = "/id/v3/profile", tag = "Profile",
    request_body = ProfileUpdate,
    security(("accessToken" = [])),
    responses(
        (status = 200, description = "The updated profile.", body = ProfileResponse),
        (status = 400, description = "A value is invalid.", body = ErrorBody),
        (status = 401, description = "The access token is missing or invalid.", body = ErrorBody),
    ))]
async fn update_profile(
    State(state): State<AppState>,
    AccessToken(token): AccessToken,
    meta: RequestMeta,
    ApiJson(update): ApiJson<ProfileUpdate>,
) -> Result<Json<ProfileResponse>, ApiError> {
    let command = PersonCommand::UpdateProfile(UpdateProfile {
        name: update.name,
        locale: update.locale,
        time_zone: update.time_zone,
    });

    state
        .bus()
        .person(&token.sub, command, &meta.acting_as(&token.sub))
        .await?;

    Ok(Json(load_profile(&state, &token.sub).await?))
}

/// Deletes the account for good: every token dies, the person's personal
/// data in the event log becomes unreadable, the read models forget them
/// and their addresses are free again. Requires an access token.
#[utoipa::path(delete, path = "/id/v3/profile", tag = "Profile",
    security(("accessToken" = [])),
    responses(
        (status = 204, description = "The account is deleted."),
        (status = 401, description = "The access token is missing or invalid.", body = ErrorBody),
        (status = 403, description = "The person is the last administrator of an organization with other members.", body = ErrorBody),
    ))]
async fn delete_account(
    State(state): State<AppState>,
    AccessToken(token): AccessToken,
    meta: RequestMeta,
) -> Result<StatusCode, ApiError> {
    accounts::delete_account(&state, &token.sub, &meta).await?;
    Ok(StatusCode::NO_CONTENT)
}
