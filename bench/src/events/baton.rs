//! The event scenarios against Baton, over its HTTP events API: `POST /api/v1/events/{stream}` and the `$all`
//! Server-Sent Events subscription.
//!
//! The bench codes against the wire contract (its own HTTP/1.1 driver and SSE reader) instead of `baton-client`,
//! so a change of the SDK cannot change what is measured. Each client has its own keep-alive connection, over
//! the raw driver by default (`--http`, see `http1.rs`), as the lock, claims, cache and jobs benchmarks. It does
//! not retry: any answer other than 201 is an error that ends the measurement.

use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use eventsource_stream::Eventsource as _;
use futures_util::StreamExt as _;
use hyper::body::Bytes;
use hyper::{Method, StatusCode};
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::sync::mpsc;

use crate::http1::{HttpClient, describe_failure, path_segment};

use super::load::{Appender, append_window};
use super::{DELIVERY_GRACE, EVENT_TYPE, EventScenario, EventsMeasurement, EventsSpec, metadata, payload};

/// How long the subscriber may take to deliver the warm-up event, before the clock starts.
const WARM_UP_TIMEOUT: Duration = Duration::from_secs(10);

pub async fn run(spec: &EventsSpec, url: &str, subscribe_url: &str) -> Result<EventsMeasurement> {
    let mut measurement = match spec.scenario {
        EventScenario::Append => {
            let mut clients = Vec::with_capacity(spec.clients);
            for _ in 0..spec.clients {
                clients.push(EventsClient::connect(spec, url).await?);
            }
            append_window(spec, clients).await?
        }
        EventScenario::Subscribe => subscribe(spec, url, subscribe_url).await?,
    };
    let client = format!("appends over the {} HTTP client, one connection each", spec.http.as_str());
    measurement.note = Some(match measurement.note.take() {
        Some(note) => format!("{note}; {client}"),
        None => client,
    });
    Ok(measurement)
}

/// The part of an append answer the bench checks.
#[derive(Debug, Deserialize)]
struct AppendAnswer {
    event_ids: Vec<String>,
}

/// One client of one Baton server, with its own connection.
struct EventsClient {
    http: HttpClient,
}

impl EventsClient {
    /// Opens the connection before the clock starts (and checks `GET /health`), so no measured request pays for
    /// it.
    async fn connect(spec: &EventsSpec, base: &str) -> Result<Self> {
        Ok(Self { http: HttpClient::connect(spec.http, base).await? })
    }
}

impl Appender for EventsClient {
    async fn append(&mut self, stream: &str, client: usize, first_seq: u64, batch: usize) -> Result<()> {
        let body = if batch == 1 {
            json!({"event_type": EVENT_TYPE, "data": payload(client, first_seq), "metadata": metadata(client)})
        } else {
            let events: Vec<Value> = (first_seq..first_seq + batch as u64)
                .map(
                    |seq| json!({"event_type": EVENT_TYPE, "data": payload(client, seq), "metadata": metadata(client)}),
                )
                .collect();
            json!({"events": events})
        };
        let path = format!("/api/v1/events/{}", path_segment(stream));
        let url = format!("{}{path}", self.http.base());
        let body = Bytes::from(serde_json::to_vec(&body).context("encode the request")?);
        let (status, bytes) = self.http.request(Method::POST, &path, Some(body)).await?;
        if status != StatusCode::CREATED {
            bail!(describe_failure(&format!("POST {url}"), "events", status, &bytes));
        }
        let answer: AppendAnswer = serde_json::from_slice(&bytes)
            .with_context(|| format!("unexpected answer to POST {url}: {}", String::from_utf8_lossy(&bytes)))?;
        if answer.event_ids.len() != batch {
            bail!("an append of {batch} events to {stream} returned {} event ids", answer.event_ids.len());
        }
        Ok(())
    }
}

/// What the subscriber task reports.
#[derive(Debug)]
enum Delivery {
    /// `caught_up`: the subscription is registered and live.
    Live,
    /// One of this run's events, by sequence number, and when its bytes arrived.
    Event(u64, Instant),
}

