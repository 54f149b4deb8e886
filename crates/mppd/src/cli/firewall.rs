//! `mppd firewall rules|ports|apply|flush` (docs/cli.md).

use std::fs;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use clap::{Args, Subcommand};
use mppd_config::Profile;
use mppd_config::validate;
use mppd_core::firewall::{Policy, TABLE};
use serde_json::json;

use super::{CmdResult, Failure, Format};
use crate::firewall as driver;
use crate::state::StateDir;

/// `mppd firewall ...`.
#[derive(Debug, Subcommand)]
pub enum FirewallCommand {
    /// Print the nftables ruleset of the profile: an `nft -f` script, or (--format json) the
    /// JSON `nft -j -f -` takes. Exit 1 when the profile is invalid.
    Rules(ProfileFormat),
    /// Print the open ports, one per line: `PROTO FIRST[-LAST] REASON`, sorted.
    Ports(ProfileFormat),
    /// Install the ruleset in the current network namespace (needs root and nft) and exit;
    /// it stays in force until `mppd firewall flush`.
    Apply(ProfileArg),
    /// Remove mppd's table (inet mppd) from the current network namespace.
    Flush,
}

/// `--profile FILE`.
#[derive(Debug, Args)]
pub struct ProfileArg {
    /// The profile (cfg.xml); default: STATE/profile.xml, else the embedded default.
    #[arg(long, value_name = "FILE")]
    pub profile: Option<PathBuf>,
}

/// `--profile FILE --format text|json`.
#[derive(Debug, Args)]
pub struct ProfileFormat {
    /// The profile (cfg.xml); default: STATE/profile.xml, else the embedded default.
    #[arg(long, value_name = "FILE")]
    pub profile: Option<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

/// Runs a `mppd firewall` subcommand.
pub(super) fn run(state: &StateDir, lines: Option<u8>, cmd: &FirewallCommand) -> CmdResult {
    match cmd {
        FirewallCommand::Rules(a) => {
            let policy = load_policy(state, lines, a.profile.as_deref())?;
            match a.format {
                Format::Text => print(&policy.script()),
                Format::Json => print_json(&policy.ruleset()),
            }
            Ok(())
        }
        FirewallCommand::Ports(a) => {
            let policy = load_policy(state, lines, a.profile.as_deref())?;
            match a.format {
                Format::Text => {
                    if !policy.enabled {
                        eprintln!("mppd: Firewall is Disabled: no port is filtered");
                    }
                    let mut text = String::new();
                    for p in &policy.open {
                        text.push_str(&p.to_string());
                        text.push('\n');
                    }
                    print(&text);
                }
                Format::Json => print_json(&json!({
                    "enabled": policy.enabled,
                    "ports": policy.open,
                    "rtp": {"first": policy.rtp.0, "last": policy.rtp.1},
                    "no_icmp_ping": policy.options.no_icmp_ping,
                    "no_icmp_unreachable": policy.options.no_icmp_unreachable,
                    "no_cisco_tftp": policy.options.no_cisco_tftp,
                    "tr069_port": policy.tr069_port,
                })),
            }
            Ok(())
        }
        FirewallCommand::Apply(a) => {
            let policy = load_policy(state, lines, a.profile.as_deref())?;
            match driver::apply(&policy.ruleset()) {
                Ok(()) if policy.enabled => {
                    eprintln!(
                        "mppd: firewall applied in this network namespace: table inet {TABLE}, {} open port(s) or range(s); `mppd firewall flush` removes it",
                        policy.open.len()
                    );
                    Ok(())
                }
                Ok(()) => {
                    eprintln!("mppd: Firewall is Disabled: table inet {TABLE} removed");
                    Ok(())
                }
                Err(e) => {
                    eprintln!("mppd: firewall not applied: {e}");
                    Err(Failure::Failed)
                }
            }
        }
        FirewallCommand::Flush => match driver::flush() {
            Ok(()) => {
                eprintln!("mppd: table inet {TABLE} removed");
                Ok(())
            }
            Err(e) => {
                eprintln!("mppd: table inet {TABLE} not removed: {e}");
                Err(Failure::Failed)
            }
        },
    }
}

fn print(text: &str) {
    let _ = io::stdout().lock().write_all(text.as_bytes());
}

fn print_json(v: &impl serde::Serialize) {
    let text = serde_json::to_string_pretty(v).unwrap_or_default();
    let _ = writeln!(io::stdout().lock(), "{text}");
}

/// The profile (`--profile FILE`, else STATE/profile.xml, else the embedded default),
/// validated, and its firewall. Problems go to stderr as `FILE:LINE: NAME: message`.
fn load_policy(
    state: &StateDir,
    lines: Option<u8>,
    file: Option<&Path>,
) -> Result<Policy, Failure> {
    let n_lines = state.lines(lines);
    let (profile, origin) = match file {
        Some(file) => (read_profile(file)?, file.to_owned()),
        None => {
            let store = state.store();
            match store.load() {
                Ok(Some(p)) => (p, store.profile_path()),
                Ok(None) => (
                    Profile::defaults(n_lines),
                    PathBuf::from("(embedded default)"),
                ),
                Err(e) => {
                    eprintln!("mppd: {e}");
                    return Err(Failure::Failed);
                }
            }
        }
    };
    let report = validate::validate(&profile);
    for w in &report.warnings {
        eprintln!("{}:{}: {w}", origin.display(), w.line);
    }
    if !report.is_valid() {
        for p in &report.errors {
            eprintln!("{}:{}: {p}", origin.display(), p.line);
        }
        eprintln!("mppd: the profile is invalid: no firewall computed");
        return Err(Failure::Failed);
    }
    driver::policy(state, &profile, n_lines).map_err(|e| {
        eprintln!("{}: {e}", origin.display());
        Failure::Failed
    })
}

fn read_profile(path: &Path) -> Result<Profile, Failure> {
    let unreadable = |e: io::Error| Failure::Usage(format!("cannot read {}: {e}", path.display()));
    let f = fs::File::open(path).map_err(unreadable)?;
    let mut bytes = Vec::new();
    // One byte more than accepted, so the parser reports the size itself.
    f.take(mppd_config::xml::MAX_PROFILE_BYTES as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(unreadable)?;
    Profile::parse(&bytes).map_err(|e| {
        eprintln!("{}:{}: {}: {e}", path.display(), e.line(), e.name());
        Failure::Failed
    })
}
