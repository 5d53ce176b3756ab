//! `baton svc …`: register, heartbeat and deregister service instances, list services and instances, and watch
//! a service. `register --keep` stays in the foreground heartbeating a TTL instance until Ctrl-C, then
//! deregisters it (like a Consul agent's service).

use std::io::Write as _;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;
use baton_api::discovery::{CheckDefinition, InstanceView, RegisterInstanceRequest, ServiceInstancesView, ServiceList};
use baton_client::InstanceQuery;
use clap::Subcommand;
use futures::StreamExt as _;

use crate::ClientArgs;
use crate::lock_cmd::client;
use crate::output::print;
use crate::seconds_arg::as_seconds;

/// Exit status of `register --keep` when the registration is lost (deregistered elsewhere, or unreachable).
const EXIT_REGISTRATION_LOST: u8 = 3;

#[derive(clap::Args, Debug)]
pub struct Filters {
    /// Only instances passing now.
    #[arg(long)]
    healthy: bool,
    /// Only instances carrying this tag (repeat for several: all must match).
    #[arg(long = "tag")]
    tags: Vec<String>,
}

#[derive(Subcommand)]
pub enum SvcCommand {
    /// Register an instance (or update the one with this id). Give --ttl (it heartbeats) or --http / --tcp (Baton
    /// probes it).
    Register {
        service: String,
        instance_id: String,
        #[arg(long)]
        address: String,
        #[arg(long)]
        port: i64,
        #[arg(long = "tag")]
        tags: Vec<String>,
        /// JSON metadata.
        #[arg(long)]
        metadata: Option<String>,
        #[arg(long, value_parser = crate::seconds_arg::whole_seconds, conflicts_with_all = ["http", "tcp"])]
        ttl: Option<Duration>,
        /// An HTTP check: Baton requests this URL; a 2xx answer passes.
        #[arg(long, conflicts_with = "tcp")]
        http: Option<String>,
        /// A TCP check: Baton connects to host:port.
        #[arg(long)]
        tcp: Option<String>,
        #[arg(long, value_parser = crate::seconds_arg::whole_seconds, default_value = "10s")]
        interval: Duration,
        #[arg(long, value_parser = crate::seconds_arg::whole_seconds, default_value = "2s")]
        timeout: Duration,
        /// The HTTP check's method (GET by default).
        #[arg(long)]
        method: Option<String>,
        /// Remove the instance once it has been critical this long.
        #[arg(long, value_parser = crate::seconds_arg::whole_seconds)]
        deregister_after: Option<Duration>,
        /// Stay in the foreground heartbeating the TTL instance until Ctrl-C, then deregister it.
        #[arg(long, requires = "ttl")]
        keep: bool,
    },
    /// Renew a TTL instance.
    Heartbeat { service: String, instance_id: String },
    /// Deregister an instance.
    Deregister { service: String, instance_id: String },
    /// List services with their instance counts by health.
    List {
        #[arg(long)]
        limit: Option<u32>,
        #[arg(long)]
        cursor: Option<String>,
    },
    /// List a service's instances.
    Instances {
        service: String,
        #[command(flatten)]
        filters: Filters,
        #[arg(long)]
        limit: Option<u32>,
        #[arg(long)]
        cursor: Option<String>,
    },
    /// Print a service's instances now and again at every change, until Ctrl-C.
    Watch {
        service: String,
        #[command(flatten)]
        filters: Filters,
    },
}

fn describe_instance(instance: &InstanceView) -> String {
    let mut line = format!(
        "{}\t{}:{}\t{}\t{}",
        instance.instance_id,
        instance.address,
        instance.port,
        instance.health,
        instance.tags.join(",")
    );
    if let Some(output) = &instance.output {
        line.push('\t');
        line.push_str(output);
    }
    line
}

fn describe_instances(found: &ServiceInstancesView) -> String {
    let mut lines = vec![format!("{} at index {}: {} instances", found.service, found.index, found.instances.len())];
    lines.extend(found.instances.iter().map(describe_instance));
    lines.extend(found.next_cursor.as_ref().map(|cursor| format!("(more: --cursor {cursor})")));
    lines.join("\n")
}

