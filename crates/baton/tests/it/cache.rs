//! The tag cache over HTTP and the CLI against real servers: the Syros shape, misses, tags, bulk, stampede
//! protection, bad input, and invalidation seen at once by another cluster node.

use std::process::Command;
use std::time::{Duration, Instant};

use baton_api::cache::BulkSetEntry;
use baton_client::CacheRead;
use serde_json::{Value, json};

use crate::http_events::send;
use crate::server::{BATON, Server, data_dir, temp_dir};

#[tokio::test]
async fn the_syros_cache_shape_works_and_a_miss_is_a_plain_404() {
    let temp = temp_dir();
    let server = Server::embedded(&data_dir(&temp));
    let body = r#"{"value": {"name": "John Silva", "preferences": {"theme": "dark"}}, "ttl_seconds": 3600, "tags": ["user", "profile"]}"#;
    let (status, stored) = send(&server, "POST", "/api/v1/cache/user-profile-123", body).await;
    assert_eq!((status, stored["success"].clone()), (200, json!(true)));
    assert!(stored["expires_at"].as_str().is_some_and(|at| at.ends_with('Z')));
    let (status, entry) = send(&server, "GET", "/api/v1/cache/user-profile-123", "").await;
    assert_eq!(status, 200);
    assert_eq!(entry["value"], json!({"name": "John Silva", "preferences": {"theme": "dark"}}));
    assert_eq!(entry["tags"], json!(["user", "profile"]));
    let (status, miss) = send(&server, "GET", "/api/v1/cache/nobody", "").await;
    assert_eq!((status, miss["error"]["code"].as_str()), (404, Some("CACHE_MISS")));
    assert_eq!(miss["error"]["details"]["filling"], json!(false));

    let client = server.client();
    client.cache_put("user-profile-456", &json!({"name": "Ana"}), None, vec!["user".into()]).await.unwrap();
    client.cache_put("config", &json!({"flag": true}), None, vec!["config".into()]).await.unwrap();
    client.cache_invalidate(vec!["profile".into()]).await.unwrap();
    assert!(client.cache_get("user-profile-123").await.unwrap().is_none(), "gone once the invalidation answers");
    assert!(client.cache_get("user-profile-456").await.unwrap().is_some());
    client.cache_invalidate(vec!["user".into()]).await.unwrap();
    assert!(client.cache_get("user-profile-456").await.unwrap().is_none());
    assert!(client.cache_delete("config").await.unwrap());
    assert!(!client.cache_delete("config").await.unwrap());
    let stats = client.cache_stats().await.unwrap();
    assert_eq!((stats.hits, stats.misses), (2, 3), "{stats:?}");
}

#[tokio::test]
async fn bulk_reads_and_writes_keep_the_order_asked() {
    let temp = temp_dir();
    let server = Server::embedded(&data_dir(&temp));
    let client = server.client();
    let entry = |key: &str, n: i64| BulkSetEntry {
        key: key.into(),
        value: serde_json::value::to_raw_value(&json!({"n": n})).unwrap(),
        ttl_seconds: Some(60),
        tags: vec!["bulk".into()],
    };
    let stored = client.cache_bulk_set(vec![entry("a", 1), entry("b", 2), entry("c", 3)]).await.unwrap();
    assert_eq!(stored.stored, 3);
    let found = client.cache_bulk_get(vec!["c".into(), "x".into(), "a".into()]).await.unwrap();
    assert_eq!(found.entries.iter().map(|e| e.key.as_str()).collect::<Vec<_>>(), vec!["c", "a"]);
    assert_eq!(found.missing, vec!["x"]);
    let stats = client.cache_stats().await.unwrap();
    assert_eq!(stats.entries, 3);
}

