//! Service discovery over HTTP and the CLI against a real embedded server: registration, filters, heartbeats,
//! TTL lapses and deregistration, HTTP and TCP checks against real local listeners, blocking queries, the SSE
//! watch and bad input.

use std::io::{BufRead as _, BufReader};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use baton_api::discovery::{CheckDefinition, RegisterInstanceRequest, ServiceInstancesView};
use baton_client::{BatonClient, InstanceQuery};
use futures::StreamExt as _;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpListener;

use crate::http_events::send;
use crate::server::{BATON, Server, data_dir, temp_dir};

pub fn ttl(address: &str, ttl_seconds: i64, tags: &[&str]) -> RegisterInstanceRequest {
    RegisterInstanceRequest {
        address: address.into(),
        port: 8080,
        tags: tags.iter().map(|tag| (*tag).to_owned()).collect(),
        ttl_seconds: Some(ttl_seconds),
        ..RegisterInstanceRequest::default()
    }
}

pub fn http_check(url: &str) -> RegisterInstanceRequest {
    RegisterInstanceRequest {
        address: "127.0.0.1".into(),
        port: 8080,
        check: Some(CheckDefinition {
            http: Some(url.into()),
            interval_seconds: 1,
            timeout_seconds: 1,
            ..CheckDefinition::default()
        }),
        ..RegisterInstanceRequest::default()
    }
}

/// A tiny HTTP server for checks to probe: it answers every request with the status it is set to, and records
/// each request's `User-Agent` (the prober names its node there).
pub struct Endpoint {
    pub url: String,
    status: Arc<AtomicU16>,
    hits: Arc<Mutex<Vec<String>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Endpoint {
    pub async fn start(status: u16) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let url = format!("http://{}/health", listener.local_addr().unwrap());
        let (status, hits) = (Arc::new(AtomicU16::new(status)), Arc::new(Mutex::new(Vec::new())));
        let task = tokio::spawn({
            let (status, hits) = (status.clone(), hits.clone());
            async move {
                loop {
                    let Ok((mut socket, _)) = listener.accept().await else { return };
                    let (status, hits) = (status.clone(), hits.clone());
                    tokio::spawn(async move {
                        let mut request = Vec::new();
                        let mut buffer = [0_u8; 1024];
                        while !request.windows(4).any(|w| w == b"\r\n\r\n") && request.len() < 16 * 1024 {
                            match socket.read(&mut buffer).await {
                                Ok(0) | Err(_) => return,
                                Ok(n) => request.extend_from_slice(&buffer[..n]),
                            }
                        }
                        let text = String::from_utf8_lossy(&request).to_lowercase();
                        let agent = text
                            .lines()
                            .find_map(|line| line.strip_prefix("user-agent:"))
                            .map(|agent| agent.trim().to_owned())
                            .unwrap_or_default();
                        hits.lock().unwrap().push(agent);
                        let code = status.load(Ordering::SeqCst);
                        let answer = format!("HTTP/1.1 {code} X\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
                        let _ = socket.write_all(answer.as_bytes()).await;
                    });
                }
            }
        });
        Self { url, status, hits, task }
    }

    pub fn set_status(&self, status: u16) {
        self.status.store(status, Ordering::SeqCst);
    }

    pub fn hits(&self) -> Vec<String> {
        self.hits.lock().unwrap().clone()
    }
}

impl Drop for Endpoint {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Follows the service with blocking queries until `done` holds, for at most `within`.
pub async fn until(
    client: &BatonClient,
    service: &str,
    within: Duration,
    what: &str,
    mut done: impl FnMut(&ServiceInstancesView) -> bool,
) -> ServiceInstancesView {
    let deadline = Instant::now() + within;
    let mut view = client.service_instances(service, &InstanceQuery::default()).await.unwrap();
    while !done(&view) {
        assert!(Instant::now() < deadline, "timed out waiting until {what}; last saw {view:#?}");
        view = client
            .wait_for_instances(service, &InstanceQuery::default(), view.index, Duration::from_secs(2))
            .await
            .unwrap();
    }
    view
}

pub fn health_of<'v>(view: &'v ServiceInstancesView, id: &str) -> Option<&'v str> {
    view.instances.iter().find(|i| i.instance_id == id).map(|i| i.health.as_str())
}

