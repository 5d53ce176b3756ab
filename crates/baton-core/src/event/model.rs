//! The event-store nouns: event ids, expected versions, recorded events, stream records, and the parameters and
//! outcomes of each store operation.
//!
//! Versions count a stream's events from 0, and -1 means "no event yet", as in KurrentDB. Global positions count
//! a namespace's log from 1; 0 is "before the first event".

use std::fmt;

use serde::Serialize;
use serde_json::Value;
use serde_json::value::RawValue;
use uuid::Uuid;

use crate::clock::Timestamp;
use crate::namespace::Namespace;

/// The name of a namespace's whole log. Stream names starting with `$` are reserved, so no stream shares it;
/// its stored row carries the log's head position as its version.
pub const ALL_STREAM: &str = "$all";

/// The version a stream has before its first event.
pub const NO_VERSION: i64 = -1;

/// Identifies an event. Clients may choose it (a UUID) to make appends idempotent; otherwise it is a UUIDv7.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct EventId(pub Uuid);

impl EventId {
    pub fn new() -> Self {
        Self(Uuid::now_v7())
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Uuid::parse_str(raw).ok().map(Self)
    }
}

impl Default for EventId {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Display for EventId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// What an append expects of its stream before it writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExpectedVersion {
    Any,
    /// The stream has no events (it never had any, or it was deleted).
    NoStream,
    Exists,
    /// The stream's last event has exactly this version.
    Exact(i64),
}

impl ExpectedVersion {
    /// Whether a stream whose current version is `current` (`None`: no stream) meets the expectation.
    pub fn matches(self, current: Option<i64>) -> bool {
        match self {
            Self::Any => true,
            Self::NoStream => current.is_none(),
            Self::Exists => current.is_some(),
            Self::Exact(version) => current == Some(version),
        }
    }
}

impl fmt::Display for ExpectedVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Any => f.write_str("any"),
            Self::NoStream => f.write_str("no_stream"),
            Self::Exists => f.write_str("exists"),
            Self::Exact(version) => write!(f, "{version}"),
        }
    }
}

/// An event as a client hands it over. `data` and `metadata` stay the JSON text the client sent.
#[derive(Clone, Debug)]
pub struct NewEvent {
    pub event_id: EventId,
    /// The client chose the id, so a resend must be recognised.
    pub id_from_client: bool,
    pub event_type: String,
    pub data: Box<RawValue>,
    pub metadata: Option<Box<RawValue>>,
}

/// An event as the log holds it.
#[derive(Clone, Debug)]
pub struct RecordedEvent {
    pub event_id: EventId,
    pub stream: String,
    /// [`stream_hash`] of the stream, kept with each event so consumer groups can split the log by stream.
    pub stream_hash: u32,
    pub version: i64,
    pub global_position: i64,
    pub event_type: String,
    pub data: Box<RawValue>,
    pub metadata: Option<Box<RawValue>>,
    pub recorded_at: Timestamp,
}

/// A stream's stored row: its last version, its truncation rules and its metadata.
#[derive(Clone, Debug, PartialEq)]
pub struct StreamRecord {
    pub namespace: Namespace,
    pub stream: String,
    pub stream_hash: u32,
    /// The version of its last event, [`NO_VERSION`] before the first. For [`ALL_STREAM`], the log's head.
    pub last_version: i64,
    /// Events below this version are unreadable (and pruned in the background). Appends move it up to honour
    /// `max_count`, a deletion sets it past the last event, and the pruner moves it past events older than
    /// `max_age_ms`; it never moves back.
    pub truncate_before: i64,
    /// Only the newest `max_count` events stay readable.
    pub max_count: Option<i64>,
    /// Events older than this stop being readable.
    pub max_age_ms: Option<i64>,
    pub metadata: Option<Value>,
    pub created_at: Timestamp,
    pub last_appended_at: Option<Timestamp>,
    pub deleted_at: Option<Timestamp>,
}

impl StreamRecord {
    pub fn new(namespace: Namespace, stream: &str, now: Timestamp) -> Self {
        Self {
            namespace,
            stream: stream.to_owned(),
            stream_hash: stream_hash(stream),
            last_version: NO_VERSION,
            truncate_before: 0,
            max_count: None,
            max_age_ms: None,
            metadata: None,
            created_at: now,
            last_appended_at: None,
            deleted_at: None,
        }
    }

    /// The version an expected-version check sees: `None` when the stream has no events or was deleted.
    pub fn current_version(&self) -> Option<i64> {
        (self.last_version >= 0 && self.deleted_at.is_none()).then_some(self.last_version)
    }

    /// The oldest version a read may return under the truncation rules (ignoring `max_age_ms`).
    pub fn first_readable_version(&self) -> i64 {
        let by_count = self.max_count.map_or(0, |count| self.last_version + 1 - count);
        self.truncate_before.max(by_count).max(0)
    }

    /// The oldest recording time a read may return at `now` under `max_age_ms`.
    pub fn readable_since(&self, now: Timestamp) -> Timestamp {
        Timestamp(self.max_age_ms.map_or(i64::MIN, |age| now.0.saturating_sub(age)))
    }
}

