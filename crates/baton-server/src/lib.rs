//! The composition root: reads the configuration, opens the store, builds the services, starts the
//! background duties and the HTTP transport, and stops them all on shutdown.
//!
//! **API boundary:** [`Node::open`] opens the store; [`Node::serve`] (or [`run`], both at once) serves on a
//! listener the caller bound (tests bind port 0) until the shutdown token fires.

mod config;
pub mod executors;
pub mod health_probe;

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use axum::serve::ListenerExt as _;
use baton_core::cache::{CacheReaper, CacheService, CacheStore, MemoryCache};
use baton_core::claim::ClaimService;
use baton_core::clock::SystemClock;
use baton_core::discovery::duty::DiscoveryReaperOptions;
use baton_core::discovery::{DiscoveryReaper, DiscoveryService};
use baton_core::election::ElectionService;
use baton_core::event::group::GroupService;
use baton_core::event::{EventReaper, EventReaperOptions, EventService};
use baton_core::health::HealthService;
use baton_core::job::{JobReaper, JobReaperOptions, JobService, Scheduler};
use baton_core::lease::LeaseService;
use baton_core::lock::reaper::ReaperOptions;
use baton_core::lock::{ExpiryReaper, LockService};
use baton_core::saga::SagaService;
use baton_core::store::Store;
use baton_core::streaming::StreamSlots;
use baton_core::workflow::WorkflowService;
use baton_http::{AppState, HttpOptions, Services};
use baton_postgres::{PgOptions, PgStore};
use baton_sqlite::{SqliteOptions, SqliteStore};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

pub use config::{Config, ConfigOverrides, LogFormat, StorageMode};

/// How long in-flight requests (long waits included) get to finish after shutdown is requested.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// Opens the store the configuration selects (PostgreSQL for a `postgres://` URL, else SQLite in the data dir),
/// and the cache that goes with it: the shared table in a cluster, moka in process when embedded.
pub async fn open_store(config: &Config) -> anyhow::Result<(Arc<dyn Store>, Arc<dyn CacheStore>)> {
    match config.storage_mode()? {
        StorageMode::Cluster { url } => {
            let options = PgOptions { max_connections: config.database_max_connections, ..PgOptions::new(url) };
            let store = Arc::new(PgStore::connect(options).await.context("opening PostgreSQL")?);
            Ok((store.clone(), store))
        }
        StorageMode::Embedded { data_dir } => {
            let options = SqliteOptions { synchronous: config.sqlite_synchronous(), ..SqliteOptions::new(data_dir) };
            let store = SqliteStore::open(options, Arc::new(SystemClock)).await.context("opening the data dir")?;
            let cache = MemoryCache::new(config.cache_bounds(), Arc::new(SystemClock));
            Ok((Arc::new(store), Arc::new(cache)))
        }
    }
}

/// A Baton node with its store open and migrated, ready to serve.
pub struct Node {
    config: Config,
    store: Arc<dyn Store>,
    cache: Arc<dyn CacheStore>,
}

impl Node {
    /// Opens the store (taking the data dir's lock in embedded mode) and runs migrations.
    pub async fn open(config: Config) -> anyhow::Result<Self> {
        let (store, cache) = open_store(&config).await?;
        Ok(Self { config, store, cache })
    }

