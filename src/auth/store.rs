//! Members kept in the service's sled database, in their own tree: `m/{id}` → the member (JSON),
//! `t/{token hash}` → its id, `next` → the next id number. A member and its token index are written
//! in one transaction and made durable (flushed and fdatasync'd by `storage::DbFlusher`) before the
//! call returns, so a token handed out works after a
//! crash and a revoked one never works again.

use chrono::{DateTime, Utc};
use shelfsync_actors::storage::DbFlusher;
use sled::transaction::{ConflictableTransactionError, TransactionError};

use super::{Member, TokenHash};

/// The tree's name.
pub const MEMBERS_TREE: &str = "members";

/// Errors of the member store.
#[derive(Debug, thiserror::Error)]
pub enum MemberStoreError {
    /// sled failed.
    #[error("the member store failed: {0}")]
    Storage(#[from] sled::Error),
    /// A stored member does not decode.
    #[error("member record {key} is damaged: {source}")]
    Corrupt {
        /// Its key.
        key: String,
        /// Why.
        source: serde_json::Error,
    },
    /// No member has the id.
    #[error("no member {id:?}")]
    UnknownMember {
        /// The id.
        id: String,
    },
}

impl MemberStoreError {
    /// The stable code of the error.
    pub fn kind(&self) -> &'static str {
        match self {
            MemberStoreError::Storage(_) => "storage",
            MemberStoreError::Corrupt { .. } => "corrupt",
            MemberStoreError::UnknownMember { .. } => "not_found",
        }
    }
}

/// The members of the agency.
#[derive(Debug, Clone)]
pub struct MemberStore {
    tree: sled::Tree,
    /// The database's flusher: a write is acknowledged once flushed and fdatasync'd.
    flusher: DbFlusher,
}

impl MemberStore {
    /// The store in `db`.
    pub fn open(db: &sled::Db) -> Result<MemberStore, MemberStoreError> {
        Ok(MemberStore {
            tree: db.open_tree(MEMBERS_TREE)?,
            flusher: DbFlusher::new(db),
        })
    }

    /// Adds a member; `build` receives its new id. Durable when it returns.
    pub fn add(&self, build: impl Fn(String) -> Member) -> Result<Member, MemberStoreError> {
        let result = self.tree.transaction(|tx| {
            let next = tx
                .get(b"next")?
                .map(|bytes| u64::from_be_bytes(bytes.as_ref().try_into().unwrap_or([0; 8])))
                .unwrap_or(1);
            let member = build(format!("m{next}"));
            let json = serde_json::to_vec(&member).map_err(ConflictableTransactionError::Abort)?;
            tx.insert(
                b"next".as_slice(),
                next.saturating_add(1).to_be_bytes().as_slice(),
            )?;
            tx.insert(format!("m/{}", member.id).as_bytes(), json)?;
            tx.insert(
                format!("t/{}", member.token_hash.as_str()).as_bytes(),
                member.id.as_bytes(),
            )?;
            Ok(member)
        });
        let member = result.map_err(|error| match error {
            TransactionError::Abort(source) => MemberStoreError::Corrupt {
                key: "new member".into(),
                source,
            },
            TransactionError::Storage(error) => MemberStoreError::Storage(error),
        })?;
        self.flusher.flush_blocking().map_err(sled::Error::from)?;
        Ok(member)
    }

    /// The member whose token hashes to `hash`.
    pub fn by_token(&self, hash: &TokenHash) -> Result<Option<Member>, MemberStoreError> {
        match self.tree.get(format!("t/{}", hash.as_str()))? {
            // The token mapping goes with the disabling; checking again costs nothing.
            Some(id) => Ok(self
                .get(&String::from_utf8_lossy(&id))?
                .filter(Member::active)),
            None => Ok(None),
        }
    }

