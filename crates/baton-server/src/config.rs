//! Configuration: defaults, then an optional TOML file, then `BATON_*` environment variables, then flags,
//! each overriding the one before.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};
use baton_core::Limits;
use baton_sqlite::Synchronous;
use figment::Figment;
use figment::providers::{Env, Format as _, Serialized, Toml};
use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default)]
pub struct Config {
    pub http_addr: SocketAddr,
    pub data_dir: PathBuf,
    pub database_url: Option<String>,
    /// Connections this node keeps to PostgreSQL at most; every node counts against the server's
    /// `max_connections`.
    pub database_max_connections: u32,
    pub node_id: Option<String>,
    pub log_format: LogFormat,
    /// `full` (default: every acknowledged write survives power loss) or `normal`.
    pub sqlite_synchronous: String,
    pub max_body_bytes: usize,
    pub max_key_bytes: usize,
    pub max_ttl_seconds: u64,
    pub max_wait_seconds: u64,
    pub max_waiters_per_key: u32,
    /// Finished jobs are deleted this many seconds after they finish.
    pub job_retention_seconds: u64,
    pub max_job_payload_bytes: usize,
    /// One event's data and metadata.
    pub max_event_bytes: usize,
    /// Live subscriptions (SSE and WebSocket) this node serves at once.
    pub max_subscriptions: usize,
    /// The cache's bounds: entries, bytes of all entries, and one value's bytes.
    pub max_cache_entries: u64,
    pub max_cache_bytes: u64,
    pub max_cache_value_bytes: usize,
    /// Run registered job types' executors inside the server.
    pub executors: bool,
    pub executor_concurrency: usize,
}

impl Default for Config {
    fn default() -> Self {
        let limits = Limits::default();
        Self {
            http_addr: SocketAddr::from(([127, 0, 0, 1], 8080)),
            data_dir: PathBuf::from("./baton-data"),
            database_url: None,
            database_max_connections: 32,
            node_id: None,
            log_format: LogFormat::Text,
            sqlite_synchronous: "full".into(),
            max_body_bytes: 1024 * 1024,
            max_key_bytes: limits.max_key_bytes,
            max_ttl_seconds: limits.max_ttl.as_secs(),
            max_wait_seconds: limits.max_wait.as_secs(),
            max_waiters_per_key: limits.max_waiters_per_key,
            job_retention_seconds: 24 * 3600,
            max_job_payload_bytes: limits.max_job_payload_bytes,
            max_event_bytes: limits.max_event_bytes,
            max_subscriptions: limits.max_subscriptions,
            max_cache_entries: limits.max_cache_entries,
            max_cache_bytes: limits.max_cache_bytes,
            max_cache_value_bytes: limits.max_cache_value_bytes,
            executors: false,
            executor_concurrency: 8,
        }
    }
}

/// Values given as flags; `None` leaves the layer below in force.
#[derive(Clone, Debug, Default, Serialize)]
pub struct ConfigOverrides {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub http_addr: Option<SocketAddr>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_dir: Option<PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub database_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub node_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log_format: Option<LogFormat>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub executors: Option<bool>,
}

/// The longest names (`max_key_bytes`) any backend can index.
const MAX_KEY_BYTES: usize = 1024;
/// Ten years: the longest TTL or wait a node may be configured to allow.
const MAX_TTL_SECONDS: u64 = 10 * 365 * 24 * 3600;

/// Where the state lives.
#[derive(Clone, Debug, PartialEq)]
pub enum StorageMode {
    Embedded { data_dir: PathBuf },
    Cluster { url: String },
}

impl Config {
    pub fn load(file: Option<&Path>, overrides: &ConfigOverrides) -> anyhow::Result<Self> {
        let mut figment = Figment::from(Serialized::defaults(Config::default()));
        if let Some(file) = file {
            if !file.exists() {
                bail!("config file {} does not exist", file.display());
            }
            figment = figment.merge(Toml::file(file));
        }
        let config: Self = figment
            .merge(Env::prefixed("BATON_").only(&Self::ENV_KEYS))
            .merge(Serialized::defaults(overrides))
            .extract()
            .context("invalid configuration")?;
        config.check_ranges()?;
        Ok(config)
    }

    /// Refuses limits a store cannot honour, so that a misconfigured node fails at start, not request by request.
    fn check_ranges(&self) -> anyhow::Result<()> {
        // PostgreSQL's b-tree keeps an index entry to 2,704 bytes, and one entry can hold a namespace and two
        // names (a service and an instance): with longer names their writes failed with a 500.
        if !(1..=MAX_KEY_BYTES).contains(&self.max_key_bytes) {
            bail!("max_key_bytes must be between 1 and {MAX_KEY_BYTES}; it is {}", self.max_key_bytes);
        }
        // Expiry times are milliseconds in an i64; ten years keeps every deadline far from overflowing it.
        if !(1..=MAX_TTL_SECONDS).contains(&self.max_ttl_seconds) {
            bail!("max_ttl_seconds must be between 1 and {MAX_TTL_SECONDS}; it is {}", self.max_ttl_seconds);
        }
        if !(1..=MAX_TTL_SECONDS).contains(&self.max_wait_seconds) {
            bail!("max_wait_seconds must be between 1 and {MAX_TTL_SECONDS}; it is {}", self.max_wait_seconds);
        }
        Ok(())
    }

