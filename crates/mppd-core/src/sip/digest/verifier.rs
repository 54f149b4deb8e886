//! The server side: the phone's own challenges (`Auth_INVITE_n_`, `Auth_Resync-Reboot_n_`) and
//! the check of the retried request.
//!
//! The verifier is stateless per request: its nonce carries its issue time and a random salt,
//! authenticated by an HMAC-SHA-256 (truncated to 128 bits) under a per-process secret over the
//! time, the salt and a caller-chosen *binding* (for Auth INVITE: the Call-ID and From tag, which
//! the retried INVITE keeps, so a nonce answers only its own dialog). The nonce expires after
//! [`VerifierConfig::nonce_lifetime`]; a right answer with an expired nonce gives
//! [`Verdict::Stale`] (re-challenge with `stale=true`). The response is compared in constant
//! time. Replays of a whole retried request inside the lifetime are not detected here (no `nc`
//! state): the binding limits them to the same dialog, where the transaction layer absorbs them.

use std::fmt;
use std::time::{Duration, Instant};

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

use super::parse::{Params, ParseError, parse_digest_params, write_quoted};
use super::{
    Algorithm, Credentials, DigestPolicy, Qop, RequestTarget, ResponseInput, compute_response, hex,
};
use crate::sip::Rng;

/// How long a nonce of the phone stays fresh by default: the 32 s an unanswered INVITE
/// transaction lives (64×T1 with T1 = 500 ms), rounded down to 30 s.
pub const DEFAULT_NONCE_LIFETIME: Duration = Duration::from_secs(30);

/// Domain separation for the nonce MAC.
const NONCE_LABEL: &[u8] = b"mppd digest nonce v1\0";

/// Bytes of the nonce: 8 of time, 8 of salt, 16 of MAC.
const NONCE_BYTES: usize = 32;

/// What the verifier of one line offers and accepts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifierConfig {
    /// The realm of the phone's challenges.
    pub realm: String,
    /// The algorithms offered (in [`DigestPolicy::offered`] order) and accepted.
    pub policy: DigestPolicy,
    /// How long a nonce stays fresh.
    pub nonce_lifetime: Duration,
}

impl VerifierConfig {
    /// A config with the default nonce lifetime ([`DEFAULT_NONCE_LIFETIME`]).
    pub fn new(realm: impl Into<String>, policy: DigestPolicy) -> Self {
        Self {
            realm: realm.into(),
            policy,
            nonce_lifetime: DEFAULT_NONCE_LIFETIME,
        }
    }
}

/// What the verifier accepted: the nonce and the algorithm of the credentials it checked, as
/// parsed (quoted strings unescaped). Callers that refuse replays key on this nonce, never on
/// their own reading of the header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    /// The nonce of the verified credentials.
    pub nonce: String,
    /// Their algorithm.
    pub algorithm: Algorithm,
}

/// The outcome of checking a request against the phone's challenge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// The credentials are right and the nonce fresh: accept (ring).
    Ok(Verified),
    /// The credentials are right but the nonce expired: re-challenge with `stale=true`.
    Stale,
    /// Credentials for our realm are present but wrong: refuse, never ring.
    Wrong(WrongReason),
    /// No credentials for our realm: challenge (401).
    Missing,
}

/// Why credentials were refused.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum WrongReason {
    /// A credentials header could not be read (and none for our realm could).
    Malformed(ParseError),
    /// A user name other than the line's.
    UnknownUser(String),
    /// An algorithm the phone did not offer.
    AlgorithmNotOffered(String),
    /// A nonce the phone did not issue (or issued for another dialog).
    ForeignNonce,
    /// The `uri` parameter is not the Request-URI.
    UriMismatch,
    /// `qop` is not `auth`, or `nc`/`cnonce` is missing.
    BadQop,
    /// `nc` is not 8 hex digits.
    BadNc(String),
    /// The response does not match.
    ResponseMismatch,
}

impl fmt::Display for WrongReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Malformed(e) => write!(f, "malformed credentials: {e}"),
            Self::UnknownUser(u) => write!(f, "unknown user {u:?}"),
            Self::AlgorithmNotOffered(a) => write!(f, "algorithm {a:?} was not offered"),
            Self::ForeignNonce => f.write_str("nonce not issued by this phone for this dialog"),
            Self::UriMismatch => f.write_str("uri parameter differs from the Request-URI"),
            Self::BadQop => f.write_str("qop=auth with nc and cnonce required"),
            Self::BadNc(v) => write!(f, "invalid nc {v:?}"),
            Self::ResponseMismatch => f.write_str("wrong response (password or request differ)"),
        }
    }
}

