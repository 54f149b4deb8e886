//! `mppd provision`: one resync from the state directory (docs/cli.md).

use std::io::Write;
use std::net::SocketAddr;
use std::sync::Arc;

use clap::Args;
use serde_json::json;

use super::{CmdResult, Failure, Format, device_identity, print_json, profile_for, runtime};
use mppd_core::provision::dhcp;

use crate::provision::dhcp_client;
use crate::provision::dns::{HostsThenDns, parse_nameserver};
use crate::provision::fetch::Fetcher;
use crate::provision::resync::{Outcome, Resync, ResyncError, describe_change};
use crate::provision::upgrade::{Upgrade, UpgradeError, UpgradeOutcome};
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
    /// Run only Upgrade_Rule: download the firmware image, verify it against `URL.sha256` and
    /// store it under `STATE/firmware/` (it is not installed).
    #[arg(long, conflicts_with_all = ["report", "rule", "dhcp_iface"])]
    pub upgrade: bool,
    /// The server for rules that name none (as DHCP option 66 would give it).
    #[arg(long, value_name = "HOST")]
    pub server: Option<String>,
    /// Resolve host names with this DNS server (`IP[:PORT]`, port 53 by default; UDP, then TCP)
    /// after `/etc/hosts`, instead of the system's resolver.
    #[arg(long, value_name = "IP[:PORT]", value_parser = parse_nameserver)]
    pub nameserver: Option<SocketAddr>,
    /// Discover the provisioning server by DHCP on this interface only (DISCOVER/OFFER, no
    /// lease): while Profile_Rule starts with `/`, the offer's candidate URLs are tried in the
    /// DHCP_Option_To_Use order; option 66 also gives the server of rules that name none.
    #[arg(long, value_name = "IFACE")]
    pub dhcp_iface: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

