//! The rules a command to an organization can break.

/// A broken rule of the Organization aggregate, named after the rule.
#[derive(Debug, thiserror::Error)]
pub enum OrganizationError {
    #[error("this organization already exists")]
    AlreadyCreated,
    #[error("no such organization")]
    NotFound,
    #[error(
        "the name must be between 1 and {} characters",
        super::profile::MAX_NAME_CHARS
    )]
    InvalidName,
    #[error("'{0}' is not a known time zone")]
    UnknownTimeZone(String),
    #[error("'{0}' is not a valid hostname")]
    InvalidHostname(String),
    #[error("the hostname is in use by another organization")]
    HostnameInUse,
    #[error("'{0}' is not a URL")]
    InvalidUrl(String),
    #[error("the field {0} is longer than {1} characters")]
    FieldTooLong(&'static str, usize),
    #[error("'{0}' is not a role of an organization")]
    UnknownRole(String),
    #[error("the member limit must be at least 1")]
    InvalidMemberLimit,
    #[error("only an organization administrator may do this")]
    NotAnAdministrator,
    #[error("the person is not a member of this organization")]
    NotAMember,
    #[error("the person is already a member of this organization")]
    AlreadyAMember,
    #[error("the person is a member of another organization")]
    MemberOfAnotherOrganization,
    #[error("the organization has reached its member limit")]
    MemberLimitReached,
    #[error("an administrator cannot drop their own Organization.Admin role")]
    CannotDropOwnAdminRole,
    #[error(
        "the last administrator cannot leave or be removed; assign the role to another member first"
    )]
    LastAdministrator,
    #[error("a service the rule depends on failed: {0}")]
    ServiceFailed(String),
}
