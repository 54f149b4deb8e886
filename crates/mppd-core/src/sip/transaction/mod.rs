//! The RFC 3261 §17 transaction layer, sans-IO: INVITE and non-INVITE, client and server,
//! Timers A, B, D, E, F, G, H, I, J, K on a virtual clock.
//!
//! The layer never parses SIP: the shell parses a message (with `ezk-sip-types`), hands the
//! layer a summary ([`RequestInfo`], [`ResponseInfo`]) and keeps the message itself; the layer
//! keeps the *bytes* of what it may have to retransmit (requests, the last response, the ACK of
//! a non-2xx final response) and decides when to send them again.
//!
//! # Call order
//! Build one [`TransactionLayer`] per process (or per line). Then, in any order:
//! - [`TransactionLayer::send_request`] to start a client transaction (never for ACK);
//! - [`TransactionLayer::handle_response`] for every response received, then act on the
//!   returned [`ResponseDisposition`];
//! - [`TransactionLayer::handle_request`] for every request received, then act on the returned
//!   [`RequestDisposition`];
//! - [`TransactionLayer::respond`] to send a response in a server transaction;
//! - [`TransactionLayer::handle_transport_error`] when a send failed.
//!
//! After each call, drain [`TransactionLayer::poll_transmit`] (send the bytes) and
//! [`TransactionLayer::poll_event`] (timeouts and terminations for the TU), then sleep until
//! [`TransactionLayer::poll_timeout`] and call [`TransactionLayer::handle_timeout`].
//!
//! # Decisions
//! - Plain RFC 3261: the INVITE server transaction ends when it sends a 2xx, and the INVITE client
//!   transaction when it receives one; retransmitting the 2xx and its ACK is the TU's
//!   (dialog's) job (RFC 3261 §13.3.1.4, §13.2.2.4). RFC 6026's Accepted state and Timers L/M
//!   are not implemented: after the client transaction ends, 2xx retransmissions come back as
//!   [`ResponseDisposition::Stray`] and go to the dialog layer.
//! - Timer D is `max(32 s, 64×T1)` over unreliable transports (RFC 3261 says "at least 32 s"),
//!   zero over reliable ones. Timers D, I, J, K of zero end the transaction at once.
//! - The layer does not send `100 Trying` by itself (it holds no bytes for it): the TU answers a
//!   new INVITE with 100 at once when it will not answer within 200 ms (RFC 3261 §17.2.1).
//! - Matching is by branch (RFC 3261 §17.1.3, §17.2.3), for any branch value; requests from RFC
//!   2543 peers without the `z9hG4bK` cookie are matched by branch too (no §17.2.3 fallback).
//! - Responses with a status outside 100..=699 are not for any transaction (`Stray`).
//! - [`TransactionConfig::max_transactions`] bounds the table; a new request beyond it gets
//!   [`RequestDisposition::Overloaded`] (answer 503 statelessly).

#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use mppd_config::Profile;
use mppd_config::validate::parse_milli;

/// The bytes of one message, shared between the layer and the shell.
pub type Bytes = Arc<[u8]>;

/// T1, T2 and T4 (RFC 3261 §17.1.1.1, Table 4), from `SIP_T1`, `SIP_T2`, `SIP_T4`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimerConfig {
    /// RTT estimate; the first retransmission interval.
    pub t1: Duration,
    /// The longest retransmission interval of non-INVITE requests and INVITE responses.
    pub t2: Duration,
    /// How long a message may stay in the network.
    pub t4: Duration,
}

impl Default for TimerConfig {
    /// RFC 3261 Table 4 and the registry defaults: T1 500 ms, T2 4 s, T4 5 s.
    fn default() -> Self {
        Self {
            t1: Duration::from_millis(500),
            t2: Duration::from_secs(4),
            t4: Duration::from_secs(5),
        }
    }
}

/// A timer parameter whose value cannot be used.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum TimerConfigError {
    /// Not a decimal number of seconds, or zero for T1/T2 (a zero T1 would retransmit in a loop).
    BadValue {
        /// The parameter.
        param: &'static str,
        /// Its value.
        value: String,
    },
}

