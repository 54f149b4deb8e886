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
use mppd_core::sip::digest::DigestClient;
use mppd_core::sip::locate::Transport;
use mppd_core::sip::message::Message;
use mppd_core::sip::register::{RegState, RegisterConfig, Registration};
use mppd_core::sip::transaction::{
    Event, ResponseDisposition, TimerConfig, TransactionConfig, TransactionLayer,
};
use mppd_core::tls::{ClientApp, client_policy};
use serde::Serialize;
use tokio::time::Instant as TokioInstant;

use super::LineSettings;
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
    if let Some(why) = settings.unusable() {
        return LineOutcome::failed(line, why);
    }
    let Some(proxy) = settings.outbound.as_ref().or(settings.proxy.as_ref()) else {
        return LineOutcome::failed(line, format!("Proxy_{line}_ is empty: no registrar"));
    };
    let domain = settings
        .proxy
        .as_ref()
        .map_or_else(String::new, |p| p.domain().to_owned());
    let targets = match locate(resolver, proxy, settings.transport, settings.use_srv).await {
        Ok(t) => t,
        Err(e) => return LineOutcome::failed(line, e),
    };
    let tls = match tls_setup(profile, state, line, &targets) {
        Ok(t) => t,
        Err(o) => return *o,
    };
    let timers = TimerConfig::from_profile(profile).unwrap_or_default();
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
        let outcome = run_line(conn, &settings, &domain, target, timers, None).await;
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
}

/// The SIP part of the daemon's status.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SipStatus {
    /// One entry per line the daemon registers.
    pub lines: Vec<LineStatus>,
}

impl SipStatus {
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
) {
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
                });
                return;
            }
        };
        let retry = settings.retry;
        let outcome = match connect_line(&profile, &state, &settings, &resolver).await {
            Ok((conn, domain, target, timers)) => {
                run_line(conn, &settings, &domain, &target, timers, Some(&status)).await
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
        });
        tokio::time::sleep(retry).await;
    }
}

/// The line's TLS connector, when a target is TLS.
fn tls_setup(
    profile: &Profile,
    state: &StateDir,
    line: u8,
    targets: &[Target],
) -> Result<Option<TlsSetup>, Box<LineOutcome>> {
    if !targets.iter().any(|t| t.transport == Transport::Tls) {
        return Ok(None);
    }
    let policy = client_policy(profile, ClientApp::Sip { line });
    let (connector, warnings) = crate::tls::connector(&policy, state)
        .map_err(|e| Box::new(LineOutcome::failed(line, format!("TLS setup: {e}"))))?;
    for w in warnings {
        tracing::warn!("sip line {line}: {w}");
    }
    Ok(Some(TlsSetup { connector, policy }))
}

/// Locates the registrar and opens the first target that connects.
async fn connect_line(
    profile: &Profile,
    state: &StateDir,
    settings: &LineSettings,
    resolver: &SipResolver,
) -> Result<(Connection, String, Target, TimerConfig), LineOutcome> {
    let line = settings.line;
    if let Some(why) = settings.unusable() {
        return Err(LineOutcome::failed(line, why));
    }
    let Some(proxy) = settings.outbound.as_ref().or(settings.proxy.as_ref()) else {
        return Err(LineOutcome::failed(
            line,
            format!("Proxy_{line}_ is empty: no registrar"),
        ));
    };
    let domain = settings
        .proxy
        .as_ref()
        .map_or_else(String::new, |p| p.domain().to_owned());
    let targets = locate(resolver, proxy, settings.transport, settings.use_srv)
        .await
        .map_err(|e| LineOutcome::failed(line, e))?;
    let tls = tls_setup(profile, state, line, &targets).map_err(|o| *o)?;
    let timers = TimerConfig::from_profile(profile).unwrap_or_default();
    let mut failures = Vec::new();
    for target in targets {
        match Connection::open(
            &target,
            settings.local_port,
            &format!("SIP_Port_{line}_"),
            tls.as_ref(),
        )
        .await
        {
            Ok(c) => return Ok((c, domain, target, timers)),
            Err(e) => failures.push(format!("{} {}: {e}", target.transport, target.addr)),
        }
    }
    Err(LineOutcome::failed(line, failures.join("; ")))
}

