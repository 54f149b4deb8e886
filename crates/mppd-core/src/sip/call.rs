//! Calls (issue 5 items 5 and 6), sans-IO: the phone's side of one INVITE dialog, incoming
//! ([`IncomingCall`], with Auth INVITE, SPEC §3) or outgoing ([`OutgoingCall`]), with an SDP
//! offer/answer ([`super::sdp`]) that uses SRTP when the line negotiated mediasec (SPEC §16).
//! Audio itself is out of scope: [`NegotiatedMedia`] says what a media engine would need.
//!
//! # Call order (both kinds)
//! - Create the call (`IncomingCall::new` for a new INVITE, `OutgoingCall::new` to dial).
//! - Feed it what concerns it: [`IncomingCall::handle_request`] /
//!   [`OutgoingCall::handle_request`] for requests of its dialog (route by
//!   [`IncomingCall::matches`] / [`OutgoingCall::matches`]), `handle_response` for responses to
//!   its requests (including 2xx retransmissions the transaction layer reports as `Stray`),
//!   `handle_failure` when a transaction of the call timed out or its transport failed.
//! - After each call, drain `poll_transmit` (send each [`CallTransmit`] as its [`SendVia`]
//!   says) and `poll_event` (status), then sleep until `poll_timeout` and call
//!   `handle_timeout`. Drop the call when `is_ended()`.
//!
//! # Decisions
//! - **Auth INVITE** (SPEC §3): the nonce is bound to the Call-ID and From tag, which the
//!   retried INVITE keeps; `Missing` is challenged again at most [`MAX_CHALLENGES`] times in
//!   all, then refused with 403; `Wrong` is refused with 403 at once; `Stale` gets a new
//!   challenge with `stale=true`. Nothing rings (no 180, no event `Ringing`) before
//!   [`Verdict::Ok`]. A challenged call that is not retried within 64×T1 ends.
//! - The answer policy runs only after authentication: [`AnswerPolicy::Reject`] sends its code
//!   without ringing; [`AnswerPolicy::Answer`] sends 180 and, after its delay, 200 with the
//!   SDP answer.
//! - An INVITE without SDP (offer in the 2xx, answer in the ACK, RFC 3264 §4) is supported.
//! - The UAS retransmits its 2xx (T1 doubling up to T2) until the ACK, and sends BYE when no
//!   ACK comes within 64×T1 (RFC 3261 §13.3.1.4). The UAC re-sends its ACK for every 2xx
//!   retransmission and answers a 2xx from another fork with ACK then BYE.
//! - Loose routing only: requests in a dialog carry the route set as `Route` headers and the
//!   remote target as Request-URI ([`CallTransmit::next_hop`] names where they go first).
//! - Re-INVITE and UPDATE are refused with 488 (the session is not changed); OPTIONS gets 200,
//!   other methods 501 / 405. The dialog stays up.
//! - The UAC sends CANCEL only after a provisional response (RFC 3261 §9.1); a hang-up before
//!   that is remembered and carried out on the first 1xx, or by ACK + BYE on a 2xx.

#[cfg(test)]
mod tests;

use std::collections::VecDeque;
use std::fmt;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use super::digest::{
    Algorithm, AuthSession, Credentials, DigestClient, RequestTarget, Verdict, Verifier,
    challenge_headers,
};
use super::message::{Message, StartLine, split_commas};
use super::sdp::{
    self, LocalMedia, NegotiatedMedia, RtpPortRange, SdpError, SessionDescription, SrtpKey,
};
use super::transaction::TimerConfig;
use crate::provision::schedule::Rng;

/// How many 401s one incoming call gets before it is refused (the first challenge included).
pub const MAX_CHALLENGES: u32 = 3;

/// What every call of a line needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineConfig {
    /// The line (1-based).
    pub line: u8,
    /// `User_ID_n_`.
    pub user: String,
    /// `Display_Name_n_`.
    pub display_name: String,
    /// The domain of the line's address of record (the host of `Proxy_n_`).
    pub domain: String,
    /// The Via transport token: `UDP`, `TCP` or `TLS`.
    pub transport: &'static str,
    /// The phone's SIP address (`host:port`) for Via and Contact.
    pub local: String,
    /// The User-Agent header.
    pub user_agent: String,
    /// The address RTP is received on.
    pub media_address: IpAddr,
    /// `RTP_Port_Min..=RTP_Port_Max`.
    pub rtp_ports: RtpPortRange,
    /// T1 and T2, for the 2xx retransmissions and the wait for ACK.
    pub timers: TimerConfig,
    /// `MediaSecState::headers_for_dialog_request()` of the line (INVITE and BYE).
    pub mediasec_headers: Vec<(String, String)>,
    /// `MediaSecState::negotiated()`: offer `RTP/SAVP` with SDES keys.
    pub secure_media: bool,
}

impl LineConfig {
    fn via(&self, branch: &str) -> String {
        format!(
            "SIP/2.0/{} {};branch={branch};rport",
            self.transport, self.local
        )
    }

    fn contact(&self) -> String {
        let transport = match self.transport {
            "UDP" => String::new(),
            t => format!(";transport={}", t.to_ascii_lowercase()),
        };
        format!("<sip:{}@{}{transport}>", self.user, self.local)
    }

    fn aor(&self) -> String {
        let name = if self.display_name.is_empty() {
            String::new()
        } else {
            format!("\"{}\" ", self.display_name.replace(['"', '\\'], ""))
        };
        format!("{name}<sip:{}@{}>", self.user, self.domain)
    }
}

/// What an incoming call does once authenticated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AnswerPolicy {
    /// Ring (180), then answer (200) after `after` (the shell's timer, via `poll_timeout`).
    Answer {
        /// How long the phone rings before answering.
        after: Duration,
    },
    /// Refuse with this final status (e.g. 486, 603) without ringing.
    Reject {
        /// The status code (400..=699).
        code: u16,
    },
}

impl Default for AnswerPolicy {
    /// Ring for one second, then answer.
    fn default() -> Self {
        Self::Answer {
            after: Duration::from_secs(1),
        }
    }
}

/// What an incoming call of a line needs besides [`LineConfig`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IncomingConfig {
    /// The line.
    pub line: LineConfig,
    /// `Auth_INVITE_n_`.
    pub auth_invite: bool,
    /// The line's own credentials (`Auth_ID_n_`/`User_ID_n_`, `Password_n_`).
    pub credentials: Credentials,
    /// Answer or reject.
    pub answer: AnswerPolicy,
    /// Refuse plain `RTP/AVP` offers with 488 (e.g. `Secure_Call_Option_n_` Required).
    pub require_srtp: bool,
}

/// Which side placed the call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallDirection {
    /// The phone was called.
    Incoming,
    /// The phone called.
    Outgoing,
}

