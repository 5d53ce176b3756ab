//! The statements the shared workflow rules run, on one SQLite connection; the writer thread serialises every
//! write, so reading a workflow "for update" is a plain read here.

use baton_core::job::{CompleteParams, FetchParams, JobId, LeaseRef};
use baton_core::namespace::Namespace;
use baton_core::page::Page;
use baton_core::stored::{StoredRow as _, encode, encode_optional};
use baton_core::workflow::engine::{self, LeasedRun, WorkflowTx};
use baton_core::workflow::stored;
use baton_core::workflow::{
    ForkParams, ListWorkflowsParams, RecordStepParams, RecvParams, StartWorkflowParams, Started, WorkflowRecord,
    WorkflowState, WorkflowStep, WorkflowStore,
};
use baton_core::{Error, StoreError, Timestamp};
use futures::executor::block_on;
use rusqlite::params;
use serde_json::Value;

use crate::rows::Stored;
use crate::store::SqliteStore;
use crate::tx::SqliteTx;

fn index(value: usize) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

impl WorkflowTx for SqliteTx<'_> {
    async fn workflow_for_update(
        &mut self,
        namespace: &Namespace,
        workflow_id: &str,
    ) -> Result<Option<WorkflowRecord>, StoreError> {
        self.query_optional(
            include_str!("../queries/workflow/get.sql"),
            params![namespace.as_str(), workflow_id],
            |row| stored::workflow(&Stored::new(row)),
        )
    }

    async fn leased_run(&mut self, lease: &LeaseRef, workflow_id: &str) -> Result<Option<LeasedRun>, StoreError> {
        self.query_optional(
            include_str!("../queries/workflow/leased_run.sql"),
            params![lease.namespace.as_str(), workflow_id, lease.job_id.to_string()],
            |row| stored::leased_run(&Stored::new(row)),
        )
    }

    async fn workflow_by_job(
        &mut self,
        namespace: &Namespace,
        job_id: JobId,
    ) -> Result<Option<WorkflowRecord>, StoreError> {
        self.query_optional(
            include_str!("../queries/workflow/by_job.sql"),
            params![namespace.as_str(), job_id.to_string()],
            |row| stored::workflow(&Stored::new(row)),
        )
    }

    async fn insert_workflow(&mut self, workflow: &WorkflowRecord) -> Result<(), StoreError> {
        self.execute(
            include_str!("../queries/workflow/insert.sql"),
            params![
                workflow.namespace.as_str(),
                workflow.workflow_id,
                workflow.name,
                workflow.state.as_str(),
                encode_optional(workflow.input.as_ref())?,
                encode_optional(workflow.output.as_ref())?,
                workflow.error,
                encode(&workflow.options)?,
                workflow.parent_id,
                workflow.job_id.map(|id| id.to_string()),
                workflow.cancel_requested,
                workflow.created_at.as_millis(),
                workflow.updated_at.as_millis(),
                workflow.finished_at.map(Timestamp::as_millis),
            ],
        )?;
        Ok(())
    }

    async fn update_workflow(&mut self, workflow: &WorkflowRecord) -> Result<(), StoreError> {
        self.execute(
            include_str!("../queries/workflow/update.sql"),
            params![
                workflow.namespace.as_str(),
                workflow.workflow_id,
                workflow.state.as_str(),
                encode_optional(workflow.output.as_ref())?,
                workflow.error,
                encode(&workflow.options)?,
                workflow.job_id.map(|id| id.to_string()),
                workflow.cancel_requested,
                workflow.updated_at.as_millis(),
                workflow.finished_at.map(Timestamp::as_millis),
            ],
        )?;
        Ok(())
    }

    async fn id_taken(&mut self, namespace: &Namespace, workflow_id: &str) -> Result<bool, StoreError> {
        let found = self.query_optional(
            include_str!("../queries/workflow/id_taken.sql"),
            params![namespace.as_str(), workflow_id],
            |_| Ok(()),
        )?;
        Ok(found.is_some())
    }

    async fn running_children(&mut self, namespace: &Namespace, parent_id: &str) -> Result<Vec<String>, StoreError> {
        self.query_all(
            include_str!("../queries/workflow/running_children.sql"),
            params![namespace.as_str(), parent_id],
            |row| row.get(0).map_err(crate::rows::store_error),
        )
    }

    async fn workflow_steps(
        &mut self,
        namespace: &Namespace,
        workflow_id: &str,
    ) -> Result<Vec<WorkflowStep>, StoreError> {
        self.query_all(include_str!("../queries/workflow/steps.sql"), params![namespace.as_str(), workflow_id], |row| {
            stored::step(&Stored::new(row))
        })
    }

    async fn workflow_step(
        &mut self,
        namespace: &Namespace,
        workflow_id: &str,
        step_index: usize,
    ) -> Result<Option<WorkflowStep>, StoreError> {
        self.query_optional(
            include_str!("../queries/workflow/step.sql"),
            params![namespace.as_str(), workflow_id, index(step_index)],
            |row| stored::step(&Stored::new(row)),
        )
    }

    async fn insert_workflow_step(
        &mut self,
        namespace: &Namespace,
        workflow_id: &str,
        step: &WorkflowStep,
    ) -> Result<bool, StoreError> {
        let inserted = self.execute(
            include_str!("../queries/workflow/insert_step.sql"),
            params![
                namespace.as_str(),
                workflow_id,
                index(step.index),
                step.name,
                stored::step_spec(step.kind)?,
                if step.error.is_some() { "failed" } else { "completed" },
                step.attempts,
                encode_optional(step.output.as_ref())?,
                stored::step_errors(step)?,
                step.started_at.as_millis(),
                step.finished_at.as_millis(),
            ],
        )?;
        Ok(inserted > 0)
    }

    async fn insert_message(
        &mut self,
        namespace: &Namespace,
        workflow_id: &str,
        topic: &str,
        message: &Value,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        self.execute(
            include_str!("../queries/workflow/insert_message.sql"),
            params![namespace.as_str(), workflow_id, topic, encode(message)?, now.as_millis()],
        )?;
        Ok(())
    }

    async fn take_message(
        &mut self,
        namespace: &Namespace,
        workflow_id: &str,
        topic: &str,
        now: Timestamp,
    ) -> Result<Option<Value>, StoreError> {
        let text: Option<String> = self.query_optional(
            include_str!("../queries/workflow/take_message.sql"),
            params![namespace.as_str(), workflow_id, topic, now.as_millis()],
            |row| Stored::new(row).text("message"),
        )?;
        text.map(|text| baton_core::stored::decode(&text, "message")).transpose()
    }

    async fn put_event(
        &mut self,
        namespace: &Namespace,
        workflow_id: &str,
        key: &str,
        value: &Value,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        self.execute(
            include_str!("../queries/workflow/put_event.sql"),
            params![namespace.as_str(), workflow_id, key, encode(value)?, now.as_millis()],
        )?;
        Ok(())
    }

    async fn event(
        &mut self,
        namespace: &Namespace,
        workflow_id: &str,
        key: &str,
    ) -> Result<Option<Value>, StoreError> {
        let text: Option<String> = self.query_optional(
            include_str!("../queries/workflow/event.sql"),
            params![namespace.as_str(), workflow_id, key],
            |row| Stored::new(row).text("value"),
        )?;
        text.map(|text| baton_core::stored::decode(&text, "event value")).transpose()
    }
}

