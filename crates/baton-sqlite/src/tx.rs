//! The statements the shared lock rules run, on one SQLite connection. The writer thread serialises every
//! write, so `lock_key` has nothing to do here. Every method completes without awaiting: the engine's futures
//! are driven to completion in place on the connection's thread.

use baton_core::StoreError;
use baton_core::clock::Timestamp;
use baton_core::lock::engine::{ExpiryTx, KeySnapshot, LockTx, NewHolder, Waiter};
use baton_core::lock::{FencingToken, LeaseId, LockId};
use baton_core::namespace::Namespace;
use rusqlite::{Connection, Params, Row, params};

use crate::rows::{self, store_error};

pub(crate) struct SqliteTx<'c> {
    pub(crate) conn: &'c Connection,
    pub(crate) now: Timestamp,
}

impl<'c> SqliteTx<'c> {
    pub(crate) fn new(conn: &'c Connection, now: Timestamp) -> Self {
        Self { conn, now }
    }

    /// Runs a cached statement and returns how many rows it changed.
    pub(crate) fn execute(&self, sql: &str, params: impl Params) -> Result<usize, StoreError> {
        self.conn.prepare_cached(sql).and_then(|mut statement| statement.execute(params)).map_err(store_error)
    }

    /// Runs a cached query and maps its first row, if any.
    pub(crate) fn query_optional<T>(
        &self,
        sql: &str,
        params: impl Params,
        map: impl FnOnce(&Row<'_>) -> Result<T, StoreError>,
    ) -> Result<Option<T>, StoreError> {
        let mut statement = self.conn.prepare_cached(sql).map_err(store_error)?;
        let mut found = statement.query(params).map_err(store_error)?;
        match found.next().map_err(store_error)? {
            Some(row) => map(row).map(Some),
            None => Ok(None),
        }
    }

    /// Runs a cached query and maps every row.
    pub(crate) fn query_all<T>(
        &self,
        sql: &str,
        params: impl Params,
        mut map: impl FnMut(&Row<'_>) -> Result<T, StoreError>,
    ) -> Result<Vec<T>, StoreError> {
        let mut statement = self.conn.prepare_cached(sql).map_err(store_error)?;
        let mut found = statement.query(params).map_err(store_error)?;
        let mut out = Vec::new();
        while let Some(row) = found.next().map_err(store_error)? {
            out.push(map(row)?);
        }
        Ok(out)
    }

    /// Runs a cached `count(*)` query.
    pub(crate) fn count(&self, sql: &str, params: impl Params) -> Result<u64, StoreError> {
        let count: i64 = self
            .conn
            .prepare_cached(sql)
            .and_then(|mut s| s.query_row(params, |row| row.get(0)))
            .map_err(store_error)?;
        Ok(u64::try_from(count).unwrap_or(0))
    }

    /// Advances a counter of `baton_counters` and reads its new value.
    fn next_counter(&self, name: &str) -> Result<i64, StoreError> {
        self.execute(include_str!("../queries/lock/bump_counter.sql"), [name])?;
        self.conn
            .prepare_cached(include_str!("../queries/lock/counter.sql"))
            .and_then(|mut statement| statement.query_row([name], |row| row.get(0)))
            .map_err(store_error)
    }
}

impl LockTx for SqliteTx<'_> {
    async fn now(&mut self) -> Result<Timestamp, StoreError> {
        Ok(self.now)
    }

    async fn lock_key(&mut self, _namespace: &Namespace, _key: &str) -> Result<(), StoreError> {
        Ok(())
    }

    async fn purge_expired(&mut self, namespace: &Namespace, key: &str) -> Result<Vec<LockId>, StoreError> {
        let args = params![namespace.as_str(), key, self.now.as_millis()];
        let deleted = self.query_all(include_str!("../queries/lock/purge_expired_holders.sql"), args, |row| {
            rows::lock_id(&row.get::<_, String>(0).map_err(store_error)?)
        })?;
        self.execute(include_str!("../queries/lock/purge_expired_waiters.sql"), args)?;
        Ok(deleted)
    }

    async fn key_snapshot(&mut self, namespace: &Namespace, key: &str) -> Result<KeySnapshot, StoreError> {
        let mut snapshot = KeySnapshot::default();
        self.query_all(
            include_str!("../queries/lock/key_snapshot.sql"),
            params![namespace.as_str(), key, self.now.as_millis()],
            |row| rows::fold_key_snapshot(&mut snapshot, row),
        )?;
        snapshot.holders.sort_by_key(|holder| holder.fencing_token);
        Ok(snapshot)
    }

    async fn has_waiter(&mut self, namespace: &Namespace, key: &str, lock_id: LockId) -> Result<bool, StoreError> {
        let count = self.query_optional(
            include_str!("../queries/lock/has_waiter.sql"),
            params![namespace.as_str(), key, lock_id.to_string(), self.now.as_millis()],
            |row| row.get::<_, i64>(0).map_err(store_error),
        )?;
        Ok(count.unwrap_or(0) > 0)
    }

    async fn oldest_waiter(&mut self, namespace: &Namespace, key: &str) -> Result<Option<Waiter>, StoreError> {
        self.query_optional(
            include_str!("../queries/lock/oldest_waiter.sql"),
            params![namespace.as_str(), key, self.now.as_millis()],
            |row| rows::waiter(namespace, key, row),
        )
    }

    async fn insert_waiter(&mut self, waiter: &Waiter) -> Result<(), StoreError> {
        let seq = self.next_counter("waiter_seq")?;
        self.execute(
            include_str!("../queries/lock/insert_waiter.sql"),
            params![
                waiter.namespace.as_str(),
                waiter.key,
                waiter.lock_id.to_string(),
                seq,
                waiter.owner,
                waiter.ttl_ms,
                i64::from(waiter.permits),
                waiter.lease_id.map(|id| id.to_string()),
                waiter.metadata.as_ref().map(ToString::to_string),
                waiter.deadline.as_millis(),
                self.now.as_millis(),
            ],
        )?;
        Ok(())
    }

    async fn delete_waiter(&mut self, namespace: &Namespace, key: &str, lock_id: LockId) -> Result<bool, StoreError> {
        let deleted = self.execute(
            include_str!("../queries/lock/delete_waiter.sql"),
            params![namespace.as_str(), key, lock_id.to_string()],
        )?;
        Ok(deleted > 0)
    }

    async fn insert_holder(&mut self, holder: &NewHolder<'_>) -> Result<FencingToken, StoreError> {
        let token = self.next_counter("fencing_token")?;
        self.execute(
            include_str!("../queries/lock/insert_holder.sql"),
            params![
                holder.namespace.as_str(),
                holder.key,
                holder.lock_id.to_string(),
                holder.owner,
                token,
                i64::from(holder.permits),
                holder.ttl_ms,
                holder.acquired_at.as_millis(),
                holder.expires_at.map(Timestamp::as_millis),
                holder.lease_id.map(|id| id.to_string()),
                holder.metadata.map(ToString::to_string),
            ],
        )?;
        Ok(FencingToken(token))
    }

    async fn delete_holder(&mut self, namespace: &Namespace, key: &str, lock_id: LockId) -> Result<(), StoreError> {
        self.execute(
            include_str!("../queries/lock/delete_holder.sql"),
            params![namespace.as_str(), key, lock_id.to_string()],
        )?;
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
        let updated = self.execute(
            include_str!("../queries/lock/set_holder_expiry.sql"),
            params![namespace.as_str(), key, lock_id.to_string(), ttl_ms, expires_at.as_millis(), self.now.as_millis()],
        )?;
        Ok(updated > 0)
    }

    async fn lease_expiry(
        &mut self,
        namespace: &Namespace,
        lease_id: LeaseId,
    ) -> Result<Option<Timestamp>, StoreError> {
        self.query_optional(
            include_str!("../queries/lease/live_expiry.sql"),
            params![namespace.as_str(), lease_id.to_string(), self.now.as_millis()],
            |row| row.get::<_, i64>(0).map(Timestamp).map_err(store_error),
        )
    }

    async fn set_holder_metadata(
        &mut self,
        namespace: &Namespace,
        key: &str,
        lock_id: LockId,
        metadata: Option<&serde_json::Value>,
    ) -> Result<bool, StoreError> {
        let updated = self.execute(
            include_str!("../queries/lock/set_holder_metadata.sql"),
            params![namespace.as_str(), key, lock_id.to_string(), metadata.map(ToString::to_string)],
        )?;
        Ok(updated > 0)
    }
}

impl ExpiryTx for SqliteTx<'_> {
    async fn purge_lapsed_unwaited(&mut self, limit: u32) -> Result<usize, StoreError> {
        self.execute(
            include_str!("../queries/lock/purge_lapsed_unwaited.sql"),
            params![self.now.as_millis(), i64::from(limit)],
        )
    }

