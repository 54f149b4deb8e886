//! `mppd proxy find` (docs/cli.md): which proxy the phone uses for a URL.

use std::fs;
use std::io::Write as _;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;

use clap::{Args, Subcommand};
use mppd_core::proxy::result::ProxyChoice;

use super::{CmdResult, Failure, device_identity, profile_for, runtime};
use crate::provision::dhcp_client;
use crate::provision::dns::{HostsThenDns, parse_nameserver};
use crate::provision::fetch::{Fetcher, Resolve, SystemResolver};
use crate::proxy::pac::{PacEngine, PacEnv, PacLimits, host_of_url};
use crate::proxy::{ProxyMode, WpadHints};
use crate::state::StateDir;

/// `mppd proxy ...`.
#[derive(Debug, Subcommand)]
pub enum ProxyCommand {
    /// Print the PAC result string for a URL (line 1, as `pactester` prints it) and the proxy
    /// the phone would use (`proxy: ...`, then `fallback: ...` for the next entries).
    Find(FindArgs),
}

/// `mppd proxy find`.
#[derive(Debug, Args)]
pub struct FindArgs {
    /// The profile whose Proxy_Mode decides (default: the state directory's).
    #[arg(long, value_name = "FILE", conflicts_with = "pac")]
    pub profile: Option<PathBuf>,
    /// Evaluate this PAC file instead of the profile's proxy settings.
    #[arg(long, value_name = "FILE")]
    pub pac: Option<PathBuf>,
    /// Pin `myIpAddress()` (and `myIpAddressEx()`) to this address, as `pactester -c` does.
    #[arg(long, value_name = "ADDR")]
    pub my_ip: Option<IpAddr>,
    /// With --pac: evaluate every non-empty line of this file and print `URL : RESULT` lines,
    /// as `pactester -f` does.
    #[arg(long, value_name = "LIST", requires = "pac", conflicts_with = "url")]
    pub urls: Option<PathBuf>,
    /// Resolve names (the PAC file's host, WPAD, `dnsResolve`) with this DNS server after
    /// `/etc/hosts`.
    #[arg(long, value_name = "IP[:PORT]", value_parser = parse_nameserver)]
    pub nameserver: Option<SocketAddr>,
    /// WPAD: ask DHCP on this interface only for option 252 (the PAC URL) and 15 (the domain).
    #[arg(long, value_name = "IFACE", conflicts_with = "pac")]
    pub dhcp_iface: Option<String>,
    /// WPAD: the phone's DNS domain (default: DHCP option 15, else /etc/resolv.conf).
    #[arg(long, value_name = "DOMAIN", conflicts_with = "pac")]
    pub domain: Option<String>,
    /// The URL.
    #[arg(required_unless_present = "urls")]
    pub url: Option<String>,
}

/// Runs `mppd proxy ...`.
pub(super) fn run(state: &StateDir, cmd: &ProxyCommand) -> CmdResult {
    match cmd {
        ProxyCommand::Find(args) => find(state, args),
    }
}

fn resolver(args: &FindArgs) -> Arc<dyn Resolve> {
    match args.nameserver {
        Some(ns) => Arc::new(HostsThenDns::with_nameserver(ns)),
        None => Arc::new(SystemResolver),
    }
}

