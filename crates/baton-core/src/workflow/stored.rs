//! Workflows as both backends store them (see [`crate::stored`]): the records are assembled once, here.

use serde::{Deserialize, Serialize};

use crate::clock::Timestamp;
use crate::error::StoreError;
use crate::job::{JobId, JobState, LeaseToken};
use crate::stored::{StoredRow, corrupt, decode, decode_optional, encode, namespace, time};
use crate::workflow::engine::LeasedRun;
use crate::workflow::model::{StepKind, WorkflowRecord, WorkflowState, WorkflowStep};

pub fn workflow(row: &impl StoredRow) -> Result<WorkflowRecord, StoreError> {
    Ok(WorkflowRecord {
        namespace: namespace(row)?,
        workflow_id: row.text("workflow_id")?,
        name: row.text("name")?,
        state: row.text("state")?.parse::<WorkflowState>().map_err(|_| corrupt("workflow state"))?,
        input: decode_optional(row.optional_text("input")?, "input")?,
        output: decode_optional(row.optional_text("output")?, "output")?,
        error: row.optional_text("error")?,
        options: decode(&row.optional_text("options")?.ok_or_else(|| corrupt("workflow options"))?, "options")?,
        parent_id: row.optional_text("parent_id")?,
        job_id: row
            .optional_text("job_id")?
            .map(|id| JobId::parse(&id).ok_or_else(|| corrupt("job id")))
            .transpose()?,
        cancel_requested: row.flag("cancel_requested")?,
        created_at: Timestamp(row.int("created_at")?),
        updated_at: Timestamp(row.int("updated_at")?),
        finished_at: time(row, "finished_at")?,
    })
}

/// A row of the run's job (`run_state`, `run_lease_token`) beside the columns of its workflow, which are null
/// when the workflow is missing.
pub fn leased_run(row: &impl StoredRow) -> Result<LeasedRun, StoreError> {
    Ok(LeasedRun {
        job_state: row.text("run_state")?.parse::<JobState>().map_err(|_| corrupt("job state"))?,
        lease_token: row.optional_int("run_lease_token")?.map(LeaseToken),
        workflow: row.optional_text("workflow_id")?.map(|_| workflow(row)).transpose()?,
    })
}

/// What the `spec` column of a workflow's step row holds.
#[derive(Serialize, Deserialize)]
struct StepSpec {
    kind: StepKind,
}

/// The `spec` column for a step of this kind.
pub fn step_spec(kind: StepKind) -> Result<String, StoreError> {
    encode(&StepSpec { kind })
}

/// The `errors` column: the step's error, if it ended with one, as a one-entry list.
pub fn step_errors(step: &WorkflowStep) -> Result<String, StoreError> {
    encode(&step.error.iter().collect::<Vec<_>>())
}

pub fn step(row: &impl StoredRow) -> Result<WorkflowStep, StoreError> {
    let spec: StepSpec = decode(&row.text("spec")?, "step spec")?;
    let errors: Vec<String> = decode(&row.text("errors")?, "step errors")?;
    Ok(WorkflowStep {
        index: usize::try_from(row.int("step_index")?).map_err(|_| corrupt("step index"))?,
        name: row.text("name")?,
        kind: spec.kind,
        output: decode_optional(row.optional_text("output")?, "output")?,
        error: errors.into_iter().next(),
        attempts: u32::try_from(row.int("attempts")?).map_err(|_| corrupt("attempts"))?,
        started_at: time(row, "started_at")?.ok_or_else(|| corrupt("step start"))?,
        finished_at: time(row, "finished_at")?.ok_or_else(|| corrupt("step end"))?,
    })
}
