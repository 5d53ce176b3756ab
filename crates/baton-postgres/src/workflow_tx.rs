//! The statements the shared workflow rules run, on one PostgreSQL connection inside one transaction. A
//! workflow's row is held (`FOR UPDATE`) while its transaction moves it, and a checkpoint's transaction holds
//! the run job's row, so a stale executor and the current one serialise.

use baton_core::job::{CompleteParams, FetchParams, JobId, LeaseRef};
use baton_core::namespace::Namespace;
use baton_core::page::Page;
use baton_core::stored::{decode, encode, encode_optional};
use baton_core::workflow::engine::{self, LeasedRun, WorkflowTx};
use baton_core::workflow::stored;
use baton_core::workflow::{
    ForkParams, ListWorkflowsParams, RecordStepParams, RecvParams, StartWorkflowParams, Started, WorkflowRecord,
    WorkflowState, WorkflowStep, WorkflowStore,
};
use baton_core::{Error, StoreError, Timestamp};
use serde_json::Value;
use sqlx::{Row as _, query};

use crate::rows::{Stored, store_error};
use crate::store::PgStore;
use crate::tx::PgTx;

fn index(value: usize) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

impl WorkflowTx for PgTx<'_> {
    async fn workflow_for_update(
        &mut self,
        namespace: &Namespace,
        workflow_id: &str,
    ) -> Result<Option<WorkflowRecord>, StoreError> {
        let row = query(include_str!("../queries/workflow/get.sql"))
            .bind(namespace.as_str())
            .bind(workflow_id)
            .fetch_optional(&mut *self.conn)
            .await
            .map_err(store_error)?;
        let Some(row) = row else { return Ok(None) };
        self.clock_read_with_row(Timestamp(row.try_get("read_at").map_err(store_error)?));
        let found: Option<String> = row.try_get("workflow_id").map_err(store_error)?;
        found.map(|_| stored::workflow(&Stored(&row))).transpose()
    }

    async fn leased_run(&mut self, lease: &LeaseRef, workflow_id: &str) -> Result<Option<LeasedRun>, StoreError> {
        let row = query(include_str!("../queries/workflow/leased_run.sql"))
            .bind(lease.namespace.as_str())
            .bind(workflow_id)
            .bind(lease.job_id.to_string())
            .fetch_optional(&mut *self.conn)
            .await
            .map_err(store_error)?;
        let Some(row) = row else { return Ok(None) };
        self.clock_read_with_row(Timestamp(row.try_get("read_at").map_err(store_error)?));
        stored::leased_run(&Stored(&row)).map(Some)
    }

    async fn workflow_by_job(
        &mut self,
        namespace: &Namespace,
        job_id: JobId,
    ) -> Result<Option<WorkflowRecord>, StoreError> {
        let row = query(include_str!("../queries/workflow/by_job.sql"))
            .bind(namespace.as_str())
            .bind(job_id.to_string())
            .fetch_optional(&mut *self.conn)
            .await
            .map_err(store_error)?;
        row.as_ref().map(|row| stored::workflow(&Stored(row))).transpose()
    }

    async fn insert_workflow(&mut self, workflow: &WorkflowRecord) -> Result<(), StoreError> {
        query(include_str!("../queries/workflow/insert.sql"))
            .bind(workflow.namespace.as_str())
            .bind(&workflow.workflow_id)
            .bind(&workflow.name)
            .bind(workflow.state.as_str())
            .bind(encode_optional(workflow.input.as_ref())?)
            .bind(encode_optional(workflow.output.as_ref())?)
            .bind(&workflow.error)
            .bind(encode(&workflow.options)?)
            .bind(&workflow.parent_id)
            .bind(workflow.job_id.map(|id| id.to_string()))
            .bind(workflow.cancel_requested)
            .bind(workflow.created_at.as_millis())
            .bind(workflow.updated_at.as_millis())
            .bind(workflow.finished_at.map(Timestamp::as_millis))
            .execute(&mut *self.conn)
            .await
            .map_err(store_error)?;
        Ok(())
    }

    async fn update_workflow(&mut self, workflow: &WorkflowRecord) -> Result<(), StoreError> {
        query(include_str!("../queries/workflow/update.sql"))
            .bind(workflow.namespace.as_str())
            .bind(&workflow.workflow_id)
            .bind(workflow.state.as_str())
            .bind(encode_optional(workflow.output.as_ref())?)
            .bind(&workflow.error)
            .bind(encode(&workflow.options)?)
            .bind(workflow.job_id.map(|id| id.to_string()))
            .bind(workflow.cancel_requested)
            .bind(workflow.updated_at.as_millis())
            .bind(workflow.finished_at.map(Timestamp::as_millis))
            .execute(&mut *self.conn)
            .await
            .map_err(store_error)?;
        Ok(())
    }

    async fn id_taken(&mut self, namespace: &Namespace, workflow_id: &str) -> Result<bool, StoreError> {
        let found = query(include_str!("../queries/workflow/id_taken.sql"))
            .bind(namespace.as_str())
            .bind(workflow_id)
            .fetch_optional(&mut *self.conn)
            .await
            .map_err(store_error)?;
        Ok(found.is_some())
    }

    async fn running_children(&mut self, namespace: &Namespace, parent_id: &str) -> Result<Vec<String>, StoreError> {
        let rows = query(include_str!("../queries/workflow/running_children.sql"))
            .bind(namespace.as_str())
            .bind(parent_id)
            .fetch_all(&mut *self.conn)
            .await
            .map_err(store_error)?;
        rows.iter().map(|row| row.try_get(0).map_err(store_error)).collect()
    }

    async fn workflow_steps(
        &mut self,
        namespace: &Namespace,
        workflow_id: &str,
    ) -> Result<Vec<WorkflowStep>, StoreError> {
        let rows = query(include_str!("../queries/workflow/steps.sql"))
            .bind(namespace.as_str())
            .bind(workflow_id)
            .fetch_all(&mut *self.conn)
            .await
            .map_err(store_error)?;
        rows.iter().map(|row| stored::step(&Stored(row))).collect()
    }

    async fn workflow_step(
        &mut self,
        namespace: &Namespace,
        workflow_id: &str,
        step_index: usize,
    ) -> Result<Option<WorkflowStep>, StoreError> {
        let row = query(include_str!("../queries/workflow/step.sql"))
            .bind(namespace.as_str())
            .bind(workflow_id)
            .bind(index(step_index))
            .fetch_optional(&mut *self.conn)
            .await
            .map_err(store_error)?;
        row.as_ref().map(|row| stored::step(&Stored(row))).transpose()
    }

    async fn insert_workflow_step(
        &mut self,
        namespace: &Namespace,
        workflow_id: &str,
        step: &WorkflowStep,
    ) -> Result<bool, StoreError> {
        let done = query(include_str!("../queries/workflow/insert_step.sql"))
            .bind(namespace.as_str())
            .bind(workflow_id)
            .bind(index(step.index))
            .bind(&step.name)
            .bind(stored::step_spec(step.kind)?)
            .bind(if step.error.is_some() { "failed" } else { "completed" })
            .bind(i64::from(step.attempts))
            .bind(encode_optional(step.output.as_ref())?)
            .bind(stored::step_errors(step)?)
            .bind(step.started_at.as_millis())
            .bind(step.finished_at.as_millis())
            .execute(&mut *self.conn)
            .await
            .map_err(store_error)?;
        Ok(done.rows_affected() > 0)
    }

    async fn insert_message(
        &mut self,
        namespace: &Namespace,
        workflow_id: &str,
        topic: &str,
        message: &Value,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        query(include_str!("../queries/workflow/insert_message.sql"))
            .bind(namespace.as_str())
            .bind(workflow_id)
            .bind(topic)
            .bind(encode(message)?)
            .bind(now.as_millis())
            .execute(&mut *self.conn)
            .await
            .map_err(store_error)?;
        Ok(())
    }

    async fn take_message(
        &mut self,
        namespace: &Namespace,
        workflow_id: &str,
        topic: &str,
        now: Timestamp,
    ) -> Result<Option<Value>, StoreError> {
        let row = query(include_str!("../queries/workflow/take_message.sql"))
            .bind(namespace.as_str())
            .bind(workflow_id)
            .bind(topic)
            .bind(now.as_millis())
            .fetch_optional(&mut *self.conn)
            .await
            .map_err(store_error)?;
        row.map(|row| decode(&row.try_get::<String, _>("message").map_err(store_error)?, "message")).transpose()
    }

    async fn put_event(
        &mut self,
        namespace: &Namespace,
        workflow_id: &str,
        key: &str,
        value: &Value,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        query(include_str!("../queries/workflow/put_event.sql"))
            .bind(namespace.as_str())
            .bind(workflow_id)
            .bind(key)
            .bind(encode(value)?)
            .bind(now.as_millis())
            .execute(&mut *self.conn)
            .await
            .map_err(store_error)?;
        Ok(())
    }

    async fn event(
        &mut self,
        namespace: &Namespace,
        workflow_id: &str,
        key: &str,
    ) -> Result<Option<Value>, StoreError> {
        let row = query(include_str!("../queries/workflow/event.sql"))
            .bind(namespace.as_str())
            .bind(workflow_id)
            .bind(key)
            .fetch_optional(&mut *self.conn)
            .await
            .map_err(store_error)?;
        row.map(|row| decode(&row.try_get::<String, _>("value").map_err(store_error)?, "event value")).transpose()
    }
}