/// Where a call stands, for status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallState {
    /// Outgoing: the INVITE is on its way (re-sent after each challenge).
    Calling,
    /// Incoming: the phone answered the INVITE with 401 and waits for the retry.
    Challenged,
    /// Ringing (incoming: 180 sent; outgoing: 1xx received).
    Ringing,
    /// The dialog is up (ACK received or sent).
    Established,
    /// The call ended after being set up or while ringing (hang-up, cancel).
    Ended,
    /// The call never came up (refused credentials, rejection, error response, timeout).
    Failed,
}

/// One status event of a call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallEvent {
    /// Incoming or outgoing.
    pub direction: CallDirection,
    /// The line.
    pub line: u8,
    /// The remote party's URI.
    pub remote: String,
    /// The new state.
    pub state: CallState,
    /// Why (for `Failed`, `Ended`, and the challenge of `Challenged`).
    pub reason: Option<String>,
    /// The digest algorithm of the credentials that authenticated the call (incoming: the
    /// caller's answer to Auth INVITE; outgoing: the phone's answer to the proxy).
    pub algorithm: Option<Algorithm>,
    /// Whether the media is SRTP.
    pub secure_media: bool,
}

/// How the shell sends a [`CallTransmit`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SendVia {
    /// A response in the server transaction of the request it answers (the request with the
    /// same top Via branch and the CSeq method): `TransactionLayer::respond`.
    Response,
    /// A 2xx to INVITE re-sent by the call itself (the server transaction has ended): send
    /// it directly to where the INVITE came from.
    ResponseRetransmit,
    /// A request that starts a client transaction (INVITE, BYE, CANCEL):
    /// `TransactionLayer::send_request`.
    Request,
    /// The ACK of a 2xx: no transaction, sent directly towards [`CallTransmit::next_hop`].
    Ack,
}

/// A message to send. `Debug` shows the start line and body length only (bodies carry SRTP
/// keys).
#[must_use]
#[derive(Clone, PartialEq, Eq)]
pub struct CallTransmit {
    /// The message.
    pub message: Message,
    /// How to send it.
    pub via: SendVia,
    /// For requests: the URI of the first hop (the first Route, else the Request-URI); the
    /// shell may send to the line's outbound proxy instead.
    pub next_hop: Option<String>,
}

impl fmt::Debug for CallTransmit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CallTransmit")
            .field("start", &self.message.start)
            .field("body_len", &self.message.body.len())
            .field("via", &self.via)
            .field("next_hop", &self.next_hop)
            .finish()
    }
}

/// Why a call could not be created or a request not handled.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CallError {
    /// The request lacks a header a call needs (`Call-ID`, From tag, `CSeq`, ...).
    Malformed(&'static str),
    /// An in-dialog request (To tag) for a dialog the phone does not have.
    UnknownDialog,
    /// The dial target is not a usable SIP URI (cut to 80 characters).
    BadTarget(String),
    /// SDP or RTP port trouble.
    Sdp(SdpError),
}

impl fmt::Display for CallError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Malformed(what) => write!(f, "request without a valid {what}"),
            Self::UnknownDialog => f.write_str("no such dialog"),
            Self::BadTarget(t) => write!(f, "bad call target {t:?}"),
            Self::Sdp(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for CallError {}

/// An INVITE the phone did not take a call for, and the response to send (in the INVITE's
/// server transaction).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused {
    /// Why.
    pub error: CallError,
    /// The response (400, 481 or 503), when the request can be answered at all.
    pub response: Option<Box<Message>>,
}

// ---------------------------------------------------------------------------------------------
// Helpers.

fn token(rng: &mut dyn Rng) -> String {
    format!("{:016x}", rng.next_u64())
}

fn branch(rng: &mut dyn Rng) -> String {
    format!("z9hG4bK{}", token(rng))
}

/// The URI of a name-addr (`"x" <sip:a@b>;p`) or addr-spec (`sip:a@b;p`) header value.
fn uri_of(v: &str) -> &str {
    match (v.find('<'), v.find('>')) {
        (Some(a), Some(b)) if a < b => v.get(a + 1..b).unwrap_or_default().trim(),
        _ => v.split(';').next().unwrap_or_default().trim(),
    }
}

/// Whether `s` can be a Request-URI: a scheme, no whitespace or control characters.
fn is_uri(s: &str) -> bool {
    s.contains(':')
        && !s
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || c == '<')
}

/// A From/To value without its `tag` parameter.
fn strip_tag(v: &str) -> String {
    let (head, params) = match v.rfind('>') {
        Some(i) => (v.get(..=i).unwrap_or(v), v.get(i + 1..).unwrap_or_default()),
        None => match v.find(';') {
            Some(i) => (v.get(..i).unwrap_or(v), v.get(i..).unwrap_or_default()),
            None => (v, ""),
        },
    };
    let mut out = head.trim().to_owned();
    for p in params.split(';').map(str::trim).filter(|p| !p.is_empty()) {
        let name = p.split('=').next().unwrap_or_default().trim();
        if !name.eq_ignore_ascii_case("tag") {
            out.push(';');
            out.push_str(p);
        }
    }
    out
}

fn reason_of(m: &Message) -> &str {
    match &m.start {
        StartLine::Response { reason, .. } => reason,
        StartLine::Request { .. } => "",
    }
}

fn request_uri(m: &Message) -> &str {
    match &m.start {
        StartLine::Request { uri, .. } => uri,
        StartLine::Response { .. } => "",
    }
}

fn reason_phrase(code: u16) -> &'static str {
    match code {
        180 => "Ringing",
        200 => "OK",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        405 => "Method Not Allowed",
        480 => "Temporarily Unavailable",
        481 => "Call/Transaction Does Not Exist",
        486 => "Busy Here",
        487 => "Request Terminated",
        488 => "Not Acceptable Here",
        500 => "Server Internal Error",
        501 => "Not Implemented",
        503 => "Service Unavailable",
        600 => "Busy Everywhere",
        603 => "Decline",
        _ => "Rejected",
    }
}

