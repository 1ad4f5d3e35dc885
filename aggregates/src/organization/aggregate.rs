//! The Organization aggregate's state, its rules (`handle`) and how events
//! change its state (`apply`).

use std::collections::BTreeMap;
use std::sync::Arc;

use cqrs_es::Aggregate;
use cqrs_es::event_sink::EventSink;
use serde::{Deserialize, Serialize};

use super::commands::*;
use super::errors::OrganizationError;
use super::events::{DepartureReason, OrganizationEvent};
use super::profile::{OrganizationProfile, check_hostname};
use super::roles::{ADMIN_ROLE, check_roles};
use super::services::OrganizationServices;
use crate::person::ServiceFailure;
use crate::sealed::Sealed;

/// A member as the aggregate knows them: the roles are all its rules need.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Member {
    pub roles: Vec<String>,
}

impl Member {
    fn is_admin(&self) -> bool {
        self.roles.iter().any(|r| r == ADMIN_ROLE)
    }
}

/// An organization, rebuilt from its events.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Organization {
    uid: Option<String>,
    profile: Option<OrganizationProfile>,
    hostname: Option<String>,
    member_limit: u32,
    members: BTreeMap<String, Member>,
}

impl Organization {
    /// The members by person uid.
    pub fn members(&self) -> &BTreeMap<String, Member> {
        &self.members
    }

    fn uid(&self) -> Result<&str, OrganizationError> {
        self.uid.as_deref().ok_or(OrganizationError::NotFound)
    }

    fn member(&self, person: &str) -> Result<&Member, OrganizationError> {
        self.members
            .get(person)
            .ok_or(OrganizationError::NotAMember)
    }

    /// Checks that `by` may manage the organization.
    fn authorize(&self, by: &Actor) -> Result<(), OrganizationError> {
        self.uid()?;
        match by {
            Actor::ClusterAdministrator => Ok(()),
            Actor::Member(person) => match self.members.get(person) {
                Some(member) if member.is_admin() => Ok(()),
                _ => Err(OrganizationError::NotAnAdministrator),
            },
        }
    }

    /// Whether `person` holds the administrator role and nobody else does.
    fn is_last_admin(&self, person: &str) -> bool {
        let admins: Vec<&String> = self
            .members
            .iter()
            .filter(|(_, m)| m.is_admin())
            .map(|(p, _)| p)
            .collect();
        admins == [person]
    }
}

impl Aggregate for Organization {
    const TYPE: &'static str = "Organization";
    type Command = OrganizationCommand;
    type Event = OrganizationEvent;
    type Error = OrganizationError;
    type Services = Arc<dyn OrganizationServices>;

    async fn handle(
        &mut self,
        command: OrganizationCommand,
        services: &Self::Services,
        sink: &EventSink<Self>,
    ) -> Result<(), OrganizationError> {
        let services = services.as_ref();
        let events = match command {
            OrganizationCommand::Create(c) => self.create(c, services).await?,
            OrganizationCommand::UpdateProfile(c) => self.update_profile(c)?,
            OrganizationCommand::ImportProfile(c) => self.import_profile(c, services).await?,
            OrganizationCommand::UpdateDetails(c) => {
                self.authorize(&c.by)?;
                vec![OrganizationEvent::OrganizationDetailsUpdated {
                    mfa_required: c.mfa_required,
                    updated_at: c.at,
                }]
            }
            OrganizationCommand::Join(c) => self.join(c, services).await?,
            OrganizationCommand::AssignRoles(c) => self.assign_roles(c)?,
            OrganizationCommand::Leave(c) => {
                self.uid()?;
                self.member(&c.person)?;
                self.depart(&c.person, DepartureReason::Left, c.at)?
            }
            OrganizationCommand::RemoveMember(c) => {
                self.authorize(&c.by)?;
                self.member(&c.person)?;
                let by = match c.by {
                    Actor::Member(person) => Some(person),
                    Actor::ClusterAdministrator => None,
                };
                let reason = DepartureReason::Removed {
                    by,
                    inform: c.inform,
                };
                self.depart(&c.person, reason, c.at)?
            }
            OrganizationCommand::DepartOnAccountDeletion(c) => {
                // The document forbids leaving an organization without an
                // administrator only while others depend on it.
                match self.members.get(&c.person) {
                    None => vec![],
                    Some(_) if self.members.len() == 1 => {
                        vec![departed(&c.person, DepartureReason::AccountDeleted, c.at)]
                    }
                    Some(_) => self.depart(&c.person, DepartureReason::AccountDeleted, c.at)?,
                }
            }
        };
        for event in events {
            sink.write(event, self).await;
        }
        Ok(())
    }

    fn apply(&mut self, event: OrganizationEvent) {
        match event {
            OrganizationEvent::OrganizationCreated {
                uid,
                profile,
                hostname,
                member_limit,
                ..
            } => {
                self.uid = Some(uid);
                self.profile = Some(profile);
                self.hostname = Some(hostname);
                self.member_limit = member_limit;
            }
            OrganizationEvent::OrganizationProfileUpdated { profile, .. } => {
                self.profile = Some(profile)
            }
            OrganizationEvent::HostnameChanged { hostname, .. } => self.hostname = Some(hostname),
            OrganizationEvent::OrganizationDetailsUpdated { .. } => {}
            OrganizationEvent::MemberJoined { person, roles, .. }
            | OrganizationEvent::MemberRolesAssigned { person, roles, .. } => {
                self.members.insert(person, Member { roles });
            }
            OrganizationEvent::MemberDeparted { person, .. } => {
                self.members.remove(&person);
            }
        }
    }
}

