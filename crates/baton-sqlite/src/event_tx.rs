//! The statements the shared event and consumer-group rules run, on one SQLite connection. The writer thread
//! serialises every write, so the log's and groups' locks have nothing to do here, and positions are drawn in
//! commit order by construction.

use baton_core::StoreError;
use baton_core::clock::Timestamp;
use baton_core::event::engine::EventTx;
use baton_core::event::group::engine::GroupTx;
use baton_core::event::group::{Group, Member};
use baton_core::event::{Direction, EventId, LogFilter, RecordedEvent, StreamRecord};
use baton_core::namespace::Namespace;
use baton_core::stored::{encode, encode_optional};
use rusqlite::params;

use crate::rows::{self, store_error};
use crate::tx::SqliteTx;

impl SqliteTx<'_> {
    pub(crate) fn stream_row(&self, namespace: &Namespace, stream: &str) -> Result<Option<StreamRecord>, StoreError> {
        Ok(self.stream_rows(namespace, &[stream])?.pop())
    }

    fn stream_rows(&self, namespace: &Namespace, streams: &[&str]) -> Result<Vec<StreamRecord>, StoreError> {
        self.query_all(
            include_str!("../queries/event/streams.sql"),
            params![namespace.as_str(), encode(streams)?],
            rows::stream,
        )
    }

    /// The log's last position (0 while it is empty).
    pub(crate) fn log_head_position(&self, namespace: &Namespace) -> Result<i64, StoreError> {
        let head = self.query_optional(include_str!("../queries/event/head.sql"), [namespace.as_str()], |row| {
            row.get::<_, i64>(0).map_err(store_error)
        })?;
        Ok(head.unwrap_or(0).max(0))
    }

    /// A stream's events with versions in `bounds` (inclusive), recorded at `since` or later.
    pub(crate) fn stream_events(
        &self,
        stream: &StreamRecord,
        bounds: (i64, i64),
        since: Timestamp,
        direction: Direction,
        limit: u32,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        let sql = match direction {
            Direction::Forward => include_str!("../queries/event/read_stream_forward.sql"),
            Direction::Backward => include_str!("../queries/event/read_stream_backward.sql"),
        };
        let args =
            params![stream.namespace.as_str(), stream.stream, bounds.0, bounds.1, since.as_millis(), i64::from(limit)];
        self.query_all(sql, args, rows::event)
    }

    pub(crate) fn log_events(
        &self,
        namespace: &Namespace,
        from: i64,
        direction: Direction,
        limit: u32,
        filter: &LogFilter,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        let sql = match direction {
            Direction::Forward => include_str!("../queries/event/read_all_forward.sql"),
            Direction::Backward => include_str!("../queries/event/read_all_backward.sql"),
        };
        let (hash_start, hash_end) = filter.hash_range.unzip();
        let args = params![
            namespace.as_str(),
            from,
            filter.event_type,
            filter.stream_prefix,
            hash_start,
            hash_end,
            i64::from(limit)
        ];
        self.query_all(sql, args, rows::event)
    }

    /// A group with its members and checkpoints.
    pub(crate) fn group_row(&self, namespace: &Namespace, name: &str) -> Result<Option<Group>, StoreError> {
        let found = self.query_optional(
            include_str!("../queries/group/get.sql"),
            params![namespace.as_str(), name],
            rows::group,
        )?;
        let Some(mut group) = found else { return Ok(None) };
        self.fill_group(&mut group)?;
        Ok(Some(group))
    }

    /// Reads a group's members and checkpoints into it.
    pub(crate) fn fill_group(&self, group: &mut Group) -> Result<(), StoreError> {
        let (namespace, name) = (group.namespace.to_string(), group.name.clone());
        group.members =
            self.query_all(include_str!("../queries/group/members.sql"), params![namespace, name], rows::member)?;
        self.query_all(include_str!("../queries/group/checkpoints.sql"), params![namespace, name], |row| {
            rows::checkpoint(group, row)
        })?;
        Ok(())
    }
}

