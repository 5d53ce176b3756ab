//! The workflows table of `baton-bench summary`: medians over rounds per scenario and target, Baton's ratio to
//! DBOS, and the targets checked against those medians.

use std::collections::BTreeMap;

use serde_json::Value;

/// The targets.
const RATIO_TARGET: f64 = 5.0;
const EMBEDDED_P50_TARGET_MS: f64 = 1.5;

pub fn is_workflows_line(v: &Value) -> bool {
    v["bench"].as_str() == Some("workflows")
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

#[derive(Default)]
struct Group {
    rate: Vec<f64>,
    p50: Vec<f64>,
    p99: Vec<f64>,
    wal: Vec<f64>,
}

pub fn print(lines: &[Value]) {
    let mut groups: BTreeMap<(String, u64, String), Group> = BTreeMap::new();
    for v in lines {
        let (Some(scenario), Some(clients), Some(target)) =
            (v["scenario"].as_str(), v["clients"].as_u64(), v["target"].as_str())
        else {
            continue;
        };
        let group = groups.entry((scenario.to_owned(), clients, target.to_owned())).or_default();
        group.rate.extend(v["ops_per_sec"].as_f64());
        group.p50.extend(v["p50_ms"].as_f64());
        group.p99.extend(v["p99_ms"].as_f64());
        group.wal.extend(v["wal_syncs_per_workflow"].as_f64());
    }
    println!("Durable workflows (3 no-op steps), medians over rounds; ratio = workflows/s, Baton ÷ DBOS");
    println!(
        "{:<12} {:>7} {:<16} {:>12} {:>9} {:>9} {:>10} {:>8}",
        "scenario", "flight", "target", "workflows/s", "p50 ms", "p99 ms", "WAL syncs", "÷ DBOS"
    );
    let mut verdicts = Vec::new();
    for ((scenario, clients, target), group) in &groups {
        let rate = median(&group.rate);
        let dbos = groups.get(&(scenario.clone(), *clients, "dbos".to_owned())).and_then(|g| median(&g.rate));
        let ratio = match (rate, dbos) {
            (Some(rate), Some(dbos)) if target != "dbos" && dbos > 0.0 => Some(rate / dbos),
            _ => None,
        };
        let cell = |v: Option<f64>, digits: usize| v.map(|x| format!("{x:.digits$}")).unwrap_or_default();
        println!(
            "{scenario:<12} {clients:>7} {target:<16} {:>12} {:>9} {:>9} {:>10} {:>8}",
            cell(rate, 1),
            cell(median(&group.p50), 2),
            cell(median(&group.p99), 2),
            cell(median(&group.wal), 2),
            cell(ratio, 2)
        );
        if let Some(ratio) = ratio.filter(|_| scenario == "inflight") {
            let met = if ratio >= RATIO_TARGET { "met" } else { "NOT met" };
            verdicts
                .push(format!("{target} at {clients} in flight: {ratio:.2}× DBOS (target ≥ {RATIO_TARGET}×): {met}"));
        }
        if let Some(p50) = median(&group.p50).filter(|_| scenario == "sequential" && target == "baton-sqlite") {
            let met = if p50 < EMBEDDED_P50_TARGET_MS { "met" } else { "NOT met" };
            verdicts.push(format!("{target} sequential p50 {p50:.2} ms (target < {EMBEDDED_P50_TARGET_MS} ms): {met}"));
        }
    }
    for verdict in verdicts {
        println!("  {verdict}");
    }
}
