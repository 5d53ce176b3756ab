//! The append rules, written once for every backend: expected versions, idempotent resends, and where each event
//! lands in its stream and in the namespace's log.
//!
//! A backend wraps its transaction in a type that implements [`EventTx`] and calls these functions; they never
//! commit. An append batch may carry many independent appends (a group commit): each gets its own outcome, and
//! one refused append writes nothing and never fails the others, because every decision is made in memory
//! before the batch's rows are written.
//!
//! **Invariant:** global positions are drawn under the log's lock ([`EventTx::lock_log`]), held until commit,
//! so positions commit in the order they were drawn. A reader therefore always sees a gapless prefix of the
//! log: it can never see position `n + 1` before position `n` has committed.

use std::collections::{BTreeMap, HashMap};

use crate::clock::Timestamp;
use crate::error::{Error, StoreError};
use crate::event::model::{
    ALL_STREAM, AppendOutcome, AppendParams, EventId, RecordedEvent, StreamRecord, StreamSettings,
};
use crate::namespace::Namespace;
use crate::store::{Applied, Change};

/// The statements a backend offers inside one transaction.
#[allow(async_fn_in_trait)]
pub trait EventTx {
    /// The instant this transaction decides with; the same value for the whole transaction.
    async fn now(&mut self) -> Result<Timestamp, StoreError>;
    /// Serialises every append to the namespace's log until the transaction ends. Reads after it see every
    /// append committed before it. It (and the [`EventTx::streams`] read after it) comes before
    /// [`EventTx::now`], so a backend may read its clock with either.
    async fn lock_log(&mut self, namespace: &Namespace) -> Result<(), StoreError>;
    /// The stored rows of these streams; streams without a row are left out. The [`ALL_STREAM`] row carries the
    /// log's head.
    async fn streams(&mut self, namespace: &Namespace, streams: &[&str]) -> Result<Vec<StreamRecord>, StoreError>;
    /// The events of `stream` that have one of these ids.
    async fn events_by_id(
        &mut self,
        namespace: &Namespace,
        stream: &str,
        event_ids: &[EventId],
    ) -> Result<Vec<RecordedEvent>, StoreError>;
    /// Writes an append batch: inserts its events, and writes what it changes in its streams' rows (last version,
    /// last append, revival after a deletion, and `truncate_before`, which never moves back), creating missing
    /// rows; their settings are left as they are.
    async fn record_append(
        &mut self,
        namespace: &Namespace,
        events: &[RecordedEvent],
        streams: &[StreamRecord],
    ) -> Result<(), StoreError>;
    /// Writes a stream's settings and `truncate_before` (never moving it back), creating its row if missing.
    async fn save_stream_settings(&mut self, stream: &StreamRecord) -> Result<(), StoreError>;
    /// Writes a stream's deletion (`truncate_before`, `deleted_at`).
    async fn save_stream_deletion(&mut self, stream: &StreamRecord) -> Result<(), StoreError>;
}

/// The state of one namespace's log while a batch is decided.
struct LogBatch {
    head: StreamRecord,
    streams: HashMap<String, StreamRecord>,
    /// Streams whose row this batch changed.
    touched: Vec<String>,
    rows: Vec<RecordedEvent>,
}

/// Appends each of `batch` atomically, in order. Returns one outcome per append.
pub async fn append<T: EventTx>(
    tx: &mut T,
    batch: &[AppendParams],
) -> Result<Applied<Vec<Result<AppendOutcome, Error>>>, Error> {
    let mut by_namespace: BTreeMap<&Namespace, Vec<usize>> = BTreeMap::new();
    for (index, params) in batch.iter().enumerate() {
        by_namespace.entry(&params.namespace).or_default().push(index);
    }
    let mut outcomes: Vec<Option<Result<AppendOutcome, Error>>> = batch.iter().map(|_| None).collect();
    let mut changes = Vec::new();
    // Namespaces in sorted order, so two batches lock shared logs in the same order and never deadlock.
    for (&namespace, indices) in &by_namespace {
        tx.lock_log(namespace).await?;
        let mut names: Vec<&str> = indices.iter().map(|&index| batch[index].stream.as_str()).collect();
        names.push(ALL_STREAM);
        names.sort_unstable();
        names.dedup();
        let mut streams: HashMap<String, StreamRecord> =
            tx.streams(namespace, &names).await?.into_iter().map(|stream| (stream.stream.clone(), stream)).collect();
        // After the lock and the first read: a backend may read its clock with either. The instant is the same
        // for the whole batch.
        let now = tx.now().await?;
        let head = streams.remove(ALL_STREAM).unwrap_or_else(|| StreamRecord::new(namespace.clone(), ALL_STREAM, now));
        let mut log = LogBatch { head, streams, touched: Vec::new(), rows: Vec::new() };
        for &index in indices {
            let outcome = append_one(tx, &mut log, &batch[index], now).await?;
            if let Ok(appended) = &outcome
                && !appended.replayed
            {
                changes.push(Change::EventsAppended {
                    namespace: namespace.clone(),
                    stream: appended.stream.clone(),
                    last_position: appended.last_position,
                });
            }
            outcomes[index] = Some(outcome);
        }
        if log.rows.is_empty() {
            continue;
        }
        log.head.last_appended_at = Some(now);
        let mut heads: Vec<StreamRecord> = log.touched.iter().filter_map(|name| log.streams.remove(name)).collect();
        heads.push(log.head);
        tx.record_append(namespace, &log.rows, &heads).await?;
    }
    let outcomes = outcomes.into_iter().map(|outcome| outcome.expect("every append decided")).collect();
    Ok(Applied::with(outcomes, changes))
}

