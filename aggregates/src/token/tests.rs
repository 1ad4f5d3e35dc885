use chrono::{Duration, Utc};
use cqrs_es::test::TestFramework;

use super::*;

fn issue() -> IssueIdToken {
    let now = Utc::now();
    IssueIdToken {
        person: "p1".into(),
        issued_for: IssuedFor::PasswordLogin,
        scope: TokenScope::Idtoken,
        auth_level: 1,
        issued_at: now,
        expires_at: now + Duration::hours(1),
        user_agent: Some("curl/8".into()),
        client_address: Some("127.0.0.1".into()),
    }
}

#[test]
fn issuing_records_the_token_with_sealed_client_details() {
    let command = issue();
    let result = TestFramework::<Token>::with(())
        .given_no_previous_events()
        .when(TokenCommand::IssueIdToken(command));
    let events = result.inspect_result().unwrap();
    let TokenEvent::IdTokenIssued {
        person, user_agent, ..
    } = &events[0];
    assert_eq!(person, "p1");
    assert_eq!(user_agent.as_ref().unwrap().owner(), "p1");
}

#[test]
fn a_token_id_is_issued_once() {
    let first = Token::default().issue(issue()).unwrap();
    TestFramework::<Token>::with(())
        .given(vec![first])
        .when(TokenCommand::IssueIdToken(issue()))
        .then_expect_error_message("a token with this id was issued before");
}

#[test]
fn a_token_must_expire_after_issue() {
    let mut command = issue();
    command.expires_at = command.issued_at;
    TestFramework::<Token>::with(())
        .given_no_previous_events()
        .when(TokenCommand::IssueIdToken(command))
        .then_expect_error_message("a token must expire after it is issued");
}
