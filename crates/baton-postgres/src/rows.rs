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
use baton_core::lock::engine::KeySnapshot;
use baton_core::lock::{FencingToken, Holder, LeaseId, LockId};
use baton_core::namespace::Namespace;
use baton_core::stored::StoredRow;
use serde_json::Value;
use sqlx::Row;
use sqlx::postgres::PgRow;

pub(crate) fn store_error(error: sqlx::Error) -> StoreError {
    match error {
        sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) => {
            StoreError::Unavailable(error.to_string())
        }
        other => StoreError::Internal(other.to_string()),
    }
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

pub(crate) fn holder(row: &PgRow) -> Result<Holder, StoreError> {
    let get_i64 = |name: &str| row.try_get::<i64, _>(name).map_err(store_error);
    Ok(Holder {
        lock_id: lock_id(&row.try_get::<String, _>("lock_id").map_err(store_error)?)?,
        key: row.try_get("key").map_err(store_error)?,
        owner: row.try_get("owner").map_err(store_error)?,
        fencing_token: FencingToken(get_i64("fencing_token")?),
        permits: permits(get_i64("permits")?)?,
        ttl_ms: get_i64("ttl_ms")?,
        acquired_at: Timestamp(get_i64("acquired_at")?),
        expires_at: Timestamp(get_i64("expires_at")?),
        lease_id: lease_id(row.try_get("lease_id").map_err(store_error)?)?,
        metadata: metadata(row.try_get("metadata").map_err(store_error)?)?,
    })
}

/// Decodes [`KeySnapshot`] rows: waiter counts on every row, holder columns NULL when the key has none.
pub(crate) fn key_snapshot(found: &[PgRow]) -> Result<KeySnapshot, StoreError> {
    let count = |row: &PgRow, name: &str| -> Result<u64, StoreError> {
        Ok(u64::try_from(row.try_get::<i64, _>(name).map_err(store_error)?).unwrap_or(0))
    };
    let mut snapshot = KeySnapshot::default();
    if let Some(first) = found.first() {
        snapshot.live_waiters = count(first, "live_waiters")?;
        snapshot.lapsed_waiters = count(first, "lapsed_waiters")?;
    }
    for row in found {
        if row.try_get::<Option<String>, _>("lock_id").map_err(store_error)?.is_some() {
            snapshot.holders.push(holder(row)?);
        }
    }
    Ok(snapshot)
}

/// A row as the shared record decoders (`baton_core::job::stored`) read it.
pub(crate) struct Stored<'r>(pub(crate) &'r PgRow);

impl StoredRow for Stored<'_> {
    fn text(&self, column: &str) -> Result<String, StoreError> {
        self.0.try_get(column).map_err(store_error)
    }

    fn optional_text(&self, column: &str) -> Result<Option<String>, StoreError> {
        self.0.try_get(column).map_err(store_error)
    }

    fn int(&self, column: &str) -> Result<i64, StoreError> {
        self.0.try_get(column).map_err(store_error)
    }

    fn optional_int(&self, column: &str) -> Result<Option<i64>, StoreError> {
        self.0.try_get(column).map_err(store_error)
    }

    fn flag(&self, column: &str) -> Result<bool, StoreError> {
        self.0.try_get(column).map_err(store_error)
    }

    fn optional_flag(&self, column: &str) -> Result<Option<bool>, StoreError> {
        self.0.try_get(column).map_err(store_error)
    }
}

pub(crate) fn job(row: &PgRow) -> Result<Job, StoreError> {
    stored::job(&Stored(row))
}

pub(crate) fn queue_settings(row: &PgRow) -> Result<Option<(String, QueueSettings)>, StoreError> {
    stored::queue_settings(&Stored(row))
}

pub(crate) fn schedule(row: &PgRow) -> Result<Schedule, StoreError> {
    stored::schedule(&Stored(row))
}

pub(crate) fn job_type(row: &PgRow) -> Result<JobType, StoreError> {
    stored::job_type(&Stored(row))
}

pub(crate) fn event(row: &PgRow) -> Result<RecordedEvent, StoreError> {
    event_stored::event(&Stored(row))
}

pub(crate) fn stream(row: &PgRow) -> Result<StreamRecord, StoreError> {
    event_stored::stream(&Stored(row))
}

pub(crate) fn group(row: &PgRow) -> Result<Group, StoreError> {
    event_stored::group(&Stored(row))
}

pub(crate) fn member(row: &PgRow) -> Result<Member, StoreError> {
    event_stored::member(&Stored(row))
}

pub(crate) fn checkpoint(group: &mut Group, row: &PgRow) -> Result<(), StoreError> {
    event_stored::checkpoint(group, &Stored(row))
}

pub(crate) fn namespace(text: &str) -> Result<Namespace, StoreError> {
    Namespace::parse(text).map_err(|_| corrupt("namespace"))
}

pub(crate) fn done_claim(row: &PgRow) -> Result<baton_core::claim::Claim, StoreError> {
    baton_core::claim::stored::done_claim(&Stored(row))
}
