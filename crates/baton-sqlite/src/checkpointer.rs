//! Copies the WAL back into the database file on a thread of its own, so the writer seldom does it.
//!
//! SQLite checkpoints by default inside the commit that takes the WAL past 1,000 pages: that commit's callers,
//! and every write queued behind them, then wait while the pages are copied and the database file is synced
//! (milliseconds, where a commit takes a fraction of one). Here a thread copies the WAL every
//! [`CHECKPOINT_INTERVAL`] from a connection of its own; a checkpoint with nothing new to copy reads the WAL
//! index and returns. The writer's connection still checkpoints, at [`WRITER_CHECKPOINT_PAGES`]: SQLite restarts
//! the WAL from its beginning only when a write transaction starts on a fully copied WAL, which under a steady
//! load this thread never leaves behind. The writer's checkpoint then copies only the frames this thread has not
//! copied yet, and keeps the WAL from growing without end.
//!
//! **Invariant:** checkpoints are `PASSIVE`: they never block the writer or a reader, and copy only frames no
//! reader still needs. SQLite syncs the WAL before copying and the database file after, as it does for its own.

use std::path::Path;
use std::sync::mpsc;
use std::time::Duration;

use baton_core::StoreError;
use rusqlite::Connection;

use crate::rows::store_error;

/// How often the checkpointer copies what the WAL has gathered: at a few thousand commits a second, a few hundred
/// pages, so the writer's own checkpoint finds little left to copy.
const CHECKPOINT_INTERVAL: Duration = Duration::from_millis(20);

/// The longest pause between checkpoints, reached by doubling while no commit adds to the WAL.
const IDLE_INTERVAL: Duration = Duration::from_secs(1);

/// The WAL size, in pages, at which the writer's commits checkpoint (SQLite's default is 1,000).
pub(crate) const WRITER_CHECKPOINT_PAGES: u32 = 2_000;

/// Keeps the checkpointer running; dropping it stops the thread (at its next tick).
pub(crate) struct Checkpointer {
    _stop: mpsc::Sender<()>,
}

impl Checkpointer {
    /// Starts checkpointing the database at `path`, which must already be in WAL mode.
    pub(crate) fn start(path: &Path) -> Result<Self, StoreError> {
        let conn = Connection::open(path).map_err(store_error)?;
        // A checkpoint syncs the WAL and the database file unless the connection says `OFF`; say it plainly.
        conn.pragma_update(None, "synchronous", "NORMAL").map_err(store_error)?;
        let (stop, stopped) = mpsc::channel::<()>();
        std::thread::Builder::new()
            .name("baton-sqlite-ckpt".into())
            .spawn(move || run(&conn, &stopped))
            .map_err(|e| StoreError::Internal(format!("cannot start the SQLite checkpointer: {e}")))?;
        Ok(Self { _stop: stop })
    }
}

fn run(conn: &Connection, stopped: &mpsc::Receiver<()>) {
    let mut interval = CHECKPOINT_INTERVAL;
    let mut last_wal_frames = None;
    while let Err(mpsc::RecvTimeoutError::Timeout) = stopped.recv_timeout(interval) {
        // Its answer: whether it was blocked, the WAL's frames, and how many of them are copied.
        let mut wal_frames = 0_i64;
        let checkpoint = conn.pragma(None, "wal_checkpoint", "PASSIVE", |row| {
            wal_frames = row.get(1)?;
            Ok(())
        });
        match checkpoint {
            Ok(()) => {
                // An idle store is looked at once a second rather than fifty times.
                let idle = last_wal_frames == Some(wal_frames);
                interval = if idle { (interval * 2).min(IDLE_INTERVAL) } else { CHECKPOINT_INTERVAL };
                last_wal_frames = Some(wal_frames);
            }
            // The writer's own checkpoint is the backstop; say why this one failed and try again next tick.
            Err(error) => tracing::warn!(%error, "the SQLite checkpoint failed"),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use rusqlite::Connection;

    use super::Checkpointer;

    #[test]
    fn the_wal_reaches_the_database_file_while_the_writing_connection_never_checkpoints() {
        let dir = tempfile::tempdir().expect("a temp dir");
        let path = dir.path().join("checkpoint.db");
        let writing = Connection::open(&path).expect("open");
        writing.pragma_update(None, "journal_mode", "WAL").expect("WAL");
        writing.pragma_update(None, "wal_autocheckpoint", 0).expect("no checkpoints by the writing connection");
        writing.execute(include_str!("../queries/testing/create_probe.sql"), []).expect("table");
        let database_size = || std::fs::metadata(&path).expect("the database file").len();
        let before = database_size();

        let _checkpointer = Checkpointer::start(&path).expect("started");
        writing.execute(include_str!("../queries/testing/insert_probe_pages.sql"), [256]).expect("rows");

        let deadline = Instant::now() + Duration::from_secs(10);
        while database_size() < before + 256 * 4000 {
            assert!(Instant::now() < deadline, "the pages never reached the database file ({} bytes)", database_size());
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}
