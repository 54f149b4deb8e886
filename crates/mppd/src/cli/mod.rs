//! The `mppd` command line (docs/cli.md is the contract).

use std::fs;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand, ValueEnum};
use mppd_config::profile::{MASK, is_secret_name, mask_in_text, masked_value};
use mppd_config::registry::{self, Scope};
use mppd_config::store::{ApplyMode, StoreError};
use mppd_config::validate::{self, Problem, Report};
use mppd_config::xml::ParseError;
use mppd_config::{Kind, Profile};
use mppd_core::audit::{self, Severity};
use serde_json::{Value, json};

use crate::state::StateDir;

mod firewall;
pub mod ldap;
pub mod provision;
pub mod proxy;
pub mod sip;
pub mod tls;

/// Security subsystem of a multiplatform SIP desk phone, configured by cfg.xml.
#[derive(Debug, Parser)]
#[command(name = "mppd", version, about, long_about = None)]
pub struct Cli {
    /// State directory: profile.xml, identity/, ca/, mppd.sock.
    #[arg(
        long,
        global = true,
        env = "MPPD_STATE_DIR",
        default_value = "./mppd-state",
        value_name = "DIR"
    )]
    pub state_dir: PathBuf,
    /// Number of lines of the device (1-16); default: `lines` in identity/device.toml, else 2.
    #[arg(long, global = true, value_name = "N", value_parser = clap::value_parser!(u8).range(1..=16))]
    pub lines: Option<u8>,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Read, check, change and export profiles (cfg.xml).
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Print the security findings of a profile.
    Audit(AuditArgs),
    /// Run the daemon on the state directory.
    Run(RunArgs),
    /// Ask the running daemon for its status.
    Status(FormatArg),
    /// Run one resync: fetch, check and apply the profile rules.
    Provision(provision::ProvisionArgs),
    /// Probe TLS servers with the phone's policy; list cipher suites.
    #[command(subcommand)]
    Tls(tls::TlsCommand),
    /// Show or create the device identity (certificate and key).
    #[command(subcommand)]
    Identity(tls::IdentityCommand),
    /// Compute, print, apply or remove the phone's nftables firewall.
    #[command(subcommand)]
    Firewall(firewall::FirewallCommand),
    /// The HTTP proxy: which proxy (Manual, PAC file, WPAD) the phone uses for a URL.
    #[command(subcommand)]
    Proxy(proxy::ProxyCommand),
    /// SIP: register the lines.
    #[command(subcommand)]
    Sip(sip::SipCommand),
    /// Search the corporate directory (LDAP, LDAPS, StartTLS).
    #[command(subcommand)]
    Ldap(ldap::LdapCommand),
}

/// `mppd config ...`.
#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Check profiles: exit 0 when valid, else one line per problem `FILE:LINE: NAME: message`.
    Validate {
        /// List the parameters the registry does not know (kept verbatim, not errors).
        #[arg(long)]
        unknown: bool,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
        /// Profiles to check.
        #[arg(required = true, value_name = "FILE")]
        files: Vec<PathBuf>,
    },
    /// Print one parameter's value as the profile sets it, else its default.
    Get {
        /// The profile.
        file: PathBuf,
        /// The parameter (`SIP_Transport_1_`).
        name: String,
    },
    /// Print every known parameter with value, default, ua and source.
    Show {
        /// The profile.
        file: PathBuf,
        /// Only parameters whose effective value differs from the default.
        #[arg(long)]
        changed: bool,
        /// Show secret values instead of `*****`.
        #[arg(long)]
        with_secrets: bool,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
    /// Apply profiles to STATE/profile.xml, in order, each validated and written atomically.
    Apply {
        /// Replace the stored profile instead of merging into it.
        #[arg(long)]
        replace: bool,
        /// Profiles to apply.
        #[arg(required = true, value_name = "FILE")]
        files: Vec<PathBuf>,
    },
    /// Set parameters in STATE/profile.xml (all or none).
    Set {
        /// `NAME=VALUE` pairs.
        #[arg(required = true, value_name = "NAME=VALUE")]
        assignments: Vec<String>,
    },
    /// Print the current profile as cfg.xml (secrets masked).
    Export {
        /// Include secret values.
        #[arg(long)]
        with_secrets: bool,
    },
}

