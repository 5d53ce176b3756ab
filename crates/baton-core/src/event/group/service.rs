//! The consumer-group service: validation, and a member's reads of its share of the log (long-polled, woken by
//! the change feed). Membership and checkpoints are the store's, decided by [`crate::event::group::engine`].

use std::ops::Range;
use std::time::{Duration, Instant};

use crate::error::{Error, ErrorCode};
use crate::event::group::model::{
    CommitParams, Group, GroupMembership, GroupSettings, GroupStart, JoinParams, MAX_PARTITIONS, MemberRef, hash_range,
    partition_of,
};
use crate::event::model::{Direction, LogFilter, ReadAllParams, RecordedEvent};
use crate::event::service::EventService;
use crate::namespace::Namespace;
use crate::page::{Page, decode_cursor, page_size};

const DEFAULT_MEMBER_TTL: Duration = Duration::from_secs(30);
const MAX_NAME_BYTES: usize = 128;
const MAX_MEMBER_ID_BYTES: usize = 256;
/// Pages a read skips through (events of partitions already past their checkpoint) before it answers empty.
const MAX_PAGES_PER_READ: usize = 16;
/// How often a waiting read looks again without a wake-up (a rebalance is seen within this, too).
const POLL_SAFETY_NET: Duration = Duration::from_secs(1);

#[derive(Clone, Debug, Default)]
pub struct JoinRequest {
    pub namespace: Namespace,
    pub group: String,
    /// Chosen by the server (a UUID) when absent.
    pub member_id: Option<String>,
    pub ttl: Option<Duration>,
    pub partitions: Option<u32>,
    pub stream_prefix: Option<String>,
    pub event_type: Option<String>,
    pub start: Option<GroupStart>,
}

#[derive(Clone, Debug)]
pub struct GroupReadRequest {
    pub member: MemberRef,
    /// The generation of the member's previous read: with it, `after_position` continues that read.
    pub generation: Option<i64>,
    /// Events up to here were already delivered to this member in `generation` (not yet committed).
    pub after_position: Option<i64>,
    pub limit: Option<u32>,
    pub wait: Option<Duration>,
}

/// A member's share: the events of its partitions after their checkpoints, in log order.
#[derive(Clone, Debug)]
pub struct GroupBatch {
    pub membership: GroupMembership,
    pub events: Vec<RecordedEvent>,
    /// The position the member has its share up to: the last event's, or, when the read found none of its share
    /// in what it scanned, the last position it scanned. Read on after it (same generation), or commit it.
    pub read_through: Option<i64>,
}

/// What one pass over the log found for a member.
struct ShareRead {
    events: Vec<RecordedEvent>,
    /// See [`GroupBatch::read_through`].
    read_through: Option<i64>,
}

#[derive(Clone)]
pub struct GroupService {
    events: EventService,
}

impl GroupService {
    pub fn new(events: EventService) -> Self {
        Self { events }
    }

    pub async fn join(&self, request: JoinRequest) -> Result<GroupMembership, Error> {
        check_group_name(&request.group)?;
        let member_id = request.member_id.unwrap_or_else(|| uuid::Uuid::now_v7().to_string());
        check_member_id(&member_id)?;
        let ttl = request.ttl.unwrap_or(DEFAULT_MEMBER_TTL);
        let ttl_ms = crate::lock::service::check_ttl(ttl, self.events.limits().max_ttl)?;
        let partitions = request.partitions.unwrap_or(GroupSettings::default().partitions);
        if partitions == 0 || partitions > MAX_PARTITIONS {
            return Err(invalid(format!("partitions must be between 1 and {MAX_PARTITIONS}")));
        }
        let filter = self.events.check_filter(request.event_type, request.stream_prefix)?;
        let settings = GroupSettings {
            partitions,
            stream_prefix: filter.stream_prefix,
            event_type: filter.event_type,
            start: request.start.unwrap_or_default(),
        };
        let member = MemberRef { namespace: request.namespace, group: request.group, member_id };
        self.events.store().join_group(JoinParams { member, ttl_ms, settings }).await
    }

    pub async fn heartbeat(&self, member: MemberRef) -> Result<GroupMembership, Error> {
        check_member(&member)?;
        self.events.store().heartbeat_member(member).await
    }