fn ids(view: &ServiceInstancesView) -> Vec<&str> {
    view.instances.iter().map(|i| i.instance_id.as_str()).collect()
}

#[tokio::test]
async fn instances_register_update_list_filter_heartbeat_and_deregister() {
    let temp = temp_dir();
    let server = Server::embedded(&data_dir(&temp));
    let body =
        r#"{"address": "10.0.0.1", "port": 8080, "tags": ["v1", "eu"], "metadata": {"zone": "a"}, "ttl_seconds": 30}"#;
    let response = reqwest::Client::new()
        .put(format!("{}/api/v1/services/web/instances/web-1", server.url))
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    assert_eq!(response.headers()["x-baton-index"], "1");
    let created: Value = response.json().await.unwrap();
    assert_eq!((created["health"].as_str(), created["index"].as_i64()), (Some("passing"), Some(1)));
    assert!(created["expires_at"].as_str().is_some_and(|at| at.ends_with('Z')));
    // The same id again is an update (200), idempotent like Consul's.
    let (status, again) = send(&server, "PUT", "/api/v1/services/web/instances/web-1", body).await;
    assert_eq!((status, again["index"].as_i64()), (200, Some(1)), "nothing changed: the index stays");
    let client = server.client();
    client.register_instance("web", "web-2", &ttl("10.0.0.2", 30, &["v2", "eu"])).await.unwrap();
    client.register_instance("web", "web-3", &ttl("10.0.0.3", 30, &["v1", "us"])).await.unwrap();
    client.register_instance("api", "api-1", &ttl("10.0.1.1", 30, &[])).await.unwrap();

    let all = client.service_instances("web", &InstanceQuery::default()).await.unwrap();
    assert_eq!((all.index, ids(&all)), (3, vec!["web-1", "web-2", "web-3"]));
    assert_eq!(all.instances[0].metadata, Some(json!({"zone": "a"})));
    let v1 = InstanceQuery { tags: vec!["v1".into()], ..InstanceQuery::default() };
    assert_eq!(ids(&client.service_instances("web", &v1).await.unwrap()), vec!["web-1", "web-3"]);
    let (status, both) = send(&server, "GET", "/api/v1/services/web?tag=v1&tag=eu&healthy=true", "").await;
    assert_eq!(status, 200);
    assert_eq!(both["instances"].as_array().map(Vec::len), Some(1));
    let page = InstanceQuery { limit: Some(2), ..InstanceQuery::default() };
    let first = client.service_instances("web", &page).await.unwrap();
    let rest = InstanceQuery { cursor: first.next_cursor.clone(), ..page };
    assert_eq!(
        (ids(&first), ids(&client.service_instances("web", &rest).await.unwrap())),
        (vec!["web-1", "web-2"], vec!["web-3"])
    );

    let services = client.list_services(None, None).await.unwrap();
    let counts: Vec<(&str, u64, u64)> =
        services.services.iter().map(|s| (s.service.as_str(), s.passing, s.total)).collect();
    assert_eq!(counts, vec![("api", 1, 1), ("web", 3, 3)]);

    let beat = client.heartbeat_instance("web", "web-2").await.unwrap();
    assert_eq!(beat.health, "passing");
    assert_eq!(client.instance("web", "web-2").await.unwrap().address, "10.0.0.2");
    let gone = client.deregister_instance("web", "web-2").await.unwrap();
    assert_eq!(gone.instance_id, "web-2");
    assert_eq!(client.deregister_instance("web", "web-2").await.unwrap_err().code(), Some("INSTANCE_NOT_FOUND"));
    assert_eq!(client.heartbeat_instance("web", "web-2").await.unwrap_err().code(), Some("INSTANCE_NOT_FOUND"));
    let (status, _) = send(&server, "DELETE", "/api/v1/services/web/instances/web-2", "").await;
    assert_eq!(status, 404);
    assert_eq!(client.service_instances("web", &InstanceQuery::default()).await.unwrap().index, 4);
    // Another namespace is another set of services.
    let other = client.clone().with_namespace("staging");
    assert!(other.service_instances("web", &InstanceQuery::default()).await.unwrap().instances.is_empty());
}

