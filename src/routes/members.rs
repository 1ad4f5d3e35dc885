//! Membership management: list (#59), assign roles (#60), get (#61) and
//! remove (#62) members as an `Organization.Admin`; and import a person
//! into an organization (#69) as a service administrator.

use std::collections::HashMap;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::header::LOCATION;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use serde::{Deserialize, Serialize};
use skalio_id_aggregates::locale::Locale;
use skalio_id_aggregates::organization::{Actor, AssignRoles};
use skalio_id_projections::email_view;
use skalio_id_projections::membership_view::{self, MembershipRow};
use skalio_id_projections::profile_view::{self, ProfileRow};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::BASE;
use super::profile::{EmailResponse, timestamp};
use super::public::{PublicProfile, public_profile_of};
use crate::app::AppState;
use crate::authorization::{require_cluster_admin, require_org_admin};
use crate::error::{ApiError, ErrorBody};
use crate::event_store::RequestMeta;
use crate::extract::{AccessToken, ApiJson, ApiQuery};
use crate::organizations::{self, ImportedPerson, existing};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_members, assign_roles))
        .routes(routes!(get_member, remove_member))
        .routes(routes!(import_person))
}

/// A member as administrators see them.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MemberResponse {
    uid: String,
    name: Option<String>,
    #[schema(example = "de_DE")]
    locale: String,
    time_zone: String,
    has_avatar: bool,
    created_at: String,
    last_login_at: Option<String>,
    emails: Vec<EmailResponse>,
    roles: Vec<String>,
    /// The organization's note about the member.
    reference: Option<String>,
}

/// All members of an organization.
#[derive(Serialize, ToSchema)]
pub struct MemberList {
    members: Vec<MemberResponse>,
}

/// The members' responses, in the order of `memberships`, from one query
/// for the profiles and one for the addresses, however many there are.
/// A member whose profile is gone (an account deleted a moment ago) is left
/// out.
async fn member_responses(
    state: &AppState,
    memberships: Vec<MembershipRow>,
) -> Result<Vec<MemberResponse>, ApiError> {
    let people: Vec<String> = memberships.iter().map(|m| m.person_id.clone()).collect();
    let mut profiles: HashMap<String, ProfileRow> = profile_view::find_many(state.pool(), &people)
        .await?
        .into_iter()
        .map(|p| (p.person_id.clone(), p))
        .collect();
    let mut emails: HashMap<String, Vec<EmailResponse>> = HashMap::new();
    for email in email_view::of_persons(state.pool(), &people).await? {
        let person = email.person_id.clone();
        emails.entry(person).or_default().push(email.into());
    }
    Ok(memberships
        .into_iter()
        .filter_map(|membership| {
            let profile = profiles.remove(&membership.person_id)?;
            Some(MemberResponse {
                emails: emails.remove(&profile.person_id).unwrap_or_default(),
                uid: profile.person_id,
                name: profile.name,
                locale: profile.locale,
                time_zone: profile.time_zone,
                has_avatar: profile.has_avatar,
                created_at: timestamp(profile.created_at),
                last_login_at: profile.last_login_at.map(timestamp),
                roles: membership.roles,
                reference: membership.reference,
            })
        })
        .collect())
}

/// One member's response, or 404 when their profile is gone.
async fn member_response(
    state: &AppState,
    membership: MembershipRow,
) -> Result<MemberResponse, ApiError> {
    member_responses(state, vec![membership])
        .await?
        .pop()
        .ok_or_else(|| ApiError::not_found("No such person."))
}

/// The membership of `person` in `organization`, or 404.
async fn membership_in(
    state: &AppState,
    organization: &str,
    person: &str,
) -> Result<MembershipRow, ApiError> {
    membership_view::of_person(state.pool(), person)
        .await?
        .filter(|m| m.organization_id == organization)
        .ok_or_else(|| ApiError::not_found("The person is not a member of this organization."))
}

