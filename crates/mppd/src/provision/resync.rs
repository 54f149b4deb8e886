//! One resync (mpp-provisioning §2.1, §3.3; SPEC §1, §10-§12): `Profile_Rule`, `_B`, `_C` and
//! `_D` in order (or one rule given on the command line), each rule's first alternative whose
//! condition holds, its assignments, its URL fetched through every check, decoded (`--key`,
//! gzip), parsed and validated. Only when every rule succeeded are the results applied, in
//! order (the last one wins), to `STATE/profile.xml` in one atomic write: a failed resync
//! changes nothing. Syslog messages go out at the start of each fetch and at the end.
//!
//! **Custom CA** (mpp-provisioning §2.6): when `Custom_CA_Rule` is set — the value the fetched
//! profiles give it, else the one in force — it is run after the profile rules succeeded and
//! before anything is applied, through the same checks (rule syntax, restricted domains, TLS
//! policy, `--key`/gzip). Its body must be one or more PEM certificates, each a CA
//! (basicConstraints `CA:TRUE`); they are written to `STATE/ca/custom-ca.pem` in one atomic
//! write just before the profile is applied (and put back as they were when applying the
//! profile fails). A bad body fails the resync: neither the profile nor the CA changes. The
//! next TLS connection (the next resync, `tls probe`, ...) trusts it. It runs with `--rule`
//! too. No syslog request message is sent for it; its failure is the resync's failure message.

use std::fmt;
use std::net::IpAddr;
use std::path::PathBuf;

use mppd_config::Profile;
use mppd_config::identity::DeviceIdentity;
use mppd_config::macros::{LineIds, MacroContext, RequestParts};
use mppd_config::profile::is_secret_name;
use mppd_config::rule::{EvalError, ExpandError, Rule, RuleError, Url};
use mppd_config::store::{ApplyMode, StoreError, write_atomic};
use mppd_config::validate;
use mppd_config::xml::ParseError;
use mppd_core::provision::syslog::{Header, Message, SyslogConfig, rfc3164_timestamp};
use openssl::x509::{X509, X509NameRef};
use tracing::{info, warn};

use super::body::{self, BodyError};
use super::fetch::{FetchError, Fetched, Fetcher, Method};
use crate::state::StateDir;

/// The rules a resync runs, in order.
pub const PROFILE_RULES: [&str; 4] = [
    "Profile_Rule",
    "Profile_Rule_B",
    "Profile_Rule_C",
    "Profile_Rule_D",
];

/// Why a resync failed. The text is `$ERR` of `Log_Failure_Msg`.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum ResyncError {
    /// A rule does not parse.
    Rule {
        /// The parameter.
        param: String,
        /// Why.
        error: RuleError,
    },
    /// A rule's condition cannot be evaluated.
    Condition {
        /// The parameter.
        param: String,
        /// Why.
        error: EvalError,
    },
    /// A rule's URL is not usable after macro expansion.
    Expand {
        /// The parameter.
        param: String,
        /// Why.
        error: ExpandError,
    },
    /// Fetching failed.
    Fetch {
        /// The URL.
        url: String,
        /// Why.
        error: FetchError,
    },
    /// The body cannot be decoded (`--key`, gzip).
    Body {
        /// The URL.
        url: String,
        /// Why.
        error: BodyError,
    },
    /// The body is not a profile.
    Profile {
        /// The URL.
        url: String,
        /// Why.
        error: ParseError,
    },
    /// The profile has invalid values.
    Invalid {
        /// The URL.
        url: String,
        /// `LINE: NAME: message` per problem.
        problems: Vec<String>,
    },
    /// The `Custom_CA_Rule` body is not a CA certificate (or the rule has no single URL).
    CustomCa {
        /// The URL (or the parameter when there is none).
        url: String,
        /// Why.
        reason: String,
    },
    /// `Report_Rule` gives nothing to upload to, or more than two targets.
    Report(String),
    /// The new configuration could not be stored.
    Store(String),
}

