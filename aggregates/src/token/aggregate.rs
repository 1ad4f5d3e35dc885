//! The Token aggregate's state, its rules (`handle`) and how events change
//! its state (`apply`).

use chrono::{DateTime, Utc};
use cqrs_es::Aggregate;
use cqrs_es::event_sink::EventSink;
use serde::{Deserialize, Serialize};

use super::commands::{BlacklistToken, IssueIdToken, ParkToken, PickUpParkedToken, TokenCommand};
use super::errors::TokenError;
use super::events::TokenEvent;
use crate::sealed::Sealed;

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Parked {
    pickup_jti: String,
    pickup_expires_at: DateTime<Utc>,
    picked_up: bool,
}

/// An ID token, rebuilt from its events.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Token {
    person: Option<String>,
    expires_at: Option<DateTime<Utc>>,
    auth_level: u8,
    is_dead: bool,
    parked: Option<Parked>,
}

impl Token {
    /// The issued token's owner and expiry, or why there is none.
    fn issued(&self) -> Result<(&str, DateTime<Utc>), TokenError> {
        match (&self.person, self.expires_at) {
            (Some(person), Some(expires_at)) => Ok((person, expires_at)),
            _ => Err(TokenError::NotIssued),
        }
    }

    /// The owner and expiry of a token that may still be used at `at`.
    fn alive(&self, at: DateTime<Utc>) -> Result<(&str, DateTime<Utc>), TokenError> {
        let (person, expires_at) = self.issued()?;
        if self.is_dead || expires_at <= at {
            return Err(TokenError::NoLongerValid);
        }
        Ok((person, expires_at))
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
        let event = match command {
            TokenCommand::IssueIdToken(c) => Some(self.issue(c)?),
            TokenCommand::Blacklist(c) => self.blacklist(c)?,
            TokenCommand::Park(c) => Some(self.park(c)?),
            TokenCommand::PickUp(c) => Some(self.pick_up(c)?),
        };
        if let Some(event) = event {
            sink.write(event, self).await;
        }
        Ok(())
    }

    fn apply(&mut self, event: TokenEvent) {
        match event {
            TokenEvent::IdTokenIssued {
                person,
                expires_at,
                auth_level,
                ..
            } => {
                self.person = Some(person);
                self.expires_at = Some(expires_at);
                self.auth_level = auth_level;
            }
            TokenEvent::TokenBlacklisted { .. } => self.is_dead = true,
            TokenEvent::TokenParked {
                pickup_jti,
                pickup_expires_at,
                ..
            } => {
                self.is_dead = true;
                self.parked = Some(Parked {
                    pickup_jti,
                    pickup_expires_at,
                    picked_up: false,
                });
            }
            TokenEvent::ParkedTokenPickedUp { .. } => {
                if let Some(parked) = &mut self.parked {
                    parked.picked_up = true;
                }
            }
        }
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
            set_password: c.set_password,
            issued_at: c.issued_at,
            expires_at: c.expires_at,
            user_agent: c.user_agent.map(seal),
            client_address: c.client_address.map(seal),
        })
    }

    /// Blacklisting a dead or expired token changes nothing, so that
    /// "log out everywhere" may name tokens that died meanwhile.
    fn blacklist(&self, c: BlacklistToken) -> Result<Option<TokenEvent>, TokenError> {
        let (person, expires_at) = self.issued()?;
        if self.is_dead || expires_at <= c.at {
            return Ok(None);
        }
        Ok(Some(TokenEvent::TokenBlacklisted {
            person: person.to_string(),
            reason: c.reason,
            blacklisted_at: c.at,
            expires_at,
        }))
    }

    fn park(&self, c: ParkToken) -> Result<TokenEvent, TokenError> {
        let (person, expires_at) = self.alive(c.at)?;
        Ok(TokenEvent::TokenParked {
            person: person.to_string(),
            pickup_jti: c.pickup_jti,
            pickup_expires_at: c.pickup_expires_at,
            parked_at: c.at,
            expires_at,
        })
    }

    fn pick_up(&self, c: PickUpParkedToken) -> Result<TokenEvent, TokenError> {
        let (person, _) = self.issued()?;
        let parked = self
            .parked
            .as_ref()
            .filter(|p| p.pickup_jti == c.pickup_jti);
        let parked = parked.ok_or(TokenError::NotParked)?;
        if parked.picked_up {
            return Err(TokenError::AlreadyPickedUp);
        }
        if parked.pickup_expires_at <= c.at {
            return Err(TokenError::PickupExpired);
        }
        Ok(TokenEvent::ParkedTokenPickedUp {
            person: person.to_string(),
            pickup_jti: c.pickup_jti,
            picked_up_at: c.at,
        })
    }
}
