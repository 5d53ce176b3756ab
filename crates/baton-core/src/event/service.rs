//! The event service: validates requests, calls the store, and wakes this node's subscribers from the store's
//! change feed. Transports call it; it never touches SQL. Subscriptions live in [`crate::event::subscription`].

use std::collections::HashSet;
use std::sync::Arc;

use serde_json::Value;
use serde_json::value::RawValue;
use tokio_util::sync::CancellationToken;

use crate::error::{Error, ErrorCode};
use crate::event::model::{
    ALL_STREAM, AppendOutcome, AppendParams, Direction, EventId, ExpectedVersion, ListStreamsParams, LogFilter,
    LogSlice, NewEvent, ReadAllParams, ReadStreamParams, StreamRecord, StreamSettings, StreamSlice,
};
use crate::limits::Limits;
use crate::namespace::Namespace;
use crate::page::{Page, decode_cursor, page_size};
use crate::store::{Change, Followed, Store, follow_changes};
use crate::streaming::StreamSlots;
use crate::wakeups::Wakeups;

const MAX_EVENT_TYPE_BYTES: usize = 256;
/// Longest `max_age_seconds` a stream may set: a hundred years.
const MAX_AGE_SECONDS: u64 = 100 * 365 * 24 * 3600;

/// An event as a client describes it; the id is optional.
#[derive(Clone, Debug)]
pub struct EventInput {
    pub event_id: Option<String>,
    pub event_type: String,
    pub data: Box<RawValue>,
    pub metadata: Option<Box<RawValue>>,
}

#[derive(Clone, Debug)]
pub struct AppendRequest {
    pub namespace: Namespace,
    pub stream: String,
    pub expected: ExpectedVersion,
    pub events: Vec<EventInput>,
}

#[derive(Clone, Debug, Default)]
pub struct ReadStreamRequest {
    pub namespace: Namespace,
    pub stream: String,
    pub from_version: Option<i64>,
    pub direction: Direction,
    pub limit: Option<u32>,
}

#[derive(Clone, Debug, Default)]
pub struct ReadAllRequest {
    pub namespace: Namespace,
    pub from_position: Option<i64>,
    pub direction: Direction,
    pub limit: Option<u32>,
    pub event_type: Option<String>,
    pub stream_prefix: Option<String>,
}

/// Stream settings as a client sends them.
#[derive(Clone, Debug, Default)]
pub struct StreamSettingsRequest {
    pub max_count: Option<u64>,
    pub max_age_seconds: Option<u64>,
    pub metadata: Option<Value>,
}

#[derive(Clone)]
pub struct EventService {
    store: Arc<dyn Store>,
    limits: Limits,
    /// Subscribers to a namespace's whole log.
    pub(crate) log_wakeups: Arc<Wakeups<Namespace>>,
    /// Subscribers to one stream.
    pub(crate) stream_wakeups: Arc<Wakeups<(Namespace, String)>>,
    pub(crate) slots: StreamSlots,
}

impl EventService {
    pub fn new(store: Arc<dyn Store>, limits: Limits, slots: StreamSlots) -> Self {
        Self { store, limits, log_wakeups: Arc::default(), stream_wakeups: Arc::default(), slots }
    }

    pub(crate) fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    pub(crate) fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Forwards the store's appends to this node's subscribers until shutdown.
    pub async fn run_wakeups(&self, shutdown: CancellationToken) {
        follow_changes(self.store.changes(), shutdown, |followed| match followed {
            Followed::Change(Change::EventsAppended { namespace, stream, .. }) => {
                self.log_wakeups.wake(&namespace);
                self.stream_wakeups.wake(&(namespace, stream));
            }
            Followed::Change(_) => {}
            Followed::Lost => {
                self.log_wakeups.wake_all();
                self.stream_wakeups.wake_all();
            }
        })
        .await;
    }

