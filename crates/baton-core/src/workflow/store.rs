//! The workflow part of the store port.

use async_trait::async_trait;
use serde_json::Value;

use crate::error::Error;
use crate::job::{CompleteParams, FetchParams};
use crate::namespace::Namespace;
use crate::page::Page;
use crate::workflow::model::{
    ForkParams, ListWorkflowsParams, RecordStepParams, RecvParams, StartWorkflowParams, Started, WorkflowRecord,
    WorkflowStep,
};

#[async_trait]
pub trait WorkflowStore {
    /// Starts a workflow (checked by the caller); `false` when one with this id exists, which is answered.
    async fn start_workflow(&self, params: StartWorkflowParams) -> Result<(WorkflowRecord, bool), Error>;
    /// Starts a workflow and, when it is new, fetches with `fetch` in the same transaction
    /// ([`crate::workflow::engine::start_taking`]).
    async fn start_workflow_taking(&self, params: StartWorkflowParams, fetch: FetchParams) -> Result<Started, Error>;
    /// Completes a workflow's run and answers the workflow as that left it
    /// ([`crate::workflow::engine::complete_run`]).
    async fn complete_workflow_run(
        &self,
        workflow_id: String,
        complete: CompleteParams,
    ) -> Result<WorkflowRecord, Error>;
    /// The workflow and its recorded steps.
    async fn get_workflow(
        &self,
        namespace: &Namespace,
        workflow_id: &str,
    ) -> Result<(WorkflowRecord, Vec<WorkflowStep>), Error>;
    /// Workflows newest first, without their steps.
    async fn list_workflows(&self, params: ListWorkflowsParams) -> Result<Page<WorkflowRecord>, Error>;
    async fn record_step(&self, params: RecordStepParams) -> Result<WorkflowStep, Error>;
    async fn recv_message(&self, params: RecvParams) -> Result<Option<WorkflowStep>, Error>;
    async fn send_message(
        &self,
        namespace: &Namespace,
        workflow_id: &str,
        topic: &str,
        message: Value,
    ) -> Result<(), Error>;
    /// The latest value of the workflow's event `key`, if it was set.
    async fn workflow_event(&self, namespace: &Namespace, workflow_id: &str, key: &str)
    -> Result<Option<Value>, Error>;
    async fn cancel_workflow(&self, namespace: &Namespace, workflow_id: &str) -> Result<WorkflowRecord, Error>;
    async fn resume_workflow(&self, namespace: &Namespace, workflow_id: &str) -> Result<WorkflowRecord, Error>;
    async fn fork_workflow(&self, params: ForkParams) -> Result<WorkflowRecord, Error>;
}
