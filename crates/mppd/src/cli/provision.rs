//! `mppd provision`: one resync from the state directory (docs/cli.md).

use std::io::Write;

use clap::Args;
use serde_json::json;

use super::{CmdResult, Failure, Format, print_json, profile_for};
use crate::provision::fetch::Fetcher;
use crate::provision::resync::{Resync, ResyncError, describe_change};
use crate::state::StateDir;

/// `mppd provision`.
#[derive(Debug, Args)]
pub struct ProvisionArgs {
    /// Run one resync and exit (the only mode of this command; the daemon schedules resyncs).
    #[arg(long)]
    pub once: bool,
    /// Use this rule instead of Profile_Rule.._D (same syntax, e.g. `[--key K]https://h/$MA.xml`);
    /// with `--report`, instead of Report_Rule.
    #[arg(long, value_name = "RULE")]
    pub rule: Option<String>,
    /// Upload the configuration (cfg.xml, secrets masked) to Report_Rule's targets instead of
    /// resyncing.
    #[arg(long)]
    pub report: bool,
    /// The server for rules that name none (as DHCP option 66 would give it).
    #[arg(long, value_name = "HOST")]
    pub server: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

/// Runs `mppd provision`.
pub(super) fn run(state: &StateDir, lines: Option<u8>, args: &ProvisionArgs) -> CmdResult {
    let profile = profile_for(state, None)?;
    let identity = state
        .identity()
        .map_err(|e| {
            eprintln!("mppd: device identity: {e}");
            Failure::Failed
        })?
        .identity;
    let (fetcher, warnings) = Fetcher::new(&profile, state, &identity).map_err(|e| {
        eprintln!("mppd: {e}");
        Failure::Failed
    })?;
    for w in warnings {
        eprintln!("mppd: warning: {w}");
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| {
            eprintln!("mppd: cannot start the runtime: {e}");
            Failure::Failed
        })?;
    let resync = Resync {
        state,
        profile: &profile,
        identity: &identity,
        fetcher: &fetcher,
        dhcp_server: args.server.as_deref(),
        lines: state.lines(lines),
    };
    if args.report {
        let result = runtime.block_on(resync.report(args.rule.as_deref()));
        return print_report(&result, args.format);
    }
    let result = runtime.block_on(resync.run(args.rule.as_deref()));
    let mut out = std::io::stdout().lock();
    match (&result, args.format) {
        (Ok(o), Format::Json) => print_json(&json!({
            "result": "ok",
            "fetched": o.fetched.iter().map(|f| json!({
                "rule": f.param, "url": f.url, "ip": f.ip.to_string(),
                "bytes": f.bytes, "parameters": f.parameters,
            })).collect::<Vec<_>>(),
            "skipped": o.skipped,
            "changed": o.changed,
            "custom_ca": o.custom_ca.iter().map(|c| json!({
                "subject": c.subject, "expires": c.expires, "url": c.url,
            })).collect::<Vec<_>>(),
        })),
        (Err(e), Format::Json) => print_json(&json!({"result": "failed", "error": e.to_string()})),
        (Ok(o), Format::Text) => {
            for f in &o.fetched {
                let _ = writeln!(
                    out,
                    "fetched {} ({}) from {}: {} bytes, {} parameters",
                    f.url, f.param, f.ip, f.bytes, f.parameters
                );
            }
            for s in &o.skipped {
                let _ = writeln!(out, "skipped {s}");
            }
            let changed: Vec<String> = o.changed.iter().map(|n| describe_change(n)).collect();
            let _ = writeln!(
                out,
                "changed: {}",
                if changed.is_empty() {
                    "nothing".to_owned()
                } else {
                    changed.join(", ")
                }
            );
            for c in &o.custom_ca {
                let _ = writeln!(
                    out,
                    "custom CA: installed {} (expires {}) from {}",
                    c.subject, c.expires, c.url
                );
            }
            let _ = writeln!(out, "result: ok");
        }
        (Err(e), Format::Text) => {
            let _ = writeln!(out, "result: failed: {e}");
        }
    }
    result.map(drop).map_err(|_| Failure::Failed)
}

/// Prints the result of `mppd provision --report`.
fn print_report(
    result: &Result<Vec<crate::provision::resync::Reported>, ResyncError>,
    format: Format,
) -> CmdResult {
    let mut out = std::io::stdout().lock();
    match (result, format) {
        (Ok(sent), Format::Json) => print_json(&json!({
            "result": "ok",
            "reported": sent.iter().map(|r| json!({
                "url": r.url, "method": r.method, "kind": r.kind, "ip": r.ip.to_string(),
                "bytes": r.bytes, "encrypted": r.encrypted, "status": r.status,
            })).collect::<Vec<_>>(),
        })),
        (Err(e), Format::Json) => print_json(&json!({"result": "failed", "error": e.to_string()})),
        (Ok(sent), Format::Text) => {
            for r in sent {
                let _ = writeln!(
                    out,
                    "reported {} ({}cfg.xml) to {} ({}) by {}: {} bytes, HTTP {}",
                    r.kind,
                    if r.encrypted { "encrypted " } else { "" },
                    r.url,
                    r.ip,
                    r.method,
                    r.bytes,
                    r.status
                );
            }
            let _ = writeln!(out, "result: ok");
        }
        (Err(e), Format::Text) => {
            let _ = writeln!(out, "result: failed: {e}");
        }
    }
    result.as_ref().map(drop).map_err(|_| Failure::Failed)
}
