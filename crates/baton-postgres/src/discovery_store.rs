//! Service discovery on PostgreSQL: the discovery rules over the instance statements. Each write to a service
//! is one transaction that begins holding the service's advisory lock, so writes to one service serialise on
//! every node and its modify index moves on by one per change.

use async_trait::async_trait;
use baton_core::clock::Timestamp;
use baton_core::discovery::engine::{self, DiscoveryTx};
use baton_core::discovery::stored::encode_columns;
use baton_core::discovery::{
    CheckOutcome, DiscoveryStore, DueChecks, Instance, InstanceKey, ListInstancesParams, ListServicesParams,
    RegisterParams, Registered, ServiceInstances, ServiceSummary, SweepReport, service_key,
};
use baton_core::namespace::Namespace;
use baton_core::page::Page;
use baton_core::stored::encode;
use baton_core::{Error, StoreError};
use sqlx::postgres::PgRow;
use sqlx::{Row, query};

use crate::rows::{self, Stored, store_error};
use crate::store::PgStore;
use crate::tx::{PgTx, advisory_key};

fn instance(row: &PgRow) -> Result<Instance, StoreError> {
    baton_core::discovery::stored::instance(&Stored(row))
}

impl DiscoveryTx for PgTx<'_> {
    async fn instance(&mut self, key: &InstanceKey) -> Result<Option<Instance>, StoreError> {
        let found = query(include_str!("../queries/discovery/instance.sql"))
            .bind(key.namespace.as_str())
            .bind(&key.service)
            .bind(&key.instance_id)
            .fetch_optional(&mut *self.conn)
            .await
            .map_err(store_error)?;
        found.as_ref().map(instance).transpose()
    }

    async fn instances_of(&mut self, namespace: &Namespace, service: &str) -> Result<Vec<Instance>, StoreError> {
        let found = query(include_str!("../queries/discovery/instances_of.sql"))
            .bind(namespace.as_str())
            .bind(service)
            .fetch_all(&mut *self.conn)
            .await
            .map_err(store_error)?;
        found.iter().map(instance).collect()
    }

    async fn save_instance(&mut self, instance: &Instance) -> Result<(), StoreError> {
        let (tags, metadata, check) = encode_columns(instance)?;
        query(include_str!("../queries/discovery/save_instance.sql"))
            .bind(instance.namespace.as_str())
            .bind(&instance.service)
            .bind(&instance.instance_id)
            .bind(&instance.address)
            .bind(i64::from(instance.port))
            .bind(tags)
            .bind(metadata)
            .bind(instance.check.kind())
            .bind(check)
            .bind(instance.deregister_after_ms)
            .bind(instance.health.as_str())
            .bind(&instance.output)
            .bind(instance.expires_at.map(Timestamp::as_millis))
            .bind(instance.critical_since.map(Timestamp::as_millis))
            .bind(instance.next_check_at.map(Timestamp::as_millis))
            .bind(&instance.checked_by)
            .bind(instance.registered_at.as_millis())
            .bind(instance.updated_at.as_millis())
            .bind(instance.modify_index)
            .execute(&mut *self.conn)
            .await
            .map_err(store_error)?;
        Ok(())
    }

    async fn delete_instance(&mut self, key: &InstanceKey) -> Result<(), StoreError> {
        query(include_str!("../queries/discovery/delete_instance.sql"))
            .bind(key.namespace.as_str())
            .bind(&key.service)
            .bind(&key.instance_id)
            .execute(&mut *self.conn)
            .await
            .map_err(store_error)?;
        Ok(())
    }

    async fn bump_index(&mut self, namespace: &Namespace, service: &str) -> Result<i64, StoreError> {
        let row = query(include_str!("../queries/discovery/bump_index.sql"))
            .bind(namespace.as_str())
            .bind(service)
            .fetch_one(&mut *self.conn)
            .await
            .map_err(store_error)?;
        row.try_get(0).map_err(store_error)
    }

    async fn service_index(&mut self, namespace: &Namespace, service: &str) -> Result<i64, StoreError> {
        let row = query(include_str!("../queries/discovery/service_index.sql"))
            .bind(namespace.as_str())
            .bind(service)
            .fetch_optional(&mut *self.conn)
            .await
            .map_err(store_error)?;
        row.map_or(Ok(0), |row| row.try_get(0).map_err(store_error))
    }

    async fn list_instances(
        &mut self,
        params: &ListInstancesParams,
        now: Timestamp,
    ) -> Result<Vec<Instance>, StoreError> {
        let found = query(include_str!("../queries/discovery/list_instances.sql"))
            .bind(params.namespace.as_str())
            .bind(&params.service)
            .bind(params.healthy_only)
            .bind(now.as_millis())
            .bind(encode(&params.tags)?)
            .bind(params.after.as_deref())
            .bind(i64::from(params.limit) + 1)
            .fetch_all(&mut *self.conn)
            .await
            .map_err(store_error)?;
        found.iter().map(instance).collect()
    }

    async fn list_services(
        &mut self,
        params: &ListServicesParams,
        now: Timestamp,
    ) -> Result<Vec<ServiceSummary>, StoreError> {
        let found = query(include_str!("../queries/discovery/list_services.sql"))
            .bind(params.namespace.as_str())
            .bind(now.as_millis())
            .bind(params.after.as_deref())
            .bind(i64::from(params.limit) + 1)
            .fetch_all(&mut *self.conn)
            .await
            .map_err(store_error)?;
        found.iter().map(|row| baton_core::discovery::stored::service_summary(&Stored(row))).collect()
    }

    async fn services_to_sweep(&mut self, now: Timestamp, limit: u32) -> Result<Vec<(Namespace, String)>, StoreError> {
        let found = query(include_str!("../queries/discovery/services_to_sweep.sql"))
            .bind(now.as_millis())
            .bind(i64::from(limit))
            .fetch_all(&mut *self.conn)
            .await
            .map_err(store_error)?;
        found
            .iter()
            .map(|row| {
                let namespace: String = row.try_get(0).map_err(store_error)?;
                Ok((rows::namespace(&namespace)?, row.try_get(1).map_err(store_error)?))
            })
            .collect()
    }

    async fn due_checks(&mut self, now: Timestamp, limit: u32) -> Result<Vec<Instance>, StoreError> {
        let found = query(include_str!("../queries/discovery/due_checks.sql"))
            .bind(now.as_millis())
            .bind(i64::from(limit))
            .fetch_all(&mut *self.conn)
            .await
            .map_err(store_error)?;
        found.iter().map(instance).collect()
    }

    async fn set_next_check(&mut self, key: &InstanceKey, at: Timestamp) -> Result<(), StoreError> {
        query(include_str!("../queries/discovery/set_next_check.sql"))
            .bind(key.namespace.as_str())
            .bind(&key.service)
            .bind(&key.instance_id)
            .bind(at.as_millis())
            .execute(&mut *self.conn)
            .await
            .map_err(store_error)?;
        Ok(())
    }

    async fn next_check_due(&mut self) -> Result<Option<Timestamp>, StoreError> {
        let row = query(include_str!("../queries/discovery/next_check_due.sql"))
            .fetch_one(&mut *self.conn)
            .await
            .map_err(store_error)?;
        Ok(row.try_get::<Option<i64>, _>(0).map_err(store_error)?.map(Timestamp))
    }
}

