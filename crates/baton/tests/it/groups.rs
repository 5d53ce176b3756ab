//! Consumer groups over HTTP against a real embedded server: sharing streams, checkpoints across a restart,
//! lapsed members, stale generations and bad input.

use std::collections::{BTreeMap, HashSet};
use std::time::{Duration, Instant};

use baton_api::event::{GroupEvents, JoinGroupRequest};
use baton_client::{BatonClient, ReadGroup, event_body};
use serde_json::json;

use crate::http_events::send;
use crate::server::{Server, data_dir, eventually, temp_dir};

fn join_request(member_id: &str) -> JoinGroupRequest {
    JoinGroupRequest { member_id: Some(member_id.into()), partitions: Some(8), ..JoinGroupRequest::default() }
}

fn read(member_id: &str) -> ReadGroup {
    ReadGroup { member_id: member_id.into(), generation: None, after_position: None, limit: Some(1000), wait: None }
}

async fn append_to_streams(client: &BatonClient, streams: usize, per_stream: usize) {
    for stream in 0..streams {
        let events = (0..per_stream).map(|n| event_body("t", &json!({"n": n}), None)).collect();
        client.append_events(&format!("account-{stream}"), events, None).await.unwrap();
    }
}

/// `(stream, version)` of a read's events.
fn delivered(batch: &GroupEvents) -> Vec<(String, i64)> {
    batch.events.iter().map(|event| (event.stream_id.clone(), event.version)).collect()
}

#[tokio::test]
async fn members_share_the_streams_and_resume_from_their_checkpoints() {
    let temp = temp_dir();
    let server = Server::embedded(&data_dir(&temp));
    let client = server.client();
    append_to_streams(&client, 12, 5).await;
    client.join_group("projections", &join_request("a")).await.unwrap();
    let b = client.join_group("projections", &join_request("b")).await.unwrap();
    assert_eq!((b.generation, b.members.clone()), (2, vec!["a".to_owned(), "b".to_owned()]));
    let share_a = client.read_group("projections", &read("a")).await.unwrap();
    let share_b = client.read_group("projections", &read("b")).await.unwrap();
    // Every event goes to exactly one member, and every stream to one member whole.
    let mut owners: BTreeMap<String, HashSet<&str>> = BTreeMap::new();
    for (member, share) in [("a", &share_a), ("b", &share_b)] {
        for (stream, _) in delivered(share) {
            owners.entry(stream).or_default().insert(member);
        }
    }
    assert_eq!(owners.len(), 12);
    assert!(owners.values().all(|members| members.len() == 1), "{owners:?}");
    assert_eq!(share_a.events.len() + share_b.events.len(), 60);
    // Within a share, events come in log order.
    assert!(share_a.events.windows(2).all(|pair| pair[0].global_position < pair[1].global_position));

    for (member, share) in [("a", &share_a), ("b", &share_b)] {
        if let Some(last) = share.last_position {
            client.commit_group("projections", member, share.generation, last).await.unwrap();
        }
    }
    assert!(client.read_group("projections", &read("a")).await.unwrap().events.is_empty());
    assert!(client.read_group("projections", &read("b")).await.unwrap().events.is_empty());
    append_to_streams(&client, 12, 1).await;
    let again = client.read_group("projections", &read("a")).await.unwrap().events.len()
        + client.read_group("projections", &read("b")).await.unwrap().events.len();
    assert_eq!(again, 12, "only what came after the checkpoints");
    let group = client.get_group("projections").await.unwrap();
    assert_eq!((group.members.len(), group.checkpoints.len()), (2, 8));
    // Each member's stream count (from the stored hash) matches what it was delivered.
    let owned_by = |member: &str| owners.values().filter(|members| members.contains(member)).count() as u64;
    assert_eq!(group.members.iter().map(|m| m.streams).collect::<Vec<_>>(), vec![owned_by("a"), owned_by("b")]);
    assert_eq!(client.list_groups(None, None).await.unwrap().groups.len(), 1);
    // A page at a time: the cursor continues after the last group of a page.
    client.join_group("audit", &join_request("a")).await.unwrap();
    let first = client.list_groups(None, Some(1)).await.unwrap();
    assert_eq!(first.groups.iter().map(|g| g.group.as_str()).collect::<Vec<_>>(), ["audit"]);
    let rest = client.list_groups(first.next_cursor.as_deref(), Some(1)).await.unwrap();
    assert_eq!(rest.groups.iter().map(|g| g.group.as_str()).collect::<Vec<_>>(), ["projections"]);
    assert_eq!(rest.next_cursor, None);
}

