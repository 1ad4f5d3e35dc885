//! The rules a command to a token can break.

/// A broken rule of the Token aggregate, named after the rule.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("a token with this id was issued before")]
    AlreadyIssued,
    #[error("a token must expire after it is issued")]
    ExpiresBeforeIssue,
    #[error("no such token")]
    NotIssued,
    #[error("the token is no longer valid")]
    NoLongerValid,
    #[error("the token is not parked under this pickup token")]
    NotParked,
    #[error("the parked token was picked up before")]
    AlreadyPickedUp,
    #[error("the pickup token has expired")]
    PickupExpired,
}
