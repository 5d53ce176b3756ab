//! Long polls served by this process that sit idle on one queue, and the hand-off that gives one of them jobs
//! taken for it in someone else's transaction.
//!
//! A worker waits on its queue in a long poll: a remote one over the API, or an embedded workflow executor in
//! this process. Without a hand-off, an enqueue (or a workflow start) commits the job, wakes the poll through
//! the change feed, and the poll commits a fetch of its own: two commits and a wake-up before the worker has
//! the job. With it, the enqueue claims the idle poll, takes the poll's jobs in its own transaction (by the
//! poll's fetch, with its limits and order), and hands them over: the poll answers with them and fetches
//! nothing. Polls served by other nodes are woken through the change feed as before.
//!
//! An idle in-process poll also remembers its last empty look: until something is enqueued (any change that
//! makes jobs available, seen on the change feed) or the look's own horizon passes, its next fetch parks at once
//! instead of looking again. So an executor that just finished a run it was handed is idle again before its
//! caller, told of the end, starts the next workflow.
//!
//! **Invariant:** a claimed poll does not look in the store until its claim ends (delivered or released), and a
//! claim is delivered to at most one poll, so no job is taken for a poll twice and none is taken for two.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use tokio::sync::Notify;

use crate::job::model::{FetchParams, Job};
use crate::namespace::Namespace;

/// The idle polls of each queue, oldest first, and what each in-process poller last found.
#[derive(Default)]
pub(crate) struct IdlePolls {
    by_queue: Mutex<HashMap<QueueKey, Vec<Arc<Slot>>>>,
    /// Moves on with every change that may have made a job available, in any queue.
    availability: AtomicU64,
    /// By poller: the availability its last empty look began at, and until when that look holds (the earliest
    /// due job, or the poll's safety net).
    empty_looks: Mutex<HashMap<Poller, (u64, Instant)>>,
}

/// Namespace and queue.
type QueueKey = (Namespace, String);

/// Namespace, queue, worker and job types: one in-process poller.
type Poller = (Namespace, String, String, Option<Vec<String>>);

/// The queue `params` polls, when it is a poll of one queue carrying no completions (the only kind that
/// parks).
fn polled_queue(params: &FetchParams) -> Option<QueueKey> {
    let [queue] = params.queues.as_slice() else { return None };
    params.complete.is_empty().then(|| (params.namespace.clone(), queue.clone()))
}

/// Who polls, when `params` is an in-process poll that parks (the only kind that skips a look: a remote
/// worker's id need not be unique, so its empty looks are not remembered).
fn poller(params: &FetchParams) -> Option<Poller> {
    let (namespace, queue) = polled_queue(params).filter(|_| params.in_process)?;
    Some((namespace, queue, params.worker_id.clone(), params.job_types.clone()))
}

/// One idle poll: what it would fetch, and where a claimer leaves what it took.
struct Slot {
    params: FetchParams,
    state: Mutex<SlotState>,
    changed: Notify,
}

