//! Firmware upgrade (mpp-provisioning §2.6; SPEC §12): `Upgrade_Rule` evaluated like a profile
//! rule (conditions, assignments ignored, macros), its one URL downloaded through every check of
//! a fetch, verified and stored as `STATE/firmware/<file name of the path>`. Installing it is out
//! of scope on a general-purpose host.
//!
//! - Nothing happens when `Upgrade_Enable` is No or the rule is empty (or no alternative
//!   applies).
//! - An upgrade rule must name a server (the DHCP-supplied one is not used).
//! - Each attempt writes `STATE/firmware/last-attempt` atomically before downloading: the
//!   effective `scheme://server:port/path` and the SHA-256 of the rule text. The next run with
//!   the same URL and the same rule does nothing ("already attempted", success or failure): the
//!   device does not reattempt until the rule is modified or the effective scheme + server +
//!   port + filepath changes. `Upgrade_Error_Retry_Delay` (a timed retry after a failure) is
//!   the scheduler's business and not applied here.
//! - The expected SHA-256 comes from the companion file `URL.sha256` (`sha256sum` format,
//!   `HEX  name` or a bare `HEX`; an optional line with the size in bytes, bare or as
//!   `size N`). A missing companion fails the upgrade ("no SHA-256 for the image"). Without a
//!   size line the size is the one the server declared (`Content-Length`; the fetch fails when
//!   the body is shorter or longer).
//! - Syslog: `Log_Upgrade_Request_Msg` before the download, `Log_Upgrade_Success_Msg` (its
//!   `$ERR` says what was stored) or `Log_Upgrade_Failure_Msg` (`$ERR` the reason).

use std::fmt;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use mppd_config::Profile;
use mppd_config::identity::DeviceIdentity;
use mppd_config::macros::RequestParts;
use mppd_config::rule::{EvalError, ExpandError, Rule, RuleError, Url};
use mppd_config::store::write_atomic;
use mppd_core::provision::syslog::{Message, SyslogConfig};
use tracing::{info, warn};

use super::fetch::{FetchError, Fetcher, Method};
use super::resync::{MacroValues, Syslog};
use crate::state::StateDir;

/// The largest firmware image downloaded.
pub const MAX_FIRMWARE_BYTES: usize = 256 * 1024 * 1024;

/// The largest companion `.sha256` file read.
const MAX_COMPANION_BYTES: usize = 64 * 1024;

/// The file under `STATE/firmware/` recording the last attempt.
pub const LAST_ATTEMPT_FILE: &str = "last-attempt";

/// The rule parameter.
const PARAM: &str = "Upgrade_Rule";

/// `STATE/firmware/`.
pub fn firmware_dir(state: &StateDir) -> PathBuf {
    state.path().join("firmware")
}

/// Why an upgrade failed. The text is `$ERR` of `Log_Upgrade_Failure_Msg`.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum UpgradeError {
    /// The rule does not parse.
    Rule(RuleError),
    /// The rule's condition cannot be evaluated.
    Condition(EvalError),
    /// The rule's URL is not usable after macro expansion.
    Expand(ExpandError),
    /// The selected alternative does not give exactly one URL naming a server, with a file
    /// name.
    Target(String),
    /// The companion `.sha256` file is missing or unusable.
    NoChecksum {
        /// The companion URL.
        url: String,
        /// Why.
        reason: String,
    },
    /// Downloading failed.
    Fetch {
        /// The URL.
        url: String,
        /// Why.
        error: FetchError,
    },
    /// The image has another size than the companion file says.
    SizeMismatch {
        /// The URL.
        url: String,
        /// From the companion file.
        expected: u64,
        /// Received.
        actual: u64,
    },
    /// The image has another SHA-256 than the companion file says.
    ChecksumMismatch {
        /// The URL.
        url: String,
        /// From the companion file (lowercase hex).
        expected: String,
        /// Of the bytes received.
        actual: String,
    },
    /// Writing under `STATE/firmware/` failed.
    Store(String),
}