/// Every Record-Route entry in order.
fn record_route(m: &Message) -> Vec<String> {
    m.headers_named("Record-Route")
        .flat_map(split_commas)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

fn with_sdp(m: &mut Message, sdp: &SessionDescription) {
    m.push("Content-Type", "application/sdp");
    m.body = sdp.to_wire().into_bytes();
}

/// Checks a dial target and makes it a SIP URI: `1002` → `sip:1002@DOMAIN`, `a@b` →
/// `sip:a@b`, `sip:`/`sips:` URIs as given. Whitespace, control characters, `<`, `>` and `"`
/// are refused (they would inject headers).
pub fn target_uri(input: &str, domain: &str) -> Result<String, CallError> {
    let bad = || CallError::BadTarget(input.chars().take(80).collect());
    let breaks_header = |s: &str| {
        s.chars()
            .any(|c| c.is_whitespace() || c.is_control() || "<>\"".contains(c))
    };
    let t = input.trim();
    if t.is_empty() || t.len() > 256 || breaks_header(t) {
        return Err(bad());
    }
    let lower = t.to_ascii_lowercase();
    let uri = if lower.starts_with("sip:") || lower.starts_with("sips:") {
        t.to_owned()
    } else if t.contains(':') && !t.contains('@') {
        return Err(bad());
    } else if t.contains('@') {
        format!("sip:{t}")
    } else if breaks_header(domain) {
        // The line's domain completes a bare number; found by fuzzing: it was not checked.
        return Err(CallError::BadTarget(format!(
            "{t}@{}",
            domain.chars().take(80).collect::<String>()
        )));
    } else {
        format!("sip:{t}@{domain}")
    };
    let rest = uri.split_once(':').map(|(_, r)| r).unwrap_or_default();
    let host = rest.rsplit_once('@').map_or(rest, |(_, h)| h);
    if host.is_empty() || host.starts_with([';', ':']) {
        return Err(bad());
    }
    Ok(uri)
}

// ---------------------------------------------------------------------------------------------
// The dialog.

/// One dialog (RFC 3261 §12), from the phone's side.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Dialog {
    call_id: String,
    local_tag: String,
    remote_tag: String,
    /// The local party (From of our requests) without tag.
    local_uri: String,
    /// The remote party without tag.
    remote_uri: String,
    /// The remote Contact URI.
    remote_target: String,
    /// Route header values, in the order to send them.
    route_set: Vec<String>,
    local_cseq: u32,
    remote_cseq: u32,
}

impl Dialog {
    /// A request in the dialog; `cseq` is the CSeq number (ACK: that of the INVITE).
    fn request(
        &self,
        method: &str,
        cseq: u32,
        cfg: &LineConfig,
        rng: &mut dyn Rng,
    ) -> (Message, String) {
        let b = branch(rng);
        let mut m = Message::request(method, &self.remote_target);
        m.push("Via", cfg.via(&b))
            .push("Max-Forwards", "70")
            .push("From", format!("{};tag={}", self.local_uri, self.local_tag))
            .push("To", format!("{};tag={}", self.remote_uri, self.remote_tag))
            .push("Call-ID", self.call_id.clone())
            .push("CSeq", format!("{cseq} {method}"));
        for r in &self.route_set {
            m.push("Route", r.clone());
        }
        if method == "BYE" {
            for (n, v) in &cfg.mediasec_headers {
                m.push(n, v.clone());
            }
        }
        m.push("User-Agent", cfg.user_agent.clone());
        (m, b)
    }

    fn next_hop(&self) -> String {
        self.route_set
            .first()
            .map_or_else(|| self.remote_target.clone(), |r| uri_of(r).to_owned())
    }

    /// Whether `req` belongs to this dialog (Call-ID, and both tags when the request has a To
    /// tag; RFC 3261 §12.2.2).
    fn matches_request(&self, req: &Message) -> bool {
        req.call_id() == Some(self.call_id.as_str())
            && req.from_tag() == Some(self.remote_tag.as_str())
            && req.to_tag() == Some(self.local_tag.as_str())
    }
}

/// What the common in-dialog code decided about a request.
enum InDialog {
    /// Answered; nothing else changes.
    Answered(Message),
    /// BYE: answered with 200; the call ends.
    Bye(Message),
}

/// Answers an in-dialog request other than ACK/CANCEL (RFC 3261 §12.2.2).
fn in_dialog_request(dialog: &mut Dialog, req: &Message, cfg: &LineConfig) -> InDialog {
    let tag = dialog.local_tag.clone();
    let simple = |code: u16| InDialog::Answered(req.reply(code, reason_phrase(code), Some(&tag)));
    let Some((n, _)) = req.cseq() else {
        return simple(400);
    };
    if n <= dialog.remote_cseq {
        return simple(500);
    }
    dialog.remote_cseq = n;
    match req.method().unwrap_or_default() {
        "BYE" => InDialog::Bye(req.reply(200, "OK", Some(&tag))),
        "INVITE" | "UPDATE" => simple(488),
        "OPTIONS" => {
            let mut r = req.reply(200, "OK", Some(&tag));
            r.push("Allow", "INVITE, ACK, CANCEL, BYE, OPTIONS")
                .push("Contact", cfg.contact());
            InDialog::Answered(r)
        }
        "REGISTER" | "SUBSCRIBE" | "PUBLISH" => simple(405),
        _ => simple(501),
    }
}

// ---------------------------------------------------------------------------------------------
// Incoming calls.

#[derive(Debug, Clone, PartialEq, Eq)]
enum InState {
    /// 401 sent; the retried INVITE is awaited until `until`.
    Challenged { until: Instant },
    /// 180 sent; 200 due at `answer_at`.
    Ringing { answer_at: Instant },
    /// 200 sent; re-sent until the ACK.
    Answered {
        resend_at: Instant,
        interval: Duration,
        give_up_at: Instant,
    },
    /// ACK received.
    Confirmed,
    /// BYE sent; waiting for its response.
    Terminating,
    /// Over.
    Ended,
}

/// A call the phone receives. See the module docs for the call order.
pub struct IncomingCall {
    cfg: IncomingConfig,
    dialog: Dialog,
    state: InState,
    /// The INVITE whose server transaction is still open (no final response yet).
    pending: Option<Message>,
    /// The last 2xx sent (re-sent until the ACK).
    ok: Option<Message>,
    /// The CSeq number of the INVITE answered with 2xx.
    invite_cseq: u32,
    challenges: u32,
    algorithm: Option<Algorithm>,
    local: LocalMedia,
    key: SrtpKey,
    /// What the 2xx carries: the answer, or our offer when the INVITE had none.
    local_sdp: Option<SessionDescription>,
    /// Whether `local_sdp` is a (late) offer, answered in the ACK.
    late_offer: bool,
    media: Option<NegotiatedMedia>,
    transmits: VecDeque<CallTransmit>,
    events: VecDeque<CallEvent>,
}

impl fmt::Debug for IncomingCall {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IncomingCall")
            .field("line", &self.cfg.line.line)
            .field("call_id", &self.dialog.call_id)
            .field("remote", &self.dialog.remote_uri)
            .field("state", &self.state)
            .field("local_port", &self.local.port)
            .finish_non_exhaustive()
    }
}

