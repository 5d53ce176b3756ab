//! Group commit: the single writer thread takes every write queued since its last commit, runs each in its
//! own savepoint inside one transaction, commits once, and only then answers the callers and publishes their
//! wake-ups.
//!
//! **Invariant:** no caller is answered before the commit that holds its write is durable, and one failing
//! operation (rolled back to its savepoint) never fails its batch-mates. The exceptions are asked for by name:
//! a relaxed write ([`Writer::write_relaxed`]), or a write whose value says its caller learns nothing a power cut
//! may take back ([`Writer::write_durable_if`]). A batch holding nothing else commits without waiting for the
//! disk; the next synced commit makes it durable too, as the WAL is synced in order. Commits run at
//! `synchronous=NORMAL` and the writer syncs the WAL itself ([`crate::wal`]).

use std::sync::Arc;
#[cfg(test)]
use std::sync::atomic::AtomicU64;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use baton_core::clock::{Clock, Timestamp};
use baton_core::store::{Applied, Change};
use baton_core::{Error, StoreError};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use rusqlite::{Connection, DropBehavior, TransactionBehavior};
use tokio::sync::{broadcast, oneshot};

use crate::live_leases::LiveLeases;
use crate::tx::SqliteTx;
use crate::wal::WalFile;

/// The most operations one transaction carries; more wait for the next commit.
const MAX_BATCH: usize = 1024;

/// How long a batch that is much smaller than the previous one waits for its stragglers. Callers answered
/// by one commit come back together; without this pause the first few of them would each pay a commit of
/// their own, and batches would alternate between tiny and large.
const GATHER_WINDOW: Duration = Duration::from_micros(250);

/// How long a caller that waits alone for the writer spins for its answer before it parks. A durable commit
/// here takes 0.2-0.4 ms, and a parked tokio worker takes 30-60 µs to wake on a VM: for a lone sequential caller
/// (an embedded workflow's checkpoints, one client's requests) that wake-up is most of what is left to cut.
/// Only while the writer's batches hold about one write each: with more callers about, a spinner takes the core
/// that the writer and the other callers need (lease keepalives at 16 clients: -20 % with spinning).
const LONE_CALLER_SPIN: Duration = Duration::from_micros(500);

/// What a job reports after it ran inside its savepoint.
struct JobOutcome {
    succeeded: bool,
    /// Whether its caller may be answered only once the commit is on disk.
    durable: bool,
    changes: Vec<Change>,
    /// Answers the caller once the batch's commit result is known.
    answer: Box<dyn FnOnce(Result<(), StoreError>) + Send>,
}

struct Job {
    /// Single-write jobs skip the savepoint: SQLite undoes a failed statement by itself, and their errors
    /// come before their one write.
    savepoint: bool,
    run: Box<dyn FnOnce(&mut SqliteTx<'_>) -> JobOutcome + Send>,
}

#[derive(Clone)]
pub(crate) struct Writer {
    jobs: mpsc::Sender<Job>,
    /// Callers waiting for their answer, and whether the writer serves a crowd: they decide who spins.
    load: Arc<Load>,
    /// How many times the writer synced the WAL, for the tests.
    #[cfg(test)]
    syncs: Arc<AtomicU64>,
}

impl Writer {
    /// Starts the writer thread on `conn`, which commits at `synchronous=NORMAL`. With `wal`, the writer syncs it
    /// before answering a durable write; without, nothing waits for the disk (Baton's `sqlite_synchronous =
    /// "normal"`). Every transaction first writes the expiries `live_leases` holds for it. It stops when every
    /// `Writer` handle is dropped.
    pub(crate) fn start(
        conn: Connection,
        wal: Option<WalFile>,
        clock: Arc<dyn Clock>,
        changes: broadcast::Sender<Change>,
        live_leases: Arc<LiveLeases>,
    ) -> Result<Self, StoreError> {
        // Unbounded, so async callers never block; the queue is bounded by the requests in flight.
        let (jobs, queue) = mpsc::channel();
        let load = Arc::new(Load::default());
        #[cfg(test)]
        let syncs = Arc::new(AtomicU64::new(0));
        let disk = Disk {
            wal,
            #[cfg(test)]
            syncs: syncs.clone(),
        };
        std::thread::Builder::new()
            .name("baton-sqlite-writer".into())
            .spawn({
                let load = load.clone();
                move || run(conn, disk, queue, clock, changes, &load, &live_leases)
            })
            .map_err(|e| StoreError::Internal(format!("cannot start the SQLite writer: {e}")))?;
        Ok(Self {
            jobs,
            load,
            #[cfg(test)]
            syncs,
        })
    }

