//! Sagas as both backends store them (see [`crate::stored`]): the records are assembled once, here.

use crate::clock::Timestamp;
use crate::error::StoreError;
use crate::job::JobId;
use crate::saga::engine::{SagaRecord, StepLink, StepRecord};
use crate::saga::model::{SagaId, SagaState, StepPhase, StepState};
use crate::stored::{StoredRow, corrupt, decode, decode_optional, namespace, time};

fn index(row: &impl StoredRow, column: &str) -> Result<Option<usize>, StoreError> {
    row.optional_int(column)?.map(|i| usize::try_from(i).map_err(|_| corrupt(column))).transpose()
}

fn saga_id(row: &impl StoredRow) -> Result<SagaId, StoreError> {
    row.text("workflow_id")?.parse().map_err(|_| corrupt("saga id"))
}

pub fn phase(text: &str) -> Result<StepPhase, StoreError> {
    match text {
        "action" => Ok(StepPhase::Action),
        "compensation" => Ok(StepPhase::Compensation),
        _ => Err(corrupt("step phase")),
    }
}

fn step_state(text: &str) -> Result<StepState, StoreError> {
    [
        StepState::Pending,
        StepState::Running,
        StepState::Completed,
        StepState::Failed,
        StepState::Cancelled,
        StepState::Skipped,
    ]
    .into_iter()
    .find(|state| state.as_str() == text)
    .ok_or_else(|| corrupt("step state"))
}

pub fn saga(row: &impl StoredRow) -> Result<SagaRecord, StoreError> {
    Ok(SagaRecord {
        namespace: namespace(row)?,
        saga_id: saga_id(row)?,
        name: row.text("name")?,
        state: row.text("state")?.parse::<SagaState>().map_err(|_| corrupt("saga state"))?,
        input: decode_optional(row.optional_text("input")?, "input")?,
        metadata: decode_optional(row.optional_text("metadata")?, "metadata")?,
        current_step: index(row, "current_step")?,
        idempotency_key: row.optional_text("idempotency_key")?,
        failed_step: index(row, "failed_step")?,
        error: row.optional_text("error")?,
        cancel_requested: row.flag("cancel_requested")?,
        created_at: Timestamp(row.int("created_at")?),
        updated_at: Timestamp(row.int("updated_at")?),
        finished_at: time(row, "finished_at")?,
    })
}

pub fn step(row: &impl StoredRow) -> Result<StepRecord, StoreError> {
    Ok(StepRecord {
        index: index(row, "step_index")?.ok_or_else(|| corrupt("step index"))?,
        phase: phase(&row.text("phase")?)?,
        spec: decode(&row.text("spec")?, "step spec")?,
        state: step_state(&row.text("state")?)?,
        job_id: row
            .optional_text("job_id")?
            .map(|id| JobId::parse(&id).ok_or_else(|| corrupt("job id")))
            .transpose()?,
        attempts: u32::try_from(row.int("attempts")?).map_err(|_| corrupt("attempts"))?,
        output: decode_optional(row.optional_text("output")?, "output")?,
        errors: decode(&row.text("errors")?, "errors")?,
        started_at: time(row, "started_at")?,
        finished_at: time(row, "finished_at")?,
    })
}

pub fn link(row: &impl StoredRow) -> Result<StepLink, StoreError> {
    Ok(StepLink {
        saga_id: saga_id(row)?,
        index: index(row, "step_index")?.ok_or_else(|| corrupt("step index"))?,
        phase: phase(&row.text("phase")?)?,
    })
}
