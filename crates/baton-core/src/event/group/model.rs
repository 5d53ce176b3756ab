//! Consumer groups: their settings, members, generations and checkpoints, and how the log is split among members.
//!
//! The log is split by stream: a stream's [`stream_hash`](crate::event::model::stream_hash) falls in one of the
//! group's fixed partitions (equal ranges of the hash space), and the sorted live members each own one
//! contiguous run of partitions. Every membership change starts a new generation; a member acts on its
//! partitions only under the current generation, which fences a member that missed a rebalance.

use std::ops::Range;

use crate::clock::Timestamp;
use crate::namespace::Namespace;

pub const DEFAULT_PARTITIONS: u32 = 32;
pub const MAX_PARTITIONS: u32 = 1024;

/// Where a new group's checkpoints start.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum GroupStart {
    /// Every event already in the log is delivered.
    #[default]
    Beginning,
    /// Only events appended after the group was created are delivered.
    End,
}

impl GroupStart {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Beginning => "beginning",
            Self::End => "end",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "beginning" => Some(Self::Beginning),
            "end" => Some(Self::End),
            _ => None,
        }
    }
}

/// Fixed when the group is created; a later join must ask for the same.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GroupSettings {
    pub partitions: u32,
    pub stream_prefix: Option<String>,
    pub event_type: Option<String>,
    pub start: GroupStart,
}

impl Default for GroupSettings {
    fn default() -> Self {
        Self { partitions: DEFAULT_PARTITIONS, stream_prefix: None, event_type: None, start: GroupStart::Beginning }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Member {
    pub member_id: String,
    pub ttl_ms: i64,
    pub joined_at: Timestamp,
    pub expires_at: Timestamp,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Group {
    pub namespace: Namespace,
    pub name: String,
    pub settings: GroupSettings,
    /// Starts at 1 and moves on at every membership change.
    pub generation: i64,
    pub created_at: Timestamp,
    /// Sorted by `member_id`: the order that decides who owns what.
    pub members: Vec<Member>,
    /// Per partition, the last position the group has processed (0: none).
    pub checkpoints: Vec<i64>,
}

impl Group {
    /// The partitions `member_id` owns in this generation; `None` when it is not a member.
    pub fn partitions_of(&self, member_id: &str) -> Option<Range<u32>> {
        let index = self.members.iter().position(|member| member.member_id == member_id)?;
        Some(assign(self.members.len(), index, self.settings.partitions))
    }

    pub fn member(&self, member_id: &str) -> Option<&Member> {
        self.members.iter().find(|member| member.member_id == member_id)
    }

    /// Members whose lease lapsed at `now`.
    pub fn lapsed_members(&self, now: Timestamp) -> Vec<String> {
        self.members.iter().filter(|member| member.expires_at <= now).map(|member| member.member_id.clone()).collect()
    }
}

/// A member's view of its group after an operation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GroupMembership {
    pub group: Group,
    pub member_id: String,
    /// May be empty: a group with more members than partitions leaves some idle.
    pub partitions: Range<u32>,
}

#[derive(Clone, Debug)]
pub struct MemberRef {
    pub namespace: Namespace,
    pub group: String,
    pub member_id: String,
}

#[derive(Clone, Debug)]
pub struct JoinParams {
    pub member: MemberRef,
    pub ttl_ms: i64,
    pub settings: GroupSettings,
}

#[derive(Clone, Debug)]
pub struct CommitParams {
    pub member: MemberRef,
    pub generation: i64,
    /// Every event of the member's partitions up to here is processed.
    pub position: i64,
}

/// The run of partitions the member at `index` (of `members`, sorted) owns: equal runs, in order.
pub fn assign(members: usize, index: usize, partitions: u32) -> Range<u32> {
    let share = |at: usize| u32::try_from(u64::from(partitions) * at as u64 / members.max(1) as u64).unwrap_or(0);
    share(index)..share(index + 1)
}

/// The partition a stream hash falls in.
pub fn partition_of(hash: u32, partitions: u32) -> u32 {
    u32::try_from((u64::from(hash) * u64::from(partitions)) >> 32).unwrap_or(0)
}

/// The stream hashes `[start, end)` of a run of partitions, for a range query on the stored hash.
pub fn hash_range(run: &Range<u32>, partitions: u32) -> (i64, i64) {
    // The first hash of partition p is ceil(p * 2^32 / partitions).
    let first_hash = |partition: u32| {
        let total = i64::from(partitions.max(1));
        (i64::from(partition) * (1_i64 << 32) + total - 1) / total
    };
    (first_hash(run.start), first_hash(run.end))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn members_own_equal_runs_that_cover_every_partition_once() {
        for members in 1..=40 {
            let mut next = 0;
            for index in 0..members {
                let run = assign(members, index, 32);
                assert_eq!(run.start, next, "{members} members: runs are contiguous");
                next = run.end;
            }
            assert_eq!(next, 32);
        }
    }

    #[test]
    fn a_hash_range_holds_exactly_the_hashes_of_its_partitions() {
        let partitions = 7;
        for hash in [0_u32, 1, 613_566_756, 613_566_757, u32::MAX / 2, u32::MAX - 1, u32::MAX] {
            let partition = partition_of(hash, partitions);
            let (start, end) = hash_range(&(partition..partition + 1), partitions);
            assert!((start..end).contains(&i64::from(hash)), "hash {hash} in partition {partition}");
        }
        assert_eq!(hash_range(&(0..partitions), partitions), (0, 1 << 32));
    }
}
