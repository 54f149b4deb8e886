//! The calls of a line in the shell (issue 5 items 5 and 6): incoming INVITEs become
//! [`IncomingCall`]s (Auth INVITE with the line's [`Verifier`]), the phone's own calls are
//! [`OutgoingCall`]s; this module routes their messages through the transaction layer and the
//! line's connection, and keeps their events for the status.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::time::Instant;

use mppd_core::provision::schedule::Rng;
use mppd_core::sip::call::{
    CallDirection, CallEvent, CallState, CallTransmit, IncomingCall, IncomingConfig, OutgoingCall,
    SendVia,
};
use mppd_core::sip::digest::Verifier;
use mppd_core::sip::message::Message;
use mppd_core::sip::notify::{NotifyGuard, NotifyPolicy, TriggerKind};
use mppd_core::sip::transaction::{TransactionLayer, TxId};
use serde::Serialize;

/// How many call events the status keeps.
pub const MAX_EVENTS: usize = 50;

/// A call event as the status shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CallRecord {
    /// `incoming` or `outgoing`.
    pub direction: &'static str,
    /// The line.
    pub line: u8,
    /// The remote party.
    pub remote: String,
    /// `calling`, `challenged`, `ringing`, `established`, `ended`, `failed`.
    pub state: &'static str,
    /// Why.
    pub reason: Option<String>,
    /// The digest algorithm that authenticated the call.
    pub algorithm: Option<String>,
    /// Whether the media is SRTP.
    pub secure_media: bool,
}

impl From<&CallEvent> for CallRecord {
    fn from(e: &CallEvent) -> Self {
        Self {
            direction: match e.direction {
                CallDirection::Incoming => "incoming",
                CallDirection::Outgoing => "outgoing",
            },
            line: e.line,
            remote: e.remote.clone(),
            state: match e.state {
                CallState::Calling => "calling",
                CallState::Challenged => "challenged",
                CallState::Ringing => "ringing",
                CallState::Established => "established",
                CallState::Ended => "ended",
                CallState::Failed => "failed",
            },
            reason: e.reason.clone(),
            algorithm: e.algorithm.map(|a| a.name().to_owned()),
            secure_media: e.secure_media,
        }
    }
}

enum Call {
    In(Box<IncomingCall>),
    Out(Box<OutgoingCall>),
}

impl Call {
    fn matches(&self, m: &Message) -> bool {
        match self {
            Self::In(c) => c.matches(m),
            Self::Out(c) => c.matches(m),
        }
    }

    fn is_ended(&self) -> bool {
        match self {
            Self::In(c) => c.is_ended(),
            Self::Out(c) => c.is_ended(),
        }
    }

    fn poll_transmit(&mut self) -> Option<CallTransmit> {
        match self {
            Self::In(c) => c.poll_transmit(),
            Self::Out(c) => c.poll_transmit(),
        }
    }

    fn poll_event(&mut self) -> Option<CallEvent> {
        match self {
            Self::In(c) => c.poll_event(),
            Self::Out(c) => c.poll_event(),
        }
    }

    fn poll_timeout(&self) -> Option<Instant> {
        match self {
            Self::In(c) => c.poll_timeout(),
            Self::Out(c) => c.poll_timeout(),
        }
    }
}

/// Bytes to send directly (no transaction) to an address.
pub type Direct = (SocketAddr, Vec<u8>);

/// An accepted SIP NOTIFY trigger, for the daemon.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SipTrigger {
    /// The line it came to.
    pub line: u8,
    /// What to do.
    pub kind: TriggerKind,
}

/// A NOTIFY as the status shows it (a security event).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TriggerEvent {
    /// The line.
    pub line: u8,
    /// Unix seconds.
    pub at: u64,
    /// Who sent it.
    pub from: String,
    /// The event (`resync`, `reboot_now`, ...).
    pub event: String,
    /// Whether the phone acted on it.
    pub accepted: bool,
    /// The status code answered.
    pub code: u16,
    /// Why, or how it was authenticated.
    pub reason: String,
}

/// The NOTIFY side of a line.
#[derive(Debug)]
pub struct NotifySetup {
    /// `Resync_From_SIP` and `Auth_Resync-Reboot_n_`.
    pub policy: NotifyPolicy,
    /// The line's own proxy (NOTIFYs from it are obeyed without a challenge when
    /// `Auth_Resync-Reboot_n_` is No).
    pub proxy: SocketAddr,
    /// Where accepted triggers go (the daemon); `None`: acknowledged, not acted on.
    pub sink: Option<tokio::sync::mpsc::UnboundedSender<SipTrigger>>,
}

/// The calls of one line.
pub struct Calls {
    config: Option<IncomingConfig>,
    verifier: Verifier,
    calls: Vec<(Call, SocketAddr)>,
    server_tx: HashMap<(String, String), TxId>,
    events: VecDeque<CallRecord>,
    notify: Option<NotifySetup>,
    guard: NotifyGuard,
    /// Trigger events not yet moved to the status.
    triggers: Vec<TriggerEvent>,
}

impl std::fmt::Debug for Calls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Calls")
            .field("calls", &self.calls.len())
            .field("events", &self.events)
            .finish_non_exhaustive()
    }
}

