//! `SqliteStore`: opening the data dir, and the store port on top of the writer and the readers.

use std::fs::File;
use std::path::{Path, PathBuf};
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
use futures::executor::block_on;
use rusqlite::config::DbConfig;
use rusqlite::{Connection, Row, params};
use tokio::sync::broadcast;

use crate::live_leases::{self, LiveLeases};
use crate::readers::Readers;
use crate::rows::{self, store_error};
use crate::tx::SqliteTx;
use crate::wal::WalFile;
use crate::writer::Writer;

const DATABASE_FILE: &str = "baton.db";
const LOCK_FILE: &str = "baton.lock";

/// How hard a commit waits for the disk. `Full` (the default) makes every acknowledged write survive power
/// loss; `Normal` survives a process crash but may lose the last commits on power loss.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Synchronous {
    #[default]
    Full,
    Normal,
}

#[derive(Clone, Debug)]
pub struct SqliteOptions {
    pub data_dir: PathBuf,
    pub synchronous: Synchronous,
}

impl SqliteOptions {
    pub fn new(data_dir: impl Into<PathBuf>) -> Self {
        Self { data_dir: data_dir.into(), synchronous: Synchronous::Full }
    }
}

#[derive(Clone)]
pub struct SqliteStore {
    pub(crate) writer: Writer,
    pub(crate) readers: Readers,
    /// Lease expiries kept alive in memory ahead of the tables.
    live_leases: Arc<LiveLeases>,
    clock: Arc<dyn Clock>,
    changes: broadcast::Sender<Change>,
    /// Held for the store's lifetime: the OS releases the data dir's lock when the process ends.
    _data_dir_lock: Arc<File>,
}

impl SqliteStore {
    /// Opens (creating if needed) the data dir, locks it against a second server, and migrates the schema.
    pub async fn open(options: SqliteOptions, clock: Arc<dyn Clock>) -> Result<Self, StoreError> {
        std::fs::create_dir_all(&options.data_dir)
            .map_err(|e| StoreError::Unavailable(format!("cannot create {}: {e}", options.data_dir.display())))?;
        let data_dir_lock = lock_data_dir(&options.data_dir)?;
        let path = Self::database_path(&options.data_dir);
        let (writer_conn, wal) = {
            let (path, now) = (path.clone(), clock.now());
            tokio::task::spawn_blocking(move || open_writer(&path, options.synchronous, now))
                .await
                .map_err(|e| StoreError::Internal(e.to_string()))??
        };
        let (changes, _) = broadcast::channel(1024);
        let live_leases = Arc::new(LiveLeases::default());
        Ok(Self {
            writer: Writer::start(writer_conn, wal, clock.clone(), changes.clone(), live_leases.clone())?,
            readers: Readers::new(&path, clock.clone()),
            live_leases,
            clock,
            changes,
            _data_dir_lock: Arc::new(data_dir_lock),
        })
    }

    pub fn database_path(data_dir: &Path) -> PathBuf {
        data_dir.join(DATABASE_FILE)
    }
}

/// Opens the writer's connection, migrated and with its leases refreshed, and the WAL it syncs by hand when
/// commits must be durable.
fn open_writer(
    path: &Path,
    synchronous: Synchronous,
    now: Timestamp,
) -> Result<(Connection, Option<WalFile>), StoreError> {
    let mut conn = Connection::open(path).map_err(store_error)?;
    conn.busy_timeout(Duration::from_secs(5)).map_err(store_error)?;
    keep_plans(&conn).map_err(store_error)?;
    conn.pragma_update(None, "journal_mode", "WAL").map_err(store_error)?;
    // Durable commits are synced by the writer (crate::wal), so that a batch that needs no sync skips it.
    conn.pragma_update(None, "synchronous", "NORMAL").map_err(store_error)?;
    // Every statement Baton runs fits, so hot statements are never prepared twice.
    conn.set_prepared_statement_cache_capacity(256);
    crate::migrate::run(&mut conn).map_err(|e| StoreError::Internal(format!("migration failed: {e}")))?;
    conn.execute(include_str!("../queries/lease/refresh_all.sql"), [now.as_millis()]).map_err(store_error)?;
    let wal = match synchronous {
        Synchronous::Full => Some(WalFile::open(path).map_err(|e| {
            StoreError::Unavailable(format!("cannot open the write-ahead log of {}: {e}", path.display()))
        })?),
        Synchronous::Normal => None,
    };
    Ok((conn, wal))
}

