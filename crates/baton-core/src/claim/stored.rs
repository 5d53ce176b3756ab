//! Done claims as both backends store them (see [`crate::stored`]).

use crate::claim::model::{Claim, ClaimState};
use crate::clock::Timestamp;
use crate::error::StoreError;
use crate::lock::{FencingToken, LockId};
use crate::stored::{StoredRow, corrupt, decode_optional, namespace};

pub fn done_claim(row: &impl StoredRow) -> Result<Claim, StoreError> {
    Ok(Claim {
        namespace: namespace(row)?,
        resource: row.text("resource")?,
        claim_id: LockId::parse(&row.text("claim_id")?).ok_or_else(|| corrupt("claim id"))?,
        owner: row.text("owner")?,
        fencing_token: FencingToken(row.int("fencing_token")?),
        acquired_at: Timestamp(row.int("acquired_at")?),
        expires_at: None,
        done_at: Some(Timestamp(row.int("done_at")?)),
        metadata: decode_optional(row.optional_text("metadata")?, "claim metadata")?,
        state: ClaimState::Done,
    })
}
