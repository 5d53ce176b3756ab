//! `baton-bench events`: event-store append throughput and subscription latency, Baton against Message DB.
//!
//! One invocation runs one scenario against one target and prints one JSON line (see [`EventsMeasurement`]).
//! Baton is driven over raw HTTP (`baton.rs`, reading SSE with `eventsource-stream`, as the SDK does), Message DB over its SQL API
//! with `tokio-postgres` (`messagedb.rs`); both run the same append window (`load.rs`). The scenarios are defined once, in words, here:
//!
//! - `append`: C clients, each with its own connection opened before the clock starts, append back to back for
//!   S seconds, each request carrying `--batch` events (1, or 100 in one atomic append / one transaction) to
//!   one stream. A client spreads its requests over [`STREAMS_PER_CLIENT`] streams of its own, all in one
//!   category (`bench-…`). Figure: events acknowledged inside the window / S; latency = one request.
//! - `subscribe`: one `$all` subscriber (SSE, live only) and one sequential appender. The appender appends one
//!   event every `--interval-ms`; the latency of an event is from just before its append request is sent to
//!   the subscriber having read its `data:` line. The subscriber may sit on another node (`--subscribe-url`).
//!   Events not delivered within [`DELIVERY_GRACE`] after the window are counted as `missing`.
//!
//! Every event carries the same payload on both targets ([`payload`]): ~100 bytes of JSON data and a small
//! metadata object. This module does not start or stop any server: `bench/run-events.sh` does.

mod baton;
mod load;
mod messagedb;
pub mod summary;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use clap::ValueEnum;
use serde_json::{Value, json};

use crate::http1::HttpKind;
use crate::report::percentile_ms;

/// Streams each append client cycles through (`bench-<run>_<client>_<k>`).
pub const STREAMS_PER_CLIENT: u64 = 64;
/// The event type every benchmark event carries.
pub const EVENT_TYPE: &str = "BenchEvent";
/// How long clients may take to finish after the window before the measurement fails.
pub const GRACE: Duration = Duration::from_secs(40);
/// subscribe: how long after the window the subscriber may take to receive the last events sent.
pub const DELIVERY_GRACE: Duration = Duration::from_secs(5);

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum EventsTarget {
    Baton,
    Messagedb,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum EventScenario {
    Append,
    Subscribe,
}

impl EventScenario {
    pub fn as_str(self) -> &'static str {
        match self {
            EventScenario::Append => "append",
            EventScenario::Subscribe => "subscribe",
        }
    }
}

#[derive(clap::Args, Debug)]
pub struct EventsArgs {
    #[arg(long, value_enum)]
    target: EventsTarget,
    #[arg(long, value_enum)]
    scenario: EventScenario,
    /// Baton: http://127.0.0.1:18080; messagedb: postgres://postgres@127.0.0.1:5432/message_store by default.
    #[arg(long)]
    url: Option<String>,
    /// subscribe on Baton: the node the subscriber reads from (another node of the same cluster); --url by
    /// default. The appender always writes to --url.
    #[arg(long)]
    subscribe_url: Option<String>,
    /// Name printed as "target" (e.g. baton-sqlite); the target kind by default.
    #[arg(long)]
    label: Option<String>,
    /// append: concurrent clients, each with its own connection.
    #[arg(long, default_value_t = 1)]
    clients: usize,
    /// append: events per request (Baton: one batch append; Message DB: one transaction of write_message calls).
    #[arg(long, default_value_t = 1)]
    batch: usize,
    /// Length of the measurement window.
    #[arg(long, default_value_t = 5)]
    duration_secs: u64,
    /// subscribe: the appender appends one event every this many milliseconds.
    #[arg(long, default_value_t = 5)]
    interval_ms: u64,
    /// Baton: the HTTP client of the appenders.
    #[arg(long, value_enum, default_value = "raw")]
    http: HttpKind,
}

/// What one measurement needs to know, on every target.
#[derive(Clone, Debug)]
pub struct EventsSpec {
    pub scenario: EventScenario,
    pub clients: usize,
    pub batch: usize,
    pub duration: Duration,
    pub interval: Duration,
    /// Unique per measurement, and free of `-`, so stream names keep the one category `bench`.
    pub run_id: String,
    /// Baton: the HTTP client of the appenders.
    pub http: HttpKind,
}

impl EventsSpec {
    /// The stream a client's `n`-th request goes to: `bench-<run>_<client>_<k>`, category `bench`.
    pub fn stream(&self, client: usize, n: u64) -> String {
        format!("bench-{}_{client}_{}", self.run_id, n % STREAMS_PER_CLIENT)
    }
}

/// Runs one measurement and prints its JSON line.
pub async fn run(args: EventsArgs) -> anyhow::Result<()> {
    let spec = EventsSpec {
        scenario: args.scenario,
        clients: args.clients.max(1),
        batch: args.batch.clamp(1, 1000),
        duration: Duration::from_secs(args.duration_secs.max(1)),
        interval: Duration::from_millis(args.interval_ms.max(1)),
        run_id: run_id(),
        http: args.http,
    };
    let mut measurement = match args.target {
        EventsTarget::Baton => {
            let url = args.url.as_deref().unwrap_or("http://127.0.0.1:18080");
            let subscribe_url = args.subscribe_url.as_deref().unwrap_or(url);
            baton::run(&spec, url, subscribe_url).await?
        }
        EventsTarget::Messagedb => {
            let url = args.url.as_deref().unwrap_or("postgres://postgres@127.0.0.1:5432/message_store");
            messagedb::run(&spec, url).await?
        }
    };
    let kind = match args.target {
        EventsTarget::Baton => "baton",
        EventsTarget::Messagedb => "messagedb",
    };
    measurement.target = args.label.unwrap_or_else(|| kind.to_owned());
    measurement.scenario = spec.scenario.as_str();
    measurement.duration = spec.duration;
    println!("{}", measurement.to_json());
    Ok(())
}

