//! How both backends store a job's JSON fields (payload, backoff, errors, tags, ...): as text, written and read
//! here so the two agree.

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::error::StoreError;
use crate::job::model::JobState;

pub fn encode(value: &(impl Serialize + ?Sized)) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(|e| StoreError::Internal(format!("cannot encode JSON: {e}")))
}

pub fn encode_optional(value: Option<&Value>) -> Result<Option<String>, StoreError> {
    value.map(encode).transpose()
}

/// `what` names the field in the error, should stored text ever fail to parse.
pub fn decode<T: DeserializeOwned>(text: &str, what: &str) -> Result<T, StoreError> {
    serde_json::from_str(text).map_err(|_| StoreError::Internal(format!("stored job {what} does not parse")))
}

pub fn decode_optional(text: Option<String>, what: &str) -> Result<Option<Value>, StoreError> {
    text.map(|text| decode(&text, what)).transpose()
}

/// A set of states as a JSON array of names, for statements that take a list.
pub fn encode_states(states: &[JobState]) -> Result<String, StoreError> {
    encode(&states.iter().map(|state| state.as_str()).collect::<Vec<_>>())
}
