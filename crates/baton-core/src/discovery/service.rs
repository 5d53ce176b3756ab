//! The discovery service: validates registrations and checks, and serves reads, Consul-style blocking
//! queries and watches, woken by the change feed on any node. It never runs a check itself (see `prober`).

use std::sync::Arc;
use std::time::Duration;

use futures::Stream;
use serde_json::Value;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::discovery::model::{
    CheckOutcome, DueChecks, HealthCheck, Instance, InstanceKey, ListInstancesParams, ListServicesParams,
    RegisterParams, Registered, ServiceInstances, ServiceSummary,
};
use crate::error::{Error, ErrorCode};
use crate::limits::Limits;
use crate::lock::service::check_ttl;
use crate::namespace::Namespace;
use crate::page::{MAX_PAGE_SIZE, Page, decode_cursor, page_size};
use crate::store::{Change, Followed, Store, follow_changes};
use crate::streaming::{StreamSlot, StreamSlots};
use crate::wakeups::{Wakeups, Watch};

/// Tags one instance carries at most, and the longest tag.
pub const MAX_TAGS: usize = 64;
pub const MAX_TAG_BYTES: usize = 256;
/// The longest address (a host name or an IP address).
pub const MAX_ADDRESS_BYTES: usize = 255;
/// A check runs at most this often and at least this rarely.
pub const MIN_CHECK_INTERVAL: Duration = Duration::from_secs(1);
pub const MAX_CHECK_INTERVAL: Duration = Duration::from_secs(3600);
/// A check's timeout: at least a second, at most a minute, and never longer than its interval.
pub const MAX_CHECK_TIMEOUT: Duration = Duration::from_secs(60);
pub const MAX_CHECK_URL_BYTES: usize = 2048;
/// The longest a blocking query waits; longer waits are cut to this (as Consul does).
pub const MAX_BLOCKING_WAIT: Duration = Duration::from_secs(300);
const HTTP_METHODS: [&str; 6] = ["GET", "HEAD", "POST", "PUT", "PATCH", "OPTIONS"];

/// How long a blocking query or a watch sleeps without a wake-up before it looks again: the bounded safety
/// net behind the change feed.
const WATCH_SAFETY_NET: Duration = Duration::from_secs(1);

/// A check as a client describes it: exactly one of `http` (a URL) and `tcp` (`host:port`).
#[derive(Clone, Debug, Default)]
pub struct CheckRequest {
    pub http: Option<String>,
    pub tcp: Option<String>,
    pub method: Option<String>,
    pub interval_seconds: i64,
    pub timeout_seconds: i64,
}

#[derive(Clone, Debug, Default)]
pub struct RegisterRequest {
    pub namespace: Namespace,
    pub service: String,
    pub instance_id: String,
    pub address: String,
    pub port: i64,
    pub tags: Vec<String>,
    pub metadata: Option<Value>,
    /// Exactly one of `ttl_seconds` and `check`.
    pub ttl_seconds: Option<i64>,
    pub check: Option<CheckRequest>,
    pub deregister_after_seconds: Option<i64>,
}

#[derive(Clone, Debug, Default)]
pub struct InstancesRequest {
    pub namespace: Namespace,
    pub service: String,
    pub healthy_only: bool,
    pub tags: Vec<String>,
    pub cursor: Option<String>,
    pub limit: Option<u32>,
}

#[derive(Clone)]
pub struct DiscoveryService {
    store: Arc<dyn Store>,
    limits: Limits,
    watchers: Arc<Wakeups<(Namespace, String)>>,
    /// Woken at every change of any service: the prober looks for newly due checks.
    any_change: Arc<Notify>,
    slots: StreamSlots,
}

fn invalid_check(message: impl Into<String>) -> Error {
    Error::invalid(ErrorCode::InvalidCheck, message)
}

fn seconds_ms(seconds: i64) -> i64 {
    seconds.saturating_mul(1000)
}

impl DiscoveryService {
    pub fn new(store: Arc<dyn Store>, limits: Limits, slots: StreamSlots) -> Self {
        Self { store, limits, watchers: Arc::default(), any_change: Arc::default(), slots }
    }

    /// Wakes this node's blocking queries and watches at every change of their service, here or on another
    /// node, until shutdown.
    pub async fn run_wakeups(&self, shutdown: CancellationToken) {
        follow_changes(self.store.changes(), shutdown, |followed| match followed {
            Followed::Change(Change::ServiceChanged { namespace, service }) => {
                self.watchers.wake(&(namespace, service));
                self.any_change.notify_waiters();
            }
            Followed::Lost => {
                self.watchers.wake_all();
                self.any_change.notify_waiters();
            }
            Followed::Change(_) => {}
        })
        .await;
    }

    /// Completes at the next change of any service (for the prober, which then looks for due checks).
    pub fn any_change(&self) -> Arc<Notify> {
        self.any_change.clone()
    }

