//! Service discovery on SQLite: the discovery rules over the instance statements. Writes go through the
//! writer (group commit), reads through the read-only connections. The writer serialises every write, so a
//! service's lock is already held.

use async_trait::async_trait;
use baton_core::clock::Timestamp;
use baton_core::discovery::engine::{self, DiscoveryTx};
use baton_core::discovery::stored::encode_columns;
use baton_core::discovery::{
    CheckOutcome, DiscoveryStore, DueChecks, Instance, InstanceKey, ListInstancesParams, ListServicesParams,
    RegisterParams, Registered, ServiceInstances, ServiceSummary, SweepReport,
};
use baton_core::namespace::Namespace;
use baton_core::page::Page;
use baton_core::stored::encode;
use baton_core::{Error, StoreError};
use futures::executor::block_on;
use rusqlite::params;

use crate::rows::{self, Stored, store_error};
use crate::store::SqliteStore;
use crate::tx::SqliteTx;

fn instance(row: &rusqlite::Row<'_>) -> Result<Instance, StoreError> {
    baton_core::discovery::stored::instance(&Stored::new(row))
}

impl DiscoveryTx for SqliteTx<'_> {
    async fn instance(&mut self, key: &InstanceKey) -> Result<Option<Instance>, StoreError> {
        self.query_optional(
            include_str!("../queries/discovery/instance.sql"),
            params![key.namespace.as_str(), key.service, key.instance_id],
            instance,
        )
    }

    async fn instances_of(&mut self, namespace: &Namespace, service: &str) -> Result<Vec<Instance>, StoreError> {
        self.query_all(
            include_str!("../queries/discovery/instances_of.sql"),
            params![namespace.as_str(), service],
            instance,
        )
    }

    async fn save_instance(&mut self, instance: &Instance) -> Result<(), StoreError> {
        let (tags, metadata, check) = encode_columns(instance)?;
        self.execute(
            include_str!("../queries/discovery/save_instance.sql"),
            params![
                instance.namespace.as_str(),
                instance.service,
                instance.instance_id,
                instance.address,
                i64::from(instance.port),
                tags,
                metadata,
                instance.check.kind(),
                check,
                instance.deregister_after_ms,
                instance.health.as_str(),
                instance.output,
                instance.expires_at.map(Timestamp::as_millis),
                instance.critical_since.map(Timestamp::as_millis),
                instance.next_check_at.map(Timestamp::as_millis),
                instance.checked_by,
                instance.registered_at.as_millis(),
                instance.updated_at.as_millis(),
                instance.modify_index,
            ],
        )?;
        Ok(())
    }

    async fn delete_instance(&mut self, key: &InstanceKey) -> Result<(), StoreError> {
        self.execute(
            include_str!("../queries/discovery/delete_instance.sql"),
            params![key.namespace.as_str(), key.service, key.instance_id],
        )?;
        Ok(())
    }

    async fn bump_index(&mut self, namespace: &Namespace, service: &str) -> Result<i64, StoreError> {
        let index = self.query_optional(
            include_str!("../queries/discovery/bump_index.sql"),
            params![namespace.as_str(), service],
            |row| row.get::<_, i64>(0).map_err(store_error),
        )?;
        index.ok_or_else(|| StoreError::Internal("bumping a service index returned no row".into()))
    }

    async fn service_index(&mut self, namespace: &Namespace, service: &str) -> Result<i64, StoreError> {
        let index = self.query_optional(
            include_str!("../queries/discovery/service_index.sql"),
            params![namespace.as_str(), service],
            |row| row.get::<_, i64>(0).map_err(store_error),
        )?;
        Ok(index.unwrap_or(0))
    }

    async fn list_instances(
        &mut self,
        params: &ListInstancesParams,
        now: Timestamp,
    ) -> Result<Vec<Instance>, StoreError> {
        self.query_all(
            include_str!("../queries/discovery/list_instances.sql"),
            params![
                params.namespace.as_str(),
                params.service,
                params.healthy_only,
                now.as_millis(),
                encode(&params.tags)?,
                params.after,
                i64::from(params.limit) + 1,
            ],
            instance,
        )
    }

    async fn list_services(
        &mut self,
        params: &ListServicesParams,
        now: Timestamp,
    ) -> Result<Vec<ServiceSummary>, StoreError> {
        self.query_all(
            include_str!("../queries/discovery/list_services.sql"),
            params![params.namespace.as_str(), now.as_millis(), params.after, i64::from(params.limit) + 1],
            |row| baton_core::discovery::stored::service_summary(&Stored::new(row)),
        )
    }

    async fn services_to_sweep(&mut self, now: Timestamp, limit: u32) -> Result<Vec<(Namespace, String)>, StoreError> {
        self.query_all(
            include_str!("../queries/discovery/services_to_sweep.sql"),
            params![now.as_millis(), i64::from(limit)],
            |row| {
                Ok((rows::namespace(&row.get::<_, String>(0).map_err(store_error)?)?, row.get(1).map_err(store_error)?))
            },
        )
    }

    async fn due_checks(&mut self, now: Timestamp, limit: u32) -> Result<Vec<Instance>, StoreError> {
        self.query_all(
            include_str!("../queries/discovery/due_checks.sql"),
            params![now.as_millis(), i64::from(limit)],
            instance,
        )
    }

    async fn set_next_check(&mut self, key: &InstanceKey, at: Timestamp) -> Result<(), StoreError> {
        self.execute(
            include_str!("../queries/discovery/set_next_check.sql"),
            params![key.namespace.as_str(), key.service, key.instance_id, at.as_millis()],
        )?;
        Ok(())
    }

    async fn next_check_due(&mut self) -> Result<Option<Timestamp>, StoreError> {
        let due = self.query_optional(include_str!("../queries/discovery/next_check_due.sql"), [], |row| {
            row.get::<_, Option<i64>>(0).map_err(store_error)
        })?;
        Ok(due.flatten().map(Timestamp))
    }
}