#[tokio::test]
async fn a_read_continues_after_its_position_and_a_long_poll_wakes_on_append() {
    let temp = temp_dir();
    let server = Server::embedded(&data_dir(&temp));
    let client = server.client();
    append_to_streams(&client, 1, 10).await;
    let joined = client.join_group("g", &join_request("solo")).await.unwrap();
    let first = client.read_group("g", &ReadGroup { limit: Some(4), ..read("solo") }).await.unwrap();
    assert_eq!(first.events.iter().map(|e| e.global_position).collect::<Vec<_>>(), vec![1, 2, 3, 4]);
    let next = ReadGroup {
        generation: Some(joined.generation),
        after_position: first.last_position,
        limit: Some(4),
        ..read("solo")
    };
    let second = client.read_group("g", &next).await.unwrap();
    assert_eq!(second.events.first().map(|e| e.global_position), Some(5));
    client.commit_group("g", "solo", joined.generation, 10).await.unwrap();
    let waiting = tokio::spawn({
        let client = client.clone();
        async move {
            let batch =
                client.read_group("g", &ReadGroup { wait: Some(Duration::from_secs(20)), ..read("solo") }).await;
            (batch, Instant::now())
        }
    });
    tokio::time::sleep(Duration::from_millis(200)).await;
    append_to_streams(&client, 1, 1).await;
    let appended_at = Instant::now();
    let (batch, woken_at) = waiting.await.unwrap();
    assert_eq!(batch.unwrap().events.len(), 1);
    assert!(woken_at.duration_since(appended_at) < Duration::from_millis(500), "woken by the append, not a poll");
}

#[tokio::test]
async fn checkpoints_survive_a_kill_9_and_delivery_resumes_from_them() {
    let temp = temp_dir();
    let mut server = Server::embedded(&data_dir(&temp));
    append_to_streams(&server.client(), 3, 4).await;
    let joined = server.client().join_group("g", &join_request("m")).await.unwrap();
    let share = server.client().read_group("g", &read("m")).await.unwrap();
    assert_eq!(share.events.len(), 12);
    server.client().commit_group("g", "m", joined.generation, 7).await.unwrap();
    server.restart();
    let client = server.client();
    let group = client.get_group("g").await.unwrap();
    assert!(group.checkpoints.iter().all(|&checkpoint| checkpoint == 7));
    // At least once from the checkpoint: positions 8 to 12 come again, nothing before them.
    let again = client.read_group("g", &read("m")).await.unwrap();
    assert_eq!(again.events.iter().map(|e| e.global_position).collect::<Vec<_>>(), vec![8, 9, 10, 11, 12]);
}