/// `mppd audit`.
#[derive(Debug, Args)]
pub struct AuditArgs {
    /// The profile to judge.
    pub file: PathBuf,
    /// Exit 1 when a finding has at least this severity.
    #[arg(long, value_enum, default_value_t = FailOn::High)]
    pub fail_on: FailOn,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

/// `mppd run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// `log`: compute and log the firewall ruleset, change nothing; `apply`: apply it with nft
    /// at start and on every reload that changes it.
    #[arg(long, value_enum, default_value_t = crate::firewall::FirewallMode::Log)]
    pub firewall: crate::firewall::FirewallMode,
    /// With `--firewall apply`: leave the ruleset in force when the daemon stops.
    #[arg(long)]
    pub firewall_keep_on_exit: bool,
    /// Serve the admin web UI on this address (port `Web_Server_Port`, HTTP or HTTPS per
    /// `Enable_Protocol`, when `Enable_Web_Server` is Yes): `127.0.0.1` for this machine only,
    /// `0.0.0.0` for the network. `none` (the default): no web UI, so that `mppd run` on the
    /// embedded default (empty admin password) exposes nothing.
    #[arg(long, value_name = "IP|none", default_value = "none", value_parser = parse_web_listen)]
    pub web_listen: WebListen,
}

/// `--web-listen`: an address, or `none`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WebListen(pub Option<std::net::IpAddr>);

fn parse_web_listen(s: &str) -> Result<WebListen, String> {
    if s.eq_ignore_ascii_case("none") {
        return Ok(WebListen(None));
    }
    s.parse()
        .map(|ip| WebListen(Some(ip)))
        .map_err(|_| format!("{s:?} is not an IP address or `none`"))
}

/// A `--format` option alone.
#[derive(Debug, Args)]
pub struct FormatArg {
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

/// Output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// For people.
    Text,
    /// For programs.
    Json,
}

/// `--fail-on` severities.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FailOn {
    /// High only.
    High,
    /// Medium and above.
    Medium,
    /// Low and above.
    Low,
    /// Any finding.
    Info,
}

impl FailOn {
    fn severity(self) -> Severity {
        match self {
            Self::High => Severity::High,
            Self::Medium => Severity::Medium,
            Self::Low => Severity::Low,
            Self::Info => Severity::Info,
        }
    }
}

/// How a command ended.
#[derive(Debug)]
pub enum Failure {
    /// Exit 1: the operation failed or found problems (already reported).
    Failed,
    /// Exit 2: bad usage, an unknown name, an unreadable file; the message is printed.
    Usage(String),
}

/// The result of a subcommand.
pub type CmdResult = Result<(), Failure>;

/// Runs the command line and returns the process exit code.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Run(ref r) => {
            return crate::daemon::main(
                StateDir::new(&cli.state_dir),
                cli.lines,
                r.firewall,
                r.firewall_keep_on_exit,
                r.web_listen.0,
            );
        }
        ref command => {
            init_command_logging();
            dispatch(&cli, command)
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Failed) => ExitCode::from(1),
        Err(Failure::Usage(msg)) => {
            eprintln!("mppd: {msg}");
            ExitCode::from(2)
        }
    }
}

/// One-shot commands log warnings (a PAC file that failed, a proxy that did not answer) to
/// stderr; `MPPD_LOG` (e.g. `info`) shows more.
fn init_command_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("MPPD_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .without_time()
        .with_target(false)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .try_init();
}

