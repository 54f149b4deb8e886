//! Registering a line (issue 5 items 3 and 8): locate the registrar, open the transport, and
//! run [`Registration`] over the RFC 3261 transaction layer (retransmissions over UDP only)
//! until the line is registered or has failed.

use std::fmt::Write as _;
use std::net::SocketAddr;
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
    let tls = if targets.iter().any(|t| t.transport == Transport::Tls) {
        let policy = client_policy(profile, ClientApp::Sip { line });
        match crate::tls::connector(&policy, state) {
            Ok((connector, warnings)) => {
                for w in warnings {
                    tracing::warn!("sip line {line}: {w}");
                }
                Some(TlsSetup { connector, policy })
            }
            Err(e) => return LineOutcome::failed(line, format!("TLS setup: {e}")),
        }
    } else {
        None
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
        let outcome = run_registration(conn, &settings, &domain, target, timers).await;
        if outcome.registered || outcome.code.is_some() {
            return outcome;
        }
        failures.push(outcome.summary);
    }
    LineOutcome::failed(line, failures.join("; "))
}

/// One registration attempt on an open connection, until registered or failed.
async fn run_registration(
    mut conn: Connection,
    settings: &LineSettings,
    domain: &str,
    target: &Target,
    timers: TimerConfig,
) -> LineOutcome {
    let mut rng = OsRng;
    let local = match conn.local {
        SocketAddr::V6(a) => format!("[{}]:{}", a.ip(), a.port()),
        SocketAddr::V4(a) => a.to_string(),
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
    loop {
        let now = Instant::now();
        if pending.is_none() {
            pending = reg.poll_register(now, &mut rng);
        }
        if let Some(msg) = pending.take() {
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
        while let Some(t) = layer.poll_transmit() {
            if let Err(e) = conn.send(&t.bytes).await {
                reg.handle_failure(Instant::now(), e);
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
        match reg.state() {
            RegState::Registered { expires, .. } => {
                outcome.registered = true;
                outcome.expires = Some(*expires);
                outcome.algorithm = reg.algorithm().map(|a| a.name().to_owned());
                outcome.code = reg.last_response().map(|(c, _)| c);
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
                return outcome;
            }
            RegState::Failed { reason, code } => {
                outcome.code = *code;
                outcome.algorithm = reg.algorithm().map(|a| a.name().to_owned());
                outcome.summary = format!("failed via {} {}: {reason}", conn.transport, conn.peer);
                return outcome;
            }
            RegState::Idle | RegState::Registering => {}
        }
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
                Ok(msg) => {
                    let now = Instant::now();
                    if msg.code().is_some() {
                        let Ok(info) = msg.response_info() else { continue };
                        if let ResponseDisposition::Deliver { .. } =
                            layer.handle_response(now, &info, || Vec::new().into())
                        {
                            pending = reg.handle_response(now, &msg, &mut rng);
                        }
                    } else if msg.method().is_some_and(|m| m != "ACK") {
                        // Requests to a line that is only registering: OPTIONS keep-alives
                        // get 200, anything else 501 (calls are handled by the daemon).
                        let code = if msg.method() == Some("OPTIONS") { (200, "OK") } else { (501, "Not Implemented") };
                        let reply = msg.reply(code.0, code.1, Some("mppd"));
                        let _ = conn.send(&reply.to_bytes()).await;
                    }
                }
                Err(e) => reg.handle_failure(Instant::now(), e),
            },
            () = sleep => layer.handle_timeout(Instant::now()),
        }
    }
}
