//! Claims over HTTP and the CLI against a real embedded server.

use std::process::Command;

use baton_api::claim::{ClaimRequest, NextClaimRequest};
use baton_client::ListClaims;
use serde_json::{Value, json};

use crate::http_events::send;
use crate::server::{BATON, Server, data_dir, temp_dir};

fn request(owner: &str) -> ClaimRequest {
    ClaimRequest { owner: owner.into(), ttl_seconds: 30, metadata: None }
}

#[tokio::test]
async fn a_claim_is_granted_held_done_and_never_granted_again() {
    let temp = temp_dir();
    let server = Server::embedded(&data_dir(&temp));
    let (status, claim) =
        send(&server, "POST", "/api/v1/claims/imports/2026-11-30.csv", r#"{"owner": "worker-1", "ttl_seconds": 30}"#)
            .await;
    assert_eq!(status, 201);
    assert!(claim["claim_id"].as_str().is_some_and(|id| !id.is_empty()));
    assert!(claim["fencing_token"].as_i64().is_some_and(|token| token > 0));
    assert!(claim["expires_at"].as_str().is_some_and(|at| at.ends_with('Z')));
    let client = server.client();
    let held = client.claim("imports", "2026-11-30.csv", &request("worker-2")).await.unwrap_err();
    assert_eq!(held.code(), Some("CLAIM_HELD"));
    let claim_id = claim["claim_id"].as_str().unwrap();
    let done =
        client.done_claim("imports", "2026-11-30.csv", claim_id, "worker-1", Some(json!({"rows": 12}))).await.unwrap();
    assert_eq!((done.state.as_str(), done.metadata), ("done", Some(json!({"rows": 12}))));
    let again = client.claim("imports", "2026-11-30.csv", &request("worker-2")).await.unwrap_err();
    assert_eq!(again.code(), Some("CLAIM_DONE"));
    assert_eq!(client.claim_status("imports", "2026-11-30.csv").await.unwrap().state, "done");
    // Another namespace is another set of resources.
    assert_eq!(client.claim("exports", "2026-11-30.csv", &request("worker-2")).await.unwrap().state, "held");
}

#[tokio::test]
async fn next_takes_the_first_free_candidate_and_lists_show_held_and_done() {
    let temp = temp_dir();
    let server = Server::embedded(&data_dir(&temp));
    let client = server.client();
    let files: Vec<String> = ["a.csv", "b.csv", "c.csv"].into_iter().map(str::to_owned).collect();
    let next = |owner: &str| NextClaimRequest {
        owner: owner.into(),
        candidates: files.clone(),
        ttl_seconds: 30,
        metadata: None,
    };
    let first = client.claim_next("dir", &next("w1")).await.unwrap();
    let second = client.claim_next("dir", &next("w2")).await.unwrap();
    assert_eq!((first.resource.as_str(), second.resource.as_str()), ("a.csv", "b.csv"));
    client.done_claim("dir", "a.csv", &first.claim_id, "w1", None).await.unwrap();
    client.discard_claim("dir", "b.csv", &second.claim_id, "w2").await.unwrap();
    assert_eq!(client.claim_next("dir", &next("w3")).await.unwrap().resource, "b.csv");
    assert_eq!(client.claim_next("dir", &next("w3")).await.unwrap().resource, "c.csv");
    let none = client.claim_next("dir", &next("w4")).await.unwrap_err();
    assert_eq!(none.code(), Some("NO_CLAIM_AVAILABLE"));
    let all = client.list_claims("dir", &ListClaims::default()).await.unwrap();
    let states: Vec<(&str, &str)> = all.claims.iter().map(|c| (c.resource.as_str(), c.state.as_str())).collect();
    assert_eq!(states, vec![("a.csv", "done"), ("b.csv", "held"), ("c.csv", "held")]);
    let done =
        client.list_claims("dir", &ListClaims { state: Some("done".into()), ..ListClaims::default() }).await.unwrap();
    assert_eq!(done.claims.len(), 1);
    // Claims are not locks: they stay out of the lock listing.
    assert!(client.list_locks(&baton_client::ListLocks::default()).await.unwrap().items.is_empty());
}

#[tokio::test]
async fn bad_claim_input_gets_a_clear_error_and_changes_nothing() {
    let temp = temp_dir();
    let server = Server::embedded(&data_dir(&temp));
    let long = "r".repeat(513);
    let big = format!(r#"{{"owner": "o", "ttl_seconds": 5, "metadata": "{}"}}"#, "m".repeat(70 * 1024));
    let too_many = format!(
        r#"{{"owner": "o", "ttl_seconds": 5, "candidates": [{}]}}"#,
        (0..1001).map(|n| format!("\"c{n}\"")).collect::<Vec<_>>().join(",")
    );
    let cases: Vec<(&str, String, String, u16, &str)> = vec![
        ("POST", "/api/v1/claims/ns/r".into(), r#"{"owner": "o", "ttl_seconds": 0}"#.into(), 422, "TTL_OUT_OF_RANGE"),
        ("POST", "/api/v1/claims/ns/r".into(), r#"{"owner": "o", "ttl_seconds": -1}"#.into(), 422, "TTL_OUT_OF_RANGE"),
        (
            "POST",
            "/api/v1/claims/ns/r".into(),
            r#"{"owner": "o", "ttl_seconds": 99999999}"#.into(),
            422,
            "TTL_OUT_OF_RANGE",
        ),
        ("POST", "/api/v1/claims/ns/r".into(), r#"{"owner": "", "ttl_seconds": 5}"#.into(), 422, "INVALID_ARGUMENT"),
        ("POST", "/api/v1/claims/ns/r".into(), r#"{"ttl_seconds": 5}"#.into(), 422, "INVALID_BODY"),
        // `next` is the route that claims the first free candidate, not a resource.
        ("GET", "/api/v1/claims/ns/next".into(), String::new(), 422, "INVALID_ARGUMENT"),
        (
            "POST",
            "/api/v1/claims/ns/r".into(),
            r#"{"owner": "o", "ttl_seconds": 5, "extra": 1}"#.into(),
            422,
            "INVALID_BODY",
        ),
        (
            "POST",
            format!("/api/v1/claims/ns/{long}"),
            r#"{"owner": "o", "ttl_seconds": 5}"#.into(),
            422,
            "KEY_TOO_LONG",
        ),
        (
            "POST",
            "/api/v1/claims/ns/a%01b".into(),
            r#"{"owner": "o", "ttl_seconds": 5}"#.into(),
            422,
            "INVALID_ARGUMENT",
        ),
        (
            "POST",
            "/api/v1/claims/bad%20ns/r".into(),
            r#"{"owner": "o", "ttl_seconds": 5}"#.into(),
            422,
            "INVALID_ARGUMENT",
        ),
        ("POST", "/api/v1/claims/ns/r".into(), big, 422, "PAYLOAD_TOO_LARGE"),
        (
            "POST",
            "/api/v1/claims/ns/next".into(),
            r#"{"owner": "o", "ttl_seconds": 5, "candidates": []}"#.into(),
            422,
            "BATCH_TOO_LARGE",
        ),
        ("POST", "/api/v1/claims/ns/next".into(), too_many, 422, "BATCH_TOO_LARGE"),
        (
            "POST",
            "/api/v1/claims/ns/next".into(),
            r#"{"owner": "o", "ttl_seconds": 5, "candidates": [""]}"#.into(),
            422,
            "INVALID_ARGUMENT",
        ),
        (
            "POST",
            "/api/v1/claims/ns/r/done".into(),
            r#"{"claim_id": "nonsense", "owner": "o"}"#.into(),
            409,
            "CLAIM_NOT_HELD",
        ),
        (
            "POST",
            "/api/v1/claims/ns/r/discard".into(),
            r#"{"claim_id": "0190a0a0-0000-7000-8000-000000000000", "owner": "o"}"#.into(),
            409,
            "CLAIM_NOT_HELD",
        ),
        (
            "POST",
            "/api/v1/claims/ns/r/renew".into(),
            r#"{"claim_id": "nonsense", "owner": "o"}"#.into(),
            409,
            "CLAIM_NOT_HELD",
        ),
        ("GET", "/api/v1/claims/ns?state=lost".into(), String::new(), 422, "INVALID_ARGUMENT"),
        ("GET", "/api/v1/claims/ns?limit=0".into(), String::new(), 422, "INVALID_ARGUMENT"),
    ];
    for (method, path, body, status, code) in cases {
        let (got, answer) = send(&server, method, &path, &body).await;
        assert_eq!((got, answer["error"]["code"].as_str()), (status, Some(code)), "{method} {path}");
    }
    let list = server.client().list_claims("ns", &ListClaims::default()).await.unwrap();
    assert!(list.claims.is_empty(), "nothing was claimed");
}

fn baton(server: &Server, args: &[&str]) -> std::process::Output {
    Command::new(BATON).args(args).env("BATON_URL", &server.url).output().expect("run baton")
}

#[tokio::test]
async fn claim_run_marks_the_claim_done_only_if_the_command_succeeds() {
    let temp = temp_dir();
    let server = Server::embedded(&data_dir(&temp));
    let failed = baton(
        &server,
        &["claim", "run", "jobs", "nightly", "--", "sh", "-c", "test -n \"$BATON_FENCING_TOKEN\" && exit 4"],
    );
    assert_eq!(failed.status.code(), Some(4), "{}", String::from_utf8_lossy(&failed.stderr));
    assert_eq!(server.client().claim_status("jobs", "nightly").await.unwrap().state, "free", "discarded on failure");
    let token_file = temp.path().join("token");
    let script =
        format!(r#"test "$BATON_CLAIM_RESOURCE" = nightly && echo "$BATON_FENCING_TOKEN" > {}"#, token_file.display());
    let succeeded = baton(&server, &["claim", "run", "jobs", "nightly", "--ttl", "5s", "--", "sh", "-c", &script]);
    assert!(succeeded.status.success(), "{}", String::from_utf8_lossy(&succeeded.stderr));
    assert!(std::fs::read_to_string(&token_file).unwrap().trim().parse::<i64>().unwrap() > 0);
    let status = server.client().claim_status("jobs", "nightly").await.unwrap();
    assert_eq!(status.state, "done");
    let again = baton(&server, &["claim", "run", "jobs", "nightly", "--", "true"]);
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("CLAIM_DONE"));
    let listed: Value = serde_json::from_slice(&baton(&server, &["claim", "list", "jobs", "--json"]).stdout).unwrap();
    assert_eq!(listed["claims"][0]["state"], "done");
    let acquired = baton(&server, &["claim", "acquire", "jobs", "other", "--owner", "me", "--json"]);
    let claim: Value = serde_json::from_slice(&acquired.stdout).unwrap();
    let id = claim["claim_id"].as_str().unwrap();
    let done = baton(&server, &["claim", "done", "jobs", "other", "--claim-id", id, "--owner", "me"]);
    assert!(String::from_utf8_lossy(&done.stdout).contains("other done by me"));

    // Renew moves the expiry on; discard frees the resource without marking it done.
    let acquired = baton(&server, &["claim", "acquire", "jobs", "third", "--owner", "me", "--ttl", "5s", "--json"]);
    let claim: Value = serde_json::from_slice(&acquired.stdout).unwrap();
    let id = claim["claim_id"].as_str().unwrap();
    // Times have milliseconds: the renew, a process start later, ends later.
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    let renewed = baton(&server, &["claim", "renew", "jobs", "third", "--claim-id", id, "--owner", "me", "--json"]);
    assert!(renewed.status.success(), "{}", String::from_utf8_lossy(&renewed.stderr));
    let renewed: Value = serde_json::from_slice(&renewed.stdout).unwrap();
    assert!(renewed["expires_at"].as_str().unwrap() > claim["expires_at"].as_str().unwrap(), "{renewed}");
    let stranger = baton(&server, &["claim", "renew", "jobs", "third", "--claim-id", id, "--owner", "someone"]);
    assert!(!stranger.status.success(), "only its owner renews a claim");
    let discarded = baton(&server, &["claim", "discard", "jobs", "third", "--claim-id", id, "--owner", "me"]);
    assert!(String::from_utf8_lossy(&discarded.stdout).contains("third discarded"));
    assert_eq!(server.client().claim_status("jobs", "third").await.unwrap().state, "free");
}
