//! The embedded backend: one SQLite file in WAL mode, with durable commits by default.
//!
//! Every write goes through one writer task that commits many callers' operations per transaction (group
//! commit, see [`writer`]); reads use a small pool of read-only connections. A lock file in the data dir keeps
//! a second server off the same data. It deliberately holds no lock rules: those are in
//! `baton_core::lock::engine`, which this crate feeds with statements.

mod migrate;
mod rows;
mod store;
mod tx;
mod writer;

pub use store::{SqliteOptions, SqliteStore, Synchronous};
