//! The cluster backend: any number of Baton nodes share one PostgreSQL database.
//!
//! Each operation is one transaction on a pooled connection; PostgreSQL flushes concurrent commits
//! together. Appends to the event log, which serialise on their namespace's lock, are group-committed instead
//! (`appends`). Per-key exclusion comes from transaction-scoped advisory locks, fencing tokens from a sequence,
//! and cross-node wake-ups from `LISTEN/NOTIFY`. Expiry is decided by the database clock unless a test
//! supplies its own. It deliberately holds no lock rules: those are in `baton_core::lock::engine`.

mod appends;
mod cache_store;
mod claim_store;
#[cfg(test)]
mod collation_check;
mod conns;
mod crash_marker;
mod discovery_store;
mod event_store;
mod event_tx;
mod job_store;
mod job_tx;
mod job_type_store;
mod keepalives;
#[cfg(test)]
mod lease_check;
mod listener;
mod migrate;
mod notifier;
#[cfg(test)]
mod plan_check;
#[cfg(test)]
mod prune_check;
#[cfg(test)]
mod renew_check;
mod rows;
mod saga_tx;
mod schedule_store;
mod store;
#[cfg(test)]
mod test_server;
mod tx;
mod workflow_tx;

pub use store::{PgOptions, PgStore};
