//! What may be asked of a person.

use std::fmt;

use chrono::{DateTime, Utc};

use crate::email::canonical;
use crate::locale::Locale;
use crate::password::Password;

/// Every command the Person aggregate handles.
#[derive(Debug, Clone)]
pub enum PersonCommand {
    Register(RegisterPerson),
    AuthenticateWithPassword(AuthenticateWithPassword),
    ConfirmEmailAddress(ConfirmEmailAddress),
    UpdateProfile(UpdateProfile),
    RequestPasswordReset(RequestPasswordReset),
    RedeemPasswordResetKey(RedeemPasswordResetKey),
    AddEmailAddress(AddEmailAddress),
    RequestEmailVerification(RequestEmailVerification),
    MarkEmailAddressPrimary(MarkEmailAddressPrimary),
    RemoveEmailAddress(RemoveEmailAddress),
    RemoveLapsedEmailAddress(RemoveLapsedEmailAddress),
    DeleteAccount(DeleteAccount),
    ReplaceAvatar(ReplaceAvatar),
    RemoveAvatar(RemoveAvatar),
    Import(ImportPerson),
    SetClusterRoles(SetClusterRoles),
    Disable(DisableAccount),
    Enable(EnableAccount),
}

impl PersonCommand {
    /// The address (case-folded) this command may claim for the person, so
    /// that a failed command frees exactly that claim.
    pub fn claimed_address(&self) -> Option<String> {
        match self {
            Self::Register(c) => Some(canonical(&c.address)),
            Self::AddEmailAddress(c) => Some(canonical(&c.address)),
            Self::Import(c) => Some(canonical(&c.address)),
            _ => None,
        }
    }

    /// The command's name, for logs and spans.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Register(_) => "RegisterPerson",
            Self::AuthenticateWithPassword(_) => "AuthenticateWithPassword",
            Self::ConfirmEmailAddress(_) => "ConfirmEmailAddress",
            Self::UpdateProfile(_) => "UpdateProfile",
            Self::RequestPasswordReset(_) => "RequestPasswordReset",
            Self::RedeemPasswordResetKey(_) => "RedeemPasswordResetKey",
            Self::AddEmailAddress(_) => "AddEmailAddress",
            Self::RequestEmailVerification(_) => "RequestEmailVerification",
            Self::MarkEmailAddressPrimary(_) => "MarkEmailAddressPrimary",
            Self::RemoveEmailAddress(_) => "RemoveEmailAddress",
            Self::RemoveLapsedEmailAddress(_) => "RemoveLapsedEmailAddress",
            Self::DeleteAccount(_) => "DeleteAccount",
            Self::ReplaceAvatar(_) => "ReplaceAvatar",
            Self::RemoveAvatar(_) => "RemoveAvatar",
            Self::Import(_) => "ImportPerson",
            Self::SetClusterRoles(_) => "SetClusterRoles",
            Self::Disable(_) => "DisableAccount",
            Self::Enable(_) => "EnableAccount",
        }
    }
}

/// A key mailed to an address to prove control over it. The caller draws it
/// so that the aggregate stays deterministic under test. Its `Debug` output
/// hides the key.
#[derive(Clone)]
pub struct VerificationKey {
    pub key: String,
    pub expires_at: DateTime<Utc>,
}

/// Signs a new person up with a password and a first, unverified address.
#[derive(Debug, Clone)]
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
#[derive(Debug, Clone)]
pub struct AuthenticateWithPassword {
    pub password: Password,
}

/// Completes the verification of an address with the mailed key.
#[derive(Clone)]
pub struct ConfirmEmailAddress {
    pub key: String,
    pub at: DateTime<Utc>,
}

/// Changes the fields a person may change about themselves; `None` keeps a
/// field as it is.
#[derive(Debug, Clone, Default)]
pub struct UpdateProfile {
    pub name: Option<String>,
    pub locale: Option<Locale>,
    pub time_zone: Option<String>,
}

/// Starts password recovery through one of the person's verified addresses.
/// The key is drawn by the caller and mailed by the mail consumer.
#[derive(Debug, Clone)]
pub struct RequestPasswordReset {
    pub address: String,
    pub key: VerificationKey,
    pub at: DateTime<Utc>,
}

