//! Counts the embedded SQLite engine's WAL syncs: the writer reports each one as the counter
//! `baton_sqlite_wal_syncs_total`, and this process-wide recorder keeps that counter (and ignores every other
//! metric), so the benchmark counts the durable writes a workflow costs instead of stating them.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use metrics::{Counter, Gauge, Histogram, Key, KeyName, Metadata, Recorder, SharedString, Unit};

const WAL_SYNCS: &str = "baton_sqlite_wal_syncs_total";

#[derive(Clone, Default)]
pub struct WalSyncs(Arc<AtomicU64>);

impl WalSyncs {
    /// Installs the recorder for this process; `None` if another recorder was installed first.
    pub fn install() -> Option<Self> {
        let syncs = Self::default();
        metrics::set_global_recorder(syncs.clone()).ok()?;
        Some(syncs)
    }

    pub fn so_far(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

impl Recorder for WalSyncs {
    fn describe_counter(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_gauge(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_histogram(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}

    fn register_counter(&self, key: &Key, _: &Metadata<'_>) -> Counter {
        if key.name() == WAL_SYNCS { Counter::from_arc(self.0.clone()) } else { Counter::noop() }
    }

    fn register_gauge(&self, _: &Key, _: &Metadata<'_>) -> Gauge {
        Gauge::noop()
    }

    fn register_histogram(&self, _: &Key, _: &Metadata<'_>) -> Histogram {
        Histogram::noop()
    }
}
