//! Signing and verifying tokens. Verification sits on every request's path:
//! a token whose signature was checked once is remembered (bounded, keyed by
//! the whole token) until it expires, so it is not checked again.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use chrono::Utc;
use jsonwebtoken::{Algorithm, Header, Validation};

use super::claims::Claims;
use super::keyring::KeyRing;

/// Tokens remembered as verified, at most (about 1 KiB each).
const VERIFIED_CACHE_CAPACITY: usize = 10_000;
/// Seconds of clock skew tolerated between this service and its clients.
const LEEWAY_SECS: u64 = 5;

/// Why a token was not accepted. Deliberately coarse: callers answer 401.
#[derive(Debug, thiserror::Error)]
pub enum TokenRejected {
    #[error("the token is malformed or its signature is invalid")]
    Invalid,
    #[error("the token has expired")]
    Expired,
    #[error("the token was signed by an unknown key")]
    UnknownKey,
    #[error("no signing key is available")]
    NoSigningKey,
}

/// Signs and verifies Skalio ID tokens.
pub struct TokenService {
    keys: Arc<KeyRing>,
    validation: Validation,
    verified: Mutex<HashMap<String, Arc<Claims>>>,
}

impl TokenService {
    pub fn new(keys: Arc<KeyRing>, issuer: &str, audience: &str) -> Self {
        let mut validation = Validation::new(Algorithm::ES256);
        validation.set_issuer(&[issuer]);
        validation.set_audience(&[audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.leeway = LEEWAY_SECS;
        Self {
            keys,
            validation,
            verified: Mutex::new(HashMap::new()),
        }
    }

    /// The key ring behind this service.
    pub fn keys(&self) -> &Arc<KeyRing> {
        &self.keys
    }

    /// Signs `claims` with the active key.
    pub fn sign(&self, claims: &Claims) -> Result<String, TokenRejected> {
        let key = self.keys.active().ok_or(TokenRejected::NoSigningKey)?;
        let mut header = Header::new(Algorithm::ES256);
        header.kid = Some(key.kid.clone());
        jsonwebtoken::encode(&header, claims, &key.encoding)
            .map_err(|_| TokenRejected::NoSigningKey)
    }

    /// Checks signature, algorithm, issuer, audience and expiry.
    pub async fn verify(&self, token: &str) -> Result<Arc<Claims>, TokenRejected> {
        if let Some(claims) = self.remembered(token)? {
            return Ok(claims);
        }
        let header = jsonwebtoken::decode_header(token).map_err(|_| TokenRejected::Invalid)?;
        if header.alg != Algorithm::ES256 {
            return Err(TokenRejected::Invalid);
        }
        let kid = header.kid.ok_or(TokenRejected::Invalid)?;
        let key = match self.keys.find(&kid) {
            Some(key) => key,
            None => {
                // Another instance may have rotated the ring a moment ago.
                let _ = self.keys.reload_for_unknown_kid().await;
                self.keys.find(&kid).ok_or(TokenRejected::UnknownKey)?
            }
        };
        let data = jsonwebtoken::decode::<Claims>(token, &key.decoding, &self.validation).map_err(
            |e| match e.kind() {
                jsonwebtoken::errors::ErrorKind::ExpiredSignature => TokenRejected::Expired,
                _ => TokenRejected::Invalid,
            },
        )?;
        let claims = Arc::new(data.claims);
        self.remember(token, &claims);
        Ok(claims)
    }

    fn remembered(&self, token: &str) -> Result<Option<Arc<Claims>>, TokenRejected> {
        let cache = self.verified.lock().map_err(|_| TokenRejected::Invalid)?;
        match cache.get(token) {
            Some(claims) if claims.exp + LEEWAY_SECS as i64 >= Utc::now().timestamp() => {
                Ok(Some(Arc::clone(claims)))
            }
            Some(_) => Err(TokenRejected::Expired),
            None => Ok(None),
        }
    }

    fn remember(&self, token: &str, claims: &Arc<Claims>) {
        let Ok(mut cache) = self.verified.lock() else {
            return;
        };
        if cache.len() >= VERIFIED_CACHE_CAPACITY {
            let now = Utc::now().timestamp();
            cache.retain(|_, c| c.exp >= now);
            if cache.len() >= VERIFIED_CACHE_CAPACITY {
                cache.clear();
            }
        }
        cache.insert(token.to_string(), Arc::clone(claims));
    }
}