/// Issues the phone's challenges and checks the answers. One per process (or per line);
/// build it once with a secret from the OS random source.
pub struct Verifier {
    config: VerifierConfig,
    key: [u8; 64],
    epoch: Instant,
}

impl fmt::Debug for Verifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Verifier")
            .field("config", &self.config)
            .field("key", &"<secret>")
            .finish_non_exhaustive()
    }
}

impl Verifier {
    /// A verifier whose secret is drawn from `rng` (which must be a cryptographic source in the
    /// shell); `epoch` is any instant not after the first challenge (e.g. process start).
    pub fn new(config: VerifierConfig, epoch: Instant, rng: &mut dyn Rng) -> Self {
        let mut key = [0u8; 64];
        for chunk in key.chunks_mut(8) {
            chunk.copy_from_slice(&rng.next_u64().to_be_bytes());
        }
        Self { config, key, epoch }
    }

    /// The configuration.
    pub const fn config(&self) -> &VerifierConfig {
        &self.config
    }

    /// Replaces the configuration (profile change), keeping the secret: nonces already issued
    /// stay valid.
    pub fn set_config(&mut self, config: VerifierConfig) {
        self.config = config;
    }

    fn mac(&self, time_salt: &[u8], binding: &[u8]) -> Hmac<Sha256> {
        let mut mac = <Hmac<Sha256> as KeyInit>::new(&self.key.into());
        mac.update(NONCE_LABEL);
        mac.update(time_salt);
        mac.update(binding);
        mac
    }

    /// A fresh nonce bound to `binding`.
    pub fn nonce(&self, now: Instant, binding: &[u8], rng: &mut dyn Rng) -> String {
        let ms = u64::try_from(now.saturating_duration_since(self.epoch).as_millis())
            .unwrap_or(u64::MAX);
        let mut raw = Vec::with_capacity(NONCE_BYTES);
        raw.extend_from_slice(&ms.to_be_bytes());
        raw.extend_from_slice(&rng.next_u64().to_be_bytes());
        let tag = self.mac(&raw, binding).finalize().into_bytes();
        raw.extend_from_slice(tag.get(..16).unwrap_or_default());
        hex(&raw)
    }

    /// The `WWW-Authenticate` values of a 401, in header order: one per offered algorithm
    /// (`SHA-512-256`, `SHA-256`, `MD5` with RFC 8760; `MD5` alone without), all with the same
    /// fresh nonce and `qop="auth"`. Empty when the policy allows no algorithm.
    pub fn challenge(
        &self,
        now: Instant,
        binding: &[u8],
        stale: bool,
        rng: &mut dyn Rng,
    ) -> Vec<String> {
        let nonce = self.nonce(now, binding, rng);
        self.config
            .policy
            .offered()
            .into_iter()
            .map(|alg| {
                let mut v = String::from("Digest realm=");
                write_quoted(&mut v, &self.config.realm);
                v.push_str(", nonce=\"");
                v.push_str(&nonce);
                v.push_str("\", algorithm=");
                v.push_str(alg.name());
                v.push_str(", qop=\"auth\"");
                if stale {
                    v.push_str(", stale=true");
                }
                v
            })
            .collect()
    }

    /// Whether `nonce` was issued by this verifier for `binding`; `Some(expired)` if so.
    fn check_nonce(&self, now: Instant, nonce: &str, binding: &[u8]) -> Option<bool> {
        let raw = unhex(nonce)?;
        if raw.len() != NONCE_BYTES {
            return None;
        }
        let (time_salt, tag) = raw.split_at(16);
        self.mac(time_salt, binding)
            .verify_truncated_left(tag)
            .ok()?;
        let ms = u64::from_be_bytes(time_salt.get(..8)?.try_into().ok()?);
        let issued = self.epoch.checked_add(Duration::from_millis(ms))?;
        if issued > now {
            return None;
        }
        Some(now.saturating_duration_since(issued) > self.config.nonce_lifetime)
    }