#[tokio::test]
async fn a_member_that_stops_heartbeating_loses_its_streams_and_a_stale_commit_is_refused() {
    let temp = temp_dir();
    let server = Server::embedded(&data_dir(&temp));
    let client = server.client();
    append_to_streams(&client, 8, 2).await;
    let short = JoinGroupRequest { ttl_seconds: Some(2), ..join_request("a") };
    let a = client.join_group("g", &short).await.unwrap();
    let a_share = client.read_group("g", &read("a")).await.unwrap();
    let b = client.join_group("g", &join_request("b")).await.unwrap();
    assert!(b.generation > a.generation);
    let refused = client.commit_group("g", "a", a.generation, 3).await.unwrap_err();
    assert_eq!(refused.code(), Some("STALE_TOKEN"));
    assert!(!a_share.events.is_empty());
    // a never heartbeats: within about a second of its lease ending, b owns everything and gets a's events
    // again, since a committed none of them.
    eventually("b owns every partition", || async {
        client.heartbeat_group("g", "b").await.is_ok_and(|m| m.partitions.start == 0 && m.partitions.end == 8)
    })
    .await;
    assert_eq!(client.read_group("g", &read("b")).await.unwrap().events.len(), 16);
    assert_eq!(client.heartbeat_group("g", "a").await.unwrap_err().code(), Some("MEMBER_NOT_FOUND"));
}

