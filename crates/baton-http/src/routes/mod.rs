//! One module per resource.

pub(crate) mod cache;
pub(crate) mod claim;
pub(crate) mod discovery;
pub(crate) mod election;
pub(crate) mod event;
mod event_view;
pub(crate) mod group;
pub(crate) mod job;
pub mod job_type;
mod job_view;
pub(crate) mod lease;
pub(crate) mod lock;
pub(crate) mod queue;
pub(crate) mod saga;
pub(crate) mod schedule;
pub(crate) mod stream;
pub(crate) mod subscribe;
pub(crate) mod system;
pub(crate) mod workflow;
pub(crate) mod workflow_step;
mod workflow_view;