/// Returns every member of the organization. Requires an access token of an
/// `Organization.Admin`.
#[utoipa::path(get, path = "/id/v3/organizations/{uid}/members", tag = "Organizations",
    params(("uid" = String, Path, description = "The organization's uid.")),
    security(("accessToken" = [])),
    responses(
        (status = 200, description = "The members.", body = MemberList),
        (status = 401, description = "The access token is missing or invalid.", body = ErrorBody),
        (status = 403, description = "Not an administrator of the organization.", body = ErrorBody),
        (status = 404, description = "No such organization.", body = ErrorBody),
    ))]
async fn list_members(
    State(state): State<AppState>,
    AccessToken(token): AccessToken,
    Path(uid): Path<String>,
) -> Result<Json<MemberList>, ApiError> {
    existing(&state, &uid).await?;
    require_org_admin(&token, &uid)?;
    let memberships = membership_view::of_organization(state.pool(), &uid).await?;
    let members = member_responses(&state, memberships).await?;
    Ok(Json(MemberList { members }))
}

/// New roles for a member.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RoleAssignment {
    /// The member's person uid.
    uid: String,
    roles: Vec<String>,
    /// The organization's note about the member; unchanged when absent.
    reference: Option<String>,
}

/// Replaces the roles of a member. Their tokens die; an administrator who
/// changed their own roles gets a new ID token in `Authorization`. Nobody
/// can drop their own `Organization.Admin` role. Requires an access token
/// of an `Organization.Admin`.
#[utoipa::path(post, path = "/id/v3/organizations/{uid}/members", tag = "Organizations",
    params(("uid" = String, Path, description = "The organization's uid.")),
    request_body = RoleAssignment,
    security(("accessToken" = [])),
    responses(
        (status = 201, description = "The member with the new roles.", body = MemberResponse,
            headers(("Location" = String), ("Authorization" = String, description = "A new ID token, when the caller changed their own roles"))),
        (status = 400, description = "A field is missing or invalid.", body = ErrorBody),
        (status = 401, description = "The access token is missing or invalid.", body = ErrorBody),
        (status = 403, description = "Not an administrator, the person is not a member, or an administrator dropping their own role.", body = ErrorBody),
        (status = 404, description = "No such organization.", body = ErrorBody),
    ))]
async fn assign_roles(
    State(state): State<AppState>,
    AccessToken(token): AccessToken,
    meta: RequestMeta,
    Path(uid): Path<String>,
    ApiJson(request): ApiJson<RoleAssignment>,
) -> Result<Response, ApiError> {
    existing(&state, &uid).await?;
    require_org_admin(&token, &uid)?;
    let person = request.uid.clone();
    let assignment = AssignRoles {
        by: Actor::Member(token.sub.clone()),
        person: request.uid,
        roles: request.roles,
        reference: request.reference,
        at: Utc::now(),
    };
    let renewed = organizations::assign_roles(&state, &uid, &token, assignment, &meta).await?;
    let membership = membership_in(&state, &uid, &person).await?;
    let body = member_response(&state, membership).await?;
    let location = HeaderValue::from_str(&format!("{BASE}/organizations/{uid}/members/{person}"))
        .map_err(|e| ApiError::internal(&e))?;
    let mut response = (StatusCode::CREATED, [(LOCATION, location)], Json(body)).into_response();
    if let Some(renewed) = renewed {
        super::deliver_in_header(&mut response, &renewed);
    }
    Ok(response)
}

/// Returns a member. Requires an access token of an `Organization.Admin`.
#[utoipa::path(get, path = "/id/v3/organizations/{uid}/members/{personUid}", tag = "Organizations",
    params(("uid" = String, Path, description = "The organization's uid."),
        ("personUid" = String, Path, description = "The member's person uid.")),
    security(("accessToken" = [])),
    responses(
        (status = 200, description = "The member.", body = MemberResponse),
        (status = 401, description = "The access token is missing or invalid.", body = ErrorBody),
        (status = 403, description = "Not an administrator of the organization.", body = ErrorBody),
        (status = 404, description = "No such organization or member.", body = ErrorBody),
    ))]
