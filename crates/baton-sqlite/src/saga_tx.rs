//! The statements the shared saga rules run, on one SQLite connection. The writer thread serialises every
//! write, so reading a saga "for update" is a plain read here.

use baton_core::Error;
use baton_core::StoreError;
use baton_core::job::JobId;
use baton_core::namespace::Namespace;
use baton_core::page::Page;
use baton_core::saga::engine::{self, SagaRecord, SagaTx, StepLink, StepRecord};
use baton_core::saga::{ListSagasParams, SagaId, SagaState};
use baton_core::saga::{SagaSpec, SagaStore};
use futures::executor::block_on;

use crate::store::SqliteStore;
use baton_core::saga::stored;
use baton_core::stored::{encode, encode_optional};
use rusqlite::params;

use crate::rows::Stored;
use crate::tx::SqliteTx;

fn index(value: usize) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

impl SagaTx for SqliteTx<'_> {
    async fn find_saga_by_key(&mut self, namespace: &Namespace, key: &str) -> Result<Option<SagaRecord>, StoreError> {
        self.query_optional(include_str!("../queries/saga/find_by_key.sql"), params![namespace.as_str(), key], |row| {
            stored::saga(&Stored::new(row))
        })
    }

    async fn insert_saga(&mut self, saga: &SagaRecord, steps: &[StepRecord]) -> Result<(), StoreError> {
        self.execute(
            include_str!("../queries/saga/insert.sql"),
            params![
                saga.namespace.as_str(),
                saga.saga_id.to_string(),
                saga.name,
                saga.state.as_str(),
                encode_optional(saga.input.as_ref())?,
                encode_optional(saga.metadata.as_ref())?,
                saga.current_step.map(index),
                saga.idempotency_key,
                saga.failed_step.map(index),
                saga.error,
                saga.cancel_requested,
                saga.created_at.as_millis(),
                saga.updated_at.as_millis(),
                saga.finished_at.map(|t| t.as_millis()),
            ],
        )?;
        for step in steps {
            self.execute(
                include_str!("../queries/saga/insert_step.sql"),
                params![
                    saga.namespace.as_str(),
                    saga.saga_id.to_string(),
                    index(step.index),
                    step.phase.as_str(),
                    step.spec.name,
                    encode(&step.spec)?,
                    step.state.as_str(),
                    step.job_id.map(|id| id.to_string()),
                    step.attempts,
                    encode_optional(step.output.as_ref())?,
                    encode(&step.errors)?,
                    step.started_at.map(|t| t.as_millis()),
                    step.finished_at.map(|t| t.as_millis()),
                ],
            )?;
        }
        Ok(())
    }

    async fn saga_for_update(
        &mut self,
        namespace: &Namespace,
        saga_id: SagaId,
    ) -> Result<Option<SagaRecord>, StoreError> {
        self.query_optional(
            include_str!("../queries/saga/get.sql"),
            params![namespace.as_str(), saga_id.to_string()],
            |row| stored::saga(&Stored::new(row)),
        )
    }

    async fn saga_steps(&mut self, namespace: &Namespace, saga_id: SagaId) -> Result<Vec<StepRecord>, StoreError> {
        self.query_all(
            include_str!("../queries/saga/steps.sql"),
            params![namespace.as_str(), saga_id.to_string()],
            |row| stored::step(&Stored::new(row)),
        )
    }

    async fn update_saga(&mut self, saga: &SagaRecord) -> Result<(), StoreError> {
        self.execute(
            include_str!("../queries/saga/update.sql"),
            params![
                saga.namespace.as_str(),
                saga.saga_id.to_string(),
                saga.state.as_str(),
                saga.current_step.map(index),
                saga.failed_step.map(index),
                saga.error,
                saga.cancel_requested,
                saga.updated_at.as_millis(),
                saga.finished_at.map(|t| t.as_millis()),
            ],
        )?;
        Ok(())
    }

    async fn update_step(
        &mut self,
        namespace: &Namespace,
        saga_id: SagaId,
        step: &StepRecord,
    ) -> Result<(), StoreError> {
        self.execute(
            include_str!("../queries/saga/update_step.sql"),
            params![
                namespace.as_str(),
                saga_id.to_string(),
                index(step.index),
                step.phase.as_str(),
                step.state.as_str(),
                step.job_id.map(|id| id.to_string()),
                step.attempts,
                encode_optional(step.output.as_ref())?,
                encode(&step.errors)?,
                step.started_at.map(|t| t.as_millis()),
                step.finished_at.map(|t| t.as_millis()),
            ],
        )?;
        Ok(())
    }

    async fn link_job(&mut self, namespace: &Namespace, job_id: JobId, link: StepLink) -> Result<(), StoreError> {
        self.execute(
            include_str!("../queries/saga/link_job.sql"),
            params![
                namespace.as_str(),
                job_id.to_string(),
                link.saga_id.to_string(),
                index(link.index),
                link.phase.as_str()
            ],
        )?;
        Ok(())
    }

    async fn job_link(&mut self, namespace: &Namespace, job_id: JobId) -> Result<Option<StepLink>, StoreError> {
        self.query_optional(
            include_str!("../queries/saga/job_link.sql"),
            params![namespace.as_str(), job_id.to_string()],
            |row| stored::link(&Stored::new(row)),
        )
    }
}

#[async_trait::async_trait]
impl SagaStore for SqliteStore {
    async fn start_saga(
        &self,
        namespace: &Namespace,
        spec: SagaSpec,
    ) -> Result<(SagaRecord, Vec<StepRecord>, bool), Error> {
        let namespace = namespace.clone();
        self.writer.write(move |tx| block_on(engine::start(tx, &namespace, spec))).await
    }

    async fn get_saga(&self, namespace: &Namespace, saga_id: SagaId) -> Result<(SagaRecord, Vec<StepRecord>), Error> {
        let namespace = namespace.clone();
        self.readers.read(move |tx| block_on(engine::get(tx, &namespace, saga_id))).await
    }

    async fn cancel_saga(&self, namespace: &Namespace, saga_id: SagaId) -> Result<SagaRecord, Error> {
        let namespace = namespace.clone();
        self.writer.write(move |tx| block_on(engine::cancel(tx, &namespace, saga_id))).await
    }

    async fn list_sagas(&self, params: ListSagasParams) -> Result<Page<SagaRecord>, Error> {
        self.readers
            .read(move |tx| {
                let found = tx.query_all(
                    include_str!("../queries/saga/list.sql"),
                    params![
                        params.namespace.as_str(),
                        params.state.map(SagaState::as_str),
                        params.name,
                        params.before.map(|id| id.to_string()),
                        i64::from(params.limit) + 1
                    ],
                    |row| stored::saga(&Stored::new(row)),
                )?;
                Ok(Page::from_overfetch(found, params.limit, |saga| vec![saga.saga_id.to_string()]))
            })
            .await
    }
}
