//! Digest authentication for SIP (RFC 3261 §22, RFC 2617, RFC 7616, RFC 8760): the client that
//! answers 401/407 challenges for every request a line sends, and the [`Verifier`] for the
//! phone's own challenges (`Auth_INVITE_n_`, `Auth_Resync-Reboot_n_`).
//!
//! # Decisions
//! - **Algorithm choice** ([`DigestPolicy`]): with `Auth_Support_RFC8760` Yes, among the
//!   challenges of one realm the client answers the top-most (header order) whose algorithm is
//!   `SHA-512-256`, `SHA-256` or `MD5` (or their `-sess` forms). With No it answers only `MD5`
//!   (and `MD5-sess`, which RFC 2617 defines), as RFC 3261. **FIPS mode never uses MD5**; since
//!   SPEC §19 keeps "SIP digest (RFC 8760 SHA algorithms)" working in FIPS mode, FIPS mode
//!   answers and offers the SHA algorithms even when `Auth_Support_RFC8760` is No.
//! - **qop**: `auth` when offered, else `auth-int` (over the body) when that is all that is
//!   offered, else the RFC 2069 form without qop (RFC 3261 §22.4 allows it for MD5). A `-sess`
//!   challenge without qop is unusable (its cnonce could not be sent).
//! - **Retry bound** (`Max_Auth`, [`AuthSession`]): one request (and its re-sends with new CSeq)
//!   answers at most `max_auth` challenges; `0` answers none. A re-challenge that carries a
//!   nonce already answered for the same realm means the credentials were refused: give up at
//!   once, whether or not it says `stale=true` (a stale challenge must bring a new nonce).
//! - **Several realms** (forking proxies, RFC 3261 §22.3): the choice is made per realm, and one
//!   header is produced per realm, in the order the realms first appear.
//! - `userhash` is not used (RFC 7616 lets the client choose); `username*` is not produced.
//! - Header values are parsed here, not by `ezk-sip-types`: its `DigestChallenge` matches
//!   parameter names case-sensitively, reports `anyhow` strings, and prints realm/nonce without
//!   escaping; the shell passes the raw header values (in message order) to this module.

mod parse;
mod verifier;

#[cfg(test)]
mod tests;

use std::fmt;

use md5::Md5;
use mppd_config::Profile;
use mppd_config::validate::parse_int;
use sha2::{Digest, Sha256, Sha512_256};

pub use parse::{MAX_PARAMS, MAX_VALUE_LEN, ParseError};
pub use verifier::{
    DEFAULT_NONCE_LIFETIME, Verdict, Verified, Verifier, VerifierConfig, WrongReason,
};

use crate::sip::Rng;
use parse::{parse_digest_params, write_quoted};

/// The hash function of a digest algorithm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Hash {
    /// MD5 (RFC 2617); refused in FIPS mode.
    Md5,
    /// SHA-256 (RFC 7616).
    Sha256,
    /// SHA-512/256 (RFC 7616, named `SHA-512-256`).
    Sha512_256,
}

impl Hash {
    /// Lower-case hex of the hash of `data`.
    pub fn hex(self, data: &[u8]) -> String {
        match self {
            Self::Md5 => hex(&Md5::digest(data)),
            Self::Sha256 => hex(&Sha256::digest(data)),
            Self::Sha512_256 => hex(&Sha512_256::digest(data)),
        }
    }

    /// Lower-case hex of the hash of the parts joined by `:`.
    fn hex_joined(self, parts: &[&[u8]]) -> String {
        let mut buf = Vec::with_capacity(parts.iter().map(|p| p.len() + 1).sum());
        for (i, p) in parts.iter().enumerate() {
            if i > 0 {
                buf.push(b':');
            }
            buf.extend_from_slice(p);
        }
        self.hex(&buf)
    }
}

/// Lower-case hex of `bytes`.
pub(crate) fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(char::from(DIGITS[usize::from(b >> 4)]));
        s.push(char::from(DIGITS[usize::from(b & 0x0f)]));
    }
    s
}

/// A digest algorithm this implementation computes: a hash, plain or `-sess`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Algorithm {
    /// The hash function.
    pub hash: Hash,
    /// The `-sess` variant (HA1 mixes in the nonce and cnonce).
    pub sess: bool,
}

