//! The crate's one integration-test binary. Shell tests start real processes; HTTP tests talk to a real axum
//! server on 127.0.0.1:0. Nothing is mocked.

mod config;
mod http;
mod shell;

use std::time::Duration;

use baton_executor::{ExecutorConfig, JobContext, Outcome, execute};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

/// Attempt 2 of job `job-1` in `default/emails`, type `send`, with a 30 s timeout.
fn job() -> JobContext {
    JobContext {
        job_id: "job-1".to_owned(),
        namespace: "default".to_owned(),
        queue: "emails".to_owned(),
        job_type: "send".to_owned(),
        attempt: 2,
        payload: json!({"to": "a@example.com", "n": 1}),
        timeout: Duration::from_secs(30),
    }
}

fn parse(executor: &str, config: Value) -> ExecutorConfig {
    ExecutorConfig::parse(executor, &config).unwrap_or_else(|e| panic!("{config} should parse: {e}"))
}

async fn run(config: &ExecutorConfig, job: &JobContext) -> Outcome {
    execute(config, job, CancellationToken::new()).await
}

#[track_caller]
fn completed(outcome: Outcome) -> Value {
    match outcome {
        Outcome::Completed { result } => result,
        failed => panic!("expected Completed, got {failed:?}"),
    }
}

/// `(error, retryable, result)` of a failed outcome.
#[track_caller]
fn failed(outcome: Outcome) -> (String, bool, Value) {
    match outcome {
        Outcome::Failed { error, retryable, result } => (error, retryable, result),
        completed => panic!("expected Failed, got {completed:?}"),
    }
}
