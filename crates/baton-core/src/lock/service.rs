//! The lock service: validates requests, calls the store, and waits (FIFO, woken by the change feed) when a
//! caller asked to. Transports call it; it never touches SQL.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value;
use tokio_util::sync::CancellationToken;

use crate::error::{Error, ErrorCode};
use crate::limits::Limits;
use crate::lock::model::{
    AcquireOutcome, AcquireParams, Holder, LeaseId, ListLocksParams, LockId, LockStatus, ReleaseParams, RenewParams,
    WaiterState,
};
use crate::lock::reaper::ReaperHandle;
use crate::lock::waiters::{Slot, WaiterRegistry};
use crate::namespace::Namespace;
use crate::page::{Page, decode_cursor, page_size};
use crate::store::Store;

/// A store operation's future, as `async_trait` methods return it.
pub(crate) type StoreCall<'s, T> = std::pin::Pin<Box<dyn std::future::Future<Output = Result<T, Error>> + Send + 's>>;

/// How often a waiter re-reads its state if no wake-up arrives: the bounded safety net behind push wake-ups.
const WAITER_SAFETY_POLL: Duration = Duration::from_secs(1);

#[derive(Clone, Debug, Default)]
pub struct AcquireRequest {
    pub namespace: Namespace,
    pub key: String,
    pub owner: String,
    pub ttl: Duration,
    /// Wait up to this long, FIFO, if the lock is held. `None` or zero answers at once.
    pub wait: Option<Duration>,
    pub permits: Option<u32>,
    pub lease_id: Option<LeaseId>,
    pub metadata: Option<Value>,
}

#[derive(Clone, Debug, Default)]
pub struct ListLocksRequest {
    pub namespace: Namespace,
    pub owner: Option<String>,
    pub prefix: Option<String>,
    pub cursor: Option<String>,
    pub limit: Option<u32>,
}

#[derive(Clone)]
pub struct LockService {
    store: Arc<dyn Store>,
    limits: Limits,
    waiters: Arc<WaiterRegistry>,
    reaper: ReaperHandle,
}

impl LockService {
    pub fn new(store: Arc<dyn Store>, limits: Limits, reaper: ReaperHandle) -> Self {
        Self { store, limits, waiters: Arc::default(), reaper }
    }

    /// Forwards the store's wake-ups to this node's waiters until shutdown. Run it once per service.
    pub async fn run_wakeups(&self, shutdown: CancellationToken) {
        self.waiters.clone().dispatch(self.store.changes(), shutdown).await;
    }

    pub async fn acquire(&self, request: AcquireRequest) -> Result<Holder, Error> {
        self.limits.check_key("key", &request.key)?;
        self.acquire_through(request, |store, params| store.acquire(params)).await
    }

