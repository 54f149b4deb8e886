//! Registering a line (issue 5 items 3 and 8): locate the registrar, open the transport, and
//! run [`Registration`] over the RFC 3261 transaction layer (retransmissions over UDP only)
//! until the line is registered or has failed.

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use mppd_config::Profile;
use mppd_config::identity::DeviceIdentity;
use mppd_core::provision::schedule::Rng;
use mppd_core::sip::call::{AnswerPolicy, IncomingConfig, LineConfig};
use mppd_core::sip::digest::DigestClient;
use mppd_core::sip::digest::{Verifier, VerifierConfig};
use mppd_core::sip::locate::Transport;
use mppd_core::sip::mediasec::{MediaSecState, Update};
use mppd_core::sip::message::Message;
use mppd_core::sip::register::{RegState, RegisterConfig, Registration};
use mppd_core::sip::transaction::{
    Event, RequestDisposition, ResponseDisposition, TransactionConfig, TransactionLayer,
};
use mppd_core::tls::{ClientApp, client_policy};
use serde::Serialize;
use tokio::sync::mpsc::UnboundedSender;
use tokio::time::Instant as TokioInstant;

use super::LineSettings;
use super::calls::{CallRecord, Calls, Direct, NotifySetup, SipTrigger, TriggerEvent};
use super::locate::{SipResolver, Target, locate};
use super::transport::{ConnectError, Connection, TlsSetup};
use crate::state::StateDir;

/// Randomness from OpenSSL's CSPRNG (Call-IDs, tags, branches, cnonces).
#[derive(Debug, Default, Clone, Copy)]
pub struct OsRng;

impl Rng for OsRng {
    fn next_u64(&mut self) -> u64 {
        let mut b = [0u8; 8];
        // rand_bytes fails only when OpenSSL's DRBG cannot be seeded: then the time and the
        // address of the buffer are the fallback (values that must differ, not be secret:
        // nonces of the verifier are HMAC-protected).
        if openssl::rand::rand_bytes(&mut b).is_err() {
            let t = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos());
            return (t as u64) ^ (std::ptr::from_ref(&b) as u64).rotate_left(17);
        }
        u64::from_le_bytes(b)
    }
}

/// How one line's registration ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LineOutcome {
    /// The line.
    pub line: u8,
    /// Whether the line is registered.
    pub registered: bool,
    /// One line for humans: what happened.
    pub summary: String,
    /// The address of record.
    pub aor: Option<String>,
    /// The transport used (`UDP`, `TCP`, `TLS`).
    pub transport: Option<String>,
    /// The registrar's address.
    pub server: Option<SocketAddr>,
    /// How the address was found (`A`, `SRV ...`, `NAPTR ...`).
    pub located_by: Option<String>,
    /// TLS: version and cipher.
    pub tls: Option<String>,
    /// The digest algorithm answered.
    pub algorithm: Option<String>,
    /// The granted expiry, seconds.
    pub expires: Option<u32>,
    /// The last final status code.
    pub code: Option<u16>,
    /// From the first REGISTER sent to the final answer, in microseconds (connection set-up
    /// and TLS handshake not included).
    pub exchange_us: Option<u64>,
}

impl LineOutcome {
    fn failed(line: u8, summary: String) -> Self {
        Self {
            line,
            registered: false,
            summary,
            aor: None,
            transport: None,
            server: None,
            located_by: None,
            tls: None,
            algorithm: None,
            expires: None,
            code: None,
            exchange_us: None,
        }
    }
}

