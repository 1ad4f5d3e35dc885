//! The rules a command to a person can break.

use crate::email::InvalidEmailAddress;
use crate::password::WeakPassword;

/// A broken rule of the Person aggregate, named after the rule.
#[derive(Debug, thiserror::Error)]
pub enum PersonError {
    #[error("this person is already registered")]
    AlreadyRegistered,
    #[error("no such person")]
    NotRegistered,
    #[error(transparent)]
    InvalidEmailAddress(#[from] InvalidEmailAddress),
    #[error("the email address is already in use")]
    EmailAddressInUse,
    #[error(transparent)]
    WeakPassword(#[from] WeakPassword),
    #[error(
        "the name must not be longer than {} characters",
        super::MAX_NAME_CHARS
    )]
    NameTooLong,
    #[error("'{0}' is not a known time zone")]
    UnknownTimeZone(String),
    #[error("the credentials are not valid")]
    InvalidCredentials,
    #[error("the person has no password")]
    NoPassword,
    #[error("the verification key is not known or has expired")]
    VerificationKeyNotFound,
    #[error("the address used at signup must be verified before others can be added")]
    SignupAddressNotVerified,
    #[error("the person has no such address")]
    EmailAddressNotFound,
    #[error("the address is not one of the person's")]
    NotAnAddressOfThePerson,
    #[error("the address is not verified yet")]
    EmailAddressNotVerified,
    #[error("the primary address cannot be removed")]
    PrimaryAddressCannotBeRemoved,
    #[error("password recovery needs a verified address of a person with a password")]
    PasswordResetNotAllowed,
    #[error("the password reset key is not known, was used, or has expired")]
    ResetKeyNotFound,
    #[error("the account is disabled")]
    AccountDisabled,
    #[error("'{0}' is not a role of the service")]
    UnknownClusterRole(String),
    #[error("the password hash is not a bcrypt hash")]
    InvalidPasswordHash,
    #[error("a service the rule depends on failed: {0}")]
    ServiceFailed(String),
}
