//! The error catalogue: every error a client can see has one stable [`ErrorCode`], and each code has one HTTP
//! status and one gRPC status. Transports translate with these tables and nothing else.

use serde_json::{Value, json};

use crate::clock::Timestamp;
use crate::job::JobState;
use crate::lock::Holder;
use crate::saga::SagaState;
use crate::workflow::WorkflowState;

/// A stable, client-visible error code. The string form (`LOCK_HELD`) is part of the public API.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    MalformedJson,
    InvalidBody,
    UnsupportedMediaType,
    InvalidArgument,
    KeyTooLong,
    PayloadTooLarge,
    TtlOutOfRange,
    BodyTooLarge,
    NotFound,
    MethodNotAllowed,
    LockHeld,
    LockWaitTimeout,
    LockNotHeld,
    LockOwnerMismatch,
    LockLeaseBound,
    PermitsMismatch,
    TooManyWaiters,
    LeaseNotFound,
    StaleToken,
    JobNotFound,
    InvalidState,
    DuplicateJob,
    BatchTooLarge,
    StreamNotFound,
    WrongExpectedVersion,
    DuplicateEvent,
    PositionOutOfRange,
    GroupNotFound,
    MemberNotFound,
    GroupSettingsMismatch,
    TooManySubscriptions,
    ClaimHeld,
    ClaimDone,
    ClaimNotHeld,
    NoClaimAvailable,
    LeaderExists,
    CampaignTimeout,
    NotLeader,
    CacheMiss,
    InstanceNotFound,
    InvalidCheck,
    NotTtlInstance,
    SagaNotFound,
    SagaFinished,
    WorkflowNotFound,
    WorkflowFinished,
    WorkflowCancelled,
    WorkflowExists,
    NonDeterministic,
    Unavailable,
    Internal,
}

