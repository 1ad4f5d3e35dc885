//! Outgoing mail: the consumer that mails verification and password reset
//! keys, and the transports it sends through (SMTP, or `.eml` files in a folder when no
//! SMTP server is configured).
//!
//! Mail is sent before the consumer's checkpoint commits, so a crash in
//! between sends a mail twice rather than never.

use std::path::Path;
use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use lettre::message::Mailbox;
use lettre::transport::smtp::AsyncSmtpTransport;
use lettre::{AsyncFileTransport, AsyncTransport, Message, Tokio1Executor};
use skalio_id_aggregates::person::PersonEvent;
use skalio_id_aggregates::sealed::Sealed;
use sqlx::PgConnection;
use tracing::info;

use crate::event_log::StoredEvent;
use crate::projector::{Projection, ProjectionError};

/// One plain-text mail.
#[derive(Debug, Clone)]
pub struct OutgoingMail {
    pub to: String,
    pub subject: String,
    pub text: String,
}

/// Sends mail somewhere.
#[async_trait]
pub trait Mailer: Send + Sync {
    async fn send(&self, mail: OutgoingMail) -> Result<(), ProjectionError>;
}

enum Transport {
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
    Files(AsyncFileTransport<Tokio1Executor>),
}

/// A [`Mailer`] backed by lettre.
pub struct LettreMailer {
    transport: Transport,
    from: Mailbox,
}

impl LettreMailer {
    /// Sends through the SMTP server at `url` (`smtp://host:port` for a
    /// plain relay, `smtps://` or `smtp://...?tls=required` for TLS).
    pub fn smtp(url: &str, from: &str) -> Result<Self, ProjectionError> {
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(url)?.build();
        Ok(Self {
            transport: Transport::Smtp(transport),
            from: from.parse()?,
        })
    }

    /// Writes each mail as an `.eml` file into `folder`.
    pub fn files(folder: &Path, from: &str) -> Result<Self, ProjectionError> {
        std::fs::create_dir_all(folder)?;
        Ok(Self {
            transport: Transport::Files(AsyncFileTransport::new(folder)),
            from: from.parse()?,
        })
    }
}

#[async_trait]
impl Mailer for LettreMailer {
    async fn send(&self, mail: OutgoingMail) -> Result<(), ProjectionError> {
        let message = Message::builder()
            .from(self.from.clone())
            .to(mail.to.parse()?)
            .subject(mail.subject)
            .body(mail.text)?;
        match &self.transport {
            Transport::Smtp(smtp) => drop(smtp.send(message).await?),
            Transport::Files(files) => drop(files.send(message).await?),
        }
        Ok(())
    }
}

/// Mails the keys a person needs: address verification and password reset.
pub struct AccountMail {
    mailer: Arc<dyn Mailer>,
    public_url: String,
}

/// Which mail an event asks for.
enum Kind {
    Verification,
    PasswordReset,
}

impl AccountMail {
    /// Links in the mail point below `public_url`.
    pub fn new(mailer: Arc<dyn Mailer>, public_url: &str) -> Self {
        Self {
            mailer,
            public_url: public_url.trim_end_matches('/').to_string(),
        }
    }

    fn compose(&self, kind: Kind, to: String, key: &str) -> OutgoingMail {
        let (subject, text) = match kind {
            Kind::Verification => (
                format!("Your verification key: {key}"),
                format!(
                    "Please confirm your email address.\n\n\
                     Your verification key is: {key}\n\n\
                     Or open this link: {}/confirm/{key}\n\n\
                     If you did not ask for this, you can ignore this mail.\n",
                    self.public_url
                ),
            ),
            Kind::PasswordReset => (
                "Reset your password".to_string(),
                format!(
                    "Someone asked to reset the password of your account.\n\n\
                     To choose a new password, open this link:\n\
                     {}/reset/{key}\n\n\
                     If it was not you, ignore this mail; your password stays as it is.\n",
                    self.public_url
                ),
            ),
        };
        OutgoingMail { to, subject, text }
    }
}

/// A mail an event asks for.
struct Requested {
    kind: Kind,
    address: Sealed<String>,
    key: Sealed<String>,
    expires_at: DateTime<Utc>,
}

fn requested_mail(event: PersonEvent) -> Option<Requested> {
    let (kind, address, key, expires_at) = match event {
        PersonEvent::EmailVerificationRequested {
            address,
            key,
            expires_at,
            ..
        } => (Kind::Verification, address, key, expires_at),
        PersonEvent::PasswordResetRequested {
            address,
            key,
            expires_at,
            ..
        } => (Kind::PasswordReset, address, key, expires_at),
        _ => return None,
    };
    Some(Requested {
        kind,
        address,
        key,
        expires_at,
    })
}

#[async_trait]
impl Projection for AccountMail {
    fn name(&self) -> &'static str {
        "account_mail_v1"
    }

    fn is_read_model(&self) -> bool {
        false
    }

    async fn apply(
        &self,
        _db: &mut PgConnection,
        event: &StoredEvent,
    ) -> Result<(), ProjectionError> {
        let Some(Requested {
            kind,
            address,
            key,
            expires_at,
        }) = event.person_event()?.and_then(requested_mail)
        else {
            return Ok(());
        };
        // A key that expired while the service was down is of no use to anyone;
        // an erased person gets no mail.
        let (Some(address), Some(key)) = (address.into_inner(), key.into_inner()) else {
            return Ok(());
        };
        if expires_at <= Utc::now() {
            return Ok(());
        }
        self.mailer.send(self.compose(kind, address, &key)).await?;
        info!(person = %event.aggregate_id, event = %event.event_type, "mail sent");
        Ok(())
    }

    async fn reset(&self, _db: &mut PgConnection) -> Result<(), ProjectionError> {
        Ok(())
    }
}