/// Registers `line` once: every located target in turn until one answers; returns how it
/// ended. Nothing is kept running.
pub async fn register_once(
    profile: &Profile,
    state: &StateDir,
    identity: &DeviceIdentity,
    line: u8,
    resolver: &SipResolver,
) -> LineOutcome {
    let settings = match LineSettings::from_profile(profile, identity, line) {
        Ok(s) => s,
        Err(e) => return LineOutcome::failed(line, e),
    };
    let LinePlan {
        domain,
        targets,
        tls,
    } = match plan_line(profile, state, &settings, resolver).await {
        Ok(p) => p,
        Err(o) => return *o,
    };
    let mut failures = Vec::new();
    for target in &targets {
        let conn = match Connection::open(
            target,
            settings.local_port,
            &format!("SIP_Port_{line}_"),
            tls.as_ref(),
        )
        .await
        {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!("sip line {line}: {} {}: {e}", target.transport, target.addr);
                let stop = matches!(e, ConnectError::Tls(_)) && targets.len() == 1;
                failures.push(format!("{} {}: {e}", target.transport, target.addr));
                if stop {
                    break;
                }
                continue;
            }
        };
        let outcome = run_line(conn, &settings, &domain, target, None, None).await;
        if outcome.registered || outcome.code.is_some() {
            return outcome;
        }
        failures.push(outcome.summary);
    }
    LineOutcome::failed(line, failures.join("; "))
}

/// The per-line status the daemon shows (`mppd status`: `sip.lines`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LineStatus {
    /// The line.
    pub line: u8,
    /// `registering`, `registered` or `failed`.
    pub state: &'static str,
    /// What happened last, as `mppd sip register` prints it.
    pub summary: String,
    /// Seconds until the next REGISTER (refresh or retry).
    pub next_in_seconds: Option<u64>,
    /// The last outcome's details.
    pub detail: LineOutcome,
    /// The line's latest call events (incoming and outgoing), oldest first.
    pub calls: Vec<CallRecord>,
}

/// The SIP part of the daemon's status.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SipStatus {
    /// One entry per line the daemon registers.
    pub lines: Vec<LineStatus>,
    /// The latest SIP NOTIFY triggers of every line, accepted or refused (security events),
    /// oldest first; kept across reloads and restarts.
    pub triggers: Vec<TriggerEvent>,
}

impl SipStatus {
    fn add_triggers(&mut self, new: Vec<TriggerEvent>) {
        self.triggers.extend(new);
        let excess = self.triggers.len().saturating_sub(super::calls::MAX_EVENTS);
        self.triggers.drain(..excess);
    }

    /// Forgets the lines (before the agents start again), keeping the security events.
    pub fn clear_lines(&mut self) {
        self.lines.clear();
    }

    fn set(&mut self, s: LineStatus) {
        match self.lines.iter_mut().find(|l| l.line == s.line) {
            Some(l) => *l = s,
            None => {
                self.lines.push(s);
                self.lines.sort_by_key(|l| l.line);
            }
        }
    }
}

/// Shared between the line agents and the status socket.
pub type SharedSipStatus = Arc<Mutex<SipStatus>>;

/// Keeps `line` registered until the task is aborted: locate, connect, register, refresh,
/// retry after failures (`Reg_Retry_Intvl`, `Reg_Retry_Long_Intvl`), reconnect when a stream
/// breaks; the status is kept in `status`.
pub async fn keep_registered(
    profile: Profile,
    state: StateDir,
    identity: DeviceIdentity,
    line: u8,
    resolver: SipResolver,
    status: SharedSipStatus,
    triggers: Option<UnboundedSender<SipTrigger>>,
) {
    fault_injection(line);
    let publish = |s: LineStatus| {
        if let Ok(mut st) = status.lock() {
            st.set(s);
        }
    };
    loop {
        let settings = match LineSettings::from_profile(&profile, &identity, line) {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!("sip line {line}: {e}");
                publish(LineStatus {
                    line,
                    state: "failed",
                    summary: e.clone(),
                    next_in_seconds: None,
                    detail: LineOutcome::failed(line, e),
                    calls: Vec::new(),
                });
                return;
            }
        };
        let retry = settings.retry;
        let outcome = match connect_line(&profile, &state, &settings, &resolver).await {
            Ok((conn, domain, target)) => {
                run_line(
                    conn,
                    &settings,
                    &domain,
                    &target,
                    Some(&status),
                    triggers.clone(),
                )
                .await
            }
            Err(o) => o,
        };
        tracing::warn!(
            "sip line {line}: {}; next try in {}s",
            outcome.summary,
            retry.as_secs()
        );
        publish(LineStatus {
            line,
            state: "failed",
            summary: outcome.summary.clone(),
            next_in_seconds: Some(retry.as_secs()),
            detail: outcome,
            calls: Vec::new(),
        });
        tokio::time::sleep(retry).await;
    }
}

