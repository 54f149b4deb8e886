//! Registration of one line (SPEC §3, §4, §8; issue 5 item 3), sans-IO.
//!
//! [`Registration`] builds each REGISTER (same Call-ID and From tag for the life of the
//! binding, CSeq counting up, a new branch each time), answers 401/407 with the line's digest
//! client (RFC 8760 algorithm choice, `Max_Auth` bound), and schedules what comes next:
//!
//! - after a 2xx: the refresh, at half the granted expiry but never more than 10 minutes
//!   before it ends (the expiry is the Contact's `expires` for our Contact, else `Expires`,
//!   else what was asked);
//! - after a failure: a retry after `Reg_Retry_Intvl` (no answer, transport failure, 5xx/6xx
//!   other than 503... all transient failures) or `Reg_Retry_Long_Intvl` (a 4xx final answer
//!   such as 403 or 404, or credentials refused: retrying soon would not help).
//!
//! Times come in as `now`; the caller sends the messages it gets and feeds back the responses
//! (and transaction timeouts, as [`Registration::handle_failure`]).

use std::time::{Duration, Instant};

use super::digest::{
    Algorithm, AuthError, AuthSession, DigestClient, RequestTarget, challenge_headers,
};
use super::message::{Message, param, split_commas};
use crate::provision::schedule::Rng;

/// What a line registers with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegisterConfig {
    /// The line (1-based).
    pub line: u8,
    /// `User_ID_n_`: the user part of the address of record.
    pub user: String,
    /// `Display_Name_n_`.
    pub display_name: String,
    /// The registrar domain (the host of `Proxy_n_`).
    pub domain: String,
    /// `Register_Expires_n_`, seconds.
    pub expires: u32,
    /// The Via transport token: `UDP`, `TCP` or `TLS`.
    pub transport: &'static str,
    /// The phone's address as the registrar should reach it (`host:port`), for Via and
    /// Contact.
    pub local: String,
    /// The User-Agent header.
    pub user_agent: String,
    /// `Reg_Retry_Intvl`.
    pub retry: Duration,
    /// `Reg_Retry_Long_Intvl`.
    pub long_retry: Duration,
    /// Extra headers for every REGISTER (MediaSec `Security-Client`, `Require`...).
    pub extra_headers: Vec<(String, String)>,
}

/// Where a line stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RegState {
    /// Nothing sent yet.
    Idle,
    /// A REGISTER is on its way.
    Registering,
    /// Bound until `until`.
    Registered {
        /// When the binding ends unless refreshed.
        until: Instant,
        /// The expiry the registrar granted, seconds.
        expires: u32,
    },
    /// The last attempt failed; the next try is scheduled.
    Failed {
        /// What failed (`403 Forbidden`, `no answer (Timer F)`, ...).
        reason: String,
        /// The final status code when there was one.
        code: Option<u16>,
    },
}

/// The registration of one line.
#[derive(Debug)]
pub struct Registration {
    cfg: RegisterConfig,
    digest: DigestClient,
    session: AuthSession,
    call_id: String,
    from_tag: String,
    cseq: u32,
    state: RegState,
    /// When the next REGISTER is due (`None` while one is in flight).
    next_at: Option<Instant>,
    /// The CSeq and branch of the REGISTER in flight.
    in_flight: Option<(u32, String)>,
    algorithm: Option<Algorithm>,
    /// The last final response (for status): code and reason.
    last_response: Option<(u16, String)>,
}

fn token(rng: &mut dyn Rng) -> String {
    format!("{:016x}", rng.next_u64())
}

impl Registration {
    /// A line to register, due at `now`.
    pub fn new(cfg: RegisterConfig, digest: DigestClient, rng: &mut dyn Rng, now: Instant) -> Self {
        let call_id = format!("{}{}@mppd", token(rng), token(rng));
        Self {
            cfg,
            digest,
            session: AuthSession::default(),
            call_id,
            from_tag: token(rng),
            cseq: 0,
            state: RegState::Idle,
            next_at: Some(now),
            in_flight: None,
            algorithm: None,
            last_response: None,
        }
    }

    /// The line.
    pub fn line(&self) -> u8 {
        self.cfg.line
    }

    /// Where the line stands.
    pub fn state(&self) -> &RegState {
        &self.state
    }

    /// The digest algorithm of the last answered challenge.
    pub fn algorithm(&self) -> Option<Algorithm> {
        self.algorithm
    }

    /// The last final response: code and reason.
    pub fn last_response(&self) -> Option<(u16, &str)> {
        self.last_response.as_ref().map(|(c, r)| (*c, r.as_str()))
    }

