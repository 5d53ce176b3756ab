//! `LockGuard`: a held lock that renews itself in the background and says when it is lost.

use std::time::Duration;

use baton_api::lock::{AcquireLockRequest, LockGrant};
use serde_json::Value;
use tokio_util::sync::{CancellationToken, WaitForCancellationFuture};

use crate::keeper::{Kept, granted_at, keep_alive};
use crate::{BatonClient, ClientError};

#[derive(Clone, Debug)]
pub struct LockOptions {
    pub key: String,
    pub owner: String,
    pub ttl: Duration,
    /// Wait up to this long for a held lock; `None` fails at once with `LOCK_HELD`.
    pub wait: Option<Duration>,
    pub metadata: Option<Value>,
}

/// Holds a lock until dropped or released. Renews it every third of its TTL; if a renewal is refused, or the
/// server stays unreachable until the lock would have lapsed, [`LockGuard::lost`] fires.
pub struct LockGuard {
    client: BatonClient,
    grant: LockGrant,
    lost: CancellationToken,
    stop_renewing: CancellationToken,
    released: bool,
}

impl BatonClient {
    /// Acquires a lock and keeps it alive until the guard is released or dropped.
    pub async fn lock(&self, options: LockOptions) -> Result<LockGuard, ClientError> {
        let ttl_seconds = options.ttl.as_secs().max(1) as i64;
        let requested_at = tokio::time::Instant::now();
        let waited = options.wait.is_some();
        let grant = self
            .acquire_lock(AcquireLockRequest {
                key: options.key,
                owner: options.owner,
                ttl_seconds,
                wait_timeout_ms: options.wait.map(|w| w.as_millis() as i64),
                metadata: options.metadata,
                ..AcquireLockRequest::default()
            })
            .await?;
        let renew = {
            let (client, grant) = (self.clone(), grant.clone());
            move || {
                let (client, grant) = (client.clone(), grant.clone());
                async move { client.renew_lock(&grant.key, &grant.lock_id, &grant.owner, None).await.map(|_| ()) }
            }
        };
        let ttl = Duration::from_secs(ttl_seconds as u64);
        let Kept { lost, stop } =
            keep_alive(ttl, granted_at(requested_at, waited), format!("lock {}", grant.key), renew);
        Ok(LockGuard { client: self.clone(), grant, lost, stop_renewing: stop, released: false })
    }
}

impl LockGuard {
    pub fn grant(&self) -> &LockGrant {
        &self.grant
    }

    pub fn fencing_token(&self) -> i64 {
        self.grant.fencing_token
    }

    /// Completes when the lock is lost.
    pub fn lost(&self) -> WaitForCancellationFuture<'_> {
        self.lost.cancelled()
    }

    pub fn is_lost(&self) -> bool {
        self.lost.is_cancelled()
    }

    pub async fn release(mut self) -> Result<(), ClientError> {
        self.released = true;
        self.stop_renewing.cancel();
        self.client.release_lock(&self.grant.key, &self.grant.lock_id, &self.grant.owner).await.map(|_| ())
    }
}

impl Drop for LockGuard {
    fn drop(&mut self) {
        self.stop_renewing.cancel();
        if self.released {
            return;
        }
        let (client, grant) = (self.client.clone(), self.grant.clone());
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                let _ = client.release_lock(&grant.key, &grant.lock_id, &grant.owner).await;
            });
        }
    }
}