/// A workflow's row, read in the caller's snapshot without a row lock.
async fn shared_workflow(tx: &mut PgTx<'_>, namespace: &Namespace, workflow_id: &str) -> Result<WorkflowRecord, Error> {
    let row = query(include_str!("../queries/workflow/get_shared.sql"))
        .bind(namespace.as_str())
        .bind(workflow_id)
        .fetch_optional(&mut *tx.conn)
        .await
        .map_err(store_error)?
        .ok_or_else(|| Error::WorkflowNotFound { workflow_id: workflow_id.to_owned() })?;
    Ok(stored::workflow(&Stored(&row))?)
}

/// The lock a start of this workflow id holds: two nodes starting one id at once serialise on it, and the second
/// finds the first's run.
fn start_lock(namespace: &Namespace, workflow_id: &str) -> i64 {
    crate::tx::advisory_key(namespace, &format!("workflow:{workflow_id}"))
}

#[async_trait::async_trait]
impl WorkflowStore for PgStore {
    async fn start_workflow(&self, params: StartWorkflowParams) -> Result<(WorkflowRecord, bool), Error> {
        self.write_holding(start_lock(&params.namespace, &params.workflow_id), async |tx| {
            engine::start(tx, &params).await
        })
        .await
    }

    async fn start_workflow_taking(&self, params: StartWorkflowParams, fetch: FetchParams) -> Result<Started, Error> {
        self.write_holding(start_lock(&params.namespace, &params.workflow_id), async |tx| {
            engine::start_taking(tx, &params, &fetch).await
        })
        .await
    }