    /// Acquires (waiting when asked) through `call`, the store operation of a primitive built on locks (an
    /// election's campaign, say). Its key is a reserved one and is not checked as a client's lock key.
    pub(crate) async fn acquire_through(
        &self,
        request: AcquireRequest,
        call: impl for<'s> FnOnce(&'s dyn Store, AcquireParams) -> StoreCall<'s, AcquireOutcome>,
    ) -> Result<Holder, Error> {
        self.limits.check_owner("owner", &request.owner)?;
        let ttl_ms = self.check_ttl(request.ttl)?;
        let wait = request.wait.filter(|wait| !wait.is_zero());
        if let Some(wait) = wait
            && wait > self.limits.max_wait
        {
            return Err(Error::invalid(
                ErrorCode::InvalidArgument,
                format!("wait timeout must be at most {} seconds", self.limits.max_wait.as_secs()),
            ));
        }
        let permits = request.permits.unwrap_or(1);
        if permits == 0 || permits > self.limits.max_permits {
            return Err(Error::invalid(
                ErrorCode::InvalidArgument,
                format!("permits must be between 1 and {}", self.limits.max_permits),
            ));
        }
        self.limits.check_metadata("metadata", request.metadata.as_ref())?;

        let params = AcquireParams {
            namespace: request.namespace,
            key: request.key,
            lock_id: LockId::new(),
            owner: request.owner,
            ttl_ms,
            permits,
            lease_id: request.lease_id,
            metadata: request.metadata,
            wait_ms: wait.map(duration_ms),
            max_waiters: self.limits.max_waiters_per_key,
        };
        let registration = wait.map(|_| self.waiters.register(params.lock_id));
        // Armed before the store call: a caller that goes away while it is being queued leaves no waiter behind.
        let mut abandoned = AbandonedWait::new(self.store.clone(), &params);
        let started = Instant::now();
        let outcome = call(self.store.as_ref(), params.clone()).await;
        if !matches!(outcome, Ok(AcquireOutcome::Queued { .. })) {
            abandoned.disarm();
        }
        match outcome? {
            AcquireOutcome::Granted(holder) => {
                metrics::counter!("baton_lock_grants_total", "path" => "immediate").increment(1);
                Ok(holder)
            }
            AcquireOutcome::Held(holders) => Err(Error::LockHeld { key: params.key, holders }),
            AcquireOutcome::Queued { next_lapse_ms } => {
                let (Some(registration), Some(wait)) = (registration, wait) else {
                    return Err(Error::Store(crate::StoreError::Internal("queued without a wait".into())));
                };
                if let Some(ms) = next_lapse_ms {
                    self.reaper.pass_by(started + Duration::from_millis(u64::try_from(ms).unwrap_or(0)));
                }
                let outcome = self.wait_for_grant(&params, &registration.slot, started + wait, &mut abandoned).await;
                metrics::histogram!("baton_lock_wait_seconds").record(started.elapsed().as_secs_f64());
                outcome
            }
        }
    }

    async fn wait_for_grant(
        &self,
        params: &AcquireParams,
        slot: &Slot,
        deadline: Instant,
        abandoned: &mut AbandonedWait,
    ) -> Result<Holder, Error> {
        let timed_out = || Error::LockWaitTimeout {
            key: params.key.clone(),
            waited_ms: u64::try_from(params.wait_ms.unwrap_or(0)).unwrap_or(0),
        };
        loop {
            tokio::select! {
                () = slot.wake.notified() => {}
                () = tokio::time::sleep(WAITER_SAFETY_POLL) => {}
                () = tokio::time::sleep_until(deadline.into()) => {
                    abandoned.disarm();
                    let granted_meanwhile =
                        self.store.cancel_wait(&params.namespace, &params.key, params.lock_id).await?;
                    return match granted_meanwhile {
                        Some(holder) => Ok(holder),
                        None => {
                            metrics::counter!("baton_lock_wait_timeouts_total").increment(1);
                            Err(timed_out())
                        }
                    };
                }
            }
            let state = match slot.take_grant() {
                Some(holder) => WaiterState::Granted(holder),
                None => self.store.waiter_state(&params.namespace, &params.key, params.lock_id).await?,
            };
            match state {
                WaiterState::Waiting => continue,
                WaiterState::Granted(holder) => {
                    abandoned.disarm();
                    metrics::counter!("baton_lock_grants_total", "path" => "after_wait").increment(1);
                    return Ok(holder);
                }
                WaiterState::Gone => {
                    abandoned.disarm();
                    return Err(timed_out());
                }
            }
        }
    }

    pub async fn release(&self, namespace: Namespace, key: String, lock_id: &str, owner: String) -> Result<(), Error> {
        self.limits.check_key("key", &key)?;
        let lock_id = parse_lock_id(&key, lock_id)?;
        self.store.release(ReleaseParams { namespace, key, lock_id, owner }).await
    }

    pub async fn renew(
        &self,
        namespace: Namespace,
        key: String,
        lock_id: &str,
        owner: String,
        ttl: Option<Duration>,
    ) -> Result<Holder, Error> {
        self.limits.check_key("key", &key)?;
        let lock_id = parse_lock_id(&key, lock_id)?;
        let ttl_ms = ttl.map(|ttl| self.check_ttl(ttl)).transpose()?;
        self.store.renew(RenewParams { namespace, key, lock_id, owner, ttl_ms }).await
    }

    pub async fn status(&self, namespace: &Namespace, key: &str) -> Result<LockStatus, Error> {
        self.limits.check_key("key", key)?;
        self.store.status(namespace, key).await
    }

    pub async fn list(&self, request: ListLocksRequest) -> Result<Page<Holder>, Error> {
        let limit = page_size(request.limit)?;
        let after = match request.cursor.as_deref() {
            None | Some("") => None,
            Some(cursor) => {
                let mut parts = decode_cursor(cursor, 2)?;
                let lock_id = parts.pop().unwrap_or_default();
                Some((parts.pop().unwrap_or_default(), lock_id))
            }
        };
        if let Some(prefix) = &request.prefix
            && prefix.len() > self.limits.max_key_bytes
        {
            return Err(Error::invalid(ErrorCode::KeyTooLong, "prefix is longer than the longest key"));
        }
        let params = ListLocksParams {
            namespace: request.namespace,
            owner: request.owner,
            prefix: request.prefix.filter(|p| !p.is_empty()),
            after,
            limit,
        };
        self.store.list(params).await
    }

    fn check_ttl(&self, ttl: Duration) -> Result<i64, Error> {
        check_ttl(ttl, self.limits.max_ttl)
    }
}

/// Validates a TTL against `1s ..= max`, returning it in milliseconds.
pub(crate) fn check_ttl(ttl: Duration, max: Duration) -> Result<i64, Error> {
    if ttl < Duration::from_secs(1) || ttl > max {
        return Err(Error::invalid(
            ErrorCode::TtlOutOfRange,
            format!("ttl must be between 1 and {} seconds", max.as_secs()),
        ));
    }
    Ok(duration_ms(ttl))
}

fn duration_ms(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}

fn parse_lock_id(key: &str, raw: &str) -> Result<LockId, Error> {
    LockId::parse(raw).ok_or_else(|| Error::LockNotHeld { key: key.to_owned(), lock_id: raw.to_owned() })
}

/// Withdraws a wait whose caller went away (a dropped request): if the grant came meanwhile it is released,
/// so an abandoned caller never keeps a lock until its TTL lapses.
struct AbandonedWait {
    store: Arc<dyn Store>,
    params: Option<(Namespace, String, LockId, String)>,
}

impl AbandonedWait {
    fn new(store: Arc<dyn Store>, params: &AcquireParams) -> Self {
        let identity = (params.namespace.clone(), params.key.clone(), params.lock_id, params.owner.clone());
        Self { store, params: Some(identity) }
    }

    fn disarm(&mut self) {
        self.params = None;
    }
}

impl Drop for AbandonedWait {
    fn drop(&mut self) {
        let Some((namespace, key, lock_id, owner)) = self.params.take() else {
            return;
        };
        let store = self.store.clone();
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        runtime.spawn(async move {
            if let Ok(Some(_granted)) = store.cancel_wait(&namespace, &key, lock_id).await {
                let release = ReleaseParams { namespace, key, lock_id, owner };
                if let Err(error) = store.release(release).await {
                    tracing::warn!(%error, "could not release a grant whose waiter went away");
                }
            }
        });
    }
}