    #[cfg(test)]
    pub(crate) fn syncs(&self) -> u64 {
        self.syncs.load(Ordering::Relaxed)
    }

    /// Runs `operation` in its own savepoint in the next group commit, and answers with its value once that
    /// commit is durable.
    pub(crate) async fn write<T, F>(&self, operation: F) -> Result<T, Error>
    where
        T: Send + 'static,
        F: FnOnce(&mut SqliteTx<'_>) -> Result<Applied<T>, Error> + Send + 'static,
    {
        self.submit(true, |_| true, operation).await
    }

    /// Like [`Writer::write`], but the caller is answered without waiting for the disk when `needs_disk` says
    /// its result reveals nothing a power cut may take back: a lock waiter queued, say, whose caller is answered
    /// only by a later grant, and that grant's synced commit carries the queueing to disk too.
    pub(crate) async fn write_durable_if<T, F>(
        &self,
        needs_disk: fn(&Applied<T>) -> bool,
        operation: F,
    ) -> Result<T, Error>
    where
        T: Send + 'static,
        F: FnOnce(&mut SqliteTx<'_>) -> Result<Applied<T>, Error> + Send + 'static,
    {
        self.submit(true, needs_disk, operation).await
    }

    /// Like [`Writer::write`], for a write that may be lost to a power cut without harm, such as a lease only
    /// this process acts on (a power cut stops it too). A batch of nothing but such writes commits without
    /// waiting for the disk (`synchronous=NORMAL`); a process crash still loses none of it.
    pub(crate) async fn write_relaxed<T, F>(&self, operation: F) -> Result<T, Error>
    where
        T: Send + 'static,
        F: FnOnce(&mut SqliteTx<'_>) -> Result<Applied<T>, Error> + Send + 'static,
    {
        self.submit(true, |_| false, operation).await
    }

    /// Like [`Writer::write`], for an operation whose only write is its last statement, so that a failure can
    /// leave nothing behind: it runs without a savepoint.
    pub(crate) async fn write_single<T, F>(&self, operation: F) -> Result<T, Error>
    where
        T: Send + 'static,
        F: FnOnce(&mut SqliteTx<'_>) -> Result<Applied<T>, Error> + Send + 'static,
    {
        self.submit(false, |_| true, operation).await
    }

    /// A relaxed write ([`Writer::write_relaxed`]) that is also a single write ([`Writer::write_single`]).
    pub(crate) async fn write_single_relaxed<T, F>(&self, operation: F) -> Result<T, Error>
    where
        T: Send + 'static,
        F: FnOnce(&mut SqliteTx<'_>) -> Result<Applied<T>, Error> + Send + 'static,
    {
        self.submit(false, |_| false, operation).await
    }

    async fn submit<T, F>(&self, savepoint: bool, needs_disk: fn(&Applied<T>) -> bool, operation: F) -> Result<T, Error>
    where
        T: Send + 'static,
        F: FnOnce(&mut SqliteTx<'_>) -> Result<Applied<T>, Error> + Send + 'static,
    {
        let (reply, answer) = oneshot::channel::<Result<T, Error>>();
        let run = Box::new(move |tx: &mut SqliteTx<'_>| match operation(tx) {
            Ok(applied) => JobOutcome {
                succeeded: true,
                durable: needs_disk(&applied),
                changes: applied.changes,
                answer: Box::new(move |committed| {
                    let _ = reply.send(committed.map(|()| applied.value).map_err(Error::Store));
                }),
            },
            Err(error) => JobOutcome {
                succeeded: false,
                durable: false,
                changes: Vec::new(),
                answer: Box::new(move |_| {
                    let _ = reply.send(Err(error));
                }),
            },
        });
        let job = Job { savepoint, run };
        let stopped = || Error::Store(StoreError::Unavailable("the SQLite writer has stopped".into()));
        let waiting = WaitingCaller::enter(&self.load);
        self.jobs.send(job).map_err(|_| stopped())?;
        let answered = if waiting.may_spin { spin_for(answer).await } else { answer.await };
        answered.map_err(|_| stopped())?
    }
}

/// What tells a lone sequential caller, for whom spinning pays, from a crowd, for whom it costs.
#[derive(Default)]
struct Load {
    /// Callers waiting for their answer.
    waiting: AtomicUsize,
    /// Whether the writer's recent batches averaged 2 writes or more (see [`BatchSizes`]).
    crowded: AtomicBool,
}

/// A moving average of the writer's batch sizes. A lone caller's writes come one per batch, with now and then a
/// second (a background write, a reaper's pass); a crowd's come several per batch, with now and then one alone.
/// The average tells them apart where the last batch alone would not.
struct BatchSizes {
    average: f64,
}

impl BatchSizes {
    /// Averages over about the last 8 batches.
    const WEIGHT: f64 = 1.0 / 8.0;
    /// At or above this average the writer is serving a crowd.
    const CROWD: f64 = 2.0;

    fn new() -> Self {
        Self { average: 1.0 }
    }

    /// Counts a batch of `size` writes; answers whether the writer now serves a crowd.
    fn record(&mut self, size: usize) -> bool {
        self.average += (size as f64 - self.average) * Self::WEIGHT;
        self.average >= Self::CROWD
    }
}

/// A caller counted in [`Load::waiting`] until it is dropped.
struct WaitingCaller<'a> {
    load: &'a Load,
    /// Whether it found no other caller waiting and a writer serving no crowd: at most one caller spins at a
    /// time, and none while the writer is busy with a crowd.
    may_spin: bool,
}

impl<'a> WaitingCaller<'a> {
    fn enter(load: &'a Load) -> Self {
        let alone = load.waiting.fetch_add(1, Ordering::AcqRel) == 0;
        Self { load, may_spin: alone && !load.crowded.load(Ordering::Relaxed) }
    }
}

impl Drop for WaitingCaller<'_> {
    fn drop(&mut self) {
        self.load.waiting.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Waits for `answer`, checking it between yields for [`LONE_CALLER_SPIN`] before parking on it. Yielding keeps
/// the worker thread awake without starving its other tasks.
async fn spin_for<T>(mut answer: oneshot::Receiver<T>) -> Result<T, oneshot::error::RecvError> {
    let spin_until = Instant::now() + LONE_CALLER_SPIN;
    while Instant::now() < spin_until {
        match answer.try_recv() {
            Ok(value) => return Ok(value),
            Err(oneshot::error::TryRecvError::Empty) => tokio::task::yield_now().await,
            Err(oneshot::error::TryRecvError::Closed) => break,
        }
    }
    answer.await
}

/// Where the writer makes commits durable.
struct Disk {
    wal: Option<WalFile>,
    /// The tests' view of `baton_sqlite_wal_syncs_total` (the process-wide recorder is not theirs to read).
    #[cfg(test)]
    syncs: Arc<AtomicU64>,
}

impl Disk {
    /// Syncs the WAL if one of `outcomes` must be on disk before its caller hears of it.
    fn sync_for(&mut self, outcomes: &[JobOutcome]) -> Result<(), String> {
        let Some(wal) = self.wal.as_mut() else { return Ok(()) };
        if !outcomes.iter().any(|outcome| outcome.succeeded && outcome.durable) {
            return Ok(());
        }
        wal.sync().map_err(|error| format!("syncing the SQLite WAL failed: {error}"))?;
        #[cfg(test)]
        self.syncs.fetch_add(1, Ordering::Relaxed);
        metrics::counter!("baton_sqlite_wal_syncs_total").increment(1);
        Ok(())
    }
}

fn run(
    mut conn: Connection,
    mut disk: Disk,
    queue: mpsc::Receiver<Job>,
    clock: Arc<dyn Clock>,
    feed: broadcast::Sender<Change>,
    load: &Load,
    live_leases: &LiveLeases,
) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    let mut previous_batch = 1;
    let mut sizes = BatchSizes::new();
    let mut crowded = false;
    while let Some(first) = next_job(&queue, crowded) {
        batch.push(first);
        gather(&queue, &mut batch, previous_batch);
        previous_batch = batch.len();
        crowded = sizes.record(previous_batch);
        load.crowded.store(crowded, Ordering::Relaxed);
        metrics::histogram!("baton_sqlite_batch_operations").record(batch.len() as f64);
        let started = Instant::now();
        let (outcomes, committed) = commit_batch(&mut conn, clock.now(), live_leases, batch.drain(..));
        let committed = committed.and_then(|()| disk.sync_for(&outcomes));
        metrics::histogram!("baton_sqlite_batch_seconds").record(started.elapsed().as_secs_f64());
        let mut woken = Vec::new();
        let mut changes = Vec::new();
        for outcome in outcomes {
            if committed.is_ok() && outcome.succeeded {
                for change in outcome.changes {
                    // Lock grants of one batch go out as one change; the rest one by one.
                    match change {
                        Change::WaitersGranted(grants) => woken.extend(grants),
                        other => changes.push(other),
                    }
                }
            }
            let result = committed.as_ref().map(|_| ()).map_err(|message| StoreError::Internal(message.clone()));
            (outcome.answer)(result);
        }
        if !woken.is_empty() {
            changes.push(Change::WaitersGranted(woken));
        }
        for change in changes {
            // No receiver means no waiter on this node: nothing to wake.
            let _ = feed.send(change);
        }
    }
}

/// How long the writer spins for the next write before it blocks, unless it serves a crowd. A caller answered a
/// moment ago often writes again at once (an embedded workflow's next checkpoint, about 50 µs later); a blocked
/// thread's wake-up would add tens of microseconds to that write. A crowd's callers need the cores to send their
/// next writes, so then it does not spin.
const SPIN_FOR_NEXT: Duration = Duration::from_micros(100);

/// The next write: unless `crowded`, spun for briefly, then waited for. `None` once every `Writer` is gone.
fn next_job(queue: &mpsc::Receiver<Job>, crowded: bool) -> Option<Job> {
    let spin = if crowded { Duration::ZERO } else { SPIN_FOR_NEXT };
    let spin_until = Instant::now() + spin;
    loop {
        match queue.try_recv() {
            Ok(job) => return Some(job),
            Err(mpsc::TryRecvError::Disconnected) => return None,
            Err(mpsc::TryRecvError::Empty) if Instant::now() < spin_until => std::hint::spin_loop(),
            Err(mpsc::TryRecvError::Empty) => return queue.recv().ok(),
        }
    }
}

/// Takes what is queued; if that is under half the previous batch, waits up to [`GATHER_WINDOW`] for the rest.
fn gather(queue: &mpsc::Receiver<Job>, batch: &mut Vec<Job>, previous_batch: usize) {
    batch.extend(queue.try_iter().take(MAX_BATCH - batch.len()));
    if batch.len() * 2 >= previous_batch {
        return;
    }
    let deadline = Instant::now() + GATHER_WINDOW;
    while batch.len() < previous_batch {
        let Some(left) = deadline.checked_duration_since(Instant::now()) else { return };
        match queue.recv_timeout(left) {
            Ok(job) => {
                batch.push(job);
                batch.extend(queue.try_iter().take(MAX_BATCH - batch.len()));
            }
            Err(_) => return,
        }
    }
}

/// Runs a batch in one transaction, after the pending lease expiries, each job in its own savepoint unless it
/// opted out. On a failed commit every job is answered with the failure; jobs that never ran are dropped, which
/// answers their callers with `Unavailable`.
fn commit_batch(
    conn: &mut Connection,
    now: Timestamp,
    live_leases: &LiveLeases,
    jobs: impl ExactSizeIterator<Item = Job>,
) -> (Vec<JobOutcome>, Result<(), String>) {
    let transaction = match conn.transaction_with_behavior(TransactionBehavior::Immediate) {
        Ok(transaction) => transaction,
        Err(error) => return (Vec::new(), Err(error.to_string())),
    };
    let expiries = match live_leases.write_pending(&SqliteTx::new(&transaction, now)) {
        Ok(expiries) => expiries,
        Err(error) => return (Vec::new(), Err(error.to_string())),
    };
    let (outcomes, ending) = run_jobs(&transaction, now, expiries.is_empty(), jobs);
    let ended = match ending {
        Ending::Commit => transaction.commit().map(|()| true).map_err(|error| error.to_string()),
        Ending::RollBack => {
            let mut transaction = transaction;
            transaction.set_drop_behavior(DropBehavior::Rollback);
            transaction.finish().map(|()| false).map_err(|error| error.to_string())
        }
        // Dropping the transaction rolls it back, with any savepoint open in it.
        Ending::Failed(error) => Err(error),
    };
    live_leases.settle(expiries, ended == Ok(true));
    (outcomes, ended.map(drop))
}

/// How a batch's transaction ends once its jobs have run.
enum Ending {
    Commit,
    /// A job alone failed: undoing the transaction undoes exactly what its savepoint would have.
    RollBack,
    Failed(String),
}

/// Runs the batch's jobs in `transaction`; `nothing_before` when the transaction has written nothing yet.
fn run_jobs(
    transaction: &Connection,
    now: Timestamp,
    nothing_before: bool,
    mut jobs: impl ExactSizeIterator<Item = Job>,
) -> (Vec<JobOutcome>, Ending) {
    let mut outcomes = Vec::new();
    if jobs.len() == 1 && nothing_before {
        // A job alone needs no savepoint (two statements fewer per commit): if it fails, the whole transaction
        // is rolled back.
        let job = jobs.next().expect("one job");
        let outcome = (job.run)(&mut SqliteTx::new(transaction, now));
        let ending = if !outcome.succeeded && job.savepoint { Ending::RollBack } else { Ending::Commit };
        return (vec![outcome], ending);
    }
    for job in jobs {
        if !job.savepoint {
            outcomes.push((job.run)(&mut SqliteTx::new(transaction, now)));
            continue;
        }
        match run_in_savepoint(transaction, now, job) {
            Ok(outcome) => outcomes.push(outcome),
            Err(error) => return (outcomes, Ending::Failed(error.to_string())),
        }
    }
    (outcomes, Ending::Commit)
}

/// Runs one job in a savepoint of the batch's transaction, rolled back to if the job failed. The savepoint
/// statements are prepared once: rusqlite's `Savepoint` parses its SQL on every use, two parses per operation.
fn run_in_savepoint(transaction: &Connection, now: Timestamp, job: Job) -> Result<JobOutcome, StoreError> {
    let mut tx = SqliteTx::new(transaction, now);
    tx.execute(include_str!("../queries/writer/savepoint.sql"), [])?;
    let outcome = (job.run)(&mut tx);
    if !outcome.succeeded {
        tx.execute(include_str!("../queries/writer/rollback_to_savepoint.sql"), [])?;
    }
    tx.execute(include_str!("../queries/writer/release_savepoint.sql"), [])?;
    Ok(outcome)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use baton_core::clock::{ManualClock, SystemClock, Timestamp};
    use baton_core::lease::Lease;
    use baton_core::lock::LeaseId;
    use baton_core::namespace::Namespace;
    use baton_core::store::Applied;
    use rusqlite::Connection;
    use tokio::sync::broadcast;

    use std::sync::atomic::Ordering;

    use super::{BatchSizes, Load, WaitingCaller, Writer};
    use crate::live_leases::LiveLeases;
    use crate::tx::SqliteTx;
    use crate::wal::WalFile;

    fn insert_probe(tx: &mut SqliteTx<'_>) -> Result<Applied<()>, baton_core::Error> {
        tx.conn.execute(include_str!("../queries/testing/insert_probe.sql"), []).map_err(crate::rows::store_error)?;
        Ok(Applied::quiet(()))
    }

    fn insert_probe_then_fail(tx: &mut SqliteTx<'_>) -> Result<Applied<()>, baton_core::Error> {
        insert_probe(tx)?;
        Err(baton_core::Error::Invalid {
            code: baton_core::ErrorCode::InvalidArgument,
            message: "fails after its write".into(),
        })
    }

    /// A job that writes, then fails or succeeds, in a savepoint of its own.
    fn probe_job(fails: bool) -> super::Job {
        let run = Box::new(move |tx: &mut SqliteTx<'_>| {
            let wrote = insert_probe(tx).is_ok();
            super::JobOutcome {
                succeeded: wrote && !fails,
                durable: true,
                changes: Vec::new(),
                answer: Box::new(|_| {}),
            }
        });
        super::Job { savepoint: true, run }
    }

    #[test]
    fn a_failing_write_in_a_batch_is_undone_and_its_batch_mates_commit() {
        let dir = tempfile::tempdir().expect("a temp dir");
        let mut conn = Connection::open(dir.path().join("batch.db")).expect("open");
        conn.execute(include_str!("../queries/testing/create_probe.sql"), []).expect("table");
        // Twice, so the second batch runs on the savepoint statements the first one prepared.
        for batch in 1..=2_i64 {
            let jobs = vec![probe_job(false), probe_job(true), probe_job(false), probe_job(true)];
            let (outcomes, committed) = super::commit_batch(
                &mut conn,
                baton_core::clock::Timestamp(0),
                &LiveLeases::default(),
                jobs.into_iter(),
            );
            assert_eq!(committed, Ok(()));
            let succeeded: Vec<bool> = outcomes.iter().map(|outcome| outcome.succeeded).collect();
            assert_eq!(succeeded, [true, false, true, false]);
            let count: i64 = conn
                .query_row(include_str!("../queries/testing/count_probe.sql"), [], |row| row.get(0))
                .expect("count");
            assert_eq!(count, 2 * batch, "the failed jobs' rows are gone, their batch-mates' kept");
        }
    }

    #[tokio::test]
    async fn a_write_failing_alone_keeps_the_lease_expiries_its_transaction_wrote_first() {
        let dir = tempfile::tempdir().expect("a temp dir");
        let mut conn = Connection::open(dir.path().join("writer.db")).expect("open");
        crate::migrate::run(&mut conn).expect("the schema");
        conn.execute(include_str!("../queries/testing/create_probe.sql"), []).expect("table");
        let (namespace, lease_id) = (Namespace::default(), LeaseId::new());
        let granted = conn
            .query_row(
                include_str!("../queries/lease/grant.sql"),
                rusqlite::params![namespace.as_str(), lease_id.to_string(), 10_000, 0],
                |row| row.get::<_, i64>("expires_at"),
            )
            .expect("grant");
        let live_leases = Arc::new(LiveLeases::default());
        let kept = Lease { lease_id, ttl_ms: 10_000, granted_at: Timestamp(0), expires_at: Timestamp(granted + 5_000) };
        live_leases.admit(&namespace, &kept);
        // At the grant's time: on the system clock the lease would have lapsed long ago.
        let clock = Arc::new(ManualClock::new(Timestamp(0)));
        let writer = Writer::start(conn, None, clock, broadcast::channel(1).0, live_leases.clone()).unwrap();

        let failed = writer.write(insert_probe_then_fail).await;
        assert!(failed.is_err());
        // Read beside the writer: its next transaction would write a rolled-back expiry again.
        let reader = Connection::open(dir.path().join("writer.db")).expect("open");
        let read =
            |sql: &str, params: &[&dyn rusqlite::ToSql]| reader.query_row(sql, params, |row| row.get::<_, i64>(0));
        let stored = read(include_str!("../queries/testing/lease_expiry.sql"), &[&lease_id.to_string()]).unwrap();
        let probes = read(include_str!("../queries/testing/count_probe.sql"), &[]).unwrap();
        assert_eq!(stored, kept.expires_at.0, "the expiry written before the failing write was committed");
        assert_eq!(probes, 0, "the failing write itself was undone");
    }

    #[tokio::test]
    async fn a_failing_write_alone_in_its_batch_leaves_nothing_behind() {
        let dir = tempfile::tempdir().expect("a temp dir");
        let conn = Connection::open(dir.path().join("writer.db")).expect("open");
        conn.execute(include_str!("../queries/testing/create_probe.sql"), []).expect("table");
        let writer = Writer::start(conn, None, Arc::new(SystemClock), broadcast::channel(1).0, Arc::default()).unwrap();
        let failed = writer.write(insert_probe_then_fail).await;
        assert!(failed.is_err());
        let count = writer
            .write(|tx: &mut SqliteTx<'_>| {
                let count: i64 = tx
                    .conn
                    .query_row(include_str!("../queries/testing/count_probe.sql"), [], |row| row.get(0))
                    .map_err(crate::rows::store_error)?;
                Ok(Applied::quiet(count))
            })
            .await
            .unwrap();
        assert_eq!(count, 0, "the failed write's insert was rolled back with its transaction");
    }

    #[tokio::test]
    async fn the_wal_is_synced_only_for_a_write_whose_caller_must_not_hear_before_the_disk_has_it() {
        let dir = tempfile::tempdir().expect("a temp dir");
        let path = dir.path().join("writer.db");
        let conn = Connection::open(&path).expect("open");
        conn.pragma_update(None, "journal_mode", "WAL").expect("WAL");
        conn.pragma_update(None, "synchronous", "NORMAL").expect("NORMAL");
        conn.execute(include_str!("../queries/testing/create_probe.sql"), []).expect("table");
        let wal = WalFile::open(&path).expect("the WAL exists");
        let writer =
            Writer::start(conn, Some(wal), Arc::new(SystemClock), broadcast::channel(1).0, Arc::default()).unwrap();

        writer.write(insert_probe).await.unwrap();
        assert_eq!(writer.syncs(), 1, "a durable write is synced");
        writer.write_relaxed(insert_probe).await.unwrap();
        writer.write_durable_if(|_| false, insert_probe).await.unwrap();
        assert_eq!(writer.syncs(), 1, "neither a relaxed write nor one whose value needs no disk is synced");
        writer.write_durable_if(|_| true, insert_probe).await.unwrap();
        assert_eq!(writer.syncs(), 2, "a write whose value needs the disk is synced");
        let failed = writer.write(insert_probe_then_fail).await;
        assert!(failed.is_err());
        assert_eq!(writer.syncs(), 2, "a failed write has nothing to sync");
    }

    #[test]
    fn only_a_caller_that_finds_no_other_waiting_spins_and_a_gone_caller_is_no_longer_counted() {
        let load = Load::default();
        let first = WaitingCaller::enter(&load);
        let second = WaitingCaller::enter(&load);
        assert!(first.may_spin, "the first caller waits alone");
        assert!(!second.may_spin, "a caller that finds another waiting does not spin");
        drop(first);
        assert!(!WaitingCaller::enter(&load).may_spin, "the second still waits");
        drop(second);
        assert!(WaitingCaller::enter(&load).may_spin, "once every caller is answered or gone, the next spins again");
    }

    #[test]
    fn no_caller_spins_while_the_writer_serves_a_crowd() {
        let load = Load::default();
        load.crowded.store(true, Ordering::Relaxed);
        assert!(!WaitingCaller::enter(&load).may_spin, "a caller that finds none waiting in a crowd parks");
        load.crowded.store(false, Ordering::Relaxed);
        assert!(WaitingCaller::enter(&load).may_spin);
    }

    #[test]
    fn a_crowd_is_told_from_a_lone_caller_by_its_batch_sizes_over_time() {
        let mut lone = BatchSizes::new();
        let lone_batches = [1, 1, 2, 1, 1, 1, 2, 1, 1, 1, 1, 2];
        assert!(lone_batches.iter().all(|&size| !lone.record(size)), "a second write now and then is no crowd");
        let mut crowd = BatchSizes::new();
        let crowded: Vec<bool> = [7, 6, 1, 8, 5, 1, 7].iter().map(|&size| crowd.record(size)).collect();
        assert_eq!(crowded, [false, true, true, true, true, true, true], "a crowd's batch of one leaves it a crowd");
        let calmed = (0..20).map(|_| crowd.record(1)).last();
        assert_eq!(calmed, Some(false), "once the crowd has gone, spinning comes back");
    }
}