/// The data of one event: about 100 bytes of JSON, the same on every target.
pub fn payload(client: usize, seq: u64) -> Value {
    json!({
        "account_id": format!("acct-{client:04}-{seq:010}"),
        "amount_cents": 12_345,
        "currency": "EUR",
        "memo": "benchmark deposit",
        "seq": seq,
    })
}

/// The metadata of one event: small, the same on every target.
pub fn metadata(client: usize) -> Value {
    json!({"source": "baton-bench", "client": client})
}

/// The result of one measurement.
#[derive(Debug, Default)]
pub struct EventsMeasurement {
    pub target: String,
    pub scenario: &'static str,
    pub clients: usize,
    pub batch: usize,
    pub duration: Duration,
    /// Events acknowledged (append) or delivered (subscribe) inside the window, or its grace.
    pub events: u64,
    /// Per request (append) or per event (subscribe: append start to delivery).
    pub latencies: Vec<Duration>,
    /// subscribe: events sent, events never delivered, and the appends' own round trips.
    pub sent: Option<u64>,
    pub missing: Option<u64>,
    pub append_latencies: Vec<Duration>,
    pub interval_ms: Option<u64>,
    pub note: Option<String>,
}

impl EventsMeasurement {
    pub fn to_json(&self) -> Value {
        let secs = self.duration.as_secs_f64();
        let mut sorted = self.latencies.clone();
        sorted.sort_unstable();
        let mut line = json!({
            "target": self.target,
            "scenario": self.scenario,
            "clients": self.clients,
            "batch": self.batch,
            "ops_per_sec": round(self.events as f64 / secs, 1),
            "p50_ms": round(percentile_ms(&sorted, 50.0), 3),
            "p99_ms": round(percentile_ms(&sorted, 99.0), 3),
            "ops": self.events,
            "duration_secs": self.duration.as_secs(),
        });
        if self.scenario == "append" {
            line["requests_per_sec"] = json!(round(self.latencies.len() as f64 / secs, 1));
        }
        if !sorted.is_empty() {
            line["max_ms"] = json!(round(sorted[sorted.len() - 1].as_secs_f64() * 1000.0, 3));
        }
        if let Some(sent) = self.sent {
            line["sent"] = json!(sent);
        }
        if let Some(missing) = self.missing {
            line["missing"] = json!(missing);
        }
        if let Some(interval) = self.interval_ms {
            line["interval_ms"] = json!(interval);
        }
        if !self.append_latencies.is_empty() {
            let mut appends = self.append_latencies.clone();
            appends.sort_unstable();
            line["append_p50_ms"] = json!(round(percentile_ms(&appends, 50.0), 3));
            line["append_p99_ms"] = json!(round(percentile_ms(&appends, 99.0), 3));
        }
        if let Some(note) = &self.note {
            line["note"] = json!(note);
        }
        line
    }
}

fn round(v: f64, digits: i32) -> f64 {
    let f = 10f64.powi(digits);
    (v * f).round() / f
}

/// Unique enough per measurement, and without `-`: process id and the current time in microseconds.
fn run_id() -> String {
    let micros = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_micros()).unwrap_or(0);
    format!("{}x{micros}", std::process::id())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_payload_is_about_a_hundred_bytes() {
        let size = serde_json::to_string(&payload(7, 123_456)).unwrap().len();
        assert!((90..=120).contains(&size), "{size} bytes");
    }

    #[test]
    fn every_stream_is_in_the_one_category_bench() {
        let spec = EventsSpec {
            scenario: EventScenario::Append,
            clients: 8,
            batch: 1,
            duration: Duration::from_secs(1),
            interval: Duration::from_millis(5),
            run_id: run_id(),
            http: HttpKind::Raw,
        };
        let stream = spec.stream(3, STREAMS_PER_CLIENT + 2);
        assert_eq!(stream.split('-').count(), 2, "{stream}");
        assert!(stream.starts_with("bench-") && stream.ends_with("_3_2"), "{stream}");
    }

    #[test]
    fn the_json_line_carries_what_summary_reads() {
        let m = EventsMeasurement {
            target: "baton-sqlite".into(),
            scenario: "append",
            clients: 8,
            batch: 100,
            duration: Duration::from_secs(2),
            events: 400,
            latencies: vec![Duration::from_millis(2), Duration::from_millis(1), Duration::from_millis(9)],
            ..Default::default()
        };
        let line = m.to_json();
        assert_eq!(line["scenario"], "append");
        assert_eq!(line["clients"], 8);
        assert_eq!(line["batch"], 100);
        assert_eq!(line["ops_per_sec"], 200.0);
        assert_eq!(line["requests_per_sec"], 1.5);
        assert_eq!(line["p50_ms"], 2.0);
        assert_eq!(line["p99_ms"], 9.0);
        assert!(line.get("missing").is_none());
    }
}
