//! The event half of the store port. Each method is one atomic store operation.

use async_trait::async_trait;

use crate::error::Error;
use crate::event::group::model::{CommitParams, Group, GroupMembership, JoinParams, MemberRef};
use crate::event::model::{
    AppendOutcome, AppendParams, ListStreamsParams, LogSlice, ReadAllParams, ReadStreamParams, StreamRecord,
    StreamSettings, StreamSlice,
};
use crate::namespace::Namespace;
use crate::page::Page;

#[async_trait]
pub trait EventStore: Send + Sync {
    /// Appends each item atomically; one item's refusal (a wrong expected version, say) never fails the others.
    async fn append(&self, batch: Vec<AppendParams>) -> Result<Vec<Result<AppendOutcome, Error>>, Error>;

    /// The stream's row and one page of its readable events; `None` when the stream has no row at all.
    async fn read_stream(&self, params: ReadStreamParams) -> Result<Option<StreamSlice>, Error>;

    /// One page of the namespace's log in position order, with the log's head.
    async fn read_all(&self, params: ReadAllParams) -> Result<LogSlice, Error>;

    /// The stream's row and how many of its events are readable.
    async fn stream_info(&self, namespace: &Namespace, stream: &str) -> Result<Option<(StreamRecord, u64)>, Error>;

    /// Streams that exist (not deleted), by name.
    async fn list_streams(&self, params: ListStreamsParams) -> Result<Page<StreamRecord>, Error>;

    async fn set_stream_settings(
        &self,
        namespace: &Namespace,
        stream: &str,
        settings: StreamSettings,
    ) -> Result<StreamRecord, Error>;

    async fn delete_stream(&self, namespace: &Namespace, stream: &str) -> Result<StreamRecord, Error>;

    /// How many existing streams have a hash in `[start, end)` (and the prefix): what a group member owns.
    async fn count_streams(
        &self,
        namespace: &Namespace,
        hash_range: (i64, i64),
        prefix: Option<&str>,
    ) -> Result<u64, Error>;

    /// Removes up to `max_events` events that truncation or deletion made unreadable; returns how many.
    async fn prune_events(&self, max_events: u32) -> Result<u64, Error>;
}

/// Consumer groups: members share a namespace's log by stream, with checkpoints kept on the server.
#[async_trait]
pub trait GroupStore: Send + Sync {
    /// Joins (creating the group on first use) or rejoins; the member's lease starts again.
    async fn join_group(&self, params: JoinParams) -> Result<GroupMembership, Error>;

    /// Renews the member's lease, and says what it owns now.
    async fn heartbeat_member(&self, member: MemberRef) -> Result<GroupMembership, Error>;

    async fn leave_group(&self, member: MemberRef) -> Result<(), Error>;

    /// Moves the checkpoints of the member's partitions up to `position`, if its generation is current.
    async fn commit_checkpoint(&self, params: CommitParams) -> Result<GroupMembership, Error>;

    /// The group with every stored member (lapsed ones included) and its checkpoints.
    async fn get_group(&self, namespace: &Namespace, group: &str) -> Result<Option<Group>, Error>;

    /// Groups by name, after `after`: up to `limit` of them, each with its members and checkpoints.
    async fn list_groups(&self, namespace: &Namespace, after: Option<String>, limit: u32)
    -> Result<Page<Group>, Error>;

    async fn delete_group(&self, namespace: &Namespace, group: &str) -> Result<bool, Error>;

    /// Removes members whose lease lapsed from up to `max_groups` groups, moving each to a new generation;
    /// returns how many groups changed.
    async fn expire_group_members(&self, max_groups: u32) -> Result<u32, Error>;
}