    /// The member with `id`.
    pub fn get(&self, id: &str) -> Result<Option<Member>, MemberStoreError> {
        let key = format!("m/{id}");
        match self.tree.get(&key)? {
            Some(bytes) => serde_json::from_slice(&bytes)
                .map(Some)
                .map_err(|source| MemberStoreError::Corrupt { key, source }),
            None => Ok(None),
        }
    }

    /// Every member, by id.
    pub fn list(&self) -> Result<Vec<Member>, MemberStoreError> {
        self.tree
            .scan_prefix(b"m/")
            .map(|entry| {
                let (key, bytes) = entry?;
                serde_json::from_slice(&bytes).map_err(|source| MemberStoreError::Corrupt {
                    key: String::from_utf8_lossy(&key).into_owned(),
                    source,
                })
            })
            .collect()
    }

    /// Makes sure the agency has a first admin: when there is no member at all, adds `admin` with
    /// `preset` as its token (`SHELFSYNC_ADMIN_TOKEN`) or a generated one. Returns the generated
    /// token, the one time it exists in clear, for the caller to print once.
    pub fn ensure_admin(
        &self,
        preset: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<Option<crate::vault::Secret>, MemberStoreError> {
        if self.tree.scan_prefix(b"m/").next().is_some() {
            return Ok(None);
        }
        let (token, generated) = match preset {
            Some(token) => (crate::vault::Secret::new(token), false),
            None => (super::new_token().0, true),
        };
        let hash = super::TokenHash::of(token.expose());
        self.add(|id| Member {
            id,
            name: "admin".into(),
            role: super::Role::Admin,
            clients: Default::default(),
            may_create_clients: true,
            token_hash: hash.clone(),
            created_at: now,
            disabled_at: None,
        })?;
        Ok(generated.then_some(token))
    }

    /// Adds `client` to the clients member `id` may see (a manager that creates a client manages
    /// it). Durable when it returns.
    pub fn grant(&self, id: &str, client: &str) -> Result<Member, MemberStoreError> {
        let key = format!("m/{id}");
        let updated = self.tree.update_and_fetch(key.as_bytes(), |old| {
            let mut member: Member = serde_json::from_slice(old?).ok()?;
            member.clients.insert(client.to_string());
            serde_json::to_vec(&member).ok()
        })?;
        let bytes =
            updated.ok_or_else(|| MemberStoreError::UnknownMember { id: id.to_string() })?;
        self.flusher.flush_blocking().map_err(sled::Error::from)?;
        serde_json::from_slice(&bytes).map_err(|source| MemberStoreError::Corrupt { key, source })
    }

    /// Disables a member, durably: its token stops working when this returns; its record stays
    /// (with `disabled_at`) so that every trail that names it still resolves to a person
    /// (`reference/agency-operations.md`: "disable rather than delete to keep the audit trail").
    /// Disabling a disabled member changes nothing and answers it as it is.
    pub fn disable(&self, id: &str, now: DateTime<Utc>) -> Result<Member, MemberStoreError> {
        let key = format!("m/{id}");
        let result = self.tree.transaction(|tx| {
            let Some(bytes) = tx.get(key.as_bytes())? else {
                return Err(ConflictableTransactionError::Abort(None));
            };
            let mut member: Member = serde_json::from_slice(&bytes)
                .map_err(|source| ConflictableTransactionError::Abort(Some(source)))?;
            if member.disabled_at.is_none() {
                member.disabled_at = Some(now);
                let json = serde_json::to_vec(&member)
                    .map_err(|source| ConflictableTransactionError::Abort(Some(source)))?;
                tx.insert(key.as_bytes(), json)?;
            }
            tx.remove(format!("t/{}", member.token_hash.as_str()).as_bytes())?;
            Ok(member)
        });
        let member = result.map_err(|error| match error {
            TransactionError::Storage(error) => MemberStoreError::Storage(error),
            TransactionError::Abort(None) => MemberStoreError::UnknownMember { id: id.to_string() },
            TransactionError::Abort(Some(source)) => MemberStoreError::Corrupt {
                key: key.clone(),
                source,
            },
        })?;
        self.flusher.flush_blocking().map_err(sled::Error::from)?;
        Ok(member)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::{new_token, Role};

    fn member(token_hash: TokenHash, role: Role) -> impl Fn(String) -> Member {
        move |id| Member {
            id,
            name: "Dana".into(),
            role,
            clients: ["ACME".to_string()].into(),
            may_create_clients: false,
            token_hash: token_hash.clone(),
            created_at: "2026-11-21T00:00:00Z".parse().unwrap(),
            disabled_at: None,
        }
    }

    #[test]
    fn a_member_is_found_by_its_token_until_removed_and_survives_a_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let (token, hash) = new_token();
        {
            let db = sled::open(dir.path()).unwrap();
            let store = MemberStore::open(&db).unwrap();
            let added = store.add(member(hash.clone(), Role::Manager)).unwrap();
            assert_eq!(added.id, "m1");
            let (_, other) = new_token();
            assert_eq!(store.add(member(other, Role::Viewer)).unwrap().id, "m2");
        }
        let db = sled::open(dir.path()).unwrap();
        let store = MemberStore::open(&db).unwrap();
        let found = store
            .by_token(&TokenHash::of(token.expose()))
            .unwrap()
            .unwrap();
        assert_eq!((found.id.as_str(), found.role), ("m1", Role::Manager));
        assert_eq!(store.list().unwrap().len(), 2);
        let disabled = store.disable("m1", DateTime::UNIX_EPOCH).unwrap();
        assert_eq!(disabled.disabled_at, Some(DateTime::UNIX_EPOCH));
        assert!(
            store.by_token(&hash).unwrap().is_none(),
            "a disabled member's token stops working"
        );
        let kept = store.get("m1").unwrap().unwrap();
        assert_eq!((kept.name.as_str(), kept.active()), ("Dana", false));
        assert_eq!(store.list().unwrap().len(), 2, "disabled, not deleted");
        assert_eq!(
            store
                .disable("m1", "2027-01-01T00:00:00Z".parse().unwrap())
                .unwrap(),
            disabled,
            "disabling twice changes nothing"
        );
        assert_eq!(
            store
                .disable("m9", DateTime::UNIX_EPOCH)
                .unwrap_err()
                .kind(),
            "not_found"
        );
        assert!(
            store
                .ensure_admin(None, DateTime::UNIX_EPOCH)
                .unwrap()
                .is_none(),
            "members exist: no admin is added"
        );
        let (_, third) = new_token();
        assert_eq!(
            store.add(member(third, Role::Viewer)).unwrap().id,
            "m3",
            "ids are not reused"
        );
    }
}

#[cfg(test)]
mod admin_tests {
    use super::*;
    use crate::auth::Role;

    #[test]
    fn the_first_admin_comes_from_the_preset_or_is_generated_once() {
        let at: DateTime<Utc> = "2026-12-03T06:00:00.123Z".parse().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let db = sled::open(dir.path()).unwrap();
        let store = MemberStore::open(&db).unwrap();
        assert!(store
            .ensure_admin(Some("ssk_preset-token-of-the-operator"), at)
            .unwrap()
            .is_none());
        let admin = store
            .by_token(&TokenHash::of("ssk_preset-token-of-the-operator"))
            .unwrap()
            .unwrap();
        assert_eq!(admin.role, Role::Admin);
        assert_eq!(admin.created_at, at, "created at the time the caller read");
        assert!(
            store
                .ensure_admin(None, DateTime::UNIX_EPOCH)
                .unwrap()
                .is_none(),
            "only on an empty store"
        );

        let dir = tempfile::tempdir().unwrap();
        let db = sled::open(dir.path()).unwrap();
        let store = MemberStore::open(&db).unwrap();
        let generated = store
            .ensure_admin(None, DateTime::UNIX_EPOCH)
            .unwrap()
            .expect("a generated token is returned");
        assert!(store
            .by_token(&TokenHash::of(generated.expose()))
            .unwrap()
            .is_some());
    }
}
