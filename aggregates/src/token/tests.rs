//! Given events, when a command, then events or a broken rule.

use chrono::{DateTime, Duration, Utc};
use cqrs_es::test::TestFramework;

use super::*;

fn issue() -> IssueIdToken {
    let now = Utc::now();
    IssueIdToken {
        person: "p1".into(),
        issued_for: IssuedFor::PasswordLogin,
        scope: TokenScope::Idtoken,
        auth_level: 2,
        set_password: false,
        issued_at: now,
        expires_at: now + Duration::hours(1),
        user_agent: Some("curl/8".into()),
        client_address: Some("127.0.0.1".into()),
    }
}

fn issued() -> Vec<TokenEvent> {
    vec![Token::default().issue(issue()).unwrap()]
}

fn framework() -> TestFramework<Token> {
    TestFramework::with(())
}

fn parked(pickup_expires_at: DateTime<Utc>) -> Vec<TokenEvent> {
    let mut events = issued();
    events.push(TokenEvent::TokenParked {
        person: "p1".into(),
        pickup_jti: "pick".into(),
        pickup_expires_at,
        parked_at: Utc::now(),
        expires_at: Utc::now() + Duration::hours(1),
    });
    events
}

fn pick_up(pickup_jti: &str) -> TokenCommand {
    TokenCommand::PickUp(PickUpParkedToken {
        pickup_jti: pickup_jti.into(),
        at: Utc::now(),
    })
}

fn logout() -> TokenCommand {
    TokenCommand::Blacklist(BlacklistToken {
        reason: BlacklistReason::Logout,
        at: Utc::now(),
    })
}

#[test]
fn issuing_records_the_token_with_sealed_client_details() {
    let events = framework()
        .given_no_previous_events()
        .when(TokenCommand::IssueIdToken(issue()))
        .inspect_result()
        .unwrap();
    let TokenEvent::IdTokenIssued {
        person, user_agent, ..
    } = &events[0]
    else {
        panic!("expected IdTokenIssued, got {events:?}");
    };
    assert_eq!(person, "p1");
    assert_eq!(user_agent.as_ref().unwrap().owner(), "p1");
}

#[test]
fn a_token_id_is_issued_once() {
    framework()
        .given(issued())
        .when(TokenCommand::IssueIdToken(issue()))
        .then_expect_error_message("a token with this id was issued before");
}

#[test]
fn a_token_must_expire_after_issue() {
    let mut command = issue();
    command.expires_at = command.issued_at;
    framework()
        .given_no_previous_events()
        .when(TokenCommand::IssueIdToken(command))
        .then_expect_error_message("a token must expire after it is issued");
}

#[test]
fn blacklisting_records_the_reason_and_the_expiry() {
    let events = framework()
        .given(issued())
        .when(logout())
        .inspect_result()
        .unwrap();
    let [TokenEvent::TokenBlacklisted { reason, person, .. }] = &events[..] else {
        panic!("expected TokenBlacklisted, got {events:?}");
    };
    assert_eq!((reason, person.as_str()), (&BlacklistReason::Logout, "p1"));
}

#[test]
fn blacklisting_a_dead_token_changes_nothing() {
    let mut dead = issued();
    dead.extend(
        framework()
            .given(issued())
            .when(logout())
            .inspect_result()
            .unwrap(),
    );
    framework()
        .given(dead)
        .when(logout())
        .then_expect_events(vec![]);
}

#[test]
fn an_unknown_token_cannot_be_blacklisted() {
    framework()
        .given_no_previous_events()
        .when(logout())
        .then_expect_error_message("no such token");
}

#[test]
fn parking_kills_the_token_and_a_parked_token_cannot_be_parked_again() {
    let park = || {
        TokenCommand::Park(ParkToken {
            pickup_jti: "pick".into(),
            pickup_expires_at: Utc::now() + Duration::minutes(5),
            at: Utc::now(),
        })
    };
    let events = framework()
        .given(issued())
        .when(park())
        .inspect_result()
        .unwrap();
    assert!(matches!(events[..], [TokenEvent::TokenParked { .. }]));
    framework()
        .given(parked(Utc::now() + Duration::minutes(5)))
        .when(park())
        .then_expect_error_message("the token is no longer valid");
}

#[test]
fn a_parked_token_is_picked_up_once_with_its_own_pickup_token_before_expiry() {
    let soon = Utc::now() + Duration::minutes(5);
    let events = framework()
        .given(parked(soon))
        .when(pick_up("pick"))
        .inspect_result()
        .unwrap();
    assert!(matches!(
        events[..],
        [TokenEvent::ParkedTokenPickedUp { .. }]
    ));

    let mut picked = parked(soon);
    picked.extend(events);
    framework()
        .given(picked)
        .when(pick_up("pick"))
        .then_expect_error_message("the parked token was picked up before");
    framework()
        .given(parked(soon))
        .when(pick_up("other"))
        .then_expect_error_message("the token is not parked under this pickup token");
    framework()
        .given(parked(Utc::now() - Duration::seconds(1)))
        .when(pick_up("pick"))
        .then_expect_error_message("the pickup token has expired");
}
