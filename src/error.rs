//! The one error type at the edge: every failure becomes the document's body
//! `{"error": {"code", "message", "details"}}` with a stable code per cause
//! (status × 1000 + a number).

use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use cqrs_es::AggregateError;
use serde::Serialize;
use skalio_id_aggregates::organization::OrganizationError;
use skalio_id_aggregates::person::PersonError;
use skalio_id_aggregates::token::TokenError;
use skalio_id_projections::projector::error_chain;
use utoipa::ToSchema;

/// Status 509 is not registered with IANA; the document uses it for rate limits.
pub const RATE_LIMIT_EXCEEDED: u16 = 509;

/// An error answer.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: u32,
    message: &'static str,
    details: Vec<String>,
    headers: Option<Box<HeaderMap>>,
}

/// The body of every error response.
#[derive(Serialize, ToSchema)]
pub struct ErrorBody {
    error: ErrorDetails,
}

/// What went wrong, for machines (`code`) and people (`message`, `details`).
#[derive(Serialize, ToSchema)]
pub struct ErrorDetails {
    /// Stable numeric code of the cause.
    #[schema(example = 400001)]
    code: u32,
    #[schema(example = "The request cannot be fulfilled.")]
    message: &'static str,
    details: Vec<String>,
}

const CANNOT_FULFIL: &str = "The request cannot be fulfilled.";
const NOT_AUTHENTICATED: &str = "Authentication failed or missing.";
const FORBIDDEN: &str = "This request is forbidden.";
const NOT_STORED: &str = "The data could not be stored.";
const NOT_FOUND: &str = "The requested object does not exist.";
const TOO_MANY: &str = "Maximum number of concurrent API requests reached.";
const INTERNAL: &str = "Something went wrong on our side.";

impl ApiError {
    fn new(
        status: StatusCode,
        code: u32,
        message: &'static str,
        detail: impl Into<String>,
    ) -> Self {
        let detail = detail.into();
        let details = if detail.is_empty() {
            vec![]
        } else {
            vec![detail]
        };
        Self {
            status,
            code,
            message,
            details,
            headers: None,
        }
    }

    /// The request is malformed: syntax, types, missing fields.
    pub fn malformed(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, 400001, CANNOT_FULFIL, detail)
    }

    /// The request is well-formed but a value is not acceptable.
    pub fn invalid(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, 400002, CANNOT_FULFIL, detail)
    }

    pub fn unauthenticated(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, 401001, NOT_AUTHENTICATED, detail)
    }

    pub fn forbidden(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, 403001, FORBIDDEN, detail)
    }

    /// Refused because it would break uniqueness (an address in use).
    pub fn not_stored(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, 403002, NOT_STORED, detail)
    }

    pub fn not_found(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, 404001, NOT_FOUND, detail)
    }

    pub fn method_not_allowed() -> Self {
        let detail = "The resource does not support this method.";
        Self::new(
            StatusCode::METHOD_NOT_ALLOWED,
            405001,
            CANNOT_FULFIL,
            detail,
        )
    }

    pub fn not_acceptable(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_ACCEPTABLE, 406001, CANNOT_FULFIL, detail)
    }

    /// Another request changed the same data at the same moment.
    pub fn conflict() -> Self {
        let detail = "The data was changed concurrently; please retry.";
        Self::new(StatusCode::CONFLICT, 409001, NOT_STORED, detail)
    }

    pub fn too_large() -> Self {
        let detail = "The request body is too large.";
        Self::new(StatusCode::PAYLOAD_TOO_LARGE, 413001, CANNOT_FULFIL, detail)
    }

    pub fn unsupported_media_type(detail: impl Into<String>) -> Self {
        Self::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            415001,
            CANNOT_FULFIL,
            detail,
        )
    }

    /// A per-person limit of the document's 429 kind.
    pub fn too_many_requests(retry_after_secs: u64) -> Self {
        let detail = "Please try again after waiting some time.";
        Self::new(StatusCode::TOO_MANY_REQUESTS, 429002, TOO_MANY, detail).with_header(
            axum::http::header::RETRY_AFTER,
            retry_after_secs.to_string(),
        )
    }

    /// A leaky bucket overflowed (the document's status 509).
    pub fn rate_limit_exceeded(retry_after_secs: u64) -> Self {
        let status =
            StatusCode::from_u16(RATE_LIMIT_EXCEEDED).unwrap_or(StatusCode::TOO_MANY_REQUESTS);
        let detail = "Please try again after waiting some time.";
        Self::new(status, 509001, TOO_MANY, detail).with_header(
            axum::http::header::RETRY_AFTER,
            retry_after_secs.to_string(),
        )
    }

    /// The database cannot be reached.
    pub fn unavailable(cause: &dyn std::error::Error) -> Self {
        tracing::error!(error = %error_chain(cause), "database unavailable");
        let detail = "The service is temporarily unavailable; please retry.";
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            503001,
            CANNOT_FULFIL,
            detail,
        )
    }

    /// An unexpected failure: logged with its causes, answered with a fixed text.
    pub fn internal(cause: &dyn std::error::Error) -> Self {
        tracing::error!(error = %error_chain(cause), "request failed");
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, 500001, INTERNAL, "")
    }

    /// Adds a response header (`Retry-After`, rate-limit state).
    pub fn with_header(mut self, name: HeaderName, value: String) -> Self {
        if let Ok(value) = HeaderValue::from_str(&value) {
            self.headers.get_or_insert_default().insert(name, value);
        }
        self
    }

    /// Adds rate-limit headers already computed for the request.
    pub fn with_headers(mut self, headers: HeaderMap) -> Self {
        self.headers.get_or_insert_default().extend(headers);
        self
    }

    /// The message and details in one line, for the command line.
    pub fn detail(&self) -> String {
        std::iter::once(self.message.to_string())
            .chain(self.details.iter().cloned())
            .collect::<Vec<_>>()
            .join(" ")
    }

    pub fn status(&self) -> StatusCode {
        self.status
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            error: ErrorDetails {
                code: self.code,
                message: self.message,
                details: self.details,
            },
        };
        let headers = self.headers.map(|h| *h).unwrap_or_default();
        (self.status, headers, axum::Json(body)).into_response()
    }
}