#[async_trait]
impl DiscoveryStore for SqliteStore {
    async fn register_instance(&self, params: RegisterParams) -> Result<Registered, Error> {
        self.writer.write(move |tx| block_on(engine::register(tx, &params))).await
    }

    async fn heartbeat_instance(&self, key: InstanceKey) -> Result<Instance, Error> {
        self.writer.write(move |tx| block_on(engine::heartbeat(tx, &key))).await
    }

    async fn deregister_instance(&self, key: InstanceKey) -> Result<Instance, Error> {
        self.writer.write(move |tx| block_on(engine::deregister(tx, &key))).await
    }

    async fn get_instance(&self, key: InstanceKey) -> Result<Instance, Error> {
        self.readers.read(move |tx| block_on(engine::instance(tx, &key))).await
    }

    async fn service_instances(&self, params: ListInstancesParams) -> Result<ServiceInstances, Error> {
        self.readers.read(move |tx| block_on(engine::instances(tx, &params))).await
    }

    async fn list_services(&self, params: ListServicesParams) -> Result<Page<ServiceSummary>, Error> {
        self.readers.read(move |tx| block_on(engine::services(tx, &params))).await
    }

    async fn claim_checks(&self, limit: u32) -> Result<DueChecks, Error> {
        if let Some(idle) = self.readers.read(|tx| block_on(engine::when_checks_due(tx))).await? {
            return Ok(idle);
        }
        self.writer.write(move |tx| block_on(engine::claim_checks(tx, limit))).await
    }

    async fn record_check(&self, outcome: CheckOutcome) -> Result<Option<Instance>, Error> {
        self.writer.write(move |tx| block_on(engine::record_check(tx, &outcome))).await
    }

    /// Looks on a reader first, so a pass with nothing to do never occupies the writer.
    async fn sweep_instances(&self, max_services: u32) -> Result<SweepReport, Error> {
        if self.readers.read(move |tx| block_on(engine::services_to_sweep(tx, 1))).await?.is_empty() {
            return Ok(SweepReport::default());
        }
        self.writer
            .write(move |tx| {
                block_on(async {
                    let mut report = SweepReport::default();
                    let mut changes = Vec::new();
                    for (namespace, service) in engine::services_to_sweep(tx, max_services).await? {
                        let swept = engine::sweep_service(tx, &namespace, &service).await?;
                        report.lapsed += swept.value.lapsed;
                        report.deregistered += swept.value.deregistered;
                        report.services += 1;
                        changes.extend(swept.changes);
                    }
                    Ok(baton_core::store::Applied::with(report, changes))
                })
            })
            .await
    }
}
