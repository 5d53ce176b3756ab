//! Events, streams and consumer groups as both backends store them (see [`crate::stored`]). An event's `data`
//! and `metadata` are the JSON text the client sent, kept as is.

use serde_json::value::RawValue;

use crate::clock::Timestamp;
use crate::error::StoreError;
use crate::event::group::model::{Group, GroupSettings, GroupStart, Member};
use crate::event::model::{EventId, RecordedEvent, StreamRecord};
use crate::stored::{StoredRow, corrupt, decode_optional, namespace, time};

fn raw_json(text: String, what: &str) -> Result<Box<RawValue>, StoreError> {
    RawValue::from_string(text).map_err(|_| corrupt(what))
}

fn hash(row: &impl StoredRow) -> Result<u32, StoreError> {
    u32::try_from(row.int("stream_hash")?).map_err(|_| corrupt("stream hash"))
}

pub fn event(row: &impl StoredRow) -> Result<RecordedEvent, StoreError> {
    Ok(RecordedEvent {
        event_id: EventId::parse(&row.text("event_id")?).ok_or_else(|| corrupt("event id"))?,
        stream: row.text("stream")?,
        stream_hash: hash(row)?,
        version: row.int("version")?,
        global_position: row.int("global_position")?,
        event_type: row.text("event_type")?,
        data: raw_json(row.text("data")?, "event data")?,
        metadata: row.optional_text("metadata")?.map(|text| raw_json(text, "event metadata")).transpose()?,
        recorded_at: Timestamp(row.int("recorded_at")?),
    })
}

pub fn stream(row: &impl StoredRow) -> Result<StreamRecord, StoreError> {
    Ok(StreamRecord {
        namespace: namespace(row)?,
        stream: row.text("stream")?,
        stream_hash: hash(row)?,
        last_version: row.int("last_version")?,
        truncate_before: row.int("truncate_before")?,
        max_count: row.optional_int("max_count")?,
        max_age_ms: row.optional_int("max_age_ms")?,
        metadata: decode_optional(row.optional_text("metadata")?, "stream metadata")?,
        created_at: Timestamp(row.int("created_at")?),
        last_appended_at: time(row, "last_appended_at")?,
        deleted_at: time(row, "deleted_at")?,
    })
}

/// A group's own row, without members and checkpoints (read separately).
pub fn group(row: &impl StoredRow) -> Result<Group, StoreError> {
    let partitions = u32::try_from(row.int("partitions")?).map_err(|_| corrupt("partitions"))?;
    Ok(Group {
        namespace: namespace(row)?,
        name: row.text("group_name")?,
        settings: GroupSettings {
            partitions,
            stream_prefix: row.optional_text("stream_prefix")?,
            event_type: row.optional_text("event_type")?,
            start: GroupStart::parse(&row.text("start_from")?).ok_or_else(|| corrupt("group start"))?,
        },
        generation: row.int("generation")?,
        created_at: Timestamp(row.int("created_at")?),
        members: Vec::new(),
        checkpoints: vec![0; partitions as usize],
    })
}

pub fn member(row: &impl StoredRow) -> Result<Member, StoreError> {
    Ok(Member {
        member_id: row.text("member_id")?,
        ttl_ms: row.int("ttl_ms")?,
        joined_at: Timestamp(row.int("joined_at")?),
        expires_at: Timestamp(row.int("expires_at")?),
    })
}

/// Puts a checkpoint row (`partition`, `position`) in its place in the group.
pub fn checkpoint(group: &mut Group, row: &impl StoredRow) -> Result<(), StoreError> {
    let partition = usize::try_from(row.int("partition_no")?).map_err(|_| corrupt("partition"))?;
    let slot = group.checkpoints.get_mut(partition).ok_or_else(|| corrupt("partition"))?;
    *slot = row.int("position")?;
    Ok(())
}