impl fmt::Display for ResyncError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Rule { param, error } => write!(f, "{param}: {error}"),
            Self::Condition { param, error } => write!(f, "{param}: condition: {error}"),
            Self::Expand { param, error } => write!(f, "{param}: {error}"),
            Self::Fetch { url, error } => write!(f, "{url}: {error}"),
            Self::Body { url, error } => write!(f, "{url}: {error}"),
            Self::Profile { url, error } => {
                write!(f, "{url}: line {}: {}: {error}", error.line(), error.name())
            }
            Self::Invalid { url, problems } => {
                write!(f, "{url}: invalid profile: {}", problems.join("; "))
            }
            Self::CustomCa { url, reason } => write!(f, "{url}: custom CA: {reason}"),
            Self::Report(m) => write!(f, "Report_Rule: {m}"),
            Self::Store(m) => write!(f, "storing the profile: {m}"),
        }
    }
}

impl std::error::Error for ResyncError {}

/// One profile fetched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchedProfile {
    /// The rule parameter it came from.
    pub param: String,
    /// The URL fetched (final, after redirects; no credentials).
    pub url: String,
    /// The address connected to (`$SERVIP`).
    pub ip: IpAddr,
    /// Bytes received.
    pub bytes: usize,
    /// Parameters the profile sets.
    pub parameters: usize,
}

/// A successful resync.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Outcome {
    /// The profiles fetched, in order.
    pub fetched: Vec<FetchedProfile>,
    /// Rules skipped, with why (empty rule, no alternative applies, file not found tolerated).
    pub skipped: Vec<String>,
    /// Names whose value or access changed in `STATE/profile.xml`.
    pub changed: Vec<String>,
    /// The certificates installed from `Custom_CA_Rule` (empty when the rule is empty).
    pub custom_ca: Vec<CaCert>,
}

/// A CA certificate installed from `Custom_CA_Rule`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaCert {
    /// The subject, `CN=..., O=...`.
    pub subject: String,
    /// notAfter, as OpenSSL prints it (`Nov 25 22:00:00 2036 GMT`).
    pub expires: String,
    /// The URL it came from.
    pub url: String,
}

/// The path of the custom CA file in the state directory.
pub fn custom_ca_path(state: &StateDir) -> PathBuf {
    state.path().join("ca").join(CUSTOM_CA_FILE)
}

/// The file name of the custom CA under `STATE/ca/`.
pub const CUSTOM_CA_FILE: &str = "custom-ca.pem";

/// A custom CA fetched and checked, not yet written.
struct PendingCa {
    pem: Vec<u8>,
    certs: Vec<CaCert>,
}

