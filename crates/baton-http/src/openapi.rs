//! The OpenAPI document, generated from the handlers, and the offline docs page at `/docs`.

use axum::Router;
use utoipa::OpenApi;
use utoipa_swagger_ui::SwaggerUi;

use crate::routes::{
    cache, claim, discovery, election, event, group, job, job_type, lease, lock, queue, saga, schedule, stream,
    subscribe, system, workflow, workflow_step,
};

#[derive(OpenApi)]
#[openapi(
    info(title = "Baton", description = "Coordination service: locks, leases, claims, elections, a tag cache, service discovery, jobs, sagas, durable workflows, events and more.", version = "v1"),
    paths(
        lock::acquire, lock::release, lock::renew, lock::status, lock::list,
        lease::grant, lease::keepalive, lease::keepalive_stream, lease::show, lease::revoke,
        claim::claim, claim::next, claim::renew, claim::done, claim::discard, claim::status, claim::list,
        election::campaign, election::proclaim, election::renew, election::resign, election::show, election::observe,
        discovery::register, discovery::heartbeat, discovery::deregister, discovery::show, discovery::list_services,
        discovery::instances, discovery::watch,
        cache::read, cache::write, cache::remove, cache::bulk_get, cache::bulk_set, cache::invalidate, cache::stats,
        job::enqueue, job::fetch_from_queue, job::fetch, job::heartbeat, job::complete, job::fail,
        job::complete_batch, job::fail_batch, job::cancel, job::retry, job::show, job::result, job::list,
        queue::list, queue::update, queue::stats,
        saga::start, saga::list, saga::show, saga::status, saga::cancel,
        workflow::start, workflow::list, workflow::show, workflow::cancel, workflow::resume, workflow::fork,
        workflow::send, workflow::event, workflow_step::record, workflow_step::recv,
        schedule::save, schedule::list, schedule::show, schedule::remove, schedule::pause, schedule::resume,
        schedule::trigger,
        job_type::save, job_type::list, job_type::show, job_type::remove,
        event::append, event::read_stream, event::read_all, subscribe::subscribe_sse, subscribe::subscribe_ws,
        stream::list, stream::show, stream::set_settings, stream::remove,
        group::join, group::heartbeat, group::leave, group::commit, group::events, group::show, group::list,
        group::remove,
        system::health, system::ready, system::metrics,
    ),
    components(schemas(
        baton_api::job::EnqueueBatch,
        baton_api::lease::KeepaliveStreamRequest,
        baton_api::lease::KeepaliveStreamAnswer
    )),
    tags((name = "locks"), (name = "leases"), (name = "claims"), (name = "elections"), (name = "cache"), (name = "discovery"), (name = "jobs"), (name = "workers"), (name = "queues"), (name = "schedules"),
        (name = "sagas"), (name = "workflows"), (name = "events"), (name = "groups"), (name = "system"))
)]
pub struct ApiDoc;

/// `/docs` (Swagger UI, assets embedded at build time) and `/api/v1/openapi.json`.
pub(crate) fn docs() -> Router {
    SwaggerUi::new("/docs").url("/api/v1/openapi.json", ApiDoc::openapi()).into()
}