fn dispatch(cli: &Cli, command: &Command) -> CmdResult {
    let state = StateDir::new(&cli.state_dir);
    match command {
        Command::Config(c) => config(&state, cli.lines, c),
        Command::Audit(a) => audit_cmd(&state, cli.lines, a),
        Command::Status(f) => crate::daemon::status(&state, f.format),
        Command::Tls(c) => tls::run(&state, c),
        Command::Provision(a) => provision::run(&state, cli.lines, a),
        Command::Identity(c) => tls::identity(&state, c),
        Command::Firewall(c) => firewall::run(&state, cli.lines, c),
        Command::Proxy(c) => proxy::run(&state, c),
        Command::Sip(c) => sip::run(&state, cli.lines, c),
        Command::Ldap(c) => ldap::run(&state, c),
        Command::Run(_) => Ok(()),
    }
}

fn config(state: &StateDir, lines: Option<u8>, cmd: &ConfigCommand) -> CmdResult {
    match cmd {
        ConfigCommand::Validate {
            unknown,
            format,
            files,
        } => validate_cmd(files, *unknown, *format),
        ConfigCommand::Get { file, name } => get_cmd(file, name),
        ConfigCommand::Show {
            file,
            changed,
            with_secrets,
            format,
        } => show_cmd(state, lines, file, *changed, *with_secrets, *format),
        ConfigCommand::Apply { replace, files } => apply_cmd(state, files, *replace),
        ConfigCommand::Set { assignments } => set_cmd(state, assignments),
        ConfigCommand::Export { with_secrets } => export_cmd(state, lines, *with_secrets),
    }
}

fn read_file(path: &Path) -> Result<Vec<u8>, Failure> {
    let mut f = fs::File::open(path)
        .map_err(|e| Failure::Usage(format!("cannot read {}: {e}", path.display())))?;
    let mut bytes = Vec::new();
    // Read one byte more than accepted so the parser reports the size itself.
    Read::by_ref(&mut f)
        .take(mppd_config::xml::MAX_PROFILE_BYTES as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| Failure::Usage(format!("cannot read {}: {e}", path.display())))?;
    Ok(bytes)
}

fn parse_error_line(file: &Path, e: &ParseError) -> String {
    format!("{}:{}: {}: {e}", file.display(), e.line(), e.name())
}

fn problem_line(file: &Path, p: &Problem) -> String {
    format!("{}:{}: {p}", file.display(), p.line)
}

fn problem_json(p: &Problem) -> Value {
    let message = p.to_string();
    let message = message
        .strip_prefix(&format!("{}: ", p.name))
        .unwrap_or(&message)
        .to_owned();
    json!({"line": p.line, "name": p.name, "message": message})
}

/// Reads, parses and validates a profile; prints its problems (stderr) and warnings.
fn load_valid(file: &Path) -> Result<(Profile, Report), Failure> {
    let bytes = read_file(file)?;
    let profile = match Profile::parse(&bytes) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("{}", parse_error_line(file, &e));
            return Err(Failure::Failed);
        }
    };
    let report = validate::validate(&profile);
    for w in &report.warnings {
        eprintln!("{}", problem_line(file, w));
    }
    if !report.is_valid() {
        for p in &report.errors {
            eprintln!("{}", problem_line(file, p));
        }
        return Err(Failure::Failed);
    }
    Ok((profile, report))
}

