//! Read-only connections for reads that need no writer: each read runs on a blocking thread with a
//! connection from this small pool. WAL mode lets them read while the writer commits.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use baton_core::clock::Clock;
use baton_core::{Error, StoreError};
use rusqlite::{Connection, OpenFlags};

use crate::rows::store_error;
use crate::tx::SqliteTx;

/// Connections kept open between reads; a burst beyond this opens and closes extra ones.
const MAX_IDLE: usize = 8;

#[derive(Clone)]
pub(crate) struct Readers {
    path: PathBuf,
    idle: Arc<Mutex<Vec<Connection>>>,
    clock: Arc<dyn Clock>,
}

impl Readers {
    pub(crate) fn new(path: &Path, clock: Arc<dyn Clock>) -> Self {
        Self { path: path.to_owned(), idle: Arc::default(), clock }
    }

    fn open(path: &Path) -> Result<Connection, StoreError> {
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(path, flags).map_err(store_error)?;
        conn.busy_timeout(std::time::Duration::from_secs(5)).map_err(store_error)?;
        crate::store::keep_plans(&conn).map_err(store_error)?;
        Ok(conn)
    }

    /// Runs `read` on a pooled connection on a blocking thread. Each statement sees the commits made before it.
    pub(crate) async fn read<T, F>(&self, read: F) -> Result<T, Error>
    where
        T: Send + 'static,
        F: FnOnce(&mut SqliteTx<'_>) -> Result<T, Error> + Send + 'static,
    {
        self.run(false, read).await
    }

    /// Like [`Readers::read`], with every statement in one snapshot, for reads whose rows must belong together.
    pub(crate) async fn read_snapshot<T, F>(&self, read: F) -> Result<T, Error>
    where
        T: Send + 'static,
        F: FnOnce(&mut SqliteTx<'_>) -> Result<T, Error> + Send + 'static,
    {
        self.run(true, read).await
    }

    async fn run<T, F>(&self, snapshot: bool, read: F) -> Result<T, Error>
    where
        T: Send + 'static,
        F: FnOnce(&mut SqliteTx<'_>) -> Result<T, Error> + Send + 'static,
    {
        let (path, idle, now) = (self.path.clone(), self.idle.clone(), self.clock.now());
        let joined = tokio::task::spawn_blocking(move || {
            let pooled = idle.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).pop();
            let conn = match pooled {
                Some(conn) => conn,
                None => Self::open(&path)?,
            };
            let result = if snapshot {
                // A read transaction: the snapshot is taken at its first read and ends with it (a rollback).
                let transaction = conn.unchecked_transaction().map_err(store_error)?;
                read(&mut SqliteTx::new(&transaction, now))
            } else {
                read(&mut SqliteTx::new(&conn, now))
            };
            let mut idle = idle.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            if idle.len() < MAX_IDLE {
                idle.push(conn);
            }
            result
        })
        .await;
        joined.map_err(|e| Error::Store(StoreError::Internal(format!("read task failed: {e}"))))?
    }
}
