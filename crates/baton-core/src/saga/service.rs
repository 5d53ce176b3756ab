//! The saga service: checks a saga before the store sees it, and pages listings.

use std::sync::Arc;

use crate::error::{Error, ErrorCode};
use crate::limits::Limits;
use crate::namespace::Namespace;
use crate::page::{Page, decode_cursor, page_size};
use crate::saga::engine::{SagaRecord, StepRecord};
use crate::saga::model::{ListSagasParams, SagaId, SagaSpec, SagaState};
use crate::saga::spec;
use crate::store::Store;

#[derive(Clone, Debug, Default)]
pub struct ListSagasRequest {
    pub namespace: Namespace,
    pub state: Option<SagaState>,
    pub name: Option<String>,
    pub cursor: Option<String>,
    pub limit: Option<u32>,
}

#[derive(Clone)]
pub struct SagaService {
    store: Arc<dyn Store>,
    limits: Limits,
}

impl SagaService {
    pub fn new(store: Arc<dyn Store>, limits: Limits) -> Self {
        Self { store, limits }
    }

    /// Starts the saga, answering it with its steps; `false` when its idempotency key had already started one,
    /// which is answered instead.
    pub async fn start(
        &self,
        namespace: &Namespace,
        spec: SagaSpec,
    ) -> Result<(SagaRecord, Vec<StepRecord>, bool), Error> {
        spec::validate(&spec, &self.limits)?;
        self.store.start_saga(namespace, spec).await
    }

    pub async fn get(&self, namespace: &Namespace, saga_id: &str) -> Result<(SagaRecord, Vec<StepRecord>), Error> {
        self.store.get_saga(namespace, parse_id(saga_id)?).await
    }

    pub async fn cancel(&self, namespace: &Namespace, saga_id: &str) -> Result<SagaRecord, Error> {
        self.store.cancel_saga(namespace, parse_id(saga_id)?).await
    }

    pub async fn list(&self, request: ListSagasRequest) -> Result<Page<SagaRecord>, Error> {
        let limit = page_size(request.limit)?;
        let before = match request.cursor.as_deref() {
            None | Some("") => None,
            Some(cursor) => Some(
                decode_cursor(cursor, 1)?
                    .remove(0)
                    .parse()
                    .map_err(|_| Error::invalid(ErrorCode::InvalidArgument, "cursor is not one this server issued"))?,
            ),
        };
        if let Some(name) = &request.name {
            self.limits.check_key("name", name)?;
        }
        let params =
            ListSagasParams { namespace: request.namespace, state: request.state, name: request.name, before, limit };
        self.store.list_sagas(params).await
    }
}

/// Text that is not a saga id names no saga.
fn parse_id(raw: &str) -> Result<SagaId, Error> {
    raw.parse().map_err(|_| Error::SagaNotFound { saga_id: raw.to_owned() })
}
