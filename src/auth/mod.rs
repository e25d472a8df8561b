//! Members, their bearer tokens and what each may do (DESIGN §6, issue 5 "Auth"). Tokens are 256
//! random bits shown once at creation; only their SHA-256 is kept, so a copy of the data
//! directory yields no usable token. (A slow password hash buys nothing for 256-bit random
//! tokens: there is nothing to guess, and every request must hash its token.) Roles: `admin` sees
//! and does everything; `manager` reads and writes the clients it lists; `viewer` only reads them.
//! A client outside a member's list does not exist for that member: a 404, never a 403, so that
//! client codes do not leak across the agency's teams.
//!
//! **Who may create clients** (issue 12): admins, and managers an admin granted it
//! (`may_create_clients`); any other manager or viewer gets 403 before its body is read. Client
//! codes are one namespace for the whole agency, so a taken code must be refused; an admin is told
//! it exists (409 `conflict`: it sees everything), a granted manager gets 409 `code_unavailable`
//! with no detail about the other client when it may not see that client. That answer still
//! tells it "some client has this code", which it needs in order to choose another one; it tells
//! nothing else (not the name, tier, team or channels), the same status and text come back for
//! any code it cannot take, and only members an admin trusted with creating clients can ask.
//!
//! **A member's scope names existing clients only**: `POST /v1/members` refuses an unknown code
//! (400 `unknown_client`, nothing stored), so a scope cannot wait for a client that some other
//! team creates later under that code. Clients are never deleted today, so a scope cannot outlive
//! its client; when deletion comes, it must remove the code from every member's scope in the same
//! write, or a new client given the freed code would be visible to the old client's team.

pub mod store;

use std::collections::BTreeSet;

use base64::Engine as _;
use chrono::{DateTime, Utc};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::vault::Secret;

/// The prefix of every token, so that a leaked one is recognisable (secret scanners, logs).
pub const TOKEN_PREFIX: &str = "ssk_";

/// What a member may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Everything, every client, members included.
    Admin,
    /// Reads and writes its listed clients.
    Manager,
    /// Reads its listed clients.
    Viewer,
}

/// The SHA-256 of a token, hex: what is stored.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct TokenHash(String);

impl TokenHash {
    /// The hash of `token`.
    pub fn of(token: &str) -> TokenHash {
        let digest = Sha256::digest(token.as_bytes());
        TokenHash(digest.iter().map(|byte| format!("{byte:02x}")).collect())
    }

    /// The hex text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A fresh token and its hash.
pub fn new_token() -> (Secret, TokenHash) {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    let token = format!(
        "{TOKEN_PREFIX}{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    );
    let hash = TokenHash::of(&token);
    (Secret::new(token), hash)
}

/// A member of the agency's team.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Member {
    /// Its id (`m1`, `m2`, ...).
    pub id: String,
    /// Its name.
    pub name: String,
    /// What it may do.
    pub role: Role,
    /// The clients it may see (ignored for admins, who see all).
    pub clients: BTreeSet<String>,
    /// Whether a manager may create clients (admins always may, viewers never). Members stored
    /// before this existed decode without it: not granted.
    #[serde(default)]
    pub may_create_clients: bool,
    /// Its token's hash.
    pub token_hash: TokenHash,
    /// When it was created.
    #[serde(serialize_with = "crate::timestamp::serialize")]
    pub created_at: DateTime<Utc>,
    /// When it was disabled (`DELETE /v1/members/{id}`): its token stopped working then, and its
    /// record stays so that the audit trail and exception trails keep naming it. Members stored
    /// before this existed decode as active.
    #[serde(default, serialize_with = "crate::timestamp::serialize_option")]
    pub disabled_at: Option<DateTime<Utc>>,
}

/// What a request wants to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Read a client's data.
    Read,
    /// Change a client's data.
    Write,
    /// Manage members.
    Administer,
    /// Create a client (admins, and managers granted `may_create_clients`).
    CreateClient,
}

/// Why a member may not do something.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Denied {
    /// The client is outside the member's list: it does not exist for this member (404).
    #[error("no client {client:?}")]
    UnknownClient {
        /// The client code asked for.
        client: String,
    },
    /// The member may see the client but not do this (403).
    #[error("a {role:?} may not do this")]
    Forbidden {
        /// The member's role.
        role: Role,
    },
}

impl Denied {
    /// The stable code of the refusal.
    pub fn kind(&self) -> &'static str {
        match self {
            Denied::UnknownClient { .. } => "not_found",
            Denied::Forbidden { .. } => "forbidden",
        }
    }
}

impl Member {
    /// Whether the member is active (not disabled).
    pub fn active(&self) -> bool {
        self.disabled_at.is_none()
    }

