//! The statements the shared event and consumer-group rules run, on one PostgreSQL connection inside one
//! transaction. The log's lock is a transaction-scoped advisory lock per namespace: held until commit, it makes
//! positions commit in the order they are drawn.

use baton_core::StoreError;
use baton_core::clock::Timestamp;
use baton_core::event::engine::EventTx;
use baton_core::event::group::engine::GroupTx;
use baton_core::event::group::{Group, Member};
use baton_core::event::{EventId, RecordedEvent, StreamRecord};
use baton_core::lock::engine::LockTx;
use baton_core::namespace::Namespace;
use baton_core::stored::encode_optional;
use sqlx::{Row, query};

use crate::rows::{self, store_error};
use crate::tx::{PgTx, advisory_key};

/// Rows of one multi-row insert are cut so that a statement stays under a new socket's send buffer (16 KiB on
/// Linux by default): under sqlx 0.9.0, which left Nagle's algorithm on, the rest of a statement that did not fit
/// in one write waited for the server's delayed ACK, about 40 ms. sqlx 0.9.1 sets TCP_NODELAY again; the cut
/// stays until a larger one is measured.
const STATEMENT_BYTES: usize = 12 * 1024;

/// Advisory lock ids of event resources. Lock keys never hold a NUL, so these never share a lock key's input.
pub(crate) fn log_lock_key(namespace: &Namespace) -> i64 {
    advisory_key(namespace, "\u{0}event-log")
}

fn group_lock_key(namespace: &Namespace, group: &str) -> i64 {
    advisory_key(namespace, &format!("\u{0}event-group\u{0}{group}"))
}

impl PgTx<'_> {
    async fn take_lock(&mut self, sql: &'static str, lock_key: i64) -> Result<(), StoreError> {
        let row = query(sql).bind(lock_key).fetch_one(&mut *self.conn).await.map_err(store_error)?;
        // The database clock read once the lock is held; a test clock, if set, wins.
        self.set_now_if_unset(Timestamp(row.try_get(0).map_err(store_error)?));
        Ok(())
    }

    /// One statement of an append batch (see [`STATEMENT_BYTES`]): these events, and these stream rows.
    async fn record_append_chunk(
        &mut self,
        namespace: &Namespace,
        events: &[RecordedEvent],
        streams: &[StreamRecord],
    ) -> Result<(), StoreError> {
        let column = |field: fn(&RecordedEvent) -> i64| events.iter().map(field).collect::<Vec<_>>();
        let stream_column = |field: fn(&StreamRecord) -> i64| streams.iter().map(field).collect::<Vec<_>>();
        let times = |field: fn(&StreamRecord) -> Option<Timestamp>| {
            streams.iter().map(|stream| field(stream).map(Timestamp::as_millis)).collect::<Vec<_>>()
        };
        query(include_str!("../queries/event/record_append.sql"))
            .bind(namespace.as_str())
            .bind(column(|event| event.global_position))
            .bind(events.iter().map(|event| event.stream.as_str()).collect::<Vec<_>>())
            .bind(column(|event| i64::from(event.stream_hash)))
            .bind(column(|event| event.version))
            .bind(events.iter().map(|event| event.event_id.to_string()).collect::<Vec<_>>())
            .bind(events.iter().map(|event| event.event_type.as_str()).collect::<Vec<_>>())
            .bind(events.iter().map(|event| event.data.get()).collect::<Vec<_>>())
            .bind(events.iter().map(|event| event.metadata.as_ref().map(|metadata| metadata.get())).collect::<Vec<_>>())
            .bind(column(|event| event.recorded_at.as_millis()))
            .bind(streams.iter().map(|stream| stream.stream.as_str()).collect::<Vec<_>>())
            .bind(stream_column(|stream| i64::from(stream.stream_hash)))
            .bind(stream_column(|stream| stream.last_version))
            .bind(stream_column(|stream| stream.truncate_before))
            .bind(stream_column(|stream| stream.created_at.as_millis()))
            .bind(times(|stream| stream.last_appended_at))
            .bind(times(|stream| stream.deleted_at))
            .execute(&mut *self.conn)
            .await
            .map_err(store_error)?;
        Ok(())
    }

    pub(crate) async fn group_row(&mut self, namespace: &Namespace, name: &str) -> Result<Option<Group>, StoreError> {
        let found = query(include_str!("../queries/group/get.sql"))
            .bind(namespace.as_str())
            .bind(name)
            .fetch_optional(&mut *self.conn)
            .await
            .map_err(store_error)?;
        let Some(row) = found else { return Ok(None) };
        let mut group = rows::group(&row)?;
        self.fill_group(&mut group).await?;
        Ok(Some(group))
    }

    /// Reads a group's members and checkpoints into it.
    pub(crate) async fn fill_group(&mut self, group: &mut Group) -> Result<(), StoreError> {
        let members = query(include_str!("../queries/group/members.sql"))
            .bind(group.namespace.as_str())
            .bind(&group.name)
            .fetch_all(&mut *self.conn)
            .await
            .map_err(store_error)?;
        group.members = members.iter().map(rows::member).collect::<Result<_, _>>()?;
        let checkpoints = query(include_str!("../queries/group/checkpoints.sql"))
            .bind(group.namespace.as_str())
            .bind(&group.name)
            .fetch_all(&mut *self.conn)
            .await
            .map_err(store_error)?;
        for row in &checkpoints {
            rows::checkpoint(group, row)?;
        }
        Ok(())
    }

    pub(crate) async fn log_head_position(&mut self, namespace: &Namespace) -> Result<i64, StoreError> {
        let found = query(include_str!("../queries/event/head.sql"))
            .bind(namespace.as_str())
            .fetch_optional(&mut *self.conn)
            .await
            .map_err(store_error)?;
        Ok(found.map(|row| row.try_get::<i64, _>(0)).transpose().map_err(store_error)?.unwrap_or(0).max(0))
    }
}

