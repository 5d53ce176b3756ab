//! Keeping a grant alive from the client: renew every third of its TTL, and report it lost when a renewal is
//! refused or none succeeds before the grant would have lapsed. Locks, claims and leadership share it.

use std::future::Future;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::ClientError;

/// A grant being kept alive: `lost` fires when it is lost; cancelling `stop` ends the renewals.
pub(crate) struct Kept {
    pub(crate) lost: CancellationToken,
    pub(crate) stop: CancellationToken,
}

/// Starts renewing a grant of `ttl` that was requested at `requested_at` (its validity is counted from then:
/// the server's TTL started no earlier). `what` names it in logs.
pub(crate) fn keep_alive<F, Fut>(ttl: Duration, requested_at: tokio::time::Instant, what: String, renew: F) -> Kept
where
    F: Fn() -> Fut + Send + 'static,
    Fut: Future<Output = Result<(), ClientError>> + Send,
{
    let kept = Kept { lost: CancellationToken::new(), stop: CancellationToken::new() };
    let (lost, stop) = (kept.lost.clone(), kept.stop.clone());
    tokio::spawn(async move {
        let interval = (ttl / 3).max(Duration::from_millis(200));
        let mut valid_until = requested_at + ttl;
        loop {
            tokio::select! {
                () = stop.cancelled() => return,
                () = tokio::time::sleep(interval) => {}
                () = tokio::time::sleep_until(valid_until) => {}
            }
            let sent_at = tokio::time::Instant::now();
            // The renewal may not outlive the grant's validity: the loss must be reported no later than that.
            match tokio::time::timeout_at(valid_until, renew()).await {
                Ok(Ok(())) => valid_until = sent_at + ttl,
                Ok(Err(ClientError::Api { code, message, .. })) => {
                    tracing::warn!(%what, %code, %message, "lost: renewal refused");
                    lost.cancel();
                    return;
                }
                Ok(Err(error)) if tokio::time::Instant::now() < valid_until => {
                    tracing::debug!(%what, %error, "renewal failed; retrying");
                }
                Ok(Err(_)) | Err(_) => {
                    tracing::warn!(%what, "lost: no renewal succeeded before the TTL lapsed");
                    lost.cancel();
                    return;
                }
            }
        }
    });
    kept
}
