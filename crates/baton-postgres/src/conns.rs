//! The store's connections: sqlx's pool, plus the connections kept between operations.
//!
//! sqlx pings every connection handed back to its pool (a `Sync` and its answer: one round trip, and a wake-up
//! of both ends), to flush what a cancelled operation may have left behind. For an operation that ran to its end
//! there is nothing to flush, and the ping doubled the round trips of a one-statement operation. Such a
//! connection goes back to [`Connections`] instead; one whose operation failed or was cancelled midway goes back
//! to sqlx, whose ping (or close) puts it right.
//!
//! The `LISTEN` connection is the one user that takes its connection from sqlx directly (it holds it for good,
//! and takes another if it must reconnect), and sqlx never sees a connection kept here. So all but two of the
//! pool's connections may be kept: one is the listener's, and one always goes back to sqlx, for a reconnect.

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use baton_core::StoreError;
use sqlx::pool::PoolConnection;
use sqlx::postgres::{PgArguments, PgQueryResult, PgRow};
use sqlx::query::Query;
use sqlx::{PgConnection, PgPool, Postgres};

use crate::rows::store_error;

/// One statement with its parameters bound.
pub(crate) type Statement<'q> = Query<'q, Postgres, PgArguments>;

pub(crate) struct Connections {
    pool: PgPool,
    keep_at_most: usize,
    /// Idle connections whose last operation ended cleanly; sqlx counts them as in use.
    kept: Mutex<Vec<PoolConnection<Postgres>>>,
    /// Callers waiting on sqlx for a connection: a connection kept meanwhile would never reach them.
    waiting: AtomicUsize,
}

impl Connections {
    pub(crate) fn new(pool: PgPool) -> Self {
        let keep_at_most = (pool.options().get_max_connections() as usize).saturating_sub(2);
        Self { pool, keep_at_most, kept: Mutex::new(Vec::new()), waiting: AtomicUsize::new(0) }
    }

    pub(crate) fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Runs `operation` on a connection; it is kept for the next operation only if `operation` succeeded.
    pub(crate) async fn run<T, E>(&self, operation: impl AsyncFnOnce(&mut PgConnection) -> Result<T, E>) -> Result<T, E>
    where
        E: From<StoreError>,
    {
        let mut conn = self.acquire().await.map_err(store_error)?;
        let result = operation(&mut conn).await;
        if result.is_ok() {
            self.keep(conn);
        }
        result
    }

    pub(crate) async fn fetch_all(&self, statement: Statement<'_>) -> Result<Vec<PgRow>, StoreError> {
        self.run(async |conn| statement.fetch_all(conn).await.map_err(store_error)).await
    }

    pub(crate) async fn fetch_one(&self, statement: Statement<'_>) -> Result<PgRow, StoreError> {
        self.run(async |conn| statement.fetch_one(conn).await.map_err(store_error)).await
    }

    pub(crate) async fn fetch_optional(&self, statement: Statement<'_>) -> Result<Option<PgRow>, StoreError> {
        self.run(async |conn| statement.fetch_optional(conn).await.map_err(store_error)).await
    }

    pub(crate) async fn execute(&self, statement: Statement<'_>) -> Result<PgQueryResult, StoreError> {
        self.run(async |conn| statement.execute(conn).await.map_err(store_error)).await
    }

    async fn acquire(&self) -> Result<PoolConnection<Postgres>, sqlx::Error> {
        if let Some(conn) = self.lock().pop() {
            return Ok(conn);
        }
        // Not raced against a connection being kept: dropping sqlx's acquire midway would abandon the
        // connection it may be opening, again and again. While anyone waits here, `keep` hands connections
        // back to sqlx, which gives them to its waiters.
        let _waiting = Waiting::on(&self.waiting);
        self.pool.acquire().await
    }

