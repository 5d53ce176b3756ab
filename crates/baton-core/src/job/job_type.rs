//! Job types with a built-in executor (a shell command, an HTTP call), so a job needs no SDK. The registry
//! only stores and validates; executors run in `baton worker` or inside `baton serve --executors`.

use std::time::Duration;

use serde::Serialize;
use serde_json::Value;

use crate::clock::Timestamp;
use crate::error::{Error, ErrorCode};
use crate::job::service::JobService;
use crate::job::spec::{check_name, check_seconds};
use crate::namespace::Namespace;

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct JobType {
    pub namespace: Namespace,
    pub job_type: String,
    /// `shell` or `http`.
    pub executor: String,
    pub config: Value,
    /// The queue its executor workers take it from; `default` when unset.
    pub queue: Option<String>,
    /// The longest one attempt may run, for jobs that set no timeout of their own.
    pub timeout_ms: Option<i64>,
    pub updated_at: Timestamp,
}

impl JobType {
    pub const DEFAULT_QUEUE: &'static str = "default";

    pub fn queue(&self) -> &str {
        self.queue.as_deref().unwrap_or(Self::DEFAULT_QUEUE)
    }
}

/// Checks an executor configuration. The server supplies it, so the core stays free of process and HTTP code.
pub trait ExecutorCheck: Send + Sync {
    /// A clear message when `config` is not a valid configuration for `executor`.
    fn check(&self, executor: &str, config: &Value) -> Result<(), String>;
}

/// A job type as a client registers it.
#[derive(Clone, Debug, Default)]
pub struct JobTypeRequest {
    pub executor: String,
    pub config: Value,
    pub queue: Option<String>,
    pub timeout_seconds: Option<u64>,
}

impl JobService {
    /// Creates or replaces a job type; says whether it is new.
    pub async fn save_job_type(
        &self,
        namespace: Namespace,
        name: &str,
        request: JobTypeRequest,
    ) -> Result<(JobType, bool), Error> {
        check_name("type", name)?;
        if let Some(queue) = &request.queue {
            check_name("queue", queue)?;
        }
        let timeout_ms = request
            .timeout_seconds
            .map(|seconds| check_seconds("timeout_seconds", seconds, Duration::from_secs(7 * 24 * 3600)))
            .transpose()?;
        let check = self
            .executor_check()
            .ok_or_else(|| Error::invalid(ErrorCode::InvalidArgument, "this server runs no built-in executors"))?;
        check.check(&request.executor, &request.config).map_err(|message| {
            Error::invalid(ErrorCode::InvalidArgument, format!("invalid executor config: {message}"))
        })?;
        let job_type = JobType {
            namespace,
            job_type: name.to_owned(),
            executor: request.executor,
            config: request.config,
            queue: request.queue,
            timeout_ms,
            updated_at: Timestamp(0),
        };
        self.store().save_job_type(job_type).await
    }

    pub async fn job_type(&self, namespace: &Namespace, name: &str) -> Result<JobType, Error> {
        check_name("type", name)?;
        self.store()
            .get_job_type(namespace, name)
            .await?
            .ok_or_else(|| Error::invalid(ErrorCode::NotFound, format!("job type '{name}' is not registered")))
    }

    pub async fn job_types(&self, namespace: Option<&Namespace>) -> Result<Vec<JobType>, Error> {
        self.store().list_job_types(namespace).await
    }

    pub async fn delete_job_type(&self, namespace: &Namespace, name: &str) -> Result<(), Error> {
        check_name("type", name)?;
        if !self.store().delete_job_type(namespace, name).await? {
            return Err(Error::invalid(ErrorCode::NotFound, format!("job type '{name}' is not registered")));
        }
        Ok(())
    }
}