impl IncomingCall {
    /// A call for a new INVITE (no To tag) received in server transaction of its own. The
    /// INVITE is handled at once: drain `poll_transmit` (401, or 180 and maybe 200, or a
    /// refusal). `in_use` lists RTP ports other calls hold. `Err` carries the response to
    /// send when no call can be made of it.
    pub fn new(
        now: Instant,
        invite: &Message,
        cfg: IncomingConfig,
        verifier: &Verifier,
        rng: &mut dyn Rng,
        in_use: &[u16],
    ) -> Result<Self, Refused> {
        let refuse = |error: CallError, code: u16| Refused {
            error,
            response: Some(Box::new(invite.reply(code, reason_phrase(code), None))),
        };
        if invite.method() != Some("INVITE") {
            return Err(Refused {
                error: CallError::Malformed("INVITE request line"),
                response: None,
            });
        }
        if invite.to_tag().is_some() {
            return Err(refuse(CallError::UnknownDialog, 481));
        }
        let call_id = invite
            .call_id()
            .ok_or_else(|| refuse(CallError::Malformed("Call-ID"), 400))?;
        let remote_tag = invite
            .from_tag()
            .ok_or_else(|| refuse(CallError::Malformed("From tag"), 400))?;
        let (cseq, _) = invite
            .cseq()
            .ok_or_else(|| refuse(CallError::Malformed("CSeq"), 400))?;
        let from = invite
            .header("From")
            .ok_or_else(|| refuse(CallError::Malformed("From"), 400))?;
        let to = invite
            .header("To")
            .ok_or_else(|| refuse(CallError::Malformed("To"), 400))?;
        let contact = invite
            .header("Contact")
            .map(|c| uri_of(split_commas(c).next().unwrap_or(c)).to_owned())
            .filter(|c| is_uri(c))
            .ok_or_else(|| refuse(CallError::Malformed("Contact"), 400))?;
        let port = cfg
            .line
            .rtp_ports
            .choose(rng, in_use)
            .map_err(|e| refuse(CallError::Sdp(e), 503))?;
        let dialog = Dialog {
            call_id: call_id.to_owned(),
            local_tag: token(rng),
            remote_tag: remote_tag.to_owned(),
            local_uri: strip_tag(to),
            remote_uri: strip_tag(from),
            remote_target: contact,
            route_set: record_route(invite),
            local_cseq: 0,
            remote_cseq: cseq,
        };
        let local = LocalMedia {
            address: cfg.line.media_address,
            port,
            session_id: rng.next_u64() >> 1,
        };
        let key = SrtpKey::random(rng);
        let mut call = Self {
            cfg,
            dialog,
            state: InState::Challenged { until: now },
            pending: None,
            ok: None,
            invite_cseq: cseq,
            challenges: 0,
            algorithm: None,
            local,
            key,
            local_sdp: None,
            late_offer: false,
            media: None,
            transmits: VecDeque::new(),
            events: VecDeque::new(),
        };
        call.on_initial_invite(now, invite, verifier, rng);
        Ok(call)
    }

    /// The Call-ID.
    pub fn call_id(&self) -> &str {
        &self.dialog.call_id
    }

    /// The line.
    pub const fn line(&self) -> u8 {
        self.cfg.line.line
    }

    /// The RTP port the call holds.
    pub const fn local_port(&self) -> u16 {
        self.local.port
    }

    /// What the offer/answer agreed, once it has.
    pub const fn media(&self) -> Option<&NegotiatedMedia> {
        self.media.as_ref()
    }

    /// Whether the call is over (drop it after draining `poll_transmit`/`poll_event`).
    pub fn is_ended(&self) -> bool {
        self.state == InState::Ended
    }

    /// Whether `m` (a request or response) belongs to this call: same Call-ID and remote tag
    /// (the From tag of its requests).
    pub fn matches(&self, m: &Message) -> bool {
        if m.call_id() != Some(self.dialog.call_id.as_str()) {
            return false;
        }
        match m.method() {
            Some(_) => m.from_tag() == Some(self.dialog.remote_tag.as_str()),
            None => m.to_tag() == Some(self.dialog.remote_tag.as_str()),
        }
    }

    fn event(&mut self, state: CallState, reason: Option<String>) {
        self.events.push_back(CallEvent {
            direction: CallDirection::Incoming,
            line: self.cfg.line.line,
            remote: uri_of(&self.dialog.remote_uri).to_owned(),
            state,
            reason,
            algorithm: self.algorithm,
            secure_media: self.media.as_ref().is_some_and(NegotiatedMedia::secure),
        });
    }

    fn respond(&mut self, m: Message) {
        self.transmits.push_back(CallTransmit {
            message: m,
            via: SendVia::Response,
            next_hop: None,
        });
    }

    fn final_to_pending(&mut self, code: u16) {
        if let Some(inv) = self.pending.take() {
            let r = inv.reply(code, reason_phrase(code), Some(&self.dialog.local_tag));
            self.respond(r);
        }
    }

    fn fail(&mut self, code: u16, reason: String) {
        self.final_to_pending(code);
        self.state = InState::Ended;
        self.event(CallState::Failed, Some(reason));
    }

    fn binding(&self) -> Vec<u8> {
        format!("{}\n{}", self.dialog.call_id, self.dialog.remote_tag).into_bytes()
    }

    fn challenge(
        &mut self,
        now: Instant,
        invite: &Message,
        stale: bool,
        verifier: &Verifier,
        rng: &mut dyn Rng,
    ) {
        let values = verifier.challenge(now, &self.binding(), stale, rng);
        if values.is_empty() {
            self.fail(500, "Auth INVITE: no digest algorithm allowed".to_owned());
            return;
        }
        self.challenges += 1;
        let mut r = invite.reply(401, "Unauthorized", Some(&self.dialog.local_tag));
        for v in values {
            r.push("WWW-Authenticate", v);
        }
        self.respond(r);
        self.pending = None;
        self.state = InState::Challenged {
            until: now + self.cfg.line.timers.t1x64(),
        };
        let why = if stale {
            "nonce expired"
        } else {
            "credentials requested"
        };
        self.event(CallState::Challenged, Some(why.to_owned()));
    }

    /// The initial INVITE or its retry after a 401.
    fn on_initial_invite(
        &mut self,
        now: Instant,
        invite: &Message,
        verifier: &Verifier,
        rng: &mut dyn Rng,
    ) {
        self.pending = Some(invite.clone());
        if let Some((n, _)) = invite.cseq() {
            self.invite_cseq = n;
            self.dialog.remote_cseq = n;
        }
        // The retried INVITE defines the dialog (its Contact and Record-Route win).
        if let Some(c) = invite
            .header("Contact")
            .map(|c| uri_of(split_commas(c).next().unwrap_or(c)))
            .filter(|c| is_uri(c))
        {
            self.dialog.remote_target = c.to_owned();
        }
        self.dialog.route_set = record_route(invite);
        if self.cfg.auth_invite {
            let auth: Vec<&str> = invite.headers_named("Authorization").collect();
            let target = RequestTarget {
                method: "INVITE",
                uri: request_uri(invite),
                body: &invite.body,
            };
            let verdict =
                verifier.verify(now, &self.binding(), &auth, &target, &self.cfg.credentials);
            match verdict {
                Verdict::Ok(verified) => {
                    self.algorithm = Some(verified.algorithm);
                }
                Verdict::Stale => return self.challenge(now, invite, true, verifier, rng),
                Verdict::Missing if self.challenges < MAX_CHALLENGES => {
                    return self.challenge(now, invite, false, verifier, rng);
                }
                Verdict::Missing => {
                    return self.fail(
                        403,
                        format!("Auth INVITE: no credentials after {MAX_CHALLENGES} challenges"),
                    );
                }
                Verdict::Wrong(why) => {
                    return self.fail(403, format!("Auth INVITE: credentials refused ({why})"));
                }
            }
        }
        self.authorized(now, invite);
    }