impl fmt::Display for TimerConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::BadValue { param, value } => {
                write!(f, "{param} = {value:?} is not a usable number of seconds")
            }
        }
    }
}

impl std::error::Error for TimerConfigError {}

impl TimerConfig {
    /// Reads `SIP_T1`, `SIP_T2`, `SIP_T4` (decimal seconds, e.g. `.5`). T1 and T2 must be
    /// positive; a T2 below T1 is raised to T1.
    pub fn from_profile(profile: &Profile) -> Result<Self, TimerConfigError> {
        let read = |param: &'static str, positive: bool| {
            let v = profile
                .effective(param)
                .map(|v| v.trim().to_owned())
                .unwrap_or_default();
            match parse_milli(&v).and_then(|m| u64::try_from(m).ok()) {
                Some(m) if !(positive && m == 0) => Ok(Duration::from_millis(m)),
                _ => Err(TimerConfigError::BadValue { param, value: v }),
            }
        };
        let t1 = read("SIP_T1", true)?;
        let t2 = read("SIP_T2", true)?.max(t1);
        let t4 = read("SIP_T4", false)?;
        Ok(Self { t1, t2, t4 })
    }

    /// 64×T1: Timers B, F, H and J.
    pub fn t1x64(&self) -> Duration {
        self.t1.saturating_mul(64)
    }
}

/// The layer's configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TransactionConfig {
    /// T1, T2, T4.
    pub timers: TimerConfig,
    /// The most transactions alive at once (client and server together).
    pub max_transactions: usize,
}

impl Default for TransactionConfig {
    /// RFC 3261 timers; 512 transactions (a phone has a handful).
    fn default() -> Self {
        Self {
            timers: TimerConfig::default(),
            max_transactions: 512,
        }
    }
}

/// The timers of RFC 3261 §17 (Table 4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Timer {
    /// INVITE request retransmission (client, unreliable).
    A,
    /// INVITE transaction timeout (client).
    B,
    /// Wait for response retransmissions after a non-2xx final (INVITE client).
    D,
    /// Non-INVITE request retransmission (client, unreliable).
    E,
    /// Non-INVITE transaction timeout (client).
    F,
    /// INVITE final response retransmission (server, unreliable).
    G,
    /// Wait for ACK (INVITE server).
    H,
    /// Wait for ACK retransmissions (INVITE server).
    I,
    /// Wait for request retransmissions (non-INVITE server).
    J,
    /// Wait for response retransmissions (non-INVITE client).
    K,
}

/// A transaction's handle, unique for the layer's lifetime.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TxId(u64);

/// The four transaction machines.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// RFC 3261 §17.1.1.
    InviteClient,
    /// RFC 3261 §17.1.2.
    NonInviteClient,
    /// RFC 3261 §17.2.1.
    InviteServer,
    /// RFC 3261 §17.2.2.
    NonInviteServer,
}

/// A transaction state (RFC 3261 Figures 5–8). Terminated transactions leave the table, so
/// [`TransactionLayer::state`] never reports them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum State {
    /// INVITE client, request sent, nothing received.
    Calling,
    /// Non-INVITE, nothing sent back or received yet.
    Trying,
    /// A provisional response was received (client) or sent (server).
    Proceeding,
    /// A final response was received (client) or sent (server); absorbing retransmissions.
    Completed,
    /// INVITE server: the ACK arrived; absorbing ACK retransmissions.
    Confirmed,
}

/// What the layer needs of a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestInfo<'a> {
    /// The method (case-sensitive, as in the request line).
    pub method: &'a str,
    /// The `branch` of the top Via.
    pub branch: &'a str,
    /// The `sent-by` (`host[:port]`) of the top Via; compared case-insensitively.
    pub sent_by: &'a str,
}

/// What the layer needs of a response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResponseInfo<'a> {
    /// The status code.
    pub status: u16,
    /// The `branch` of the top Via.
    pub branch: &'a str,
    /// The method of the CSeq header.
    pub cseq_method: &'a str,
}

/// Bytes to send. `A` is the shell's destination (address and transport, or a connection).
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use]
pub struct Transmit<A> {
    /// The transaction that sends.
    pub tx: TxId,
    /// Where to.
    pub dest: A,
    /// The message.
    pub bytes: Bytes,
    /// Whether this is a retransmission (for counters and logs).
    pub retransmission: bool,
}

