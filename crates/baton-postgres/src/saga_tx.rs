//! The statements the shared saga rules run, on one PostgreSQL connection inside one transaction. A saga's
//! row is held (`FOR UPDATE`) while its transaction moves it, so a job's end and a cancel that race serialise.

use baton_core::Error;
use baton_core::StoreError;
use baton_core::job::JobId;
use baton_core::namespace::Namespace;
use baton_core::page::Page;
use baton_core::saga::engine::{self, SagaRecord, SagaTx, StepLink, StepRecord};
use baton_core::saga::{ListSagasParams, SagaId, SagaState};
use baton_core::saga::{SagaSpec, SagaStore};

use crate::store::PgStore;
use baton_core::saga::stored;
use baton_core::stored::{encode, encode_optional};
use sqlx::query;

use crate::rows::{Stored, store_error};
use crate::tx::{PgTx, advisory_key};

fn index(value: usize) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

impl SagaTx for PgTx<'_> {
    async fn find_saga_by_key(&mut self, namespace: &Namespace, key: &str) -> Result<Option<SagaRecord>, StoreError> {
        let row = query(include_str!("../queries/saga/find_by_key.sql"))
            .bind(namespace.as_str())
            .bind(key)
            .fetch_optional(&mut *self.conn)
            .await
            .map_err(store_error)?;
        row.as_ref().map(|row| stored::saga(&Stored(row))).transpose()
    }

    async fn insert_saga(&mut self, saga: &SagaRecord, steps: &[StepRecord]) -> Result<(), StoreError> {
        query(include_str!("../queries/saga/insert.sql"))
            .bind(saga.namespace.as_str())
            .bind(saga.saga_id.to_string())
            .bind(&saga.name)
            .bind(saga.state.as_str())
            .bind(encode_optional(saga.input.as_ref())?)
            .bind(encode_optional(saga.metadata.as_ref())?)
            .bind(saga.current_step.map(index))
            .bind(&saga.idempotency_key)
            .bind(saga.failed_step.map(index))
            .bind(&saga.error)
            .bind(saga.cancel_requested)
            .bind(saga.created_at.as_millis())
            .bind(saga.updated_at.as_millis())
            .bind(saga.finished_at.map(|t| t.as_millis()))
            .execute(&mut *self.conn)
            .await
            .map_err(store_error)?;
        for step in steps {
            query(include_str!("../queries/saga/insert_step.sql"))
                .bind(saga.namespace.as_str())
                .bind(saga.saga_id.to_string())
                .bind(index(step.index))
                .bind(step.phase.as_str())
                .bind(&step.spec.name)
                .bind(encode(&step.spec)?)
                .bind(step.state.as_str())
                .bind(step.job_id.map(|id| id.to_string()))
                .bind(i64::from(step.attempts))
                .bind(encode_optional(step.output.as_ref())?)
                .bind(encode(&step.errors)?)
                .bind(step.started_at.map(|t| t.as_millis()))
                .bind(step.finished_at.map(|t| t.as_millis()))
                .execute(&mut *self.conn)
                .await
                .map_err(store_error)?;
        }
        Ok(())
    }

    async fn saga_for_update(
        &mut self,
        namespace: &Namespace,
        saga_id: SagaId,
    ) -> Result<Option<SagaRecord>, StoreError> {
        let row = query(include_str!("../queries/saga/get.sql"))
            .bind(namespace.as_str())
            .bind(saga_id.to_string())
            .fetch_optional(&mut *self.conn)
            .await
            .map_err(store_error)?;
        row.as_ref().map(|row| stored::saga(&Stored(row))).transpose()
    }

    async fn saga_steps(&mut self, namespace: &Namespace, saga_id: SagaId) -> Result<Vec<StepRecord>, StoreError> {
        let rows = query(include_str!("../queries/saga/steps.sql"))
            .bind(namespace.as_str())
            .bind(saga_id.to_string())
            .fetch_all(&mut *self.conn)
            .await
            .map_err(store_error)?;
        rows.iter().map(|row| stored::step(&Stored(row))).collect()
    }

    async fn update_saga(&mut self, saga: &SagaRecord) -> Result<(), StoreError> {
        query(include_str!("../queries/saga/update.sql"))
            .bind(saga.namespace.as_str())
            .bind(saga.saga_id.to_string())
            .bind(saga.state.as_str())
            .bind(saga.current_step.map(index))
            .bind(saga.failed_step.map(index))
            .bind(&saga.error)
            .bind(saga.cancel_requested)
            .bind(saga.updated_at.as_millis())
            .bind(saga.finished_at.map(|t| t.as_millis()))
            .execute(&mut *self.conn)
            .await
            .map_err(store_error)?;
        Ok(())
    }

    async fn update_step(
        &mut self,
        namespace: &Namespace,
        saga_id: SagaId,
        step: &StepRecord,
    ) -> Result<(), StoreError> {
        query(include_str!("../queries/saga/update_step.sql"))
            .bind(namespace.as_str())
            .bind(saga_id.to_string())
            .bind(index(step.index))
            .bind(step.phase.as_str())
            .bind(step.state.as_str())
            .bind(step.job_id.map(|id| id.to_string()))
            .bind(i64::from(step.attempts))
            .bind(encode_optional(step.output.as_ref())?)
            .bind(encode(&step.errors)?)
            .bind(step.started_at.map(|t| t.as_millis()))
            .bind(step.finished_at.map(|t| t.as_millis()))
            .execute(&mut *self.conn)
            .await
            .map_err(store_error)?;
        Ok(())
    }

    async fn link_job(&mut self, namespace: &Namespace, job_id: JobId, link: StepLink) -> Result<(), StoreError> {
        query(include_str!("../queries/saga/link_job.sql"))
            .bind(namespace.as_str())
            .bind(job_id.to_string())
            .bind(link.saga_id.to_string())
            .bind(index(link.index))
            .bind(link.phase.as_str())
            .execute(&mut *self.conn)
            .await
            .map_err(store_error)?;
        Ok(())
    }

    async fn job_link(&mut self, namespace: &Namespace, job_id: JobId) -> Result<Option<StepLink>, StoreError> {
        let row = query(include_str!("../queries/saga/job_link.sql"))
            .bind(namespace.as_str())
            .bind(job_id.to_string())
            .fetch_optional(&mut *self.conn)
            .await
            .map_err(store_error)?;
        row.as_ref().map(|row| stored::link(&Stored(row))).transpose()
    }
}

