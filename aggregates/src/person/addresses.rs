//! A person's addresses: adding, verifying, choosing the primary one and
//! removing them. Exactly one verified address is primary once the first is
//! verified; the signup address is primary from the start.

use chrono::{DateTime, Utc};

use super::aggregate::{EmailState, PendingVerification, Person, service_failed};
use super::commands::{
    AddEmailAddress, ConfirmEmailAddress, MarkEmailAddressPrimary, RemoveEmailAddress,
    RemoveLapsedEmailAddress, RequestEmailVerification, VerificationKey,
};
use super::errors::PersonError;
use super::events::PersonEvent;
use super::services::PersonServices;
use crate::email::{EmailAddress, canonical};
use crate::sealed::Sealed;

impl Person {
    /// A new address needs a verified signup address first, and must not be
    /// in use by anyone, this person included.
    pub(super) async fn add_email(
        &self,
        c: AddEmailAddress,
        services: &dyn PersonServices,
    ) -> Result<Vec<PersonEvent>, PersonError> {
        let uid = self.uid()?;
        let address = EmailAddress::parse(&c.address)?;
        if !self.emails.iter().any(|e| e.is_primary && e.is_verified) {
            return Err(PersonError::SignupAddressNotVerified);
        }
        if self.email(address.as_str()).is_some() {
            return Err(PersonError::EmailAddressInUse);
        }
        let claim = services.claim_email(&address.canonical(), uid).await;
        claim
            .map_err(service_failed)?
            .map_err(|_| PersonError::EmailAddressInUse)?;
        Ok(vec![
            PersonEvent::EmailAddressAdded {
                address: Sealed::new(uid, address.as_str().to_string()),
                remove_at: c.remove_at,
                added_at: c.at,
            },
            verification_requested(uid, address.as_str(), c.verification, c.at),
        ])
    }

    /// Asking again voids earlier keys; a verified address needs no key.
    pub(super) fn request_verification(
        &self,
        c: RequestEmailVerification,
    ) -> Result<Vec<PersonEvent>, PersonError> {
        let uid = self.uid()?;
        let email = self
            .email(&c.address)
            .ok_or(PersonError::EmailAddressNotFound)?;
        if email.is_verified {
            return Ok(vec![]);
        }
        Ok(vec![verification_requested(
            uid,
            &email.address,
            c.verification,
            c.at,
        )])
    }

    pub(super) fn confirm_email(
        &self,
        c: ConfirmEmailAddress,
    ) -> Result<Vec<PersonEvent>, PersonError> {
        let uid = self.uid()?;
        let pending = self
            .pending
            .iter()
            .find(|p| p.key.eq_ignore_ascii_case(c.key.trim()) && p.expires_at > c.at)
            .ok_or(PersonError::VerificationKeyNotFound)?;
        Ok(vec![PersonEvent::EmailAddressVerified {
            address: Sealed::new(uid, pending.address.clone()),
            verified_at: c.at,
        }])
    }

    pub(super) fn mark_primary(
        &self,
        c: MarkEmailAddressPrimary,
    ) -> Result<Vec<PersonEvent>, PersonError> {
        let uid = self.uid()?;
        let email = self
            .email(&c.address)
            .ok_or(PersonError::EmailAddressNotFound)?;
        if !email.is_verified {
            return Err(PersonError::EmailAddressNotVerified);
        }
        if email.is_primary {
            return Ok(vec![]);
        }
        let address = Sealed::new(uid, email.address.clone());
        Ok(vec![PersonEvent::PrimaryEmailAddressChanged { address }])
    }

    pub(super) fn remove_email(
        &self,
        c: RemoveEmailAddress,
    ) -> Result<Vec<PersonEvent>, PersonError> {
        let uid = self.uid()?;
        let email = self
            .email(&c.address)
            .ok_or(PersonError::NotAnAddressOfThePerson)?;
        if email.is_primary {
            return Err(PersonError::PrimaryAddressCannotBeRemoved);
        }
        Ok(vec![removed(uid, email, c.at)])
    }

    /// Only an unverified address past its `remove_at` lapses; anything else
    /// (verified meanwhile, removed already) is left alone.
    pub(super) fn remove_lapsed_email(
        &self,
        c: RemoveLapsedEmailAddress,
    ) -> Result<Vec<PersonEvent>, PersonError> {
        let uid = self.uid()?;
        let lapsed = self.email(&c.address).filter(|e| {
            !e.is_verified && !e.is_primary && e.remove_at.is_some_and(|at| at <= c.at)
        });
        Ok(lapsed
            .map(|email| removed(uid, email, c.at))
            .into_iter()
            .collect())
    }

    pub(super) fn apply_verification_requested(
        &mut self,
        address: Sealed<String>,
        key: Sealed<String>,
        expires_at: DateTime<Utc>,
    ) {
        let (Some(address), Some(key)) = (address.into_inner(), key.into_inner()) else {
            return;
        };
        // Asking again renders every earlier key for the address void.
        self.pending
            .retain(|p| canonical(&p.address) != canonical(&address));
        self.pending.push(PendingVerification {
            address,
            key,
            expires_at,
        });
    }

    pub(super) fn apply_address_verified(&mut self, address: Sealed<String>) {
        let Some(address) = address.into_inner() else {
            return;
        };
        self.pending
            .retain(|p| canonical(&p.address) != canonical(&address));
        if let Some(email) = self.email_mut(&address) {
            email.is_verified = true;
        }
    }

    pub(super) fn apply_address_added(
        &mut self,
        address: Sealed<String>,
        remove_at: DateTime<Utc>,
    ) {
        let Some(address) = address.into_inner() else {
            return;
        };
        let email = EmailState {
            address,
            is_verified: false,
            is_primary: false,
            remove_at: Some(remove_at),
        };
        self.emails.push(email);
    }

    pub(super) fn apply_primary_changed(&mut self, address: Sealed<String>) {
        let Some(address) = address.into_inner() else {
            return;
        };
        let wanted = canonical(&address);
        for email in &mut self.emails {
            email.is_primary = canonical(&email.address) == wanted;
        }
    }

    pub(super) fn apply_address_removed(&mut self, address: Sealed<String>) {
        let Some(address) = address.into_inner() else {
            return;
        };
        let wanted = canonical(&address);
        self.emails.retain(|e| canonical(&e.address) != wanted);
        self.pending.retain(|p| canonical(&p.address) != wanted);
    }
}

fn verification_requested(
    uid: &str,
    address: &str,
    key: VerificationKey,
    at: DateTime<Utc>,
) -> PersonEvent {
    PersonEvent::EmailVerificationRequested {
        address: Sealed::new(uid, address.to_string()),
        key: Sealed::new(uid, key.key),
        expires_at: key.expires_at,
        requested_at: at,
    }
}

fn removed(uid: &str, email: &EmailState, at: DateTime<Utc>) -> PersonEvent {
    PersonEvent::EmailAddressRemoved {
        address: Sealed::new(uid, email.address.clone()),
        removed_at: at,
    }
}
