//! `PgStore`: connecting, migrating, and the store port over pooled transactions.

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use baton_core::clock::{Clock, Timestamp};
use baton_core::lease::{Lease, LeaseStore};
use baton_core::lock::engine;
use baton_core::lock::{
    AcquireOutcome, AcquireParams, ExpiryReport, Holder, LeaseId, ListLocksParams, LockId, LockStatus, LockStore,
    ReleaseParams, RenewParams, WaiterState,
};
use baton_core::namespace::Namespace;
use baton_core::page::Page;
use baton_core::store::{Applied, Change, Store};
use baton_core::{Error, StoreError};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions, PgRow};
use sqlx::{AssertSqlSafe, Connection as _, Postgres, Row, Transaction, query};
use tokio::sync::broadcast;

use crate::appends::AppendQueue;
use crate::conns::Connections;
use crate::keepalives::KeepaliveQueue;
use crate::listener;
use crate::notifier::Notifier;
use crate::rows::{self, store_error};
use crate::tx::{PgTx, advisory_key};

#[derive(Clone, Debug)]
pub struct PgOptions {
    pub url: String,
    /// Use this schema instead of the connection's default (tests isolate themselves this way).
    pub schema: Option<String>,
    pub max_connections: u32,
    /// Decide expiry with this clock instead of the database's (tests only: nodes must share one clock).
    pub clock: Option<Arc<dyn Clock>>,
}

impl PgOptions {
    pub fn new(url: impl Into<String>) -> Self {
        Self { url: url.into(), schema: None, max_connections: 32, clock: None }
    }
}

#[derive(Clone)]
pub struct PgStore {
    pub(crate) conns: Arc<Connections>,
    clock: Option<Arc<dyn Clock>>,
    changes: broadcast::Sender<Change>,
    pub(crate) appends: Arc<AppendQueue>,
    keepalives: KeepaliveQueue,
    notifier: Notifier,
    /// Cache entries this node evicted for the size bounds.
    pub(crate) cache_evictions: Arc<std::sync::atomic::AtomicU64>,
}

impl PgStore {
    pub async fn connect(options: PgOptions) -> Result<Self, StoreError> {
        let mut connect = PgConnectOptions::from_str(&options.url).map_err(store_error)?;
        if let Some(schema) = &options.schema {
            connect = connect.options([("search_path", schema.as_str())]);
        }
        let pool = PgPoolOptions::new()
            .max_connections(options.max_connections.max(2))
            .acquire_timeout(Duration::from_secs(10))
            // A ping before every checkout would add a round trip to every operation; a broken connection
            // fails its statement instead, and sqlx discards it.
            .test_before_acquire(false)
            // Before a connection serves anything, it settles a crash the server may have had meanwhile.
            .after_connect(|conn, _| Box::pin(crate::crash_marker::settle(conn)))
            .connect_with(connect)
            .await
            .map_err(|e| StoreError::Unavailable(format!("cannot connect to PostgreSQL: {e}")))?;
        crate::migrate::migrator()
            .run(&pool)
            .await
            .map_err(|e| StoreError::Internal(format!("migration failed: {e}")))?;
        // On a new database the first connection came before the marker table: settle now that it exists.
        let mut conn = pool.acquire().await.map_err(store_error)?;
        crate::crash_marker::settle(&mut conn).await.map_err(store_error)?;
        drop(conn);
        let (changes, _) = broadcast::channel(1024);
        let (listening, listening_now) = tokio::sync::oneshot::channel();
        tokio::spawn(listener::run(pool.clone(), changes.clone(), listening));
        tokio::time::timeout(Duration::from_secs(10), listening_now)
            .await
            .map_err(|_| StoreError::Unavailable("cannot LISTEN for other nodes' changes".into()))?
            .map_err(|_| StoreError::Internal("the LISTEN task ended".into()))?;
        let conns = Arc::new(Connections::new(pool));
        let notifier = Notifier::start(conns.clone());
        let keepalives = KeepaliveQueue::start(conns.clone(), options.clock.clone());
        Ok(Self {
            conns,
            clock: options.clock,
            changes,
            appends: Arc::default(),
            keepalives,
            notifier,
            cache_evictions: Arc::default(),
        })
    }

    /// Closes the pool; the listener task ends with it.
    pub async fn close(&self) {
        self.conns.close().await;
    }