fn validate_cmd(files: &[PathBuf], unknown: bool, format: Format) -> CmdResult {
    let mut any_invalid = false;
    let mut unreadable = None;
    let mut out = Vec::new();
    let mut json_files = Vec::new();
    for file in files {
        let bytes = match read_file(file) {
            Ok(b) => b,
            Err(Failure::Usage(msg)) => {
                eprintln!("mppd: {msg}");
                unreadable = Some(msg);
                continue;
            }
            Err(Failure::Failed) => return Err(Failure::Failed),
        };
        match Profile::parse(&bytes) {
            Err(e) => {
                any_invalid = true;
                out.push(parse_error_line(file, &e));
                json_files.push(json!({
                    "file": file.display().to_string(),
                    "valid": false,
                    "errors": [{"line": e.line(), "name": e.name(), "message": e.to_string()}],
                    "warnings": [],
                    "unknown": [],
                }));
            }
            Ok(profile) => {
                let report = validate::validate(&profile);
                any_invalid |= !report.is_valid();
                for p in &report.errors {
                    out.push(problem_line(file, p));
                }
                for w in &report.warnings {
                    if format == Format::Text {
                        eprintln!("{}", problem_line(file, w));
                    }
                }
                if unknown {
                    for (name, line) in report.unknown_in(&profile) {
                        out.push(format!(
                            "{}:{line}: {name}: unknown parameter (kept verbatim)",
                            file.display()
                        ));
                    }
                } else if !report.unknown.is_empty() && format == Format::Text {
                    // SPEC §0: unknown names are warnings, not errors.
                    eprintln!(
                        "{}: warning: {} parameter(s) not in the registry, kept verbatim (--unknown lists them)",
                        file.display(),
                        report.unknown.len()
                    );
                }
                json_files.push(json!({
                    "file": file.display().to_string(),
                    "valid": report.is_valid(),
                    "errors": report.errors.iter().map(problem_json).collect::<Vec<_>>(),
                    "warnings": report.warnings.iter().map(problem_json).collect::<Vec<_>>(),
                    "unknown": report.unknown_in(&profile).map(|(n, l)| json!({"line": l, "name": n})).collect::<Vec<_>>(),
                }));
            }
        }
    }
    match format {
        Format::Text => print_lines(&out),
        Format::Json => print_json(&json!({ "files": json_files })),
    }
    if let Some(msg) = unreadable {
        return Err(Failure::Usage(format!("{msg} (other files were checked)")));
    }
    if any_invalid {
        Err(Failure::Failed)
    } else {
        Ok(())
    }
}

fn print_lines(lines: &[String]) {
    let mut stdout = io::stdout().lock();
    for l in lines {
        let _ = writeln!(stdout, "{l}");
    }
}

/// The profile a command acts on: `--profile FILE` (validated), else `STATE/profile.xml`, else
/// the embedded default.
/// The tokio runtime of a one-shot command (current thread).
pub(crate) fn runtime() -> Result<tokio::runtime::Runtime, Failure> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| {
            eprintln!("mppd: cannot start the runtime: {e}");
            Failure::Failed
        })
}

/// The device identity of the state directory (the emulated one when it has none).
pub(crate) fn device_identity(
    state: &StateDir,
) -> Result<mppd_config::identity::DeviceIdentity, Failure> {
    state.identity().map(|l| l.identity).map_err(|e| {
        eprintln!("mppd: device identity: {e}");
        Failure::Failed
    })
}

pub(crate) fn profile_for(state: &StateDir, file: Option<&Path>) -> Result<Profile, Failure> {
    if let Some(file) = file {
        return load_valid(file).map(|(p, _)| p);
    }
    match state.store().load() {
        Ok(Some(p)) => Ok(p),
        Ok(None) => Ok(Profile::defaults(state.lines(None))),
        Err(e) => {
            eprintln!("mppd: {e}");
            Err(Failure::Failed)
        }
    }
}

pub(crate) fn print_json(v: &Value) {
    let text = serde_json::to_string_pretty(v).unwrap_or_default();
    let _ = writeln!(io::stdout().lock(), "{text}");
}

fn get_cmd(file: &Path, name: &str) -> CmdResult {
    let (profile, _) = load_valid(file)?;
    let value = match registry::lookup(name) {
        Some(r) => match profile.entry_for(r.def, r.line) {
            Some(e) => e.value.clone(),
            None => r.def.default_for(r.line).into_owned(),
        },
        None => match profile.get(name) {
            Some(e) => e.value.clone(),
            None => {
                return Err(Failure::Usage(format!(
                    "unknown parameter {name}: not in the registry and not in {}",
                    file.display()
                )));
            }
        },
    };
    let _ = writeln!(io::stdout().lock(), "{value}");
    Ok(())
}

