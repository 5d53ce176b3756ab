//! The event half of the store port on SQLite: appends and group changes go through the writer (group commit),
//! reads through the read-only connections.

use async_trait::async_trait;
use baton_core::Error;
use baton_core::event::engine;
use baton_core::event::group::engine as group_engine;
use baton_core::event::group::{CommitParams, Group, GroupMembership, JoinParams, MemberRef};
use baton_core::event::{
    AppendOutcome, AppendParams, EventStore, GroupStore, ListStreamsParams, LogSlice, ReadAllParams, ReadStreamParams,
    StreamRecord, StreamSettings, StreamSlice,
};
use baton_core::namespace::Namespace;
use baton_core::page::Page;
use baton_core::store::Applied;
use futures::executor::block_on;
use rusqlite::params;

use crate::rows;
use crate::store::SqliteStore;

#[async_trait]
impl EventStore for SqliteStore {
    async fn append(&self, batch: Vec<AppendParams>) -> Result<Vec<Result<AppendOutcome, Error>>, Error> {
        self.writer.write(move |tx| block_on(engine::append(tx, &batch))).await
    }

    async fn read_stream(&self, params: ReadStreamParams) -> Result<Option<StreamSlice>, Error> {
        self.readers
            .read(move |tx| {
                let Some(stream) = tx.stream_row(&params.namespace, &params.stream)? else { return Ok(None) };
                let bounds = params.version_bounds(&stream);
                let since = stream.readable_since(tx.now);
                let events = tx.stream_events(&stream, bounds, since, params.direction, params.limit)?;
                Ok(Some(StreamSlice { stream, events }))
            })
            .await
    }

    async fn read_all(&self, params: ReadAllParams) -> Result<LogSlice, Error> {
        self.readers
            .read(move |tx| {
                // The head first: every event up to it is committed, so the events read next include them all.
                let head = tx.log_head_position(&params.namespace)?;
                let from = params.from_position.unwrap_or(match params.direction {
                    baton_core::event::Direction::Forward => 0,
                    baton_core::event::Direction::Backward => head,
                });
                let events = tx.log_events(&params.namespace, from, params.direction, params.limit, &params.filter)?;
                Ok(LogSlice { events, head })
            })
            .await
    }

    async fn stream_info(&self, namespace: &Namespace, stream: &str) -> Result<Option<(StreamRecord, u64)>, Error> {
        let (namespace, stream) = (namespace.clone(), stream.to_owned());
        self.readers
            .read(move |tx| {
                let Some(record) = tx.stream_row(&namespace, &stream)? else { return Ok(None) };
                let count = tx.count(
                    include_str!("../queries/event/count_readable.sql"),
                    params![
                        namespace.as_str(),
                        stream,
                        record.first_readable_version(),
                        record.readable_since(tx.now).as_millis()
                    ],
                )?;
                Ok(Some((record, count)))
            })
            .await
    }

    async fn list_streams(&self, params: ListStreamsParams) -> Result<Page<StreamRecord>, Error> {
        self.readers
            .read(move |tx| {
                let items = tx.query_all(
                    include_str!("../queries/event/list_streams.sql"),
                    params![params.namespace.as_str(), params.prefix, params.after, i64::from(params.limit) + 1],
                    rows::stream,
                )?;
                Ok(Page::from_overfetch(items, params.limit, |stream| vec![stream.stream.clone()]))
            })
            .await
    }

    async fn set_stream_settings(
        &self,
        namespace: &Namespace,
        stream: &str,
        settings: StreamSettings,
    ) -> Result<StreamRecord, Error> {
        let (namespace, stream) = (namespace.clone(), stream.to_owned());
        self.writer.write(move |tx| block_on(engine::set_stream_settings(tx, &namespace, &stream, &settings))).await
    }

    async fn delete_stream(&self, namespace: &Namespace, stream: &str) -> Result<StreamRecord, Error> {
        let (namespace, stream) = (namespace.clone(), stream.to_owned());
        self.writer.write(move |tx| block_on(engine::delete_stream(tx, &namespace, &stream))).await
    }

    async fn count_streams(
        &self,
        namespace: &Namespace,
        hash_range: (i64, i64),
        prefix: Option<&str>,
    ) -> Result<u64, Error> {
        let (namespace, prefix) = (namespace.clone(), prefix.map(str::to_owned));
        self.readers
            .read(move |tx| {
                let args = params![namespace.as_str(), hash_range.0, hash_range.1, prefix];
                Ok(tx.count(include_str!("../queries/event/count_streams.sql"), args)?)
            })
            .await
    }

    async fn prune_events(&self, max_events: u32) -> Result<u64, Error> {
        self.writer
            .write(move |tx| {
                tx.execute(include_str!("../queries/event/age_out.sql"), [tx.now.as_millis()])?;
                let pruned = tx.execute(include_str!("../queries/event/prune.sql"), [i64::from(max_events)])?;
                tx.execute(include_str!("../queries/event/mark_pruned.sql"), [])?;
                Ok(Applied::quiet(pruned as u64))
            })
            .await
    }
}

#[async_trait]
impl GroupStore for SqliteStore {
    async fn join_group(&self, params: JoinParams) -> Result<GroupMembership, Error> {
        self.writer.write(move |tx| block_on(group_engine::join(tx, &params))).await
    }

    async fn heartbeat_member(&self, member: MemberRef) -> Result<GroupMembership, Error> {
        self.writer.write(move |tx| block_on(group_engine::heartbeat(tx, &member))).await
    }

    async fn leave_group(&self, member: MemberRef) -> Result<(), Error> {
        self.writer.write(move |tx| block_on(group_engine::leave(tx, &member))).await
    }

    async fn commit_checkpoint(&self, params: CommitParams) -> Result<GroupMembership, Error> {
        self.writer.write(move |tx| block_on(group_engine::commit(tx, &params))).await
    }

    async fn get_group(&self, namespace: &Namespace, group: &str) -> Result<Option<Group>, Error> {
        let (namespace, group) = (namespace.clone(), group.to_owned());
        self.readers.read(move |tx| Ok(tx.group_row(&namespace, &group)?)).await
    }

    async fn list_groups(
        &self,
        namespace: &Namespace,
        after: Option<String>,
        limit: u32,
    ) -> Result<Page<Group>, Error> {
        let namespace = namespace.clone();
        self.readers
            .read(move |tx| {
                let found = tx.query_all(
                    include_str!("../queries/group/list.sql"),
                    params![namespace.as_str(), after, i64::from(limit) + 1],
                    rows::group,
                )?;
                let mut page = Page::from_overfetch(found, limit, |group| vec![group.name.clone()]);
                for group in &mut page.items {
                    tx.fill_group(group)?;
                }
                Ok(page)
            })
            .await
    }

    async fn delete_group(&self, namespace: &Namespace, group: &str) -> Result<bool, Error> {
        let (namespace, group) = (namespace.clone(), group.to_owned());
        self.writer.write(move |tx| block_on(group_engine::delete(tx, &namespace, &group))).await
    }

    async fn expire_group_members(&self, max_groups: u32) -> Result<u32, Error> {
        self.writer.write(move |tx| block_on(group_engine::expire_members(tx, max_groups))).await
    }
}
