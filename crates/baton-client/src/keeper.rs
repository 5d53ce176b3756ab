//! Keeping a grant alive from the client: renew every third of its TTL, and report it lost when a renewal is
//! refused or none succeeds before the grant would have lapsed. Locks, claims and leadership share it.

use std::future::Future;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::ClientError;

/// How long before its answer a request that waited is taken to have been granted: the wake-up that granted it
/// answered within milliseconds.
const GRANT_TO_ANSWER: Duration = Duration::from_millis(250);

/// The earliest a grant asked for at `requested_at` can have started its TTL on the server: the request itself
/// when it did not wait; when it waited, shortly before its answer (now), since the TTL starts at the grant, not
/// at the request. Counted from the request, a long wait left the grant looking lapsed on arrival.
pub(crate) fn granted_at(requested_at: tokio::time::Instant, waited: bool) -> tokio::time::Instant {
    if waited { (tokio::time::Instant::now() - GRANT_TO_ANSWER).max(requested_at) } else { requested_at }
}

/// Whether an error answer to a renewal says the grant is gone. A refusal (4xx) does; a server error or a rate
/// limit (5xx, 429) says nothing about the grant, so the renewal is tried again while the grant is still valid.
fn refused(status: u16) -> bool {
    (400..500).contains(&status) && status != 429
}

/// A grant being kept alive: `lost` fires when it is lost; cancelling `stop` ends the renewals.
pub(crate) struct Kept {
    pub(crate) lost: CancellationToken,
    pub(crate) stop: CancellationToken,
}

/// Starts renewing a grant of `ttl` whose TTL started no earlier than `granted_at` (see [`granted_at`]; its
/// validity is counted from then). `what` names it in logs.
pub(crate) fn keep_alive<F, Fut>(ttl: Duration, granted_at: tokio::time::Instant, what: String, renew: F) -> Kept
where
    F: Fn() -> Fut + Send + 'static,
    Fut: Future<Output = Result<(), ClientError>> + Send,
{
    let kept = Kept { lost: CancellationToken::new(), stop: CancellationToken::new() };
    let (lost, stop) = (kept.lost.clone(), kept.stop.clone());
    tokio::spawn(async move {
        let interval = (ttl / 3).max(Duration::from_millis(200));
        let mut valid_until = granted_at + ttl;
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
                Ok(Err(ClientError::Api { status, code, message, .. })) if refused(status) => {
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

#[cfg(test)]
mod tests {
    use super::refused;

    #[test]
    fn only_a_refusal_ends_a_grant_and_server_trouble_is_retried() {
        for status in [400, 404, 409, 422] {
            assert!(refused(status), "{status}: the server says the grant is gone or the renewal is wrong");
        }
        for status in [429, 500, 502, 503] {
            assert!(!refused(status), "{status}: says nothing about the grant");
        }
    }
}