#[tokio::test]
async fn bad_group_input_gets_a_clear_error() {
    let temp = temp_dir();
    let server = Server::embedded(&data_dir(&temp));
    server.client().join_group("g", &join_request("m")).await.unwrap();
    let long_member = "m".repeat(300);
    let cases: Vec<(&str, String, String, u16, &str)> = vec![
        ("POST", "/api/v1/groups/g/join".into(), r#"{"partitions": 0}"#.into(), 422, "INVALID_ARGUMENT"),
        ("POST", "/api/v1/groups/g/join".into(), r#"{"partitions": 5000}"#.into(), 422, "INVALID_ARGUMENT"),
        ("POST", "/api/v1/groups/g/join".into(), r#"{"partitions": 4}"#.into(), 409, "GROUP_SETTINGS_MISMATCH"),
        ("POST", "/api/v1/groups/g/join".into(), r#"{"ttl_seconds": 0}"#.into(), 422, "TTL_OUT_OF_RANGE"),
        ("POST", "/api/v1/groups/g/join".into(), r#"{"start": "middle"}"#.into(), 422, "INVALID_ARGUMENT"),
        // A NUL in a filter the group stores: PostgreSQL cannot store it (a 500 there before).
        ("POST", "/api/v1/groups/g2/join".into(), r#"{"stream_prefix": "a\u0000"}"#.into(), 422, "INVALID_ARGUMENT"),
        ("POST", "/api/v1/groups/g2/join".into(), r#"{"event_type": "t\u0000"}"#.into(), 422, "INVALID_ARGUMENT"),
        (
            "POST",
            "/api/v1/groups/g/join".into(),
            format!(r#"{{"member_id": "{long_member}"}}"#),
            422,
            "INVALID_ARGUMENT",
        ),
        ("POST", "/api/v1/groups/bad%20name/join".into(), "{}".into(), 422, "INVALID_ARGUMENT"),
        ("POST", "/api/v1/groups/none/heartbeat".into(), r#"{"member_id": "m"}"#.into(), 404, "GROUP_NOT_FOUND"),
        ("POST", "/api/v1/groups/g/heartbeat".into(), r#"{"member_id": "ghost"}"#.into(), 404, "MEMBER_NOT_FOUND"),
        ("POST", "/api/v1/groups/g/heartbeat".into(), "{}".into(), 422, "INVALID_BODY"),
        (
            "POST",
            "/api/v1/groups/g/commit".into(),
            r#"{"member_id": "m", "generation": 1, "position": -1}"#.into(),
            422,
            "INVALID_ARGUMENT",
        ),
        (
            "POST",
            "/api/v1/groups/g/commit".into(),
            r#"{"member_id": "m", "generation": 1, "position": 5}"#.into(),
            422,
            "POSITION_OUT_OF_RANGE",
        ),
        ("GET", "/api/v1/groups/g/events".into(), String::new(), 422, "INVALID_ARGUMENT"),
        ("GET", "/api/v1/groups/g/events?member_id=m&wait_ms=999999".into(), String::new(), 422, "INVALID_ARGUMENT"),
        (
            "GET",
            "/api/v1/groups/g/events?member_id=m&generation=1&after_position=9223372036854775807".into(),
            String::new(),
            422,
            "INVALID_ARGUMENT",
        ),
        ("GET", "/api/v1/groups/g/events?member_id=m&after_position=-1".into(), String::new(), 422, "INVALID_ARGUMENT"),
        ("GET", "/api/v1/groups?limit=0".into(), String::new(), 422, "INVALID_ARGUMENT"),
        ("GET", "/api/v1/groups?limit=1001".into(), String::new(), 422, "INVALID_ARGUMENT"),
        ("GET", "/api/v1/groups?cursor=zz".into(), String::new(), 422, "INVALID_ARGUMENT"),
        ("GET", "/api/v1/groups?page=2".into(), String::new(), 422, "INVALID_ARGUMENT"),
        ("GET", "/api/v1/groups/none".into(), String::new(), 404, "GROUP_NOT_FOUND"),
        ("DELETE", "/api/v1/groups/none".into(), String::new(), 404, "GROUP_NOT_FOUND"),
    ];
    for (method, path, body, status, code) in cases {
        let (got_status, answer) = send(&server, method, &path, &body).await;
        assert_eq!((got_status, answer["error"]["code"].as_str()), (status, Some(code)), "{method} {path} {body}");
    }
    let group = server.client().get_group("g").await.unwrap();
    assert_eq!((group.generation, group.members.len(), group.partition_count), (1, 1, 8));
}

#[tokio::test]
async fn a_member_given_a_partition_far_behind_its_other_reads_on_past_the_gap() {
    let temp = temp_dir();
    let server = Server::embedded(&data_dir(&temp));
    let client = server.client();
    client.join_group("g", &join_request("a")).await.unwrap();
    let joined = client.join_group("g", &join_request("b")).await.unwrap();
    // One event on each of twelve streams shows which streams each member owns; both commit what they read.
    append_to_streams(&client, 12, 1).await;
    let mut owned = BTreeMap::new();
    for member in ["a", "b"] {
        let share = client.read_group("g", &read(member)).await.unwrap();
        for (stream, _) in delivered(&share) {
            owned.insert(stream, member);
        }
        client.commit_group("g", member, joined.generation, 12).await.unwrap();
    }
    let stream_of = |member: &str| owned.iter().find(|(_, m)| **m == member).map(|(s, _)| s.clone()).unwrap();
    let (a_stream, b_stream) = (stream_of("a"), stream_of("b"));

    // b reads and commits 30 events of its own; then it leaves, and a owns b's partitions too, 30 positions
    // ahead of its own.
    let events = (0..30).map(|n| event_body("t", &json!({"n": n}), None)).collect();
    client.append_events(&b_stream, events, None).await.unwrap();
    client.commit_group("g", "b", joined.generation, 42).await.unwrap();
    client.leave_group("g", "b").await.unwrap();
    let fresh = client.append_events(&a_stream, vec![event_body("t", &json!("fresh"), None)], None).await.unwrap();

    // One event a read: the first scans 16 of the 30 positions a's new partitions have already had, keeps none, and
    // says how far it got; the next goes on from there. (It started again at the same place for ever.)
    let mut next = ReadGroup { limit: Some(1), ..read("a") };
    let mut found = None;
    for _ in 0..4 {
        let share = client.read_group("g", &next).await.unwrap();
        if let Some(event) = share.events.first() {
            found = Some(event.global_position);
            break;
        }
        next.generation = Some(share.generation);
        next.after_position = share.last_position;
    }
    assert_eq!(found, Some(fresh.global_position), "a's new event is read, past the stretch it had already");
    // A waiting read goes on past the stretch by itself.
    let waited = client
        .read_group("g", &ReadGroup { limit: Some(1), wait: Some(Duration::from_secs(10)), ..read("a") })
        .await
        .unwrap();
    assert_eq!(waited.events.first().map(|event| event.global_position), Some(fresh.global_position));
}