impl ErrorCode {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::MalformedJson => "MALFORMED_JSON",
            Self::InvalidBody => "INVALID_BODY",
            Self::UnsupportedMediaType => "UNSUPPORTED_MEDIA_TYPE",
            Self::InvalidArgument => "INVALID_ARGUMENT",
            Self::KeyTooLong => "KEY_TOO_LONG",
            Self::PayloadTooLarge => "PAYLOAD_TOO_LARGE",
            Self::TtlOutOfRange => "TTL_OUT_OF_RANGE",
            Self::BodyTooLarge => "BODY_TOO_LARGE",
            Self::NotFound => "NOT_FOUND",
            Self::MethodNotAllowed => "METHOD_NOT_ALLOWED",
            Self::LockHeld => "LOCK_HELD",
            Self::LockWaitTimeout => "LOCK_WAIT_TIMEOUT",
            Self::LockNotHeld => "LOCK_NOT_HELD",
            Self::LockOwnerMismatch => "LOCK_OWNER_MISMATCH",
            Self::LockLeaseBound => "LOCK_LEASE_BOUND",
            Self::PermitsMismatch => "PERMITS_MISMATCH",
            Self::TooManyWaiters => "TOO_MANY_WAITERS",
            Self::LeaseNotFound => "LEASE_NOT_FOUND",
            Self::StaleToken => "STALE_TOKEN",
            Self::JobNotFound => "JOB_NOT_FOUND",
            Self::InvalidState => "INVALID_STATE",
            Self::DuplicateJob => "DUPLICATE_JOB",
            Self::BatchTooLarge => "BATCH_TOO_LARGE",
            Self::StreamNotFound => "STREAM_NOT_FOUND",
            Self::WrongExpectedVersion => "WRONG_EXPECTED_VERSION",
            Self::DuplicateEvent => "DUPLICATE_EVENT",
            Self::PositionOutOfRange => "POSITION_OUT_OF_RANGE",
            Self::GroupNotFound => "GROUP_NOT_FOUND",
            Self::MemberNotFound => "MEMBER_NOT_FOUND",
            Self::GroupSettingsMismatch => "GROUP_SETTINGS_MISMATCH",
            Self::TooManySubscriptions => "TOO_MANY_SUBSCRIPTIONS",
            Self::ClaimHeld => "CLAIM_HELD",
            Self::ClaimDone => "CLAIM_DONE",
            Self::ClaimNotHeld => "CLAIM_NOT_HELD",
            Self::NoClaimAvailable => "NO_CLAIM_AVAILABLE",
            Self::LeaderExists => "LEADER_EXISTS",
            Self::CampaignTimeout => "CAMPAIGN_TIMEOUT",
            Self::NotLeader => "NOT_LEADER",
            Self::CacheMiss => "CACHE_MISS",
            Self::InstanceNotFound => "INSTANCE_NOT_FOUND",
            Self::InvalidCheck => "INVALID_CHECK",
            Self::NotTtlInstance => "NOT_TTL_INSTANCE",
            Self::SagaNotFound => "SAGA_NOT_FOUND",
            Self::SagaFinished => "SAGA_FINISHED",
            Self::WorkflowNotFound => "WORKFLOW_NOT_FOUND",
            Self::WorkflowFinished => "WORKFLOW_FINISHED",
            Self::WorkflowCancelled => "WORKFLOW_CANCELLED",
            Self::WorkflowExists => "WORKFLOW_EXISTS",
            Self::NonDeterministic => "NON_DETERMINISTIC",
            Self::Unavailable => "UNAVAILABLE",
            Self::Internal => "INTERNAL",
        }
    }

    pub fn http_status(self) -> u16 {
        match self {
            Self::MalformedJson => 400,
            Self::InvalidBody
            | Self::InvalidArgument
            | Self::KeyTooLong
            | Self::PayloadTooLarge
            | Self::TtlOutOfRange
            | Self::BatchTooLarge
            | Self::PositionOutOfRange
            | Self::InvalidCheck => 422,
            Self::UnsupportedMediaType => 415,
            Self::BodyTooLarge => 413,
            Self::NotFound
            | Self::LeaseNotFound
            | Self::JobNotFound
            | Self::StreamNotFound
            | Self::GroupNotFound
            | Self::MemberNotFound
            | Self::CacheMiss
            | Self::InstanceNotFound
            | Self::SagaNotFound
            | Self::WorkflowNotFound => 404,
            Self::MethodNotAllowed => 405,
            // A wait that ran out is a conflict like a held lock, not HTTP 408: clients and proxies may resend a
            // request answered with 408, which would queue the caller again.
            Self::LockHeld
            | Self::LockWaitTimeout
            | Self::LockNotHeld
            | Self::LockOwnerMismatch
            | Self::LockLeaseBound
            | Self::PermitsMismatch
            | Self::StaleToken
            | Self::InvalidState
            | Self::DuplicateJob
            | Self::WrongExpectedVersion
            | Self::DuplicateEvent
            | Self::GroupSettingsMismatch
            | Self::ClaimHeld
            | Self::ClaimDone
            | Self::ClaimNotHeld
            | Self::NoClaimAvailable
            | Self::LeaderExists
            | Self::CampaignTimeout
            | Self::NotLeader
            | Self::NotTtlInstance
            | Self::SagaFinished
            | Self::WorkflowFinished
            | Self::WorkflowCancelled
            | Self::WorkflowExists
            | Self::NonDeterministic => 409,
            Self::TooManyWaiters | Self::TooManySubscriptions => 429,
            Self::Unavailable => 503,
            Self::Internal => 500,
        }
    }

    /// The gRPC status code number (as in `google.rpc.Code`), kept here so every transport agrees.
    pub fn grpc_code(self) -> i32 {
        match self {
            Self::MalformedJson
            | Self::InvalidBody
            | Self::UnsupportedMediaType
            | Self::InvalidArgument
            | Self::KeyTooLong
            | Self::PayloadTooLarge
            | Self::TtlOutOfRange
            | Self::InvalidCheck => 3, // INVALID_ARGUMENT
            Self::PositionOutOfRange => 11, // OUT_OF_RANGE
            Self::BodyTooLarge | Self::TooManyWaiters | Self::BatchTooLarge | Self::TooManySubscriptions => 8, // RESOURCE_EXHAUSTED
            Self::NotFound
            | Self::LeaseNotFound
            | Self::JobNotFound
            | Self::StreamNotFound
            | Self::GroupNotFound
            | Self::MemberNotFound
            | Self::CacheMiss
            | Self::InstanceNotFound
            | Self::SagaNotFound
            | Self::WorkflowNotFound => 5, // NOT_FOUND
            Self::MethodNotAllowed => 12, // UNIMPLEMENTED
            Self::LockHeld
            | Self::DuplicateJob
            | Self::DuplicateEvent
            | Self::ClaimHeld
            | Self::LeaderExists
            | Self::WorkflowExists => 6, // ALREADY_EXISTS
            Self::LockWaitTimeout | Self::CampaignTimeout => 4, // DEADLINE_EXCEEDED
            Self::NoClaimAvailable => 8,  // RESOURCE_EXHAUSTED
            Self::LockNotHeld
            | Self::LockOwnerMismatch
            | Self::LockLeaseBound
            | Self::PermitsMismatch
            | Self::StaleToken
            | Self::InvalidState
            | Self::WrongExpectedVersion
            | Self::GroupSettingsMismatch
            | Self::ClaimDone
            | Self::ClaimNotHeld
            | Self::NotLeader
            | Self::NotTtlInstance
            | Self::SagaFinished
            | Self::WorkflowFinished
            | Self::WorkflowCancelled
            | Self::NonDeterministic => 9, // FAILED_PRECONDITION
            Self::Unavailable => 14,
            Self::Internal => 13,
        }
    }
}

