//! Tests only: the plans PostgreSQL caches for the crate's statements, as they stand in their files. sqlx runs
//! each statement on a cached plan, and PostgreSQL settles on a generic one after a few runs; on a new database
//! that happens while the tables are still empty, and without an analyze the plan stays as they grow.

use sqlx::pool::PoolConnection;
use sqlx::{AssertSqlSafe, Connection as _, Executor as _, PgConnection, Postgres};

use crate::test_server::reachable_url;
use crate::{PgOptions, PgStore};

/// A migrated schema of its own, with a connection whose statements take their generic plan at once.
pub(crate) struct GenericPlans {
    admin: PgConnection,
    schema: String,
    store: PgStore,
    conn: PoolConnection<Postgres>,
}

impl GenericPlans {
    /// `None` where the test server is unreachable outside CI (the test is skipped).
    pub(crate) async fn new(name: &str) -> Option<Self> {
        let url = reachable_url().await?;
        let schema = format!("{name}_{}", uuid::Uuid::now_v7().simple());
        let mut admin = PgConnection::connect(&url).await.unwrap();
        admin.execute(AssertSqlSafe(format!("CREATE SCHEMA {schema}"))).await.unwrap();
        let options = PgOptions { schema: Some(schema.clone()), ..PgOptions::new(url) };
        let store = PgStore::connect(options).await.unwrap();
        let conn = store.conns.pool().acquire().await.unwrap();
        Some(Self { admin, schema, store, conn })
    }

    /// The connection, to fill tables before [`Self::explain`].
    pub(crate) fn conn(&mut self) -> &mut PgConnection {
        &mut self.conn
    }

    /// The generic plan of `sql` (prepared as `name` with parameters of `types`), explained with `args`.
    pub(crate) async fn explain(&mut self, name: &str, types: &str, sql: &str, args: &str) -> String {
        self.conn.execute(include_str!("../queries/testing/force_generic_plan.sql")).await.unwrap();
        let types = if types.is_empty() { String::new() } else { format!("({types})") };
        self.conn.execute(AssertSqlSafe(format!("PREPARE {name} {types} AS {sql}"))).await.unwrap();
        let args = if args.is_empty() { String::new() } else { format!("({args})") };
        let plan: Vec<String> = sqlx::query_scalar(AssertSqlSafe(format!("EXPLAIN EXECUTE {name}{args}")))
            .fetch_all(&mut *self.conn)
            .await
            .unwrap();
        plan.join("\n")
    }

    pub(crate) async fn drop_schema(mut self) {
        self.conn.close().await.ok();
        self.store.close().await;
        self.admin.execute(AssertSqlSafe(format!("DROP SCHEMA {} CASCADE", self.schema))).await.unwrap();
    }
}

/// The lines of `plan` that scan `table`.
pub(crate) fn scans_of<'p>(plan: &'p str, table: &str) -> Vec<&'p str> {
    let on_table = format!(" on {table}");
    plan.lines().filter(|line| line.contains(" Scan") && line.contains(&on_table)).collect()
}
