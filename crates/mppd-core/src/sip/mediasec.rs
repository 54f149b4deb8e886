//! Media-plane security agreement (SPEC §16): RFC 3329 security agreement headers with the
//! `mediasec` parameter of draft-dawes-sipcore-mediasec-parameter.
//!
//! A line either starts the agreement (`MediaSec_Request_n_` Yes: `Security-Client:
//! sdes-srtp;mediasec`, `Require: mediasec`, `Proxy-Require: mediasec` on REGISTER) or waits
//! for the server to start it (a `Security-Server` list with `mediasec` mechanisms in a 494,
//! 401/407 or 2xx to REGISTER). Once the server's list is known, later requests echo it in
//! `Security-Verify` (with `Require`/`Proxy-Require: mediasec`), and calls use `RTP/SAVP` with
//! SDES keys when the list holds `sdes-srtp;mediasec`.
//!
//! # Wiring (registration)
//! For each line keep one [`MediaSecState`] next to its `Registration` (leave the
//! registration's `extra_headers` without mediasec headers):
//! 1. call [`MediaSecState::apply`] on every REGISTER the registration returns
//!    (`poll_register`, `handle_response`) before sending it;
//! 2. for every final response to a REGISTER, call [`MediaSecState::on_response`] *before*
//!    `Registration::handle_response` (the REGISTER that answers a 401 comes out of
//!    `handle_response` and must carry `Security-Verify`);
//! 3. on a 494 for which `on_response` returned [`Update::ServerList`], send a new REGISTER
//!    at once (RFC 3329 §2.3.1) instead of the long retry that `Registration` schedules for
//!    a 4xx.
//!
//! INVITE and BYE take [`MediaSecState::headers_for_dialog_request`] (`LineConfig::
//! mediasec_headers` of [`super::call`]); ACK and CANCEL none.
//!
//! # Decisions
//! - The phone offers one mechanism, `sdes-srtp;mediasec` (SDES is the only media keying it
//!   implements). The draft's other mechanisms (`msrp-tls`, `bfcp-tls`, `udptl-dtls`,
//!   `dtls-srtp`) may be in the server's list; they are echoed but do not make calls secure.
//! - `Security-Verify` repeats the `Security-Server` headers *exactly*: same header count, same
//!   order, each value byte for byte (RFC 3329 §2.3.1 "copy"), so that a server comparing the
//!   lists for a downgrade sees what it sent. A list that does not parse is not echoed.
//! - A `Security-Server` without any `mediasec` mechanism (plain RFC 3329 `tls`, `digest`,
//!   `ipsec-3gpp`) is not ours to answer and is ignored.
//! - A later response that carries a different list replaces the remembered one; a response
//!   without the header keeps it. [`MediaSecState::reset`] forgets it (new binding, new
//!   transport, profile change).
//! - `MediaSec_Over_TLS_Only_n_` Yes on a line whose transport is not TLS: no header is sent
//!   and a server's list is ignored, with a reason for the log.

use std::fmt;

use mppd_config::Profile;

use super::message::{Message, same_name, split_commas};

/// The mechanism the phone offers and can use: SDES-SRTP keyed in SDP (RFC 4568).
pub const SDES_SRTP: &str = "sdes-srtp";
/// The header field parameter and option tag of the draft.
pub const MEDIASEC: &str = "mediasec";
/// The `Security-Client` value the phone sends.
pub const SECURITY_CLIENT_VALUE: &str = "sdes-srtp;mediasec";
/// The most mechanisms read from one response.
pub const MAX_MECHANISMS: usize = 16;
/// The longest `Security-Server` value read.
pub const MAX_VALUE_LEN: usize = 1024;

/// Why a `Security-Server` value cannot be read.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SecAgreeError {
    /// An empty mechanism (`a,,b`).
    EmptyMechanism,
    /// A mechanism name that is not a token (the name, cut to 40 characters).
    BadName(String),
    /// A parameter that is not `token[=token|quoted-string]` (cut to 40 characters).
    BadParam(String),
    /// A `q` that is not a qvalue (RFC 3261 §20.10: 0..=1 with up to 3 decimals).
    BadQ(String),
    /// More than [`MAX_MECHANISMS`] mechanisms or a value longer than [`MAX_VALUE_LEN`].
    TooLarge,
}