    /// Whether the member can take work on `client` (an exception's assignee, an account
    /// manager): active, allowed to write, and seeing it.
    pub fn may_work_on(&self, client: &str) -> bool {
        self.active() && self.role != Role::Viewer && self.sees(client)
    }

    /// Whether the member may see `client` at all.
    pub fn sees(&self, client: &str) -> bool {
        self.role == Role::Admin || self.clients.contains(client)
    }

    /// Decides `action` on `client` (none for agency-wide actions). Visibility is checked first, so
    /// a client outside the list is unknown whatever the action.
    pub fn authorize(&self, action: Action, client: Option<&str>) -> Result<(), Denied> {
        if let Some(client) = client {
            if !self.sees(client) {
                return Err(Denied::UnknownClient {
                    client: client.to_string(),
                });
            }
        }
        let allowed = match (self.role, action) {
            (Role::Admin, _)
            | (Role::Manager, Action::Read | Action::Write)
            | (Role::Viewer, Action::Read) => true,
            (Role::Manager, Action::CreateClient) => self.may_create_clients,
            _ => false,
        };
        if allowed {
            Ok(())
        } else {
            Err(Denied::Forbidden { role: self.role })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn member(role: Role, clients: &[&str]) -> Member {
        Member {
            id: "m1".into(),
            name: "n".into(),
            role,
            clients: clients.iter().map(|c| c.to_string()).collect(),
            may_create_clients: false,
            token_hash: TokenHash::of("x"),
            created_at: DateTime::UNIX_EPOCH,
            disabled_at: None,
        }
    }

    #[test]
    fn tokens_are_random_prefixed_and_only_their_hash_is_kept() {
        let (a, hash_a) = new_token();
        let (b, _) = new_token();
        assert_ne!(a, b);
        assert!(
            a.expose().starts_with(TOKEN_PREFIX) && a.expose().len() == TOKEN_PREFIX.len() + 43
        );
        assert_eq!(TokenHash::of(a.expose()), hash_a);
        assert_eq!(hash_a.as_str().len(), 64);
        assert!(!hash_a.as_str().contains(&a.expose()[TOKEN_PREFIX.len()..]));
    }

    #[test]
    fn roles_and_scopes() {
        let admin = member(Role::Admin, &[]);
        let manager = member(Role::Manager, &["ACME"]);
        let viewer = member(Role::Viewer, &["ACME"]);
        assert!(admin.authorize(Action::Write, Some("BOLT")).is_ok());
        assert!(admin.authorize(Action::Administer, None).is_ok());
        assert!(manager.authorize(Action::Write, Some("ACME")).is_ok());
        assert_eq!(
            manager
                .authorize(Action::Read, Some("BOLT"))
                .unwrap_err()
                .kind(),
            "not_found"
        );
        assert_eq!(
            manager
                .authorize(Action::Administer, None)
                .unwrap_err()
                .kind(),
            "forbidden"
        );
        assert!(viewer.authorize(Action::Read, Some("ACME")).is_ok());
        assert_eq!(
            viewer
                .authorize(Action::Write, Some("ACME"))
                .unwrap_err()
                .kind(),
            "forbidden"
        );
        assert_eq!(
            viewer
                .authorize(Action::Write, Some("BOLT"))
                .unwrap_err()
                .kind(),
            "not_found",
            "an unseen client is unknown before anything else"
        );
    }

    #[test]
    fn only_admins_and_granted_managers_create_clients() {
        let mut manager = member(Role::Manager, &["ACME"]);
        assert_eq!(
            manager
                .authorize(Action::CreateClient, None)
                .unwrap_err()
                .kind(),
            "forbidden"
        );
        manager.may_create_clients = true;
        assert!(manager.authorize(Action::CreateClient, None).is_ok());
        assert_eq!(
            manager
                .authorize(Action::Administer, None)
                .unwrap_err()
                .kind(),
            "forbidden",
            "the grant is for creating clients, nothing else"
        );
        let mut viewer = member(Role::Viewer, &["ACME"]);
        viewer.may_create_clients = true;
        assert!(viewer.authorize(Action::CreateClient, None).is_err());
        assert!(member(Role::Admin, &[])
            .authorize(Action::CreateClient, None)
            .is_ok());
        let stored_before: Member = serde_json::from_value(serde_json::json!({
            "id": "m2", "name": "n", "role": "manager", "clients": ["ACME"],
            "token_hash": "00", "created_at": "2026-11-21T00:00:00.000Z"
        }))
        .unwrap();
        assert!(
            !stored_before.may_create_clients,
            "a member stored before the grant existed is not granted"
        );
    }
}