    pub async fn leave(&self, member: MemberRef) -> Result<(), Error> {
        check_member(&member)?;
        self.events.store().leave_group(member).await
    }

    pub async fn commit(&self, params: CommitParams) -> Result<GroupMembership, Error> {
        check_member(&params.member)?;
        if params.position < 0 {
            return Err(invalid("position must be 0 or more"));
        }
        self.events.store().commit_checkpoint(params).await
    }

    pub async fn get(&self, namespace: &Namespace, group: &str) -> Result<Group, Error> {
        check_group_name(group)?;
        self.events
            .store()
            .get_group(namespace, group)
            .await?
            .ok_or_else(|| Error::GroupNotFound { group: group.to_owned() })
    }

    /// How many streams each member (in the group's order) owns, counted on the streams' stored hash.
    pub async fn member_streams(&self, group: &Group) -> Result<Vec<u64>, Error> {
        let mut counts = Vec::with_capacity(group.members.len());
        for member in &group.members {
            let run = group.partitions_of(&member.member_id).unwrap_or(0..0);
            let range = hash_range(&run, group.settings.partitions);
            let prefix = group.settings.stream_prefix.as_deref();
            counts.push(self.events.store().count_streams(&group.namespace, range, prefix).await?);
        }
        Ok(counts)
    }

    /// Groups by name, a page at a time (`cursor` from the previous page).
    pub async fn list(
        &self,
        namespace: &Namespace,
        cursor: Option<&str>,
        limit: Option<u32>,
    ) -> Result<Page<Group>, Error> {
        let limit = page_size(limit)?;
        let after = match cursor {
            None | Some("") => None,
            Some(cursor) => Some(decode_cursor(cursor, 1)?.remove(0)),
        };
        self.events.store().list_groups(namespace, after, limit).await
    }

    pub async fn delete(&self, namespace: &Namespace, group: &str) -> Result<(), Error> {
        check_group_name(group)?;
        if !self.events.store().delete_group(namespace, group).await? {
            return Err(Error::GroupNotFound { group: group.to_owned() });
        }
        Ok(())
    }

    /// The member's group as stored: the generation and assignment a commit will check. Lapsed members are
    /// removed by the next write to the group or by the reaper's next pass (within a second), not here: a read
    /// decides nothing.
    async fn current_group(&self, member: &MemberRef) -> Result<GroupMembership, Error> {
        let group = self
            .events
            .store()
            .get_group(&member.namespace, &member.group)
            .await?
            .ok_or_else(|| Error::GroupNotFound { group: member.group.clone() })?;
        let partitions = group.partitions_of(&member.member_id).ok_or_else(|| Error::MemberNotFound {
            group: member.group.clone(),
            member_id: member.member_id.clone(),
        })?;
        Ok(GroupMembership { group, member_id: member.member_id.clone(), partitions })
    }

    /// The member's share after its checkpoints (or after `after_position`, continuing a read of the same
    /// generation). With a wait, an empty share waits for an append anywhere in the namespace.
    pub async fn read(&self, request: GroupReadRequest) -> Result<GroupBatch, Error> {
        check_member(&request.member)?;
        let limit = page_size(request.limit)?;
        // Below i64::MAX: the read starts one past it.
        if request.after_position.is_some_and(|after| !(0..i64::MAX).contains(&after)) {
            return Err(invalid("after_position must be 0 or more, and a position the log can reach"));
        }
        let wait = self.events.limits().max_poll.min(request.wait.unwrap_or_default());
        if request.wait.is_some_and(|asked| asked > self.events.limits().max_poll) {
            return Err(invalid(format!("wait_ms must be at most {}", self.events.limits().max_poll.as_millis())));
        }
        let deadline = Instant::now() + wait;
        let watch = self.events.log_wakeups.watch(request.member.namespace.clone());
        // How far this request has scanned, in which generation: a later pass of the same generation goes on from
        // there instead of scanning the same stretch again.
        let mut scanned: Option<(i64, i64)> = None;
        loop {
            let woken = watch.notify.notified();
            tokio::pin!(woken);
            woken.as_mut().enable();
            let membership = self.current_group(&request.member).await?;
            let generation = membership.group.generation;
            let continuing = request.generation == Some(generation);
            let mut after = if continuing { request.after_position.unwrap_or(0) } else { 0 };
            if let Some((scanned_in, position)) = scanned
                && scanned_in == generation
            {
                after = after.max(position);
            }
            let share = self.read_share(&membership, after, limit).await?;
            let now = Instant::now();
            if !share.events.is_empty() || now >= deadline {
                return Ok(GroupBatch { membership, events: share.events, read_through: share.read_through });
            }
            if let Some(position) = share.read_through {
                scanned = Some((generation, position));
            }
            tokio::select! {
                () = &mut woken => {}
                () = tokio::time::sleep_until((now + POLL_SAFETY_NET).min(deadline).into()) => {}
            }
        }
    }

