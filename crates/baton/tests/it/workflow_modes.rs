//! The three places a durable workflow's progress can live, for tests that run the same workflow code in
//! each: embedded on a SQLite file, embedded on PostgreSQL, and remote against a real `baton serve`.

use std::time::Duration;

use baton_conformance::harness::{TestDatabase, fresh_database};
use baton_postgres::PgOptions;
use baton_workflow::{ExecutorOptions, Registry, RunningExecutor, Workflows};

use crate::server::{Server, data_dir, temp_dir};

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Mode {
    Sqlite,
    Postgres,
    Remote,
}

pub const MODES: [Mode; 3] = [Mode::Sqlite, Mode::Postgres, Mode::Remote];

pub struct Setup {
    pub mode: Mode,
    workflows: Option<Workflows>,
    temp: tempfile::TempDir,
    database: Option<TestDatabase>,
    server: Option<Server>,
}

/// Short, so a run whose executor stopped is taken again quickly.
pub const LEASE: Duration = Duration::from_secs(2);

pub fn executor_options() -> ExecutorOptions {
    ExecutorOptions { lease: LEASE, poll: Duration::from_millis(20), ..ExecutorOptions::default() }
}

impl Setup {
    /// `None` for PostgreSQL when it is unreachable outside CI (in CI that panics).
    pub async fn new(mode: Mode) -> Option<Self> {
        let temp = temp_dir();
        let (database, server) = match mode {
            Mode::Sqlite => (None, None),
            Mode::Postgres => (Some(fresh_database().await?), None),
            Mode::Remote => (None, Some(Server::embedded(&data_dir(&temp)))),
        };
        let mut setup = Self { mode, workflows: None, temp, database, server };
        setup.workflows = Some(setup.open().await);
        Some(setup)
    }

    pub fn workflows(&self) -> &Workflows {
        self.workflows.as_ref().expect("open")
    }

    async fn open(&self) -> Workflows {
        match self.mode {
            Mode::Sqlite => {
                // The closed store's duties let go of the data dir's lock as they wind down.
                for _ in 0..100 {
                    if let Ok(workflows) = Workflows::sqlite(data_dir(&self.temp)).await {
                        return workflows;
                    }
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                panic!("the SQLite data dir stayed locked")
            }
            Mode::Postgres => {
                let url = &self.database.as_ref().expect("a database").url;
                Workflows::postgres(PgOptions { max_connections: 8, ..PgOptions::new(url.clone()) })
                    .await
                    .expect("open PostgreSQL")
            }
            Mode::Remote => Workflows::remote(self.server.as_ref().expect("a server").client()),
        }
    }

    pub fn executor(&self, registry: Registry) -> RunningExecutor {
        self.workflows().executor(registry, executor_options()).spawn()
    }

    /// A restart of whatever holds the progress: the embedded store is closed and opened again (stop the
    /// executor first); the server is killed with `kill -9` and started again.
    pub async fn restart(&mut self) {
        self.workflows = None;
        if let Some(server) = &mut self.server {
            server.restart();
        }
        self.workflows = Some(self.open().await);
    }

    pub async fn cleanup(self) {
        let Self { database, server, workflows, .. } = self;
        drop(workflows);
        drop(server);
        if let Some(database) = database {
            database.remove().await;
        }
    }
}
