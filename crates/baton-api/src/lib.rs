//! Baton's wire types: the JSON bodies of the REST API, shared by the server (`baton-http`) and the Rust SDK
//! (`baton-client`) so the two can never drift apart. It holds no behaviour.

pub mod cache;
pub mod claim;
pub mod discovery;
pub mod election;
pub mod error;
pub mod event;
pub mod job;
pub mod lease;
pub mod lock;
pub mod saga;
pub mod workflow;
