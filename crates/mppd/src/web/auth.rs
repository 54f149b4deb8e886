//! Accounts, sessions, CSRF tokens and login throttling of the admin web UI.
//!
//! Everything here is synchronous and takes the current time as an argument (a [`Duration`]
//! since an arbitrary epoch, from [`super::Clock`]), so the rules are tested without sleeping.

use std::collections::HashMap;
use std::time::Duration;

use subtle::ConstantTimeEq;

/// Failed logins from one client address before it is locked out.
pub const MAX_FAILURES: u32 = 5;

/// How long a client address stays locked out after [`MAX_FAILURES`] failed logins.
pub const LOCKOUT: Duration = Duration::from_secs(30);

/// The most sessions kept at once; the least recently used one is dropped beyond it.
pub const MAX_SESSIONS: usize = 64;

/// The two web accounts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// `Admin_Password`: sees and edits everything.
    Admin,
    /// `User_Password`: limited by each parameter's `ua`.
    User,
}

impl Role {
    /// `admin` or `user`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Admin => "admin",
            Self::User => "user",
        }
    }
}

/// One logged-in session.
#[derive(Debug, Clone)]
pub struct Session {
    /// The account.
    pub role: Role,
    /// The CSRF token every form of this session carries.
    pub csrf: String,
    /// When it was created.
    pub created: Duration,
    /// When it was last used.
    pub last_seen: Duration,
}

/// Compares a given password with the configured one in constant time (both are hashed
/// first, so neither the content nor the length leaks through timing).
pub fn password_matches(given: &str, expected: &str) -> bool {
    let a = openssl::sha::sha256(given.as_bytes());
    let b = openssl::sha::sha256(expected.as_bytes());
    a[..].ct_eq(&b[..]).into()
}

/// Compares two tokens in constant time.
pub fn token_matches(given: &str, expected: &str) -> bool {
    !expected.is_empty() && password_matches(given, expected)
}

/// A fresh random token: 32 bytes from OpenSSL's CSPRNG, hex-encoded.
pub fn random_token() -> Result<String, openssl::error::ErrorStack> {
    let mut buf = [0u8; 32];
    openssl::rand::rand_bytes(&mut buf)?;
    Ok(buf.iter().map(|b| format!("{b:02x}")).collect())
}

/// The session table.
#[derive(Debug, Default)]
pub struct Sessions {
    map: HashMap<String, Session>,
}

impl Sessions {
    /// Adds a session under a new id.
    pub fn insert(&mut self, id: String, session: Session) {
        if self.map.len() >= MAX_SESSIONS
            && let Some(oldest) = self
                .map
                .iter()
                .min_by_key(|(_, s)| s.last_seen)
                .map(|(k, _)| k.clone())
        {
            self.map.remove(&oldest);
        }
        self.map.insert(id, session);
    }

    /// The session `id` if it is still valid at `now` under the given timeouts; it is touched.
    /// An expired session is removed.
    pub fn touch(
        &mut self,
        id: &str,
        now: Duration,
        max: Duration,
        idle: Duration,
    ) -> Option<Session> {
        let s = self.map.get_mut(id)?;
        if now.saturating_sub(s.created) > max || now.saturating_sub(s.last_seen) > idle {
            self.map.remove(id);
            return None;
        }
        s.last_seen = now;
        Some(s.clone())
    }

    /// Ends a session.
    pub fn remove(&mut self, id: &str) {
        self.map.remove(id);
    }
}

#[derive(Debug, Clone, Copy)]
struct Failures {
    count: u32,
    last: Duration,
}

/// Failed logins per client address.
#[derive(Debug, Default)]
pub struct Throttle {
    map: HashMap<String, Failures>,
}

impl Throttle {
    /// Whether `client` is locked out at `now`.
    pub fn locked(&mut self, client: &str, now: Duration) -> bool {
        self.map
            .retain(|_, f| now.saturating_sub(f.last) <= LOCKOUT);
        self.map
            .get(client)
            .is_some_and(|f| f.count >= MAX_FAILURES)
    }

    /// Records a failed login.
    pub fn failed(&mut self, client: &str, now: Duration) {
        let f = self.map.entry(client.to_owned()).or_insert(Failures {
            count: 0,
            last: now,
        });
        f.count += 1;
        f.last = now;
    }

    /// Forgets the failures of `client` after a successful login.
    pub fn succeeded(&mut self, client: &str) {
        self.map.remove(client);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_and_tokens() {
        assert!(password_matches("", ""));
        assert!(password_matches("s3cret", "s3cret"));
        assert!(!password_matches("s3cret", "s3cre"));
        assert!(!token_matches("", ""));
        let t = random_token().unwrap_or_default();
        assert_eq!(t.len(), 64);
        assert!(token_matches(&t, &t));
    }

    #[test]
    fn throttle_locks_and_expires() {
        let mut t = Throttle::default();
        let s = Duration::from_secs;
        for i in 0..MAX_FAILURES {
            assert!(!t.locked("a", s(u64::from(i))));
            t.failed("a", s(u64::from(i)));
        }
        assert!(t.locked("a", s(10)));
        assert!(!t.locked("b", s(10)));
        assert!(!t.locked("a", s(4) + LOCKOUT + s(1)));
    }

    #[test]
    fn sessions_expire() {
        let mut m = Sessions::default();
        let s = Duration::from_secs;
        let sess = Session {
            role: Role::User,
            csrf: "x".into(),
            created: s(0),
            last_seen: s(0),
        };
        m.insert("id".into(), sess.clone());
        assert!(m.touch("id", s(50), s(100), s(60)).is_some());
        assert!(m.touch("id", s(120), s(100), s(60)).is_none());
        m.insert("id".into(), sess);
        assert!(m.touch("id", s(61), s(100), s(60)).is_none());
    }
}
