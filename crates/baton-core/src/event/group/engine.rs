//! The consumer-group rules, written once for every backend: membership with leases, generations, and
//! checkpoints that only a member of the current generation may move.
//!
//! Every operation takes the group's lock first ([`GroupTx::lock_group`]), reads the group, and removes lapsed
//! members before it does anything else, so a lapsed member's partitions pass to the others at the first
//! operation after its lease ends (or at the reaper's next pass).
//!
//! **Invariant:** a checkpoint moves only for a live member, under the current generation, and only for the
//! partitions that generation gives it; so every stream's events are committed by exactly one member at a time.

use crate::clock::Timestamp;
use crate::error::{Error, StoreError};
use crate::event::group::model::{CommitParams, Group, GroupMembership, JoinParams, Member, MemberRef};
use crate::namespace::Namespace;
use crate::store::Applied;

/// The statements a backend offers inside one transaction.
#[allow(async_fn_in_trait)]
pub trait GroupTx {
    async fn now(&mut self) -> Result<Timestamp, StoreError>;
    /// Serialises operations on this group until the transaction ends.
    async fn lock_group(&mut self, namespace: &Namespace, group: &str) -> Result<(), StoreError>;
    /// The group with its members (sorted by id) and checkpoints.
    async fn group(&mut self, namespace: &Namespace, group: &str) -> Result<Option<Group>, StoreError>;
    /// The last position of the namespace's log (0 when it is empty).
    async fn log_head(&mut self, namespace: &Namespace) -> Result<i64, StoreError>;
    /// Creates the group's row and one checkpoint per partition.
    async fn insert_group(&mut self, group: &Group) -> Result<(), StoreError>;
    async fn save_generation(&mut self, namespace: &Namespace, group: &str, generation: i64) -> Result<(), StoreError>;
    async fn save_member(&mut self, namespace: &Namespace, group: &str, member: &Member) -> Result<(), StoreError>;
    async fn delete_members(
        &mut self,
        namespace: &Namespace,
        group: &str,
        member_ids: &[String],
    ) -> Result<(), StoreError>;
    async fn save_checkpoints(
        &mut self,
        namespace: &Namespace,
        group: &str,
        checkpoints: &[(u32, i64)],
    ) -> Result<(), StoreError>;
    async fn delete_group(&mut self, namespace: &Namespace, group: &str) -> Result<bool, StoreError>;
    /// Groups that have a member whose lease lapsed at `now`.
    async fn groups_with_lapsed_members(&mut self, limit: u32) -> Result<Vec<(Namespace, String)>, StoreError>;
}

/// Locks and reads the group, then removes its lapsed members (a new generation if there were any).
async fn load<T: GroupTx>(tx: &mut T, namespace: &Namespace, name: &str) -> Result<Option<Group>, Error> {
    let now = tx.now().await?;
    tx.lock_group(namespace, name).await?;
    let Some(mut group) = tx.group(namespace, name).await? else { return Ok(None) };
    let lapsed = group.lapsed_members(now);
    if !lapsed.is_empty() {
        tx.delete_members(namespace, name, &lapsed).await?;
        group.members.retain(|member| !lapsed.contains(&member.member_id));
        next_generation(tx, &mut group).await?;
    }
    Ok(Some(group))
}

async fn next_generation<T: GroupTx>(tx: &mut T, group: &mut Group) -> Result<(), StoreError> {
    group.generation += 1;
    tx.save_generation(&group.namespace, &group.name, group.generation).await
}

async fn load_existing<T: GroupTx>(tx: &mut T, member: &MemberRef) -> Result<Group, Error> {
    load(tx, &member.namespace, &member.group)
        .await?
        .ok_or_else(|| Error::GroupNotFound { group: member.group.clone() })
}

fn membership(group: Group, member_id: &str) -> Result<GroupMembership, Error> {
    let partitions = group
        .partitions_of(member_id)
        .ok_or_else(|| Error::MemberNotFound { group: group.name.clone(), member_id: member_id.to_owned() })?;
    Ok(GroupMembership { group, member_id: member_id.to_owned(), partitions })
}