impl ReadStreamParams {
    /// The inclusive version range this read covers in `stream`, truncation applied.
    pub fn version_bounds(&self, stream: &StreamRecord) -> (i64, i64) {
        let first = stream.first_readable_version();
        match self.direction {
            Direction::Forward => (self.from_version.unwrap_or(0).max(first), i64::MAX),
            Direction::Backward => (first, self.from_version.unwrap_or(stream.last_version)),
        }
    }
}

/// FNV-1a (32-bit) of a stream name: stable across nodes, versions and backends, so it can be stored at write
/// time and a consumer group's share of the log is a range of it.
pub fn stream_hash(stream: &str) -> u32 {
    stream.bytes().fold(0x811c_9dc5_u32, |hash, byte| (hash ^ u32::from(byte)).wrapping_mul(0x0100_0193))
}

#[derive(Clone, Debug)]
pub struct AppendParams {
    pub namespace: Namespace,
    pub stream: String,
    pub expected: ExpectedVersion,
    pub events: Vec<NewEvent>,
}

/// Where an append's events landed. `replayed` says the events were already there (same ids) and nothing was
/// written.
#[derive(Clone, Debug, PartialEq)]
pub struct AppendOutcome {
    pub stream: String,
    pub first_version: i64,
    pub last_version: i64,
    pub first_position: i64,
    pub last_position: i64,
    pub event_ids: Vec<EventId>,
    pub replayed: bool,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Direction {
    #[default]
    Forward,
    Backward,
}

#[derive(Clone, Debug)]
pub struct ReadStreamParams {
    pub namespace: Namespace,
    pub stream: String,
    /// The first version to return; `None` starts at the stream's start (forward) or end (backward).
    pub from_version: Option<i64>,
    pub direction: Direction,
    pub limit: u32,
}

/// A stream's row with one page of its readable events.
#[derive(Clone, Debug)]
pub struct StreamSlice {
    pub stream: StreamRecord,
    pub events: Vec<RecordedEvent>,
}

/// Which events of the log a read or subscription wants.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LogFilter {
    pub event_type: Option<String>,
    pub stream_prefix: Option<String>,
    /// Only streams whose [`stream_hash`] is in `[start, end)` (a consumer group member's share).
    pub hash_range: Option<(i64, i64)>,
}

#[derive(Clone, Debug)]
pub struct ReadAllParams {
    pub namespace: Namespace,
    /// The first position to return; `None` starts at the start (forward) or the head (backward).
    pub from_position: Option<i64>,
    pub direction: Direction,
    pub limit: u32,
    pub filter: LogFilter,
}

/// One page of the log, and the log's head (its last position) as of the read.
#[derive(Clone, Debug)]
pub struct LogSlice {
    pub events: Vec<RecordedEvent>,
    pub head: i64,
}

#[derive(Clone, Debug)]
pub struct ListStreamsParams {
    pub namespace: Namespace,
    pub prefix: Option<String>,
    /// Continue after this stream name.
    pub after: Option<String>,
    pub limit: u32,
}

/// A stream's settings as a client sets them; they replace the previous settings whole.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct StreamSettings {
    pub max_count: Option<i64>,
    pub max_age_ms: Option<i64>,
    pub metadata: Option<Value>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stream_hash_is_fnv1a_and_stays_that() {
        // Stored at write time on every node: changing it would split the log differently than before.
        assert_eq!(stream_hash(""), 0x811c_9dc5);
        assert_eq!(stream_hash("a"), 0xe40c_292c);
        assert_eq!(stream_hash("order-1"), stream_hash("order-1"));
    }

    #[test]
    fn expected_versions_match_as_in_kurrentdb() {
        let cases = [
            (ExpectedVersion::Any, None, true),
            (ExpectedVersion::Any, Some(3), true),
            (ExpectedVersion::NoStream, None, true),
            (ExpectedVersion::NoStream, Some(0), false),
            (ExpectedVersion::Exists, None, false),
            (ExpectedVersion::Exists, Some(0), true),
            (ExpectedVersion::Exact(2), Some(2), true),
            (ExpectedVersion::Exact(2), Some(3), false),
            (ExpectedVersion::Exact(0), None, false),
        ];
        for (expected, current, matches) in cases {
            assert_eq!(expected.matches(current), matches, "{expected} against {current:?}");
        }
    }

    #[test]
    fn truncation_keeps_the_newest_events() {
        let mut stream = StreamRecord::new(Namespace::default(), "s", Timestamp(0));
        stream.last_version = 9;
        assert_eq!(stream.first_readable_version(), 0);
        stream.max_count = Some(3);
        assert_eq!(stream.first_readable_version(), 7);
        stream.truncate_before = 8;
        assert_eq!(stream.first_readable_version(), 8);
        stream.max_count = Some(100);
        stream.truncate_before = 0;
        assert_eq!(stream.first_readable_version(), 0);
    }
}
