//! Jobs through the REST API: enqueue, fetch and acknowledge as a worker, control and inspect.

use std::time::Duration;

use baton_api::job::{
    BatchCompleteRequest, BatchResponse, CompleteItem, CompleteRequest, EnqueueBatch, EnqueueJob, FailRequest,
    FetchRequest, FetchResponse, HeartbeatRequest, HeartbeatResponse, JobBatch, JobList, JobTypeList, JobTypeRequest,
    JobTypeView, JobView, QueueList, QueueSettingsRequest, QueueView, ScheduleList, ScheduleRequest, ScheduleView,
};
use reqwest::Method;

use crate::{BatonClient, ClientError};

/// Filters for [`BatonClient::list_jobs`].
#[derive(Clone, Debug, Default)]
pub struct ListJobs {
    pub queue: Option<String>,
    pub state: Option<String>,
    pub job_type: Option<String>,
    pub tag: Option<String>,
    pub cursor: Option<String>,
    pub limit: Option<u32>,
}

/// Headroom on top of a server-side wait, so the HTTP timeout never fires first.
const WAIT_HEADROOM: Duration = Duration::from_secs(30);

impl BatonClient {
    pub async fn enqueue(&self, queue: &str, job: &EnqueueJob) -> Result<JobView, ClientError> {
        let wait = Duration::from_millis(job.wait_ms.unwrap_or(0));
        let builder = self.request(Method::POST, &["api", "v1", "queues", queue, "jobs"]).json(job);
        self.send(builder.timeout(wait + WAIT_HEADROOM)).await
    }

    pub async fn enqueue_batch(&self, queue: &str, jobs: Vec<EnqueueJob>) -> Result<Vec<JobView>, ClientError> {
        let body = EnqueueBatch { jobs, namespace: None };
        let batch: JobBatch =
            self.send(self.request(Method::POST, &["api", "v1", "queues", queue, "jobs"]).json(&body)).await?;
        Ok(batch.jobs)
    }

    /// Takes up to `request.max_jobs` jobs from `queues` (tried in order), long-polling up to `wait_ms`.
    pub async fn fetch_jobs(&self, queues: &[&str], request: FetchRequest) -> Result<Vec<JobView>, ClientError> {
        Ok(self.fetch_and_complete(queues, request).await?.jobs)
    }

    /// Like [`BatonClient::fetch_jobs`], completing `request.complete` first in the same transaction; the
    /// answer says how each completion went.
    pub async fn fetch_and_complete(
        &self,
        queues: &[&str],
        request: FetchRequest,
    ) -> Result<FetchResponse, ClientError> {
        let wait = Duration::from_millis(request.wait_ms.unwrap_or(0));
        let body = FetchRequest { queues: Some(queues.iter().map(|q| (*q).to_owned()).collect()), ..request };
        let builder = self.request(Method::POST, &["api", "v1", "fetch"]).json(&body).timeout(wait + WAIT_HEADROOM);
        self.send(builder).await
    }

    pub async fn heartbeat_job(
        &self,
        job_id: &str,
        lease_token: i64,
        progress: Option<serde_json::Value>,
    ) -> Result<HeartbeatResponse, ClientError> {
        let body = HeartbeatRequest { lease_token, progress, ..HeartbeatRequest::default() };
        self.send(self.request(Method::POST, &["api", "v1", "jobs", job_id, "heartbeat"]).json(&body)).await
    }

    pub async fn complete_job(
        &self,
        job_id: &str,
        lease_token: i64,
        result: Option<serde_json::Value>,
    ) -> Result<JobView, ClientError> {
        let body = CompleteRequest { lease_token, result, namespace: None };
        self.send(self.request(Method::POST, &["api", "v1", "jobs", job_id, "complete"]).json(&body)).await
    }

    pub async fn complete_jobs(&self, items: Vec<CompleteItem>) -> Result<BatchResponse, ClientError> {
        let body = BatchCompleteRequest { items, namespace: None };
        self.send(self.request(Method::POST, &["api", "v1", "jobs", "complete"]).json(&body)).await
    }