/// `KEY=value, ...` of an X.509 name.
fn name_string(name: &X509NameRef) -> String {
    name.entries()
        .map(|e| {
            let key = e.object().nid().short_name().unwrap_or("?");
            let value = e.data().to_string().unwrap_or_default();
            format!("{key}={value}")
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Whether the certificate has basicConstraints `CA:TRUE` (read from OpenSSL's text form: the
/// safe bindings expose no accessor, and `unsafe` is forbidden).
fn is_ca(cert: &X509) -> bool {
    let Ok(text) = cert.to_text() else {
        return false;
    };
    let text = String::from_utf8_lossy(&text);
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        if line.trim_start().starts_with("X509v3 Basic Constraints") {
            return lines
                .next()
                .is_some_and(|l| l.trim().split(',').any(|p| p.trim() == "CA:TRUE"));
        }
    }
    false
}

/// Checks a custom CA body: one or more PEM certificates, each a CA certificate. Returns the
/// certificates re-encoded as PEM (anything between them dropped) and their descriptions.
fn check_custom_ca(body: &[u8], url: &str) -> Result<PendingCa, ResyncError> {
    let fail = |reason: String| ResyncError::CustomCa {
        url: url.to_owned(),
        reason,
    };
    let certs =
        X509::stack_from_pem(body).map_err(|e| fail(format!("not a PEM certificate ({e})")))?;
    if certs.is_empty() {
        return Err(fail("no PEM certificate in the body".to_owned()));
    }
    let mut pem = Vec::new();
    let mut out = Vec::new();
    for (i, cert) in certs.iter().enumerate() {
        let subject = name_string(cert.subject_name());
        if !is_ca(cert) {
            return Err(fail(format!(
                "certificate {} ({subject}) is not a CA certificate (no basicConstraints CA:TRUE)",
                i + 1
            )));
        }
        pem.extend(
            cert.to_pem()
                .map_err(|e| fail(format!("certificate {}: {e}", i + 1)))?,
        );
        out.push(CaCert {
            subject,
            expires: cert.not_after().to_string(),
            url: url.to_owned(),
        });
    }
    Ok(PendingCa { pem, certs: out })
}

/// Owned values behind a [`MacroContext`].
pub(crate) struct MacroValues {
    gpp: Vec<String>,
    gpp_secret: Vec<String>,
    lines: Vec<(String, String, String)>,
}

impl MacroValues {
    pub(crate) fn from_profile(p: &Profile, lines: u8) -> Self {
        let v = |n: &str| p.effective(n).map(|c| c.into_owned()).unwrap_or_default();
        Self {
            gpp: (b'A'..=b'P')
                .map(|c| v(&format!("GPP_{}", c as char)))
                .collect(),
            gpp_secret: (b'A'..=b'D')
                .map(|c| v(&format!("GPP_S{}", c as char)))
                .collect(),
            lines: (1..=lines)
                .map(|n| {
                    (
                        v(&format!("User_ID_{n}_")),
                        v(&format!("Display_Name_{n}_")),
                        v(&format!("Auth_ID_{n}_")),
                    )
                })
                .collect(),
        }
    }

    pub(crate) fn line_ids(&self) -> Vec<LineIds<'_>> {
        self.lines
            .iter()
            .map(|(u, d, a)| LineIds {
                user_id: u,
                display_name: d,
                auth_id: a,
            })
            .collect()
    }

    pub(crate) fn context<'a>(
        &'a self,
        identity: &'a DeviceIdentity,
        ids: &'a [LineIds<'a>],
    ) -> MacroContext<'a> {
        let mut ctx = MacroContext::new(identity);
        for (slot, v) in ctx.gpp.iter_mut().zip(&self.gpp) {
            *slot = v;
        }
        for (slot, v) in ctx.gpp_secret.iter_mut().zip(&self.gpp_secret) {
            *slot = v;
        }
        ctx.lines = ids;
        ctx
    }
}

/// Sends the SPEC §12 messages to `Syslog_Server` (nothing when it is empty).
pub(crate) struct Syslog {
    pub(crate) config: Option<SyslogConfig>,
}

impl Syslog {
    pub(crate) async fn send(&self, message: Message, ctx: &MacroContext<'_>) {
        let Some(config) = &self.config else { return };
        let Some(server) = &config.server else { return };
        let timestamp = utc_timestamp();
        let header = Header {
            timestamp: &timestamp,
            hostname: "mppd",
        };
        let Some(datagram) = config.datagram(message, ctx, &header) else {
            return;
        };
        let target = format!("{}:{}", server.host, server.port);
        let addr = match tokio::net::lookup_host(&target).await {
            Ok(mut addrs) => addrs.next(),
            Err(e) => {
                warn!(%target, "syslog server does not resolve: {e}");
                return;
            }
        };
        let Some(addr) = addr else { return };
        let bind = if addr.is_ipv4() {
            "0.0.0.0:0"
        } else {
            "[::]:0"
        };
        match tokio::net::UdpSocket::bind(bind).await {
            Ok(sock) => {
                if let Err(e) = sock.send_to(&datagram, addr).await {
                    warn!(%addr, "syslog: {e}");
                }
            }
            Err(e) => warn!("syslog socket: {e}"),
        }
    }
}

