//! What an executor is given (one attempt of one job) and what it hands back. No retry policy lives here: an
//! executor only says whether a failure is worth retrying, the worker decides whether and when.

use std::time::Duration;

/// What the executor needs to know about one job attempt.
#[derive(Debug, Clone, PartialEq)]
pub struct JobContext {
    pub job_id: String,
    pub namespace: String,
    pub queue: String,
    pub job_type: String,
    /// 1 for the first attempt.
    pub attempt: u32,
    pub payload: serde_json::Value,
    /// How long this attempt may run before it is stopped and reported as a retryable failure.
    pub timeout: Duration,
}

/// How one attempt ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Completed {
        result: serde_json::Value,
    },
    /// `retryable: false` means fail for good (discard). `result` carries what the work produced before it failed
    /// (exit status and output, or HTTP status and body), or `null` when it never started.
    Failed {
        error: String,
        retryable: bool,
        result: serde_json::Value,
    },
}

impl Outcome {
    /// The outcome of an attempt stopped because its job was cancelled: never retried.
    pub(crate) fn cancelled(result: serde_json::Value) -> Outcome {
        Outcome::Failed { error: "cancelled".to_owned(), retryable: false, result }
    }
}
