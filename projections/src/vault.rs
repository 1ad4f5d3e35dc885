//! The person keys that seal personal data inside events, kept outside the
//! event table so that destroying one erases a person without rewriting
//! history.

use skalio_id_aggregates::sealed::{KeyRing, PersonKey, SealError};
use sqlx::{PgExecutor, PgPool};

/// Why the vault could not answer.
#[derive(Debug, thiserror::Error)]
pub enum VaultError {
    #[error("key store query failed")]
    Database(#[from] sqlx::Error),
    #[error("a stored key is malformed")]
    Key(#[from] SealError),
}

/// The keys of `owners`, for opening. An owner without a key row has never
/// had data sealed and is treated like an erased one.
pub async fn keys_for<'e>(
    db: impl PgExecutor<'e>,
    owners: &[String],
) -> Result<KeyRing, VaultError> {
    let rows: Vec<(String, Option<Vec<u8>>)> =
        sqlx::query_as("SELECT person_id, key FROM person_keys WHERE person_id = ANY($1)")
            .bind(owners)
            .fetch_all(db)
            .await?;
    let mut ring = KeyRing::new();
    for (owner, key) in rows {
        ring.insert(owner, to_key(key)?);
    }
    for owner in owners {
        ring.entry(owner.clone()).or_insert(PersonKey::Destroyed);
    }
    Ok(ring)
}

/// The keys of `owners`, for sealing: a key is created for an owner who has
/// none yet. A destroyed key stays destroyed, so nothing is ever sealed
/// readable for an erased person again.
pub async fn keys_for_sealing(db: &PgPool, owners: &[String]) -> Result<KeyRing, VaultError> {
    let mut fresh = Vec::with_capacity(owners.len());
    for _ in owners {
        let key = PersonKey::generate()?;
        fresh.push(key.bytes().map(|b| b.to_vec()).unwrap_or_default());
    }
    sqlx::query(
        "INSERT INTO person_keys (person_id, key)
         SELECT * FROM unnest($1::text[], $2::bytea[]) ON CONFLICT DO NOTHING",
    )
    .bind(owners)
    .bind(&fresh)
    .execute(db)
    .await?;
    keys_for(db, owners).await
}

/// Destroys a person's key: everything sealed for them becomes unreadable.
pub async fn destroy_key<'e>(db: impl PgExecutor<'e>, owner: &str) -> Result<(), VaultError> {
    sqlx::query(
        "INSERT INTO person_keys (person_id, key, destroyed_at) VALUES ($1, NULL, now())
         ON CONFLICT (person_id) DO UPDATE SET key = NULL, destroyed_at = now()",
    )
    .bind(owner)
    .execute(db)
    .await?;
    Ok(())
}

fn to_key(stored: Option<Vec<u8>>) -> Result<PersonKey, SealError> {
    match stored {
        Some(bytes) => PersonKey::from_bytes(&bytes),
        None => Ok(PersonKey::Destroyed),
    }
}
