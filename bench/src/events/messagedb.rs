//! The `append` scenario against Message DB, through its SQL API: `message_store.write_message`.
//!
//! Each client has its own `tokio-postgres` connection (TCP_NODELAY set), with `search_path` set to
//! `message_store, public` as Message DB's functions call each other unqualified, and the write prepared once.
//! One event is one `SELECT write_message($1, $2, $3, $4, $5, $6)` in autocommit (one transaction). A batch
//! is `BEGIN`, that many `write_message` calls pipelined on the connection, `COMMIT`: the fastest way its SQL
//! API offers to write many messages atomically. Every message gets a fresh UUID, as Message DB's clients do,
//! and no expected version (like Baton's `any`). All streams share one category, `bench`, so every write takes
//! the same advisory lock (`acquire_lock` locks per category, until commit): that is how Message DB keeps a
//! category's messages in commit order, and the common usage (one category per entity type).
//!
//! It does not measure subscriptions: Message DB has no push, its consumers poll `get_category_messages`, so
//! their delivery latency is their poll interval, a setting rather than a property of the store.

use anyhow::{Context, Result, bail};
use futures_util::future::try_join_all;
use serde_json::Value;
use tokio_postgres::types::ToSql;
use tokio_postgres::{Client, NoTls, Statement};

use super::load::{Appender, append_window};
use super::{EVENT_TYPE, EventScenario, EventsMeasurement, EventsSpec, metadata, payload};

/// Message DB's write, called as its clients call it.
const WRITE_MESSAGE: &str = "SELECT write_message($1, $2, $3, $4::jsonb, $5::jsonb, $6)";

pub async fn run(spec: &EventsSpec, url: &str) -> Result<EventsMeasurement> {
    if spec.scenario == EventScenario::Subscribe {
        bail!(
            "Message DB has no push subscription (its consumers poll get_category_messages, so delivery latency \
             is their poll interval): not measured"
        );
    }
    let mut clients = Vec::with_capacity(spec.clients);
    for _ in 0..spec.clients {
        clients.push(MessageDbClient::connect(url).await?);
    }
    let about = describe(&clients[0].client).await?;
    let mut measurement = append_window(spec, clients).await?;
    measurement.note = Some(format!(
        "{about}; one category (bench), so every write takes one advisory lock; batch = one transaction of \
         pipelined write_message calls"
    ));
    Ok(measurement)
}

/// The Message DB version and the server's durability settings, for the result's note.
async fn describe(client: &Client) -> Result<String> {
    let row = client
        .query_one(
            "SELECT message_store_version(), current_setting('synchronous_commit'), current_setting('fsync')",
            &[],
        )
        .await
        .context("read the Message DB version (is Message DB installed in this database?)")?;
    let (version, sync, fsync): (String, String, String) = (row.get(0), row.get(1), row.get(2));
    Ok(format!("Message DB database {version}; PostgreSQL synchronous_commit={sync} fsync={fsync}"))
}

/// One client's connection, with the write prepared.
struct MessageDbClient {
    client: Client,
    write: Statement,
    connection: tokio::task::JoinHandle<()>,
}

impl MessageDbClient {
    async fn connect(url: &str) -> Result<Self> {
        let (client, connection) =
            tokio_postgres::connect(url, NoTls).await.with_context(|| format!("connect to {url}"))?;
        let connection = tokio::spawn(async move {
            if let Err(err) = connection.await {
                eprintln!("baton-bench: Message DB connection failed: {err}");
            }
        });
        client
            .batch_execute("SET search_path TO message_store, public")
            .await
            .context("set search_path to message_store")?;
        let write = client.prepare(WRITE_MESSAGE).await.context("prepare write_message (is Message DB installed?)")?;
        Ok(Self { client, write, connection })
    }
}

impl Drop for MessageDbClient {
    fn drop(&mut self) {
        self.connection.abort();
    }
}

/// One message's parameters, owned so that a pipelined batch can borrow them all at once.
struct Message {
    id: String,
    data: Value,
    metadata: Value,
}

impl Message {
    fn new(client: usize, seq: u64) -> Self {
        Self { id: uuid::Uuid::new_v4().to_string(), data: payload(client, seq), metadata: metadata(client) }
    }
}

impl Appender for MessageDbClient {
    async fn append(&mut self, stream: &str, client: usize, first_seq: u64, batch: usize) -> Result<()> {
        let stream = stream.to_owned();
        let event_type = EVENT_TYPE.to_owned();
        let none: Option<i64> = None;
        let messages: Vec<Message> =
            (first_seq..first_seq + batch as u64).map(|seq| Message::new(client, seq)).collect();
        if batch == 1 {
            let m = &messages[0];
            self.client
                .query_one(&self.write, &[&m.id, &stream, &event_type, &m.data, &m.metadata, &none])
                .await
                .context("write_message")?;
            return Ok(());
        }
        let tx = self.client.transaction().await.context("BEGIN")?;
        let params: Vec<[&(dyn ToSql + Sync); 6]> = messages
            .iter()
            .map(|m| [&m.id as _, &stream as _, &event_type as _, &m.data as _, &m.metadata as _, &none as _])
            .collect();
        let writes = params.iter().map(|p| tx.query_one(&self.write, p));
        try_join_all(writes).await.context("write_message in a batch")?;
        tx.commit().await.context("COMMIT")?;
        Ok(())
    }
}
