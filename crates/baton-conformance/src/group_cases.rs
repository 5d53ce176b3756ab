//! The consumer-group behaviours every backend must show: membership and generations, the split of streams
//! among members, fenced checkpoints, and lapsed members.

use std::time::Duration;

use baton_core::Error;
use baton_core::event::group::Group;
use baton_core::event::group::{
    CommitParams, GroupMembership, GroupSettings, GroupStart, JoinParams, MemberRef, hash_range, partition_of,
};
use baton_core::event::{AppendParams, EventId, ExpectedVersion, NewEvent, stream_hash};
use baton_core::namespace::Namespace;
use baton_core::page::Page;
use serde_json::value::RawValue;

use crate::harness::Harness;

fn member(id: &str) -> MemberRef {
    MemberRef { namespace: Namespace::default(), group: "projections".into(), member_id: id.into() }
}

fn settings(partitions: u32) -> GroupSettings {
    GroupSettings { partitions, ..GroupSettings::default() }
}

async fn join(h: &Harness, id: &str, partitions: u32) -> GroupMembership {
    let params = JoinParams { member: member(id), ttl_ms: 10_000, settings: settings(partitions) };
    h.store.join_group(params).await.expect("join")
}

async fn commit(h: &Harness, id: &str, generation: i64, position: i64) -> Result<GroupMembership, Error> {
    h.store.commit_checkpoint(CommitParams { member: member(id), generation, position }).await
}

async fn append(h: &Harness, stream: &str, count: usize) {
    let events = (0..count)
        .map(|_| NewEvent {
            event_id: EventId::new(),
            id_from_client: false,
            event_type: "happened".into(),
            data: RawValue::from_string("{}".into()).expect("json"),
            metadata: None,
        })
        .collect();
    let params =
        AppendParams { namespace: Namespace::default(), stream: stream.into(), expected: ExpectedVersion::Any, events };
    h.store.append(vec![params]).await.expect("store").pop().expect("outcome").expect("append");
}

pub async fn members_split_the_partitions_and_every_change_is_a_new_generation(h: &Harness) {
    let a = join(h, "a", 8).await;
    assert_eq!((a.group.generation, a.partitions.clone()), (1, 0..8));
    // Joining again only renews the lease.
    assert_eq!(join(h, "a", 8).await.group.generation, 1);
    let b = join(h, "b", 8).await;
    assert_eq!((b.group.generation, b.partitions), (2, 4..8));
    let c = join(h, "c", 8).await;
    let group = h.store.get_group(&Namespace::default(), "projections").await.unwrap().unwrap();
    assert_eq!(group.generation, 3);
    // every partition has exactly one owner
    let mut owned: Vec<u32> = ["a", "b", "c"].iter().flat_map(|id| group.partitions_of(id).unwrap()).collect();
    owned.sort_unstable();
    assert_eq!(owned, (0..8).collect::<Vec<_>>());
    assert_eq!(c.partitions, 5..8);
    // so every stream has exactly one owner
    for stream in ["order-1", "order-2", "user-7", "invoice-3"] {
        let partition = partition_of(stream_hash(stream), 8);
        let owners: Vec<&str> = ["a", "b", "c"]
            .into_iter()
            .filter(|id| {
                let (start, end) = hash_range(&group.partitions_of(id).unwrap(), 8);
                (start..end).contains(&i64::from(stream_hash(stream)))
            })
            .collect();
        assert_eq!(owners.len(), 1, "{stream} (partition {partition}) owned by {owners:?}");
    }
    h.store.leave_group(member("a")).await.unwrap();
    let b = h.store.heartbeat_member(member("b")).await.unwrap();
    assert_eq!((b.group.generation, b.partitions), (4, 0..4));
    assert!(matches!(h.store.leave_group(member("a")).await, Err(Error::MemberNotFound { .. })));
    assert_eq!(h.store.list_groups(&Namespace::default(), None, 10).await.unwrap().items.len(), 1);
    assert!(h.store.delete_group(&Namespace::default(), "projections").await.unwrap());
    assert!(!h.store.delete_group(&Namespace::default(), "projections").await.unwrap());
    assert!(matches!(h.store.heartbeat_member(member("b")).await, Err(Error::GroupNotFound { .. })));
}