    /// A test clock's instant; `None` lets the database clock decide.
    pub(crate) fn test_now(&self) -> Option<Timestamp> {
        self.clock.as_ref().map(|clock| clock.now())
    }

    /// Runs one write in its own transaction, then publishes its changes, here and on other nodes.
    pub(crate) async fn write<T>(
        &self,
        operation: impl AsyncFnOnce(&mut PgTx<'_>) -> Result<Applied<T>, Error>,
    ) -> Result<T, Error> {
        self.conns
            .run(async |conn| {
                let mut transaction = conn.begin().await.map_err(store_error)?;
                let applied = operation(&mut PgTx::new(&mut transaction, self.test_now())).await?;
                self.commit(transaction, applied).await
            })
            .await
    }

    /// Like [`PgStore::write`] for an operation on one key: the transaction begins holding the key's lock, in
    /// the same round trip.
    async fn write_on_key<T>(
        &self,
        namespace: &Namespace,
        key: &str,
        operation: impl AsyncFnOnce(&mut PgTx<'_>) -> Result<Applied<T>, Error>,
    ) -> Result<T, Error> {
        self.write_holding(advisory_key(namespace, key), operation).await
    }

    /// Like [`PgStore::write`], with the transaction beginning already holding the advisory lock `key_lock`, in
    /// the same round trip.
    pub(crate) async fn write_holding<T>(
        &self,
        key_lock: i64,
        operation: impl AsyncFnOnce(&mut PgTx<'_>) -> Result<Applied<T>, Error>,
    ) -> Result<T, Error> {
        let begin = include_str!("../queries/lock/begin_locked.sql").replace("{key_lock}", &key_lock.to_string());
        self.conns
            .run(async |conn| {
                let mut transaction = conn.begin_with(AssertSqlSafe(begin)).await.map_err(store_error)?;
                let applied = operation(&mut PgTx::began_locked(&mut transaction, self.test_now(), key_lock)).await?;
                self.commit(transaction, applied).await
            })
            .await
    }

    async fn commit<T>(&self, transaction: Transaction<'_, Postgres>, applied: Applied<T>) -> Result<T, Error> {
        let Applied { value, changes } = applied;
        transaction.commit().await.map_err(store_error)?;
        self.notifier.send(listener::payloads(&changes));
        for change in changes {
            let _ = self.changes.send(change);
        }
        Ok(value)
    }

    /// Runs a one-statement lease query (`$1` namespace, `$2` lease id, `$3` test clock) that answers with the
    /// lease only while it is live.
    async fn live_lease(&self, sql: &'static str, namespace: &Namespace, lease_id: LeaseId) -> Result<Lease, Error> {
        let statement = query(sql)
            .bind(namespace.as_str())
            .bind(lease_id.to_string())
            .bind(self.test_now().map(Timestamp::as_millis));
        let row = self
            .conns
            .fetch_optional(statement)
            .await?
            .ok_or_else(|| Error::LeaseNotFound { lease_id: lease_id.to_string() })?;
        lease_from_row(lease_id, &row)
    }

    /// Runs reads in one snapshot that takes no row lock, so rows read together (a saga or workflow and its
    /// steps) belong together.
    pub(crate) async fn read_snapshot<T>(
        &self,
        operation: impl AsyncFnOnce(&mut PgTx<'_>) -> Result<T, Error>,
    ) -> Result<T, Error> {
        self.conns
            .run(async |conn| {
                let mut snapshot =
                    conn.begin_with(include_str!("../queries/saga/begin_snapshot.sql")).await.map_err(store_error)?;
                let value = operation(&mut PgTx::new(&mut snapshot, self.test_now())).await?;
                snapshot.commit().await.map_err(store_error)?;
                Ok(value)
            })
            .await
    }

    pub(crate) async fn read<T>(
        &self,
        operation: impl AsyncFnOnce(&mut PgTx<'_>) -> Result<T, Error>,
    ) -> Result<T, Error> {
        self.conns.run(async |conn| operation(&mut PgTx::new(conn, self.test_now())).await).await
    }
}

pub(crate) fn lease_from_row(lease_id: LeaseId, row: &PgRow) -> Result<Lease, Error> {
    let get = |name: &str| row.try_get::<i64, _>(name).map_err(store_error);
    Ok(Lease {
        lease_id,
        ttl_ms: get("ttl_ms")?,
        granted_at: Timestamp(get("granted_at")?),
        expires_at: Timestamp(get("expires_at")?),
    })
}

#[async_trait]
impl LockStore for PgStore {
    async fn acquire(&self, params: AcquireParams) -> Result<AcquireOutcome, Error> {
        self.write_on_key(&params.namespace, &params.key, async |tx| engine::acquire(tx, &params).await).await
    }

    async fn release(&self, params: ReleaseParams) -> Result<(), Error> {
        self.write_on_key(&params.namespace, &params.key, async |tx| engine::release(tx, &params).await).await
    }

    /// Under the key's lock, like every other write to a key: a renew that read its holder as live just before
    /// the expiry could otherwise commit after a reaper or an acquire on another node had read the holder as
    /// lapsed and granted the key to a waiter, leaving two holders.
    async fn renew(&self, params: RenewParams) -> Result<Holder, Error> {
        self.write_on_key(&params.namespace, &params.key, async |tx| {
            engine::renew(tx, &params).await.map(Applied::quiet)
        })
        .await
    }

    async fn waiter_state(&self, namespace: &Namespace, key: &str, lock_id: LockId) -> Result<WaiterState, Error> {
        self.read(async |tx| engine::waiter_state(tx, namespace, key, lock_id).await).await
    }

    async fn cancel_wait(&self, namespace: &Namespace, key: &str, lock_id: LockId) -> Result<Option<Holder>, Error> {
        self.write_on_key(namespace, key, async |tx| {
            engine::cancel_wait(tx, namespace, key, lock_id).await.map(Applied::quiet)
        })
        .await
    }

    async fn status(&self, namespace: &Namespace, key: &str) -> Result<LockStatus, Error> {
        self.read(async |tx| engine::status(tx, namespace, key).await).await
    }

    async fn list(&self, params: ListLocksParams) -> Result<Page<Holder>, Error> {
        let (after_key, after_id) = params.after.clone().unzip();
        let statement = query(include_str!("../queries/lock/list.sql"))
            .bind(params.namespace.as_str())
            .bind(self.test_now().map(Timestamp::as_millis))
            .bind(params.owner.as_deref())
            .bind(params.prefix.as_deref())
            .bind(after_key)
            .bind(after_id)
            .bind(i64::from(params.limit) + 1);
        let found = self.conns.fetch_all(statement).await?;
        let items = found.iter().map(rows::holder).collect::<Result<Vec<_>, _>>()?;
        Ok(Page::from_overfetch(items, params.limit, Holder::list_sort_key))
    }

    async fn expire_due(&self, max_keys: u32) -> Result<ExpiryReport, Error> {
        self.write(async |tx| engine::expire_due(tx, max_keys).await).await
    }
}

#[async_trait]
impl LeaseStore for PgStore {
    async fn grant_lease(&self, namespace: &Namespace, lease_id: LeaseId, ttl_ms: i64) -> Result<Lease, Error> {
        let statement = query(include_str!("../queries/lease/grant.sql"))
            .bind(namespace.as_str())
            .bind(lease_id.to_string())
            .bind(ttl_ms)
            .bind(self.test_now().map(Timestamp::as_millis));
        let row = self.conns.fetch_one(statement).await?;
        lease_from_row(lease_id, &row)
    }

    async fn keepalive_lease(&self, namespace: &Namespace, lease_id: LeaseId) -> Result<Lease, Error> {
        self.keepalives.keep_alive(namespace, lease_id).await
    }

    async fn revoke_lease(&self, namespace: &Namespace, lease_id: LeaseId) -> Result<(), Error> {
        self.write(async |tx| engine::revoke_lease(tx, namespace, lease_id).await).await
    }

    async fn get_lease(&self, namespace: &Namespace, lease_id: LeaseId) -> Result<Lease, Error> {
        self.live_lease(include_str!("../queries/lease/get.sql"), namespace, lease_id).await
    }
}

#[async_trait]
impl Store for PgStore {
    fn backend(&self) -> &'static str {
        "postgres"
    }

    async fn ping(&self) -> Result<(), StoreError> {
        self.conns.execute(query(include_str!("../queries/schema/ping.sql"))).await?;
        Ok(())
    }

    fn changes(&self) -> broadcast::Receiver<Change> {
        self.changes.subscribe()
    }
}