impl fmt::Display for SecAgreeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::EmptyMechanism => f.write_str("empty security mechanism"),
            Self::BadName(n) => write!(f, "bad security mechanism name {n:?}"),
            Self::BadParam(p) => write!(f, "bad security mechanism parameter {p:?}"),
            Self::BadQ(q) => write!(f, "bad q value {q:?}"),
            Self::TooLarge => f.write_str("security mechanism list too large"),
        }
    }
}

impl std::error::Error for SecAgreeError {}

fn cut(s: &str) -> String {
    s.chars().take(40).collect()
}

fn is_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-.!%*_+`'~".contains(&b))
}

/// One `sec-mechanism` (RFC 3329 §2.2): a name and its parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecMechanism {
    /// The mechanism name, lower-cased (`sdes-srtp`, `tls`, ...).
    pub name: String,
    /// The parameters in order: names lower-cased, values as written (quotes kept).
    pub params: Vec<(String, Option<String>)>,
    /// `q` in thousandths (1000 when absent).
    pub q: u16,
}

impl SecMechanism {
    /// Whether the `mediasec` parameter is present.
    pub fn is_mediasec(&self) -> bool {
        self.params.iter().any(|(n, _)| n == MEDIASEC)
    }

    /// Parses one mechanism.
    pub fn parse(s: &str) -> Result<Self, SecAgreeError> {
        let s = s.trim();
        if s.is_empty() {
            return Err(SecAgreeError::EmptyMechanism);
        }
        let mut parts = split_semis(s).into_iter();
        let name = parts.next().unwrap_or_default().trim();
        if !is_token(name) {
            return Err(SecAgreeError::BadName(cut(name)));
        }
        let mut params = Vec::new();
        let mut q = 1000;
        for p in parts {
            let p = p.trim();
            let (k, v) = match p.split_once('=') {
                Some((k, v)) => (k.trim(), Some(v.trim())),
                None => (p, None),
            };
            let value_ok = v.is_none_or(|v| is_token(v) || is_quoted(v) || is_host(v));
            if !is_token(k) || !value_ok {
                return Err(SecAgreeError::BadParam(cut(p)));
            }
            let k = k.to_ascii_lowercase();
            if k == "q" {
                q = parse_q(v.unwrap_or_default())
                    .ok_or_else(|| SecAgreeError::BadQ(cut(v.unwrap_or_default())))?;
            }
            params.push((k, v.map(str::to_owned)));
        }
        Ok(Self {
            name: name.to_ascii_lowercase(),
            params,
            q,
        })
    }
}

/// Splits at `;` outside quotes.
fn split_semis(s: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let (mut quoted, mut start, mut escaped) = (false, 0, false);
    for (i, c) in s.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            ';' if !quoted => {
                out.push(s.get(start..i).unwrap_or_default());
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(s.get(start..).unwrap_or_default());
    out
}

fn is_quoted(v: &str) -> bool {
    v.len() >= 2 && v.starts_with('"') && v.ends_with('"')
}

fn is_host(v: &str) -> bool {
    // IPv6 references such as `[2001:db8::1]`.
    v.len() > 2
        && v.starts_with('[')
        && v.ends_with(']')
        && v.bytes()
            .all(|b| b.is_ascii_hexdigit() || b"[]:.".contains(&b))
}

/// qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] ), in thousandths.
fn parse_q(v: &str) -> Option<u16> {
    let (int, frac) = v.split_once('.').unwrap_or((v, ""));
    if frac.len() > 3 || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let mut milli: u16 = 0;
    for (i, b) in frac.bytes().enumerate() {
        let scale = [100, 10, 1].get(i).copied().unwrap_or(0);
        milli += u16::from(b - b'0') * scale;
    }
    match int {
        "0" => Some(milli),
        "1" if milli == 0 => Some(1000),
        _ => None,
    }
}

/// Parses a `Security-Server`/`Security-Client` value: comma-separated mechanisms.
pub fn parse_mechanisms(value: &str) -> Result<Vec<SecMechanism>, SecAgreeError> {
    if value.len() > MAX_VALUE_LEN {
        return Err(SecAgreeError::TooLarge);
    }
    let mut out = Vec::new();
    for m in split_commas(value) {
        if out.len() == MAX_MECHANISMS {
            return Err(SecAgreeError::TooLarge);
        }
        out.push(SecMechanism::parse(m)?);
    }
    Ok(out)
}

/// `MediaSec_Request_n_` and `MediaSec_Over_TLS_Only_n_` of one line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct MediaSecPolicy {
    /// `MediaSec_Request_n_` (default No): the phone starts the agreement.
    pub request: bool,
    /// `MediaSec_Over_TLS_Only_n_` (default No): only on TLS lines.
    pub tls_only: bool,
}

impl MediaSecPolicy {
    /// The policy of line `line` (1-based).
    pub fn from_profile(profile: &Profile, line: u8) -> Self {
        Self {
            request: profile.bool(&format!("MediaSec_Request_{line}_")),
            tls_only: profile.bool(&format!("MediaSec_Over_TLS_Only_{line}_")),
        }
    }

    /// Whether mediasec may be negotiated or handled over `transport` (the Via token: `UDP`,
    /// `TCP`, `TLS`; case-insensitive).
    pub fn applies(self, transport: &str) -> bool {
        !self.tls_only || transport.eq_ignore_ascii_case("TLS")
    }
}

/// What [`MediaSecState::on_response`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Update {
    /// The response carried no `Security-Server`, or the same list as before.
    Unchanged,
    /// A new server list was taken: later requests carry `Security-Verify`. On a 494 the
    /// request should be sent again at once.
    ServerList {
        /// Whether the list holds `sdes-srtp;mediasec` (calls use SRTP).
        negotiated: bool,
    },
    /// The server's list was not taken; the reason is for the log.
    Ignored(IgnoreReason),
}

/// Why a server's `Security-Server` list was not taken.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum IgnoreReason {
    /// `MediaSec_Over_TLS_Only_n_` is Yes and the line's transport is not TLS.
    NotTls {
        /// The line's transport.
        transport: String,
    },
    /// The list has no `mediasec` mechanism.
    NoMediasec,
    /// The list cannot be read.
    Malformed(SecAgreeError),
}

impl fmt::Display for IgnoreReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotTls { transport } => write!(
                f,
                "MediaSec_Over_TLS_Only is Yes and the line uses {transport}: Security-Server ignored"
            ),
            Self::NoMediasec => f.write_str("Security-Server without a mediasec mechanism ignored"),
            Self::Malformed(e) => write!(f, "Security-Server ignored: {e}"),
        }
    }
}

/// The media-plane security agreement of one line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaSecState {
    policy: MediaSecPolicy,
    transport: String,
    /// The `Security-Server` values as received (one entry per header), once taken.
    server: Option<Vec<String>>,
    negotiated: bool,
}

impl MediaSecState {
    /// The state of a line with `policy` whose signalling uses `transport` (`UDP`, `TCP`,
    /// `TLS`).
    pub fn new(policy: MediaSecPolicy, transport: &str) -> Self {
        Self {
            policy,
            transport: transport.to_owned(),
            server: None,
            negotiated: false,
        }
    }

    /// The policy.
    pub const fn policy(&self) -> MediaSecPolicy {
        self.policy
    }

    /// Whether mediasec applies at all on this line's transport.
    pub fn active(&self) -> bool {
        self.policy.applies(&self.transport)
    }

    /// Why nothing is sent on this line, when mediasec is on but the transport rules it out.
    pub fn inactive_reason(&self) -> Option<IgnoreReason> {
        (!self.active() && self.policy.request).then(|| IgnoreReason::NotTls {
            transport: self.transport.clone(),
        })
    }

    /// Forgets the server's list (new binding, transport or profile).
    pub fn reset(&mut self) {
        self.server = None;
        self.negotiated = false;
    }

    /// Whether calls must use `RTP/SAVP` with SDES keys: the server's list holds
    /// `sdes-srtp;mediasec`.
    pub const fn negotiated(&self) -> bool {
        self.negotiated
    }

    /// The `Security-Server` values remembered (echoed in `Security-Verify`).
    pub fn server_list(&self) -> Option<&[String]> {
        self.server.as_deref()
    }

    fn option_tags(out: &mut Vec<(String, String)>) {
        out.push(("Require".to_owned(), MEDIASEC.to_owned()));
        out.push(("Proxy-Require".to_owned(), MEDIASEC.to_owned()));
    }

    fn verify(&self, out: &mut Vec<(String, String)>) {
        for v in self.server.iter().flatten() {
            out.push(("Security-Verify".to_owned(), v.clone()));
        }
    }

    /// The extra headers of the next REGISTER, in order: with `MediaSec_Request` Yes,
    /// `Security-Client`; once the server's list is known, `Security-Verify` (one per
    /// `Security-Server` received); then `Require` and `Proxy-Require: mediasec` whenever either
    /// is present. Empty when mediasec does not apply.
    pub fn headers_for_next_request(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        if !self.active() {
            return out;
        }
        if self.policy.request {
            out.push((
                "Security-Client".to_owned(),
                SECURITY_CLIENT_VALUE.to_owned(),
            ));
        }
        self.verify(&mut out);
        if !out.is_empty() {
            Self::option_tags(&mut out);
        }
        out
    }

    /// The extra headers of an INVITE or BYE: `Security-Verify` and `Require`/`Proxy-Require:
    /// mediasec` once the server's list is known; nothing before. ACK and CANCEL take none
    /// (RFC 3261 §9.1 forbids `Require` in CANCEL).
    pub fn headers_for_dialog_request(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        if self.active() && self.server.is_some() {
            self.verify(&mut out);
            Self::option_tags(&mut out);
        }
        out
    }

    /// Puts the current headers on an outgoing request built elsewhere (a REGISTER from
    /// `Registration`, whose `extra_headers` are fixed at construction): removes any
    /// `Security-Client`/`Security-Verify` and `Require`/`Proxy-Require: mediasec` already
    /// there, then appends [`Self::headers_for_next_request`] for REGISTER,
    /// [`Self::headers_for_dialog_request`] for INVITE and BYE, nothing for other methods.
    /// Digest credentials stay valid: they cover the method and URI (and the body for
    /// `auth-int`), not the headers.
    pub fn apply(&self, request: &mut Message) {
        let headers = match request.method() {
            Some("REGISTER") => self.headers_for_next_request(),
            Some("INVITE" | "BYE") => self.headers_for_dialog_request(),
            _ => return,
        };
        request.headers.retain(|h| {
            let ours = same_name(&h.name, "Security-Client")
                || same_name(&h.name, "Security-Verify")
                || ((same_name(&h.name, "Require") || same_name(&h.name, "Proxy-Require"))
                    && h.value.trim().eq_ignore_ascii_case(MEDIASEC));
            !ours
        });
        for (n, v) in headers {
            request.push(&n, v);
        }
    }

    /// A response to a request of this line (REGISTER in practice; any response works).
    pub fn on_response(&mut self, response: &Message) -> Update {
        let values: Vec<String> = response
            .headers
            .iter()
            .filter(|h| same_name(&h.name, "Security-Server"))
            .map(|h| h.value.clone())
            .collect();
        if values.is_empty() {
            return Update::Unchanged;
        }
        if !self.active() {
            return Update::Ignored(IgnoreReason::NotTls {
                transport: self.transport.clone(),
            });
        }
        let mut mechanisms = Vec::new();
        for v in &values {
            match parse_mechanisms(v) {
                Ok(m) => mechanisms.extend(m),
                Err(e) => return Update::Ignored(IgnoreReason::Malformed(e)),
            }
            if mechanisms.len() > MAX_MECHANISMS {
                return Update::Ignored(IgnoreReason::Malformed(SecAgreeError::TooLarge));
            }
        }
        if !mechanisms.iter().any(SecMechanism::is_mediasec) {
            return Update::Ignored(IgnoreReason::NoMediasec);
        }
        if self.server.as_ref() == Some(&values) {
            return Update::Unchanged;
        }
        self.negotiated = mechanisms
            .iter()
            .any(|m| m.is_mediasec() && m.name == SDES_SRTP);
        self.server = Some(values);
        Update::ServerList {
            negotiated: self.negotiated,
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use crate::provision::schedule::{Rng as _, SplitMix64};

    fn response(code: u16, servers: &[&str]) -> Message {
        let mut m = Message::response(code, "X");
        m.push("Via", "SIP/2.0/TLS 10.0.0.1;branch=z9hG4bKx")
            .push("CSeq", "1 REGISTER");
        for s in servers {
            m.push("Security-Server", *s);
        }
        Message::parse(&m.to_bytes()).unwrap()
    }

    fn names(h: &[(String, String)]) -> Vec<String> {
        h.iter().map(|(n, v)| format!("{n}: {v}")).collect()
    }

    #[test]
    fn client_initiated_sends_client_then_verify() {
        let policy = MediaSecPolicy {
            request: true,
            tls_only: false,
        };
        let mut s = MediaSecState::new(policy, "UDP");
        assert_eq!(
            names(&s.headers_for_next_request()),
            [
                "Security-Client: sdes-srtp;mediasec",
                "Require: mediasec",
                "Proxy-Require: mediasec"
            ]
        );
        assert!(s.headers_for_dialog_request().is_empty());
        assert!(!s.negotiated());
        assert_eq!(s.on_response(&response(401, &[])), Update::Unchanged);
        let servers = [
            "msrp-tls;mediasec",
            "sdes-srtp;mediasec;q=0.5, dtls-srtp;mediasec",
        ];
        assert_eq!(
            s.on_response(&response(494, &servers)),
            Update::ServerList { negotiated: true }
        );
        assert!(s.negotiated());
        assert_eq!(
            names(&s.headers_for_next_request()),
            [
                "Security-Client: sdes-srtp;mediasec",
                "Security-Verify: msrp-tls;mediasec",
                "Security-Verify: sdes-srtp;mediasec;q=0.5, dtls-srtp;mediasec",
                "Require: mediasec",
                "Proxy-Require: mediasec"
            ]
        );
        assert_eq!(
            names(&s.headers_for_dialog_request()),
            [
                "Security-Verify: msrp-tls;mediasec",
                "Security-Verify: sdes-srtp;mediasec;q=0.5, dtls-srtp;mediasec",
                "Require: mediasec",
                "Proxy-Require: mediasec"
            ]
        );
        // The same list in the 200: unchanged; a 200 without the header keeps it.
        assert_eq!(s.on_response(&response(200, &servers)), Update::Unchanged);
        assert_eq!(s.on_response(&response(200, &[])), Update::Unchanged);
        assert!(s.negotiated());
        s.reset();
        assert!(!s.negotiated() && s.server_list().is_none());
    }

    #[test]
    fn security_verify_echo_is_exact() {
        let mut s = MediaSecState::new(MediaSecPolicy::default(), "TLS");
        let odd = "SDES-SRTP ; MediaSec ;q=1.000;x=\"a;b,c\"";
        assert_eq!(
            s.on_response(&response(200, &[odd, "tls;q=0.1"])),
            Update::ServerList { negotiated: true }
        );
        let echoed: Vec<String> = s
            .headers_for_dialog_request()
            .into_iter()
            .filter(|(n, _)| n == "Security-Verify")
            .map(|(_, v)| v)
            .collect();
        assert_eq!(echoed, [odd, "tls;q=0.1"]);
        let mech = parse_mechanisms(odd).unwrap();
        assert_eq!(mech[0].name, "sdes-srtp");
        assert_eq!(mech[0].q, 1000);
        assert!(mech[0].is_mediasec());
    }

    #[test]
    fn server_initiated_only_after_security_server() {
        let mut s = MediaSecState::new(MediaSecPolicy::default(), "TCP");
        assert!(s.headers_for_next_request().is_empty());
        assert!(s.headers_for_dialog_request().is_empty());
        // Not a mediasec list: ignored.
        assert_eq!(
            s.on_response(&response(401, &["tls;q=0.2, digest"])),
            Update::Ignored(IgnoreReason::NoMediasec)
        );
        assert!(s.headers_for_next_request().is_empty());
        // Malformed: ignored with the reason.
        assert_eq!(
            s.on_response(&response(401, &["sdes-srtp;mediasec;q=2"])),
            Update::Ignored(IgnoreReason::Malformed(SecAgreeError::BadQ("2".to_owned())))
        );
        // Only msrp-tls: taken (echoed) but calls stay plain.
        assert_eq!(
            s.on_response(&response(401, &["msrp-tls;mediasec"])),
            Update::ServerList { negotiated: false }
        );
        assert_eq!(
            names(&s.headers_for_next_request()),
            [
                "Security-Verify: msrp-tls;mediasec",
                "Require: mediasec",
                "Proxy-Require: mediasec"
            ]
        );
        assert_eq!(
            s.on_response(&response(200, &["sdes-srtp;mediasec"])),
            Update::ServerList { negotiated: true }
        );
        assert!(s.negotiated());
    }

    #[test]
    fn wired_into_the_registration() {
        use std::time::{Duration, Instant};

        use crate::sip::digest::{Credentials, DigestClient, DigestPolicy};
        use crate::sip::register::{RegisterConfig, Registration};

        let cfg = |transport: &'static str| RegisterConfig {
            line: 1,
            user: "1001".to_owned(),
            display_name: String::new(),
            domain: "mppd.test".to_owned(),
            expires: 3600,
            transport,
            local: "127.0.0.1:5061".to_owned(),
            user_agent: "t".to_owned(),
            retry: Duration::from_secs(30),
            long_retry: Duration::from_secs(1200),
            extra_headers: vec![],
        };
        let digest = DigestClient::new(
            Credentials {
                username: "1001".to_owned(),
                password: "pw".to_owned(),
            },
            DigestPolicy::default(),
            2,
        );
        let mut rng = SplitMix64::new(4);
        let now = Instant::now();
        let policy = MediaSecPolicy {
            request: true,
            tls_only: true,
        };
        let mut ms = MediaSecState::new(policy, "TLS");
        let mut reg = Registration::new(cfg("TLS"), digest.clone(), &mut rng, now);
        let mut first = reg.poll_register(now, &mut rng).unwrap();
        ms.apply(&mut first);
        let text = String::from_utf8(first.to_bytes()).unwrap();
        for h in [
            "Security-Client: sdes-srtp;mediasec\r\n",
            "Require: mediasec\r\n",
            "Proxy-Require: mediasec\r\n",
        ] {
            assert!(text.contains(h), "{h}\n{text}");
        }
        // 401 with Security-Server: the answering REGISTER carries Security-Verify too.
        let mut ch = first.reply(401, "Unauthorized", Some("r"));
        ch.push(
            "WWW-Authenticate",
            "Digest realm=\"mppd.test\", nonce=\"n\"",
        )
        .push("Security-Server", "sdes-srtp;mediasec;q=0.1");
        let ch = Message::parse(&ch.to_bytes()).unwrap();
        assert_eq!(ms.on_response(&ch), Update::ServerList { negotiated: true });
        let mut second = reg.handle_response(now, &ch, &mut rng).unwrap();
        ms.apply(&mut second);
        assert!(second.header("Authorization").is_some());
        assert_eq!(
            second.headers_named("Security-Verify").collect::<Vec<_>>(),
            ["sdes-srtp;mediasec;q=0.1"]
        );
        assert_eq!(second.headers_named("Require").count(), 1, "applied once");
        ms.apply(&mut second);
        assert_eq!(
            second.headers_named("Security-Client").count(),
            1,
            "idempotent"
        );
        // An ACK or CANCEL is left alone.
        let mut ack = Message::request("ACK", "sip:x@y");
        ms.apply(&mut ack);
        assert!(ack.headers.is_empty());
        // The same line over UDP with TLS-only: nothing at all.
        let ms = MediaSecState::new(policy, "UDP");
        let mut reg = Registration::new(cfg("UDP"), digest, &mut rng, now);
        let mut m = reg.poll_register(now, &mut rng).unwrap();
        ms.apply(&mut m);
        let text = String::from_utf8(m.to_bytes()).unwrap();
        assert!(
            !text.contains("Security-") && !text.contains("mediasec"),
            "{text}"
        );
    }

    #[test]
    fn tls_only_on_udp_sends_and_takes_nothing() {
        let policy = MediaSecPolicy {
            request: true,
            tls_only: true,
        };
        let mut udp = MediaSecState::new(policy, "UDP");
        assert!(!udp.active());
        assert!(udp.headers_for_next_request().is_empty());
        let r = udp.on_response(&response(494, &["sdes-srtp;mediasec"]));
        let Update::Ignored(why) = r else {
            panic!("{r:?}")
        };
        assert!(why.to_string().contains("UDP"), "{why}");
        assert!(!udp.negotiated() && udp.headers_for_dialog_request().is_empty());
        assert!(udp.inactive_reason().is_some());
        let tls = MediaSecState::new(policy, "tls");
        assert_eq!(tls.headers_for_next_request().len(), 3);
        assert!(tls.inactive_reason().is_none());
    }

    #[test]
    fn policy_from_profile() {
        let mut p = Profile::new();
        assert_eq!(
            MediaSecPolicy::from_profile(&p, 1),
            MediaSecPolicy::default()
        );
        p.set("MediaSec_Request_2_", "yes", None, 0);
        p.set("MediaSec_Over_TLS_Only_2_", "Yes", None, 0);
        let pol = MediaSecPolicy::from_profile(&p, 2);
        assert_eq!(
            pol,
            MediaSecPolicy {
                request: true,
                tls_only: true
            }
        );
        assert!(pol.applies("TLS") && !pol.applies("UDP") && !pol.applies("TCP"));
        assert_eq!(
            MediaSecPolicy::from_profile(&p, 1),
            MediaSecPolicy::default()
        );
    }

    #[test]
    fn mechanism_syntax() {
        for (v, want) in [
            ("", SecAgreeError::EmptyMechanism),
            ("a,,b", SecAgreeError::EmptyMechanism),
            ("s des", SecAgreeError::BadName("s des".to_owned())),
            ("tls;=x", SecAgreeError::BadParam("=x".to_owned())),
            ("tls;a=b c", SecAgreeError::BadParam("a=b c".to_owned())),
            ("tls;q=0.1234", SecAgreeError::BadQ("0.1234".to_owned())),
            ("tls;q=1.5", SecAgreeError::BadQ("1.5".to_owned())),
        ] {
            assert_eq!(parse_mechanisms(v), Err(want), "{v:?}");
        }
        let m = parse_mechanisms("ipsec-3gpp;q=0.1;alg=hmac-sha-1-96;spi-c=1;port-c=2, tls;q=0")
            .unwrap();
        assert_eq!(m.len(), 2);
        assert_eq!((m[0].q, m[1].q), (100, 0));
        assert!(!m[0].is_mediasec());
        let long = vec!["tls"; MAX_MECHANISMS + 1].join(",");
        assert_eq!(parse_mechanisms(&long), Err(SecAgreeError::TooLarge));
        assert!(parse_mechanisms("tls;maddr=[2001:db8::1]").is_ok());
    }

    #[test]
    fn random_bytes_never_panic() {
        let mut rng = SplitMix64::new(0x3329);
        let base = b"sdes-srtp;mediasec;q=0.5, msrp-tls;mediasec;x=\"a,;b\", tls;maddr=[::1]";
        let mut ok = 0;
        for _ in 0..20_000 {
            let mut b = base.to_vec();
            for _ in 0..(rng.next_u64() % 5) {
                let i = usize::try_from(rng.next_u64() % b.len() as u64).unwrap();
                b[i] = u8::try_from(rng.next_u64() % 128).unwrap();
            }
            let c = usize::try_from(rng.next_u64() % (b.len() as u64 + 1)).unwrap();
            let text = String::from_utf8_lossy(&b[..c]);
            if parse_mechanisms(&text).is_ok() {
                ok += 1;
            }
            let mut s = MediaSecState::new(MediaSecPolicy::default(), "TLS");
            let mut m = Message::response(200, "OK");
            m.push("Security-Server", text.into_owned());
            let _ = s.on_response(&m);
            let _ = s.headers_for_dialog_request();
        }
        assert!(ok > 100, "{ok}");
    }
}