/// One row of `config show`.
struct ShowRow {
    name: String,
    value: String,
    default: String,
    ua: &'static str,
    source: String,
    line: Option<u32>,
}

fn shown(name: &str, value: &str, with_secrets: bool) -> String {
    if with_secrets {
        value.to_owned()
    } else {
        masked_value(name, value).into_owned()
    }
}

fn show_cmd(
    state: &StateDir,
    lines: Option<u8>,
    file: &Path,
    changed: bool,
    with_secrets: bool,
    format: Format,
) -> CmdResult {
    let (profile, _) = load_valid(file)?;
    let n_lines = state.lines(lines);
    // The default shown is what the phone does when nothing is set: the registry default, or
    // for a parameter with a fallback (Auth_ID_n_, Auth_Support_RFC8760_n_) the fallback's.
    let empty = Profile::new();
    let mut rows = Vec::new();
    for def in registry::all() {
        let line_set: Vec<Option<u8>> = match def.scope {
            Scope::Global => vec![None],
            Scope::Line => (1..=n_lines).map(Some).collect(),
        };
        for line in line_set {
            let name = def.name_for(line);
            let effective = profile.effective_def(def, line);
            let default = empty.effective_def(def, line);
            if changed && effective == default {
                continue;
            }
            let entry = profile.entry_for(def, line);
            let source = match entry {
                Some(e) if !e.value.is_empty() => "profile".to_owned(),
                _ => match def.fallback {
                    Some(f) if effective != default => format!("fallback:{f}"),
                    _ => "default".to_owned(),
                },
            };
            rows.push(ShowRow {
                value: shown(&name, &effective, with_secrets),
                default: shown(&name, &default, with_secrets),
                ua: profile.ua(&name).as_str(),
                source,
                line: entry.map(|e| e.line),
                name,
            });
        }
    }
    match format {
        Format::Json => print_json(&json!({
            "parameters": rows.iter().map(|r| json!({
                "name": r.name, "value": r.value, "default": r.default,
                "ua": r.ua, "source": r.source, "line": r.line,
            })).collect::<Vec<_>>()
        })),
        Format::Text => {
            let w = rows.iter().map(|r| r.name.len()).max().unwrap_or(4);
            let sw = rows.iter().map(|r| r.source.len()).max().unwrap_or(6);
            let mut out = vec![format!(
                "{:w$}  {:sw$}  {:<4} VALUE (DEFAULT)",
                "NAME", "SOURCE", "UA"
            )];
            for r in &rows {
                let def = if r.value == r.default {
                    String::new()
                } else {
                    format!(" (default: {:?})", r.default)
                };
                out.push(format!(
                    "{:w$}  {:sw$}  {:<4} {:?}{def}",
                    r.name, r.source, r.ua, r.value
                ));
            }
            print_lines(&out);
        }
    }
    Ok(())
}

fn report_store_error(state: &StateDir, e: &StoreError) -> Failure {
    match e {
        StoreError::Invalid(report) => {
            let path = state.store().profile_path();
            for p in &report.errors {
                eprintln!("{}", problem_line(&path, p));
            }
            eprintln!("mppd: nothing was changed");
            Failure::Failed
        }
        other => {
            eprintln!("mppd: {other}");
            Failure::Failed
        }
    }
}