/// Where a line registers: the address-of-record domain, the targets in order, and the TLS
/// connector when a target is TLS.
struct LinePlan {
    domain: String,
    targets: Vec<Target>,
    tls: Option<TlsSetup>,
}

/// Checks the line's settings (usable, inside `Restricted_Access_Domains`), locates its
/// registrar and builds its TLS connector when needed.
async fn plan_line(
    profile: &Profile,
    state: &StateDir,
    settings: &LineSettings,
    resolver: &SipResolver,
) -> Result<LinePlan, Box<LineOutcome>> {
    let line = settings.line;
    let failed = |why: String| Box::new(LineOutcome::failed(line, why));
    if let Some(why) = settings.unusable() {
        return Err(failed(why));
    }
    settings.check_restricted(profile).map_err(failed)?;
    let Some(proxy) = settings.outbound.as_ref().or(settings.proxy.as_ref()) else {
        return Err(failed(format!("Proxy_{line}_ is empty: no registrar")));
    };
    let domain = settings
        .proxy
        .as_ref()
        .map_or_else(String::new, |p| p.domain().to_owned());
    let targets = locate(resolver, proxy, settings.transport, settings.use_srv)
        .await
        .map_err(failed)?;
    let tls = if targets.iter().any(|t| t.transport == Transport::Tls) {
        let policy = client_policy(profile, ClientApp::Sip { line });
        let (connector, warnings) =
            crate::tls::connector(&policy, state).map_err(|e| failed(format!("TLS setup: {e}")))?;
        for w in warnings {
            tracing::warn!("sip line {line}: {w}");
        }
        Some(TlsSetup { connector, policy })
    } else {
        None
    };
    Ok(LinePlan {
        domain,
        targets,
        tls,
    })
}

/// `MPPD_FAULT_INJECT=sip-agent-panic`: the first agent of the process panics, once (for the
/// supervision test; unset in normal runs).
fn fault_injection(line: u8) {
    static FIRED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
    if std::env::var("MPPD_FAULT_INJECT").is_ok_and(|v| v == "sip-agent-panic")
        && !FIRED.swap(true, std::sync::atomic::Ordering::SeqCst)
    {
        panic!("injected fault in the agent of line {line}");
    }
}

/// Locates the registrar and opens the first target that connects.
async fn connect_line(
    profile: &Profile,
    state: &StateDir,
    settings: &LineSettings,
    resolver: &SipResolver,
) -> Result<(Connection, String, Target), LineOutcome> {
    let line = settings.line;
    let plan = plan_line(profile, state, settings, resolver)
        .await
        .map_err(|o| *o)?;
    let mut failures = Vec::new();
    for target in plan.targets {
        match Connection::open(
            &target,
            settings.local_port,
            &format!("SIP_Port_{line}_"),
            plan.tls.as_ref(),
        )
        .await
        {
            Ok(c) => return Ok((c, plan.domain, target)),
            Err(e) => failures.push(format!("{} {}: {e}", target.transport, target.addr)),
        }
    }
    Err(LineOutcome::failed(line, failures.join("; ")))
}

/// One line on one open connection: its registration, transactions, calls and mediasec.
struct LineRun {
    conn: Connection,
    layer: TransactionLayer<SocketAddr>,
    reg: Registration,
    mediasec: MediaSecState,
    calls: Calls,
    pending: Option<Message>,
    rng: OsRng,
    first_sent: Option<Instant>,
    /// 503s to send for requests the transaction table had no room for.
    overloaded: Vec<Direct>,
    /// Whether the line registers (not for `mppd sip call`).
    registers: bool,
}

