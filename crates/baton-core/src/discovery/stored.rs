//! Instances as both backends store them (see [`crate::stored`]): tags, metadata and the check as JSON text,
//! times as milliseconds.

use crate::clock::Timestamp;
use crate::discovery::model::{Health, HealthCheck, Instance, ServiceSummary};
use crate::error::StoreError;
use crate::stored::{StoredRow, corrupt, decode, decode_optional, encode, namespace, time};

pub fn instance(row: &impl StoredRow) -> Result<Instance, StoreError> {
    let check: HealthCheck = decode(&row.text("check_spec")?, "instance check")?;
    Ok(Instance {
        namespace: namespace(row)?,
        service: row.text("service")?,
        instance_id: row.text("instance_id")?,
        address: row.text("address")?,
        port: u16::try_from(row.int("port")?).map_err(|_| corrupt("instance port"))?,
        tags: decode(&row.text("tags")?, "instance tags")?,
        metadata: decode_optional(row.optional_text("metadata")?, "instance metadata")?,
        check,
        deregister_after_ms: row.optional_int("deregister_after_ms")?,
        health: Health::parse(&row.text("health")?).ok_or_else(|| corrupt("instance health"))?,
        output: row.optional_text("output")?,
        expires_at: time(row, "expires_at")?,
        critical_since: time(row, "critical_since")?,
        next_check_at: time(row, "next_check_at")?,
        checked_by: row.optional_text("checked_by")?,
        registered_at: Timestamp(row.int("registered_at")?),
        updated_at: Timestamp(row.int("updated_at")?),
        modify_index: row.int("modify_index")?,
    })
}

pub fn service_summary(row: &impl StoredRow) -> Result<ServiceSummary, StoreError> {
    let count = |column: &str| -> Result<u64, StoreError> { Ok(u64::try_from(row.int(column)?).unwrap_or(0)) };
    let total = count("total")?;
    let passing = count("passing")?;
    Ok(ServiceSummary {
        namespace: namespace(row)?,
        service: row.text("service")?,
        passing,
        critical: total.saturating_sub(passing),
        total,
        index: row.optional_int("modify_index")?.unwrap_or(0),
    })
}

/// The JSON columns of an instance: tags, metadata, check.
pub fn encode_columns(instance: &Instance) -> Result<(String, Option<String>, String), StoreError> {
    Ok((encode(&instance.tags)?, instance.metadata.as_ref().map(encode).transpose()?, encode(&instance.check)?))
}
