//! `baton events …`: append, read, tail (live, until Ctrl-C), and list or inspect streams.

use std::process::ExitCode;

use anyhow::Context as _;
use baton_api::event::{EventView, StreamInfo};
use baton_client::{ReadStream, Subscribe, SubscriptionEvent, event_body};
use clap::Subcommand;
use futures::StreamExt as _;
use serde_json::Value;

use crate::ClientArgs;
use crate::lock_cmd::client;
use crate::output::print;

#[derive(Subcommand)]
pub enum EventsCommand {
    /// Append one event to a stream.
    Append {
        stream: String,
        #[arg(long = "type")]
        event_type: String,
        /// The event's data, as JSON.
        #[arg(long)]
        data: String,
        /// The event's metadata, as JSON.
        #[arg(long)]
        metadata: Option<String>,
        /// `any`, `no_stream`, `exists`, or the version of the stream's last event.
        #[arg(long)]
        expected_version: Option<String>,
        /// A UUID of yours: appending it again writes nothing.
        #[arg(long)]
        id: Option<String>,
    },
    /// Print a stream's events (`$all`: the whole log).
    Read {
        stream: String,
        /// The first version (a stream) or position (`$all`).
        #[arg(long)]
        from: Option<i64>,
        #[arg(long, default_value_t = 100)]
        limit: u32,
        /// Newest first.
        #[arg(long)]
        backward: bool,
    },
    /// Follow a stream (or the whole log when none is named) live, until Ctrl-C. With --json, one event per line.
    Tail {
        stream: Option<String>,
        /// Start at this version (a stream) or position (the log) instead of only new events.
        #[arg(long)]
        from: Option<i64>,
        /// The log only: events of this type.
        #[arg(long = "type")]
        event_type: Option<String>,
        /// The log only: streams whose name starts with this.
        #[arg(long)]
        prefix: Option<String>,
    },
    /// List streams.
    Streams {
        #[arg(long)]
        prefix: Option<String>,
        #[arg(long)]
        limit: Option<u32>,
        #[arg(long)]
        cursor: Option<String>,
    },
    /// Show a stream's version, event count and settings.
    Info { stream: String },
    /// Delete a stream (an append revives it).
    Delete { stream: String },
}

fn describe_event(event: &EventView) -> String {
    format!(
        "#{} {}@{} {} {}",
        event.global_position,
        event.stream_id,
        event.version,
        event.event_type,
        event.data.get()
    )
}

fn describe_stream(stream: &StreamInfo) -> String {
    let count = stream.count.map(|count| format!(", {count} readable")).unwrap_or_default();
    format!("{} at version {}{count}", stream.stream, stream.version)
}

fn json(what: &str, text: &str) -> anyhow::Result<Value> {
    serde_json::from_str(text).with_context(|| format!("{what} is not JSON"))
}

pub async fn run(args: &ClientArgs, command: EventsCommand) -> anyhow::Result<ExitCode> {
    let client = client(args)?;
    match command {
        EventsCommand::Append { stream, event_type, data, metadata, expected_version, id } => {
            let metadata = metadata.map(|text| json("--metadata", &text)).transpose()?;
            let mut event = event_body(&event_type, &json("--data", &data)?, metadata.as_ref());
            event.event_id = id;
            let expected = expected_version.map(|version| match version.parse::<i64>() {
                Ok(number) => Value::from(number),
                Err(_) => Value::from(version),
            });
            let appended = client.append_events(&stream, vec![event], expected).await?;
            print(args.json, &appended, |appended| {
                let note = if appended.replayed { " (already there)" } else { "" };
                format!(
                    "{} version {} at position {}{note}",
                    appended.stream, appended.last_version, appended.global_position
                )
            });
        }
        EventsCommand::Read { stream, from, limit, backward } => {
            let events = if stream == "$all" {
                let read =
                    baton_client::ReadAll { from_position: from, limit: Some(limit), backward, ..Default::default() };
                client.read_all(&read).await?.events
            } else {
                client
                    .read_stream(&stream, &ReadStream { from_version: from, limit: Some(limit), backward })
                    .await?
                    .events
            };
            if args.json {
                print(true, &events, |_| String::new());
            } else {
                for event in &events {
                    println!("{}", describe_event(event));
                }
            }
        }
        EventsCommand::Tail { stream, from, event_type, prefix } => {
            let subscribe =
                Subscribe { stream: stream.unwrap_or_else(|| "$all".into()), from, event_type, stream_prefix: prefix };
            let mut events = Box::pin(client.subscribe(&subscribe).await?);
            loop {
                let next = tokio::select! {
                    next = events.next() => next,
                    _ = tokio::signal::ctrl_c() => return Ok(ExitCode::SUCCESS),
                };
                match next {
                    // One JSON object per line with --json, so the output can be piped line by line.
                    Some(Ok(SubscriptionEvent::Event(event))) if args.json => {
                        println!("{}", serde_json::to_string(&event).unwrap_or_default());
                    }
                    Some(Ok(SubscriptionEvent::Event(event))) => println!("{}", describe_event(&event)),
                    Some(Ok(SubscriptionEvent::CaughtUp)) if !args.json => eprintln!("-- live --"),
                    Some(Ok(SubscriptionEvent::CaughtUp)) => {}
                    Some(Err(error)) => return Err(error.into()),
                    None => anyhow::bail!("the server ended the subscription"),
                }
            }
        }
        EventsCommand::Streams { prefix, limit, cursor } => {
            let list = client.list_streams(prefix.as_deref(), cursor.as_deref(), limit).await?;
            print(args.json, &list, |list| {
                let mut lines: Vec<String> = list.streams.iter().map(describe_stream).collect();
                lines.extend(list.next_cursor.as_ref().map(|cursor| format!("more: --cursor {cursor}")));
                lines.join("\n")
            });
        }
        EventsCommand::Info { stream } => print(args.json, &client.stream_info(&stream).await?, describe_stream),
        EventsCommand::Delete { stream } => {
            print(args.json, &client.delete_stream(&stream).await?, |stream| format!("deleted {}", stream.stream));
        }
    }
    Ok(ExitCode::SUCCESS)
}
