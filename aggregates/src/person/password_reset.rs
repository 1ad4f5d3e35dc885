//! Password recovery: a key mailed to a verified address, redeemed once
//! before it expires.

use aws_lc_rs::digest::{SHA256, digest};

use super::aggregate::Person;
use super::commands::{RedeemPasswordResetKey, RequestPasswordReset};
use super::errors::PersonError;
use super::events::PersonEvent;
use crate::email::canonical;
use crate::sealed::Sealed;

/// The SHA-256 of a reset key, hex: what read models may hold instead of
/// the key.
pub fn reset_key_digest(key: &str) -> String {
    digest(&SHA256, key.trim().as_bytes())
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

impl Person {
    /// Only a person with a password may recover it, and only through an
    /// address they have proven to control.
    pub(super) fn request_password_reset(
        &self,
        c: RequestPasswordReset,
    ) -> Result<Vec<PersonEvent>, PersonError> {
        let uid = self.uid()?;
        let wanted = canonical(&c.address);
        let verified = self
            .emails
            .iter()
            .find(|e| e.is_verified && canonical(&e.address) == wanted);
        let address = match (verified, &self.password_hash) {
            (Some(email), Some(_)) => email.address.clone(),
            _ => return Err(PersonError::PasswordResetNotAllowed),
        };
        Ok(vec![PersonEvent::PasswordResetRequested {
            address: Sealed::new(uid, address),
            key_digest: reset_key_digest(&c.key.key),
            key: Sealed::new(uid, c.key.key),
            expires_at: c.key.expires_at,
            requested_at: c.at,
        }])
    }

    pub(super) fn redeem_password_reset_key(
        &self,
        c: RedeemPasswordResetKey,
    ) -> Result<Vec<PersonEvent>, PersonError> {
        self.uid()?;
        let key_digest = reset_key_digest(&c.key);
        let pending = self
            .pending_reset
            .as_ref()
            .filter(|p| p.key_digest == key_digest);
        match pending {
            Some(pending) if pending.expires_at > c.at => {
                Ok(vec![PersonEvent::PasswordResetKeyRedeemed {
                    key_digest,
                    redeemed_at: c.at,
                }])
            }
            _ => Err(PersonError::ResetKeyNotFound),
        }
    }
}