    /// Checks the `Authorization` values of a retried request (all of them, message order)
    /// against `credentials` (the line's own) for the request `target`.
    pub fn verify(
        &self,
        now: Instant,
        binding: &[u8],
        authorization: &[&str],
        target: &RequestTarget<'_>,
        credentials: &Credentials,
    ) -> Verdict {
        let mut malformed = None;
        let mut ours = None;
        for value in authorization {
            match parse_digest_params(value) {
                Ok(p) if p.get("realm") == Some(self.config.realm.as_str()) => {
                    ours = Some(p);
                    break;
                }
                Ok(_) => {}
                Err(e) => {
                    malformed.get_or_insert(e);
                }
            }
        }
        let Some(p) = ours else {
            return malformed.map_or(Verdict::Missing, |e| {
                Verdict::Wrong(WrongReason::Malformed(e))
            });
        };
        match self.check(now, binding, &p, target, credentials) {
            Ok((true, _)) => Verdict::Stale,
            Ok((false, verified)) => Verdict::Ok(verified),
            Err(r) => Verdict::Wrong(r),
        }
    }

    /// `Ok((expired, what was verified))` when the credentials are right.
    fn check(
        &self,
        now: Instant,
        binding: &[u8],
        p: &Params,
        target: &RequestTarget<'_>,
        credentials: &Credentials,
    ) -> Result<(bool, Verified), WrongReason> {
        let nonce = p.require("nonce").map_err(WrongReason::Malformed)?;
        let expired = self
            .check_nonce(now, nonce, binding)
            .ok_or(WrongReason::ForeignNonce)?;
        let offered = self.config.policy.offered();
        let (nonce, algorithm) =
            check_response(&self.config.realm, &offered, p, target, credentials)?;
        Ok((
            expired,
            Verified {
                nonce: nonce.to_owned(),
                algorithm,
            },
        ))
    }
}

/// Checks parsed credentials for `realm` against `credentials` and `target`, all but the nonce's
/// origin; returns the nonce to check and the algorithm. The response is compared in constant
/// time.
pub(crate) fn check_response<'p>(
    realm: &str,
    offered: &[Algorithm],
    p: &'p Params,
    target: &RequestTarget<'_>,
    credentials: &Credentials,
) -> Result<(&'p str, Algorithm), WrongReason> {
    let field = |name: &'static str| p.require(name).map_err(WrongReason::Malformed);
    let username = field("username")?;
    let nonce = field("nonce")?;
    let uri = field("uri")?;
    let response = field("response")?;
    if username != credentials.username {
        return Err(WrongReason::UnknownUser(username.to_owned()));
    }
    let alg_name = p.get("algorithm").unwrap_or("MD5");
    let algorithm = Algorithm::from_name(alg_name)
        .filter(|a| !a.sess && offered.contains(a))
        .ok_or_else(|| WrongReason::AlgorithmNotOffered(alg_name.to_owned()))?;
    if uri != target.uri {
        return Err(WrongReason::UriMismatch);
    }
    if !p.get("qop").is_some_and(|q| q.eq_ignore_ascii_case("auth")) {
        return Err(WrongReason::BadQop);
    }
    let cnonce = p.get("cnonce").ok_or(WrongReason::BadQop)?;
    let nc_text = p.get("nc").ok_or(WrongReason::BadQop)?;
    let nc = (nc_text.len() == 8)
        .then(|| u32::from_str_radix(nc_text, 16).ok())
        .flatten()
        .ok_or_else(|| WrongReason::BadNc(nc_text.to_owned()))?;
    let expected = compute_response(&ResponseInput {
        algorithm,
        username,
        realm,
        password: &credentials.password,
        nonce,
        qop: Some((Qop::Auth, nc, cnonce)),
        target: *target,
    });
    let got = response.to_ascii_lowercase();
    if bool::from(expected.as_bytes().ct_eq(got.as_bytes())) {
        Ok((nonce, algorithm))
    } else {
        Err(WrongReason::ResponseMismatch)
    }
}

/// Decodes lower- or upper-case hex; `None` on any other character or an odd length.
fn unhex(s: &str) -> Option<Vec<u8>> {
    let b = s.as_bytes();
    if !b.len().is_multiple_of(2) || b.len() > 2 * NONCE_BYTES {
        return None;
    }
    let digit = |c: u8| char::from(c).to_digit(16);
    b.chunks(2)
        .map(|pair| {
            let hi = digit(*pair.first()?)?;
            let lo = digit(*pair.get(1)?)?;
            u8::try_from(hi * 16 + lo).ok()
        })
        .collect()
}
