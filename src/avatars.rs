//! Avatars: rendering an upload off the async runtime, storing the
//! renditions, and making them the person's avatar by one command. The
//! images live outside the event log (the event names them by id); they
//! are personal data and go with the person.

use std::sync::Arc;

use chrono::Utc;
use skalio_id_aggregates::person::{PersonCommand, RemoveAvatar, ReplaceAvatar};
use skalio_id_projections::profile_view;
use sqlx::PgPool;
use tokio::sync::Semaphore;
use tracing::warn;

use crate::app::AppState;
use crate::avatar::{self, AvatarError, Limits, Rendition};
use crate::error::ApiError;
use crate::event_store::RequestMeta;
use crate::ids::new_uid;

/// Bounds how many uploads are decoded at once, whatever the request rate.
pub struct ImageWorkers {
    permits: Arc<Semaphore>,
}

impl Default for ImageWorkers {
    fn default() -> Self {
        let cpus = std::thread::available_parallelism().map_or(2, |n| n.get());
        Self {
            permits: Arc::new(Semaphore::new(cpus)),
        }
    }
}

impl ImageWorkers {
    async fn render(&self, bytes: Vec<u8>) -> Result<Vec<Rendition>, ApiError> {
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|e| ApiError::internal(&e))?;
        let rendered =
            tokio::task::spawn_blocking(move || avatar::render(&bytes, &Limits::default()));
        let rendered = rendered.await.map_err(|e| ApiError::internal(&e))?;
        rendered.map_err(|e: AvatarError| {
            if e.is_client_error() {
                ApiError::invalid(e.to_string())
            } else {
                ApiError::internal(&e)
            }
        })
    }
}

/// Makes the uploaded image the person's avatar and returns its largest
/// rendition. An image that cannot be used changes nothing.
pub async fn upload(
    state: &AppState,
    person: &str,
    content_type: &str,
    bytes: Vec<u8>,
    meta: &RequestMeta,
) -> Result<Vec<u8>, ApiError> {
    if !avatar::accepts_media_type(content_type) {
        let detail = "Avatars must be image/jpeg, image/png or image/gif.";
        return Err(ApiError::unsupported_media_type(detail));
    }
    let renditions = state.image_workers().render(bytes).await?;
    let avatar_id = new_uid();
    store(state.pool(), &avatar_id, person, &renditions).await?;
    let command = ReplaceAvatar {
        avatar_id: avatar_id.clone(),
        at: Utc::now(),
    };
    let replaced = state
        .bus()
        .person(person, PersonCommand::ReplaceAvatar(command), meta)
        .await;
    if let Err(e) = replaced {
        forget(state.pool(), person, Some(&avatar_id)).await;
        return Err(e);
    }
    forget_all_but(state.pool(), person, &avatar_id).await;
    let largest = renditions.into_iter().max_by_key(|r| r.size);
    Ok(largest.map(|r| r.jpeg).unwrap_or_default())
}

/// Removes the person's avatar, if there is one.
pub async fn remove(state: &AppState, person: &str, meta: &RequestMeta) -> Result<(), ApiError> {
    let command = PersonCommand::RemoveAvatar(RemoveAvatar { at: Utc::now() });
    state.bus().person(person, command, meta).await?;
    forget(state.pool(), person, None).await;
    Ok(())
}

/// The rendition of `person`'s avatar closest to `height`, if they have one.
pub async fn rendition(
    state: &AppState,
    person: &str,
    height: Option<u32>,
) -> Result<Option<Vec<u8>>, ApiError> {
    let profile = profile_view::find(state.pool(), person).await?;
    let Some(avatar_id) = profile.and_then(|p| p.avatar_id) else {
        return Ok(None);
    };
    let size = avatar::closest_size(height.unwrap_or(avatar::RENDITION_SIZES[0]));
    let jpeg =
        sqlx::query_scalar("SELECT jpeg FROM avatar_blobs WHERE avatar_id = $1 AND size = $2")
            .bind(avatar_id)
            .bind(size as i32)
            .fetch_optional(state.pool())
            .await?;
    Ok(jpeg)
}

/// Deletes images that no avatar uses an hour after they were stored: left
/// by an upload whose process died before its command was appended.
pub async fn forget_unused(pool: &PgPool) -> Result<u64, sqlx::Error> {
    let deleted = sqlx::query(
        "DELETE FROM avatar_blobs b WHERE created_at < now() - interval '1 hour'
            AND NOT EXISTS (SELECT 1 FROM profile_view_v1 p WHERE p.avatar_id = b.avatar_id)",
    )
    .execute(pool)
    .await?;
    Ok(deleted.rows_affected())
}

async fn store(
    pool: &PgPool,
    avatar_id: &str,
    person: &str,
    renditions: &[Rendition],
) -> Result<(), ApiError> {
    let mut tx = pool.begin().await?;
    for rendition in renditions {
        sqlx::query(
            "INSERT INTO avatar_blobs (avatar_id, person_id, size, jpeg) VALUES ($1, $2, $3, $4)",
        )
        .bind(avatar_id)
        .bind(person)
        .bind(rendition.size as i32)
        .bind(&rendition.jpeg)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(())
}

/// Deletes stored images of `person`: the one named, or all. Failing here
/// leaves unused images behind, never a broken avatar, so it only warns.
async fn forget(pool: &PgPool, person: &str, avatar_id: Option<&str>) {
    let deleted = sqlx::query(
        "DELETE FROM avatar_blobs WHERE person_id = $1 AND ($2::text IS NULL OR avatar_id = $2)",
    )
    .bind(person)
    .bind(avatar_id)
    .execute(pool)
    .await;
    if let Err(e) = deleted {
        warn!(error = %e, "could not delete avatar images");
    }
}

async fn forget_all_but(pool: &PgPool, person: &str, kept: &str) {
    let deleted = sqlx::query("DELETE FROM avatar_blobs WHERE person_id = $1 AND avatar_id <> $2")
        .bind(person)
        .bind(kept)
        .execute(pool)
        .await;
    if let Err(e) = deleted {
        warn!(error = %e, "could not delete replaced avatar images");
    }
}
