//! Lease keepalives answered from memory, as etcd's leader answers them.
//!
//! A keepalive only moves a lease's expiry, and a busy client sends one every few milliseconds. Sending each
//! through the writer cost two thread hops and two statements; here the embedded server keeps the expiry of
//! every lease it has kept alive, extends it under a mutex, and writes the newest expiries to the tables later,
//! many keepalives per row.
//!
//! **Invariants.**
//! - *The writer never judges a stale expiry.* It writes every pending expiry at the start of each transaction,
//!   before any queued write runs ([`LiveLeases::write_pending`]); the writer is the only one that deletes a
//!   lease or releases its locks.
//! - *Readers never see a kept-alive lease lapse.* A keepalive is answered from memory only while the tables
//!   already hold an expiry more than [`MARGIN`] away; pending expiries are written within [`FLUSH_DELAY`],
//!   which is far less. Other keepalives take the writer's path, which writes the row in the same transaction.
//! - *A revoked lease is never kept alive from memory.* Only the writer thread adds an entry (after a keepalive
//!   it ran) or removes a live one (in the revoke), so no entry outlives its row. Entries of lapsed leases are
//!   dropped wherever they are met: a lapsed lease is never alive again.
//!
//! A crash loses the expiries not yet written; the next start gives every lease its full TTL again
//! (`refresh_all.sql`), the rule that already covers keepalives lost to a power cut.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use baton_core::StoreError;
use baton_core::clock::{Clock, Timestamp};
use baton_core::lease::Lease;
use baton_core::lock::{Holder, LeaseId};
use baton_core::namespace::Namespace;
use rusqlite::params;

use crate::tx::SqliteTx;

/// How far ahead the tables' expiry must be for a keepalive to be answered from memory.
const MARGIN: Duration = Duration::from_secs(1);

/// How long after a keepalive answered from memory its expiry is written, at the latest: the writer runs an
/// empty batch then, unless another write's batch came first.
pub(crate) const FLUSH_DELAY: Duration = Duration::from_millis(100);

/// How often entries of lapsed leases are dropped.
const PRUNE_EVERY: Duration = Duration::from_secs(10);

#[derive(Default)]
pub(crate) struct LiveLeases {
    state: Mutex<State>,
    /// Whether a flush has been asked for since the writer last wrote the pending expiries.
    flush_asked: AtomicBool,
}

#[derive(Default)]
struct State {
    leases: HashMap<LeaseId, Entry>,
    /// Leases whose expiry in memory is ahead of the tables'.
    pending: Vec<LeaseId>,
    /// When entries of lapsed leases are next dropped; `None` before the first transaction.
    next_prune: Option<Timestamp>,
}

struct Entry {
    namespace: Namespace,
    ttl_ms: i64,
    granted_at: Timestamp,
    expires_at: Timestamp,
    /// An expiry the tables are known to hold at least; `None` until one of ours committed.
    stored_at_least: Option<Timestamp>,
    /// Whether it is listed in [`State::pending`].
    pending: bool,
}

impl Entry {
    fn lease(&self, lease_id: LeaseId) -> Lease {
        Lease { lease_id, ttl_ms: self.ttl_ms, granted_at: self.granted_at, expires_at: self.expires_at }
    }
}

/// A keepalive answered from memory.
pub(crate) struct KeptInMemory {
    pub(crate) lease: Lease,
    /// Whether the caller must have the writer flush within [`FLUSH_DELAY`]: no flush is asked for yet.
    pub(crate) ask_flush: bool,
}

/// What [`LiveLeases::write_pending`] wrote into a transaction, for [`LiveLeases::settle`].
pub(crate) struct Written(Vec<(LeaseId, Timestamp)>);

impl Written {
    pub(crate) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl LiveLeases {
    /// Extends the lease from memory, or answers `None`: the writer must run this keepalive (the lease is not
    /// known here, lapsed, another namespace's, or too close to its stored expiry).
    pub(crate) fn keep_alive(
        &self,
        namespace: &Namespace,
        lease_id: LeaseId,
        clock: &dyn Clock,
    ) -> Option<KeptInMemory> {
        let mut state = self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        // Read under the mutex: a writer transaction that starts after this keepalive then sees its expiry.
        let now = clock.now();
        let entry = state.leases.get_mut(&lease_id)?;
        if entry.namespace != *namespace {
            return None;
        }
        if entry.expires_at <= now {
            state.leases.remove(&lease_id);
            return None;
        }
        if entry.stored_at_least.is_none_or(|stored| stored <= now.plus(MARGIN)) {
            return None;
        }
        entry.expires_at = entry.expires_at.max(Timestamp(now.as_millis().saturating_add(entry.ttl_ms)));
        let lease = entry.lease(lease_id);
        if !entry.pending {
            entry.pending = true;
            state.pending.push(lease_id);
        }
        drop(state);
        Some(KeptInMemory { lease, ask_flush: !self.flush_asked.swap(true, Ordering::AcqRel) })
    }

    /// Takes over a lease the writer has just kept alive. Writer thread only.
    pub(crate) fn admit(&self, namespace: &Namespace, lease: &Lease) {
        let mut state = self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let entry = state.leases.entry(lease.lease_id).or_insert_with(|| Entry {
            namespace: namespace.clone(),
            ttl_ms: lease.ttl_ms,
            granted_at: lease.granted_at,
            expires_at: lease.expires_at,
            stored_at_least: None,
            pending: false,
        });
        entry.expires_at = entry.expires_at.max(lease.expires_at);
        // Written again by the next transaction: only a commit of ours tells what the tables hold.
        if !entry.pending {
            entry.pending = true;
            state.pending.push(lease.lease_id);
        }
    }

    /// Drops a lease the writer is revoking. Writer thread only.
    pub(crate) fn forget(&self, lease_id: LeaseId) {
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).leases.remove(&lease_id);
    }

