//! Figures out of a run: percentiles, the one-JSON-line-per-measurement output, and the summary table with ratios.
//!
//! Percentiles are nearest-rank over the sorted latencies of one measurement (no histogram buckets, no sampling).
//! The summary reads the JSON lines of many runs, takes per (scenario, clients, target) the median over rounds of
//! each figure, and prints Baton's throughput as a ratio of etcd's and Redis's. Lines of the jobs, events, cache
//! and claims benchmarks go to their own tables (`jobs/summary.rs`, `events/summary.rs`, `cache/summary.rs`,
//! `claims/summary.rs`).

use std::collections::BTreeMap;
use std::io::BufRead;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result};
use serde_json::{Value, json};

use crate::target::Scenario;

/// The result of one measurement.
#[derive(Debug)]
pub struct Measurement {
    pub target: String,
    pub scenario: Scenario,
    pub clients: usize,
    pub ops: usize,
    pub ops_per_sec: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub note: Option<&'static str>,
    /// `contended` only: acquisitions per second that went to a different client than the previous one.
    pub holder_changes_per_sec: Option<f64>,
    /// `contended` only: p50 and p99 of the time from a release being sent to another client holding the lock.
    pub handoff_ms: Option<(f64, f64)>,
}

impl Measurement {
    pub fn new(
        target: &str,
        scenario: Scenario,
        clients: usize,
        window: Duration,
        mut latencies: Vec<Duration>,
        note: Option<&'static str>,
    ) -> Self {
        latencies.sort_unstable();
        let ops = latencies.len();
        Self {
            target: target.to_owned(),
            scenario,
            clients,
            ops,
            ops_per_sec: ops as f64 / window.as_secs_f64(),
            p50_ms: percentile_ms(&latencies, 50.0),
            p99_ms: percentile_ms(&latencies, 99.0),
            note,
            holder_changes_per_sec: None,
            handoff_ms: None,
        }
    }

    /// Keeps the p50 and p99 of the hand-off latencies, if there were any.
    pub fn set_handoffs(&mut self, mut handoffs: Vec<Duration>) {
        if handoffs.is_empty() {
            return;
        }
        handoffs.sort_unstable();
        self.handoff_ms = Some((percentile_ms(&handoffs, 50.0), percentile_ms(&handoffs, 99.0)));
    }

    /// The JSON line printed for this measurement.
    pub fn to_json(&self) -> Value {
        let mut line = json!({
            "target": self.target,
            "scenario": self.scenario.as_str(),
            "clients": self.clients,
            "ops_per_sec": round(self.ops_per_sec, 1),
            "p50_ms": round(self.p50_ms, 3),
            "p99_ms": round(self.p99_ms, 3),
            "ops": self.ops,
        });
        if let Some((p50, p99)) = self.handoff_ms {
            line["handoff_p50_ms"] = json!(round(p50, 3));
            line["handoff_p99_ms"] = json!(round(p99, 3));
        }
        if let Some(changes) = self.holder_changes_per_sec {
            line["holder_changes_per_sec"] = json!(round(changes, 1));
        }
        if let Some(note) = self.note {
            line["note"] = json!(note);
        }
        line
    }
}

/// Nearest-rank percentile of sorted latencies, in milliseconds; 0 when there are none.
pub fn percentile_ms(sorted: &[Duration], pct: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((pct / 100.0) * sorted.len() as f64).ceil() as usize;
    let idx = rank.clamp(1, sorted.len()) - 1;
    sorted[idx].as_secs_f64() * 1000.0
}

fn round(v: f64, digits: i32) -> f64 {
    let f = 10f64.powi(digits);
    (v * f).round() / f
}

fn median(values: &mut [f64]) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    values.sort_by(|a, b| a.total_cmp(b));
    let n = values.len();
    if n % 2 == 1 { values[n / 2] } else { (values[n / 2 - 1] + values[n / 2]) / 2.0 }
}

#[derive(Default)]
struct Group {
    ops: Vec<f64>,
    p50: Vec<f64>,
    p99: Vec<f64>,
    changes: Vec<f64>,
    handoff_p50: Vec<f64>,
    handoff_p99: Vec<f64>,
    note: Option<String>,
}

/// The lines of one benchmark and the function that prints its table.
type Table<'a> = (&'a [Value], fn(&[Value]));

/// Reads JSON lines (from files, or stdin when none are given) and prints the summary table.
pub fn summarize(files: &[PathBuf]) -> Result<()> {
    let mut lines = Vec::new();
    if files.is_empty() {
        for line in std::io::stdin().lock().lines() {
            lines.push(line?);
        }
    } else {
        for file in files {
            let text = std::fs::read_to_string(file).with_context(|| format!("read {}", file.display()))?;
            lines.extend(text.lines().map(str::to_owned));
        }
    }

    let mut values = Vec::new();
    for line in lines.iter().map(|l| l.trim()).filter(|l| l.starts_with('{')) {
        values.push(serde_json::from_str::<Value>(line).with_context(|| format!("bad JSON line: {line}"))?);
    }
    // Workflow, job, event, cache and claims results (run-workflows.sh, run-jobs.sh, run-events.sh, run-cache.sh,
    // run-claims.sh) get their own tables; the rest are lock results.
    let (workflows, values): (Vec<Value>, Vec<Value>) =
        values.into_iter().partition(crate::workflows::summary::is_workflows_line);
    let (events, values): (Vec<Value>, Vec<Value>) =
        values.into_iter().partition(crate::events::summary::is_events_line);
    let (jobs, values): (Vec<Value>, Vec<Value>) = values.into_iter().partition(crate::jobs::summary::is_jobs_line);
    let (cache, values): (Vec<Value>, Vec<Value>) = values.into_iter().partition(crate::cache::summary::is_cache_line);
    let (claims, locks): (Vec<Value>, Vec<Value>) =
        values.into_iter().partition(crate::claims::summary::is_claims_line);
    let others: [Table; 5] = [
        (&workflows, crate::workflows::summary::print),
        (&jobs, crate::jobs::summary::print),
        (&events, crate::events::summary::print),
        (&cache, crate::cache::summary::print),
        (&claims, crate::claims::summary::print),
    ];
    let mut printed = false;
    if !locks.is_empty() || others.iter().all(|(lines, _)| lines.is_empty()) {
        summarize_locks(&locks);
        printed = true;
    }
    for (lines, print) in others {
        if lines.is_empty() {
            continue;
        }
        if printed {
            println!();
        }
        print(lines);
        printed = true;
    }
    Ok(())
}