    async fn due_keys(&mut self, limit: u32) -> Result<Vec<(Namespace, String)>, StoreError> {
        self.query_all(
            include_str!("../queries/lock/due_keys.sql"),
            params![self.now.as_millis(), i64::from(limit)],
            |row| {
                let namespace: String = row.get(0).map_err(store_error)?;
                let namespace =
                    Namespace::parse(&namespace).map_err(|_| StoreError::Internal("bad namespace".into()))?;
                Ok((namespace, row.get(1).map_err(store_error)?))
            },
        )
    }

    async fn lease_keys(&mut self, namespace: &Namespace, lease_id: LeaseId) -> Result<Vec<String>, StoreError> {
        self.query_all(
            include_str!("../queries/lease/keys.sql"),
            params![namespace.as_str(), lease_id.to_string()],
            |row| row.get(0).map_err(store_error),
        )
    }

    async fn delete_lease_holders(
        &mut self,
        namespace: &Namespace,
        key: &str,
        lease_id: LeaseId,
    ) -> Result<(), StoreError> {
        self.execute(
            include_str!("../queries/lease/delete_holders.sql"),
            params![namespace.as_str(), key, lease_id.to_string()],
        )?;
        Ok(())
    }

    async fn delete_lease(&mut self, namespace: &Namespace, lease_id: LeaseId) -> Result<(), StoreError> {
        self.execute(include_str!("../queries/lease/delete.sql"), params![namespace.as_str(), lease_id.to_string()])?;
        Ok(())
    }