#[tokio::test]
async fn the_modify_index_survives_a_restart() {
    let temp = temp_dir();
    let mut server = Server::embedded(&data_dir(&temp));
    let client = server.client();
    client.register_instance("web", "w-1", &ttl("10.0.0.1", 600, &[])).await.unwrap();
    client.deregister_instance("web", "w-1").await.unwrap();
    server.restart();
    let client = server.client();
    let after = client.service_instances("web", &InstanceQuery::default()).await.unwrap();
    assert_eq!((after.index, after.instances.len()), (2, 0), "the index outlives the process and the last instance");
    let back = client.register_instance("web", "w-1", &ttl("10.0.0.1", 600, &[])).await.unwrap();
    assert_eq!(back.index, 3, "it never goes back");
}

#[tokio::test]
async fn a_lapsed_ttl_turns_critical_and_deregister_after_removes_it() {
    let temp = temp_dir();
    let server = Server::embedded(&data_dir(&temp));
    let client = server.client();
    let short = RegisterInstanceRequest { deregister_after_seconds: Some(1), ..ttl("10.0.0.1", 1, &[]) };
    client.register_instance("jobs", "short", &short).await.unwrap();
    client.register_instance("jobs", "kept", &ttl("10.0.0.2", 1, &[])).await.unwrap();
    let keeper = client.register_and_keep("jobs", "alive", &ttl("10.0.0.3", 1, &[])).await.unwrap();
    let lapsed = until(&client, "jobs", Duration::from_secs(15), "both lapse", |view| {
        health_of(view, "short").is_none_or(|h| h == "critical") && health_of(view, "kept") == Some("critical")
    })
    .await;
    assert_eq!(health_of(&lapsed, "alive"), Some("passing"), "the heartbeating guard keeps its instance passing");
    let healthy = InstanceQuery { healthy: true, ..InstanceQuery::default() };
    assert_eq!(ids(&client.service_instances("jobs", &healthy).await.unwrap()), vec!["alive"]);
    let removed = until(&client, "jobs", Duration::from_secs(15), "short is deregistered", |view| {
        health_of(view, "short").is_none()
    })
    .await;
    assert_eq!(ids(&removed), vec!["alive", "kept"], "no deregister_after: a critical instance stays");
    // A heartbeat brings a lapsed instance back.
    assert_eq!(client.heartbeat_instance("jobs", "kept").await.unwrap().health, "passing");
    // The guard deregisters when asked to (and when dropped).
    assert_eq!(keeper.deregister().await.unwrap().instance_id, "alive");
    let dropped = client.register_and_keep("jobs", "alive", &ttl("10.0.0.3", 5, &[])).await.unwrap();
    drop(dropped);
    until(&client, "jobs", Duration::from_secs(5), "a dropped guard deregisters", |view| {
        health_of(view, "alive").is_none()
    })
    .await;
}