    /// The INVITE is accepted for processing: SDP, then the answer policy.
    fn authorized(&mut self, now: Instant, invite: &Message) {
        if invite.body.is_empty() {
            // Late offer: ours goes in the 2xx, the answer comes in the ACK.
            let key = self.cfg.line.secure_media.then(|| self.key.clone());
            self.local_sdp = Some(sdp::offer(&self.local, key));
            self.late_offer = true;
        } else {
            let offer = match SessionDescription::parse(&invite.body) {
                Ok(o) => o,
                Err(e) => return self.fail(488, format!("bad SDP offer: {e}")),
            };
            match sdp::answer(&offer, &self.local, self.key.clone(), self.cfg.require_srtp) {
                Ok((answer, media)) => {
                    self.local_sdp = Some(answer);
                    self.media = Some(media);
                }
                Err(e) => return self.fail(488, format!("SDP offer refused: {e}")),
            }
        }
        match self.cfg.answer {
            AnswerPolicy::Reject { code } => {
                let code = if (400..=699).contains(&code) {
                    code
                } else {
                    603
                };
                self.final_to_pending(code);
                self.state = InState::Ended;
                self.event(
                    CallState::Failed,
                    Some(format!("rejected by configuration ({code})")),
                );
            }
            AnswerPolicy::Answer { after } => {
                let mut r = self.reply_in_dialog(invite, 180, "Ringing");
                r.push("Contact", self.cfg.line.contact());
                self.respond(r);
                self.state = InState::Ringing {
                    answer_at: now + after,
                };
                self.event(CallState::Ringing, None);
                if after.is_zero() {
                    self.answer(now);
                }
            }
        }
    }

    /// A reply that copies Record-Route (18x and 2xx, RFC 3261 §12.1.1).
    fn reply_in_dialog(&self, req: &Message, code: u16, reason: &str) -> Message {
        let mut r = req.reply(code, reason, Some(&self.dialog.local_tag));
        for rr in req.headers_named("Record-Route") {
            r.push("Record-Route", rr.to_owned());
        }
        r
    }

    /// Sends the 200 with the SDP answer (or the late offer).
    fn answer(&mut self, now: Instant) {
        let (Some(invite), Some(sdp)) = (self.pending.take(), self.local_sdp.clone()) else {
            return;
        };
        let mut r = self.reply_in_dialog(&invite, 200, "OK");
        r.push("Contact", self.cfg.line.contact())
            .push("Allow", "INVITE, ACK, CANCEL, BYE, OPTIONS")
            .push("User-Agent", self.cfg.line.user_agent.clone());
        with_sdp(&mut r, &sdp);
        self.ok = Some(r.clone());
        self.respond(r);
        let t1 = self.cfg.line.timers.t1;
        self.state = InState::Answered {
            resend_at: now + t1,
            interval: t1,
            give_up_at: now + self.cfg.line.timers.t1x64(),
        };
    }

    /// A request for this call (`matches` is true): the retried INVITE after a 401, ACK,
    /// BYE, CANCEL, or another in-dialog request.
    pub fn handle_request(
        &mut self,
        now: Instant,
        req: &Message,
        verifier: &Verifier,
        rng: &mut dyn Rng,
    ) {
        let method = req.method().unwrap_or_default();
        match (method, &self.state) {
            ("INVITE", InState::Challenged { .. }) if req.to_tag().is_none() => {
                let newer = req.cseq().is_some_and(|(n, _)| n > self.dialog.remote_cseq);
                if newer {
                    self.on_initial_invite(now, req, verifier, rng);
                } else {
                    self.respond(req.reply(500, "Server Internal Error", None));
                }
            }
            ("INVITE", InState::Ringing { .. } | InState::Answered { .. })
                if req.to_tag().is_none() =>
            {
                // A second initial INVITE while one is pending (RFC 3261 §14.2: 491/500).
                self.respond(req.reply(500, "Server Internal Error", None));
            }
            ("ACK", _) => self.on_ack(req, rng),
            ("CANCEL", _) => self.on_cancel(req),
            (_, InState::Ended) => {
                self.respond(req.reply(481, reason_phrase(481), None));
            }
            _ if req.to_tag() != Some(self.dialog.local_tag.as_str())
                || !self.dialog.matches_request(req) =>
            {
                self.respond(req.reply(481, reason_phrase(481), None));
            }
            _ => match in_dialog_request(&mut self.dialog, req, &self.cfg.line) {
                InDialog::Answered(r) => self.respond(r),
                InDialog::Bye(r) => {
                    self.respond(r);
                    self.final_to_pending(487);
                    self.ok = None;
                    self.state = InState::Ended;
                    self.event(CallState::Ended, Some("remote hangup".to_owned()));
                }
            },
        }
    }

    fn on_ack(&mut self, ack: &Message, rng: &mut dyn Rng) {
        let ours = ack.to_tag() == Some(self.dialog.local_tag.as_str())
            && ack.cseq().is_some_and(|(n, _)| n == self.invite_cseq);
        if !ours || !matches!(self.state, InState::Answered { .. }) {
            return; // ACK of a non-2xx (absorbed by the transaction layer) or a duplicate.
        }
        self.ok = None;
        self.state = InState::Confirmed;
        if self.late_offer
            && let Some(offer) = self.local_sdp.clone()
        {
            self.late_offer = false;
            let answer =
                SessionDescription::parse(&ack.body).and_then(|a| sdp::accept_answer(&offer, &a));
            match answer {
                Ok(m) => self.media = Some(m),
                Err(e) => {
                    self.event(CallState::Established, None);
                    return self.bye(format!("bad SDP answer in ACK: {e}"), rng);
                }
            }
        }
        self.event(CallState::Established, None);
    }

    fn on_cancel(&mut self, cancel: &Message) {
        let pending_branch = self.pending.as_ref().and_then(Message::via_branch);
        if pending_branch.is_none() || pending_branch != cancel.via_branch() {
            self.respond(cancel.reply(481, reason_phrase(481), Some(&self.dialog.local_tag)));
            return;
        }
        self.respond(cancel.reply(200, "OK", Some(&self.dialog.local_tag)));
        self.final_to_pending(487);
        self.state = InState::Ended;
        self.event(CallState::Ended, Some("cancelled by the caller".to_owned()));
    }

