//! The discovery rules, written once for every backend: registration (idempotent by instance id), heartbeats,
//! check results, TTL lapses and deregistration after a critical spell, each bumping the service's modify
//! index exactly when what readers see changes.
//!
//! **Invariant:** every write to a service takes the service's serialisation point first
//! ([`LockTx::lock_key`] on [`service_key`]), so its modify index (one durable row per service, bumped in the
//! same transaction as the change) increases by one per visible change, on every node, across restarts.

use crate::clock::Timestamp;
use crate::discovery::model::{
    AWAITING_FIRST_CHECK, CheckOutcome, DueCheck, DueChecks, Health, HealthCheck, Instance, InstanceKey,
    ListInstancesParams, ListServicesParams, RegisterParams, Registered, ServiceInstances, ServiceSummary, SweepReport,
    service_key,
};
use crate::error::{Error, StoreError};
use crate::lock::engine::LockTx;
use crate::namespace::Namespace;
use crate::page::Page;
use crate::store::{Applied, Change};

/// The statements discovery adds to a backend's transaction. Instances are returned as stored; the rules
/// apply [`Instance::as_of`].
#[allow(async_fn_in_trait)]
pub trait DiscoveryTx: LockTx {
    async fn instance(&mut self, key: &InstanceKey) -> Result<Option<Instance>, StoreError>;
    /// Every instance of one service.
    async fn instances_of(&mut self, namespace: &Namespace, service: &str) -> Result<Vec<Instance>, StoreError>;
    /// Inserts or replaces the instance.
    async fn save_instance(&mut self, instance: &Instance) -> Result<(), StoreError>;
    async fn delete_instance(&mut self, key: &InstanceKey) -> Result<(), StoreError>;
    /// Adds one to the service's modify index (from 0 for a new service) and answers with it.
    async fn bump_index(&mut self, namespace: &Namespace, service: &str) -> Result<i64, StoreError>;
    async fn service_index(&mut self, namespace: &Namespace, service: &str) -> Result<i64, StoreError>;
    /// One page of instances (`limit + 1` past the cursor, by id), filtered as asked, healthy as of `now`.
    async fn list_instances(
        &mut self,
        params: &ListInstancesParams,
        now: Timestamp,
    ) -> Result<Vec<Instance>, StoreError>;
    /// Services with instances, by name (`limit + 1` past the cursor), counted by health as of `now`.
    async fn list_services(
        &mut self,
        params: &ListServicesParams,
        now: Timestamp,
    ) -> Result<Vec<ServiceSummary>, StoreError>;
    /// Services where, as of `now`, a passing TTL instance lapsed or a critical one outstayed its
    /// `deregister_after`.
    async fn services_to_sweep(&mut self, now: Timestamp, limit: u32) -> Result<Vec<(Namespace, String)>, StoreError>;
    /// Checked instances whose next check is due at `now`, skipping any another transaction holds.
    async fn due_checks(&mut self, now: Timestamp, limit: u32) -> Result<Vec<Instance>, StoreError>;
    async fn set_next_check(&mut self, key: &InstanceKey, at: Timestamp) -> Result<(), StoreError>;
    /// The earliest scheduled check.
    async fn next_check_due(&mut self) -> Result<Option<Timestamp>, StoreError>;
}

fn changed(namespace: &Namespace, service: &str) -> Change {
    Change::ServiceChanged { namespace: namespace.clone(), service: service.to_owned() }
}

fn not_found(key: &InstanceKey) -> Error {
    Error::InstanceNotFound { service: key.service.clone(), instance_id: key.instance_id.clone() }
}

fn ms(millis: i64) -> std::time::Duration {
    std::time::Duration::from_millis(u64::try_from(millis).unwrap_or(0))
}

/// Saves `instance` as a visible change: the service's index moves on and watchers are woken.
async fn save_changed<T: DiscoveryTx>(tx: &mut T, mut instance: Instance) -> Result<Applied<Instance>, Error> {
    instance.modify_index = tx.bump_index(&instance.namespace, &instance.service).await?;
    tx.save_instance(&instance).await?;
    let change = changed(&instance.namespace, &instance.service);
    Ok(Applied::with(instance, vec![change]))
}

