//! Durable workflows through the REST API: management for any caller (start, get, list, cancel, resume, fork,
//! messages, events), and the checkpoint calls an executor makes under its run's lease. The workflow code
//! itself runs in `baton-workflow`'s executor, which builds on these.

use baton_api::workflow::{
    ForkRequest, RecordStepRequest, RecvRequest, RecvResponse, SendMessageRequest, StartWorkflowRequest,
    WorkflowEventView, WorkflowList, WorkflowStepView, WorkflowView,
};
use reqwest::Method;
use serde_json::Value;

use crate::{BatonClient, ClientError};

/// Filters for [`BatonClient::list_workflows`].
#[derive(Clone, Debug, Default)]
pub struct ListWorkflows {
    /// `running`, `completed`, `failed` or `cancelled`.
    pub state: Option<String>,
    pub name: Option<String>,
    pub cursor: Option<String>,
    pub limit: Option<u32>,
}

impl BatonClient {
    /// Starts a workflow; an id that exists answers that workflow (`created: Some(false)`).
    pub async fn start_workflow(&self, request: &StartWorkflowRequest) -> Result<WorkflowView, ClientError> {
        self.send(self.request(Method::POST, &["api", "v1", "workflows"]).json(request)).await
    }

    /// The workflow with its recorded steps.
    pub async fn workflow(&self, workflow_id: &str) -> Result<WorkflowView, ClientError> {
        self.send(self.request(Method::GET, &["api", "v1", "workflows", workflow_id])).await
    }

    /// Workflows newest first, without their steps.
    pub async fn list_workflows(&self, filter: &ListWorkflows) -> Result<WorkflowList, ClientError> {
        let mut query: Vec<(&str, String)> = Vec::new();
        query.extend(filter.state.clone().map(|v| ("state", v)));
        query.extend(filter.name.clone().map(|v| ("name", v)));
        query.extend(filter.cursor.clone().map(|v| ("cursor", v)));
        query.extend(filter.limit.map(|v| ("limit", v.to_string())));
        self.send(self.request(Method::GET, &["api", "v1", "workflows"]).query(&query)).await
    }

    pub async fn cancel_workflow(&self, workflow_id: &str) -> Result<WorkflowView, ClientError> {
        self.send(self.request(Method::POST, &["api", "v1", "workflows", workflow_id, "cancel"])).await
    }

    /// Runs a failed or cancelled workflow again from its checkpoints.
    pub async fn resume_workflow(&self, workflow_id: &str) -> Result<WorkflowView, ClientError> {
        self.send(self.request(Method::POST, &["api", "v1", "workflows", workflow_id, "resume"])).await
    }

    /// A new workflow reusing this one's checkpoints before `from_step`.
    pub async fn fork_workflow(&self, workflow_id: &str, request: &ForkRequest) -> Result<WorkflowView, ClientError> {
        self.send(self.request(Method::POST, &["api", "v1", "workflows", workflow_id, "fork"]).json(request)).await
    }

    /// Sends a message to the workflow's `recv(topic)`.
    pub async fn send_workflow_message(
        &self,
        workflow_id: &str,
        topic: &str,
        message: Value,
    ) -> Result<(), ClientError> {
        let body = SendMessageRequest { topic: topic.to_owned(), message };
        self.send_empty(self.request(Method::POST, &["api", "v1", "workflows", workflow_id, "messages"]).json(&body))
            .await
    }

    /// The latest value the workflow set for `key`.
    pub async fn workflow_event(&self, workflow_id: &str, key: &str) -> Result<WorkflowEventView, ClientError> {
        self.send(self.request(Method::GET, &["api", "v1", "workflows", workflow_id, "events", key])).await
    }

    /// Writes checkpoint `index` under the run's lease (executors only).
    pub async fn record_workflow_step(
        &self,
        workflow_id: &str,
        index: usize,
        request: &RecordStepRequest,
    ) -> Result<WorkflowStepView, ClientError> {
        let index = index.to_string();
        self.send(self.request(Method::PUT, &["api", "v1", "workflows", workflow_id, "steps", &index]).json(request))
            .await
    }

    /// Takes a waiting message of the topic as checkpoint `index`, if one waits (executors only).
    pub async fn recv_workflow_message(
        &self,
        workflow_id: &str,
        index: usize,
        request: &RecvRequest,
    ) -> Result<RecvResponse, ClientError> {
        let index = index.to_string();
        let segments = ["api", "v1", "workflows", workflow_id, "steps", &index, "recv"];
        self.send(self.request(Method::POST, &segments).json(request)).await
    }
}