/// Redeems a mailed password reset key, once.
#[derive(Clone)]
pub struct RedeemPasswordResetKey {
    pub key: String,
    pub at: DateTime<Utc>,
}

/// Adds a secondary, unverified address and mails its verification key.
/// Unless verified by `remove_at`, the address is removed again.
#[derive(Debug, Clone)]
pub struct AddEmailAddress {
    pub address: String,
    pub verification: VerificationKey,
    pub remove_at: DateTime<Utc>,
    pub at: DateTime<Utc>,
}

/// Mails a new verification key for one of the person's addresses.
#[derive(Debug, Clone)]
pub struct RequestEmailVerification {
    pub address: String,
    pub verification: VerificationKey,
    pub at: DateTime<Utc>,
}

/// Makes a verified address the only primary one.
#[derive(Debug, Clone)]
pub struct MarkEmailAddressPrimary {
    pub address: String,
}

/// Removes one of the person's addresses, at their request.
#[derive(Debug, Clone)]
pub struct RemoveEmailAddress {
    pub address: String,
    pub at: DateTime<Utc>,
}

/// Removes an address that was not verified in time, on the service's own
/// account.
#[derive(Debug, Clone)]
pub struct RemoveLapsedEmailAddress {
    pub address: String,
    pub at: DateTime<Utc>,
}

/// Deletes the account for good.
#[derive(Debug, Clone)]
pub struct DeleteAccount {
    pub at: DateTime<Utc>,
}

/// Makes the stored image `avatar_id` the person's avatar.
#[derive(Debug, Clone)]
pub struct ReplaceAvatar {
    pub avatar_id: String,
    pub at: DateTime<Utc>,
}

/// Removes the person's avatar, if there is one.
#[derive(Debug, Clone)]
pub struct RemoveAvatar {
    pub at: DateTime<Utc>,
}

/// Keys are secrets: commands may be printed, their keys may not.
macro_rules! redacted_debug {
    ($type:ident { $($shown:ident),* }) => {
        impl fmt::Debug for $type {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_struct(stringify!($type))
                    .field("key", &"***")
                    $(.field(stringify!($shown), &self.$shown))*
                    .finish()
            }
        }
    };
}

redacted_debug!(VerificationKey { expires_at });
redacted_debug!(ConfirmEmailAddress { at });
redacted_debug!(RedeemPasswordResetKey { at });

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_never_show_in_debug_output() {
        let key = VerificationKey {
            key: "SECRET".into(),
            expires_at: Utc::now(),
        };
        let confirm = ConfirmEmailAddress {
            key: "SECRET".into(),
            at: Utc::now(),
        };
        let redeem = RedeemPasswordResetKey {
            key: "SECRET".into(),
            at: Utc::now(),
        };
        let shown = format!("{key:?} {confirm:?} {redeem:?}");
        assert!(!shown.contains("SECRET"), "{shown}");
    }
}

/// Brings a person over from another system (#69): their address counts as
/// verified, and their bcrypt hash, if any, becomes their password.
#[derive(Clone)]
pub struct ImportPerson {
    pub uid: String,
    pub address: String,
    pub name: Option<String>,
    pub password_hash: Option<String>,
    pub locale: Locale,
    pub time_zone: String,
    pub at: DateTime<Utc>,
}

impl fmt::Debug for ImportPerson {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ImportPerson")
            .field("uid", &self.uid)
            .field("password_hash", &self.password_hash.as_ref().map(|_| "***"))
            .finish_non_exhaustive()
    }
}

/// Replaces the roles the person holds over the whole service
/// (`Cluster.Admin`, `Cluster.AssetManagement`); given by an operator.
#[derive(Debug, Clone)]
pub struct SetClusterRoles {
    pub roles: Vec<String>,
    pub at: DateTime<Utc>,
}

/// Suspends the account: no login, no public profile, until enabled.
#[derive(Debug, Clone)]
pub struct DisableAccount {
    pub at: DateTime<Utc>,
}

/// Ends a suspension.
#[derive(Debug, Clone)]
pub struct EnableAccount {
    pub at: DateTime<Utc>,
}
