//! The event-store behaviours every backend must show: versions and positions, expected versions, idempotent
//! resends, reads in both directions, truncation and deletion, and the log's order under concurrent appenders.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use baton_core::Error;
use baton_core::event::{
    AppendOutcome, AppendParams, Direction, EventId, ExpectedVersion, ListStreamsParams, LogFilter, NewEvent,
    ReadAllParams, ReadStreamParams, RecordedEvent, StreamSettings, stream_hash,
};
use baton_core::namespace::Namespace;
use baton_core::store::{Change, Store};
use serde_json::json;
use serde_json::value::RawValue;

use crate::harness::Harness;

fn ns() -> Namespace {
    Namespace::default()
}

fn event(event_type: &str) -> NewEvent {
    NewEvent {
        event_id: EventId::new(),
        id_from_client: false,
        event_type: event_type.to_owned(),
        data: RawValue::from_string(json!({"n": 1}).to_string()).expect("json"),
        metadata: None,
    }
}

fn events(count: usize) -> Vec<NewEvent> {
    (0..count).map(|_| event("happened")).collect()
}

/// An event whose id the client chose, so a resend is recognised.
fn identified(event_id: EventId) -> NewEvent {
    NewEvent { event_id, id_from_client: true, ..event("happened") }
}

fn params(stream: &str, expected: ExpectedVersion, events: Vec<NewEvent>) -> AppendParams {
    AppendParams { namespace: ns(), stream: stream.to_owned(), expected, events }
}

async fn append_to(
    store: &Arc<dyn Store>,
    stream: &str,
    expected: ExpectedVersion,
    events: Vec<NewEvent>,
) -> Result<AppendOutcome, Error> {
    store.append(vec![params(stream, expected, events)]).await.expect("store").pop().expect("one outcome")
}

async fn append(
    h: &Harness,
    stream: &str,
    expected: ExpectedVersion,
    events: Vec<NewEvent>,
) -> Result<AppendOutcome, Error> {
    append_to(&h.store, stream, expected, events).await
}

async fn read(h: &Harness, stream: &str, from_version: Option<i64>, direction: Direction, limit: u32) -> Vec<i64> {
    let params = ReadStreamParams { namespace: ns(), stream: stream.to_owned(), from_version, direction, limit };
    let slice = h.store.read_stream(params).await.expect("read").expect("stream exists");
    slice.events.iter().map(|event| event.version).collect()
}

async fn read_log(store: &Arc<dyn Store>, from: i64, limit: u32, filter: LogFilter) -> (Vec<RecordedEvent>, i64) {
    let params =
        ReadAllParams { namespace: ns(), from_position: Some(from), direction: Direction::Forward, limit, filter };
    let slice = store.read_all(params).await.expect("read all");
    (slice.events, slice.head)
}

/// `(position, stream, version)` of the whole log.
async fn log(h: &Harness) -> Vec<(i64, String, i64)> {
    let (events, _) = read_log(&h.store, 0, 1000, LogFilter::default()).await;
    events.into_iter().map(|event| (event.global_position, event.stream, event.version)).collect()
}

fn wrong_version(result: Result<AppendOutcome, Error>) -> i64 {
    match result {
        Err(Error::WrongExpectedVersion { actual, .. }) => actual,
        other => panic!("expected WRONG_EXPECTED_VERSION, got {other:?}"),
    }
}

pub async fn appends_get_stream_versions_and_gapless_positions(h: &Harness) {
    let first = append(h, "order-1", ExpectedVersion::Any, events(2)).await.unwrap();
    assert_eq!((first.first_version, first.last_version, first.first_position, first.last_position), (0, 1, 1, 2));
    append(h, "order-2", ExpectedVersion::Any, events(1)).await.unwrap();
    let third = append(h, "order-1", ExpectedVersion::Any, events(3)).await.unwrap();
    assert_eq!((third.first_version, third.last_version, third.first_position, third.last_position), (2, 4, 4, 6));
    let expected: Vec<(i64, String, i64)> = [(1, "order-1", 0), (2, "order-1", 1), (3, "order-2", 0)]
        .into_iter()
        .chain([(4, "order-1", 2), (5, "order-1", 3), (6, "order-1", 4)])
        .map(|(position, stream, version)| (position, stream.to_owned(), version))
        .collect();
    assert_eq!(log(h).await, expected);
    let (_, head) = read_log(&h.store, 0, 1, LogFilter::default()).await;
    assert_eq!(head, 6);
}

