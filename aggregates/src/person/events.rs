//! What has happened to a person. Event type names are never renamed; a
//! changed payload gets a new version and an upcaster.

use chrono::{DateTime, Utc};
use cqrs_es::DomainEvent;
use serde::{Deserialize, Serialize};

use crate::locale::Locale;
use crate::sealed::Sealed;

/// Every event of the Person aggregate. Personal data and secrets are
/// [`Sealed`] under the person's key.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum PersonEvent {
    PersonRegistered {
        uid: String,
        address: Sealed<String>,
        password_hash: Sealed<String>,
        name: Option<Sealed<String>>,
        locale: Locale,
        time_zone: String,
        registered_at: DateTime<Utc>,
    },
    EmailVerificationRequested {
        address: Sealed<String>,
        key: Sealed<String>,
        expires_at: DateTime<Utc>,
        requested_at: DateTime<Utc>,
    },
    EmailAddressVerified {
        address: Sealed<String>,
        verified_at: DateTime<Utc>,
    },
    /// `key_digest` (SHA-256, hex) lets a read model find the person by the
    /// key without holding the key.
    PasswordResetRequested {
        address: Sealed<String>,
        key: Sealed<String>,
        key_digest: String,
        expires_at: DateTime<Utc>,
        requested_at: DateTime<Utc>,
    },
    PasswordResetKeyRedeemed {
        key_digest: String,
        redeemed_at: DateTime<Utc>,
    },
    EmailAddressAdded {
        address: Sealed<String>,
        remove_at: DateTime<Utc>,
        added_at: DateTime<Utc>,
    },
    PrimaryEmailAddressChanged {
        address: Sealed<String>,
    },
    EmailAddressRemoved {
        address: Sealed<String>,
        removed_at: DateTime<Utc>,
    },
    /// The images themselves are stored outside the log, by `avatar_id`.
    AvatarUploaded {
        avatar_id: String,
        uploaded_at: DateTime<Utc>,
    },
    AvatarRemoved {
        removed_at: DateTime<Utc>,
    },
    /// The account is gone; consumers erase what they hold of the person.
    PersonDeleted {
        deleted_at: DateTime<Utc>,
    },
    ProfileUpdated {
        name: Option<Sealed<String>>,
        locale: Option<Locale>,
        time_zone: Option<String>,
    },
    /// Brought over from another system with a verified address.
    PersonImported {
        uid: String,
        address: Sealed<String>,
        password_hash: Option<Sealed<String>>,
        name: Option<Sealed<String>>,
        locale: Locale,
        time_zone: String,
        imported_at: DateTime<Utc>,
    },
    ClusterRolesSet {
        roles: Vec<String>,
        set_at: DateTime<Utc>,
    },
    AccountDisabled {
        disabled_at: DateTime<Utc>,
    },
    AccountEnabled {
        enabled_at: DateTime<Utc>,
    },
}

impl DomainEvent for PersonEvent {
    fn event_type(&self) -> String {
        let name = match self {
            Self::PersonRegistered { .. } => "PersonRegistered",
            Self::EmailVerificationRequested { .. } => "EmailVerificationRequested",
            Self::EmailAddressVerified { .. } => "EmailAddressVerified",
            Self::ProfileUpdated { .. } => "ProfileUpdated",
            Self::PasswordResetRequested { .. } => "PasswordResetRequested",
            Self::PasswordResetKeyRedeemed { .. } => "PasswordResetKeyRedeemed",
            Self::EmailAddressAdded { .. } => "EmailAddressAdded",
            Self::PrimaryEmailAddressChanged { .. } => "PrimaryEmailAddressChanged",
            Self::EmailAddressRemoved { .. } => "EmailAddressRemoved",
            Self::PersonDeleted { .. } => "PersonDeleted",
            Self::AvatarUploaded { .. } => "AvatarUploaded",
            Self::AvatarRemoved { .. } => "AvatarRemoved",
            Self::PersonImported { .. } => "PersonImported",
            Self::ClusterRolesSet { .. } => "ClusterRolesSet",
            Self::AccountDisabled { .. } => "AccountDisabled",
            Self::AccountEnabled { .. } => "AccountEnabled",
        };
        name.to_string()
    }

    fn event_version(&self) -> String {
        "1.0".to_string()
    }
}
