//! The ES256 key ring. Keys live in the database so that every instance
//! signs with the same key and publishes the same JWKS. The newest key that
//! has not retired signs; a retired key stays published until every token it
//! signed has expired. Each instance reloads the ring periodically and when
//! it meets an unknown `kid`.

use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use jsonwebtoken::{DecodingKey, EncodingKey};
use p256::ecdsa::SigningKey;
use p256::elliptic_curve::Generate;
use p256::pkcs8::EncodePrivateKey;
use serde::Serialize;
use sqlx::PgPool;
use tokio::sync::Mutex;
use tracing::info;
use utoipa::ToSchema;

/// Fewest seconds between two reloads triggered by unknown key ids, so that
/// forged `kid`s cannot hammer the database.
const MIN_RELOAD_INTERVAL: Duration = Duration::from_secs(1);

/// One signing key.
pub struct KeyEntry {
    pub kid: String,
    pub encoding: EncodingKey,
    pub decoding: DecodingKey,
    x: String,
    y: String,
    retires_at: DateTime<Utc>,
    expires_at: DateTime<Utc>,
}

/// A public key as the JWKS publishes it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Jwk {
    pub kid: String,
    pub kty: &'static str,
    pub crv: &'static str,
    pub x: String,
    pub y: String,
    #[serde(rename = "use")]
    pub usage: &'static str,
    pub alg: &'static str,
}

/// The JSON Web Key Set.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Jwks {
    pub keys: Vec<Jwk>,
}

/// Why the ring could not be loaded or rotated.
#[derive(Debug, thiserror::Error)]
pub enum KeyRingError {
    #[error("key store query failed")]
    Database(#[from] sqlx::Error),
    #[error("a stored key is malformed")]
    Key(String),
}

/// The key ring of this instance, fed from the database.
pub struct KeyRing {
    pool: PgPool,
    rotation: chrono::Duration,
    /// The longest lifetime of any token signed; a key is published that
    /// long after it retires.
    publish_after_retiring: chrono::Duration,
    keys: RwLock<Arc<Vec<Arc<KeyEntry>>>>,
    last_reload: Mutex<Instant>,
}

#[derive(sqlx::FromRow)]
struct KeyRow {
    kid: String,
    private_der: Vec<u8>,
    public_x: String,
    public_y: String,
    retires_at: DateTime<Utc>,
    expires_at: DateTime<Utc>,
}

impl KeyRing {
    /// Loads the ring, creating the first key if there is none.
    pub async fn load(
        pool: PgPool,
        rotation: chrono::Duration,
        publish_after_retiring: chrono::Duration,
    ) -> Result<Arc<Self>, KeyRingError> {
        let ring = Arc::new(Self {
            pool,
            rotation,
            publish_after_retiring,
            keys: RwLock::new(Arc::new(Vec::new())),
            last_reload: Mutex::new(Instant::now()),
        });
        ring.rotate_if_due().await?;
        Ok(ring)
    }

    /// The key that signs now.
    pub fn active(&self) -> Option<Arc<KeyEntry>> {
        let now = Utc::now();
        self.snapshot()
            .iter()
            .filter(|k| k.retires_at > now)
            .max_by_key(|k| k.retires_at)
            .cloned()
    }

    /// The key with id `kid`, if it is still published.
    pub fn find(&self, kid: &str) -> Option<Arc<KeyEntry>> {
        let now = Utc::now();
        self.snapshot()
            .iter()
            .find(|k| k.kid == kid && k.expires_at > now)
            .cloned()
    }

    /// Every key whose tokens may still be valid.
    pub fn jwks(&self) -> Jwks {
        let now = Utc::now();
        let keys = self
            .snapshot()
            .iter()
            .filter(|k| k.expires_at > now)
            .map(|k| k.to_jwk())
            .collect();
        Jwks { keys }
    }

    fn snapshot(&self) -> Arc<Vec<Arc<KeyEntry>>> {
        self.keys
            .read()
            .map(|keys| Arc::clone(&keys))
            .unwrap_or_default()
    }

    /// Reloads after meeting an unknown `kid`, at most once a second.
    pub async fn reload_for_unknown_kid(&self) -> Result<(), KeyRingError> {
        let mut last = self.last_reload.lock().await;
        if last.elapsed() < MIN_RELOAD_INTERVAL {
            return Ok(());
        }
        *last = Instant::now();
        self.reload().await
    }

