//! Workflows by name: an executor takes runs only of the names registered with it.

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::context::WorkflowContext;
use crate::error::WorkflowError;

type BoxedRun = Pin<Box<dyn Future<Output = Result<Value, WorkflowError>> + Send>>;
type Entry = Arc<dyn Fn(WorkflowContext, Option<Value>) -> BoxedRun + Send + Sync>;

#[derive(Clone, Default)]
pub struct Registry {
    workflows: BTreeMap<String, Entry>,
}

impl Registry {
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers `workflow` under `name`: an `async fn(WorkflowContext, Input) -> Result<Output, WorkflowError>`.
    /// The input is the JSON the workflow was started with (`null` when it had none).
    pub fn register<In, Out, F, Fut>(mut self, name: &str, workflow: F) -> Self
    where
        In: DeserializeOwned + Send + 'static,
        Out: Serialize + Send + 'static,
        F: Fn(WorkflowContext, In) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Out, WorkflowError>> + Send + 'static,
    {
        let workflow = Arc::new(workflow);
        let entry: Entry = Arc::new(move |context, input| {
            let workflow = workflow.clone();
            Box::pin(async move {
                let input: In = serde_json::from_value(input.unwrap_or(Value::Null))
                    .map_err(|error| WorkflowError::serde("workflow input", error))?;
                let output = workflow(context, input).await?;
                serde_json::to_value(output).map_err(|error| WorkflowError::serde("workflow output", error))
            })
        });
        self.workflows.insert(name.to_owned(), entry);
        self
    }

    pub fn names(&self) -> Vec<String> {
        self.workflows.keys().cloned().collect()
    }

    pub(crate) fn run(&self, name: &str, context: WorkflowContext, input: Option<Value>) -> Option<BoxedRun> {
        self.workflows.get(name).map(|entry| entry(context, input))
    }
}