    /// Sends BYE; the call ends when its response (or failure) comes.
    fn bye(&mut self, reason: String, rng: &mut dyn Rng) {
        let t = bye_request(&mut self.dialog, &self.cfg.line, 0, rng);
        self.transmits.push_back(t);
        self.ok = None;
        self.state = InState::Terminating;
        self.event(CallState::Ended, Some(reason));
    }

    /// The user (or `--hangup-after`) hangs up: BYE once answered, 603 Decline while ringing
    /// or challenged.
    pub fn hangup(&mut self, _now: Instant, rng: &mut dyn Rng) {
        match self.state {
            InState::Answered { .. } | InState::Confirmed => {
                self.bye("local hangup".to_owned(), rng);
            }
            InState::Ringing { .. } | InState::Challenged { .. } => {
                self.final_to_pending(603);
                self.state = InState::Ended;
                self.event(CallState::Ended, Some("declined".to_owned()));
            }
            InState::Terminating | InState::Ended => {}
        }
    }

    /// A response to a request the call sent (its BYE): the call ends.
    pub fn handle_response(&mut self, _now: Instant, response: &Message) {
        if self.state == InState::Terminating
            && response.cseq().is_some_and(|(_, m)| m == "BYE")
            && response.code().is_some_and(|c| c >= 200)
        {
            self.state = InState::Ended;
        }
    }

    /// A client transaction of the call (its BYE) timed out or failed.
    pub fn handle_failure(&mut self, _now: Instant, _reason: &str) {
        if self.state == InState::Terminating {
            self.state = InState::Ended;
        }
    }

    /// When `handle_timeout` is due.
    pub fn poll_timeout(&self) -> Option<Instant> {
        match self.state {
            InState::Challenged { until } => Some(until),
            InState::Ringing { answer_at } => Some(answer_at),
            InState::Answered {
                resend_at,
                give_up_at,
                ..
            } => Some(resend_at.min(give_up_at)),
            InState::Confirmed | InState::Terminating | InState::Ended => None,
        }
    }

    /// Fires what is due at `now`: the answer after ringing, 2xx retransmissions, the end of
    /// an unanswered challenge, BYE when the ACK never came.
    pub fn handle_timeout(&mut self, now: Instant, rng: &mut dyn Rng) {
        match self.state.clone() {
            InState::Challenged { until } if now >= until => {
                self.state = InState::Ended;
                self.event(
                    CallState::Failed,
                    Some("Auth INVITE: challenge not answered".to_owned()),
                );
            }
            InState::Ringing { answer_at } if now >= answer_at => self.answer(now),
            InState::Answered { give_up_at, .. } if now >= give_up_at => {
                self.bye("no ACK for the 200 OK".to_owned(), rng);
            }
            InState::Answered {
                resend_at,
                interval,
                give_up_at,
            } if now >= resend_at => {
                if let Some(ok) = self.ok.clone() {
                    self.transmits.push_back(CallTransmit {
                        message: ok,
                        via: SendVia::ResponseRetransmit,
                        next_hop: None,
                    });
                }
                let interval = (interval * 2).min(self.cfg.line.timers.t2);
                self.state = InState::Answered {
                    resend_at: now + interval,
                    interval,
                    give_up_at,
                };
            }
            _ => {}
        }
    }

    /// The next message to send.
    pub fn poll_transmit(&mut self) -> Option<CallTransmit> {
        self.transmits.pop_front()
    }

    /// The next status event.
    pub fn poll_event(&mut self) -> Option<CallEvent> {
        self.events.pop_front()
    }
}

// ---------------------------------------------------------------------------------------------
// Outgoing calls.

#[derive(Debug, Clone, PartialEq, Eq)]
enum OutState {
    /// INVITE sent, no provisional yet.
    Calling,
    /// A provisional came.
    Ringing,
    /// CANCEL sent; waiting for the INVITE's final response.
    Cancelling,
    /// ACK sent.
    Established,
    /// BYE sent.
    Terminating,
    /// Over.
    Ended,
}

/// A call the phone places. See the module docs for the call order.
pub struct OutgoingCall {
    cfg: LineConfig,
    digest: DigestClient,
    session: AuthSession,
    target: String,
    call_id: String,
    local_tag: String,
    cseq: u32,
    /// The INVITE in flight (for CANCEL and the ACK of non-2xx responses).
    invite: Message,
    offer: SessionDescription,
    state: OutState,
    /// Hang up as soon as possible (before any provisional response).
    hangup_pending: bool,
    hangup_after: Option<Duration>,
    hangup_at: Option<Instant>,
    dialog: Option<Dialog>,
    /// The ACK sent for the 2xx (re-sent on its retransmissions).
    ack: Option<CallTransmit>,
    algorithm: Option<Algorithm>,
    media: Option<NegotiatedMedia>,
    transmits: VecDeque<CallTransmit>,
    events: VecDeque<CallEvent>,
}

impl fmt::Debug for OutgoingCall {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OutgoingCall")
            .field("line", &self.cfg.line)
            .field("call_id", &self.call_id)
            .field("target", &self.target)
            .field("state", &self.state)
            .field("cseq", &self.cseq)
            .finish_non_exhaustive()
    }
}

impl OutgoingCall {
    /// Dials `target` (see [`target_uri`]) on the line: the INVITE with an SDP offer on a
    /// free even port of the RTP range (`RTP/SAVP` with an SDES key when
    /// `cfg.secure_media`), ready in `poll_transmit`. `digest` answers 401/407 (bounded by its
    /// `Max_Auth`); `hangup_after` hangs up that long after the call is established.
    pub fn new(
        now: Instant,
        target: &str,
        cfg: LineConfig,
        digest: DigestClient,
        hangup_after: Option<Duration>,
        rng: &mut dyn Rng,
        in_use: &[u16],
    ) -> Result<Self, CallError> {
        let _ = now;
        let target = target_uri(target, &cfg.domain)?;
        let port = cfg.rtp_ports.choose(rng, in_use).map_err(CallError::Sdp)?;
        let local = LocalMedia {
            address: cfg.media_address,
            port,
            session_id: rng.next_u64() >> 1,
        };
        let key = cfg.secure_media.then(|| SrtpKey::random(rng));
        let offer = sdp::offer(&local, key);
        let call_id = format!("{}{}@mppd", token(rng), token(rng));
        let mut call = Self {
            cfg,
            digest,
            session: AuthSession::default(),
            target,
            call_id,
            local_tag: token(rng),
            cseq: 0,
            invite: Message::request("INVITE", "sip:invalid"),
            offer,
            state: OutState::Calling,
            hangup_pending: false,
            hangup_after,
            hangup_at: None,
            dialog: None,
            ack: None,
            algorithm: None,
            media: None,
            transmits: VecDeque::new(),
            events: VecDeque::new(),
        };
        call.send_invite(rng, Vec::new());
        call.event(CallState::Calling, None);
        Ok(call)
    }

