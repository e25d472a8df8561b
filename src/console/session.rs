//! Console sessions (issue 16): a member signs in with their token once; the browser then holds
//! only a session id in an `HttpOnly`, `SameSite=Strict` cookie (script cannot read it, another
//! site cannot send it), and every form carries the session's CSRF token, compared in constant
//! time. Sessions live in memory (a restart signs everyone out, which is the safe side) and end
//! after [`SESSION_TTL`] or at sign-out; a member disabled meanwhile is signed out at their next
//! request, because each request looks the member up again by id.
//!
//! Before sign-in there is no session to hold a CSRF token, so the sign-in form uses a
//! double-submit token: a random value in its own `SameSite=Strict` cookie and in the form.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use rand::RngCore as _;
use sha2::{Digest as _, Sha256};

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "shelfsync_session";
/// The sign-in form's double-submit cookie.
pub const SIGNIN_COOKIE: &str = "shelfsync_signin";
/// How long a session lasts (a working day and a half).
pub const SESSION_TTL: Duration = Duration::from_secs(12 * 60 * 60);
/// The most sessions kept (each sign-in adds one; the oldest go first past this).
pub const MAX_SESSIONS: usize = 10_000;

/// A random token: 32 bytes from the OS, hex.
pub fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Whether two tokens are equal, in time that does not depend on where they differ.
pub fn same_token(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn key_of(id: &str) -> String {
    let digest = Sha256::digest(id.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// One signed-in browser.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// The member's id.
    pub member: String,
    /// The token every form of this session carries.
    pub csrf: String,
    created: Instant,
}

/// The sessions of the console, by the hash of their id (the id itself is only in the cookie).
#[derive(Debug, Default)]
pub struct Sessions {
    by_key: Mutex<HashMap<String, Session>>,
}

impl Sessions {
    /// Starts a session for `member` at `now`; answers its id (for the cookie).
    pub fn start(&self, member: &str, now: Instant) -> (String, Session) {
        let id = random_token();
        let session = Session {
            member: member.to_string(),
            csrf: random_token(),
            created: now,
        };
        let mut sessions = self.by_key.lock().unwrap_or_else(|p| p.into_inner());
        sessions.retain(|_, kept| now.duration_since(kept.created) < SESSION_TTL);
        if sessions.len() >= MAX_SESSIONS {
            if let Some(oldest) = sessions
                .iter()
                .min_by_key(|(_, kept)| kept.created)
                .map(|(key, _)| key.clone())
            {
                sessions.remove(&oldest);
            }
        }
        sessions.insert(key_of(&id), session.clone());
        (id, session)
    }

    /// The live session of `id` at `now`.
    pub fn get(&self, id: &str, now: Instant) -> Option<Session> {
        let key = key_of(id);
        let mut sessions = self.by_key.lock().unwrap_or_else(|p| p.into_inner());
        match sessions.get(&key) {
            Some(session) if now.duration_since(session.created) < SESSION_TTL => {
                Some(session.clone())
            }
            Some(_) => {
                sessions.remove(&key);
                None
            }
            None => None,
        }
    }

    /// Ends the session of `id`.
    pub fn end(&self, id: &str) {
        self.by_key
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&key_of(id));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_session_is_found_by_its_id_until_it_ends_or_expires() {
        let sessions = Sessions::default();
        let now = Instant::now();
        let (id, session) = sessions.start("m1", now);
        assert_eq!(sessions.get(&id, now), Some(session.clone()));
        assert_eq!(sessions.get(&random_token(), now), None, "another id");
        assert_eq!(sessions.get(&id, now + SESSION_TTL), None, "expired");
        let (id, _) = sessions.start("m1", now);
        sessions.end(&id);
        assert_eq!(sessions.get(&id, now), None, "signed out");
    }

    #[test]
    fn tokens_are_random_and_compared_whole() {
        let a = random_token();
        assert_eq!(a.len(), 64);
        assert_ne!(a, random_token());
        assert!(same_token(&a, &a.clone()));
        assert!(!same_token(&a, &a[..63]));
        let mut other = a.clone().into_bytes();
        other[63] = if other[63] == b'0' { b'1' } else { b'0' };
        assert!(!same_token(&a, &String::from_utf8(other).unwrap()));
    }
}
