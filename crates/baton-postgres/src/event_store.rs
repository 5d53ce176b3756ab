//! The event half of the store port on PostgreSQL: appends are group-committed ([`crate::appends`]), every other
//! write is one transaction running the shared rules, and reads are plain statements on the pool.

use async_trait::async_trait;
use baton_core::Error;
use baton_core::clock::Timestamp;
use baton_core::event::engine;
use baton_core::event::group::engine as group_engine;
use baton_core::event::group::{CommitParams, Group, GroupMembership, JoinParams, MemberRef};
use baton_core::event::{
    AppendOutcome, AppendParams, Direction, EventStore, GroupStore, ListStreamsParams, LogSlice, ReadAllParams,
    ReadStreamParams, StreamRecord, StreamSettings, StreamSlice,
};
use baton_core::namespace::Namespace;
use baton_core::page::Page;
use baton_core::store::Applied;
use sqlx::{Row, query};

use crate::rows::{self, store_error};
use crate::store::PgStore;

impl PgStore {
    async fn stream_row(&self, namespace: &Namespace, stream: &str) -> Result<Option<StreamRecord>, Error> {
        let statement = query(include_str!("../queries/event/streams.sql")).bind(namespace.as_str()).bind([stream]);
        let found = self.conns.fetch_optional(statement).await?;
        Ok(found.as_ref().map(rows::stream).transpose()?)
    }
}

#[async_trait]
impl EventStore for PgStore {
    async fn append(&self, batch: Vec<AppendParams>) -> Result<Vec<Result<AppendOutcome, Error>>, Error> {
        self.appends.append(self, batch).await
    }

    async fn read_stream(&self, params: ReadStreamParams) -> Result<Option<StreamSlice>, Error> {
        let Some(stream) = self.stream_row(&params.namespace, &params.stream).await? else { return Ok(None) };
        let (first, last) = params.version_bounds(&stream);
        let sql = match params.direction {
            Direction::Forward => include_str!("../queries/event/read_stream_forward.sql"),
            Direction::Backward => include_str!("../queries/event/read_stream_backward.sql"),
        };
        let statement = query(sql)
            .bind(params.namespace.as_str())
            .bind(&params.stream)
            .bind(first)
            .bind(last)
            .bind(stream.max_age_ms)
            .bind(self.test_now().map(Timestamp::as_millis))
            .bind(i64::from(params.limit));
        let found = self.conns.fetch_all(statement).await?;
        let events = found.iter().map(rows::event).collect::<Result<_, _>>()?;
        Ok(Some(StreamSlice { stream, events }))
    }

    async fn read_all(&self, params: ReadAllParams) -> Result<LogSlice, Error> {
        let sql = match params.direction {
            Direction::Forward => include_str!("../queries/event/read_all_forward.sql"),
            Direction::Backward => include_str!("../queries/event/read_all_backward.sql"),
        };
        let from = match params.direction {
            Direction::Forward => Some(params.from_position.unwrap_or(0)),
            Direction::Backward => params.from_position,
        };
        let (hash_start, hash_end) = params.filter.hash_range.unzip();
        let statement = query(sql)
            .bind(params.namespace.as_str())
            .bind(from)
            .bind(params.filter.event_type.as_deref())
            .bind(params.filter.stream_prefix.as_deref())
            .bind(hash_start)
            .bind(hash_end)
            .bind(i64::from(params.limit));
        let found = self.conns.fetch_all(statement).await?;
        let head = match found.first() {
            Some(row) => row.try_get::<i64, _>("head").map_err(store_error)?.max(0),
            None => 0,
        };
        let mut events = Vec::with_capacity(found.len());
        for row in &found {
            // The row that carries only the head, when no event matched.
            if row.try_get::<Option<String>, _>("event_id").map_err(store_error)?.is_some() {
                events.push(rows::event(row)?);
            }
        }
        Ok(LogSlice { events, head })
    }

    async fn stream_info(&self, namespace: &Namespace, stream: &str) -> Result<Option<(StreamRecord, u64)>, Error> {
        let Some(record) = self.stream_row(namespace, stream).await? else { return Ok(None) };
        let statement = query(include_str!("../queries/event/count_readable.sql"))
            .bind(namespace.as_str())
            .bind(stream)
            .bind(record.first_readable_version())
            .bind(record.max_age_ms)
            .bind(self.test_now().map(Timestamp::as_millis));
        let row = self.conns.fetch_one(statement).await?;
        let count = u64::try_from(row.try_get::<i64, _>(0).map_err(store_error)?).unwrap_or(0);
        Ok(Some((record, count)))
    }