    pub async fn register(&self, request: RegisterRequest) -> Result<Registered, Error> {
        let params = self.check_registration(request)?;
        self.store.register_instance(params).await
    }

    fn check_registration(&self, request: RegisterRequest) -> Result<RegisterParams, Error> {
        self.limits.check_key("the service name", &request.service)?;
        self.limits.check_key("the instance id", &request.instance_id)?;
        if request.address.is_empty()
            || request.address.len() > MAX_ADDRESS_BYTES
            || request.address.chars().any(|c| c.is_control() || c.is_whitespace())
        {
            return Err(Error::invalid(
                ErrorCode::InvalidArgument,
                format!("address must be 1 to {MAX_ADDRESS_BYTES} bytes without spaces or control characters"),
            ));
        }
        let port = u16::try_from(request.port)
            .ok()
            .filter(|port| *port > 0)
            .ok_or_else(|| Error::invalid(ErrorCode::InvalidArgument, "port must be between 1 and 65535"))?;
        check_tags(&request.tags)?;
        self.limits.check_metadata("metadata", request.metadata.as_ref())?;
        let check = match (request.ttl_seconds, request.check) {
            (Some(_), Some(_)) => return Err(invalid_check("give either ttl_seconds or check, not both")),
            (None, None) => {
                return Err(invalid_check(
                    "an instance needs ttl_seconds (it heartbeats) or a check (Baton probes it)",
                ));
            }
            (Some(ttl), None) => {
                let ttl = u64::try_from(ttl)
                    .map(Duration::from_secs)
                    .map_err(|_| Error::invalid(ErrorCode::TtlOutOfRange, "ttl_seconds must not be negative"))?;
                HealthCheck::Ttl { ttl_ms: check_ttl(ttl, self.limits.max_ttl)? }
            }
            (None, Some(check)) => check_definition(check)?,
        };
        let deregister_after_ms = match request.deregister_after_seconds {
            None => None,
            Some(seconds) if seconds >= 1 && seconds.unsigned_abs() <= self.limits.max_ttl.as_secs() => {
                Some(seconds_ms(seconds))
            }
            Some(_) => {
                return Err(Error::invalid(
                    ErrorCode::InvalidArgument,
                    format!("deregister_after_seconds must be between 1 and {}", self.limits.max_ttl.as_secs()),
                ));
            }
        };
        Ok(RegisterParams {
            namespace: request.namespace,
            service: request.service,
            instance_id: request.instance_id,
            address: request.address,
            port,
            tags: request.tags,
            metadata: request.metadata,
            check,
            deregister_after_ms,
        })
    }

    fn instance_key(&self, namespace: Namespace, service: &str, instance_id: &str) -> Result<InstanceKey, Error> {
        self.limits.check_key("the service name", service)?;
        self.limits.check_key("the instance id", instance_id)?;
        Ok(InstanceKey { namespace, service: service.to_owned(), instance_id: instance_id.to_owned() })
    }

    pub async fn heartbeat(&self, namespace: Namespace, service: &str, instance_id: &str) -> Result<Instance, Error> {
        let key = self.instance_key(namespace, service, instance_id)?;
        self.store.heartbeat_instance(key).await
    }

    pub async fn deregister(&self, namespace: Namespace, service: &str, instance_id: &str) -> Result<Instance, Error> {
        let key = self.instance_key(namespace, service, instance_id)?;
        self.store.deregister_instance(key).await
    }

    pub async fn instance(&self, namespace: Namespace, service: &str, instance_id: &str) -> Result<Instance, Error> {
        let key = self.instance_key(namespace, service, instance_id)?;
        self.store.get_instance(key).await
    }

    pub async fn services(
        &self,
        namespace: Namespace,
        cursor: Option<String>,
        limit: Option<u32>,
    ) -> Result<Page<ServiceSummary>, Error> {
        let params = ListServicesParams { namespace, after: after(cursor)?, limit: page_size(limit)? };
        self.store.list_services(params).await
    }

    fn list_params(&self, request: InstancesRequest) -> Result<ListInstancesParams, Error> {
        self.limits.check_key("the service name", &request.service)?;
        check_tags(&request.tags)?;
        Ok(ListInstancesParams {
            namespace: request.namespace,
            service: request.service,
            healthy_only: request.healthy_only,
            tags: request.tags,
            after: after(request.cursor)?,
            limit: page_size(request.limit)?,
        })
    }

    pub async fn instances(&self, request: InstancesRequest) -> Result<ServiceInstances, Error> {
        let params = self.list_params(request)?;
        self.store.service_instances(params).await
    }

