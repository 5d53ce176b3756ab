//! Runs a peer's Node driver (`bench/peers/jobs/<peer>.mjs`) for one measurement and passes on its JSON line.
//!
//! The drivers implement the same scenarios with each peer's own client library (BullMQ: `Queue.add`,
//! `Queue.addBulk`, `Worker` with `concurrency`; graphile-worker: `addJob`, `addJobs`, `run` with
//! `concurrency`), take the same arguments and print the same JSON shape as Baton's measurement. This module
//! only spawns the driver, bounds its run time, and checks that it printed one well-formed result; it does not
//! measure anything itself. The child is killed if it outlives its time or this process.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use serde_json::Value;
use tokio::process::Command;

use super::{GraphileMode, JobsArgs, JobsSpec, JobsTarget};

/// Time a driver may take beyond its window: Node start-up, graphile's migrations, draining, clean-up.
const OVERHEAD: Duration = Duration::from_secs(90);

pub async fn run(args: &JobsArgs, spec: &JobsSpec) -> Result<()> {
    let (script, default_url, default_label) = match (args.target, args.graphile_mode) {
        (JobsTarget::Bullmq, _) => ("bullmq.mjs", "redis://127.0.0.1:6390", "bullmq"),
        (JobsTarget::Graphile, GraphileMode::Default) => {
            ("graphile.mjs", "postgres://postgres@127.0.0.1:5432/baton_bench_jobs", "graphile")
        }
        (JobsTarget::Graphile, GraphileMode::Tuned) => {
            ("graphile.mjs", "postgres://postgres@127.0.0.1:5432/baton_bench_jobs", "graphile-tuned")
        }
        (JobsTarget::Baton, _) => bail!("Baton is not a Node peer"),
    };
    let from_env = std::env::var_os("BATON_BENCH_NODE_MODULES").map(PathBuf::from);
    let node_modules = args.node_modules.as_deref().or(from_env.as_deref()).context(
        "--node-modules (or BATON_BENCH_NODE_MODULES) must name the node_modules directory that holds bullmq and \
         graphile-worker; bench/run-jobs.sh installs them in a scratch directory",
    )?;
    if !node_modules.is_dir() {
        bail!("--node-modules {} is not a directory", node_modules.display());
    }
    let peers_dir =
        args.peers_dir.clone().unwrap_or_else(|| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/peers/jobs")));
    let script = peers_dir.join(script);
    let url = args.url.as_deref().unwrap_or(default_url);
    let label = args.label.as_deref().unwrap_or(default_label);
    let graphile_mode = match args.graphile_mode {
        GraphileMode::Default => "default",
        GraphileMode::Tuned => "tuned",
    };

    let mut command = Command::new(&args.node);
    command
        .arg(&script)
        .args(["--scenario", spec.scenario.as_str()])
        .args(["--concurrency", &spec.concurrency.to_string()])
        .args(["--duration-secs", &spec.duration.as_secs().to_string()])
        .args(["--batch-size", &spec.batch_size.to_string()])
        .args(["--pickup-interval-ms", &spec.pickup_interval.as_millis().to_string()])
        .args(["--graphile-mode", graphile_mode])
        .args(["--url", url, "--label", label])
        .arg("--node-modules")
        .arg(node_modules)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true);
    let child = command.spawn().with_context(|| spawn_hint(&args.node, &script))?;
    let limit = spec.duration + OVERHEAD;
    let output = match tokio::time::timeout(limit, child.wait_with_output()).await {
        Ok(output) => output.with_context(|| format!("wait for {}", script.display()))?,
        // Dropping the future drops the child, which kill_on_drop kills.
        Err(_) => bail!("{} did not finish within {limit:?}; killed", script.display()),
    };
    let stdout = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        bail!("{} failed ({}); its stdout: {}", script.display(), output.status, stdout.trim());
    }
    let line = checked_result(&stdout, spec.scenario.as_str())
        .with_context(|| format!("{} printed no usable result", script.display()))?;
    println!("{line}");
    Ok(())
}

fn spawn_hint(node: &Path, script: &Path) -> String {
    format!("start {} {} (is Node 22+ installed? run-jobs.sh passes --node)", node.display(), script.display())
}

/// The driver's one JSON result line, checked for the fields `summary` reads.
pub fn checked_result(stdout: &str, scenario: &str) -> Result<Value> {
    let mut results = stdout.lines().map(str::trim).filter(|l| l.starts_with('{'));
    let line = results.next().context("no JSON line on stdout")?;
    if results.next().is_some() {
        bail!("more than one JSON line on stdout");
    }
    let value: Value = serde_json::from_str(line).with_context(|| format!("bad JSON: {line}"))?;
    for field in ["target", "scenario", "concurrency", "jobs_per_sec", "jobs"] {
        if value.get(field).is_none_or(Value::is_null) {
            bail!("result has no {field}: {line}");
        }
    }
    if value["scenario"] != scenario {
        bail!("result is for scenario {} instead of {scenario}", value["scenario"]);
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::checked_result;

    #[test]
    fn a_driver_result_must_be_one_complete_line() {
        let good =
            r#"{"target":"bullmq","scenario":"e2e","concurrency":10,"duration_secs":5,"jobs_per_sec":1.5,"jobs":7}"#;
        assert!(checked_result(&format!("starting\n{good}\n"), "e2e").is_ok());
        assert!(checked_result(good, "pickup").is_err());
        assert!(checked_result(&format!("{good}\n{good}"), "e2e").is_err());
        assert!(checked_result(r#"{"target":"bullmq","scenario":"e2e"}"#, "e2e").is_err());
        assert!(checked_result("", "e2e").is_err());
    }
}