    /// Reads the log through the group's filter and the member's hash range, keeping each event only if it is
    /// past its own partition's checkpoint (partitions that moved here may be further behind than others).
    ///
    /// After a rebalance the member may own partitions far behind the others. The read then starts at the
    /// furthest behind and may find nothing to keep in [`MAX_PAGES_PER_READ`] pages; it says how far it got, so
    /// that the next read (or a commit) moves on instead of scanning the same pages for ever.
    async fn read_share(&self, membership: &GroupMembership, after: i64, limit: u32) -> Result<ShareRead, Error> {
        let group = &membership.group;
        let run: &Range<u32> = &membership.partitions;
        if run.is_empty() {
            return Ok(ShareRead { events: Vec::new(), read_through: None });
        }
        let total = group.settings.partitions;
        let delivered_up_to = |partition: u32| group.checkpoints[partition as usize].max(after);
        let mut from = run.clone().map(delivered_up_to).min().unwrap_or(0) + 1;
        let filter = LogFilter {
            event_type: group.settings.event_type.clone(),
            stream_prefix: group.settings.stream_prefix.clone(),
            hash_range: Some(hash_range(run, total)),
        };
        for _ in 0..MAX_PAGES_PER_READ {
            let params = ReadAllParams {
                namespace: group.namespace.clone(),
                from_position: Some(from),
                direction: Direction::Forward,
                limit,
                filter: filter.clone(),
            };
            let slice = self.events.store().read_all(params).await?;
            let Some(last) = slice.events.last().map(|event| event.global_position) else {
                // Nothing past `from`: the share is read up to just before it.
                return Ok(ShareRead { events: Vec::new(), read_through: (from > 1).then_some(from - 1) });
            };
            let full = slice.events.len() == limit as usize;
            let kept: Vec<RecordedEvent> = slice
                .events
                .into_iter()
                .filter(|event| event.global_position > delivered_up_to(partition_of(event.stream_hash, total)))
                .collect();
            if let Some(last_kept) = kept.last().map(|event| event.global_position) {
                return Ok(ShareRead { events: kept, read_through: Some(last_kept) });
            }
            if !full {
                return Ok(ShareRead { events: kept, read_through: Some(last) });
            }
            from = last + 1;
        }
        Ok(ShareRead { events: Vec::new(), read_through: Some(from - 1) })
    }
}

fn invalid(message: impl Into<String>) -> Error {
    Error::invalid(ErrorCode::InvalidArgument, message)
}

fn check_group_name(group: &str) -> Result<(), Error> {
    let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | ':' | '/');
    if group.is_empty() || group.len() > MAX_NAME_BYTES || !group.chars().all(allowed) {
        return Err(invalid(format!(
            "the group name must be 1 to {MAX_NAME_BYTES} characters of letters, digits, '_', '-', '.', ':' and '/'"
        )));
    }
    Ok(())
}

fn check_member_id(member_id: &str) -> Result<(), Error> {
    if member_id.is_empty() || member_id.len() > MAX_MEMBER_ID_BYTES || member_id.chars().any(char::is_control) {
        return Err(invalid(format!("member_id must be 1 to {MAX_MEMBER_ID_BYTES} bytes without control characters")));
    }
    Ok(())
}

fn check_member(member: &MemberRef) -> Result<(), Error> {
    check_group_name(&member.group)?;
    check_member_id(&member.member_id)
}