impl fmt::Display for UpgradeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Rule(e) => write!(f, "{PARAM}: {e}"),
            Self::Condition(e) => write!(f, "{PARAM}: condition: {e}"),
            Self::Expand(e) => write!(f, "{PARAM}: {e}"),
            Self::Target(why) => write!(f, "{PARAM}: {why}"),
            Self::NoChecksum { url, reason } => {
                write!(f, "no SHA-256 for the image: {url}: {reason}")
            }
            Self::Fetch {
                url,
                error: FetchError::TooLarge,
            } => write!(
                f,
                "{url}: the image is larger than {MAX_FIRMWARE_BYTES} bytes"
            ),
            Self::Fetch { url, error } => write!(f, "{url}: {error}"),
            Self::SizeMismatch {
                url,
                expected,
                actual,
            } => write!(
                f,
                "{url}: size mismatch: expected {expected} bytes, got {actual}"
            ),
            Self::ChecksumMismatch {
                url,
                expected,
                actual,
            } => write!(
                f,
                "{url}: SHA-256 mismatch: expected {expected}, got {actual}"
            ),
            Self::Store(m) => write!(f, "storing the image: {m}"),
        }
    }
}

impl std::error::Error for UpgradeError {}

/// An image downloaded, verified and stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredImage {
    /// The URL fetched (final, after redirects).
    pub url: String,
    /// The address connected to.
    pub ip: IpAddr,
    /// The file name under `STATE/firmware/`.
    pub name: String,
    /// Where it is.
    pub path: PathBuf,
    /// Its size in bytes.
    pub size: u64,
    /// Its SHA-256, lowercase hex.
    pub sha256: String,
}

/// What an upgrade run did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UpgradeOutcome {
    /// `Upgrade_Enable` is No.
    Disabled,
    /// Nothing to do: the rule is empty, or no alternative applies, or it has no URL.
    Skipped(String),
    /// The URL (`scheme://server:port/path`) was attempted already with the same rule.
    AlreadyAttempted(String),
    /// Stored.
    Stored(StoredImage),
}

/// One upgrade run from the state directory.
pub struct Upgrade<'a> {
    /// The state directory.
    pub state: &'a StateDir,
    /// The profile in force.
    pub profile: &'a Profile,
    /// The device.
    pub identity: &'a DeviceIdentity,
    /// The fetcher built from the same profile.
    pub fetcher: &'a Fetcher,
    /// The DHCP-supplied server (not used: an upgrade rule must name its server).
    pub dhcp_server: Option<&'a str>,
    /// Lines of the device (for `$UIDn`...).
    pub lines: u8,
}

/// Lowercase hex.
fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// `scheme://server:port/path` (IPv6 in brackets): what is compared between attempts.
fn effective_url(url: &Url, host: &str) -> String {
    let host = if host.contains(':') {
        format!("[{host}]")
    } else {
        host.to_owned()
    };
    format!(
        "{}://{host}:{}{}",
        url.scheme.as_str(),
        url.effective_port(),
        url.path
    )
}

/// The file name the image is stored under: the last segment of the path without its query.
fn file_name(path: &str) -> Result<String, String> {
    let path = path.split('?').next().unwrap_or_default();
    let name = path.rsplit('/').next().unwrap_or_default();
    if name.is_empty() || name.starts_with('.') || name == LAST_ATTEMPT_FILE || name.contains('\\')
    {
        return Err(format!(
            "the path {path:?} gives no usable file name to store the image under"
        ));
    }
    Ok(name.to_owned())
}

/// What the companion file says: the SHA-256 (lowercase hex) and maybe the size.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Expected {
    sha256: String,
    size: Option<u64>,
}

/// Parses a companion file for the image `name`: `sha256sum` lines (`HEX  name`, `HEX *name`,
/// or a bare `HEX`; a line naming another file is ignored), an optional size line (`N` or
/// `size N`, `size: N`, `size=N`), blank lines and `#` comments.
fn parse_companion(text: &str, name: &str) -> Result<Expected, String> {
    let mut sha: Option<String> = None;
    let mut others = Vec::new();
    let mut size: Option<u64> = None;
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let bad = || format!("line {}: not a SHA-256 or size line: {line:?}", n + 1);
        let mut words = line.split_whitespace();
        let first = words.next().unwrap_or_default();
        if first.len() == 64 && first.bytes().all(|b| b.is_ascii_hexdigit()) {
            let file = words.collect::<Vec<_>>().join(" ");
            let file = file.trim_start_matches('*');
            let base = file.rsplit('/').next().unwrap_or_default();
            if file.is_empty() || base == name {
                let this = first.to_ascii_lowercase();
                if sha.as_ref().is_some_and(|s| *s != this) {
                    return Err(format!("two different SHA-256 values for {name}"));
                }
                sha = Some(this);
            } else {
                others.push(base.to_owned());
            }
            continue;
        }
        let number = if first.eq_ignore_ascii_case("size") || first.eq_ignore_ascii_case("size:") {
            words.next()
        } else if let Some(rest) = first
            .strip_prefix("size=")
            .or_else(|| first.strip_prefix("size:"))
        {
            Some(rest)
        } else {
            Some(first)
        };
        let number = number.filter(|_| words.next().is_none()).ok_or_else(bad)?;
        let value = number.parse::<u64>().map_err(|_| bad())?;
        if size.is_some_and(|s| s != value) {
            return Err("two different sizes".to_owned());
        }
        size = Some(value);
    }
    match sha {
        Some(sha256) => Ok(Expected { sha256, size }),
        None if others.is_empty() => Err("it holds no SHA-256".to_owned()),
        None => Err(format!(
            "it lists no SHA-256 for {name} (only for {})",
            others.join(", ")
        )),
    }
}

