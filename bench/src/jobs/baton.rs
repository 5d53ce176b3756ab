//! The four job scenarios against one Baton server, over its HTTP jobs API (see `api.rs`).
//!
//! How worker concurrency N maps onto Baton: `ceil(N / 10)` fetch loops, each asking for up to 10 jobs
//! (`max_jobs = min(10, N)`, the last loop taking what is left). A loop completes what it got in its next fetch
//! (the fetch's `complete` list: one request and one commit, as BullMQ's worker completes a job and takes the
//! next in one call), and what it holds at the end with the batch endpoint. So at most N jobs are leased at a
//! time, as at most N run at a time with BullMQ's or graphile-worker's `concurrency: N`.
//!
//! Every measurement uses a fresh queue (`bench-<scenario>-<run id>`): Baton has no purge endpoint, so jobs
//! left over by one measurement stay in that queue and are never fetched again. This module does not retry:
//! the first failed request ends the measurement with its error.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use serde_json::json;
use tokio::sync::Mutex;
use tokio::task::JoinSet;

use super::api::{FetchRequest, JobsClient, NewJob, NewJobs};
use super::{BACKLOG_CAP, JobScenario, JobsMeasurement, JobsSpec};

/// Jobs one fetch asks for at most.
const FETCH_BATCH: usize = 10;
/// The lease every fetch asks for, as BullMQ's default lock (30 s) and more than any benchmark job needs.
const LEASE_SECONDS: u64 = 30;
/// The longest long poll.
const MAX_WAIT: Duration = Duration::from_secs(5);
/// How long clients may take to finish after the window before the measurement fails.
const GRACE: Duration = Duration::from_secs(40);
/// pickup: how long after the window the workers may take to receive the last jobs sent.
const PICKUP_GRACE: Duration = Duration::from_secs(5);

pub async fn run(spec: &JobsSpec, url: &str, label: &str) -> Result<JobsMeasurement> {
    let queue = format!("bench-{}-{}", spec.scenario.as_str(), spec.run_id);
    let mut measurement = match spec.scenario {
        JobScenario::EnqueueSingle | JobScenario::EnqueueBatch => enqueue(spec, url, &queue).await?,
        JobScenario::E2e => end_to_end(spec, url, &queue).await?,
        JobScenario::Pickup => pickup(spec, url, &queue).await?,
    };
    let client = format!("{} HTTP client, one connection each", spec.http.as_str());
    measurement.note = Some(match measurement.note.take() {
        Some(note) => format!("{note}; {client}"),
        None => format!("baton clients: {client}"),
    });
    measurement.target = label.to_owned();
    measurement.scenario = spec.scenario.as_str();
    measurement.concurrency = spec.concurrency;
    measurement.duration = spec.duration;
    Ok(measurement)
}

/// The fetch loops of a worker pool with total concurrency `n`: each loop's `max_jobs`.
pub fn fetch_loops(n: usize) -> Vec<usize> {
    let n = n.max(1);
    (0..n.div_ceil(FETCH_BATCH)).map(|i| (n - i * FETCH_BATCH).min(FETCH_BATCH)).collect()
}

fn worker_note(n: usize) -> String {
    let loops = fetch_loops(n);
    format!("baton workers: {} fetch loop(s), max_jobs {} each, completing in the next fetch", loops.len(), loops[0])
}

/// Opens `count` clients, each with its own connection, before the clock starts.
async fn connect(spec: &JobsSpec, url: &str, count: usize) -> Result<Vec<JobsClient>> {
    let mut clients = Vec::with_capacity(count);
    for _ in 0..count {
        clients.push(JobsClient::connect(spec.http, url).await?);
    }
    Ok(clients)
}

/// Joins every task, failing with the first error, or when they are not done `GRACE` after `deadline`.
async fn join_all<T: 'static>(tasks: &mut JoinSet<Result<T>>, deadline: Instant) -> Result<Vec<T>> {
    let mut out = Vec::new();
    loop {
        match tokio::time::timeout_at((deadline + GRACE).into(), tasks.join_next()).await {
            Ok(None) => return Ok(out),
            Ok(Some(joined)) => out.push(joined.context("benchmark task panicked")??),
            Err(_) => {
                tasks.abort_all();
                bail!("{} tasks still busy {GRACE:?} after the window closed; run aborted", tasks.len());
            }
        }
    }
}

