//! The firewall driver: runs `nft` on the rulesets `mppd_core::firewall` compiles, keeps the
//! TR-069 connection-request port in the state directory, and tracks what is in force for the
//! daemon's status.
//!
//! Host safety (ARCHITECTURE.md): nothing here runs unless asked. `mppd run` applies rules
//! only with `--firewall apply`; `mppd firewall apply|flush` act on the current network
//! namespace, which is the point of those commands.

use std::fs;
use std::io::{self, Read, Write};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::ValueEnum;
use mppd_config::Profile;
use mppd_core::firewall::{
    self as core, CompileError, Inputs, Policy, TR069_PORT_MAX, TR069_PORT_MIN,
};
use nftables::schema::Nftables;
use serde_json::{Value, json};
use tracing::{debug, error, info, warn};

use crate::state::StateDir;

/// How long one `nft` run may take before it is killed.
const NFT_TIMEOUT: Duration = Duration::from_secs(20);

/// `STATE/tr069-port`: the TR-069 connection-request port, chosen once.
const TR069_PORT_FILE: &str = "tr069-port";

/// What `mppd run` does with the firewall (`--firewall`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub enum FirewallMode {
    /// Compute the ruleset and log it; change nothing on the host.
    #[default]
    Log,
    /// Apply the ruleset with nft at start and on every reload that changes it.
    Apply,
}

impl FirewallMode {
    fn as_str(self) -> &'static str {
        match self {
            Self::Log => "log",
            Self::Apply => "apply",
        }
    }
}

/// Why `nft` could not do what was asked.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum NftError {
    /// No `nft` program on `PATH`.
    NotFound,
    /// The process may not change the firewall (not root, no CAP_NET_ADMIN).
    NotPermitted {
        /// What nft said, if anything.
        stderr: String,
    },
    /// nft ran and refused the ruleset.
    Failed {
        /// Its exit code (`None` when killed by a signal).
        code: Option<i32>,
        /// What it said.
        stderr: String,
    },
    /// nft did not finish in time and was killed.
    Timeout,
    /// Starting or talking to nft failed.
    Io(Arc<io::Error>),
}

impl std::fmt::Display for NftError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::NotFound => f.write_str(
                "nft not found on PATH: install nftables (Debian package nftables) to apply the firewall",
            ),
            Self::NotPermitted { stderr } => {
                f.write_str("not permitted to change the firewall: it needs root (CAP_NET_ADMIN)")?;
                if !stderr.is_empty() {
                    write!(f, " (nft: {})", one_line(stderr))?;
                }
                Ok(())
            }
            Self::Failed { code, stderr } => {
                match code {
                    Some(c) => write!(f, "nft failed with exit code {c}")?,
                    None => f.write_str("nft was killed by a signal")?,
                }
                if stderr.trim().is_empty() {
                    Ok(())
                } else {
                    write!(f, ": {}", one_line(stderr))
                }
            }
            Self::Timeout => write!(
                f,
                "nft did not finish within {} s and was stopped",
                NFT_TIMEOUT.as_secs()
            ),
            Self::Io(e) => write!(f, "cannot run nft: {e}"),
        }
    }
}

impl std::error::Error for NftError {}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Whether this process has CAP_NET_ADMIN (from `/proc/self/status`; `None` when unknown).
fn has_net_admin() -> Option<bool> {
    let status = fs::read_to_string("/proc/self/status").ok()?;
    let hex = status.lines().find_map(|l| l.strip_prefix("CapEff:"))?;
    let caps = u64::from_str_radix(hex.trim(), 16).ok()?;
    Some(caps & (1 << 12) != 0)
}

/// Runs `nft ARGS`, feeding `stdin`; its stdout.
fn run_nft(args: &[&str], stdin: Option<&[u8]>) -> Result<String, NftError> {
    let mut child = Command::new("nft")
        .args(args)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| match e.kind() {
            io::ErrorKind::NotFound => NftError::NotFound,
            io::ErrorKind::PermissionDenied => NftError::NotPermitted {
                stderr: e.to_string(),
            },
            _ => NftError::Io(Arc::new(e)),
        })?;
    // Read both pipes on their own threads so a chatty nft never blocks on a full pipe.
    let reader = |pipe: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            if let Some(mut p) = pipe {
                let _ = p.read_to_end(&mut buf);
            }
            String::from_utf8_lossy(&buf).into_owned()
        })
    };
    let out = reader(
        child
            .stdout
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let err = reader(
        child
            .stderr
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    if let (Some(bytes), Some(mut pipe)) = (stdin, child.stdin.take()) {
        // A write error means nft exited early; its status and stderr tell why.
        let _ = pipe.write_all(bytes);
    }
    let start = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(st)) => break st,
            Ok(None) if start.elapsed() < NFT_TIMEOUT => {
                std::thread::sleep(Duration::from_millis(5));
            }
            Ok(None) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(NftError::Timeout);
            }
            Err(e) => return Err(NftError::Io(Arc::new(e))),
        }
    };
    let stdout = out.join().unwrap_or_default();
    let stderr = err.join().unwrap_or_default();
    if status.success() {
        return Ok(stdout);
    }
    if stderr.contains("Operation not permitted") || has_net_admin() == Some(false) {
        return Err(NftError::NotPermitted { stderr });
    }
    Err(NftError::Failed {
        code: status.code(),
        stderr,
    })
}

