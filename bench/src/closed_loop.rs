//! The closed-loop window shared by the cache and claims benchmarks: C workers, each doing one operation at a
//! time, back to back, on its own connection.
//!
//! All workers start together and first run an untimed warm-up (connections and server caches settle, as
//! redis-benchmark's calibration run does for Redis). The window is `[warm-up end, warm-up end + duration]`:
//! an operation counts, and its latency is kept, only if it starts and completes inside it, and
//! `ops_per_sec = counted / duration`. At the end workers finish what they are doing and close; a worker still
//! busy [`GRACE`] after the window fails the measurement. The server's and this process's CPU use over the
//! window are sampled too (`cpu.rs`). Nothing is retried: the first failed operation ends the measurement.

use std::future::Future;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use serde_json::{Value, json};
use tokio::task::JoinSet;

use crate::cpu::Sample;
use crate::report::percentile_ms;

/// How long workers may take to finish after the window before the measurement fails.
pub const GRACE: Duration = Duration::from_secs(40);

/// One simulated client, connected before the clock starts.
pub trait Worker: Send + 'static {
    /// Does this worker's `n`-th operation (numbered from 0, warm-up included, so every one is distinct).
    fn op(&mut self, n: u64) -> impl Future<Output = Result<()>> + Send;

    /// Cleans up after the window (an etcd lease, say).
    fn close(self) -> impl Future<Output = Result<()>> + Send
    where
        Self: Sized,
    {
        async { Ok(()) }
    }
}

/// What one window measured.
#[derive(Debug, Default)]
pub struct Window {
    pub clients: usize,
    pub duration: Duration,
    /// Sorted.
    pub latencies: Vec<Duration>,
    pub server_cpu_pct: Option<f64>,
    pub driver_cpu_pct: Option<f64>,
}

impl Window {
    /// The JSON fields every cache and claims line carries.
    pub fn line(&self, target: &str, scenario: &str) -> Value {
        let secs = self.duration.as_secs_f64();
        let mut line = json!({
            "target": target,
            "scenario": scenario,
            "clients": self.clients,
            "ops_per_sec": round(self.latencies.len() as f64 / secs, 1),
            "p50_ms": round(percentile_ms(&self.latencies, 50.0), 3),
            "p99_ms": round(percentile_ms(&self.latencies, 99.0), 3),
            "ops": self.latencies.len(),
            "duration_secs": round(secs, 3),
        });
        if let Some(last) = self.latencies.last() {
            line["max_ms"] = json!(round(last.as_secs_f64() * 1000.0, 3));
        }
        add_cpu(&mut line, self.server_cpu_pct, self.driver_cpu_pct);
        line
    }
}

/// Adds `server_cpu_pct` and `driver_cpu_pct` when they were measured.
pub fn add_cpu(line: &mut Value, server: Option<f64>, driver: Option<f64>) {
    if let Some(pct) = server {
        line["server_cpu_pct"] = json!(round(pct, 0));
    }
    if let Some(pct) = driver {
        line["driver_cpu_pct"] = json!(round(pct, 0));
    }
}

pub fn round(v: f64, digits: i32) -> f64 {
    let f = 10f64.powi(digits);
    (v * f).round() / f
}

/// Runs the warm-up and the window with these workers; `server_pid` is the process whose CPU is sampled.
pub async fn run<W: Worker>(
    workers: Vec<W>,
    warmup: Duration,
    duration: Duration,
    server_pid: Option<u32>,
) -> Result<Window> {
    let clients = workers.len();
    let start = Instant::now() + warmup;
    let deadline = start + duration;
    let mut tasks = JoinSet::new();
    for mut worker in workers {
        tasks.spawn(async move {
            let mut latencies = Vec::with_capacity(16 * 1024);
            let mut n = 0u64;
            loop {
                let t0 = Instant::now();
                if t0 >= deadline {
                    break;
                }
                worker.op(n).await.with_context(|| format!("operation {n}"))?;
                let t1 = Instant::now();
                if t0 >= start && t1 <= deadline {
                    latencies.push(t1 - t0);
                }
                n += 1;
            }
            worker.close().await.context("close")?;
            anyhow::Ok(latencies)
        });
    }
    let sampler = tokio::spawn(async move {
        tokio::time::sleep_until(start.into()).await;
        let (server0, driver0) = (Sample::take(server_pid), Sample::take(None));
        tokio::time::sleep_until(deadline.into()).await;
        let (server1, driver1) = (Sample::take(server_pid), Sample::take(None));
        (server_pid.and_then(|_| server0.pct_until(&server1)), driver0.pct_until(&driver1))
    });

    let mut latencies = Vec::new();
    loop {
        match tokio::time::timeout_at((deadline + GRACE).into(), tasks.join_next()).await {
            Ok(None) => break,
            Ok(Some(joined)) => latencies.extend(joined.context("worker panicked")??),
            Err(_) => {
                tasks.abort_all();
                bail!("{} workers still busy {GRACE:?} after the window closed; run aborted", tasks.len());
            }
        }
    }
    let (server_cpu_pct, driver_cpu_pct) = sampler.await.context("CPU sampler panicked")?;
    latencies.sort_unstable();
    Ok(Window { clients, duration, latencies, server_cpu_pct, driver_cpu_pct })
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Sleeper;

    impl Worker for Sleeper {
        async fn op(&mut self, _n: u64) -> Result<()> {
            tokio::time::sleep(Duration::from_millis(10)).await;
            Ok(())
        }
    }

    #[tokio::test]
    async fn only_operations_inside_the_window_count() {
        let window =
            run(vec![Sleeper, Sleeper], Duration::from_millis(100), Duration::from_millis(200), None).await.unwrap();
        // Two workers at ~10 ms per operation for 200 ms: about 40, never the warm-up's ~20 on top.
        let ops = window.latencies.len();
        assert!((20..=42).contains(&ops), "{ops} operations");
        let line = window.line("t", "claim");
        assert_eq!(line["clients"], 2);
        assert!(line["p50_ms"].as_f64().unwrap() >= 10.0);
    }
}
