//! What the embedded engine's starts, executor and waiters in one process tell each other directly, instead
//! of through the store: the workflow a start handed to the local executor, and the end of a workflow the
//! local executor completed. Each is only a shortcut: whoever is not told reads the store as before.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use baton_core::workflow::WorkflowRecord;
use tokio::sync::oneshot;

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // Every critical section is one map edit: a panic inside cannot leave the map half-changed.
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Runs that a start took for this process's idle executor, by job id, with the workflow as the start wrote
/// it: a workflow that has just been created has no checkpoints, so its first replay reads nothing.
#[derive(Default)]
pub(crate) struct HandedOver {
    by_job: Mutex<HashMap<String, WorkflowRecord>>,
}

impl HandedOver {
    pub(crate) fn put(&self, job_id: String, workflow: WorkflowRecord) {
        lock(&self.by_job).insert(job_id, workflow);
    }

    pub(crate) fn take(&self, job_id: &str) -> Option<WorkflowRecord> {
        lock(&self.by_job).remove(job_id)
    }
}

/// Callers in this process waiting for a workflow to end, told by this process's executor when it completes
/// the run.
#[derive(Default)]
pub(crate) struct Endings {
    waiting: Mutex<HashMap<String, Vec<oneshot::Sender<WorkflowRecord>>>>,
}

/// One caller's wait for a workflow's end; dropping it stops waiting.
pub(crate) struct Ending {
    endings: Arc<Endings>,
    workflow_id: String,
    told: oneshot::Receiver<WorkflowRecord>,
}

impl Endings {
    /// Waits for `workflow_id` to be told ended, from now on.
    pub(crate) fn watch(self: &Arc<Self>, workflow_id: &str) -> Ending {
        let (tell, told) = oneshot::channel();
        lock(&self.waiting).entry(workflow_id.to_owned()).or_default().push(tell);
        Ending { endings: self.clone(), workflow_id: workflow_id.to_owned(), told }
    }

    /// Tells everyone waiting on this workflow that it ended as `workflow` says.
    pub(crate) fn tell(&self, workflow: &WorkflowRecord) {
        let waiting = lock(&self.waiting).remove(&workflow.workflow_id);
        for tell in waiting.into_iter().flatten() {
            // A caller that stopped waiting meanwhile has dropped its end: nobody to tell.
            let _ = tell.send(workflow.clone());
        }
    }
}

impl Ending {
    /// The workflow as its end left it; never resolves if nobody in this process completes it.
    pub(crate) async fn ended(&mut self) -> WorkflowRecord {
        match (&mut self.told).await {
            Ok(workflow) => workflow,
            Err(_) => std::future::pending().await,
        }
    }
}

impl Drop for Ending {
    fn drop(&mut self) {
        // Closed first, so this caller's own sender counts as gone below.
        self.told.close();
        let mut waiting = lock(&self.endings.waiting);
        if let Some(tells) = waiting.get_mut(&self.workflow_id) {
            tells.retain(|tell| !tell.is_closed());
            if tells.is_empty() {
                waiting.remove(&self.workflow_id);
            }
        }
    }
}
