//! What has happened to a token. Event type names are never renamed.

use chrono::{DateTime, Utc};
use cqrs_es::DomainEvent;
use serde::{Deserialize, Serialize};

use crate::sealed::Sealed;

/// The scopes a token recorded by this aggregate can have.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TokenScope {
    /// A full ID token.
    Idtoken,
}

/// Why an ID token was issued.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum IssuedFor {
    /// A new person signed up.
    Signup,
    /// The person logged in with a password.
    PasswordLogin,
    /// The person verified their first address and gets a higher level.
    AddressVerification,
    /// An earlier ID token was upgraded (refreshed).
    Upgrade,
    /// A parked ID token was picked up.
    Pickup,
    /// The person proved control of an address with a password reset key.
    PasswordReset,
    /// The person's membership or roles changed by their own request, and
    /// their earlier tokens died with the old privileges.
    MembershipChange,
}

impl IssuedFor {
    /// Whether the token records a login (the profile's `lastLoginAt`).
    pub fn is_login(self) -> bool {
        matches!(self, Self::PasswordLogin | Self::PasswordReset)
    }
}

/// Why a token died before its expiry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum BlacklistReason {
    /// The person logged the token out.
    Logout,
    /// The token was replaced by an upgraded one.
    Upgrade,
    /// The person's account was deleted (by them, or by removal from
    /// their organization).
    AccountDeleted,
    /// The person's organization or roles changed; the token carries the
    /// old ones.
    MembershipChanged,
    /// The account was disabled.
    AccountDisabled,
}

/// Every event of the Token aggregate. `expires_at` travels with the events
/// that kill a token so that the blacklist knows when it may forget it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum TokenEvent {
    IdTokenIssued {
        person: String,
        issued_for: IssuedFor,
        scope: TokenScope,
        auth_level: u8,
        #[serde(default)]
        set_password: bool,
        issued_at: DateTime<Utc>,
        expires_at: DateTime<Utc>,
        user_agent: Option<Sealed<String>>,
        client_address: Option<Sealed<String>>,
    },
    TokenBlacklisted {
        person: String,
        reason: BlacklistReason,
        blacklisted_at: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    },
    /// Parking also kills the token; a new one is issued at pickup.
    TokenParked {
        person: String,
        pickup_jti: String,
        pickup_expires_at: DateTime<Utc>,
        parked_at: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    },
    ParkedTokenPickedUp {
        person: String,
        pickup_jti: String,
        picked_up_at: DateTime<Utc>,
    },
}

impl DomainEvent for TokenEvent {
    fn event_type(&self) -> String {
        let name = match self {
            Self::IdTokenIssued { .. } => "IdTokenIssued",
            Self::TokenBlacklisted { .. } => "TokenBlacklisted",
            Self::TokenParked { .. } => "TokenParked",
            Self::ParkedTokenPickedUp { .. } => "ParkedTokenPickedUp",
        };
        name.to_string()
    }

    fn event_version(&self) -> String {
        "1.0".to_string()
    }
}
