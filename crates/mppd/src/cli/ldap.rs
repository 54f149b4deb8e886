//! `mppd ldap search` (docs/cli.md): a corporate directory search as the phone does it.

use std::io::Write;
use std::path::PathBuf;

use clap::Subcommand;
use mppd_core::ldap::Transport;
use serde_json::json;

use super::{CmdResult, Failure, Format, print_json, profile_for, runtime};
use crate::ldap::{Directory, SearchOutcome};
use crate::state::StateDir;

/// `mppd ldap ...`.
#[derive(Debug, Subcommand)]
pub enum LdapCommand {
    /// Search the directory by name (`LDAP_Last_Name_Filter` or `LDAP_First_Name_Filter`
    /// with `$VALUE` = NAME, escaped) and print one line per entry.
    Search {
        /// The profile (default: STATE/profile.xml, else the embedded default).
        #[arg(long, value_name = "FILE")]
        profile: Option<PathBuf>,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
        /// The name typed by the user.
        name: String,
    },
}

fn transport_id(t: Transport) -> &'static str {
    match t {
        Transport::Tls => "tls",
        Transport::Plain => "plain",
        Transport::StartTlsRefused => "starttls-refused",
    }
}

/// Runs `mppd ldap ...`.
pub fn run(state: &StateDir, cmd: &LdapCommand) -> CmdResult {
    let LdapCommand::Search {
        profile,
        format,
        name,
    } = cmd;
    let profile = profile_for(state, profile.as_deref())?;
    let directory = Directory::new(&profile, state).map_err(|e| {
        eprintln!("mppd: {e}");
        Failure::Failed
    })?;
    let runtime = runtime()?;
    let outcome = runtime.block_on(directory.search_name(name)).map_err(|e| {
        eprintln!("mppd: {e}");
        Failure::Failed
    })?;
    for w in &outcome.warnings {
        eprintln!("mppd: warning: {w}");
    }
    if outcome.truncated {
        eprintln!(
            "mppd: warning: the search stopped at the size limit ({} entries)",
            directory.config().limits.size_limit
        );
    }
    print_outcome(&outcome, *format);
    Ok(())
}

fn print_outcome(outcome: &SearchOutcome, format: Format) {
    match format {
        Format::Json => print_json(&json!({
            "entries": outcome.rows,
            "truncated": outcome.truncated,
            "transport": transport_id(outcome.transport),
            "tls_version": outcome.tls_version,
            "filter": outcome.filter,
            "warnings": outcome.warnings,
        })),
        Format::Text => {
            let mut out = std::io::stdout().lock();
            for row in &outcome.rows {
                let mut line = clean(&row.name);
                for f in &row.fields {
                    line.push('\t');
                    line.push_str(&clean(&f.label));
                    line.push_str(": ");
                    line.push_str(&clean(&f.value));
                }
                if let Some(d) = &row.dial {
                    line.push_str("\tdial: ");
                    line.push_str(d);
                }
                let _ = writeln!(out, "{line}");
            }
        }
    }
}

/// A value on one line: tabs, newlines and other control characters become spaces (the server
/// chooses the values; they must not forge lines or fields).
fn clean(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}