/// A batch of many appends (a group commit's) to many streams, with events too big for one statement: a backend
/// that cuts its writes in parts still writes every event and every stream row.
pub async fn an_append_batch_too_big_for_one_statement_is_written_whole(h: &Harness) {
    let padding = "x".repeat(2_000);
    let batch: Vec<AppendParams> = (0..150)
        .map(|n| {
            let data = RawValue::from_string(json!({ "n": n, "padding": padding }).to_string()).expect("json");
            let stream = format!("wide-{n:03}-{padding}", padding = "s".repeat(200));
            params(&stream, ExpectedVersion::NoStream, vec![NewEvent { data, ..event("happened") }])
        })
        .collect();
    let streams: Vec<String> = batch.iter().map(|append| append.stream.clone()).collect();
    let outcomes = h.store.append(batch).await.expect("store");
    for (n, outcome) in outcomes.into_iter().enumerate() {
        let outcome = outcome.expect("each append is written");
        assert_eq!((outcome.first_version, outcome.first_position), (0, n as i64 + 1));
    }
    for stream in &streams {
        let (record, count) = h.store.stream_info(&ns(), stream).await.expect("info").expect("the stream has a row");
        assert_eq!((record.last_version, count), (0, 1), "{stream}");
    }
    let (events, head) = read_log(&h.store, 0, 1000, LogFilter::default()).await;
    assert_eq!((events.len(), head), (150, 150));
}

pub async fn expected_versions_are_checked_before_anything_is_written(h: &Harness) {
    // at start: no stream
    assert_eq!(wrong_version(append(h, "s", ExpectedVersion::Exists, events(1)).await), -1);
    assert_eq!(wrong_version(append(h, "s", ExpectedVersion::Exact(0), events(1)).await), -1);
    append(h, "s", ExpectedVersion::NoStream, events(1)).await.unwrap();
    // now at version 0
    assert_eq!(wrong_version(append(h, "s", ExpectedVersion::NoStream, events(1)).await), 0);
    assert_eq!(wrong_version(append(h, "s", ExpectedVersion::Exact(5), events(1)).await), 0);
    append(h, "s", ExpectedVersion::Exact(0), events(2)).await.unwrap();
    append(h, "s", ExpectedVersion::Exists, events(1)).await.unwrap();
    append(h, "s", ExpectedVersion::Any, events(1)).await.unwrap();
    assert_eq!(wrong_version(append(h, "s", ExpectedVersion::Exact(3), events(1)).await), 4);
    // refused appends took no version and no position
    assert_eq!(read(h, "s", None, Direction::Forward, 100).await, vec![0, 1, 2, 3, 4]);
    assert_eq!(log(h).await.last().map(|(position, _, _)| *position), Some(5));
}

pub async fn resending_events_with_the_same_ids_writes_nothing(h: &Harness) {
    let (a, b, c) = (EventId::new(), EventId::new(), EventId::new());
    let first = append(h, "s", ExpectedVersion::NoStream, vec![identified(a), identified(b)]).await.unwrap();
    assert!(!first.replayed);
    // The resend answers with the original positions, even though its expected version no longer holds.
    let again = append(h, "s", ExpectedVersion::NoStream, vec![identified(a), identified(b)]).await.unwrap();
    assert!(again.replayed);
    assert_eq!((again.first_version, again.last_version, again.first_position, again.last_position), (0, 1, 1, 2));
    assert_eq!(again.event_ids, vec![a, b]);
    match append(h, "s", ExpectedVersion::Any, vec![identified(a), identified(c)]).await {
        Err(Error::DuplicateEvent { event_ids, .. }) => assert_eq!(event_ids, vec![a.to_string()]),
        other => panic!("expected DUPLICATE_EVENT, got {other:?}"),
    }
    // The same id in another stream is another event.
    append(h, "other", ExpectedVersion::Any, vec![identified(a)]).await.unwrap();
    assert_eq!(log(h).await.len(), 3);
}

