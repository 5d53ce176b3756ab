//! Size and range limits. Every one is configurable, and each breach has its own error code.

use std::time::Duration;

use serde_json::Value;

use crate::error::{Error, ErrorCode};

#[derive(Clone, Debug)]
pub struct Limits {
    pub max_key_bytes: usize,
    pub max_owner_bytes: usize,
    pub max_metadata_bytes: usize,
    pub max_ttl: Duration,
    pub max_wait: Duration,
    pub max_permits: u32,
    pub max_waiters_per_key: u32,
    /// A job's payload, result or progress, as JSON.
    pub max_job_payload_bytes: usize,
    /// Jobs per enqueue, and items per batch ack.
    pub max_batch: usize,
    /// Jobs per fetch.
    pub max_fetch: u32,
    /// The longest a fetch or a result request may wait.
    pub max_poll: Duration,
    /// One event's data and metadata, as JSON.
    pub max_event_bytes: usize,
    /// Live subscriptions (SSE and WebSocket) one node serves at once.
    pub max_subscriptions: usize,
    /// The cache's bounds: entries, bytes of all entries, and one value's bytes.
    pub max_cache_entries: u64,
    pub max_cache_bytes: u64,
    pub max_cache_value_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_key_bytes: 512,
            max_owner_bytes: 256,
            max_metadata_bytes: 64 * 1024,
            max_ttl: Duration::from_secs(7 * 24 * 3600),
            max_wait: Duration::from_secs(3600),
            max_permits: 10_000,
            max_waiters_per_key: 10_000,
            max_job_payload_bytes: 256 * 1024,
            max_batch: 1000,
            max_fetch: 1000,
            max_poll: Duration::from_secs(60),
            max_event_bytes: 256 * 1024,
            max_subscriptions: 10_000,
            max_cache_entries: 100_000,
            max_cache_bytes: 256 * 1024 * 1024,
            max_cache_value_bytes: 512 * 1024,
        }
    }
}

/// The checks every service runs on what clients name and send, in one place so that each limit reads, and is
/// refused, the same everywhere.
impl Limits {
    /// A name the client chooses (a lock key, a claim's resource, an election, a cache key): 1 to
    /// `max_key_bytes` bytes, without control characters (those mark Baton's own reserved keys), and not `.` or
    /// `..`, which no URL path can carry (clients drop them as path segments, so the name's routes are unreachable).
    pub fn check_key(&self, what: &str, key: &str) -> Result<(), Error> {
        if key.is_empty() || key.chars().any(char::is_control) {
            return Err(Error::invalid(
                ErrorCode::InvalidArgument,
                format!("{what} must be 1 or more bytes without control characters"),
            ));
        }
        if key == "." || key == ".." {
            return Err(Error::invalid(
                ErrorCode::InvalidArgument,
                format!("{what} cannot be '{key}': a URL path cannot carry it"),
            ));
        }
        if key.len() > self.max_key_bytes {
            return Err(Error::invalid(
                ErrorCode::KeyTooLong,
                format!("{what} is {} bytes; the limit is {}", key.len(), self.max_key_bytes),
            ));
        }
        Ok(())
    }

    /// An owner or candidate: 1 to `max_owner_bytes` bytes, without control characters.
    pub fn check_owner(&self, what: &str, owner: &str) -> Result<(), Error> {
        if owner.is_empty() || owner.len() > self.max_owner_bytes || owner.chars().any(char::is_control) {
            return Err(Error::invalid(
                ErrorCode::InvalidArgument,
                format!("{what} must be 1 to {} bytes without control characters", self.max_owner_bytes),
            ));
        }
        Ok(())
    }

    /// Free-form JSON kept beside a grant (metadata, an election's value): at most `max_metadata_bytes`.
    pub fn check_metadata(&self, what: &str, value: Option<&Value>) -> Result<(), Error> {
        let size = value.map_or(0, |value| value.to_string().len());
        if size > self.max_metadata_bytes {
            return Err(Error::invalid(
                ErrorCode::PayloadTooLarge,
                format!("{what} is {size} bytes; the limit is {}", self.max_metadata_bytes),
            ));
        }
        Ok(())
    }

    /// A job payload or anything stored like one (a result, a saga or workflow input, a step output): at most
    /// `max_job_payload_bytes`.
    pub fn check_payload(&self, what: &str, value: Option<&Value>) -> Result<(), Error> {
        let size = value.map_or(0, |value| value.to_string().len());
        if size > self.max_job_payload_bytes {
            return Err(Error::invalid(
                ErrorCode::PayloadTooLarge,
                format!("{what} is {size} bytes; the limit is {}", self.max_job_payload_bytes),
            ));
        }
        Ok(())
    }

    /// Items in one batch request: at most `max_batch`.
    pub fn check_batch(&self, size: usize) -> Result<(), Error> {
        if size > self.max_batch {
            return Err(Error::invalid(
                ErrorCode::BatchTooLarge,
                format!("a batch holds at most {} items; this one has {size}", self.max_batch),
            ));
        }
        Ok(())
    }
}

/// Replaces each NUL in a worker's free text (an error report) with U+FFFD. PostgreSQL cannot store NUL in text,
/// and such a report is kept rather than refused: refused, the failure it reports would be lost.
pub(crate) fn replace_nul(text: &mut String) {
    if text.contains('\0') {
        *text = text.replace('\0', "\u{fffd}");
    }
}
