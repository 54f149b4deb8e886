//! `mppd run`: the daemon, and `mppd status`, its client.
//!
//! The daemon loads the profile (or the embedded default), logs what each subsystem enforces,
//! serves its status on `STATE/mppd.sock` (mode 0600), reloads on SIGHUP (an invalid profile is
//! refused and the one in force stays), and stops on SIGTERM/SIGINT, removing its socket.
//! It opens no other socket and sends nothing on the network.
//!
//! The firewall (SPEC §13): with `--firewall log` (the default) the daemon only computes and
//! logs the ruleset of the profile in force. With `--firewall apply` it applies it with nft at
//! start and on every reload that changes it, removes its table when `Firewall` becomes
//! Disabled and on a clean stop (unless `--firewall-keep-on-exit`); without root or nft it
//! says so and runs on. Status reports it under `firewall`.

use std::io::{Read, Write};
use std::net::IpAddr;
use std::os::unix::fs::PermissionsExt;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use mppd_config::Profile;
use mppd_config::store::StoreError;
use mppd_config::validate;
use serde_json::{Value, json};
use tokio::io::AsyncWriteExt;
use tokio::net::UnixListener;
use tokio::signal::unix::{SignalKind, signal};
use tracing::{error, info, warn};

use crate::cli::{Failure, Format, for_log};
use crate::firewall::{Driver, FirewallMode};
use crate::provision::driver::Driver as ProvisionDriver;
use crate::sip::agents::SipAgents;
use crate::state::StateDir;
use crate::supervise::Supervisor;
use crate::web_host::{DaemonHooks, WebCommand, web_settings};
use mppd_core::sip::notify::TriggerKind;

/// Where the profile in force came from.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Source {
    Stored,
    EmbeddedDefault,
}

/// The configuration in force.
struct Loaded {
    profile: Profile,
    source: Source,
    unknown: usize,
    warnings: Vec<String>,
}