    fn keep(&self, conn: PoolConnection<Postgres>) {
        // Closing: sqlx closes it (kept, it would hold up `close`). Someone waiting on sqlx, or full: sqlx takes
        // it back, with its ping.
        if self.pool.is_closed() || self.waiting.load(Ordering::SeqCst) > 0 {
            return;
        }
        let mut kept = self.lock();
        if kept.len() < self.keep_at_most {
            kept.push(conn);
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<PoolConnection<Postgres>>> {
        self.kept.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Closes the pool: waits for the connections in use, handing back the kept ones as they arrive.
    pub(crate) async fn close(&self) {
        let close = self.pool.close();
        tokio::pin!(close);
        loop {
            self.lock().clear();
            tokio::select! {
                () = &mut close => return,
                () = tokio::time::sleep(Duration::from_millis(10)) => {}
            }
        }
    }
}

/// Counts a caller as waiting on sqlx until it has its connection or gives up (its future dropped).
struct Waiting<'a>(&'a AtomicUsize);

impl<'a> Waiting<'a> {
    fn on(count: &'a AtomicUsize) -> Self {
        count.fetch_add(1, Ordering::SeqCst);
        Self(count)
    }
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use sqlx::postgres::PgPoolOptions;
    use sqlx::{Row, query};

    use super::Connections;
    use crate::test_server::reachable_url;

    /// Connections to the test server, or `None` where the test is skipped (see `test_server`).
    async fn connections(max: u32) -> Option<Connections> {
        let url = reachable_url().await?;
        let pool = PgPoolOptions::new().max_connections(max).acquire_timeout(Duration::from_secs(5)).connect(&url);
        Some(Connections::new(pool.await.expect("the test server was reachable a moment ago")))
    }

    async fn backend_pid(conns: &Connections) -> i32 {
        conns.fetch_one(query(include_str!("../queries/testing/backend_pid.sql"))).await.unwrap().get(0)
    }

    #[tokio::test]
    async fn a_connection_whose_operation_succeeded_is_kept_for_the_next() {
        let Some(conns) = connections(3).await else { return };
        assert_eq!(conns.keep_at_most, 1);
        let first = backend_pid(&conns).await;
        assert_eq!(conns.lock().len(), 1, "kept here, not handed back to sqlx");
        assert_eq!(conns.pool().num_idle(), 0);
        assert_eq!(backend_pid(&conns).await, first, "the next operation runs on the same connection");
    }

    #[tokio::test]
    async fn a_cancelled_or_failed_operation_hands_its_connection_back_to_sqlx() {
        let Some(conns) = connections(4).await else { return };
        let cancelled = tokio::time::timeout(
            Duration::from_millis(100),
            conns.execute(query(include_str!("../queries/testing/sleep.sql")).bind(5.0)),
        );
        assert!(cancelled.await.is_err(), "the statement outlives the timeout");
        assert!(conns.execute(query(include_str!("../queries/testing/fails.sql"))).await.is_err());
        assert!(conns.lock().is_empty(), "neither connection is kept");
        assert!(backend_pid(&conns).await > 0, "sqlx's connections still serve");
    }

    #[tokio::test]
    async fn a_caller_waiting_on_sqlx_gets_the_next_connection_to_finish() {
        // Three connections: one may be kept; the other two are busy for a while.
        let Some(conns) = connections(3).await else { return };
        let busy = || {
            let pool = conns.pool().clone();
            tokio::spawn(
                async move { query(include_str!("../queries/testing/sleep.sql")).bind(0.5).execute(&pool).await },
            )
        };
        let others = [busy(), busy()];
        let holder = conns.execute(query(include_str!("../queries/testing/sleep.sql")).bind(0.2));
        let waiter = async {
            tokio::time::sleep(Duration::from_millis(50)).await;
            backend_pid(&conns).await
        };
        let both = tokio::time::timeout(Duration::from_secs(4), async { tokio::join!(holder, waiter) });
        let (held, pid) = both.await.expect("the connection reaches the waiter through sqlx, not the kept ones");
        held.unwrap();
        assert!(pid > 0);
        for other in others {
            other.await.unwrap().unwrap();
        }
    }

    #[tokio::test]
    async fn closing_hands_back_the_kept_connections() {
        let Some(conns) = connections(4).await else { return };
        backend_pid(&conns).await;
        tokio::time::timeout(Duration::from_secs(5), conns.close()).await.expect("close does not wait on kept ones");
        assert!(conns.pool().is_closed());
    }
}