impl Algorithm {
    /// `MD5`.
    pub const MD5: Self = Self::plain(Hash::Md5);
    /// `SHA-256`.
    pub const SHA256: Self = Self::plain(Hash::Sha256);
    /// `SHA-512-256`.
    pub const SHA512_256: Self = Self::plain(Hash::Sha512_256);

    const fn plain(hash: Hash) -> Self {
        Self { hash, sess: false }
    }

    /// Reads an `algorithm` value (case-insensitive); `None` for algorithms not computed here.
    pub fn from_name(name: &str) -> Option<Self> {
        let (base, sess) = match name.len().checked_sub(5) {
            Some(cut)
                if name.is_char_boundary(cut)
                    && name
                        .get(cut..)
                        .is_some_and(|t| t.eq_ignore_ascii_case("-sess")) =>
            {
                (name.get(..cut).unwrap_or_default(), true)
            }
            _ => (name, false),
        };
        let hash = if base.eq_ignore_ascii_case("MD5") {
            Hash::Md5
        } else if base.eq_ignore_ascii_case("SHA-256") {
            Hash::Sha256
        } else if base.eq_ignore_ascii_case("SHA-512-256") {
            Hash::Sha512_256
        } else {
            return None;
        };
        Some(Self { hash, sess })
    }

    /// The name as printed in headers (`SHA-512-256-sess`).
    pub const fn name(self) -> &'static str {
        match (self.hash, self.sess) {
            (Hash::Md5, false) => "MD5",
            (Hash::Md5, true) => "MD5-sess",
            (Hash::Sha256, false) => "SHA-256",
            (Hash::Sha256, true) => "SHA-256-sess",
            (Hash::Sha512_256, false) => "SHA-512-256",
            (Hash::Sha512_256, true) => "SHA-512-256-sess",
        }
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Which algorithms a line may use, from `Auth_Support_RFC8760[_n_]` and `FIPS_Mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DigestPolicy {
    /// `Auth_Support_RFC8760` (or the line's `_n_` override): Yes enables the SHA algorithms.
    pub rfc8760: bool,
    /// `FIPS_Mode` Enabled: MD5 is never used.
    pub fips: bool,
}

impl DigestPolicy {
    /// Whether the client may answer, and the verifier accept, `alg`.
    pub fn allows(self, alg: Algorithm) -> bool {
        match alg.hash {
            Hash::Md5 => !self.fips,
            Hash::Sha256 | Hash::Sha512_256 => self.rfc8760 || self.fips,
        }
    }

    /// The algorithms the phone's own challenges offer, most preferred first (SPEC §4):
    /// `SHA-512-256`, `SHA-256`, `MD5` with RFC 8760, `MD5` alone without it, never MD5 in FIPS.
    pub fn offered(self) -> Vec<Algorithm> {
        [Algorithm::SHA512_256, Algorithm::SHA256, Algorithm::MD5]
            .into_iter()
            .filter(|a| self.allows(*a))
            .collect()
    }
}

impl DigestPolicy {
    /// The policy of line `line` (1-based): `Auth_Support_RFC8760_<line>_` (falling back to
    /// `Auth_Support_RFC8760`) and `FIPS_Mode`.
    pub fn from_profile(profile: &Profile, line: u8) -> Self {
        let rfc8760 = profile
            .effective(&format!("Auth_Support_RFC8760_{line}_"))
            .is_some_and(|v| v.trim().eq_ignore_ascii_case("Yes"));
        let fips = profile.effective("FIPS_Mode").is_some_and(|v| {
            let v = v.trim();
            v.eq_ignore_ascii_case("Enabled") || v.eq_ignore_ascii_case("Yes")
        });
        Self { rfc8760, fips }
    }
}

/// `Max_Auth` (0..=255, default 2); an unreadable value counts as the default.
pub fn max_auth_from_profile(profile: &Profile) -> u32 {
    profile
        .effective("Max_Auth")
        .and_then(|v| parse_int(v.trim()))
        .and_then(|n| u32::try_from(n).ok())
        .filter(|n| *n <= 255)
        .unwrap_or(2)
}

/// Where a challenge came from, which decides the header that answers it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ChallengeKind {
    /// `WWW-Authenticate` (401), answered with `Authorization`.
    Www,
    /// `Proxy-Authenticate` (407), answered with `Proxy-Authorization`.
    Proxy,
}

impl ChallengeKind {
    /// The name of the header that answers this kind of challenge.
    pub const fn response_header(self) -> &'static str {
        match self {
            Self::Www => "Authorization",
            Self::Proxy => "Proxy-Authorization",
        }
    }
}

/// A `qop` option.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Qop {
    /// `auth`.
    Auth,
    /// `auth-int` (the body is hashed into HA2).
    AuthInt,
}

impl Qop {
    /// The token.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Auth => "auth",
            Self::AuthInt => "auth-int",
        }
    }
}

/// The `algorithm` of a challenge: one computed here, or another name kept as sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AlgorithmName {
    /// One of [`Algorithm`].
    Known(Algorithm),
    /// Any other value (e.g. `AKAv1-MD5`, `SHA-512`), kept for diagnostics.
    Unknown(String),
}

/// One parsed `Digest` challenge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    /// `realm`.
    pub realm: String,
    /// `nonce`.
    pub nonce: String,
    /// `opaque`, echoed back unchanged.
    pub opaque: Option<String>,
    /// `stale=true`: the previous answer was right but its nonce expired.
    pub stale: bool,
    /// `algorithm` (MD5 when absent, RFC 2617 §3.2.1).
    pub algorithm: AlgorithmName,
    /// `qop` options understood here, in the order offered (unknown options are dropped).
    pub qop: Vec<Qop>,
    /// Whether a `qop` parameter was present at all (even with only unknown options).
    pub qop_present: bool,
}

impl Challenge {
    /// Parses one `WWW-Authenticate`/`Proxy-Authenticate` value. Unknown parameters are ignored.
    pub fn parse(value: &str) -> Result<Self, ParseError> {
        let p = parse_digest_params(value)?;
        let realm = p.require("realm")?.to_owned();
        let nonce = p.require("nonce")?.to_owned();
        let stale = match p.get("stale") {
            None => false,
            Some(v) if v.eq_ignore_ascii_case("true") => true,
            Some(v) if v.eq_ignore_ascii_case("false") => false,
            Some(v) => {
                return Err(ParseError::BadValue {
                    param: "stale",
                    value: v.to_owned(),
                });
            }
        };
        let algorithm = match p.get("algorithm") {
            None => AlgorithmName::Known(Algorithm::MD5),
            Some(v) => Algorithm::from_name(v).map_or_else(
                || AlgorithmName::Unknown(v.to_owned()),
                AlgorithmName::Known,
            ),
        };
        let qop_value = p.get("qop");
        let mut qop = Vec::new();
        for opt in qop_value.unwrap_or_default().split(',') {
            let opt = opt.trim_matches(|c: char| c.is_ascii_whitespace());
            let q = if opt.eq_ignore_ascii_case("auth") {
                Qop::Auth
            } else if opt.eq_ignore_ascii_case("auth-int") {
                Qop::AuthInt
            } else {
                continue;
            };
            if !qop.contains(&q) {
                qop.push(q);
            }
        }
        Ok(Self {
            realm,
            nonce,
            opaque: p.get("opaque").map(str::to_owned),
            stale,
            algorithm,
            qop,
            qop_present: qop_value.is_some(),
        })
    }

    /// The qop the client answers with: `auth` if offered, else `auth-int`, else none (RFC 2069
    /// form, only when no qop parameter was sent). `Err` when qop was sent but none is known.
    fn chosen_qop(&self) -> Result<Option<Qop>, Rejection> {
        if self.qop.contains(&Qop::Auth) {
            Ok(Some(Qop::Auth))
        } else if self.qop.contains(&Qop::AuthInt) {
            Ok(Some(Qop::AuthInt))
        } else if self.qop_present {
            Err(Rejection::UnsupportedQop)
        } else {
            Ok(None)
        }
    }
}

/// One challenge header as received: its kind and raw value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChallengeHeader<'a> {
    /// `WWW-Authenticate` or `Proxy-Authenticate`.
    pub kind: ChallengeKind,
    /// The header value.
    pub value: &'a str,
}

/// Why one challenge header was not answered.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Rejection {
    /// The value could not be read.
    Malformed(ParseError),
    /// An algorithm not computed here.
    UnknownAlgorithm(String),
    /// An algorithm the policy forbids (MD5 in FIPS mode, SHA without RFC 8760).
    NotAllowed(Algorithm),
    /// Another algorithm than the one the client was restricted to ([`DigestClient::only`]).
    NotAsked(Algorithm),
    /// `qop` offers neither `auth` nor `auth-int`.
    UnsupportedQop,
    /// A `-sess` algorithm without `qop` (no cnonce can be sent).
    SessWithoutQop,
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Malformed(e) => write!(f, "malformed: {e}"),
            Self::UnknownAlgorithm(a) => write!(f, "unknown algorithm {a:?}"),
            Self::NotAllowed(a) => write!(f, "algorithm {a} not allowed by the policy"),
            Self::NotAsked(a) => write!(f, "algorithm {a} is not the one asked for"),
            Self::UnsupportedQop => f.write_str("no supported qop (auth, auth-int) offered"),
            Self::SessWithoutQop => f.write_str("-sess algorithm without qop"),
        }
    }
}

/// Why the client gives up on a challenged request.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum AuthError {
    /// The response carried no `WWW-Authenticate`/`Proxy-Authenticate` header at all.
    NoChallenge,
    /// No header could be answered; each entry is the header's index and why.
    NoUsableChallenge(Vec<(usize, Rejection)>),
    /// `Max_Auth` challenges were already answered for this request.
    TooManyChallenges {
        /// The bound.
        max_auth: u32,
    },
    /// The server challenged again with a nonce already answered: the credentials were refused.
    Refused {
        /// The realm that refused them.
        realm: String,
    },
}

impl fmt::Display for AuthError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NoChallenge => f.write_str("401/407 without a challenge header"),
            Self::NoUsableChallenge(list) => {
                f.write_str("no usable challenge:")?;
                for (i, r) in list {
                    write!(f, " [header {i}: {r}]")?;
                }
                Ok(())
            }
            Self::TooManyChallenges { max_auth } => {
                write!(f, "challenged more than Max_Auth ({max_auth}) times")
            }
            Self::Refused { realm } => write!(f, "credentials refused by realm {realm:?}"),
        }
    }
}

impl std::error::Error for AuthError {}

/// A line's credentials: `Auth_ID_n_` (falling back to `User_ID_n_`) and `Password_n_`.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    /// The digest user name.
    pub username: String,
    /// The password.
    pub password: String,
}

impl Credentials {
    /// The credentials of line `line` (1-based): `Auth_ID_<line>_` (falling back to
    /// `User_ID_<line>_`) and `Password_<line>_`.
    pub fn from_profile(profile: &Profile, line: u8) -> Self {
        let get = |name: String| {
            profile
                .effective(&name)
                .map(|v| v.into_owned())
                .unwrap_or_default()
        };
        Self {
            username: get(format!("Auth_ID_{line}_")),
            password: get(format!("Password_{line}_")),
        }
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .finish()
    }
}

/// What a response is computed over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestTarget<'a> {
    /// The method (`REGISTER`, `INVITE`...); for an ACK or CANCEL, that of the request.
    pub method: &'a str,
    /// The Request-URI exactly as printed in the request line (the `uri` parameter).
    pub uri: &'a str,
    /// The body (hashed only for `qop=auth-int`).
    pub body: &'a [u8],
}

/// The inputs of one response computation (RFC 7616 §3.4.1).
#[derive(Debug, Clone, Copy)]
pub(crate) struct ResponseInput<'a> {
    pub(crate) algorithm: Algorithm,
    pub(crate) username: &'a str,
    pub(crate) realm: &'a str,
    pub(crate) password: &'a str,
    pub(crate) nonce: &'a str,
    /// `Some((qop, nc, cnonce))`, or `None` for the RFC 2069 form.
    pub(crate) qop: Option<(Qop, u32, &'a str)>,
    /// The cnonce for `-sess` HA1 (the one in `qop`).
    pub(crate) target: RequestTarget<'a>,
}

/// `nc` as printed: 8 lower-case hex digits.
pub(crate) fn nc_hex(nc: u32) -> String {
    format!("{nc:08x}")
}

/// The `response` value (lower-case hex).
pub(crate) fn compute_response(i: &ResponseInput<'_>) -> String {
    let h = i.algorithm.hash;
    let mut ha1 = h.hex_joined(&[
        i.username.as_bytes(),
        i.realm.as_bytes(),
        i.password.as_bytes(),
    ]);
    if i.algorithm.sess {
        let cnonce = i.qop.map(|(_, _, c)| c).unwrap_or_default();
        ha1 = h.hex_joined(&[ha1.as_bytes(), i.nonce.as_bytes(), cnonce.as_bytes()]);
    }
    let ha2 = match i.qop {
        Some((Qop::AuthInt, _, _)) => {
            let body = h.hex(i.target.body);
            h.hex_joined(&[
                i.target.method.as_bytes(),
                i.target.uri.as_bytes(),
                body.as_bytes(),
            ])
        }
        _ => h.hex_joined(&[i.target.method.as_bytes(), i.target.uri.as_bytes()]),
    };
    match i.qop {
        Some((qop, nc, cnonce)) => {
            let nc = nc_hex(nc);
            h.hex_joined(&[
                ha1.as_bytes(),
                i.nonce.as_bytes(),
                nc.as_bytes(),
                cnonce.as_bytes(),
                qop.name().as_bytes(),
                ha2.as_bytes(),
            ])
        }
        None => h.hex_joined(&[ha1.as_bytes(), i.nonce.as_bytes(), ha2.as_bytes()]),
    }
}

/// An `Authorization` or `Proxy-Authorization` header to add to the re-sent request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorizationHeader {
    /// Which header (`Authorization` for 401, `Proxy-Authorization` for 407).
    pub kind: ChallengeKind,
    /// The realm it answers.
    pub realm: String,
    /// The algorithm chosen.
    pub algorithm: Algorithm,
    /// The header value (`Digest username="...", ...`).
    pub value: String,
}

impl AuthorizationHeader {
    /// The header name.
    pub const fn name(&self) -> &'static str {
        self.kind.response_header()
    }
}

/// Prints a credentials value in the parameter order of RFC 7616 §3.9.1.
fn print_credentials(
    i: &ResponseInput<'_>,
    cnonce_nc: Option<(&str, u32, Qop)>,
    response: &str,
    opaque: Option<&str>,
) -> String {
    let mut v = String::with_capacity(256);
    v.push_str("Digest username=");
    write_quoted(&mut v, i.username);
    v.push_str(", realm=");
    write_quoted(&mut v, i.realm);
    v.push_str(", uri=");
    write_quoted(&mut v, i.target.uri);
    v.push_str(", algorithm=");
    v.push_str(i.algorithm.name());
    v.push_str(", nonce=");
    write_quoted(&mut v, i.nonce);
    if let Some((cnonce, nc, qop)) = cnonce_nc {
        v.push_str(", nc=");
        v.push_str(&nc_hex(nc));
        v.push_str(", cnonce=");
        write_quoted(&mut v, cnonce);
        v.push_str(", qop=");
        v.push_str(qop.name());
    }
    v.push_str(", response=\"");
    v.push_str(response);
    v.push('"');
    if let Some(o) = opaque {
        v.push_str(", opaque=");
        write_quoted(&mut v, o);
    }
    v
}

/// How many nonces the client remembers (for `nc` counting and pre-emptive answers).
const NONCE_CACHE: usize = 8;

/// A nonce the client has answered: its count and what is needed to answer it again.
#[derive(Debug, Clone)]
struct CachedNonce {
    kind: ChallengeKind,
    realm: String,
    nonce: String,
    opaque: Option<String>,
    algorithm: Algorithm,
    qop: Option<Qop>,
    nc: u32,
}

/// The digest challenges of a 401/407 (its `WWW-Authenticate` and `Proxy-Authenticate`
/// headers), in message order, as [`DigestClient::respond`] takes them.
pub fn challenge_headers(m: &crate::sip::message::Message) -> Vec<ChallengeHeader<'_>> {
    use crate::sip::message::same_name;
    m.headers
        .iter()
        .filter_map(|h| {
            let kind = if same_name(&h.name, "WWW-Authenticate") {
                ChallengeKind::Www
            } else if same_name(&h.name, "Proxy-Authenticate") {
                ChallengeKind::Proxy
            } else {
                return None;
            };
            Some(ChallengeHeader {
                kind,
                value: h.value.as_str(),
            })
        })
        .collect()
}

/// The retry state of one request across its challenged re-sends (one per REGISTER refresh,
/// INVITE, SUBSCRIBE...). Create it with [`AuthSession::default`] when the request is first
/// sent; pass it to every [`DigestClient::respond`] for that request.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuthSession {
    challenges: u32,
    answered: Vec<(ChallengeKind, String, String)>,
}

impl AuthSession {
    /// How many challenges were answered so far.
    pub const fn challenges(&self) -> u32 {
        self.challenges
    }
}

/// The digest client of one line. Build it with the line's credentials and policy; call
/// [`DigestClient::respond`] for each 401/407 and add the returned headers to the re-sent
/// request (new CSeq, same Call-ID; a new branch).
#[derive(Debug, Clone)]
pub struct DigestClient {
    credentials: Credentials,
    policy: DigestPolicy,
    only: Option<Hash>,
    max_auth: u32,
    cache: Vec<CachedNonce>,
}

impl DigestClient {
    /// The client for one line; `max_auth` is `Max_Auth` (default 2).
    pub const fn new(credentials: Credentials, policy: DigestPolicy, max_auth: u32) -> Self {
        Self {
            credentials,
            policy,
            only: None,
            max_auth,
            cache: Vec::new(),
        }
    }

    /// Answers only challenges whose algorithm uses `hash` (its `-sess` form too), as a client
    /// that supports nothing else would: a test knob (`mppd sip call --digest`) for checking
    /// what a server or a callee accepts. The policy still applies on top.
    #[must_use]
    pub const fn only(mut self, hash: Hash) -> Self {
        self.only = Some(hash);
        self
    }

    /// The policy in force.
    pub const fn policy(&self) -> DigestPolicy {
        self.policy
    }

    /// Chooses, per realm, the top-most usable challenge among `headers` (message order).
    /// Returns the choices in the order their realms first appear, and the rejections.
    #[allow(clippy::type_complexity)]
    pub fn select(
        &self,
        headers: &[ChallengeHeader<'_>],
    ) -> (
        Vec<(ChallengeKind, Challenge, Algorithm)>,
        Vec<(usize, Rejection)>,
    ) {
        let mut chosen: Vec<(ChallengeKind, Challenge, Algorithm)> = Vec::new();
        let mut rejected = Vec::new();
        for (idx, h) in headers.iter().enumerate() {
            let ch = match Challenge::parse(h.value) {
                Ok(c) => c,
                Err(e) => {
                    rejected.push((idx, Rejection::Malformed(e)));
                    continue;
                }
            };
            if chosen
                .iter()
                .any(|(k, c, _)| *k == h.kind && c.realm == ch.realm)
            {
                continue; // a higher header already answers this realm
            }
            let alg = match &ch.algorithm {
                AlgorithmName::Known(a) => *a,
                AlgorithmName::Unknown(n) => {
                    rejected.push((idx, Rejection::UnknownAlgorithm(n.clone())));
                    continue;
                }
            };
            if !self.policy.allows(alg) {
                rejected.push((idx, Rejection::NotAllowed(alg)));
                continue;
            }
            if self.only.is_some_and(|h| h != alg.hash) {
                rejected.push((idx, Rejection::NotAsked(alg)));
                continue;
            }
            match ch.chosen_qop() {
                Err(r) => {
                    rejected.push((idx, r));
                    continue;
                }
                Ok(None) if alg.sess => {
                    rejected.push((idx, Rejection::SessWithoutQop));
                    continue;
                }
                Ok(_) => {}
            }
            chosen.push((h.kind, ch, alg));
        }
        (chosen, rejected)
    }

    /// Answers the challenges of one 401/407 (all its `WWW-Authenticate` and
    /// `Proxy-Authenticate` headers, in message order) for the request `target`.
    /// Returns one header per realm, or why the request must not be retried.
    pub fn respond(
        &mut self,
        session: &mut AuthSession,
        headers: &[ChallengeHeader<'_>],
        target: &RequestTarget<'_>,
        rng: &mut dyn Rng,
    ) -> Result<Vec<AuthorizationHeader>, AuthError> {
        if headers.is_empty() {
            return Err(AuthError::NoChallenge);
        }
        let (chosen, rejected) = self.select(headers);
        if chosen.is_empty() {
            return Err(AuthError::NoUsableChallenge(rejected));
        }
        for (kind, ch, _) in &chosen {
            if session
                .answered
                .iter()
                .any(|(k, r, n)| k == kind && *r == ch.realm && *n == ch.nonce)
            {
                return Err(AuthError::Refused {
                    realm: ch.realm.clone(),
                });
            }
        }
        if session.challenges >= self.max_auth {
            return Err(AuthError::TooManyChallenges {
                max_auth: self.max_auth,
            });
        }
        session.challenges += 1;
        let mut out = Vec::with_capacity(chosen.len());
        for (kind, ch, alg) in chosen {
            session
                .answered
                .push((kind, ch.realm.clone(), ch.nonce.clone()));
            // A new nonce: forget older ones of the same realm and start counting at 1.
            self.cache
                .retain(|c| !(c.kind == kind && c.realm == ch.realm));
            if self.cache.len() >= NONCE_CACHE {
                self.cache.remove(0);
            }
            let qop = ch.chosen_qop().ok().flatten();
            self.cache.push(CachedNonce {
                kind,
                realm: ch.realm,
                nonce: ch.nonce,
                opaque: ch.opaque,
                algorithm: alg,
                qop,
                nc: 0,
            });
            let idx = self.cache.len() - 1;
            out.push(self.answer_cached(idx, target, rng));
        }
        Ok(out)
    }

    /// Pre-emptive credentials for a new request (e.g. a REGISTER refresh) from the nonces
    /// already answered, with `nc` incremented: one header per remembered realm. Empty when none
    /// is remembered. The server may still challenge (then call [`Self::respond`]).
    pub fn authorize(
        &mut self,
        target: &RequestTarget<'_>,
        rng: &mut dyn Rng,
    ) -> Vec<AuthorizationHeader> {
        let live: Vec<usize> = (0..self.cache.len())
            .filter(|&i| self.cache.get(i).is_some_and(|c| c.nc < u32::MAX))
            .collect();
        live.into_iter()
            .map(|i| self.answer_cached(i, target, rng))
            .collect()
    }

    /// Forgets every remembered nonce (after a registration ends or the profile changes).
    pub fn clear(&mut self) {
        self.cache.clear();
    }

    fn answer_cached(
        &mut self,
        idx: usize,
        target: &RequestTarget<'_>,
        rng: &mut dyn Rng,
    ) -> AuthorizationHeader {
        let cnonce = random_hex(rng, 2);
        let Some(c) = self.cache.get_mut(idx) else {
            // Unreachable: callers pass an index into the cache.
            return AuthorizationHeader {
                kind: ChallengeKind::Www,
                realm: String::new(),
                algorithm: Algorithm::MD5,
                value: String::new(),
            };
        };
        c.nc = c.nc.saturating_add(1);
        let input = ResponseInput {
            algorithm: c.algorithm,
            username: &self.credentials.username,
            realm: &c.realm,
            password: &self.credentials.password,
            nonce: &c.nonce,
            qop: c.qop.map(|q| (q, c.nc, cnonce.as_str())),
            target: *target,
        };
        let response = compute_response(&input);
        let value = print_credentials(
            &input,
            c.qop.map(|q| (cnonce.as_str(), c.nc, q)),
            &response,
            c.opaque.as_deref(),
        );
        AuthorizationHeader {
            kind: c.kind,
            realm: c.realm.clone(),
            algorithm: c.algorithm,
            value,
        }
    }
}

/// `words` × 64 random bits as lower-case hex.
pub(crate) fn random_hex(rng: &mut dyn Rng, words: usize) -> String {
    let mut bytes = Vec::with_capacity(words * 8);
    for _ in 0..words {
        bytes.extend_from_slice(&rng.next_u64().to_be_bytes());
    }
    hex(&bytes)
}
