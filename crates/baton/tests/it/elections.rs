//! Leader election over HTTP and the CLI against a real embedded server: campaigns in line, proclaim,
//! resign, observation, TTL hand-off, and `baton elect` stopping its command when leadership is lost.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use baton_api::election::{CampaignRequest, ElectionView};
use futures::StreamExt as _;
use serde_json::json;

use crate::http_events::send;
use crate::server::{BATON, Server, data_dir, eventually, temp_dir};

fn campaign(candidate: &str, wait_seconds: Option<i64>) -> CampaignRequest {
    CampaignRequest {
        candidate: candidate.into(),
        ttl_seconds: 10,
        wait_timeout_seconds: wait_seconds,
        wait_timeout_ms: None,
        value: Some(json!({"address": format!("{candidate}:5432")})),
    }
}

#[tokio::test]
async fn candidates_lead_in_turn_and_observers_see_every_change() {
    let temp = temp_dir();
    let server = Server::embedded(&data_dir(&temp));
    let client = server.client();
    let mut observed = Box::pin(client.observe_election("db-primary").await.unwrap());
    // Each change is read off the feed before the next is made: changes quicker than an observer's read
    // arrive merged into the latest state, by design.
    let mut next_report = async || {
        let report = tokio::time::timeout(Duration::from_secs(10), observed.next()).await;
        report.expect("a report within 10 s").expect("the feed goes on").expect("a report, not an error")
    };
    let leader_of = |report: ElectionView| {
        let leader = report.leader.expect("a leader");
        (leader.candidate, leader.value)
    };
    assert!(next_report().await.leader.is_none(), "the election as it stands, first");

    let leader = client.campaign("db-primary", &campaign("n1", None)).await.unwrap();
    assert_eq!((leader.candidate.as_str(), leader.value.clone()), ("n1", Some(json!({"address": "n1:5432"}))));
    assert_eq!(leader_of(next_report().await), ("n1".to_owned(), Some(json!({"address": "n1:5432"}))));
    assert_eq!(client.campaign("db-primary", &campaign("n2", None)).await.unwrap_err().code(), Some("LEADER_EXISTS"));
    let waiting = tokio::spawn({
        let client = client.clone();
        async move { client.campaign("db-primary", &campaign("n2", Some(20))).await }
    });
    eventually("n2 waits in line", || async {
        client.election("db-primary").await.is_ok_and(|election| election.candidates_waiting == 1)
    })
    .await;
    client
        .proclaim("db-primary", &leader.leadership_id, "n1", Some(json!({"address": "10.0.0.9:5432"})))
        .await
        .unwrap();
    assert_eq!(leader_of(next_report().await), ("n1".to_owned(), Some(json!({"address": "10.0.0.9:5432"}))));
    client.resign("db-primary", &leader.leadership_id, "n1").await.unwrap();
    let next = waiting.await.unwrap().unwrap();
    assert_eq!(next.candidate, "n2");
    assert!(next.term > leader.term, "a new term");
    assert_eq!((next.fencing_token, leader.fencing_token), (next.term, leader.term), "named as locks name theirs");
    assert_eq!(leader_of(next_report().await), ("n2".to_owned(), Some(json!({"address": "n2:5432"}))));

    let stale = client.proclaim("db-primary", &leader.leadership_id, "n1", None).await.unwrap_err();
    assert_eq!(stale.code(), Some("NOT_LEADER"));
}

#[tokio::test]
async fn a_leader_that_stops_renewing_hands_over_to_the_next_candidate_promptly() {
    let temp = temp_dir();
    let server = Server::embedded(&data_dir(&temp));
    let client = server.client();
    let short = CampaignRequest { ttl_seconds: 1, ..campaign("n1", None) };
    client.campaign("scheduler", &short).await.unwrap();
    let started = Instant::now();
    let next = client.campaign("scheduler", &campaign("n2", Some(20))).await.unwrap();
    let waited = started.elapsed();
    assert_eq!(next.candidate, "n2");
    assert!(waited < Duration::from_millis(2500), "handed over {waited:?} after the campaign, with a 1 s TTL");
}

