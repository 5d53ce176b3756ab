//! The CLI's long operations, each with a progress bar on stderr: enqueueing a file of jobs in batches, and
//! waiting for a queue to drain.

use std::io::{BufRead as _, BufReader};
use std::path::Path;
use std::time::Duration;

use anyhow::Context as _;
use baton_api::job::EnqueueJob;
use baton_client::BatonClient;
use indicatif::{ProgressBar, ProgressStyle};

/// Jobs per request: well under the server's batch limit of 1000, so a line of errors points near its cause.
const BATCH: usize = 500;
const DRAIN_POLL: Duration = Duration::from_millis(500);

fn bar(length: u64, template: &str) -> ProgressBar {
    let bar = ProgressBar::new(length);
    if let Ok(style) = ProgressStyle::with_template(template) {
        bar.set_style(style);
    }
    bar
}

/// Enqueues every line of `path` (one JSON job per line; blank lines skipped). Returns how many were sent.
pub async fn enqueue_file(client: &BatonClient, queue: &str, path: &Path) -> anyhow::Result<u64> {
    let reader: Box<dyn std::io::Read> = if path == Path::new("-") {
        Box::new(std::io::stdin())
    } else {
        Box::new(std::fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))?)
    };
    let lines: Vec<String> = BufReader::new(reader).lines().collect::<Result<_, _>>()?;
    let jobs = lines
        .iter()
        .enumerate()
        .filter(|(_, line)| !line.trim().is_empty())
        .map(|(index, line)| {
            serde_json::from_str::<EnqueueJob>(line).with_context(|| format!("line {} is not a job", index + 1))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let progress = bar(jobs.len() as u64, "{bar:40} {pos}/{len} jobs ({per_sec}, {eta} left)");
    let mut sent = 0;
    for batch in jobs.chunks(BATCH) {
        client
            .enqueue_batch(queue, batch.to_vec())
            .await
            .with_context(|| format!("after {sent} jobs were enqueued"))?;
        sent += batch.len() as u64;
        progress.set_position(sent);
    }
    progress.finish();
    Ok(sent)
}

/// Waits until `queue` has no waiting or running jobs, or `timeout` passes. Returns how many are left.
pub async fn drain(client: &BatonClient, queue: &str, timeout: Duration) -> anyhow::Result<u64> {
    let deadline = tokio::time::Instant::now() + timeout;
    let unfinished = || async {
        let queues = client.queues().await?;
        let counts = queues.queues.into_iter().find(|q| q.queue == queue).map(|q| q.counts).unwrap_or_default();
        let waiting = ["scheduled", "available", "retryable", "running"];
        anyhow::Ok(waiting.iter().map(|state| counts.get(*state).copied().unwrap_or(0)).sum::<u64>())
    };
    let start = unfinished().await?;
    let progress = bar(start, "{bar:40} {pos}/{len} finished ({per_sec}, {eta} left)");
    loop {
        let left = unfinished().await?;
        progress.set_length(start.max(left));
        progress.set_position(start.saturating_sub(left));
        if left == 0 || tokio::time::Instant::now() >= deadline {
            progress.finish();
            return Ok(left);
        }
        tokio::time::sleep(DRAIN_POLL).await;
    }
}