fn apply_cmd(state: &StateDir, files: &[PathBuf], replace: bool) -> CmdResult {
    let store = state.store();
    let mode = if replace {
        ApplyMode::Replace
    } else {
        ApplyMode::Merge
    };
    for file in files {
        let bytes = read_file(file)?;
        let incoming = match Profile::parse(&bytes) {
            Ok(p) => p,
            Err(e) => {
                println!("{}", parse_error_line(file, &e));
                eprintln!("mppd: {} not applied; nothing was changed", file.display());
                return Err(Failure::Failed);
            }
        };
        // The file's own problems are reported against the file and its lines.
        let report = validate::validate(&incoming);
        for w in &report.warnings {
            eprintln!("{}", problem_line(file, w));
        }
        if !report.is_valid() {
            for p in &report.errors {
                println!("{}", problem_line(file, p));
            }
            eprintln!("mppd: {} not applied; nothing was changed", file.display());
            return Err(Failure::Failed);
        }
        match store.apply(&incoming, mode) {
            Ok((stored, _)) => {
                eprintln!(
                    "mppd: applied {} ({} parameters, {} not in the registry, kept) to {}; it now holds {} parameters",
                    file.display(),
                    incoming.entries().len(),
                    report.unknown.len(),
                    store.profile_path().display(),
                    stored.entries().len()
                );
            }
            Err(e) => return Err(report_store_error(state, &e)),
        }
    }
    Ok(())
}

fn set_cmd(state: &StateDir, assignments: &[String]) -> CmdResult {
    let mut incoming = Profile::new();
    for a in assignments {
        let (name, value) = a
            .split_once('=')
            .ok_or_else(|| Failure::Usage(format!("{a:?} is not NAME=VALUE")))?;
        if registry::lookup(name).is_none() {
            return Err(Failure::Usage(format!(
                "unknown parameter {name} (see `mppd config show`); nothing was changed"
            )));
        }
        incoming.set(name, value, None, 0);
    }
    let report = validate::validate(&incoming);
    for w in &report.warnings {
        eprintln!("mppd: {w}");
    }
    if !report.is_valid() {
        for p in &report.errors {
            println!("(command line): {p}");
        }
        eprintln!("mppd: nothing was changed");
        return Err(Failure::Failed);
    }
    match state.store().apply(&incoming, ApplyMode::Merge) {
        Ok(_) => {
            for e in incoming.entries() {
                let v = masked_value(&e.name, &e.value);
                eprintln!("mppd: {} = {v:?}", e.name);
            }
            Ok(())
        }
        Err(e) => Err(report_store_error(state, &e)),
    }
}

fn export_cmd(state: &StateDir, lines: Option<u8>, with_secrets: bool) -> CmdResult {
    let profile = match state.store().load() {
        Ok(Some(p)) => p,
        Ok(None) => Profile::defaults(state.lines(lines)),
        Err(e) => {
            eprintln!("mppd: {e}");
            return Err(Failure::Failed);
        }
    };
    let _ = io::stdout()
        .lock()
        .write_all(profile.emit(!with_secrets).as_bytes());
    Ok(())
}

fn audit_cmd(state: &StateDir, lines: Option<u8>, args: &AuditArgs) -> CmdResult {
    let (profile, _) = load_valid(&args.file)?;
    let findings = audit::audit(&profile, state.lines(lines));
    match args.format {
        Format::Json => print_json(&json!({ "findings": findings })),
        Format::Text => {
            let mut out = Vec::new();
            for f in &findings {
                out.push(format!(
                    "{:<6} {} [{}]",
                    f.severity.to_string(),
                    f.id,
                    f.params.join(", ")
                ));
                out.push(format!("       why: {}", f.why));
                out.push(format!("       fix: {}", f.fix));
            }
            out.push(format!("{} finding(s)", findings.len()));
            print_lines(&out);
        }
    }
    if findings
        .iter()
        .any(|f| f.severity >= args.fail_on.severity())
    {
        Err(Failure::Failed)
    } else {
        Ok(())
    }
}

/// Masks a rule or URL value for logs.
pub fn for_log(name: &str, value: &str) -> String {
    if is_secret_name(name) && !value.is_empty() {
        return MASK.to_owned();
    }
    match registry::lookup(name).map(|r| r.def.kind) {
        Some(Kind::Rule | Kind::Url(_) | Kind::LdapUrl) => mask_in_text(value).into_owned(),
        _ => masked_value(name, value).into_owned(),
    }
}
