//! The statements the shared lock rules run, on one PostgreSQL connection, inside one transaction.
//! `lock_key` takes a transaction-scoped advisory lock per key.

use std::collections::HashSet;

use baton_core::StoreError;
use baton_core::clock::Timestamp;
use baton_core::lock::engine::{ExpiryTx, KeySnapshot, LockTx, NewHolder, Waiter};
use baton_core::lock::{FencingToken, LeaseId, LockId};
use baton_core::namespace::Namespace;
use sqlx::postgres::PgRow;
use sqlx::{PgConnection, Row, query, query_scalar};

use crate::rows::{self, store_error};

pub(crate) struct PgTx<'c> {
    pub(crate) conn: &'c mut PgConnection,
    /// A test clock's instant, or the database clock's once read; `None` until then.
    now: Option<Timestamp>,
    /// The key whose lock the transaction took as it began, if any.
    locked_at_begin: Option<i64>,
}

impl<'c> PgTx<'c> {
    /// `now` is a test clock's instant; `None` reads the database clock when first needed.
    pub(crate) fn new(conn: &'c mut PgConnection, now: Option<Timestamp>) -> Self {
        Self { conn, now, locked_at_begin: None }
    }

    /// A transaction that began holding the lock of the key with this lock id.
    pub(crate) fn began_locked(conn: &'c mut PgConnection, now: Option<Timestamp>, key_lock: i64) -> Self {
        Self { conn, now, locked_at_begin: Some(key_lock) }
    }

    /// Whether the transaction began holding the advisory lock `key_lock`.
    pub(crate) fn began_holding(&self, key_lock: i64) -> bool {
        self.locked_at_begin == Some(key_lock)
    }

    /// The instant this transaction decides with, if it is known yet (`None`: the database clock, in SQL).
    pub(crate) fn known_now(&self) -> Option<Timestamp> {
        self.now
    }

    /// Keeps a database clock reading that came with a row, unless the transaction already has its instant.
    pub(crate) fn clock_read_with_row(&mut self, read_at: Timestamp) {
        self.now.get_or_insert(read_at);
    }

    /// Keeps the first instant this transaction learned (a test clock's wins, as it is set from the start).
    pub(crate) fn set_now_if_unset(&mut self, now: Timestamp) {
        self.now.get_or_insert(now);
    }

    async fn next_counter(&mut self, sql: &'static str) -> Result<i64, StoreError> {
        let row = query(sql).fetch_one(&mut *self.conn).await.map_err(store_error)?;
        row.try_get(0).map_err(store_error)
    }
}

