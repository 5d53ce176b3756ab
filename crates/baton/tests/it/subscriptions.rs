//! Subscriptions over SSE and WebSocket against a real embedded server: history then live with no gap and no
//! duplicate, reconnects, slow readers, limits and shutdown.

use std::time::{Duration, Instant};

use baton_client::{BatonClient, Subscribe, SubscriptionEvent, event_body};
use futures::{SinkExt as _, Stream, StreamExt as _};
use serde_json::{Value, json};

use crate::server::{Server, data_dir, temp_dir};

async fn append_batches(client: &BatonClient, stream: &str, batches: usize, size: usize) {
    for batch in 0..batches {
        let events = (0..size).map(|n| event_body("t", &json!({"batch": batch, "n": n}), None)).collect();
        client.append_events(stream, events, None).await.unwrap();
    }
}

/// Collects events until `count` arrived and the subscription said it caught up; returns the positions (or
/// versions) and how many `caught_up` came.
async fn collect(
    events: &mut (impl Stream<Item = Result<SubscriptionEvent, baton_client::ClientError>> + Unpin),
    count: usize,
    sequence: fn(&baton_api::event::EventView) -> i64,
) -> (Vec<i64>, usize) {
    let (mut seen, mut caught_up) = (Vec::new(), 0);
    while seen.len() < count || caught_up == 0 {
        let next = tokio::time::timeout(Duration::from_secs(20), events.next()).await.expect("no stall");
        match next.expect("stream open").expect("no error") {
            SubscriptionEvent::Event(event) => seen.push(sequence(&event)),
            SubscriptionEvent::CaughtUp => caught_up += 1,
        }
    }
    (seen, caught_up)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subscription_switches_from_history_to_live_under_load_without_gap_or_duplicate() {
    let temp = temp_dir();
    let server = Server::embedded(&data_dir(&temp));
    let client = server.client();
    append_batches(&client, "history", 3, 100).await;
    let mut events = Box::pin(
        client.subscribe(&Subscribe { stream: "$all".into(), from: Some(1), ..Subscribe::default() }).await.unwrap(),
    );
    // Live appends race the catch-up, from two writers on two streams.
    let writers: Vec<_> = ["live-a", "live-b"]
        .into_iter()
        .map(|stream| {
            let client = client.clone();
            tokio::spawn(async move { append_batches(&client, stream, 30, 5).await })
        })
        .collect();
    let (positions, caught_up) = collect(&mut events, 600, |event| event.global_position).await;
    for writer in writers {
        writer.await.unwrap();
    }
    assert_eq!(positions, (1..=600).collect::<Vec<_>>(), "every event once, in log order");
    assert_eq!(caught_up, 1);
    // Live from here on: the next append arrives too.
    append_batches(&client, "after", 1, 1).await;
    let next = tokio::time::timeout(Duration::from_secs(5), events.next()).await.unwrap().unwrap().unwrap();
    assert!(matches!(next, SubscriptionEvent::Event(event) if event.global_position == 601));
}

#[tokio::test]
async fn a_stream_subscription_follows_only_its_stream_from_a_version() {
    let temp = temp_dir();
    let server = Server::embedded(&data_dir(&temp));
    let client = server.client();
    append_batches(&client, "mine", 1, 5).await;
    append_batches(&client, "other", 1, 5).await;
    let subscribe = Subscribe { stream: "mine".into(), from: Some(3), ..Subscribe::default() };
    let mut events = Box::pin(client.subscribe(&subscribe).await.unwrap());
    append_batches(&client, "other", 1, 3).await;
    append_batches(&client, "mine", 1, 2).await;
    let (versions, _) = collect(&mut events, 4, |event| event.version).await;
    assert_eq!(versions, vec![3, 4, 5, 6]);
    // Without a start, only what is appended from now on.
    let mut live =
        Box::pin(client.subscribe(&Subscribe { stream: "mine".into(), ..Subscribe::default() }).await.unwrap());
    append_batches(&client, "mine", 1, 1).await;
    let (versions, _) = collect(&mut live, 1, |event| event.version).await;
    assert_eq!(versions, vec![7]);
}

/// Reads SSE text until `count` events arrived, and answers with their `id:` lines.
async fn sse_ids(response: reqwest::Response, count: usize) -> Vec<i64> {
    let mut body = response.bytes_stream();
    let (mut text, mut ids) = (String::new(), Vec::new());
    while ids.len() < count {
        let chunk = tokio::time::timeout(Duration::from_secs(10), body.next()).await.expect("no stall");
        text.push_str(&String::from_utf8_lossy(&chunk.expect("open").expect("chunk")));
        // Only whole lines: a chunk may end inside one.
        let complete = &text[..text.rfind('\n').map_or(0, |end| end + 1)];
        ids = complete.lines().filter_map(|line| line.strip_prefix("id: ")).map(|id| id.parse().unwrap()).collect();
    }
    ids
}

#[tokio::test]
async fn a_reconnect_with_last_event_id_resumes_right_after_it() {
    let temp = temp_dir();
    let server = Server::embedded(&data_dir(&temp));
    append_batches(&server.client(), "s", 1, 10).await;
    let url = format!("{}/api/v1/events/$all/subscribe?from_position=1", server.url);
    let response = reqwest::Client::new().get(&url).header("last-event-id", "6").send().await.unwrap();
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    assert_eq!(sse_ids(response, 4).await, vec![7, 8, 9, 10]);
    let stream_url = format!("{}/api/v1/events/s/subscribe", server.url);
    let response = reqwest::Client::new().get(&stream_url).header("last-event-id", "7").send().await.unwrap();
    assert_eq!(sse_ids(response, 2).await, vec![8, 9], "a stream's ids are versions");
}

#[tokio::test]
async fn a_websocket_subscription_delivers_the_same_events() {
    use tokio_tungstenite::tungstenite::Message;

    let temp = temp_dir();
    let server = Server::embedded(&data_dir(&temp));
    let client = server.client();
    append_batches(&client, "s", 1, 3).await;
    let url = format!("{}/api/v1/events/s/ws?from_version=1", server.url.replacen("http://", "ws://", 1));
    let (mut socket, _) = tokio_tungstenite::connect_async(url).await.expect("upgrade");
    append_batches(&client, "s", 1, 1).await;
    let mut kinds = Vec::new();
    while kinds.len() < 4 {
        let message = tokio::time::timeout(Duration::from_secs(10), socket.next()).await.unwrap().unwrap().unwrap();
        let Message::Text(text) = message else { continue };
        let message: Value = serde_json::from_str(&text).unwrap();
        match message["type"].as_str() {
            Some("event") => kinds.push(format!("v{}", message["event"]["version"])),
            Some("caught_up") => kinds.push("caught_up".into()),
            other => panic!("unexpected message {other:?}"),
        }
    }
    // The live append may land before or after the switch; either way each version comes once, in order.
    let versions: Vec<&String> = kinds.iter().filter(|kind| kind.starts_with('v')).collect();
    assert_eq!(versions, ["v1", "v2", "v3"]);
    assert_eq!(kinds.iter().filter(|kind| *kind == "caught_up").count(), 1);
    // What the client sends is dropped, and a message past the limit (4 KiB) ends its subscription.
    socket.send(Message::Text("x".repeat(5000).into())).await.unwrap();
    let ended = tokio::time::timeout(Duration::from_secs(10), async {
        while let Some(Ok(message)) = socket.next().await {
            if matches!(message, Message::Close(_)) {
                break;
            }
        }
    });
    assert!(ended.await.is_ok(), "an oversized message from the client ends the subscription");
    // A refused subscription is an HTTP answer, not an upgrade.
    let bad = format!("{}/api/v1/events/$all/ws?from_position=99", server.url.replacen("http://", "ws://", 1));
    assert!(tokio_tungstenite::connect_async(bad).await.is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_subscriber_is_never_dropped_and_catches_up_when_it_reads_again() {
    let temp = temp_dir();
    let server = Server::embedded(&data_dir(&temp));
    let client = server.client();
    let url = format!("{}/api/v1/events/$all/subscribe?from_position=1", server.url);
    let response = reqwest::Client::new().get(&url).send().await.unwrap();
    // The subscriber reads nothing while 4 MB of events go in: far more than the socket buffers hold.
    let padding = "p".repeat(1000);
    for batch in 0..40 {
        let events =
            (0..100).map(|n| event_body("t", &json!({"batch": batch, "n": n, "padding": padding}), None)).collect();
        client.append_events("bulk", events, None).await.unwrap();
    }
    let ids = sse_ids(response, 4000).await;
    assert_eq!(ids, (1..=4000).collect::<Vec<_>>());
}

#[tokio::test]
async fn subscriptions_are_limited_per_node_and_end_at_shutdown() {
    let temp = temp_dir();
    let config = temp.path().join("baton.toml");
    std::fs::write(&config, "max_subscriptions = 2\n").unwrap();
    let mut server = Server::start(vec![
        "--data-dir".into(),
        data_dir(&temp).display().to_string(),
        "--config".into(),
        config.display().to_string(),
    ]);
    let client = server.client();
    let all = Subscribe { stream: "$all".into(), ..Subscribe::default() };
    let first = client.subscribe(&all).await.unwrap();
    let _second = client.subscribe(&all).await.unwrap();
    let refused = client.subscribe(&all).await.err().expect("over the limit");
    assert_eq!(refused.code(), Some("TOO_MANY_SUBSCRIPTIONS"));
    // Election observers share the same budget.
    let observer = client.observe_election("leader").await.err().expect("over the limit");
    assert_eq!(observer.code(), Some("TOO_MANY_SUBSCRIPTIONS"));
    // So do service watches.
    let watch =
        client.watch_service("web", &baton_client::InstanceQuery::default()).await.err().expect("over the limit");
    assert_eq!(watch.code(), Some("TOO_MANY_SUBSCRIPTIONS"));
    drop(first);
    crate::server::eventually("a closed subscription frees its slot", || async {
        client.subscribe(&all).await.is_ok()
    })
    .await;
    // An open subscription does not hold up a graceful shutdown.
    let started = Instant::now();
    assert!(server.terminate().success());
    assert!(started.elapsed() < Duration::from_secs(4), "shutdown waited {:?}", started.elapsed());
}