    pub async fn fail_job(&self, job_id: &str, request: FailRequest) -> Result<JobView, ClientError> {
        self.send(self.request(Method::POST, &["api", "v1", "jobs", job_id, "fail"]).json(&request)).await
    }

    pub async fn cancel_job(&self, job_id: &str) -> Result<JobView, ClientError> {
        self.send(self.request(Method::DELETE, &["api", "v1", "jobs", job_id])).await
    }

    pub async fn retry_job(&self, job_id: &str) -> Result<JobView, ClientError> {
        self.send(self.request(Method::POST, &["api", "v1", "jobs", job_id, "retry"])).await
    }

    pub async fn get_job(&self, job_id: &str) -> Result<JobView, ClientError> {
        self.send(self.request(Method::GET, &["api", "v1", "jobs", job_id])).await
    }

    /// The job once finished, waiting up to `wait`; unfinished jobs come back as they stand.
    pub async fn job_result(&self, job_id: &str, wait: Duration) -> Result<JobView, ClientError> {
        let builder = self
            .request(Method::GET, &["api", "v1", "jobs", job_id, "result"])
            .query(&[("wait_ms", wait.as_millis().to_string())])
            .timeout(wait + WAIT_HEADROOM);
        self.send(builder).await
    }

    pub async fn list_jobs(&self, filter: &ListJobs) -> Result<JobList, ClientError> {
        let mut query: Vec<(&str, String)> = Vec::new();
        query.extend(filter.queue.clone().map(|v| ("queue", v)));
        query.extend(filter.state.clone().map(|v| ("state", v)));
        query.extend(filter.job_type.clone().map(|v| ("type", v)));
        query.extend(filter.tag.clone().map(|v| ("tag", v)));
        query.extend(filter.cursor.clone().map(|v| ("cursor", v)));
        query.extend(filter.limit.map(|v| ("limit", v.to_string())));
        self.send(self.request(Method::GET, &["api", "v1", "jobs"]).query(&query)).await
    }

    pub async fn queues(&self) -> Result<QueueList, ClientError> {
        self.send(self.request(Method::GET, &["api", "v1", "queues"])).await
    }

    pub async fn update_queue(&self, queue: &str, settings: &QueueSettingsRequest) -> Result<QueueView, ClientError> {
        self.send(self.request(Method::PUT, &["api", "v1", "queues", queue]).json(settings)).await
    }

    pub async fn save_schedule(&self, schedule: &ScheduleRequest) -> Result<ScheduleView, ClientError> {
        self.send(self.request(Method::POST, &["api", "v1", "schedules"]).json(schedule)).await
    }

    pub async fn schedules(&self) -> Result<ScheduleList, ClientError> {
        self.send(self.request(Method::GET, &["api", "v1", "schedules"])).await
    }

    pub async fn schedule(&self, name: &str) -> Result<ScheduleView, ClientError> {
        self.send(self.request(Method::GET, &["api", "v1", "schedules", name])).await
    }

    pub async fn delete_schedule(&self, name: &str) -> Result<(), ClientError> {
        self.send_empty(self.request(Method::DELETE, &["api", "v1", "schedules", name])).await
    }

    pub async fn pause_schedule(&self, name: &str, paused: bool) -> Result<ScheduleView, ClientError> {
        let action = if paused { "pause" } else { "resume" };
        self.send(self.request(Method::POST, &["api", "v1", "schedules", name, action])).await
    }

    pub async fn trigger_schedule(&self, name: &str) -> Result<JobView, ClientError> {
        self.send(self.request(Method::POST, &["api", "v1", "schedules", name, "trigger"])).await
    }

    pub async fn save_job_type(&self, name: &str, job_type: &JobTypeRequest) -> Result<JobTypeView, ClientError> {
        self.send(self.request(Method::PUT, &["api", "v1", "job-types", name]).json(job_type)).await
    }

    pub async fn job_types(&self) -> Result<JobTypeList, ClientError> {
        self.send(self.request(Method::GET, &["api", "v1", "job-types"])).await
    }

    pub async fn delete_job_type(&self, name: &str) -> Result<(), ClientError> {
        self.send_empty(self.request(Method::DELETE, &["api", "v1", "job-types", name])).await
    }
}