impl LockTx for PgTx<'_> {
    async fn now(&mut self) -> Result<Timestamp, StoreError> {
        if let Some(now) = self.now {
            return Ok(now);
        }
        let row =
            query(include_str!("../queries/clock/now.sql")).fetch_one(&mut *self.conn).await.map_err(store_error)?;
        let now = Timestamp(row.try_get(0).map_err(store_error)?);
        self.now = Some(now);
        Ok(now)
    }

    async fn lock_key(&mut self, namespace: &Namespace, key: &str) -> Result<(), StoreError> {
        let key_lock = advisory_key(namespace, key);
        if self.locked_at_begin == Some(key_lock) {
            return Ok(());
        }
        let row = query(include_str!("../queries/lock/lock_key.sql"))
            .bind(key_lock)
            .fetch_one(&mut *self.conn)
            .await
            .map_err(store_error)?;
        // The database clock read once the key is locked; a test clock, if set, wins.
        self.now.get_or_insert(Timestamp(row.try_get(0).map_err(store_error)?));
        Ok(())
    }

    async fn purge_expired(&mut self, namespace: &Namespace, key: &str) -> Result<Vec<LockId>, StoreError> {
        let now = self.now().await?.as_millis();
        let deleted = query(include_str!("../queries/lock/purge_expired_holders.sql"))
            .bind(namespace.as_str())
            .bind(key)
            .bind(now)
            .fetch_all(&mut *self.conn)
            .await
            .map_err(store_error)?;
        query(include_str!("../queries/lock/purge_expired_waiters.sql"))
            .bind(namespace.as_str())
            .bind(key)
            .bind(now)
            .execute(&mut *self.conn)
            .await
            .map_err(store_error)?;
        deleted.iter().map(|row| rows::lock_id(&row.try_get::<String, _>(0).map_err(store_error)?)).collect()
    }

    async fn key_snapshot(&mut self, namespace: &Namespace, key: &str) -> Result<KeySnapshot, StoreError> {
        let found = query(include_str!("../queries/lock/key_snapshot.sql"))
            .bind(namespace.as_str())
            .bind(key)
            .bind(self.now.map(Timestamp::as_millis))
            .fetch_all(&mut *self.conn)
            .await
            .map_err(store_error)?;
        if let Some(row) = found.first() {
            self.now.get_or_insert(Timestamp(row.try_get("now_ms").map_err(store_error)?));
        }
        rows::key_snapshot(&found)
    }

    async fn has_waiter(&mut self, namespace: &Namespace, key: &str, lock_id: LockId) -> Result<bool, StoreError> {
        let row = query(include_str!("../queries/lock/has_waiter.sql"))
            .bind(namespace.as_str())
            .bind(key)
            .bind(lock_id.to_string())
            .bind(self.now().await?.as_millis())
            .fetch_one(&mut *self.conn)
            .await
            .map_err(store_error)?;
        Ok(row.try_get::<i64, _>(0).map_err(store_error)? > 0)
    }

    async fn oldest_waiter(&mut self, namespace: &Namespace, key: &str) -> Result<Option<Waiter>, StoreError> {
        let found = query(include_str!("../queries/lock/oldest_waiter.sql"))
            .bind(namespace.as_str())
            .bind(key)
            .bind(self.now().await?.as_millis())
            .fetch_optional(&mut *self.conn)
            .await
            .map_err(store_error)?;
        let Some(row) = found else { return Ok(None) };
        let get = |name: &str| row.try_get::<i64, _>(name).map_err(store_error);
        Ok(Some(Waiter {
            namespace: namespace.clone(),
            key: key.to_owned(),
            lock_id: rows::lock_id(&row.try_get::<String, _>("waiter_id").map_err(store_error)?)?,
            owner: row.try_get("owner").map_err(store_error)?,
            ttl_ms: get("ttl_ms")?,
            permits: rows::permits(get("permits")?)?,
            lease_id: rows::lease_id(row.try_get("lease_id").map_err(store_error)?)?,
            metadata: rows::metadata(row.try_get("metadata").map_err(store_error)?)?,
            deadline: Timestamp(get("deadline")?),
        }))
    }

    async fn insert_waiter(&mut self, waiter: &Waiter) -> Result<(), StoreError> {
        let seq = self.next_counter(include_str!("../queries/lock/next_waiter_seq.sql")).await?;
        query(include_str!("../queries/lock/insert_waiter.sql"))
            .bind(waiter.namespace.as_str())
            .bind(&waiter.key)
            .bind(waiter.lock_id.to_string())
            .bind(seq)
            .bind(&waiter.owner)
            .bind(waiter.ttl_ms)
            .bind(i64::from(waiter.permits))
            .bind(waiter.lease_id.map(|id| id.to_string()))
            .bind(waiter.metadata.as_ref().map(ToString::to_string))
            .bind(waiter.deadline.as_millis())
            .bind(self.now().await?.as_millis())
            .execute(&mut *self.conn)
            .await
            .map_err(store_error)?;
        Ok(())
    }

    async fn delete_waiter(&mut self, namespace: &Namespace, key: &str, lock_id: LockId) -> Result<bool, StoreError> {
        let done = query(include_str!("../queries/lock/delete_waiter.sql"))
            .bind(namespace.as_str())
            .bind(key)
            .bind(lock_id.to_string())
            .execute(&mut *self.conn)
            .await
            .map_err(store_error)?;
        Ok(done.rows_affected() > 0)
    }

    async fn insert_holder(&mut self, holder: &NewHolder<'_>) -> Result<FencingToken, StoreError> {
        let row = query(include_str!("../queries/lock/insert_holder.sql"))
            .bind(holder.namespace.as_str())
            .bind(holder.key)
            .bind(holder.lock_id.to_string())
            .bind(holder.owner)
            .bind(i64::from(holder.permits))
            .bind(holder.ttl_ms)
            .bind(holder.acquired_at.as_millis())
            .bind(holder.expires_at.map(Timestamp::as_millis))
            .bind(holder.lease_id.map(|id| id.to_string()))
            .bind(holder.metadata.map(ToString::to_string))
            .fetch_one(&mut *self.conn)
            .await
            .map_err(store_error)?;
        Ok(FencingToken(row.try_get(0).map_err(store_error)?))
    }

    async fn delete_holder(&mut self, namespace: &Namespace, key: &str, lock_id: LockId) -> Result<(), StoreError> {
        query(include_str!("../queries/lock/delete_holder.sql"))
            .bind(namespace.as_str())
            .bind(key)
            .bind(lock_id.to_string())
            .execute(&mut *self.conn)
            .await
            .map_err(store_error)?;
        Ok(())
    }

    async fn set_holder_expiry(
        &mut self,
        namespace: &Namespace,
        key: &str,
        lock_id: LockId,
        ttl_ms: i64,
        expires_at: Timestamp,
    ) -> Result<bool, StoreError> {
        let done = query(include_str!("../queries/lock/set_holder_expiry.sql"))
            .bind(namespace.as_str())
            .bind(key)
            .bind(lock_id.to_string())
            .bind(ttl_ms)
            .bind(expires_at.as_millis())
            .bind(self.now().await?.as_millis())
            .execute(&mut *self.conn)
            .await
            .map_err(store_error)?;
        Ok(done.rows_affected() > 0)
    }

    async fn lease_expiry(
        &mut self,
        namespace: &Namespace,
        lease_id: LeaseId,
    ) -> Result<Option<Timestamp>, StoreError> {
        let found = query(include_str!("../queries/lease/live_expiry.sql"))
            .bind(namespace.as_str())
            .bind(lease_id.to_string())
            .bind(self.now().await?.as_millis())
            .fetch_optional(&mut *self.conn)
            .await
            .map_err(store_error)?;
        found.map(|row| row.try_get::<i64, _>(0).map(Timestamp).map_err(store_error)).transpose()
    }

    async fn set_holder_metadata(
        &mut self,
        namespace: &Namespace,
        key: &str,
        lock_id: LockId,
        metadata: Option<&serde_json::Value>,
    ) -> Result<bool, StoreError> {
        let done = query(include_str!("../queries/lock/set_holder_metadata.sql"))
            .bind(namespace.as_str())
            .bind(key)
            .bind(lock_id.to_string())
            .bind(metadata.map(ToString::to_string))
            .execute(&mut *self.conn)
            .await
            .map_err(store_error)?;
        Ok(done.rows_affected() > 0)
    }
}

