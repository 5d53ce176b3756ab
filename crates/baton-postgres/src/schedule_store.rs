//! Cron schedules on PostgreSQL: the statements the shared schedule rules run, and the store port over them.
//! A node firing a schedule holds its row, so other nodes skip it (`FOR UPDATE SKIP LOCKED`).

use async_trait::async_trait;
use baton_core::clock::Timestamp;
use baton_core::job::engine::JobTx;
use baton_core::job::schedule::{Schedule, ScheduleReport};
use baton_core::job::schedule_engine::{self, ScheduleTx};
use baton_core::job::{Job, ScheduleStore};
use baton_core::namespace::Namespace;
use baton_core::stored::encode;
use baton_core::{Error, StoreError};
use sqlx::{Row, query};

use crate::rows::{schedule, store_error};
use crate::store::PgStore;
use crate::tx::PgTx;

impl ScheduleTx for PgTx<'_> {
    async fn schedule_for_update(&mut self, namespace: &Namespace, name: &str) -> Result<Option<Schedule>, StoreError> {
        let found = query(include_str!("../queries/schedule/get_for_update.sql"))
            .bind(namespace.as_str())
            .bind(name)
            .fetch_optional(&mut *self.conn)
            .await
            .map_err(store_error)?;
        found.as_ref().map(schedule).transpose()
    }

    async fn save_schedule(&mut self, schedule: &Schedule) -> Result<(), StoreError> {
        query(include_str!("../queries/schedule/save.sql"))
            .bind(schedule.namespace.as_str())
            .bind(&schedule.name)
            .bind(&schedule.cron)
            .bind(&schedule.timezone)
            .bind(&schedule.queue)
            .bind(encode(&schedule.template)?)
            .bind(schedule.overlap.as_str())
            .bind(schedule.paused)
            .bind(schedule.next_fire_at.map(Timestamp::as_millis))
            .bind(schedule.last_fired_at.map(Timestamp::as_millis))
            .bind(schedule.last_job_id.map(|id| id.to_string()))
            .bind(schedule.created_at.as_millis())
            .execute(&mut *self.conn)
            .await
            .map_err(store_error)?;
        Ok(())
    }

    async fn delete_schedule(&mut self, namespace: &Namespace, name: &str) -> Result<bool, StoreError> {
        let done = query(include_str!("../queries/schedule/delete.sql"))
            .bind(namespace.as_str())
            .bind(name)
            .execute(&mut *self.conn)
            .await
            .map_err(store_error)?;
        Ok(done.rows_affected() > 0)
    }

    async fn due_schedules(&mut self, limit: u32) -> Result<Vec<Schedule>, StoreError> {
        let now = JobTx::now(self).await?;
        let rows = query(include_str!("../queries/schedule/due.sql"))
            .bind(now.as_millis())
            .bind(i64::from(limit))
            .fetch_all(&mut *self.conn)
            .await
            .map_err(store_error)?;
        rows.iter().map(schedule).collect()
    }

    async fn next_schedule_due(&mut self) -> Result<Option<Timestamp>, StoreError> {
        let row = query(include_str!("../queries/schedule/next_due.sql"))
            .fetch_one(&mut *self.conn)
            .await
            .map_err(store_error)?;
        Ok(row.try_get::<Option<i64>, _>(0).map_err(store_error)?.map(Timestamp))
    }
}

#[async_trait]
impl ScheduleStore for PgStore {
    async fn save_schedule(&self, schedule: Schedule) -> Result<(Schedule, bool), Error> {
        self.write(async |tx| schedule_engine::save(tx, schedule).await).await
    }

    async fn get_schedule(&self, namespace: &Namespace, name: &str) -> Result<Option<Schedule>, Error> {
        let statement = query(include_str!("../queries/schedule/get.sql")).bind(namespace.as_str()).bind(name);
        let found = self.conns.fetch_optional(statement).await?;
        Ok(found.as_ref().map(schedule).transpose()?)
    }

    async fn list_schedules(&self, namespace: &Namespace) -> Result<Vec<Schedule>, Error> {
        let statement = query(include_str!("../queries/schedule/list.sql")).bind(namespace.as_str());
        let rows = self.conns.fetch_all(statement).await?;
        Ok(rows.iter().map(schedule).collect::<Result<_, _>>()?)
    }

    async fn delete_schedule(&self, namespace: &Namespace, name: &str) -> Result<(), Error> {
        self.write(async |tx| schedule_engine::delete(tx, namespace, name).await).await
    }

    async fn set_schedule_paused(&self, namespace: &Namespace, name: &str, paused: bool) -> Result<Schedule, Error> {
        self.write(async |tx| schedule_engine::set_paused(tx, namespace, name, paused).await).await
    }

    async fn trigger_schedule(&self, namespace: &Namespace, name: &str) -> Result<Job, Error> {
        self.write(async |tx| schedule_engine::trigger(tx, namespace, name).await).await
    }

    async fn fire_due_schedules(&self, max: u32) -> Result<ScheduleReport, Error> {
        self.write(async |tx| schedule_engine::fire_due(tx, max).await).await
    }
}
