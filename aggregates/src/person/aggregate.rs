//! The Person aggregate's state, its rules (`handle`) and how events change
//! its state (`apply`).

use chrono::{DateTime, Utc};
use cqrs_es::Aggregate;
use cqrs_es::event_sink::EventSink;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

use super::MAX_NAME_CHARS;
use super::commands::{AuthenticateWithPassword, PersonCommand, RegisterPerson, UpdateProfile};
use super::errors::PersonError;
use super::events::PersonEvent;
use super::services::PersonServices;
use crate::email::{EmailAddress, canonical};
use crate::sealed::Sealed;

/// One of a person's addresses as the aggregate knows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EmailState {
    pub address: String,
    pub is_verified: bool,
    pub is_primary: bool,
    /// When an unverified secondary address lapses.
    pub remove_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct PendingVerification {
    pub(super) address: String,
    pub(super) key: String,
    pub(super) expires_at: DateTime<Utc>,
}

/// A person, rebuilt from their events.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Person {
    uid: Option<String>,
    pub(super) password_hash: Option<String>,
    pub(super) emails: Vec<EmailState>,
    pub(super) pending: Vec<PendingVerification>,
    is_deleted: bool,
    is_disabled: bool,
    has_avatar: bool,
    pub(super) cluster_roles: Vec<String>,
    pub(super) pending_reset: Option<PendingReset>,
}

/// The one password reset key that may be redeemed, by its digest.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct PendingReset {
    pub(super) key_digest: String,
    pub(super) expires_at: DateTime<Utc>,
}

impl Person {
    /// The person's addresses.
    pub fn emails(&self) -> &[EmailState] {
        &self.emails
    }

    /// Whether the person was ever registered or imported.
    pub(super) fn is_known(&self) -> bool {
        self.uid.is_some()
    }

    pub(super) fn mark_registered(&mut self, uid: String) {
        self.uid = Some(uid);
    }

    /// The uid of a registered person who has not been deleted.
    pub(super) fn uid(&self) -> Result<&str, PersonError> {
        match (&self.uid, self.is_deleted) {
            (Some(uid), false) => Ok(uid),
            _ => Err(PersonError::NotRegistered),
        }
    }

    /// One of the person's addresses, compared case-insensitively.
    pub(super) fn email(&self, address: &str) -> Option<&EmailState> {
        let wanted = canonical(address);
        self.emails.iter().find(|e| canonical(&e.address) == wanted)
    }

    pub(super) fn email_mut(&mut self, address: &str) -> Option<&mut EmailState> {
        let wanted = canonical(address);
        self.emails
            .iter_mut()
            .find(|e| canonical(&e.address) == wanted)
    }
}

impl Aggregate for Person {
    const TYPE: &'static str = "Person";
    type Command = PersonCommand;
    type Event = PersonEvent;
    type Error = PersonError;
    type Services = Arc<dyn PersonServices>;

    async fn handle(
        &mut self,
        command: PersonCommand,
        services: &Self::Services,
        sink: &EventSink<Self>,
    ) -> Result<(), PersonError> {
        let events = match command {
            PersonCommand::Register(c) => self.register(c, services.as_ref()).await?,
            PersonCommand::AuthenticateWithPassword(c) => {
                self.authenticate(c, services.as_ref()).await?
            }
            PersonCommand::ConfirmEmailAddress(c) => self.confirm_email(c)?,
            PersonCommand::UpdateProfile(c) => self.update_profile(c)?,
            PersonCommand::RequestPasswordReset(c) => self.request_password_reset(c)?,
            PersonCommand::RedeemPasswordResetKey(c) => self.redeem_password_reset_key(c)?,
            PersonCommand::AddEmailAddress(c) => self.add_email(c, services.as_ref()).await?,
            PersonCommand::RequestEmailVerification(c) => self.request_verification(c)?,
            PersonCommand::MarkEmailAddressPrimary(c) => self.mark_primary(c)?,
            PersonCommand::RemoveEmailAddress(c) => self.remove_email(c)?,
            PersonCommand::RemoveLapsedEmailAddress(c) => self.remove_lapsed_email(c)?,
            PersonCommand::ReplaceAvatar(c) => {
                self.uid()?;
                let uploaded_at = c.at;
                vec![PersonEvent::AvatarUploaded {
                    avatar_id: c.avatar_id,
                    uploaded_at,
                }]
            }
            PersonCommand::RemoveAvatar(c) => match (self.uid()?, self.has_avatar) {
                (_, true) => vec![PersonEvent::AvatarRemoved { removed_at: c.at }],
                (_, false) => vec![],
            },
            PersonCommand::DeleteAccount(c) => {
                self.uid()?;
                vec![PersonEvent::PersonDeleted { deleted_at: c.at }]
            }
            PersonCommand::Import(c) => self.import(c, services.as_ref()).await?,
            PersonCommand::SetClusterRoles(c) => self.set_cluster_roles(c)?,
            PersonCommand::Disable(c) => match (self.uid()?, self.is_disabled) {
                (_, false) => vec![PersonEvent::AccountDisabled { disabled_at: c.at }],
                (_, true) => vec![],
            },
            PersonCommand::Enable(c) => match (self.uid()?, self.is_disabled) {
                (_, true) => vec![PersonEvent::AccountEnabled { enabled_at: c.at }],
                (_, false) => vec![],
            },
        };
        for event in events {
            sink.write(event, self).await;
        }
        Ok(())
    }

