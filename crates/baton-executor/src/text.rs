//! Small text helpers shared by both executors: turning capped byte buffers into JSON and short error messages.
//! Nothing here knows about processes or HTTP.

use std::time::Duration;

/// Longest piece of output quoted in an error message, in characters.
pub(crate) const ERROR_SNIPPET_CHARS: usize = 500;

/// Bytes read from a stream, keeping at most `limit` and remembering whether more arrived.
#[derive(Debug)]
pub(crate) struct Capped {
    pub(crate) bytes: Vec<u8>,
    pub(crate) truncated: bool,
    limit: usize,
}

impl Capped {
    pub(crate) fn new(limit: usize) -> Capped {
        Capped { bytes: Vec::new(), truncated: false, limit }
    }

    /// Keeps what fits under the limit and drops the rest: the caller goes on reading, so the writer never blocks.
    pub(crate) fn push(&mut self, chunk: &[u8]) {
        let room = self.limit - self.bytes.len();
        if chunk.len() > room {
            self.bytes.extend_from_slice(&chunk[..room]);
            self.truncated = true;
        } else {
            self.bytes.extend_from_slice(chunk);
        }
    }

    /// The bytes as text. A cut can land inside a UTF-8 sequence; that partial character is dropped rather than
    /// shown as a replacement character. Other invalid bytes become U+FFFD.
    pub(crate) fn to_text(&self) -> String {
        let mut bytes = &self.bytes[..];
        if self.truncated
            && let Err(e) = std::str::from_utf8(bytes)
            && e.error_len().is_none()
        {
            bytes = &bytes[..e.valid_up_to()];
        }
        String::from_utf8_lossy(bytes).into_owned()
    }

    /// The bytes parsed as JSON, if they are complete and valid JSON.
    pub(crate) fn to_json(&self) -> Option<serde_json::Value> {
        if self.truncated {
            return None;
        }
        serde_json::from_slice(&self.bytes).ok()
    }
}

/// The last non-blank line of `text`, cut to [`ERROR_SNIPPET_CHARS`]: for a failing command this is usually the
/// one line that says what went wrong.
pub(crate) fn last_line(text: &str) -> &str {
    let line = text.lines().rev().map(str::trim).find(|l| !l.is_empty()).unwrap_or("");
    truncate_chars(line, ERROR_SNIPPET_CHARS)
}

pub(crate) fn truncate_chars(text: &str, max: usize) -> &str {
    match text.char_indices().nth(max) {
        Some((end, _)) => &text[..end],
        None => text,
    }
}

/// `30s` for whole seconds, `1500ms` otherwise: error messages quote the timeout the job was given.
pub(crate) fn format_duration(d: Duration) -> String {
    if d.subsec_nanos() == 0 { format!("{}s", d.as_secs()) } else { format!("{}ms", d.as_millis()) }
}

pub(crate) fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}