    /// Creates a new signing key when the active one retires within a tenth
    /// of the rotation period, then reloads. The advisory lock keeps two
    /// instances from rotating at once.
    pub async fn rotate_if_due(&self) -> Result<(), KeyRingError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("SELECT pg_advisory_xact_lock(hashtext('signing_keys'))")
            .execute(&mut *tx)
            .await?;
        let newest: Option<DateTime<Utc>> =
            sqlx::query_scalar("SELECT max(retires_at) FROM signing_keys")
                .fetch_one(&mut *tx)
                .await?;
        let due = newest.is_none_or(|retires| retires - Utc::now() < self.rotation / 10);
        if due {
            let kid = self.insert_new_key(&mut tx).await?;
            info!(kid = %kid, "signing key created");
        }
        sqlx::query("DELETE FROM signing_keys WHERE expires_at < now()")
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        self.reload().await
    }

    async fn insert_new_key(&self, tx: &mut sqlx::PgConnection) -> Result<String, KeyRingError> {
        let key = SigningKey::generate();
        let der = key
            .to_pkcs8_der()
            .map_err(|e| KeyRingError::Key(e.to_string()))?;
        let point = key.verifying_key().to_sec1_point(false);
        let (x, y) = (
            point.x().ok_or_else(no_point)?,
            point.y().ok_or_else(no_point)?,
        );
        let kid = URL_SAFE_NO_PAD.encode(random_bytes::<9>());
        let retires_at = Utc::now() + self.rotation;
        sqlx::query(
            "INSERT INTO signing_keys (kid, private_der, public_x, public_y, retires_at, expires_at)
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&kid)
        .bind(der.as_bytes())
        .bind(URL_SAFE_NO_PAD.encode(x))
        .bind(URL_SAFE_NO_PAD.encode(y))
        .bind(retires_at)
        .bind(retires_at + self.publish_after_retiring)
        .execute(tx)
        .await?;
        Ok(kid)
    }

    async fn reload(&self) -> Result<(), KeyRingError> {
        let rows: Vec<KeyRow> = sqlx::query_as(
            "SELECT kid, private_der, public_x, public_y, retires_at, expires_at
               FROM signing_keys WHERE expires_at > now() ORDER BY retires_at",
        )
        .fetch_all(&self.pool)
        .await?;
        let keys = rows
            .into_iter()
            .map(KeyEntry::from_row)
            .collect::<Result<Vec<_>, _>>()?;
        if let Ok(mut current) = self.keys.write() {
            *current = Arc::new(keys.into_iter().map(Arc::new).collect());
        }
        Ok(())
    }

    /// Checks for rotation periodically until shutdown.
    pub fn spawn_rotation(self: &Arc<Self>, mut shutdown: tokio::sync::watch::Receiver<bool>) {
        let ring = Arc::clone(self);
        let every = (self.rotation / 20)
            .to_std()
            .unwrap_or(Duration::from_secs(60))
            .min(Duration::from_secs(60));
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = tokio::time::sleep(every) => {}
                    _ = shutdown.changed() => return,
                }
                if let Err(e) = ring.rotate_if_due().await {
                    tracing::error!(error = %e, "key rotation failed; retrying later");
                }
            }
        });
    }
}

impl KeyEntry {
    fn from_row(row: KeyRow) -> Result<Self, KeyRingError> {
        let decoding = DecodingKey::from_ec_components(&row.public_x, &row.public_y)
            .map_err(|e| KeyRingError::Key(e.to_string()))?;
        Ok(Self {
            encoding: EncodingKey::from_ec_der(&row.private_der),
            decoding,
            kid: row.kid,
            x: row.public_x,
            y: row.public_y,
            retires_at: row.retires_at,
            expires_at: row.expires_at,
        })
    }

    fn to_jwk(&self) -> Jwk {
        Jwk {
            kid: self.kid.clone(),
            kty: "EC",
            crv: "P-256",
            x: self.x.clone(),
            y: self.y.clone(),
            usage: "sig",
            alg: "ES256",
        }
    }
}

fn no_point() -> KeyRingError {
    KeyRingError::Key("public point has no coordinates".into())
}

fn random_bytes<const N: usize>() -> [u8; N] {
    let mut bytes = [0u8; N];
    rand::fill(&mut bytes);
    bytes
}
