//! The append window, shared by every target: C clients appending back to back until the clock runs out.
//!
//! A target supplies one [`Appender`] per client, connected before the clock starts; this module runs them,
//! keeps the latencies of the requests acknowledged inside the window, and turns them into a measurement. It
//! does not retry: the first failed request ends the measurement with its error.

use std::future::Future;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use tokio::task::JoinSet;

use super::{EventsMeasurement, EventsSpec, GRACE};

/// One client's connection to a target, able to append one request's worth of events.
pub trait Appender: Send + 'static {
    /// Appends `batch` events, numbered `first_seq..first_seq + batch`, to `stream` in one request (one atomic
    /// append, or one transaction); resolves once the target has acknowledged them.
    fn append(
        &mut self,
        stream: &str,
        client: usize,
        first_seq: u64,
        batch: usize,
    ) -> impl Future<Output = Result<()>> + Send;
}

/// Runs the `append` scenario with these connected clients.
pub async fn append_window<A: Appender>(spec: &EventsSpec, appenders: Vec<A>) -> Result<EventsMeasurement> {
    let batch = spec.batch;
    let clients = appenders.len();
    let deadline = Instant::now() + spec.duration;
    let mut tasks = JoinSet::new();
    for (idx, mut appender) in appenders.into_iter().enumerate() {
        let spec = spec.clone();
        tasks.spawn(async move {
            let mut latencies = Vec::with_capacity(8192);
            let mut n = 0u64;
            while Instant::now() < deadline {
                let stream = spec.stream(idx, n);
                let t0 = Instant::now();
                appender.append(&stream, idx, n * batch as u64, batch).await?;
                let t1 = Instant::now();
                if t1 <= deadline {
                    latencies.push(t1 - t0);
                }
                n += 1;
            }
            anyhow::Ok(latencies)
        });
    }
    let latencies: Vec<Duration> = join_all(&mut tasks, deadline).await?.into_iter().flatten().collect();
    Ok(EventsMeasurement { clients, batch, events: (latencies.len() * batch) as u64, latencies, ..Default::default() })
}

/// Joins every task, failing with the first error, or when they are not done `GRACE` after `deadline`.
pub async fn join_all<T: 'static>(tasks: &mut JoinSet<Result<T>>, deadline: Instant) -> Result<Vec<T>> {
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