impl Calls {
    /// Calls of a line: `config` `None` refuses incoming calls (480).
    pub fn new(config: Option<IncomingConfig>, verifier: Verifier) -> Self {
        Self {
            config,
            verifier,
            calls: Vec::new(),
            server_tx: HashMap::new(),
            events: VecDeque::new(),
            notify: None,
            guard: NotifyGuard::default(),
            triggers: Vec::new(),
        }
    }

    /// Handles NOTIFY triggers as `setup` says (without it, a NOTIFY gets 489).
    pub fn set_notify(&mut self, setup: NotifySetup) {
        self.notify = Some(setup);
    }

    /// The NOTIFY security events since the last call, oldest first.
    pub fn take_triggers(&mut self) -> Vec<TriggerEvent> {
        std::mem::take(&mut self.triggers)
    }

    fn on_notify(
        &mut self,
        now: Instant,
        msg: &Message,
        from: SocketAddr,
        tx: Option<TxId>,
        layer: &mut TransactionLayer<SocketAddr>,
        rng: &mut dyn Rng,
    ) {
        let (Some(setup), Some(cfg)) = (&self.notify, &self.config) else {
            if let Some(tx) = tx {
                let r = msg.reply(489, "Bad Event", Some("mppd"));
                let _ = layer.respond(now, tx, 489, r.to_bytes().into());
            }
            return;
        };
        let d = self.guard.decide(
            now,
            msg,
            setup.policy,
            &self.verifier,
            &cfg.credentials,
            from.ip() == setup.proxy.ip(),
            mppd_core::sip::digest::DEFAULT_NONCE_LIFETIME,
            rng,
        );
        if let Some(tx) = tx {
            let code = d.response.code().unwrap_or(500);
            let _ = layer.respond(now, tx, code, d.response.to_bytes().into());
        }
        let line = cfg.line.line;
        let r = &d.record;
        if r.accepted {
            tracing::warn!(
                "sip line {line}: NOTIFY {} from {from} accepted: {}",
                r.event,
                r.reason
            );
        } else {
            tracing::warn!(
                "sip line {line}: NOTIFY {} from {from} not acted on ({}): {}",
                r.event,
                r.code,
                r.reason
            );
        }
        self.triggers.push(TriggerEvent {
            at: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs()),
            line,
            from: from.to_string(),
            event: r.event.clone(),
            accepted: r.accepted,
            code: r.code,
            reason: r.reason.clone(),
        });
        if let (Some(kind), Some(sink)) = (d.trigger, &setup.sink) {
            let _ = sink.send(SipTrigger { line, kind });
        }
    }

    /// The line settings of the calls (for an outgoing call), when incoming calls are
    /// configured.
    pub fn incoming_line(&self) -> Option<mppd_core::sip::call::LineConfig> {
        self.config.as_ref().map(|c| c.line.clone())
    }

    /// The line's media-plane security after a mediasec agreement: the headers of INVITE/BYE
    /// and whether calls use `RTP/SAVP` with SDES keys.
    pub fn set_mediasec(&mut self, headers: Vec<(String, String)>, secure_media: bool) {
        if let Some(c) = &mut self.config {
            c.line.mediasec_headers = headers;
            c.line.secure_media = secure_media;
        }
    }

    /// Starts an outgoing call whose requests go to `dest`.
    pub fn add_outgoing(&mut self, call: OutgoingCall, dest: SocketAddr) {
        self.calls.push((Call::Out(Box::new(call)), dest));
    }

    /// Whether no call is left.
    pub fn is_empty(&self) -> bool {
        self.calls.is_empty()
    }

    /// Hangs up every established or ringing outgoing call.
    pub fn hangup_all(&mut self, now: Instant, rng: &mut dyn Rng) {
        for (c, _) in &mut self.calls {
            match c {
                Call::In(c) => c.hangup(now, rng),
                Call::Out(c) => c.hangup(now, rng),
            }
        }
    }

    /// The events so far, oldest first (at most [`MAX_EVENTS`]).
    pub fn events(&self) -> impl Iterator<Item = &CallRecord> {
        self.events.iter()
    }

    /// A request the transaction layer reported as new (`tx`) or as stray (an ACK of a 2xx,
    /// `tx` `None`), from `from`.
    #[allow(clippy::too_many_arguments)]
    pub fn on_request(
        &mut self,
        now: Instant,
        msg: &Message,
        from: SocketAddr,
        tx: Option<TxId>,
        layer: &mut TransactionLayer<SocketAddr>,
        rng: &mut dyn Rng,
        in_use: &[u16],
    ) {
        let method = msg.method().unwrap_or_default().to_owned();
        if let (Some(tx), Some(branch)) = (tx, msg.via_branch()) {
            self.server_tx
                .insert((branch.to_owned(), method.clone()), tx);
        }
        if let Some((call, _)) = self.calls.iter_mut().find(|(c, _)| c.matches(msg)) {
            match call {
                Call::In(c) => c.handle_request(now, msg, &self.verifier, rng),
                Call::Out(c) => c.handle_request(now, msg),
            }
            return;
        }
        let reply = |layer: &mut TransactionLayer<SocketAddr>, code: u16, reason: &str| {
            if let Some(tx) = tx {
                let r = msg.reply(code, reason, Some("mppd"));
                let _ = layer.respond(now, tx, code, r.to_bytes().into());
            }
        };
        match method.as_str() {
            "INVITE" if msg.to_tag().is_none() => {
                let Some(cfg) = self.config.clone() else {
                    reply(layer, 480, "Temporarily Unavailable");
                    return;
                };
                match IncomingCall::new(now, msg, cfg, &self.verifier, rng, in_use) {
                    Ok(call) => self.calls.push((Call::In(Box::new(call)), from)),
                    Err(refused) => {
                        tracing::warn!(
                            "sip: incoming INVITE from {from} refused: {}",
                            refused.error
                        );
                        if let (Some(r), Some(tx)) = (refused.response, tx) {
                            let code = r.code().unwrap_or(500);
                            let _ = layer.respond(now, tx, code, r.to_bytes().into());
                        }
                    }
                }
            }
            "OPTIONS" => reply(layer, 200, "OK"),
            "NOTIFY" if msg.to_tag().is_none() => self.on_notify(now, msg, from, tx, layer, rng),
            "ACK" => {}
            _ if msg.to_tag().is_some() => reply(layer, 481, "Call/Transaction Does Not Exist"),
            _ => reply(layer, 501, "Not Implemented"),
        }
    }

    /// A response the transaction layer delivered (not to a REGISTER).
    pub fn on_response(&mut self, now: Instant, msg: &Message, rng: &mut dyn Rng) {
        if let Some((call, _)) = self.calls.iter_mut().find(|(c, _)| c.matches(msg)) {
            match call {
                Call::In(c) => c.handle_response(now, msg),
                Call::Out(c) => c.handle_response(now, msg, rng),
            }
        }
    }

    /// A client transaction of a call timed out or failed.
    pub fn on_failure(&mut self, now: Instant, reason: &str) {
        for (c, _) in &mut self.calls {
            match c {
                Call::In(c) => c.handle_failure(now, reason),
                Call::Out(c) => c.handle_failure(now, reason),
            }
        }
    }

    /// The earliest timer of the calls.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.calls
            .iter()
            .filter_map(|(c, _)| c.poll_timeout())
            .min()
    }

    /// Runs the calls' timers due at `now`.
    pub fn handle_timeout(&mut self, now: Instant, rng: &mut dyn Rng) {
        for (c, _) in &mut self.calls {
            if c.poll_timeout().is_some_and(|t| t <= now) {
                match c {
                    Call::In(c) => c.handle_timeout(now, rng),
                    Call::Out(c) => c.handle_timeout(now, rng),
                }
            }
        }
    }

    /// Moves the calls' messages into the transaction layer (responses, requests) or out as
    /// direct sends (2xx re-sends, ACKs of 2xx); records events; drops ended calls.
    pub fn drain(
        &mut self,
        now: Instant,
        layer: &mut TransactionLayer<SocketAddr>,
        reliable: bool,
    ) -> Vec<Direct> {
        let mut direct = Vec::new();
        for (call, peer) in &mut self.calls {
            while let Some(t) = call.poll_transmit() {
                let bytes = t.message.to_bytes();
                match t.via {
                    SendVia::Response => {
                        let key = (
                            t.message.via_branch().unwrap_or_default().to_owned(),
                            t.message
                                .cseq()
                                .map(|(_, m)| m.to_owned())
                                .unwrap_or_default(),
                        );
                        match self.server_tx.get(&key) {
                            Some(tx) => {
                                let code = t.message.code().unwrap_or(500);
                                if layer.respond(now, *tx, code, bytes.clone().into()).is_err() {
                                    direct.push((*peer, bytes));
                                }
                            }
                            None => direct.push((*peer, bytes)),
                        }
                    }
                    SendVia::ResponseRetransmit | SendVia::Ack => direct.push((*peer, bytes)),
                    SendVia::Request => match t.message.request_info() {
                        Ok(info) => {
                            if let Err(e) =
                                layer.send_request(now, &info, reliable, *peer, bytes.into())
                            {
                                tracing::warn!("sip: call request not sent: {e:?}");
                            }
                        }
                        Err(e) => tracing::warn!("sip: call request not sent: {e}"),
                    },
                }
            }
            while let Some(e) = call.poll_event() {
                let record = CallRecord::from(&e);
                tracing::info!(
                    "sip line {}: {} call {} {}: {}{}",
                    record.line,
                    record.direction,
                    record.remote,
                    record.state,
                    record.reason.as_deref().unwrap_or(""),
                    record
                        .algorithm
                        .as_deref()
                        .map(|a| format!(" (digest {a})"))
                        .unwrap_or_default()
                );
                if self.events.len() == MAX_EVENTS {
                    self.events.pop_front();
                }
                self.events.push_back(record);
            }
        }
        self.calls.retain(|(c, _)| !c.is_ended());
        if self.calls.is_empty() {
            self.server_tx.clear();
        }
        direct
    }
}