    /// A Consul-style blocking query: answers at once when the service's index differs from `index` (it moved
    /// on, or went backwards because the service was recreated elsewhere), otherwise when it changes or
    /// `wait` (cut to [`MAX_BLOCKING_WAIT`]) passes, with the instances then.
    pub async fn instances_after(
        &self,
        request: InstancesRequest,
        index: i64,
        wait: Duration,
    ) -> Result<ServiceInstances, Error> {
        let params = self.list_params(request)?;
        let deadline = tokio::time::Instant::now() + wait.min(MAX_BLOCKING_WAIT);
        let watch = self.watchers.watch((params.namespace.clone(), params.service.clone()));
        loop {
            let woken = watch.notify.notified();
            tokio::pin!(woken);
            // Enabled before the read, so a change committed right after it still wakes us.
            woken.as_mut().enable();
            let current = self.store.service_instances(params.clone()).await?;
            if current.index != index || tokio::time::Instant::now() >= deadline {
                return Ok(current);
            }
            tokio::select! {
                () = &mut woken => {}
                () = tokio::time::sleep(WATCH_SAFETY_NET) => {}
                () = tokio::time::sleep_until(deadline) => {}
            }
        }
    }

    /// The service's instances now (up to the largest page), then again each time its index moves on.
    pub async fn watch(
        &self,
        request: InstancesRequest,
    ) -> Result<impl Stream<Item = Result<ServiceInstances, Error>> + Send + use<>, Error> {
        let params = self.list_params(InstancesRequest { cursor: None, limit: Some(MAX_PAGE_SIZE), ..request })?;
        let slot = self.slots.take()?;
        let watch = self.watchers.watch((params.namespace.clone(), params.service.clone()));
        let watcher = Watcher { service: self.clone(), watch, params, last: None, failed: false, _slot: slot };
        Ok(futures::stream::unfold(watcher, |mut watcher| async move {
            if watcher.failed {
                return None;
            }
            let next = watcher.next_change().await;
            watcher.failed = next.is_err();
            Some((next, watcher))
        }))
    }

    /// The prober's share: the checks due now.
    pub async fn claim_checks(&self, limit: u32) -> Result<DueChecks, Error> {
        self.store.claim_checks(limit).await
    }

    pub async fn record_check(&self, outcome: CheckOutcome) -> Result<Option<Instance>, Error> {
        let result = if outcome.passing { "passing" } else { "critical" };
        metrics::counter!("baton_discovery_checks_total", "result" => result).increment(1);
        self.store.record_check(outcome).await
    }
}

fn after(cursor: Option<String>) -> Result<Option<String>, Error> {
    match cursor.as_deref() {
        None | Some("") => Ok(None),
        Some(cursor) => Ok(Some(decode_cursor(cursor, 1)?.remove(0))),
    }
}

fn check_tags(tags: &[String]) -> Result<(), Error> {
    if tags.len() > MAX_TAGS {
        return Err(Error::invalid(
            ErrorCode::InvalidArgument,
            format!("an instance carries at most {MAX_TAGS} tags; this one has {}", tags.len()),
        ));
    }
    for tag in tags {
        if tag.is_empty() || tag.len() > MAX_TAG_BYTES || tag.chars().any(char::is_control) {
            return Err(Error::invalid(
                ErrorCode::InvalidArgument,
                format!("a tag is 1 to {MAX_TAG_BYTES} bytes without control characters"),
            ));
        }
    }
    Ok(())
}

/// Validates a check: one target, an interval of 1 s to 1 h, a timeout of 1 s to a minute and no longer than the
/// interval.
fn check_definition(check: CheckRequest) -> Result<HealthCheck, Error> {
    let interval = check.interval_seconds;
    let (min, max) = (MIN_CHECK_INTERVAL.as_secs() as i64, MAX_CHECK_INTERVAL.as_secs() as i64);
    if !(min..=max).contains(&interval) {
        return Err(invalid_check(format!("interval_seconds must be between {min} and {max}")));
    }
    let timeout = check.timeout_seconds;
    let max_timeout = (MAX_CHECK_TIMEOUT.as_secs() as i64).min(interval);
    if !(1..=max_timeout).contains(&timeout) {
        return Err(invalid_check(format!(
            "timeout_seconds must be between 1 and {max_timeout} (at most a minute, and no longer than the interval)"
        )));
    }
    let (interval_ms, timeout_ms) = (seconds_ms(interval), seconds_ms(timeout));
    match (check.http, check.tcp) {
        (Some(url), None) => {
            check_url(&url)?;
            let method = check.method.unwrap_or_else(|| "GET".to_owned()).to_ascii_uppercase();
            if !HTTP_METHODS.contains(&method.as_str()) {
                return Err(invalid_check(format!("method must be one of {}", HTTP_METHODS.join(", "))));
            }
            Ok(HealthCheck::Http { url, method, interval_ms, timeout_ms })
        }
        (None, Some(address)) => {
            if check.method.is_some() {
                return Err(invalid_check("a TCP check takes no method"));
            }
            check_host_port(&address)?;
            Ok(HealthCheck::Tcp { address, interval_ms, timeout_ms })
        }
        (Some(_), Some(_)) => Err(invalid_check("a check is either http or tcp, not both")),
        (None, None) => Err(invalid_check("a check needs http (a URL) or tcp (host:port)")),
    }
}