/// Turns on SQLite's query planner stability guarantee: a cached statement keeps the plan it was prepared with.
/// Without it SQLite plans some statements from their bound values (a `LIMIT ?`, say) and re-prepares them on
/// every new binding, which made the job fetch parse and plan its SQL on every call.
pub(crate) fn keep_plans(conn: &Connection) -> rusqlite::Result<()> {
    conn.set_db_config(DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG, true).map(drop)
}

fn lock_data_dir(data_dir: &Path) -> Result<File, StoreError> {
    let path = data_dir.join(LOCK_FILE);
    let file = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| StoreError::Unavailable(format!("cannot open {}: {e}", path.display())))?;
    file.try_lock()
        .map_err(|_| StoreError::Unavailable(format!("{} is in use by another Baton server", data_dir.display())))?;
    Ok(file)
}

fn lease_from_row(lease_id: LeaseId, row: &Row<'_>) -> Result<Lease, StoreError> {
    let get = |name: &str| row.get::<_, i64>(name).map_err(store_error);
    Ok(Lease {
        lease_id,
        ttl_ms: get("ttl_ms")?,
        granted_at: Timestamp(get("granted_at")?),
        expires_at: Timestamp(get("expires_at")?),
    })
}

/// Runs a lease statement (`?1` namespace, `?2` lease id, `?3` now) that answers with the lease only while it
/// is live.
fn live_lease(tx: &SqliteTx<'_>, sql: &str, namespace: &Namespace, lease_id: LeaseId) -> Result<Lease, Error> {
    let lease =
        tx.query_optional(sql, params![namespace.as_str(), lease_id.to_string(), tx.now.as_millis()], |row| {
            lease_from_row(lease_id, row)
        })?;
    lease.ok_or_else(|| Error::LeaseNotFound { lease_id: lease_id.to_string() })
}

#[async_trait]
impl LockStore for SqliteStore {
    async fn acquire(&self, params: AcquireParams) -> Result<AcquireOutcome, Error> {
        self.writer.write_durable_if(engine::reveals_a_grant, move |tx| block_on(engine::acquire(tx, &params))).await
    }

    async fn release(&self, params: ReleaseParams) -> Result<(), Error> {
        self.writer.write(move |tx| block_on(engine::release(tx, &params))).await
    }

    async fn renew(&self, params: RenewParams) -> Result<Holder, Error> {
        self.writer.write_single(move |tx| block_on(engine::renew(tx, &params)).map(Applied::quiet)).await
    }

    async fn waiter_state(&self, namespace: &Namespace, key: &str, lock_id: LockId) -> Result<WaiterState, Error> {
        let (namespace, key) = (namespace.clone(), key.to_owned());
        self.readers.read(move |tx| block_on(engine::waiter_state(tx, &namespace, &key, lock_id))).await
    }

    async fn cancel_wait(&self, namespace: &Namespace, key: &str, lock_id: LockId) -> Result<Option<Holder>, Error> {
        let (namespace, key) = (namespace.clone(), key.to_owned());
        self.writer
            .write(move |tx| block_on(engine::cancel_wait(tx, &namespace, &key, lock_id)).map(Applied::quiet))
            .await
    }

    async fn status(&self, namespace: &Namespace, key: &str) -> Result<LockStatus, Error> {
        let (namespace_owned, key) = (namespace.clone(), key.to_owned());
        let mut status = self.readers.read(move |tx| block_on(engine::status(tx, &namespace_owned, &key))).await?;
        self.live_leases.refresh_holders(namespace, &mut status.holders);
        Ok(status)
    }

