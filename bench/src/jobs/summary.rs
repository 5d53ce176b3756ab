//! The jobs table of `baton-bench summary`: medians over rounds, and Baton against its peer for each backend.
//!
//! Pairs: Baton on SQLite (a label with `sqlite`, or plain `baton`) against every `bullmq*` run, and Baton on
//! PostgreSQL (a label with `postgres` or `pg`) against every `graphile*` run, since those pairs share a
//! deployment shape (one process and a local store; a PostgreSQL server). Throughput scenarios compare jobs/s
//! (Baton ÷ peer); `pickup` compares p50 latency (peer ÷ Baton). Either way, above 1 means Baton did better.

use std::collections::BTreeMap;

use serde_json::Value;

/// The scenarios this table knows, in print order.
pub const SCENARIOS: [&str; 4] = ["enqueue-single", "enqueue-batch", "e2e", "pickup"];

/// Whether a JSON result line belongs to the jobs benchmark.
pub fn is_jobs_line(v: &Value) -> bool {
    v["scenario"].as_str().is_some_and(|s| SCENARIOS.contains(&s))
}

#[derive(Default)]
struct Group {
    jobs: Vec<f64>,
    p50: Vec<f64>,
    p99: Vec<f64>,
    enqueued: Vec<f64>,
    missing: u64,
    note: Option<String>,
}

fn median(values: &[f64]) -> Option<f64> {
    let mut v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return None;
    }
    v.sort_by(|a, b| a.total_cmp(b));
    let n = v.len();
    Some(if n % 2 == 1 { v[n / 2] } else { (v[n / 2 - 1] + v[n / 2]) / 2.0 })
}

/// Which peers a Baton label is compared with: `Some(prefix)` of the peers' labels.
fn peer_prefix(target: &str) -> Option<&'static str> {
    if !target.starts_with("baton") {
        None
    } else if target.contains("postgres") || target.contains("pg") {
        Some("graphile")
    } else {
        Some("bullmq")
    }
}

fn cell(v: Option<f64>, digits: usize) -> String {
    v.map(|x| format!("{x:.digits$}")).unwrap_or_default()
}

/// Prints the jobs table for the given result lines (already filtered with [`is_jobs_line`]).
pub fn print(lines: &[Value]) {
    let mut groups: BTreeMap<(usize, u64, String), Group> = BTreeMap::new();
    for v in lines {
        let (Some(target), Some(scenario), Some(conc)) =
            (v["target"].as_str(), v["scenario"].as_str(), v["concurrency"].as_u64())
        else {
            continue;
        };
        let order = SCENARIOS.iter().position(|s| *s == scenario).unwrap_or(SCENARIOS.len());
        let g = groups.entry((order, conc, target.to_owned())).or_default();
        g.jobs.push(v["jobs_per_sec"].as_f64().unwrap_or(f64::NAN));
        g.p50.extend(v["p50_ms"].as_f64());
        g.p99.extend(v["p99_ms"].as_f64());
        g.enqueued.extend(v["enqueued_per_sec"].as_f64());
        g.missing += v["missing"].as_u64().unwrap_or(0);
        if let Some(note) = v["note"].as_str() {
            g.note = Some(note.to_owned());
        }
    }

    println!(
        "{:<15} {:>5}  {:<20} {:>10} {:>9} {:>9} {:>5} {:>9}  Baton vs peer",
        "scenario", "conc", "target", "jobs/s", "p50 ms", "p99 ms", "runs", "enq/s"
    );
    let mut notes: BTreeMap<String, usize> = BTreeMap::new();
    let mut current = None;
    for ((order, conc, target), g) in &groups {
        if current != Some((*order, *conc)) {
            current = Some((*order, *conc));
            println!();
        }
        let pickup = SCENARIOS.get(*order) == Some(&"pickup");
        let jobs = median(&g.jobs);
        let p50 = median(&g.p50);
        let ratios: Vec<String> = match peer_prefix(target) {
            None => Vec::new(),
            Some(prefix) => groups
                .iter()
                .filter(|((o, c, t), _)| o == order && c == conc && t.starts_with(prefix))
                .filter_map(|((_, _, peer), pg)| {
                    let ratio = if pickup {
                        median(&pg.p50).zip(p50).filter(|(_, b)| *b > 0.0).map(|(p, b)| p / b)
                    } else {
                        median(&pg.jobs).zip(jobs).filter(|(p, _)| *p > 0.0).map(|(p, b)| b / p)
                    };
                    ratio.map(|r| format!("{r:.2}x {peer}"))
                })
                .collect(),
        };
        let mut marks = String::new();
        if let Some(note) = &g.note {
            let next = notes.len() + 1;
            marks.push_str(&format!(" [{}]", *notes.entry(note.clone()).or_insert(next)));
        }
        if g.missing > 0 {
            marks.push_str(&format!(" ({} jobs never picked up)", g.missing));
        }
        let row = format!(
            "{:<15} {:>5}  {:<20} {:>10} {:>9} {:>9} {:>5} {:>9}  {}{}",
            SCENARIOS.get(*order).unwrap_or(&"other"),
            conc,
            target,
            cell(jobs, 0),
            cell(p50, 3),
            cell(median(&g.p99), 3),
            g.jobs.len(),
            cell(median(&g.enqueued), 0),
            ratios.join(", "),
            marks
        );
        println!("{}", row.trim_end());
    }
    let mut by_number: Vec<_> = notes.into_iter().collect();
    by_number.sort_by_key(|(_, n)| *n);
    for (note, n) in by_number {
        println!("[{n}] {note}");
    }
    println!("\nFigures are medians over runs. jobs/s: enqueue-* = jobs acknowledged; e2e = jobs completed; pickup =");
    println!("jobs received. p50/p99: enqueue-* = one request; pickup = enqueue start to the worker having the job.");
    println!("enq/s (e2e): the producer's rate; when it is close to jobs/s, the workers kept up with it.");
    println!("Baton vs peer: SQLite Baton against BullMQ, PostgreSQL Baton against graphile-worker; jobs/s ratio");
    println!("(Baton / peer), except pickup: p50 ratio (peer / Baton). Above 1 means Baton did better.");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_baton_backend_is_paired_with_its_peer() {
        assert_eq!(peer_prefix("baton-sqlite"), Some("bullmq"));
        assert_eq!(peer_prefix("baton"), Some("bullmq"));
        assert_eq!(peer_prefix("baton-postgres"), Some("graphile"));
        assert_eq!(peer_prefix("bullmq-aof-always"), None);
    }

    #[test]
    fn medians_skip_missing_figures() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&[1.0, f64::NAN, 3.0]), Some(2.0));
        assert_eq!(median(&[]), None);
    }
}