enum SlotState {
    Idle,
    Claimed,
    Delivered(Vec<Job>),
    /// The claimer took nothing for it (its transaction failed, or found no job): the poll looks for itself.
    Released,
    /// The poll stopped waiting while it was claimed: the claimer keeps what it took.
    Abandoned,
    /// The poll stopped waiting while idle (it looks for itself now, or is gone).
    Left,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // Each critical section is one assignment or list edit: a panic inside cannot leave a half-made state.
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl IdlePolls {
    /// Registers a poll of `params` (one queue) until the returned [`Parked`] leaves.
    pub(crate) fn park(self: &Arc<Self>, params: &FetchParams) -> Option<Parked> {
        let key = polled_queue(params)?;
        let slot =
            Arc::new(Slot { params: params.clone(), state: Mutex::new(SlotState::Idle), changed: Notify::new() });
        lock(&self.by_queue).entry(key.clone()).or_default().push(slot.clone());
        Some(Parked { polls: self.clone(), key, slot, left: false })
    }

    pub(crate) fn availability(&self) -> u64 {
        self.availability.load(Ordering::SeqCst)
    }

    pub(crate) fn availability_changed(&self) {
        self.availability.fetch_add(1, Ordering::SeqCst);
    }

    /// Notes that a look which began at `availability` found nothing for `params`, and holds until `until`.
    pub(crate) fn remember_empty(&self, params: &FetchParams, availability: u64, until: Instant) {
        if let Some(key) = poller(params) {
            lock(&self.empty_looks).insert(key, (availability, until));
        }
    }

    /// Until when `params`' poller may wait without looking: its last look found nothing, and nothing has
    /// become available since.
    pub(crate) fn known_empty(&self, params: &FetchParams) -> Option<Instant> {
        let key = poller(params)?;
        let (availability, until) = *lock(&self.empty_looks).get(&key)?;
        (availability == self.availability() && Instant::now() < until).then_some(until)
    }

    /// Claims the oldest idle poll of `queue` that takes jobs of `job_type` (only an in-process one when
    /// `in_process_only`).
    pub(crate) fn claim(
        &self,
        namespace: &Namespace,
        queue: &str,
        job_type: &str,
        in_process_only: bool,
    ) -> Option<PollClaim> {
        let mut by_queue = lock(&self.by_queue);
        let slots = by_queue.get_mut(&(namespace.clone(), queue.to_owned()))?;
        let takes = |slot: &Arc<Slot>| {
            (slot.params.in_process || !in_process_only)
                && slot.params.job_types.as_ref().is_none_or(|types| types.iter().any(|taken| taken == job_type))
        };
        let position = slots.iter().position(|slot| {
            let mut state = lock(&slot.state);
            // A poll on its way out is still listed for a moment; it is not claimable.
            let claimable = matches!(*state, SlotState::Idle) && takes(slot);
            if claimable {
                *state = SlotState::Claimed;
            }
            claimable
        })?;
        let slot = slots.remove(position);
        if slots.is_empty() {
            by_queue.remove(&(namespace.clone(), queue.to_owned()));
        }
        Some(PollClaim { slot, delivered: false })
    }

    fn remove(&self, key: &QueueKey, slot: &Arc<Slot>) {
        let mut by_queue = lock(&self.by_queue);
        if let Some(slots) = by_queue.get_mut(key) {
            slots.retain(|parked| !Arc::ptr_eq(parked, slot));
            if slots.is_empty() {
                by_queue.remove(key);
            }
        }
    }
}

/// A poll registered as idle. Leave it before looking in the store again.
pub(crate) struct Parked {
    polls: Arc<IdlePolls>,
    key: QueueKey,
    slot: Arc<Slot>,
    left: bool,
}

impl Parked {
    /// Resolves once a claimer delivered or released this poll (never while it is idle or claimed).
    pub(crate) async fn handed_over(&self) {
        loop {
            let changed = self.slot.changed.notified();
            if matches!(*lock(&self.slot.state), SlotState::Delivered(_) | SlotState::Released) {
                return;
            }
            changed.await;
        }
    }

    /// Stops being idle: the jobs a claimer delivered, or `None` when the poll must look for itself. A claim
    /// in progress is waited for.
    pub(crate) async fn leave(mut self) -> Option<Vec<Job>> {
        loop {
            let changed = self.slot.changed.notified();
            {
                let mut state = lock(&self.slot.state);
                match std::mem::replace(&mut *state, SlotState::Left) {
                    SlotState::Idle => {
                        drop(state);
                        self.polls.remove(&self.key, &self.slot);
                        self.left = true;
                        return None;
                    }
                    SlotState::Claimed => *state = SlotState::Claimed,
                    SlotState::Delivered(jobs) => {
                        self.left = true;
                        return Some(jobs).filter(|jobs| !jobs.is_empty());
                    }
                    SlotState::Released | SlotState::Abandoned | SlotState::Left => {
                        self.left = true;
                        return None;
                    }
                }
            }
            changed.await;
        }
    }
}

impl Drop for Parked {
    fn drop(&mut self) {
        if self.left {
            return;
        }
        let mut state = lock(&self.slot.state);
        match &*state {
            SlotState::Idle => {
                *state = SlotState::Left;
                drop(state);
                self.polls.remove(&self.key, &self.slot);
            }
            SlotState::Claimed => *state = SlotState::Abandoned,
            // Delivered to a poll that stopped before it answered: the jobs stay leased to its worker until
            // their lease lapses, as a fetch answer lost on its way would.
            SlotState::Delivered(_) | SlotState::Released | SlotState::Abandoned | SlotState::Left => {}
        }
    }
}

/// A claimed idle poll: fetch with [`Self::fetch_params`] in your transaction, then [`Self::deliver`] what it
/// took. Dropped undelivered, it releases the poll to look for itself.
pub struct PollClaim {
    slot: Arc<Slot>,
    delivered: bool,
}

impl PollClaim {
    /// The poll's own fetch: its worker, lease, types and batch size.
    pub fn fetch_params(&self) -> FetchParams {
        self.slot.params.clone()
    }

