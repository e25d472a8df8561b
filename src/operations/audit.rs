//! The audit log (issue 15): every write a person makes through the API, with who (member id and
//! name, and which token: the first 8 hex digits of its hash, enough to tell a rotated token from
//! the one before, useless to anyone holding the log), what (the operation), on what, when, and
//! the value before and after. Kept per client, plus one agency-wide log for writes that belong
//! to no client (members). Members are disabled, never deleted (`crate::auth`), so the trail
//! keeps resolving to a person.
//!
//! **Never a secret**: a credential's entry holds its metadata (name, hosts, rotate-by), not the
//! secret; an escalation's holds the rules, not the endpoint or signing secret (sealed apart).
//! The handlers build the before/after values from the API's own views, which never carry one.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// One write.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AuditEntry {
    /// Its number in the log (ascending).
    pub seq: u64,
    /// When.
    #[serde(serialize_with = "crate::timestamp::serialize")]
    pub at: DateTime<Utc>,
    /// The member's id.
    pub member: String,
    /// The member's name when it wrote.
    pub member_name: String,
    /// Which token: the first 8 hex digits of its SHA-256.
    pub token: String,
    /// The client, for a client's write.
    pub client: Option<String>,
    /// The operation (`post_movement`, `transition_exception`, …).
    pub action: String,
    /// What it changed (`stock/ACME-MUG`, `exception/7`, `member/m3`).
    pub target: String,
    /// The value before (`null` for a creation).
    #[schema(value_type = Option<Object>)]
    pub before: Option<serde_json::Value>,
    /// The value after (`null` for a removal).
    #[schema(value_type = Option<Object>)]
    pub after: Option<serde_json::Value>,
}
