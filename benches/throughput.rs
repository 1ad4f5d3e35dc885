//! Throughput of the hot paths, measured against the real service on a fresh
//! database (`cargo bench --bench throughput`; needs the same PostgreSQL as
//! the tests). Prints requests per second; asserts nothing about speed.

#[path = "../tests/common/mod.rs"]
mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use common::{TestApp, token_of};
use skalio_id::config::BucketSettings;

const DEFAULT_COST: u32 = 12;

/// Runs `work` from `clients` concurrent loops for `period`; returns calls per second.
async fn rate<F, Fut>(clients: usize, period: Duration, work: F) -> f64
where
    F: Fn() -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = bool> + Send,
{
    let work = Arc::new(work);
    let done = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let loops = (0..clients).map(|_| {
        let (work, done) = (Arc::clone(&work), Arc::clone(&done));
        tokio::spawn(async move {
            while started.elapsed() < period {
                assert!(work().await, "a measured request failed");
                done.fetch_add(1, Ordering::Relaxed);
            }
        })
    });
    futures::future::join_all(loops).await;
    done.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64()
}

fn bare_bcrypt_verifies_per_second(cost: u32, threads: usize, period: Duration) -> f64 {
    let hash = bcrypt::hash("CorrectHorse", cost).unwrap();
    let started = Instant::now();
    let counts: Vec<u64> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(|| {
                    let mut n = 0;
                    while started.elapsed() < period {
                        assert!(bcrypt::verify("CorrectHorse", &hash).unwrap());
                        n += 1;
                    }
                    n
                })
            })
            .collect();
        workers.into_iter().map(|w| w.join().unwrap()).collect()
    });
    counts.iter().sum::<u64>() as f64 / started.elapsed().as_secs_f64()
}

#[tokio::main]
async fn main() {
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    let bare = bare_bcrypt_verifies_per_second(DEFAULT_COST, cores, Duration::from_secs(5));
    println!("bare bcrypt verifies/s at cost {DEFAULT_COST} on {cores} threads: {bare:.1}");

    let app = Arc::new(
        TestApp::spawn_with(|s| {
            s.auth.bcrypt_cost = DEFAULT_COST;
            s.rate_limits.login = BucketSettings {
                capacity: 1e9,
                drain_per_sec: 1e9,
            };
        })
        .await,
    );
    let login = token_of(app.login_after_signup("bench@example.org").await).await;
    let access = token_of(app.access(&login).await).await;

    let a = Arc::clone(&app);
    let logins = rate(2 * cores, Duration::from_secs(10), move || {
        let a = Arc::clone(&a);
        async move {
            a.login("bench@example.org", "CorrectHorse")
                .await
                .status()
                .is_success()
        }
    })
    .await;
    println!("login requests/s at cost {DEFAULT_COST}: {logins:.1}");

    let (a, id) = (Arc::clone(&app), login.clone());
    let tokens = rate(16, Duration::from_secs(5), move || {
        let (a, id) = (Arc::clone(&a), id.clone());
        async move { a.access(&id).await.status().is_success() }
    })
    .await;
    println!("access tokens issued/s: {tokens:.0}");

    let (a, token) = (Arc::clone(&app), access.clone());
    let profiles = rate(16, Duration::from_secs(5), move || {
        let (a, token) = (Arc::clone(&a), token.clone());
        async move { a.profile(&token).await.status().is_success() }
    })
    .await;
    println!("GET /profile requests/s: {profiles:.0}");
}
