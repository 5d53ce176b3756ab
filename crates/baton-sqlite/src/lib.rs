//! The embedded backend: one SQLite file in WAL mode, with durable commits by default.
//!
//! Every write goes through one writer thread that commits many callers' operations per transaction (group
//! commit, see `writer`); reads run on a small pool of read-only connections on blocking threads. A lock file
//! in the data dir keeps a second server off the same data. It uses rusqlite rather than sqlx: statements run
//! in the writer's own thread, with no hop to a worker thread per statement, which is what bounded
//! throughput. It deliberately holds no lock rules: those are in `baton_core::lock::engine`.

mod claim_store;
mod discovery_store;
mod event_store;
mod event_tx;
mod job_store;
mod job_tx;
mod job_type_store;
mod live_leases;
mod migrate;
mod readers;
mod rows;
mod saga_tx;
mod schedule_store;
mod store;
mod tx;
mod wal;
mod workflow_tx;
mod writer;

pub use store::{SqliteOptions, SqliteStore, Synchronous};