    async fn complete_workflow_run(
        &self,
        workflow_id: String,
        complete: CompleteParams,
    ) -> Result<WorkflowRecord, Error> {
        self.write(async |tx| engine::complete_run(tx, &workflow_id, &complete).await).await
    }

    async fn get_workflow(
        &self,
        namespace: &Namespace,
        workflow_id: &str,
    ) -> Result<(WorkflowRecord, Vec<WorkflowStep>), Error> {
        self.read_snapshot(async |tx| {
            let workflow = shared_workflow(tx, namespace, workflow_id).await?;
            Ok((workflow, tx.workflow_steps(namespace, workflow_id).await?))
        })
        .await
    }

    async fn list_workflows(&self, params: ListWorkflowsParams) -> Result<Page<WorkflowRecord>, Error> {
        let (created, id) = params.before.clone().unzip();
        let statement = query(include_str!("../queries/workflow/list.sql"))
            .bind(params.namespace.as_str())
            .bind(params.state.map(WorkflowState::as_str))
            .bind(params.name.as_deref())
            .bind(created.map(Timestamp::as_millis))
            .bind(id)
            .bind(i64::from(params.limit) + 1);
        let rows = self.conns.fetch_all(statement).await?;
        let found = rows.iter().map(|row| stored::workflow(&Stored(row))).collect::<Result<Vec<_>, _>>()?;
        Ok(Page::from_overfetch(found, params.limit, |workflow| {
            vec![workflow.created_at.as_millis().to_string(), workflow.workflow_id.clone()]
        }))
    }

