//! Cron schedules: a named cron expression (seconds allowed, in a time zone) that enqueues a job from a
//! template at every tick.
//!
//! **Invariant:** each tick enqueues at most one job, on any number of nodes: the job's id and unique key are
//! derived from the schedule and the tick, and the schedule row is held while it fires.

use std::str::FromStr as _;

use chrono::{DateTime, Utc};
use croner::Cron;
use croner::parser::{CronParser, Seconds};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

use crate::clock::Timestamp;
use crate::error::{Error, ErrorCode};
use crate::job::model::{Backoff, JobId, JobState, NewJob, OnConflict, RunAt, Uniqueness};
use crate::namespace::Namespace;

/// What each tick enqueues.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct JobTemplate {
    #[serde(rename = "type")]
    pub job_type: String,
    pub payload: Value,
    pub priority: i32,
    pub max_attempts: u32,
    pub backoff: Backoff,
    pub timeout_ms: Option<i64>,
    pub tags: Vec<String>,
    pub metadata: Option<Value>,
    // Defaults: templates saved before these fields existed have neither.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub concurrency_key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trace_context: Option<String>,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Overlap {
    /// Enqueue at every tick.
    #[default]
    Allow,
    /// Skip a tick while the previous tick's job has not finished.
    Skip,
}

impl Overlap {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Allow => "allow",
            Self::Skip => "skip",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "allow" => Some(Self::Allow),
            "skip" => Some(Self::Skip),
            _ => None,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Schedule {
    pub namespace: Namespace,
    pub name: String,
    pub cron: String,
    pub timezone: String,
    pub queue: String,
    pub template: JobTemplate,
    pub overlap: Overlap,
    pub paused: bool,
    /// `None` while paused, or when the expression has no future tick.
    pub next_fire_at: Option<Timestamp>,
    pub last_fired_at: Option<Timestamp>,
    pub last_job_id: Option<JobId>,
    pub created_at: Timestamp,
}

/// A parsed cron expression in its time zone.
#[derive(Clone, Debug)]
pub struct CronSpec {
    cron: Cron,
    timezone: chrono_tz::Tz,
}

impl CronSpec {
    /// Parses 5-field (minute first) or 6-field (second first) expressions and IANA zone names.
    pub fn parse(expression: &str, timezone: &str) -> Result<Self, Error> {
        let cron = CronParser::builder().seconds(Seconds::Optional).build().parse(expression).map_err(|e| {
            Error::invalid(ErrorCode::InvalidArgument, format!("invalid cron expression '{expression}': {e}"))
        })?;
        let timezone = chrono_tz::Tz::from_str(timezone)
            .map_err(|_| Error::invalid(ErrorCode::InvalidArgument, format!("unknown time zone '{timezone}'")))?;
        Ok(Self { cron, timezone })
    }

    /// The first tick strictly after `after`, if any.
    pub fn next_after(&self, after: Timestamp) -> Option<Timestamp> {
        let start = DateTime::<Utc>::from_timestamp_millis(after.0)?.with_timezone(&self.timezone);
        let next = self.cron.find_next_occurrence(&start, false).ok()?;
        Some(Timestamp(next.timestamp_millis()))
    }
}

/// The id of the job a schedule enqueues at `tick`: the same on every node, so a tick can only insert once.
pub fn tick_job_id(namespace: &Namespace, name: &str, tick: Timestamp) -> JobId {
    let mut bytes = [0_u8; 16];
    bytes[..8].copy_from_slice(&tick.0.to_be_bytes());
    let text = [namespace.as_str().as_bytes(), b"\0", name.as_bytes()];
    let hash = text
        .iter()
        .flat_map(|part| part.iter())
        .fold(0xcbf2_9ce4_8422_2325_u64, |hash, byte| (hash ^ u64::from(*byte)).wrapping_mul(0x0000_0100_0000_01b3));
    bytes[8..].copy_from_slice(&hash.to_be_bytes());
    JobId(Uuid::new_v8(bytes))
}

impl Schedule {
    /// The job this schedule enqueues at `tick`, unique per tick for good.
    pub fn job_for_tick(&self, tick: Timestamp) -> NewJob {
        let template = &self.template;
        NewJob {
            job_id: tick_job_id(&self.namespace, &self.name, tick),
            queue: self.queue.clone(),
            job_type: template.job_type.clone(),
            payload: template.payload.clone(),
            priority: template.priority,
            run_at: RunAt::Now,
            max_attempts: template.max_attempts,
            backoff: template.backoff,
            timeout_ms: template.timeout_ms,
            unique: Some(Uniqueness {
                key: format!("schedule:{}:{}", self.name, tick.0),
                for_ms: None,
                states: JobState::ALL.to_vec(),
                on_conflict: OnConflict::Existing,
            }),
            concurrency_key: template.concurrency_key.clone(),
            tags: template.tags.clone(),
            metadata: template.metadata.clone(),
            trace_context: template.trace_context.clone(),
        }
    }
}

/// What one firing pass did.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ScheduleReport {
    pub fired: usize,
    /// Milliseconds until the next schedule is due, by the store's clock.
    pub next_due_in_ms: Option<i64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    const JAN_1_2026: Timestamp = Timestamp(1_767_225_600_000);

    #[test]
    fn seconds_and_time_zones_are_understood() {
        let every_ten_seconds = CronSpec::parse("*/10 * * * * *", "UTC").unwrap();
        assert_eq!(every_ten_seconds.next_after(JAN_1_2026), Some(Timestamp(JAN_1_2026.0 + 10_000)));
        let nine_in_paris = CronSpec::parse("0 9 * * *", "Europe/Paris").unwrap();
        // 09:00 in Paris on 1 January is 08:00 UTC.
        assert_eq!(nine_in_paris.next_after(JAN_1_2026), Some(Timestamp(JAN_1_2026.0 + 8 * 3_600_000)));
        assert!(CronSpec::parse("61 * * * *", "UTC").is_err());
        assert!(CronSpec::parse("* * * * *", "Mars/Olympus").is_err());
    }

    #[test]
    fn a_tick_has_one_job_id_everywhere() {
        let ns = Namespace::default();
        assert_eq!(tick_job_id(&ns, "nightly", JAN_1_2026), tick_job_id(&ns, "nightly", JAN_1_2026));
        assert_ne!(tick_job_id(&ns, "nightly", JAN_1_2026), tick_job_id(&ns, "hourly", JAN_1_2026));
        assert_ne!(tick_job_id(&ns, "nightly", JAN_1_2026), tick_job_id(&ns, "nightly", Timestamp(JAN_1_2026.0 + 1)));
    }
}