/// Many readers miss at once: one gets the fill lease, the others wait for its value instead of recomputing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_misses_wait_for_one_fill() {
    let temp = temp_dir();
    let server = Server::embedded(&data_dir(&temp));
    let client = server.client();
    let readers = (0..8).map(|_| {
        let client = client.clone();
        tokio::spawn(async move {
            match client
                .cache_get_or_fill("report", Duration::from_secs(10), Some(Duration::from_secs(10)))
                .await
                .unwrap()
            {
                CacheRead::Fill { fill_token } => {
                    // The one filler: compute slowly, then set with the token.
                    tokio::time::sleep(Duration::from_millis(300)).await;
                    let value = serde_json::value::to_raw_value(&json!({"total": 42})).unwrap();
                    let request = baton_api::cache::CacheSetRequest {
                        value,
                        ttl_seconds: Some(60),
                        tags: vec![],
                        fill_token: Some(fill_token),
                        namespace: None,
                    };
                    client.cache_set("report", &request).await.unwrap();
                    "filled"
                }
                CacheRead::Hit(entry) => {
                    assert_eq!(serde_json::from_str::<Value>(entry.value.get()).unwrap(), json!({"total": 42}));
                    "waited"
                }
                other => panic!("expected a fill or a hit, got {other:?}"),
            }
        })
    });
    let outcomes: Vec<&str> = futures::future::join_all(readers).await.into_iter().map(Result::unwrap).collect();
    assert_eq!(outcomes.iter().filter(|o| **o == "filled").count(), 1, "{outcomes:?}");
    assert_eq!(outcomes.iter().filter(|o| **o == "waited").count(), 7);
    // One outcome per request: the filler's miss, and a hit for each reader, however long it waited.
    let stats = client.cache_stats().await.unwrap();
    assert_eq!((stats.hits, stats.misses), (7, 1), "{stats:?}");
    // Without a wait, a reader learns that someone is filling.
    let _first = client.cache_get_or_fill("other", Duration::from_secs(10), None).await.unwrap();
    assert!(matches!(
        client.cache_get_or_fill("other", Duration::from_secs(10), None).await.unwrap(),
        CacheRead::Filling
    ));
}

