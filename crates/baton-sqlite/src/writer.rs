//! Group commit: the single writer task takes every write queued since its last commit, runs each in its own
//! savepoint inside one transaction, commits once, and only then answers the callers and publishes their
//! wake-ups.
//!
//! **Invariant:** no caller is answered before the commit that holds its write is durable, and one failing
//! operation (rolled back to its savepoint) never fails its batch-mates.

use std::sync::Arc;

use baton_core::clock::{Clock, Timestamp};
use baton_core::lock::LockId;
use baton_core::lock::engine::Applied;
use baton_core::store::Change;
use baton_core::{Error, StoreError};
use futures::future::BoxFuture;
use sqlx::SqliteConnection;
use tokio::sync::{broadcast, mpsc, oneshot};

use crate::rows::store_error;

/// The most operations one transaction carries; more wait for the next commit.
const MAX_BATCH: usize = 512;

/// What a job reports after it ran inside its savepoint.
struct JobOutcome {
    succeeded: bool,
    woken: Vec<LockId>,
    /// Answers the caller once the batch's commit result is known.
    answer: Box<dyn FnOnce(Result<(), StoreError>) + Send>,
}

type Job = Box<dyn for<'c> FnOnce(&'c mut SqliteConnection, Timestamp) -> BoxFuture<'c, JobOutcome> + Send>;

#[derive(Clone)]
pub(crate) struct Writer {
    jobs: mpsc::Sender<Job>,
}

impl Writer {
    /// Starts the writer task on `conn`. It stops when every `Writer` handle is dropped.
    pub(crate) fn start(conn: SqliteConnection, clock: Arc<dyn Clock>, changes: broadcast::Sender<Change>) -> Self {
        let (jobs, queue) = mpsc::channel(4 * MAX_BATCH);
        tokio::spawn(run(conn, queue, clock, changes));
        Self { jobs }
    }

    /// Runs `operation` in the next group commit and answers with its value once that commit is durable.
    pub(crate) async fn write<T, F>(&self, operation: F) -> Result<T, Error>
    where
        T: Send + 'static,
        F: for<'c> FnOnce(&'c mut SqliteConnection, Timestamp) -> BoxFuture<'c, Result<Applied<T>, Error>>
            + Send
            + 'static,
    {
        let (reply, answer) = oneshot::channel::<Result<T, Error>>();
        let job: Job = Box::new(move |conn, now| {
            Box::pin(async move {
                match operation(conn, now).await {
                    Ok(Applied { value, woken }) => JobOutcome {
                        succeeded: true,
                        woken,
                        answer: Box::new(move |committed| {
                            let _ = reply.send(committed.map(|()| value).map_err(Error::Store));
                        }),
                    },
                    Err(error) => JobOutcome {
                        succeeded: false,
                        woken: Vec::new(),
                        answer: Box::new(move |_| {
                            let _ = reply.send(Err(error));
                        }),
                    },
                }
            })
        });
        let stopped = || Error::Store(StoreError::Unavailable("the SQLite writer has stopped".into()));
        self.jobs.send(job).await.map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }
}

async fn run(
    mut conn: SqliteConnection,
    mut queue: mpsc::Receiver<Job>,
    clock: Arc<dyn Clock>,
    changes: broadcast::Sender<Change>,
) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while queue.recv_many(&mut batch, MAX_BATCH).await > 0 {
        let now = clock.now();
        let (outcomes, committed) = commit_batch(&mut conn, batch.drain(..), now).await;
        let committed_ok = committed.is_ok();
        let mut woken = Vec::new();
        for outcome in outcomes {
            if committed_ok && outcome.succeeded {
                woken.extend(outcome.woken);
            }
            let result = match &committed {
                Ok(()) => Ok(()),
                Err(message) => Err(StoreError::Internal(message.clone())),
            };
            (outcome.answer)(result);
        }
        if !woken.is_empty() {
            // No receiver means no waiter on this node: nothing to wake.
            let _ = changes.send(Change::WaitersGranted(woken));
        }
    }
}

/// Runs a batch in one transaction. On a failed commit every job is answered with the failure.
async fn commit_batch(
    conn: &mut SqliteConnection,
    jobs: impl Iterator<Item = Job>,
    now: Timestamp,
) -> (Vec<JobOutcome>, Result<(), String>) {
    // Jobs that never run are dropped, which answers their callers with `Unavailable`.
    let mut outcomes = Vec::new();
    if let Err(error) = sqlx::query("BEGIN IMMEDIATE").execute(&mut *conn).await {
        return (outcomes, Err(store_error(error).to_string()));
    }
    for job in jobs {
        let step = async {
            sqlx::query("SAVEPOINT op").execute(&mut *conn).await?;
            let outcome = job(&mut *conn, now).await;
            let end = if outcome.succeeded { "RELEASE op" } else { "ROLLBACK TO op" };
            sqlx::query(end).execute(&mut *conn).await?;
            if !outcome.succeeded {
                sqlx::query("RELEASE op").execute(&mut *conn).await?;
            }
            Ok::<_, sqlx::Error>(outcome)
        };
        match step.await {
            Ok(outcome) => outcomes.push(outcome),
            Err(error) => {
                let _ = sqlx::query("ROLLBACK").execute(&mut *conn).await;
                return (outcomes, Err(store_error(error).to_string()));
            }
        }
    }
    match sqlx::query("COMMIT").execute(&mut *conn).await {
        Ok(_) => (outcomes, Ok(())),
        Err(error) => {
            let _ = sqlx::query("ROLLBACK").execute(&mut *conn).await;
            (outcomes, Err(store_error(error).to_string()))
        }
    }
}