impl LineRun {
    fn new(conn: Connection, settings: &LineSettings, domain: &str) -> Self {
        let mut rng = OsRng;
        // Via and Contact name the line's own SIP port (`SIP_Port_n_`), also over TCP and TLS
        // whose connections leave from an ephemeral port: the binding stays the same from one
        // connection to the next, and responses follow the connection (rport) anyway.
        let local = match conn.local {
            SocketAddr::V6(a) => format!("[{}]:{}", a.ip(), settings.local_port),
            SocketAddr::V4(a) => format!("{}:{}", a.ip(), settings.local_port),
        };
        let transport = conn.transport.via();
        let cfg = RegisterConfig {
            line: settings.line,
            user: settings.user.clone(),
            display_name: settings.display_name.clone(),
            domain: domain.to_owned(),
            expires: settings.expires,
            transport,
            local: local.clone(),
            user_agent: settings.user_agent.clone(),
            retry: settings.retry,
            long_retry: settings.long_retry,
            extra_headers: Vec::new(),
        };
        let digest = DigestClient::new(
            settings.credentials.clone(),
            settings.digest,
            settings.max_auth,
        );
        let reg = Registration::new(cfg, digest, &mut rng, Instant::now());
        let mediasec = MediaSecState::new(settings.mediasec, transport);
        if let Some(why) = mediasec.inactive_reason() {
            tracing::info!(
                "sip line {}: mediasec not requested: {why:?}",
                settings.line
            );
        }
        let incoming = IncomingConfig {
            line: LineConfig {
                line: settings.line,
                user: settings.user.clone(),
                display_name: settings.display_name.clone(),
                domain: domain.to_owned(),
                transport,
                local,
                user_agent: settings.user_agent.clone(),
                media_address: conn.local.ip(),
                rtp_ports: settings.rtp_ports,
                timers: settings.timers,
                mediasec_headers: Vec::new(),
                secure_media: false,
            },
            auth_invite: settings.auth_invite,
            credentials: settings.credentials.clone(),
            answer: AnswerPolicy::default(),
            require_srtp: false,
        };
        let verifier = Verifier::new(
            VerifierConfig::new(domain, settings.digest),
            Instant::now(),
            &mut rng,
        );
        Self {
            layer: TransactionLayer::new(TransactionConfig {
                timers: settings.timers,
                ..TransactionConfig::default()
            }),
            conn,
            reg,
            mediasec,
            calls: Calls::new(Some(incoming), verifier),
            pending: None,
            rng,
            first_sent: None,
            overloaded: Vec::new(),
            registers: true,
        }
    }

    /// Sends what is due; returns a send error (the connection is broken).
    async fn flush(&mut self) -> Option<String> {
        let now = Instant::now();
        if self.pending.is_none() && self.registers {
            self.pending = self.reg.poll_register(now, &mut self.rng);
        }
        if let Some(mut msg) = self.pending.take() {
            self.mediasec.apply(&mut msg);
            self.first_sent.get_or_insert(now);
            let bytes = msg.to_bytes();
            let peer = self.conn.peer;
            match msg.request_info() {
                Ok(info) => {
                    if let Err(e) = self.layer.send_request(
                        now,
                        &info,
                        self.conn.reliable(),
                        peer,
                        bytes.into(),
                    ) {
                        self.reg.handle_failure(now, format!("transaction: {e:?}"));
                    }
                }
                Err(e) => self.reg.handle_failure(now, format!("REGISTER: {e}")),
            }
        }
        let reliable = self.conn.reliable();
        let mut direct = self.calls.drain(now, &mut self.layer, reliable);
        direct.append(&mut self.overloaded);
        let mut broken = None;
        for (to, bytes) in direct {
            if let Err(e) = self.conn.send_to(to, &bytes).await {
                broken = Some(e);
            }
        }
        while let Some(t) = self.layer.poll_transmit() {
            if let Err(e) = self.conn.send_to(t.dest, &t.bytes).await {
                self.reg.handle_failure(Instant::now(), e.clone());
                broken = Some(e);
            }
        }
        while let Some(ev) = self.layer.poll_event() {
            match ev {
                Event::Timeout { timer, .. } => {
                    let why = format!("no answer from {} ({timer:?})", self.conn.peer);
                    if self.reg.in_flight() {
                        self.reg.handle_failure(Instant::now(), why);
                    } else {
                        self.calls.on_failure(Instant::now(), &why);
                    }
                }
                Event::TransportError { .. } => {
                    let why = format!("transport error to {}", self.conn.peer);
                    self.reg.handle_failure(Instant::now(), why);
                }
                Event::Terminated { .. } => {}
            }
        }
        broken
    }

