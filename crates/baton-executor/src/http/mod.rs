//! The HTTP executor: each attempt is one request to a configured endpoint (a webhook), whose status decides the
//! outcome: 2xx completes, 408, 429, 5xx and transport errors are retried, any other status fails for good.
//!
//! It does not sign requests or manage credentials beyond the static headers in its config.

mod config;
mod run;
mod template;

pub use config::{DEFAULT_MAX_RESPONSE_BYTES, HttpConfig, MAX_BODY_TEMPLATE_BYTES, MAX_RESPONSE_BYTES};
pub(crate) use run::run;
pub use template::PLACEHOLDERS;
