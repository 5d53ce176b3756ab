//! The events table of `baton-bench summary`: medians over rounds, Baton's ratio to Message DB, and the issue's
//! targets checked against those medians.
//!
//! Every Baton label (`baton*`) is compared with every `messagedb*` run of the same scenario, clients and batch:
//! events/s, Baton ÷ Message DB, so above 1 means Baton did better. `subscribe` has no peer (Message DB has no
//! push subscription) and is checked against the latency target only.

use std::collections::BTreeMap;

use serde_json::Value;

/// The scenarios this table knows, in print order.
pub const SCENARIOS: [&str; 2] = ["append", "subscribe"];

/// The targets.
const RATIO_TARGET: f64 = 5.0;
const BATCHED_EMBEDDED_TARGET: f64 = 50_000.0;
const DELIVERY_P99_TARGET_MS: f64 = 10.0;

/// Whether a JSON result line belongs to the events benchmark.
pub fn is_events_line(v: &Value) -> bool {
    v["scenario"].as_str().is_some_and(|s| SCENARIOS.contains(&s))
}

#[derive(Default)]
struct Group {
    events: Vec<f64>,
    p50: Vec<f64>,
    p99: Vec<f64>,
    missing: u64,
    note: Option<String>,
}

/// (scenario order, clients, batch, target).
type Key = (usize, u64, u64, String);

fn median(values: &[f64]) -> Option<f64> {
    let mut v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return None;
    }
    v.sort_by(|a, b| a.total_cmp(b));
    let n = v.len();
    Some(if n % 2 == 1 { v[n / 2] } else { (v[n / 2 - 1] + v[n / 2]) / 2.0 })
}

fn cell(v: Option<f64>, digits: usize) -> String {
    v.map(|x| format!("{x:.digits$}")).unwrap_or_default()
}

fn group(lines: &[Value]) -> BTreeMap<Key, Group> {
    let mut groups: BTreeMap<Key, Group> = BTreeMap::new();
    for v in lines {
        let (Some(target), Some(scenario), Some(clients)) =
            (v["target"].as_str(), v["scenario"].as_str(), v["clients"].as_u64())
        else {
            continue;
        };
        let order = SCENARIOS.iter().position(|s| *s == scenario).unwrap_or(SCENARIOS.len());
        let batch = v["batch"].as_u64().unwrap_or(1);
        let g = groups.entry((order, clients, batch, target.to_owned())).or_default();
        g.events.push(v["ops_per_sec"].as_f64().unwrap_or(f64::NAN));
        g.p50.extend(v["p50_ms"].as_f64());
        g.p99.extend(v["p99_ms"].as_f64());
        g.missing += v["missing"].as_u64().unwrap_or(0);
        if let Some(note) = v["note"].as_str() {
            g.note = Some(note.to_owned());
        }
    }
    groups
}

/// Baton's events/s over each Message DB run's, for the same scenario, clients and batch.
fn ratios(groups: &BTreeMap<Key, Group>, key: &Key) -> Vec<(String, f64)> {
    let (order, clients, batch, target) = key;
    if !target.starts_with("baton") {
        return Vec::new();
    }
    let Some(ours) = median(&groups[key].events) else { return Vec::new() };
    groups
        .iter()
        .filter(|((o, c, b, t), _)| o == order && c == clients && b == batch && t.starts_with("messagedb"))
        .filter_map(|((_, _, _, peer), g)| median(&g.events).filter(|p| *p > 0.0).map(|p| (peer.clone(), ours / p)))
        .collect()
}

