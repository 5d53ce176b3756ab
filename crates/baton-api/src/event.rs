//! Event-store requests and answers: appends, reads, streams, subscriptions and consumer groups. Event data and
//! metadata travel as the JSON text the client sent (`RawValue`), never re-encoded.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use serde_json::value::RawValue;
use utoipa::ToSchema;

/// One event of a batch append.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EventBody {
    pub event_type: String,
    #[schema(value_type = Object)]
    pub data: Box<RawValue>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub metadata: Option<Box<RawValue>>,
    /// A UUID of the client's: resending events with the same ids writes nothing and answers where they landed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_id: Option<String>,
}

/// `POST /api/v1/events/{stream}`: one event (`event_type`, `data`, `metadata`, `event_id`) or a batch
/// (`events`), appended atomically.
#[derive(Clone, Debug, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AppendRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub data: Option<Box<RawValue>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub metadata: Option<Box<RawValue>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub events: Option<Vec<EventBody>>,
    /// `"any"` (the default), `"no_stream"`, `"exists"`, or the version of the stream's last event.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub expected_version: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct AppendResponse {
    pub success: bool,
    pub stream: String,
    pub first_version: i64,
    pub last_version: i64,
    pub first_position: i64,
    pub last_position: i64,
    /// Where the last event landed in the namespace's log (`last_position`).
    pub global_position: i64,
    pub event_ids: Vec<String>,
    /// The events were already there (same ids): nothing was written. Answered with 200 instead of 201.
    pub replayed: bool,
}

/// A recorded event.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct EventView {
    pub id: String,
    pub stream_id: String,
    pub event_type: String,
    #[schema(value_type = Object)]
    pub data: Box<RawValue>,
    #[schema(value_type = Option<Object>)]
    pub metadata: Option<Box<RawValue>>,
    /// When it was appended (RFC 3339).
    pub timestamp: String,
    /// Its place in its stream, from 0.
    pub version: i64,
    /// Its place in the namespace's log, from 1.
    pub global_position: i64,
}

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct StreamEvents {
    pub stream: String,
    /// The version of the stream's last event.
    pub version: i64,
    pub events: Vec<EventView>,
    /// Where the next page starts, in the direction of this read; absent at the end.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_version: Option<i64>,
}

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct LogEvents {
    pub events: Vec<EventView>,
    /// The log's last position when it was read.
    pub head_position: i64,
    /// Where the next page starts, in the direction of this read; absent at the end.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_position: Option<i64>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct StreamInfo {
    pub stream: String,
    /// The version of its last event (for `$all`, the log's last position).
    pub version: i64,
    /// How many of its events are readable (absent in lists).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<u64>,
    /// The oldest version a read can return.
    pub first_version: i64,
    pub created_at: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_appended_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_count: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_age_seconds: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Value>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct StreamList {
    pub streams: Vec<StreamInfo>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

/// `PUT /api/v1/streams/{stream}/metadata`: replaces the stream's settings whole.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StreamSettingsRequest {
    /// Only the newest `max_count` events stay readable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_count: Option<u64>,
    /// Events older than this stop being readable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_age_seconds: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
}

/// `POST /api/v1/groups/{group}/join`. The group is created by its first join, with these settings; later
/// joins must ask for the same.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct JoinGroupRequest {
    /// Chosen by the server when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub member_id: Option<String>,
    /// The member's lease; 30 by default. Heartbeat within it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl_seconds: Option<u64>,
    /// How many parts the log is split into among members (1 to 1024; 32 by default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partitions: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream_prefix: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_type: Option<String>,
    /// `beginning` (the default: every event in the log) or `end` (only events appended from now on).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
}

/// Heartbeat and leave.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MemberRequest {
    pub member_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CommitRequest {
    pub member_id: String,
    /// The generation the member read its events in.
    pub generation: i64,
    /// Every event of the member's partitions up to this position is processed.
    pub position: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
}

/// A run of partitions, `[start, end)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct PartitionRange {
    pub start: u32,
    pub end: u32,
}

/// A member's view of its group.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct MembershipResponse {
    pub group: String,
    pub member_id: String,
    /// Moves on at every membership change; commit under the current one.
    pub generation: i64,
    /// The partitions this member owns (may be empty when there are more members than partitions).
    pub partitions: PartitionRange,
    pub partition_count: u32,
    pub members: Vec<String>,
    pub expires_at: String,
}

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct GroupEvents {
    pub group: String,
    pub member_id: String,
    pub generation: i64,
    pub partitions: PartitionRange,
    /// The member's share after its checkpoints (or after `after_position` in the same generation).
    pub events: Vec<EventView>,
    /// How far the member's share is read: the last event's position, or, when the read found none of its
    /// share in the stretch it scanned, the end of that stretch. Commit it once the events are processed, or pass
    /// it back as `after_position` (with `generation`) to read on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_position: Option<i64>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct GroupMemberView {
    pub member_id: String,
    pub partitions: PartitionRange,
    /// How many streams its partitions hold now.
    pub streams: u64,
    pub joined_at: String,
    pub expires_at: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct GroupView {
    pub group: String,
    pub partition_count: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream_prefix: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_type: Option<String>,
    pub start: String,
    pub generation: i64,
    pub created_at: String,
    pub members: Vec<GroupMemberView>,
    /// Per partition, the last position the group has processed.
    pub checkpoints: Vec<i64>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct GroupList {
    pub groups: Vec<GroupView>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

/// A WebSocket subscription's messages: `{"type": "event", "event": {...}}`, `{"type": "caught_up"}` once the
/// history is delivered, and `{"type": "error", "error": {...}}` before the server closes. (A struct rather than
/// a tagged enum: event data stays raw JSON, which serde cannot buffer through an enum's tag.)
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SubscriptionMessage {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event: Option<EventView>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<crate::error::ErrorDetail>,
}

impl SubscriptionMessage {
    pub const EVENT: &str = "event";
    pub const CAUGHT_UP: &str = "caught_up";
    pub const ERROR: &str = "error";
}
