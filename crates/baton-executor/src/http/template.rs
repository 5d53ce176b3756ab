//! The `body_template` language: literal text with `{{name}}` placeholders, and nothing else (no conditionals,
//! loops or escaping), so a template reads as the body it produces.

use crate::job::JobContext;

/// The placeholders a template may use: `{{payload}}` is the payload as JSON; the others are inserted as plain
/// text, without JSON escaping.
pub const PLACEHOLDERS: [&str; 5] = ["payload", "job_id", "attempt", "queue", "type"];

/// A piece of a template.
enum Segment<'a> {
    Text(&'a str),
    /// `{{ name }}` with `raw` the whole placeholder as written. Spaces inside the braces are allowed.
    Placeholder {
        name: &'a str,
        raw: &'a str,
    },
}

/// Splits a template into text and placeholders. Only `{{identifier}}` is a placeholder; any other `{{` is text,
/// so a JSON body like `{"p":{{payload}}}` works, and `{{` in literal text needs no escaping.
fn segments(template: &str) -> Vec<Segment<'_>> {
    let mut segments = Vec::new();
    let mut rest = template;
    while let Some(open) = rest.find("{{") {
        let after = &rest[open + 2..];
        if let Some(close) = after.find("}}") {
            let name = after[..close].trim();
            if is_identifier(name) {
                if open > 0 {
                    segments.push(Segment::Text(&rest[..open]));
                }
                let end = open + 2 + close + 2;
                segments.push(Segment::Placeholder { name, raw: &rest[open..end] });
                rest = &rest[end..];
                continue;
            }
        }
        // Not a placeholder: keep one brace as text and look again from the next, so `{{{payload}}}` is a brace
        // around a placeholder.
        segments.push(Segment::Text(&rest[..open + 1]));
        rest = &rest[open + 1..];
    }
    if !rest.is_empty() {
        segments.push(Segment::Text(rest));
    }
    segments
}

fn is_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// The placeholders in `template` that are not in [`PLACEHOLDERS`], as written: almost always a typo.
pub(super) fn unknown_placeholders(template: &str) -> Vec<&str> {
    segments(template)
        .into_iter()
        .filter_map(|s| match s {
            Segment::Placeholder { name, raw } if !PLACEHOLDERS.contains(&name) => Some(raw),
            _ => None,
        })
        .collect()
}

/// The body for one attempt. Substitution is a single pass, so a payload that itself contains `{{job_id}}` is sent
/// as it is. An unknown placeholder (possible only in a config built without `ExecutorConfig::parse`) stays as
/// written.
pub(super) fn render(template: &str, job: &JobContext) -> String {
    let mut body = String::with_capacity(template.len());
    for segment in segments(template) {
        match segment {
            Segment::Text(text) => body.push_str(text),
            Segment::Placeholder { name, raw } => match name {
                "payload" => body.push_str(&job.payload.to_string()),
                "job_id" => body.push_str(&job.job_id),
                "attempt" => body.push_str(&job.attempt.to_string()),
                "queue" => body.push_str(&job.queue),
                "type" => body.push_str(&job.job_type),
                _ => body.push_str(raw),
            },
        }
    }
    body
}
