//! The roles a member may hold in an organization, as the document lists
//! them.

use super::errors::OrganizationError;

/// The role that may manage the organization, its members and invitations.
pub const ADMIN_ROLE: &str = "Organization.Admin";

/// Every role a membership may carry.
pub const MEMBER_ROLES: [&str; 8] = [
    ADMIN_ROLE,
    "Contract.Admin",
    "Contract.Read",
    "Service.Transfer.Use",
    "Service.Transfer.Archive.CreateRoot",
    "Service.Drive.CreateSpace",
    "Service.All.Use",
    "Service.Spaces.Use",
];

/// The roles, each known, without repeats, in a stable order.
pub fn check_roles(roles: &[String]) -> Result<Vec<String>, OrganizationError> {
    let mut checked: Vec<String> = Vec::with_capacity(roles.len());
    for role in roles {
        if !MEMBER_ROLES.contains(&role.as_str()) {
            return Err(OrganizationError::UnknownRole(role.clone()));
        }
        if !checked.contains(role) {
            checked.push(role.clone());
        }
    }
    checked.sort();
    Ok(checked)
}
