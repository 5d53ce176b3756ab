//! The cache scenarios against Redis, measured by the real `redis-benchmark` tool, which this module runs and
//! parses.
//!
//! Preload: every key of the keyspace is SET to `value_bytes` of `x` (what `redis-benchmark -d` writes), in
//! pipelined batches over the `redis` crate, so every GET hits. redis-benchmark runs by request count, not by
//! time, so a calibration run (`-n` [`CALIBRATION_REQUESTS`], also the warm-up) measures the rate first, and
//! the measured run's `-n` is that rate times the window:
//! `redis-benchmark -h H -p P -t get|set -c C -n N -d SIZE -r KEYSPACE -P 1 --csv`. Its figures (requests/s,
//! p50, p99, max, from its own histogram) become the JSON line; its CPU use is sampled from `/proc` while it
//! runs. This module neither starts Redis nor changes its configuration; it reports the persistence it found.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use serde_json::{Value, json};
use tokio::io::AsyncReadExt as _;

use super::{CacheScenario, CacheSpec};
use crate::closed_loop::{add_cpu, round};
use crate::cpu::{Sample, cpu_secs};

/// Requests of the calibration run, which sizes the measured one.
const CALIBRATION_REQUESTS: u64 = 20_000;
/// SETs per pipelined batch when preloading.
const PRELOAD_BATCH: u64 = 1000;

pub async fn run(spec: &CacheSpec, url: &str, label: &str, tool: &Path) -> Result<Value> {
    let (host, port) = host_port(url)?;
    let persistence = preload(spec, url).await?;
    let calibration = redis_benchmark(tool, &host, port, spec, CALIBRATION_REQUESTS, None).await?;
    let requests = ((calibration.rps * spec.duration.as_secs_f64()) as u64).max(1000);
    let measured = redis_benchmark(tool, &host, port, spec, requests, spec.server_pid).await?;

    let mut line = json!({
        "target": label,
        "scenario": spec.scenario.as_str(),
        "clients": spec.clients,
        "ops_per_sec": round(measured.rps, 1),
        "p50_ms": measured.p50_ms,
        "p99_ms": measured.p99_ms,
        "max_ms": measured.max_ms,
        "ops": requests,
        "duration_secs": round(requests as f64 / measured.rps, 3),
        "value_bytes": spec.value_bytes,
        "keyspace": spec.keyspace,
    });
    add_cpu(&mut line, measured.server_cpu_pct, measured.driver_cpu_pct);
    line["note"] = json!(format!(
        "redis-benchmark -P 1 (one single-threaded C client process), {persistence}; calibrated at {:.0}/s",
        calibration.rps
    ));
    Ok(line)
}

/// `redis://host:port` (a trailing `/db` is ignored; redis-benchmark uses database 0, as the preload does).
fn host_port(url: &str) -> Result<(String, u16)> {
    let rest = url.strip_prefix("redis://").with_context(|| format!("{url}: not a redis:// URL"))?;
    let authority = rest.split('/').next().unwrap_or(rest);
    let (host, port) = authority.rsplit_once(':').unwrap_or((authority, "6379"));
    Ok((host.to_owned(), port.parse().with_context(|| format!("{url}: bad port"))?))
}

/// SETs the whole keyspace; returns Redis's persistence settings, in words, for the note.
async fn preload(spec: &CacheSpec, url: &str) -> Result<String> {
    let client = redis::Client::open(url).with_context(|| format!("redis URL {url}"))?;
    let mut conn = client.get_multiplexed_async_connection().await.with_context(|| format!("connect to {url}"))?;
    let value = spec.redis_value();
    let mut first = 0;
    while first < spec.keyspace {
        let last = (first + PRELOAD_BATCH).min(spec.keyspace);
        let mut pipe = redis::pipe();
        for i in first..last {
            pipe.cmd("SET").arg(CacheSpec::key(i)).arg(&value).ignore();
        }
        pipe.query_async::<()>(&mut conn).await.context("preload SETs")?;
        first = last;
    }
    let config = |name: &'static str| {
        let mut conn = conn.clone();
        async move {
            let pair: Vec<String> = redis::cmd("CONFIG").arg("GET").arg(name).query_async(&mut conn).await?;
            anyhow::Ok(pair.get(1).cloned().unwrap_or_default())
        }
    };
    let (aof, save) = (config("appendonly").await?, config("save").await?);
    Ok(if aof == "no" && save.is_empty() {
        "no persistence (appendonly no, save \"\"): NOT durable".to_owned()
    } else {
        format!("appendonly {aof}, save \"{save}\"")
    })
}

/// The figures of one redis-benchmark run.
#[derive(Debug, Default, PartialEq)]
struct Figures {
    rps: f64,
    p50_ms: f64,
    p99_ms: f64,
    max_ms: f64,
    server_cpu_pct: Option<f64>,
    driver_cpu_pct: Option<f64>,
}

