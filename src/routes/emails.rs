//! Email address management: list (#28), add (#29), delete (#30), mark
//! primary (#31), request verification (#32), confirm (#33).

use axum::Json;
use axum::extract::{Path, State};
use axum::http::header::LOCATION;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::{Duration, Utc};
use serde::{Deserialize, Serialize};
use skalio_id_aggregates::person::{
    AddEmailAddress, MarkEmailAddressPrimary, PersonCommand, RemoveEmailAddress,
    RequestEmailVerification,
};
use skalio_id_projections::email_view;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::profile::EmailResponse;
use crate::accounts;
use crate::app::AppState;
use crate::error::{ApiError, ErrorBody};
use crate::event_store::RequestMeta;
use crate::extract::{AccessToken, ApiJson};
use crate::rate_limit;
use crate::sessions;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, add))
        .routes(routes!(remove))
        .routes(routes!(mark_primary))
        .routes(routes!(request_verification))
        .routes(routes!(confirm))
}

/// Which verification step a person is limited on, once a minute each.
#[derive(Clone, Copy)]
enum Step {
    Request,
    Confirm,
}

/// Answers the document's 429 (code 429002, `Retry-After`) when the person
/// asked or confirmed too recently.
async fn limit(state: &AppState, person: &str, step: Step) -> Result<(), ApiError> {
    let step = match step {
        Step::Request => "request",
        Step::Confirm => "confirm",
    };
    let bucket = format!("email-verification-{step}:{person}");
    let settings = state.settings().rate_limits.email_verification;
    let limit = rate_limit::add_drop(state.pool(), &bucket, settings).await?;
    if !limit.accepted {
        return Err(ApiError::too_many_requests(limit.retry_after_secs));
    }
    Ok(())
}

#[derive(Serialize, ToSchema)]
pub struct EmailList {
    emails: Vec<EmailResponse>,
}

/// Lists every address of the person. Requires an access token.
#[utoipa::path(get, path = "/id/v3/profile/emails", tag = "Profile",
    security(("accessToken" = [])),
    responses(
        (status = 200, description = "The addresses.", body = EmailList),
        (status = 401, description = "The access token is missing or invalid.", body = ErrorBody),
    ))]
async fn list(
    State(state): State<AppState>,
    AccessToken(token): AccessToken,
) -> Result<Json<EmailList>, ApiError> {
    let emails = email_view::of_person(state.pool(), &token.sub).await?;
    Ok(Json(EmailList {
        emails: emails.into_iter().map(EmailResponse::from).collect(),
    }))
}

#[derive(Deserialize, ToSchema)]
pub struct NewAddress {
    address: String,
}

/// Adds an unverified secondary address and mails its verification key.
/// The signup address must be verified first; an address in use anywhere
/// is refused. Shares the once-a-minute limit of #32. Requires an access
/// token.
#[utoipa::path(post, path = "/id/v3/profile/emails", tag = "Profile",
    request_body = NewAddress,
    security(("accessToken" = [])),
    responses(
        (status = 201, description = "The address was added.", body = EmailResponse,
            headers(("Location" = String))),
        (status = 400, description = "The address is not valid.", body = ErrorBody),
        (status = 403, description = "The address is in use, or the signup address is unverified.", body = ErrorBody),
        (status = 429, description = "Too many verification mails; see Retry-After.", body = ErrorBody),
    ))]
async fn add(
    State(state): State<AppState>,
    AccessToken(token): AccessToken,
    meta: RequestMeta,
    ApiJson(request): ApiJson<NewAddress>,
) -> Result<Response, ApiError> {
    limit(&state, &token.sub, Step::Request).await?;
    let ttl = Duration::seconds(state.settings().auth.unverified_address_ttl_secs);
    let command = PersonCommand::AddEmailAddress(AddEmailAddress {
        address: request.address.clone(),
        verification: accounts::verification_key(&state),
        remove_at: Utc::now() + ttl,
        at: Utc::now(),
    });

    state
        .bus()
        .person(&token.sub, command, &meta.acting_as(&token.sub))
        .await?;

    let added = email_view::find(state.pool(), &request.address)
        .await?
        .ok_or_else(|| ApiError::not_found("The address was removed meanwhile."))?;
    let location = format!("/id/v3/profile/emails/{}", added.address);
    let location = HeaderValue::from_str(&location).map_err(|e| ApiError::internal(&e))?;
    let headers = [(LOCATION, location)];
    Ok((
        StatusCode::CREATED,
        headers,
        Json(EmailResponse::from(added)),
    )
        .into_response())
}

