//! `/api/v1/queues/{queue}/jobs`, `/api/v1/fetch` and `/api/v1/jobs`: enqueue, fetch, the acknowledgements a
//! worker makes under its lease, and control and inspection.

use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use baton_api::error::ErrorBody;
use baton_api::job::{
    BatchCompleteRequest, BatchFailRequest, BatchItemResult, BatchResponse, CompleteItem, CompleteRequest,
    EnqueueBatch, EnqueueJob, FailRequest, FetchRequest, FetchResponse, HeartbeatRequest, HeartbeatResponse, JobBatch,
    JobList, JobView,
};
use baton_core::job::service::{FetchRequest as CoreFetch, ListJobsRequest, lease_ref};
use baton_core::job::{CompleteParams, EnqueueOutcome, FailParams, Job};
use baton_core::{Error, ErrorCode, Namespace, StoreError};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use utoipa::IntoParams;

use crate::AppState;
use crate::error::ApiError;
use crate::extract::{ApiJson, ApiPath, ApiQuery, NamespaceSelector};
use crate::routes::job_view::{job_spec, job_view, parse_state};

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/queues/{queue}/jobs", post(enqueue))
        .route("/api/v1/queues/{queue}/fetch", post(fetch_from_queue))
        .route("/api/v1/fetch", post(fetch))
        .route("/api/v1/jobs", get(list))
        .route("/api/v1/jobs/complete", post(complete_batch))
        .route("/api/v1/jobs/fail", post(fail_batch))
        .route("/api/v1/jobs/{id}", get(show).delete(cancel))
        .route("/api/v1/jobs/{id}/heartbeat", post(heartbeat))
        .route("/api/v1/jobs/{id}/complete", post(complete))
        .route("/api/v1/jobs/{id}/fail", post(fail))
        .route("/api/v1/jobs/{id}/retry", post(retry))
        .route("/api/v1/jobs/{id}/result", get(result))
}

fn from_value<T: DeserializeOwned>(value: Value) -> Result<T, ApiError> {
    serde_json::from_value(value).map_err(|e| ApiError::new(ErrorCode::InvalidBody, e.to_string()))
}

fn millis(ms: Option<u64>) -> Option<Duration> {
    ms.map(Duration::from_millis)
}

/// Enqueue one job, or `{"jobs": [...]}` (up to 1000) in one go. A job whose unique key is taken answers 200
/// with the existing job (`deduplicated: true`), or 409 `DUPLICATE_JOB` with `on_conflict: "reject"`.
#[utoipa::path(post, path = "/api/v1/queues/{queue}/jobs", tag = "jobs", request_body = EnqueueJob,
    params(("queue" = String, Path), ("namespace" = Option<String>, Query)),
    responses(
        (status = 201, body = JobView, description = "Created (a batch answers `{jobs: [...]}`)"),
        (status = 200, body = JobView, description = "A job with this unique key exists: this is it"),
        (status = 409, body = ErrorBody, description = "DUPLICATE_JOB"),
        (status = 422, body = ErrorBody, description = "Invalid job, PAYLOAD_TOO_LARGE or BATCH_TOO_LARGE"),
    ))]