    async fn delete_expired_leases(&mut self) -> Result<(), StoreError> {
        self.execute(include_str!("../queries/lease/delete_expired.sql"), params![self.now.as_millis()])?;
        Ok(())
    }

    async fn next_due(&mut self) -> Result<Option<Timestamp>, StoreError> {
        let due = self.query_optional(include_str!("../queries/lock/next_due.sql"), [], |row| {
            row.get::<_, Option<i64>>(0).map_err(store_error)
        })?;
        Ok(due.flatten().map(Timestamp))
    }
}

#[cfg(test)]
mod tests {
    use rusqlite::Connection;

    /// Each statement's plan, one detail per line.
    fn plan_of(conn: &Connection, sql: &str, params: impl rusqlite::Params) -> String {
        let mut statement = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).expect("explain");
        let details = statement.query_map(params, |row| row.get::<_, String>(3)).expect("plan");
        details.map(|detail| detail.expect("a plan line")).collect::<Vec<_>>().join("\n")
    }

    /// Regressions, each a reaper pass that read a whole table: the lock reaper's next lapse (7 ms with 80k held
    /// claims, on every pass) and its backlog (all of it sorted on each pass); the job reaper (every running job
    /// twice, about 16 ms a pass with 20,000 of them, in the writer); the discovery sweep and the group reaper
    /// (every instance, every member). Each statement reaches what lapsed through the indexes named here.
    #[test]
    fn reaper_statements_reach_what_lapsed_through_their_indexes() {
        let mut conn = Connection::open_in_memory().expect("open");
        crate::migrate::run(&mut conn).expect("migrate");
        let pass: &[i64] = &[1_000, 500];
        let statements: [(&str, &str, &[&str], &[i64]); 7] = [
            (include_str!("../queries/lock/next_due.sql"), "locks", &["locks_expires_at"], &[]),
            (include_str!("../queries/lock/due_keys.sql"), "locks", &["locks_expires_at"], pass),
            (include_str!("../queries/lock/purge_lapsed_unwaited.sql"), "locks", &["locks_expires_at"], pass),
            (
                include_str!("../queries/job/lapsed_running.sql"),
                "jobs",
                &["jobs_running", "jobs_running_deadline"],
                pass,
            ),
            (include_str!("../queries/job/next_lapse.sql"), "jobs", &["jobs_running", "jobs_running_deadline"], &[]),
            (
                include_str!("../queries/discovery/services_to_sweep.sql"),
                "service_instances",
                &["service_instances_expiry", "service_instances_critical"],
                pass,
            ),
            (
                include_str!("../queries/group/with_lapsed_members.sql"),
                "event_group_members",
                &["event_group_members_expires_at"],
                pass,
            ),
        ];
        for (sql, table, indexes, params) in statements {
            let plan = plan_of(&conn, sql, rusqlite::params_from_iter(params));
            let names_an_index = |line: &str| line.split_whitespace().any(|word| indexes.contains(&word));
            // A walk of the whole table reads as a search of its primary key with no key given, or as a scan that
            // is not one of these indexes (a scan of one of them is the first entry, for a minimum).
            let walks_the_table = plan.lines().any(|line| {
                line == format!("SEARCH {table} USING PRIMARY KEY")
                    || (line.starts_with(&format!("SCAN {table}")) && !names_an_index(line))
            });
            let missing: Vec<&&str> =
                indexes.iter().filter(|index| !plan.split_whitespace().any(|word| word == **index)).collect();
            assert!(missing.is_empty() && !walks_the_table, "{sql}\nmissing {missing:?}\n{plan}");
        }
    }
}
