//! `mppd sip ...` (docs/cli.md): registering the lines.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Subcommand};

use super::{CmdResult, Failure, Format, device_identity, print_json, profile_for, runtime};
use crate::provision::dns::parse_nameserver;
use crate::sip::LineSettings;
use crate::sip::locate::SipResolver;
use crate::sip::register::{CallOptions, LineOutcome, call_once, register_once};
use crate::state::StateDir;
use mppd_core::sip::digest::{Algorithm, Hash};

/// `mppd sip ...`.
#[derive(Debug, Subcommand)]
pub enum SipCommand {
    /// Register the lines (all enabled lines with a User_ID and a Proxy, or --line N) once and
    /// print how each ended; exit 1 when one failed.
    Register(RegisterArgs),
    /// Place one call through the line's (outbound) proxy: INVITE with an SDP offer, digest,
    /// ACK, then BYE after --hangup-after; exit 1 when it was not established.
    Call(CallArgs),
}

/// `mppd sip call`.
#[derive(Debug, Args)]
pub struct CallArgs {
    /// The profile (default: the state directory's).
    #[arg(long, value_name = "FILE")]
    pub profile: Option<PathBuf>,
    /// The line (1-16).
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u8).range(1..=16))]
    pub line: u8,
    /// Hang up this many seconds after the call is established.
    #[arg(long, value_name = "SECS", default_value_t = 1)]
    pub hangup_after: u64,
    /// Answer only digest challenges with this algorithm (MD5, SHA-256 or SHA-512-256; the
    /// -sess forms included), as a client that supports nothing else would: to see what a
    /// callee or a proxy accepts. The line's policy (RFC 8760, FIPS mode) still applies.
    #[arg(long, value_name = "ALGORITHM", value_parser = parse_digest_hash)]
    pub digest: Option<Hash>,
    /// Resolve names (A, SRV, NAPTR) with this DNS server after `/etc/hosts`.
    #[arg(long, value_name = "IP[:PORT]", value_parser = parse_nameserver)]
    pub nameserver: Option<SocketAddr>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// Whom to call: `1002`, `bob@example.com` or a `sip:` URI.
    pub target: String,
}

/// `mppd sip register`.
#[derive(Debug, Args)]
pub struct RegisterArgs {
    /// The profile (default: the state directory's).
    #[arg(long, value_name = "FILE")]
    pub profile: Option<PathBuf>,
    /// Only this line (1-16).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u8).range(1..=16))]
    pub line: Option<u8>,
    /// Register once and exit (the only mode of this command; the daemon keeps lines
    /// registered).
    #[arg(long)]
    pub once: bool,
    /// Resolve names (A, SRV, NAPTR) with this DNS server after `/etc/hosts`.
    #[arg(long, value_name = "IP[:PORT]", value_parser = parse_nameserver)]
    pub nameserver: Option<SocketAddr>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

/// `--digest`: an algorithm name of RFC 8760 (without `-sess`).
fn parse_digest_hash(s: &str) -> Result<Hash, String> {
    match Algorithm::from_name(s.trim()) {
        Some(a) if !a.sess => Ok(a.hash),
        _ => Err(format!(
            "{s:?} is not a digest algorithm: MD5, SHA-256 or SHA-512-256"
        )),
    }
}

/// Runs `mppd sip ...`.
pub(super) fn run(state: &StateDir, lines: Option<u8>, cmd: &SipCommand) -> CmdResult {
    match cmd {
        SipCommand::Register(args) => register(state, lines, args),
        SipCommand::Call(args) => call(state, args),
    }
}

fn call(state: &StateDir, args: &CallArgs) -> CmdResult {
    let profile = profile_for(state, args.profile.as_deref())?;
    let identity = device_identity(state)?;
    let runtime = runtime()?;
    let resolver = SipResolver::new(args.nameserver);
    let outcome = runtime.block_on(call_once(
        &profile,
        state,
        &identity,
        args.line,
        &args.target,
        CallOptions {
            hangup_after: std::time::Duration::from_secs(args.hangup_after),
            digest_only: args.digest,
        },
        &resolver,
    ));
    match args.format {
        Format::Json => print_json(&serde_json::json!(outcome)),
        Format::Text => {
            for e in &outcome.events {
                let mut line = format!("call {}: {}", e.remote, e.state);
                if let Some(r) = &e.reason {
                    line.push_str(": ");
                    line.push_str(r);
                }
                if let Some(a) = &e.algorithm {
                    line.push_str(&format!(" (digest {a})"));
                }
                if e.secure_media {
                    line.push_str(" (SRTP)");
                }
                println!("{line}");
            }
            if let Some(e) = &outcome.error {
                println!("call failed: {e}");
            }
        }
    }
    if outcome.established {
        Ok(())
    } else {
        Err(Failure::Failed)
    }
}

fn register(state: &StateDir, lines: Option<u8>, args: &RegisterArgs) -> CmdResult {
    let profile = profile_for(state, args.profile.as_deref())?;
    let identity = device_identity(state)?;
    let count = state.lines(lines);
    let chosen: Vec<u8> = match args.line {
        Some(n) if n > count => {
            return Err(Failure::Usage(format!(
                "--line {n}: the device has {count} line(s) (see --lines)"
            )));
        }
        Some(n) => vec![n],
        None => (1..=count)
            .filter(|&n| {
                LineSettings::from_profile(&profile, &identity, n)
                    .map(|s| s.unusable().is_none())
                    .unwrap_or(true)
            })
            .collect(),
    };
    if chosen.is_empty() {
        eprintln!("mppd: no line to register: each needs Line_Enable_n_, User_ID_n_ and Proxy_n_");
        return Err(Failure::Failed);
    }
    let runtime = runtime()?;
    let resolver = SipResolver::new(args.nameserver);
    let outcomes: Vec<LineOutcome> = runtime.block_on(async {
        let mut out = Vec::new();
        for n in &chosen {
            out.push(register_once(&profile, state, &identity, *n, &resolver).await);
        }
        out
    });
    match args.format {
        Format::Json => print_json(&serde_json::json!({ "lines": outcomes })),
        Format::Text => {
            for o in &outcomes {
                println!("line {}: {}", o.line, o.summary);
            }
        }
    }
    if outcomes.iter().all(|o| o.registered) {
        Ok(())
    } else {
        Err(Failure::Failed)
    }
}