async fn enqueue(spec: &JobsSpec, url: &str, queue: &str) -> Result<JobsMeasurement> {
    let per_request = if spec.scenario == JobScenario::EnqueueBatch { spec.batch_size } else { 1 };
    let clients = connect(spec, url, spec.concurrency).await?;
    let deadline = Instant::now() + spec.duration;
    let mut tasks = JoinSet::new();
    for (idx, mut client) in clients.into_iter().enumerate() {
        let queue = queue.to_owned();
        tasks.spawn(async move {
            let mut latencies = Vec::with_capacity(4096);
            let mut n = 0u64;
            while Instant::now() < deadline {
                let t0 = Instant::now();
                if per_request == 1 {
                    client.enqueue(&queue, &NewJob::noop(json!({"c": idx, "n": n}))).await?;
                } else {
                    let jobs = (0..per_request).map(|i| NewJob::noop(json!({"c": idx, "n": n + i as u64}))).collect();
                    client.enqueue_batch(&queue, &NewJobs { jobs }).await?;
                }
                n += per_request as u64;
                let t1 = Instant::now();
                if t1 <= deadline {
                    latencies.push(t1 - t0);
                }
            }
            anyhow::Ok(latencies)
        });
    }
    let latencies: Vec<Duration> = join_all(&mut tasks, deadline).await?.into_iter().flatten().collect();
    Ok(JobsMeasurement {
        jobs: (latencies.len() * per_request) as u64,
        latencies,
        batch: (per_request > 1).then_some(per_request),
        ..Default::default()
    })
}

/// Counters shared by the e2e producer and workers.
#[derive(Default)]
struct Flow {
    enqueued: AtomicU64,
    enqueued_in_window: AtomicU64,
    completed: AtomicU64,
    completed_in_window: AtomicU64,
}

async fn end_to_end(spec: &JobsSpec, url: &str, queue: &str) -> Result<JobsMeasurement> {
    let loops = fetch_loops(spec.concurrency);
    let workers = connect(spec, url, loops.len()).await?;
    let mut producer = connect(spec, url, 1).await?.remove(0);
    let flow = Arc::new(Flow::default());
    let deadline = Instant::now() + spec.duration;
    let mut tasks = JoinSet::new();
    for (idx, (mut client, max_jobs)) in workers.into_iter().zip(loops).enumerate() {
        let (queue, flow) = (queue.to_owned(), flow.clone());
        tasks.spawn(async move {
            let worker_id = format!("bench-w{idx}");
            let count = |n: usize| {
                flow.completed.fetch_add(n as u64, Ordering::SeqCst);
                if Instant::now() <= deadline {
                    flow.completed_in_window.fetch_add(n as u64, Ordering::SeqCst);
                }
            };
            let mut held = Vec::new();
            while Instant::now() < deadline {
                let wait = deadline.saturating_duration_since(Instant::now()).min(MAX_WAIT);
                let request = FetchRequest {
                    worker_id: &worker_id,
                    max_jobs,
                    wait_ms: (wait.as_millis() as u64).max(1),
                    lease_seconds: LEASE_SECONDS,
                    complete: JobsClient::completions(&held),
                };
                let jobs = client.fetch(&queue, &request).await?;
                count(held.len());
                held = jobs;
            }
            client.complete(&held).await?;
            count(held.len());
            anyhow::Ok(())
        });
    }
    let batch_size = spec.batch_size;
    let (queue_p, flow_p) = (queue.to_owned(), flow.clone());
    tasks.spawn(async move {
        let mut n = 0u64;
        while Instant::now() < deadline {
            // Saturating: a worker may complete a batch before the producer has counted its enqueue.
            let waiting =
                flow_p.enqueued.load(Ordering::SeqCst).saturating_sub(flow_p.completed.load(Ordering::SeqCst));
            if waiting >= BACKLOG_CAP {
                tokio::time::sleep(Duration::from_millis(1)).await;
                continue;
            }
            let jobs = (0..batch_size).map(|i| NewJob::noop(json!({"n": n + i as u64}))).collect();
            producer.enqueue_batch(&queue_p, &NewJobs { jobs }).await?;
            n += batch_size as u64;
            flow_p.enqueued.fetch_add(batch_size as u64, Ordering::SeqCst);
            if Instant::now() <= deadline {
                flow_p.enqueued_in_window.fetch_add(batch_size as u64, Ordering::SeqCst);
            }
        }
        anyhow::Ok(())
    });
    join_all(&mut tasks, deadline).await?;
    let enqueued = flow.enqueued_in_window.load(Ordering::SeqCst);
    let completed = flow.completed_in_window.load(Ordering::SeqCst);
    Ok(JobsMeasurement {
        jobs: completed,
        batch: Some(batch_size),
        enqueued: Some(enqueued),
        backlog_end: Some(enqueued as i64 - completed as i64),
        note: Some(worker_note(spec.concurrency)),
        ..Default::default()
    })
}