pub async fn one_refused_append_in_a_batch_never_fails_the_others(h: &Harness) {
    let (a, b) = (EventId::new(), EventId::new());
    let batch = vec![
        params("s", ExpectedVersion::NoStream, events(2)),
        params("s", ExpectedVersion::NoStream, events(1)),
        params("t", ExpectedVersion::Any, vec![identified(a), identified(b)]),
        params("t", ExpectedVersion::Exact(1), events(1)),
        // a resend of events written earlier in the same batch
        params("t", ExpectedVersion::Any, vec![identified(a), identified(b)]),
    ];
    let outcomes = h.store.append(batch).await.expect("store");
    assert_eq!(outcomes[0].as_ref().unwrap().last_position, 2);
    assert!(matches!(outcomes[1], Err(Error::WrongExpectedVersion { actual: 1, .. })));
    assert_eq!(outcomes[2].as_ref().unwrap().first_position, 3);
    assert_eq!(outcomes[3].as_ref().unwrap().first_version, 2);
    assert!(outcomes[4].as_ref().unwrap().replayed);
    assert_eq!(log(h).await.iter().map(|(position, _, _)| *position).collect::<Vec<_>>(), vec![1, 2, 3, 4, 5]);
}

pub async fn streams_read_forward_and_backward_in_pages(h: &Harness) {
    append(h, "s", ExpectedVersion::Any, events(10)).await.unwrap();
    assert_eq!(read(h, "s", Some(3), Direction::Forward, 4).await, vec![3, 4, 5, 6]);
    assert_eq!(read(h, "s", Some(8), Direction::Forward, 4).await, vec![8, 9]);
    assert_eq!(read(h, "s", Some(42), Direction::Forward, 4).await, Vec::<i64>::new());
    assert_eq!(read(h, "s", None, Direction::Backward, 3).await, vec![9, 8, 7]);
    assert_eq!(read(h, "s", Some(2), Direction::Backward, 5).await, vec![2, 1, 0]);
    let missing = ReadStreamParams {
        namespace: ns(),
        stream: "missing".into(),
        from_version: None,
        direction: Direction::Forward,
        limit: 10,
    };
    assert!(h.store.read_stream(missing).await.unwrap().is_none());
    let event = h
        .store
        .read_stream(ReadStreamParams {
            namespace: ns(),
            stream: "s".into(),
            from_version: Some(0),
            direction: Direction::Forward,
            limit: 1,
        })
        .await
        .unwrap()
        .unwrap()
        .events
        .remove(0);
    assert_eq!(
        (event.event_type.as_str(), event.data.get(), event.recorded_at),
        ("happened", r#"{"n":1}"#, h.clock_now())
    );
    assert_eq!(event.stream_hash, stream_hash("s"));
}

pub async fn max_count_keeps_the_newest_events_and_the_rest_are_pruned(h: &Harness) {
    append(h, "s", ExpectedVersion::Any, events(2)).await.unwrap();
    let settings = StreamSettings { max_count: Some(3), ..StreamSettings::default() };
    h.store.set_stream_settings(&ns(), "s", settings).await.unwrap();
    append(h, "s", ExpectedVersion::Any, events(3)).await.unwrap();
    assert_eq!(read(h, "s", None, Direction::Forward, 100).await, vec![2, 3, 4]);
    assert_eq!(read(h, "s", None, Direction::Backward, 100).await, vec![4, 3, 2]);
    let (record, count) = h.store.stream_info(&ns(), "s").await.unwrap().unwrap();
    assert_eq!((record.last_version, record.truncate_before, count), (4, 2, 3));
    // The log keeps them until the pruner runs; then they are gone, and the next version carries on.
    assert_eq!(log(h).await.len(), 5);
    assert_eq!(h.store.prune_events(1000).await.unwrap(), 2);
    assert_eq!(h.store.prune_events(1000).await.unwrap(), 0);
    assert_eq!(log(h).await.iter().map(|(position, _, _)| *position).collect::<Vec<_>>(), vec![3, 4, 5]);
    assert_eq!(append(h, "s", ExpectedVersion::Exact(4), events(1)).await.unwrap().first_version, 5);
    assert_eq!(read(h, "s", None, Direction::Forward, 100).await, vec![3, 4, 5]);
}

pub async fn max_age_hides_old_events_and_the_pruner_removes_them(h: &Harness) {
    append(h, "s", ExpectedVersion::Any, events(2)).await.unwrap();
    let settings = StreamSettings { max_age_ms: Some(60_000), ..StreamSettings::default() };
    h.store.set_stream_settings(&ns(), "s", settings).await.unwrap();
    h.advance(Duration::from_secs(30));
    append(h, "s", ExpectedVersion::Any, events(1)).await.unwrap();
    assert_eq!(read(h, "s", None, Direction::Forward, 100).await, vec![0, 1, 2]);
    h.advance(Duration::from_secs(31));
    assert_eq!(read(h, "s", None, Direction::Forward, 100).await, vec![2]);
    assert_eq!(h.store.stream_info(&ns(), "s").await.unwrap().unwrap().1, 1);
    assert_eq!(h.store.prune_events(1000).await.unwrap(), 2);
    assert_eq!(log(h).await, vec![(3, "s".to_owned(), 2)]);
    h.advance(Duration::from_secs(60));
    h.store.prune_events(1000).await.unwrap();
    assert!(log(h).await.is_empty());
    let (record, count) = h.store.stream_info(&ns(), "s").await.unwrap().unwrap();
    assert_eq!((record.last_version, count), (2, 0));
}

pub async fn a_deleted_stream_is_gone_until_an_append_revives_it(h: &Harness) {
    append(h, "s", ExpectedVersion::Any, events(3)).await.unwrap();
    let deleted = h.store.delete_stream(&ns(), "s").await.unwrap();
    assert_eq!((deleted.truncate_before, deleted.current_version()), (3, None));
    assert!(matches!(h.store.delete_stream(&ns(), "s").await, Err(Error::StreamNotFound { .. })));
    assert!(matches!(h.store.delete_stream(&ns(), "never").await, Err(Error::StreamNotFound { .. })));
    assert_eq!(read(h, "s", None, Direction::Forward, 100).await, Vec::<i64>::new());
    // A deleted stream has no stream for expected-version checks, and its versions carry on.
    assert_eq!(wrong_version(append(h, "s", ExpectedVersion::Exact(2), events(1)).await), -1);
    let revived = append(h, "s", ExpectedVersion::NoStream, events(1)).await.unwrap();
    assert_eq!(revived.first_version, 3);
    assert_eq!(read(h, "s", None, Direction::Forward, 100).await, vec![3]);
    h.store.prune_events(1000).await.unwrap();
    assert_eq!(log(h).await, vec![(4, "s".to_owned(), 3)]);
}

pub async fn the_log_reads_through_type_prefix_and_hash_filters(h: &Harness) {
    for (stream, event_type) in
        [("order-1", "placed"), ("user-1", "joined"), ("order-2", "placed"), ("order-1", "paid")]
    {
        append(h, stream, ExpectedVersion::Any, vec![event(event_type)]).await.unwrap();
    }
    let positions = |events: Vec<RecordedEvent>| events.iter().map(|event| event.global_position).collect::<Vec<_>>();
    let by_type = LogFilter { event_type: Some("placed".into()), ..LogFilter::default() };
    assert_eq!(positions(read_log(&h.store, 0, 100, by_type).await.0), vec![1, 3]);
    let by_prefix = LogFilter { stream_prefix: Some("order-".into()), ..LogFilter::default() };
    assert_eq!(positions(read_log(&h.store, 2, 100, by_prefix).await.0), vec![3, 4]);
    let hash = i64::from(stream_hash("user-1"));
    let by_hash = LogFilter { hash_range: Some((hash, hash + 1)), ..LogFilter::default() };
    assert_eq!(positions(read_log(&h.store, 0, 100, by_hash).await.0), vec![2]);
    let backward = ReadAllParams {
        namespace: ns(),
        from_position: None,
        direction: Direction::Backward,
        limit: 2,
        filter: LogFilter::default(),
    };
    let slice = h.store.read_all(backward).await.unwrap();
    assert_eq!((positions(slice.events), slice.head), (vec![4, 3], 4));
    let other = ReadAllParams {
        namespace: Namespace::parse("other").unwrap(),
        from_position: Some(0),
        direction: Direction::Forward,
        limit: 10,
        filter: LogFilter::default(),
    };
    let empty = h.store.read_all(other).await.unwrap();
    assert_eq!((empty.events.len(), empty.head), (0, 0));
}

pub async fn streams_list_by_name_without_deleted_ones(h: &Harness) {
    for stream in ["b", "a", "c", "d"] {
        append(h, stream, ExpectedVersion::Any, events(1)).await.unwrap();
    }
    h.store.delete_stream(&ns(), "c").await.unwrap();
    h.store.set_stream_settings(&ns(), "empty", StreamSettings::default()).await.unwrap();
    let page = |after: Option<&str>| ListStreamsParams {
        namespace: ns(),
        prefix: None,
        after: after.map(str::to_owned),
        limit: 2,
    };
    let first = h.store.list_streams(page(None)).await.unwrap();
    assert_eq!(first.items.iter().map(|s| s.stream.as_str()).collect::<Vec<_>>(), vec!["a", "b"]);
    assert!(first.next_cursor.is_some());
    let second = h.store.list_streams(page(Some("b"))).await.unwrap();
    assert_eq!(second.items.iter().map(|s| s.stream.as_str()).collect::<Vec<_>>(), vec!["d"]);
    assert!(second.next_cursor.is_none());
    let prefixed = ListStreamsParams { prefix: Some("d".into()), ..page(None) };
    assert_eq!(h.store.list_streams(prefixed).await.unwrap().items.len(), 1);
    // Counting by the stored hash sees the same streams (a group member's share of them).
    assert_eq!(h.store.count_streams(&ns(), (0, 1 << 32), None).await.unwrap(), 3);
    assert_eq!(h.store.count_streams(&ns(), (0, 1 << 32), Some("b")).await.unwrap(), 1);
    let hash = i64::from(stream_hash("a"));
    assert_eq!(h.store.count_streams(&ns(), (hash, hash + 1), None).await.unwrap(), 1);
}

pub async fn change_feed_announces_appends(h: &Harness) {
    let mut changes = h.store.changes();
    // A unique name: other tests' stores on the same PostgreSQL database announce on the same channel.
    let stream = format!("announced-{}", EventId::new());
    append(h, &stream, ExpectedVersion::Any, events(2)).await.unwrap();
    let change = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            let change = changes.recv().await.expect("feed open");
            if matches!(&change, Change::EventsAppended { stream: announced, .. } if *announced == stream) {
                return change;
            }
        }
    })
    .await
    .expect("the append is announced");
    assert_eq!(change, Change::EventsAppended { namespace: ns(), stream, last_position: 2 });
}

