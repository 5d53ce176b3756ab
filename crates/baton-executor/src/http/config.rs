//! The HTTP executor's config: its wire form (`{"method", "url", "headers", "body_template",
//! "max_response_bytes"}`) and the checks made when a job type is registered.

use std::collections::BTreeMap;

use reqwest::Method;
use reqwest::header::{HeaderName, HeaderValue};
use serde::Deserialize;

use super::template;
use crate::config::{InvalidConfig, check_limit, from_json};

/// Response body kept when the config does not say.
pub const DEFAULT_MAX_RESPONSE_BYTES: usize = 64 * 1024;
/// The most response body a config may ask to keep: results are stored with the job, so they stay small.
pub const MAX_RESPONSE_BYTES: usize = 1024 * 1024;
/// The largest `body_template`: it is stored with the job type and read on every attempt.
pub const MAX_BODY_TEMPLATE_BYTES: usize = 64 * 1024;

/// Headers the executor sets itself (so the receiver can trust them) or computes from the body.
const RESERVED_HEADERS: [&str; 3] = ["x-baton-job-id", "x-baton-attempt", "content-length"];

/// A validated HTTP executor config.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpConfig {
    /// Upper case; `POST` when the config does not say.
    pub method: String,
    /// An absolute `http` or `https` URL.
    pub url: String,
    /// Sent with every request, besides `X-Baton-Job-Id` and `X-Baton-Attempt`.
    pub headers: BTreeMap<String, String>,
    /// The request body with placeholders (see [`super::PLACEHOLDERS`]); when `None`, the body is the payload as
    /// JSON, sent as `application/json`. A template's body gets no `Content-Type` unless `headers` sets one.
    pub body_template: Option<String>,
    /// Response body kept in the result; the rest is not read.
    pub max_response_bytes: usize,
}

/// The registration body, exactly as accepted: unknown fields are refused so a typo is not silently ignored.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Wire {
    #[serde(default)]
    method: Option<String>,
    url: String,
    #[serde(default)]
    headers: BTreeMap<String, String>,
    #[serde(default)]
    body_template: Option<String>,
    #[serde(default)]
    max_response_bytes: Option<usize>,
}

impl HttpConfig {
    pub(crate) fn parse(config: &serde_json::Value) -> Result<HttpConfig, InvalidConfig> {
        let wire: Wire = from_json("http", config)?;
        let method = wire.method.unwrap_or_else(|| "POST".to_owned()).to_ascii_uppercase();
        if method.is_empty() || Method::from_bytes(method.as_bytes()).is_err() {
            return Err(InvalidConfig(format!("method {method:?} is not a valid HTTP method")));
        }
        check_url(&wire.url)?;
        check_headers(&wire.headers)?;
        if let Some(body_template) = &wire.body_template {
            check_template(body_template)?;
        }
        Ok(HttpConfig {
            method,
            url: wire.url,
            headers: wire.headers,
            body_template: wire.body_template,
            max_response_bytes: check_limit(
                "max_response_bytes",
                wire.max_response_bytes.unwrap_or(DEFAULT_MAX_RESPONSE_BYTES),
                MAX_RESPONSE_BYTES,
            )?,
        })
    }
}

fn check_url(url: &str) -> Result<(), InvalidConfig> {
    let parsed = reqwest::Url::parse(url).map_err(|e| InvalidConfig(format!("url {url:?} is not valid: {e}")))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(InvalidConfig(format!("url {url:?} must use http or https")));
    }
    if parsed.host().is_none() {
        return Err(InvalidConfig(format!("url {url:?} has no host")));
    }
    Ok(())
}

fn check_headers(headers: &BTreeMap<String, String>) -> Result<(), InvalidConfig> {
    let mut seen = Vec::with_capacity(headers.len());
    for (name, value) in headers {
        let parsed = HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| InvalidConfig(format!("header name {name:?} is not valid")))?;
        if RESERVED_HEADERS.contains(&parsed.as_str()) {
            return Err(InvalidConfig(format!("header {name:?} is set by the executor and cannot be configured")));
        }
        // Header names are case-insensitive, the JSON object's keys are not.
        if seen.contains(&parsed) {
            return Err(InvalidConfig(format!("header {name:?} is given twice (names are case-insensitive)")));
        }
        HeaderValue::from_str(value).map_err(|_| InvalidConfig(format!("header {name:?} has an invalid value")))?;
        seen.push(parsed);
    }
    Ok(())
}

fn check_template(body_template: &str) -> Result<(), InvalidConfig> {
    check_limit("body_template", body_template.len(), MAX_BODY_TEMPLATE_BYTES)?;
    let unknown = template::unknown_placeholders(body_template);
    if !unknown.is_empty() {
        let known: Vec<String> = template::PLACEHOLDERS.iter().map(|p| format!("{{{{{p}}}}}")).collect();
        return Err(InvalidConfig(format!(
            "body_template has unknown placeholder {}; the placeholders are {}",
            unknown.join(", "),
            known.join(", ")
        )));
    }
    Ok(())
}
