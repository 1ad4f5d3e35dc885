//! What may be asked of a token.

use chrono::{DateTime, Utc};

use super::events::{BlacklistReason, IssuedFor, TokenScope};

/// Every command the Token aggregate handles.
#[derive(Debug, Clone)]
pub enum TokenCommand {
    IssueIdToken(IssueIdToken),
    Blacklist(BlacklistToken),
    Park(ParkToken),
    PickUp(PickUpParkedToken),
}

impl TokenCommand {
    /// The command's name, for logs and spans.
    pub fn name(&self) -> &'static str {
        match self {
            Self::IssueIdToken(_) => "IssueIdToken",
            Self::Blacklist(_) => "BlacklistToken",
            Self::Park(_) => "ParkToken",
            Self::PickUp(_) => "PickUpParkedToken",
        }
    }
}

/// Records a newly issued ID token for a person.
#[derive(Debug, Clone)]
pub struct IssueIdToken {
    pub person: String,
    pub issued_for: IssuedFor,
    pub scope: TokenScope,
    pub auth_level: u8,
    pub set_password: bool,
    pub issued_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub user_agent: Option<String>,
    pub client_address: Option<String>,
}

/// Ends the token's life before its expiry.
#[derive(Debug, Clone)]
pub struct BlacklistToken {
    pub reason: BlacklistReason,
    pub at: DateTime<Utc>,
}

/// Exchanges the token for a single-use pickup token with id `pickup_jti`.
#[derive(Debug, Clone)]
pub struct ParkToken {
    pub pickup_jti: String,
    pub pickup_expires_at: DateTime<Utc>,
    pub at: DateTime<Utc>,
}

/// Redeems the pickup token `pickup_jti` of a parked token, once.
#[derive(Debug, Clone)]
pub struct PickUpParkedToken {
    pub pickup_jti: String,
    pub at: DateTime<Utc>,
}