/// Competing appenders: many writers race on one stream, each with the version it last saw; exactly one wins
/// each version, and the losers learn the actual version.
pub async fn competing_appenders_win_each_version_exactly_once(h: &Harness) {
    const WRITERS: usize = 8;
    const VERSIONS: i64 = 20;
    let nodes: Vec<Arc<dyn Store>> = match h.another_node().await {
        Some(other) => vec![h.store.clone(), other],
        None => vec![h.store.clone()],
    };
    let writers = (0..WRITERS).map(|writer| {
        let store = nodes[writer % nodes.len()].clone();
        tokio::spawn(async move {
            let mut won = Vec::new();
            let mut expected = ExpectedVersion::NoStream;
            loop {
                match append_to(&store, "contested", expected, events(1)).await {
                    Ok(outcome) => {
                        won.push(outcome.first_version);
                        expected = ExpectedVersion::Exact(outcome.last_version);
                    }
                    Err(Error::WrongExpectedVersion { actual, .. }) => expected = ExpectedVersion::Exact(actual),
                    Err(other) => panic!("unexpected {other:?}"),
                }
                if matches!(expected, ExpectedVersion::Exact(version) if version >= VERSIONS - 1) {
                    return won;
                }
            }
        })
    });
    let mut won: Vec<i64> = futures::future::join_all(writers).await.into_iter().flat_map(|w| w.unwrap()).collect();
    won.sort_unstable();
    assert_eq!(won, (0..VERSIONS).collect::<Vec<_>>(), "every version won exactly once");
}

