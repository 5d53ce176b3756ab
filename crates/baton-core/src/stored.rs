//! How both backends store records: JSON fields as text and times as milliseconds, written and read here so
//! the two agree. A backend only says how to read one column of its row type ([`StoredRow`]); each feature's
//! records are assembled once, in its own `stored` module.

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::clock::Timestamp;
use crate::error::StoreError;
use crate::namespace::Namespace;

/// One stored row, read by column name.
pub trait StoredRow {
    fn text(&self, column: &str) -> Result<String, StoreError>;
    fn optional_text(&self, column: &str) -> Result<Option<String>, StoreError>;
    fn int(&self, column: &str) -> Result<i64, StoreError>;
    fn optional_int(&self, column: &str) -> Result<Option<i64>, StoreError>;
    fn flag(&self, column: &str) -> Result<bool, StoreError>;
    fn optional_flag(&self, column: &str) -> Result<Option<bool>, StoreError>;
}

pub(crate) fn corrupt(what: &str) -> StoreError {
    StoreError::Internal(format!("stored {what} does not parse"))
}

pub(crate) fn namespace(row: &impl StoredRow) -> Result<Namespace, StoreError> {
    Namespace::parse(&row.text("namespace")?).map_err(|_| corrupt("namespace"))
}

pub(crate) fn time(row: &impl StoredRow, column: &str) -> Result<Option<Timestamp>, StoreError> {
    Ok(row.optional_int(column)?.map(Timestamp))
}

pub fn encode(value: &(impl Serialize + ?Sized)) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(|e| StoreError::Internal(format!("cannot encode JSON: {e}")))
}

pub fn encode_optional(value: Option<&Value>) -> Result<Option<String>, StoreError> {
    value.map(encode).transpose()
}

/// `what` names the field in the error, should stored text ever fail to parse.
pub fn decode<T: DeserializeOwned>(text: &str, what: &str) -> Result<T, StoreError> {
    serde_json::from_str(text).map_err(|_| StoreError::Internal(format!("stored {what} does not parse")))
}

pub fn decode_optional(text: Option<String>, what: &str) -> Result<Option<Value>, StoreError> {
    text.map(|text| decode(&text, what)).transpose()
}