/// `Mmm dd hh:mm:ss` in UTC (the phone's time zone is not modelled yet).
fn utc_timestamp() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let days = i64::try_from(secs / 86_400).unwrap_or(0);
    let rem = secs % 86_400;
    // Civil date from days since 1970-01-01 (H. Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let small = |v: i64| u8::try_from(v).unwrap_or(0);
    let part = |v: u64| u8::try_from(v).unwrap_or(0);
    rfc3164_timestamp(
        small(month),
        small(day),
        part(rem / 3600),
        part(rem % 3600 / 60),
        part(rem % 60),
    )
    .unwrap_or_else(|| "Jan  1 00:00:00".to_owned())
}

/// The URL as shown in logs and output (it carries no credentials: those are rule options).
fn show(url: &Url) -> String {
    url.to_string()
}

/// One resync of the state directory.
pub struct Resync<'a> {
    /// The state directory.
    pub state: &'a StateDir,
    /// The profile in force (its rules, GPP values, restricted domains...).
    pub profile: &'a Profile,
    /// The device.
    pub identity: &'a DeviceIdentity,
    /// The fetcher built from the same profile.
    pub fetcher: &'a Fetcher,
    /// The DHCP-supplied server, for rules without one.
    pub dhcp_server: Option<&'a str>,
    /// Lines of the device (for `$UIDn`...).
    pub lines: u8,
}