/// Applies a transaction (`nft -j -f -`): all of it or, on error, nothing.
pub fn apply(ruleset: &Nftables<'_>) -> Result<(), NftError> {
    let payload =
        serde_json::to_vec(ruleset).map_err(|e| NftError::Io(Arc::new(io::Error::other(e))))?;
    run_nft(&["-j", "-f", "-"], Some(&payload)).map(drop)
}

/// Removes mppd's table from the current network namespace (no error when it is absent).
pub fn flush() -> Result<(), NftError> {
    apply(&core::removal())
}

/// Why the firewall of a profile cannot be computed.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum LoadError {
    /// The profile's firewall does not compile (names the parameter and the bad item).
    Compile(CompileError),
    /// `STATE/tr069-port` holds no port in 8000-9999 (it is never overwritten silently).
    Tr069PortInvalid {
        /// The file.
        path: PathBuf,
        /// What it holds.
        content: String,
    },
    /// `STATE/tr069-port` cannot be read or written.
    Tr069PortIo {
        /// The file.
        path: PathBuf,
        /// The error.
        source: Arc<io::Error>,
    },
    /// No random bytes to choose a new port.
    Random(openssl::error::ErrorStack),
}

impl std::fmt::Display for LoadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Compile(e) => e.fmt(f),
            Self::Tr069PortInvalid { path, content } => write!(
                f,
                "{}: {content:?} is not a port in {TR069_PORT_MIN}-{TR069_PORT_MAX}; remove the file to choose a new one",
                path.display()
            ),
            Self::Tr069PortIo { path, source } => write!(f, "{}: {source}", path.display()),
            Self::Random(e) => write!(f, "no random bytes for the TR-069 port: {e}"),
        }
    }
}

impl std::error::Error for LoadError {}

fn read_tr069_port(path: &std::path::Path) -> Result<Option<u16>, LoadError> {
    match fs::read_to_string(path) {
        Ok(text) => match text.trim().parse::<u16>() {
            Ok(p) if (TR069_PORT_MIN..=TR069_PORT_MAX).contains(&p) => Ok(Some(p)),
            _ => Err(LoadError::Tr069PortInvalid {
                path: path.to_owned(),
                content: text.trim().to_owned(),
            }),
        },
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(LoadError::Tr069PortIo {
            path: path.to_owned(),
            source: Arc::new(e),
        }),
    }
}

/// The TR-069 connection-request port: `STATE/tr069-port` when it exists, else a random port
/// in 8000-9999, stored there so that it stays the same across runs. The new file is written
/// aside and hard-linked into place, so two processes racing agree on one port.
pub fn tr069_port(state: &StateDir) -> Result<u16, LoadError> {
    let path = state.path().join(TR069_PORT_FILE);
    if let Some(p) = read_tr069_port(&path)? {
        return Ok(p);
    }
    let io_err = |source: io::Error| LoadError::Tr069PortIo {
        path: path.clone(),
        source: Arc::new(source),
    };
    let mut b = [0u8; 2];
    openssl::rand::rand_bytes(&mut b).map_err(LoadError::Random)?;
    let span = TR069_PORT_MAX - TR069_PORT_MIN + 1;
    let port = TR069_PORT_MIN + u16::from_le_bytes(b) % span;
    fs::create_dir_all(state.path()).map_err(io_err)?;
    let tmp = state
        .path()
        .join(format!(".{TR069_PORT_FILE}.{}", std::process::id()));
    let written = fs::File::create(&tmp)
        .and_then(|mut f| {
            f.write_all(format!("{port}\n").as_bytes())?;
            f.sync_all()
        })
        .and_then(|()| fs::hard_link(&tmp, &path));
    let _ = fs::remove_file(&tmp);
    match written {
        Ok(()) => Ok(port),
        // Another process stored its port first: use that one.
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
            read_tr069_port(&path)?.ok_or_else(|| io_err(io::Error::from(io::ErrorKind::NotFound)))
        }
        Err(e) => Err(io_err(e)),
    }
}

/// Compiles the firewall of `profile` for a device with `lines` lines, taking the TR-069
/// port from the state directory when TR-069 is on (and only then).
pub fn policy(state: &StateDir, profile: &Profile, lines: u8) -> Result<Policy, LoadError> {
    let tr069_port = if core::tr069_enabled(profile) {
        Some(tr069_port(state)?)
    } else {
        None
    };
    Policy::from_profile(profile, &Inputs { lines, tr069_port }).map_err(LoadError::Compile)
}