    fn apply(&mut self, event: PersonEvent) {
        match event {
            PersonEvent::PersonRegistered {
                uid,
                address,
                password_hash,
                ..
            } => {
                self.mark_registered(uid);
                self.password_hash = password_hash.into_inner();
                if let Some(address) = address.into_inner() {
                    self.emails.push(EmailState {
                        address,
                        is_verified: false,
                        is_primary: true,
                        remove_at: None,
                    });
                }
            }
            PersonEvent::EmailVerificationRequested {
                address,
                key,
                expires_at,
                ..
            } => self.apply_verification_requested(address, key, expires_at),
            PersonEvent::EmailAddressVerified { address, .. } => {
                self.apply_address_verified(address)
            }
            PersonEvent::PasswordResetRequested {
                key_digest,
                expires_at,
                ..
            } => {
                // Asking again renders the earlier key void.
                self.pending_reset = Some(PendingReset {
                    key_digest,
                    expires_at,
                });
            }
            PersonEvent::PasswordResetKeyRedeemed { .. } => self.pending_reset = None,
            PersonEvent::EmailAddressAdded {
                address, remove_at, ..
            } => self.apply_address_added(address, remove_at),
            PersonEvent::PrimaryEmailAddressChanged { address } => {
                self.apply_primary_changed(address)
            }
            PersonEvent::EmailAddressRemoved { address, .. } => self.apply_address_removed(address),
            PersonEvent::PersonDeleted { .. } => self.is_deleted = true,
            PersonEvent::AvatarUploaded { .. } => self.has_avatar = true,
            PersonEvent::AvatarRemoved { .. } => self.has_avatar = false,
            PersonEvent::ProfileUpdated { .. } => {}
            PersonEvent::PersonImported {
                uid,
                address,
                password_hash,
                ..
            } => self.apply_imported(
                uid,
                address.into_inner(),
                password_hash.and_then(Sealed::into_inner),
            ),
            PersonEvent::ClusterRolesSet { roles, .. } => self.cluster_roles = roles,
            PersonEvent::AccountDisabled { .. } => self.is_disabled = true,
            PersonEvent::AccountEnabled { .. } => self.is_disabled = false,
        }
    }
}

impl Person {
    async fn register(
        &self,
        c: RegisterPerson,
        services: &dyn PersonServices,
    ) -> Result<Vec<PersonEvent>, PersonError> {
        if self.is_known() {
            return Err(PersonError::AlreadyRegistered);
        }
        let address = EmailAddress::parse(&c.address)?;
        c.password.check_policy()?;
        let name = c.name.map(|n| check_name(&n)).transpose()?;
        check_time_zone(&c.time_zone)?;

        let claim = services.claim_email(&address.canonical(), &c.uid).await;
        claim
            .map_err(service_failed)?
            .map_err(|_| PersonError::EmailAddressInUse)?;
        let hash = services
            .hash_password(&c.password)
            .await
            .map_err(service_failed)?;

        let sealed = |value: String| Sealed::new(c.uid.clone(), value);
        Ok(vec![
            PersonEvent::PersonRegistered {
                uid: c.uid.clone(),
                address: sealed(address.as_str().to_string()),
                password_hash: sealed(hash),
                name: name.map(sealed),
                locale: c.locale,
                time_zone: c.time_zone,
                registered_at: c.at,
            },
            PersonEvent::EmailVerificationRequested {
                address: sealed(address.as_str().to_string()),
                key: sealed(c.verification.key),
                expires_at: c.verification.expires_at,
                requested_at: c.at,
            },
        ])
    }

    async fn authenticate(
        &self,
        c: AuthenticateWithPassword,
        services: &dyn PersonServices,
    ) -> Result<Vec<PersonEvent>, PersonError> {
        self.uid()?;
        if self.is_disabled {
            return Err(PersonError::AccountDisabled);
        }
        let hash = self
            .password_hash
            .as_deref()
            .ok_or(PersonError::NoPassword)?;
        let valid = services
            .verify_password(&c.password, hash)
            .await
            .map_err(service_failed)?;
        if !valid {
            return Err(PersonError::InvalidCredentials);
        }
        // A successful check changes nothing about the person; the login is
        // recorded by the ID token it leads to. Without an event here,
        // concurrent logins of one person never conflict.
        Ok(vec![])
    }

    fn update_profile(&self, c: UpdateProfile) -> Result<Vec<PersonEvent>, PersonError> {
        let uid = self.uid()?;
        let name = c.name.map(|n| check_name(&n)).transpose()?;
        if let Some(time_zone) = &c.time_zone {
            check_time_zone(time_zone)?;
        }
        if name.is_none() && c.locale.is_none() && c.time_zone.is_none() {
            return Ok(vec![]);
        }
        Ok(vec![PersonEvent::ProfileUpdated {
            name: name.map(|n| Sealed::new(uid, n)),
            locale: c.locale,
            time_zone: c.time_zone,
        }])
    }
}

pub(super) fn check_name(name: &str) -> Result<String, PersonError> {
    let name = name.trim();
    if name.chars().count() > MAX_NAME_CHARS {
        return Err(PersonError::NameTooLong);
    }
    Ok(name.to_string())
}

pub(super) fn check_time_zone(time_zone: &str) -> Result<(), PersonError> {
    if crate::time_zone::is_known(time_zone) {
        Ok(())
    } else {
        Err(PersonError::UnknownTimeZone(time_zone.to_string()))
    }
}

pub(super) fn service_failed(failure: super::services::ServiceFailure) -> PersonError {
    PersonError::ServiceFailed(failure.0)
}