/// Prints the events table for the given result lines (already filtered with [`is_events_line`]).
pub fn print(lines: &[Value]) {
    let groups = group(lines);
    println!(
        "{:<10} {:>7} {:>5}  {:<22} {:>10} {:>9} {:>9} {:>5}  Baton vs Message DB",
        "scenario", "clients", "batch", "target", "events/s", "p50 ms", "p99 ms", "runs"
    );
    let mut notes: BTreeMap<String, usize> = BTreeMap::new();
    let mut current = None;
    for (key, g) in &groups {
        let (order, clients, batch, target) = key;
        if current != Some((*order, *clients, *batch)) {
            current = Some((*order, *clients, *batch));
            println!();
        }
        let ratio: Vec<String> = ratios(&groups, key).iter().map(|(peer, r)| format!("{r:.2}x {peer}")).collect();
        let mut marks = String::new();
        if let Some(note) = &g.note {
            let next = notes.len() + 1;
            marks.push_str(&format!(" [{}]", *notes.entry(note.clone()).or_insert(next)));
        }
        if g.missing > 0 {
            marks.push_str(&format!(" ({} events never delivered)", g.missing));
        }
        let row = format!(
            "{:<10} {:>7} {:>5}  {:<22} {:>10} {:>9} {:>9} {:>5}  {}{}",
            SCENARIOS.get(*order).unwrap_or(&"other"),
            clients,
            batch,
            target,
            cell(median(&g.events), 0),
            cell(median(&g.p50), 3),
            cell(median(&g.p99), 3),
            g.events.len(),
            ratio.join(", "),
            marks
        );
        println!("{}", row.trim_end());
    }
    let mut by_number: Vec<_> = notes.into_iter().collect();
    by_number.sort_by_key(|(_, n)| *n);
    for (note, n) in by_number {
        println!("[{n}] {note}");
    }
    println!("\nFigures are medians over runs. events/s: append = events acknowledged; subscribe = events delivered.");
    println!("p50/p99: append = one request (of `batch` events); subscribe = from sending the append to the $all");
    println!(
        "subscriber reading the event. Baton vs Message DB: events/s ratio (Baton / Message DB); above 1 is better."
    );
    print_targets(&groups);
}

/// The targets, each with the medians it was judged on.
fn print_targets(groups: &BTreeMap<Key, Group>) {
    let verdict = |ok: bool| if ok { "met" } else { "NOT met" };
    println!("\nTargets (the issue):");
    let append = 0;
    let subscribe = 1;
    for (key, _) in
        groups.iter().filter(|((o, c, b, t), _)| *o == append && *c == 8 && *b == 1 && t.starts_with("baton"))
    {
        for (peer, r) in ratios(groups, key) {
            println!(
                "  {} at 8 clients, single events: {r:.2}x {peer} (target >= {RATIO_TARGET}x): {}",
                key.3,
                verdict(r >= RATIO_TARGET)
            );
        }
    }
    for (key, g) in
        groups.iter().filter(|((o, c, b, t), _)| *o == append && *c == 8 && *b == 100 && t.starts_with("baton"))
    {
        if key.3.contains("sqlite")
            && let Some(events) = median(&g.events)
        {
            println!(
                "  {} at 8 clients x batches of 100: {events:.0} events/s (target >= {BATCHED_EMBEDDED_TARGET:.0}): {}",
                key.3,
                verdict(events >= BATCHED_EMBEDDED_TARGET)
            );
        }
    }
    for (key, g) in groups.iter().filter(|((o, _, _, _), _)| *o == subscribe) {
        if let Some(p99) = median(&g.p99) {
            let missing = if g.missing > 0 { format!(", {} events never delivered", g.missing) } else { String::new() };
            println!(
                "  {} delivery p99: {p99:.3} ms (target < {DELIVERY_P99_TARGET_MS} ms): {}{missing}",
                key.3,
                verdict(p99 < DELIVERY_P99_TARGET_MS && g.missing == 0)
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn baton_is_compared_with_message_db_at_the_same_shape() {
        let lines = vec![
            json!({"target": "baton-postgres", "scenario": "append", "clients": 8, "batch": 1, "ops_per_sec": 20000.0}),
            json!({"target": "baton-postgres", "scenario": "append", "clients": 8, "batch": 1, "ops_per_sec": 30000.0}),
            json!({"target": "messagedb", "scenario": "append", "clients": 8, "batch": 1, "ops_per_sec": 5000.0}),
            json!({"target": "messagedb", "scenario": "append", "clients": 8, "batch": 100, "ops_per_sec": 1.0}),
        ];
        let groups = group(&lines);
        let key = (0, 8, 1, "baton-postgres".to_owned());
        assert_eq!(ratios(&groups, &key), vec![("messagedb".to_owned(), 5.0)]);
        assert!(ratios(&groups, &(0, 8, 1, "messagedb".to_owned())).is_empty());
    }

    #[test]
    fn only_event_scenarios_belong_here() {
        assert!(is_events_line(&json!({"scenario": "subscribe"})));
        assert!(!is_events_line(&json!({"scenario": "pickup"})));
        assert!(!is_events_line(&json!({"scenario": "uncontended"})));
    }
}