/// The daemon's status, as served on the socket.
struct Status {
    started: u64,
    generation: u64,
    loaded_at: u64,
    loaded: Loaded,
    last_reload: Option<(bool, String)>,
    firewall: Driver,
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Reads the profile in force: `STATE/profile.xml`, or the embedded default when there is none.
/// An unreadable or invalid stored profile is an error (the store only ever writes valid ones,
/// so it was edited by hand).
fn load(state: &StateDir, lines: u8) -> Result<Loaded, String> {
    let store = state.store();
    let path = store.profile_path();
    match store.load() {
        Ok(Some(profile)) => {
            let report = validate::validate(&profile);
            if !report.is_valid() {
                let problems: Vec<String> = report
                    .errors
                    .iter()
                    .map(|p| format!("{}:{}: {p}", path.display(), p.line))
                    .collect();
                return Err(problems.join("; "));
            }
            Ok(Loaded {
                unknown: report.unknown.len(),
                warnings: report
                    .warnings
                    .iter()
                    .map(|w| format!("{}:{}: {w}", path.display(), w.line))
                    .collect(),
                profile,
                source: Source::Stored,
            })
        }
        Ok(None) => Ok(Loaded {
            profile: Profile::defaults(lines),
            source: Source::EmbeddedDefault,
            unknown: 0,
            warnings: Vec::new(),
        }),
        Err(e @ StoreError::Corrupt { .. }) => Err(e.to_string()),
        Err(e) => Err(e.to_string()),
    }
}

/// Logs what each subsystem enforces under this profile.
fn log_enforcement(p: &Profile, lines: u8) {
    let v = |n: &str| p.effective(n).map(|c| c.into_owned()).unwrap_or_default();
    info!(
        tls_client_min = %v("TLS_Min_Version"),
        tls_server_min = %v("TLS_Server_Min_Version"),
        cipher_list = %if v("TLS_Cipher_List").is_empty() { "(per-application defaults)".to_owned() } else { v("TLS_Cipher_List") },
        fips = %v("FIPS_Mode"),
        "tls policy"
    );
    info!(
        provision_enable = %v("Provision_Enable"),
        profile_rule = %for_log("Profile_Rule", &v("Profile_Rule")),
        restricted_access_domains = %v("Restricted_Access_Domains"),
        resync_periodic = %v("Resync_Periodic"),
        "provisioning settings (resyncs run on the schedule; DHCP discovery is not built yet)"
    );
    for n in 1..=lines {
        let name = |base: &str| format!("{base}_{n}_");
        if !p.bool(&name("Line_Enable")) {
            info!(line = n, "line disabled");
            continue;
        }
        info!(
            line = n,
            transport = %v(&name("SIP_Transport")),
            port = %v(&name("SIP_Port")),
            proxy = %v(&name("Proxy")),
            tls_name_validate = %v(&name("TLS_Name_Validate")),
            auth_invite = %v(&name("Auth_INVITE")),
            rfc8760 = %v(&name("Auth_Support_RFC8760")),
            "sip line settings"
        );
    }
    info!(
        web_server = %v("Enable_Web_Server"),
        protocol = %v("Enable_Protocol"),
        port = %v("Web_Server_Port"),
        admin_password = if v("Admin_Password").is_empty() { "empty" } else { "set" },
        "web ui settings (not served by this build)"
    );
    info!(
        dot1x = %v("Enable_802.1X_Authentication"),
        proxy_mode = %v("Proxy_Mode"),
        ldap_server = %v("LDAP_Server"),
        vpn_server = %v("VPN_Server"),
        "other subsystem settings (802.1X, DHCP and WPAD run only on a named interface)"
    );
}

fn status_json(s: &Status) -> Value {
    json!({
        "pid": std::process::id(),
        "version": env!("CARGO_PKG_VERSION"),
        "started": s.started,
        "profile": {
            "source": match s.loaded.source {
                Source::Stored => "stored",
                Source::EmbeddedDefault => "embedded-default",
            },
            "parameters": s.loaded.profile.entries().len(),
            "unknown": s.loaded.unknown,
            "warnings": s.loaded.warnings,
            "loaded_at": s.loaded_at,
            "generation": s.generation,
        },
        "last_reload": s.last_reload.as_ref().map(|(ok, message)| json!({"ok": ok, "message": message})),
        "firewall": s.firewall.status_json(),
    })
}

fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("MPPD_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .try_init();
}

/// What the main loop does for a SIP NOTIFY or a web UI request.
#[derive(Debug)]
enum DaemonCommand {
    Resync(Option<String>),
    Report,
    Reload,
    Restart,
}

/// Runs the daemon until SIGTERM or SIGINT. Exit 1 when it cannot start.
pub fn main(
    state: StateDir,
    lines_flag: Option<u8>,
    firewall: FirewallMode,
    firewall_keep_on_exit: bool,
    web_listen: Option<IpAddr>,
) -> ExitCode {
    init_logging();
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            error!("cannot start the runtime: {e}");
            return ExitCode::from(1);
        }
    };
    let firewall = Driver::new(firewall, firewall_keep_on_exit);
    match runtime.block_on(run(state, lines_flag, firewall, web_listen)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(msg) => {
            error!("{msg}");
            ExitCode::from(1)
        }
    }
}

