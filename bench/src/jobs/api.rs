//! Baton's jobs HTTP API as the benchmark speaks it: the wire shapes and one small client over [`HttpClient`]
//! (`--http raw`, the default, as the lock, claims and cache drivers; `--http reqwest` through a reqwest pool).
//!
//! The bench codes against the documented contract (enqueue, batch enqueue, long-poll fetch, complete, batch
//! complete) on purpose instead of using `baton-client`, so a change of the SDK cannot change what is measured.
//! It does not retry, back off or interpret job states: any answer other than a 2xx is an error that ends the
//! measurement, and a 404 from a server without the jobs routes says so in plain words.

use anyhow::{Context, Result, bail};
use hyper::body::Bytes;
use hyper::{Method, StatusCode};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::http1::{HttpClient, HttpKind, describe_failure};

/// The job type every benchmark job carries; workers do nothing with it.
pub const JOB_TYPE: &str = "noop";

/// One job to enqueue: `{"type": ..., "payload": ...}`.
#[derive(Debug, Serialize)]
pub struct NewJob {
    #[serde(rename = "type")]
    pub job_type: &'static str,
    pub payload: Value,
}

impl NewJob {
    pub fn noop(payload: Value) -> Self {
        Self { job_type: JOB_TYPE, payload }
    }
}

/// A batch enqueue: `{"jobs": [...]}` (the server takes up to 1000).
#[derive(Debug, Serialize)]
pub struct NewJobs {
    pub jobs: Vec<NewJob>,
}

/// The job as the server returns it after an enqueue. Only the id is needed; the rest is ignored.
#[derive(Debug, Deserialize)]
pub struct EnqueuedJob {
    pub job_id: String,
}

#[derive(Debug, Deserialize)]
pub struct EnqueuedJobs {
    pub jobs: Vec<EnqueuedJob>,
}

/// `POST /api/v1/queues/{queue}/fetch`: a long poll for up to `max_jobs` jobs.
#[derive(Debug, Serialize)]
pub struct FetchRequest<'a> {
    pub worker_id: &'a str,
    pub max_jobs: usize,
    pub wait_ms: u64,
    pub lease_seconds: u64,
    /// Jobs to complete in the same request, before the fetch (what BullMQ's worker does when it moves a job
    /// to completed and takes the next one in one call).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub complete: Vec<CompleteItem<'a>>,
}

#[derive(Debug, Deserialize)]
pub struct FetchResponse {
    pub jobs: Vec<FetchedJob>,
    /// One result per completed item, in order.
    #[serde(default)]
    pub completed: Vec<Value>,
}

/// A leased job. The lease token is echoed back verbatim on completion, whatever JSON type the server uses.
#[derive(Debug, Deserialize)]
pub struct FetchedJob {
    pub job_id: String,
    pub lease_token: Value,
    #[serde(default)]
    pub payload: Value,
}

/// `POST /api/v1/jobs/{job_id}/complete`.
#[derive(Debug, Serialize)]
pub struct CompleteRequest<'a> {
    pub lease_token: &'a Value,
    pub result: Value,
}

/// One item of `POST /api/v1/jobs/complete`.
#[derive(Debug, Serialize)]
pub struct CompleteItem<'a> {
    pub job_id: &'a str,
    pub lease_token: &'a Value,
    pub result: Value,
}

#[derive(Debug, Serialize)]
pub struct CompleteBatch<'a> {
    pub items: Vec<CompleteItem<'a>>,
}

/// The answer to a batch complete: one result per item, in order. Only what marks a failed item is read:
/// `"ok": false`, or a non-null `error`.
#[derive(Debug, Deserialize)]
pub struct CompleteBatchResponse {
    pub results: Vec<Value>,
}

/// One client of one Baton server, with its own connection.
pub struct JobsClient {
    http: HttpClient,
}

impl JobsClient {
    /// Opens the connection before the clock starts (and checks `GET /health`), so no measured request pays for
    /// it.
    pub async fn connect(kind: HttpKind, base: &str) -> Result<Self> {
        Ok(Self { http: HttpClient::connect(kind, base).await? })
    }

