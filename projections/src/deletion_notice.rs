//! `deletion_notice_mail_v1`: tells a member an administrator removed that
//! their account is gone, when the administrator asked for it. The address
//! waits in `deletion_notices` from before the removal until the consumer
//! reaches the person's `PersonDeleted`; it is deleted in the transaction
//! that records the consumer's checkpoint, after the mail went out.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use skalio_id_aggregates::person::PersonEvent;
use sqlx::{PgConnection, PgExecutor};
use tracing::info;

use crate::event_log::StoredEvent;
use crate::mail::{Mailer, OutgoingMail};
use crate::projector::{Projection, ProjectionError};

/// How long a notice waits for a deletion that may never come (the process
/// that removed the member died before deleting the account).
pub const NOTICE_LIFETIME: Duration = Duration::from_secs(24 * 60 * 60);

/// Keeps `address` for the notice to `person` that `organization` removed them.
pub async fn request<'e>(
    db: impl PgExecutor<'e>,
    person: &str,
    address: &str,
    organization: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO deletion_notices (person_id, address, organization) VALUES ($1, $2, $3)
         ON CONFLICT (person_id) DO UPDATE
            SET address = EXCLUDED.address, organization = EXCLUDED.organization,
                requested_at = now()",
    )
    .bind(person)
    .bind(address)
    .bind(organization)
    .execute(db)
    .await
    .map(drop)
}

/// Drops the notice to `person`: the removal it announces did not happen.
pub async fn withdraw<'e>(db: impl PgExecutor<'e>, person: &str) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM deletion_notices WHERE person_id = $1")
        .bind(person)
        .execute(db)
        .await
        .map(drop)
}

/// Forgets notices older than [`NOTICE_LIFETIME`]; returns how many.
pub async fn forget_stale<'e>(db: impl PgExecutor<'e>) -> Result<u64, sqlx::Error> {
    let result = sqlx::query(
        "DELETE FROM deletion_notices
          WHERE requested_at < now() - make_interval(secs => $1)",
    )
    .bind(NOTICE_LIFETIME.as_secs_f64())
    .execute(db)
    .await?;
    Ok(result.rows_affected())
}

/// The consumer that sends the notices.
pub struct DeletionNotices {
    mailer: Arc<dyn Mailer>,
    public_url: String,
}

impl DeletionNotices {
    pub fn new(mailer: Arc<dyn Mailer>, public_url: &str) -> Self {
        Self {
            mailer,
            public_url: public_url.trim_end_matches('/').to_string(),
        }
    }

    fn compose(&self, to: String, organization: &str) -> OutgoingMail {
        OutgoingMail {
            to,
            subject: "Your account has been deleted".to_string(),
            text: format!(
                "An administrator of {organization} has removed you from the \
                 organization, which deleted your account at {}.\n\n\
                 Your profile, your email addresses and your sign-ins are gone. \
                 If you think this was a mistake, please contact {organization}.\n",
                self.public_url
            ),
        }
    }
}

#[async_trait]
impl Projection for DeletionNotices {
    fn name(&self) -> &'static str {
        "deletion_notice_mail_v1"
    }

    fn is_read_model(&self) -> bool {
        false
    }

    async fn apply(
        &self,
        db: &mut PgConnection,
        event: &StoredEvent,
    ) -> Result<(), ProjectionError> {
        let Some(PersonEvent::PersonDeleted { .. }) = event.person_event()? else {
            return Ok(());
        };
        let notice: Option<(String, String)> = sqlx::query_as(
            "DELETE FROM deletion_notices WHERE person_id = $1 RETURNING address, organization",
        )
        .bind(&event.aggregate_id)
        .fetch_optional(&mut *db)
        .await?;
        if let Some((address, organization)) = notice {
            self.mailer
                .send(self.compose(address, &organization))
                .await?;
            info!(person = %event.aggregate_id, "deletion notice sent");
        }
        Ok(())
    }

    async fn reset(&self, _db: &mut PgConnection) -> Result<(), ProjectionError> {
        Ok(())
    }
}
