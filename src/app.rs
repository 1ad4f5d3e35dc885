//! Assembling the service: state shared by handlers, the background tasks
//! (projector, key rotation), the router with its middleware, and serving.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use axum::Router;
use sqlx::PgPool;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tracing::info;

use skalio_id_projections::blacklist::Blacklist;
use skalio_id_projections::deletion_notice::DeletionNotices;
use skalio_id_projections::email_view::EmailView;
use skalio_id_projections::erasure::PersonErasure;
use skalio_id_projections::mail::{AccountMail, LettreMailer, Mailer};
use skalio_id_projections::membership_view::MembershipView;
use skalio_id_projections::organization_view::OrganizationView;
use skalio_id_projections::password_reset_view::PasswordResetView;
use skalio_id_projections::pending_removals::PendingRemovals;
use skalio_id_projections::profile_view::ProfileView;
use skalio_id_projections::projector::{Projection, Projector};
use skalio_id_projections::signaling::{SignalingFeed, SignalingHub};
use skalio_id_projections::token_view::TokenView;

use crate::avatars::ImageWorkers;
use crate::config::Settings;
use crate::event_store::CommandBus;
use crate::organization_services::PostgresOrganizationServices;
use crate::passwords::PasswordHasher;
use crate::person_services::PostgresPersonServices;
use crate::routes;
use crate::tokens::{KeyRing, TokenService};

/// Everything a handler may need, cheap to clone.
#[derive(Clone)]
pub struct AppState(Arc<Inner>);

struct Inner {
    settings: Settings,
    pool: PgPool,
    bus: CommandBus,
    tokens: TokenService,
    hasher: Arc<PasswordHasher>,
    projector: Arc<Projector>,
    blacklist: Arc<Blacklist>,
    signaling: Arc<SignalingHub>,
    image_workers: ImageWorkers,
}

impl AppState {
    pub fn settings(&self) -> &Settings {
        &self.0.settings
    }
    pub fn pool(&self) -> &PgPool {
        &self.0.pool
    }
    pub fn bus(&self) -> &CommandBus {
        &self.0.bus
    }
    pub fn tokens(&self) -> &TokenService {
        &self.0.tokens
    }
    pub fn hasher(&self) -> &PasswordHasher {
        &self.0.hasher
    }
    pub fn projector(&self) -> &Arc<Projector> {
        &self.0.projector
    }
    pub fn blacklist(&self) -> &Blacklist {
        &self.0.blacklist
    }
    pub fn signaling(&self) -> &SignalingHub {
        &self.0.signaling
    }
    pub fn image_workers(&self) -> &ImageWorkers {
        &self.0.image_workers
    }
}

/// Every projection the service runs, in order.
pub fn projections(settings: &Settings) -> anyhow::Result<Vec<Arc<dyn Projection>>> {
    let mailer = mailer(settings)?;
    Ok(vec![
        Arc::new(ProfileView),
        Arc::new(EmailView),
        Arc::new(TokenView),
        Arc::new(OrganizationView),
        Arc::new(MembershipView),
        Arc::new(PasswordResetView),
        Arc::new(PendingRemovals),
        Arc::new(PersonErasure),
        Arc::new(SignalingFeed),
        Arc::new(AccountMail::new(mailer.clone(), &settings.public_url())),
        Arc::new(DeletionNotices::new(mailer, &settings.public_url())),
    ])
}

fn mailer(settings: &Settings) -> anyhow::Result<Arc<dyn Mailer>> {
    let from = &settings.mail.from;
    let mailer = match &settings.mail.smtp_url {
        Some(url) => LettreMailer::smtp(url, from),
        None => LettreMailer::files(&mail_folder(&settings.data_dir), from),
    };
    Ok(Arc::new(
        mailer
            .map_err(|e| anyhow::anyhow!(e))
            .context("cannot set up mail")?,
    ))
}

/// Where mail goes when no SMTP server is configured.
pub fn mail_folder(data_dir: &Path) -> std::path::PathBuf {
    data_dir.join("mail")
}

/// A running service.
pub struct RunningApp {
    pub address: SocketAddr,
    pub state: AppState,
    shutdown: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

impl RunningApp {
    /// Stops serving and the background tasks.
    pub async fn stop(self) {
        let _ = self.shutdown.send(true);
        for task in self.tasks {
            let _ = task.await;
        }
    }
}

/// Builds the state and starts the projector and key rotation on `pool`,
/// which must be migrated.
pub async fn build_state(
    settings: Settings,
    pool: PgPool,
    shutdown: &watch::Receiver<bool>,
) -> anyhow::Result<(AppState, Vec<JoinHandle<()>>)> {
    let projector = Projector::new(pool.clone(), projections(&settings)?);
    let tasks = projector.spawn(shutdown.clone());
    // Loaded before the first request is served, then kept current.
    let blacklist = Arc::new(Blacklist::default());
    blacklist
        .reload(&pool)
        .await
        .context("cannot load the token blacklist")?;
    blacklist.spawn(pool.clone(), shutdown.clone());
    let signaling = Arc::new(SignalingHub::default());
    signaling.spawn(pool.clone(), shutdown.clone());
    let auth = &settings.auth;
    let hasher = Arc::new(PasswordHasher::new(auth.bcrypt_cost, auth.bcrypt_workers)?);
    let rotation = chrono::Duration::seconds(auth.key_rotation_secs);
    // A key stays published as long as the longest-lived token it signed.
    let ttls = [
        auth.id_token_ttl_secs,
        auth.access_token_ttl_secs,
        auth.uid_token_ttl_secs,
    ];
    let longest_token = chrono::Duration::seconds(ttls.into_iter().max().unwrap_or_default());
    let keys = KeyRing::load(pool.clone(), rotation, longest_token).await?;
    keys.spawn_rotation(shutdown.clone());
    let services = Arc::new(PostgresPersonServices::new(
        pool.clone(),
        Arc::clone(&hasher),
    ));
    let timeout = Duration::from_millis(auth.read_your_writes_timeout_ms);
    let organization_services = Arc::new(PostgresOrganizationServices::new(pool.clone()));
    let bus = CommandBus::new(
        pool.clone(),
        Arc::clone(&projector),
        services,
        organization_services,
        timeout,
    );
    let tokens = TokenService::new(keys, &settings.issuer(), &settings.audience());
    let inner = Inner {
        settings,
        pool,
        bus,
        tokens,
        hasher,
        projector,
        blacklist,
        signaling,
        image_workers: ImageWorkers::default(),
    };
    Ok((AppState(Arc::new(inner)), tasks))
}

/// Serves the API on `listener` until [`RunningApp::stop`].
pub async fn start(
    settings: Settings,
    pool: PgPool,
    listener: TcpListener,
) -> anyhow::Result<RunningApp> {
    let (shutdown, shutdown_rx) = watch::channel(false);
    let (state, mut tasks) = build_state(settings, pool, &shutdown_rx).await?;
    crate::accounts::spawn_lapsed_address_sweeper(state.clone(), shutdown_rx.clone());
    let address = listener.local_addr()?;
    let router: Router = routes::router(state.clone());
    let mut stop = shutdown_rx.clone();
    tasks.push(tokio::spawn(async move {
        let service = router.into_make_service_with_connect_info::<SocketAddr>();
        let serving = axum::serve(listener, service).with_graceful_shutdown(async move {
            let _ = stop.changed().await;
        });
        if let Err(e) = serving.await {
            tracing::error!(error = %e, "server failed");
        }
    }));
    info!(%address, "serving Skalio ID API v3");
    Ok(RunningApp {
        address,
        state,
        shutdown,
        tasks,
    })
}