/// A failure inside a backend. Its text is for logs only: transports never show it to clients.
#[derive(Clone, Debug, thiserror::Error)]
pub enum StoreError {
    #[error("store unavailable: {0}")]
    Unavailable(String),
    #[error("store failure: {0}")]
    Internal(String),
}

/// A domain error: what went wrong, in terms a client can act on.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{message}")]
    Invalid { code: ErrorCode, message: String },
    #[error("lock '{key}' is held")]
    LockHeld { key: String, holders: Vec<Holder> },
    #[error("gave up waiting for lock '{key}' after {waited_ms} ms")]
    LockWaitTimeout { key: String, waited_ms: u64 },
    #[error("lock '{key}' is not held under lock_id {lock_id}")]
    LockNotHeld { key: String, lock_id: String },
    #[error("lock '{key}' (lock_id {lock_id}) is held by another owner")]
    LockOwnerMismatch { key: String, lock_id: String },
    #[error("lock '{key}' lives as long as lease {lease_id}: keep the lease alive instead")]
    LockLeaseBound { key: String, lease_id: String },
    #[error("lock '{key}' is held with {held_with} permits, not {requested}")]
    PermitsMismatch { key: String, held_with: u32, requested: u32 },
    #[error("lock '{key}' already has {limit} waiters")]
    TooManyWaiters { key: String, limit: u32 },
    #[error("lease {lease_id} does not exist or has expired")]
    LeaseNotFound { lease_id: String },
    #[error("job {job_id} does not exist")]
    JobNotFound { job_id: String },
    #[error("lease token {lease_token} is not the current lease of job {job_id}")]
    StaleToken { job_id: String, lease_token: i64, state: JobState },
    #[error("job {job_id} is {state}: cannot {action} it")]
    InvalidJobState { job_id: String, state: JobState, action: &'static str },
    #[error("a job with unique key '{unique_key}' already exists: {job_id}")]
    DuplicateJob { job_id: String, unique_key: String, state: JobState },
    #[error("stream '{stream}' does not exist")]
    StreamNotFound { stream: String, deleted: bool },
    #[error("stream '{stream}' is at version {actual}, not {expected}")]
    WrongExpectedVersion { stream: String, expected: String, actual: i64 },
    #[error("stream '{stream}' already holds some of these events, but not all of them")]
    DuplicateEvent { stream: String, event_ids: Vec<String> },
    #[error("position {position} is past the log's head ({head})")]
    PositionOutOfRange { position: i64, head: i64 },
    #[error("consumer group '{group}' does not exist")]
    GroupNotFound { group: String },
    #[error("'{member_id}' is not a live member of consumer group '{group}': join again")]
    MemberNotFound { group: String, member_id: String },
    #[error("consumer group '{group}' moved to generation {current}: generation {generation} is stale")]
    StaleGeneration { group: String, generation: i64, current: i64 },
    #[error("consumer group '{group}' exists with other settings: {message}")]
    GroupSettingsMismatch { group: String, message: String },
    #[error("this node already serves {limit} subscriptions")]
    TooManySubscriptions { limit: usize },
    #[error("'{resource}' is claimed by {owner}")]
    ClaimHeld { resource: String, owner: String, expires_at: Timestamp },
    #[error("'{resource}' was done by {owner}: it is never claimed again")]
    ClaimDone { resource: String, owner: String, done_at: Timestamp },
    #[error("'{resource}' is not claimed under claim_id {claim_id} by this owner")]
    ClaimNotHeld { resource: String, claim_id: String },
    #[error("none of the {candidates} candidates is free ({done} done, {held} held)")]
    NoClaimAvailable { candidates: usize, done: usize, held: usize },
    #[error("election '{name}' has a leader: {leader}")]
    LeaderExists { name: String, leader: String, expires_at: Timestamp },
    #[error("gave up campaigning in election '{name}' after {waited_ms} ms")]
    CampaignTimeout { name: String, waited_ms: u64 },
    #[error("this candidate does not lead election '{name}' under leadership_id {leadership_id}")]
    NotLeader { name: String, leadership_id: String },
    #[error("'{key}' is not in the cache")]
    CacheMiss { key: String, fill_token: Option<String>, filling: bool },
    #[error("service '{service}' has no instance '{instance_id}'")]
    InstanceNotFound { service: String, instance_id: String },
    #[error("instance '{instance_id}' of service '{service}' is checked by Baton, not kept alive by heartbeats")]
    NotTtlInstance { service: String, instance_id: String },
    #[error("saga {saga_id} does not exist")]
    SagaNotFound { saga_id: String },
    #[error("saga {saga_id} is already {state}")]
    SagaFinished { saga_id: String, state: SagaState },
    #[error("workflow '{workflow_id}' does not exist")]
    WorkflowNotFound { workflow_id: String },
    #[error("workflow '{workflow_id}' is already {state}")]
    WorkflowFinished { workflow_id: String, state: WorkflowState },
    #[error("workflow '{workflow_id}' was cancelled or ran past its timeout: stop running it")]
    WorkflowCancelled { workflow_id: String },
    #[error("workflow '{workflow_id}' exists already")]
    WorkflowExists { workflow_id: String },
    #[error(
        "workflow '{workflow_id}' is not deterministic: step {index} was recorded as {recorded}, the replay asked for {requested}"
    )]
    NonDeterministic { workflow_id: String, index: usize, recorded: String, requested: String },
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl Error {
    pub fn invalid(code: ErrorCode, message: impl Into<String>) -> Self {
        Self::Invalid { code, message: message.into() }
    }

    pub fn code(&self) -> ErrorCode {
        match self {
            Self::Invalid { code, .. } => *code,
            Self::LockHeld { .. } => ErrorCode::LockHeld,
            Self::LockWaitTimeout { .. } => ErrorCode::LockWaitTimeout,
            Self::LockNotHeld { .. } => ErrorCode::LockNotHeld,
            Self::LockOwnerMismatch { .. } => ErrorCode::LockOwnerMismatch,
            Self::LockLeaseBound { .. } => ErrorCode::LockLeaseBound,
            Self::PermitsMismatch { .. } => ErrorCode::PermitsMismatch,
            Self::TooManyWaiters { .. } => ErrorCode::TooManyWaiters,
            Self::LeaseNotFound { .. } => ErrorCode::LeaseNotFound,
            Self::JobNotFound { .. } => ErrorCode::JobNotFound,
            Self::StaleToken { .. } => ErrorCode::StaleToken,
            Self::InvalidJobState { .. } => ErrorCode::InvalidState,
            Self::DuplicateJob { .. } => ErrorCode::DuplicateJob,
            Self::StreamNotFound { .. } => ErrorCode::StreamNotFound,
            Self::WrongExpectedVersion { .. } => ErrorCode::WrongExpectedVersion,
            Self::DuplicateEvent { .. } => ErrorCode::DuplicateEvent,
            Self::PositionOutOfRange { .. } => ErrorCode::PositionOutOfRange,
            Self::GroupNotFound { .. } => ErrorCode::GroupNotFound,
            Self::MemberNotFound { .. } => ErrorCode::MemberNotFound,
            Self::StaleGeneration { .. } => ErrorCode::StaleToken,
            Self::GroupSettingsMismatch { .. } => ErrorCode::GroupSettingsMismatch,
            Self::TooManySubscriptions { .. } => ErrorCode::TooManySubscriptions,
            Self::ClaimHeld { .. } => ErrorCode::ClaimHeld,
            Self::ClaimDone { .. } => ErrorCode::ClaimDone,
            Self::ClaimNotHeld { .. } => ErrorCode::ClaimNotHeld,
            Self::NoClaimAvailable { .. } => ErrorCode::NoClaimAvailable,
            Self::LeaderExists { .. } => ErrorCode::LeaderExists,
            Self::CampaignTimeout { .. } => ErrorCode::CampaignTimeout,
            Self::NotLeader { .. } => ErrorCode::NotLeader,
            Self::CacheMiss { .. } => ErrorCode::CacheMiss,
            Self::InstanceNotFound { .. } => ErrorCode::InstanceNotFound,
            Self::NotTtlInstance { .. } => ErrorCode::NotTtlInstance,
            Self::SagaNotFound { .. } => ErrorCode::SagaNotFound,
            Self::SagaFinished { .. } => ErrorCode::SagaFinished,
            Self::WorkflowNotFound { .. } => ErrorCode::WorkflowNotFound,
            Self::WorkflowFinished { .. } => ErrorCode::WorkflowFinished,
            Self::WorkflowCancelled { .. } => ErrorCode::WorkflowCancelled,
            Self::WorkflowExists { .. } => ErrorCode::WorkflowExists,
            Self::NonDeterministic { .. } => ErrorCode::NonDeterministic,
            Self::Store(StoreError::Unavailable(_)) => ErrorCode::Unavailable,
            Self::Store(StoreError::Internal(_)) => ErrorCode::Internal,
        }
    }

    /// The message a client may see. Store failures are reduced to a generic sentence, since their text can
    /// hold SQL or file paths.
    pub fn public_message(&self) -> String {
        match self {
            Self::Store(StoreError::Unavailable(_)) => "the store is not reachable right now".into(),
            Self::Store(StoreError::Internal(_)) => "internal error".into(),
            other => other.to_string(),
        }
    }

    /// Structured facts a client can act on, such as who holds a lock.
    pub fn details(&self) -> Value {
        match self {
            Self::LockHeld { key, holders } => json!({
                "key": key,
                "holders": holders,
                "owner": holders.first().map(|h| h.owner.clone()),
                "expires_at": holders.first().map(|h| h.expires_at),
            }),
            Self::LockWaitTimeout { key, waited_ms } => json!({"key": key, "waited_ms": waited_ms}),
            Self::LockNotHeld { key, lock_id } | Self::LockOwnerMismatch { key, lock_id } => {
                json!({"key": key, "lock_id": lock_id})
            }
            Self::LockLeaseBound { key, lease_id } => json!({"key": key, "lease_id": lease_id}),
            Self::PermitsMismatch { key, held_with, requested } => {
                json!({"key": key, "held_with": held_with, "requested": requested})
            }
            Self::TooManyWaiters { key, limit } => json!({"key": key, "limit": limit}),
            Self::LeaseNotFound { lease_id } => json!({"lease_id": lease_id}),
            Self::JobNotFound { job_id } => json!({"job_id": job_id}),
            Self::StaleToken { job_id, lease_token, state } => {
                json!({"job_id": job_id, "lease_token": lease_token, "state": state})
            }
            Self::InvalidJobState { job_id, state, action } => {
                json!({"job_id": job_id, "state": state, "action": action})
            }
            Self::DuplicateJob { job_id, unique_key, state } => {
                json!({"job_id": job_id, "unique_key": unique_key, "state": state})
            }
            Self::StreamNotFound { stream, deleted } => json!({"stream": stream, "deleted": deleted}),
            Self::WrongExpectedVersion { stream, expected, actual } => {
                json!({"stream": stream, "expected_version": expected, "actual_version": actual})
            }
            Self::DuplicateEvent { stream, event_ids } => json!({"stream": stream, "event_ids": event_ids}),
            Self::PositionOutOfRange { position, head } => json!({"position": position, "head": head}),
            Self::GroupNotFound { group } => json!({"group": group}),
            Self::MemberNotFound { group, member_id } => json!({"group": group, "member_id": member_id}),
            Self::StaleGeneration { group, generation, current } => {
                json!({"group": group, "generation": generation, "current_generation": current})
            }
            Self::GroupSettingsMismatch { group, message } => json!({"group": group, "reason": message}),
            Self::TooManySubscriptions { limit } => json!({"limit": limit}),
            Self::ClaimHeld { resource, owner, expires_at } => {
                json!({"resource": resource, "owner": owner, "expires_at": expires_at})
            }
            Self::ClaimDone { resource, owner, done_at } => {
                json!({"resource": resource, "owner": owner, "done_at": done_at})
            }
            Self::ClaimNotHeld { resource, claim_id } => json!({"resource": resource, "claim_id": claim_id}),
            Self::NoClaimAvailable { candidates, done, held } => {
                json!({"candidates": candidates, "done": done, "held": held})
            }
            Self::LeaderExists { name, leader, expires_at } => {
                json!({"name": name, "leader": leader, "expires_at": expires_at})
            }
            Self::CampaignTimeout { name, waited_ms } => json!({"name": name, "waited_ms": waited_ms}),
            Self::NotLeader { name, leadership_id } => json!({"name": name, "leadership_id": leadership_id}),
            Self::CacheMiss { key, fill_token, filling } => {
                json!({"key": key, "fill_token": fill_token, "filling": filling})
            }
            Self::InstanceNotFound { service, instance_id } | Self::NotTtlInstance { service, instance_id } => {
                json!({"service": service, "instance_id": instance_id})
            }
            Self::SagaNotFound { saga_id } => json!({"saga_id": saga_id}),
            Self::SagaFinished { saga_id, state } => json!({"saga_id": saga_id, "state": state}),
            Self::WorkflowNotFound { workflow_id }
            | Self::WorkflowCancelled { workflow_id }
            | Self::WorkflowExists { workflow_id } => json!({"workflow_id": workflow_id}),
            Self::WorkflowFinished { workflow_id, state } => json!({"workflow_id": workflow_id, "state": state}),
            Self::NonDeterministic { workflow_id, index, recorded, requested } => {
                json!({"workflow_id": workflow_id, "index": index, "recorded": recorded, "requested": requested})
            }
            Self::Invalid { .. } | Self::Store(_) => json!({}),
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