#[tokio::test]
async fn bad_cache_input_gets_a_clear_error_and_changes_nothing() {
    let temp = temp_dir();
    let server = Server::embedded(&data_dir(&temp));
    let long_key = "k".repeat(513);
    let big_value = format!(r#"{{"value": "{}"}}"#, "v".repeat(600 * 1024));
    let many_tags =
        format!(r#"{{"value": 1, "tags": [{}]}}"#, (0..33).map(|n| format!("\"t{n}\"")).collect::<Vec<_>>().join(","));
    let long_tag = format!(r#"{{"value": 1, "tags": ["{}"]}}"#, "t".repeat(129));
    let cases: Vec<(&str, String, String, u16, &str)> = vec![
        ("PUT", "/api/v1/cache/k".into(), r#"{"value": 1, "ttl_seconds": 0}"#.into(), 422, "TTL_OUT_OF_RANGE"),
        ("PUT", "/api/v1/cache/k".into(), r#"{"value": 1, "ttl_seconds": -4}"#.into(), 422, "TTL_OUT_OF_RANGE"),
        (
            "PUT",
            "/api/v1/cache/k".into(),
            r#"{"value": 1, "ttl_seconds": 99999999999}"#.into(),
            422,
            "TTL_OUT_OF_RANGE",
        ),
        ("PUT", "/api/v1/cache/k".into(), r#"{"ttl_seconds": 5}"#.into(), 422, "INVALID_BODY"),
        ("PUT", "/api/v1/cache/k".into(), r#"{"value": 1, "colour": 2}"#.into(), 422, "INVALID_BODY"),
        ("PUT", "/api/v1/cache/k".into(), r#"{"value": "#.into(), 400, "MALFORMED_JSON"),
        ("PUT", format!("/api/v1/cache/{long_key}"), r#"{"value": 1}"#.into(), 422, "KEY_TOO_LONG"),
        ("PUT", "/api/v1/cache/a%0Ab".into(), r#"{"value": 1}"#.into(), 422, "INVALID_ARGUMENT"),
        ("PUT", "/api/v1/cache/k".into(), big_value, 422, "PAYLOAD_TOO_LARGE"),
        ("PUT", "/api/v1/cache/k".into(), many_tags, 422, "INVALID_ARGUMENT"),
        ("PUT", "/api/v1/cache/k".into(), long_tag, 422, "INVALID_ARGUMENT"),
        ("PUT", "/api/v1/cache/k".into(), r#"{"value": 1, "fill_token": "nonsense"}"#.into(), 422, "INVALID_ARGUMENT"),
        ("POST", "/api/v1/cache/invalidate".into(), r#"{"tags": []}"#.into(), 422, "INVALID_ARGUMENT"),
        ("POST", "/api/v1/cache/invalidate".into(), r#"{"tags": [""]}"#.into(), 422, "INVALID_ARGUMENT"),
        ("GET", "/api/v1/cache/k?wait_ms=10".into(), String::new(), 422, "INVALID_ARGUMENT"),
        ("GET", "/api/v1/cache/k?fill_lease_seconds=0".into(), String::new(), 422, "TTL_OUT_OF_RANGE"),
        ("POST", "/api/v1/cache/bulk-get".into(), format!(r#"{{"keys": ["{long_key}"]}}"#), 422, "KEY_TOO_LONG"),
        // The API's own route names are not keys: refused with a reason, not a 405 or a write to nowhere.
        ("PUT", "/api/v1/cache/stats".into(), r#"{"value": 1}"#.into(), 422, "INVALID_ARGUMENT"),
        ("DELETE", "/api/v1/cache/bulk-set".into(), String::new(), 422, "INVALID_ARGUMENT"),
        (
            "POST",
            "/api/v1/cache/bulk-set".into(),
            r#"{"entries": [{"key": "invalidate", "value": 1}]}"#.into(),
            422,
            "INVALID_ARGUMENT",
        ),
    ];
    for (method, path, body, status, code) in cases {
        let (got, answer) = send(&server, method, &path, &body).await;
        assert_eq!((got, answer["error"]["code"].as_str()), (status, Some(code)), "{method} {path}");
    }
    assert_eq!(server.client().cache_stats().await.unwrap().entries, 0, "nothing was stored");
}

#[tokio::test]
async fn cache_commands_get_set_del_invalidate_and_stats() {
    let temp = temp_dir();
    let server = Server::embedded(&data_dir(&temp));
    let baton =
        |args: &[&str]| Command::new(BATON).args(args).env("BATON_URL", &server.url).output().expect("run baton");
    assert!(
        baton(&["cache", "set", "greeting", r#"{"text": "hello"}"#, "--ttl", "1m", "--tag", "greetings"])
            .status
            .success()
    );
    let got = baton(&["cache", "get", "greeting"]);
    assert_eq!(String::from_utf8_lossy(&got.stdout).trim(), r#"{"text":"hello"}"#);
    assert!(baton(&["cache", "set", "plain", "just text"]).status.success());
    assert_eq!(String::from_utf8_lossy(&baton(&["cache", "get", "plain"]).stdout).trim(), r#""just text""#);
    assert!(baton(&["cache", "invalidate", "greetings"]).status.success());
    assert_eq!(baton(&["cache", "get", "greeting"]).status.code(), Some(4), "a miss has its own exit status");
    assert!(String::from_utf8_lossy(&baton(&["cache", "del", "plain"]).stdout).contains("deleted plain"));
    let stats: Value = serde_json::from_slice(&baton(&["cache", "stats", "--json"]).stdout).unwrap();
    assert_eq!(stats["entries"], 0);
}

/// An invalidation acknowledged by node A is never passed by a read on node B, even straight after it.
#[tokio::test]
async fn an_invalidation_on_one_node_holds_on_the_other_at_once() {
    let Some(database) = baton_conformance::harness::fresh_database().await else { return };
    let (node_a, node_b) = (Server::cluster(&database.url), Server::cluster(&database.url));
    let (a, b) = (node_a.client(), node_b.client());
    for round in 0..20 {
        let key = format!("price-{round}");
        a.cache_put(&key, &json!({"round": round}), Some(60), vec!["prices".into()]).await.unwrap();
        assert!(b.cache_get(&key).await.unwrap().is_some(), "shared by both nodes");
        a.cache_invalidate(vec!["prices".into()]).await.unwrap();
        assert!(b.cache_get(&key).await.unwrap().is_none(), "round {round}: B read an invalidated value");
    }
    let started = Instant::now();
    for _ in 0..50 {
        b.cache_get("price-0").await.unwrap();
    }
    eprintln!("cluster cache read through PostgreSQL: {:?} per read (debug build)", started.elapsed() / 50);
    drop((node_a, node_b));
    database.remove().await;
}