    async fn record_step(&self, params: RecordStepParams) -> Result<WorkflowStep, Error> {
        self.write(async |tx| engine::record_step(tx, &params).await).await
    }

    async fn recv_message(&self, params: RecvParams) -> Result<Option<WorkflowStep>, Error> {
        self.write(async |tx| engine::recv(tx, &params).await).await
    }

    async fn send_message(
        &self,
        namespace: &Namespace,
        workflow_id: &str,
        topic: &str,
        message: Value,
    ) -> Result<(), Error> {
        self.write(async |tx| engine::send(tx, namespace, workflow_id, topic, &message).await).await
    }

    async fn workflow_event(
        &self,
        namespace: &Namespace,
        workflow_id: &str,
        key: &str,
    ) -> Result<Option<Value>, Error> {
        // The workflow row first: an unknown workflow is an error, not an unset event.
        self.read_snapshot(async |tx| {
            shared_workflow(tx, namespace, workflow_id).await?;
            Ok(tx.event(namespace, workflow_id, key).await?)
        })
        .await
    }

    async fn cancel_workflow(&self, namespace: &Namespace, workflow_id: &str) -> Result<WorkflowRecord, Error> {
        self.write(async |tx| engine::cancel(tx, namespace, workflow_id).await).await
    }

    async fn resume_workflow(&self, namespace: &Namespace, workflow_id: &str) -> Result<WorkflowRecord, Error> {
        self.write(async |tx| engine::resume(tx, namespace, workflow_id).await).await
    }

    async fn fork_workflow(&self, params: ForkParams) -> Result<WorkflowRecord, Error> {
        let key_lock = start_lock(&params.namespace, &params.new_id);
        self.write_holding(key_lock, async |tx| engine::fork(tx, &params).await).await
    }
}

#[cfg(test)]
mod tests {
    use crate::plan_check::{GenericPlans, scans_of};

    /// Regression: checkpoints slowed down as a new workflow table grew. Each lookup of a workflow by id named
    /// its kind, and the generic plan of a table not yet analyzed took an index that starts (namespace, kind),
    /// walking every workflow of the namespace (1 ms a lookup at 4,500 workflows).
    #[tokio::test]
    async fn lookups_by_id_take_the_key_on_a_generic_plan_before_any_analyze() {
        let Some(mut plans) = GenericPlans::new("plans").await else { return };
        sqlx::query(include_str!("../queries/testing/insert_workflows.sql"))
            .bind(5000_i64)
            .execute(plans.conn())
            .await
            .unwrap();
        let lookups = [
            ("workflow_get", include_str!("../queries/workflow/get.sql"), "'default', 'wf-7'"),
            ("workflow_get_shared", include_str!("../queries/workflow/get_shared.sql"), "'default', 'wf-7'"),
            ("leased_run", include_str!("../queries/workflow/leased_run.sql"), "'default', 'wf-7', 'none'"),
            (
                "workflow_update",
                include_str!("../queries/workflow/update.sql"),
                "'default', 'wf-7', 'running', NULL, NULL, '{}', NULL, false, 1, NULL",
            ),
            ("saga_get", include_str!("../queries/saga/get.sql"), "'default', 'wf-7'"),
            ("saga_get_shared", include_str!("../queries/saga/get_shared.sql"), "'default', 'wf-7'"),
        ];
        for (name, sql, args) in lookups {
            let plan = plans.explain(name, "", sql, args).await;
            let scans = scans_of(&plan, "workflows");
            assert!(
                !scans.is_empty() && scans.iter().all(|line| line.contains("using workflows_pkey")),
                "{name} must find the workflow by its key:\n{plan}"
            );
        }
        plans.drop_schema().await;
    }
}
