//! `SqliteStore`: opening the data dir, and the store port on top of the writer and the read pool.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use baton_core::clock::{Clock, Timestamp};
use baton_core::lease::{Lease, LeaseStore};
use baton_core::lock::engine::{self, Applied};
use baton_core::lock::{
    AcquireOutcome, AcquireParams, ExpiryReport, Holder, LeaseId, ListLocksParams, LockId, LockStatus, LockStore,
    ReleaseParams, RenewParams, WaiterState,
};
use baton_core::namespace::Namespace;
use baton_core::page::{Page, encode_cursor};
use baton_core::store::{Change, Store};
use baton_core::{Error, StoreError};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Connection as _, Row, SqliteConnection, query};
use tokio::sync::broadcast;

use crate::rows::{self, store_error};
use crate::tx::SqliteTx;
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
    pub read_connections: u32,
}

impl SqliteOptions {
    pub fn new(data_dir: impl Into<PathBuf>) -> Self {
        Self { data_dir: data_dir.into(), synchronous: Synchronous::Full, read_connections: 4 }
    }
}

#[derive(Clone)]
pub struct SqliteStore {
    writer: Writer,
    readers: SqlitePool,
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
        let connect = connect_options(&options.data_dir.join(DATABASE_FILE), options.synchronous)?;