pub(crate) async fn enqueue(
    State(state): State<AppState>,
    ApiPath(queue): ApiPath<String>,
    selector: NamespaceSelector,
    headers: HeaderMap,
    ApiJson(body): ApiJson<Value>,
) -> Result<Response, ApiError> {
    let traceparent = headers.get("traceparent").and_then(|value| value.to_str().ok());
    if body.get("jobs").is_some() {
        let batch: EnqueueBatch = from_value(body)?;
        if batch.jobs.iter().any(|job| job.namespace.is_some() || job.wait_ms.is_some()) {
            return Err(ApiError::new(ErrorCode::InvalidArgument, "a batch takes namespace once, and no wait_ms"));
        }
        let namespace = selector.resolve(batch.namespace.as_deref())?;
        let specs =
            batch.jobs.into_iter().map(|job| job_spec(&queue, job, traceparent)).collect::<Result<Vec<_>, _>>()?;
        let outcomes = state.jobs.enqueue(namespace, specs).await?;
        let jobs = outcomes.into_iter().map(outcome_view).collect();
        return Ok((StatusCode::CREATED, Json(JobBatch { jobs })).into_response());
    }
    let job: EnqueueJob = from_value(body)?;
    let namespace = selector.resolve(job.namespace.as_deref())?;
    // Checked before the enqueue, so a refused wait leaves no job behind.
    let wait = job.wait_ms.map(|ms| state.jobs.check_wait(Some(Duration::from_millis(ms)))).transpose()?;
    let spec = job_spec(&queue, job, traceparent)?;
    let outcome = state.jobs.enqueue(namespace.clone(), vec![spec]).await?.pop();
    let outcome = outcome.ok_or_else(|| ApiError::new(ErrorCode::Internal, "enqueue answered nothing"))?;
    let (status, deduplicated) = match outcome {
        EnqueueOutcome::Created(_) => (StatusCode::CREATED, false),
        EnqueueOutcome::Duplicate(_) => (StatusCode::OK, true),
    };
    let job = match wait {
        Some(wait) => state.jobs.wait_for_finish(&namespace, outcome.job().job_id, Instant::now() + wait).await?,
        None => outcome.into_job(),
    };
    Ok((status, Json(job_view(job, deduplicated))).into_response())
}

fn outcome_view(outcome: EnqueueOutcome) -> JobView {
    let deduplicated = matches!(outcome, EnqueueOutcome::Duplicate(_));
    job_view(outcome.into_job(), deduplicated)
}

/// Fetch up to `max_jobs` due jobs from the queue, each with a `lease_token`; with `wait_ms`, long-poll until one
/// is enqueued (on any node).
#[utoipa::path(post, path = "/api/v1/queues/{queue}/fetch", tag = "workers", request_body = FetchRequest,
    params(("queue" = String, Path), ("namespace" = Option<String>, Query)),
    responses((status = 200, body = FetchResponse), (status = 422, body = ErrorBody)))]
pub(crate) async fn fetch_from_queue(
    State(state): State<AppState>,
    ApiPath(queue): ApiPath<String>,
    selector: NamespaceSelector,
    ApiJson(body): ApiJson<FetchRequest>,
) -> Result<Json<FetchResponse>, ApiError> {
    if body.queues.is_some() {
        return Err(ApiError::new(ErrorCode::InvalidArgument, "queues belongs to POST /api/v1/fetch"));
    }
    run_fetch(state, selector, vec![queue], body).await
}

/// Fetch from several queues, tried in the order given.
#[utoipa::path(post, path = "/api/v1/fetch", tag = "workers", request_body = FetchRequest,
    params(("namespace" = Option<String>, Query)),
    responses((status = 200, body = FetchResponse), (status = 422, body = ErrorBody)))]
pub(crate) async fn fetch(
    State(state): State<AppState>,
    selector: NamespaceSelector,
    ApiJson(mut body): ApiJson<FetchRequest>,
) -> Result<Json<FetchResponse>, ApiError> {
    let queues = body.queues.take().unwrap_or_default();
    run_fetch(state, selector, queues, body).await
}

async fn run_fetch(
    state: AppState,
    selector: NamespaceSelector,
    queues: Vec<String>,
    body: FetchRequest,
) -> Result<Json<FetchResponse>, ApiError> {
    let namespace = selector.resolve(body.namespace.as_deref())?;
    let (acks, complete) = completions(&namespace, body.complete.unwrap_or_default());
    let request = CoreFetch {
        namespace,
        queues,
        worker_id: body.worker_id,
        max_jobs: body.max_jobs,
        wait: millis(body.wait_ms),
        lease: body.lease_seconds.map(Duration::from_secs),
        job_types: body.types,
        complete,
        // A worker over the network outlives a power cut of this server: its lease must be on disk.
        in_process: false,
    };
    let (jobs, completed) = state.jobs.fetch(request).await?;
    Ok(Json(FetchResponse {
        jobs: jobs.into_iter().map(|job| job_view(job, false)).collect(),
        completed: acks.results(completed),
    }))
}