/// Registers the instance, or updates the one with the same id. A repeat of the same definition changes nothing
/// readers see (a TTL instance's repeat counts as a heartbeat), so it does not move the index.
pub async fn register<T: DiscoveryTx>(tx: &mut T, params: &RegisterParams) -> Result<Applied<Registered>, Error> {
    tx.lock_key(&params.namespace, &service_key(&params.service)).await?;
    let now = tx.now().await?;
    let key = InstanceKey {
        namespace: params.namespace.clone(),
        service: params.service.clone(),
        instance_id: params.instance_id.clone(),
    };
    let existing = tx.instance(&key).await?;
    let mut instance = Instance {
        namespace: params.namespace.clone(),
        service: params.service.clone(),
        instance_id: params.instance_id.clone(),
        address: params.address.clone(),
        port: params.port,
        tags: params.tags.clone(),
        metadata: params.metadata.clone(),
        check: params.check.clone(),
        deregister_after_ms: params.deregister_after_ms,
        health: Health::Critical,
        output: None,
        expires_at: None,
        critical_since: None,
        next_check_at: None,
        checked_by: None,
        registered_at: now,
        updated_at: now,
        modify_index: 0,
    };
    let created = existing.is_none();
    if let Some(old) = &existing {
        if old.same_definition(&instance) {
            let repeat = match old.check {
                HealthCheck::Ttl { .. } => renew(tx, old.clone(), now).await?,
                _ => Applied::quiet(old.clone().as_of(now)),
            };
            return Ok(Applied::with(Registered { instance: repeat.value, created: false }, repeat.changes));
        }
        instance.registered_at = old.registered_at;
        if old.check == instance.check && instance.check.interval_ms().is_some() {
            // The same check: its last result still stands.
            instance.health = old.health;
            instance.output = old.output.clone();
            instance.critical_since = old.critical_since;
            instance.next_check_at = old.next_check_at;
            instance.checked_by = old.checked_by.clone();
        }
    }
    match &instance.check {
        // A registration counts as the first heartbeat.
        HealthCheck::Ttl { ttl_ms } => {
            instance.health = Health::Passing;
            instance.expires_at = Some(now.plus(ms(*ttl_ms)));
        }
        _ if instance.next_check_at.is_none() => {
            // Critical until its first check passes: nothing vouches for it yet.
            instance.output = Some(AWAITING_FIRST_CHECK.to_owned());
            instance.critical_since = Some(now);
            instance.next_check_at = Some(now);
        }
        _ => {}
    }
    let applied = save_changed(tx, instance).await?;
    Ok(Applied::with(Registered { instance: applied.value, created }, applied.changes))
}

/// A TTL instance's deadline moves on; a critical one passes again (a visible change).
async fn renew<T: DiscoveryTx>(tx: &mut T, stored: Instance, now: Timestamp) -> Result<Applied<Instance>, Error> {
    let HealthCheck::Ttl { ttl_ms } = stored.check else {
        return Err(Error::NotTtlInstance { service: stored.service, instance_id: stored.instance_id });
    };
    let was = stored.clone().as_of(now);
    let mut instance = stored;
    instance.expires_at = Some(now.plus(ms(ttl_ms)));
    if was.health == Health::Passing {
        tx.save_instance(&instance).await?;
        return Ok(Applied::quiet(instance));
    }
    instance.health = Health::Passing;
    instance.critical_since = None;
    instance.output = None;
    instance.updated_at = now;
    save_changed(tx, instance).await
}

pub async fn heartbeat<T: DiscoveryTx>(tx: &mut T, key: &InstanceKey) -> Result<Applied<Instance>, Error> {
    tx.lock_key(&key.namespace, &service_key(&key.service)).await?;
    let now = tx.now().await?;
    let stored = tx.instance(key).await?.ok_or_else(|| not_found(key))?;
    renew(tx, stored, now).await
}

pub async fn deregister<T: DiscoveryTx>(tx: &mut T, key: &InstanceKey) -> Result<Applied<Instance>, Error> {
    tx.lock_key(&key.namespace, &service_key(&key.service)).await?;
    let now = tx.now().await?;
    let stored = tx.instance(key).await?.ok_or_else(|| not_found(key))?;
    tx.delete_instance(key).await?;
    tx.bump_index(&key.namespace, &key.service).await?;
    Ok(Applied::with(stored.as_of(now), vec![changed(&key.namespace, &key.service)]))
}

pub async fn instance<T: DiscoveryTx>(tx: &mut T, key: &InstanceKey) -> Result<Instance, Error> {
    let now = tx.now().await?;
    Ok(tx.instance(key).await?.ok_or_else(|| not_found(key))?.as_of(now))
}

/// A page of a service's instances, with the index read first (see [`ServiceInstances`]).
pub async fn instances<T: DiscoveryTx>(tx: &mut T, params: &ListInstancesParams) -> Result<ServiceInstances, Error> {
    let index = tx.service_index(&params.namespace, &params.service).await?;
    let now = tx.now().await?;
    let found = tx.list_instances(params, now).await?;
    let page = Page::from_overfetch(found, params.limit, |instance| vec![instance.instance_id.clone()]);
    Ok(ServiceInstances {
        service: params.service.clone(),
        index,
        instances: page.items.into_iter().map(|instance| instance.as_of(now)).collect(),
        next_cursor: page.next_cursor,
    })
}

pub async fn services<T: DiscoveryTx>(tx: &mut T, params: &ListServicesParams) -> Result<Page<ServiceSummary>, Error> {
    let now = tx.now().await?;
    let found = tx.list_services(params, now).await?;
    Ok(Page::from_overfetch(found, params.limit, |summary| vec![summary.service.clone()]))
}