/// The open ports as one log line: `udp 68 DHCP; udp 546 DHCPv6; ...`.
pub fn ports_summary(p: &Policy) -> String {
    if !p.enabled {
        return "(Firewall Disabled: nothing filtered)".to_owned();
    }
    p.open
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

/// The daemon's firewall: the policy of the profile in force, and whether its ruleset is in
/// the kernel.
#[derive(Debug)]
pub struct Driver {
    mode: FirewallMode,
    keep_on_exit: bool,
    /// The policy of the profile in force (the last that compiled).
    policy: Option<Policy>,
    /// The ruleset mppd last applied successfully (apply mode).
    in_force: Option<Nftables<'static>>,
    /// Whether `in_force` is the ruleset of `policy`.
    applied: bool,
    /// The last compile or apply error, cleared by the next success.
    error: Option<String>,
    updated_at: u64,
}

impl Driver {
    /// A driver that has done nothing yet.
    pub fn new(mode: FirewallMode, keep_on_exit: bool) -> Self {
        Self {
            mode,
            keep_on_exit,
            policy: None,
            in_force: None,
            applied: false,
            error: None,
            updated_at: 0,
        }
    }

    /// Puts the firewall of a (new) profile in force: in log mode, logs it; in apply mode,
    /// applies it when it differs from what mppd applied last. A profile whose firewall does
    /// not compile leaves the previous firewall in force. Never fails: problems are logged
    /// and shown in status, and the daemon runs on.
    pub fn update(&mut self, state: &StateDir, profile: &Profile, lines: u8, now: u64) {
        self.updated_at = now;
        let policy = match policy(state, profile, lines) {
            Ok(p) => p,
            Err(e) => {
                error!("firewall: {e}; the previous firewall stays in force");
                self.error = Some(e.to_string());
                return;
            }
        };
        let ruleset = policy.ruleset();
        match self.mode {
            FirewallMode::Log => {
                info!(
                    firewall = if policy.enabled { "Enabled" } else { "Disabled" },
                    open = %ports_summary(&policy),
                    "firewall ruleset computed, not applied (mppd run --firewall apply applies it)"
                );
                debug!("firewall ruleset:\n{}", policy.script());
                self.error = None;
            }
            FirewallMode::Apply if self.in_force.as_ref() == Some(&ruleset) => {
                info!("firewall unchanged");
                self.applied = true;
                self.error = None;
            }
            FirewallMode::Apply => match apply(&ruleset) {
                Ok(()) => {
                    if policy.enabled {
                        info!(
                            table = %format!("inet {}", core::TABLE),
                            open = %ports_summary(&policy),
                            "firewall applied"
                        );
                    } else {
                        info!("Firewall Disabled: table inet {} removed", core::TABLE);
                    }
                    debug!("firewall ruleset:\n{}", policy.script());
                    self.in_force = Some(ruleset);
                    self.applied = true;
                    self.error = None;
                }
                Err(e) => {
                    warn!(
                        "firewall NOT applied: {e}; mppd runs on without it (a ruleset applied before stays in force)"
                    );
                    self.applied = false;
                    self.error = Some(e.to_string());
                }
            },
        }
        self.policy = Some(policy);
    }

    /// On a clean stop: removes the table mppd applied, unless told to keep it.
    pub fn stop(&mut self) {
        let table_in_force = self
            .in_force
            .as_ref()
            .is_some_and(|r| *r != core::removal());
        if self.mode != FirewallMode::Apply || !table_in_force {
            return;
        }
        if self.keep_on_exit {
            info!(
                "firewall left in force (--firewall-keep-on-exit); `mppd firewall flush` removes it"
            );
            return;
        }
        match flush() {
            Ok(()) => {
                info!("firewall removed (table inet {})", core::TABLE);
                self.in_force = None;
                self.applied = false;
            }
            Err(e) => warn!("firewall: cannot remove table inet {}: {e}", core::TABLE),
        }
    }

    /// The `firewall` object of the status JSON: the mode, whether the policy of the profile
    /// in force is applied (and so filtering), what it opens, and the last error.
    pub fn status_json(&self) -> Value {
        let p = self.policy.as_ref();
        let enabled = p.is_some_and(|p| p.enabled);
        json!({
            "mode": self.mode.as_str(),
            "enabled": enabled,
            "applied": self.applied,
            "filtering": self.applied && enabled,
            "open": p.map(|p| p.open.clone()).unwrap_or_default(),
            "no_icmp_ping": p.is_some_and(|p| p.options.no_icmp_ping),
            "no_icmp_unreachable": p.is_some_and(|p| p.options.no_icmp_unreachable),
            "no_cisco_tftp": p.is_some_and(|p| p.options.no_cisco_tftp),
            "tr069_port": p.and_then(|p| p.tr069_port),
            "error": self.error,
            "updated_at": self.updated_at,
        })
    }
}