/// What the layer tells the TU on its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    /// A transaction timed out: Timer B or F (no final response: treat as 408), or H (the ACK
    /// never came).
    Timeout {
        /// The transaction.
        tx: TxId,
        /// Which timer.
        timer: Timer,
    },
    /// The transport failed for this transaction (RFC 3261 §17.1.4, §17.2.4).
    TransportError {
        /// The transaction.
        tx: TxId,
    },
    /// The transaction ended and left the table; its id will not come back.
    Terminated {
        /// The transaction.
        tx: TxId,
    },
}

/// What to do with a received response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResponseDisposition {
    /// Pass it to the TU (a provisional, or the first final response).
    Deliver {
        /// The client transaction it belongs to.
        tx: TxId,
    },
    /// A retransmission, handled by the layer (an ACK may have been queued).
    Absorbed {
        /// The client transaction it belongs to.
        tx: TxId,
    },
    /// No transaction: a 2xx to INVITE after the transaction ended goes to the dialog layer;
    /// anything else is dropped (RFC 3261 §18.1.2).
    Stray,
}

/// What to do with a received request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestDisposition {
    /// A new server transaction: pass the request to the TU, which answers with
    /// [`TransactionLayer::respond`].
    New {
        /// The new server transaction.
        tx: TxId,
    },
    /// A retransmission, or the ACK of a non-2xx final response: handled by the layer.
    Absorbed {
        /// The server transaction it belongs to.
        tx: TxId,
    },
    /// An ACK that matches no transaction (the ACK of a 2xx): pass it to the dialog layer.
    Stray,
    /// The table is full: answer 503 without a transaction.
    Overloaded,
}

/// A misuse of the layer by the shell or TU.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum TxError {
    /// No such transaction (it ended, or is of the other side).
    UnknownTransaction(TxId),
    /// ACK is never sent in a transaction of its own.
    AckIsNotATransaction,
    /// A client transaction with this branch and method exists already.
    DuplicateBranch(String),
    /// The table is full.
    Overloaded,
    /// A status code outside 100..=699.
    InvalidStatus(u16),
    /// The server transaction already sent its final response.
    FinalAlreadySent(TxId),
}

impl fmt::Display for TxError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::UnknownTransaction(tx) => write!(f, "no transaction {tx:?}"),
            Self::AckIsNotATransaction => f.write_str("ACK does not start a transaction"),
            Self::DuplicateBranch(b) => write!(f, "a client transaction uses branch {b:?}"),
            Self::Overloaded => f.write_str("too many transactions"),
            Self::InvalidStatus(s) => write!(f, "status {s} is not in 100..=699"),
            Self::FinalAlreadySent(tx) => write!(f, "{tx:?} already sent its final response"),
        }
    }
}

impl std::error::Error for TxError {}

/// The key of RFC 3261 §17.1.3 (client) and §17.2.3 (server).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key {
    Client {
        branch: String,
        method: String,
    },
    Server {
        branch: String,
        sent_by: String,
        method: String,
    },
}

impl Key {
    fn server(req: &RequestInfo<'_>) -> Self {
        let method = if req.method == "ACK" {
            "INVITE"
        } else {
            req.method
        };
        Self::Server {
            branch: req.branch.to_owned(),
            sent_by: req.sent_by.to_ascii_lowercase(),
            method: method.to_owned(),
        }
    }
}

/// A retransmission timer (A, E or G) with its current interval.
#[derive(Debug, Clone, Copy)]
struct Retransmit {
    timer: Timer,
    at: Instant,
    interval: Duration,
}

/// One transaction.
#[derive(Debug)]
struct Tx<A> {
    kind: Kind,
    state: State,
    reliable: bool,
    dest: A,
    key: Key,
    /// Client: the request. Server: the last response sent.
    message: Option<Bytes>,
    /// INVITE client: the ACK of the non-2xx final response.
    ack: Option<Bytes>,
    retransmit: Option<Retransmit>,
    deadline: Option<(Timer, Instant)>,
}

impl<A> Tx<A> {
    fn next_timeout(&self) -> Option<Instant> {
        let r = self.retransmit.map(|r| r.at);
        let d = self.deadline.map(|(_, at)| at);
        match (r, d) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }
}

