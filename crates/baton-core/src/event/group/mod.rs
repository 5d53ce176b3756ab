//! Consumer groups over a namespace's log: members join with a lease, each stream is owned by exactly one live
//! member, and checkpoints live on the server, so delivery is at least once from the last checkpoint.

pub mod engine;
pub mod model;
pub mod service;

pub use model::*;
pub use service::{GroupBatch, GroupReadRequest, GroupService, JoinRequest};