/// The `subscribe` scenario: a live `$all` subscriber on `subscribe_url`, a sequential appender on `url`.
async fn subscribe(spec: &EventsSpec, url: &str, subscribe_url: &str) -> Result<EventsMeasurement> {
    let mut appender = EventsClient::connect(spec, url).await?;
    let (tx, mut deliveries) = mpsc::unbounded_channel::<Delivery>();
    let reader = tokio::spawn(read_subscription(subscribe_url.trim_end_matches('/').to_owned(), spec.clone(), tx));

    // Warm-up: the subscription must be live (`caught_up`), and event 0 must come through it, before the clock
    // starts. A live-only subscription does not see what was appended before it was registered.
    match tokio::time::timeout(WARM_UP_TIMEOUT, deliveries.recv()).await {
        Ok(Some(Delivery::Live)) => {}
        Ok(Some(Delivery::Event(seq, _))) => bail!("the subscriber got event {seq} before caught_up"),
        Ok(None) => return Err(subscriber_error(reader).await),
        Err(_) => bail!("the subscription did not send caught_up within {WARM_UP_TIMEOUT:?}"),
    }
    append_one(&mut appender, spec, 0).await?;
    match tokio::time::timeout(WARM_UP_TIMEOUT, deliveries.recv()).await {
        Ok(Some(Delivery::Event(0, _))) => {}
        Ok(Some(Delivery::Event(seq, _))) => bail!("the subscriber got event {seq} before the warm-up event 0"),
        Ok(Some(Delivery::Live)) => bail!("the subscription sent caught_up twice"),
        Ok(None) => return Err(subscriber_error(reader).await),
        Err(_) => bail!("the warm-up event was not delivered within {WARM_UP_TIMEOUT:?}"),
    }

    // The window: one append every interval, each timed from just before its request is sent.
    let deadline = Instant::now() + spec.duration;
    let mut ticker = tokio::time::interval(spec.interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut sent_at: Vec<Instant> = Vec::new();
    let mut append_latencies = Vec::new();
    loop {
        ticker.tick().await;
        let t0 = Instant::now();
        if t0 >= deadline {
            break;
        }
        sent_at.push(t0);
        append_one(&mut appender, spec, sent_at.len() as u64).await?;
        append_latencies.push(t0.elapsed());
    }

    // Wait for the last deliveries, then match them to their sends.
    let sent = sent_at.len();
    let mut received: Vec<Option<Instant>> = vec![None; sent];
    let mut got = 0;
    let grace_end = tokio::time::Instant::now() + DELIVERY_GRACE;
    while got < sent {
        match tokio::time::timeout_at(grace_end, deliveries.recv()).await {
            Ok(Some(Delivery::Event(seq, at))) => {
                let Some(slot) = (seq as usize).checked_sub(1).and_then(|i| received.get_mut(i)) else {
                    bail!("the subscriber got event {seq}, which was never sent");
                };
                if slot.replace(at).is_some() {
                    bail!("the subscriber got event {seq} twice");
                }
                got += 1;
            }
            Ok(Some(Delivery::Live)) => bail!("the subscription sent caught_up twice"),
            Ok(None) => return Err(subscriber_error(reader).await),
            Err(_) => break,
        }
    }
    reader.abort();
    let latencies: Vec<Duration> =
        sent_at.iter().zip(&received).filter_map(|(t0, at)| at.map(|at| at.saturating_duration_since(*t0))).collect();
    let cross = url.trim_end_matches('/') != subscribe_url.trim_end_matches('/');
    Ok(EventsMeasurement {
        clients: 1,
        batch: 1,
        events: latencies.len() as u64,
        latencies,
        sent: Some(sent as u64),
        missing: Some((sent - got) as u64),
        append_latencies,
        interval_ms: Some(spec.interval.as_millis() as u64),
        note: Some(if cross {
            format!("appends on {url}, $all SSE subscriber on {subscribe_url} (another node, same database)")
        } else {
            "appends and the $all SSE subscriber on the same node".to_owned()
        }),
        ..Default::default()
    })
}

/// The subscribe scenario's appends: event `seq` to the run's one stream, which the subscriber watches for.
async fn append_one(appender: &mut EventsClient, spec: &EventsSpec, seq: u64) -> Result<()> {
    appender.append(&spec.stream(0, 0), 0, seq, 1).await
}

/// Reads the `$all` subscription and reports each of this run's events with the time its bytes arrived.
async fn read_subscription(base: String, spec: EventsSpec, tx: mpsc::UnboundedSender<Delivery>) -> Result<()> {
    let url = format!("{base}/api/v1/events/$all/subscribe");
    let http = reqwest::Client::builder().build().context("build HTTP client")?;
    let response =
        http.get(&url).header("accept", "text/event-stream").send().await.with_context(|| format!("GET {url}"))?;
    let status = response.status();
    if status != StatusCode::OK {
        let bytes = response.bytes().await.unwrap_or_default();
        bail!(describe_failure(&format!("GET {url}"), "events", status, &bytes));
    }
    let ours = spec.stream(0, 0);
    let mut events = response.bytes_stream().eventsource();
    while let Some(event) = events.next().await {
        let event = event.with_context(|| format!("read the subscription {url}"))?;
        let at = Instant::now();
        match event.event.as_str() {
            "message" => {}
            "caught_up" => {
                if tx.send(Delivery::Live).is_err() {
                    return Ok(());
                }
                continue;
            }
            other => bail!("the subscription sent a `{other}` event: {}", event.data),
        }
        let view: Value = serde_json::from_str(&event.data)
            .with_context(|| format!("the subscription sent an event that is not JSON: {}", event.data))?;
        if view["stream_id"].as_str() != Some(ours.as_str()) {
            continue;
        }
        let seq = view["data"]["seq"].as_u64().context("one of the run's events has no data.seq")?;
        if tx.send(Delivery::Event(seq, at)).is_err() {
            return Ok(());
        }
    }
    bail!("the server ended the subscription {url}")
}

/// Why the subscriber stopped: its error, or a note that it ended without one.
async fn subscriber_error(reader: tokio::task::JoinHandle<Result<()>>) -> anyhow::Error {
    match reader.await {
        Ok(Err(err)) => err.context("the $all subscriber failed"),
        Ok(Ok(())) => anyhow::anyhow!("the $all subscriber stopped"),
        Err(err) => anyhow::anyhow!("the $all subscriber panicked: {err}"),
    }
}
