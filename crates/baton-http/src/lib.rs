//! The REST transport: parse, call one service method, map the error. It never touches a store.
//!
//! **API boundary:** [`router`] is everything the server mounts; [`openapi::ApiDoc`] is generated from the
//! handlers' annotations and served at `/api/v1/openapi.json`.

mod error;
mod extract;
mod middleware;
pub mod openapi;
pub(crate) mod routes;

use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use baton_core::cache::CacheService;
use baton_core::claim::ClaimService;
use baton_core::discovery::DiscoveryService;
use baton_core::election::ElectionService;
use baton_core::event::EventService;
use baton_core::event::group::GroupService;
use baton_core::health::HealthService;
use baton_core::job::JobService;
use baton_core::lease::LeaseService;
use baton_core::lock::LockService;
use baton_core::saga::SagaService;
use baton_core::workflow::WorkflowService;
use tokio_util::sync::CancellationToken;

pub use error::ApiError;
pub use middleware::install_metrics_recorder;
pub use routes::job_type::job_type_view;

/// What the handlers need: the services, never a store. Every request clones it (axum's `State`), so it is one
/// `Arc`: cloning the services themselves cost a dozen reference counts per request.
#[derive(Clone)]
pub struct AppState(Arc<Services>);

impl AppState {
    pub fn new(services: Services) -> Self {
        Self(Arc::new(services))
    }
}

impl std::ops::Deref for AppState {
    type Target = Services;

    fn deref(&self) -> &Services {
        &self.0
    }
}

pub struct Services {
    pub locks: LockService,
    pub leases: LeaseService,
    pub claims: ClaimService,
    pub elections: ElectionService,
    pub cache: CacheService,
    pub discovery: DiscoveryService,
    pub jobs: JobService,
    pub events: EventService,
    pub groups: GroupService,
    pub sagas: SagaService,
    pub workflows: WorkflowService,
    pub health: HealthService,
    pub metrics: Arc<metrics_exporter_prometheus::PrometheusHandle>,
    /// Fires when the server shuts down: live subscriptions end with it, so draining does not wait for them.
    pub shutdown: CancellationToken,
}

#[derive(Clone, Debug)]
pub struct HttpOptions {
    pub max_body_bytes: usize,
}

impl Default for HttpOptions {
    fn default() -> Self {
        Self { max_body_bytes: 1024 * 1024 }
    }
}

pub fn router(state: AppState, options: &HttpOptions) -> Router {
    let api = Router::new()
        .merge(routes::lock::routes())
        .merge(routes::lease::routes())
        .merge(routes::claim::routes())
        .merge(routes::election::routes())
        .merge(routes::cache::routes())
        .merge(routes::discovery::routes())
        .merge(routes::job::routes())
        .merge(routes::saga::routes())
        .merge(routes::workflow::routes())
        .merge(routes::queue::routes())
        .merge(routes::schedule::routes())
        .merge(routes::job_type::routes())
        .merge(routes::event::routes())
        .merge(routes::subscribe::routes())
        .merge(routes::stream::routes())
        .merge(routes::group::routes())
        .layer(DefaultBodyLimit::max(options.max_body_bytes));
    // The routes carry their full `/api/v1/...` paths rather than being nested: a nested router rewrites the URI
    // and routes twice on every request.
    let app = Router::new()
        .merge(api)
        .merge(routes::system::routes())
        .with_state(state)
        .merge(openapi::docs())
        .fallback(routes::system::not_found)
        .method_not_allowed_fallback(routes::system::method_not_allowed);
    middleware::apply(app)
}
