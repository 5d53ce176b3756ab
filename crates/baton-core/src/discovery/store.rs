//! The discovery half of the store port: registrations, heartbeats, check results, the reaper's sweep, and
//! the reads (each service's instances with its modify index, the services with their counts).

use async_trait::async_trait;

use crate::discovery::model::{
    CheckOutcome, DueChecks, Instance, InstanceKey, ListInstancesParams, ListServicesParams, RegisterParams,
    Registered, ServiceInstances, ServiceSummary, SweepReport,
};
use crate::error::Error;
use crate::page::Page;

#[async_trait]
pub trait DiscoveryStore: Send + Sync {
    async fn register_instance(&self, params: RegisterParams) -> Result<Registered, Error>;

    /// Renews a TTL instance; refused for a checked one.
    async fn heartbeat_instance(&self, key: InstanceKey) -> Result<Instance, Error>;

    /// Removes the instance and answers with it as it was.
    async fn deregister_instance(&self, key: InstanceKey) -> Result<Instance, Error>;

    async fn get_instance(&self, key: InstanceKey) -> Result<Instance, Error>;

    async fn service_instances(&self, params: ListInstancesParams) -> Result<ServiceInstances, Error>;

    async fn list_services(&self, params: ListServicesParams) -> Result<Page<ServiceSummary>, Error>;

    /// Hands the prober the checks due now (at most `limit`).
    async fn claim_checks(&self, limit: u32) -> Result<DueChecks, Error>;

    /// Records one run of a check; `None` when the instance or its check is gone.
    async fn record_check(&self, outcome: CheckOutcome) -> Result<Option<Instance>, Error>;

    /// Records lapsed TTL instances critical and removes those critical beyond `deregister_after`, in at most
    /// `max_services` services.
    async fn sweep_instances(&self, max_services: u32) -> Result<SweepReport, Error>;
}