#[async_trait::async_trait]
impl SagaStore for PgStore {
    async fn start_saga(
        &self,
        namespace: &Namespace,
        spec: SagaSpec,
    ) -> Result<(SagaRecord, Vec<StepRecord>, bool), Error> {
        match spec.idempotency_key.clone() {
            // Two nodes starting the same key at once: the second waits on the key's lock, then finds the first.
            Some(key) => {
                let key_lock = advisory_key(namespace, &format!("saga-idempotency:{key}"));
                self.write_holding(key_lock, async |tx| engine::start(tx, namespace, spec.clone()).await).await
            }
            None => self.write(async |tx| engine::start(tx, namespace, spec.clone()).await).await,
        }
    }

    async fn get_saga(&self, namespace: &Namespace, saga_id: SagaId) -> Result<(SagaRecord, Vec<StepRecord>), Error> {
        // One snapshot, so the steps belong to the saga row read, and no row lock is taken for a read.
        self.read_snapshot(async |tx| {
            let saga = query(include_str!("../queries/saga/get_shared.sql"))
                .bind(namespace.as_str())
                .bind(saga_id.to_string())
                .fetch_optional(&mut *tx.conn)
                .await
                .map_err(store_error)?
                .ok_or_else(|| Error::SagaNotFound { saga_id: saga_id.to_string() })?;
            let saga = stored::saga(&Stored(&saga))?;
            Ok((saga, tx.saga_steps(namespace, saga_id).await?))
        })
        .await
    }

    async fn cancel_saga(&self, namespace: &Namespace, saga_id: SagaId) -> Result<SagaRecord, Error> {
        self.write(async |tx| engine::cancel(tx, namespace, saga_id).await).await
    }

    async fn list_sagas(&self, params: ListSagasParams) -> Result<Page<SagaRecord>, Error> {
        let statement = query(include_str!("../queries/saga/list.sql"))
            .bind(params.namespace.as_str())
            .bind(params.state.map(SagaState::as_str))
            .bind(params.name.as_deref())
            .bind(params.before.map(|id| id.to_string()))
            .bind(i64::from(params.limit) + 1);
        let rows = self.conns.fetch_all(statement).await?;
        let found = rows.iter().map(|row| stored::saga(&Stored(row))).collect::<Result<Vec<_>, _>>()?;
        Ok(Page::from_overfetch(found, params.limit, |saga| vec![saga.saga_id.to_string()]))
    }
}