    pub async fn enqueue(&mut self, queue: &str, job: &NewJob) -> Result<EnqueuedJob> {
        let answer: EnqueuedJob = self.post(&format!("/api/v1/queues/{queue}/jobs"), job, StatusCode::CREATED).await?;
        if answer.job_id.is_empty() {
            bail!("enqueue returned a job without a job_id");
        }
        Ok(answer)
    }

    pub async fn enqueue_batch(&mut self, queue: &str, jobs: &NewJobs) -> Result<EnqueuedJobs> {
        let answer: EnqueuedJobs =
            self.post(&format!("/api/v1/queues/{queue}/jobs"), jobs, StatusCode::CREATED).await?;
        if answer.jobs.len() != jobs.jobs.len() {
            bail!("batch enqueue of {} jobs returned {} jobs", jobs.jobs.len(), answer.jobs.len());
        }
        Ok(answer)
    }

    pub async fn fetch(&mut self, queue: &str, request: &FetchRequest<'_>) -> Result<Vec<FetchedJob>> {
        let answer: FetchResponse =
            self.post(&format!("/api/v1/queues/{queue}/fetch"), request, StatusCode::OK).await?;
        check_complete_results(request.complete.len(), &CompleteBatchResponse { results: answer.completed })?;
        Ok(answer.jobs)
    }

    /// The items that complete `jobs` with a `null` result.
    pub fn completions(jobs: &[FetchedJob]) -> Vec<CompleteItem<'_>> {
        jobs.iter()
            .map(|job| CompleteItem { job_id: &job.job_id, lease_token: &job.lease_token, result: Value::Null })
            .collect()
    }

    /// Completes `jobs` with a `null` result: one job with the single endpoint, more with the batch endpoint.
    pub async fn complete(&mut self, jobs: &[FetchedJob]) -> Result<()> {
        match jobs {
            [] => Ok(()),
            [job] => {
                let body = CompleteRequest { lease_token: &job.lease_token, result: Value::Null };
                let _: Value =
                    self.post(&format!("/api/v1/jobs/{}/complete", job.job_id), &body, StatusCode::OK).await?;
                Ok(())
            }
            _ => {
                let items = jobs
                    .iter()
                    .map(|job| CompleteItem { job_id: &job.job_id, lease_token: &job.lease_token, result: Value::Null })
                    .collect();
                let answer: CompleteBatchResponse =
                    self.post("/api/v1/jobs/complete", &CompleteBatch { items }, StatusCode::OK).await?;
                check_complete_results(jobs.len(), &answer)
            }
        }
    }

    async fn post<B: Serialize + ?Sized, T: for<'de> Deserialize<'de>>(
        &mut self,
        path: &str,
        body: &B,
        expected: StatusCode,
    ) -> Result<T> {
        let url = format!("{}{path}", self.http.base());
        let body = Bytes::from(serde_json::to_vec(body).context("encode the request")?);
        let (status, bytes) = self.http.request(Method::POST, path, Some(body)).await?;
        if status != expected {
            bail!(describe_failure(&format!("POST {url}"), "jobs", status, &bytes));
        }
        serde_json::from_slice(&bytes)
            .with_context(|| format!("unexpected answer to POST {url}: {}", String::from_utf8_lossy(&bytes)))
    }
}

