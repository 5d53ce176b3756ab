//! The saga part of the store port.

use async_trait::async_trait;

use crate::error::Error;
use crate::namespace::Namespace;
use crate::page::Page;
use crate::saga::engine::{SagaRecord, StepRecord};
use crate::saga::model::{ListSagasParams, SagaId, SagaSpec};

#[async_trait]
pub trait SagaStore {
    /// Starts a saga (checked by the caller), answering it with its steps; `false` when its idempotency key had
    /// already started one.
    async fn start_saga(
        &self,
        namespace: &Namespace,
        spec: SagaSpec,
    ) -> Result<(SagaRecord, Vec<StepRecord>, bool), Error>;
    /// The saga and its step timeline.
    async fn get_saga(&self, namespace: &Namespace, saga_id: SagaId) -> Result<(SagaRecord, Vec<StepRecord>), Error>;
    async fn cancel_saga(&self, namespace: &Namespace, saga_id: SagaId) -> Result<SagaRecord, Error>;
    /// Sagas newest first, without their steps.
    async fn list_sagas(&self, params: ListSagasParams) -> Result<Page<SagaRecord>, Error>;
}