    /// Hands `jobs` to the poll, which answers its fetcher with them. If the poll stopped waiting meanwhile,
    /// the jobs come back: they are leased to a fetcher that will never see them, so hand them back to the
    /// queue.
    pub fn deliver(mut self, jobs: Vec<Job>) -> Result<(), Vec<Job>> {
        self.delivered = true;
        let mut state = lock(&self.slot.state);
        if matches!(*state, SlotState::Abandoned) {
            return Err(jobs);
        }
        *state = SlotState::Delivered(jobs);
        drop(state);
        self.slot.changed.notify_one();
        Ok(())
    }
}

impl Drop for PollClaim {
    fn drop(&mut self) {
        if self.delivered {
            return;
        }
        let mut state = lock(&self.slot.state);
        if matches!(*state, SlotState::Claimed) {
            *state = SlotState::Released;
        }
        drop(state);
        self.slot.changed.notify_one();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn poll(types: Option<Vec<String>>) -> FetchParams {
        FetchParams {
            namespace: Namespace::default(),
            queues: vec!["workflows".into()],
            worker_id: "executor".into(),
            max_jobs: 4,
            lease_ms: 30_000,
            job_types: types,
            complete: Vec::new(),
            in_process: true,
        }
    }

    #[tokio::test]
    async fn a_claimed_poll_answers_with_what_was_delivered() {
        let polls = Arc::new(IdlePolls::default());
        let parked = polls.park(&poll(None)).expect("an in-process poll of one queue parks");
        let claim = polls.claim(&Namespace::default(), "workflows", "noop", true).expect("the idle poll is claimed");
        assert_eq!(claim.fetch_params().worker_id, "executor");
        assert!(polls.claim(&Namespace::default(), "workflows", "noop", true).is_none(), "a poll is claimed once");
        claim.deliver(Vec::new()).expect("the poll still waits");
        parked.handed_over().await;
        assert_eq!(parked.leave().await, None, "an empty delivery sends the poll to look for itself");
        assert!(lock(&polls.by_queue).is_empty());
    }

    #[tokio::test]
    async fn a_released_claim_lets_the_poll_look_for_itself() {
        let polls = Arc::new(IdlePolls::default());
        let parked = polls.park(&poll(None)).expect("parks");
        drop(polls.claim(&Namespace::default(), "workflows", "noop", true).expect("claimed"));
        parked.handed_over().await;
        assert_eq!(parked.leave().await, None);
    }

    #[tokio::test]
    async fn a_poll_that_stops_while_claimed_sends_the_jobs_back_to_the_claimer() {
        let polls = Arc::new(IdlePolls::default());
        let parked = polls.park(&poll(None)).expect("parks");
        let claim = polls.claim(&Namespace::default(), "workflows", "noop", true).expect("claimed");
        drop(parked);
        assert_eq!(claim.deliver(Vec::new()), Err(Vec::new()));
    }

    #[test]
    fn only_polls_that_take_the_type_and_wait_on_one_queue_are_claimed() {
        let polls = Arc::new(IdlePolls::default());
        let _typed = polls.park(&poll(Some(vec!["billing".into()]))).expect("parks");
        assert!(polls.claim(&Namespace::default(), "workflows", "noop", false).is_none());
        assert!(polls.claim(&Namespace::default(), "other", "billing", false).is_none());
        assert!(polls.claim(&Namespace::default(), "workflows", "billing", false).is_some());
        assert!(polls.park(&FetchParams { queues: vec!["a".into(), "b".into()], ..poll(None) }).is_none());
    }

    #[test]
    fn a_remote_poll_is_claimed_only_by_enqueues_and_never_skips_a_look() {
        let polls = Arc::new(IdlePolls::default());
        let remote = FetchParams { in_process: false, ..poll(None) };
        let _parked = polls.park(&remote).expect("a remote poll of one queue parks");
        assert!(polls.claim(&Namespace::default(), "workflows", "noop", true).is_none());
        assert!(polls.claim(&Namespace::default(), "workflows", "noop", false).is_some());
        polls.remember_empty(&remote, polls.availability(), Instant::now() + std::time::Duration::from_secs(5));
        assert_eq!(polls.known_empty(&remote), None, "a remote worker's id may be shared: it always looks");
    }

    #[test]
    fn a_poll_that_leaves_idle_is_no_longer_claimable() {
        let polls = Arc::new(IdlePolls::default());
        drop(polls.park(&poll(None)).expect("parks"));
        assert!(polls.claim(&Namespace::default(), "workflows", "noop", true).is_none());
        assert!(lock(&polls.by_queue).is_empty());
    }
}