    /// When the next REGISTER is due (`None` while one is in flight).
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.next_at
    }

    /// The Request-URI of every REGISTER.
    pub fn request_uri(&self) -> String {
        format!("sip:{}", self.cfg.domain)
    }

    /// The REGISTER to send now, if one is due (a new binding, a refresh or a retry).
    pub fn poll_register(&mut self, now: Instant, rng: &mut dyn Rng) -> Option<Message> {
        if self.next_at.is_none_or(|at| at > now) {
            return None;
        }
        self.next_at = None;
        self.session = AuthSession::default();
        if matches!(self.state, RegState::Idle | RegState::Failed { .. }) {
            self.state = RegState::Registering;
        }
        let mut msg = self.build(rng, Vec::new());
        // A refresh answers the remembered nonce at once (nc + 1).
        let uri = self.request_uri();
        let pre = self.digest.authorize(
            &RequestTarget {
                method: "REGISTER",
                uri: &uri,
                body: &[],
            },
            rng,
        );
        for h in pre {
            msg.push(h.name(), h.value);
        }
        Some(msg)
    }

    fn build(&mut self, rng: &mut dyn Rng, auth: Vec<(String, String)>) -> Message {
        self.cseq += 1;
        let branch = format!("z9hG4bK{}", token(rng));
        let c = &self.cfg;
        let aor = format!("sip:{}@{}", c.user, c.domain);
        let name = if c.display_name.is_empty() {
            String::new()
        } else {
            format!("\"{}\" ", c.display_name.replace(['"', '\\'], ""))
        };
        let transport_param = match c.transport {
            "UDP" => String::new(),
            t => format!(";transport={}", t.to_ascii_lowercase()),
        };
        let mut m = Message::request("REGISTER", &self.request_uri());
        m.push(
            "Via",
            format!("SIP/2.0/{} {};branch={branch};rport", c.transport, c.local),
        )
        .push("Max-Forwards", "70")
        .push("From", format!("{name}<{aor}>;tag={}", self.from_tag))
        .push("To", format!("{name}<{aor}>"))
        .push("Call-ID", self.call_id.clone())
        .push("CSeq", format!("{} REGISTER", self.cseq))
        .push(
            "Contact",
            format!("<sip:{}@{}{transport_param}>", c.user, c.local),
        )
        .push("Expires", c.expires.to_string())
        .push("Allow", "INVITE, ACK, CANCEL, BYE, OPTIONS, NOTIFY")
        .push("User-Agent", c.user_agent.clone());
        for (n, v) in &c.extra_headers {
            m.push(n, v.clone());
        }
        for (n, v) in auth {
            m.push(&n, v);
        }
        self.in_flight = Some((self.cseq, branch));
        m
    }

    /// Whether `response` answers the REGISTER in flight.
    pub fn matches(&self, response: &Message) -> bool {
        match (&self.in_flight, response.cseq(), response.via_branch()) {
            (Some((cseq, branch)), Some((n, "REGISTER")), Some(b)) => n == *cseq && b == branch,
            _ => false,
        }
    }

    /// A response to the REGISTER in flight. Returns the REGISTER to send next at once (the
    /// challenge answered), if any.
    pub fn handle_response(
        &mut self,
        now: Instant,
        response: &Message,
        rng: &mut dyn Rng,
    ) -> Option<Message> {
        if !self.matches(response) {
            return None;
        }
        let code = response.code()?;
        if code < 200 {
            return None;
        }
        self.in_flight = None;
        let reason = match &response.start {
            super::message::StartLine::Response { reason, .. } => reason.clone(),
            super::message::StartLine::Request { .. } => String::new(),
        };
        self.last_response = Some((code, reason.clone()));
        match code {
            200..=299 => {
                let granted = self.granted_expires(response);
                if granted == 0 {
                    self.fail(now, code, format!("{code} {reason}: no binding granted"));
                    return None;
                }
                let refresh = u64::from(granted / 2).max(u64::from(granted.saturating_sub(600)));
                self.state = RegState::Registered {
                    until: now + Duration::from_secs(u64::from(granted)),
                    expires: granted,
                };
                self.next_at = Some(now + Duration::from_secs(refresh.max(1)));
                None
            }
            401 | 407 => {
                let headers = challenge_headers(response);
                let uri = self.request_uri();
                let target = RequestTarget {
                    method: "REGISTER",
                    uri: &uri,
                    body: &[],
                };
                match self
                    .digest
                    .respond(&mut self.session, &headers, &target, rng)
                {
                    Ok(answers) => {
                        self.algorithm = answers.first().map(|a| a.algorithm);
                        let auth = answers
                            .into_iter()
                            .map(|a| (a.name().to_owned(), a.value))
                            .collect();
                        Some(self.build(rng, auth))
                    }
                    Err(e) => {
                        let why = match &e {
                            AuthError::Refused { .. } | AuthError::TooManyChallenges { .. } => {
                                format!("{code} {reason}: credentials refused ({e})")
                            }
                            _ => format!("{code} {reason}: {e}"),
                        };
                        self.fail(now, code, why);
                        None
                    }
                }
            }
            _ => {
                self.fail(now, code, format!("{code} {reason}"));
                None
            }
        }
    }

    /// Whether a REGISTER is on its way (sent, no final answer yet).
    pub fn in_flight(&self) -> bool {
        self.in_flight.is_some()
    }

    /// Sends the next REGISTER at once after a failure (a 494 whose security agreement the
    /// shell has just taken: RFC 3329 §2.3.1). Nothing happens otherwise.
    pub fn retry_now(&mut self, now: Instant) {
        if matches!(self.state, RegState::Failed { .. }) && self.in_flight.is_none() {
            self.next_at = Some(now);
        }
    }

    /// The REGISTER in flight got no final answer (a transaction timeout, a transport error
    /// or a TLS failure): `reason` says which.
    pub fn handle_failure(&mut self, now: Instant, reason: String) {
        self.in_flight = None;
        self.state = RegState::Failed { reason, code: None };
        self.next_at = Some(now + self.cfg.retry);
        self.digest.clear();
    }

    fn fail(&mut self, now: Instant, code: u16, reason: String) {
        let wait = if (400..500).contains(&code) {
            self.cfg.long_retry
        } else {
            self.cfg.retry
        };
        self.state = RegState::Failed {
            reason,
            code: Some(code),
        };
        self.next_at = Some(now + wait);
        self.digest.clear();
    }

    /// The expiry the registrar granted: the `expires` parameter of our Contact in the 2xx,
    /// else its `Expires` header, else what we asked.
    fn granted_expires(&self, response: &Message) -> u32 {
        let ours = format!("@{}", self.cfg.local);
        for contact in response.headers_named("Contact") {
            for c in split_commas(contact) {
                if c.contains(&ours)
                    && let Some(e) = param(c.rsplit_once('>').map_or(c, |(_, p)| p), "expires")
                        .and_then(|e| e.parse().ok())
                {
                    return e;
                }
            }
        }
        response
            .header("Expires")
            .and_then(|e| e.trim().parse().ok())
            .unwrap_or(self.cfg.expires)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use crate::provision::schedule::SplitMix64;
    use crate::sip::digest::{Credentials, DigestPolicy, Hash};

    fn config() -> RegisterConfig {
        RegisterConfig {
            line: 1,
            user: "1001".to_owned(),
            display_name: "Desk".to_owned(),
            domain: "mppd.test".to_owned(),
            expires: 3600,
            transport: "UDP",
            local: "127.0.0.1:5060".to_owned(),
            user_agent: "mppd-test".to_owned(),
            retry: Duration::from_secs(30),
            long_retry: Duration::from_secs(1200),
            extra_headers: vec![],
        }
    }

    fn registration(rfc8760: bool) -> (Registration, SplitMix64, Instant) {
        let mut rng = SplitMix64::new(1);
        let now = Instant::now();
        let digest = DigestClient::new(
            Credentials {
                username: "1001".to_owned(),
                password: "secret".to_owned(),
            },
            DigestPolicy {
                rfc8760,
                fips: false,
            },
            2,
        );
        (Registration::new(config(), digest, &mut rng, now), rng, now)
    }

    fn reply(req: &Message, code: u16, reason: &str, extra: &[(&str, &str)]) -> Message {
        let mut r = req.reply(code, reason, Some("srv"));
        for (n, v) in extra {
            r.push(n, *v);
        }
        Message::parse(&r.to_bytes()).unwrap()
    }

    #[test]
    fn challenge_then_ok_then_refresh_with_the_remembered_nonce() {
        let (mut reg, mut rng, now) = registration(true);
        let first = reg.poll_register(now, &mut rng).unwrap();
        assert!(reg.poll_register(now, &mut rng).is_none(), "one in flight");
        assert_eq!(first.cseq(), Some((1, "REGISTER")));
        assert!(first.header("Authorization").is_none());
        let challenge = reply(
            &first,
            401,
            "Unauthorized",
            &[
                (
                    "WWW-Authenticate",
                    "Digest realm=\"mppd.test\", nonce=\"n1\", qop=\"auth\", algorithm=SHA-512-256",
                ),
                (
                    "WWW-Authenticate",
                    "Digest realm=\"mppd.test\", nonce=\"n1\", qop=\"auth\", algorithm=MD5",
                ),
            ],
        );
        let second = reg.handle_response(now, &challenge, &mut rng).unwrap();
        assert_eq!(second.cseq(), Some((2, "REGISTER")));
        assert_eq!(second.call_id(), first.call_id());
        assert_ne!(second.via_branch(), first.via_branch());
        let auth = second.header("Authorization").unwrap();
        assert!(auth.contains("algorithm=SHA-512-256"), "{auth}");
        assert_eq!(reg.algorithm().map(|a| a.hash), Some(Hash::Sha512_256));
        let ok = reply(
            &second,
            200,
            "OK",
            &[(
                "Contact",
                "<sip:1001@127.0.0.1:5060>;expires=120, <sip:1001@10.0.0.9:5060>;expires=999",
            )],
        );
        assert!(reg.handle_response(now, &ok, &mut rng).is_none());
        assert_eq!(
            reg.state(),
            &RegState::Registered {
                until: now + Duration::from_secs(120),
                expires: 120
            }
        );
        assert_eq!(reg.poll_timeout(), Some(now + Duration::from_secs(60)));
        assert!(
            reg.poll_register(now + Duration::from_secs(59), &mut rng)
                .is_none()
        );
        let refresh = reg
            .poll_register(now + Duration::from_secs(60), &mut rng)
            .unwrap();
        let auth = refresh.header("Authorization").unwrap();
        assert!(
            auth.contains("nc=00000002") && auth.contains("nonce=\"n1\""),
            "{auth}"
        );
    }

    #[test]
    fn refused_credentials_and_errors_schedule_retries() {
        let (mut reg, mut rng, now) = registration(false);
        let first = reg.poll_register(now, &mut rng).unwrap();
        let ch = [(
            "WWW-Authenticate",
            "Digest realm=\"mppd.test\", nonce=\"n1\", algorithm=MD5",
        )];
        let second = reg
            .handle_response(now, &reply(&first, 401, "Unauthorized", &ch), &mut rng)
            .unwrap();
        // The same nonce again: the credentials were refused.
        assert!(
            reg.handle_response(now, &reply(&second, 401, "Unauthorized", &ch), &mut rng)
                .is_none()
        );
        match reg.state() {
            RegState::Failed { reason, code } => {
                assert_eq!(*code, Some(401));
                assert!(reason.contains("credentials refused"), "{reason}");
            }
            s => panic!("{s:?}"),
        }
        assert_eq!(reg.poll_timeout(), Some(now + Duration::from_secs(1200)));

        let later = now + Duration::from_secs(1200);
        let third = reg.poll_register(later, &mut rng).unwrap();
        assert!(third.header("Authorization").is_none(), "nonces forgotten");
        reg.handle_response(
            later,
            &reply(&third, 503, "Service Unavailable", &[]),
            &mut rng,
        );
        assert_eq!(reg.poll_timeout(), Some(later + Duration::from_secs(30)));
        assert_eq!(reg.last_response(), Some((503, "Service Unavailable")));

        let t = later + Duration::from_secs(30);
        let fourth = reg.poll_register(t, &mut rng).unwrap();
        // A response to another request is ignored.
        let mut other = reply(&fourth, 200, "OK", &[]);
        other.remove("CSeq");
        other.push("CSeq", "99 REGISTER");
        assert!(reg.handle_response(t, &other, &mut rng).is_none());
        assert_eq!(reg.state(), &RegState::Registering);
        reg.handle_failure(t, "no answer (Timer F)".to_owned());
        assert_eq!(reg.poll_timeout(), Some(t + Duration::from_secs(30)));
    }

    #[test]
    fn register_headers() {
        let (mut reg, mut rng, now) = registration(true);
        let m = reg.poll_register(now, &mut rng).unwrap();
        let text = String::from_utf8(m.to_bytes()).unwrap();
        assert!(
            text.starts_with("REGISTER sip:mppd.test SIP/2.0\r\n"),
            "{text}"
        );
        for h in [
            "From: \"Desk\" <sip:1001@mppd.test>;tag=",
            "To: \"Desk\" <sip:1001@mppd.test>\r\n",
            "Contact: <sip:1001@127.0.0.1:5060>\r\n",
            "Expires: 3600\r\n",
            "Via: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bK",
        ] {
            assert!(text.contains(h), "{h}\n{text}");
        }
    }
}