        let mut writer_conn = SqliteConnection::connect_with(&connect).await.map_err(store_error)?;
        crate::migrate::migrator()
            .run(&mut writer_conn)
            .await
            .map_err(|e| StoreError::Internal(format!("migration failed: {e}")))?;
        let readers = SqlitePoolOptions::new()
            .max_connections(options.read_connections.max(1))
            .connect_with(connect.read_only(true))
            .await
            .map_err(store_error)?;
        let (changes, _) = broadcast::channel(1024);
        Ok(Self {
            writer: Writer::start(writer_conn, clock.clone(), changes.clone()),
            readers,
            clock,
            changes,
            _data_dir_lock: Arc::new(data_dir_lock),
        })
    }

    pub fn database_path(data_dir: &Path) -> PathBuf {
        data_dir.join(DATABASE_FILE)
    }

    async fn read<T>(&self, operation: impl AsyncFnOnce(&mut SqliteTx<'_>) -> Result<T, Error>) -> Result<T, Error> {
        let mut conn = self.readers.acquire().await.map_err(store_error)?;
        let mut tx = SqliteTx::new(&mut conn, self.clock.now());
        operation(&mut tx).await
    }
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

fn connect_options(path: &Path, synchronous: Synchronous) -> Result<SqliteConnectOptions, StoreError> {
    let url = format!("sqlite://{}", path.display());
    let options = SqliteConnectOptions::from_str(&url).map_err(store_error)?;
    Ok(options
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(match synchronous {
            Synchronous::Full => SqliteSynchronous::Full,
            Synchronous::Normal => SqliteSynchronous::Normal,
        })
        .busy_timeout(Duration::from_secs(5)))
}

#[async_trait]
impl LockStore for SqliteStore {
    async fn acquire(&self, params: AcquireParams) -> Result<AcquireOutcome, Error> {
        self.writer
            .write(move |conn, now| {
                Box::pin(async move { engine::acquire(&mut SqliteTx::new(conn, now), &params).await })
            })
            .await
    }

    async fn release(&self, params: ReleaseParams) -> Result<(), Error> {
        self.writer
            .write(move |conn, now| {
                Box::pin(async move { engine::release(&mut SqliteTx::new(conn, now), &params).await })
            })
            .await
    }

    async fn renew(&self, params: RenewParams) -> Result<Holder, Error> {
        self.writer
            .write(move |conn, now| {
                Box::pin(async move {
                    let holder = engine::renew(&mut SqliteTx::new(conn, now), &params).await?;
                    Ok(Applied { value: holder, woken: Vec::new() })
                })
            })
            .await
    }

    async fn waiter_state(&self, namespace: &Namespace, key: &str, lock_id: LockId) -> Result<WaiterState, Error> {
        self.read(async |tx| engine::waiter_state(tx, namespace, key, lock_id).await).await
    }

    async fn cancel_wait(&self, namespace: &Namespace, key: &str, lock_id: LockId) -> Result<Option<Holder>, Error> {
        let (namespace, key) = (namespace.clone(), key.to_owned());
        self.writer
            .write(move |conn, now| {
                Box::pin(async move {
                    let granted = engine::cancel_wait(&mut SqliteTx::new(conn, now), &namespace, &key, lock_id).await?;
                    Ok(Applied { value: granted, woken: Vec::new() })
                })
            })
            .await
    }

    async fn status(&self, namespace: &Namespace, key: &str) -> Result<LockStatus, Error> {
        self.read(async |tx| engine::status(tx, namespace, key).await).await
    }

    async fn list(&self, params: ListLocksParams) -> Result<Page<Holder>, Error> {
        let (after_key, after_id) = params.after.clone().unzip();
        let found = query(include_str!("../queries/lock/list.sql"))
            .bind(params.namespace.as_str())
            .bind(self.clock.now().as_millis())
            .bind(params.owner.as_deref())
            .bind(params.prefix.as_deref())
            .bind(after_key)
            .bind(after_id)
            .bind(i64::from(params.limit) + 1)
            .fetch_all(&self.readers)
            .await
            .map_err(store_error)?;
        let mut items = found.iter().map(rows::holder).collect::<Result<Vec<_>, _>>()?;
        Ok(page_of(&mut items, params.limit))
    }

    async fn expire_due(&self, max_keys: u32) -> Result<ExpiryReport, Error> {
        self.writer
            .write(move |conn, now| {
                Box::pin(async move { engine::expire_due(&mut SqliteTx::new(conn, now), max_keys).await })
            })
            .await
    }
}

/// Cuts a `limit + 1` fetch down to a page, with a cursor when more rows follow.
fn page_of(items: &mut Vec<Holder>, limit: u32) -> Page<Holder> {
    let has_more = items.len() > limit as usize;
    items.truncate(limit as usize);
    let next_cursor =
        has_more.then(|| items.last().map(|h| encode_cursor(&[&h.key, &h.lock_id.to_string()]))).flatten();
    Page { items: std::mem::take(items), next_cursor }
}

fn lease_from_row(lease_id: LeaseId, row: &sqlx::sqlite::SqliteRow) -> Result<Lease, Error> {
    let get = |name: &str| row.try_get::<i64, _>(name).map_err(store_error);
    Ok(Lease {
        lease_id,
        ttl_ms: get("ttl_ms")?,
        granted_at: Timestamp(get("granted_at")?),
        expires_at: Timestamp(get("expires_at")?),
    })
}

#[async_trait]
impl LeaseStore for SqliteStore {
    async fn grant_lease(&self, namespace: &Namespace, lease_id: LeaseId, ttl_ms: i64) -> Result<Lease, Error> {
        let namespace = namespace.clone();
        self.writer
            .write(move |conn, now| {
                Box::pin(async move {
                    let row = query(include_str!("../queries/lease/grant.sql"))
                        .bind(namespace.as_str())
                        .bind(lease_id.to_string())
                        .bind(ttl_ms)
                        .bind(now.as_millis())
                        .fetch_one(&mut *conn)
                        .await
                        .map_err(store_error)?;
                    Ok(Applied { value: lease_from_row(lease_id, &row)?, woken: Vec::new() })
                })
            })
            .await
    }

    async fn keepalive_lease(&self, namespace: &Namespace, lease_id: LeaseId) -> Result<Lease, Error> {
        let namespace = namespace.clone();
        self.writer
            .write(move |conn, now| {
                Box::pin(async move {
                    let row = query(include_str!("../queries/lease/keepalive.sql"))
                        .bind(namespace.as_str())
                        .bind(lease_id.to_string())
                        .bind(now.as_millis())
                        .fetch_optional(&mut *conn)
                        .await
                        .map_err(store_error)?
                        .ok_or_else(|| Error::LeaseNotFound { lease_id: lease_id.to_string() })?;
                    Ok(Applied { value: lease_from_row(lease_id, &row)?, woken: Vec::new() })
                })
            })
            .await
    }

    async fn revoke_lease(&self, namespace: &Namespace, lease_id: LeaseId) -> Result<(), Error> {
        let namespace = namespace.clone();
        self.writer
            .write(move |conn, now| {
                Box::pin(async move { engine::revoke_lease(&mut SqliteTx::new(conn, now), &namespace, lease_id).await })
            })
            .await
    }

    async fn get_lease(&self, namespace: &Namespace, lease_id: LeaseId) -> Result<Lease, Error> {
        let row = query(include_str!("../queries/lease/get.sql"))
            .bind(namespace.as_str())
            .bind(lease_id.to_string())
            .bind(self.clock.now().as_millis())
            .fetch_optional(&self.readers)
            .await
            .map_err(store_error)?
            .ok_or_else(|| Error::LeaseNotFound { lease_id: lease_id.to_string() })?;
        lease_from_row(lease_id, &row)
    }
}

#[async_trait]
impl Store for SqliteStore {
    fn backend(&self) -> &'static str {
        "sqlite"
    }

    async fn ping(&self) -> Result<(), StoreError> {
        query("SELECT 1").execute(&self.readers).await.map_err(store_error)?;
        Ok(())
    }

    fn changes(&self) -> broadcast::Receiver<Change> {
        self.changes.subscribe()
    }
}
