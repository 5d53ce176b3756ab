//! The event API over HTTP against a real embedded server: appends, reads, streams and every bad input.

use baton_api::event::StreamSettingsRequest;
use baton_client::{BatonClient, ReadAll, ReadStream, event_body};
use serde_json::{Value, json};

use crate::server::{Server, data_dir, temp_dir};

/// Sends `body` (raw text) and answers with the status and the JSON body.
pub async fn send(server: &Server, method: &str, path: &str, body: &str) -> (u16, Value) {
    let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
    let response = reqwest::Client::new()
        .request(method, format!("{}{path}", server.url))
        .header("Content-Type", "application/json")
        .body(body.to_owned())
        .send()
        .await
        .expect("send");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn head(client: &BatonClient) -> i64 {
    client.read_all(&ReadAll { limit: Some(1), ..ReadAll::default() }).await.unwrap().head_position
}

fn data(n: i64) -> Value {
    json!({"n": n})
}

#[tokio::test]
async fn the_syros_append_example_works_as_written() {
    let temp = temp_dir();
    let server = Server::embedded(&data_dir(&temp));
    let body = r#"{"event_type": "user_created", "data": {"user_id": "123", "email": "user@example.com"}, "metadata": {"source": "user-service", "version": "1.0"}}"#;
    let (status, appended) = send(&server, "POST", "/api/v1/events/user-123", body).await;
    assert_eq!(status, 201);
    assert_eq!(appended["success"], json!(true));
    assert_eq!((appended["stream"].clone(), appended["first_version"].clone()), (json!("user-123"), json!(0)));
    assert_eq!(appended["global_position"], json!(1));

    let (status, read) = send(&server, "GET", "/api/v1/events/user-123", "").await;
    assert_eq!(status, 200);
    let event = &read["events"][0];
    let mut fields: Vec<&str> = event.as_object().unwrap().keys().map(String::as_str).collect();
    fields.sort_unstable();
    assert_eq!(
        fields,
        ["data", "event_type", "global_position", "id", "metadata", "stream_id", "timestamp", "version"]
    );
    assert_eq!(event["id"], appended["event_ids"][0]);
    assert_eq!(event["stream_id"], json!("user-123"));
    assert_eq!(event["data"], json!({"user_id": "123", "email": "user@example.com"}));
    assert_eq!(event["metadata"]["source"], json!("user-service"));
    assert!(event["timestamp"].as_str().is_some_and(|at| at.ends_with('Z')));
    assert_eq!((event["version"].clone(), event["global_position"].clone()), (json!(0), json!(1)));
}

#[tokio::test]
async fn expected_versions_and_resends_over_http() {
    let temp = temp_dir();
    let server = Server::embedded(&data_dir(&temp));
    let id = "0190a0a0-0000-7000-8000-0000000000aa";
    let single = |expected: &str| {
        format!(r#"{{"event_type": "t", "data": {{}}, "event_id": "{id}", "expected_version": {expected}}}"#)
    };
    assert_eq!(send(&server, "POST", "/api/v1/events/s", &single(r#""no_stream""#)).await.0, 201);
    // The resend answers 200 with where the event landed, although "no_stream" no longer holds.
    let (status, replayed) = send(&server, "POST", "/api/v1/events/s", &single(r#""no_stream""#)).await;
    assert_eq!(
        (status, replayed["replayed"].clone(), replayed["global_position"].clone()),
        (200, json!(true), json!(1))
    );
    let (status, refused) =
        send(&server, "POST", "/api/v1/events/s", r#"{"event_type": "t", "data": 1, "expected_version": 3}"#).await;
    assert_eq!((status, refused["error"]["code"].clone()), (409, json!("WRONG_EXPECTED_VERSION")));
    assert_eq!(refused["error"]["details"]["actual_version"], json!(0));
    let (status, _) =
        send(&server, "POST", "/api/v1/events/s", r#"{"event_type": "t", "data": 1, "expected_version": "0"}"#).await;
    assert_eq!(status, 201);
    let batch = format!(
        r#"{{"events": [{{"event_type": "t", "data": 1, "event_id": "{id}"}}, {{"event_type": "t", "data": 2, "event_id": "0190a0a0-0000-7000-8000-0000000000bb"}}]}}"#
    );
    let (status, duplicate) = send(&server, "POST", "/api/v1/events/s", &batch).await;
    assert_eq!((status, duplicate["error"]["code"].clone()), (409, json!("DUPLICATE_EVENT")));
    let (status, missing) =
        send(&server, "POST", "/api/v1/events/new", r#"{"event_type": "t", "data": 1, "expected_version": "exists"}"#)
            .await;
    assert_eq!((status, missing["error"]["details"]["actual_version"].clone()), (409, json!(-1)));
    assert_eq!(head(&server.client()).await, 2);
}

#[tokio::test]
async fn bad_event_input_gets_a_clear_error_and_changes_nothing() {
    let temp = temp_dir();
    let server = Server::embedded(&data_dir(&temp));
    let client = server.client();
    client.append_events("s", vec![event_body("t", &data(0), None)], None).await.unwrap();
    let long_name = "x".repeat(513);
    let big_data = format!(r#"{{"event_type": "t", "data": "{}"}}"#, "d".repeat(300 * 1024));
    let too_many = format!(
        r#"{{"events": [{}]}}"#,
        (0..1001).map(|_| r#"{"event_type": "t", "data": 1}"#).collect::<Vec<_>>().join(",")
    );
    let cases: Vec<(&str, String, String, u16, &str)> = vec![
        ("POST", "/api/v1/events/s".into(), r#"{"event_type": "t", "data": "#.into(), 400, "MALFORMED_JSON"),
        ("POST", "/api/v1/events/s".into(), r#"{"event_type": "t"}"#.into(), 422, "INVALID_BODY"),
        ("POST", "/api/v1/events/s".into(), r#"{"data": 1}"#.into(), 422, "INVALID_BODY"),
        ("POST", "/api/v1/events/s".into(), r#"{"event_type": 5, "data": 1}"#.into(), 422, "INVALID_BODY"),
        ("POST", "/api/v1/events/s".into(), r#"{"event_type": "t", "data": 1, "colour": 1}"#.into(), 422, "INVALID_BODY"),
        ("POST", "/api/v1/events/s".into(), r#"{"events": []}"#.into(), 422, "INVALID_ARGUMENT"),
        (
            "POST",
            "/api/v1/events/s".into(),
            r#"{"events": [{"event_type": "t", "data": 1}], "event_type": "t"}"#.into(),
            422,
            "INVALID_BODY",
        ),
        ("POST", "/api/v1/events/s".into(), r#"{"event_type": "", "data": 1}"#.into(), 422, "INVALID_ARGUMENT"),
        ("POST", format!("/api/v1/events/{long_name}"), r#"{"event_type": "t", "data": 1}"#.into(), 422, "KEY_TOO_LONG"),
        ("POST", "/api/v1/events/".into(), r#"{"event_type": "t", "data": 1}"#.into(), 404, "NOT_FOUND"),
        ("POST", "/api/v1/events/a%0Ab".into(), r#"{"event_type": "t", "data": 1}"#.into(), 422, "INVALID_ARGUMENT"),
        ("POST", "/api/v1/events/$all".into(), r#"{"event_type": "t", "data": 1}"#.into(), 422, "INVALID_ARGUMENT"),
        ("POST", "/api/v1/events/s".into(), big_data, 422, "PAYLOAD_TOO_LARGE"),
        ("POST", "/api/v1/events/s".into(), too_many, 422, "BATCH_TOO_LARGE"),
        ("POST", "/api/v1/events/s".into(), format!(r#"{{"event_type": "t", "data": "{}"}}"#, "d".repeat(1100 * 1024)), 413, "BODY_TOO_LARGE"),
        (
            "POST",
            "/api/v1/events/s".into(),
            r#"{"event_type": "t", "data": 1, "event_id": "not-a-uuid"}"#.into(),
            422,
            "INVALID_ARGUMENT",
        ),
        (
            "POST",
            "/api/v1/events/s".into(),
            r#"{"events": [{"event_type": "t", "data": 1, "event_id": "0190a0a0-0000-7000-8000-000000000001"}, {"event_type": "t", "data": 1, "event_id": "0190a0a0-0000-7000-8000-000000000001"}]}"#.into(),
            422,
            "INVALID_ARGUMENT",
        ),
        ("GET", "/api/v1/events?from_position=-1".into(), String::new(), 422, "INVALID_ARGUMENT"),
        ("GET", "/api/v1/events?from_position=5".into(), String::new(), 422, "POSITION_OUT_OF_RANGE"),
        ("GET", "/api/v1/events?from_position=abc".into(), String::new(), 422, "INVALID_ARGUMENT"),
        ("GET", "/api/v1/events?limit=0".into(), String::new(), 422, "INVALID_ARGUMENT"),
        ("GET", "/api/v1/events?limit=5000".into(), String::new(), 422, "INVALID_ARGUMENT"),
        ("GET", "/api/v1/events?direction=sideways".into(), String::new(), 422, "INVALID_ARGUMENT"),
        ("GET", "/api/v1/events/s?from_version=-2".into(), String::new(), 422, "INVALID_ARGUMENT"),
        ("GET", "/api/v1/events/s?from_position=1".into(), String::new(), 422, "INVALID_ARGUMENT"),
        ("GET", "/api/v1/events/missing".into(), String::new(), 404, "STREAM_NOT_FOUND"),
        ("GET", "/api/v1/streams/missing".into(), String::new(), 404, "STREAM_NOT_FOUND"),
        ("DELETE", "/api/v1/streams/missing".into(), String::new(), 404, "STREAM_NOT_FOUND"),
        ("PUT", "/api/v1/streams/s/metadata".into(), r#"{"max_count": 0}"#.into(), 422, "INVALID_ARGUMENT"),
        ("PUT", "/api/v1/streams/s/metadata".into(), r#"{"max_age_seconds": -1}"#.into(), 422, "INVALID_BODY"),
        ("PUT", "/api/v1/streams/s/metadata".into(), r#"{"ttl": 3}"#.into(), 422, "INVALID_BODY"),
        ("GET", "/api/v1/events/$all/subscribe?from_position=9".into(), String::new(), 422, "POSITION_OUT_OF_RANGE"),
        // A stream's parameter on the log is refused, not ignored (the read started at the beginning).
        ("GET", "/api/v1/events/$all?from_version=3".into(), String::new(), 422, "INVALID_ARGUMENT"),
        ("GET", "/api/v1/events/s/subscribe?from_position=1".into(), String::new(), 422, "INVALID_ARGUMENT"),
        ("GET", "/api/v1/events/s/subscribe?from_version=-1".into(), String::new(), 422, "INVALID_ARGUMENT"),
        // Past the stream's end (it has no events): waiting there would skip what comes before, unseen.
        ("GET", "/api/v1/events/fresh/subscribe?from_version=3".into(), String::new(), 422, "POSITION_OUT_OF_RANGE"),
    ];
    for (method, path, body, status, code) in cases {
        let (got_status, answer) = send(&server, method, &path, &body).await;
        assert_eq!(
            (got_status, answer["error"]["code"].as_str()),
            (status, Some(code)),
            "{method} {path} {:.80}",
            body
        );
    }
    for expected in [r#""sometimes""#, "-5", "1.5", "[1]", r#""-3""#] {
        let body = format!(r#"{{"event_type": "t", "data": 1, "expected_version": {expected}}}"#);
        let (status, answer) = send(&server, "POST", "/api/v1/events/s", &body).await;
        assert_eq!((status, answer["error"]["code"].as_str()), (422, Some("INVALID_ARGUMENT")), "{expected}");
    }
    // Nothing was written, and the settings stand.
    assert_eq!(head(&client).await, 1);
    let info = client.stream_info("s").await.unwrap();
    assert_eq!((info.version, info.count, info.max_count), (0, Some(1), None));
}

#[tokio::test]
async fn streams_read_in_pages_both_ways_and_report_their_settings() {
    let temp = temp_dir();
    let server = Server::embedded(&data_dir(&temp));
    let client = server.client();
    let events: Vec<_> = (0..7).map(|n| event_body("t", &data(n), None)).collect();
    client.append_events("orders/eu 1", events, Some(json!("no_stream"))).await.unwrap();
    client.append_events("orders/us", vec![event_body("t", &data(0), None)], None).await.unwrap();
    let forward = client
        .read_stream("orders/eu 1", &ReadStream { from_version: Some(2), limit: Some(3), backward: false })
        .await
        .unwrap();
    assert_eq!(forward.events.iter().map(|e| e.version).collect::<Vec<_>>(), vec![2, 3, 4]);
    assert_eq!(forward.next_version, Some(5));
    let backward = client
        .read_stream("orders/eu 1", &ReadStream { from_version: None, limit: Some(3), backward: true })
        .await
        .unwrap();
    assert_eq!(backward.events.iter().map(|e| e.version).collect::<Vec<_>>(), vec![6, 5, 4]);
    assert_eq!(backward.next_version, Some(3));
    let all = client.read_all(&ReadAll { stream_prefix: Some("orders/u".into()), ..ReadAll::default() }).await.unwrap();
    assert_eq!(all.events.iter().map(|e| e.global_position).collect::<Vec<_>>(), vec![8]);
    assert_eq!((all.head_position, all.next_position), (8, None));
    // `$all` reads the log through the stream path too.
    let (status, log) = send(&server, "GET", "/api/v1/events/$all?from_position=7", "").await;
    assert_eq!((status, log["events"].as_array().map(Vec::len)), (200, Some(2)));

    let settings = StreamSettingsRequest {
        max_count: Some(2),
        metadata: Some(json!({"owner": "billing"})),
        ..StreamSettingsRequest::default()
    };
    client.set_stream_settings("orders/eu 1", &settings).await.unwrap();
    let info = client.stream_info("orders/eu 1").await.unwrap();
    assert_eq!((info.version, info.count, info.first_version, info.max_count), (6, Some(2), 5, Some(2)));
    assert_eq!(info.metadata, Some(json!({"owner": "billing"})));
    let log_head = client.stream_info("$all").await.unwrap();
    assert_eq!(log_head.version, 8);

    let streams = client.list_streams(Some("orders/"), None, Some(1)).await.unwrap();
    assert_eq!(streams.streams[0].stream, "orders/eu 1");
    let rest = client.list_streams(Some("orders/"), streams.next_cursor.as_deref(), Some(1)).await.unwrap();
    assert_eq!((rest.streams[0].stream.as_str(), rest.next_cursor.is_some()), ("orders/us", false));

    client.delete_stream("orders/us").await.unwrap();
    assert_eq!(
        client.read_stream("orders/us", &ReadStream::default()).await.unwrap_err().code(),
        Some("STREAM_NOT_FOUND")
    );
    assert_eq!(client.list_streams(None, None, None).await.unwrap().streams.len(), 1);
    let revived = client
        .append_events("orders/us", vec![event_body("t", &data(1), None)], Some(json!("no_stream")))
        .await
        .unwrap();
    assert_eq!(revived.first_version, 1);
}