/// pickup bookkeeping: when each job's enqueue started (ns after `base`, 0 = not sent), and what arrived.
struct Pickup {
    base: Instant,
    sent_at: Vec<AtomicU64>,
    received: AtomicU64,
    latencies: Mutex<Vec<Duration>>,
}

async fn pickup(spec: &JobsSpec, url: &str, queue: &str) -> Result<JobsMeasurement> {
    let loops = fetch_loops(spec.concurrency);
    let workers = connect(spec, url, loops.len()).await?;
    let mut producer = connect(spec, url, 1).await?.remove(0);
    let capacity = (spec.duration.as_nanos() / spec.pickup_interval.as_nanos()) as usize + 1;
    let base = Instant::now();
    let state = Arc::new(Pickup {
        base,
        sent_at: (0..capacity).map(|_| AtomicU64::new(0)).collect(),
        received: AtomicU64::new(0),
        latencies: Mutex::new(Vec::with_capacity(capacity)),
    });
    let stop = Arc::new(AtomicBool::new(false));
    let mut workers_set = JoinSet::new();
    for (idx, (mut client, max_jobs)) in workers.into_iter().zip(loops).enumerate() {
        let (queue, state, stop) = (queue.to_owned(), state.clone(), stop.clone());
        workers_set.spawn(async move {
            let worker_id = format!("bench-w{idx}");
            let mut held = Vec::new();
            while !stop.load(Ordering::SeqCst) {
                let request = FetchRequest {
                    worker_id: &worker_id,
                    max_jobs,
                    wait_ms: MAX_WAIT.as_millis() as u64,
                    lease_seconds: LEASE_SECONDS,
                    complete: JobsClient::completions(&held),
                };
                let jobs = client.fetch(&queue, &request).await?;
                let arrived = Instant::now();
                for job in &jobs {
                    let seq = job.payload["seq"]
                        .as_u64()
                        .and_then(|s| usize::try_from(s).ok())
                        .filter(|s| *s < state.sent_at.len())
                        .with_context(|| format!("pickup job {} has no valid seq: {}", job.job_id, job.payload))?;
                    let sent = Duration::from_nanos(state.sent_at[seq].load(Ordering::SeqCst));
                    state.latencies.lock().await.push(arrived.duration_since(state.base).saturating_sub(sent));
                    state.received.fetch_add(1, Ordering::SeqCst);
                }
                held = jobs;
            }
            client.complete(&held).await?;
            anyhow::Ok(())
        });
    }

    // The producer: job i is sent at base + i × interval, or at once when the previous enqueue ran late.
    let deadline = base + spec.duration;
    let mut sent = 0u64;
    for (seq, slot) in state.sent_at.iter().enumerate() {
        let due = base + spec.pickup_interval * seq as u32;
        if due >= deadline {
            break;
        }
        tokio::time::sleep_until(due.into()).await;
        // Stored as ns after base, at least 1, so that 0 still means "not sent".
        slot.store((base.elapsed().as_nanos() as u64).max(1), Ordering::SeqCst);
        producer.enqueue(queue, &NewJob::noop(json!({"seq": seq}))).await?;
        sent += 1;
        if let Some(joined) = workers_set.try_join_next() {
            joined.context("pickup worker panicked")??;
            bail!("a pickup worker stopped early");
        }
    }
    let give_up = Instant::now() + PICKUP_GRACE;
    while state.received.load(Ordering::SeqCst) < sent && Instant::now() < give_up {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    stop.store(true, Ordering::SeqCst);
    // Workers may sit in a long poll; the measurement is over, so they are not waited for.
    while let Some(joined) = workers_set.try_join_next() {
        joined.context("pickup worker panicked")??;
    }
    workers_set.abort_all();
    let received = state.received.load(Ordering::SeqCst);
    let latencies = std::mem::take(&mut *state.latencies.lock().await);
    Ok(JobsMeasurement {
        jobs: received,
        latencies,
        sent: Some(sent),
        missing: Some(sent.saturating_sub(received)),
        note: Some(worker_note(spec.concurrency)),
        ..Default::default()
    })
}

#[cfg(test)]
mod tests {
    use super::fetch_loops;

    #[test]
    fn worker_concurrency_maps_to_fetch_loops_of_at_most_ten() {
        assert_eq!(fetch_loops(1), vec![1]);
        assert_eq!(fetch_loops(10), vec![10]);
        assert_eq!(fetch_loops(25), vec![10, 10, 5]);
        assert_eq!(fetch_loops(50), vec![10; 5]);
        assert_eq!(fetch_loops(50).iter().sum::<usize>(), 50);
    }
}