impl EventTx for PgTx<'_> {
    async fn now(&mut self) -> Result<Timestamp, StoreError> {
        LockTx::now(self).await
    }

    async fn lock_log(&mut self, namespace: &Namespace) -> Result<(), StoreError> {
        let key_lock = log_lock_key(namespace);
        if self.began_holding(key_lock) {
            return Ok(());
        }
        self.take_lock(include_str!("../queries/event/lock_log.sql"), key_lock).await
    }

    async fn streams(&mut self, namespace: &Namespace, streams: &[&str]) -> Result<Vec<StreamRecord>, StoreError> {
        let found = query(include_str!("../queries/event/streams_with_clock.sql"))
            .bind(namespace.as_str())
            .bind(streams)
            .fetch_all(&mut *self.conn)
            .await
            .map_err(store_error)?;
        if let Some(row) = found.first() {
            // The database clock comes with the rows, so the append needs no round trip of its own for it.
            self.set_now_if_unset(Timestamp(row.try_get("now_ms").map_err(store_error)?));
        }
        let present = found.iter().filter(|row| row.try_get::<Option<String>, _>("stream").ok().flatten().is_some());
        present.map(rows::stream).collect()
    }

    async fn events_by_id(
        &mut self,
        namespace: &Namespace,
        stream: &str,
        event_ids: &[EventId],
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        let found = query(include_str!("../queries/event/events_by_id.sql"))
            .bind(namespace.as_str())
            .bind(stream)
            .bind(event_ids.iter().map(ToString::to_string).collect::<Vec<_>>())
            .fetch_all(&mut *self.conn)
            .await
            .map_err(store_error)?;
        found.iter().map(rows::event).collect()
    }

    async fn record_append(
        &mut self,
        namespace: &Namespace,
        events: &[RecordedEvent],
        streams: &[StreamRecord],
    ) -> Result<(), StoreError> {
        // Ids, names and numbers take about 150 bytes per event and 100 per stream row on the wire.
        let event_size = |event: &RecordedEvent| {
            150 + event.stream.len() + event.data.get().len() + event.metadata.as_ref().map_or(0, |m| m.get().len())
        };
        let mut start = 0;
        let mut bytes = 0;
        for (index, event) in events.iter().enumerate() {
            let size = event_size(event);
            if index > start && bytes + size > STATEMENT_BYTES {
                self.record_append_chunk(namespace, &events[start..index], &[]).await?;
                start = index;
                bytes = 0;
            }
            bytes += size;
        }
        // The stream rows ride with the last events (the usual append: one statement), unless they do not fit.
        let heads_size: usize = streams.iter().map(|stream| 100 + stream.stream.len()).sum();
        if start < events.len() && bytes + heads_size > STATEMENT_BYTES {
            self.record_append_chunk(namespace, &events[start..], &[]).await?;
            start = events.len();
        }
        self.record_append_chunk(namespace, &events[start..], streams).await
    }

    async fn save_stream_settings(&mut self, stream: &StreamRecord) -> Result<(), StoreError> {
        query(include_str!("../queries/event/save_stream_settings.sql"))
            .bind(stream.namespace.as_str())
            .bind(&stream.stream)
            .bind(i64::from(stream.stream_hash))
            .bind(stream.last_version)
            .bind(stream.truncate_before)
            .bind(stream.max_count)
            .bind(stream.max_age_ms)
            .bind(encode_optional(stream.metadata.as_ref())?)
            .bind(stream.created_at.as_millis())
            .execute(&mut *self.conn)
            .await
            .map_err(store_error)?;
        Ok(())
    }

    async fn save_stream_deletion(&mut self, stream: &StreamRecord) -> Result<(), StoreError> {
        query(include_str!("../queries/event/save_stream_deletion.sql"))
            .bind(stream.namespace.as_str())
            .bind(&stream.stream)
            .bind(stream.truncate_before)
            .bind(stream.deleted_at.map(Timestamp::as_millis))
            .execute(&mut *self.conn)
            .await
            .map_err(store_error)?;
        Ok(())
    }
}

