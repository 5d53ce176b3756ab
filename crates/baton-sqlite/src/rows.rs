//! Decoding of stored rows into domain types. Ids and JSON are stored as text.

use baton_core::StoreError;
use baton_core::clock::Timestamp;
use baton_core::event::group::{Group, Member};
use baton_core::event::stored as event_stored;
use baton_core::event::{RecordedEvent, StreamRecord};
use baton_core::job::job_type::JobType;
use baton_core::job::schedule::Schedule;
use baton_core::job::stored;
use baton_core::job::{Job, QueueSettings};
use baton_core::lock::engine::{KeySnapshot, Waiter};
use baton_core::lock::{FencingToken, Holder, LeaseId, LockId};
use baton_core::namespace::Namespace;
use baton_core::stored::StoredRow;
use rusqlite::Row;
use serde_json::Value;

pub(crate) fn store_error(error: rusqlite::Error) -> StoreError {
    StoreError::Internal(error.to_string())
}

fn corrupt(what: &str) -> StoreError {
    StoreError::Internal(format!("stored {what} does not parse"))
}

pub(crate) fn lock_id(text: &str) -> Result<LockId, StoreError> {
    LockId::parse(text).ok_or_else(|| corrupt("lock id"))
}

pub(crate) fn lease_id(text: Option<String>) -> Result<Option<LeaseId>, StoreError> {
    text.map(|t| LeaseId::parse(&t).ok_or_else(|| corrupt("lease id"))).transpose()
}

pub(crate) fn metadata(text: Option<String>) -> Result<Option<Value>, StoreError> {
    text.map(|t| serde_json::from_str(&t).map_err(|_| corrupt("metadata"))).transpose()
}

pub(crate) fn permits(value: i64) -> Result<u32, StoreError> {
    u32::try_from(value).map_err(|_| corrupt("permits"))
}

pub(crate) fn holder(row: &Row<'_>) -> Result<Holder, StoreError> {
    holder_of(&Stored::new(row))
}

fn holder_of(row: &Stored<'_, '_>) -> Result<Holder, StoreError> {
    Ok(Holder {
        lock_id: lock_id(&row.get::<String>("lock_id")?)?,
        key: row.get("key")?,
        owner: row.get("owner")?,
        fencing_token: FencingToken(row.get("fencing_token")?),
        permits: permits(row.get("permits")?)?,
        ttl_ms: row.get("ttl_ms")?,
        acquired_at: Timestamp(row.get("acquired_at")?),
        expires_at: Timestamp(row.get("expires_at")?),
        lease_id: lease_id(row.get("lease_id")?)?,
        metadata: metadata(row.get("metadata")?)?,
    })
}

pub(crate) fn waiter(namespace: &Namespace, key: &str, row: &Row<'_>) -> Result<Waiter, StoreError> {
    let row = Stored::new(row);
    Ok(Waiter {
        namespace: namespace.clone(),
        key: key.to_owned(),
        lock_id: lock_id(&row.get::<String>("waiter_id")?)?,
        owner: row.get("owner")?,
        ttl_ms: row.get("ttl_ms")?,
        permits: permits(row.get("permits")?)?,
        lease_id: lease_id(row.get("lease_id")?)?,
        metadata: metadata(row.get("metadata")?)?,
        deadline: Timestamp(row.get("deadline")?),
    })
}

/// Folds [`KeySnapshot`] rows: waiter counts on every row, holder columns NULL when the key has none.
pub(crate) fn fold_key_snapshot(snapshot: &mut KeySnapshot, row: &Row<'_>) -> Result<(), StoreError> {
    let row = Stored::new(row);
    let count = |name: &str| -> Result<u64, StoreError> { Ok(u64::try_from(row.get::<i64>(name)?).unwrap_or(0)) };
    snapshot.live_waiters = count("live_waiters")?;
    snapshot.lapsed_waiters = count("lapsed_waiters")?;
    if row.get::<Option<String>>("lock_id")?.is_some() {
        snapshot.holders.push(holder_of(&row)?);
    }
    Ok(())
}

/// A row as the shared record decoders (`baton_core::job::stored`) read it. The column names are read once
/// per row: rusqlite's lookup by name asks SQLite for every column's name on every call, which was a tenth of
/// the writer's time when decoding jobs.
pub(crate) struct Stored<'r, 's> {
    row: &'r Row<'s>,
    names: Vec<&'r str>,
}

impl<'r, 's> Stored<'r, 's> {
    pub(crate) fn new(row: &'r Row<'s>) -> Self {
        Self { row, names: row.as_ref().column_names() }
    }

    fn get<T: rusqlite::types::FromSql>(&self, column: &str) -> Result<T, StoreError> {
        let index = self
            .names
            .iter()
            .position(|name| *name == column)
            .ok_or_else(|| StoreError::Internal(format!("no column named {column}")))?;
        self.row.get(index).map_err(store_error)
    }
}

impl StoredRow for Stored<'_, '_> {
    fn text(&self, column: &str) -> Result<String, StoreError> {
        self.get(column)
    }

    fn optional_text(&self, column: &str) -> Result<Option<String>, StoreError> {
        self.get(column)
    }

    fn int(&self, column: &str) -> Result<i64, StoreError> {
        self.get(column)
    }

    fn optional_int(&self, column: &str) -> Result<Option<i64>, StoreError> {
        self.get(column)
    }

    fn flag(&self, column: &str) -> Result<bool, StoreError> {
        self.get(column)
    }

    fn optional_flag(&self, column: &str) -> Result<Option<bool>, StoreError> {
        self.get(column)
    }
}

pub(crate) fn job(row: &Row<'_>) -> Result<Job, StoreError> {
    stored::job(&Stored::new(row))
}

pub(crate) fn queue_settings(row: &Row<'_>) -> Result<Option<(String, QueueSettings)>, StoreError> {
    stored::queue_settings(&Stored::new(row))
}

pub(crate) fn schedule(row: &Row<'_>) -> Result<Schedule, StoreError> {
    stored::schedule(&Stored::new(row))
}

pub(crate) fn job_type(row: &Row<'_>) -> Result<JobType, StoreError> {
    stored::job_type(&Stored::new(row))
}

pub(crate) fn event(row: &Row<'_>) -> Result<RecordedEvent, StoreError> {
    event_stored::event(&Stored::new(row))
}

pub(crate) fn stream(row: &Row<'_>) -> Result<StreamRecord, StoreError> {
    event_stored::stream(&Stored::new(row))
}

pub(crate) fn group(row: &Row<'_>) -> Result<Group, StoreError> {
    event_stored::group(&Stored::new(row))
}

pub(crate) fn member(row: &Row<'_>) -> Result<Member, StoreError> {
    event_stored::member(&Stored::new(row))
}

pub(crate) fn checkpoint(group: &mut Group, row: &Row<'_>) -> Result<(), StoreError> {
    event_stored::checkpoint(group, &Stored::new(row))
}

pub(crate) fn namespace(text: &str) -> Result<Namespace, StoreError> {
    Namespace::parse(text).map_err(|_| corrupt("namespace"))
}

pub(crate) fn done_claim(row: &Row<'_>) -> Result<baton_core::claim::Claim, StoreError> {
    baton_core::claim::stored::done_claim(&Stored::new(row))
}
