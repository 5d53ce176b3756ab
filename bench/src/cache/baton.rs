//! The cache scenarios against one Baton server, over its HTTP cache API.
//!
//! Preload: `POST /api/v1/cache/bulk-set` in batches of [`PRELOAD_BATCH`] (the server's batch limit), then one
//! `GET` whose answer is parsed in full, to prove the keys hit and the value round-trips byte for byte.
//! The window: `GET /api/v1/cache/key:%012d` (200 with the entry, or the measurement fails: a 404
//! `CACHE_MISS` would mean the preload did not hold), or `PUT /api/v1/cache/key:%012d` with
//! `{"value": "xx…x"}` (200). In the loop only the status is checked, as redis-benchmark checks only that a
//! reply arrived; the answers are read in full, never parsed.

use anyhow::{Context, Result, bail};
use hyper::body::Bytes;
use hyper::{Method, StatusCode};
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{Value, json};

use super::{CacheScenario, CacheSpec, KeyPicker};
use crate::closed_loop::{self, Worker};
use crate::http1::{HttpClient, HttpKind, describe_failure};

/// Entries per bulk-set request when preloading; Baton takes at most 1000 items per batch.
const PRELOAD_BATCH: u64 = 1000;

pub async fn run(spec: &CacheSpec, url: &str, label: &str, http: HttpKind) -> Result<Value> {
    let mut loader = HttpClient::connect(http, url).await?;
    preload(&mut loader, spec).await?;
    check_hit(&mut loader, spec).await?;
    drop(loader);

    let set_body = Bytes::from(format!("{{\"value\":{}}}", spec.json_value()));
    let mut workers = Vec::with_capacity(spec.clients);
    for idx in 0..spec.clients {
        workers.push(CacheWorker {
            http: HttpClient::connect(http, url).await?,
            scenario: spec.scenario,
            keyspace: spec.keyspace,
            keys: KeyPicker::new(idx as u64 + 1),
            set_body: set_body.clone(),
        });
    }
    let window = closed_loop::run(workers, spec.warmup, spec.duration, spec.server_pid).await?;
    let mut line = window.line(label, spec.scenario.as_str());
    line["value_bytes"] = json!(spec.value_bytes);
    line["keyspace"] = json!(spec.keyspace);
    line["http"] = json!(http.as_str());
    line["note"] = json!(format!(
        "Baton HTTP API, load generator: this process, {} keep-alive HTTP/1.1 connection per client, tokio on {} threads",
        http.as_str(),
        std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1)
    ));
    Ok(line)
}

/// Stores every key of the keyspace with the benchmark's value.
async fn preload(http: &mut HttpClient, spec: &CacheSpec) -> Result<()> {
    let value = RawValue::from_string(spec.json_value()).context("the value is JSON")?;
    let mut first = 0;
    while first < spec.keyspace {
        let last = (first + PRELOAD_BATCH).min(spec.keyspace);
        let entries: Vec<Value> = (first..last).map(|i| json!({"key": CacheSpec::key(i), "value": &value})).collect();
        let body = Bytes::from(serde_json::to_vec(&json!({ "entries": entries }))?);
        let (status, answer) = http.request(Method::POST, "/api/v1/cache/bulk-set", Some(body)).await?;
        if status != StatusCode::OK {
            bail!(describe_failure("POST /api/v1/cache/bulk-set", "cache", status, &answer));
        }
        let stored: Value = serde_json::from_slice(&answer).context("the bulk-set answer is not JSON")?;
        if stored["stored"].as_u64() != Some(last - first) {
            bail!("bulk-set of {} entries answered {}", last - first, String::from_utf8_lossy(&answer));
        }
        first = last;
    }
    Ok(())
}

/// The part of a GET answer the check reads.
#[derive(Deserialize)]
struct Entry<'a> {
    key: String,
    #[serde(borrow)]
    value: &'a RawValue,
}

/// Reads the last preloaded key back and compares it with what was stored.
async fn check_hit(http: &mut HttpClient, spec: &CacheSpec) -> Result<()> {
    let key = CacheSpec::key(spec.keyspace - 1);
    let path = format!("/api/v1/cache/{key}");
    let (status, answer) = http.request(Method::GET, &path, None).await?;
    if status != StatusCode::OK {
        bail!("a preloaded key did not hit: {}", describe_failure(&format!("GET {path}"), "cache", status, &answer));
    }
    let entry: Entry = serde_json::from_slice(&answer)
        .with_context(|| format!("unexpected answer to GET {path}: {}", String::from_utf8_lossy(&answer)))?;
    if entry.key != key || entry.value.get() != spec.json_value() {
        bail!("GET {path} returned another entry: {}", String::from_utf8_lossy(&answer));
    }
    Ok(())
}

struct CacheWorker {
    http: HttpClient,
    scenario: CacheScenario,
    keyspace: u64,
    keys: KeyPicker,
    set_body: Bytes,
}

impl Worker for CacheWorker {
    async fn op(&mut self, _n: u64) -> Result<()> {
        let path = format!("/api/v1/cache/key:{:012}", self.keys.next(self.keyspace));
        let (method, body) = match self.scenario {
            CacheScenario::Get => (Method::GET, None),
            CacheScenario::Set => (Method::PUT, Some(self.set_body.clone())),
        };
        let (status, answer) = self.http.request(method.clone(), &path, body).await?;
        if status != StatusCode::OK {
            bail!(describe_failure(&format!("{method} {}{path}", self.http.base()), "cache", status, &answer));
        }
        Ok(())
    }
}
