//! The Organization aggregate: a customer of Skalio, its profile and
//! hostnames, and its members with the roles each holds.
//!
//! A person belongs to at most one organization and a hostname to at most
//! one organization; both are kept unique across aggregates by claims the
//! services make before an event is appended.

mod aggregate;
mod commands;
mod errors;
mod events;
mod profile;
mod roles;
mod services;
#[cfg(test)]
mod tests;

pub use aggregate::{Member, Organization};
pub use commands::{
    Actor, AssignRoles, CreateOrganization, DepartOnAccountDeletion, ImportProfile,
    JoinOrganization, LeaveOrganization, OrganizationCommand, RemoveMember, UpdateDetails,
    UpdateOrganizationProfile,
};
pub use errors::OrganizationError;
pub use events::{DepartureReason, OrganizationEvent};
pub use profile::{OrganizationProfile, ProfileChanges, check_hostname};
pub use roles::{ADMIN_ROLE, MEMBER_ROLES, check_roles};
pub use services::{OrganizationServices, Taken};