    /// The settings the environment may set, so that client variables such as `BATON_URL` are not read as
    /// server settings.
    const ENV_KEYS: [&'static str; 21] = [
        "http_addr",
        "data_dir",
        "database_url",
        "database_max_connections",
        "node_id",
        "log_format",
        "sqlite_synchronous",
        "max_body_bytes",
        "max_key_bytes",
        "max_ttl_seconds",
        "max_wait_seconds",
        "max_waiters_per_key",
        "job_retention_seconds",
        "max_job_payload_bytes",
        "max_event_bytes",
        "max_subscriptions",
        "max_cache_entries",
        "max_cache_bytes",
        "max_cache_value_bytes",
        "executors",
        "executor_concurrency",
    ];

    pub fn storage_mode(&self) -> anyhow::Result<StorageMode> {
        match self.database_url.as_deref().filter(|url| !url.is_empty()) {
            None => Ok(StorageMode::Embedded { data_dir: self.data_dir.clone() }),
            Some(url) if url.starts_with("postgres://") || url.starts_with("postgresql://") => {
                Ok(StorageMode::Cluster { url: url.to_owned() })
            }
            Some(_) => {
                bail!("database_url must be a postgres:// URL; leave it unset for embedded SQLite")
            }
        }
    }

    pub fn sqlite_synchronous(&self) -> Synchronous {
        if self.sqlite_synchronous.eq_ignore_ascii_case("normal") { Synchronous::Normal } else { Synchronous::Full }
    }

    pub fn limits(&self) -> Limits {
        Limits {
            max_key_bytes: self.max_key_bytes,
            max_ttl: std::time::Duration::from_secs(self.max_ttl_seconds),
            max_wait: std::time::Duration::from_secs(self.max_wait_seconds),
            max_waiters_per_key: self.max_waiters_per_key,
            max_job_payload_bytes: self.max_job_payload_bytes,
            max_event_bytes: self.max_event_bytes,
            max_subscriptions: self.max_subscriptions,
            max_cache_entries: self.max_cache_entries,
            max_cache_bytes: self.max_cache_bytes,
            max_cache_value_bytes: self.max_cache_value_bytes,
            ..Limits::default()
        }
    }

    pub fn cache_bounds(&self) -> baton_core::cache::CacheBounds {
        baton_core::cache::CacheBounds { max_entries: self.max_cache_entries, max_bytes: self.max_cache_bytes }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[allow(clippy::result_large_err)] // figment's Jail fixes the closure's error type.
    fn flags_beat_environment_which_beats_the_file() {
        figment::Jail::expect_with(|jail| {
            jail.create_file(
                "baton.toml",
                "http_addr = \"127.0.0.1:1111\"\ndata_dir = \"/from/file\"\nnode_id = \"file\"",
            )?;
            jail.set_env("BATON_DATA_DIR", "/from/env");
            jail.set_env("BATON_NODE_ID", "env");
            jail.set_env("BATON_URL", "http://client-only");
            jail.set_env("BATON_DATABASE_MAX_CONNECTIONS", "8");
            let overrides = ConfigOverrides { node_id: Some("flag".into()), ..ConfigOverrides::default() };
            let config = Config::load(Some(Path::new("baton.toml")), &overrides).expect("loads");
            assert_eq!(config.http_addr, SocketAddr::from(([127, 0, 0, 1], 1111)));
            assert_eq!(config.data_dir, PathBuf::from("/from/env"));
            assert_eq!(config.node_id.as_deref(), Some("flag"));
            assert_eq!(config.database_max_connections, 8);
            Ok(())
        });
    }

    #[test]
    #[allow(clippy::result_large_err)] // figment's Jail fixes the closure's error type.
    fn limits_no_store_can_honour_are_refused_at_start() {
        figment::Jail::expect_with(|jail| {
            let load = || Config::load(None, &ConfigOverrides::default());
            jail.set_env("BATON_MAX_KEY_BYTES", "1024");
            assert_eq!(load().expect("the largest key limit loads").max_key_bytes, 1024);
            for (variable, value, message) in [
                ("BATON_MAX_KEY_BYTES", "1025", "max_key_bytes must be between 1 and 1024; it is 1025"),
                ("BATON_MAX_KEY_BYTES", "0", "max_key_bytes must be between 1 and 1024; it is 0"),
                ("BATON_MAX_TTL_SECONDS", "0", "max_ttl_seconds must be between 1 and 315360000; it is 0"),
                ("BATON_MAX_WAIT_SECONDS", "315360001", "max_wait_seconds must be between 1 and 315360000"),
            ] {
                jail.set_env(variable, value);
                let error = load().expect_err(variable).to_string();
                assert!(error.starts_with(message), "{variable}={value}: {error}");
                jail.set_env(variable, "60");
            }
            Ok(())
        });
    }

    #[test]
    fn a_postgres_url_selects_cluster_mode() {
        let config = Config { database_url: Some("postgres://h/db".into()), ..Config::default() };
        assert_eq!(config.storage_mode().unwrap(), StorageMode::Cluster { url: "postgres://h/db".into() });
        let bad = Config { database_url: Some("mysql://h/db".into()), ..Config::default() };
        assert!(bad.storage_mode().is_err());
        assert_eq!(
            Config::default().storage_mode().unwrap(),
            StorageMode::Embedded { data_dir: "./baton-data".into() }
        );
    }
}
