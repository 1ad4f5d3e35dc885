//! Signup (#2).

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use skalio_id_aggregates::locale::Locale;
use skalio_id_aggregates::password::Password;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::app::AppState;
use crate::error::{ApiError, ErrorBody};
use crate::event_store::RequestMeta;
use crate::extract::ApiJson;
use crate::sessions::{self, SignedToken, Signup};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(sign_up))
}

/// A new person.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SignupRequest {
    /// Primary email address of the new person.
    address: String,
    /// New password.
    password: String,
    /// Optional name of the person.
    name: Option<String>,
    #[schema(value_type = Option<String>, example = "de_DE")]
    locale: Option<Locale>,
    /// The person's time zone (IANA name).
    time_zone: Option<String>,
}

/// A signed JWT.
#[derive(Serialize, ToSchema)]
pub struct TokenResponse {
    /// The Base64 encoded and signed JWT.
    pub token: String,
}

impl IntoResponse for SignedToken {
    /// The token in the body and, as the document asks, in the
    /// `Authorization` header.
    fn into_response(self) -> Response {
        let mut response = axum::Json(TokenResponse {
            token: self.token.clone(),
        })
        .into_response();
        super::deliver_in_header(&mut response, &self);
        response
    }
}

/// Registers a new person; the returned ID token is short-lived with a low
/// `authLevel` until the address is confirmed. No authentication.
#[utoipa::path(post, path = "/id/v3/signup", tag = "Authentication",
    request_body = SignupRequest,
    responses(
        (status = 200, description = "The person is registered.", body = TokenResponse,
            headers(("Authorization" = String, description = "Bearer and the ID token"))),
        (status = 400, description = "A field is missing or invalid.", body = ErrorBody),
        (status = 403, description = "The email address is already in use.", body = ErrorBody),
    ))]
async fn sign_up(
    State(state): State<AppState>,
    meta: RequestMeta,
    ApiJson(request): ApiJson<SignupRequest>,
) -> Result<SignedToken, ApiError> {
    let signup = Signup {
        address: request.address,
        password: Password::new(request.password),
        name: request.name,
        locale: request.locale.unwrap_or_default(),
        time_zone: request.time_zone.unwrap_or_else(|| "UTC".to_string()),
    };

    sessions::sign_up(&state, signup, &meta).await
}
