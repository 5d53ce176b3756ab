//! Declarative sagas through the REST API: start (optionally idempotent), follow, list and cancel. The steps are
//! jobs: any worker, this SDK's or one written against the plain REST API, performs them.

use baton_api::saga::{SagaList, SagaStatusView, SagaView, StartSagaRequest};
use reqwest::Method;

use crate::{BatonClient, ClientError};

/// Filters for [`BatonClient::list_sagas`].
#[derive(Clone, Debug, Default)]
pub struct ListSagas {
    /// `running`, `completed`, `compensating`, `compensated`, `compensation_failed` or `cancelled`.
    pub state: Option<String>,
    pub name: Option<String>,
    pub cursor: Option<String>,
    pub limit: Option<u32>,
}

impl BatonClient {
    /// Starts a saga. With `idempotency_key`, a repeat of the same key answers the saga it first started
    /// (`created: Some(false)`).
    pub async fn start_saga(
        &self,
        request: &StartSagaRequest,
        idempotency_key: Option<&str>,
    ) -> Result<SagaView, ClientError> {
        let mut builder = self.request(Method::POST, &["api", "v1", "sagas"]).json(request);
        if let Some(key) = idempotency_key {
            builder = builder.header("idempotency-key", key);
        }
        self.send(builder).await
    }

    /// The saga with its full step timeline.
    pub async fn saga(&self, saga_id: &str) -> Result<SagaView, ClientError> {
        self.send(self.request(Method::GET, &["api", "v1", "sagas", saga_id])).await
    }

    pub async fn saga_status(&self, saga_id: &str) -> Result<SagaStatusView, ClientError> {
        self.send(self.request(Method::GET, &["api", "v1", "sagas", saga_id, "status"])).await
    }

    /// Cancels the saga: what completed is compensated, and it ends `cancelled`.
    pub async fn cancel_saga(&self, saga_id: &str) -> Result<SagaView, ClientError> {
        self.send(self.request(Method::POST, &["api", "v1", "sagas", saga_id, "cancel"])).await
    }

    /// Sagas newest first.
    pub async fn list_sagas(&self, filter: &ListSagas) -> Result<SagaList, ClientError> {
        let mut query: Vec<(&str, String)> = Vec::new();
        query.extend(filter.state.clone().map(|v| ("state", v)));
        query.extend(filter.name.clone().map(|v| ("name", v)));
        query.extend(filter.cursor.clone().map(|v| ("cursor", v)));
        query.extend(filter.limit.map(|v| ("limit", v.to_string())));
        self.send(self.request(Method::GET, &["api", "v1", "sagas"]).query(&query)).await
    }
}
