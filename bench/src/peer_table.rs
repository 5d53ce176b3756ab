//! One summary table for the cache and claims benchmarks: medians over rounds per (scenario, clients, target),
//! with Baton's throughput as a ratio of one peer's at the same scenario and clients.
//!
//! A table is configured by its scenarios (in print order) and its peer's label prefix (`redis`, `etcd`); every
//! `baton*` label is compared with every label that has the prefix. The ratio is ops/s Baton ÷ peer, so above 1
//! means Baton did better. It prints the table only; each benchmark's `summary.rs` checks its own targets
//! against the [`Groups`] this returns.

use std::collections::BTreeMap;

use serde_json::Value;

/// The medians over rounds of one (scenario, clients, target).
#[derive(Debug, Default)]
pub struct Group {
    pub runs: usize,
    pub ops: Option<f64>,
    pub p50: Option<f64>,
    pub p99: Option<f64>,
    pub server_cpu: Option<f64>,
    pub driver_cpu: Option<f64>,
    pub note: Option<String>,
}

/// (scenario index, clients, target) → medians.
pub type Groups = BTreeMap<(usize, u64, String), Group>;

pub fn median(values: &[f64]) -> Option<f64> {
    let mut v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return None;
    }
    v.sort_by(|a, b| a.total_cmp(b));
    let n = v.len();
    Some(if n % 2 == 1 { v[n / 2] } else { (v[n / 2 - 1] + v[n / 2]) / 2.0 })
}

/// Groups the lines of these scenarios and takes the medians.
pub fn group(lines: &[Value], scenarios: &[&str]) -> Groups {
    let mut raw: BTreeMap<(usize, u64, String), Vec<&Value>> = BTreeMap::new();
    for v in lines {
        let (Some(target), Some(scenario), Some(clients)) =
            (v["target"].as_str(), v["scenario"].as_str(), v["clients"].as_u64())
        else {
            continue;
        };
        let Some(order) = scenarios.iter().position(|s| *s == scenario) else { continue };
        raw.entry((order, clients, target.to_owned())).or_default().push(v);
    }
    raw.into_iter()
        .map(|(key, runs)| {
            let figure = |name: &str| median(&runs.iter().filter_map(|v| v[name].as_f64()).collect::<Vec<_>>());
            let group = Group {
                runs: runs.len(),
                ops: figure("ops_per_sec"),
                p50: figure("p50_ms"),
                p99: figure("p99_ms"),
                server_cpu: figure("server_cpu_pct"),
                driver_cpu: figure("driver_cpu_pct"),
                note: runs.iter().rev().find_map(|v| v["note"].as_str().map(str::to_owned)),
            };
            (key, group)
        })
        .collect()
}

/// Baton's ratio to each peer run of the same scenario and clients: (peer label, Baton ÷ peer ops/s).
pub fn ratios(groups: &Groups, key: &(usize, u64, String), peer_prefix: &str) -> Vec<(String, f64)> {
    let (order, clients, target) = key;
    let Some(ops) = groups.get(key).and_then(|g| g.ops).filter(|_| target.starts_with("baton")) else {
        return Vec::new();
    };
    groups
        .iter()
        .filter(|((o, c, t), _)| o == order && c == clients && t.starts_with(peer_prefix))
        .filter_map(|((_, _, peer), g)| g.ops.filter(|p| *p > 0.0).map(|p| (peer.clone(), ops / p)))
        .collect()
}

fn cell(v: Option<f64>, digits: usize) -> String {
    v.map(|x| format!("{x:.digits$}")).unwrap_or_default()
}

/// Prints the table, with numbered notes under it.
pub fn print(groups: &Groups, scenarios: &[&str], peer_prefix: &str, peer_name: &str) {
    println!(
        "{:<11} {:>7}  {:<16} {:>10} {:>8} {:>8} {:>4} {:>7} {:>7}  Baton/{peer_name}",
        "scenario", "clients", "target", "ops/s", "p50 ms", "p99 ms", "runs", "srv cpu", "drv cpu"
    );
    let mut notes: BTreeMap<String, usize> = BTreeMap::new();
    let mut current = None;
    for (key, g) in groups {
        let (order, clients, target) = key;
        if current != Some((*order, *clients)) {
            current = Some((*order, *clients));
            println!();
        }
        let ratio: Vec<String> =
            ratios(groups, key, peer_prefix).iter().map(|(peer, r)| format!("{r:.2}x {peer}")).collect();
        let mark = match &g.note {
            Some(note) => {
                let next = notes.len() + 1;
                format!(" [{}]", *notes.entry(note.clone()).or_insert(next))
            }
            None => String::new(),
        };
        let pct = |v: Option<f64>| v.map(|x| format!("{x:.0}%")).unwrap_or_default();
        let row = format!(
            "{:<11} {:>7}  {:<16} {:>10} {:>8} {:>8} {:>4} {:>7} {:>7}  {}{}",
            scenarios.get(*order).unwrap_or(&"other"),
            clients,
            target,
            cell(g.ops, 0),
            cell(g.p50, 3),
            cell(g.p99, 3),
            g.runs,
            pct(g.server_cpu),
            pct(g.driver_cpu),
            ratio.join(", "),
            mark
        );
        println!("{}", row.trim_end());
    }
    let mut by_number: Vec<_> = notes.into_iter().collect();
    by_number.sort_by_key(|(_, n)| *n);
    for (note, n) in by_number {
        println!("[{n}] {note}");
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn baton_is_compared_with_the_peer_at_the_same_scenario_and_clients() {
        let lines = vec![
            json!({"target": "baton-sqlite", "scenario": "claim", "clients": 16, "ops_per_sec": 9000.0}),
            json!({"target": "baton-sqlite", "scenario": "claim", "clients": 16, "ops_per_sec": 11000.0}),
            json!({"target": "etcd", "scenario": "claim", "clients": 16, "ops_per_sec": 2000.0}),
            json!({"target": "etcd", "scenario": "claim", "clients": 1, "ops_per_sec": 1.0}),
            json!({"target": "etcd", "scenario": "uncontended", "clients": 16, "ops_per_sec": 1.0}),
        ];
        let groups = group(&lines, &["claim-done", "claim"]);
        assert_eq!(groups.len(), 3);
        let key = (1, 16, "baton-sqlite".to_owned());
        assert_eq!(groups[&key].runs, 2);
        assert_eq!(ratios(&groups, &key, "etcd"), vec![("etcd".to_owned(), 5.0)]);
        assert!(ratios(&groups, &(1, 16, "etcd".to_owned()), "etcd").is_empty());
    }

    #[test]
    fn medians_skip_missing_figures() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&[1.0, f64::NAN, 3.0]), Some(2.0));
        assert_eq!(median(&[]), None);
    }
}