impl Organization {
    async fn create(
        &self,
        c: CreateOrganization,
        services: &dyn OrganizationServices,
    ) -> Result<Vec<OrganizationEvent>, OrganizationError> {
        if self.uid.is_some() {
            return Err(OrganizationError::AlreadyCreated);
        }
        c.profile.check()?;
        if c.member_limit == 0 {
            return Err(OrganizationError::InvalidMemberLimit);
        }
        let hostname = check_hostname(&c.hostname)?;
        claim(services.claim_hostname(&hostname, &c.uid).await)
            .map_err(|taken| taken.unwrap_or(OrganizationError::HostnameInUse))?;
        Ok(vec![OrganizationEvent::OrganizationCreated {
            uid: c.uid,
            profile: c.profile,
            hostname,
            external_uid: c.external_uid,
            member_limit: c.member_limit,
            mfa_required: c.mfa_required,
            created_at: c.at,
        }])
    }

    fn update_profile(
        &self,
        c: UpdateOrganizationProfile,
    ) -> Result<Vec<OrganizationEvent>, OrganizationError> {
        self.authorize(&c.by)?;
        let current = self.profile.as_ref().ok_or(OrganizationError::NotFound)?;
        let profile = current.changed(c.changes)?;
        // Every member is told of a change, so an unchanged profile is no
        // change at all.
        if &profile == current {
            return Ok(vec![]);
        }
        Ok(vec![OrganizationEvent::OrganizationProfileUpdated {
            profile,
            updated_at: c.at,
        }])
    }

    async fn import_profile(
        &self,
        c: ImportProfile,
        services: &dyn OrganizationServices,
    ) -> Result<Vec<OrganizationEvent>, OrganizationError> {
        let uid = self.uid()?;
        c.profile.check()?;
        let mut events = vec![OrganizationEvent::OrganizationProfileUpdated {
            profile: c.profile,
            updated_at: c.at,
        }];
        let current = self.hostname.clone().unwrap_or_default();
        if let Some(hostname) = c.hostname {
            let hostname = check_hostname(&hostname)?;
            if hostname != current {
                claim(services.claim_hostname(&hostname, uid).await)
                    .map_err(|taken| taken.unwrap_or(OrganizationError::HostnameInUse))?;
                events.push(OrganizationEvent::HostnameChanged {
                    hostname,
                    previous: current,
                    changed_at: c.at,
                });
            }
        }
        Ok(events)
    }

    async fn join(
        &self,
        c: JoinOrganization,
        services: &dyn OrganizationServices,
    ) -> Result<Vec<OrganizationEvent>, OrganizationError> {
        let uid = self.uid()?;
        if self.members.contains_key(&c.person) {
            return Err(OrganizationError::AlreadyAMember);
        }
        let roles = check_roles(&c.roles)?;
        if self.members.len() >= self.member_limit as usize {
            return Err(OrganizationError::MemberLimitReached);
        }
        claim(services.claim_membership(&c.person, uid).await)
            .map_err(|taken| taken.unwrap_or(OrganizationError::MemberOfAnotherOrganization))?;
        Ok(vec![OrganizationEvent::MemberJoined {
            reference: sealed_reference(&c.person, c.reference)?,
            person: c.person,
            roles,
            joined_at: c.at,
        }])
    }

    fn assign_roles(&self, c: AssignRoles) -> Result<Vec<OrganizationEvent>, OrganizationError> {
        self.authorize(&c.by)?;
        let member = self.member(&c.person)?;
        let roles = check_roles(&c.roles)?;
        let drops_admin = member.is_admin() && !roles.iter().any(|r| r == ADMIN_ROLE);
        if drops_admin && c.by == Actor::Member(c.person.clone()) {
            return Err(OrganizationError::CannotDropOwnAdminRole);
        }
        if drops_admin && self.is_last_admin(&c.person) {
            return Err(OrganizationError::LastAdministrator);
        }
        let by = match c.by {
            Actor::Member(person) => Some(person),
            Actor::ClusterAdministrator => None,
        };
        Ok(vec![OrganizationEvent::MemberRolesAssigned {
            reference: sealed_reference(&c.person, c.reference)?,
            person: c.person,
            roles,
            by,
            assigned_at: c.at,
        }])
    }

    /// The member `person` departs, unless that leaves the organization
    /// without an administrator.
    fn depart(
        &self,
        person: &str,
        reason: DepartureReason,
        at: chrono::DateTime<chrono::Utc>,
    ) -> Result<Vec<OrganizationEvent>, OrganizationError> {
        if self.is_last_admin(person) {
            return Err(OrganizationError::LastAdministrator);
        }
        Ok(vec![departed(person, reason, at)])
    }
}

fn departed(
    person: &str,
    reason: DepartureReason,
    at: chrono::DateTime<chrono::Utc>,
) -> OrganizationEvent {
    OrganizationEvent::MemberDeparted {
        person: person.to_string(),
        reason,
        departed_at: at,
    }
}

/// Longest note an organization keeps about a member.
const MAX_REFERENCE_CHARS: usize = 200;

fn sealed_reference(
    person: &str,
    reference: Option<String>,
) -> Result<Option<Sealed<String>>, OrganizationError> {
    match reference {
        Some(r) if r.chars().count() > MAX_REFERENCE_CHARS => Err(OrganizationError::FieldTooLong(
            "reference",
            MAX_REFERENCE_CHARS,
        )),
        other => Ok(other.map(|r| Sealed::new(person, r))),
    }
}

/// `Err(None)` when the claim was refused, `Err(Some(_))` when the registry
/// failed.
fn claim(
    outcome: Result<Result<(), super::services::Taken>, ServiceFailure>,
) -> Result<(), Option<OrganizationError>> {
    match outcome {
        Ok(Ok(())) => Ok(()),
        Ok(Err(_)) => Err(None),
        Err(failure) => Err(Some(OrganizationError::ServiceFailed(failure.0))),
    }
}
