//! The job rules that need no store: backoff, what a failed attempt leads to, and how many jobs a fetch may
//! take under a queue's limits. Pure functions, so the unit tests below pin them without a clock or a store.

use std::collections::HashMap;

use crate::clock::Timestamp;
use crate::job::model::{AttemptError, Backoff, BackoffStrategy, Job, JobId, JobState, QueueSettings, RateWindow};

/// The attempt errors a job keeps; older ones are dropped first.
pub const MAX_ERRORS_KEPT: usize = 20;

/// The delay before attempt `attempt + 1`, after attempt `attempt` (1-based) failed. Jitter shortens the delay
/// by up to `jitter` of itself, by an amount drawn from `seed`, so jobs that failed together spread out.
pub fn backoff_delay_ms(backoff: &Backoff, attempt: u32, seed: u64) -> i64 {
    let initial = backoff.initial_delay_ms.max(0);
    let step = i64::from(attempt.max(1));
    let raw = match backoff.strategy {
        BackoffStrategy::Fixed => initial,
        BackoffStrategy::Linear => initial.saturating_mul(step),
        BackoffStrategy::Exponential => {
            let doublings = u32::try_from(step - 1).unwrap_or(u32::MAX).min(62);
            initial.saturating_mul(1_i64 << doublings)
        }
    };
    let capped = raw.min(backoff.max_delay_ms.max(initial));
    let fraction = (seed % 10_000) as f64 / 10_000.0;
    let shortened = (capped as f64 * backoff.jitter.clamp(0.0, 1.0) * fraction) as i64;
    capped - shortened
}

/// A seed for [`backoff_delay_ms`] that differs per job and attempt but is reproducible.
pub fn jitter_seed(job_id: JobId, attempt: u32) -> u64 {
    let (high, low) = job_id.0.as_u64_pair();
    (high ^ low ^ u64::from(attempt)).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 16
}

/// Why a running attempt ended without success.
#[derive(Clone, Debug, PartialEq)]
pub struct AttemptFailure {
    pub error: String,
    pub retry_in_ms: Option<i64>,
    pub discard: bool,
}

/// Ends the running attempt of `job` as failed: retryable with a backoff, discarded when out of attempts or
/// asked to, or cancelled when a cancel was requested while it ran. Records the attempt's error.
pub fn fail_attempt(job: &mut Job, failure: AttemptFailure, now: Timestamp) {
    record_error(job, failure.error, now);
    end_lease(job);
    if job.cancel_requested {
        finalize(job, JobState::Cancelled, now);
    } else if failure.discard || job.attempt >= job.max_attempts {
        finalize(job, JobState::Discarded, now);
    } else {
        let delay = failure
            .retry_in_ms
            .unwrap_or_else(|| backoff_delay_ms(&job.backoff, job.attempt, jitter_seed(job.job_id, job.attempt)));
        job.state = JobState::Retryable;
        job.run_at = Timestamp(now.0.saturating_add(delay.max(0)));
    }
}

/// Gives back an attempt that never ran: its fetcher was gone before it received the job. The job is available
/// again at once, the attempt is not counted, and the lease token stays, so the lost fetcher's ack is stale.
pub fn release_attempt(job: &mut Job, now: Timestamp) {
    end_lease(job);
    if job.cancel_requested {
        finalize(job, JobState::Cancelled, now);
        return;
    }
    job.attempt = job.attempt.saturating_sub(1);
    job.state = JobState::Available;
    job.run_at = now;
}

pub fn complete_attempt(job: &mut Job, result: Option<serde_json::Value>, now: Timestamp) {
    end_lease(job);
    job.result = result;
    finalize(job, JobState::Completed, now);
}

fn record_error(job: &mut Job, error: String, now: Timestamp) {
    job.errors.push(AttemptError { attempt: job.attempt, error, at: now });
    if job.errors.len() > MAX_ERRORS_KEPT {
        let excess = job.errors.len() - MAX_ERRORS_KEPT;
        job.errors.drain(..excess);
    }
}

/// The lease ends with the attempt; the token stays on the record, so a late ack is still recognised as stale.
fn end_lease(job: &mut Job) {
    job.lease_expires_at = None;
}

pub fn finalize(job: &mut Job, state: JobState, now: Timestamp) {
    job.state = state;
    job.finalized_at = Some(now);
}

/// The rate window in force at `now`: the stored one, or a fresh one once its period is over.
pub fn current_window(settings: &QueueSettings, now: Timestamp) -> RateWindow {
    match settings.rate_limit {
        Some(rate) if now.0 < settings.rate_window.started_at.0.saturating_add(rate.period_ms) => settings.rate_window,
        _ => RateWindow { started_at: now, taken: 0 },
    }
}