/// The transaction table and its timers. See the module docs for the call order.
#[derive(Debug)]
pub struct TransactionLayer<A> {
    config: TransactionConfig,
    next_id: u64,
    txs: BTreeMap<TxId, Tx<A>>,
    index: HashMap<Key, TxId>,
    transmits: VecDeque<Transmit<A>>,
    events: VecDeque<Event>,
}

impl<A: Clone> TransactionLayer<A> {
    /// An empty layer.
    pub fn new(config: TransactionConfig) -> Self {
        Self {
            config,
            next_id: 0,
            txs: BTreeMap::new(),
            index: HashMap::new(),
            transmits: VecDeque::new(),
            events: VecDeque::new(),
        }
    }

    /// The configuration.
    pub const fn config(&self) -> &TransactionConfig {
        &self.config
    }

    /// Replaces the timers (profile change); running timers keep their deadlines.
    pub fn set_timers(&mut self, timers: TimerConfig) {
        self.config.timers = timers;
    }

    /// How many transactions are alive.
    pub fn len(&self) -> usize {
        self.txs.len()
    }

    /// Whether no transaction is alive.
    pub fn is_empty(&self) -> bool {
        self.txs.is_empty()
    }

    /// The state of a live transaction.
    pub fn state(&self, tx: TxId) -> Option<State> {
        self.txs.get(&tx).map(|t| t.state)
    }

    /// The kind of a live transaction.
    pub fn kind(&self, tx: TxId) -> Option<Kind> {
        self.txs.get(&tx).map(|t| t.kind)
    }

    /// The INVITE server transaction a CANCEL (with this top Via) targets (RFC 3261 §9.2).
    pub fn invite_for_cancel(&self, cancel: &RequestInfo<'_>) -> Option<TxId> {
        let key = Key::server(&RequestInfo {
            method: "INVITE",
            ..*cancel
        });
        self.index.get(&key).copied()
    }

    fn alloc(&mut self) -> TxId {
        self.next_id += 1;
        TxId(self.next_id)
    }

    fn push_transmit(&mut self, tx: TxId, dest: A, bytes: Bytes, retransmission: bool) {
        self.transmits.push_back(Transmit {
            tx,
            dest,
            bytes,
            retransmission,
        });
    }

    fn terminate(&mut self, id: TxId) {
        if let Some(t) = self.txs.remove(&id) {
            self.index.remove(&t.key);
            self.events.push_back(Event::Terminated { tx: id });
        }
    }

    /// Starts a client transaction for `request` (not ACK) sent to `dest`, over a reliable
    /// (TCP, TLS) or unreliable (UDP) transport, and queues its first transmission.
    pub fn send_request(
        &mut self,
        now: Instant,
        request: &RequestInfo<'_>,
        reliable: bool,
        dest: A,
        bytes: Bytes,
    ) -> Result<TxId, TxError> {
        if request.method == "ACK" {
            return Err(TxError::AckIsNotATransaction);
        }
        let key = Key::Client {
            branch: request.branch.to_owned(),
            method: request.method.to_owned(),
        };
        if self.index.contains_key(&key) {
            return Err(TxError::DuplicateBranch(request.branch.to_owned()));
        }
        if self.txs.len() >= self.config.max_transactions {
            return Err(TxError::Overloaded);
        }
        let timers = self.config.timers;
        let (kind, state, rt, dl) = if request.method == "INVITE" {
            (Kind::InviteClient, State::Calling, Timer::A, Timer::B)
        } else {
            (Kind::NonInviteClient, State::Trying, Timer::E, Timer::F)
        };
        let id = self.alloc();
        self.index.insert(key.clone(), id);
        self.txs.insert(
            id,
            Tx {
                kind,
                state,
                reliable,
                dest: dest.clone(),
                key,
                message: Some(bytes.clone()),
                ack: None,
                retransmit: (!reliable).then(|| Retransmit {
                    timer: rt,
                    at: now + timers.t1,
                    interval: timers.t1,
                }),
                deadline: Some((dl, now + timers.t1x64())),
            },
        );
        self.push_transmit(id, dest, bytes, false);
        Ok(id)
    }