/// The property the global order promises: with many appenders on every node and a reader following the log
/// while they write, the reader sees every acknowledged event exactly once, at gapless positions, in an order
/// consistent with each stream's versions. The workloads are random (seeded, so a failure can be replayed).
pub async fn a_reader_following_concurrent_appenders_sees_each_event_once_in_order(h: &Harness) {
    use proptest::strategy::{Strategy, ValueTree};
    use proptest::test_runner::{Config, TestRng, TestRunner};

    // Per appender: a list of (stream number, batch size).
    let plan = proptest::collection::vec(proptest::collection::vec((0..6_usize, 1..8_usize), 5..25), 6..10);
    let mut runner =
        TestRunner::new_with_rng(Config::default(), TestRng::deterministic_rng(Config::default().rng_algorithm));
    let nodes: Vec<Arc<dyn Store>> = match h.another_node().await {
        Some(other) => vec![h.store.clone(), other],
        None => vec![h.store.clone()],
    };
    let mut written_before = 0;
    for round in 0..3 {
        let scripts = plan.new_tree(&mut runner).expect("a plan").current();
        let appenders = scripts.into_iter().enumerate().map(|(index, script)| {
            let store = nodes[index % nodes.len()].clone();
            tokio::spawn(async move {
                let mut acknowledged = Vec::new();
                for (stream, size) in script {
                    let stream = format!("round{round}-stream-{stream}");
                    let outcome = append_to(&store, &stream, ExpectedVersion::Any, events(size)).await.expect("append");
                    acknowledged.extend(outcome.event_ids);
                }
                acknowledged
            })
        });
        let mut appenders = Some(tokio::spawn(futures::future::join_all(appenders)));
        let reader = nodes[nodes.len() - 1].clone();
        let mut seen: Vec<RecordedEvent> = Vec::new();
        let mut next = written_before + 1;
        let mut finished = None;
        loop {
            let (page, head) = read_log(&reader, next, 50, LogFilter::default()).await;
            for event in page {
                assert_eq!(event.global_position, next, "round {round}: the reader skipped or repeated a position");
                next += 1;
                seen.push(event);
            }
            if let Some(acknowledged) = &finished {
                if next > head {
                    let acknowledged: &Vec<EventId> = acknowledged;
                    let seen_ids: HashSet<EventId> = seen.iter().map(|event| event.event_id).collect();
                    assert_eq!(seen_ids.len(), seen.len(), "round {round}: an event was delivered twice");
                    assert_eq!(seen_ids, acknowledged.iter().copied().collect(), "round {round}: events went missing");
                    break;
                }
            } else if appenders.as_ref().is_some_and(|appenders| appenders.is_finished()) {
                let all = appenders.take().expect("running").await.expect("appenders");
                finished = Some(all.into_iter().flat_map(|ids| ids.expect("appender")).collect::<Vec<_>>());
                continue;
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        let mut versions: BTreeMap<&str, i64> = BTreeMap::new();
        for event in &seen {
            let last = versions.entry(event.stream.as_str()).or_insert(-1);
            assert_eq!(event.version, *last + 1, "round {round}: {} out of version order", event.stream);
            *last = event.version;
        }
        written_before = next - 1;
    }
}