impl Resync<'_> {
    /// GETs a rule's request and decodes the body (`--key`, gzip): the response, the final
    /// URL (after redirects) and the plain bytes.
    async fn fetch_decoded(
        &self,
        req: &mppd_config::rule::Request,
    ) -> Result<(Fetched, String, Vec<u8>), ResyncError> {
        let fetched = self
            .fetcher
            .fetch(&req.url, &req.options, Method::Get, self.dhcp_server)
            .await
            .map_err(|error| ResyncError::Fetch {
                url: show(&req.url),
                error,
            })?;
        let url = format!(
            "{}://{}:{}{}",
            fetched.scheme.as_str(),
            fetched.host,
            fetched.port,
            fetched.path
        );
        let plain = body::decode(
            &fetched.body,
            req.options.key.as_deref(),
            self.fetcher.fips(),
        )
        .map_err(|error| ResyncError::Body {
            url: url.clone(),
            error,
        })?;
        Ok((fetched, url, plain))
    }

    /// Runs the rules (or `rule_override` alone), and applies the results when all succeed.
    pub async fn run(&self, rule_override: Option<&str>) -> Result<Outcome, ResyncError> {
        let values = MacroValues::from_profile(self.profile, self.lines);
        let ids = values.line_ids();
        let base = values.context(self.identity, &ids);
        let syslog = Syslog {
            config: match SyslogConfig::from_profile(self.profile) {
                Ok(c) => Some(c),
                Err(e) => {
                    warn!("Syslog_Server: {e}; no syslog messages");
                    None
                }
            },
        };
        let rules: Vec<(String, String)> = match rule_override {
            Some(r) => vec![("--rule".to_owned(), r.to_owned())],
            None => PROFILE_RULES
                .iter()
                .map(|p| {
                    (
                        (*p).to_owned(),
                        self.profile
                            .effective(p)
                            .map(|v| v.into_owned())
                            .unwrap_or_default(),
                    )
                })
                .collect(),
        };
        let fails_on_fnf = self.profile.bool("Resync_Fails_On_FNF");
        let mut outcome = Outcome::default();
        let mut incoming = Profile::new();
        let mut last: Option<Fetched> = None;
        let mut pending_ca: Option<PendingCa> = None;
        let result: Result<(), ResyncError> = async {
            for (param, text) in &rules {
                if text.trim().is_empty() {
                    outcome.skipped.push(format!("{param}: empty"));
                    continue;
                }
                let rule = Rule::parse(text).map_err(|error| ResyncError::Rule {
                    param: param.clone(),
                    error,
                })?;
                let Some(alt) = rule.select(&base).map_err(|error| ResyncError::Condition {
                    param: param.clone(),
                    error,
                })?
                else {
                    outcome
                        .skipped
                        .push(format!("{param}: no alternative applies"));
                    continue;
                };
                for (name, value) in alt.expand_assignments(&base) {
                    incoming.set(&name, &value, None, 0);
                }
                let requests = alt.expand(&base).map_err(|error| ResyncError::Expand {
                    param: param.clone(),
                    error,
                })?;
                for req in requests {
                    let url = show(&req.url);
                    let host = req
                        .url
                        .host
                        .clone()
                        .or_else(|| self.dhcp_server.map(str::to_owned))
                        .unwrap_or_default();
                    let mut ctx = base;
                    ctx.request = Some(RequestParts {
                        scheme: req.url.scheme.as_str(),
                        host: &host,
                        ip: None,
                        port: req.url.effective_port(),
                        path: &req.url.path,
                    });
                    syslog.send(Message::ResyncRequest, &ctx).await;
                    info!(%param, %url, "resync: fetching");
                    let (fetched, url, plain) = match self.fetch_decoded(&req).await {
                        Err(ResyncError::Fetch {
                            error: FetchError::NotFound,
                            ..
                        }) if !fails_on_fnf => {
                            outcome
                                .skipped
                                .push(format!("{param}: {url} not found (Resync_Fails_On_FNF No)"));
                            continue;
                        }
                        other => other?,
                    };
                    let p = Profile::parse(&plain).map_err(|error| ResyncError::Profile {
                        url: url.clone(),
                        error,
                    })?;
                    let report = validate::validate(&p);
                    if !report.is_valid() {
                        return Err(ResyncError::Invalid {
                            url,
                            problems: report
                                .errors
                                .iter()
                                .map(|e| format!("line {}: {e}", e.line))
                                .collect(),
                        });
                    }
                    outcome.fetched.push(FetchedProfile {
                        param: param.clone(),
                        url,
                        ip: fetched.ip,
                        bytes: fetched.body.len(),
                        parameters: p.entries().len(),
                    });
                    incoming.merge(&p);
                    last = Some(fetched);
                }
            }
            // The custom CA rule the resync leaves in force.
            let ca_rule = incoming
                .get(CUSTOM_CA_RULE)
                .map(|e| e.value.clone())
                .or_else(|| {
                    self.profile
                        .effective(CUSTOM_CA_RULE)
                        .map(|v| v.into_owned())
                })
                .unwrap_or_default();
            if !ca_rule.trim().is_empty() {
                pending_ca = self.custom_ca(&ca_rule, base, &mut incoming).await?;
            }
            Ok(())
        }
        .await;
        // The end message carries the last request's parts and, on failure, the reason.
        let err_text = result.as_ref().err().map(ToString::to_string);
        let ip_text = last.as_ref().map(|f| f.ip.to_string());
        let mut ctx = base;
        if let Some(f) = &last {
            ctx.request = Some(RequestParts {
                scheme: f.scheme.as_str(),
                host: &f.host,
                ip: ip_text.as_deref(),
                port: f.port,
                path: &f.path,
            });
        }
        ctx.error = err_text.as_deref();
        if let Err(e) = result {
            warn!("resync failed: {e}");
            syslog.send(Message::ResyncFailure, &ctx).await;
            return Err(e);
        }
        // The custom CA first, so that a failure to write it leaves the profile as it was; it is
        // put back when the profile cannot be applied.
        let ca_path = custom_ca_path(self.state);
        let mut ca_restore: Option<Option<Vec<u8>>> = None;
        if let Some(ca) = &pending_ca {
            let previous = std::fs::read(&ca_path).ok();
            let written = ca_path
                .parent()
                .map_or(Ok(()), std::fs::create_dir_all)
                .and_then(|()| write_atomic(&ca_path, &ca.pem));
            if let Err(io) = written {
                let e = ResyncError::Store(format!(
                    "writing the custom CA {}: {io}",
                    ca_path.display()
                ));
                let text = e.to_string();
                ctx.error = Some(&text);
                syslog.send(Message::ResyncFailure, &ctx).await;
                return Err(e);
            }
            ca_restore = Some(previous);
        }
        let restore_ca = || {
            let result = match &ca_restore {
                None => Ok(()),
                Some(Some(old)) => write_atomic(&ca_path, old),
                Some(None) => std::fs::remove_file(&ca_path),
            };
            if let Err(e) = result {
                warn!("putting back {}: {e}", ca_path.display());
            }
        };
        let before = self.state.store().load().ok().flatten().unwrap_or_default();
        match self.state.store().apply(&incoming, ApplyMode::Merge) {
            Ok((after, _)) => {
                outcome.changed = incoming
                    .entries()
                    .iter()
                    .filter(|e| {
                        let (old, new) = (before.get(&e.name), after.get(&e.name));
                        old.map(|o| (&o.value, o.ua)) != new.map(|n| (&n.value, n.ua))
                    })
                    .map(|e| e.name.clone())
                    .collect();
            }
            Err(StoreError::Invalid(report)) => {
                let e = ResyncError::Store(format!(
                    "the combined profile is invalid: {}",
                    report
                        .errors
                        .iter()
                        .map(ToString::to_string)
                        .collect::<Vec<_>>()
                        .join("; ")
                ));
                restore_ca();
                let text = e.to_string();
                ctx.error = Some(&text);
                syslog.send(Message::ResyncFailure, &ctx).await;
                return Err(e);
            }
            Err(other) => {
                restore_ca();
                let e = ResyncError::Store(other.to_string());
                let text = e.to_string();
                ctx.error = Some(&text);
                syslog.send(Message::ResyncFailure, &ctx).await;
                return Err(e);
            }
        }
        if let Some(ca) = pending_ca {
            for c in &ca.certs {
                info!(subject = %c.subject, expires = %c.expires, "custom CA installed");
            }
            outcome.custom_ca = ca.certs;
        }
        syslog.send(Message::ResyncSuccess, &ctx).await;
        info!(
            fetched = outcome.fetched.len(),
            changed = outcome.changed.len(),
            "resync succeeded"
        );
        Ok(outcome)
    }
}

