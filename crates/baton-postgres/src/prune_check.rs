//! Tests only: the pruner never removes an event whose append committed while the pruner waited for its stream.

use std::sync::Arc;
use std::time::Duration;

use baton_core::clock::{Clock, ManualClock, Timestamp};
use baton_core::event::{
    AppendParams, Direction, EventId, EventStore as _, ExpectedVersion, NewEvent, ReadStreamParams, StreamSettings,
};
use baton_core::namespace::Namespace;
use serde_json::value::RawValue;
use sqlx::{Connection as _, PgConnection};

use crate::test_server::ScratchDatabase;
use crate::{PgOptions, PgStore};

#[tokio::test]
async fn an_append_committed_while_the_pruner_waits_is_kept() {
    let Some(database) = ScratchDatabase::create("prune", "").await else { return };
    let clock = Arc::new(ManualClock::new(Timestamp(1_800_000_000_000)));
    let options = PgOptions { clock: Some(clock.clone()), ..PgOptions::new(database.url.clone()) };
    let store = PgStore::connect(options).await.unwrap();
    let namespace = Namespace::default();
    let event = NewEvent {
        event_id: EventId::new(),
        id_from_client: false,
        event_type: "old".into(),
        data: RawValue::from_string("{}".into()).unwrap(),
        metadata: None,
    };
    let append = AppendParams {
        namespace: namespace.clone(),
        stream: "s".into(),
        expected: ExpectedVersion::Any,
        events: vec![event],
    };
    store.append(vec![append]).await.unwrap().pop().unwrap().unwrap();
    let settings = StreamSettings { max_age_ms: Some(1_000), ..StreamSettings::default() };
    store.set_stream_settings(&namespace, "s", settings).await.unwrap();
    clock.advance(Duration::from_secs(5));

    // An append to the stream is in flight: its row is locked and moved on, its fresh event not yet committed.
    let mut appender = PgConnection::connect(&database.url).await.unwrap();
    let mut appending = appender.begin().await.unwrap();
    sqlx::query(include_str!("../queries/testing/append_in_flight.sql"))
        .bind(namespace.as_str())
        .bind("s")
        .bind(clock.now().as_millis())
        .execute(&mut *appending)
        .await
        .unwrap();
    let pruning = {
        let store = store.clone();
        tokio::spawn(async move { store.prune_events(1_000).await })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    appending.commit().await.unwrap();
    pruning.await.unwrap().unwrap();

    let read = ReadStreamParams {
        namespace: namespace.clone(),
        stream: "s".into(),
        from_version: None,
        direction: Direction::Forward,
        limit: 10,
    };
    let slice = store.read_stream(read).await.unwrap().expect("the stream exists");
    let types: Vec<String> = slice.events.iter().map(|event| event.event_type.clone()).collect();
    drop(appender);
    store.close().await;
    database.drop().await;
    assert_eq!(types, ["fresh"], "the aged event is pruned and the fresh one kept");
}