/// A batch complete must answer one result per item, none of them an error.
pub fn check_complete_results(sent: usize, answer: &CompleteBatchResponse) -> Result<()> {
    if answer.results.len() != sent {
        bail!("batch complete of {sent} jobs returned {} results", answer.results.len());
    }
    let failed = |r: &&Value| r.get("ok") == Some(&Value::Bool(false)) || r.get("error").is_some_and(|e| !e.is_null());
    if let Some(failed) = answer.results.iter().find(failed) {
        bail!("batch complete: an item failed: {failed}");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn enqueue_bodies_match_the_contract() {
        let one = NewJob::noop(json!({"n": 1}));
        assert_eq!(serde_json::to_value(&one).unwrap(), json!({"type": "noop", "payload": {"n": 1}}));
        let batch = NewJobs { jobs: vec![NewJob::noop(json!({"n": 1})), NewJob::noop(json!({"n": 2}))] };
        assert_eq!(
            serde_json::to_value(&batch).unwrap(),
            json!({"jobs": [{"type": "noop", "payload": {"n": 1}}, {"type": "noop", "payload": {"n": 2}}]})
        );
    }

    #[test]
    fn enqueue_answers_parse() {
        let one: EnqueuedJob =
            serde_json::from_value(json!({"job_id": "j1", "state": "available", "queue": "q"})).unwrap();
        assert_eq!(one.job_id, "j1");
        let many: EnqueuedJobs = serde_json::from_value(json!({"jobs": [{"job_id": "a"}, {"job_id": "b"}]})).unwrap();
        assert_eq!(many.jobs.len(), 2);
    }

    #[test]
    fn fetch_request_and_answer_match_the_contract() {
        let request =
            FetchRequest { worker_id: "w1", max_jobs: 10, wait_ms: 5000, lease_seconds: 30, complete: Vec::new() };
        assert_eq!(
            serde_json::to_value(&request).unwrap(),
            json!({"worker_id": "w1", "max_jobs": 10, "wait_ms": 5000, "lease_seconds": 30})
        );
        let answer: FetchResponse = serde_json::from_value(json!({"jobs": [
            {"job_id": "j1", "lease_token": 123, "payload": {"seq": 7}, "type": "noop", "attempt": 1}
        ]}))
        .unwrap();
        assert_eq!(answer.jobs[0].job_id, "j1");
        assert_eq!(answer.jobs[0].lease_token, json!(123));
        assert_eq!(answer.jobs[0].payload["seq"], 7);
        let empty: FetchResponse = serde_json::from_value(json!({"jobs": []})).unwrap();
        assert!(empty.jobs.is_empty());
    }

    #[test]
    fn a_fetched_job_without_a_lease_token_is_rejected() {
        let missing = serde_json::from_value::<FetchedJob>(json!({"job_id": "j1"}));
        assert!(missing.is_err());
    }

    #[test]
    fn complete_bodies_echo_the_lease_token() {
        let token = json!(123);
        let one = CompleteRequest { lease_token: &token, result: Value::Null };
        assert_eq!(serde_json::to_value(&one).unwrap(), json!({"lease_token": 123, "result": null}));
        let batch =
            CompleteBatch { items: vec![CompleteItem { job_id: "j1", lease_token: &token, result: Value::Null }] };
        assert_eq!(
            serde_json::to_value(&batch).unwrap(),
            json!({"items": [{"job_id": "j1", "lease_token": 123, "result": null}]})
        );
    }

    #[test]
    fn batch_complete_results_are_checked() {
        let ok: CompleteBatchResponse =
            serde_json::from_value(json!({"results": [{"job_id": "a", "state": "completed"}, {"job_id": "b"}]}))
                .unwrap();
        assert!(check_complete_results(2, &ok).is_ok());
        assert!(check_complete_results(3, &ok).is_err());
        let failed: CompleteBatchResponse =
            serde_json::from_value(json!({"results": [{"job_id": "a", "error": {"code": "lease_lost"}}]})).unwrap();
        assert!(check_complete_results(1, &failed).is_err());
        let not_ok: CompleteBatchResponse =
            serde_json::from_value(json!({"results": [{"job_id": "a", "ok": true}, {"job_id": "b", "ok": false}]}))
                .unwrap();
        assert!(check_complete_results(2, &not_ok).is_err());
    }

    #[test]
    fn a_missing_route_is_named_as_a_missing_jobs_api() {
        let body = br#"{"error":{"code":"not_found","message":"no such route","details":null}}"#;
        let text = describe_failure("POST http://b/api/v1/queues/q/jobs", "jobs", StatusCode::NOT_FOUND, body);
        assert!(text.contains("no jobs API"), "{text}");
        let other = describe_failure(
            "POST http://b/api/v1/jobs/j/complete",
            "jobs",
            StatusCode::NOT_FOUND,
            br#"{"error":{"code":"job_not_found","message":"no such job"}}"#,
        );
        assert!(!other.contains("no jobs API"), "{other}");
        assert!(other.contains("404"), "{other}");
    }
}