pub async fn checkpoints_move_forward_only_under_the_current_generation(h: &Harness) {
    append(h, "s", 10).await;
    join(h, "a", 4).await;
    let b = join(h, "b", 4).await;
    assert!(matches!(commit(h, "a", 1, 5).await, Err(Error::StaleGeneration { generation: 1, current: 2, .. })));
    assert!(matches!(commit(h, "a", 2, 11).await, Err(Error::PositionOutOfRange { position: 11, head: 10 })));
    assert!(matches!(commit(h, "nobody", 2, 1).await, Err(Error::MemberNotFound { .. })));
    let after = commit(h, "b", b.group.generation, 7).await.unwrap();
    assert_eq!(after.group.checkpoints, vec![0, 0, 7, 7]);
    // never back
    assert_eq!(commit(h, "b", 2, 3).await.unwrap().group.checkpoints, vec![0, 0, 7, 7]);
    assert_eq!(commit(h, "a", 2, 4).await.unwrap().group.checkpoints, vec![4, 4, 7, 7]);
}

pub async fn lapsed_members_are_removed_and_their_partitions_reassigned(h: &Harness) {
    join(h, "a", 4).await;
    h.advance(Duration::from_secs(6));
    join(h, "b", 4).await;
    h.advance(Duration::from_secs(6));
    // a's lease (10 s) has lapsed; b's has not
    assert_eq!(h.store.expire_group_members(10).await.unwrap(), 1);
    assert_eq!(h.store.expire_group_members(10).await.unwrap(), 0);
    let group = h.store.get_group(&Namespace::default(), "projections").await.unwrap().unwrap();
    assert_eq!((group.generation, group.members.len()), (3, 1));
    assert_eq!(group.partitions_of("b"), Some(0..4));
    assert!(matches!(h.store.heartbeat_member(member("a")).await, Err(Error::MemberNotFound { .. })));
    // A write on the group removes lapsed members too, before it decides anything.
    h.advance(Duration::from_secs(11));
    assert!(matches!(commit(h, "b", 3, 0).await, Err(Error::MemberNotFound { .. })));
}

pub async fn a_group_keeps_its_settings_and_can_start_at_the_end(h: &Harness) {
    append(h, "s", 3).await;
    join(h, "a", 4).await;
    let other = JoinParams { member: member("b"), ttl_ms: 10_000, settings: settings(8) };
    assert!(matches!(h.store.join_group(other).await, Err(Error::GroupSettingsMismatch { .. })));
    let late = GroupSettings { start: GroupStart::End, ..settings(2) };
    let params =
        JoinParams { member: MemberRef { group: "late".into(), ..member("a") }, ttl_ms: 10_000, settings: late };
    assert_eq!(h.store.join_group(params).await.unwrap().group.checkpoints, vec![3, 3]);
}

pub async fn groups_list_by_name_a_page_at_a_time(h: &Harness) {
    for group in ["orders", "audit", "billing", "zeta"] {
        let member = MemberRef { namespace: Namespace::default(), group: group.into(), member_id: "m".into() };
        h.store.join_group(JoinParams { member, ttl_ms: 10_000, settings: settings(2) }).await.expect("join");
    }
    let elsewhere =
        MemberRef { namespace: Namespace::parse("other").unwrap(), group: "alpha".into(), member_id: "m".into() };
    h.store.join_group(JoinParams { member: elsewhere, ttl_ms: 10_000, settings: settings(2) }).await.expect("join");

    let names = |page: &Page<Group>| page.items.iter().map(|group| group.name.clone()).collect::<Vec<_>>();
    let first = h.store.list_groups(&Namespace::default(), None, 3).await.unwrap();
    assert_eq!(names(&first), ["audit", "billing", "orders"]);
    assert!(first.next_cursor.is_some(), "a fourth group follows");
    assert!(first.items.iter().all(|group| group.members.len() == 1), "each group comes with its members");
    let rest = h.store.list_groups(&Namespace::default(), Some("orders".into()), 3).await.unwrap();
    assert_eq!((names(&rest), rest.next_cursor), (vec!["zeta".to_owned()], None));
    let exact = h.store.list_groups(&Namespace::default(), None, 4).await.unwrap();
    assert_eq!((exact.items.len(), exact.next_cursor), (4, None), "no cursor when nothing follows");
}
