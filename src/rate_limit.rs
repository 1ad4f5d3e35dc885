//! Leaky buckets in Postgres, shared by every instance. Each request tries to
//! add a drop; a full bucket refuses it. Buckets drain at a fixed rate.

use axum::http::{HeaderMap, HeaderValue};
use sqlx::PgPool;

use skalio_id_aggregates::email::canonical;

use crate::config::BucketSettings;
use crate::error::ApiError;

/// The outcome of one attempt to add a drop.
#[derive(Debug, Clone, Copy)]
pub struct BucketState {
    pub accepted: bool,
    pub capacity: f64,
    pub level: f64,
    /// Seconds until a drop fits again (0 when accepted).
    pub retry_after_secs: u64,
}

impl BucketState {
    /// `X-RateLimit-Limit` and `X-RateLimit-Remaining`, as the document names them.
    pub fn headers(&self) -> HeaderMap {
        let mut headers = HeaderMap::new();
        let remaining = (self.capacity - self.level).floor().max(0.0) as u64;
        headers.insert(
            "x-ratelimit-limit",
            HeaderValue::from(self.capacity.floor() as u64),
        );
        headers.insert("x-ratelimit-remaining", HeaderValue::from(remaining));
        headers
    }
}

/// Adds a drop to `bucket` and answers the document's 509, with
/// `Retry-After` and the bucket headers, when it is full. Returns the
/// headers for the response otherwise.
pub async fn enforce(
    pool: &PgPool,
    bucket: &str,
    settings: BucketSettings,
) -> Result<HeaderMap, ApiError> {
    let state = add_drop(pool, bucket, settings).await?;
    if !state.accepted {
        let exceeded = ApiError::rate_limit_exceeded(state.retry_after_secs);
        return Err(exceeded.with_headers(state.headers()));
    }
    Ok(state.headers())
}

/// The bucket of login attempts for an address.
pub fn login_bucket(address: &str) -> String {
    format!("login:{}", canonical(address))
}

/// The bucket of password reset mails for an address.
pub fn password_reset_bucket(address: &str) -> String {
    format!("password-reset:{}", canonical(address))
}

/// Every bucket named after `address`; forgotten with its owner's account.
pub fn address_buckets(address: &str) -> [String; 2] {
    [login_bucket(address), password_reset_bucket(address)]
}

/// With the default settings every bucket drains within an hour, so a bucket
/// idle for a day is empty; with slower settings, forgetting one only ever
/// makes its limit more lenient.
const IDLE_BUCKET: &str = "1 day";

/// Deletes buckets nobody has touched for a day.
pub async fn forget_idle_buckets(pool: &PgPool) -> Result<u64, sqlx::Error> {
    let sql = format!(
        "DELETE FROM rate_limit_buckets WHERE updated_at < now() - interval '{IDLE_BUCKET}'"
    );
    Ok(sqlx::query(&sql).execute(pool).await?.rows_affected())
}

/// Adds a drop to `bucket`, atomically: concurrent requests on any instance
/// see one consistent level.
pub async fn add_drop(
    pool: &PgPool,
    bucket: &str,
    settings: BucketSettings,
) -> Result<BucketState, sqlx::Error> {
    let (level, accepted): (f64, bool) =
        sqlx::query_as("SELECT new_level, is_accepted FROM rate_limit_add_drop($1, $2, $3)")
            .bind(bucket)
            .bind(settings.capacity)
            .bind(settings.drain_per_sec)
            .fetch_one(pool)
            .await?;
    let retry_after_secs = if accepted {
        0
    } else {
        ((level + 1.0 - settings.capacity) / settings.drain_per_sec)
            .ceil()
            .max(1.0) as u64
    };
    Ok(BucketState {
        accepted,
        capacity: settings.capacity,
        level,
        retry_after_secs,
    })
}
