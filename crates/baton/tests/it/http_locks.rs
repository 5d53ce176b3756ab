//! The lock and lease API over HTTP against a real embedded server.

use std::time::{Duration, Instant};

use futures::FutureExt as _;

use baton_api::lock::AcquireLockRequest;
use baton_client::{BatonClient, ClientError, ListLocks};
use serde_json::{Value, json};

use crate::server::{Server, data_dir, eventually, temp_dir};

fn request(key: &str, owner: &str) -> AcquireLockRequest {
    AcquireLockRequest { key: key.into(), owner: owner.into(), ttl_seconds: 30, ..AcquireLockRequest::default() }
}

fn code(result: Result<impl std::fmt::Debug, ClientError>) -> String {
    match result {
        Err(error) => error.code().unwrap_or("no code").to_owned(),
        Ok(value) => panic!("expected an error, got {value:?}"),
    }
}

async fn waiters(client: &BatonClient, key: &str) -> u64 {
    client.lock_status(key).await.map(|s| s.waiters).unwrap_or(0)
}

#[tokio::test]
async fn the_syros_readme_example_works_as_written() {
    let temp = temp_dir();
    let server = Server::embedded(&data_dir(&temp));
    let response = reqwest::Client::new()
        .post(format!("{}/api/v1/locks", server.url))
        .header("Content-Type", "application/json")
        .body(r#"{"key": "inventory_process_123", "owner": "worker_service_01", "ttl_seconds": 30}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    assert!(response.headers().contains_key("x-request-id"), "every answer carries a request id");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["success"], json!(true));
    assert_eq!(body["key"], json!("inventory_process_123"));
    assert!(body["lock_id"].as_str().is_some_and(|id| !id.is_empty()));
    assert!(body["fencing_token"].as_i64().is_some_and(|t| t > 0));
    assert!(body["expires_at"].as_str().is_some_and(|t| t.ends_with('Z')));

    let status = server.client().lock_status("inventory_process_123").await.unwrap();
    assert!(status.is_locked);
    assert_eq!(status.owner.as_deref(), Some("worker_service_01"));
}

#[tokio::test]
async fn a_held_lock_is_refused_with_its_holder() {
    let temp = temp_dir();
    let server = Server::embedded(&data_dir(&temp));
    let client = server.client();
    let grant = client.acquire_lock(request("k", "a")).await.unwrap();
    match client.acquire_lock(request("k", "b")).await {
        Err(ClientError::Api { status: 409, code, details, .. }) => {
            assert_eq!(code, "LOCK_HELD");
            assert_eq!(details["owner"], json!("a"));
            assert_eq!(details["expires_at"], json!(grant.expires_at));
        }
        other => panic!("expected LOCK_HELD, got {other:?}"),
    }
}

#[tokio::test]
async fn a_waiter_is_woken_by_the_release_not_by_polling() {
    let temp = temp_dir();
    let server = Server::embedded(&data_dir(&temp));
    let client = server.client();
    let first = client.acquire_lock(request("k", "a")).await.unwrap();
    let waiter = tokio::spawn({
        let client = client.clone();
        async move {
            let granted =
                client.acquire_lock(AcquireLockRequest { wait_timeout_seconds: Some(20), ..request("k", "b") }).await;
            (granted, Instant::now())
        }
    });
    eventually("b waits", || waiters(&client, "k").then(|n| async move { n == 1 })).await;
    client.release_lock("k", &first.lock_id, "a").await.unwrap();
    let released_at = Instant::now();
    let (granted, granted_at) = waiter.await.unwrap();
    let granted = granted.unwrap();
    assert_eq!(granted.owner, "b");
    assert!(granted.fencing_token > first.fencing_token);
    // The safety-net poll runs every second; a push wake-up is far quicker.
    assert!(granted_at.duration_since(released_at) < Duration::from_millis(900), "hand-off was not pushed");
}

#[tokio::test]
async fn waiters_are_served_first_in_first_out() {
    let temp = temp_dir();
    let server = Server::embedded(&data_dir(&temp));
    let client = server.client();
    let mut holder = client.acquire_lock(request("k", "first")).await.unwrap();
    let mut queued = Vec::new();
    for (position, owner) in ["second", "third", "fourth"].into_iter().enumerate() {
        let waiting = client.clone();
        queued.push(tokio::spawn(async move {
            waiting.acquire_lock(AcquireLockRequest { wait_timeout_seconds: Some(20), ..request("k", owner) }).await
        }));
        eventually("the waiter queues", || {
            waiters(&client, "k").then(move |n| async move { n == position as u64 + 1 })
        })
        .await;
    }
    for (waiter, expected) in queued.into_iter().zip(["second", "third", "fourth"]) {
        client.release_lock("k", &holder.lock_id, &holder.owner).await.unwrap();
        holder = waiter.await.unwrap().unwrap();
        assert_eq!(holder.owner, expected);
    }
}

#[tokio::test]
async fn a_wait_that_times_out_has_its_own_code_and_leaves_no_waiter() {
    let temp = temp_dir();
    let server = Server::embedded(&data_dir(&temp));
    let client = server.client();
    client.acquire_lock(request("k", "a")).await.unwrap();
    let timed_out = client.acquire_lock(AcquireLockRequest { wait_timeout_ms: Some(300), ..request("k", "b") }).await;
    assert!(matches!(&timed_out, Err(ClientError::Api { status: 409, .. })), "{timed_out:?}");
    assert_eq!(code(timed_out), "LOCK_WAIT_TIMEOUT");
    assert_eq!(waiters(&client, "k").await, 0);
}

#[tokio::test]
async fn a_lapsed_ttl_hands_the_lock_to_the_next_waiter() {
    let temp = temp_dir();
    let server = Server::embedded(&data_dir(&temp));
    let client = server.client();
    let first = client.acquire_lock(AcquireLockRequest { ttl_seconds: 1, ..request("k", "a") }).await.unwrap();
    let next =
        client.acquire_lock(AcquireLockRequest { wait_timeout_seconds: Some(10), ..request("k", "b") }).await.unwrap();
    assert_eq!(next.owner, "b");
    assert!(next.fencing_token > first.fencing_token);
    assert_eq!(code(client.renew_lock("k", &first.lock_id, "a", None).await), "LOCK_NOT_HELD");
}

#[tokio::test]
async fn permits_turn_a_lock_into_a_semaphore() {
    let temp = temp_dir();
    let server = Server::embedded(&data_dir(&temp));
    let client = server.client();
    let two = |owner| AcquireLockRequest { permits: Some(2), ..request("pool", owner) };
    let a = client.acquire_lock(two("a")).await.unwrap();
    let b = client.acquire_lock(two("b")).await.unwrap();
    assert_ne!(a.lock_id, b.lock_id);
    assert_eq!(code(client.acquire_lock(two("c")).await), "LOCK_HELD");
    assert_eq!(code(client.acquire_lock(request("pool", "d")).await), "PERMITS_MISMATCH");
    let status = client.lock_status("pool").await.unwrap();
    assert_eq!(status.holders.len(), 2);
}

#[tokio::test]
async fn renew_and_extend_move_the_expiry_and_only_for_the_holder() {
    let temp = temp_dir();
    let server = Server::embedded(&data_dir(&temp));
    let client = server.client();
    let grant = client.acquire_lock(request("k", "a")).await.unwrap();
    let renewed = client.renew_lock("k", &grant.lock_id, "a", Some(120)).await.unwrap();
    assert!(renewed.expires_at > grant.expires_at);
    assert_eq!(renewed.fencing_token, grant.fencing_token);
    assert_eq!(code(client.renew_lock("k", &grant.lock_id, "b", None).await), "LOCK_OWNER_MISMATCH");

    let extended = reqwest::Client::new()
        .put(format!("{}/api/v1/locks/k/extend", server.url))
        .json(&json!({"lock_id": grant.lock_id, "owner": "a", "ttl_seconds": 300}))
        .send()
        .await
        .unwrap();
    assert_eq!(extended.status(), 200);
    let body: Value = extended.json().await.unwrap();
    assert_eq!(body["ttl_seconds"], json!(300));
}

#[tokio::test]
async fn releasing_a_lock_you_do_not_hold_changes_nothing() {
    let temp = temp_dir();
    let server = Server::embedded(&data_dir(&temp));
    let client = server.client();
    let grant = client.acquire_lock(request("k", "a")).await.unwrap();
    assert_eq!(code(client.release_lock("k", &grant.lock_id, "b").await), "LOCK_OWNER_MISMATCH");
    assert_eq!(code(client.release_lock("k", "0190a0a0-0000-7000-8000-000000000000", "a").await), "LOCK_NOT_HELD");
    assert_eq!(code(client.release_lock("k", "not-a-lock-id", "a").await), "LOCK_NOT_HELD");
    assert_eq!(client.lock_status("k").await.unwrap().lock_id, Some(grant.lock_id.clone()));
    client.release_lock("k", &grant.lock_id, "a").await.unwrap();
    assert!(!client.lock_status("k").await.unwrap().is_locked);
}

#[tokio::test]
async fn leases_bind_locks_and_revoking_releases_them_all() {
    let temp = temp_dir();
    let server = Server::embedded(&data_dir(&temp));
    let client = server.client();
    let lease = client.grant_lease(30).await.unwrap();
    for key in ["x", "y"] {
        let grant = client
            .acquire_lock(AcquireLockRequest { lease_id: Some(lease.lease_id.clone()), ..request(key, "a") })
            .await
            .unwrap();
        assert_eq!(grant.expires_at, lease.expires_at);
    }
    let kept = client.keepalive_lease(&lease.lease_id).await.unwrap();
    assert!(kept.expires_at >= lease.expires_at);
    assert_eq!(client.lock_status("x").await.unwrap().expires_at, Some(kept.expires_at));

    client.revoke_lease(&lease.lease_id).await.unwrap();
    assert!(!client.lock_status("x").await.unwrap().is_locked);
    assert!(!client.lock_status("y").await.unwrap().is_locked);
    assert_eq!(code(client.keepalive_lease(&lease.lease_id).await), "LEASE_NOT_FOUND");
}

#[tokio::test]
async fn list_pages_through_locks_with_filters() {
    let temp = temp_dir();
    let server = Server::embedded(&data_dir(&temp));
    let client = server.client();
    for (key, owner) in [("jobs/1", "a"), ("jobs/2", "b"), ("jobs/3", "a"), ("other", "a")] {
        client.acquire_lock(request(key, owner)).await.unwrap();
    }
    let mine = client
        .list_locks(&ListLocks { owner: Some("a".into()), prefix: Some("jobs/".into()), ..ListLocks::default() })
        .await
        .unwrap();
    assert_eq!(mine.items.iter().map(|l| l.key.as_str()).collect::<Vec<_>>(), ["jobs/1", "jobs/3"]);

    let mut keys = Vec::new();
    let mut cursor = None;
    loop {
        let page = client.list_locks(&ListLocks { limit: Some(3), cursor, ..ListLocks::default() }).await.unwrap();
        keys.extend(page.items.into_iter().map(|l| l.key));
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    assert_eq!(keys, ["jobs/1", "jobs/2", "jobs/3", "other"]);
    assert_eq!(
        code(client.list_locks(&ListLocks { cursor: Some("zz".into()), ..ListLocks::default() }).await),
        "INVALID_ARGUMENT"
    );
}

#[tokio::test]
async fn namespaces_keep_the_same_key_apart() {
    let temp = temp_dir();
    let server = Server::embedded(&data_dir(&temp));
    let default = server.client();
    let billing = server.client().with_namespace("billing");
    default.acquire_lock(request("k", "a")).await.unwrap();
    let other = billing.acquire_lock(request("k", "b")).await.unwrap();
    assert_eq!(other.namespace, "billing");
    assert_eq!(code(server.client().with_namespace("bad namespace!").lock_status("k").await), "INVALID_ARGUMENT");
    // A header that is not ASCII is refused, not skipped (skipped, the request ran in `default`).
    let not_ascii = reqwest::header::HeaderValue::from_bytes("tenänt".as_bytes()).unwrap();
    let response = reqwest::Client::new()
        .get(format!("{}/api/v1/locks/k/status", server.url))
        .header("x-baton-namespace", not_ascii)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 422);
    let envelope: Value = response.json().await.unwrap();
    assert_eq!(envelope["error"]["code"], "INVALID_ARGUMENT");
}

/// Every malformed request gets a 4xx with a stable code, and the lock it names is left as it was.
#[tokio::test]
async fn bad_input_gets_a_clear_error_and_changes_nothing() {
    let temp = temp_dir();
    let server = Server::embedded(&data_dir(&temp));
    let client = server.client();
    let held = client.acquire_lock(request("k", "holder")).await.unwrap();
    let long_key = "x".repeat(513);
    let big_metadata = "m".repeat(70 * 1024);
    let cases: Vec<(&str, &str, String, u16, &str)> = vec![
        ("POST", "/api/v1/locks", r#"{"key": "k", "owner": "#.into(), 400, "MALFORMED_JSON"),
        ("POST", "/api/v1/locks", r#"{"owner": "o", "ttl_seconds": 5}"#.into(), 422, "INVALID_BODY"),
        // A misspelt field is refused, not ignored: ignored, this one would mean "don't wait".
        (
            "POST",
            "/api/v1/locks",
            r#"{"key": "k", "owner": "o", "ttl_seconds": 5, "wait_timout_seconds": 5}"#.into(),
            422,
            "INVALID_BODY",
        ),
        ("POST", "/api/v1/locks", r#"{"key": "k", "owner": "o", "ttl_seconds": "5"}"#.into(), 422, "INVALID_BODY"),
        ("POST", "/api/v1/locks", r#"{"key": "", "owner": "o", "ttl_seconds": 5}"#.into(), 422, "INVALID_ARGUMENT"),
        // A URL path cannot carry `..`: granted, the lock's renew and release routes could not be reached.
        ("POST", "/api/v1/locks", r#"{"key": "..", "owner": "o", "ttl_seconds": 5}"#.into(), 422, "INVALID_ARGUMENT"),
        (
            "POST",
            "/api/v1/locks",
            format!(r#"{{"key": "{long_key}", "owner": "o", "ttl_seconds": 5}}"#),
            422,
            "KEY_TOO_LONG",
        ),
        ("POST", "/api/v1/locks", r#"{"key": "k", "owner": "o", "ttl_seconds": 0}"#.into(), 422, "TTL_OUT_OF_RANGE"),
        ("POST", "/api/v1/locks", r#"{"key": "k", "owner": "o", "ttl_seconds": -5}"#.into(), 422, "TTL_OUT_OF_RANGE"),
        (
            "POST",
            "/api/v1/locks",
            r#"{"key": "k", "owner": "o", "ttl_seconds": 99999999}"#.into(),
            422,
            "TTL_OUT_OF_RANGE",
        ),
        ("POST", "/api/v1/locks", r#"{"key": "k", "owner": "", "ttl_seconds": 5}"#.into(), 422, "INVALID_ARGUMENT"),
        (
            "POST",
            "/api/v1/locks",
            r#"{"key": "k", "owner": "o", "ttl_seconds": 5, "permits": 0}"#.into(),
            422,
            "INVALID_ARGUMENT",
        ),
        (
            "POST",
            "/api/v1/locks",
            r#"{"key": "k", "owner": "o", "ttl_seconds": 5, "wait_timeout_seconds": -1}"#.into(),
            422,
            "INVALID_ARGUMENT",
        ),
        (
            "POST",
            "/api/v1/locks",
            format!(r#"{{"key": "k", "owner": "o", "ttl_seconds": 5, "metadata": "{big_metadata}"}}"#),
            422,
            "PAYLOAD_TOO_LARGE",
        ),
        (
            "POST",
            "/api/v1/locks",
            r#"{"key": "k2", "owner": "o", "ttl_seconds": 5, "lease_id": "0190a0a0-0000-7000-8000-000000000000"}"#
                .into(),
            404,
            "LEASE_NOT_FOUND",
        ),
        (
            "POST",
            "/api/v1/locks",
            r#"{"key": "k2", "owner": "o", "ttl_seconds": 5, "lease_id": "nonsense"}"#.into(),
            404,
            "LEASE_NOT_FOUND",
        ),
        (
            "DELETE",
            "/api/v1/locks/k",
            r#"{"lock_id": "0190a0a0-0000-7000-8000-000000000000", "owner": "holder"}"#.into(),
            409,
            "LOCK_NOT_HELD",
        ),
        ("DELETE", "/api/v1/locks/k", "{}".into(), 422, "INVALID_BODY"),
        ("POST", "/api/v1/locks/k/renew", r#"{"lock_id": "nonsense", "owner": "holder"}"#.into(), 409, "LOCK_NOT_HELD"),
        ("POST", "/api/v1/leases", r#"{"ttl_seconds": 0}"#.into(), 422, "TTL_OUT_OF_RANGE"),
        (
            "POST",
            "/api/v1/leases/0190a0a0-0000-7000-8000-000000000000/keepalive",
            String::new(),
            404,
            "LEASE_NOT_FOUND",
        ),
        ("DELETE", "/api/v1/leases/nonsense", String::new(), 404, "LEASE_NOT_FOUND"),
        ("GET", "/api/v1/locks?limit=0", String::new(), 422, "INVALID_ARGUMENT"),
        // A misspelt filter is refused, not ignored (which would list every lock).
        ("GET", "/api/v1/locks?ownr=a", String::new(), 422, "INVALID_ARGUMENT"),
        ("GET", "/api/v1/locks?limit=abc", String::new(), 422, "INVALID_ARGUMENT"),
        // An even number of bytes whose pairs split a character (`€`): it once panicked the cursor's decoding.
        ("GET", "/api/v1/locks?cursor=a%E2%82%AC", String::new(), 422, "INVALID_ARGUMENT"),
        // PostgreSQL cannot store NUL in text: refused before it reaches a store, in a query and in a path.
        ("GET", "/api/v1/locks?owner=a%00b", String::new(), 422, "INVALID_ARGUMENT"),
        ("GET", "/api/v1/locks/a%00b/status", String::new(), 422, "INVALID_ARGUMENT"),
        // A path segment that is not UTF-8 once decoded: the envelope, not axum's plain text.
        ("GET", "/api/v1/locks/%FF/status", String::new(), 422, "INVALID_ARGUMENT"),
        ("GET", "/api/v1/nothing-here", String::new(), 404, "NOT_FOUND"),
        ("PATCH", "/api/v1/locks", String::new(), 405, "METHOD_NOT_ALLOWED"),
    ];
    let http = reqwest::Client::new();
    for (method, path, body, status, expected) in cases {
        let response = http
            .request(method.parse().unwrap(), format!("{}{path}", server.url))
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        let got_status = response.status().as_u16();
        let envelope: Value = response.json().await.unwrap_or_else(|_| panic!("{method} {path}: body is not JSON"));
        assert_eq!((got_status, envelope["error"]["code"].as_str()), (status, Some(expected)), "{method} {path}");
        assert!(envelope["error"]["message"].as_str().is_some_and(|m| !m.is_empty()), "{method} {path}");
    }
    let (status, envelope) = post_oversized_body(&server.url, 2 * 1024 * 1024).await;
    assert_eq!((status, envelope["error"]["code"].as_str()), (413, Some("BODY_TOO_LARGE")));

    let status = client.lock_status("k").await.unwrap();
    assert_eq!((status.lock_id, status.holders.len()), (Some(held.lock_id), 1), "nothing changed");
    assert!(!client.lock_status("k2").await.unwrap().is_locked);
}

#[tokio::test]
async fn system_endpoints_answer() {
    let temp = temp_dir();
    let server = Server::embedded(&data_dir(&temp));
    let http = reqwest::Client::new();
    let get = |path: &str| http.get(format!("{}{path}", server.url)).send();
    assert_eq!(get("/health").await.unwrap().status(), 200);
    let ready: Value = get("/ready").await.unwrap().json().await.unwrap();
    assert_eq!(ready, json!({"status": "ready", "backend": "sqlite"}));
    server.client().acquire_lock(request("k", "a")).await.unwrap();
    let brewed = http.request(reqwest::Method::from_bytes(b"BREW").unwrap(), format!("{}/api/v1/locks", server.url));
    assert_eq!(brewed.send().await.unwrap().status(), 405);
    let metrics = get("/metrics").await.unwrap().text().await.unwrap();
    assert!(
        metrics.contains(r#"baton_http_requests_total{method="POST",route="/api/v1/locks",status="201"}"#),
        "{metrics}"
    );
    assert!(
        metrics.contains(r#"baton_http_requests_total{method="OTHER",route="/api/v1/locks",status="405"}"#),
        "a method outside the standard ones is labelled OTHER: {metrics}"
    );
    assert!(!metrics.contains("BREW"), "a client cannot add label values");
    assert!(metrics.contains("baton_http_request_duration_seconds_bucket"), "latency histograms");
    let openapi: Value = get("/api/v1/openapi.json").await.unwrap().json().await.unwrap();
    assert!(openapi["paths"]["/api/v1/locks"]["post"].is_object());
    let docs = get("/docs/").await.unwrap();
    assert_eq!(docs.status(), 200);
    assert!(docs.text().await.unwrap().contains("swagger"), "the docs page is served from embedded assets");
}

/// Posts a body larger than the limit over a raw socket. The server answers before reading it all, so the
/// body is written by a separate task whose write errors are expected; an HTTP client would report the
/// early close instead of the answer.
async fn post_oversized_body(url: &str, size: usize) -> (u16, Value) {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let address = url.trim_start_matches("http://").to_owned();
    let stream = tokio::net::TcpStream::connect(&address).await.unwrap();
    let (mut reader, mut writer) = stream.into_split();
    let head = format!(
        "POST /api/v1/locks HTTP/1.1\r\nHost: {address}\r\nContent-Type: application/json\r\nContent-Length: {size}\r\n\r\n"
    );
    let body = tokio::spawn(async move {
        let _ = writer.write_all(head.as_bytes()).await;
        let _ = writer.write_all(&vec![b' '; size]).await;
    });
    let mut answer = Vec::new();
    // The server closes the connection after refusing; the timeout only guards against a hang.
    let _ = tokio::time::timeout(std::time::Duration::from_secs(10), reader.read_to_end(&mut answer)).await;
    body.abort();
    let text = String::from_utf8_lossy(&answer);
    let status = text.split_whitespace().nth(1).and_then(|code| code.parse().ok()).unwrap_or(0);
    let json = text.split_once("\r\n\r\n").map_or("", |(_, body)| body);
    (status, serde_json::from_str(json).unwrap_or(Value::Null))
}

#[tokio::test]
async fn keys_may_hold_slashes_spaces_and_unicode() {
    let temp = temp_dir();
    let server = Server::embedded(&data_dir(&temp));
    let client = server.client();
    let key = "orders/42 ünïcode?&#";
    let grant = client.acquire_lock(request(key, "a")).await.unwrap();
    assert_eq!(grant.key, key);
    assert_eq!(client.lock_status(key).await.unwrap().lock_id, Some(grant.lock_id.clone()));
    client.renew_lock(key, &grant.lock_id, "a", None).await.unwrap();
    client.release_lock(key, &grant.lock_id, "a").await.unwrap();
    assert!(!client.lock_status(key).await.unwrap().is_locked);
}

#[tokio::test]
async fn a_keepalive_stream_extends_leases_in_order_and_keeps_going_after_a_refusal() {
    let temp = temp_dir();
    let server = Server::embedded(&data_dir(&temp));
    let client = server.client();
    let first = client.grant_lease(30).await.unwrap();
    let second = client.grant_lease(30).await.unwrap();
    let mut stream = client.lease_keepalives().await.unwrap();
    for lease in [&first, &second, &first] {
        let kept = stream.keepalive(&lease.lease_id).await.unwrap();
        assert_eq!((kept.lease_id.as_str(), kept.ttl_seconds), (lease.lease_id.as_str(), 30));
        assert!(kept.expires_at >= lease.expires_at, "a keepalive never shortens the lease");
    }
    assert_eq!(code(stream.keepalive("0190a0a0-0000-7000-8000-000000000000").await), "LEASE_NOT_FOUND");
    assert_eq!(stream.keepalive(&second.lease_id).await.unwrap().lease_id, second.lease_id, "the stream stays open");
    stream.close().await.unwrap();

    // The stream's namespace is the connection's: another namespace's lease is not found there.
    let mut elsewhere = server.client().with_namespace("other").lease_keepalives().await.unwrap();
    assert_eq!(code(elsewhere.keepalive(&first.lease_id).await), "LEASE_NOT_FOUND");
}

#[tokio::test]
async fn bad_messages_on_the_keepalive_stream_get_clear_errors_and_an_oversized_one_ends_only_that_stream() {
    use futures::{SinkExt as _, StreamExt as _};
    use tokio_tungstenite::tungstenite::Message;

    let temp = temp_dir();
    let server = Server::embedded(&data_dir(&temp));
    let url = format!("{}/api/v1/leases/keepalive", server.url.replacen("http", "ws", 1));
    let (mut socket, _) = tokio_tungstenite::connect_async(url.as_str()).await.expect("upgrade");
    for bad in [Message::text("not json"), Message::text(r#"{"lease_id": "x", "extra": 1}"#), Message::binary(vec![1])]
    {
        socket.send(bad).await.unwrap();
        let Some(Ok(Message::Text(answer))) = socket.next().await else { panic!("every message is answered") };
        let answer: Value = serde_json::from_str(&answer).unwrap();
        assert_eq!(answer["error"]["code"], "INVALID_ARGUMENT", "{answer}");
    }
    socket.send(Message::text(format!(r#"{{"lease_id": "{}"}}"#, "x".repeat(8192)))).await.unwrap();
    assert!(
        matches!(socket.next().await, None | Some(Err(_) | Ok(Message::Close(_)))),
        "a message over the limit closes the stream"
    );
    let lease = server.client().grant_lease(10).await.expect("the server goes on serving");
    let mut stream = server.client().lease_keepalives().await.unwrap();
    assert_eq!(stream.keepalive(&lease.lease_id).await.unwrap().ttl_seconds, 10);
}
