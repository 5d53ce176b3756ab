//! Jobs: durable queues with priorities, delays, retries with backoff, unique keys, leases with heartbeats,
//! dead letters, and per-queue concurrency and rate limits that hold across a cluster.
//!
//! The rules live once: pure ones in [`rules`], transactional ones in [`engine`] over the backends'
//! [`engine::JobTx`]. [`service::JobService`] validates input and adds what a store cannot do alone: long
//! polls woken by the change feed, and waiting for a result. [`duty::JobReaper`] ends lapsed leases and prunes
//! finished jobs.

pub mod duty;
pub mod engine;
mod handoff;
pub mod job_type;
pub mod model;
pub mod rules;
pub mod schedule;
pub mod schedule_engine;
pub mod schedule_service;
pub mod service;
pub mod spec;
pub mod store;
pub mod stored;

pub use duty::{JobReaper, JobReaperOptions, Scheduler};
pub use handoff::PollClaim;
pub use model::*;
pub use service::JobService;
pub use store::{JobStore, JobTypeStore, ScheduleStore};
