//! Turning recorded events, streams and groups into their wire shapes: the one place that knows both.

use baton_api::event::{
    AppendResponse, EventView, GroupMemberView, GroupView, MembershipResponse, PartitionRange, StreamInfo,
};
use baton_core::clock::Timestamp;
use baton_core::event::group::{Group, GroupMembership, assign};
use baton_core::event::{AppendOutcome, RecordedEvent, StreamRecord};

pub(crate) fn event_view(event: RecordedEvent) -> EventView {
    EventView {
        id: event.event_id.to_string(),
        stream_id: event.stream,
        event_type: event.event_type,
        data: event.data,
        metadata: event.metadata,
        timestamp: event.recorded_at.to_rfc3339(),
        version: event.version,
        global_position: event.global_position,
    }
}

pub(crate) fn append_response(outcome: AppendOutcome) -> AppendResponse {
    AppendResponse {
        success: true,
        stream: outcome.stream,
        first_version: outcome.first_version,
        last_version: outcome.last_version,
        first_position: outcome.first_position,
        last_position: outcome.last_position,
        global_position: outcome.last_position,
        event_ids: outcome.event_ids.iter().map(ToString::to_string).collect(),
        replayed: outcome.replayed,
    }
}

pub(crate) fn stream_info(stream: StreamRecord, count: Option<u64>) -> StreamInfo {
    StreamInfo {
        first_version: stream.first_readable_version(),
        version: stream.last_version,
        count,
        created_at: stream.created_at.to_rfc3339(),
        last_appended_at: stream.last_appended_at.map(Timestamp::to_rfc3339),
        max_count: stream.max_count,
        max_age_seconds: stream.max_age_ms.map(|ms| ms / 1000),
        metadata: stream.metadata,
        stream: stream.stream,
    }
}

fn range(run: &std::ops::Range<u32>) -> PartitionRange {
    PartitionRange { start: run.start, end: run.end }
}

pub(crate) fn membership_response(membership: GroupMembership) -> MembershipResponse {
    let GroupMembership { group, member_id, partitions } = membership;
    let expires_at = group.member(&member_id).map(|member| member.expires_at.to_rfc3339()).unwrap_or_default();
    MembershipResponse {
        group: group.name,
        generation: group.generation,
        partitions: range(&partitions),
        partition_count: group.settings.partitions,
        members: group.members.into_iter().map(|member| member.member_id).collect(),
        member_id,
        expires_at,
    }
}

/// The group, with how many streams each member owns (`streams`, in member order).
pub(crate) fn group_view(group: Group, streams: &[u64]) -> GroupView {
    let count = group.members.len();
    let members = group
        .members
        .iter()
        .enumerate()
        .map(|(index, member)| GroupMemberView {
            member_id: member.member_id.clone(),
            partitions: range(&assign(count, index, group.settings.partitions)),
            streams: streams.get(index).copied().unwrap_or(0),
            joined_at: member.joined_at.to_rfc3339(),
            expires_at: member.expires_at.to_rfc3339(),
        })
        .collect();
    GroupView {
        group: group.name,
        partition_count: group.settings.partitions,
        stream_prefix: group.settings.stream_prefix,
        event_type: group.settings.event_type,
        start: group.settings.start.as_str().to_owned(),
        generation: group.generation,
        created_at: group.created_at.to_rfc3339(),
        members,
        checkpoints: group.checkpoints,
    }
}