    async fn list(&self, params: ListLocksParams) -> Result<Page<Holder>, Error> {
        let namespace = params.namespace.clone();
        let mut page = self
            .readers
            .read(move |tx| {
                let (after_key, after_id) = params.after.clone().unzip();
                let items = tx.query_all(
                    include_str!("../queries/lock/list.sql"),
                    params![
                        params.namespace.as_str(),
                        tx.now.as_millis(),
                        params.owner,
                        params.prefix,
                        after_key,
                        after_id,
                        i64::from(params.limit) + 1
                    ],
                    rows::holder,
                )?;
                Ok(Page::from_overfetch(items, params.limit, Holder::list_sort_key))
            })
            .await?;
        self.live_leases.refresh_holders(&namespace, &mut page.items);
        Ok(page)
    }

    async fn expire_due(&self, max_keys: u32) -> Result<ExpiryReport, Error> {
        self.writer.write(move |tx| block_on(engine::expire_due(tx, max_keys))).await
    }
}

#[async_trait]
impl LeaseStore for SqliteStore {
    async fn grant_lease(&self, namespace: &Namespace, lease_id: LeaseId, ttl_ms: i64) -> Result<Lease, Error> {
        let namespace = namespace.clone();
        self.writer
            .write_single(move |tx| {
                let lease = tx.query_optional(
                    include_str!("../queries/lease/grant.sql"),
                    params![namespace.as_str(), lease_id.to_string(), ttl_ms, tx.now.as_millis()],
                    |row| lease_from_row(lease_id, row),
                )?;
                let lease = lease.ok_or_else(|| StoreError::Internal("grant returned no row".into()))?;
                Ok(Applied::quiet(lease))
            })
            .await
    }

    /// Answered from memory while it can be (`live_leases`), as etcd's leader answers keepalives; otherwise
    /// run by the writer, committed without waiting for the disk, and taken over by memory. A power cut or a
    /// crash may take the last keepalives back, and the next start gives every lease its full TTL again
    /// (`open_writer`).
    async fn keepalive_lease(&self, namespace: &Namespace, lease_id: LeaseId) -> Result<Lease, Error> {
        if let Some(kept) = self.live_leases.keep_alive(namespace, lease_id, self.clock.as_ref()) {
            if kept.ask_flush {
                self.flush_live_leases_soon();
            }
            return Ok(kept.lease);
        }
        let (namespace, live_leases) = (namespace.clone(), self.live_leases.clone());
        self.writer
            .write_single_relaxed(move |tx| {
                let params = params![namespace.as_str(), lease_id.to_string(), tx.now.as_millis()];
                tx.execute(include_str!("../queries/lease/keepalive.sql"), params)?;
                let lease = live_lease(tx, include_str!("../queries/lease/get.sql"), &namespace, lease_id)?;
                live_leases.admit(&namespace, &lease);
                Ok(Applied::quiet(lease))
            })
            .await
    }

    async fn revoke_lease(&self, namespace: &Namespace, lease_id: LeaseId) -> Result<(), Error> {
        let (namespace, live_leases) = (namespace.clone(), self.live_leases.clone());
        self.writer
            .write(move |tx| {
                let revoked = block_on(engine::revoke_lease(tx, &namespace, lease_id))?;
                live_leases.forget(lease_id);
                Ok(revoked)
            })
            .await
    }

    async fn get_lease(&self, namespace: &Namespace, lease_id: LeaseId) -> Result<Lease, Error> {
        let namespace_owned = namespace.clone();
        let mut lease = self
            .readers
            .read(move |tx| live_lease(tx, include_str!("../queries/lease/get.sql"), &namespace_owned, lease_id))
            .await?;
        if let Some(expires_at) = self.live_leases.expiry(namespace, lease_id) {
            lease.expires_at = lease.expires_at.max(expires_at);
        }
        Ok(lease)
    }
}