impl GroupTx for PgTx<'_> {
    async fn now(&mut self) -> Result<Timestamp, StoreError> {
        LockTx::now(self).await
    }

    async fn lock_group(&mut self, namespace: &Namespace, group: &str) -> Result<(), StoreError> {
        self.take_lock(include_str!("../queries/group/lock_group.sql"), group_lock_key(namespace, group)).await
    }

    async fn group(&mut self, namespace: &Namespace, group: &str) -> Result<Option<Group>, StoreError> {
        self.group_row(namespace, group).await
    }

    async fn log_head(&mut self, namespace: &Namespace) -> Result<i64, StoreError> {
        self.log_head_position(namespace).await
    }

    async fn insert_group(&mut self, group: &Group) -> Result<(), StoreError> {
        let settings = &group.settings;
        query(include_str!("../queries/group/insert.sql"))
            .bind(group.namespace.as_str())
            .bind(&group.name)
            .bind(i64::from(settings.partitions))
            .bind(settings.stream_prefix.as_deref())
            .bind(settings.event_type.as_deref())
            .bind(settings.start.as_str())
            .bind(group.generation)
            .bind(group.created_at.as_millis())
            .execute(&mut *self.conn)
            .await
            .map_err(store_error)?;
        query(include_str!("../queries/group/insert_checkpoints.sql"))
            .bind(group.namespace.as_str())
            .bind(&group.name)
            .bind(i64::from(settings.partitions))
            .bind(group.checkpoints.first().copied().unwrap_or(0))
            .execute(&mut *self.conn)
            .await
            .map_err(store_error)?;
        Ok(())
    }

    async fn save_generation(&mut self, namespace: &Namespace, group: &str, generation: i64) -> Result<(), StoreError> {
        query(include_str!("../queries/group/save_generation.sql"))
            .bind(namespace.as_str())
            .bind(group)
            .bind(generation)
            .execute(&mut *self.conn)
            .await
            .map_err(store_error)?;
        Ok(())
    }

    async fn save_member(&mut self, namespace: &Namespace, group: &str, member: &Member) -> Result<(), StoreError> {
        query(include_str!("../queries/group/save_member.sql"))
            .bind(namespace.as_str())
            .bind(group)
            .bind(&member.member_id)
            .bind(member.ttl_ms)
            .bind(member.joined_at.as_millis())
            .bind(member.expires_at.as_millis())
            .execute(&mut *self.conn)
            .await
            .map_err(store_error)?;
        Ok(())
    }

    async fn delete_members(
        &mut self,
        namespace: &Namespace,
        group: &str,
        member_ids: &[String],
    ) -> Result<(), StoreError> {
        for member_id in member_ids {
            query(include_str!("../queries/group/delete_member.sql"))
                .bind(namespace.as_str())
                .bind(group)
                .bind(member_id)
                .execute(&mut *self.conn)
                .await
                .map_err(store_error)?;
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
            query(include_str!("../queries/group/save_checkpoint.sql"))
                .bind(namespace.as_str())
                .bind(group)
                .bind(i64::from(partition))
                .bind(position)
                .execute(&mut *self.conn)
                .await
                .map_err(store_error)?;
        }
        Ok(())
    }

    async fn delete_group(&mut self, namespace: &Namespace, group: &str) -> Result<bool, StoreError> {
        let mut deleted = 0;
        for sql in [
            include_str!("../queries/group/delete_all_members.sql"),
            include_str!("../queries/group/delete_checkpoints.sql"),
            include_str!("../queries/group/delete.sql"),
        ] {
            let done =
                query(sql).bind(namespace.as_str()).bind(group).execute(&mut *self.conn).await.map_err(store_error)?;
            deleted = done.rows_affected();
        }
        Ok(deleted > 0)
    }

    async fn groups_with_lapsed_members(&mut self, limit: u32) -> Result<Vec<(Namespace, String)>, StoreError> {
        let found = query(include_str!("../queries/group/with_lapsed_members.sql"))
            .bind(self.known_now().map(Timestamp::as_millis))
            .bind(i64::from(limit))
            .fetch_all(&mut *self.conn)
            .await
            .map_err(store_error)?;
        found
            .iter()
            .map(|row| {
                let namespace: String = row.try_get(0).map_err(store_error)?;
                Ok((rows::namespace(&namespace)?, row.try_get(1).map_err(store_error)?))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use crate::plan_check::{GenericPlans, scans_of};

    /// An idempotent append looks its client's event ids up by id: a generic plan made while the table was empty
    /// took the stream's index, which would walk every event of the stream on each append.
    #[tokio::test]
    async fn events_by_id_look_each_id_up_on_a_plan_made_while_the_table_was_empty() {
        let Some(mut plans) = GenericPlans::new("event_plans").await else { return };
        let sql = include_str!("../queries/event/events_by_id.sql");
        let plan = plans.explain("events_by_id", "TEXT, TEXT, TEXT[]", sql, "'default', 's', '{e-1,e-2}'").await;
        let scans = scans_of(&plan, "events");
        assert!(
            !scans.is_empty() && scans.iter().all(|line| line.contains("using events_event_id")),
            "each id must be looked up by its index:\n{plan}"
        );
        plans.drop_schema().await;
    }
}
