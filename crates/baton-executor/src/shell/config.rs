//! The shell executor's config: its wire form (`{"command", "args", "env", "working_dir", "max_output_bytes"}`)
//! and the checks made when a job type is registered.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Deserialize;

use crate::config::{InvalidConfig, check_limit, from_json};

/// Output kept per stream (stdout, stderr) when the config does not say.
pub const DEFAULT_MAX_OUTPUT_BYTES: usize = 64 * 1024;
/// The most output a config may ask to keep per stream: results are stored with the job, so they stay small.
pub const MAX_OUTPUT_BYTES: usize = 1024 * 1024;

/// Variable names the executor sets itself; a config may not set them, so a job always sees the real values.
const RESERVED_ENV_PREFIX: &str = "BATON_JOB_";

/// A validated shell executor config.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShellConfig {
    /// The program, found on `PATH` unless it contains a `/`.
    pub command: String,
    pub args: Vec<String>,
    /// Added on top of the worker's inherited environment.
    pub env: BTreeMap<String, String>,
    /// Where the process starts; the worker's own directory when `None`.
    pub working_dir: Option<PathBuf>,
    /// Output kept per stream (stdout and stderr each); the rest is read and thrown away.
    pub max_output_bytes: usize,
}

/// The registration body, exactly as accepted: unknown fields are refused so a typo is not silently ignored.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Wire {
    command: String,
    #[serde(default)]
    args: Vec<String>,
    #[serde(default)]
    env: BTreeMap<String, String>,
    #[serde(default)]
    working_dir: Option<PathBuf>,
    #[serde(default)]
    max_output_bytes: Option<usize>,
}

impl ShellConfig {
    pub(crate) fn parse(config: &serde_json::Value) -> Result<ShellConfig, InvalidConfig> {
        let wire: Wire = from_json("shell", config)?;
        let config = ShellConfig {
            command: wire.command,
            args: wire.args,
            env: wire.env,
            working_dir: wire.working_dir,
            max_output_bytes: check_limit(
                "max_output_bytes",
                wire.max_output_bytes.unwrap_or(DEFAULT_MAX_OUTPUT_BYTES),
                MAX_OUTPUT_BYTES,
            )?,
        };
        config.validate()?;
        Ok(config)
    }

    /// `sh -c COMMAND_LINE`, with the default output cap.
    pub(crate) fn sh(command_line: &str) -> Result<ShellConfig, InvalidConfig> {
        if command_line.trim().is_empty() {
            return Err(InvalidConfig("command line is empty".to_owned()));
        }
        let config = ShellConfig {
            command: "sh".to_owned(),
            args: vec!["-c".to_owned(), command_line.to_owned()],
            env: BTreeMap::new(),
            working_dir: None,
            max_output_bytes: DEFAULT_MAX_OUTPUT_BYTES,
        };
        config.validate()?;
        Ok(config)
    }

    /// Refuses what `exec` would refuse (NUL bytes, `=` in a variable name) now, rather than on every attempt.
    fn validate(&self) -> Result<(), InvalidConfig> {
        if self.command.trim().is_empty() {
            return Err(InvalidConfig("command is empty".to_owned()));
        }
        if self.command.contains('\0') {
            return Err(InvalidConfig("command contains a NUL byte".to_owned()));
        }
        if let Some(i) = self.args.iter().position(|a| a.contains('\0')) {
            return Err(InvalidConfig(format!("args[{i}] contains a NUL byte")));
        }
        for (name, value) in &self.env {
            if name.is_empty() || name.contains(['=', '\0']) {
                return Err(InvalidConfig(format!("env name {name:?} is not a valid variable name")));
            }
            if name.starts_with(RESERVED_ENV_PREFIX) {
                return Err(InvalidConfig(format!(
                    "env name {name:?} is reserved: the executor sets {RESERVED_ENV_PREFIX}* itself"
                )));
            }
            if value.contains('\0') {
                return Err(InvalidConfig(format!("env {name:?} contains a NUL byte")));
            }
        }
        if let Some(dir) = &self.working_dir
            && dir.as_os_str().is_empty()
        {
            return Err(InvalidConfig("working_dir is empty".to_owned()));
        }
        Ok(())
    }
}
