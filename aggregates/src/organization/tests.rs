//! Given events, when a command, then events or a broken rule.

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use cqrs_es::test::TestFramework;

use super::*;
use crate::locale::Locale;
use crate::person::ServiceFailure;

/// Knows `taken.example.org` as another organization's hostname and the
/// person `elsewhere` as another organization's member.
#[derive(Default)]
struct FakeServices {
    claimed: Mutex<Vec<String>>,
}

#[async_trait]
impl OrganizationServices for FakeServices {
    async fn claim_hostname(
        &self,
        hostname: &str,
        _: &str,
    ) -> Result<Result<(), Taken>, ServiceFailure> {
        if hostname == "taken.example.org" {
            return Ok(Err(Taken));
        }
        self.claimed.lock().unwrap().push(hostname.to_string());
        Ok(Ok(()))
    }

    async fn claim_membership(
        &self,
        person: &str,
        _: &str,
    ) -> Result<Result<(), Taken>, ServiceFailure> {
        if person == "elsewhere" {
            return Ok(Err(Taken));
        }
        Ok(Ok(()))
    }
}

fn framework() -> TestFramework<Organization> {
    TestFramework::with(Arc::new(FakeServices::default()) as Arc<dyn OrganizationServices>)
}

fn at() -> DateTime<Utc> {
    DateTime::from_timestamp(1_700_000_000, 0).unwrap()
}

fn profile() -> OrganizationProfile {
    OrganizationProfile::new("Example Inc".into(), Locale::DeDe, "Europe/Berlin".into())
}

fn created(member_limit: u32) -> OrganizationEvent {
    OrganizationEvent::OrganizationCreated {
        uid: "o1".into(),
        profile: profile(),
        hostname: "example.test".into(),
        external_uid: None,
        member_limit,
        mfa_required: false,
        created_at: at(),
    }
}

fn joined(person: &str, roles: &[&str]) -> OrganizationEvent {
    OrganizationEvent::MemberJoined {
        person: person.into(),
        roles: roles.iter().map(|r| r.to_string()).collect(),
        reference: None,
        joined_at: at(),
    }
}

fn departed(person: &str, reason: DepartureReason) -> OrganizationEvent {
    OrganizationEvent::MemberDeparted {
        person: person.into(),
        reason,
        departed_at: at(),
    }
}

fn create(hostname: &str) -> OrganizationCommand {
    OrganizationCommand::Create(CreateOrganization {
        uid: "o1".into(),
        profile: profile(),
        hostname: hostname.into(),
        external_uid: None,
        member_limit: 5,
        mfa_required: false,
        at: at(),
    })
}

fn join(person: &str, roles: &[&str]) -> OrganizationCommand {
    OrganizationCommand::Join(JoinOrganization {
        person: person.into(),
        roles: roles.iter().map(|r| r.to_string()).collect(),
        reference: None,
        at: at(),
    })
}

fn assign(by: &str, person: &str, roles: &[&str]) -> OrganizationCommand {
    OrganizationCommand::AssignRoles(AssignRoles {
        by: Actor::Member(by.into()),
        person: person.into(),
        roles: roles.iter().map(|r| r.to_string()).collect(),
        reference: None,
        at: at(),
    })
}

fn leave(person: &str) -> OrganizationCommand {
    OrganizationCommand::Leave(LeaveOrganization {
        person: person.into(),
        at: at(),
    })
}

fn delete_account(person: &str) -> OrganizationCommand {
    OrganizationCommand::DepartOnAccountDeletion(DepartOnAccountDeletion {
        person: person.into(),
        at: at(),
    })
}

fn broken(result: Result<Vec<OrganizationEvent>, OrganizationError>) -> OrganizationError {
    result.expect_err("the rule should be broken")
}

#[test]
fn creation_lowercases_and_claims_the_hostname() {
    framework()
        .given_no_previous_events()
        .when(create("Example.TEST"))
        .then_expect_events(vec![created(5)]);
}

#[test]
fn creation_refuses_a_taken_or_invalid_hostname() {
    let taken = framework()
        .given_no_previous_events()
        .when(create("taken.example.org"));
    assert!(matches!(
        broken(taken.inspect_result()),
        OrganizationError::HostnameInUse
    ));
    for bad in [
        "localhost",
        "-a.example.org",
        "a..example.org",
        "a_b.example.org",
    ] {
        let result = framework().given_no_previous_events().when(create(bad));
        assert!(
            matches!(
                broken(result.inspect_result()),
                OrganizationError::InvalidHostname(_)
            ),
            "{bad}"
        );
    }
}

