//! The job type registry on PostgreSQL.

use async_trait::async_trait;
use baton_core::Error;
use baton_core::job::JobTypeStore;
use baton_core::job::engine::JobTx;
use baton_core::job::job_type::JobType;
use baton_core::namespace::Namespace;
use baton_core::store::Applied;
use baton_core::stored::encode;
use sqlx::query;

use crate::rows::{job_type, store_error};
use crate::store::PgStore;

#[async_trait]
impl JobTypeStore for PgStore {
    async fn save_job_type(&self, mut saved: JobType) -> Result<(JobType, bool), Error> {
        self.write(async |tx| {
            saved.updated_at = JobTx::now(tx).await?;
            let existed = query(include_str!("../queries/job_type/get.sql"))
                .bind(saved.namespace.as_str())
                .bind(&saved.job_type)
                .fetch_optional(&mut *tx.conn)
                .await
                .map_err(store_error)?
                .is_some();
            query(include_str!("../queries/job_type/save.sql"))
                .bind(saved.namespace.as_str())
                .bind(&saved.job_type)
                .bind(&saved.executor)
                .bind(encode(&saved.config)?)
                .bind(&saved.queue)
                .bind(saved.timeout_ms)
                .bind(saved.updated_at.as_millis())
                .execute(&mut *tx.conn)
                .await
                .map_err(store_error)?;
            Ok(Applied::quiet((saved, !existed)))
        })
        .await
    }

    async fn get_job_type(&self, namespace: &Namespace, name: &str) -> Result<Option<JobType>, Error> {
        let statement = query(include_str!("../queries/job_type/get.sql")).bind(namespace.as_str()).bind(name);
        let found = self.conns.fetch_optional(statement).await?;
        Ok(found.as_ref().map(job_type).transpose()?)
    }

    async fn list_job_types(&self, namespace: Option<&Namespace>) -> Result<Vec<JobType>, Error> {
        let statement = query(include_str!("../queries/job_type/list.sql")).bind(namespace.map(Namespace::as_str));
        let rows = self.conns.fetch_all(statement).await?;
        Ok(rows.iter().map(job_type).collect::<Result<_, _>>()?)
    }

    async fn delete_job_type(&self, namespace: &Namespace, name: &str) -> Result<bool, Error> {
        let statement = query(include_str!("../queries/job_type/delete.sql")).bind(namespace.as_str()).bind(name);
        let done = self.conns.execute(statement).await?;
        Ok(done.rows_affected() > 0)
    }
}