/// Removes an address; not the primary one, and not someone else's.
/// Requires an access token.
#[utoipa::path(delete, path = "/id/v3/profile/emails/{address}", tag = "Profile",
    params(("address" = String, Path, description = "The address to remove.")),
    security(("accessToken" = [])),
    responses(
        (status = 204, description = "The address is removed and free for anyone."),
        (status = 403, description = "The address is primary or not the person's.", body = ErrorBody),
    ))]
async fn remove(
    State(state): State<AppState>,
    AccessToken(token): AccessToken,
    meta: RequestMeta,
    Path(address): Path<String>,
) -> Result<StatusCode, ApiError> {
    let command = RemoveEmailAddress {
        address,
        at: Utc::now(),
    };
    let command = PersonCommand::RemoveEmailAddress(command);

    state
        .bus()
        .person(&token.sub, command, &meta.acting_as(&token.sub))
        .await?;

    Ok(StatusCode::NO_CONTENT)
}

/// Makes a verified address the only primary one. Requires an access token.
#[utoipa::path(post, path = "/id/v3/profile/emails/{address}/primary", tag = "Profile",
    params(("address" = String, Path, description = "The address to make primary.")),
    security(("accessToken" = [])),
    responses(
        (status = 204, description = "The address is primary."),
        (status = 403, description = "The address is not verified yet.", body = ErrorBody),
        (status = 404, description = "The person has no such address.", body = ErrorBody),
    ))]
async fn mark_primary(
    State(state): State<AppState>,
    AccessToken(token): AccessToken,
    meta: RequestMeta,
    Path(address): Path<String>,
) -> Result<StatusCode, ApiError> {
    let command = PersonCommand::MarkEmailAddressPrimary(MarkEmailAddressPrimary { address });

    state
        .bus()
        .person(&token.sub, command, &meta.acting_as(&token.sub))
        .await?;

    Ok(StatusCode::NO_CONTENT)
}

/// Mails a new verification key for an address and voids the earlier ones;
/// for a verified address nothing is sent. At most once a minute per
/// person. Requires an access token.
#[utoipa::path(post, path = "/id/v3/profile/emails/{address}/verify", tag = "Profile",
    params(("address" = String, Path, description = "The address to verify.")),
    security(("accessToken" = [])),
    responses(
        (status = 204, description = "The mail is on its way (or not needed)."),
        (status = 404, description = "The person has no such address.", body = ErrorBody),
        (status = 429, description = "Asked too recently; see Retry-After.", body = ErrorBody),
    ))]
async fn request_verification(
    State(state): State<AppState>,
    AccessToken(token): AccessToken,
    meta: RequestMeta,
    Path(address): Path<String>,
) -> Result<StatusCode, ApiError> {
    limit(&state, &token.sub, Step::Request).await?;
    let verification = accounts::verification_key(&state);
    let command = RequestEmailVerification {
        address,
        verification,
        at: Utc::now(),
    };
    let command = PersonCommand::RequestEmailVerification(command);

    state
        .bus()
        .person(&token.sub, command, &meta.acting_as(&token.sub))
        .await?;

    Ok(StatusCode::NO_CONTENT)
}

/// Completes the verification of an address. At most one attempt per minute
/// per person. When this verifies the person's first address, the response
/// carries a new ID token with a higher `authLevel` in `Authorization`.
/// Requires an access token.
#[utoipa::path(post, path = "/id/v3/confirm/{key}", tag = "Profile",
    params(("key" = String, Path, description = "Confirmation key from the verification mail.")),
    security(("accessToken" = [])),
    responses(
        (status = 204, description = "The address is verified.",
            headers(("Authorization" = String, description = "A new ID token, after the first verification"))),
        (status = 401, description = "The access token is missing or invalid.", body = ErrorBody),
        (status = 404, description = "The key is not known or has expired.", body = ErrorBody),
        (status = 429, description = "Too many attempts; see Retry-After.", body = ErrorBody),
    ))]
async fn confirm(
    State(state): State<AppState>,
    AccessToken(token): AccessToken,
    meta: RequestMeta,
    Path(key): Path<String>,
) -> Result<Response, ApiError> {
    limit(&state, &token.sub, Step::Confirm).await?;

    let renewed = sessions::confirm_email(&state, &token.sub, key, &meta).await?;

    let mut response = StatusCode::NO_CONTENT.into_response();
    if let Some(renewed) = renewed {
        super::deliver_in_header(&mut response, &renewed);
    }
    Ok(response)
}
