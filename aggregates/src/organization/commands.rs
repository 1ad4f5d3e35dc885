//! What may be asked of an organization.

use chrono::{DateTime, Utc};

use super::profile::{OrganizationProfile, ProfileChanges};

/// Every command the Organization aggregate handles.
#[derive(Debug, Clone)]
pub enum OrganizationCommand {
    Create(CreateOrganization),
    UpdateProfile(UpdateOrganizationProfile),
    ImportProfile(ImportProfile),
    UpdateDetails(UpdateDetails),
    Join(JoinOrganization),
    AssignRoles(AssignRoles),
    Leave(LeaveOrganization),
    RemoveMember(RemoveMember),
    DepartOnAccountDeletion(DepartOnAccountDeletion),
}

impl OrganizationCommand {
    /// The command's name, for logs and spans.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Create(_) => "CreateOrganization",
            Self::UpdateProfile(_) => "UpdateOrganizationProfile",
            Self::ImportProfile(_) => "ImportOrganizationProfile",
            Self::UpdateDetails(_) => "UpdateOrganizationDetails",
            Self::Join(_) => "JoinOrganization",
            Self::AssignRoles(_) => "AssignRoles",
            Self::Leave(_) => "LeaveOrganization",
            Self::RemoveMember(_) => "RemoveMember",
            Self::DepartOnAccountDeletion(_) => "DepartOnAccountDeletion",
        }
    }

    /// The person this command makes a member, whose claim must be freed
    /// if the command fails.
    pub fn claimed_member(&self) -> Option<&str> {
        match self {
            Self::Join(c) => Some(&c.person),
            _ => None,
        }
    }

    /// The hostname (as claimed: trimmed, lower case) this command may
    /// claim, whose claim must be freed if the command fails.
    pub fn claimed_hostname(&self) -> Option<String> {
        let hostname = match self {
            Self::Create(c) => Some(&c.hostname),
            Self::ImportProfile(c) => c.hostname.as_ref(),
            _ => None,
        };
        hostname.map(|h| h.trim().to_ascii_lowercase())
    }
}

/// Who asks for a change of members or details: a member of the
/// organization (whose roles the aggregate checks), or an administrator of
/// the whole service (whose role the server checked).
#[derive(Debug, Clone, PartialEq)]
pub enum Actor {
    Member(String),
    ClusterAdministrator,
}

/// Founds an organization. The hostname is checked and claimed here.
#[derive(Debug, Clone)]
pub struct CreateOrganization {
    pub uid: String,
    pub profile: OrganizationProfile,
    pub hostname: String,
    pub external_uid: Option<String>,
    pub member_limit: u32,
    pub mfa_required: bool,
    pub at: DateTime<Utc>,
}

/// Changes the profile (#51), by an administrator.
#[derive(Debug, Clone)]
pub struct UpdateOrganizationProfile {
    pub by: Actor,
    pub changes: ProfileChanges,
    pub at: DateTime<Utc>,
}

/// Overwrites profile and hostname from a migration (#68). The previous
/// hostname becomes inactive.
#[derive(Debug, Clone)]
pub struct ImportProfile {
    pub profile: OrganizationProfile,
    pub hostname: Option<String>,
    pub at: DateTime<Utc>,
}

/// Changes technical details (#48), by an administrator.
#[derive(Debug, Clone)]
pub struct UpdateDetails {
    pub by: Actor,
    pub mfa_required: bool,
    pub at: DateTime<Utc>,
}

/// Makes `person` a member with `roles`.
#[derive(Debug, Clone)]
pub struct JoinOrganization {
    pub person: String,
    pub roles: Vec<String>,
    pub reference: Option<String>,
    pub at: DateTime<Utc>,
}

/// Replaces the roles of the member `person` (#60). A reference left out
/// keeps the current one.
#[derive(Debug, Clone)]
pub struct AssignRoles {
    pub by: Actor,
    pub person: String,
    pub roles: Vec<String>,
    pub reference: Option<String>,
    pub at: DateTime<Utc>,
}

/// The member `person` leaves (#49).
#[derive(Debug, Clone)]
pub struct LeaveOrganization {
    pub person: String,
    pub at: DateTime<Utc>,
}

/// An administrator removes the member `person` (#62), whose account is
/// deleted next.
#[derive(Debug, Clone)]
pub struct RemoveMember {
    pub by: Actor,
    pub person: String,
    pub inform: bool,
    pub at: DateTime<Utc>,
}

/// The member `person` is about to delete their account (#24).
#[derive(Debug, Clone)]
pub struct DepartOnAccountDeletion {
    pub person: String,
    pub at: DateTime<Utc>,
}