/// Registers on an open connection: until registered or failed (`status` `None`), or for as
/// long as the connection works (`status` given: refreshes and retries, the status updated).
async fn run_line(
    mut conn: Connection,
    settings: &LineSettings,
    domain: &str,
    target: &Target,
    timers: TimerConfig,
    status: Option<&SharedSipStatus>,
) -> LineOutcome {
    let mut rng = OsRng;
    // Via and Contact name the line's own SIP port (`SIP_Port_n_`), also over TCP and TLS
    // whose connections leave from an ephemeral port: the binding stays the same from one
    // connection to the next, and responses follow the connection (rport) anyway.
    let local = match conn.local {
        SocketAddr::V6(a) => format!("[{}]:{}", a.ip(), settings.local_port),
        SocketAddr::V4(a) => format!("{}:{}", a.ip(), settings.local_port),
    };
    let cfg = RegisterConfig {
        line: settings.line,
        user: settings.user.clone(),
        display_name: settings.display_name.clone(),
        domain: domain.to_owned(),
        expires: settings.expires,
        transport: conn.transport.via(),
        local,
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
    let mut reg = Registration::new(cfg, digest, &mut rng, Instant::now());
    let mut layer: TransactionLayer<()> = TransactionLayer::new(TransactionConfig {
        timers,
        ..TransactionConfig::default()
    });
    let reliable = conn.reliable();
    let mut outcome = LineOutcome::failed(settings.line, String::new());
    outcome.aor = Some(format!("sip:{}@{domain}", settings.user));
    outcome.transport = Some(conn.transport.via().to_owned());
    outcome.server = Some(conn.peer);
    outcome.located_by = Some(target.how.clone());
    outcome.tls = conn.tls.as_ref().map(|(v, c)| format!("{v} {c}"));
    let mut pending: Option<Message> = None;
    let mut first_sent: Option<Instant> = None;
    // The state last published, so that each change is logged and published once.
    let mut published: Option<(bool, Option<u16>, String)> = None;
    loop {
        let now = Instant::now();
        if pending.is_none() {
            pending = reg.poll_register(now, &mut rng);
        }
        if let Some(msg) = pending.take() {
            first_sent.get_or_insert(now);
            let bytes = msg.to_bytes();
            match msg.request_info() {
                Ok(info) => {
                    if let Err(e) = layer.send_request(now, &info, reliable, (), bytes.into()) {
                        reg.handle_failure(now, format!("transaction: {e:?}"));
                    }
                }
                Err(e) => reg.handle_failure(now, format!("REGISTER: {e}")),
            }
        }
        let mut broken = None;
        while let Some(t) = layer.poll_transmit() {
            if let Err(e) = conn.send(&t.bytes).await {
                reg.handle_failure(Instant::now(), e.clone());
                broken = Some(e);
            }
        }
        while let Some(ev) = layer.poll_event() {
            match ev {
                Event::Timeout { timer, .. } => {
                    reg.handle_failure(
                        Instant::now(),
                        format!("no answer from {} ({timer:?})", conn.peer),
                    );
                }
                Event::TransportError { .. } => {
                    reg.handle_failure(Instant::now(), format!("transport error to {}", conn.peer));
                }
                Event::Terminated { .. } => {}
            }
        }
        outcome.algorithm = reg.algorithm().map(|a| a.name().to_owned());
        outcome.code = reg.last_response().map(|(c, _)| c);
        match reg.state() {
            RegState::Registered { expires, .. } => {
                outcome.registered = true;
                outcome.expires = Some(*expires);
                let mut s = format!(
                    "registered {} via {} {}",
                    outcome.aor.as_deref().unwrap_or(""),
                    conn.transport,
                    conn.peer
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
                outcome.summary = s;
            }
            RegState::Failed { reason, code } => {
                outcome.registered = false;
                outcome.code = *code;
                outcome.summary = format!("failed via {} {}: {reason}", conn.transport, conn.peer);
            }
            RegState::Idle | RegState::Registering => {}
        }
        let settled = matches!(
            reg.state(),
            RegState::Registered { .. } | RegState::Failed { .. }
        );
        if settled && let Some(t0) = first_sent.take() {
            outcome.exchange_us = Some(u64::try_from(t0.elapsed().as_micros()).unwrap_or(u64::MAX));
        }
        let Some(shared) = status else {
            if settled {
                return outcome;
            }
            // One attempt: a broken connection ends it too.
            if let Some(e) = broken {
                outcome.summary = e;
                return outcome;
            }
            if !wait_and_handle(&mut conn, &mut layer, &mut reg, &mut pending, &mut rng).await {
                continue;
            }
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
            if let Ok(mut st) = shared.lock() {
                st.set(LineStatus {
                    line: settings.line,
                    state: if outcome.registered {
                        "registered"
                    } else {
                        "failed"
                    },
                    summary: outcome.summary.clone(),
                    next_in_seconds: reg
                        .poll_timeout()
                        .map(|t| t.saturating_duration_since(Instant::now()).as_secs()),
                    detail: outcome.clone(),
                });
            }
        }
        if broken.is_some() && conn.reliable() {
            return outcome;
        }
        if !wait_and_handle(&mut conn, &mut layer, &mut reg, &mut pending, &mut rng).await
            && conn.reliable()
        {
            // The stream broke: reconnect.
            return outcome;
        }
    }
}

/// Waits for the next message or deadline and handles it. `false` when receiving failed.
async fn wait_and_handle(
    conn: &mut Connection,
    layer: &mut TransactionLayer<()>,
    reg: &mut Registration,
    pending: &mut Option<Message>,
    rng: &mut OsRng,
) -> bool {
    let deadline = [layer.poll_timeout(), reg.poll_timeout()]
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
        received = conn.recv() => match received {
            Ok((msg, from)) => {
                let now = Instant::now();
                if msg.code().is_some() {
                    let Ok(info) = msg.response_info() else { return true };
                    if let ResponseDisposition::Deliver { .. } =
                        layer.handle_response(now, &info, || Vec::new().into())
                    {
                        *pending = reg.handle_response(now, &msg, rng);
                    }
                } else if msg.method().is_some_and(|m| m != "ACK") {
                    // OPTIONS keep-alives get 200; calls are not handled yet: 501.
                    let (code, reason) = if msg.method() == Some("OPTIONS") {
                        (200, "OK")
                    } else {
                        (501, "Not Implemented")
                    };
                    let reply = msg.reply(code, reason, Some("mppd"));
                    let _ = conn.send_to(from, &reply.to_bytes()).await;
                }
                true
            }
            Err(e) => {
                reg.handle_failure(Instant::now(), e);
                false
            }
        },
        () = sleep => {
            layer.handle_timeout(Instant::now());
            true
        }
    }
}
