//! The log lines a request causes carry its request id, as its answer does, in both log formats.

use serde_json::Value;

use crate::server::Server;

const REQUEST_ID: &str = "log-test-7f3a";

/// What a request that failed in the store got back, and what the server logged.
struct FailedRequest {
    status: u16,
    answered_id: String,
    body: String,
    log: String,
}

/// Starts a cluster node logging in `format`, breaks its store behind its back (its locks table dropped), and
/// sends a lock status request with our request id.
async fn a_request_failing_in_the_store(format: &str) -> Option<FailedRequest> {
    let database = baton_conformance::harness::fresh_database().await?;
    let server =
        Server::start(vec!["--database-url".into(), database.url.clone(), "--log-format".into(), format.into()]);
    database.execute("DROP TABLE locks CASCADE").await;
    let response = reqwest::Client::new()
        .get(format!("{}/api/v1/locks/k/status", server.url))
        .header("x-request-id", REQUEST_ID)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let answered_id = response.headers()["x-request-id"].to_str().unwrap().to_owned();
    let body = response.text().await.unwrap();
    let log = server.stop_and_read_log();
    database.remove().await;
    Some(FailedRequest { status, answered_id, body, log })
}

#[tokio::test]
async fn a_store_failure_is_logged_in_text_with_the_request_id_and_its_detail_kept_from_the_client() {
    let Some(FailedRequest { status, answered_id, body, log }) = a_request_failing_in_the_store("text").await else {
        return;
    };
    assert_eq!(status, 500, "{body}");
    assert_eq!(answered_id, REQUEST_ID);
    assert!(body.contains("INTERNAL") && !body.contains("does not exist"), "the SQL error stays in the log: {body}");
    let line = log
        .lines()
        .find(|line| line.contains("baton_http::error: store failure"))
        .unwrap_or_else(|| panic!("no line for the failure in {log}"));
    assert!(line.contains(&format!("request_id={REQUEST_ID}")), "{line}");
    assert!(line.contains("path=/api/v1/locks/k/status") && line.contains("does not exist"), "{line}");
}

#[tokio::test]
async fn a_store_failure_is_logged_in_json_with_the_request_id() {
    let Some(FailedRequest { status, answered_id, log, .. }) = a_request_failing_in_the_store("json").await else {
        return;
    };
    assert_eq!((status, answered_id.as_str()), (500, REQUEST_ID));
    let line: Value = log
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .find(|line| line["fields"]["message"] == "store failure")
        .unwrap_or_else(|| panic!("no JSON line for the failure in {log}"));
    assert_eq!(line["span"]["request_id"], REQUEST_ID, "{line}");
    assert_eq!(line["level"], "ERROR", "{line}");
}