    /// Routes a received response to its client transaction. `build_ack` is called once, for
    /// the first non-2xx final response to an INVITE, to get the ACK (RFC 3261 §17.1.1.3) the
    /// layer sends and re-sends for retransmissions of that response.
    pub fn handle_response(
        &mut self,
        now: Instant,
        response: &ResponseInfo<'_>,
        build_ack: impl FnOnce() -> Bytes,
    ) -> ResponseDisposition {
        let status = response.status;
        if !(100..=699).contains(&status) {
            return ResponseDisposition::Stray;
        }
        let key = Key::Client {
            branch: response.branch.to_owned(),
            method: response.cseq_method.to_owned(),
        };
        let Some(&id) = self.index.get(&key) else {
            return ResponseDisposition::Stray;
        };
        let timers = self.config.timers;
        let Some(t) = self.txs.get_mut(&id) else {
            return ResponseDisposition::Stray;
        };
        let provisional = status < 200;
        match (t.kind, t.state) {
            (Kind::InviteClient, State::Calling | State::Proceeding) => {
                if provisional {
                    t.state = State::Proceeding;
                    t.retransmit = None;
                    t.deadline = None;
                } else if status < 300 {
                    self.terminate(id);
                } else {
                    let ack = build_ack();
                    let reliable = t.reliable;
                    t.state = State::Completed;
                    t.retransmit = None;
                    t.ack = Some(ack.clone());
                    if !reliable {
                        let d = timers.t1x64().max(Duration::from_secs(32));
                        t.deadline = Some((Timer::D, now + d));
                    }
                    let dest = t.dest.clone();
                    self.push_transmit(id, dest, ack, false);
                    if reliable {
                        self.terminate(id);
                    }
                }
                ResponseDisposition::Deliver { tx: id }
            }
            (Kind::InviteClient, _) => {
                // Completed: a retransmitted final response is answered with the same ACK.
                if status >= 300
                    && let Some(ack) = t.ack.clone()
                {
                    let dest = t.dest.clone();
                    self.push_transmit(id, dest, ack, true);
                }
                ResponseDisposition::Absorbed { tx: id }
            }
            (Kind::NonInviteClient, State::Trying | State::Proceeding) => {
                if provisional {
                    t.state = State::Proceeding;
                } else {
                    t.state = State::Completed;
                    t.retransmit = None;
                    if t.reliable {
                        self.terminate(id);
                    } else {
                        t.deadline = Some((Timer::K, now + timers.t4));
                    }
                }
                ResponseDisposition::Deliver { tx: id }
            }
            (Kind::NonInviteClient, _) => ResponseDisposition::Absorbed { tx: id },
            (Kind::InviteServer | Kind::NonInviteServer, _) => ResponseDisposition::Stray,
        }
    }

    /// Routes a received request (from `source`, over a reliable or unreliable transport) to its
    /// server transaction, creating one for a new request.
    pub fn handle_request(
        &mut self,
        now: Instant,
        request: &RequestInfo<'_>,
        reliable: bool,
        source: A,
    ) -> RequestDisposition {
        let key = Key::server(request);
        let is_ack = request.method == "ACK";
        if let Some(&id) = self.index.get(&key) {
            let timers = self.config.timers;
            let Some(t) = self.txs.get_mut(&id) else {
                return RequestDisposition::Stray;
            };
            if is_ack {
                if t.state == State::Completed {
                    t.retransmit = None;
                    if t.reliable {
                        self.terminate(id);
                    } else {
                        t.state = State::Confirmed;
                        t.deadline = Some((Timer::I, now + timers.t4));
                    }
                }
                return RequestDisposition::Absorbed { tx: id };
            }
            // A retransmitted request: re-send the last response, if any (not in Confirmed).
            if t.state != State::Confirmed
                && let Some(m) = t.message.clone()
            {
                let dest = t.dest.clone();
                self.push_transmit(id, dest, m, true);
            }
            return RequestDisposition::Absorbed { tx: id };
        }
        if is_ack {
            return RequestDisposition::Stray;
        }
        if self.txs.len() >= self.config.max_transactions {
            return RequestDisposition::Overloaded;
        }
        let (kind, state) = if request.method == "INVITE" {
            (Kind::InviteServer, State::Proceeding)
        } else {
            (Kind::NonInviteServer, State::Trying)
        };
        let id = self.alloc();
        self.index.insert(key.clone(), id);
        self.txs.insert(
            id,
            Tx {
                kind,
                state,
                reliable,
                dest: source,
                key,
                message: None,
                ack: None,
                retransmit: None,
                deadline: None,
            },
        );
        RequestDisposition::New { tx: id }
    }

