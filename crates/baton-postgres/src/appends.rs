//! Group commit for appends: appends that arrive while a batch is being written wait, then go together in the
//! next transaction (one log lock, one commit), as the SQLite writer does for every write. Appends to a
//! namespace's log serialise on its lock anyway; sharing the transaction is what makes many of them fast.
//!
//! There is no background task: the first caller to get the turn writes everyone's waiting appends (and loops
//! until its own are written), so the queue lives and dies with the store.

use std::sync::{Mutex, MutexGuard};

use baton_core::event::engine;
use baton_core::event::{AppendOutcome, AppendParams};
use baton_core::{Error, StoreError};
use tokio::sync::oneshot;

use crate::event_tx::log_lock_key;
use crate::store::PgStore;

/// The most events one transaction carries; more wait for the next one.
const MAX_EVENTS_PER_BATCH: usize = 5_000;

type Outcomes = Result<Vec<Result<AppendOutcome, Error>>, Error>;

struct Pending {
    batch: Vec<AppendParams>,
    reply: oneshot::Sender<Outcomes>,
}

#[derive(Default)]
pub(crate) struct AppendQueue {
    waiting: Mutex<Vec<Pending>>,
    /// Held by the caller whose batch is being written.
    turn: tokio::sync::Mutex<()>,
}

impl AppendQueue {
    fn waiting(&self) -> MutexGuard<'_, Vec<Pending>> {
        // Only pushes and drains: a panic while holding the list cannot leave it inconsistent.
        self.waiting.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub(crate) async fn append(&self, store: &PgStore, batch: Vec<AppendParams>) -> Outcomes {
        let (reply, mut answer) = oneshot::channel();
        self.waiting().push(Pending { batch, reply });
        loop {
            // Answered by the batch that took ours, or our turn to write what waits. A caller whose append was
            // written never waits for the turn, so the next turn goes straight to one with appends waiting.
            let turn = tokio::select! {
                biased;
                outcomes = &mut answer => return outcomes.unwrap_or_else(|_| Err(gone())),
                turn = self.turn.lock() => turn,
            };
            let pending = self.take_batch();
            if pending.is_empty() {
                // Ours is in a batch still being written, whose caller went away mid-batch.
                drop(turn);
                return answer.await.unwrap_or_else(|_| Err(gone()));
            }
            // In a task of its own: a caller that goes away mid-batch must not abandon the others' appends.
            let store = store.clone();
            if tokio::spawn(async move { write_batch(&store, pending).await }).await.is_err() {
                tracing::error!("an append batch panicked");
            }
        }
    }

    /// The oldest waiting appends, up to [`MAX_EVENTS_PER_BATCH`] events (at least one append).
    fn take_batch(&self) -> Vec<Pending> {
        let mut waiting = self.waiting();
        let mut events = 0;
        let take = waiting
            .iter()
            .take_while(|pending| {
                let first = events == 0;
                events += pending.batch.iter().map(|append| append.events.len()).sum::<usize>();
                first || events <= MAX_EVENTS_PER_BATCH
            })
            .count();
        waiting.drain(..take).collect()
    }
}

async fn write_batch(store: &PgStore, mut pending: Vec<Pending>) {
    let sizes: Vec<usize> = pending.iter().map(|item| item.batch.len()).collect();
    let batch: Vec<AppendParams> = pending.iter_mut().flat_map(|item| std::mem::take(&mut item.batch)).collect();
    metrics::histogram!("baton_event_append_batch").record(batch.len() as f64);
    let append = async |tx: &mut crate::tx::PgTx<'_>| engine::append(tx, &batch).await;
    // The usual batch is one namespace's: its transaction begins holding that log's lock, in one round trip.
    let one_namespace = batch.windows(2).all(|pair| pair[0].namespace == pair[1].namespace);
    let written = match batch.first() {
        Some(first) if one_namespace => store.write_holding(log_lock_key(&first.namespace), append).await,
        _ => store.write(append).await,
    };
    match written {
        Ok(outcomes) => {
            let mut outcomes = outcomes.into_iter();
            for (item, size) in pending.into_iter().zip(sizes) {
                let _ = item.reply.send(Ok(outcomes.by_ref().take(size).collect()));
            }
        }
        Err(error) => {
            for item in pending {
                let _ = item.reply.send(Err(shared(&error)));
            }
        }
    }
}

/// The batch's failure, once for each of its callers.
fn shared(error: &Error) -> Error {
    match error {
        Error::Store(StoreError::Unavailable(message)) => Error::Store(StoreError::Unavailable(message.clone())),
        other => Error::Store(StoreError::Internal(other.to_string())),
    }
}

fn gone() -> Error {
    Error::Store(StoreError::Unavailable("the append batch was abandoned".into()))
}