    async fn list_streams(&self, params: ListStreamsParams) -> Result<Page<StreamRecord>, Error> {
        let statement = query(include_str!("../queries/event/list_streams.sql"))
            .bind(params.namespace.as_str())
            .bind(params.prefix.as_deref())
            .bind(params.after.as_deref())
            .bind(i64::from(params.limit) + 1);
        let found = self.conns.fetch_all(statement).await?;
        let items = found.iter().map(rows::stream).collect::<Result<Vec<_>, _>>()?;
        Ok(Page::from_overfetch(items, params.limit, |stream| vec![stream.stream.clone()]))
    }

    async fn set_stream_settings(
        &self,
        namespace: &Namespace,
        stream: &str,
        settings: StreamSettings,
    ) -> Result<StreamRecord, Error> {
        self.write(async |tx| engine::set_stream_settings(tx, namespace, stream, &settings).await).await
    }

    async fn delete_stream(&self, namespace: &Namespace, stream: &str) -> Result<StreamRecord, Error> {
        self.write(async |tx| engine::delete_stream(tx, namespace, stream).await).await
    }

    async fn count_streams(
        &self,
        namespace: &Namespace,
        hash_range: (i64, i64),
        prefix: Option<&str>,
    ) -> Result<u64, Error> {
        let statement = query(include_str!("../queries/event/count_streams.sql"))
            .bind(namespace.as_str())
            .bind(hash_range.0)
            .bind(hash_range.1)
            .bind(prefix);
        let row = self.conns.fetch_one(statement).await?;
        Ok(u64::try_from(row.try_get::<i64, _>(0).map_err(store_error)?).unwrap_or(0))
    }

    async fn prune_events(&self, max_events: u32) -> Result<u64, Error> {
        let now = self.test_now().map(Timestamp::as_millis);
        self.write(async |tx| {
            query(include_str!("../queries/event/age_out.sql"))
                .bind(now)
                .execute(&mut *tx.conn)
                .await
                .map_err(store_error)?;
            let pruned = query(include_str!("../queries/event/prune.sql"))
                .bind(i64::from(max_events))
                .execute(&mut *tx.conn)
                .await
                .map_err(store_error)?;
            query(include_str!("../queries/event/mark_pruned.sql"))
                .execute(&mut *tx.conn)
                .await
                .map_err(store_error)?;
            Ok(Applied::quiet(pruned.rows_affected()))
        })
        .await
    }
}

#[async_trait]
impl GroupStore for PgStore {
    async fn join_group(&self, params: JoinParams) -> Result<GroupMembership, Error> {
        self.write(async |tx| group_engine::join(tx, &params).await).await
    }

    async fn heartbeat_member(&self, member: MemberRef) -> Result<GroupMembership, Error> {
        self.write(async |tx| group_engine::heartbeat(tx, &member).await).await
    }

    async fn leave_group(&self, member: MemberRef) -> Result<(), Error> {
        self.write(async |tx| group_engine::leave(tx, &member).await).await
    }

    async fn commit_checkpoint(&self, params: CommitParams) -> Result<GroupMembership, Error> {
        self.write(async |tx| group_engine::commit(tx, &params).await).await
    }

    async fn get_group(&self, namespace: &Namespace, group: &str) -> Result<Option<Group>, Error> {
        self.read(async |tx| Ok(tx.group_row(namespace, group).await?)).await
    }

    async fn list_groups(
        &self,
        namespace: &Namespace,
        after: Option<String>,
        limit: u32,
    ) -> Result<Page<Group>, Error> {
        self.read(async |tx| {
            let found = query(include_str!("../queries/group/list.sql"))
                .bind(namespace.as_str())
                .bind(after.as_deref())
                .bind(i64::from(limit) + 1)
                .fetch_all(&mut *tx.conn)
                .await
                .map_err(store_error)?;
            let groups = found.iter().map(rows::group).collect::<Result<Vec<_>, _>>()?;
            let mut page = Page::from_overfetch(groups, limit, |group| vec![group.name.clone()]);
            for group in &mut page.items {
                tx.fill_group(group).await?;
            }
            Ok(page)
        })
        .await
    }

    async fn delete_group(&self, namespace: &Namespace, group: &str) -> Result<bool, Error> {
        self.write(async |tx| group_engine::delete(tx, namespace, group).await).await
    }

    async fn expire_group_members(&self, max_groups: u32) -> Result<u32, Error> {
        self.write(async |tx| group_engine::expire_members(tx, max_groups).await).await
    }
}