#[tokio::test]
async fn bad_election_input_gets_a_clear_error() {
    let temp = temp_dir();
    let server = Server::embedded(&data_dir(&temp));
    let big = format!(r#"{{"candidate": "c", "ttl_seconds": 5, "value": "{}"}}"#, "v".repeat(70 * 1024));
    let long = "e".repeat(513);
    let cases: Vec<(&str, String, String, u16, &str)> = vec![
        (
            "POST",
            "/api/v1/elections/e/campaign".into(),
            r#"{"candidate": "", "ttl_seconds": 5}"#.into(),
            422,
            "INVALID_ARGUMENT",
        ),
        (
            "POST",
            "/api/v1/elections/e/campaign".into(),
            r#"{"candidate": "c", "ttl_seconds": 0}"#.into(),
            422,
            "TTL_OUT_OF_RANGE",
        ),
        (
            "POST",
            "/api/v1/elections/e/campaign".into(),
            r#"{"candidate": "c", "ttl_seconds": -3}"#.into(),
            422,
            "TTL_OUT_OF_RANGE",
        ),
        (
            "POST",
            "/api/v1/elections/e/campaign".into(),
            r#"{"candidate": "c", "ttl_seconds": 5, "wait_timeout_seconds": 999999}"#.into(),
            422,
            "INVALID_ARGUMENT",
        ),
        ("POST", "/api/v1/elections/e/campaign".into(), big, 422, "PAYLOAD_TOO_LARGE"),
        (
            "POST",
            format!("/api/v1/elections/{long}/campaign"),
            r#"{"candidate": "c", "ttl_seconds": 5}"#.into(),
            422,
            "KEY_TOO_LONG",
        ),
        ("POST", "/api/v1/elections/e/campaign".into(), r#"{"ttl_seconds": 5}"#.into(), 422, "INVALID_BODY"),
        (
            "POST",
            "/api/v1/elections/e/proclaim".into(),
            r#"{"leadership_id": "x", "candidate": "c"}"#.into(),
            409,
            "NOT_LEADER",
        ),
        (
            "POST",
            "/api/v1/elections/e/resign".into(),
            r#"{"leadership_id": "0190a0a0-0000-7000-8000-000000000000", "candidate": "c"}"#.into(),
            409,
            "NOT_LEADER",
        ),
        (
            "POST",
            "/api/v1/elections/e/renew".into(),
            r#"{"leadership_id": "x", "candidate": "c"}"#.into(),
            409,
            "NOT_LEADER",
        ),
    ];
    for (method, path, body, status, code) in cases {
        let (got, answer) = send(&server, method, &path, &body).await;
        assert_eq!((got, answer["error"]["code"].as_str()), (status, Some(code)), "{method} {path}");
    }
    assert!(server.client().election("e").await.unwrap().leader.is_none());
}

#[tokio::test]
async fn baton_elect_runs_its_command_only_while_leader() {
    let temp = temp_dir();
    let server = Server::embedded(&data_dir(&temp));
    let marker = |name: &str| temp.path().join(name);
    // The first leader writes its leadership id, then waits to be stopped; it records the SIGTERM.
    let script = format!(
        r#"trap 'echo stopped > {stopped}; exit 0' TERM; echo "$BATON_LEADERSHIP_ID" > {id}.tmp && mv {id}.tmp {id}; while true; do sleep 0.1; done"#,
        stopped = marker("stopped").display(),
        id = marker("leader-id").display(),
    );
    let mut first = Command::new(BATON)
        .args(["elect", "cron", "--candidate", "a", "--ttl", "3s", "--grace", "2s", "--", "sh", "-c", &script])
        .env("BATON_URL", &server.url)
        .stderr(Stdio::piped())
        .spawn()
        .expect("run baton elect");
    eventually("the first candidate leads", || async { marker("leader-id").exists() }).await;
    let second_script = format!("echo \"$BATON_FENCING_TOKEN\" > {}", marker("second-term").display());
    let mut second = Command::new(BATON)
        .args(["elect", "cron", "--candidate", "b", "--ttl", "3s", "--", "sh", "-c", &second_script])
        .env("BATON_URL", &server.url)
        .spawn()
        .expect("run the second baton elect");
    eventually("b waits in line", || async {
        server.client().election("cron").await.is_ok_and(|election| election.candidates_waiting == 1)
    })
    .await;
    assert!(!marker("second-term").exists(), "b's command does not run while a leads");
    // Take a's leadership away behind its back: its next renewal is refused, and its command is stopped.
    let leadership_id = std::fs::read_to_string(marker("leader-id")).unwrap();
    server.client().resign("cron", leadership_id.trim(), "a").await.unwrap();
    let status = first.wait().unwrap();
    assert_eq!(status.code(), Some(3), "baton elect says leadership was lost");
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut first.stderr.take().unwrap(), &mut stderr).unwrap();
    assert!(stderr.contains("lost the leadership of cron"), "{stderr}");
    assert_eq!(std::fs::read_to_string(marker("stopped")).unwrap().trim(), "stopped", "stopped with SIGTERM");
    assert!(second.wait().unwrap().success());
    assert!(std::fs::read_to_string(marker("second-term")).unwrap().trim().parse::<i64>().unwrap() > 0);
    assert!(server.client().election("cron").await.unwrap().leader.is_none(), "b resigned when its command ended");
}