impl From<sqlx::Error> for ApiError {
    fn from(error: sqlx::Error) -> Self {
        match &error {
            sqlx::Error::PoolTimedOut | sqlx::Error::Io(_) | sqlx::Error::PoolClosed => {
                Self::unavailable(&error)
            }
            _ => Self::internal(&error),
        }
    }
}

impl From<PersonError> for ApiError {
    fn from(error: PersonError) -> Self {
        let detail = error.to_string();
        match error {
            PersonError::InvalidEmailAddress(_)
            | PersonError::UnknownClusterRole(_)
            | PersonError::InvalidPasswordHash
            | PersonError::WeakPassword(_)
            | PersonError::NameTooLong
            | PersonError::UnknownTimeZone(_) => Self::invalid(detail),
            PersonError::EmailAddressInUse => Self::not_stored(detail),
            PersonError::AlreadyRegistered => Self::conflict(),
            PersonError::NotRegistered => Self::not_found(detail),
            PersonError::InvalidCredentials | PersonError::NoPassword => {
                Self::unauthenticated("The credentials are not valid.")
            }
            PersonError::AccountDisabled => Self::unauthenticated(detail),
            PersonError::VerificationKeyNotFound | PersonError::ResetKeyNotFound => {
                Self::not_found(detail)
            }
            PersonError::PasswordResetNotAllowed
            | PersonError::SignupAddressNotVerified
            | PersonError::NotAnAddressOfThePerson
            | PersonError::EmailAddressNotVerified
            | PersonError::PrimaryAddressCannotBeRemoved => Self::forbidden(detail),
            PersonError::EmailAddressNotFound => Self::not_found(detail),
            PersonError::ServiceFailed(_) => Self::internal(&error),
        }
    }
}

impl From<OrganizationError> for ApiError {
    fn from(error: OrganizationError) -> Self {
        let detail = error.to_string();
        match error {
            OrganizationError::InvalidName
            | OrganizationError::UnknownTimeZone(_)
            | OrganizationError::InvalidHostname(_)
            | OrganizationError::InvalidUrl(_)
            | OrganizationError::FieldTooLong(..)
            | OrganizationError::UnknownRole(_)
            | OrganizationError::InvalidMemberLimit => Self::invalid(detail),
            OrganizationError::HostnameInUse => Self::not_stored(detail),
            OrganizationError::AlreadyCreated => Self::conflict(),
            OrganizationError::NotFound => Self::not_found(detail),
            OrganizationError::NotAnAdministrator
            | OrganizationError::NotAMember
            | OrganizationError::AlreadyAMember
            | OrganizationError::MemberOfAnotherOrganization
            | OrganizationError::MemberLimitReached
            | OrganizationError::CannotDropOwnAdminRole
            | OrganizationError::LastAdministrator => Self::forbidden(detail),
            OrganizationError::ServiceFailed(_) => Self::internal(&error),
        }
    }
}

impl From<TokenError> for ApiError {
    fn from(error: TokenError) -> Self {
        match error {
            TokenError::AlreadyIssued => Self::conflict(),
            TokenError::ExpiresBeforeIssue => Self::internal(&error),
            TokenError::NotIssued | TokenError::NotParked | TokenError::AlreadyPickedUp => {
                Self::not_found(error.to_string())
            }
            TokenError::NoLongerValid | TokenError::PickupExpired => {
                Self::unauthenticated(error.to_string())
            }
        }
    }
}

impl<E> From<AggregateError<E>> for ApiError
where
    E: std::error::Error + Into<ApiError>,
{
    fn from(error: AggregateError<E>) -> Self {
        match error {
            AggregateError::UserError(rule) => rule.into(),
            AggregateError::AggregateConflict => Self::conflict(),
            AggregateError::DatabaseConnectionError(cause) => Self::unavailable(cause.as_ref()),
            AggregateError::DeserializationError(cause)
            | AggregateError::UnexpectedError(cause) => Self::internal(cause.as_ref()),
        }
    }
}