    /// Waits for the next message or deadline and handles it. `false` when receiving failed.
    async fn wait(&mut self) -> bool {
        let deadline = [
            self.layer.poll_timeout(),
            self.reg.poll_timeout().filter(|_| self.registers),
            self.calls.poll_timeout(),
        ]
        .into_iter()
        .flatten()
        .min();
        let sleep = async {
            match deadline {
                Some(d) => tokio::time::sleep_until(TokioInstant::from_std(d)).await,
                None => std::future::pending::<()>().await,
            }
        };
        tokio::select! {
            received = self.conn.recv() => match received {
                Ok((msg, from)) => {
                    self.handle(&msg, from);
                    true
                }
                Err(e) => {
                    self.reg.handle_failure(Instant::now(), e);
                    false
                }
            },
            () = sleep => {
                let now = Instant::now();
                self.layer.handle_timeout(now);
                self.calls.handle_timeout(now, &mut self.rng);
                true
            }
        }
    }

    fn handle(&mut self, msg: &Message, from: SocketAddr) {
        let now = Instant::now();
        if msg.code().is_some() {
            let Ok(info) = msg.response_info() else {
                return;
            };
            let invite = info.cseq_method == "INVITE";
            let delivered = match self.layer.handle_response(now, &info, || Vec::new().into()) {
                ResponseDisposition::Deliver { .. } => true,
                // A re-sent 2xx to INVITE: the call ACKs it again.
                ResponseDisposition::Stray => invite && (200..300).contains(&info.status),
                ResponseDisposition::Absorbed { .. } => false,
            };
            if !delivered {
                return;
            }
            if self.reg.matches(msg) {
                if msg.code().is_some_and(|c| c >= 200) {
                    let update = self.mediasec.on_response(msg);
                    match &update {
                        Update::Ignored(why) => {
                            tracing::warn!("sip: Security-Server ignored: {why:?}");
                        }
                        Update::ServerList { negotiated } => {
                            tracing::info!("sip: mediasec agreed (SRTP: {negotiated})");
                            self.calls.set_mediasec(
                                self.mediasec.headers_for_dialog_request(),
                                *negotiated,
                            );
                        }
                        _ => {}
                    }
                    self.pending = self.reg.handle_response(now, msg, &mut self.rng);
                    if msg.code() == Some(494) && matches!(update, Update::ServerList { .. }) {
                        self.reg.retry_now(now);
                    }
                }
            } else {
                self.calls.on_response(now, msg, &mut self.rng);
            }
            return;
        }
        let Ok(info) = msg.request_info() else { return };
        let reliable = self.conn.reliable();
        let tx = match self.layer.handle_request(now, &info, reliable, from) {
            RequestDisposition::New { tx } => Some(tx),
            RequestDisposition::Stray => None,
            RequestDisposition::Absorbed { .. } => return,
            RequestDisposition::Overloaded => {
                let r = msg.reply(503, "Service Unavailable", Some("mppd"));
                self.overloaded.push((from, r.to_bytes()));
                return;
            }
        };
        let in_use: Vec<u16> = Vec::new();
        self.calls
            .on_request(now, msg, from, tx, &mut self.layer, &mut self.rng, &in_use);
    }
}

