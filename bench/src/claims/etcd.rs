//! The claims scenarios against etcd: a claim and a done, each one transaction, as a claim would be built on
//! etcd's v3 API (crate etcd-client, over gRPC).
//!
//! - claim: `Txn when [create_revision(key) == 0, create_revision(done/key) == 0] then [put(key, owner,
//!   lease)]`. The second compare is what makes a done item never claimable again, as Baton's `CLAIM_DONE`
//!   does; it costs nothing extra (the same transaction).
//! - done: `Txn when [value(key) == owner] then [put(done/key, owner), delete(key)]`.
//!
//! A transaction that does not succeed ends the measurement (the items are uncontended, so it means a bug).
//! Each worker has its own gRPC channel and one lease of [`CLAIM_TTL_SECS`], granted before the clock starts
//! and kept alive in the background every TTL/3 (as `concurrency.Session` keeps its lease), so a claim costs
//! no lease grant; the lease is revoked at the end, which deletes what is still claimed. Keys live under
//! `claims/<run id>/`. Durability: etcd commits every transaction through its raft log with an fsync.

use std::time::Duration;

use anyhow::{Context, Result, bail};
use etcd_client::{Client, Compare, CompareOp, PutOptions, Txn, TxnOp};
use tokio::task::JoinHandle;

use super::{CLAIM_TTL_SECS, ClaimScenario, ClaimsSpec};
use crate::closed_loop::Worker;

/// Connects one client per worker and grants each its lease, before the clock starts.
pub async fn connect(spec: &ClaimsSpec, endpoint: &str, clients: usize) -> Result<Vec<EtcdClaimer>> {
    let mut workers = Vec::with_capacity(clients);
    for idx in 0..clients {
        let mut client =
            Client::connect([endpoint], None).await.with_context(|| format!("connect to etcd at {endpoint}"))?;
        let lease = client.lease_grant(CLAIM_TTL_SECS, None).await.context("grant the worker's lease")?.id();
        let (mut keeper, mut stream) = client.lease_keep_alive(lease).await.context("open the keepalive stream")?;
        let keepalive = tokio::spawn(async move {
            let every = Duration::from_secs((CLAIM_TTL_SECS as u64 / 3).max(1));
            loop {
                tokio::time::sleep(every).await;
                if keeper.keep_alive().await.is_err() || !matches!(stream.message().await, Ok(Some(_))) {
                    return;
                }
            }
        });
        workers.push(EtcdClaimer {
            client,
            lease,
            keepalive,
            scenario: spec.scenario,
            prefix: format!("claims/{}/", spec.run_id),
            owner: spec.owner(idx),
            idx,
        });
    }
    Ok(workers)
}

pub struct EtcdClaimer {
    client: Client,
    lease: i64,
    keepalive: JoinHandle<()>,
    scenario: ClaimScenario,
    /// `claims/<run id>/`.
    prefix: String,
    owner: String,
    idx: usize,
}

/// The claim transaction of `key`.
fn claim_txn(key: &str, owner: &str, lease: i64) -> Txn {
    let done = format!("done/{key}");
    Txn::new()
        .when([Compare::create_revision(key, CompareOp::Equal, 0), Compare::create_revision(done, CompareOp::Equal, 0)])
        .and_then([TxnOp::put(key, owner, Some(PutOptions::new().with_lease(lease)))])
}

/// The done transaction of `key`, which `owner` holds.
fn done_txn(key: &str, owner: &str) -> Txn {
    Txn::new()
        .when([Compare::value(key, CompareOp::Equal, owner)])
        .and_then([TxnOp::put(format!("done/{key}"), owner, None), TxnOp::delete(key, None)])
}

impl Worker for EtcdClaimer {
    async fn op(&mut self, n: u64) -> Result<()> {
        let key = format!("{}{}", self.prefix, ClaimsSpec::item(self.idx, n));
        let claimed = self.client.txn(claim_txn(&key, &self.owner, self.lease)).await.context("etcd claim Txn")?;
        if !claimed.succeeded() {
            bail!("etcd claim of {key} did not succeed: the item was already claimed or done");
        }
        if self.scenario == ClaimScenario::ClaimDone {
            let done = self.client.txn(done_txn(&key, &self.owner)).await.context("etcd done Txn")?;
            if !done.succeeded() {
                bail!("etcd done of {key} did not succeed: the claim was not {}'s", self.owner);
            }
        }
        Ok(())
    }

    async fn close(mut self) -> Result<()> {
        self.keepalive.abort();
        self.client.lease_revoke(self.lease).await.context("revoke the worker's lease")?;
        Ok(())
    }
}