async fn run(
    state: StateDir,
    lines_flag: Option<u8>,
    firewall: Driver,
    web_listen: Option<IpAddr>,
) -> Result<(), String> {
    std::fs::create_dir_all(state.path()).map_err(|e| {
        format!(
            "cannot create state directory {}: {e}",
            state.path().display()
        )
    })?;
    let identity = state
        .identity()
        .map_err(|e| format!("device identity: {e}"))?;
    let lines = lines_flag
        .or(identity.identity.lines)
        .unwrap_or(mppd_config::registry::DEFAULT_LINES);
    let id = &identity.identity;
    info!(
        product = id.product_name.as_deref().unwrap_or("unknown"),
        serial = id.serial.as_deref().unwrap_or("unknown"),
        mac = %id.mac.as_ref().map(|m| m.colon()).unwrap_or_else(|| "unknown".into()),
        certificate = if id.cert_installed { "Installed" } else { "Not Installed" },
        emulated = identity.emulated,
        lines,
        "device identity"
    );
    let loaded = load(&state, lines)?;
    match loaded.source {
        Source::Stored => info!(
            path = %state.store().profile_path().display(),
            parameters = loaded.profile.entries().len(),
            unknown = loaded.unknown,
            "loaded stored profile"
        ),
        Source::EmbeddedDefault => info!(
            parameters = loaded.profile.entries().len(),
            "no stored profile: running on the embedded default profile"
        ),
    }
    for w in &loaded.warnings {
        warn!("{w}");
    }
    log_enforcement(&loaded.profile, lines);

    let sock_path = state.socket_path();
    if std::os::unix::net::UnixStream::connect(&sock_path).is_ok() {
        return Err(format!(
            "another mppd is running on {} (its socket answers)",
            state.path().display()
        ));
    }
    let _ = std::fs::remove_file(&sock_path);
    let listener = UnixListener::bind(&sock_path)
        .map_err(|e| format!("cannot listen on {}: {e}", sock_path.display()))?;
    std::fs::set_permissions(&sock_path, std::fs::Permissions::from_mode(0o600))
        .map_err(|e| format!("cannot set the mode of {}: {e}", sock_path.display()))?;

    let mut hup = signal(SignalKind::hangup()).map_err(|e| format!("SIGHUP handler: {e}"))?;
    let mut term = signal(SignalKind::terminate()).map_err(|e| format!("SIGTERM handler: {e}"))?;
    let mut int = signal(SignalKind::interrupt()).map_err(|e| format!("SIGINT handler: {e}"))?;
    let started = now_secs();
    // The firewall goes in force once this daemon owns the state directory (socket bound) and
    // its stop signals are handled, so a clean stop can remove it again.
    let mut firewall = firewall;
    firewall.update(&state, &loaded.profile, lines, started);
    // Provisioning on the resync schedule (SPEC §11, mpp-provisioning §3.1).
    let mut provision = ProvisionDriver::new(&loaded.profile);
    let device = identity.identity.clone();
    // The SIP lines that can register (none on the embedded default).
    let (sip_triggers, mut sip_rx) = tokio::sync::mpsc::unbounded_channel();
    let mut sip = SipAgents::start(
        &loaded.profile,
        &state,
        &device,
        lines,
        sip_triggers.clone(),
    );
    // The admin web UI (issue 7), on --web-listen only.
    let snapshot = Arc::new(Mutex::new(Value::Null));
    let (web_commands, mut web_rx) = tokio::sync::mpsc::unbounded_channel();
    let hooks: Arc<dyn crate::web::WebHooks> = Arc::new(DaemonHooks {
        snapshot: Arc::clone(&snapshot),
        commands: web_commands.clone(),
    });
    // Supervised like the SIP lines; started again when its settings change.
    let mut web = Supervisor::default();
    let mut web_in_force = web_settings(&loaded.profile);
    let start_web = |web: &mut Supervisor, profile: &Profile| {
        if let Some(ip) = web_listen {
            let (profile, state, device, hooks) = (
                profile.clone(),
                state.clone(),
                device.clone(),
                Arc::clone(&hooks),
            );
            web.add("web UI".to_owned(), move || {
                crate::web_host::spawn(
                    profile.clone(),
                    state.clone(),
                    device.clone(),
                    lines,
                    ip,
                    Arc::clone(&hooks),
                )
            });
        }
    };
    start_web(&mut web, &loaded.profile);
    // A new profile in force (SIGHUP, a resync, the web UI): every subsystem takes it.
    macro_rules! reconfigure {
        ($p:expr) => {{
            let p = $p;
            provision.reconfigure(&p);
            sip.restart(&p, &state, &device, lines);
            if web_settings(&p) != web_in_force {
                info!("web settings changed: restarting the web UI");
                web_in_force = web_settings(&p);
                web.clear();
                start_web(&mut web, &p);
            }
        }};
    }
    let status = Arc::new(Mutex::new(Status {
        started,
        generation: 1,
        loaded_at: started,
        loaded,
        last_reload: None,
        firewall,
    }));
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    info!(socket = %sock_path.display(), pid = std::process::id(), "mppd running");

    loop {
        tokio::select! {
            _ = hup.recv() => {
                if let Some(p) = reload(&state, lines, &status) {
                    reconfigure!(p);
                }
            }
            _ = sleep_until_opt(provision.wakeup()) => {
                let profile = match status.lock() {
                    Ok(s) => s.loaded.profile.clone(),
                    Err(_) => return Err("status lock poisoned".to_owned()),
                };
                provision.fire(&state, &profile, &device, lines);
            }
            result = provision.finished(), if provision.is_running() => {
                // A resync that changed STATE/profile.xml is loaded at once, as SIGHUP would.
                if provision.complete(&result)
                    && let Some(p) = reload(&state, lines, &status)
                {
                    reconfigure!(p);
                }
            }
            command = async {
                tokio::select! {
                    Some(t) = sip_rx.recv() => {
                        info!(line = t.line, event = t.kind.name(), "SIP NOTIFY accepted");
                        match t.kind {
                            TriggerKind::Resync { rule } => DaemonCommand::Resync(rule),
                            TriggerKind::Report => DaemonCommand::Report,
                            TriggerKind::Reboot | TriggerKind::Restart => DaemonCommand::Restart,
                        }
                    }
                    Some(c) = web_rx.recv() => {
                        info!(?c, "web UI request");
                        match c {
                            WebCommand::Resync(url) => DaemonCommand::Resync(url),
                            WebCommand::Reboot => DaemonCommand::Restart,
                            WebCommand::Applied => DaemonCommand::Reload,
                        }
                    }
                }
            } => {
                let profile = match status.lock() {
                    Ok(s) => s.loaded.profile.clone(),
                    Err(_) => return Err("status lock poisoned".to_owned()),
                };
                match command {
                    DaemonCommand::Resync(rule) => {
                        provision.manual(rule);
                        provision.fire(&state, &profile, &device, lines);
                    }
                    DaemonCommand::Report => provision.report(&state, &profile, &device, lines),
                    DaemonCommand::Reload => {
                        if let Some(p) = reload(&state, lines, &status) {
                            reconfigure!(p);
                        }
                    }
                    DaemonCommand::Restart => {
                        // No real reboot: every subsystem starts again on the profile in force.
                        info!("restarting the subsystems");
                        let now = now_secs();
                        provision = ProvisionDriver::new(&profile);
                        sip.restart(&profile, &state, &device, lines);
                        if let Ok(mut s) = status.lock() {
                            s.started = now;
                            s.firewall.update(&state, &profile, lines, now);
                        }
                    }
                }
            }
            _ = tick.tick() => {
                sip.supervise();
                web.check(std::time::Instant::now());
                // The web UI's view of the status.
                if let Ok(s) = status.lock() {
                    let mut v = status_json(&s);
                    v["provisioning"] = provision.status_json();
                    v["sip"] = sip.status_json();
                    v["web_ui"] = web.status_json();
                    if let Ok(mut snap) = snapshot.lock() {
                        *snap = v;
                    }
                }
            }
            _ = term.recv() => { info!("SIGTERM: stopping"); break; }
            _ = int.recv() => { info!("SIGINT: stopping"); break; }
            accepted = listener.accept() => match accepted {
                Ok((mut stream, _)) => {
                    let body = {
                        let s = status.lock().map_err(|_| "status lock poisoned".to_owned())?;
                        let mut v = status_json(&s);
                        v["provisioning"] = provision.status_json();
                        v["sip"] = sip.status_json();
                        v["web_ui"] = web.status_json();
                        v.to_string()
                    };
                    tokio::spawn(async move {
                        let _ = tokio::time::timeout(Duration::from_secs(5), async {
                            let _ = stream.write_all(body.as_bytes()).await;
                            let _ = stream.write_all(b"\n").await;
                            let _ = stream.shutdown().await;
                        }).await;
                    });
                }
                Err(e) => warn!("status socket: {e}"),
            },
        }
    }
    match status.lock() {
        Ok(mut s) => s.firewall.stop(),
        Err(_) => error!("status lock poisoned: the firewall was not removed"),
    }
    let _ = std::fs::remove_file(&sock_path);
    info!("mppd stopped");
    Ok(())
}