/// The `last-attempt` record: the effective URL and the SHA-256 of the rule text.
fn attempt_record(url: &str, rule: &str) -> String {
    format!(
        "url {url}\nrule-sha256 {}\n",
        hex(&openssl::sha::sha256(rule.as_bytes()))
    )
}

impl Upgrade<'_> {
    /// Runs `Upgrade_Rule` (see the module documentation).
    pub async fn run(&self) -> Result<UpgradeOutcome, UpgradeError> {
        if !self.profile.bool("Upgrade_Enable") {
            return Ok(UpgradeOutcome::Disabled);
        }
        let text = self
            .profile
            .effective(PARAM)
            .map(|v| v.into_owned())
            .unwrap_or_default();
        if text.trim().is_empty() {
            return Ok(UpgradeOutcome::Skipped(format!("{PARAM} is empty")));
        }
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
        let fail = |e: UpgradeError| async {
            warn!("upgrade failed: {e}");
            let text = e.to_string();
            let mut ctx = base;
            ctx.error = Some(&text);
            syslog.send(Message::UpgradeFailure, &ctx).await;
            Err(e)
        };
        // The rule: its first applicable alternative's one URL, naming a server.
        let selected = (|| {
            let rule = Rule::parse(&text).map_err(UpgradeError::Rule)?;
            let Some(alt) = rule.select(&base).map_err(UpgradeError::Condition)? else {
                return Ok(None);
            };
            let requests = alt.expand(&base).map_err(UpgradeError::Expand)?;
            match requests.as_slice() {
                [] => Ok(None),
                [req] => Ok(Some(req.clone())),
                more => Err(UpgradeError::Target(format!(
                    "takes one URL, not {}",
                    more.len()
                ))),
            }
        })();
        let req = match selected {
            Ok(Some(r)) => r,
            Ok(None) => {
                return Ok(UpgradeOutcome::Skipped(format!(
                    "{PARAM}: no alternative with a URL applies"
                )));
            }
            Err(e) => return fail(e).await,
        };
        let Some(host) = req.url.host.clone().filter(|h| !h.is_empty()) else {
            return fail(UpgradeError::Target(
                "an upgrade rule must name a server".to_owned(),
            ))
            .await;
        };
        let url = effective_url(&req.url, &host);
        let name = match file_name(&req.url.path) {
            Ok(n) => n,
            Err(why) => return fail(UpgradeError::Target(why)).await,
        };
        // No reattempt of the same URL under the same rule.
        let dir = firmware_dir(self.state);
        let record_path = dir.join(LAST_ATTEMPT_FILE);
        let record = attempt_record(&url, &text);
        if std::fs::read_to_string(&record_path).is_ok_and(|old| old == record) {
            info!(%url, "upgrade: already attempted");
            return Ok(UpgradeOutcome::AlreadyAttempted(url));
        }
        if let Err(e) = std::fs::create_dir_all(&dir)
            .and_then(|()| write_atomic(&record_path, record.as_bytes()))
        {
            return fail(UpgradeError::Store(format!(
                "writing {}: {e}",
                record_path.display()
            )))
            .await;
        }
        let mut ctx = base;
        ctx.request = Some(RequestParts {
            scheme: req.url.scheme.as_str(),
            host: &host,
            ip: None,
            port: req.url.effective_port(),
            path: &req.url.path,
        });
        syslog.send(Message::UpgradeRequest, &ctx).await;
        info!(%url, "upgrade: fetching");
        match self.download(&req, &url, &name, &dir).await {
            Ok(stored) => {
                let ip = stored.ip.to_string();
                let err = format!(
                    "stored {} ({} bytes, sha256 {})",
                    stored.name, stored.size, stored.sha256
                );
                ctx.request = Some(RequestParts {
                    scheme: req.url.scheme.as_str(),
                    host: &host,
                    ip: Some(&ip),
                    port: req.url.effective_port(),
                    path: &req.url.path,
                });
                ctx.error = Some(&err);
                syslog.send(Message::UpgradeSuccess, &ctx).await;
                info!(name = %stored.name, size = stored.size, sha256 = %stored.sha256, "upgrade: image stored");
                Ok(UpgradeOutcome::Stored(stored))
            }
            Err(e) => fail(e).await,
        }
    }

    /// Fetches the companion file and the image, verifies and stores it.
    async fn download(
        &self,
        req: &mppd_config::rule::Request,
        url: &str,
        name: &str,
        dir: &Path,
    ) -> Result<StoredImage, UpgradeError> {
        let companion = Url {
            path: format!("{}.sha256", req.url.path),
            ..req.url.clone()
        };
        let companion_url = format!("{url}.sha256");
        let no_checksum = |reason: String| UpgradeError::NoChecksum {
            url: companion_url.clone(),
            reason,
        };
        let sums = self
            .fetcher
            .fetch_limited(
                &companion,
                &req.options,
                Method::Get,
                None,
                MAX_COMPANION_BYTES,
            )
            .await
            .map_err(|e| no_checksum(e.to_string()))?;
        let sums = String::from_utf8(sums.body).map_err(|_| no_checksum("not text".to_owned()))?;
        let expected = parse_companion(&sums, name).map_err(no_checksum)?;
        let fetched = self
            .fetcher
            .fetch_limited(
                &req.url,
                &req.options,
                Method::Get,
                None,
                MAX_FIRMWARE_BYTES,
            )
            .await
            .map_err(|error| UpgradeError::Fetch {
                url: url.to_owned(),
                error,
            })?;
        let final_url = format!(
            "{}://{}:{}{}",
            fetched.scheme.as_str(),
            fetched.host,
            fetched.port,
            fetched.path
        );
        let size = fetched.body.len() as u64;
        if let Some(want) = expected.size.filter(|&w| w != size) {
            return Err(UpgradeError::SizeMismatch {
                url: final_url,
                expected: want,
                actual: size,
            });
        }
        let actual = hex(&openssl::sha::sha256(&fetched.body));
        if actual != expected.sha256 {
            return Err(UpgradeError::ChecksumMismatch {
                url: final_url,
                expected: expected.sha256,
                actual,
            });
        }
        let path = dir.join(name);
        write_atomic(&path, &fetched.body)
            .map_err(|e| UpgradeError::Store(format!("writing {}: {e}", path.display())))?;
        Ok(StoredImage {
            url: final_url,
            ip: fetched.ip,
            name: name.to_owned(),
            path,
            size,
            sha256: actual,
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::{Expected, file_name, parse_companion};

    const H: &str = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";

    #[test]
    fn companion_formats() {
        let want = |size| Expected {
            sha256: H.to_owned(),
            size,
        };
        assert_eq!(parse_companion(H, "fw.bin").unwrap(), want(None));
        assert_eq!(
            parse_companion(&format!("{}  fw.bin\n", H.to_uppercase()), "fw.bin").unwrap(),
            want(None)
        );
        assert_eq!(
            parse_companion(&format!("{H} *dir/fw.bin\n5242880\n"), "fw.bin").unwrap(),
            want(Some(5_242_880))
        );
        assert_eq!(
            parse_companion(&format!("# sums\n{H}  fw.bin\nsize: 12\n"), "fw.bin").unwrap(),
            want(Some(12))
        );
        let other = format!("{}  other.bin\n{H}  fw.bin\n", "0".repeat(64));
        assert_eq!(parse_companion(&other, "fw.bin").unwrap(), want(None));
        assert!(
            parse_companion(&format!("{H}  other.bin\n"), "fw.bin")
                .unwrap_err()
                .contains("only for other.bin")
        );
        assert!(parse_companion("", "fw.bin").is_err());
        assert!(parse_companion("<html>404</html>", "fw.bin").is_err());
    }

    #[test]
    fn stored_names() {
        assert_eq!(
            file_name("/fw/sip88xx.11-3.zip").unwrap(),
            "sip88xx.11-3.zip"
        );
        assert_eq!(file_name("/fw/img.bin?v=2").unwrap(), "img.bin");
        for bad in ["/fw/", "/", "/fw/.hidden", "/last-attempt", "/.."] {
            assert!(file_name(bad).is_err(), "{bad}");
        }
    }
}