/// Runs `mppd provision`.
pub(super) fn run(state: &StateDir, lines: Option<u8>, args: &ProvisionArgs) -> CmdResult {
    let profile = profile_for(state, None)?;
    let identity = device_identity(state)?;
    let (mut fetcher, warnings) = Fetcher::new(&profile, state, &identity).map_err(|e| {
        eprintln!("mppd: {e}");
        Failure::Failed
    })?;
    if let Some(ns) = args.nameserver {
        fetcher = fetcher.with_resolver(Arc::new(HostsThenDns::with_nameserver(ns)));
    }
    for w in warnings {
        eprintln!("mppd: warning: {w}");
    }
    let runtime = runtime()?;
    let dhcp = match args.dhcp_iface.as_deref() {
        Some(iface) => Some(dhcp_discover(iface, &profile, &identity, args)?),
        None => None,
    };
    let resync = Resync {
        state,
        profile: &profile,
        identity: &identity,
        fetcher: &fetcher,
        dhcp_server: args
            .server
            .as_deref()
            .or(dhcp.as_ref().and_then(|d| d.server.as_deref())),
        lines: state.lines(lines),
    };
    if args.report {
        let result = runtime.block_on(resync.report(args.rule.as_deref()));
        return print_report(&result, args.format);
    }
    if args.upgrade {
        let upgrade = Upgrade {
            state,
            profile: &profile,
            identity: &identity,
            fetcher: &fetcher,
            dhcp_server: resync.dhcp_server,
            lines: resync.lines,
        };
        let result = runtime.block_on(upgrade.run());
        return print_upgrade(&result, args.format);
    }
    let result = match dhcp.as_ref().filter(|d| !d.candidates.is_empty()) {
        Some(d) => runtime.block_on(run_candidates(&resync, d, args.format)),
        None => runtime.block_on(resync.run(args.rule.as_deref())),
    };
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

/// What DHCP discovery gave `mppd provision --dhcp-iface`.
struct Discovered {
    /// The first item of option 66: the server of rules that name none.
    server: Option<String>,
    /// The candidate URLs, in order, with their option (empty unless Profile_Rule starts
    /// with `/`).
    candidates: Vec<(u16, String)>,
}

/// Prints a progress line of DHCP discovery: on stdout in text format, on stderr in JSON
/// format (stdout is the JSON document).
fn dhcp_note(format: Format, line: &str) {
    match format {
        Format::Text => {
            let _ = writeln!(std::io::stdout().lock(), "{line}");
        }
        Format::Json => eprintln!("mppd: {line}"),
    }
}

/// DHCP discovery on `iface` (only there), and the candidate URLs of the offer.
fn dhcp_discover(
    iface: &str,
    profile: &mppd_config::Profile,
    identity: &mppd_config::identity::DeviceIdentity,
    args: &ProvisionArgs,
) -> Result<Discovered, Failure> {
    let vendor_class = identity.product_name.as_deref().unwrap_or_default();
    let offer = dhcp_client::discover(
        iface,
        vendor_class,
        dhcp_client::DEFAULT_TIMEOUT,
        dhcp_client::DEFAULT_ATTEMPTS,
    )
    .map_err(|e| {
        eprintln!("mppd: {e}");
        Failure::Failed
    })?;
    let options: Vec<String> = offer
        .options
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    dhcp_note(
        args.format,
        &format!(
            "dhcp: offer from {} on {iface}: {}",
            offer.server,
            if options.is_empty() {
                "no provisioning options".to_owned()
            } else {
                options.join(", ")
            }
        ),
    );
    let server = offer
        .options
        .get(&66)
        .and_then(|v| v.split(';').map(str::trim).find(|i| !i.is_empty()))
        .map(str::to_owned);
    let profile_rule = match &args.rule {
        Some(r) => r.clone(),
        None => profile
            .effective("Profile_Rule")
            .map(|v| v.into_owned())
            .unwrap_or_default(),
    };
    let order_text = profile
        .effective("DHCP_Option_To_Use")
        .map(|v| v.into_owned())
        .unwrap_or_default();
    let order = dhcp::parse_option_order(&order_text, dhcp::DEFAULT_OPTION_ORDER).map_err(|e| {
        eprintln!("mppd: DHCP_Option_To_Use: {e}");
        Failure::Failed
    })?;
    let found = dhcp::candidates(&offer.options, &order, identity, &profile_rule);
    for s in &found.skipped {
        eprintln!("mppd: warning: DHCP option {}: {}", s.option, s.error);
    }
    if dhcp::applies(&profile_rule) && found.urls.is_empty() {
        eprintln!("mppd: DHCP on {iface}: the offer gives no provisioning candidate URL");
        return Err(Failure::Failed);
    }
    Ok(Discovered {
        server,
        candidates: found
            .urls
            .into_iter()
            .map(|c| (c.option, c.url.to_string()))
            .collect(),
    })
}

/// Tries each DHCP candidate URL as the rule (`Resync::run(Some(url))`) in order until one
/// fetches a profile (a candidate that is not found fails, or with `Resync_Fails_On_FNF` No
/// fetches nothing: either way the next one is tried); the result is that resync's, or the
/// last candidate's.
async fn run_candidates(
    resync: &Resync<'_>,
    found: &Discovered,
    format: Format,
) -> Result<Outcome, ResyncError> {
    let mut last = None;
    for (option, url) in &found.candidates {
        let result = resync.run(Some(url)).await;
        match &result {
            Ok(o) if !o.fetched.is_empty() => {
                dhcp_note(
                    format,
                    &format!("dhcp: candidate used: {url} (option {option})"),
                );
                return result;
            }
            Ok(_) => dhcp_note(
                format,
                &format!("dhcp: candidate skipped: {url} (option {option}): nothing fetched"),
            ),
            Err(e) => dhcp_note(
                format,
                &format!("dhcp: candidate failed: {url} (option {option}): {e}"),
            ),
        }
        last = Some(result);
    }
    match last {
        Some(result) => result,
        // No candidate at all (the caller does not pass that case): an ordinary resync.
        None => resync.run(None).await,
    }
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

/// Prints the result of `mppd provision --upgrade`.
fn print_upgrade(result: &Result<UpgradeOutcome, UpgradeError>, format: Format) -> CmdResult {
    let mut out = std::io::stdout().lock();
    match (result, format) {
        (Ok(o), Format::Json) => print_json(&match o {
            UpgradeOutcome::Disabled => json!({"result": "ok", "upgrade": "disabled"}),
            UpgradeOutcome::Skipped(why) => {
                json!({"result": "ok", "upgrade": "skipped", "reason": why})
            }
            UpgradeOutcome::AlreadyAttempted(url) => {
                json!({"result": "ok", "upgrade": "already-attempted", "url": url})
            }
            UpgradeOutcome::Stored(s) => json!({
                "result": "ok", "upgrade": "stored", "url": s.url, "ip": s.ip.to_string(),
                "name": s.name, "path": s.path, "size": s.size, "sha256": s.sha256,
            }),
        }),
        (Err(e), Format::Json) => print_json(&json!({"result": "failed", "error": e.to_string()})),
        (Ok(o), Format::Text) => {
            let line = match o {
                UpgradeOutcome::Disabled => "upgrade: disabled (Upgrade_Enable is No)".to_owned(),
                UpgradeOutcome::Skipped(why) => format!("upgrade: nothing to do: {why}"),
                UpgradeOutcome::AlreadyAttempted(url) => {
                    format!(
                        "upgrade: already attempted {url} (not retried until the rule or the URL changes)"
                    )
                }
                UpgradeOutcome::Stored(s) => format!(
                    "upgrade: stored {} from {} ({}): {} bytes, sha256 {}",
                    s.name, s.url, s.ip, s.size, s.sha256
                ),
            };
            let _ = writeln!(out, "{line}");
            let _ = writeln!(out, "result: ok");
        }
        (Err(e), Format::Text) => {
            let _ = writeln!(out, "result: failed: {e}");
        }
    }
    result.as_ref().map(drop).map_err(|_| Failure::Failed)
}