/// An `http://` or `https://` URL with a host, without spaces or control characters. The prober's HTTP client
/// parses it fully; this refuses what can never work before it is stored.
fn check_url(url: &str) -> Result<(), Error> {
    let bad = || invalid_check("http must be an http:// or https:// URL with a host");
    if url.len() > MAX_CHECK_URL_BYTES {
        return Err(invalid_check(format!("the check URL is longer than {MAX_CHECK_URL_BYTES} bytes")));
    }
    if url.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err(bad());
    }
    let rest = url.strip_prefix("http://").or_else(|| url.strip_prefix("https://")).ok_or_else(bad)?;
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host_port = authority.rsplit('@').next().unwrap_or_default();
    if host_port.is_empty() || host_port.starts_with(':') {
        return Err(bad());
    }
    if let Some((host, port)) = host_port.rsplit_once(':')
        && !host.ends_with(']')
        && (host.is_empty() || port.parse::<u16>().map_or(true, |port| port == 0))
    {
        return Err(bad());
    }
    Ok(())
}

/// `host:port`, the port 1 to 65535 (an IPv6 host in brackets).
fn check_host_port(address: &str) -> Result<(), Error> {
    let bad = || invalid_check("tcp must be host:port with a port between 1 and 65535");
    if address.len() > MAX_ADDRESS_BYTES + 6 || address.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err(bad());
    }
    let (host, port) = address.rsplit_once(':').ok_or_else(bad)?;
    match port.parse::<u16>() {
        Ok(port) if port > 0 && !host.is_empty() => Ok(()),
        _ => Err(bad()),
    }
}

/// One watcher of a service: the index it last reported, and its wake-up.
struct Watcher {
    service: DiscoveryService,
    watch: Watch<(Namespace, String)>,
    params: ListInstancesParams,
    /// `None` before the first report.
    last: Option<i64>,
    failed: bool,
    _slot: StreamSlot,
}

impl Watcher {
    async fn next_change(&mut self) -> Result<ServiceInstances, Error> {
        loop {
            let woken = self.watch.notify.notified();
            tokio::pin!(woken);
            woken.as_mut().enable();
            let current = self.service.store.service_instances(self.params.clone()).await?;
            if self.last != Some(current.index) {
                self.last = Some(current.index);
                return Ok(current);
            }
            tokio::select! {
                () = &mut woken => {}
                () = tokio::time::sleep(WATCH_SAFETY_NET) => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn http(url: &str) -> CheckRequest {
        CheckRequest { http: Some(url.into()), interval_seconds: 10, timeout_seconds: 2, ..CheckRequest::default() }
    }

    #[test]
    fn checks_are_validated_before_they_are_stored() {
        assert!(check_definition(http("http://127.0.0.1:8080/health")).is_ok());
        assert!(check_definition(http("https://api.example.com")).is_ok());
        assert!(check_definition(http("http://[::1]:80/h")).is_ok());
        for bad in ["ftp://x", "http://", "http://:80/", "http://h:0/", "http://h:99999", "not a url", "http://a b"] {
            let error = check_definition(http(bad)).unwrap_err();
            assert_eq!(error.code(), ErrorCode::InvalidCheck, "{bad}");
        }
        let tcp = |address: &str| CheckRequest {
            tcp: Some(address.into()),
            interval_seconds: 5,
            timeout_seconds: 1,
            ..CheckRequest::default()
        };
        assert!(check_definition(tcp("db.internal:5432")).is_ok());
        for bad in ["db.internal", ":5432", "h:0", "h:x"] {
            assert_eq!(check_definition(tcp(bad)).unwrap_err().code(), ErrorCode::InvalidCheck, "{bad}");
        }
        let slow = CheckRequest { interval_seconds: 5, timeout_seconds: 6, ..http("http://h/") };
        assert_eq!(check_definition(slow).unwrap_err().code(), ErrorCode::InvalidCheck);
        let rare = CheckRequest { interval_seconds: 0, ..http("http://h/") };
        assert_eq!(check_definition(rare).unwrap_err().code(), ErrorCode::InvalidCheck);
        let both = CheckRequest { tcp: Some("h:1".into()), ..http("http://h/") };
        assert_eq!(check_definition(both).unwrap_err().code(), ErrorCode::InvalidCheck);
        let verb = CheckRequest { method: Some("BREW".into()), ..http("http://h/") };
        assert_eq!(check_definition(verb).unwrap_err().code(), ErrorCode::InvalidCheck);
    }
}