/// Sleeps until `deadline`, or forever without one.
async fn sleep_until_opt(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}

/// Reloads `STATE/profile.xml`; returns the new profile when it was accepted.
fn reload(state: &StateDir, lines: u8, status: &Mutex<Status>) -> Option<Profile> {
    let Ok(mut s) = status.lock() else {
        error!("status lock poisoned; reload skipped");
        return None;
    };
    match load(state, lines) {
        Ok(loaded) => {
            s.generation += 1;
            s.loaded_at = now_secs();
            info!(
                generation = s.generation,
                parameters = loaded.profile.entries().len(),
                "SIGHUP: profile reloaded"
            );
            for w in &loaded.warnings {
                warn!("{w}");
            }
            log_enforcement(&loaded.profile, lines);
            let now = s.loaded_at;
            s.firewall.update(state, &loaded.profile, lines, now);
            s.loaded = loaded;
            s.last_reload = Some((true, "reloaded".to_owned()));
            Some(s.loaded.profile.clone())
        }
        Err(msg) => {
            error!("SIGHUP: new profile refused, the previous one stays in force: {msg}");
            s.last_reload = Some((false, msg));
            None
        }
    }
}

/// `mppd status`: asks the daemon over its socket.
pub fn status(state: &StateDir, format: Format) -> Result<(), Failure> {
    let path = state.socket_path();
    let mut stream = std::os::unix::net::UnixStream::connect(&path).map_err(|e| {
        eprintln!("mppd: no daemon answers on {}: {e}", path.display());
        Failure::Failed
    })?;
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    let mut body = String::new();
    stream.read_to_string(&mut body).map_err(|e| {
        eprintln!("mppd: reading status from {}: {e}", path.display());
        Failure::Failed
    })?;
    let v: Value = serde_json::from_str(body.trim()).map_err(|e| {
        eprintln!("mppd: the daemon's status is not JSON: {e}");
        Failure::Failed
    })?;
    let mut out = std::io::stdout().lock();
    match format {
        Format::Json => {
            let _ = writeln!(
                out,
                "{}",
                serde_json::to_string_pretty(&v).unwrap_or_default()
            );
        }
        Format::Text => {
            let p = &v["profile"];
            let _ = writeln!(out, "pid:          {}", v["pid"]);
            let _ = writeln!(out, "started:      {}", v["started"]);
            let _ = writeln!(
                out,
                "profile:      {} ({} parameters, {} unknown), generation {}",
                p["source"].as_str().unwrap_or("?"),
                p["parameters"],
                p["unknown"],
                p["generation"]
            );
            if let Some(r) = v["last_reload"].as_object() {
                let _ = writeln!(
                    out,
                    "last reload:  {} {}",
                    if r.get("ok").and_then(Value::as_bool) == Some(true) {
                        "ok"
                    } else {
                        "refused:"
                    },
                    r.get("message").and_then(Value::as_str).unwrap_or("")
                );
            }
            let fw = &v["firewall"];
            if fw.is_object() {
                let state = match (
                    fw["mode"].as_str(),
                    fw["enabled"].as_bool(),
                    fw["applied"].as_bool(),
                ) {
                    (Some("apply"), Some(true), Some(true)) => "applied, filtering",
                    (Some("apply"), Some(false), Some(true)) => "Disabled, table removed",
                    (Some("apply"), _, _) => "NOT applied",
                    (_, Some(false), _) => "Disabled (log only)",
                    _ => "computed and logged only (--firewall apply applies it)",
                };
                let open: Vec<String> = fw["open"]
                    .as_array()
                    .map(|a| {
                        a.iter()
                            .map(|p| {
                                let (first, last) = (&p["first"], &p["last"]);
                                let ports = if first == last {
                                    first.to_string()
                                } else {
                                    format!("{first}-{last}")
                                };
                                format!("{} {ports}", p["proto"].as_str().unwrap_or("?"))
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                let _ = writeln!(out, "firewall:     {state}");
                if !open.is_empty() {
                    let _ = writeln!(out, "open ports:   {}", open.join(", "));
                }
                if let Some(e) = fw["error"].as_str() {
                    let _ = writeln!(out, "firewall error: {e}");
                }
            }
            if let Some(p) = v["provisioning"]["proxy"].as_object() {
                let _ = writeln!(
                    out,
                    "http proxy:   {}",
                    p.get("settings").and_then(Value::as_str).unwrap_or("?")
                );
                if let Some(d) = p.get("last_decision").filter(|d| !d.is_null()) {
                    let _ = writeln!(
                        out,
                        "  last:       {} -> {}",
                        d["url"].as_str().unwrap_or("?"),
                        d["result"].as_str().unwrap_or("?")
                    );
                }
            }
            for l in v["sip"]["lines"].as_array().into_iter().flatten() {
                let _ = writeln!(
                    out,
                    "line {}:       {}",
                    l["line"],
                    l["summary"].as_str().unwrap_or("?")
                );
                if let Some(c) = l["calls"].as_array().and_then(|c| c.last()) {
                    let _ = writeln!(
                        out,
                        "  last call:  {} {} {}",
                        c["direction"].as_str().unwrap_or("?"),
                        c["remote"].as_str().unwrap_or("?"),
                        c["state"].as_str().unwrap_or("?")
                    );
                }
            }
            for e in v["sip"]["triggers"].as_array().into_iter().flatten() {
                let _ = writeln!(
                    out,
                    "sip notify:   line {} {} from {}: {} ({})",
                    e["line"],
                    e["event"].as_str().unwrap_or("?"),
                    e["from"].as_str().unwrap_or("?"),
                    if e["accepted"] == true {
                        "accepted"
                    } else {
                        "refused"
                    },
                    e["reason"].as_str().unwrap_or("")
                );
            }
        }
    }
    Ok(())
}