/// Registers on an open connection: until registered or failed (`status` `None`), or for as
/// long as the connection works (`status` given: refreshes and retries, the status updated).
async fn run_line(
    conn: Connection,
    settings: &LineSettings,
    domain: &str,
    target: &Target,
    status: Option<&SharedSipStatus>,
    triggers: Option<UnboundedSender<SipTrigger>>,
) -> LineOutcome {
    let mut outcome = LineOutcome::failed(settings.line, String::new());
    outcome.aor = Some(format!("sip:{}@{domain}", settings.user));
    outcome.transport = Some(conn.transport.via().to_owned());
    outcome.server = Some(conn.peer);
    outcome.located_by = Some(target.how.clone());
    outcome.tls = conn.tls.as_ref().map(|(v, c)| format!("{v} {c}"));
    let mut run = LineRun::new(conn, settings, domain);
    run.calls.set_notify(NotifySetup {
        policy: settings.notify,
        proxy: run.conn.peer,
        sink: triggers,
    });
    // The state last published, so that each change is logged once.
    let mut published: Option<(bool, Option<u16>, String)> = None;
    loop {
        let broken = run.flush().await;
        let (transport, peer) = (run.conn.transport, run.conn.peer);
        outcome.algorithm = run.reg.algorithm().map(|a| a.name().to_owned());
        outcome.code = run.reg.last_response().map(|(c, _)| c);
        match run.reg.state() {
            RegState::Registered { expires, .. } => {
                outcome.registered = true;
                outcome.expires = Some(*expires);
                let mut s = format!(
                    "registered {} via {transport} {peer}",
                    outcome.aor.as_deref().unwrap_or("")
                );
                if let Some(t) = &outcome.tls {
                    let _ = write!(s, " ({t})");
                }
                match &outcome.algorithm {
                    Some(a) => {
                        let _ = write!(s, ", digest {a}");
                    }
                    None => s.push_str(", no challenge"),
                }
                let _ = write!(s, ", expires {expires} s");
                if run.mediasec.negotiated() {
                    s.push_str(", mediasec (SRTP)");
                }
                outcome.summary = s;
            }
            RegState::Failed { reason, code } => {
                outcome.registered = false;
                outcome.code = *code;
                outcome.summary = format!("failed via {transport} {peer}: {reason}");
            }
            RegState::Idle | RegState::Registering => {}
        }
        let settled = matches!(
            run.reg.state(),
            RegState::Registered { .. } | RegState::Failed { .. }
        );
        if settled
            && run.pending.is_none()
            && !run.reg.in_flight()
            && let Some(t0) = run.first_sent.take()
        {
            outcome.exchange_us = Some(u64::try_from(t0.elapsed().as_micros()).unwrap_or(u64::MAX));
        }
        let Some(shared) = status else {
            if settled
                && !run.reg.in_flight()
                && run.pending.is_none()
                && run.reg.poll_timeout().is_some_and(|t| t > Instant::now())
            {
                return outcome;
            }
            if let Some(e) = broken {
                outcome.summary = e;
                return outcome;
            }
            run.wait().await;
            continue;
        };
        if settled {
            let key = (outcome.registered, outcome.code, outcome.summary.clone());
            if published.as_ref() != Some(&key) {
                if outcome.registered {
                    tracing::info!("sip line {}: {}", settings.line, outcome.summary);
                } else {
                    tracing::warn!("sip line {}: {}", settings.line, outcome.summary);
                }
                published = Some(key);
            }
        }
        if let Ok(mut st) = shared.lock() {
            st.set(LineStatus {
                line: settings.line,
                state: match run.reg.state() {
                    RegState::Registered { .. } => "registered",
                    RegState::Failed { .. } => "failed",
                    RegState::Idle | RegState::Registering => "registering",
                },
                summary: outcome.summary.clone(),
                next_in_seconds: run
                    .reg
                    .poll_timeout()
                    .map(|t| t.saturating_duration_since(Instant::now()).as_secs()),
                detail: outcome.clone(),
                calls: run.calls.events().cloned().collect(),
            });
            st.add_triggers(run.calls.take_triggers());
        }
        if broken.is_some() && run.conn.reliable() {
            return outcome;
        }
        if !run.wait().await && run.conn.reliable() {
            // The stream broke: reconnect.
            return outcome;
        }
    }
}