    /// Serves on `listener` until `shutdown` is cancelled, then stops the background duties.
    pub async fn serve(self, listener: TcpListener, shutdown: CancellationToken) -> anyhow::Result<()> {
        let Self { config, store, cache } = self;
        let limits = config.limits();
        let reaper = ExpiryReaper::new(store.clone(), ReaperOptions::default());
        let locks = LockService::new(store.clone(), limits.clone(), reaper.handle());
        let jobs =
            JobService::new(store.clone(), limits.clone()).with_executor_check(Arc::new(executors::BuiltInExecutors));
        let job_reaper = JobReaper::new(
            store.clone(),
            JobReaperOptions {
                retention: Duration::from_secs(config.job_retention_seconds),
                ..JobReaperOptions::default()
            },
        );
        let scheduler = Scheduler::new(store.clone());
        let streams = StreamSlots::new(limits.max_subscriptions);
        let events = EventService::new(store.clone(), limits.clone(), streams.clone());
        let elections = ElectionService::new(store.clone(), locks.clone(), limits.clone(), streams.clone());
        let discovery = DiscoveryService::new(store.clone(), limits.clone(), streams);
        let discovery_reaper = DiscoveryReaper::new(store.clone(), DiscoveryReaperOptions::default());
        let node_name = node_name(&config);
        let prober = health_probe::HealthProber::new(
            discovery.clone(),
            health_probe::seat(locks.clone(), store.clone(), node_name),
        )?;
        let cache_service =
            CacheService::new(cache.clone(), store.clone(), locks.clone(), Arc::new(SystemClock), limits.clone());
        let cache_reaper = CacheReaper::new(cache, config.cache_bounds());
        let event_reaper = EventReaper::new(store.clone(), EventReaperOptions::default());
        let state = AppState::new(Services {
            locks: locks.clone(),
            leases: LeaseService::new(store.clone(), limits.clone()),
            claims: ClaimService::new(store.clone(), limits.clone()),
            elections: elections.clone(),
            cache: cache_service,
            discovery: discovery.clone(),
            jobs: jobs.clone(),
            events: events.clone(),
            groups: GroupService::new(events.clone()),
            sagas: SagaService::new(store.clone(), limits.clone()),
            workflows: WorkflowService::new(store.clone(), limits),
            health: HealthService::new(store.clone()),
            metrics: Arc::new(baton_http::install_metrics_recorder()),
            shutdown: shutdown.clone(),
        });

        let duties = tokio::spawn({
            let (shutdown, jobs) = (shutdown.clone(), jobs.clone());
            async move {
                tokio::join!(
                    reaper.run(shutdown.clone()),
                    locks.run_wakeups(shutdown.clone()),
                    job_reaper.run(shutdown.clone()),
                    scheduler.run(shutdown.clone()),
                    jobs.run_wakeups(shutdown.clone()),
                    event_reaper.run(shutdown.clone()),
                    events.run_wakeups(shutdown.clone()),
                    elections.run_wakeups(shutdown.clone()),
                    discovery.run_wakeups(shutdown.clone()),
                    discovery_reaper.run(shutdown.clone()),
                    prober.run(shutdown.clone()),
                    cache_reaper.run(shutdown),
                )
            }
        });
        let executor_pool = config.executors.then(|| {
            let base_url = own_url(&listener);
            tokio::spawn(executors::run_pool(jobs.clone(), base_url, config.executor_concurrency, shutdown.clone()))
        });
        let app = baton_http::router(state, &HttpOptions { max_body_bytes: config.max_body_bytes });
        // Nagle's algorithm off: a small write (an SSE event, a response written in two parts) would otherwise
        // wait for the client's delayed ACK, up to 40 ms.
        let listener = listener.tap_io(|tcp| {
            if let Err(error) = tcp.set_nodelay(true) {
                tracing::debug!(%error, "cannot set TCP_NODELAY");
            }
        });
        let serve = axum::serve(listener, app).with_graceful_shutdown(shutdown.clone().cancelled_owned());
        tokio::select! {
            served = serve => served.context("HTTP server failed")?,
            () = async { shutdown.cancelled().await; tokio::time::sleep(SHUTDOWN_GRACE).await } => {
                tracing::warn!("requests still running after the shutdown grace period were cut off");
            }
        }
        shutdown.cancel();
        let _ = duties.await;
        if let Some(pool) = executor_pool {
            let _ = pool.await;
        }
        Ok(())
    }
}

/// This node's name in logs and in the checks it runs (`checked_by`): `node_id`, or `node-PID`.
pub fn node_name(config: &Config) -> String {
    config.node_id.clone().unwrap_or_else(|| format!("node-{}", std::process::id()))
}

/// The address this node's own executor pool reaches it at: loopback when bound to every interface.
fn own_url(listener: &TcpListener) -> String {
    match listener.local_addr() {
        Ok(addr) if addr.ip().is_unspecified() => format!("http://127.0.0.1:{}", addr.port()),
        Ok(addr) => format!("http://{addr}"),
        Err(_) => "http://127.0.0.1:8080".to_owned(),
    }
}

/// Opens the store and serves Baton on `listener` until `shutdown` is cancelled.
pub async fn run(config: Config, listener: TcpListener, shutdown: CancellationToken) -> anyhow::Result<()> {
    Node::open(config).await?.serve(listener, shutdown).await
}
