//! The schedule half of the job service: validation of definitions, and the calls transports make.

use crate::error::{Error, ErrorCode};
use crate::job::model::{Job, RunAt};
use crate::job::schedule::{CronSpec, JobTemplate, Overlap, Schedule};
use crate::job::service::JobService;
use crate::job::spec::JobSpec;
use crate::namespace::Namespace;

/// A schedule as a client defines it.
#[derive(Clone, Debug, Default)]
pub struct ScheduleRequest {
    pub name: String,
    pub cron: String,
    /// An IANA zone name; UTC when absent.
    pub timezone: Option<String>,
    pub queue: String,
    /// The job each tick enqueues; its queue and timing fields are ignored.
    pub job: JobSpec,
    pub overlap: Overlap,
    pub paused: bool,
}

impl JobService {
    /// Creates or replaces a schedule; says whether it is new.
    pub async fn save_schedule(
        &self,
        namespace: Namespace,
        request: ScheduleRequest,
    ) -> Result<(Schedule, bool), Error> {
        check_schedule_name(&request.name)?;
        let timezone = request.timezone.unwrap_or_else(|| "UTC".to_owned());
        CronSpec::parse(&request.cron, &timezone)?;
        if request.job.run_at.is_some() || request.job.delay_ms.is_some() || request.job.unique_key.is_some() {
            return Err(Error::invalid(
                ErrorCode::InvalidArgument,
                "a schedule's job template takes no run_at, delay or unique_key: each tick sets them",
            ));
        }
        let job = self.validate_job(JobSpec { queue: request.queue.clone(), ..request.job })?;
        debug_assert!(matches!(job.run_at, RunAt::Now));
        let template = JobTemplate {
            job_type: job.job_type,
            payload: job.payload,
            priority: job.priority,
            max_attempts: job.max_attempts,
            backoff: job.backoff,
            timeout_ms: job.timeout_ms,
            tags: job.tags,
            metadata: job.metadata,
            concurrency_key: job.concurrency_key,
            trace_context: job.trace_context,
        };
        let schedule = Schedule {
            namespace,
            name: request.name,
            cron: request.cron,
            timezone,
            queue: job.queue,
            template,
            overlap: request.overlap,
            paused: request.paused,
            next_fire_at: None,
            last_fired_at: None,
            last_job_id: None,
            created_at: crate::clock::Timestamp(0),
        };
        self.store().save_schedule(schedule).await
    }

    pub async fn schedule(&self, namespace: &Namespace, name: &str) -> Result<Schedule, Error> {
        check_schedule_name(name)?;
        self.store()
            .get_schedule(namespace, name)
            .await?
            .ok_or_else(|| Error::invalid(ErrorCode::NotFound, format!("schedule '{name}' does not exist")))
    }

    pub async fn schedules(&self, namespace: &Namespace) -> Result<Vec<Schedule>, Error> {
        self.store().list_schedules(namespace).await
    }

    pub async fn delete_schedule(&self, namespace: &Namespace, name: &str) -> Result<(), Error> {
        check_schedule_name(name)?;
        self.store().delete_schedule(namespace, name).await
    }

    pub async fn pause_schedule(&self, namespace: &Namespace, name: &str, paused: bool) -> Result<Schedule, Error> {
        check_schedule_name(name)?;
        self.store().set_schedule_paused(namespace, name, paused).await
    }

    pub async fn trigger_schedule(&self, namespace: &Namespace, name: &str) -> Result<Job, Error> {
        check_schedule_name(name)?;
        self.store().trigger_schedule(namespace, name).await
    }
}

fn check_schedule_name(name: &str) -> Result<(), Error> {
    let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | ':' | '/');
    if name.is_empty() || name.len() > 128 || !name.chars().all(allowed) {
        return Err(Error::invalid(
            ErrorCode::InvalidArgument,
            "schedule name must be 1 to 128 characters of letters, digits, '_', '-', '.', ':' and '/'",
        ));
    }
    Ok(())
}
