//! The write-ahead log, synced by the writer itself.
//!
//! The writer commits at `synchronous=NORMAL`, which writes a commit's frames to the WAL without waiting for the
//! disk, then syncs the WAL here when the batch holds a write whose caller must not be answered before the disk
//! has it. A NORMAL commit followed by a sync of the WAL is exactly as durable as a FULL commit, which is the same
//! sync made inside the commit; doing it here lets a batch that only queued lock waiters (answered by a later,
//! synced grant) skip it.
//!
//! **Invariant:** the file this handle syncs is the WAL SQLite writes. SQLite deletes or replaces the WAL only
//! when its last connection closes or the journal mode changes; the writer's connection is opened in WAL mode
//! before this handle and stays open, in that mode, for as long as the writer runs.

use std::fs::File;
use std::path::Path;

/// An open handle on the database's `-wal` file.
pub(crate) struct WalFile {
    file: File,
}

impl WalFile {
    /// Opens the WAL of the database at `database`. The writer's connection must already be in WAL mode and
    /// have used the database, so that SQLite has created the file.
    pub(crate) fn open(database: &Path) -> std::io::Result<Self> {
        let mut path = database.as_os_str().to_owned();
        path.push("-wal");
        Ok(Self { file: File::open(path)? })
    }

    /// Makes every frame written to the WAL so far durable.
    pub(crate) fn sync(&mut self) -> std::io::Result<()> {
        self.file.sync_data()
    }
}
