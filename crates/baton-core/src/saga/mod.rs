//! Declarative sagas: a named list of steps, each an action with an optional compensation, where every action
//! and compensation runs as a job of type `{service}.{action}` on queue `{service}`, so any worker performs it.
//!
//! A saga is stored as the simplest kind of workflow (migration 0009: `workflows`, `workflow_steps`,
//! `workflow_step_jobs`), so that a code-first workflow engine can later checkpoint its `ctx.step` calls in
//! the same tables. The pure rules (validation, the payload a step's job carries, the state machine) live
//! here; this module deliberately does not poll: a saga advances only inside the transaction that finalizes
//! its step's job.

pub mod engine;
pub mod model;
pub mod rules;
pub mod service;
pub mod spec;
pub mod store;
pub mod stored;

pub use model::*;
pub use rules::{Outcome, Transition, advance};
pub use service::SagaService;
pub use store::SagaStore;