/// Hands out the checks due now, each scheduled again after its interval plus its timeout (so a prober that
/// dies mid-run only delays it), and says when the next one is due.
pub async fn claim_checks<T: DiscoveryTx>(tx: &mut T, limit: u32) -> Result<Applied<DueChecks>, Error> {
    let now = tx.now().await?;
    let mut checks = Vec::new();
    for instance in tx.due_checks(now, limit).await? {
        let key = InstanceKey {
            namespace: instance.namespace.clone(),
            service: instance.service.clone(),
            instance_id: instance.instance_id.clone(),
        };
        let hold = instance.check.interval_ms().unwrap_or(0) + instance.check.timeout_ms().unwrap_or(0);
        tx.set_next_check(&key, now.plus(ms(hold))).await?;
        checks.push(DueCheck { key, check: instance.check });
    }
    let next_due_in_ms = tx.next_check_due().await?.map(|due| (due.as_millis() - now.as_millis()).max(0));
    Ok(Applied::quiet(DueChecks { checks, next_due_in_ms }))
}

/// A read-only look before [`claim_checks`]: `Some` (with when the next check is due) when none is due now, so
/// an idle prober takes no write transaction; `None` when some are.
pub async fn when_checks_due<T: DiscoveryTx>(tx: &mut T) -> Result<Option<DueChecks>, Error> {
    let now = tx.now().await?;
    let Some(next) = tx.next_check_due().await? else { return Ok(Some(DueChecks::default())) };
    if next <= now {
        return Ok(None);
    }
    Ok(Some(DueChecks { checks: Vec::new(), next_due_in_ms: Some(next.as_millis() - now.as_millis()) }))
}

/// Records one run of a check and schedules the next; moves the index only when the health changes. A result
/// for an instance that is gone, or whose check was replaced meanwhile, is dropped (`None`).
pub async fn record_check<T: DiscoveryTx>(
    tx: &mut T,
    outcome: &CheckOutcome,
) -> Result<Applied<Option<Instance>>, Error> {
    tx.lock_key(&outcome.key.namespace, &service_key(&outcome.key.service)).await?;
    let now = tx.now().await?;
    let Some(mut instance) = tx.instance(&outcome.key).await? else { return Ok(Applied::quiet(None)) };
    if instance.check != outcome.check {
        return Ok(Applied::quiet(None));
    }
    instance.next_check_at = Some(now.plus(ms(instance.check.interval_ms().unwrap_or(1000))));
    instance.checked_by = Some(outcome.checked_by.clone());
    instance.output = Some(outcome.output.clone());
    let health = if outcome.passing { Health::Passing } else { Health::Critical };
    if health == instance.health {
        tx.save_instance(&instance).await?;
        return Ok(Applied::quiet(Some(instance)));
    }
    instance.health = health;
    instance.critical_since = (health == Health::Critical).then_some(now);
    instance.updated_at = now;
    let applied = save_changed(tx, instance).await?;
    Ok(Applied::with(Some(applied.value), applied.changes))
}

pub async fn services_to_sweep<T: DiscoveryTx>(tx: &mut T, limit: u32) -> Result<Vec<(Namespace, String)>, Error> {
    let now = tx.now().await?;
    Ok(tx.services_to_sweep(now, limit).await?)
}

/// Records the service's lapsed TTL instances critical and removes those critical beyond their
/// `deregister_after`, all as one change of the index.
pub async fn sweep_service<T: DiscoveryTx>(
    tx: &mut T,
    namespace: &Namespace,
    service: &str,
) -> Result<Applied<SweepReport>, Error> {
    tx.lock_key(namespace, &service_key(service)).await?;
    let now = tx.now().await?;
    let mut report = SweepReport { services: 1, ..SweepReport::default() };
    let mut lapsed = Vec::new();
    let mut removed = Vec::new();
    for stored in tx.instances_of(namespace, service).await? {
        let recorded_critical = stored.health == Health::Critical;
        let mut instance = stored.as_of(now);
        let overdue = match (instance.critical_since, instance.deregister_after_ms) {
            (Some(since), Some(after)) if instance.health == Health::Critical => since.plus(ms(after)) <= now,
            _ => false,
        };
        if overdue {
            removed.push(instance);
        } else if !recorded_critical && instance.health == Health::Critical {
            instance.updated_at = now;
            lapsed.push(instance);
        }
    }
    if lapsed.is_empty() && removed.is_empty() {
        return Ok(Applied::quiet(SweepReport::default()));
    }
    let index = tx.bump_index(namespace, service).await?;
    for mut instance in lapsed {
        instance.modify_index = index;
        tx.save_instance(&instance).await?;
        report.lapsed += 1;
    }
    for instance in removed {
        tx.delete_instance(&InstanceKey {
            namespace: namespace.clone(),
            service: service.to_owned(),
            instance_id: instance.instance_id,
        })
        .await?;
        report.deregistered += 1;
    }
    Ok(Applied::with(report, vec![changed(namespace, service)]))
}