impl Resync<'_> {
    /// Runs `Custom_CA_Rule` (`text`): its first applicable alternative's assignments go into
    /// `incoming`, its one URL is fetched and decoded like a profile, and the body checked.
    /// `None` when no alternative applies or it has no URL.
    async fn custom_ca(
        &self,
        text: &str,
        base: MacroContext<'_>,
        incoming: &mut Profile,
    ) -> Result<Option<PendingCa>, ResyncError> {
        let rule = Rule::parse(text).map_err(|error| ResyncError::Rule {
            param: CUSTOM_CA_RULE.to_owned(),
            error,
        })?;
        let Some(alt) = rule.select(&base).map_err(|error| ResyncError::Condition {
            param: CUSTOM_CA_RULE.to_owned(),
            error,
        })?
        else {
            return Ok(None);
        };
        for (name, value) in alt.expand_assignments(&base) {
            incoming.set(&name, &value, None, 0);
        }
        let requests = alt.expand(&base).map_err(|error| ResyncError::Expand {
            param: CUSTOM_CA_RULE.to_owned(),
            error,
        })?;
        let req = match requests.as_slice() {
            [] => return Ok(None),
            [req] => req,
            more => {
                return Err(ResyncError::CustomCa {
                    url: CUSTOM_CA_RULE.to_owned(),
                    reason: format!("takes one URL, not {}", more.len()),
                });
            }
        };
        let url = show(&req.url);
        info!(%url, "resync: fetching the custom CA");
        let (_, url, plain) = self.fetch_decoded(req).await?;
        check_custom_ca(&plain, &url).map(Some)
    }
}