/// Joins the group, creating it with `params.settings` on first use. A member that is already in renews its
/// lease and keeps the generation.
pub async fn join<T: GroupTx>(tx: &mut T, params: &JoinParams) -> Result<Applied<GroupMembership>, Error> {
    let now = tx.now().await?;
    let MemberRef { namespace, group: name, member_id } = &params.member;
    let mut group = match load(tx, namespace, name).await? {
        Some(group) => {
            if group.settings != params.settings {
                return Err(Error::GroupSettingsMismatch {
                    group: name.clone(),
                    message: "partitions, stream_prefix, event_type and start must match the group's".into(),
                });
            }
            group
        }
        None => {
            let start = match params.settings.start {
                crate::event::group::model::GroupStart::Beginning => 0,
                crate::event::group::model::GroupStart::End => tx.log_head(namespace).await?,
            };
            let group = Group {
                namespace: namespace.clone(),
                name: name.clone(),
                settings: params.settings.clone(),
                generation: 0,
                created_at: now,
                members: Vec::new(),
                checkpoints: vec![start; params.settings.partitions as usize],
            };
            tx.insert_group(&group).await?;
            group
        }
    };
    let expires_at = now.plus(std::time::Duration::from_millis(u64::try_from(params.ttl_ms).unwrap_or(0)));
    let member = match group.members.iter_mut().find(|member| &member.member_id == member_id) {
        Some(member) => {
            member.ttl_ms = params.ttl_ms;
            member.expires_at = expires_at;
            member.clone()
        }
        None => {
            let member = Member { member_id: member_id.clone(), ttl_ms: params.ttl_ms, joined_at: now, expires_at };
            group.members.push(member.clone());
            group.members.sort_by(|a, b| a.member_id.cmp(&b.member_id));
            next_generation(tx, &mut group).await?;
            member
        }
    };
    tx.save_member(namespace, name, &member).await?;
    Ok(Applied::quiet(membership(group, member_id)?))
}

/// Renews a live member's lease.
pub async fn heartbeat<T: GroupTx>(tx: &mut T, member_ref: &MemberRef) -> Result<Applied<GroupMembership>, Error> {
    let now = tx.now().await?;
    let mut group = load_existing(tx, member_ref).await?;
    let member = group.members.iter_mut().find(|member| member.member_id == member_ref.member_id).ok_or_else(|| {
        Error::MemberNotFound { group: member_ref.group.clone(), member_id: member_ref.member_id.clone() }
    })?;
    member.expires_at = now.plus(std::time::Duration::from_millis(u64::try_from(member.ttl_ms).unwrap_or(0)));
    let member = member.clone();
    tx.save_member(&member_ref.namespace, &member_ref.group, &member).await?;
    Ok(Applied::quiet(membership(group, &member_ref.member_id)?))
}

/// Leaves the group; its partitions pass to the others in a new generation.
pub async fn leave<T: GroupTx>(tx: &mut T, member_ref: &MemberRef) -> Result<Applied<()>, Error> {
    let mut group = load_existing(tx, member_ref).await?;
    if group.member(&member_ref.member_id).is_none() {
        return Err(Error::MemberNotFound { group: member_ref.group.clone(), member_id: member_ref.member_id.clone() });
    }
    tx.delete_members(&member_ref.namespace, &member_ref.group, std::slice::from_ref(&member_ref.member_id)).await?;
    next_generation(tx, &mut group).await?;
    Ok(Applied::quiet(()))
}

/// Moves the checkpoints of the member's partitions up to `params.position` (never back).
pub async fn commit<T: GroupTx>(tx: &mut T, params: &CommitParams) -> Result<Applied<GroupMembership>, Error> {
    let member_ref = &params.member;
    let mut group = load_existing(tx, member_ref).await?;
    let partitions = group.partitions_of(&member_ref.member_id).ok_or_else(|| Error::MemberNotFound {
        group: member_ref.group.clone(),
        member_id: member_ref.member_id.clone(),
    })?;
    if params.generation != group.generation {
        return Err(Error::StaleGeneration {
            group: member_ref.group.clone(),
            generation: params.generation,
            current: group.generation,
        });
    }
    let head = tx.log_head(&member_ref.namespace).await?;
    if params.position > head {
        return Err(Error::PositionOutOfRange { position: params.position, head });
    }
    let mut moved = Vec::new();
    for partition in partitions {
        let checkpoint = &mut group.checkpoints[partition as usize];
        if params.position > *checkpoint {
            *checkpoint = params.position;
            moved.push((partition, params.position));
        }
    }
    if !moved.is_empty() {
        tx.save_checkpoints(&member_ref.namespace, &member_ref.group, &moved).await?;
    }
    Ok(Applied::quiet(membership(group, &member_ref.member_id)?))
}

pub async fn delete<T: GroupTx>(tx: &mut T, namespace: &Namespace, name: &str) -> Result<Applied<bool>, Error> {
    tx.lock_group(namespace, name).await?;
    Ok(Applied::quiet(tx.delete_group(namespace, name).await?))
}

/// Removes lapsed members from up to `max_groups` groups; returns how many groups moved to a new generation.
pub async fn expire_members<T: GroupTx>(tx: &mut T, max_groups: u32) -> Result<Applied<u32>, Error> {
    let mut changed = 0;
    for (namespace, name) in tx.groups_with_lapsed_members(max_groups).await? {
        if load(tx, &namespace, &name).await?.is_some() {
            changed += 1;
        }
    }
    Ok(Applied::quiet(changed))
}