    /// The Call-ID.
    pub fn call_id(&self) -> &str {
        &self.call_id
    }

    /// The line.
    pub const fn line(&self) -> u8 {
        self.cfg.line
    }

    /// The Request-URI dialled.
    pub fn target(&self) -> &str {
        &self.target
    }

    /// The RTP port the call holds.
    pub fn local_port(&self) -> u16 {
        self.offer.media.first().map_or(0, |m| m.port)
    }

    /// What the offer/answer agreed, once it has.
    pub const fn media(&self) -> Option<&NegotiatedMedia> {
        self.media.as_ref()
    }

    /// Whether the call is over.
    pub fn is_ended(&self) -> bool {
        self.state == OutState::Ended
    }

    /// Whether `m` belongs to this call (same Call-ID and our From tag).
    pub fn matches(&self, m: &Message) -> bool {
        if m.call_id() != Some(self.call_id.as_str()) {
            return false;
        }
        match m.method() {
            Some(_) => m.to_tag() == Some(self.local_tag.as_str()),
            None => m.from_tag() == Some(self.local_tag.as_str()),
        }
    }

    fn event(&mut self, state: CallState, reason: Option<String>) {
        self.events.push_back(CallEvent {
            direction: CallDirection::Outgoing,
            line: self.cfg.line,
            remote: self.target.clone(),
            state,
            reason,
            algorithm: self.algorithm,
            secure_media: self.media.as_ref().is_some_and(NegotiatedMedia::secure),
        });
    }

    fn send_invite(&mut self, rng: &mut dyn Rng, auth: Vec<(String, String)>) {
        self.cseq += 1;
        let b = branch(rng);
        let c = &self.cfg;
        let mut m = Message::request("INVITE", &self.target);
        m.push("Via", c.via(&b))
            .push("Max-Forwards", "70")
            .push("From", format!("{};tag={}", c.aor(), self.local_tag))
            .push("To", format!("<{}>", self.target))
            .push("Call-ID", self.call_id.clone())
            .push("CSeq", format!("{} INVITE", self.cseq))
            .push("Contact", c.contact())
            .push("Allow", "INVITE, ACK, CANCEL, BYE, OPTIONS")
            .push("User-Agent", c.user_agent.clone());
        for (n, v) in &c.mediasec_headers {
            m.push(n, v.clone());
        }
        for (n, v) in auth {
            m.push(&n, v);
        }
        with_sdp(&mut m, &self.offer);
        self.invite = m.clone();
        self.transmits.push_back(CallTransmit {
            message: m,
            via: SendVia::Request,
            next_hop: Some(self.target.clone()),
        });
    }

    /// The CANCEL of the INVITE in flight (RFC 3261 §9.1).
    fn send_cancel(&mut self) {
        let inv = &self.invite;
        let mut m = Message::request("CANCEL", &self.target);
        for name in ["Via", "Max-Forwards", "From", "To", "Call-ID"] {
            if let Some(v) = inv.header(name) {
                let v = if name == "Via" {
                    inv.top_via().unwrap_or(v)
                } else {
                    v
                };
                m.push(name, v.to_owned());
            }
        }
        m.push("CSeq", format!("{} CANCEL", self.cseq));
        for r in inv.headers_named("Route") {
            m.push("Route", r.to_owned());
        }
        m.push("User-Agent", self.cfg.user_agent.clone());
        self.transmits.push_back(CallTransmit {
            message: m,
            via: SendVia::Request,
            next_hop: Some(self.target.clone()),
        });
        self.state = OutState::Cancelling;
    }

    /// The ACK of a non-2xx final response to the INVITE in flight, for the transaction
    /// layer's `build_ack` (RFC 3261 §17.1.1.3): the INVITE's Request-URI, top Via, From,
    /// Call-ID, Route and CSeq number; the response's To.
    pub fn ack_for_non_2xx(&self, response: &Message) -> Message {
        ack_for_non_2xx(&self.invite, response)
    }

    fn send_bye(&mut self, reason: String, rng: &mut dyn Rng) {
        if let Some(d) = self.dialog.as_mut() {
            let t = bye_request(d, &self.cfg, self.cseq, rng);
            self.transmits.push_back(t);
        }
        self.state = OutState::Terminating;
        self.hangup_at = None;
        self.event(CallState::Ended, Some(reason));
    }

    /// The user hangs up (or `hangup_after` elapsed): CANCEL while ringing, BYE once
    /// established; before any provisional response the hang-up waits for one.
    pub fn hangup(&mut self, _now: Instant, rng: &mut dyn Rng) {
        match self.state {
            OutState::Calling => self.hangup_pending = true,
            OutState::Ringing => self.send_cancel(),
            OutState::Established => self.send_bye("local hangup".to_owned(), rng),
            OutState::Cancelling | OutState::Terminating | OutState::Ended => {}
        }
    }

    /// A response to one of the call's requests.
    pub fn handle_response(&mut self, now: Instant, response: &Message, rng: &mut dyn Rng) {
        if !self.matches(response) {
            return;
        }
        let (Some(code), Some((n, method))) = (response.code(), response.cseq()) else {
            return;
        };
        match method {
            "INVITE" if n == self.cseq => self.on_invite_response(now, code, response, rng),
            "BYE" if code >= 200 && self.state == OutState::Terminating => {
                self.state = OutState::Ended;
            }
            _ => {}
        }
    }

