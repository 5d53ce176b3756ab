//! Cron schedules on SQLite: the statements the shared schedule rules run, and the store port over them.

use async_trait::async_trait;
use baton_core::clock::Timestamp;
use baton_core::job::schedule::{Schedule, ScheduleReport};
use baton_core::job::schedule_engine::{self, ScheduleTx};
use baton_core::job::{Job, ScheduleStore};
use baton_core::namespace::Namespace;
use baton_core::stored::encode;
use baton_core::{Error, StoreError};
use futures::executor::block_on;
use rusqlite::params;

use crate::rows::{schedule, store_error};
use crate::store::SqliteStore;
use crate::tx::SqliteTx;

impl ScheduleTx for SqliteTx<'_> {
    async fn schedule_for_update(&mut self, namespace: &Namespace, name: &str) -> Result<Option<Schedule>, StoreError> {
        self.query_optional(include_str!("../queries/schedule/get.sql"), params![namespace.as_str(), name], schedule)
    }

    async fn save_schedule(&mut self, schedule: &Schedule) -> Result<(), StoreError> {
        self.execute(
            include_str!("../queries/schedule/save.sql"),
            params![
                schedule.namespace.as_str(),
                schedule.name,
                schedule.cron,
                schedule.timezone,
                schedule.queue,
                encode(&schedule.template)?,
                schedule.overlap.as_str(),
                schedule.paused,
                schedule.next_fire_at.map(Timestamp::as_millis),
                schedule.last_fired_at.map(Timestamp::as_millis),
                schedule.last_job_id.map(|id| id.to_string()),
                schedule.created_at.as_millis(),
            ],
        )?;
        Ok(())
    }

    async fn delete_schedule(&mut self, namespace: &Namespace, name: &str) -> Result<bool, StoreError> {
        Ok(self.execute(include_str!("../queries/schedule/delete.sql"), params![namespace.as_str(), name])? > 0)
    }

    async fn due_schedules(&mut self, limit: u32) -> Result<Vec<Schedule>, StoreError> {
        self.query_all(include_str!("../queries/schedule/due.sql"), params![self.now.as_millis(), limit], schedule)
    }

    async fn next_schedule_due(&mut self) -> Result<Option<Timestamp>, StoreError> {
        let next = self.query_optional(include_str!("../queries/schedule/next_due.sql"), [], |row| {
            row.get::<_, Option<i64>>(0).map_err(store_error)
        })?;
        Ok(next.flatten().map(Timestamp))
    }
}

#[async_trait]
impl ScheduleStore for SqliteStore {
    async fn save_schedule(&self, schedule: Schedule) -> Result<(Schedule, bool), Error> {
        self.writer.write(move |tx| block_on(schedule_engine::save(tx, schedule))).await
    }

    async fn get_schedule(&self, namespace: &Namespace, name: &str) -> Result<Option<Schedule>, Error> {
        let (namespace, name) = (namespace.clone(), name.to_owned());
        self.readers
            .read(move |tx| {
                let args = params![namespace.as_str(), name];
                Ok(tx.query_optional(include_str!("../queries/schedule/get.sql"), args, schedule)?)
            })
            .await
    }

    async fn list_schedules(&self, namespace: &Namespace) -> Result<Vec<Schedule>, Error> {
        let namespace = namespace.clone();
        self.readers
            .read(move |tx| {
                Ok(tx.query_all(include_str!("../queries/schedule/list.sql"), [namespace.as_str()], schedule)?)
            })
            .await
    }

    async fn delete_schedule(&self, namespace: &Namespace, name: &str) -> Result<(), Error> {
        let (namespace, name) = (namespace.clone(), name.to_owned());
        self.writer.write(move |tx| block_on(schedule_engine::delete(tx, &namespace, &name))).await
    }

    async fn set_schedule_paused(&self, namespace: &Namespace, name: &str, paused: bool) -> Result<Schedule, Error> {
        let (namespace, name) = (namespace.clone(), name.to_owned());
        self.writer.write(move |tx| block_on(schedule_engine::set_paused(tx, &namespace, &name, paused))).await
    }

    async fn trigger_schedule(&self, namespace: &Namespace, name: &str) -> Result<Job, Error> {
        let (namespace, name) = (namespace.clone(), name.to_owned());
        self.writer.write(move |tx| block_on(schedule_engine::trigger(tx, &namespace, &name))).await
    }

    async fn fire_due_schedules(&self, max: u32) -> Result<ScheduleReport, Error> {
        self.writer.write(move |tx| block_on(schedule_engine::fire_due(tx, max))).await
    }
}
