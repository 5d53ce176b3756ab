//! `baton cache get|set|del|invalidate|stats`.

use std::process::ExitCode;
use std::time::Duration;

use baton_api::cache::{CacheEntryView, CacheStatsView};
use clap::Subcommand;
use serde_json::{Value, json};

use crate::ClientArgs;
use crate::lock_cmd::client;
use crate::output::print;
use crate::seconds_arg::as_seconds;

/// Exit status of `cache get` on a miss, so scripts can tell it from an error.
const EXIT_MISS: u8 = 4;

#[derive(Subcommand)]
pub enum CacheCommand {
    /// Print a value (exit status 4 on a miss).
    Get { key: String },
    /// Store a value (JSON; text that is not JSON is stored as a string).
    Set {
        key: String,
        value: String,
        #[arg(long, value_parser = crate::seconds_arg::whole_seconds)]
        ttl: Option<Duration>,
        #[arg(long = "tag")]
        tags: Vec<String>,
    },
    /// Delete a value.
    Del { key: String },
    /// Invalidate every value carrying one of these tags.
    Invalidate {
        #[arg(required = true)]
        tags: Vec<String>,
    },
    /// Hits, misses, evictions, entries and bytes.
    Stats,
}

fn describe_stats(stats: &CacheStatsView) -> String {
    format!(
        "{} hits, {} misses, {} evictions, {} entries, {} bytes",
        stats.hits, stats.misses, stats.evictions, stats.entries, stats.bytes
    )
}

fn describe_entry(entry: &CacheEntryView) -> String {
    entry.value.get().to_owned()
}

pub async fn run(args: &ClientArgs, command: CacheCommand) -> anyhow::Result<ExitCode> {
    let client = client(args)?;
    match command {
        CacheCommand::Get { key } => match client.cache_get(&key).await? {
            Some(entry) => print(args.json, &entry, describe_entry),
            None => {
                eprintln!("{key}: miss");
                return Ok(ExitCode::from(EXIT_MISS));
            }
        },
        CacheCommand::Set { key, value, ttl, tags } => {
            let value: Value = serde_json::from_str(&value).unwrap_or(Value::String(value));
            let ttl_seconds = ttl.map(as_seconds);
            let stored = client.cache_put(&key, &value, ttl_seconds, tags).await?;
            print(args.json, &stored, |stored| format!("stored {}", stored.key));
        }
        CacheCommand::Del { key } => {
            let deleted = client.cache_delete(&key).await?;
            print(args.json, &json!({"key": key, "deleted": deleted}), |_| {
                if deleted { format!("deleted {key}") } else { format!("{key} was not cached") }
            });
        }
        CacheCommand::Invalidate { tags } => {
            let done = client.cache_invalidate(tags).await?;
            print(args.json, &done, |done| format!("invalidated {}", done.tags.join(", ")));
        }
        CacheCommand::Stats => print(args.json, &client.cache_stats().await?, describe_stats),
    }
    Ok(ExitCode::SUCCESS)
}
