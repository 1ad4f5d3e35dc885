//! The token blacklist every instance checks on every request, held in
//! memory so that the check costs no database round trip. It is fed by the
//! event stream: the token view announces each blacklisting on a channel
//! that every instance listens on, and after any (re)connection the whole
//! list is loaded again, so that nothing sent while disconnected is missed.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use chrono::Utc;
use sqlx::PgPool;
use sqlx::postgres::PgListener;
use tokio::sync::watch;
use tracing::{info, warn};

use crate::token_view::{self, BLACKLIST_CHANNEL};

/// How often expired entries are forgotten.
const PRUNE_EVERY: Duration = Duration::from_secs(60);
/// Pause before reconnecting after the listener failed.
const RECONNECT_PAUSE: Duration = Duration::from_millis(500);

/// Token ids that must be refused until their expiry (Unix seconds).
#[derive(Default)]
pub struct Blacklist {
    entries: RwLock<HashMap<String, i64>>,
}

impl Blacklist {
    /// Whether `jti` was blacklisted (and has not expired since).
    pub fn contains(&self, jti: &str) -> bool {
        self.entries
            .read()
            .map(|e| e.contains_key(jti))
            .unwrap_or(true)
    }

    /// Records a blacklisting this instance learned of.
    pub fn insert(&self, jti: &str, expires_at: i64) {
        if let Ok(mut entries) = self.entries.write() {
            entries.insert(jti.to_string(), expires_at);
        }
    }

    /// How many tokens are blacklisted.
    pub fn len(&self) -> usize {
        self.entries.read().map(|e| e.len()).unwrap_or(0)
    }

    /// Whether no token is blacklisted.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn prune(&self) {
        let now = Utc::now().timestamp();
        if let Ok(mut entries) = self.entries.write() {
            entries.retain(|_, expires_at| *expires_at > now);
        }
    }

    /// Loads every unexpired blacklisted token from the read model.
    pub async fn reload(&self, pool: &PgPool) -> Result<(), sqlx::Error> {
        let rows = token_view::blacklisted(pool).await?;
        let fresh: HashMap<String, i64> = rows
            .into_iter()
            .map(|(jti, at)| (jti, at.timestamp()))
            .collect();
        if let Ok(mut entries) = self.entries.write() {
            // Keep what arrived by notification while the query ran.
            entries.extend(fresh);
        }
        Ok(())
    }

    /// Follows the channel until shutdown, reloading after every
    /// (re)connection, and prunes expired entries.
    pub fn spawn(self: &Arc<Self>, pool: PgPool, shutdown: watch::Receiver<bool>) {
        let blacklist = Arc::clone(self);
        tokio::spawn(async move { blacklist.follow(pool, shutdown).await });
    }

    async fn follow(&self, pool: PgPool, mut shutdown: watch::Receiver<bool>) {
        while !*shutdown.borrow() {
            match self.connect(&pool).await {
                Ok(mut listener) => self.receive(&mut listener, &pool, &mut shutdown).await,
                Err(e) => warn!(error = %e, "blacklist listener cannot connect"),
            }
            tokio::select! {
                _ = tokio::time::sleep(RECONNECT_PAUSE) => {}
                _ = shutdown.changed() => {}
            }
        }
    }

    /// Listens first, then loads: a blacklisting committed in between is
    /// both loaded and announced, never neither.
    async fn connect(&self, pool: &PgPool) -> Result<PgListener, sqlx::Error> {
        let mut listener = PgListener::connect_with(pool).await?;
        listener.listen(BLACKLIST_CHANNEL).await?;
        self.reload(pool).await?;
        info!(entries = self.len(), "blacklist loaded");
        Ok(listener)
    }

    async fn receive(
        &self,
        listener: &mut PgListener,
        pool: &PgPool,
        shutdown: &mut watch::Receiver<bool>,
    ) {
        let mut prune = tokio::time::interval(PRUNE_EVERY);
        loop {
            tokio::select! {
                received = listener.try_recv() => match received {
                    Ok(Some(notification)) => self.record(notification.payload()),
                    // sqlx reconnected by itself; what was sent meanwhile is lost.
                    Ok(None) => {
                        if let Err(e) = self.reload(pool).await {
                            warn!(error = %e, "blacklist reload failed");
                            return;
                        }
                    }
                    Err(e) => {
                        warn!(error = %e, "blacklist listener failed; reconnecting");
                        return;
                    }
                },
                _ = prune.tick() => self.prune(),
                _ = shutdown.changed() => return,
            }
        }
    }

    fn record(&self, payload: &str) {
        let parsed = payload
            .split_once(' ')
            .and_then(|(jti, at)| Some((jti, at.parse().ok()?)));
        match parsed {
            Some((jti, expires_at)) => self.insert(jti, expires_at),
            None => warn!("ignoring a malformed blacklist notification"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_are_found_until_they_expire() {
        let blacklist = Blacklist::default();
        let now = Utc::now().timestamp();
        blacklist.record(&format!("alive {}", now + 60));
        blacklist.record(&format!("expired {}", now - 1));
        blacklist.record("malformed");

        assert!(blacklist.contains("alive") && blacklist.contains("expired"));
        blacklist.prune();
        assert!(blacklist.contains("alive"));
        assert!(!blacklist.contains("expired"));
        assert_eq!(blacklist.len(), 1);
    }
}
