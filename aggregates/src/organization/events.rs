//! What has happened to an organization. Event type names are never
//! renamed; a changed payload gets a new version and an upcaster.

use chrono::{DateTime, Utc};
use cqrs_es::DomainEvent;
use serde::{Deserialize, Serialize};

use super::profile::OrganizationProfile;
use crate::sealed::Sealed;

/// Why a member is no longer one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", tag = "kind")]
pub enum DepartureReason {
    /// They left by themselves.
    Left,
    /// An administrator (`by`, absent for a service administrator) removed
    /// them, which deletes their account; `inform` asks to tell them.
    Removed { by: Option<String>, inform: bool },
    /// They deleted their account.
    AccountDeleted,
}

/// Every event of the Organization aggregate. A member's `reference` is
/// the organization's note about the person and sealed under their key.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum OrganizationEvent {
    OrganizationCreated {
        uid: String,
        profile: OrganizationProfile,
        hostname: String,
        external_uid: Option<String>,
        member_limit: u32,
        mfa_required: bool,
        created_at: DateTime<Utc>,
    },
    OrganizationProfileUpdated {
        profile: OrganizationProfile,
        updated_at: DateTime<Utc>,
    },
    /// `previous` stays the organization's, as an inactive hostname.
    HostnameChanged {
        hostname: String,
        previous: String,
        changed_at: DateTime<Utc>,
    },
    OrganizationDetailsUpdated {
        mfa_required: bool,
        updated_at: DateTime<Utc>,
    },
    MemberJoined {
        person: String,
        roles: Vec<String>,
        reference: Option<Sealed<String>>,
        joined_at: DateTime<Utc>,
    },
    /// `reference` absent: unchanged.
    MemberRolesAssigned {
        person: String,
        roles: Vec<String>,
        reference: Option<Sealed<String>>,
        by: Option<String>,
        assigned_at: DateTime<Utc>,
    },
    MemberDeparted {
        person: String,
        reason: DepartureReason,
        departed_at: DateTime<Utc>,
    },
}

impl OrganizationEvent {
    /// The person whose membership or privileges this event changes.
    pub fn member(&self) -> Option<&str> {
        match self {
            Self::MemberJoined { person, .. }
            | Self::MemberRolesAssigned { person, .. }
            | Self::MemberDeparted { person, .. } => Some(person),
            _ => None,
        }
    }
}

impl DomainEvent for OrganizationEvent {
    fn event_type(&self) -> String {
        let name = match self {
            Self::OrganizationCreated { .. } => "OrganizationCreated",
            Self::OrganizationProfileUpdated { .. } => "OrganizationProfileUpdated",
            Self::HostnameChanged { .. } => "HostnameChanged",
            Self::OrganizationDetailsUpdated { .. } => "OrganizationDetailsUpdated",
            Self::MemberJoined { .. } => "MemberJoined",
            Self::MemberRolesAssigned { .. } => "MemberRolesAssigned",
            Self::MemberDeparted { .. } => "MemberDeparted",
        };
        name.to_string()
    }

    fn event_version(&self) -> String {
        "1.0".to_string()
    }
}
