//! Commands, events, rules and state of an ID token.

use chrono::{DateTime, Utc};
use cqrs_es::event_sink::EventSink;
use cqrs_es::{Aggregate, DomainEvent};
use serde::{Deserialize, Serialize};

use crate::sealed::Sealed;

/// The scopes a token recorded by this aggregate can have.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TokenScope {
    /// A full ID token.
    Idtoken,
}

/// Why an ID token was issued.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum IssuedFor {
    /// A new person signed up.
    Signup,
    /// The person logged in with a password.
    PasswordLogin,
    /// The person verified their first address and gets a higher level.
    AddressVerification,
}

impl IssuedFor {
    /// Whether the token records a login (the profile's `lastLoginAt`).
    pub fn is_login(self) -> bool {
        matches!(self, Self::PasswordLogin)
    }
}

/// Every command the Token aggregate handles.
#[derive(Debug)]
pub enum TokenCommand {
    IssueIdToken(IssueIdToken),
}

impl TokenCommand {
    /// The command's name, for logs and spans.
    pub fn name(&self) -> &'static str {
        match self {
            Self::IssueIdToken(_) => "IssueIdToken",
        }
    }
}

/// Records a newly issued ID token for a person.
#[derive(Debug)]
pub struct IssueIdToken {
    pub person: String,
    pub issued_for: IssuedFor,
    pub scope: TokenScope,
    pub auth_level: u8,
    pub issued_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub user_agent: Option<String>,
    pub client_address: Option<String>,
}

/// What has happened to a token.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum TokenEvent {
    IdTokenIssued {
        person: String,
        issued_for: IssuedFor,
        scope: TokenScope,
        auth_level: u8,
        issued_at: DateTime<Utc>,
        expires_at: DateTime<Utc>,
        user_agent: Option<Sealed<String>>,
        client_address: Option<Sealed<String>>,
    },
}

impl DomainEvent for TokenEvent {
    fn event_type(&self) -> String {
        match self {
            Self::IdTokenIssued { .. } => "IdTokenIssued".to_string(),
        }
    }

    fn event_version(&self) -> String {
        "1.0".to_string()
    }
}

/// A broken rule of the Token aggregate.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("a token with this id was issued before")]
    AlreadyIssued,
    #[error("a token must expire after it is issued")]
    ExpiresBeforeIssue,
}

/// An ID token, rebuilt from its events.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Token {
    person: Option<String>,
    expires_at: Option<DateTime<Utc>>,
}

impl Token {
    /// The person the token was issued to.
    pub fn person(&self) -> Option<&str> {
        self.person.as_deref()
    }
}

impl Aggregate for Token {
    const TYPE: &'static str = "Token";
    type Command = TokenCommand;
    type Event = TokenEvent;
    type Error = TokenError;
    type Services = ();

    async fn handle(
        &mut self,
        command: TokenCommand,
        _services: &(),
        sink: &EventSink<Self>,
    ) -> Result<(), TokenError> {
        let TokenCommand::IssueIdToken(c) = command;
        let event = self.issue(c)?;
        sink.write(event, self).await;
        Ok(())
    }

    fn apply(&mut self, event: TokenEvent) {
        let TokenEvent::IdTokenIssued {
            person, expires_at, ..
        } = event;
        self.person = Some(person);
        self.expires_at = Some(expires_at);
    }
}

impl Token {
    pub(super) fn issue(&self, c: IssueIdToken) -> Result<TokenEvent, TokenError> {
        if self.person.is_some() {
            return Err(TokenError::AlreadyIssued);
        }
        if c.expires_at <= c.issued_at {
            return Err(TokenError::ExpiresBeforeIssue);
        }
        let seal = |value: String| Sealed::new(c.person.clone(), value);
        Ok(TokenEvent::IdTokenIssued {
            person: c.person.clone(),
            issued_for: c.issued_for,
            scope: c.scope,
            auth_level: c.auth_level,
            issued_at: c.issued_at,
            expires_at: c.expires_at,
            user_agent: c.user_agent.map(seal),
            client_address: c.client_address.map(seal),
        })
    }
}
