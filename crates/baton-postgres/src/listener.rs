//! Turns `NOTIFY baton_changes` from any node into local [`Change`]s.
//!
//! Delivery is best effort: while the listening connection is re-established, notifications can be lost,
//! and waiters fall back on their bounded safety poll.

use std::time::Duration;

use baton_core::lock::LockId;
use baton_core::store::Change;
use sqlx::PgPool;
use sqlx::postgres::PgListener;
use tokio::sync::broadcast;

pub(crate) const CHANNEL: &str = "baton_changes";

/// Encodes granted waiter ids as a notification payload (PostgreSQL caps payloads below 8000 bytes).
pub(crate) fn payloads(woken: &[LockId]) -> Vec<String> {
    woken.chunks(150).map(|chunk| chunk.iter().map(ToString::to_string).collect::<Vec<_>>().join(",")).collect()
}

fn parse(payload: &str) -> Vec<LockId> {
    payload.split(',').filter_map(LockId::parse).collect()
}

/// Listens until every receiver of `changes` is gone.
pub(crate) async fn run(pool: PgPool, changes: broadcast::Sender<Change>) {
    loop {
        let mut listener = match PgListener::connect_with(&pool).await {
            Ok(listener) => listener,
            Err(error) => {
                tracing::warn!(%error, "cannot open the LISTEN connection; retrying");
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        if let Err(error) = listener.listen(CHANNEL).await {
            tracing::warn!(%error, "LISTEN failed; retrying");
            tokio::time::sleep(Duration::from_secs(1)).await;
            continue;
        }
        loop {
            match listener.recv().await {
                Ok(notification) => {
                    let woken = parse(notification.payload());
                    if !woken.is_empty() && changes.send(Change::WaitersGranted(woken)).is_err() && pool.is_closed() {
                        return;
                    }
                }
                Err(error) => {
                    if pool.is_closed() {
                        return;
                    }
                    tracing::warn!(%error, "LISTEN connection lost; reconnecting");
                    break;
                }
            }
        }
    }
}
