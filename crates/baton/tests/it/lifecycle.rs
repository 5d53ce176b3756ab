//! The server's life: starting with no configuration, surviving `kill -9`, refusing a shared data dir,
//! and stopping gracefully on SIGTERM.

use std::process::Command;

use baton_api::lock::AcquireLockRequest;

use crate::server::{BATON, Server, data_dir, temp_dir};

fn request(key: &str, owner: &str) -> AcquireLockRequest {
    AcquireLockRequest { key: key.into(), owner: owner.into(), ttl_seconds: 60, ..AcquireLockRequest::default() }
}

#[tokio::test]
async fn with_no_configuration_it_runs_embedded_in_baton_data() {
    let temp = temp_dir();
    // Port 0 is the only flag: the data dir is the default, relative to the working directory.
    let mut child = Command::new(BATON)
        .args(["serve", "--http-addr", "127.0.0.1:0"])
        .current_dir(temp.path())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufRead::read_line(&mut std::io::BufReader::new(child.stdout.take().unwrap()), &mut line).unwrap();
    let _ = child.kill();
    let _ = child.wait();
    assert!(line.contains("listening on http://127.0.0.1:"), "{line}");
    assert!(line.contains("embedded SQLite at") && line.contains("baton-data"), "{line}");
    assert!(temp.path().join("baton-data").join("baton.db").exists());
}

#[tokio::test]
async fn an_acknowledged_lock_survives_kill_9_and_tokens_keep_rising() {
    let temp = temp_dir();
    let mut server = Server::embedded(&data_dir(&temp));
    let before = server.client().acquire_lock(request("k", "a")).await.unwrap();
    server.restart();
    let client = server.client();
    let status = client.lock_status("k").await.unwrap();
    assert_eq!(status.lock_id.as_deref(), Some(before.lock_id.as_str()), "the grant was durable");
    client.release_lock("k", &before.lock_id, "a").await.unwrap();
    let after = client.acquire_lock(request("k", "b")).await.unwrap();
    assert!(after.fencing_token > before.fencing_token, "{} then {}", before.fencing_token, after.fencing_token);
}

#[tokio::test]
async fn a_second_server_cannot_open_the_same_data_dir() {
    let temp = temp_dir();
    let _first = Server::embedded(&data_dir(&temp));
    let refused = Server::try_start(vec!["--data-dir".into(), data_dir(&temp).display().to_string()]);
    let output = refused.err().expect("the second server must not start");
    assert!(output.contains("in use by another Baton server"), "{output}");
}

#[tokio::test]
async fn sigterm_stops_the_server_gracefully() {
    let temp = temp_dir();
    let mut server = Server::embedded(&data_dir(&temp));
    server.client().acquire_lock(request("k", "a")).await.unwrap();
    let status = server.terminate();
    assert!(status.success(), "{status:?}");
}
