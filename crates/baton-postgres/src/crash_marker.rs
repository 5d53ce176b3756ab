//! Lease keepalives commit without waiting for PostgreSQL's WAL flush (`queries/lease/keepalive_many.sql`), so
//! a crash of the server may take back keepalives that were answered. A lease must not then lapse earlier than its
//! holder was told, or a lock bound to it could be granted to another while its holder still acts.
//!
//! The crash marker is a row in an unlogged table, which PostgreSQL empties when it recovers from a crash (and
//! which a promoted standby never had). Every connection checks it before it serves anything: all connections
//! die with a crash, so none can act on the state a crash left before the check. The first to find it missing
//! gives every lease its full TTL from now, as etcd's new leader does, then sets it again.

use sqlx::{Connection as _, PgConnection, query, query_scalar};

/// PostgreSQL's code for a table that does not exist: the database is not migrated yet.
const UNDEFINED_TABLE: &str = "42P01";

/// Settles a crash, if one happened since the marker was set: called on every new connection before its first
/// use, and once after the migrations.
pub(crate) async fn settle(conn: &mut PgConnection) -> Result<(), sqlx::Error> {
    match marker_present(conn).await {
        Ok(true) => return Ok(()),
        Ok(false) => {}
        // Before the migrations, nothing holds a lease yet; the store settles once they ran.
        Err(error) if error.as_database_error().and_then(|e| e.code()).as_deref() == Some(UNDEFINED_TABLE) => {
            return Ok(());
        }
        Err(error) => return Err(error),
    }
    let mut transaction = conn.begin().await?;
    query(include_str!("../queries/crash_marker/lock.sql")).execute(&mut *transaction).await?;
    // Another connection may have settled it while this one waited for the lock.
    if !marker_present(&mut transaction).await? {
        let refreshed =
            query(include_str!("../queries/crash_marker/refresh_leases.sql")).execute(&mut *transaction).await?;
        query(include_str!("../queries/crash_marker/set.sql")).execute(&mut *transaction).await?;
        tracing::info!(
            leases = refreshed.rows_affected(),
            "no crash marker in PostgreSQL (a crash, a failover or a new database): every lease has its full TTL again"
        );
    }
    transaction.commit().await
}

async fn marker_present(conn: &mut PgConnection) -> Result<bool, sqlx::Error> {
    query_scalar(include_str!("../queries/crash_marker/present.sql")).fetch_one(conn).await
}

#[cfg(test)]
mod tests {
    use baton_core::lease::LeaseStore;
    use baton_core::lock::LeaseId;
    use baton_core::{Error, Namespace};
    use sqlx::{AssertSqlSafe, Connection as _, Executor as _, PgConnection, query, query_scalar};

    use crate::test_server::reachable_url;
    use crate::{PgOptions, PgStore};

    /// A crash that took a keepalive back leaves the lease's stored expiry passed and the marker gone: the next
    /// connection gives the lease its full TTL again. Without a crash, a new connection refreshes nothing.
    #[tokio::test]
    async fn a_connection_after_a_crash_gives_every_lease_its_full_ttl_again() {
        let Some(url) = reachable_url().await else { return };
        let schema = format!("crash_marker_{}", uuid::Uuid::now_v7().simple());
        let mut admin = PgConnection::connect(&url).await.unwrap();
        admin.execute(AssertSqlSafe(format!("CREATE SCHEMA {schema}"))).await.unwrap();
        let options = PgOptions { schema: Some(schema.clone()), max_connections: 2, ..PgOptions::new(url.clone()) };
        let namespace = Namespace::default();

        let store = PgStore::connect(options.clone()).await.unwrap();
        let lease = store.grant_lease(&namespace, LeaseId::new(), 30_000).await.unwrap();
        // The keepalive statement turns synchronous commit off for its own transaction only.
        let mut in_transaction = admin.begin().await.unwrap();
        in_transaction.execute(AssertSqlSafe(format!("SET LOCAL search_path TO {schema}"))).await.unwrap();
        query(include_str!("../queries/lease/keepalive_many.sql"))
            .bind([namespace.as_str()])
            .bind([lease.lease_id.to_string()])
            .bind(None::<i64>)
            .execute(&mut *in_transaction)
            .await
            .unwrap();
        let setting: String = query_scalar(include_str!("../queries/testing/synchronous_commit.sql"))
            .fetch_one(&mut *in_transaction)
            .await
            .unwrap();
        assert_eq!(setting, "off");
        in_transaction.rollback().await.unwrap();

        admin.execute(AssertSqlSafe(format!("SET search_path TO {schema}"))).await.unwrap();
        admin.execute(include_str!("../queries/testing/take_back_keepalives.sql")).await.unwrap();
        admin.execute(include_str!("../queries/testing/remove_crash_marker.sql")).await.unwrap();
        store.close().await;
        let after_crash = PgStore::connect(options.clone()).await.unwrap();
        let revived = after_crash.get_lease(&namespace, lease.lease_id).await.expect("the lease lives again");
        assert!(revived.expires_at >= lease.expires_at, "{revived:?} against {lease:?}");

        admin.execute(include_str!("../queries/testing/take_back_keepalives.sql")).await.unwrap();
        after_crash.close().await;
        let no_crash = PgStore::connect(options).await.unwrap();
        let lapsed = no_crash.get_lease(&namespace, lease.lease_id).await;
        assert!(matches!(lapsed, Err(Error::LeaseNotFound { .. })), "{lapsed:?}");
        no_crash.close().await;
        admin.execute(AssertSqlSafe(format!("DROP SCHEMA {schema} CASCADE"))).await.unwrap();
    }
}