/// How `mppd sip call` ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CallOutcome {
    /// Whether the call was established (answered and acknowledged).
    pub established: bool,
    /// The call's events, in order.
    pub events: Vec<CallRecord>,
    /// Why the call could not start, when it did not.
    pub error: Option<String>,
}

/// How [`call_once`] places its call.
#[derive(Debug, Clone, Copy)]
pub struct CallOptions {
    /// Hang up this long after the call is established.
    pub hangup_after: std::time::Duration,
    /// Answer only digest challenges of this hash (`mppd sip call --digest`), as a client that
    /// supports nothing else would; the line's policy still applies.
    pub digest_only: Option<mppd_core::sip::digest::Hash>,
}

/// Places one call on `line` to `target` through the line's outbound proxy or proxy, without
/// registering: INVITE with an SDP offer, digest answers to 401/407, ACK, and BYE after
/// `options.hangup_after` (or when the other side hangs up).
pub async fn call_once(
    profile: &Profile,
    state: &StateDir,
    identity: &DeviceIdentity,
    line: u8,
    target: &str,
    options: CallOptions,
    resolver: &SipResolver,
) -> CallOutcome {
    let fail = |e: String| CallOutcome {
        established: false,
        events: Vec::new(),
        error: Some(e),
    };
    let settings = match LineSettings::from_profile(profile, identity, line) {
        Ok(s) => s,
        Err(e) => return fail(e),
    };
    if let Some(hash) = options.digest_only {
        let alg = mppd_core::sip::digest::Algorithm { hash, sess: false };
        if !settings.digest.allows(alg) {
            return fail(if settings.digest.fips {
                format!("--digest {alg}: FIPS_Mode refuses MD5")
            } else {
                format!(
                    "--digest {alg}: line {line} answers SHA algorithms only with \
                     Auth_Support_RFC8760_{line}_ (or Auth_Support_RFC8760) Yes"
                )
            });
        }
    }
    let (conn, domain, _) = match connect_line(profile, state, &settings, resolver).await {
        Ok(c) => c,
        Err(o) => return fail(o.summary),
    };
    let peer = conn.peer;
    let mut run = LineRun::new(conn, &settings, &domain);
    run.registers = false;
    let Some(cfg) = run.calls.incoming_line() else {
        return fail("the line has no call settings".to_owned());
    };
    let mut digest = DigestClient::new(
        settings.credentials.clone(),
        settings.digest,
        settings.max_auth,
    );
    if let Some(hash) = options.digest_only {
        digest = digest.only(hash);
    }
    let call = match mppd_core::sip::call::OutgoingCall::new(
        Instant::now(),
        target,
        cfg,
        digest,
        Some(options.hangup_after),
        &mut run.rng,
        &[],
    ) {
        Ok(c) => c,
        Err(e) => return fail(format!("cannot call {target:?}: {e}")),
    };
    run.calls.add_outgoing(call, peer);
    loop {
        if let Some(e) = run.flush().await {
            return CallOutcome {
                established: false,
                events: run.calls.events().cloned().collect(),
                error: Some(e),
            };
        }
        if run.calls.is_empty() {
            let events: Vec<CallRecord> = run.calls.events().cloned().collect();
            return CallOutcome {
                established: events.iter().any(|e| e.state == "established"),
                events,
                error: None,
            };
        }
        if !run.wait().await && run.conn.reliable() {
            return CallOutcome {
                established: false,
                events: run.calls.events().cloned().collect(),
                error: Some(format!("the connection to {peer} broke")),
            };
        }
    }
}
