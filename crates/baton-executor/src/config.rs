//! Parsing and validating an executor registration, `{executor: "shell"|"http", config: {...}}`, into an
//! [`ExecutorConfig`]. Validation happens here, once, when the job type is registered, so a bad config is refused
//! to the person who wrote it instead of failing every attempt later. The per-executor fields and their checks
//! live with each executor (`shell::config`, `http::config`); this module only dispatches.
//!
//! It does not check anything that depends on the machine the job will run on (that the command exists, that the
//! working directory exists, that the URL resolves): the worker may not be the server.

use crate::http::HttpConfig;
use crate::shell::ShellConfig;

/// Parsed and validated from the job-type registration body `{executor: "shell"|"http", config: {...}}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExecutorConfig {
    Shell(ShellConfig),
    Http(HttpConfig),
}

/// A registration that cannot run; the message is written for the person registering the job type.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InvalidConfig(pub String);

impl ExecutorConfig {
    /// `executor` is "shell" or "http"; `config` the JSON object. An unknown executor, unknown fields, an empty
    /// command, a bad URL, method or header, or a size over its limit is refused with a message naming the problem.
    pub fn parse(executor: &str, config: &serde_json::Value) -> Result<ExecutorConfig, InvalidConfig> {
        if !config.is_object() {
            return Err(InvalidConfig(format!("{executor} executor config must be a JSON object")));
        }
        match executor {
            "shell" => ShellConfig::parse(config).map(ExecutorConfig::Shell),
            "http" => HttpConfig::parse(config).map(ExecutorConfig::Http),
            other => Err(InvalidConfig(format!("unknown executor {other:?}: expected \"shell\" or \"http\""))),
        }
    }

    /// The `baton worker --exec 'CMD'` form: runs CMD with `sh -c`, so pipes, redirections and `$VARS` work as
    /// typed.
    pub fn shell_command(command_line: &str) -> Result<ExecutorConfig, InvalidConfig> {
        ShellConfig::sh(command_line).map(ExecutorConfig::Shell)
    }

    /// The executor's registration name: "shell" or "http".
    pub fn kind(&self) -> &'static str {
        match self {
            ExecutorConfig::Shell(_) => "shell",
            ExecutorConfig::Http(_) => "http",
        }
    }
}

/// Reads `config` into the executor's wire struct (which denies unknown fields), prefixing serde's message with the
/// executor so `unknown field "comand"` says where it was found.
pub(crate) fn from_json<T: serde::de::DeserializeOwned>(
    executor: &str,
    config: &serde_json::Value,
) -> Result<T, InvalidConfig> {
    T::deserialize(config).map_err(|e| InvalidConfig(format!("invalid {executor} executor config: {e}")))
}

/// Checks a byte limit shared by both executors' output caps.
pub(crate) fn check_limit(field: &str, value: usize, max: usize) -> Result<usize, InvalidConfig> {
    if value > max {
        return Err(InvalidConfig(format!("{field} is {value} bytes; the limit is {max}")));
    }
    Ok(value)
}
