//! `baton serve`: flags, logging, signals, then `baton_server::run`.

use std::io::IsTerminal;
use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context as _;
use baton_server::{Config, ConfigOverrides, LogFormat, StorageMode};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

#[derive(clap::Args, Debug)]
pub struct ServeArgs {
    /// TOML file with settings; the environment and flags override it.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Address to listen on [env: BATON_HTTP_ADDR] [default: 127.0.0.1:8080]
    #[arg(long)]
    http_addr: Option<SocketAddr>,
    /// Where embedded mode keeps its SQLite file [env: BATON_DATA_DIR] [default: ./baton-data]
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// A postgres:// URL selects cluster mode [env: BATON_DATABASE_URL]
    #[arg(long)]
    database_url: Option<String>,
    /// This node's name in logs [env: BATON_NODE_ID]
    #[arg(long)]
    node_id: Option<String>,
    /// text or json [env: BATON_LOG_FORMAT]
    #[arg(long, value_parser = parse_log_format)]
    log_format: Option<LogFormat>,
    /// Run the built-in executors of registered job types inside the server.
    #[arg(long)]
    executors: bool,
}

fn parse_log_format(raw: &str) -> Result<LogFormat, String> {
    match raw {
        "text" => Ok(LogFormat::Text),
        "json" => Ok(LogFormat::Json),
        other => Err(format!("'{other}' is not a log format: use text or json")),
    }
}

pub async fn run(args: ServeArgs) -> anyhow::Result<()> {
    let overrides = ConfigOverrides {
        http_addr: args.http_addr,
        data_dir: args.data_dir,
        database_url: args.database_url,
        node_id: args.node_id,
        log_format: args.log_format,
        executors: args.executors.then_some(true),
    };
    let config = Config::load(args.config.as_deref(), &overrides)?;
    init_logging(config.log_format);

    let node = baton_server::Node::open(config.clone()).await?;
    let listener =
        TcpListener::bind(config.http_addr).await.with_context(|| format!("cannot bind {}", config.http_addr))?;
    let local = listener.local_addr()?;
    let node_name = baton_server::node_name(&config);
    let storage = match config.storage_mode()? {
        StorageMode::Embedded { data_dir } => {
            let path = std::path::absolute(baton_sqlite::SqliteStore::database_path(&data_dir))?;
            format!("embedded SQLite at {}", path.display())
        }
        StorageMode::Cluster { .. } => "cluster mode on PostgreSQL".to_owned(),
    };
    if !local.ip().is_loopback() {
        tracing::warn!(%local, "listening beyond loopback: authentication is not available yet, so put Baton behind a trusted network");
    }
    // Printed, not only logged: scripts and tests read the bound address from this line.
    println!("baton {node_name} listening on http://{local} ({storage}; auth off)");

    let shutdown = CancellationToken::new();
    tokio::spawn(cancel_on_signal(shutdown.clone()));
    node.serve(listener, shutdown).await?;
    println!("baton {node_name} stopped");
    Ok(())
}

fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into());
    // Colours only on a terminal: a log file or a pipe gets plain text (and every request span is cheaper to format).
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal());
    let _ = match format {
        LogFormat::Json => builder.json().try_init(),
        LogFormat::Text => builder.try_init(),
    };
}

/// Cancels `shutdown` on SIGINT or SIGTERM.
pub(crate) async fn cancel_on_signal(shutdown: CancellationToken) {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut terminate = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(signal) => signal,
            Err(_) => {
                let _ = interrupt.await;
                shutdown.cancel();
                return;
            }
        };
        tokio::select! {
            _ = interrupt => {}
            _ = terminate.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = interrupt.await;
    tracing::info!("shutting down");
    shutdown.cancel();
}
