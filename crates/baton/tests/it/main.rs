//! End-to-end tests: a real `baton serve` process on port 0, driven over HTTP by `baton-client` and by the
//! `baton` CLI.

mod cache;
mod claims;
mod cli;
mod cluster;
mod cluster_coordination;
mod cluster_discovery;
mod cluster_events;
mod discovery;
mod elections;
mod groups;
mod http_events;
mod http_jobs;
mod http_locks;
mod lifecycle;
mod logging;
mod rest_worker;
mod saga_crash;
mod saga_policies;
mod sagas;
mod server;
mod subscriptions;
mod workers;
mod workflow_modes;
mod workflow_rest;
mod workflows;
