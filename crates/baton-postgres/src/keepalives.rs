//! Group commit for lease keepalives: the keepalives that arrive while one statement runs go together in the
//! next, as the SQLite writer batches every write. A keepalive alone cost a round trip, and PostgreSQL spent far
//! more on the round trip's wake-ups and socket work than on the update itself.
//!
//! One task per store runs the statements, one at a time, so a batch grows with the load: one keepalive when a
//! client is alone, many under a crowd. Each statement commits on its own without waiting for the WAL flush
//! (`queries/lease/keepalive_many.sql`).

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use baton_core::clock::{Clock, Timestamp};
use baton_core::lease::Lease;
use baton_core::lock::LeaseId;
use baton_core::namespace::Namespace;
use baton_core::{Error, StoreError};
use sqlx::Row;
use sqlx::postgres::PgRow;
use sqlx::query;
use tokio::sync::{mpsc, oneshot};

use crate::conns::Connections;
use crate::rows::store_error;
use crate::store::lease_from_row;

/// The most keepalives one statement carries; more go in the next.
const MAX_KEEPALIVES_PER_STATEMENT: usize = 256;

struct Keepalive {
    namespace: Namespace,
    lease_id: LeaseId,
    reply: oneshot::Sender<Result<Lease, Error>>,
}

#[derive(Clone)]
pub(crate) struct KeepaliveQueue {
    queue: mpsc::UnboundedSender<Keepalive>,
}

impl KeepaliveQueue {
    /// Starts the task that runs the keepalives; it ends when the last handle is dropped. With `clock`, expiry
    /// is decided by it instead of the database clock (tests).
    pub(crate) fn start(conns: Arc<Connections>, clock: Option<Arc<dyn Clock>>) -> Self {
        let (queue, pending) = mpsc::unbounded_channel();
        tokio::spawn(run_all(conns, clock, pending));
        Self { queue }
    }

    /// Extends a live lease by its TTL, in the next statement.
    pub(crate) async fn keep_alive(&self, namespace: &Namespace, lease_id: LeaseId) -> Result<Lease, Error> {
        let (reply, answer) = oneshot::channel();
        let gone = || Error::Store(StoreError::Unavailable("the keepalive task has stopped".into()));
        self.queue.send(Keepalive { namespace: namespace.clone(), lease_id, reply }).map_err(|_| gone())?;
        answer.await.map_err(|_| gone())?
    }
}

async fn run_all(
    conns: Arc<Connections>,
    clock: Option<Arc<dyn Clock>>,
    mut pending: mpsc::UnboundedReceiver<Keepalive>,
) {
    while let Some(first) = pending.recv().await {
        let mut batch = vec![first];
        while batch.len() < MAX_KEEPALIVES_PER_STATEMENT
            && let Ok(more) = pending.try_recv()
        {
            batch.push(more);
        }
        let now = clock.as_ref().map(|clock| clock.now());
        match keep_alive_all(&conns, &batch, now).await {
            Ok(kept) => {
                for keepalive in batch {
                    let key = (keepalive.namespace.as_str().to_owned(), keepalive.lease_id.to_string());
                    let lease = match kept.get(&key) {
                        Some(row) => lease_from_row(keepalive.lease_id, row),
                        None => Err(Error::LeaseNotFound { lease_id: key.1 }),
                    };
                    // A caller that went away needs no answer.
                    let _ = keepalive.reply.send(lease);
                }
            }
            Err(error) => {
                for keepalive in batch {
                    let _ = keepalive.reply.send(Err(Error::Store(error.clone())));
                }
            }
        }
    }
}

/// Runs one statement for `batch`; answers with the rows of the leases it extended, by namespace and lease id
/// as bound.
async fn keep_alive_all(
    conns: &Connections,
    batch: &[Keepalive],
    now: Option<Timestamp>,
) -> Result<HashMap<(String, String), PgRow>, StoreError> {
    // Sorted and distinct: statements lock their leases in one order, and a lease named twice is updated once.
    let named: BTreeSet<(&str, String)> =
        batch.iter().map(|keepalive| (keepalive.namespace.as_str(), keepalive.lease_id.to_string())).collect();
    let (namespaces, lease_ids): (Vec<&str>, Vec<String>) = named.into_iter().unzip();
    let statement = query(include_str!("../queries/lease/keepalive_many.sql"))
        .bind(&namespaces)
        .bind(&lease_ids)
        .bind(now.map(Timestamp::as_millis));
    let mut kept = HashMap::new();
    for row in conns.fetch_all(statement).await? {
        let key = (row.try_get("namespace").map_err(store_error)?, row.try_get("lease_id").map_err(store_error)?);
        kept.insert(key, row);
    }
    Ok(kept)
}

#[cfg(test)]
mod tests {
    /// Each lease is looked up by its key, then updated by its ctid, even on a generic plan made while the table
    /// was empty: a join of the list on the key took a sequential scan of every lease there.
    #[tokio::test]
    async fn keepalives_reach_their_leases_by_key_on_a_plan_made_for_an_empty_table() {
        let Some(mut plans) = crate::plan_check::GenericPlans::new("keepalive_plans").await else { return };
        let sql = include_str!("../queries/lease/keepalive_many.sql");
        let args = "ARRAY['default'], ARRAY['0190c1d2-0000-7000-8000-000000000000'], NULL";
        let plan = plans.explain("keepalive_many", "TEXT[], TEXT[], BIGINT", sql, args).await;
        let scans = crate::plan_check::scans_of(&plan, "leases");
        assert!(
            scans.iter().any(|line| line.contains("using leases_pkey"))
                && scans.iter().all(|line| !line.contains("Seq Scan")),
            "keepalives must look each lease up by its key:\n{plan}"
        );
        plans.drop_schema().await;
    }
}