/// Prints the lock table: medians per (scenario, clients, target), with ratios to etcd and Redis.
fn summarize_locks(lines: &[Value]) {
    // (scenario order, clients, target) -> figures over rounds
    let mut groups: BTreeMap<(u8, u64, String), Group> = BTreeMap::new();
    for v in lines {
        let (Some(target), Some(scenario), Some(clients)) =
            (v["target"].as_str(), v["scenario"].as_str(), v["clients"].as_u64())
        else {
            continue;
        };
        let order = match scenario {
            "uncontended" => 0,
            "contended" => 1,
            "keepalive" => 2,
            _ => 3,
        };
        let g = groups.entry((order, clients, target.to_owned())).or_default();
        g.ops.push(v["ops_per_sec"].as_f64().unwrap_or(f64::NAN));
        g.p50.push(v["p50_ms"].as_f64().unwrap_or(f64::NAN));
        g.p99.push(v["p99_ms"].as_f64().unwrap_or(f64::NAN));
        if let Some(changes) = v["holder_changes_per_sec"].as_f64() {
            g.changes.push(changes);
        }
        if let Some(handoff) = v["handoff_p50_ms"].as_f64() {
            g.handoff_p50.push(handoff);
        }
        if let Some(handoff) = v["handoff_p99_ms"].as_f64() {
            g.handoff_p99.push(handoff);
        }
        g.note = v["note"].as_str().map(str::to_owned);
    }

    const NAMES: [&str; 4] = ["uncontended", "contended", "keepalive", "other"];
    // Median throughput of each peer per (scenario, clients): the denominators of the ratios.
    let mut peers: BTreeMap<(u8, u64, &str), f64> = BTreeMap::new();
    for ((order, clients, target), g) in &groups {
        // `redis-aof` (REDIS_DURABLE=1) counts as the Redis peer too.
        if let Some(peer) = ["etcd", "redis"].into_iter().find(|p| target.starts_with(p)) {
            peers.insert((*order, *clients, peer), median(&mut g.ops.clone()));
        }
    }

    println!(
        "{:<12} {:>7}  {:<21} {:>10} {:>9} {:>9} {:>5} {:>10} {:>11} {:>11} {:>11} {:>11}",
        "scenario",
        "clients",
        "target",
        "ops/s",
        "p50 ms",
        "p99 ms",
        "runs",
        "Baton/etcd",
        "Baton/Redis",
        "to-other/s",
        "handoff p50",
        "handoff p99"
    );
    let mut notes: BTreeMap<String, usize> = BTreeMap::new();
    let mut current = None;
    for ((order, clients, target), g) in &mut groups {
        if current != Some((*order, *clients)) {
            current = Some((*order, *clients));
            println!();
        }
        let ops = median(&mut g.ops);
        let ratio = |peer: &str| match peers.get(&(*order, *clients, peer)) {
            Some(base) if target.starts_with("baton") && *base > 0.0 => format!("{:.2}x", ops / base),
            _ => String::new(),
        };
        let mark = match &g.note {
            Some(note) => {
                let next = notes.len() + 1;
                format!(" [{}]", *notes.entry(note.clone()).or_insert(next))
            }
            None => String::new(),
        };
        let row = format!(
            "{:<12} {:>7}  {:<21} {:>10.0} {:>9.3} {:>9.3} {:>5} {:>10} {:>11} {:>11} {:>11} {:>11}{}",
            NAMES[(*order).min(3) as usize],
            clients,
            target,
            ops,
            median(&mut g.p50),
            median(&mut g.p99),
            g.ops.len(),
            ratio("etcd"),
            ratio("redis"),
            if g.changes.is_empty() { String::new() } else { format!("{:.0}", median(&mut g.changes)) },
            if g.handoff_p50.is_empty() { String::new() } else { format!("{:.3}", median(&mut g.handoff_p50)) },
            if g.handoff_p99.is_empty() { String::new() } else { format!("{:.3}", median(&mut g.handoff_p99)) },
            mark
        );
        println!("{}", row.trim_end());
    }
    for (note, n) in &notes {
        println!("[{n}] {note}");
    }
    println!("\nFigures are medians over runs. Ratios compare ops/s (higher is better for Baton).");
    println!("to-other/s (contended): acquisitions per second that went to a different client than the last one.");
    println!("handoff p50/p99 (contended): ms from a release being sent to another client holding the lock.");
}
