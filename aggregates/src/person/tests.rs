//! Given events, when a command, then events or a broken rule.

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use chrono::{Duration, Utc};
use cqrs_es::test::TestFramework;

use super::*;
use crate::locale::Locale;
use crate::password::Password;
use crate::sealed::Sealed;

/// Hashes by prefixing, and knows one address as taken by someone else.
#[derive(Default)]
struct FakeServices {
    claimed: Mutex<Vec<String>>,
}

#[async_trait]
impl PersonServices for FakeServices {
    async fn claim_email(
        &self,
        address: &str,
        _person: &str,
    ) -> Result<Result<(), EmailAddressTaken>, ServiceFailure> {
        if address == "taken@example.org" {
            return Ok(Err(EmailAddressTaken));
        }
        self.claimed.lock().unwrap().push(address.to_string());
        Ok(Ok(()))
    }

    async fn hash_password(&self, password: &Password) -> Result<String, ServiceFailure> {
        Ok(format!("hashed:{}", password.expose()))
    }

    async fn verify_password(&self, p: &Password, hash: &str) -> Result<bool, ServiceFailure> {
        Ok(hash == format!("hashed:{}", p.expose()))
    }
}

fn framework() -> TestFramework<Person> {
    TestFramework::with(Arc::new(FakeServices::default()) as Arc<dyn PersonServices>)
}

fn register(address: &str, password: &str) -> PersonCommand {
    PersonCommand::Register(RegisterPerson {
        uid: "p1".into(),
        address: address.into(),
        password: Password::new(password.into()),
        name: Some(" Bob ".into()),
        locale: Locale::DeDe,
        time_zone: "Europe/Berlin".into(),
        verification: VerificationKey {
            key: "K3Y9AB".into(),
            expires_at: in_minutes(60),
        },
        at: Utc::now(),
    })
}

fn in_minutes(minutes: i64) -> chrono::DateTime<Utc> {
    Utc::now() + Duration::minutes(minutes)
}

fn registered() -> Vec<PersonEvent> {
    registered_with_key_expiring(in_minutes(60))
}

fn registered_with_key_expiring(expires_at: chrono::DateTime<Utc>) -> Vec<PersonEvent> {
    let sealed = |v: &str| Sealed::new("p1", v.to_string());
    vec![
        PersonEvent::PersonRegistered {
            uid: "p1".into(),
            address: sealed("Bob@example.org"),
            password_hash: sealed("hashed:CorrectHorse"),
            name: Some(sealed("Bob")),
            locale: Locale::DeDe,
            time_zone: "Europe/Berlin".into(),
            registered_at: Utc::now(),
        },
        PersonEvent::EmailVerificationRequested {
            address: sealed("Bob@example.org"),
            key: sealed("K3Y9AB"),
            expires_at,
            requested_at: Utc::now(),
        },
    ]
}

#[test]
fn registering_records_the_person_and_asks_for_verification() {
    let events = framework()
        .given_no_previous_events()
        .when(register("Bob@example.org", "CorrectHorse"))
        .inspect_result()
        .unwrap();
    assert_eq!(events.len(), 2);
    let PersonEvent::PersonRegistered {
        name,
        password_hash,
        ..
    } = &events[0]
    else {
        panic!("expected PersonRegistered, got {:?}", events[0]);
    };
    assert_eq!(name.as_ref().unwrap().get().unwrap(), "Bob");
    assert_eq!(password_hash.get().unwrap(), "hashed:CorrectHorse");
    assert!(matches!(
        events[1],
        PersonEvent::EmailVerificationRequested { .. }
    ));
}

#[test]
fn registering_refuses_bad_input() {
    let cases = [
        (
            "not-an-address",
            "CorrectHorse",
            "'not-an-address' is not a valid email address",
        ),
        (
            "bob@example.org",
            "short",
            "the password must have at least 8 characters",
        ),
        (
            "taken@example.org",
            "CorrectHorse",
            "the email address is already in use",
        ),
    ];
    for (address, password, message) in cases {
        framework()
            .given_no_previous_events()
            .when(register(address, password))
            .then_expect_error_message(message);
    }
}

#[test]
fn registering_refuses_unknown_time_zones_and_long_names() {
    let mut command = register("bob@example.org", "CorrectHorse");
    if let PersonCommand::Register(c) = &mut command {
        c.time_zone = "Mars/Olympus".into();
    }
    framework()
        .given_no_previous_events()
        .when(command)
        .then_expect_error_message("'Mars/Olympus' is not a known time zone");

    let mut command = register("bob@example.org", "CorrectHorse");
    if let PersonCommand::Register(c) = &mut command {
        c.name = Some("x".repeat(MAX_NAME_CHARS + 1));
    }
    framework()
        .given_no_previous_events()
        .when(command)
        .then_expect_error_message("the name must not be longer than 200 characters");
}