    /// Appends the request's events atomically at the end of its stream.
    pub async fn append(&self, request: AppendRequest) -> Result<AppendOutcome, Error> {
        self.check_stream(&request.stream)?;
        if let ExpectedVersion::Exact(version) = request.expected
            && version < 0
        {
            return Err(invalid(
                "expected_version must be a version (0 or more), \"any\", \"no_stream\" or \"exists\"",
            ));
        }
        let events = self.validate_events(request.events)?;
        let params =
            AppendParams { namespace: request.namespace, stream: request.stream, expected: request.expected, events };
        let outcome = self.store.append(vec![params]).await?.pop().expect("one outcome per append")?;
        if !outcome.replayed {
            metrics::counter!("baton_events_appended_total").increment(outcome.event_ids.len() as u64);
        }
        Ok(outcome)
    }

    fn validate_events(&self, events: Vec<EventInput>) -> Result<Vec<NewEvent>, Error> {
        if events.is_empty() {
            return Err(invalid("an append needs at least one event"));
        }
        if events.len() > self.limits.max_batch {
            return Err(Error::invalid(
                ErrorCode::BatchTooLarge,
                format!("an append holds at most {} events; this one has {}", self.limits.max_batch, events.len()),
            ));
        }
        let batch = events.len() > 1;
        let mut seen = HashSet::new();
        events
            .into_iter()
            .enumerate()
            .map(|(index, event)| {
                let event = self.validate_event(event, &mut seen);
                event.map_err(|error| match error {
                    Error::Invalid { code, message } if batch => {
                        Error::invalid(code, format!("events[{index}]: {message}"))
                    }
                    other => other,
                })
            })
            .collect()
    }

    fn validate_event(&self, event: EventInput, seen: &mut HashSet<EventId>) -> Result<NewEvent, Error> {
        let EventInput { event_id, event_type, data, metadata } = event;
        if event_type.is_empty() || event_type.len() > MAX_EVENT_TYPE_BYTES || event_type.chars().any(char::is_control)
        {
            return Err(invalid(format!(
                "event_type must be 1 to {MAX_EVENT_TYPE_BYTES} bytes without control characters"
            )));
        }
        let size = data.get().len() + metadata.as_ref().map_or(0, |metadata| metadata.get().len());
        if size > self.limits.max_event_bytes {
            return Err(Error::invalid(
                ErrorCode::PayloadTooLarge,
                format!("the event is {size} bytes of data and metadata; the limit is {}", self.limits.max_event_bytes),
            ));
        }
        let (event_id, id_from_client) = match event_id {
            Some(raw) => {
                (EventId::parse(&raw).ok_or_else(|| invalid(format!("event_id '{raw}' is not a UUID")))?, true)
            }
            None => (EventId::new(), false),
        };
        if !seen.insert(event_id) {
            return Err(invalid(format!("event_id {event_id} appears twice in one append")));
        }
        Ok(NewEvent { event_id, id_from_client, event_type, data, metadata })
    }

    /// One page of a stream's readable events. A stream that has no events, or was deleted, is not found.
    pub async fn read_stream(&self, request: ReadStreamRequest) -> Result<StreamSlice, Error> {
        self.check_stream(&request.stream)?;
        if let Some(version) = request.from_version
            && version < 0
        {
            return Err(invalid("from_version must be 0 or more"));
        }
        let params = ReadStreamParams {
            namespace: request.namespace,
            stream: request.stream.clone(),
            from_version: request.from_version,
            direction: request.direction,
            limit: page_size(request.limit)?,
        };
        self.store
            .read_stream(params)
            .await?
            .filter(|slice| slice.stream.current_version().is_some())
            .ok_or_else(|| not_found(&request.stream, None))
    }

    /// One page of the namespace's whole log, in position order.
    pub async fn read_all(&self, request: ReadAllRequest) -> Result<LogSlice, Error> {
        let filter = self.check_filter(request.event_type, request.stream_prefix)?;
        let params = ReadAllParams {
            namespace: request.namespace,
            from_position: self.check_position(request.from_position)?,
            direction: request.direction,
            limit: page_size(request.limit)?,
            filter,
        };
        let from = params.from_position;
        let slice = self.store.read_all(params).await?;
        check_in_range(from, slice.head)?;
        Ok(slice)
    }