    fn on_invite_response(&mut self, now: Instant, code: u16, r: &Message, rng: &mut dyn Rng) {
        match code {
            100 => {}
            101..=199 if self.state == OutState::Calling => {
                if self.hangup_pending {
                    self.send_cancel();
                } else {
                    self.state = OutState::Ringing;
                    self.event(CallState::Ringing, None);
                }
            }
            101..=199 => {}
            200..=299 => self.on_2xx(now, r, rng),
            401 | 407 if self.hangup_pending => {
                self.finish(CallState::Ended, "cancelled".to_owned())
            }
            401 | 407 if matches!(self.state, OutState::Calling | OutState::Ringing) => {
                let headers = challenge_headers(r);
                let target = RequestTarget {
                    method: "INVITE",
                    uri: &self.target.clone(),
                    body: &self.invite.body.clone(),
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
                        self.state = OutState::Calling;
                        self.send_invite(rng, auth);
                    }
                    Err(e) => {
                        self.finish(CallState::Failed, format!("{code} {}: {e}", reason_of(r)))
                    }
                }
            }
            _ if self.state == OutState::Cancelling || self.hangup_pending => {
                self.finish(CallState::Ended, "cancelled".to_owned());
            }
            _ if matches!(self.state, OutState::Calling | OutState::Ringing) => {
                self.finish(CallState::Failed, format!("{code} {}", reason_of(r)));
            }
            _ => {}
        }
    }

    fn finish(&mut self, state: CallState, reason: String) {
        self.state = OutState::Ended;
        self.event(state, Some(reason));
    }

    fn on_2xx(&mut self, now: Instant, r: &Message, rng: &mut dyn Rng) {
        let Some(remote_tag) = r.to_tag() else {
            return;
        };
        // A retransmission of the 2xx already acknowledged: the same ACK again.
        if let Some(d) = &self.dialog
            && d.remote_tag == remote_tag
        {
            if let Some(a) = self.ack.clone() {
                self.transmits.push_back(a);
            }
            return;
        }
        let contact = r
            .header("Contact")
            .map(|c| uri_of(split_commas(c).next().unwrap_or(c)).to_owned())
            .filter(|c| is_uri(c))
            .unwrap_or_else(|| self.target.clone());
        let mut route_set = record_route(r);
        route_set.reverse();
        let mut dialog = Dialog {
            call_id: self.call_id.clone(),
            local_tag: self.local_tag.clone(),
            remote_tag: remote_tag.to_owned(),
            local_uri: strip_tag(self.invite.header("From").unwrap_or_default()),
            remote_uri: strip_tag(r.header("To").unwrap_or_default()),
            remote_target: contact,
            route_set,
            local_cseq: self.cseq,
            remote_cseq: 0,
        };
        let (ack, _) = dialog.request("ACK", self.cseq, &self.cfg, rng);
        let ack = CallTransmit {
            message: ack,
            via: SendVia::Ack,
            next_hop: Some(dialog.next_hop()),
        };
        self.transmits.push_back(ack.clone());
        if self.dialog.is_some() {
            // Another fork answered too: acknowledge and release it (RFC 3261 §13.2.2.4).
            let t = bye_request(&mut dialog, &self.cfg, self.cseq, rng);
            self.transmits.push_back(t);
            return;
        }
        self.ack = Some(ack);
        let answer =
            SessionDescription::parse(&r.body).and_then(|a| sdp::accept_answer(&self.offer, &a));
        let failure = match answer {
            Ok(m) => {
                self.media = Some(m);
                None
            }
            Err(e) => Some(format!("bad SDP answer: {e}")),
        };
        let hang_up_now = self.hangup_pending || self.state == OutState::Cancelling;
        self.state = OutState::Established;
        self.dialog = Some(dialog);
        self.event(CallState::Established, None);
        if let Some(why) = failure {
            self.send_bye(why, rng);
        } else if hang_up_now {
            self.send_bye("cancelled".to_owned(), rng);
        } else {
            self.hangup_at = self.hangup_after.map(|d| now + d);
        }
    }

    /// A request in the call's dialog (BYE from the far end, OPTIONS, re-INVITE...).
    pub fn handle_request(&mut self, _now: Instant, req: &Message) {
        let Some(mut d) = self.dialog.take() else {
            let r = req.reply(481, reason_phrase(481), None);
            self.transmits.push_back(CallTransmit {
                message: r,
                via: SendVia::Response,
                next_hop: None,
            });
            return;
        };
        let respond = |m: Message| CallTransmit {
            message: m,
            via: SendVia::Response,
            next_hop: None,
        };
        if req.method() == Some("ACK") {
            self.dialog = Some(d);
            return;
        }
        if !d.matches_request(req) || self.state == OutState::Ended {
            let r = req.reply(481, reason_phrase(481), None);
            self.transmits.push_back(respond(r));
            self.dialog = Some(d);
            return;
        }
        let outcome = in_dialog_request(&mut d, req, &self.cfg);
        self.dialog = Some(d);
        match outcome {
            InDialog::Answered(r) => self.transmits.push_back(respond(r)),
            InDialog::Bye(r) => {
                self.transmits.push_back(respond(r));
                if self.state != OutState::Terminating {
                    self.event(CallState::Ended, Some("remote hangup".to_owned()));
                }
                self.state = OutState::Ended;
            }
        }
    }

    /// A client transaction of the call timed out or its transport failed (`reason` for the
    /// log: `no answer (Timer B)`, ...).
    pub fn handle_failure(&mut self, _now: Instant, reason: &str) {
        match self.state {
            OutState::Calling | OutState::Ringing | OutState::Cancelling => {
                self.finish(CallState::Failed, reason.to_owned());
            }
            OutState::Terminating => self.state = OutState::Ended,
            OutState::Established | OutState::Ended => {}
        }
    }

    /// When `handle_timeout` is due (`hangup_after`).
    pub const fn poll_timeout(&self) -> Option<Instant> {
        self.hangup_at
    }

    /// Hangs up when `hangup_after` has elapsed.
    pub fn handle_timeout(&mut self, now: Instant, rng: &mut dyn Rng) {
        if self.hangup_at.is_some_and(|at| now >= at) {
            self.hangup_at = None;
            self.hangup(now, rng);
        }
    }

    /// The next message to send.
    pub fn poll_transmit(&mut self) -> Option<CallTransmit> {
        self.transmits.pop_front()
    }

    /// The next status event.
    pub fn poll_event(&mut self) -> Option<CallEvent> {
        self.events.pop_front()
    }
}

/// The ACK of a non-2xx final `response` to `invite` (RFC 3261 §17.1.1.3).
pub fn ack_for_non_2xx(invite: &Message, response: &Message) -> Message {
    let mut m = Message::request("ACK", request_uri(invite));
    if let Some(v) = invite.top_via() {
        m.push("Via", v.to_owned());
    }
    m.push("Max-Forwards", "70");
    for name in ["From", "Call-ID"] {
        if let Some(v) = invite.header(name) {
            m.push(name, v.to_owned());
        }
    }
    if let Some(v) = response.header("To") {
        m.push("To", v.to_owned());
    }
    let n = invite.cseq().map_or(0, |(n, _)| n);
    m.push("CSeq", format!("{n} ACK"));
    for r in invite.headers_named("Route") {
        m.push("Route", r.to_owned());
    }
    m
}

/// A BYE in `dialog` with a CSeq above both the dialog's and `min_cseq`.
fn bye_request(
    dialog: &mut Dialog,
    cfg: &LineConfig,
    min_cseq: u32,
    rng: &mut dyn Rng,
) -> CallTransmit {
    dialog.local_cseq = dialog.local_cseq.max(min_cseq) + 1;
    let (m, _) = dialog.request("BYE", dialog.local_cseq, cfg, rng);
    CallTransmit {
        message: m,
        via: SendVia::Request,
        next_hop: Some(dialog.next_hop()),
    }
}