/// Extend the lease of a job you run, and report progress. The answer says whether the job was cancelled.
#[utoipa::path(post, path = "/api/v1/jobs/{id}/heartbeat", tag = "workers", request_body = HeartbeatRequest,
    params(("id" = String, Path), ("namespace" = Option<String>, Query)),
    responses((status = 200, body = HeartbeatResponse), (status = 409, body = ErrorBody, description = "STALE_TOKEN")))]
pub(crate) async fn heartbeat(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
    selector: NamespaceSelector,
    ApiJson(body): ApiJson<HeartbeatRequest>,
) -> Result<Json<HeartbeatResponse>, ApiError> {
    let namespace = selector.resolve(body.namespace.as_deref())?;
    let lease = lease_ref(namespace, &id, body.lease_token)?;
    let beat = state.jobs.heartbeat(lease, body.progress, body.extend_seconds.map(Duration::from_secs)).await?;
    Ok(Json(HeartbeatResponse {
        job_id: beat.job_id.to_string(),
        lease_expires_at: beat.lease_expires_at.to_rfc3339(),
        cancel_requested: beat.cancel_requested,
    }))
}

fn single(mut results: Vec<Result<Job, Error>>) -> Result<Json<JobView>, ApiError> {
    let result = results.pop().ok_or_else(|| ApiError::new(ErrorCode::Internal, "no outcome"))?;
    Ok(Json(job_view(result?, false)))
}

/// Complete a job you run, with its result.
#[utoipa::path(post, path = "/api/v1/jobs/{id}/complete", tag = "workers", request_body = CompleteRequest,
    params(("id" = String, Path), ("namespace" = Option<String>, Query)),
    responses((status = 200, body = JobView), (status = 409, body = ErrorBody, description = "STALE_TOKEN")))]
pub(crate) async fn complete(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
    selector: NamespaceSelector,
    ApiJson(body): ApiJson<CompleteRequest>,
) -> Result<Json<JobView>, ApiError> {
    let namespace = selector.resolve(body.namespace.as_deref())?;
    let lease = lease_ref(namespace, &id, body.lease_token)?;
    single(state.jobs.complete(vec![CompleteParams { lease, result: body.result }]).await?)
}

/// Fail the attempt of a job you run: it retries after its backoff, or is discarded when out of attempts.
#[utoipa::path(post, path = "/api/v1/jobs/{id}/fail", tag = "workers", request_body = FailRequest,
    params(("id" = String, Path), ("namespace" = Option<String>, Query)),
    responses((status = 200, body = JobView), (status = 409, body = ErrorBody, description = "STALE_TOKEN")))]
pub(crate) async fn fail(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
    selector: NamespaceSelector,
    ApiJson(body): ApiJson<FailRequest>,
) -> Result<Json<JobView>, ApiError> {
    let namespace = selector.resolve(body.namespace.as_deref())?;
    let lease = lease_ref(namespace, &id, body.lease_token)?;
    let params = FailParams { lease, error: body.error, retry_in_ms: body.retry_in_ms, discard: body.discard };
    single(state.jobs.fail(vec![params]).await?)
}

/// Per-item outcomes of a batch acknowledgement, in request order.
fn item_results(job_ids: Vec<String>, results: Vec<Result<Job, Error>>) -> Vec<BatchItemResult> {
    job_ids
        .into_iter()
        .zip(results)
        .map(|(job_id, result)| match result {
            Ok(job) => BatchItemResult { job_id, ok: true, state: Some(job.state.to_string()), error: None },
            Err(error) => {
                BatchItemResult { job_id, ok: false, state: None, error: Some(ApiError::from(error).into_detail()) }
            }
        })
        .collect()
}