#[test]
fn a_person_registers_once() {
    framework()
        .given(registered())
        .when(register("bob@example.org", "CorrectHorse"))
        .then_expect_error_message("this person is already registered");
}

#[test]
fn the_right_password_authenticates_without_changing_the_person() {
    let events = framework()
        .given(registered())
        .when(PersonCommand::AuthenticateWithPassword(
            AuthenticateWithPassword {
                password: Password::new("CorrectHorse".into()),
            },
        ))
        .inspect_result()
        .unwrap();
    assert!(
        events.is_empty(),
        "a login changes nothing about the person: {events:?}"
    );
}

#[test]
fn a_wrong_password_records_nothing() {
    framework()
        .given(registered())
        .when(PersonCommand::AuthenticateWithPassword(
            AuthenticateWithPassword {
                password: Password::new("WrongHorse".into()),
            },
        ))
        .then_expect_error_message("the credentials are not valid");
}

#[test]
fn nobody_authenticates_as_an_unregistered_person() {
    framework()
        .given_no_previous_events()
        .when(PersonCommand::AuthenticateWithPassword(
            AuthenticateWithPassword {
                password: Password::new("CorrectHorse".into()),
            },
        ))
        .then_expect_error_message("no such person");
}

fn confirm(key: &str) -> PersonCommand {
    PersonCommand::ConfirmEmailAddress(ConfirmEmailAddress {
        key: key.into(),
        at: Utc::now(),
    })
}

#[test]
fn the_mailed_key_verifies_the_address_in_any_case() {
    let events = framework()
        .given(registered())
        .when(confirm("k3y9ab"))
        .inspect_result()
        .unwrap();
    let [PersonEvent::EmailAddressVerified { address, .. }] = &events[..] else {
        panic!("expected EmailAddressVerified, got {events:?}");
    };
    assert_eq!(address.get().unwrap(), "Bob@example.org");
}

#[test]
fn a_wrong_used_or_expired_key_verifies_nothing() {
    let message = "the verification key is not known or has expired";
    framework()
        .given(registered())
        .when(confirm("WRONG1"))
        .then_expect_error_message(message);

    let expired = registered_with_key_expiring(in_minutes(-1));
    framework()
        .given(expired)
        .when(confirm("K3Y9AB"))
        .then_expect_error_message(message);

    let mut used = registered();
    used.push(PersonEvent::EmailAddressVerified {
        address: Sealed::new("p1", "bob@example.org".to_string()),
        verified_at: Utc::now(),
    });
    framework()
        .given(used)
        .when(confirm("K3Y9AB"))
        .then_expect_error_message(message);
}

#[test]
fn updating_the_profile_records_only_what_was_given() {
    let events = framework()
        .given(registered())
        .when(PersonCommand::UpdateProfile(UpdateProfile {
            locale: Some(Locale::FrFr),
            ..Default::default()
        }))
        .inspect_result()
        .unwrap();
    assert_eq!(
        events,
        vec![PersonEvent::ProfileUpdated {
            name: None,
            locale: Some(Locale::FrFr),
            time_zone: None
        }]
    );

    framework()
        .given(registered())
        .when(PersonCommand::UpdateProfile(UpdateProfile::default()))
        .then_expect_events(vec![]);
}

#[test]
fn erased_data_replays_without_error() {
    let erased: Sealed<String> =
        serde_json::from_value(serde_json::json!({"sealedFor": "p1", "erased": true})).unwrap();
    let mut person = Person::default();
    cqrs_es::Aggregate::apply(
        &mut person,
        PersonEvent::PersonRegistered {
            uid: "p1".into(),
            address: erased.clone(),
            password_hash: erased,
            name: None,
            locale: Locale::EnUs,
            time_zone: "UTC".into(),
            registered_at: Utc::now(),
        },
    );
    assert!(person.emails().is_empty());
}

fn verified() -> Vec<PersonEvent> {
    let mut events = registered();
    events.push(PersonEvent::EmailAddressVerified {
        address: Sealed::new("p1", "Bob@example.org".to_string()),
        verified_at: Utc::now(),
    });
    events
}

fn request_reset(address: &str) -> PersonCommand {
    PersonCommand::RequestPasswordReset(RequestPasswordReset {
        address: address.into(),
        key: VerificationKey {
            key: "reset-key-123".into(),
            expires_at: in_minutes(15),
        },
        at: Utc::now(),
    })
}

