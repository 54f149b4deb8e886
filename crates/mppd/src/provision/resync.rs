//! One resync (mpp-provisioning §2.1, §3.3; SPEC §1, §10-§12): `Profile_Rule`, `_B`, `_C` and
//! `_D` in order (or one rule given on the command line), each rule's first alternative whose
//! condition holds, its assignments, its URL fetched through every check, decoded (`--key`,
//! gzip), parsed and validated. Only when every rule succeeded are the results applied, in
//! order (the last one wins), to `STATE/profile.xml` in one atomic write: a failed resync
//! changes nothing. Syslog messages go out at the start of each fetch and at the end.

use std::fmt;
use std::net::IpAddr;

use mppd_config::Profile;
use mppd_config::identity::DeviceIdentity;
use mppd_config::macros::{LineIds, MacroContext, RequestParts};
use mppd_config::profile::is_secret_name;
use mppd_config::rule::{EvalError, ExpandError, Rule, RuleError, Url};
use mppd_config::store::{ApplyMode, StoreError};
use mppd_config::validate;
use mppd_config::xml::ParseError;
use mppd_core::provision::syslog::{Header, Message, SyslogConfig, rfc3164_timestamp};
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
}

/// Owned values behind a [`MacroContext`].
struct MacroValues {
    gpp: Vec<String>,
    gpp_secret: Vec<String>,
    lines: Vec<(String, String, String)>,
}

impl MacroValues {
    fn from_profile(p: &Profile, lines: u8) -> Self {
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

    fn line_ids(&self) -> Vec<LineIds<'_>> {
        self.lines
            .iter()
            .map(|(u, d, a)| LineIds {
                user_id: u,
                display_name: d,
                auth_id: a,
            })
            .collect()
    }

    fn context<'a>(
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
struct Syslog {
    config: Option<SyslogConfig>,
}

impl Syslog {
    async fn send(&self, message: Message, ctx: &MacroContext<'_>) {
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
                    let fetched = match self
                        .fetcher
                        .fetch(&req.url, &req.options, Method::Get, self.dhcp_server)
                        .await
                    {
                        Ok(f) => f,
                        Err(FetchError::NotFound) if !fails_on_fnf => {
                            outcome
                                .skipped
                                .push(format!("{param}: {url} not found (Resync_Fails_On_FNF No)"));
                            continue;
                        }
                        Err(error) => return Err(ResyncError::Fetch { url, error }),
                    };
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
                ctx.error = None;
                let text = e.to_string();
                ctx.error = Some(&text);
                syslog.send(Message::ResyncFailure, &ctx).await;
                return Err(e);
            }
            Err(other) => {
                let e = ResyncError::Store(other.to_string());
                let text = e.to_string();
                ctx.error = Some(&text);
                syslog.send(Message::ResyncFailure, &ctx).await;
                return Err(e);
            }
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

/// A changed name as printed: secrets are named, never shown.
pub fn describe_change(name: &str) -> String {
    if is_secret_name(name) {
        format!("{name} (secret)")
    } else {
        name.to_owned()
    }
}