    pub(crate) fn check_position(&self, position: Option<i64>) -> Result<Option<i64>, Error> {
        match position {
            Some(position) if position < 0 => Err(invalid("from_position must be 0 or more")),
            other => Ok(other),
        }
    }

    /// Validates a log filter's event type and stream prefix.
    pub fn check_filter(&self, event_type: Option<String>, stream_prefix: Option<String>) -> Result<LogFilter, Error> {
        // No control characters in either: no event type or stream name holds one, and a group stores its filter
        // (PostgreSQL cannot store a NUL in text).
        if let Some(event_type) = &event_type
            && (event_type.is_empty()
                || event_type.len() > MAX_EVENT_TYPE_BYTES
                || event_type.chars().any(char::is_control))
        {
            return Err(invalid(format!(
                "event_type must be 1 to {MAX_EVENT_TYPE_BYTES} bytes without control characters"
            )));
        }
        if let Some(prefix) = &stream_prefix {
            if prefix.len() > self.limits.max_key_bytes {
                return Err(Error::invalid(
                    ErrorCode::KeyTooLong,
                    "stream_prefix is longer than the longest stream name",
                ));
            }
            if prefix.chars().any(char::is_control) {
                return Err(invalid("stream_prefix must not hold control characters"));
            }
        }
        Ok(LogFilter { event_type, stream_prefix: stream_prefix.filter(|prefix| !prefix.is_empty()), hash_range: None })
    }

    /// A stream's row and how many events it has readable. `$all` answers with the log's head.
    pub async fn stream_info(&self, namespace: &Namespace, stream: &str) -> Result<(StreamRecord, u64), Error> {
        if stream != ALL_STREAM {
            self.check_stream(stream)?;
        }
        let found = self.store.stream_info(namespace, stream).await?;
        match found {
            Some((record, count)) if record.current_version().is_some() => Ok((record, count)),
            Some((record, _)) => Err(not_found(stream, Some(&record))),
            None => Err(not_found(stream, None)),
        }
    }

    pub async fn list_streams(
        &self,
        namespace: Namespace,
        prefix: Option<String>,
        cursor: Option<String>,
        limit: Option<u32>,
    ) -> Result<Page<StreamRecord>, Error> {
        let limit = page_size(limit)?;
        let after = match cursor.as_deref() {
            None | Some("") => None,
            Some(cursor) => Some(decode_cursor(cursor, 1)?.remove(0)),
        };
        if let Some(prefix) = &prefix
            && prefix.len() > self.limits.max_key_bytes
        {
            return Err(Error::invalid(ErrorCode::KeyTooLong, "prefix is longer than the longest stream name"));
        }
        let params = ListStreamsParams { namespace, prefix: prefix.filter(|prefix| !prefix.is_empty()), after, limit };
        self.store.list_streams(params).await
    }

    /// Replaces a stream's truncation rules and metadata.
    pub async fn set_stream_settings(
        &self,
        namespace: &Namespace,
        stream: &str,
        request: StreamSettingsRequest,
    ) -> Result<StreamRecord, Error> {
        self.check_stream(stream)?;
        let to_i64 = |value: u64| i64::try_from(value).unwrap_or(i64::MAX);
        if request.max_count == Some(0) {
            return Err(invalid("max_count must be at least 1"));
        }
        let max_age_ms = request
            .max_age_seconds
            .map(|seconds| {
                if seconds == 0 || seconds > MAX_AGE_SECONDS {
                    return Err(invalid(format!("max_age_seconds must be between 1 and {MAX_AGE_SECONDS}")));
                }
                Ok(to_i64(seconds) * 1000)
            })
            .transpose()?;
        let size = request.metadata.as_ref().map_or(0, |metadata| metadata.to_string().len());
        if size > self.limits.max_metadata_bytes {
            return Err(Error::invalid(
                ErrorCode::PayloadTooLarge,
                format!("metadata is {size} bytes; the limit is {}", self.limits.max_metadata_bytes),
            ));
        }
        let settings =
            StreamSettings { max_count: request.max_count.map(to_i64), max_age_ms, metadata: request.metadata };
        self.store.set_stream_settings(namespace, stream, settings).await
    }

