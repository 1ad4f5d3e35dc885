//! Rules for what operators and migrations do to a person: importing them
//! from another system, roles over the whole service, suspension.

use super::aggregate::{EmailState, Person};
use super::commands::{ImportPerson, SetClusterRoles};
use super::errors::PersonError;
use super::events::PersonEvent;
use super::services::PersonServices;
use crate::email::EmailAddress;
use crate::sealed::Sealed;

/// Roles a person may hold over the whole service.
pub const CLUSTER_ROLES: [&str; 2] = ["Cluster.Admin", "Cluster.AssetManagement"];

impl Person {
    pub(super) async fn import(
        &self,
        c: ImportPerson,
        services: &dyn PersonServices,
    ) -> Result<Vec<PersonEvent>, PersonError> {
        if self.is_known() {
            return Err(PersonError::AlreadyRegistered);
        }
        let address = EmailAddress::parse(&c.address)?;
        let name = c
            .name
            .map(|n| super::aggregate::check_name(&n))
            .transpose()?;
        super::aggregate::check_time_zone(&c.time_zone)?;
        if let Some(hash) = &c.password_hash {
            check_bcrypt_hash(hash)?;
        }
        services
            .claim_email(&address.canonical(), &c.uid)
            .await
            .map_err(super::aggregate::service_failed)?
            .map_err(|_| PersonError::EmailAddressInUse)?;
        let sealed = |value: String| Sealed::new(c.uid.clone(), value);
        Ok(vec![PersonEvent::PersonImported {
            uid: c.uid.clone(),
            address: sealed(address.as_str().to_string()),
            password_hash: c.password_hash.map(sealed),
            name: name.map(sealed),
            locale: c.locale,
            time_zone: c.time_zone,
            imported_at: c.at,
        }])
    }

    pub(super) fn set_cluster_roles(
        &self,
        c: SetClusterRoles,
    ) -> Result<Vec<PersonEvent>, PersonError> {
        self.uid()?;
        let mut roles = Vec::new();
        for role in c.roles {
            if !CLUSTER_ROLES.contains(&role.as_str()) {
                return Err(PersonError::UnknownClusterRole(role));
            }
            if !roles.contains(&role) {
                roles.push(role);
            }
        }
        roles.sort();
        if roles == self.cluster_roles {
            return Ok(vec![]);
        }
        Ok(vec![PersonEvent::ClusterRolesSet {
            roles,
            set_at: c.at,
        }])
    }

    pub(super) fn apply_imported(
        &mut self,
        uid: String,
        address: Option<String>,
        hash: Option<String>,
    ) {
        self.mark_registered(uid);
        self.password_hash = hash;
        if let Some(address) = address {
            self.emails.push(EmailState {
                address,
                is_verified: true,
                is_primary: true,
                remove_at: None,
            });
        }
    }
}

/// A bcrypt hash in modular crypt form: `$2a$`, `$2b$` or `$2y$`, a cost of
/// 04 to 31, and 53 characters of salt and digest.
fn check_bcrypt_hash(hash: &str) -> Result<(), PersonError> {
    let parts: Vec<&str> = hash.split('$').collect();
    let valid = matches!(parts.as_slice(), ["", version, cost, rest]
        if ["2a", "2b", "2y"].contains(version)
            && cost.parse::<u32>().is_ok_and(|c| (4..=31).contains(&c))
            && cost.len() == 2
            && rest.len() == 53
            && rest.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'/'));
    if valid {
        Ok(())
    } else {
        Err(PersonError::InvalidPasswordHash)
    }
}
