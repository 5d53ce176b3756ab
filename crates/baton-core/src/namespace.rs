//! Namespaces: every resource lives in one, and every table keys on it, so tenants and per-namespace
//! permissions can come later without a data migration.

use std::fmt;

use crate::error::{Error, ErrorCode};

pub const DEFAULT_NAMESPACE: &str = "default";
const MAX_NAMESPACE_LEN: usize = 128;

#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(transparent)]
pub struct Namespace(String);

impl Namespace {
    /// Validates a namespace name: 1 to 128 characters of letters, digits, `_`, `-`, `.` and `/`.
    pub fn parse(raw: &str) -> Result<Self, Error> {
        if raw.is_empty() || raw.len() > MAX_NAMESPACE_LEN {
            return Err(Error::invalid(
                ErrorCode::InvalidArgument,
                format!("namespace must be 1 to {MAX_NAMESPACE_LEN} characters"),
            ));
        }
        let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | '/');
        if !raw.chars().all(allowed) {
            return Err(Error::invalid(
                ErrorCode::InvalidArgument,
                "namespace may hold only letters, digits, '_', '-', '.' and '/'",
            ));
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Default for Namespace {
    fn default() -> Self {
        Self(DEFAULT_NAMESPACE.to_owned())
    }
}

impl fmt::Display for Namespace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}