impl ExpiryTx for PgTx<'_> {
    async fn purge_lapsed_unwaited(&mut self, limit: u32) -> Result<usize, StoreError> {
        let now = self.now().await?.as_millis();
        let found = query(include_str!("../queries/lock/lapsed_unwaited_keys.sql"))
            .bind(now)
            .bind(i64::from(limit))
            .fetch_all(&mut *self.conn)
            .await
            .map_err(store_error)?;
        let mut keys = Vec::with_capacity(found.len());
        for row in &found {
            let (namespace, key) = namespace_and_key(row)?;
            keys.push((advisory_key(&namespace, &key), namespace, key));
        }
        if keys.is_empty() {
            return Ok(0);
        }
        let key_locks: Vec<i64> = keys.iter().map(|(key_lock, _, _)| *key_lock).collect();
        let locked: HashSet<i64> = query_scalar(include_str!("../queries/lock/try_lock_keys.sql"))
            .bind(key_locks)
            .fetch_all(&mut *self.conn)
            .await
            .map_err(store_error)?
            .into_iter()
            .collect();
        let (namespaces, keys): (Vec<String>, Vec<String>) = keys
            .into_iter()
            .filter(|(key_lock, _, _)| locked.contains(key_lock))
            .map(|(_, namespace, key)| (namespace.to_string(), key))
            .unzip();
        if keys.is_empty() {
            return Ok(0);
        }
        let purged = query(include_str!("../queries/lock/purge_lapsed_unwaited.sql"))
            .bind(now)
            .bind(namespaces)
            .bind(keys)
            .execute(&mut *self.conn)
            .await
            .map_err(store_error)?;
        Ok(usize::try_from(purged.rows_affected()).unwrap_or(usize::MAX))
    }

    async fn due_keys(&mut self, limit: u32) -> Result<Vec<(Namespace, String)>, StoreError> {
        let found = query(include_str!("../queries/lock/due_keys.sql"))
            .bind(self.now().await?.as_millis())
            .bind(i64::from(limit))
            .fetch_all(&mut *self.conn)
            .await
            .map_err(store_error)?;
        found.iter().map(namespace_and_key).collect()
    }

    async fn lease_keys(&mut self, namespace: &Namespace, lease_id: LeaseId) -> Result<Vec<String>, StoreError> {
        let found = query(include_str!("../queries/lease/keys.sql"))
            .bind(namespace.as_str())
            .bind(lease_id.to_string())
            .fetch_all(&mut *self.conn)
            .await
            .map_err(store_error)?;
        found.iter().map(|row| row.try_get(0).map_err(store_error)).collect()
    }

    async fn delete_lease_holders(
        &mut self,
        namespace: &Namespace,
        key: &str,
        lease_id: LeaseId,
    ) -> Result<(), StoreError> {
        query(include_str!("../queries/lease/delete_holders.sql"))
            .bind(namespace.as_str())
            .bind(key)
            .bind(lease_id.to_string())
            .execute(&mut *self.conn)
            .await
            .map_err(store_error)?;
        Ok(())
    }

    async fn delete_lease(&mut self, namespace: &Namespace, lease_id: LeaseId) -> Result<(), StoreError> {
        query(include_str!("../queries/lease/delete.sql"))
            .bind(namespace.as_str())
            .bind(lease_id.to_string())
            .execute(&mut *self.conn)
            .await
            .map_err(store_error)?;
        Ok(())
    }

    async fn delete_expired_leases(&mut self) -> Result<(), StoreError> {
        query(include_str!("../queries/lease/delete_expired.sql"))
            .bind(self.now().await?.as_millis())
            .execute(&mut *self.conn)
            .await
            .map_err(store_error)?;
        Ok(())
    }

    async fn next_due(&mut self) -> Result<Option<Timestamp>, StoreError> {
        let row = query(include_str!("../queries/lock/next_due.sql"))
            .fetch_one(&mut *self.conn)
            .await
            .map_err(store_error)?;
        Ok(row.try_get::<Option<i64>, _>(0).map_err(store_error)?.map(Timestamp))
    }
}