impl EventTx for SqliteTx<'_> {
    async fn now(&mut self) -> Result<Timestamp, StoreError> {
        Ok(self.now)
    }

    async fn lock_log(&mut self, _namespace: &Namespace) -> Result<(), StoreError> {
        Ok(())
    }

    async fn streams(&mut self, namespace: &Namespace, streams: &[&str]) -> Result<Vec<StreamRecord>, StoreError> {
        self.stream_rows(namespace, streams)
    }

    async fn events_by_id(
        &mut self,
        namespace: &Namespace,
        stream: &str,
        event_ids: &[EventId],
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        let ids: Vec<String> = event_ids.iter().map(ToString::to_string).collect();
        self.query_all(
            include_str!("../queries/event/events_by_id.sql"),
            params![namespace.as_str(), stream, encode(&ids)?],
            rows::event,
        )
    }

    async fn record_append(
        &mut self,
        namespace: &Namespace,
        events: &[RecordedEvent],
        streams: &[StreamRecord],
    ) -> Result<(), StoreError> {
        for event in events {
            self.execute(
                include_str!("../queries/event/insert.sql"),
                params![
                    namespace.as_str(),
                    event.global_position,
                    event.stream,
                    i64::from(event.stream_hash),
                    event.version,
                    event.event_id.to_string(),
                    event.event_type,
                    event.data.get(),
                    event.metadata.as_ref().map(|metadata| metadata.get()),
                    event.recorded_at.as_millis(),
                ],
            )?;
        }
        for stream in streams {
            self.execute(
                include_str!("../queries/event/save_stream_head.sql"),
                params![
                    stream.namespace.as_str(),
                    stream.stream,
                    i64::from(stream.stream_hash),
                    stream.last_version,
                    stream.truncate_before,
                    stream.created_at.as_millis(),
                    stream.last_appended_at.map(Timestamp::as_millis),
                    stream.deleted_at.map(Timestamp::as_millis),
                ],
            )?;
        }
        Ok(())
    }

    async fn save_stream_settings(&mut self, stream: &StreamRecord) -> Result<(), StoreError> {
        self.execute(
            include_str!("../queries/event/save_stream_settings.sql"),
            params![
                stream.namespace.as_str(),
                stream.stream,
                i64::from(stream.stream_hash),
                stream.last_version,
                stream.truncate_before,
                stream.max_count,
                stream.max_age_ms,
                encode_optional(stream.metadata.as_ref())?,
                stream.created_at.as_millis(),
            ],
        )?;
        Ok(())
    }

    async fn save_stream_deletion(&mut self, stream: &StreamRecord) -> Result<(), StoreError> {
        self.execute(
            include_str!("../queries/event/save_stream_deletion.sql"),
            params![
                stream.namespace.as_str(),
                stream.stream,
                stream.truncate_before,
                stream.deleted_at.map(Timestamp::as_millis)
            ],
        )?;
        Ok(())
    }
}

impl GroupTx for SqliteTx<'_> {
    async fn now(&mut self) -> Result<Timestamp, StoreError> {
        Ok(self.now)
    }

    async fn lock_group(&mut self, _namespace: &Namespace, _group: &str) -> Result<(), StoreError> {
        Ok(())
    }

    async fn group(&mut self, namespace: &Namespace, group: &str) -> Result<Option<Group>, StoreError> {
        self.group_row(namespace, group)
    }

    async fn log_head(&mut self, namespace: &Namespace) -> Result<i64, StoreError> {
        self.log_head_position(namespace)
    }

    async fn insert_group(&mut self, group: &Group) -> Result<(), StoreError> {
        let settings = &group.settings;
        self.execute(
            include_str!("../queries/group/insert.sql"),
            params![
                group.namespace.as_str(),
                group.name,
                i64::from(settings.partitions),
                settings.stream_prefix,
                settings.event_type,
                settings.start.as_str(),
                group.generation,
                group.created_at.as_millis(),
            ],
        )?;
        let start = group.checkpoints.first().copied().unwrap_or(0);
        self.execute(
            include_str!("../queries/group/insert_checkpoints.sql"),
            params![group.namespace.as_str(), group.name, i64::from(settings.partitions), start],
        )?;
        Ok(())
    }

    async fn save_generation(&mut self, namespace: &Namespace, group: &str, generation: i64) -> Result<(), StoreError> {
        self.execute(
            include_str!("../queries/group/save_generation.sql"),
            params![namespace.as_str(), group, generation],
        )?;
        Ok(())
    }

    async fn save_member(&mut self, namespace: &Namespace, group: &str, member: &Member) -> Result<(), StoreError> {
        self.execute(
            include_str!("../queries/group/save_member.sql"),
            params![
                namespace.as_str(),
                group,
                member.member_id,
                member.ttl_ms,
                member.joined_at.as_millis(),
                member.expires_at.as_millis()
            ],
        )?;
        Ok(())
    }

    async fn delete_members(
        &mut self,
        namespace: &Namespace,
        group: &str,
        member_ids: &[String],
    ) -> Result<(), StoreError> {
        for member_id in member_ids {
            self.execute(
                include_str!("../queries/group/delete_member.sql"),
                params![namespace.as_str(), group, member_id],
            )?;
        }
        Ok(())
    }

    async fn save_checkpoints(
        &mut self,
        namespace: &Namespace,
        group: &str,
        checkpoints: &[(u32, i64)],
    ) -> Result<(), StoreError> {
        for &(partition, position) in checkpoints {
            self.execute(
                include_str!("../queries/group/save_checkpoint.sql"),
                params![namespace.as_str(), group, i64::from(partition), position],
            )?;
        }
        Ok(())
    }

    async fn delete_group(&mut self, namespace: &Namespace, group: &str) -> Result<bool, StoreError> {
        let key = params![namespace.as_str(), group];
        self.execute(include_str!("../queries/group/delete_all_members.sql"), key)?;
        self.execute(include_str!("../queries/group/delete_checkpoints.sql"), key)?;
        Ok(self.execute(include_str!("../queries/group/delete.sql"), key)? > 0)
    }

    async fn groups_with_lapsed_members(&mut self, limit: u32) -> Result<Vec<(Namespace, String)>, StoreError> {
        self.query_all(
            include_str!("../queries/group/with_lapsed_members.sql"),
            params![self.now.as_millis(), i64::from(limit)],
            |row| {
                let namespace: String = row.get(0).map_err(store_error)?;
                Ok((rows::namespace(&namespace)?, row.get(1).map_err(store_error)?))
            },
        )
    }
}
