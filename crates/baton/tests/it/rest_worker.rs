//! A worker written against the plain REST API with untyped JSON, as a worker in another language would be:
//! no SDK types, only the documented paths and fields.

use reqwest::StatusCode;
use serde_json::{Value, json};

#[derive(Clone)]
pub struct RestWorker {
    http: reqwest::Client,
    pub url: String,
}

impl RestWorker {
    pub fn new(url: &str) -> Self {
        Self { http: reqwest::Client::new(), url: url.to_owned() }
    }

    /// The next job of `queue`, long-polling up to `wait_ms`, held for `lease_seconds`.
    pub async fn fetch(&self, queue: &str, wait_ms: u64, lease_seconds: u64) -> Option<Value> {
        let body =
            json!({"worker_id": "rest-worker", "max_jobs": 1, "wait_ms": wait_ms, "lease_seconds": lease_seconds});
        let answer = self.post(&format!("/api/v1/queues/{queue}/fetch"), &body).await;
        assert_eq!(answer.0, StatusCode::OK, "fetch: {}", answer.1);
        answer.1["jobs"].as_array().and_then(|jobs| jobs.first()).cloned()
    }

    /// Like [`RestWorker::fetch`], insisting on a job of `job_type`.
    pub async fn expect(&self, queue: &str, job_type: &str) -> Value {
        let job = self.fetch(queue, 5_000, 30).await.unwrap_or_else(|| panic!("no {job_type} job on {queue}"));
        assert_eq!(job["type"], json!(job_type), "{job}");
        job
    }

    pub async fn complete(&self, job: &Value, result: Value) -> (StatusCode, Value) {
        let body = json!({"lease_token": job["lease_token"], "result": result});
        self.post(&format!("/api/v1/jobs/{}/complete", job_id(job)), &body).await
    }

    pub async fn fail(&self, job: &Value, error: &str) -> (StatusCode, Value) {
        let body = json!({"lease_token": job["lease_token"], "error": error});
        self.post(&format!("/api/v1/jobs/{}/fail", job_id(job)), &body).await
    }

    pub async fn post(&self, path: &str, body: &Value) -> (StatusCode, Value) {
        let response = self.http.post(format!("{}{path}", self.url)).json(body).send().await.expect("post");
        let status = response.status();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    pub async fn get(&self, path: &str) -> (StatusCode, Value) {
        let response = self.http.get(format!("{}{path}", self.url)).send().await.expect("get");
        let status = response.status();
        (status, response.json().await.unwrap_or(Value::Null))
    }
}

fn job_id(job: &Value) -> &str {
    job["job_id"].as_str().expect("job_id")
}