/// One report uploaded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reported {
    /// The URL (final, after redirects).
    pub url: String,
    /// `PUT` or `POST`.
    pub method: &'static str,
    /// What the target asked for: `configuration`, `delta` or `status`. All three send the
    /// masked configuration for now.
    pub kind: &'static str,
    /// The address connected to.
    pub ip: IpAddr,
    /// Bytes sent.
    pub bytes: usize,
    /// Whether `--key` encrypted it.
    pub encrypted: bool,
    /// The HTTP status of the answer.
    pub status: u16,
}

/// The most targets `Report_Rule` takes (`[--delta]URL [--status]URL`).
pub const MAX_REPORT_TARGETS: usize = 2;

impl Resync<'_> {
    /// Uploads the configuration in force ([`Resync::profile`], cfg.xml with secrets masked)
    /// to each target of `Report_Rule` (or of `rule_override`): its first applicable
    /// alternative, at most [`MAX_REPORT_TARGETS`] targets, each with `HTTP_Report_Method`
    /// (`PUT` or `POST`, default `POST`) through every check of a fetch; `--key` encrypts the
    /// body (OpenSSL `enc -aes-256-cbc -md sha256`). `--delta` and `--status` are parsed, and
    /// send the same masked configuration for now. The targets are tried in order; the first
    /// failure stops. Without `--key` the body is sent as it is (RFC 8188 with the IKM is not
    /// implemented).
    pub async fn report(&self, rule_override: Option<&str>) -> Result<Vec<Reported>, ResyncError> {
        const PARAM: &str = "Report_Rule";
        let values = MacroValues::from_profile(self.profile, self.lines);
        let ids = values.line_ids();
        let base = values.context(self.identity, &ids);
        let text = match rule_override {
            Some(r) => r.to_owned(),
            None => self
                .profile
                .effective(PARAM)
                .map(|v| v.into_owned())
                .unwrap_or_default(),
        };
        let rule = Rule::parse(&text).map_err(|error| ResyncError::Rule {
            param: PARAM.to_owned(),
            error,
        })?;
        if rule.is_empty() {
            return Err(ResyncError::Report(
                "empty: nowhere to report to".to_owned(),
            ));
        }
        let Some(alt) = rule.select(&base).map_err(|error| ResyncError::Condition {
            param: PARAM.to_owned(),
            error,
        })?
        else {
            return Err(ResyncError::Report("no alternative applies".to_owned()));
        };
        let requests = alt.expand(&base).map_err(|error| ResyncError::Expand {
            param: PARAM.to_owned(),
            error,
        })?;
        if requests.is_empty() {
            return Err(ResyncError::Report("the alternative has no URL".to_owned()));
        }
        if requests.len() > MAX_REPORT_TARGETS {
            return Err(ResyncError::Report(format!(
                "at most {MAX_REPORT_TARGETS} targets, not {}",
                requests.len()
            )));
        }
        let put = self
            .profile
            .effective("HTTP_Report_Method")
            .is_some_and(|m| m.trim().eq_ignore_ascii_case("PUT"));
        let plain = self.profile.emit(true).into_bytes();
        let mut out = Vec::new();
        for req in requests {
            let url = show(&req.url);
            let body = match &req.options.key {
                Some(key) => body::encrypt(&plain, key).map_err(|error| ResyncError::Body {
                    url: url.clone(),
                    error,
                })?,
                None => plain.clone(),
            };
            let bytes = body.len();
            let method = if put {
                Method::Put(body)
            } else {
                Method::Post(body)
            };
            let name = method.as_str();
            info!(%url, method = name, bytes, "report: uploading");
            let fetched = self
                .fetcher
                .fetch(&req.url, &req.options, method, self.dhcp_server)
                .await
                .map_err(|error| ResyncError::Fetch { url, error })?;
            out.push(Reported {
                url: format!(
                    "{}://{}:{}{}",
                    fetched.scheme.as_str(),
                    fetched.host,
                    fetched.port,
                    fetched.path
                ),
                method: name,
                kind: if req.options.status {
                    "status"
                } else if req.options.delta {
                    "delta"
                } else {
                    "configuration"
                },
                ip: fetched.ip,
                bytes,
                encrypted: req.options.key.is_some(),
                status: fetched.status,
            });
        }
        Ok(out)
    }
}