fn describe_services(list: &ServiceList) -> String {
    let mut lines: Vec<String> = list
        .services
        .iter()
        .map(|s| {
            format!(
                "{}\t{} passing\t{} critical\t{} total\tindex {}",
                s.service, s.passing, s.critical, s.total, s.index
            )
        })
        .collect();
    lines.extend(list.next_cursor.as_ref().map(|cursor| format!("(more: --cursor {cursor})")));
    if lines.is_empty() { "no services".into() } else { lines.join("\n") }
}

fn query(filters: Filters, cursor: Option<String>, limit: Option<u32>) -> InstanceQuery {
    InstanceQuery { healthy: filters.healthy, tags: filters.tags, cursor, limit }
}

pub async fn run(args: &ClientArgs, command: SvcCommand) -> anyhow::Result<ExitCode> {
    let client = client(args)?;
    match command {
        SvcCommand::Register {
            service,
            instance_id,
            address,
            port,
            tags,
            metadata,
            ttl,
            http,
            tcp,
            interval,
            timeout,
            method,
            deregister_after,
            keep,
        } => {
            let check = (http.is_some() || tcp.is_some()).then(|| CheckDefinition {
                http,
                tcp,
                method,
                interval_seconds: as_seconds(interval),
                timeout_seconds: as_seconds(timeout),
            });
            let request = RegisterInstanceRequest {
                address,
                port,
                tags,
                metadata: metadata
                    .map(|raw| serde_json::from_str(&raw))
                    .transpose()
                    .context("--metadata is not JSON")?,
                ttl_seconds: ttl.map(as_seconds),
                check,
                deregister_after_seconds: deregister_after.map(as_seconds),
                namespace: None,
            };
            if keep {
                return keep_registered(args, &client, &service, &instance_id, &request).await;
            }
            print(args.json, &client.register_instance(&service, &instance_id, &request).await?, describe_instance);
        }
        SvcCommand::Heartbeat { service, instance_id } => {
            print(args.json, &client.heartbeat_instance(&service, &instance_id).await?, describe_instance);
        }
        SvcCommand::Deregister { service, instance_id } => {
            let gone = client.deregister_instance(&service, &instance_id).await?;
            print(args.json, &gone, |instance| {
                format!("{} of {} deregistered", instance.instance_id, instance.service)
            });
        }
        SvcCommand::List { limit, cursor } => {
            print(args.json, &client.list_services(cursor.as_deref(), limit).await?, describe_services);
        }
        SvcCommand::Instances { service, filters, limit, cursor } => {
            let found = client.service_instances(&service, &query(filters, cursor, limit)).await?;
            print(args.json, &found, describe_instances);
        }
        SvcCommand::Watch { service, filters } => {
            let mut changes = Box::pin(client.watch_service(&service, &query(filters, None, None)).await?);
            loop {
                let next = tokio::select! {
                    next = changes.next() => next,
                    _ = tokio::signal::ctrl_c() => return Ok(ExitCode::SUCCESS),
                };
                match next {
                    Some(Ok(found)) if args.json => println!("{}", serde_json::to_string(&found)?),
                    Some(Ok(found)) => println!("{}", describe_instances(&found)),
                    Some(Err(error)) => return Err(error.into()),
                    None => anyhow::bail!("the server ended the watch"),
                }
                // Each change is one line (or block) a pipe reads at once.
                std::io::stdout().flush().ok();
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Registers, heartbeats in the background until Ctrl-C or SIGTERM, then deregisters.
async fn keep_registered(
    args: &ClientArgs,
    client: &baton_client::BatonClient,
    service: &str,
    instance_id: &str,
    request: &RegisterInstanceRequest,
) -> anyhow::Result<ExitCode> {
    let registration = client.register_and_keep(service, instance_id, request).await?;
    print(args.json, registration.instance(), describe_instance);
    std::io::stdout().flush().ok();
    let stop = tokio_util::sync::CancellationToken::new();
    tokio::spawn(crate::serve::cancel_on_signal(stop.clone()));
    tokio::select! {
        () = stop.cancelled() => {
            registration.deregister().await?;
            eprintln!("baton: deregistered {instance_id} of {service}");
            Ok(ExitCode::SUCCESS)
        }
        () = registration.lost() => {
            eprintln!("baton: lost the registration of {instance_id} of {service}");
            Ok(ExitCode::from(EXIT_REGISTRATION_LOST))
        }
    }
}
