//! The write-ahead log, synced by the writer itself.
//!
//! The writer commits at `synchronous=NORMAL`, which writes a commit's frames to the WAL without waiting for the
//! disk, then syncs the WAL here when the batch holds a write whose caller must not be answered before the disk
//! has it. A NORMAL commit followed by a sync of the WAL is exactly as durable as a FULL commit, which is the same
//! sync made inside the commit; doing it here lets a batch that only queued lock waiters (answered by a later,
//! synced grant) skip it.

use std::fs::File;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// An open handle on the database's `-wal` file.
pub(crate) struct WalFile {
    database: PathBuf,
    file: File,
    inode: u64,
}

impl WalFile {
    /// Opens the WAL of the database at `database`. The writer's connection must already be in WAL mode and
    /// have used the database, so that SQLite has created the file.
    pub(crate) fn open(database: &Path) -> std::io::Result<Self> {
        let file = File::open(wal_path(database))?;
        let inode = file.metadata()?.ino();
        Ok(Self { database: database.to_owned(), file, inode })
    }

    /// Makes every frame written to the WAL so far durable.
    pub(crate) fn sync(&mut self) -> std::io::Result<()> {
        // SQLite replaces the WAL only when its last connection closes or the journal mode changes, and the
        // writer's connection stays open in WAL mode; a replaced file would make this sync a silent no-op, so
        // it is checked each time (one stat next to an fdatasync).
        if std::fs::metadata(wal_path(&self.database))?.ino() != self.inode {
            *self = Self::open(&self.database)?;
        }
        self.file.sync_data()
    }
}

fn wal_path(database: &Path) -> PathBuf {
    let mut path = database.as_os_str().to_owned();
    path.push("-wal");
    PathBuf::from(path)
}
