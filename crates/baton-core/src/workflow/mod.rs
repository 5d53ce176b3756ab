//! Code-first durable workflows: a workflow is a function whose progress Baton records, one checkpoint per
//! step, so a crash anywhere resumes it without re-running finished steps. The function runs in an executor
//! (`baton-workflow`); this module is what the store keeps for it and the rules that keep it consistent.
//!
//! Workflows share the saga tables (migration 0009, extended by 0010): a saga is the declarative case.

pub mod engine;
pub mod model;
pub mod service;
pub mod store;
pub mod stored;

pub use model::*;
pub use service::WorkflowService;
pub use store::WorkflowStore;
