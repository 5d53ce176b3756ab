//! The cache table of `baton-bench summary`: GET and SET medians per concurrency, Baton ÷ Redis, the issue's
//! target (Baton GET ≥ 0.5× Redis) judged at 50 and 16 clients, and the hit latency at one client.
//!
//! The durability of each side is printed under the table, since it differs in kind and the figures mean
//! little without it. It does not read anything but `cache-*` lines.

use serde_json::Value;

use crate::peer_table::{self, Groups};

/// The scenarios this table knows, in print order.
pub const SCENARIOS: [&str; 2] = ["cache-get", "cache-set"];

/// The target: Baton's GET throughput at least this fraction of Redis's, at the same concurrency.
const GET_RATIO_TARGET: f64 = 0.5;
/// Concurrencies the target is judged at (50 is redis-benchmark's default).
const JUDGED_AT: [u64; 2] = [50, 16];

/// Whether a JSON result line belongs to the cache benchmark.
pub fn is_cache_line(v: &Value) -> bool {
    v["scenario"].as_str().is_some_and(|s| SCENARIOS.contains(&s))
}

/// Prints the cache table for lines already filtered with [`is_cache_line`].
pub fn print(lines: &[Value]) {
    let groups = peer_table::group(lines, &SCENARIOS);
    peer_table::print(&groups, &SCENARIOS, "redis", "Redis");
    println!("\nFigures are medians over runs; p50/p99 are one request's round trip. Baton: this crate's driver;");
    println!("Redis: redis-benchmark's own figures. srv/drv cpu: the server's and the load generator's CPU over the");
    println!("window (100% = one core). Baton/Redis: ops/s ratio, above 1 is better.");
    println!("Durability: Redis here runs without AOF or RDB and is NOT durable. Baton embedded keeps its cache in");
    println!("process memory (moka), not durable by design. Baton cluster reads a shared PostgreSQL table on every");
    println!("GET, and a SET writes it; the table is UNLOGGED, so it does not survive a PostgreSQL crash either.");
    print_targets(&groups);
}

fn print_targets(groups: &Groups) {
    let get = 0;
    println!("\nTargets (the issue):");
    for clients in JUDGED_AT {
        for (key, _) in groups.iter().filter(|((o, c, t), _)| *o == get && *c == clients && t.starts_with("baton")) {
            for (peer, r) in peer_table::ratios(groups, key, "redis") {
                let verdict = if r >= GET_RATIO_TARGET { "met" } else { "NOT met" };
                println!(
                    "  {} GET at {clients} clients: {r:.2}x {peer} (target >= {GET_RATIO_TARGET}x): {verdict}",
                    key.2
                );
            }
        }
    }
    let hits: Vec<_> = groups.iter().filter(|((o, c, _), _)| *o == get && *c == 1).collect();
    if !hits.is_empty() {
        println!("Hit latency (GET, 1 client, every key preloaded):");
        for ((_, _, target), g) in hits {
            let ms = |v: Option<f64>| v.map(|x| format!("{x:.3} ms")).unwrap_or_else(|| "?".into());
            println!("  {target}: p50 {}, p99 {}", ms(g.p50), ms(g.p99));
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn only_cache_scenarios_belong_here() {
        assert!(is_cache_line(&json!({"scenario": "cache-get"})));
        assert!(is_cache_line(&json!({"scenario": "cache-set"})));
        assert!(!is_cache_line(&json!({"scenario": "claim"})));
        assert!(!is_cache_line(&json!({"scenario": "uncontended"})));
    }
}
