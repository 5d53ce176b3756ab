//! The OpenAPI document, generated from the handlers, and the offline docs page at `/docs`.

use axum::Router;
use utoipa::OpenApi;
use utoipa_swagger_ui::SwaggerUi;

use crate::routes::{lease, lock, system};

#[derive(OpenApi)]
#[openapi(
    info(title = "Baton", description = "Coordination service: locks, leases and more.", version = "v1"),
    paths(
        lock::acquire, lock::release, lock::renew, lock::status, lock::list,
        lease::grant, lease::keepalive, lease::show, lease::revoke,
        system::health, system::ready, system::metrics,
    ),
    tags((name = "locks"), (name = "leases"), (name = "system"))
)]
pub struct ApiDoc;

/// `/docs` (Swagger UI, assets embedded at build time) and `/api/v1/openapi.json`.
pub(crate) fn docs() -> Router {
    SwaggerUi::new("/docs").url("/api/v1/openapi.json", ApiDoc::openapi()).into()
}