/// A `(namespace, key)` row.
fn namespace_and_key(row: &PgRow) -> Result<(Namespace, String), StoreError> {
    let namespace: String = row.try_get(0).map_err(store_error)?;
    let namespace = Namespace::parse(&namespace).map_err(|_| StoreError::Internal("bad namespace".into()))?;
    Ok((namespace, row.try_get(1).map_err(store_error)?))
}

/// The 64-bit advisory lock id of a key: FNV-1a over `namespace:key`. Every node must compute the same value,
/// so this is a fixed algorithm, not the standard library's per-process hasher. Namespaces cannot hold ':', so
/// the joined text is unambiguous.
pub(crate) fn advisory_key(namespace: &Namespace, key: &str) -> i64 {
    let text = [namespace.as_str().as_bytes(), b":", key.as_bytes()];
    let hash = text
        .iter()
        .flat_map(|part| part.iter())
        .fold(0xcbf2_9ce4_8422_2325_u64, |hash, byte| (hash ^ u64::from(*byte)).wrapping_mul(0x0000_0100_0000_01b3));
    i64::from_ne_bytes(hash.to_ne_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Nodes of different versions share one database: the lock id of a key must never change.
    #[test]
    fn advisory_key_is_stable_across_versions() {
        assert_eq!(advisory_key(&Namespace::default(), "k"), 7_095_395_701_188_006_661);
        assert_ne!(advisory_key(&Namespace::default(), "k"), advisory_key(&Namespace::parse("other").unwrap(), "k"));
    }

    /// An expiry pass reads only its share of what lapsed, through the expiry index, even on a generic plan made
    /// while the table was empty: after a restart, a union of every lapsed key sorted on each pass made a backlog
    /// of 67k lapsed claims starve the server (231 claims/s on SQLite).
    #[tokio::test]
    async fn expiry_passes_read_lapsed_holders_by_their_expiry_index() {
        let Some(mut plans) = crate::plan_check::GenericPlans::new("expiry_plans").await else { return };
        let statements = [
            ("due_keys", include_str!("../queries/lock/due_keys.sql")),
            ("lapsed_unwaited_keys", include_str!("../queries/lock/lapsed_unwaited_keys.sql")),
        ];
        for (name, sql) in statements {
            let plan = plans.explain(name, "BIGINT, BIGINT", sql, "1000, 500").await;
            let scans = crate::plan_check::scans_of(&plan, "locks");
            assert!(
                scans.iter().any(|line| line.contains("using locks_expires_at")) && plan.contains("Limit"),
                "{name} must read lapsed holders through locks_expires_at, up to its limit:\n{plan}"
            );
        }
        let plan = plans.explain("next_due", "", include_str!("../queries/lock/next_due.sql"), "").await;
        let scans = crate::plan_check::scans_of(&plan, "locks");
        assert!(
            !scans.is_empty() && scans.iter().all(|line| line.contains("using locks_expires_at")),
            "the next lapse must come from locks_expires_at, not a walk of every lock:\n{plan}"
        );
        plans.drop_schema().await;
    }

    /// The job reaper, the discovery sweep and the group reaper reach what lapsed through their indexes, even on a
    /// generic plan made while the tables were empty: with one condition over an OR, a pass read every running
    /// job (twice), every instance or every member. Lapsed jobs are then locked one by one, by ctid.
    #[tokio::test]
    async fn other_reaper_passes_reach_what_lapsed_through_their_indexes() {
        let Some(mut plans) = crate::plan_check::GenericPlans::new("reaper_plans").await else { return };
        let statements: [(&str, &str, &str, &[&str]); 4] = [
            (
                "lapsed_running",
                include_str!("../queries/job/lapsed_running.sql"),
                "jobs",
                &["using jobs_running ", "using jobs_running_deadline ", "Tid Scan on jobs "],
            ),
            (
                "next_lapse",
                include_str!("../queries/job/next_lapse.sql"),
                "jobs",
                &["using jobs_running ", "using jobs_running_deadline "],
            ),
            (
                "services_to_sweep",
                include_str!("../queries/discovery/services_to_sweep.sql"),
                "service_instances",
                &["using service_instances_expiry ", "using service_instances_critical "],
            ),
            (
                "with_lapsed_members",
                include_str!("../queries/group/with_lapsed_members.sql"),
                "event_group_members",
                &["using event_group_members_expires_at "],
            ),
        ];
        for (name, sql, table, expected) in statements {
            let (types, args) = if sql.contains("$1") { ("BIGINT, BIGINT", "1000, 500") } else { ("", "") };
            let plan = plans.explain(name, types, sql, args).await;
            let scans = crate::plan_check::scans_of(&plan, table);
            let missing: Vec<&&str> = expected.iter().filter(|needle| !plan.contains(**needle)).collect();
            assert!(
                missing.is_empty() && !scans.is_empty() && scans.iter().all(|line| !line.contains("Seq Scan")),
                "{name} must reach what lapsed through its indexes; missing {missing:?}:\n{plan}"
            );
        }
        plans.drop_schema().await;
    }
}