fn find(state: &StateDir, args: &FindArgs) -> CmdResult {
    if let Some(pac) = &args.pac {
        return find_with_pac(pac, args);
    }
    let Some(url) = args.url.as_deref() else {
        return Err(Failure::Usage("a URL is required".to_owned()));
    };
    let host = host_of(url)?;
    let profile = profile_for(state, args.profile.as_deref())?;
    let identity = device_identity(state)?;
    let (fetcher, warnings) = Fetcher::new(&profile, state, &identity).map_err(|e| {
        eprintln!("mppd: {e}");
        Failure::Failed
    })?;
    for w in warnings {
        eprintln!("mppd: warning: {w}");
    }
    let mut hints = WpadHints::default();
    if fetcher.proxy_settings().mode == ProxyMode::Auto && fetcher.proxy_settings().wpad {
        if let Some(iface) = &args.dhcp_iface {
            let offer = dhcp_client::discover(
                iface,
                identity.product_name.as_deref().unwrap_or_default(),
                dhcp_client::DEFAULT_TIMEOUT,
                dhcp_client::DEFAULT_ATTEMPTS,
            )
            .map_err(|e| {
                eprintln!("mppd: {e}");
                Failure::Failed
            })?;
            eprintln!(
                "mppd: dhcp: offer from {} on {iface}: option 252 {}, domain {}",
                offer.server,
                offer.options.get(&252).map_or("(none)", String::as_str),
                offer.options.get(&15).map_or("(none)", String::as_str),
            );
            hints.option_252 = offer.options.get(&252).cloned();
            hints.domain = offer.options.get(&15).cloned();
        }
        if let Some(d) = &args.domain {
            hints.domain = Some(d.clone());
        }
        if hints.domain.is_none() {
            hints.domain = fs::read_to_string("/etc/resolv.conf")
                .ok()
                .and_then(|t| WpadHints::domain_from_resolv_conf(&t));
        }
    }
    let fetcher = fetcher
        .with_resolver(resolver(args))
        .with_wpad_hints(hints)
        .with_pac_my_ip(args.my_ip);
    let runtime = runtime()?;
    let decision = runtime.block_on(fetcher.decide_proxy(url, &host));
    for w in &decision.warnings {
        eprintln!("mppd: warning: {w}");
    }
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{}", decision.result);
    print_route(&mut out, &decision.route);
    if let Some(source) = &decision.pac_source {
        let _ = writeln!(out, "pac: {source}");
    }
    Ok(())
}

fn host_of(url: &str) -> Result<String, Failure> {
    host_of_url(url).ok_or_else(|| {
        eprintln!("mppd: not a URL with a host: {url:?}");
        Failure::Failed
    })
}

fn print_route(out: &mut impl std::io::Write, route: &[ProxyChoice]) {
    for (i, c) in route.iter().enumerate() {
        let _ = writeln!(out, "{}: {c}", if i == 0 { "proxy" } else { "fallback" });
    }
}

fn find_with_pac(path: &std::path::Path, args: &FindArgs) -> CmdResult {
    let script = fs::read(path).map_err(|e| {
        eprintln!("mppd: cannot read the PAC file {}: {e}", path.display());
        Failure::Failed
    })?;
    let script = String::from_utf8(script).map_err(|e| {
        eprintln!(
            "mppd: the PAC file {} is not UTF-8 text: {e}",
            path.display()
        );
        Failure::Failed
    })?;
    let urls: Vec<String> = match &args.urls {
        Some(list) => fs::read_to_string(list)
            .map_err(|e| {
                eprintln!("mppd: cannot read the URL list {}: {e}", list.display());
                Failure::Failed
            })?
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(str::to_owned)
            .collect(),
        None => vec![args.url.clone().unwrap_or_default()],
    };
    let hosts: Vec<String> = if args.urls.is_some() {
        urls.iter()
            .map(|u| host_of_url(u).unwrap_or_default())
            .collect()
    } else {
        vec![host_of(&urls[0])?]
    };
    let env = PacEnv {
        my_ip: args.my_ip,
        resolver: resolver(args),
    };
    let engine = PacEngine::new(&script, env, PacLimits::default());
    if let Err(e) = &engine {
        eprintln!(
            "mppd: warning: PAC file {}: {e}; using DIRECT",
            path.display()
        );
    }
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    for (url, host) in urls.iter().zip(&hosts) {
        let result = match &engine {
            Ok(engine) => engine.find(url, host).unwrap_or_else(|e| {
                eprintln!(
                    "mppd: warning: PAC file {} for {url}: {e}; using DIRECT",
                    path.display()
                );
                "DIRECT".to_owned()
            }),
            Err(_) => "DIRECT".to_owned(),
        };
        if args.urls.is_some() {
            let _ = writeln!(out, "{url} : {result}");
        } else {
            let _ = writeln!(out, "{result}");
            let mut warnings = Vec::new();
            let route = crate::provision::fetch::route_of_result(&result, &mut warnings);
            for w in &warnings {
                eprintln!("mppd: warning: {w}");
            }
            print_route(&mut out, &route);
        }
    }
    let _ = out.flush();
    Ok(())
}