fn redeem(key: &str) -> PersonCommand {
    PersonCommand::RedeemPasswordResetKey(RedeemPasswordResetKey {
        key: key.into(),
        at: Utc::now(),
    })
}

#[test]
fn a_reset_goes_only_to_a_verified_address() {
    let events = framework()
        .given(verified())
        .when(request_reset("BOB@example.org"))
        .inspect_result()
        .unwrap();
    let [
        PersonEvent::PasswordResetRequested {
            address,
            key_digest,
            ..
        },
    ] = &events[..]
    else {
        panic!("expected PasswordResetRequested, got {events:?}");
    };
    assert_eq!(address.get().unwrap(), "Bob@example.org");
    assert_eq!(key_digest, &reset_key_digest("reset-key-123"));

    let refused = "password recovery needs a verified address of a person with a password";
    framework()
        .given(registered())
        .when(request_reset("bob@example.org"))
        .then_expect_error_message(refused);
    framework()
        .given(verified())
        .when(request_reset("eve@example.org"))
        .then_expect_error_message(refused);
}

#[test]
fn a_reset_key_is_redeemed_once_and_only_the_newest() {
    let mut requested = verified();
    requested.extend(
        framework()
            .given(verified())
            .when(request_reset("bob@example.org"))
            .inspect_result()
            .unwrap(),
    );
    let redeemed = framework()
        .given(requested.clone())
        .when(redeem("reset-key-123"))
        .inspect_result()
        .unwrap();
    assert!(matches!(
        redeemed[..],
        [PersonEvent::PasswordResetKeyRedeemed { .. }]
    ));

    let gone = "the password reset key is not known, was used, or has expired";
    let mut used = requested.clone();
    used.extend(redeemed);
    framework()
        .given(used)
        .when(redeem("reset-key-123"))
        .then_expect_error_message(gone);
    framework()
        .given(requested.clone())
        .when(redeem("guessed"))
        .then_expect_error_message(gone);

    let mut superseded = requested;
    superseded.push(PersonEvent::PasswordResetRequested {
        address: Sealed::new("p1", "Bob@example.org".to_string()),
        key: Sealed::new("p1", "newer-key".to_string()),
        key_digest: reset_key_digest("newer-key"),
        expires_at: in_minutes(15),
        requested_at: Utc::now(),
    });
    framework()
        .given(superseded)
        .when(redeem("reset-key-123"))
        .then_expect_error_message(gone);
}

#[test]
fn an_expired_reset_key_is_not_redeemed() {
    let mut requested = verified();
    requested.push(PersonEvent::PasswordResetRequested {
        address: Sealed::new("p1", "Bob@example.org".to_string()),
        key: Sealed::new("p1", "old-key".to_string()),
        key_digest: reset_key_digest("old-key"),
        expires_at: in_minutes(-1),
        requested_at: Utc::now(),
    });
    framework()
        .given(requested)
        .when(redeem("old-key"))
        .then_expect_error_message("the password reset key is not known, was used, or has expired");
}

fn add_address(address: &str) -> PersonCommand {
    PersonCommand::AddEmailAddress(AddEmailAddress {
        address: address.into(),
        verification: VerificationKey {
            key: "ADD123".into(),
            expires_at: in_minutes(60),
        },
        remove_at: in_minutes(60 * 24),
        at: Utc::now(),
    })
}

fn with_second_address() -> Vec<PersonEvent> {
    let mut events = verified();
    events.push(PersonEvent::EmailAddressAdded {
        address: Sealed::new("p1", "second@example.org".to_string()),
        remove_at: in_minutes(-1),
        added_at: Utc::now(),
    });
    events
}

#[test]
fn an_address_is_added_only_after_the_signup_address_is_verified() {
    let events = framework()
        .given(verified())
        .when(add_address("second@example.org"))
        .inspect_result()
        .unwrap();
    assert!(matches!(
        events[..],
        [
            PersonEvent::EmailAddressAdded { .. },
            PersonEvent::EmailVerificationRequested { .. }
        ]
    ));
    framework()
        .given(registered())
        .when(add_address("second@example.org"))
        .then_expect_error_message(
            "the address used at signup must be verified before others can be added",
        );
    framework()
        .given(verified())
        .when(add_address("BOB@example.org"))
        .then_expect_error_message("the email address is already in use");
}