fn service_lock(namespace: &Namespace, service: &str) -> i64 {
    advisory_key(namespace, &service_key(service))
}

#[async_trait]
impl DiscoveryStore for PgStore {
    async fn register_instance(&self, params: RegisterParams) -> Result<Registered, Error> {
        let key_lock = service_lock(&params.namespace, &params.service);
        self.write_holding(key_lock, async |tx| engine::register(tx, &params).await).await
    }

    async fn heartbeat_instance(&self, key: InstanceKey) -> Result<Instance, Error> {
        let key_lock = service_lock(&key.namespace, &key.service);
        self.write_holding(key_lock, async |tx| engine::heartbeat(tx, &key).await).await
    }

    async fn deregister_instance(&self, key: InstanceKey) -> Result<Instance, Error> {
        let key_lock = service_lock(&key.namespace, &key.service);
        self.write_holding(key_lock, async |tx| engine::deregister(tx, &key).await).await
    }

    async fn get_instance(&self, key: InstanceKey) -> Result<Instance, Error> {
        self.read(async |tx| engine::instance(tx, &key).await).await
    }

    async fn service_instances(&self, params: ListInstancesParams) -> Result<ServiceInstances, Error> {
        self.read(async |tx| engine::instances(tx, &params).await).await
    }

    async fn list_services(&self, params: ListServicesParams) -> Result<Page<ServiceSummary>, Error> {
        self.read(async |tx| engine::services(tx, &params).await).await
    }

    async fn claim_checks(&self, limit: u32) -> Result<DueChecks, Error> {
        if let Some(idle) = self.read(async |tx| engine::when_checks_due(tx).await).await? {
            return Ok(idle);
        }
        self.write(async |tx| engine::claim_checks(tx, limit).await).await
    }

    async fn record_check(&self, outcome: CheckOutcome) -> Result<Option<Instance>, Error> {
        let key_lock = service_lock(&outcome.key.namespace, &outcome.key.service);
        self.write_holding(key_lock, async |tx| engine::record_check(tx, &outcome).await).await
    }

    /// Each service is swept in its own transaction, holding its lock, so a sweep never waits on many
    /// services' writers at once.
    async fn sweep_instances(&self, max_services: u32) -> Result<SweepReport, Error> {
        let due = self.read(async |tx| engine::services_to_sweep(tx, max_services).await).await?;
        let mut report = SweepReport::default();
        for (namespace, service) in due {
            let key_lock = service_lock(&namespace, &service);
            let swept =
                self.write_holding(key_lock, async |tx| engine::sweep_service(tx, &namespace, &service).await).await?;
            report.lapsed += swept.lapsed;
            report.deregistered += swept.deregistered;
            report.services += 1;
        }
        Ok(report)
    }
}
