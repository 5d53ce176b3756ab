//! `LockGuard`: a held lock that renews itself in the background and says when it is lost.

use std::time::Duration;

use baton_api::lock::{AcquireLockRequest, LockGrant};
use serde_json::Value;
use tokio_util::sync::{CancellationToken, WaitForCancellationFuture};

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
        // Validity is counted from before the request: the server's TTL started no earlier than this.
        let requested_at = tokio::time::Instant::now();
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
        let lost = CancellationToken::new();
        let stop_renewing = CancellationToken::new();
        tokio::spawn(renew_until_stopped(
            self.clone(),
            grant.clone(),
            Duration::from_secs(ttl_seconds as u64),
            requested_at,
            lost.clone(),
            stop_renewing.clone(),
        ));
        Ok(LockGuard { client: self.clone(), grant, lost, stop_renewing, released: false })
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

async fn renew_until_stopped(
    client: BatonClient,
    grant: LockGrant,
    ttl: Duration,
    requested_at: tokio::time::Instant,
    lost: CancellationToken,
    stop: CancellationToken,
) {
    let interval = (ttl / 3).max(Duration::from_millis(200));
    let mut valid_until = requested_at + ttl;
    loop {
        tokio::select! {
            () = stop.cancelled() => return,
            () = tokio::time::sleep(interval) => {}
            () = tokio::time::sleep_until(valid_until) => {}
        }
        let sent_at = tokio::time::Instant::now();
        // The renewal may not outlive the lock's validity: the loss must be reported no later than that.
        let renewed =
            tokio::time::timeout_at(valid_until, client.renew_lock(&grant.key, &grant.lock_id, &grant.owner, None));
        match renewed.await {
            Ok(Ok(_)) => valid_until = sent_at + ttl,
            Ok(Err(ClientError::Api { code, message, .. })) => {
                tracing::warn!(key = %grant.key, %code, %message, "lock lost: renewal refused");
                lost.cancel();
                return;
            }
            Ok(Err(error)) if tokio::time::Instant::now() < valid_until => {
                tracing::debug!(key = %grant.key, %error, "renewal failed; retrying");
            }
            Ok(Err(_)) | Err(_) => {
                tracing::warn!(key = %grant.key, "lock lost: no renewal succeeded before the TTL lapsed");
                lost.cancel();
                return;
            }
        }
    }
}
