//! `baton-bench cache`: cache GET and SET throughput and hit latency, Baton's HTTP cache API against Redis.
//!
//! One invocation runs one scenario (`get` or `set`) against one target at one concurrency and prints one JSON
//! line. The workload is redis-benchmark's own, given to both systems:
//!
//! - a keyspace of [`CacheArgs::keyspace`] keys (10,000), named `key:%012d` as redis-benchmark's
//!   `key:__rand_int__` with `-r 10000` names them, all preloaded with the same value before the clock starts,
//!   so every GET is a hit;
//! - a value of [`CacheArgs::value_bytes`] (100) bytes: redis-benchmark's `-d 100` (`xxx…`); for Baton, whose
//!   values are JSON, a JSON string of the same 100 bytes (`"xx…x"`);
//! - C clients, each on its own keep-alive connection, one request per round trip (`-P 1`, no pipelining),
//!   each request on a uniformly random key of the keyspace; SET has no TTL and no tags on either side.
//!
//! Baton is driven from here (`baton.rs`, over `http1.rs`); Redis by the real `redis-benchmark` tool, which
//! this subcommand preloads for, runs and parses (`redis.rs`). It does not start or stop any server:
//! `bench/run-cache.sh` does.

mod baton;
mod redis;
pub mod summary;

use std::path::PathBuf;
use std::time::Duration;

use clap::ValueEnum;

use crate::http1::HttpKind;

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum CacheTarget {
    Baton,
    Redis,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum CacheScenario {
    Get,
    Set,
}

impl CacheScenario {
    /// The `scenario` of the JSON line; prefixed so the summary can tell these lines from the lock ones.
    pub fn as_str(self) -> &'static str {
        match self {
            CacheScenario::Get => "cache-get",
            CacheScenario::Set => "cache-set",
        }
    }
}

#[derive(clap::Args, Debug)]
pub struct CacheArgs {
    #[arg(long, value_enum)]
    target: CacheTarget,
    #[arg(long, value_enum)]
    scenario: CacheScenario,
    /// Baton: http://127.0.0.1:18080; redis: redis://127.0.0.1:6390 by default.
    #[arg(long)]
    url: Option<String>,
    /// Name printed as "target" (e.g. baton-sqlite); the target kind by default.
    #[arg(long)]
    label: Option<String>,
    /// Concurrent clients, each with its own connection (redis-benchmark's -c).
    #[arg(long, default_value_t = 50)]
    clients: usize,
    /// Length of the measurement window (Redis: redis-benchmark's -n is sized from a calibration run to last
    /// about this long).
    #[arg(long, default_value_t = 5)]
    duration_secs: u64,
    /// Untimed load before the window (Redis: the calibration run).
    #[arg(long, default_value_t = 1)]
    warmup_secs: u64,
    /// Keys preloaded, and read or written at random (redis-benchmark's -r).
    #[arg(long, default_value_t = 10_000)]
    keyspace: u64,
    /// Value size in bytes (redis-benchmark's -d).
    #[arg(long, default_value_t = 100)]
    value_bytes: usize,
    /// Baton: the HTTP client of the load generator.
    #[arg(long, value_enum, default_value = "raw")]
    http: HttpKind,
    /// The server's process id, to report its CPU use over the window (`server_cpu_pct`).
    #[arg(long)]
    server_pid: Option<u32>,
    /// Redis: the redis-benchmark binary.
    #[arg(long, default_value = "redis-benchmark")]
    redis_benchmark: PathBuf,
}

/// What one measurement needs to know, on every target.
#[derive(Clone, Debug)]
pub struct CacheSpec {
    pub scenario: CacheScenario,
    pub clients: usize,
    pub duration: Duration,
    pub warmup: Duration,
    pub keyspace: u64,
    pub value_bytes: usize,
    pub server_pid: Option<u32>,
}

impl CacheSpec {
    /// Key `i` of the keyspace, as redis-benchmark writes `key:__rand_int__`.
    pub fn key(i: u64) -> String {
        format!("key:{i:012}")
    }

    /// The raw value Redis stores: `value_bytes` of `x`, as redis-benchmark's `-d` fills it.
    pub fn redis_value(&self) -> Vec<u8> {
        vec![b'x'; self.value_bytes]
    }

    /// The JSON value Baton stores: a string whose JSON text is `value_bytes` long, quotes included.
    pub fn json_value(&self) -> String {
        format!("\"{}\"", "x".repeat(self.value_bytes.saturating_sub(2)))
    }
}

/// Runs one measurement and prints its JSON line.
pub async fn run(args: CacheArgs) -> anyhow::Result<()> {
    let spec = CacheSpec {
        scenario: args.scenario,
        clients: args.clients.max(1),
        duration: Duration::from_secs(args.duration_secs.max(1)),
        warmup: Duration::from_secs(args.warmup_secs),
        keyspace: args.keyspace.max(1),
        value_bytes: args.value_bytes.max(2),
        server_pid: args.server_pid,
    };
    let line = match args.target {
        CacheTarget::Baton => {
            let url = args.url.as_deref().unwrap_or("http://127.0.0.1:18080");
            let label = args.label.as_deref().unwrap_or("baton");
            baton::run(&spec, url, label, args.http).await?
        }
        CacheTarget::Redis => {
            let url = args.url.as_deref().unwrap_or("redis://127.0.0.1:6390");
            let label = args.label.as_deref().unwrap_or("redis");
            redis::run(&spec, url, label, &args.redis_benchmark).await?
        }
    };
    println!("{line}");
    Ok(())
}

/// A small, fast generator for the random keys (xorshift64*): the load generator should spend its CPU on
/// requests, and the keys need only be spread uniformly, not be unpredictable.
pub struct KeyPicker(u64);

impl KeyPicker {
    pub fn new(seed: u64) -> Self {
        Self(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    /// A key index in `0..keyspace`.
    pub fn next(&mut self, keyspace: u64) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D) % keyspace
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> CacheSpec {
        CacheSpec {
            scenario: CacheScenario::Get,
            clients: 50,
            duration: Duration::from_secs(1),
            warmup: Duration::ZERO,
            keyspace: 10_000,
            value_bytes: 100,
            server_pid: None,
        }
    }

    #[test]
    fn keys_are_named_as_redis_benchmark_names_them() {
        assert_eq!(CacheSpec::key(42), "key:000000000042");
        assert_eq!(CacheSpec::key(9_999), "key:000000009999");
    }

    #[test]
    fn both_targets_store_values_of_the_same_size() {
        let spec = spec();
        assert_eq!(spec.redis_value().len(), 100);
        let json = spec.json_value();
        assert_eq!(json.len(), 100);
        assert!(serde_json::from_str::<String>(&json).is_ok());
    }

    #[test]
    fn picked_keys_cover_the_keyspace_evenly() {
        let mut picker = KeyPicker::new(7);
        let mut buckets = [0u32; 10];
        for _ in 0..100_000 {
            let k = picker.next(10_000);
            assert!(k < 10_000);
            buckets[(k / 1000) as usize] += 1;
        }
        assert!(buckets.iter().all(|&b| (9_000..11_000).contains(&b)), "{buckets:?}");
    }
}