    pub async fn delete_stream(&self, namespace: &Namespace, stream: &str) -> Result<StreamRecord, Error> {
        self.check_stream(stream)?;
        self.store.delete_stream(namespace, stream).await
    }

    /// Stream names: 1 to `max_key_bytes` bytes, no control characters, and not starting with `$` (reserved
    /// for names such as `$all`).
    pub fn check_stream(&self, stream: &str) -> Result<(), Error> {
        if stream.is_empty() {
            return Err(invalid("the stream name must not be empty"));
        }
        if stream.len() > self.limits.max_key_bytes {
            return Err(Error::invalid(
                ErrorCode::KeyTooLong,
                format!("the stream name is {} bytes; the limit is {}", stream.len(), self.limits.max_key_bytes),
            ));
        }
        if stream.chars().any(char::is_control) {
            return Err(invalid("the stream name must not contain control characters"));
        }
        if stream.starts_with('$') {
            return Err(invalid("stream names starting with '$' are reserved"));
        }
        Ok(())
    }
}

/// A read or subscription may start anywhere up to just past the head (where the next event will land); further
/// on, the position was never issued by this log, and waiting there would skip events.
pub(crate) fn check_in_range(from: Option<i64>, head: i64) -> Result<(), Error> {
    match from {
        Some(position) if position > head + 1 => Err(Error::PositionOutOfRange { position, head }),
        _ => Ok(()),
    }
}

fn not_found(stream: &str, record: Option<&StreamRecord>) -> Error {
    Error::StreamNotFound {
        stream: stream.to_owned(),
        deleted: record.is_some_and(|record| record.deleted_at.is_some()),
    }
}

fn invalid(message: impl Into<String>) -> Error {
    Error::invalid(ErrorCode::InvalidArgument, message)
}

/// Parses an expected version as clients write it: `"any"`, `"no_stream"`, `"exists"`, or a version number
/// (a number or its decimal text; -1 means `no_stream`, as in KurrentDB).
pub fn parse_expected_version(value: &Value) -> Result<ExpectedVersion, Error> {
    let bad = || invalid("expected_version must be \"any\", \"no_stream\", \"exists\" or a version number (0 or more)");
    let number = |version: i64| match version {
        -1 => Ok(ExpectedVersion::NoStream),
        version if version >= 0 => Ok(ExpectedVersion::Exact(version)),
        _ => Err(bad()),
    };
    match value {
        Value::Null => Ok(ExpectedVersion::Any),
        Value::String(text) => match text.as_str() {
            "any" => Ok(ExpectedVersion::Any),
            "no_stream" => Ok(ExpectedVersion::NoStream),
            "exists" | "stream_exists" => Ok(ExpectedVersion::Exists),
            other => number(other.parse::<i64>().map_err(|_| bad())?),
        },
        Value::Number(version) => number(version.as_i64().ok_or_else(bad)?),
        _ => Err(bad()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn expected_versions_parse_from_what_clients_send() {
        let cases = [
            (json!(null), Some(ExpectedVersion::Any)),
            (json!("any"), Some(ExpectedVersion::Any)),
            (json!("no_stream"), Some(ExpectedVersion::NoStream)),
            (json!("exists"), Some(ExpectedVersion::Exists)),
            (json!(-1), Some(ExpectedVersion::NoStream)),
            (json!(0), Some(ExpectedVersion::Exact(0))),
            (json!("7"), Some(ExpectedVersion::Exact(7))),
            (json!(-2), None),
            (json!(1.5), None),
            (json!("sometimes"), None),
            (json!([1]), None),
        ];
        for (value, expected) in cases {
            assert_eq!(parse_expected_version(&value).ok(), expected, "{value}");
        }
    }
}
