//! The job type registry on SQLite.

use async_trait::async_trait;
use baton_core::clock::Timestamp;
use baton_core::job::JobTypeStore;
use baton_core::job::job_type::JobType;
use baton_core::job::stored::{decode, encode};
use baton_core::namespace::Namespace;
use baton_core::store::Applied;
use baton_core::{Error, StoreError};
use rusqlite::{Row, params};

use crate::rows::store_error;
use crate::store::SqliteStore;

fn job_type(row: &Row<'_>) -> Result<JobType, StoreError> {
    let text = |name: &str| row.get::<_, String>(name).map_err(store_error);
    Ok(JobType {
        namespace: Namespace::parse(&text("namespace")?)
            .map_err(|_| StoreError::Internal("stored job type namespace does not parse".into()))?,
        job_type: text("job_type")?,
        executor: text("executor")?,
        config: decode(&text("config")?, "executor config")?,
        queue: row.get("queue").map_err(store_error)?,
        timeout_ms: row.get("timeout_ms").map_err(store_error)?,
        updated_at: Timestamp(row.get("updated_at").map_err(store_error)?),
    })
}

#[async_trait]
impl JobTypeStore for SqliteStore {
    async fn save_job_type(&self, mut saved: JobType) -> Result<(JobType, bool), Error> {
        self.writer
            .write(move |tx| {
                let key = params![saved.namespace.as_str(), saved.job_type];
                let existed = tx.query_optional(include_str!("../queries/job_type/get.sql"), key, job_type)?.is_some();
                saved.updated_at = tx.now;
                tx.execute(
                    include_str!("../queries/job_type/save.sql"),
                    params![
                        saved.namespace.as_str(),
                        saved.job_type,
                        saved.executor,
                        encode(&saved.config)?,
                        saved.queue,
                        saved.timeout_ms,
                        saved.updated_at.as_millis(),
                    ],
                )?;
                Ok(Applied::quiet((saved, !existed)))
            })
            .await
    }

    async fn get_job_type(&self, namespace: &Namespace, name: &str) -> Result<Option<JobType>, Error> {
        let (namespace, name) = (namespace.clone(), name.to_owned());
        self.readers
            .read(move |tx| {
                let key = params![namespace.as_str(), name];
                Ok(tx.query_optional(include_str!("../queries/job_type/get.sql"), key, job_type)?)
            })
            .await
    }

    async fn list_job_types(&self, namespace: Option<&Namespace>) -> Result<Vec<JobType>, Error> {
        let namespace = namespace.map(|ns| ns.as_str().to_owned());
        self.readers
            .read(move |tx| Ok(tx.query_all(include_str!("../queries/job_type/list.sql"), [namespace], job_type)?))
            .await
    }

    async fn delete_job_type(&self, namespace: &Namespace, name: &str) -> Result<bool, Error> {
        let (namespace, name) = (namespace.clone(), name.to_owned());
        self.writer
            .write_single(move |tx| {
                let deleted =
                    tx.execute(include_str!("../queries/job_type/delete.sql"), params![namespace.as_str(), name])?;
                Ok(Applied::quiet(deleted > 0))
            })
            .await
    }
}
