//! The claims table of `baton-bench summary`: claims/s medians, Baton ÷ etcd, and the target (claim+done
//! pairs at 16 clients ≥ 5× etcd) judged on those medians. It does not read anything but claims lines.

use serde_json::Value;

use crate::peer_table;

/// The scenarios this table knows, in print order.
pub const SCENARIOS: [&str; 2] = ["claim-done", "claim"];

/// The target: Baton's claims/s at least this multiple of etcd's.
const RATIO_TARGET: f64 = 5.0;
const JUDGED_AT_CLIENTS: u64 = 16;

/// Whether a JSON result line belongs to the claims benchmark.
pub fn is_claims_line(v: &Value) -> bool {
    v["scenario"].as_str().is_some_and(|s| SCENARIOS.contains(&s))
}

/// Prints the claims table for lines already filtered with [`is_claims_line`].
pub fn print(lines: &[Value]) {
    let groups = peer_table::group(lines, &SCENARIOS);
    peer_table::print(&groups, &SCENARIOS, "etcd", "etcd");
    println!(
        "\nFigures are medians over runs. claim-done: one op = claim + done of a fresh item (the issue's figure);"
    );
    println!("claim: the claim alone. p50/p99: the op's round trip. srv/drv cpu: the server's and the load");
    println!("generator's CPU over the window (100% = one core). Baton/etcd: ops/s ratio, above 1 is better.");
    println!("Durability: etcd fsyncs every transaction (raft log). Baton: SQLite sqlite_synchronous=full (the WAL");
    println!("synced before an answer), or the PostgreSQL server's synchronous_commit and fsync (printed above).");
    println!("\nTargets (the issue):");
    let pairs = 0;
    for (key, _) in
        groups.iter().filter(|((o, c, t), _)| *o == pairs && *c == JUDGED_AT_CLIENTS && t.starts_with("baton"))
    {
        for (peer, r) in peer_table::ratios(&groups, key, "etcd") {
            let verdict = if r >= RATIO_TARGET { "met" } else { "NOT met" };
            println!(
                "  {} claims/s (claim+done) at {JUDGED_AT_CLIENTS} clients: {r:.2}x {peer} (target >= {RATIO_TARGET}x): {verdict}",
                key.2
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn only_claims_scenarios_belong_here() {
        assert!(is_claims_line(&json!({"scenario": "claim-done"})));
        assert!(is_claims_line(&json!({"scenario": "claim"})));
        assert!(!is_claims_line(&json!({"scenario": "cache-get"})));
        assert!(!is_claims_line(&json!({"scenario": "contended"})));
    }
}