async fn get_member(
    State(state): State<AppState>,
    AccessToken(token): AccessToken,
    Path((uid, person)): Path<(String, String)>,
) -> Result<Json<MemberResponse>, ApiError> {
    existing(&state, &uid).await?;
    require_org_admin(&token, &uid)?;
    let membership = membership_in(&state, &uid, &person).await?;
    member_response(&state, membership).await.map(Json)
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RemovalQuery {
    /// Tell the person by mail, at their primary address, that their
    /// account was deleted.
    #[serde(default)]
    inform: bool,
}

/// Removes a member, which deletes their account and every token. The last
/// administrator cannot be removed. Requires an access token of an
/// `Organization.Admin`.
#[utoipa::path(delete, path = "/id/v3/organizations/{uid}/members/{personUid}", tag = "Organizations",
    params(("uid" = String, Path, description = "The organization's uid."),
        ("personUid" = String, Path, description = "The member's person uid."), RemovalQuery),
    security(("accessToken" = [])),
    responses(
        (status = 204, description = "The member and their account are gone."),
        (status = 401, description = "The access token is missing or invalid.", body = ErrorBody),
        (status = 403, description = "Not an administrator, or the last administrator.", body = ErrorBody),
        (status = 404, description = "No such organization or member.", body = ErrorBody),
    ))]
async fn remove_member(
    State(state): State<AppState>,
    AccessToken(token): AccessToken,
    meta: RequestMeta,
    Path((uid, person)): Path<(String, String)>,
    ApiQuery(query): ApiQuery<RemovalQuery>,
) -> Result<StatusCode, ApiError> {
    existing(&state, &uid).await?;
    require_org_admin(&token, &uid)?;
    membership_in(&state, &uid, &person).await?;
    organizations::remove_member(&state, &uid, &token, &person, query.inform, &meta).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A person as a migration brings them.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PersonImport {
    email: String,
    name: Option<String>,
    /// A bcrypt hash (`$2a$`, `$2b$` or `$2y$`) that becomes the password.
    password_hash: Option<String>,
    #[schema(value_type = Option<String>, example = "de_DE")]
    locale: Option<Locale>,
    time_zone: Option<String>,
    #[serde(default)]
    roles: Vec<String>,
}

/// Imports a person into the organization: found by address or created
/// with that address verified and the given password hash, then made a
/// member with the given roles (or given those roles if a member already).
/// For migrations; requires `Cluster.Admin`.
#[utoipa::path(post, path = "/id/v3/organizations/{uid}/import/person", tag = "Organizations",
    params(("uid" = String, Path, description = "The organization's uid.")),
    request_body = PersonImport,
    security(("accessToken" = [])),
    responses(
        (status = 201, description = "The person's public profile.", body = PublicProfile,
            headers(("Location" = String))),
        (status = 400, description = "A field is missing or invalid.", body = ErrorBody),
        (status = 401, description = "The access token is missing or invalid.", body = ErrorBody),
        (status = 403, description = "Not a service administrator, the person is a member elsewhere, or the organization is full.", body = ErrorBody),
        (status = 404, description = "No such organization.", body = ErrorBody),
    ))]
async fn import_person(
    State(state): State<AppState>,
    AccessToken(token): AccessToken,
    meta: RequestMeta,
    Path(uid): Path<String>,
    ApiJson(request): ApiJson<PersonImport>,
) -> Result<Response, ApiError> {
    require_cluster_admin(&token)?;
    existing(&state, &uid).await?;
    let imported = ImportedPerson {
        address: request.email,
        name: request.name,
        password_hash: request.password_hash,
        locale: request.locale.unwrap_or_default(),
        time_zone: request.time_zone.unwrap_or_else(|| "UTC".into()),
        roles: request.roles,
    };
    let meta = meta.acting_as(&token.sub);
    let person = organizations::import_person(&state, &uid, imported, &meta).await?;
    let profile = public_profile_of(&state, &person).await?;
    let location = HeaderValue::from_str(&format!("{BASE}/public/profile/{person}"))
        .map_err(|e| ApiError::internal(&e))?;
    Ok((StatusCode::CREATED, [(LOCATION, location)], Json(profile)).into_response())
}