#[async_trait::async_trait]
impl WorkflowStore for SqliteStore {
    async fn start_workflow(&self, params: StartWorkflowParams) -> Result<(WorkflowRecord, bool), Error> {
        self.writer.write(move |tx| block_on(engine::start(tx, &params))).await
    }

    async fn start_workflow_taking(&self, params: StartWorkflowParams, fetch: FetchParams) -> Result<Started, Error> {
        self.writer.write(move |tx| block_on(engine::start_taking(tx, &params, &fetch))).await
    }

    async fn complete_workflow_run(
        &self,
        workflow_id: String,
        complete: CompleteParams,
    ) -> Result<WorkflowRecord, Error> {
        self.writer.write(move |tx| block_on(engine::complete_run(tx, &workflow_id, &complete))).await
    }

    async fn get_workflow(
        &self,
        namespace: &Namespace,
        workflow_id: &str,
    ) -> Result<(WorkflowRecord, Vec<WorkflowStep>), Error> {
        let (namespace, workflow_id) = (namespace.clone(), workflow_id.to_owned());
        self.readers.read(move |tx| block_on(engine::get(tx, &namespace, &workflow_id))).await
    }

    async fn list_workflows(&self, params: ListWorkflowsParams) -> Result<Page<WorkflowRecord>, Error> {
        self.readers
            .read(move |tx| {
                let (created, id) = params.before.clone().unzip();
                let found = tx.query_all(
                    include_str!("../queries/workflow/list.sql"),
                    params![
                        params.namespace.as_str(),
                        params.state.map(WorkflowState::as_str),
                        params.name,
                        created.map(Timestamp::as_millis),
                        id,
                        i64::from(params.limit) + 1
                    ],
                    |row| stored::workflow(&Stored::new(row)),
                )?;
                Ok(Page::from_overfetch(found, params.limit, |workflow| {
                    vec![workflow.created_at.as_millis().to_string(), workflow.workflow_id.clone()]
                }))
            })
            .await
    }