#[tokio::test]
async fn http_and_tcp_checks_follow_real_listeners() {
    let temp = temp_dir();
    let server = Server::embedded(&data_dir(&temp));
    let client = server.client();
    let endpoint = Endpoint::start(200).await;
    let registered = client.register_instance("web", "web-1", &http_check(&endpoint.url)).await.unwrap();
    assert_eq!(
        (registered.health.as_str(), registered.output.as_deref()),
        ("critical", Some("awaiting its first check"))
    );
    let tcp = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let tcp_address = tcp.local_addr().unwrap();
    let tcp_check = RegisterInstanceRequest {
        check: Some(CheckDefinition {
            tcp: Some(tcp_address.to_string()),
            interval_seconds: 1,
            timeout_seconds: 1,
            ..CheckDefinition::default()
        }),
        ..http_check("http://unused")
    };
    client.register_instance("web", "db-1", &tcp_check).await.unwrap();

    let passing = until(&client, "web", Duration::from_secs(20), "both checks pass", |view| {
        health_of(view, "web-1") == Some("passing") && health_of(view, "db-1") == Some("passing")
    })
    .await;
    let web = passing.instances.iter().find(|i| i.instance_id == "web-1").unwrap();
    assert!(web.output.as_deref().is_some_and(|output| output.contains("200")), "{:?}", web.output);
    assert_eq!(web.checked_by.as_deref(), Some(format!("node-{}", server.pid()).as_str()));
    assert!(endpoint.hits().iter().all(|agent| agent.starts_with("baton-health-check/")));

    endpoint.set_status(503);
    drop(tcp);
    let failing = until(&client, "web", Duration::from_secs(20), "both checks fail", |view| {
        health_of(view, "web-1") == Some("critical") && health_of(view, "db-1") == Some("critical")
    })
    .await;
    let web = failing.instances.iter().find(|i| i.instance_id == "web-1").unwrap();
    assert!(web.output.as_deref().is_some_and(|output| output.contains("503")), "{:?}", web.output);
    assert!(web.critical_since.is_some());
    let healthy = InstanceQuery { healthy: true, ..InstanceQuery::default() };
    assert!(client.service_instances("web", &healthy).await.unwrap().instances.is_empty());
    assert_eq!(client.heartbeat_instance("web", "web-1").await.unwrap_err().code(), Some("NOT_TTL_INSTANCE"));

    // And back: the check passes again once its endpoint does.
    endpoint.set_status(204);
    until(&client, "web", Duration::from_secs(20), "the HTTP check passes again", |view| {
        health_of(view, "web-1") == Some("passing")
    })
    .await;
}

