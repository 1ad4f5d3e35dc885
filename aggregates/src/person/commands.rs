//! What may be asked of a person.

use chrono::{DateTime, Utc};

use crate::locale::Locale;
use crate::password::Password;

/// Every command the Person aggregate handles.
#[derive(Debug)]
pub enum PersonCommand {
    Register(RegisterPerson),
    AuthenticateWithPassword(AuthenticateWithPassword),
    ConfirmEmailAddress(ConfirmEmailAddress),
    UpdateProfile(UpdateProfile),
}

/// A key mailed to an address to prove control over it. The caller draws it
/// so that the aggregate stays deterministic under test.
#[derive(Debug, Clone)]
pub struct VerificationKey {
    pub key: String,
    pub expires_at: DateTime<Utc>,
}

/// Signs a new person up with a password and a first, unverified address.
#[derive(Debug)]
pub struct RegisterPerson {
    /// The new person's uid, which is also the aggregate id.
    pub uid: String,
    pub address: String,
    pub password: Password,
    pub name: Option<String>,
    pub locale: Locale,
    pub time_zone: String,
    pub verification: VerificationKey,
    pub at: DateTime<Utc>,
}

/// Checks a password presented at login.
#[derive(Debug)]
pub struct AuthenticateWithPassword {
    pub password: Password,
    pub at: DateTime<Utc>,
}

/// Completes the verification of an address with the mailed key.
#[derive(Debug)]
pub struct ConfirmEmailAddress {
    pub key: String,
    pub at: DateTime<Utc>,
}

/// Changes the fields a person may change about themselves; `None` keeps a
/// field as it is.
#[derive(Debug, Default)]
pub struct UpdateProfile {
    pub name: Option<String>,
    pub locale: Option<Locale>,
    pub time_zone: Option<String>,
}
