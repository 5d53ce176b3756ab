//! What can stop a workflow, a step, or a call to the engine.

use std::fmt;

use baton_core::clock::Timestamp;

#[derive(Debug, thiserror::Error)]
pub enum WorkflowError {
    /// A step's closure failed on its last attempt. A replay returns the same failure, so the workflow may
    /// handle it (a compensation, say) deterministically.
    #[error("step '{name}' failed: {message}")]
    StepFailed { name: String, message: String },
    /// The workflow's own code gave up; it ends `failed` with this message.
    #[error("{0}")]
    Failed(String),
    /// The workflow was cancelled (or passed its timeout); the run stops at its next checkpoint.
    #[error("the workflow was cancelled")]
    Cancelled,
    /// A replay asked for another step than the one recorded at its index: the control flow is not
    /// deterministic. The workflow ends `failed`; fix the code, then resume or fork it.
    #[error("non-deterministic workflow: {0}")]
    NonDeterministic(String),
    /// Another executor holds the run now (this one stalled past its lease); this run stops without a word.
    #[error("the run's lease was lost to another executor")]
    LeaseLost,
    /// The workflow finished while this run went on (a cancel raced it, say).
    #[error("the workflow already finished")]
    Finished,
    /// No workflow has this id (the message names it).
    #[error("{0}")]
    NotFound(String),
    /// Waiting for a workflow's result ran out of time; the workflow goes on.
    #[error("workflow '{0}' did not finish in time")]
    Timeout(String),
    /// An input, output or message that does not (de)serialise as the code expects.
    #[error("{context}: {source}")]
    Serde { context: String, source: serde_json::Error },
    /// Any other answer of the engine, with its stable code.
    #[error("{code}: {message}")]
    Baton { code: String, message: String },
    /// The server could not be reached, or the store failed.
    #[error("{0}")]
    Unavailable(String),
    /// From `ctx.sleep`: a sleep too long to hold the run for. Let it propagate (`?`): the executor then hands
    /// the run back to the queue until the wake-up time, and the replay then sleeps no more.
    #[error("sleeping until {0}")]
    Suspended(Timestamp),
}

impl WorkflowError {
    /// For a workflow's own failure: `Err(WorkflowError::failed("no stock"))`.
    pub fn failed(message: impl fmt::Display) -> Self {
        Self::Failed(message.to_string())
    }

    pub(crate) fn serde(context: impl Into<String>, source: serde_json::Error) -> Self {
        Self::Serde { context: context.into(), source }
    }

    /// An engine error by its stable code, the same whether it came over the wire or from the store.
    pub(crate) fn from_code(code: &str, message: String) -> Self {
        match code {
            "WORKFLOW_CANCELLED" => Self::Cancelled,
            "NON_DETERMINISTIC" => Self::NonDeterministic(message),
            "STALE_TOKEN" | "JOB_NOT_FOUND" => Self::LeaseLost,
            "WORKFLOW_FINISHED" => Self::Finished,
            "WORKFLOW_NOT_FOUND" => Self::NotFound(message),
            "UNAVAILABLE" | "INTERNAL" => Self::Unavailable(message),
            _ => Self::Baton { code: code.to_owned(), message },
        }
    }
}

impl From<baton_core::Error> for WorkflowError {
    fn from(error: baton_core::Error) -> Self {
        Self::from_code(error.code().as_str(), error.to_string())
    }
}

impl From<baton_client::ClientError> for WorkflowError {
    fn from(error: baton_client::ClientError) -> Self {
        match error {
            baton_client::ClientError::Api { code, message, .. } => Self::from_code(&code, message),
            other => Self::Unavailable(other.to_string()),
        }
    }
}