#[tokio::test]
async fn a_blocking_query_wakes_on_a_change_and_times_out_with_the_same_index() {
    let temp = temp_dir();
    let server = Server::embedded(&data_dir(&temp));
    let client = server.client();
    client.register_instance("api", "a-1", &ttl("10.0.0.1", 60, &[])).await.unwrap();
    let now = client.service_instances("api", &InstanceQuery::default()).await.unwrap();
    // An older index answers at once.
    let behind = client
        .wait_for_instances("api", &InstanceQuery::default(), now.index - 1, Duration::from_secs(60))
        .await
        .unwrap();
    assert_eq!(behind.index, now.index);

    let blocked = tokio::spawn({
        let client = client.clone();
        async move { client.wait_for_instances("api", &InstanceQuery::default(), now.index, Duration::from_secs(60)).await }
    });
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(!blocked.is_finished(), "nothing changed yet");
    client.register_instance("api", "a-2", &ttl("10.0.0.2", 60, &[])).await.unwrap();
    let woken = tokio::time::timeout(Duration::from_secs(10), blocked).await.expect("woken").unwrap().unwrap();
    assert!(woken.index > now.index);
    assert_eq!(ids(&woken), vec!["a-1", "a-2"]);

    // No change within the wait: the same index comes back once the wait passes.
    let started = Instant::now();
    let response =
        reqwest::get(format!("{}/api/v1/services/api?index={}&wait=300ms", server.url, woken.index)).await.unwrap();
    assert!(started.elapsed() >= Duration::from_millis(300));
    assert_eq!(response.headers()["x-baton-index"], woken.index.to_string().as_str());
    let same: ServiceInstancesView = response.json().await.unwrap();
    assert_eq!(same.index, woken.index);
    // A heartbeat changes nothing a reader sees, so it wakes nobody.
    let heartbeat_only = tokio::spawn({
        let client = client.clone();
        async move {
            client.wait_for_instances("api", &InstanceQuery::default(), woken.index, Duration::from_millis(800)).await
        }
    });
    client.heartbeat_instance("api", "a-1").await.unwrap();
    assert_eq!(heartbeat_only.await.unwrap().unwrap().index, woken.index);
    // A service never registered waits at index 0, and wakes at its first registration.
    let unknown = tokio::spawn({
        let client = client.clone();
        async move { client.wait_for_instances("new", &InstanceQuery::default(), 0, Duration::from_secs(60)).await }
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    client.register_instance("new", "n-1", &ttl("10.0.0.9", 60, &[])).await.unwrap();
    let first = tokio::time::timeout(Duration::from_secs(10), unknown).await.expect("woken").unwrap().unwrap();
    assert_eq!((first.index, ids(&first)), (1, vec!["n-1"]));
}

pub async fn next_event<S>(watch: &mut S) -> ServiceInstancesView
where
    S: futures::Stream<Item = Result<ServiceInstancesView, baton_client::ClientError>> + Unpin,
{
    tokio::time::timeout(Duration::from_secs(10), watch.next()).await.expect("an event").expect("open").unwrap()
}

#[tokio::test]
async fn the_sse_watch_streams_the_current_state_then_each_change() {
    let temp = temp_dir();
    let server = Server::embedded(&data_dir(&temp));
    let client = server.client();
    client.register_instance("web", "w-1", &ttl("10.0.0.1", 60, &["v1"])).await.unwrap();
    let mut watch = Box::pin(client.watch_service("web", &InstanceQuery::default()).await.unwrap());
    let first: ServiceInstancesView = next_event(&mut watch).await;
    assert_eq!((first.index, ids(&first)), (1, vec!["w-1"]));
    client.register_instance("web", "w-2", &ttl("10.0.0.2", 60, &["v2"])).await.unwrap();
    let second: ServiceInstancesView = next_event(&mut watch).await;
    assert_eq!((second.index, ids(&second)), (2, vec!["w-1", "w-2"]));
    client.deregister_instance("web", "w-1").await.unwrap();
    let third: ServiceInstancesView = next_event(&mut watch).await;
    assert_eq!((third.index, ids(&third)), (3, vec!["w-2"]));
    // A filtered watch sees only its share, with the same index.
    let mut tagged = Box::pin(
        client
            .watch_service("web", &InstanceQuery { tags: vec!["v1".into()], ..InstanceQuery::default() })
            .await
            .unwrap(),
    );
    let filtered: ServiceInstancesView = next_event(&mut tagged).await;
    assert_eq!((filtered.index, filtered.instances.len()), (3, 0));
}

#[tokio::test]
async fn bad_discovery_input_gets_a_clear_error_and_changes_nothing() {
    let temp = temp_dir();
    let server = Server::embedded(&data_dir(&temp));
    let long = "s".repeat(513);
    let ok = json!({"address": "10.0.0.1", "port": 80, "ttl_seconds": 10});
    let with = |patch: Value| {
        let mut body = ok.clone();
        for (key, value) in patch.as_object().unwrap() {
            body[key] = value.clone();
        }
        body.to_string()
    };
    let check = |check: Value| with(json!({"ttl_seconds": null, "check": check}));
    let too_many_tags: Vec<String> = (0..65).map(|n| format!("t{n}")).collect();
    let big = "m".repeat(70 * 1024);
    let cases: Vec<(String, String, u16, &str)> = vec![
        ("/api/v1/services//instances/i".into(), ok.to_string(), 422, "INVALID_ARGUMENT"),
        ("/api/v1/services/%01/instances/i".into(), ok.to_string(), 422, "INVALID_ARGUMENT"),
        ("/api/v1/services/web/instances/%01".into(), ok.to_string(), 422, "INVALID_ARGUMENT"),
        (format!("/api/v1/services/{long}/instances/i"), ok.to_string(), 422, "KEY_TOO_LONG"),
        (format!("/api/v1/services/web/instances/{long}"), ok.to_string(), 422, "KEY_TOO_LONG"),
        ("/api/v1/services/web/instances/i".into(), with(json!({"ttl_seconds": 0})), 422, "TTL_OUT_OF_RANGE"),
        ("/api/v1/services/web/instances/i".into(), with(json!({"ttl_seconds": -5})), 422, "TTL_OUT_OF_RANGE"),
        ("/api/v1/services/web/instances/i".into(), with(json!({"ttl_seconds": 99_999_999})), 422, "TTL_OUT_OF_RANGE"),
        ("/api/v1/services/web/instances/i".into(), with(json!({"ttl_seconds": null})), 422, "INVALID_CHECK"),
        (
            "/api/v1/services/web/instances/i".into(),
            with(json!({"check": {"tcp": "h:1", "interval_seconds": 5, "timeout_seconds": 1}})),
            422,
            "INVALID_CHECK",
        ),
        (
            "/api/v1/services/web/instances/i".into(),
            check(json!({"http": "ftp://x", "interval_seconds": 5, "timeout_seconds": 1})),
            422,
            "INVALID_CHECK",
        ),
        (
            "/api/v1/services/web/instances/i".into(),
            check(json!({"http": "http://h/", "interval_seconds": 0, "timeout_seconds": 1})),
            422,
            "INVALID_CHECK",
        ),
        (
            "/api/v1/services/web/instances/i".into(),
            check(json!({"http": "http://h/", "interval_seconds": 2, "timeout_seconds": 5})),
            422,
            "INVALID_CHECK",
        ),
        (
            "/api/v1/services/web/instances/i".into(),
            check(json!({"tcp": "no-port", "interval_seconds": 5, "timeout_seconds": 1})),
            422,
            "INVALID_CHECK",
        ),
        (
            "/api/v1/services/web/instances/i".into(),
            check(json!({"interval_seconds": 5, "timeout_seconds": 1})),
            422,
            "INVALID_CHECK",
        ),
        ("/api/v1/services/web/instances/i".into(), with(json!({"port": 0})), 422, "INVALID_ARGUMENT"),
        ("/api/v1/services/web/instances/i".into(), with(json!({"port": 70000})), 422, "INVALID_ARGUMENT"),
        ("/api/v1/services/web/instances/i".into(), with(json!({"address": ""})), 422, "INVALID_ARGUMENT"),
        ("/api/v1/services/web/instances/i".into(), with(json!({"tags": too_many_tags})), 422, "INVALID_ARGUMENT"),
        ("/api/v1/services/web/instances/i".into(), with(json!({"metadata": big})), 422, "PAYLOAD_TOO_LARGE"),
        (
            "/api/v1/services/web/instances/i".into(),
            with(json!({"deregister_after_seconds": 0})),
            422,
            "INVALID_ARGUMENT",
        ),
        ("/api/v1/services/web/instances/i".into(), with(json!({"colour": "red"})), 422, "INVALID_BODY"),
        ("/api/v1/services/web/instances/i".into(), "{not json".into(), 400, "MALFORMED_JSON"),
    ];
    for (path, body, status, code) in cases {
        let (got, answer) = send(&server, "PUT", &path, &body).await;
        assert_eq!(
            (got, answer["error"]["code"].as_str()),
            (status, Some(code)),
            "PUT {path} {}",
            &body[..body.len().min(120)]
        );
    }
    for (path, code) in [
        ("/api/v1/services/web?index=-1", "INVALID_ARGUMENT"),
        ("/api/v1/services/web?index=1&wait=soon", "INVALID_ARGUMENT"),
        ("/api/v1/services/web?healthy=maybe", "INVALID_ARGUMENT"),
        ("/api/v1/services/web?colour=red", "INVALID_ARGUMENT"),
        ("/api/v1/services/web?cursor=zz", "INVALID_ARGUMENT"),
        ("/api/v1/services/web?limit=0", "INVALID_ARGUMENT"),
        ("/api/v1/services?limit=5000", "INVALID_ARGUMENT"),
    ] {
        let (got, answer) = send(&server, "GET", path, "").await;
        assert_eq!((got, answer["error"]["code"].as_str()), (422, Some(code)), "GET {path}");
    }
    let services = server.client().list_services(None, None).await.unwrap();
    assert!(services.services.is_empty(), "nothing was registered");
}

fn baton(server: &Server, args: &[&str]) -> std::process::Output {
    Command::new(BATON).args(args).env("BATON_URL", &server.url).output().expect("run baton")
}

fn json_of(output: &std::process::Output) -> Value {
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    serde_json::from_slice(&output.stdout).expect("JSON output")
}

#[tokio::test]
async fn the_svc_cli_registers_lists_watches_and_deregisters() {
    let temp = temp_dir();
    let server = Server::embedded(&data_dir(&temp));
    let registered = json_of(&baton(
        &server,
        &[
            "svc",
            "register",
            "web",
            "w-1",
            "--address",
            "10.0.0.1",
            "--port",
            "80",
            "--tag",
            "v1",
            "--ttl",
            "30s",
            "--json",
        ],
    ));
    assert_eq!(
        (registered["health"].as_str(), registered["check"]["ttl_seconds"].as_i64()),
        (Some("passing"), Some(30))
    );
    let endpoint = Endpoint::start(200).await;
    let checked = json_of(&baton(
        &server,
        &[
            "svc",
            "register",
            "web",
            "w-2",
            "--address",
            "127.0.0.1",
            "--port",
            "80",
            "--http",
            &endpoint.url,
            "--interval",
            "1s",
            "--timeout",
            "1s",
            "--json",
        ],
    ));
    assert_eq!(checked["check"]["kind"].as_str(), Some("http"));
    let refused = baton(&server, &["svc", "register", "web", "w-3", "--address", "a", "--port", "80"]);
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("INVALID_CHECK"));

    let listed = baton(&server, &["svc", "list"]);
    assert!(String::from_utf8_lossy(&listed.stdout).contains("web\t"), "{}", String::from_utf8_lossy(&listed.stdout));
    let tagged = json_of(&baton(&server, &["svc", "instances", "web", "--tag", "v1", "--json"]));
    assert_eq!(tagged["instances"].as_array().map(Vec::len), Some(1));
    json_of(&baton(&server, &["svc", "heartbeat", "web", "w-1", "--json"]));

    // `svc watch` prints the state now, then each change, one JSON line per change.
    let mut watch = Command::new(BATON)
        .args(["svc", "watch", "web", "--json"])
        .env("BATON_URL", &server.url)
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn baton svc watch");
    let (lines_tx, lines) = std::sync::mpsc::channel::<String>();
    let stdout = watch.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = lines_tx.send(line);
        }
    });
    let read =
        || -> Value { serde_json::from_str(&lines.recv_timeout(Duration::from_secs(10)).expect("a line")).unwrap() };
    let first = read();
    let first_index = first["index"].as_i64().unwrap();
    let gone = json_of(&baton(&server, &["svc", "deregister", "web", "w-1", "--json"]));
    assert_eq!(gone["instance_id"].as_str(), Some("w-1"));
    // The check passing may come first; the deregistration shows up by a later index.
    let mut change = read();
    while change["instances"].as_array().unwrap().iter().any(|i| i["instance_id"] == "w-1") {
        change = read();
    }
    assert!(change["index"].as_i64().unwrap() > first_index);
    let _ = watch.kill();
    let _ = watch.wait();

    // `register --keep` heartbeats in the foreground and deregisters on SIGTERM.
    let mut kept = Command::new(BATON)
        .args(["svc", "register", "web", "kept", "--address", "10.0.0.5", "--port", "80", "--ttl", "2s", "--keep"])
        .env("BATON_URL", &server.url)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn baton svc register --keep");
    let mut first_line = String::new();
    BufReader::new(kept.stdout.take().unwrap()).read_line(&mut first_line).unwrap();
    assert!(first_line.starts_with("kept\t"), "{first_line}");
    let client = server.client();
    tokio::time::sleep(Duration::from_millis(3500)).await;
    assert_eq!(client.instance("web", "kept").await.unwrap().health, "passing", "kept alive past its 2 s TTL");
    let status = Command::new("kill").args(["-TERM", &kept.id().to_string()]).status().unwrap();
    assert!(status.success());
    assert!(kept.wait().unwrap().success());
    assert_eq!(client.instance("web", "kept").await.unwrap_err().code(), Some("INSTANCE_NOT_FOUND"));
}
