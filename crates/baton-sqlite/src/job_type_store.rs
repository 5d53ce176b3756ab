//! The job type registry on SQLite.

use async_trait::async_trait;
use baton_core::Error;
use baton_core::job::JobTypeStore;
use baton_core::job::job_type::JobType;
use baton_core::namespace::Namespace;
use baton_core::store::Applied;
use baton_core::stored::encode;
use rusqlite::params;

use crate::rows::job_type;
use crate::store::SqliteStore;

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