#[test]
fn joining_checks_roles_limit_and_other_memberships() {
    framework()
        .given(vec![created(5)])
        .when(join(
            "p1",
            &[
                "Service.Spaces.Use",
                "Organization.Admin",
                "Service.Spaces.Use",
            ],
        ))
        .then_expect_events(vec![joined(
            "p1",
            &["Organization.Admin", "Service.Spaces.Use"],
        )]);
    let unknown = framework()
        .given(vec![created(5)])
        .when(join("p1", &["Root"]));
    assert!(matches!(
        broken(unknown.inspect_result()),
        OrganizationError::UnknownRole(_)
    ));
    let full = framework()
        .given(vec![created(1), joined("p1", &[])])
        .when(join("p2", &[]));
    assert!(matches!(
        broken(full.inspect_result()),
        OrganizationError::MemberLimitReached
    ));
    let elsewhere = framework()
        .given(vec![created(5)])
        .when(join("elsewhere", &[]));
    assert!(matches!(
        broken(elsewhere.inspect_result()),
        OrganizationError::MemberOfAnotherOrganization
    ));
    let twice = framework()
        .given(vec![created(5), joined("p1", &[])])
        .when(join("p1", &[]));
    assert!(matches!(
        broken(twice.inspect_result()),
        OrganizationError::AlreadyAMember
    ));
}

#[test]
fn an_administrator_cannot_drop_their_own_admin_role() {
    let given = vec![
        created(5),
        joined("admin", &[ADMIN_ROLE]),
        joined("other", &[ADMIN_ROLE]),
    ];
    let own = framework()
        .given(given.clone())
        .when(assign("admin", "admin", &[]));
    assert!(matches!(
        broken(own.inspect_result()),
        OrganizationError::CannotDropOwnAdminRole
    ));
    framework()
        .given(given)
        .when(assign("other", "admin", &["Contract.Read"]))
        .then_expect_events(vec![OrganizationEvent::MemberRolesAssigned {
            person: "admin".into(),
            roles: vec!["Contract.Read".into()],
            reference: None,
            by: Some("other".into()),
            assigned_at: at(),
        }]);
}

#[test]
fn only_administrators_manage_members() {
    let given = vec![
        created(5),
        joined("admin", &[ADMIN_ROLE]),
        joined("user", &[]),
    ];
    let result = framework()
        .given(given.clone())
        .when(assign("user", "user", &[ADMIN_ROLE]));
    assert!(matches!(
        broken(result.inspect_result()),
        OrganizationError::NotAnAdministrator
    ));
    let stranger = framework()
        .given(given)
        .when(assign("admin", "stranger", &[]));
    assert!(matches!(
        broken(stranger.inspect_result()),
        OrganizationError::NotAMember
    ));
}

#[test]
fn the_last_administrator_cannot_leave() {
    let alone = framework()
        .given(vec![created(5), joined("admin", &[ADMIN_ROLE])])
        .when(leave("admin"));
    assert!(matches!(
        broken(alone.inspect_result()),
        OrganizationError::LastAdministrator
    ));
    framework()
        .given(vec![
            created(5),
            joined("admin", &[ADMIN_ROLE]),
            joined("user", &[]),
        ])
        .when(leave("user"))
        .then_expect_events(vec![departed("user", DepartureReason::Left)]);
}

#[test]
fn the_last_administrator_deletes_their_account_only_when_alone() {
    let with_others = framework()
        .given(vec![
            created(5),
            joined("admin", &[ADMIN_ROLE]),
            joined("user", &[]),
        ])
        .when(delete_account("admin"));
    assert!(matches!(
        broken(with_others.inspect_result()),
        OrganizationError::LastAdministrator
    ));
    framework()
        .given(vec![created(5), joined("admin", &[ADMIN_ROLE])])
        .when(delete_account("admin"))
        .then_expect_events(vec![departed("admin", DepartureReason::AccountDeleted)]);
    framework()
        .given(vec![created(5)])
        .when(delete_account("stranger"))
        .then_expect_events(vec![]);
}

#[test]
fn an_unchanged_profile_records_nothing() {
    let update = |name: &str| {
        OrganizationCommand::UpdateProfile(UpdateOrganizationProfile {
            by: Actor::Member("admin".into()),
            changes: ProfileChanges {
                name: Some(name.into()),
                ..ProfileChanges::default()
            },
            at: at(),
        })
    };
    let given = vec![created(5), joined("admin", &[ADMIN_ROLE])];
    framework()
        .given(given.clone())
        .when(update("Example Inc"))
        .then_expect_events(vec![]);
    let blank = framework().given(given).when(update("  "));
    assert!(matches!(
        broken(blank.inspect_result()),
        OrganizationError::InvalidName
    ));
}