    async fn record_step(&self, params: RecordStepParams) -> Result<WorkflowStep, Error> {
        // Without an effect the checkpoint is the only write, and it is the last statement.
        if params.effect.is_none() {
            self.writer.write_single(move |tx| block_on(engine::record_step(tx, &params))).await
        } else {
            self.writer.write(move |tx| block_on(engine::record_step(tx, &params))).await
        }
    }

    async fn recv_message(&self, params: RecvParams) -> Result<Option<WorkflowStep>, Error> {
        self.writer.write(move |tx| block_on(engine::recv(tx, &params))).await
    }

    async fn send_message(
        &self,
        namespace: &Namespace,
        workflow_id: &str,
        topic: &str,
        message: Value,
    ) -> Result<(), Error> {
        let (namespace, workflow_id, topic) = (namespace.clone(), workflow_id.to_owned(), topic.to_owned());
        self.writer.write_single(move |tx| block_on(engine::send(tx, &namespace, &workflow_id, &topic, &message))).await
    }

    async fn workflow_event(
        &self,
        namespace: &Namespace,
        workflow_id: &str,
        key: &str,
    ) -> Result<Option<Value>, Error> {
        let (namespace, workflow_id, key) = (namespace.clone(), workflow_id.to_owned(), key.to_owned());
        self.readers
            .read(move |tx| {
                block_on(async {
                    engine::get(tx, &namespace, &workflow_id).await?;
                    Ok(tx.event(&namespace, &workflow_id, &key).await?)
                })
            })
            .await
    }

    async fn cancel_workflow(&self, namespace: &Namespace, workflow_id: &str) -> Result<WorkflowRecord, Error> {
        let (namespace, workflow_id) = (namespace.clone(), workflow_id.to_owned());
        self.writer.write(move |tx| block_on(engine::cancel(tx, &namespace, &workflow_id))).await
    }

    async fn resume_workflow(&self, namespace: &Namespace, workflow_id: &str) -> Result<WorkflowRecord, Error> {
        let (namespace, workflow_id) = (namespace.clone(), workflow_id.to_owned());
        self.writer.write(move |tx| block_on(engine::resume(tx, &namespace, &workflow_id))).await
    }

    async fn fork_workflow(&self, params: ForkParams) -> Result<WorkflowRecord, Error> {
        self.writer.write(move |tx| block_on(engine::fork(tx, &params))).await
    }
}