    /// The newest expiry of a live lease, if this process has kept it alive.
    pub(crate) fn expiry(&self, namespace: &Namespace, lease_id: LeaseId) -> Option<Timestamp> {
        let state = self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        state.leases.get(&lease_id).filter(|entry| entry.namespace == *namespace).map(|entry| entry.expires_at)
    }

    /// Shows lease-bound holders with their lease's newest expiry, which the tables may not have yet.
    pub(crate) fn refresh_holders<'h>(&self, namespace: &Namespace, holders: impl IntoIterator<Item = &'h mut Holder>) {
        for holder in holders {
            if let Some(expires_at) = holder.lease_id.and_then(|lease_id| self.expiry(namespace, lease_id)) {
                holder.expires_at = holder.expires_at.max(expires_at);
            }
        }
    }

    /// Writes every pending expiry into the writer's transaction, before its first queued write. Writer thread
    /// only; pass what it returns to [`LiveLeases::settle`] once the transaction has ended.
    pub(crate) fn write_pending(&self, tx: &SqliteTx<'_>) -> Result<Written, StoreError> {
        self.flush_asked.store(false, Ordering::Release);
        let pending = {
            let mut state = self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            if state.next_prune.is_none_or(|at| tx.now >= at) {
                state.leases.retain(|_, entry| entry.expires_at > tx.now);
                state.next_prune = Some(tx.now.plus(PRUNE_EVERY));
            }
            let State { leases, pending, .. } = &mut *state;
            pending
                .drain(..)
                .filter_map(|lease_id| {
                    let entry = leases.get_mut(&lease_id)?;
                    entry.pending = false;
                    Some((lease_id, entry.namespace.clone(), entry.expires_at))
                })
                .collect::<Vec<_>>()
        };
        let written = Written(pending.iter().map(|(lease_id, _, expires_at)| (*lease_id, *expires_at)).collect());
        for (lease_id, namespace, expires_at) in &pending {
            let params = params![namespace.as_str(), lease_id.to_string(), expires_at.as_millis()];
            if let Err(error) = tx.execute(include_str!("../queries/lease/write_expiry.sql"), params) {
                // Every expiry taken is pending again, the ones not reached yet too.
                self.settle(written, false);
                return Err(error);
            }
        }
        Ok(written)
    }

    /// Records what a transaction kept: its expiries are now in the tables, or, rolled back, pending again.
    pub(crate) fn settle(&self, written: Written, committed: bool) {
        if written.is_empty() {
            return;
        }
        let mut state = self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let State { leases, pending, .. } = &mut *state;
        for (lease_id, expires_at) in written.0 {
            let Some(entry) = leases.get_mut(&lease_id) else { continue };
            if committed {
                entry.stored_at_least = entry.stored_at_least.max(Some(expires_at));
            } else if !entry.pending {
                entry.pending = true;
                pending.push(lease_id);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use baton_core::clock::{Clock, ManualClock, Timestamp};
    use baton_core::lease::Lease;
    use baton_core::lock::LeaseId;
    use baton_core::namespace::Namespace;
    use rusqlite::Connection;

    use super::{LiveLeases, MARGIN};
    use crate::tx::SqliteTx;

    const TTL_MS: i64 = 10_000;

    fn namespace() -> Namespace {
        Namespace::default()
    }

    fn lease(lease_id: LeaseId, now: Timestamp) -> Lease {
        Lease { lease_id, ttl_ms: TTL_MS, granted_at: now, expires_at: Timestamp(now.0 + TTL_MS) }
    }

    /// A leases table with one row, and the state after the writer kept it alive and committed.
    fn admitted(clock: &ManualClock) -> (Connection, LiveLeases, LeaseId) {
        let mut conn = Connection::open_in_memory().expect("open");
        crate::migrate::run(&mut conn).expect("the schema");
        let lease_id = LeaseId::new();
        let now = clock.now();
        conn.query_row(
            include_str!("../queries/lease/grant.sql"),
            rusqlite::params![namespace().as_str(), lease_id.to_string(), TTL_MS, now.0],
            |_| Ok(()),
        )
        .expect("grant");
        let live = LiveLeases::default();
        live.admit(&namespace(), &lease(lease_id, now));
        let written = write_pending(&live, &conn, now);
        live.settle(written, true);
        (conn, live, lease_id)
    }

    fn write_pending(live: &LiveLeases, conn: &Connection, now: Timestamp) -> super::Written {
        live.write_pending(&SqliteTx::new(conn, now)).expect("the pending expiries written")
    }

    fn stored_expiry(conn: &Connection, lease_id: LeaseId) -> i64 {
        conn.query_row(include_str!("../queries/testing/lease_expiry.sql"), [lease_id.to_string()], |row| row.get(0))
            .expect("the lease row")
    }

    #[test]
    fn a_keepalive_from_memory_reaches_the_table_at_the_next_transaction() {
        let clock = ManualClock::new(Timestamp(1_000_000));
        let (conn, live, lease_id) = admitted(&clock);
        clock.advance(Duration::from_secs(2));
        let kept = live.keep_alive(&namespace(), lease_id, &clock).expect("answered from memory");
        assert_eq!(kept.lease.expires_at, Timestamp(clock.now().0 + TTL_MS));
        assert!(kept.ask_flush, "the first pending expiry asks for a flush");
        assert!(!live.keep_alive(&namespace(), lease_id, &clock).expect("again").ask_flush, "one flush at a time");
        assert_eq!(stored_expiry(&conn, lease_id), 1_000_000 + TTL_MS, "not written yet");

        let written = write_pending(&live, &conn, clock.now());
        live.settle(written, true);
        assert_eq!(stored_expiry(&conn, lease_id), kept.lease.expires_at.0);
        assert!(live.keep_alive(&namespace(), lease_id, &clock).expect("again").ask_flush, "flushed: ask anew");
    }

    #[test]
    fn the_writer_runs_keepalives_of_unknown_foreign_lapsed_or_nearly_lapsed_leases() {
        let clock = ManualClock::new(Timestamp(1_000_000));
        let (_conn, live, lease_id) = admitted(&clock);
        assert!(live.keep_alive(&namespace(), LeaseId::new(), &clock).is_none(), "unknown here");
        let other = Namespace::parse("other").expect("a namespace");
        assert!(live.keep_alive(&other, lease_id, &clock).is_none(), "another namespace's lease id");

        // The table holds now + TTL; a keepalive closer than MARGIN to it goes to the writer.
        clock.advance(Duration::from_millis(TTL_MS as u64) - MARGIN);
        assert!(live.keep_alive(&namespace(), lease_id, &clock).is_none(), "too close to the stored expiry");
        clock.advance(MARGIN);
        assert!(live.keep_alive(&namespace(), lease_id, &clock).is_none(), "lapsed");
        assert_eq!(live.expiry(&namespace(), lease_id), None, "a lapsed entry is dropped");
    }

    #[test]
    fn a_forgotten_lease_is_not_kept_alive_and_its_pending_expiry_is_not_written() {
        let clock = ManualClock::new(Timestamp(1_000_000));
        let (conn, live, lease_id) = admitted(&clock);
        clock.advance(Duration::from_secs(1));
        live.keep_alive(&namespace(), lease_id, &clock).expect("answered from memory");
        live.forget(lease_id);
        assert!(live.keep_alive(&namespace(), lease_id, &clock).is_none());
        let written = write_pending(&live, &conn, clock.now());
        assert!(written.0.is_empty());
        assert_eq!(stored_expiry(&conn, lease_id), 1_000_000 + TTL_MS);
    }

    #[test]
    fn a_flush_whose_statement_fails_leaves_every_expiry_it_took_pending() {
        let clock = ManualClock::new(Timestamp(1_000_000));
        let (conn, live, lease_id) = admitted(&clock);
        let other = lease(LeaseId::new(), clock.now());
        live.admit(&namespace(), &other);
        clock.advance(Duration::from_secs(2));
        live.keep_alive(&namespace(), lease_id, &clock).expect("answered from memory");
        conn.execute(include_str!("../queries/testing/drop_leases.sql"), []).expect("drop");
        assert!(live.write_pending(&SqliteTx::new(&conn, clock.now())).is_err());
        let state = live.state.lock().unwrap();
        let mut pending = state.pending.clone();
        pending.sort_by_key(|lease_id| lease_id.0);
        let mut expected = vec![lease_id, other.lease_id];
        expected.sort_by_key(|lease_id| lease_id.0);
        assert_eq!(pending, expected, "both are written by the next transaction");
    }

    #[test]
    fn a_rolled_back_flush_leaves_its_expiries_pending_and_the_stored_one_unchanged() {
        let clock = ManualClock::new(Timestamp(1_000_000));
        let (conn, live, lease_id) = admitted(&clock);
        clock.advance(Duration::from_secs(3));
        live.keep_alive(&namespace(), lease_id, &clock).expect("answered from memory");
        let written = write_pending(&live, &conn, clock.now());
        live.settle(written, false);
        // Still answered from memory: the stored expiry (the first commit's) is far enough ahead.
        live.keep_alive(&namespace(), lease_id, &clock).expect("answered from memory");
        let again = write_pending(&live, &conn, clock.now());
        assert_eq!(again.0, vec![(lease_id, Timestamp(clock.now().0 + TTL_MS))], "pending again");
    }
}