impl SqliteStore {
    /// Has the writer write the expiries of keepalives answered from memory within `FLUSH_DELAY`, with an empty
    /// write if no other comes first: every transaction starts by writing them.
    fn flush_live_leases_soon(&self) {
        let writer = self.writer.clone();
        tokio::spawn(async move {
            tokio::time::sleep(live_leases::FLUSH_DELAY).await;
            // A stopped writer has nothing left to flush into.
            let _ = writer.write_single_relaxed(|_| Ok(Applied::quiet(()))).await;
        });
    }
}

#[async_trait]
impl Store for SqliteStore {
    fn backend(&self) -> &'static str {
        "sqlite"
    }

    async fn ping(&self) -> Result<(), StoreError> {
        let ping = |tx: &mut SqliteTx<'_>| {
            tx.query_optional(include_str!("../queries/schema/ping.sql"), [], |_| Ok(()))?;
            Ok(())
        };
        self.readers.read(ping).await.map_err(|error| match error {
            Error::Store(store) => store,
            other => StoreError::Internal(other.to_string()),
        })
    }

    fn changes(&self) -> broadcast::Receiver<Change> {
        self.changes.subscribe()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use baton_core::clock::{ManualClock, Timestamp};
    use baton_core::lease::LeaseStore;
    use baton_core::lock::LeaseId;
    use baton_core::namespace::Namespace;
    use rusqlite::{Connection, StatementStatus, params};

    use super::{SqliteOptions, SqliteStore, keep_plans};

    /// Keepalives commit without waiting for the disk, so a start must not let a lease lapse earlier than a
    /// keepalive a power cut took back promised: every stored lease gets its full TTL from the start.
    #[tokio::test]
    async fn a_start_gives_every_stored_lease_its_full_ttl_again() {
        let dir = tempfile::tempdir().expect("a temp dir");
        let clock = Arc::new(ManualClock::new(Timestamp(1_000_000)));
        let namespace = Namespace::default();
        let lease_id = LeaseId::new();
        {
            let store = SqliteStore::open(SqliteOptions::new(dir.path()), clock.clone()).await.expect("open");
            store.grant_lease(&namespace, lease_id, 10_000).await.expect("grant");
        }
        clock.advance(Duration::from_secs(8));
        let store = SqliteStore::open(SqliteOptions::new(dir.path()), clock.clone()).await.expect("reopen");
        let lease = store.get_lease(&namespace, lease_id).await.expect("still live");
        assert_eq!(lease.expires_at, Timestamp(1_008_000 + 10_000), "a full TTL from the start");
    }

    /// The statements SQLite would otherwise plan from their bound `LIMIT`: the job fetch and the promotion of
    /// due jobs, run as the job engine runs them, with a new limit each time.
    #[test]
    fn cached_statements_keep_their_plan_across_bindings() {
        let dir = tempfile::tempdir().expect("a temp dir");
        let mut conn = Connection::open(dir.path().join("plans.db")).expect("open");
        keep_plans(&conn).expect("QPSG");
        crate::migrate::run(&mut conn).expect("migrate");
        let fetch = include_str!("../queries/job/fetch_candidates.sql");
        let promote = include_str!("../queries/job/promote_due.sql");
        for limit in 1..=5_i64 {
            let mut statement = conn.prepare_cached(fetch).expect("prepare the fetch");
            let rows = statement
                .query_map(params!["default", "q", 0, limit, "[\"t\"]", 2], |_| Ok(()))
                .expect("run the fetch")
                .count();
            assert_eq!(rows, 0);
            assert_eq!(statement.get_status(StatementStatus::RePrepare), 0, "the fetch was planned again");
            let mut statement = conn.prepare_cached(promote).expect("prepare the promotion");
            statement.execute(params!["default", "q", 0, limit]).expect("run the promotion");
            assert_eq!(statement.get_status(StatementStatus::RePrepare), 0, "the promotion was planned again");
        }
    }
}
