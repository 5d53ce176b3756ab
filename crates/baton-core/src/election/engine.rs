//! The election rules on top of the lock rules: a campaign is an acquire, resigning a release, proclaiming a
//! change of the holder's metadata; each announces the election's change to observers on every node.

use crate::election::model::{ProclaimParams, election_key, election_of};
use crate::error::Error;
use crate::lock::engine::{self as lock_engine, LockTx};
use crate::lock::{AcquireOutcome, AcquireParams, Holder, ReleaseParams};
use crate::namespace::Namespace;
use crate::store::{Applied, Change};

fn changed(namespace: &Namespace, key: &str) -> Change {
    Change::LeaderChanged { namespace: namespace.clone(), name: election_of(key).unwrap_or(key).to_owned() }
}

pub async fn campaign<T: LockTx>(tx: &mut T, params: &AcquireParams) -> Result<Applied<AcquireOutcome>, Error> {
    let mut applied = lock_engine::acquire(tx, params).await?;
    if matches!(applied.value, AcquireOutcome::Granted(_)) {
        applied.changes.push(changed(&params.namespace, &params.key));
    }
    Ok(applied)
}

/// Replaces the leader's value; only the current leader may.
pub async fn proclaim<T: LockTx>(tx: &mut T, params: &ProclaimParams) -> Result<Applied<Holder>, Error> {
    let key = election_key(&params.name);
    tx.lock_key(&params.namespace, &key).await?;
    let now = tx.now().await?;
    let not_leader = || Error::NotLeader { name: params.name.clone(), leadership_id: params.leadership_id.to_string() };
    let holders = tx.key_snapshot(&params.namespace, &key).await?.live_holders(now);
    let mut holder =
        holders.into_iter().find(|holder| holder.lock_id == params.leadership_id).ok_or_else(not_leader)?;
    if holder.owner != params.candidate
        || !tx.set_holder_metadata(&params.namespace, &key, params.leadership_id, params.value.as_ref()).await?
    {
        return Err(not_leader());
    }
    holder.metadata = params.value.clone();
    Ok(Applied::with(holder, vec![changed(&params.namespace, &key)]))
}

/// Steps down; the next candidate in line is granted in the same transaction.
pub async fn resign<T: LockTx>(tx: &mut T, params: &ReleaseParams) -> Result<Applied<()>, Error> {
    let mut applied = lock_engine::release(tx, params).await?;
    applied.changes.push(changed(&params.namespace, &params.key));
    Ok(applied)
}