/// A batch acknowledgement's items, split by whether their job id parses. The service gets the parsed ones; an
/// item whose id does not parse is answered `JOB_NOT_FOUND` in its own place, so it fails only itself.
struct AckBatch {
    job_ids: Vec<String>,
    /// Per item in request order: `None` for one handed to the service, else the error its id got.
    refusals: Vec<Option<Error>>,
}

impl AckBatch {
    /// The batch, and the parsed items for the service (in request order).
    fn split<I, P>(
        items: Vec<I>,
        job_id: impl Fn(&I) -> &str,
        parse: impl Fn(I) -> Result<P, Error>,
    ) -> (Self, Vec<P>) {
        let mut batch = Self { job_ids: Vec::new(), refusals: Vec::new() };
        let mut parsed = Vec::new();
        for item in items {
            batch.job_ids.push(job_id(&item).to_owned());
            match parse(item) {
                Ok(params) => {
                    parsed.push(params);
                    batch.refusals.push(None);
                }
                Err(error) => batch.refusals.push(Some(error)),
            }
        }
        (batch, parsed)
    }

    /// Every item's outcome in request order, given the service's outcomes for the parsed ones (in their order).
    fn results(self, outcomes: Vec<Result<Job, Error>>) -> Vec<BatchItemResult> {
        let mut outcomes = outcomes.into_iter();
        let merged = self
            .refusals
            .into_iter()
            .map(|refusal| match refusal {
                Some(error) => Err(error),
                None => outcomes.next().unwrap_or_else(|| {
                    Err(Error::Store(StoreError::Internal("an acknowledgement was left unanswered".into())))
                }),
            })
            .collect();
        item_results(self.job_ids, merged)
    }
}

fn completions(namespace: &Namespace, items: Vec<CompleteItem>) -> (AckBatch, Vec<CompleteParams>) {
    AckBatch::split(
        items,
        |item| &item.job_id,
        |item| {
            Ok(CompleteParams {
                lease: lease_ref(namespace.clone(), &item.job_id, item.lease_token)?,
                result: item.result,
            })
        },
    )
}

/// Complete many jobs at once; each item succeeds or fails on its own.
#[utoipa::path(post, path = "/api/v1/jobs/complete", tag = "workers", request_body = BatchCompleteRequest,
    params(("namespace" = Option<String>, Query)), responses((status = 200, body = BatchResponse)))]
pub(crate) async fn complete_batch(
    State(state): State<AppState>,
    selector: NamespaceSelector,
    ApiJson(body): ApiJson<BatchCompleteRequest>,
) -> Result<Json<BatchResponse>, ApiError> {
    let namespace = selector.resolve(body.namespace.as_deref())?;
    let (batch, items) = completions(&namespace, body.items);
    let outcomes = state.jobs.complete(items).await?;
    Ok(Json(BatchResponse { results: batch.results(outcomes) }))
}

/// Fail many attempts at once; each item succeeds or fails on its own.
#[utoipa::path(post, path = "/api/v1/jobs/fail", tag = "workers", request_body = BatchFailRequest,
    params(("namespace" = Option<String>, Query)), responses((status = 200, body = BatchResponse)))]
pub(crate) async fn fail_batch(
    State(state): State<AppState>,
    selector: NamespaceSelector,
    ApiJson(body): ApiJson<BatchFailRequest>,
) -> Result<Json<BatchResponse>, ApiError> {
    let namespace = selector.resolve(body.namespace.as_deref())?;
    let (batch, items) = AckBatch::split(
        body.items,
        |item| &item.job_id,
        |item| {
            Ok(FailParams {
                lease: lease_ref(namespace.clone(), &item.job_id, item.lease_token)?,
                error: item.error,
                retry_in_ms: item.retry_in_ms,
                discard: item.discard,
            })
        },
    );
    let outcomes = state.jobs.fail(items).await?;
    Ok(Json(BatchResponse { results: batch.results(outcomes) }))
}