    /// Sends a response with `status` in server transaction `tx`.
    pub fn respond(
        &mut self,
        now: Instant,
        tx: TxId,
        status: u16,
        bytes: Bytes,
    ) -> Result<(), TxError> {
        if !(100..=699).contains(&status) {
            return Err(TxError::InvalidStatus(status));
        }
        let timers = self.config.timers;
        let t = self
            .txs
            .get_mut(&tx)
            .filter(|t| matches!(t.kind, Kind::InviteServer | Kind::NonInviteServer))
            .ok_or(TxError::UnknownTransaction(tx))?;
        if matches!(t.state, State::Completed | State::Confirmed) {
            return Err(TxError::FinalAlreadySent(tx));
        }
        t.message = Some(bytes.clone());
        let dest = t.dest.clone();
        let provisional = status < 200;
        match t.kind {
            Kind::InviteServer if provisional => {}
            Kind::InviteServer if status < 300 => {
                self.push_transmit(tx, dest, bytes, false);
                self.terminate(tx);
                return Ok(());
            }
            Kind::InviteServer => {
                t.state = State::Completed;
                t.retransmit = (!t.reliable).then(|| Retransmit {
                    timer: Timer::G,
                    at: now + timers.t1,
                    interval: timers.t1,
                });
                t.deadline = Some((Timer::H, now + timers.t1x64()));
            }
            _ if provisional => t.state = State::Proceeding,
            _ => {
                if t.reliable {
                    self.push_transmit(tx, dest, bytes, false);
                    self.terminate(tx);
                    return Ok(());
                }
                t.state = State::Completed;
                t.deadline = Some((Timer::J, now + timers.t1x64()));
            }
        }
        self.push_transmit(tx, dest, bytes, false);
        Ok(())
    }

    /// The transport could not send for `tx`: the transaction ends and the TU is told.
    pub fn handle_transport_error(&mut self, tx: TxId) -> Result<(), TxError> {
        if !self.txs.contains_key(&tx) {
            return Err(TxError::UnknownTransaction(tx));
        }
        self.events.push_back(Event::TransportError { tx });
        self.terminate(tx);
        Ok(())
    }

    /// The next bytes to send.
    pub fn poll_transmit(&mut self) -> Option<Transmit<A>> {
        self.transmits.pop_front()
    }

    /// The next event for the TU.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// When [`Self::handle_timeout`] must be called next.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.txs.values().filter_map(Tx::next_timeout).min()
    }

    /// Fires every timer due at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        let due: Vec<TxId> = self
            .txs
            .iter()
            .filter(|(_, t)| t.next_timeout().is_some_and(|at| at <= now))
            .map(|(id, _)| *id)
            .collect();
        let timers = self.config.timers;
        for id in due {
            let Some(t) = self.txs.get_mut(&id) else {
                continue;
            };
            if let Some((timer, at)) = t.deadline
                && at <= now
            {
                match timer {
                    Timer::B | Timer::F | Timer::H => {
                        self.events.push_back(Event::Timeout { tx: id, timer });
                    }
                    _ => {}
                }
                self.terminate(id);
                continue;
            }
            if let Some(r) = t.retransmit
                && r.at <= now
            {
                let interval = match (r.timer, t.state) {
                    (Timer::A, _) => r.interval.saturating_mul(2),
                    (Timer::E, State::Proceeding) => timers.t2,
                    _ => r.interval.saturating_mul(2).min(timers.t2),
                };
                t.retransmit = Some(Retransmit {
                    at: now + interval,
                    interval,
                    ..r
                });
                if let Some(m) = t.message.clone() {
                    let dest = t.dest.clone();
                    self.push_transmit(id, dest, m, true);
                }
            }
        }
    }
}