/// Decides one append against the batch's view of its stream, and queues its rows.
async fn append_one<T: EventTx>(
    tx: &mut T,
    log: &mut LogBatch,
    params: &AppendParams,
    now: Timestamp,
) -> Result<Result<AppendOutcome, Error>, StoreError> {
    let client_ids: Vec<EventId> =
        params.events.iter().filter(|event| event.id_from_client).map(|event| event.event_id).collect();
    if !client_ids.is_empty() {
        let mut found = tx.events_by_id(&params.namespace, &params.stream, &client_ids).await?;
        found.extend(
            log.rows.iter().filter(|row| row.stream == params.stream && client_ids.contains(&row.event_id)).cloned(),
        );
        if let Some(outcome) = replay(params, &found) {
            return Ok(outcome);
        }
    }
    let stream = log
        .streams
        .entry(params.stream.clone())
        .or_insert_with(|| StreamRecord::new(params.namespace.clone(), &params.stream, now));
    let current = stream.current_version();
    if !params.expected.matches(current) {
        return Ok(Err(Error::WrongExpectedVersion {
            stream: params.stream.clone(),
            expected: params.expected.to_string(),
            actual: current.unwrap_or(crate::event::model::NO_VERSION),
        }));
    }
    let first_version = stream.last_version + 1;
    let first_position = log.head.last_version.max(0) + 1;
    for (offset, event) in (0_i64..).zip(&params.events) {
        log.rows.push(RecordedEvent {
            event_id: event.event_id,
            stream: params.stream.clone(),
            stream_hash: stream.stream_hash,
            version: first_version + offset,
            global_position: first_position + offset,
            event_type: event.event_type.clone(),
            data: event.data.clone(),
            metadata: event.metadata.clone(),
            recorded_at: now,
        });
    }
    let count = i64::try_from(params.events.len()).unwrap_or(i64::MAX);
    stream.last_version = first_version + count - 1;
    stream.truncate_before = stream.first_readable_version();
    stream.last_appended_at = Some(now);
    // Appending revives a deleted stream; its versions carry on where they stopped.
    stream.deleted_at = None;
    log.head.last_version = first_position + count - 1;
    if !log.touched.contains(&params.stream) {
        log.touched.push(params.stream.clone());
    }
    Ok(Ok(AppendOutcome {
        stream: params.stream.clone(),
        first_version,
        last_version: stream.last_version,
        first_position,
        last_position: log.head.last_version,
        event_ids: params.events.iter().map(|event| event.event_id).collect(),
        replayed: false,
    }))
}

/// A resend of events already in the stream answers with where they landed; a batch that repeats only some of
/// them is refused, since writing the rest would not be what either attempt asked for. `None`: nothing repeats.
fn replay(params: &AppendParams, found: &[RecordedEvent]) -> Option<Result<AppendOutcome, Error>> {
    if found.is_empty() {
        return None;
    }
    let found_ids: HashMap<EventId, &RecordedEvent> = found.iter().map(|event| (event.event_id, event)).collect();
    let all_found = params.events.iter().all(|event| found_ids.contains_key(&event.event_id));
    if !all_found {
        let mut event_ids: Vec<String> = found_ids.keys().map(ToString::to_string).collect();
        event_ids.sort_unstable();
        return Some(Err(Error::DuplicateEvent { stream: params.stream.clone(), event_ids }));
    }
    let landed: Vec<&RecordedEvent> = params.events.iter().map(|event| found_ids[&event.event_id]).collect();
    Some(Ok(AppendOutcome {
        stream: params.stream.clone(),
        first_version: landed.iter().map(|event| event.version).min().unwrap_or_default(),
        last_version: landed.iter().map(|event| event.version).max().unwrap_or_default(),
        first_position: landed.iter().map(|event| event.global_position).min().unwrap_or_default(),
        last_position: landed.iter().map(|event| event.global_position).max().unwrap_or_default(),
        event_ids: landed.iter().map(|event| event.event_id).collect(),
        replayed: true,
    }))
}

/// Replaces a stream's settings (truncation rules and metadata); the stream need not have events yet.
pub async fn set_stream_settings<T: EventTx>(
    tx: &mut T,
    namespace: &Namespace,
    stream: &str,
    settings: &StreamSettings,
) -> Result<Applied<StreamRecord>, Error> {
    let now = tx.now().await?;
    let mut record = tx
        .streams(namespace, &[stream])
        .await?
        .pop()
        .unwrap_or_else(|| StreamRecord::new(namespace.clone(), stream, now));
    record.max_count = settings.max_count;
    record.max_age_ms = settings.max_age_ms;
    record.metadata = settings.metadata.clone();
    record.truncate_before = record.first_readable_version();
    tx.save_stream_settings(&record).await?;
    Ok(Applied::quiet(record))
}

/// Soft-deletes a stream: its events stop being readable (a retention pass removes them), and a later append
/// revives it with versions carrying on from the last one.
pub async fn delete_stream<T: EventTx>(
    tx: &mut T,
    namespace: &Namespace,
    stream: &str,
) -> Result<Applied<StreamRecord>, Error> {
    tx.lock_log(namespace).await?;
    let now = tx.now().await?;
    let found = tx.streams(namespace, &[stream]).await?.pop();
    let Some(mut record) = found.filter(|record| record.current_version().is_some()) else {
        return Err(Error::StreamNotFound { stream: stream.to_owned(), deleted: false });
    };
    record.truncate_before = record.last_version + 1;
    record.deleted_at = Some(now);
    tx.save_stream_deletion(&record).await?;
    Ok(Applied::quiet(record))
}