/// Cancel a job: at once if it waits; a running job's worker learns it from its next heartbeat.
#[utoipa::path(delete, path = "/api/v1/jobs/{id}", tag = "jobs",
    params(("id" = String, Path), ("namespace" = Option<String>, Query)),
    responses((status = 200, body = JobView), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "INVALID_STATE: already finished")))]
pub(crate) async fn cancel(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
    selector: NamespaceSelector,
) -> Result<Json<JobView>, ApiError> {
    let namespace = selector.resolve(None)?;
    Ok(Json(job_view(state.jobs.cancel(&namespace, &id).await?, false)))
}

/// Run a discarded, cancelled or waiting job again now (redrive from the dead-letter state).
#[utoipa::path(post, path = "/api/v1/jobs/{id}/retry", tag = "jobs",
    params(("id" = String, Path), ("namespace" = Option<String>, Query)),
    responses((status = 200, body = JobView), (status = 409, body = ErrorBody, description = "INVALID_STATE")))]
pub(crate) async fn retry(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
    selector: NamespaceSelector,
) -> Result<Json<JobView>, ApiError> {
    let namespace = selector.resolve(None)?;
    Ok(Json(job_view(state.jobs.retry(&namespace, &id).await?, false)))
}

#[utoipa::path(get, path = "/api/v1/jobs/{id}", tag = "jobs",
    params(("id" = String, Path), ("namespace" = Option<String>, Query)),
    responses((status = 200, body = JobView), (status = 404, body = ErrorBody)))]
pub(crate) async fn show(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
    selector: NamespaceSelector,
) -> Result<Json<JobView>, ApiError> {
    let namespace = selector.resolve(None)?;
    Ok(Json(job_view(state.jobs.get(&namespace, &id).await?, false)))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub(crate) struct ResultQuery {
    /// Wait up to this long (at most 60 000) for the job to finish.
    wait_ms: Option<u64>,
    namespace: Option<String>,
}

/// The job once finished, waiting up to `wait_ms`; if it is still unfinished then, the job as it stands.
#[utoipa::path(get, path = "/api/v1/jobs/{id}/result", tag = "jobs", params(("id" = String, Path), ResultQuery),
    responses((status = 200, body = JobView), (status = 404, body = ErrorBody)))]
pub(crate) async fn result(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
    selector: NamespaceSelector,
    ApiQuery(query): ApiQuery<ResultQuery>,
) -> Result<Json<JobView>, ApiError> {
    let namespace = selector.resolve(query.namespace.as_deref())?;
    Ok(Json(job_view(state.jobs.result(&namespace, &id, millis(query.wait_ms)).await?, false)))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub(crate) struct ListQuery {
    queue: Option<String>,
    state: Option<String>,
    #[serde(rename = "type")]
    job_type: Option<String>,
    tag: Option<String>,
    cursor: Option<String>,
    limit: Option<u32>,
    namespace: Option<String>,
}

/// Jobs in creation order, filtered by queue, state, type and tag, a page at a time.
#[utoipa::path(get, path = "/api/v1/jobs", tag = "jobs", params(ListQuery), responses((status = 200, body = JobList)))]
pub(crate) async fn list(
    State(state): State<AppState>,
    selector: NamespaceSelector,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> Result<Json<JobList>, ApiError> {
    let namespace: Namespace = selector.resolve(query.namespace.as_deref())?;
    let request = ListJobsRequest {
        namespace,
        queue: query.queue,
        state: query.state.as_deref().map(parse_state).transpose()?,
        job_type: query.job_type,
        tag: query.tag,
        cursor: query.cursor,
        limit: query.limit,
    };
    let page = state.jobs.list(request).await?;
    Ok(Json(JobList {
        jobs: page.items.into_iter().map(|job| job_view(job, false)).collect(),
        next_cursor: page.next_cursor,
    }))
}
