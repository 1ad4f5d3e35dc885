//! The principal's avatar: upload (#25), get (#26), delete (#27); and the
//! public avatar of a person (#44).

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::header::{CONTENT_TYPE, LOCATION};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::public::{conditional, find_person};
use crate::app::AppState;
use crate::avatar::Limits;
use crate::avatars;
use crate::error::{ApiError, ErrorBody};
use crate::event_store::RequestMeta;
use crate::extract::{AccessToken, ApiQuery};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(upload, get_avatar, delete_avatar))
        .routes(routes!(public_avatar))
        .layer(DefaultBodyLimit::max(Limits::default().max_bytes))
}

const JPEG: HeaderValue = HeaderValue::from_static("image/jpeg");

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct HeightQuery {
    /// The wanted height; the closest stored rendition (500, 240, 160 or 80
    /// pixels) is returned.
    height: Option<u32>,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PublicAvatarQuery {
    height: Option<u32>,
    /// A UID token; needed to look a person up by address.
    #[serde(rename = "_uidt")]
    uid_token: Option<String>,
}

/// Makes the uploaded image (image/jpeg, image/png or image/gif) the
/// avatar: centre-cropped to a square and stored at 500, 240, 160 and 80
/// pixels. Records a PROFILE_AVATAR_UPDATED SignalingEvent. Requires an
/// access token.
#[utoipa::path(put, path = "/id/v3/profile/avatar", tag = "Profile",
    request_body(content = Vec<u8>, content_type = "image/jpeg"),
    security(("accessToken" = [])),
    responses(
        (status = 200, description = "The stored 500-pixel rendition.", content_type = "image/jpeg", body = Vec<u8>,
            headers(("Location" = String))),
        (status = 400, description = "The image could not be processed.", body = ErrorBody),
        (status = 413, description = "The image is too large.", body = ErrorBody),
        (status = 415, description = "Not image/jpeg, image/png or image/gif.", body = ErrorBody),
    ))]
async fn upload(
    State(state): State<AppState>,
    AccessToken(token): AccessToken,
    meta: RequestMeta,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let content_type = headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let meta = meta.acting_as(&token.sub);

    let jpeg = avatars::upload(&state, &token.sub, content_type, body.to_vec(), &meta).await?;

    let headers = [
        (CONTENT_TYPE, JPEG),
        (LOCATION, HeaderValue::from_static("/id/v3/profile/avatar")),
    ];
    Ok((headers, jpeg).into_response())
}

/// The avatar at the stored height closest to `height`. The access token
/// may also come as `acct` cookie. Requires an access token.
#[utoipa::path(get, path = "/id/v3/profile/avatar", tag = "Profile",
    params(HeightQuery),
    security(("accessToken" = [])),
    responses(
        (status = 200, description = "The avatar.", content_type = "image/jpeg", body = Vec<u8>),
        (status = 404, description = "The person has no avatar.", body = ErrorBody),
    ))]
async fn get_avatar(
    State(state): State<AppState>,
    AccessToken(token): AccessToken,
    ApiQuery(query): ApiQuery<HeightQuery>,
) -> Result<Response, ApiError> {
    let jpeg = avatars::rendition(&state, &token.sub, query.height).await?;
    let jpeg = jpeg.ok_or_else(|| ApiError::not_found("The person has no avatar."))?;
    Ok(([(CONTENT_TYPE, JPEG)], jpeg).into_response())
}

/// Removes the avatar. Records a PROFILE_AVATAR_UPDATED SignalingEvent when
/// there was one. Requires an access token.
#[utoipa::path(delete, path = "/id/v3/profile/avatar", tag = "Profile",
    security(("accessToken" = [])),
    responses((status = 204, description = "There is no avatar now.")))]
async fn delete_avatar(
    State(state): State<AppState>,
    AccessToken(token): AccessToken,
    meta: RequestMeta,
) -> Result<StatusCode, ApiError> {
    avatars::remove(&state, &token.sub, &meta.acting_as(&token.sub)).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The avatar of a person by uid (no authentication) or, with a UID token
/// (`_uidt`), by verified address; with `ETag` and 304.
#[utoipa::path(get, path = "/id/v3/public/avatar/{key}", tag = "Public",
    params(("key" = String, Path, description = "The uid or a verified address of a person."), PublicAvatarQuery),
    responses(
        (status = 200, description = "The avatar.", content_type = "image/jpeg", body = Vec<u8>,
            headers(("ETag" = String))),
        (status = 304, description = "Unchanged since the tag in If-None-Match."),
        (status = 401, description = "The UID token is missing or not valid.", body = ErrorBody),
        (status = 404, description = "No person matches the key, or they have no avatar.", body = ErrorBody),
    ))]
async fn public_avatar(
    State(state): State<AppState>,
    Path(key): Path<String>,
    ApiQuery(query): ApiQuery<PublicAvatarQuery>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let person = find_person(&state, &key, query.uid_token.as_deref()).await?;
    let jpeg = avatars::rendition(&state, &person.person_id, query.height).await?;
    let jpeg = jpeg.ok_or_else(|| ApiError::not_found("No avatar matches the key."))?;
    Ok(conditional(&headers, jpeg, JPEG))
}