async fn redis_benchmark(
    tool: &Path,
    host: &str,
    port: u16,
    spec: &CacheSpec,
    requests: u64,
    server_pid: Option<u32>,
) -> Result<Figures> {
    let test = match spec.scenario {
        CacheScenario::Get => "get",
        CacheScenario::Set => "set",
    };
    let mut command = tokio::process::Command::new(tool);
    command
        .args(["-h", host, "-p", &port.to_string(), "-t", test, "-c", &spec.clients.to_string()])
        .args(["-n", &requests.to_string(), "-d", &spec.value_bytes.to_string()])
        .args(["-r", &spec.keyspace.to_string(), "-P", "1", "--csv"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let mut child = command.spawn().with_context(|| format!("run {}", tool.display()))?;
    let pid = child.id();
    let server0 = Sample::take(server_pid);
    let started = std::time::Instant::now();
    let mut stdout = child.stdout.take().context("redis-benchmark stdout")?;
    let mut stderr = child.stderr.take().context("redis-benchmark stderr")?;
    let reader = tokio::spawn(async move {
        let (mut out, mut err) = (String::new(), String::new());
        let _ = tokio::join!(stdout.read_to_string(&mut out), stderr.read_to_string(&mut err));
        (out, err)
    });
    // Its own CPU time, sampled until it exits (the last reading is at most one tick short).
    let mut driver_secs = None;
    let mut tick = tokio::time::interval(Duration::from_millis(50));
    let limit = spec.duration * 10 + Duration::from_secs(60);
    let status = loop {
        tokio::select! {
            status = child.wait() => break status.context("wait for redis-benchmark")?,
            _ = tick.tick() => {
                driver_secs = pid.and_then(|pid| cpu_secs(Some(pid))).or(driver_secs);
                if started.elapsed() > limit {
                    child.kill().await.ok();
                    bail!("redis-benchmark still running after {limit:?}; killed");
                }
            }
        }
    };
    let wall = started.elapsed().as_secs_f64();
    let server1 = Sample::take(server_pid);
    let (out, err) = reader.await.context("redis-benchmark reader")?;
    if !status.success() {
        bail!("redis-benchmark failed ({status}): {}{}", out.trim(), err.trim());
    }
    let mut figures = parse_csv(&out).with_context(|| format!("redis-benchmark output: {out}{err}"))?;
    figures.server_cpu_pct = server_pid.and_then(|_| server0.pct_until(&server1));
    figures.driver_cpu_pct = driver_secs.map(|secs| 100.0 * secs / wall);
    Ok(figures)
}

/// Reads redis-benchmark's `--csv` output: a header line, then one line per test.
fn parse_csv(out: &str) -> Result<Figures> {
    let mut lines = out.lines().map(str::trim).filter(|l| l.starts_with('"'));
    let header: Vec<String> = lines.next().context("no CSV header")?.split(',').map(unquote).collect();
    let row: Vec<String> = lines.next().context("no CSV row")?.split(',').map(unquote).collect();
    let column = |name: &str| -> Result<f64> {
        let i = header.iter().position(|h| h == name).with_context(|| format!("no column {name}"))?;
        row.get(i).with_context(|| format!("no value for {name}"))?.parse().with_context(|| format!("bad {name}"))
    };
    Ok(Figures {
        rps: column("rps")?,
        p50_ms: column("p50_latency_ms")?,
        p99_ms: column("p99_latency_ms")?,
        max_ms: column("max_latency_ms")?,
        ..Default::default()
    })
}

fn unquote(field: &str) -> String {
    field.trim().trim_matches('"').to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redis_benchmark_csv_is_read_by_column_name() {
        let out = "\"test\",\"rps\",\"avg_latency_ms\",\"min_latency_ms\",\"p50_latency_ms\",\"p95_latency_ms\",\
                   \"p99_latency_ms\",\"max_latency_ms\"\n\"GET\",\"21551.72\",\"1.493\",\"0.224\",\"1.031\",\
                   \"4.975\",\"9.047\",\"13.679\"\n";
        let figures = parse_csv(out).unwrap();
        assert_eq!(
            figures,
            Figures { rps: 21551.72, p50_ms: 1.031, p99_ms: 9.047, max_ms: 13.679, ..Default::default() }
        );
    }

    #[test]
    fn urls_give_host_and_port() {
        assert_eq!(host_port("redis://127.0.0.1:6390").unwrap(), ("127.0.0.1".to_owned(), 6390));
        assert_eq!(host_port("redis://localhost/0").unwrap(), ("localhost".to_owned(), 6379));
        assert!(host_port("http://x").is_err());
    }
}