/// How many jobs a fetch may take from a queue at `now`: what was asked, cut by the queue's concurrency limit
/// and what its rate window has left.
pub fn fetch_allowance(settings: &QueueSettings, wanted: u32, running: u64, now: Timestamp) -> u32 {
    let mut allowance = u64::from(wanted);
    if let Some(limit) = settings.global_concurrency {
        allowance = allowance.min(u64::from(limit).saturating_sub(running));
    }
    if let Some(rate) = settings.rate_limit {
        allowance = allowance.min(u64::from(rate.limit.saturating_sub(current_window(settings, now).taken)));
    }
    u32::try_from(allowance).unwrap_or(wanted)
}

/// Picks candidates in order, skipping those whose concurrency key already runs `per_key` jobs (counting the
/// ones picked here), until `allowance` are picked.
pub fn pick_within_key_limits(
    candidates: &[(JobId, Option<String>)],
    running_per_key: &HashMap<String, u64>,
    per_key: u32,
    allowance: u32,
) -> Vec<JobId> {
    let mut taken: HashMap<&str, u64> = HashMap::new();
    let mut picked = Vec::new();
    for (job_id, key) in candidates {
        if picked.len() >= allowance as usize {
            break;
        }
        if let Some(key) = key {
            let running = running_per_key.get(key).copied().unwrap_or(0);
            let count = taken.entry(key.as_str()).or_insert(running);
            if *count >= u64::from(per_key) {
                continue;
            }
            *count += 1;
        }
        picked.push(*job_id);
    }
    picked
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::job::model::RateLimit;

    fn backoff(strategy: BackoffStrategy) -> Backoff {
        Backoff { strategy, initial_delay_ms: 1_000, max_delay_ms: 10_000, jitter: 0.0 }
    }

    #[test]
    fn backoff_grows_by_strategy_and_stops_at_the_cap() {
        let delays = |strategy| (1..=6).map(|n| backoff_delay_ms(&backoff(strategy), n, 0)).collect::<Vec<_>>();
        assert_eq!(delays(BackoffStrategy::Exponential), [1_000, 2_000, 4_000, 8_000, 10_000, 10_000]);
        assert_eq!(delays(BackoffStrategy::Linear), [1_000, 2_000, 3_000, 4_000, 5_000, 6_000]);
        assert_eq!(delays(BackoffStrategy::Fixed), [1_000; 6]);
        assert_eq!(backoff_delay_ms(&backoff(BackoffStrategy::Exponential), 500, 0), 10_000);
    }

    #[test]
    fn jitter_only_ever_shortens_the_delay_by_its_fraction() {
        let jittered = Backoff { jitter: 0.5, ..backoff(BackoffStrategy::Fixed) };
        for seed in [0, 1, 4_999, 9_999, u64::MAX] {
            let delay = backoff_delay_ms(&jittered, 1, seed);
            assert!((500..=1_000).contains(&delay), "{delay}");
        }
        assert_ne!(jitter_seed(JobId::new(), 1), jitter_seed(JobId::new(), 1));
    }

    #[test]
    fn limits_cut_the_allowance_and_never_go_negative() {
        let now = Timestamp(10_000);
        let open = QueueSettings::new();
        assert_eq!(fetch_allowance(&open, 10, 1_000, now), 10);
        let limited = QueueSettings {
            global_concurrency: Some(5),
            rate_limit: Some(RateLimit { limit: 3, period_ms: 1_000 }),
            ..QueueSettings::new()
        };
        assert_eq!(fetch_allowance(&limited, 10, 0, now), 3);
        assert_eq!(fetch_allowance(&limited, 10, 4, now), 1);
        assert_eq!(fetch_allowance(&limited, 10, 9, now), 0);
        let spent = QueueSettings { rate_window: RateWindow { started_at: Timestamp(9_500), taken: 3 }, ..limited };
        assert_eq!(fetch_allowance(&spent, 10, 0, now), 0, "the window has 500 ms to go");
        assert_eq!(fetch_allowance(&spent, 10, 0, Timestamp(10_500)), 3, "a new window");
    }

    #[test]
    fn a_key_at_its_limit_is_skipped_and_later_jobs_still_go() {
        let ids: Vec<JobId> = (0..4).map(|_| JobId::new()).collect();
        let candidates = vec![
            (ids[0], Some("a".to_owned())),
            (ids[1], Some("a".to_owned())),
            (ids[2], Some("b".to_owned())),
            (ids[3], None),
        ];
        let running = HashMap::from([("b".to_owned(), 1)]);
        assert_eq!(pick_within_key_limits(&candidates, &running, 1, 10), vec![ids[0], ids[3]]);
        assert_eq!(pick_within_key_limits(&candidates, &HashMap::new(), 2, 3), vec![ids[0], ids[1], ids[2]]);
    }
}
