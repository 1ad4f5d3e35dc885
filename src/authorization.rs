//! Who may do what, read from the verified claims of an access token. The
//! claims can be trusted to be current: every change of a person's
//! membership or roles blacklists their tokens.

use crate::error::ApiError;
use crate::tokens::Claims;

/// The role that may manage the whole service.
pub const CLUSTER_ADMIN: &str = "Cluster.Admin";
/// `authLevel` of a token obtained with a second factor.
pub const AUTH_LEVEL_MFA: u8 = 3;

fn has_role(claims: &Claims, role: &str) -> bool {
    claims.roles.iter().any(|r| r == role)
}

/// Whether the caller is a member of `organization`, whatever their roles.
pub fn is_member(claims: &Claims, organization: &str) -> bool {
    claims.org_id.as_deref() == Some(organization)
}

/// The caller must be a member of `organization`.
pub fn require_member(claims: &Claims, organization: &str) -> Result<(), ApiError> {
    if is_member(claims, organization) {
        Ok(())
    } else {
        Err(ApiError::forbidden(
            "Only members of the organization may access it.",
        ))
    }
}

/// The caller must hold `Organization.Admin` in `organization`.
pub fn require_org_admin(claims: &Claims, organization: &str) -> Result<(), ApiError> {
    let admin = skalio_id_aggregates::organization::ADMIN_ROLE;
    if is_member(claims, organization) && has_role(claims, admin) {
        Ok(())
    } else {
        Err(ApiError::forbidden(
            "Only administrators of the organization may do this.",
        ))
    }
}

/// The caller must hold `Cluster.Admin`.
pub fn require_cluster_admin(claims: &Claims) -> Result<(), ApiError> {
    if has_role(claims, CLUSTER_ADMIN) {
        Ok(())
    } else {
        Err(ApiError::forbidden(
            "Only administrators of the service may do this.",
        ))
    }
}

/// The caller must have authenticated with a second factor.
pub fn require_mfa(claims: &Claims) -> Result<(), ApiError> {
    if claims.auth_level >= AUTH_LEVEL_MFA {
        Ok(())
    } else {
        Err(ApiError::forbidden(
            "This request needs multi-factor authentication.",
        ))
    }
}