#[test]
fn the_primary_address_stays_and_an_unverified_one_cannot_become_primary() {
    let remove = |address: &str| {
        PersonCommand::RemoveEmailAddress(RemoveEmailAddress {
            address: address.into(),
            at: Utc::now(),
        })
    };
    framework()
        .given(with_second_address())
        .when(remove("bob@example.org"))
        .then_expect_error_message("the primary address cannot be removed");
    framework()
        .given(with_second_address())
        .when(remove("eve@example.org"))
        .then_expect_error_message("the address is not one of the person's");
    framework()
        .given(with_second_address())
        .when(PersonCommand::MarkEmailAddressPrimary(
            MarkEmailAddressPrimary {
                address: "second@example.org".into(),
            },
        ))
        .then_expect_error_message("the address is not verified yet");
}

#[test]
fn only_an_unverified_address_past_its_time_lapses() {
    let lapse = |at| {
        PersonCommand::RemoveLapsedEmailAddress(RemoveLapsedEmailAddress {
            address: "second@example.org".into(),
            at,
        })
    };
    let events = framework()
        .given(with_second_address())
        .when(lapse(Utc::now()))
        .inspect_result()
        .unwrap();
    assert!(matches!(
        events[..],
        [PersonEvent::EmailAddressRemoved { .. }]
    ));
    framework()
        .given(with_second_address())
        .when(lapse(in_minutes(-10)))
        .then_expect_events(vec![]);
}

#[test]
fn a_deleted_person_accepts_no_further_command() {
    let mut deleted = verified();
    deleted.push(PersonEvent::PersonDeleted {
        deleted_at: Utc::now(),
    });
    framework()
        .given(deleted)
        .when(PersonCommand::UpdateProfile(UpdateProfile {
            name: Some("Ghost".into()),
            ..Default::default()
        }))
        .then_expect_error_message("no such person");
}

#[test]
fn a_disabled_person_cannot_authenticate_until_enabled() {
    let mut history = registered();
    history.push(PersonEvent::AccountDisabled {
        disabled_at: Utc::now(),
    });
    let login = || {
        PersonCommand::AuthenticateWithPassword(AuthenticateWithPassword {
            password: Password::new("CorrectHorse".into()),
        })
    };
    framework()
        .given(history.clone())
        .when(login())
        .then_expect_error_message("the account is disabled");
    history.push(PersonEvent::AccountEnabled {
        enabled_at: Utc::now(),
    });
    let events = framework().given(history).when(login()).inspect_result();
    assert!(events.unwrap().is_empty());
}

#[test]
fn cluster_roles_are_known_roles_and_unchanged_roles_record_nothing() {
    let set = |roles: &[&str]| {
        PersonCommand::SetClusterRoles(SetClusterRoles {
            roles: roles.iter().map(|r| r.to_string()).collect(),
            at: Utc::now(),
        })
    };
    framework()
        .given(registered())
        .when(set(&["Root"]))
        .then_expect_error_message("'Root' is not a role of the service");
    let events = framework()
        .given(registered())
        .when(set(&["Cluster.Admin", "Cluster.Admin"]))
        .inspect_result()
        .unwrap();
    let [PersonEvent::ClusterRolesSet { roles, .. }] = events.as_slice() else {
        panic!("expected one ClusterRolesSet, got {events:?}");
    };
    assert_eq!(roles, &["Cluster.Admin".to_string()]);
    let mut history = registered();
    history.extend(events);
    framework()
        .given(history)
        .when(set(&["Cluster.Admin"]))
        .then_expect_events(vec![]);
}

fn import(hash: Option<&str>) -> PersonCommand {
    PersonCommand::Import(ImportPerson {
        uid: "p1".into(),
        address: "bob@example.org".into(),
        name: Some("Bob".into()),
        password_hash: hash.map(str::to_string),
        locale: Locale::DeDe,
        time_zone: "Europe/Berlin".into(),
        at: Utc::now(),
    })
}

#[test]
fn an_import_takes_only_bcrypt_hashes_and_its_address_counts_as_verified() {
    framework()
        .given_no_previous_events()
        .when(import(Some("md5:abcdef")))
        .then_expect_error_message("the password hash is not a bcrypt hash");
    let hash = "$2a$12$iFJH7Yxc7qfz5QLQ7W4.m.9swQZN9ty7QMv8G2OsoPjy10GBemaPm";
    let events = framework()
        .given_no_previous_events()
        .when(import(Some(hash)))
        .inspect_result()
        .unwrap();
    let mut person = Person::default();
    for event in events {
        cqrs_es::Aggregate::apply(&mut person, event);
    }
    assert_eq!(person.emails().len(), 1);
    assert!(person.emails()[0].is_verified && person.emails()[0].is_primary);
    framework()
        .given(registered())
        .when(import(None))
        .then_expect_error_message("this person is already registered");
}
