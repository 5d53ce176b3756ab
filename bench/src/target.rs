//! The one trait every benchmarked system implements, so each scenario drives Baton, etcd and Redis identically.
//!
//! A [`Target`] knows where a system is and opens one [`TargetClient`] per simulated client. Every client gets
//! its own connection (as separate processes would), opened before the clock starts.

use std::future::Future;

use anyhow::Result;

/// The scenario being run, so a target can attach a note to its figures (e.g. "this is a spin").
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scenario {
    Uncontended,
    Contended,
    Keepalive,
}

impl Scenario {
    pub fn as_str(self) -> &'static str {
        match self {
            Scenario::Uncontended => "uncontended",
            Scenario::Contended => "contended",
            Scenario::Keepalive => "keepalive",
        }
    }
}

/// How acquire behaves when the key is held by someone else.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Wait {
    /// The key is expected to be free; failing to get it at once is an error.
    No,
    /// Block (or, for a system with no blocking acquire, retry) until granted, up to the given seconds.
    UpTo(u64),
}

/// A system under test, e.g. one etcd endpoint or one Baton server.
pub trait Target: Send + Sync + 'static {
    type Client: TargetClient;

    /// Opens one client with its own connection. `owner` is unique per client and run.
    fn connect(&self, owner: String) -> impl Future<Output = Result<Self::Client>> + Send;

    /// A note printed with the scenario's figures, when the target's workload differs in kind.
    fn note(&self, _scenario: Scenario) -> Option<&'static str> {
        None
    }
}

/// One client of a system under test. Methods take `&mut self`: a client does one thing at a time.
pub trait TargetClient: Send + 'static {
    /// What a granted lock carries until release (lock id, token, etcd's ownership key...).
    type Held: Send;
    /// A lease the client keeps alive.
    type Lease: Send;

    /// Acquires `key` with a TTL of [`LOCK_TTL_SECS`].
    fn acquire(&mut self, key: &str, wait: Wait) -> impl Future<Output = Result<Self::Held>> + Send;

    /// Releases a lock this client holds.
    fn release(&mut self, key: &str, held: Self::Held) -> impl Future<Output = Result<()>> + Send;

    /// Grants a lease with a TTL of [`LEASE_TTL_SECS`].
    fn grant_lease(&mut self) -> impl Future<Output = Result<Self::Lease>> + Send;

    /// One keepalive of `lease`: one request, one response.
    fn keepalive(&mut self, lease: &mut Self::Lease) -> impl Future<Output = Result<()>> + Send;

    /// Revokes a lease at the end of a run.
    fn revoke_lease(&mut self, lease: Self::Lease) -> impl Future<Output = Result<()>> + Send;

    /// Cleans up whatever the client set up (etcd: its session lease).
    fn close(self) -> impl Future<Output = Result<()>> + Send;
}

/// TTL of every lock the benchmark takes, on every target.
pub const LOCK_TTL_SECS: u64 = 30;
/// TTL of every lease the benchmark grants, on every target.
pub const LEASE_TTL_SECS: u64 = 30;