/// The custom CA rule parameter.
const CUSTOM_CA_RULE: &str = "Custom_CA_Rule";

/// A changed name as printed: secrets are named, never shown.
pub fn describe_change(name: &str) -> String {
    if is_secret_name(name) {
        format!("{name} (secret)")
    } else {
        name.to_owned()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use openssl::asn1::Asn1Time;
    use openssl::hash::MessageDigest;
    use openssl::pkey::PKey;
    use openssl::rsa::Rsa;
    use openssl::x509::extension::BasicConstraints;
    use openssl::x509::{X509, X509Builder, X509NameBuilder};

    use super::{ResyncError, check_custom_ca};

    /// A self-signed certificate named `cn`, with basicConstraints `bc` (none when `None`).
    fn cert(cn: &str, bc: Option<BasicConstraints>) -> X509 {
        let key = PKey::from_rsa(Rsa::generate(2048).unwrap()).unwrap();
        let mut name = X509NameBuilder::new().unwrap();
        name.append_entry_by_text("CN", cn).unwrap();
        let name = name.build();
        let mut b = X509Builder::new().unwrap();
        b.set_version(2).unwrap();
        b.set_subject_name(&name).unwrap();
        b.set_issuer_name(&name).unwrap();
        b.set_pubkey(&key).unwrap();
        b.set_not_before(&Asn1Time::days_from_now(0).unwrap())
            .unwrap();
        b.set_not_after(&Asn1Time::days_from_now(30).unwrap())
            .unwrap();
        if let Some(bc) = bc {
            b.append_extension(bc.build().unwrap()).unwrap();
        }
        b.sign(&key, MessageDigest::sha256()).unwrap();
        b.build()
    }

    fn reason(body: &[u8]) -> String {
        match check_custom_ca(body, "https://h/ca.pem") {
            Err(ResyncError::CustomCa { reason, .. }) => reason,
            other => panic!("{:?}", other.map(|p| p.certs)),
        }
    }

    #[test]
    fn only_ca_certificates_pass() {
        let mut ca = BasicConstraints::new();
        ca.critical().ca();
        let ca = cert("root one", Some(ca));
        let mut ca2 = BasicConstraints::new();
        ca2.ca().pathlen(0);
        let ca2 = cert("root two", Some(ca2));
        let mut body = b"junk before\n".to_vec();
        body.extend(ca.to_pem().unwrap());
        body.extend(ca2.to_pem().unwrap());
        let ok = check_custom_ca(&body, "https://h/ca.pem").unwrap();
        assert_eq!(ok.certs.len(), 2);
        assert_eq!(ok.certs[0].subject, "CN=root one");
        assert_eq!(ok.certs[1].subject, "CN=root two");
        // Re-encoded: the junk is gone.
        let mut expected = ca.to_pem().unwrap();
        expected.extend(ca2.to_pem().unwrap());
        assert_eq!(ok.pem, expected);

        let mut not_ca = BasicConstraints::new();
        not_ca.critical();
        let leaf = cert("X509v3 Basic Constraints CA:TRUE", Some(not_ca));
        let mut mixed = ca.to_pem().unwrap();
        mixed.extend(leaf.to_pem().unwrap());
        assert!(
            reason(&mixed)
                .starts_with("certificate 2 (CN=X509v3 Basic Constraints CA:TRUE) is not a CA"),
            "{}",
            reason(&mixed)
        );
        let bare = cert("bare", None);
        assert!(reason(&bare.to_pem().unwrap()).contains("is not a CA certificate"));
        assert!(!reason(b"").is_empty());
        assert!(!reason(b"hello\n").is_empty());
    }
}
