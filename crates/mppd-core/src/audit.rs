//! The security audit of a profile (`mppd audit`): a pure function from the *effective*
//! settings — the values set, else the per-application fallbacks and the SPEC defaults — to a
//! list of findings, each with a stable id, a severity, the parameters involved, why it matters
//! and the fix.
//!
//! Per-line checks look at lines `1..=lines` and only at enabled ones (`Line_Enable_n_`
//! effective Yes). A finding names the parameters as the profile writes them (an alias such as
//! `TLS_Client_Min_Version` stays as written). Values of secrets never appear in a finding: a
//! finding about a password or a rule's `--pwd` names the parameter only, and a rule URL is shown
//! as its scheme and host, never with its user information, path or options.
//!
//! Findings come sorted by severity (high first), then by id. One finding per id: when several
//! lines or rules trip the same check, its `params` lists them all.
//!
//! # Checks
//!
//! | id | severity | trigger |
//! |---|---|---|
//! | `admin-password-empty` | high | `Admin_Password` empty (the default) |
//! | `auth-resync-reboot-off` | high | `Resync_From_SIP` Yes and `Auth_Resync-Reboot_n_` No on an enabled line |
//! | `cipher-anonymous` | high | a valid `TLS_Cipher_List` selects an anonymous suite (aNULL, ADH, AECDH, COMPLEMENTOFDEFAULT, ALL without `!aNULL`...) |
//! | `cipher-export` | high | a valid `TLS_Cipher_List` names an export suite (`EXP-...`) |
//! | `cipher-null` | high | a valid `TLS_Cipher_List` selects a suite without encryption (eNULL, NULL, COMPLEMENTOFALL) |
//! | `credentials-over-cleartext` | high | a rule gives `--uid`/`--pwd` or a `user:password@` URL for an http or tftp URL |
//! | `custom-ca-insecure-transport` | high | `Custom_CA_Rule` fetches over http or tftp without `--key` |
//! | `firewall-disabled` | high | `Firewall` Disabled |
//! | `ldap-simple-bind-cleartext` | high | LDAP in use over `ldap://` without StartTLS with `LDAP_Auth_Method` Simple |
//! | `sip-transport-cleartext` | high | `SIP_Transport_n_` UDP or TCP (UDP is the default) on an enabled line |
//! | `sslv3-enabled` | high | `Enable_SSLv3` Yes (not under FIPS) |
//! | `tls-min-version-1-0` | high | `TLS_Min_Version` TLS 1.0 (not under FIPS) |
//! | `tls-name-validate-off` | high | `TLS_Name_Validate_n_` No on an enabled line |
//! | `web-ui-over-http` | high | `Enable_Web_Server` Yes and `Enable_Protocol` Http |
//! | `auth-invite-off` | medium | `Auth_INVITE_n_` No (the default) on an enabled line |
//! | `cipher-des` | medium | a valid `TLS_Cipher_List` selects a DES or 3DES suite (MEDIUM, ALL, RSA... or a `DES-` name) |
//! | `cipher-md5` | medium | a valid `TLS_Cipher_List` selects a suite with an MD5 MAC (not under FIPS) |
//! | `cipher-rc4` | medium | a valid `TLS_Cipher_List` selects an RC4 suite |
//! | `firewall-extra-ports` | medium | `Firewall` Enabled and `Firewall_Config` opens `UDP:`/`TCP:` ports |
//! | `ldap-cleartext` | medium | LDAP in use (`LDAP_Dir_Enable` Yes, `LDAP_Server` set) over `ldap://` without StartTLS |
//! | `restricted-access-domains-empty` | medium | `Restricted_Access_Domains` empty (the default) |
//! | `rfc8760-off` | medium | `Auth_Support_RFC8760_n_` (falling back to `Auth_Support_RFC8760`) No on an enabled line (not under FIPS) |
//! | `rule-insecure-transport` | medium | a profile, upgrade, headset upgrade or report rule fetches over http or tftp (a URL without scheme is tftp: the default `/$PSN.xml`) without `--key` |
//! | `sip-transport-auto` | medium | `SIP_Transport_n_` Auto on an enabled line |
//! | `tls-min-version-1-1` | medium | `TLS_Min_Version` TLS 1.1 (the default; not under FIPS) |
//! | `tls-server-min-version-1-1` | medium | `TLS_Server_Min_Version` TLS 1.1 with the web server on Https (not under FIPS) |
//! | `tr069-enabled` | medium | `Enable_TR-069` Yes (not under FIPS) |
//! | `web-cipher-fallback-3des` | medium | web server on Https and `TLS_Cipher_List` empty or invalid: the web server's fallback list offers DES-CBC3-SHA |
//! | `cipher-list-invalid` | low | `TLS_Cipher_List` set but invalid: ignored, each application uses its default |
//! | `http-proxy-basic-auth` | low | `Proxy_Mode` Auto or Manual with `Proxy_Server_Requires_Authentication` Yes |
//! | `ldap-digest-md5` | low | LDAP in use with `LDAP_Auth_Method` DIGEST-MD5 (not under FIPS) |
//! | `ldap-starttls-fallback` | low | LDAP in use over `ldap://` with `LDAP_StartTLS_Enable` Yes |
//! | `mediasec-not-requested` | low | `MediaSec_Request_n_` No (the default) on an enabled line |
//! | `mediasec-not-tls-only` | low | `MediaSec_Over_TLS_Only_n_` No on an enabled line whose transport is not TLS |
//! | `user-password-empty` | low | `User_Password` empty (the default) |
//! | `dot1x-disabled` | info | `Enable_802.1X_Authentication` No (the default) |
//! | `fips-disabled` | info | `FIPS_Mode` Disabled (the default) |
//!
//! # Decisions
//!
//! - **FIPS mode.** With `FIPS_Mode` Enabled the phone runs nothing that needs MD5 or TLS below
//!   1.2 and disables TR-069 (SPEC §19), so the checks marked "not under FIPS" stay silent then.
//! - **SIP transport.** UDP and TCP carry the digest exchanges, the SDP (with any SRTP keys) and
//!   the call metadata in clear: high. `Auto` picks TLS only when the (unauthenticated) DNS
//!   NAPTR/SRV records say so, so an attacker on the path can pick UDP: medium.
//!   `TLS_Name_Validate_n_` No is reported whatever the transport: it is what a later switch to
//!   TLS would silently rely on.
//! - **MediaSec.** `MediaSec_Over_TLS_Only_n_` changes nothing on a TLS line, so it is reported
//!   only where the line's transport is UDP, TCP or Auto (an RFC 3329 agreement over a
//!   cleartext transport can be stripped).
//! - **Cipher list.** A valid `TLS_Cipher_List` is evaluated as OpenSSL 1.1.1 does (SPEC §14):
//!   elements add suites, `-` removes them, `!` removes them for good, `+` only reorders, and
//!   words joined by `+` intersect. It is evaluated against a catalogue of the weak suites only
//!   (every other suite is irrelevant to the audit). The audit assumes the worst build: the
//!   RC4 suites exist (OpenSSL `enable-weak-ssl-ciphers`), so `MEDIUM`, `ALL` or `RSA` select
//!   them; single DES and export suites, which OpenSSL 1.1.0 removed, count only when named
//!   explicitly. Hence the seed's own example `RSA:!aNULL:!eNULL` is reported (it keeps
//!   DES-CBC3-SHA, RC4-SHA and RC4-MD5); `...:!MEDIUM` fixes it. An empty list gives every
//!   client the seed's 28-suite DEFAULT list, which has no weak suite; the web server's fallback
//!   list does have one (DES-CBC3-SHA), hence `web-cipher-fallback-3des`.
//! - **Rules.** Every URL of a rule counts: each `|` alternative, and each of the two rules a
//!   `Report_Rule` may hold. `--key` makes a rule over http or tftp acceptable (the file is
//!   encrypted, SPEC §10 and mpp-provisioning §2.4); for `Report_Rule` a set
//!   `IKM_HTTP_Encrypt_Content` does too (RFC 8188 encrypts the report). `--key` does not help
//!   credentials: `--uid`/`--pwd` answer HTTP Basic challenges in clear. Profile rules are
//!   skipped when `Provision_Enable` is No, `Upgrade_Rule` when `Upgrade_Enable` is No. The
//!   general purpose macros `$A`..`$P` (and `$SA`..`$SD` in options) are expanded from the
//!   profile before a URL is judged; device macros expand to nothing, which does not change a
//!   scheme. `Custom_CA_Rule` over an unauthenticated channel is high: it installs the trust
//!   anchor every other TLS check relies on.
//! - **LDAP** is "in use" when `LDAP_Dir_Enable` is Yes and `LDAP_Server` is set. StartTLS is
//!   not a full fix: the seed says the connection stays in clear when the server does not
//!   offer StartTLS, which an attacker can arrange (`ldap-starttls-fallback`).
//! - An invalid `Firewall_Config` cannot be in force (the profile is refused, SPEC §13); the
//!   audit then reports no extra port, and `config validate` reports the error.

use std::borrow::Cow;
use std::fmt;
use std::str::FromStr;

use mppd_config::Profile;
use mppd_config::identity::DeviceIdentity;
use mppd_config::macros::{self, MacroContext, MacroScope};
use mppd_config::registry::{self, MAX_LINES};
use mppd_config::validate::{CIPHER_WORDS, FirewallOptions, check_cipher_list};
use serde::Serialize;

/// How much a finding matters. Ordered from the least to the most severe, so that
/// `finding.severity >= threshold` selects the findings at least as severe as `threshold`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Worth knowing; not a weakness by itself.
    Info,
    /// A hardening gap.
    Low,
    /// A weakness an attacker on the network path can use.
    Medium,
    /// A weakness that exposes credentials, keys or control of the phone.
    High,
}

impl Severity {
    /// Every severity, from the most to the least severe.
    pub const ALL: [Self; 4] = [Self::High, Self::Medium, Self::Low, Self::Info];

    /// The lowercase name: `high`, `medium`, `low` or `info`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Info => "info",
            Self::Low => "low",
            Self::Medium => "medium",
            Self::High => "high",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A severity name that is not `high`, `medium`, `low` or `info`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseSeverityError {
    /// The text given.
    pub input: String,
}

impl fmt::Display for ParseSeverityError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "unknown severity {:?}; allowed: high, medium, low, info",
            self.input
        )
    }
}

impl std::error::Error for ParseSeverityError {}

impl FromStr for Severity {
    type Err = ParseSeverityError;

    /// Parses `high`, `medium`, `low` or `info`, case-insensitive.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|v| v.as_str().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| ParseSeverityError {
                input: s.to_owned(),
            })
    }
}

/// One security finding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// The stable id of the check (see [`CHECKS`]).
    pub id: &'static str,
    /// How much it matters.
    pub severity: Severity,
    /// The cfg.xml names involved, as the profile writes them.
    pub params: Vec<String>,
    /// Why it matters, with the values that tripped the check (never a secret).
    pub why: String,
    /// What to change.
    pub fix: String,
}

/// One check of the audit: its id, the severity of its findings and what trips it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Check {
    /// Stable, kebab-case id.
    pub id: &'static str,
    /// The severity of every finding of this check.
    pub severity: Severity,
    /// What trips it, in one line (the table of the module documentation).
    pub trigger: &'static str,
}

const fn check(id: &'static str, severity: Severity, trigger: &'static str) -> Check {
    Check {
        id,
        severity,
        trigger,
    }
}

use Severity::{High, Info, Low, Medium};

const ADMIN_PASSWORD_EMPTY: Check = check(
    "admin-password-empty",
    High,
    "Admin_Password empty (the default)",
);
const AUTH_RESYNC_REBOOT_OFF: Check = check(
    "auth-resync-reboot-off",
    High,
    "Resync_From_SIP Yes and Auth_Resync-Reboot_n_ No on an enabled line",
);
const CIPHER_ANONYMOUS: Check = check(
    "cipher-anonymous",
    High,
    "a valid TLS_Cipher_List selects an anonymous (aNULL) suite",
);
const CIPHER_EXPORT: Check = check(
    "cipher-export",
    High,
    "a valid TLS_Cipher_List names an export suite",
);
const CIPHER_NULL: Check = check(
    "cipher-null",
    High,
    "a valid TLS_Cipher_List selects a suite without encryption (eNULL)",
);
const CREDENTIALS_OVER_CLEARTEXT: Check = check(
    "credentials-over-cleartext",
    High,
    "a rule sends --uid/--pwd or URL credentials over http or tftp",
);
const CUSTOM_CA_INSECURE_TRANSPORT: Check = check(
    "custom-ca-insecure-transport",
    High,
    "Custom_CA_Rule fetches over http or tftp without --key",
);
const FIREWALL_DISABLED: Check = check("firewall-disabled", High, "Firewall Disabled");
const LDAP_SIMPLE_BIND_CLEARTEXT: Check = check(
    "ldap-simple-bind-cleartext",
    High,
    "LDAP Simple bind over ldap:// without StartTLS",
);
const SIP_TRANSPORT_CLEARTEXT: Check = check(
    "sip-transport-cleartext",
    High,
    "SIP_Transport_n_ UDP or TCP on an enabled line",
);
const SSLV3_ENABLED: Check = check("sslv3-enabled", High, "Enable_SSLv3 Yes (not under FIPS)");
const TLS_MIN_VERSION_1_0: Check = check(
    "tls-min-version-1-0",
    High,
    "TLS_Min_Version TLS 1.0 (not under FIPS)",
);
const TLS_NAME_VALIDATE_OFF: Check = check(
    "tls-name-validate-off",
    High,
    "TLS_Name_Validate_n_ No on an enabled line",
);
const WEB_UI_OVER_HTTP: Check = check(
    "web-ui-over-http",
    High,
    "Enable_Web_Server Yes and Enable_Protocol Http",
);
const AUTH_INVITE_OFF: Check = check(
    "auth-invite-off",
    Medium,
    "Auth_INVITE_n_ No on an enabled line",
);
const CIPHER_DES: Check = check(
    "cipher-des",
    Medium,
    "a valid TLS_Cipher_List selects a DES or 3DES suite",
);
const CIPHER_MD5: Check = check(
    "cipher-md5",
    Medium,
    "a valid TLS_Cipher_List selects an MD5 suite (not under FIPS)",
);
const CIPHER_RC4: Check = check(
    "cipher-rc4",
    Medium,
    "a valid TLS_Cipher_List selects an RC4 suite",
);
const FIREWALL_EXTRA_PORTS: Check = check(
    "firewall-extra-ports",
    Medium,
    "Firewall_Config opens UDP:/TCP: ports",
);
const LDAP_CLEARTEXT: Check = check(
    "ldap-cleartext",
    Medium,
    "LDAP in use over ldap:// without StartTLS",
);
const RESTRICTED_ACCESS_DOMAINS_EMPTY: Check = check(
    "restricted-access-domains-empty",
    Medium,
    "Restricted_Access_Domains empty",
);
const RFC8760_OFF: Check = check(
    "rfc8760-off",
    Medium,
    "Auth_Support_RFC8760(_n_) No on an enabled line (not under FIPS)",
);
const RULE_INSECURE_TRANSPORT: Check = check(
    "rule-insecure-transport",
    Medium,
    "a profile, upgrade or report rule fetches over http or tftp without --key",
);
const SIP_TRANSPORT_AUTO: Check = check(
    "sip-transport-auto",
    Medium,
    "SIP_Transport_n_ Auto on an enabled line",
);
const TLS_MIN_VERSION_1_1: Check = check(
    "tls-min-version-1-1",
    Medium,
    "TLS_Min_Version TLS 1.1 (the default; not under FIPS)",
);
const TLS_SERVER_MIN_VERSION_1_1: Check = check(
    "tls-server-min-version-1-1",
    Medium,
    "TLS_Server_Min_Version TLS 1.1 with the web server on Https (not under FIPS)",
);
const TR069_ENABLED: Check = check(
    "tr069-enabled",
    Medium,
    "Enable_TR-069 Yes (not under FIPS)",
);
const WEB_CIPHER_FALLBACK_3DES: Check = check(
    "web-cipher-fallback-3des",
    Medium,
    "web server on Https with TLS_Cipher_List empty or invalid",
);
const CIPHER_LIST_INVALID: Check = check(
    "cipher-list-invalid",
    Low,
    "TLS_Cipher_List set but invalid",
);
const HTTP_PROXY_BASIC_AUTH: Check = check(
    "http-proxy-basic-auth",
    Low,
    "Proxy_Mode Auto or Manual with Proxy_Server_Requires_Authentication Yes",
);
const LDAP_DIGEST_MD5: Check = check(
    "ldap-digest-md5",
    Low,
    "LDAP in use with LDAP_Auth_Method DIGEST-MD5 (not under FIPS)",
);
const LDAP_STARTTLS_FALLBACK: Check = check(
    "ldap-starttls-fallback",
    Low,
    "LDAP in use over ldap:// with LDAP_StartTLS_Enable Yes",
);
const MEDIASEC_NOT_REQUESTED: Check = check(
    "mediasec-not-requested",
    Low,
    "MediaSec_Request_n_ No on an enabled line",
);
const MEDIASEC_NOT_TLS_ONLY: Check = check(
    "mediasec-not-tls-only",
    Low,
    "MediaSec_Over_TLS_Only_n_ No on an enabled line whose transport is not TLS",
);
const USER_PASSWORD_EMPTY: Check = check(
    "user-password-empty",
    Low,
    "User_Password empty (the default)",
);
const DOT1X_DISABLED: Check = check(
    "dot1x-disabled",
    Info,
    "Enable_802.1X_Authentication No (the default)",
);
const FIPS_DISABLED: Check = check("fips-disabled", Info, "FIPS_Mode Disabled (the default)");

/// Every check of the audit, most severe first, then by id (the order of the module table).
pub const CHECKS: &[Check] = &[
    ADMIN_PASSWORD_EMPTY,
    AUTH_RESYNC_REBOOT_OFF,
    CIPHER_ANONYMOUS,
    CIPHER_EXPORT,
    CIPHER_NULL,
    CREDENTIALS_OVER_CLEARTEXT,
    CUSTOM_CA_INSECURE_TRANSPORT,
    FIREWALL_DISABLED,
    LDAP_SIMPLE_BIND_CLEARTEXT,
    SIP_TRANSPORT_CLEARTEXT,
    SSLV3_ENABLED,
    TLS_MIN_VERSION_1_0,
    TLS_NAME_VALIDATE_OFF,
    WEB_UI_OVER_HTTP,
    AUTH_INVITE_OFF,
    CIPHER_DES,
    CIPHER_MD5,
    CIPHER_RC4,
    FIREWALL_EXTRA_PORTS,
    LDAP_CLEARTEXT,
    RESTRICTED_ACCESS_DOMAINS_EMPTY,
    RFC8760_OFF,
    RULE_INSECURE_TRANSPORT,
    SIP_TRANSPORT_AUTO,
    TLS_MIN_VERSION_1_1,
    TLS_SERVER_MIN_VERSION_1_1,
    TR069_ENABLED,
    WEB_CIPHER_FALLBACK_3DES,
    CIPHER_LIST_INVALID,
    HTTP_PROXY_BASIC_AUTH,
    LDAP_DIGEST_MD5,
    LDAP_STARTTLS_FALLBACK,
    MEDIASEC_NOT_REQUESTED,
    MEDIASEC_NOT_TLS_ONLY,
    USER_PASSWORD_EMPTY,
    DOT1X_DISABLED,
    FIPS_DISABLED,
];

/// The check with this id.
pub fn find_check(id: &str) -> Option<&'static Check> {
    CHECKS.iter().find(|c| c.id == id)
}

/// Audits the effective settings of `profile` for lines `1..=lines` (at most
/// [`MAX_LINES`]). Sorted by severity (high first), then by id.
pub fn audit(profile: &Profile, lines: u8) -> Vec<Finding> {
    let mut a = Audit {
        p: profile,
        fips: false,
        out: Vec::new(),
    };
    a.fips = a.eff("FIPS_Mode") == "Enabled";
    a.tls();
    a.ciphers();
    a.firewall();
    a.web();
    a.lines(lines.min(MAX_LINES));
    a.restricted_domains();
    a.rules();
    a.ldap();
    a.misc();
    let mut out = a.out;
    out.sort_by(|x, y| y.severity.cmp(&x.severity).then(x.id.cmp(y.id)));
    out
}

struct Audit<'p> {
    p: &'p Profile,
    fips: bool,
    out: Vec<Finding>,
}

impl<'p> Audit<'p> {
    fn emit(&mut self, check: &Check, params: Vec<String>, why: String, fix: impl Into<String>) {
        self.out.push(Finding {
            id: check.id,
            severity: check.severity,
            params,
            why,
            fix: fix.into(),
        });
    }

    /// The effective value of a registry parameter; the empty string for an unknown name (a
    /// unit test proves every name used here is known).
    fn eff(&self, name: &str) -> Cow<'p, str> {
        self.p.effective(name).unwrap_or_default()
    }

    fn yes(&self, name: &str) -> bool {
        self.p.bool(name)
    }

    /// The name as the profile writes it (an alias stays an alias); the registry name when the
    /// profile does not set it.
    fn written(&self, name: &str) -> String {
        registry::lookup(name)
            .and_then(|r| self.p.entry_for(r.def, r.line))
            .map_or_else(|| name.to_owned(), |e| e.name.clone())
    }

    /// Whether the profile sets the parameter to a non-empty value (through any alias).
    fn is_set(&self, name: &str) -> bool {
        registry::lookup(name)
            .and_then(|r| self.p.entry_for(r.def, r.line))
            .is_some_and(|e| !e.value.is_empty())
    }

    /// `" (the default)"` when the profile leaves the parameter to its default.
    fn default_note(&self, name: &str) -> &'static str {
        if self.is_set(name) {
            ""
        } else {
            " (the default)"
        }
    }

    fn web_https(&self) -> bool {
        self.yes("Enable_Web_Server") && self.eff("Enable_Protocol") == "Https"
    }

    fn tls(&mut self) {
        if self.fips {
            return;
        }
        let min = self.eff("TLS_Min_Version");
        let name = self.written("TLS_Min_Version");
        let note = self.default_note("TLS_Min_Version");
        let check = match min.as_ref() {
            "TLS 1.0" => Some(&TLS_MIN_VERSION_1_0),
            "TLS 1.1" => Some(&TLS_MIN_VERSION_1_1),
            _ => None,
        };
        if let Some(check) = check {
            self.emit(
                check,
                vec![name.clone()],
                format!(
                    "{name} is {min}{note}: every TLS client of the phone (SIP over TLS, \
                     provisioning, LDAP, XMPP, uploads) accepts {min}, which RFC 8996 \
                     deprecates (CBC-only suites, MD5/SHA-1 handshake hashes), and an attacker \
                     on the path can hold a connection to it when the server accepts it."
                ),
                format!(
                    "Set {name} to TLS 1.2 (TLS 1.3 where every server supports it), or \
                     enable FIPS_Mode."
                ),
            );
        }
        if self.web_https() && self.eff("TLS_Server_Min_Version") == "TLS 1.1" {
            let name = self.written("TLS_Server_Min_Version");
            self.emit(
                &TLS_SERVER_MIN_VERSION_1_1,
                vec![name.clone()],
                format!(
                    "{name} is TLS 1.1: the phone's HTTPS web server (admin pages, \
                     passwords) accepts TLS 1.1, which RFC 8996 deprecates."
                ),
                format!("Set {name} to TLS 1.2."),
            );
        }
        if self.yes("Enable_SSLv3") {
            self.emit(
                &SSLV3_ENABLED,
                vec![self.written("Enable_SSLv3")],
                "Enable_SSLv3 is Yes: SSL 3.0 is broken (POODLE, RFC 7568 forbids it) and lets \
                 an attacker on the path decrypt traffic of any peer that still accepts it."
                    .to_owned(),
                "Set Enable_SSLv3 to No.",
            );
        }
    }

    fn ciphers(&mut self) {
        let list = self.eff("TLS_Cipher_List");
        let name = self.written("TLS_Cipher_List");
        let valid = match check_cipher_list(&list) {
            Ok(()) => true,
            Err(e) => {
                self.emit(
                    &CIPHER_LIST_INVALID,
                    vec![name.clone()],
                    format!(
                        "{name} is not a valid cipher string (the word {:?} is not supported, \
                         SPEC §14): the phone ignores it and every application uses its own \
                         default list, so the restriction it was meant to impose is not in force.",
                        e.word
                    ),
                    format!(
                        "Use only the OpenSSL words of SPEC §14 in {name}, e.g. \
                         HIGH:!aNULL:!eNULL:!MEDIUM, or leave it empty."
                    ),
                );
                false
            }
        };
        if (list.trim().is_empty() || !valid) && self.web_https() {
            let why_list = if valid { "empty" } else { "invalid" };
            self.emit(
                &WEB_CIPHER_FALLBACK_3DES,
                vec![name.clone(), self.written("Enable_Protocol")],
                format!(
                    "{name} is {why_list}, so the HTTPS web server falls back to its own list \
                     (SPEC §14), which offers DES-CBC3-SHA: 3DES has a 64-bit block \
                     (SWEET32, CVE-2016-2183) and no forward secrecy."
                ),
                format!(
                    "Set {name} to a list without 3DES, e.g. \
                     ECDHE+AESGCM:ECDHE+CHACHA20:!aNULL:!eNULL:!MEDIUM."
                ),
            );
        }
        if !valid || list.trim().is_empty() {
            return;
        }
        let selected = cipher::selected_weak(&list);
        let fips = self.fips;
        let pick = |f: &dyn Fn(&cipher::Weak) -> bool| -> Vec<&str> {
            selected
                .iter()
                .filter(|(_, w)| f(w))
                .map(|(n, _)| n.as_ref())
                .collect()
        };
        let groups: [(&Check, Vec<&str>, &str); 6] = [
            (
                &CIPHER_NULL,
                pick(&|w| w.null),
                "without encryption: the traffic is readable by anyone on the path",
            ),
            (
                &CIPHER_ANONYMOUS,
                pick(&|w| w.anon),
                "without server authentication: anyone on the path can impersonate the server",
            ),
            (
                &CIPHER_EXPORT,
                pick(&|w| w.export),
                "with export-grade (40/56-bit) keys, broken in minutes (FREAK, Logjam)",
            ),
            (
                &CIPHER_RC4,
                pick(&|w| w.rc4),
                "with RC4, whose biases reveal plaintext (RFC 7465 forbids it)",
            ),
            (
                &CIPHER_DES,
                pick(&|w| w.des),
                "with DES or 3DES: 56-bit keys or a 64-bit block (SWEET32)",
            ),
            (
                &CIPHER_MD5,
                pick(&|w| w.md5 && !fips),
                "with an HMAC-MD5 record MAC, deprecated (RFC 6151)",
            ),
        ];
        let mut findings = Vec::new();
        for (check, names, what) in groups {
            if names.is_empty() {
                continue;
            }
            findings.push((
                check,
                format!(
                    "{name} \"{list}\" selects suites {what}: {} (OpenSSL 1.1.1 semantics; \
                     the audit assumes a build that still has RC4).",
                    summarize(&names)
                ),
            ));
        }
        for (check, why) in findings {
            self.emit(
                check,
                vec![name.clone()],
                why,
                format!(
                    "Remove them from {name}: e.g. append :!aNULL:!eNULL:!MEDIUM:!MD5, drop the \
                     named suites, or use HIGH:!aNULL:!eNULL (or leave {name} empty for the \
                     DEFAULT list)."
                ),
            );
        }
    }

    fn firewall(&mut self) {
        if self.eff("Firewall") == "Disabled" {
            self.emit(
                &FIREWALL_DISABLED,
                vec![self.written("Firewall")],
                "Firewall is Disabled: every listening service of the phone (web server, SIP \
                 ports, TR-069, peer firmware sharing) is reachable from the network, not only \
                 the ports SPEC §13 opens."
                    .to_owned(),
                "Set Firewall to Enabled.",
            );
            return;
        }
        let config = self.eff("Firewall_Config");
        let Ok(opts) = FirewallOptions::parse(&config) else {
            return;
        };
        if opts.udp.is_empty() && opts.tcp.is_empty() {
            return;
        }
        let fmt_ports = |proto: &str, list: &[(u16, u16)]| -> Vec<String> {
            list.iter()
                .map(|&(x, y)| {
                    if x == y {
                        format!("{proto} {x}")
                    } else {
                        format!("{proto} {x}-{y}")
                    }
                })
                .collect()
        };
        let mut ports = fmt_ports("UDP", &opts.udp);
        ports.extend(fmt_ports("TCP", &opts.tcp));
        let name = self.written("Firewall_Config");
        self.emit(
            &FIREWALL_EXTRA_PORTS,
            vec![name.clone()],
            format!(
                "{name} opens {} to unsolicited traffic, beyond the ports the phone's own \
                 services need (SPEC §13); whatever listens there is reachable from the network.",
                ports.join(", ")
            ),
            format!(
                "Remove the UDP:/TCP: entries from {name} unless a documented service needs \
                 them."
            ),
        );
    }

    fn web(&mut self) {
        let web = self.yes("Enable_Web_Server");
        if web && self.eff("Enable_Protocol") == "Http" {
            self.emit(
                &WEB_UI_OVER_HTTP,
                vec![
                    self.written("Enable_Web_Server"),
                    self.written("Enable_Protocol"),
                ],
                "The web UI is served over plain HTTP (Enable_Protocol Http): the admin and \
                 user passwords, the session cookies and every setting (SIP credentials \
                 included) cross the network in clear."
                    .to_owned(),
                "Set Enable_Protocol to Https (or Enable_Web_Server to No).",
            );
        }
        if self.eff("Admin_Password").is_empty() {
            let scope = if web {
                "anyone who reaches the web server"
            } else {
                "anyone at the phone (admin menu) or who later enables the web server"
            };
            self.emit(
                &ADMIN_PASSWORD_EMPTY,
                vec![self.written("Admin_Password")],
                format!(
                    "Admin_Password is empty{}: {scope} gets the admin account, which can read \
                     and change every parameter, secrets included.",
                    self.default_note("Admin_Password")
                ),
                "Set Admin_Password (8-127 characters, three of the four character classes).",
            );
        }
        if self.eff("User_Password").is_empty() {
            self.emit(
                &USER_PASSWORD_EMPTY,
                vec![self.written("User_Password")],
                format!(
                    "User_Password is empty{}: anyone can use the user account and change every \
                     parameter whose ua is rw.",
                    self.default_note("User_Password")
                ),
                "Set User_Password.",
            );
        }
    }

    fn lines(&mut self, lines: u8) {
        let mut acc: Vec<(&'static Check, Vec<String>, Vec<String>)> = Vec::new();
        let mut add = |check: &'static Check, param: String, note: String| match acc
            .iter_mut()
            .find(|(c, _, _)| c.id == check.id)
        {
            Some((_, params, notes)) => {
                if !params.contains(&param) {
                    params.push(param);
                }
                notes.push(note);
            }
            None => acc.push((check, vec![param], vec![note])),
        };
        let resync_from_sip = self.yes("Resync_From_SIP");
        for n in 1..=lines {
            if !self.yes(&format!("Line_Enable_{n}_")) {
                continue;
            }
            let transport_name = format!("SIP_Transport_{n}_");
            let transport = self.eff(&transport_name);
            let param = |base: &str| self.written(&format!("{base}{n}_"));
            match transport.as_ref() {
                "UDP" | "TCP" => add(
                    &SIP_TRANSPORT_CLEARTEXT,
                    param("SIP_Transport_"),
                    format!(
                        "line {n} ({transport}{})",
                        if self.is_set(&transport_name) {
                            ""
                        } else {
                            ", the default"
                        }
                    ),
                ),
                "Auto" => add(
                    &SIP_TRANSPORT_AUTO,
                    param("SIP_Transport_"),
                    format!("line {n}"),
                ),
                _ => {}
            }
            if !self.yes(&format!("TLS_Name_Validate_{n}_")) {
                add(
                    &TLS_NAME_VALIDATE_OFF,
                    param("TLS_Name_Validate_"),
                    format!("line {n}"),
                );
            }
            if !self.yes(&format!("Auth_INVITE_{n}_")) {
                add(&AUTH_INVITE_OFF, param("Auth_INVITE_"), format!("line {n}"));
            }
            let rfc8760 = format!("Auth_Support_RFC8760_{n}_");
            if !self.fips && !self.yes(&rfc8760) {
                let name = if self.is_set(&rfc8760) {
                    self.written(&rfc8760)
                } else {
                    self.written("Auth_Support_RFC8760")
                };
                add(&RFC8760_OFF, name, format!("line {n}"));
            }
            if !self.yes(&format!("MediaSec_Request_{n}_")) {
                add(
                    &MEDIASEC_NOT_REQUESTED,
                    param("MediaSec_Request_"),
                    format!("line {n}"),
                );
            }
            if transport != "TLS" && !self.yes(&format!("MediaSec_Over_TLS_Only_{n}_")) {
                add(
                    &MEDIASEC_NOT_TLS_ONLY,
                    param("MediaSec_Over_TLS_Only_"),
                    format!("line {n} ({transport})"),
                );
            }
            if resync_from_sip && !self.yes(&format!("Auth_Resync-Reboot_{n}_")) {
                add(
                    &AUTH_RESYNC_REBOOT_OFF,
                    param("Auth_Resync-Reboot_"),
                    format!("line {n}"),
                );
            }
        }
        for (check, mut params, notes) in acc {
            let on = notes.join(", ");
            let (why, fix) = match check.id {
                id if id == SIP_TRANSPORT_CLEARTEXT.id => (
                    format!(
                        "SIP signalling in clear on {on}: the registration and call digests, the \
                         SDP (with any SRTP keys) and who calls whom are visible and alterable \
                         on the path."
                    ),
                    "Set SIP_Transport_n_ to TLS on every enabled line (with a proxy that \
                     offers SIP over TLS)."
                        .to_owned(),
                ),
                id if id == SIP_TRANSPORT_AUTO.id => (
                    format!(
                        "SIP_Transport_n_ is Auto on {on}: the transport follows unauthenticated \
                         DNS NAPTR/SRV records (RFC 3263), so an attacker who answers DNS can \
                         pick UDP."
                    ),
                    "Set SIP_Transport_n_ to TLS.".to_owned(),
                ),
                id if id == TLS_NAME_VALIDATE_OFF.id => (
                    format!(
                        "TLS_Name_Validate_n_ is No on {on}: SIP over TLS then accepts any \
                         trusted certificate for any host, so anyone with such a certificate \
                         can pose as the proxy."
                    ),
                    "Set TLS_Name_Validate_n_ to Yes.".to_owned(),
                ),
                id if id == AUTH_INVITE_OFF.id => (
                    format!(
                        "Auth_INVITE_n_ is No on {on}: the phone rings for any INVITE sent to \
                         its SIP port, so anyone who reaches it can place calls to it or spoof \
                         the caller (SPEC §3)."
                    ),
                    "Set Auth_INVITE_n_ to Yes (the proxy must answer the phone's challenge)."
                        .to_owned(),
                ),
                id if id == RFC8760_OFF.id => (
                    format!(
                        "RFC 8760 digest algorithms are off on {on}: the line answers and offers \
                         MD5 digests only, whose captured exchanges allow offline password \
                         guessing and which RFC 8760 supersedes with SHA-256 and SHA-512-256."
                    ),
                    "Set Auth_Support_RFC8760 (or Auth_Support_RFC8760_n_) to Yes.".to_owned(),
                ),
                id if id == MEDIASEC_NOT_REQUESTED.id => (
                    format!(
                        "MediaSec_Request_n_ is No on {on}: the phone does not ask for media \
                         security (RFC 3329 mediasec) and leaves SRTP to the server's initiative."
                    ),
                    "Set MediaSec_Request_n_ to Yes.".to_owned(),
                ),
                id if id == MEDIASEC_NOT_TLS_ONLY.id => (
                    format!(
                        "MediaSec_Over_TLS_Only_n_ is No on {on}: the media security agreement \
                         runs over a transport an attacker can read and alter, so it can be \
                         stripped."
                    ),
                    "Set MediaSec_Over_TLS_Only_n_ to Yes (and SIP_Transport_n_ to TLS)."
                        .to_owned(),
                ),
                _ => {
                    params.push(self.written("Resync_From_SIP"));
                    (
                        format!(
                            "Auth_Resync-Reboot_n_ is No on {on} while Resync_From_SIP is Yes: \
                             any unauthenticated SIP NOTIFY (resync, reboot_now, report) makes \
                             the phone resync or restart (SPEC §4b)."
                        ),
                        "Set Auth_Resync-Reboot_n_ to Yes (or Resync_From_SIP to No).".to_owned(),
                    )
                }
            };
            self.emit(check, params, why, fix);
        }
    }

    fn restricted_domains(&mut self) {
        if self.eff("Restricted_Access_Domains").trim().is_empty() {
            self.emit(
                &RESTRICTED_ACCESS_DOMAINS_EMPTY,
                vec![self.written("Restricted_Access_Domains")],
                format!(
                    "Restricted_Access_Domains is empty{}: the phone provisions, upgrades, \
                     reports and registers to any server a profile, DHCP or a redirect names \
                     (SPEC §1).",
                    self.default_note("Restricted_Access_Domains")
                ),
                "Set Restricted_Access_Domains to the operator's domains \
                 (comma-separated FQDNs)."
                    .to_owned(),
            );
        }
    }

    fn rules(&mut self) {
        let provision = self.yes("Provision_Enable");
        let upgrade = self.yes("Upgrade_Enable");
        let ikm = !self.eff("IKM_HTTP_Encrypt_Content").is_empty();
        // Values for the general purpose macros.
        let gpp: Vec<Cow<'_, str>> = (b'A'..=b'P')
            .map(|c| self.eff(&format!("GPP_{}", char::from(c))))
            .collect();
        let gpp_secret: Vec<Cow<'_, str>> = ["SA", "SB", "SC", "SD"]
            .iter()
            .map(|s| self.eff(&format!("GPP_{s}")))
            .collect();
        let identity = DeviceIdentity::default();
        let mut ctx = MacroContext::new(&identity);
        for (slot, v) in ctx.gpp.iter_mut().zip(&gpp) {
            *slot = v.as_ref();
        }
        for (slot, v) in ctx.gpp_secret.iter_mut().zip(&gpp_secret) {
            *slot = v.as_ref();
        }

        let mut insecure: Vec<(String, String)> = Vec::new();
        let mut ca: Vec<(String, String)> = Vec::new();
        let mut creds: Vec<(String, String)> = Vec::new();
        for name in RULES {
            let skip = match *name {
                "Profile_Rule" | "Profile_Rule_B" | "Profile_Rule_C" | "Profile_Rule_D" => {
                    !provision
                }
                "Upgrade_Rule" => !upgrade,
                _ => false,
            };
            if skip {
                continue;
            }
            let value = self.eff(name);
            let written = self.written(name);
            for target in rule::targets(&value, &ctx) {
                let Some(scheme) = target.scheme.as_deref() else {
                    continue;
                };
                if scheme == "https" {
                    continue;
                }
                let place = target.describe();
                if target.uid || target.pwd || target.url_password {
                    creds.push((written.clone(), place.clone()));
                }
                if target.key || (*name == "Report_Rule" && ikm) {
                    continue;
                }
                if *name == "Custom_CA_Rule" {
                    ca.push((written.clone(), place));
                } else {
                    insecure.push((written.clone(), place));
                }
            }
        }
        if !creds.is_empty() {
            let (params, on) = gather(creds);
            self.emit(
                &CREDENTIALS_OVER_CLEARTEXT,
                params,
                format!(
                    "Credentials for an unencrypted URL: {on}. Over http the --uid/--pwd (or \
                     URL) credentials answer Basic challenges in clear, so anyone on the path \
                     (or a server posing as it) gets them; tftp carries no authentication at \
                     all. --key does not protect them."
                ),
                "Use https:// for every rule that carries --uid/--pwd or user:password@, and \
                 change the exposed password.",
            );
        }
        if !ca.is_empty() {
            let (params, on) = gather(ca);
            self.emit(
                &CUSTOM_CA_INSECURE_TRANSPORT,
                params,
                format!(
                    "The custom CA is fetched without TLS and without --key: {on}. Whoever is on \
                     the path can install their own root, which every later TLS check of the \
                     phone then trusts."
                ),
                "Use https:// for Custom_CA_Rule.",
            );
        }
        if !insecure.is_empty() {
            let (params, on) = gather(insecure);
            self.emit(
                &RULE_INSECURE_TRANSPORT,
                params,
                format!(
                    "Rules fetch or send files without TLS and without --key: {on}. An attacker \
                     on the path can read them and serve their own profile (any parameter, \
                     e.g. a new admin password or proxy) or replay an older signed image."
                ),
                "Use https:// in these rules, or encrypt the files and add [--key ...] \
                 (a rule without scheme is tftp, as the default /$PSN.xml is).",
            );
        }
    }

    fn ldap(&mut self) {
        let server = self.eff("LDAP_Server");
        if !self.yes("LDAP_Dir_Enable") || server.trim().is_empty() {
            return;
        }
        let lower = server.trim().to_ascii_lowercase();
        let plain = lower.starts_with("ldap://");
        let host = lower
            .split_once("://")
            .map_or(lower.as_str(), |(_, h)| h)
            .split(['/', '?'])
            .next()
            .unwrap_or("")
            .to_owned();
        let starttls = self.yes("LDAP_StartTLS_Enable");
        let method = self.eff("LDAP_Auth_Method");
        let server_name = self.written("LDAP_Server");
        let tls_name = self.written("LDAP_StartTLS_Enable");
        if plain && !starttls {
            self.emit(
                &LDAP_CLEARTEXT,
                vec![server_name.clone(), tls_name.clone()],
                format!(
                    "The directory server ldap://{host} is used in clear (no StartTLS): \
                     searches and results (names, numbers) are readable and alterable on the \
                     path."
                ),
                "Use ldaps:// in LDAP_Server (or set LDAP_StartTLS_Enable to Yes).",
            );
            if method == "Simple" {
                self.emit(
                    &LDAP_SIMPLE_BIND_CLEARTEXT,
                    vec![
                        server_name.clone(),
                        tls_name.clone(),
                        self.written("LDAP_Auth_Method"),
                    ],
                    format!(
                        "LDAP Simple bind to ldap://{host} without StartTLS sends the LDAP \
                         password (LDAP_Password) in clear."
                    ),
                    "Use ldaps:// in LDAP_Server; with ldap:// at least set \
                     LDAP_StartTLS_Enable to Yes.",
                );
            }
        }
        if plain && starttls {
            self.emit(
                &LDAP_STARTTLS_FALLBACK,
                vec![server_name.clone(), tls_name],
                format!(
                    "StartTLS on ldap://{host} is not enforced: when the server (or an attacker \
                     stripping the extended operation) does not offer it, the phone goes on in \
                     clear (SPEC §9), Simple bind password included."
                ),
                "Use ldaps:// in LDAP_Server.",
            );
        }
        if method == "DIGEST-MD5" && !self.fips {
            self.emit(
                &LDAP_DIGEST_MD5,
                vec![self.written("LDAP_Auth_Method")],
                "LDAP_Auth_Method DIGEST-MD5 is obsolete (RFC 6331): MD5-based, and a captured \
                 exchange allows offline password guessing."
                    .to_owned(),
                "Use LDAP_Auth_Method Simple over ldaps://, or None.",
            );
        }
    }

    fn misc(&mut self) {
        if !self.fips && self.yes("Enable_TR-069") {
            self.emit(
                &TR069_ENABLED,
                vec![self.written("Enable_TR-069")],
                "TR-069 is enabled: an ACS can read and change every parameter remotely, and the \
                 phone opens a connection-request TCP port (8000-9999) and UDP 7999 (SPEC §13)."
                    .to_owned(),
                "Set Enable_TR-069 to No unless an ACS manages the phone over https.",
            );
        }
        if self.eff("Proxy_Mode") != "Off" && self.yes("Proxy_Server_Requires_Authentication") {
            self.emit(
                &HTTP_PROXY_BASIC_AUTH,
                vec![
                    self.written("Proxy_Mode"),
                    self.written("Proxy_Server_Requires_Authentication"),
                ],
                "The HTTP proxy requires authentication: the phone sends Proxy_Username and \
                 Proxy_Password with Basic authentication over the plain connection to the \
                 proxy, readable by anyone between the phone and the proxy."
                    .to_owned(),
                "Prefer a proxy that admits the phone by address, or keep the phone-to-proxy \
                 segment trusted.",
            );
        }
        if !self.yes("Enable_802.1X_Authentication") {
            self.emit(
                &DOT1X_DISABLED,
                vec![self.written("Enable_802.1X_Authentication")],
                format!(
                    "802.1X is off{}: the phone does not authenticate to the switch port, so \
                     the voice VLAN is open to any device plugged in its place.",
                    self.default_note("Enable_802.1X_Authentication")
                ),
                "Set Enable_802.1X_Authentication to Yes where the switches support 802.1X.",
            );
        }
        if !self.fips {
            self.emit(
                &FIPS_DISABLED,
                vec![self.written("FIPS_Mode")],
                format!(
                    "FIPS_Mode is Disabled{}: the phone may use non-validated cryptography, MD5 \
                     digests and TLS below 1.2 where other settings allow them.",
                    self.default_note("FIPS_Mode")
                ),
                "Set FIPS_Mode to Enabled where FIPS 140-2 is required (this disables TR-069 \
                 and HTTP digest authentication).",
            );
        }
    }
}

/// The rules whose URLs the audit judges (SPEC §1 lists them as the restricted ones).
const RULES: &[&str] = &[
    "Profile_Rule",
    "Profile_Rule_B",
    "Profile_Rule_C",
    "Profile_Rule_D",
    "Upgrade_Rule",
    "Cisco_Headset_Upgrade_Rule",
    "Report_Rule",
    "Custom_CA_Rule",
];

/// Groups `(param, place)` pairs: the distinct params, and `"param: place; ..."` text.
fn gather(items: Vec<(String, String)>) -> (Vec<String>, String) {
    let mut params: Vec<String> = Vec::new();
    let mut text: Vec<String> = Vec::new();
    for (param, place) in items {
        let t = format!("{param} uses {place}");
        if !text.contains(&t) {
            text.push(t);
        }
        if !params.contains(&param) {
            params.push(param);
        }
    }
    (params, text.join("; "))
}

/// `a, b, c` with at most six names, then `and N more`.
fn summarize(names: &[&str]) -> String {
    const SHOWN: usize = 6;
    let mut s = names
        .iter()
        .take(SHOWN)
        .copied()
        .collect::<Vec<_>>()
        .join(", ");
    if names.len() > SHOWN {
        s.push_str(&format!(" and {} more", names.len() - SHOWN));
    }
    s
}

/// Rule scanning: which URLs a rule may fetch, with the options that apply to each.
mod rule {
    use super::{MacroContext, MacroScope, macros};

    /// One URL of a rule.
    pub(super) struct Target {
        /// `http`, `https`, `tftp` or another scheme (lowercase); `None` for an empty URL.
        pub(super) scheme: Option<String>,
        /// The server, without user information; empty when the URL names none.
        pub(super) host: String,
        /// `--key` with a non-empty argument.
        pub(super) key: bool,
        /// `--uid` with a non-empty argument.
        pub(super) uid: bool,
        /// `--pwd` with a non-empty argument.
        pub(super) pwd: bool,
        /// `user:password@` in the URL.
        pub(super) url_password: bool,
    }

    impl Target {
        /// `http://host` or `tftp (the DHCP-given server)`: never credentials or the path.
        pub(super) fn describe(&self) -> String {
            let scheme = self.scheme.as_deref().unwrap_or("");
            if self.host.is_empty() {
                format!("{scheme} (the server DHCP gives)")
            } else {
                format!("{scheme}://{}", self.host)
            }
        }
    }

    /// Every URL of `rule`: each `|` alternative, and each `[options] URL` pair of it;
    /// conditions `( ... )?` and assignments `( ... )!` are skipped.
    pub(super) fn targets(rule: &str, ctx: &MacroContext<'_>) -> Vec<Target> {
        let b = rule.as_bytes();
        let mut out = Vec::new();
        let mut opts: Option<&str> = None;
        let mut i = 0;
        while i < b.len() {
            match b[i] {
                c if c.is_ascii_whitespace() => i += 1,
                b'|' => {
                    opts = None;
                    i += 1;
                }
                b'[' => {
                    let end = closing(b, i, b'[', b']');
                    opts = Some(&rule[i + 1..end.min(b.len())]);
                    i = end + 1;
                }
                b'(' => {
                    let end = closing(b, i, b'(', b')');
                    i = end + 1;
                    if i < b.len() && (b[i] == b'?' || b[i] == b'!') {
                        i += 1;
                    }
                }
                _ => {
                    let start = i;
                    while i < b.len() && !b[i].is_ascii_whitespace() && b[i] != b'|' {
                        i += 1;
                    }
                    out.push(target(&rule[start..i], opts.take(), ctx));
                }
            }
        }
        out
    }

    /// The index of the bracket closing the one at `open` (quotes respected), or `b.len()`.
    fn closing(b: &[u8], open: usize, o: u8, c: u8) -> usize {
        let mut depth = 0usize;
        let mut quote = false;
        for (j, &x) in b.iter().enumerate().skip(open) {
            if x == b'"' {
                quote = !quote;
            } else if !quote && x == o {
                depth += 1;
            } else if !quote && x == c {
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    return j;
                }
            }
        }
        b.len()
    }

    /// Splits options on white space, keeping double-quoted arguments whole.
    fn words(s: &str) -> Vec<&str> {
        let mut out = Vec::new();
        let mut rest = s.trim_start();
        while !rest.is_empty() {
            let end = if let Some(q) = rest.strip_prefix('"') {
                q.find('"').map_or(rest.len(), |e| e + 2)
            } else {
                rest.find(char::is_whitespace).unwrap_or(rest.len())
            };
            out.push(&rest[..end]);
            rest = rest[end..].trim_start();
        }
        out
    }

    fn target(url: &str, opts: Option<&str>, ctx: &MacroContext<'_>) -> Target {
        let mut t = Target {
            scheme: None,
            host: String::new(),
            key: false,
            uid: false,
            pwd: false,
            url_password: false,
        };
        if let Some(opts) = opts {
            let w = words(opts);
            for (k, option) in w.iter().enumerate() {
                let arg = || {
                    w.get(k + 1)
                        .filter(|a| !a.starts_with("--"))
                        .map(|a| macros::expand(a.trim_matches('"'), ctx, MacroScope::RuleOption))
                        .is_some_and(|a| !a.is_empty())
                };
                match *option {
                    "--key" => t.key = arg(),
                    "--uid" => t.uid = arg(),
                    "--pwd" => t.pwd = arg(),
                    _ => {}
                }
            }
        }
        let url = macros::expand(url, ctx, MacroScope::Text);
        let url = url.trim();
        if url.is_empty() {
            return t;
        }
        let (scheme, rest) = match url.split_once("://") {
            Some((s, r)) => (s.to_ascii_lowercase(), r),
            // A URL without scheme is tftp (mpp-provisioning §2.2); a leading `/` means the
            // DHCP-given server.
            None => ("tftp".to_owned(), url),
        };
        let authority = if url.contains("://") || !rest.starts_with('/') {
            rest.split(['/', '?', '#']).next().unwrap_or("")
        } else {
            ""
        };
        let host = match authority.rsplit_once('@') {
            Some((userinfo, host)) => {
                t.url_password = userinfo.split_once(':').is_some_and(|(_, p)| !p.is_empty());
                host
            }
            None => authority,
        };
        t.host = host.to_owned();
        t.scheme = Some(scheme);
        t
    }
}

/// `TLS_Cipher_List` evaluation against the weak suites, with OpenSSL 1.1.1 semantics.
mod cipher {
    use std::borrow::Cow;

    use super::CIPHER_WORDS;

    /// Why a suite is weak (several reasons may hold).
    #[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
    pub(super) struct Weak {
        pub(super) null: bool,
        pub(super) anon: bool,
        pub(super) export: bool,
        pub(super) rc4: bool,
        pub(super) des: bool,
        pub(super) md5: bool,
    }

    impl Weak {
        /// From an OpenSSL suite name: its dash-separated parts say it all (`NULL-MD5`,
        /// `ADH-DES-CBC3-SHA`, `EXP-RC4-MD5`).
        pub(super) fn of_name(name: &str) -> Self {
            let mut w = Self::default();
            for part in name.split('-') {
                w.null |= part == "NULL";
                w.anon |= part == "ADH" || part == "AECDH";
                w.export |= part.starts_with("EXP");
                w.rc4 |= part.starts_with("RC4");
                w.des |= part.starts_with("DES") || part == "3DES";
                w.md5 |= part == "MD5";
            }
            w
        }

        fn any(self) -> bool {
            self.null || self.anon || self.export || self.rc4 || self.des || self.md5
        }
    }

    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    enum Kx {
        Rsa,
        Dhe,
        Ecdhe,
    }

    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    enum Au {
        Rsa,
        Dss,
        Ecdsa,
        Null,
    }

    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    enum Enc {
        Null,
        Rc4,
        TripleDes,
        Aes128,
        Aes256,
        Aes128Gcm,
        Aes256Gcm,
        Camellia128,
        Seed,
    }

    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    enum Mac {
        Md5,
        Sha1,
        Sha256,
        Sha384,
        Aead,
    }

    /// The lowest protocol version of a suite (the `SSLv3`, `TLSv1`, `TLSv1.2` words match
    /// it exactly, as OpenSSL 1.1.1 does).
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    enum Proto {
        Ssl3,
        Tls1,
        Tls12,
    }

    /// What OpenSSL 1.1.1 knows of a suite.
    #[derive(Debug, Clone, Copy)]
    struct Attrs {
        kx: Kx,
        au: Au,
        enc: Enc,
        mac: Mac,
        proto: Proto,
    }

    impl Attrs {
        fn strength_high(self) -> bool {
            !matches!(self.enc, Enc::Null | Enc::Rc4 | Enc::TripleDes | Enc::Seed)
        }

        fn strength_medium(self) -> bool {
            matches!(self.enc, Enc::Rc4 | Enc::TripleDes | Enc::Seed)
        }

        fn in_all(self) -> bool {
            self.enc != Enc::Null
        }

        /// In ALL but not in DEFAULT: anonymous, 3DES and RC4 suites (OpenSSL 1.1.1; the
        /// seed's 28-suite DEFAULT list has none of them).
        fn complement_of_default(self) -> bool {
            self.in_all() && (self.au == Au::Null || matches!(self.enc, Enc::Rc4 | Enc::TripleDes))
        }

        fn is_aes(self) -> bool {
            matches!(
                self.enc,
                Enc::Aes128 | Enc::Aes256 | Enc::Aes128Gcm | Enc::Aes256Gcm
            )
        }

        /// Whether one word of SPEC §14 selects this suite.
        fn word(self, word: &str) -> bool {
            match word {
                "DEFAULT" => self.in_all() && !self.complement_of_default(),
                "COMPLEMENTOFDEFAULT" => self.complement_of_default(),
                "ALL" => self.in_all(),
                "COMPLEMENTOFALL" | "eNULL" | "NULL" => self.enc == Enc::Null,
                "HIGH" => self.strength_high(),
                "MEDIUM" => self.strength_medium(),
                "aNULL" => self.au == Au::Null,
                "kRSA" | "RSA" => self.kx == Kx::Rsa,
                "kDHE" | "kEDH" | "DH" => self.kx == Kx::Dhe,
                "DHE" | "EDH" => self.kx == Kx::Dhe && self.au != Au::Null,
                "ADH" => self.kx == Kx::Dhe && self.au == Au::Null,
                "kECDHE" | "kEECDH" | "ECDH" => self.kx == Kx::Ecdhe,
                "ECDHE" | "EECDH" => self.kx == Kx::Ecdhe && self.au != Au::Null,
                "AECDH" => self.kx == Kx::Ecdhe && self.au == Au::Null,
                "aRSA" => self.au == Au::Rsa,
                "aDSS" | "DSS" => self.au == Au::Dss,
                "aECDSA" | "ECDSA" => self.au == Au::Ecdsa,
                "TLSv1.2" => self.proto == Proto::Tls12,
                "TLSv1" => self.proto == Proto::Tls1,
                "SSLv3" => self.proto == Proto::Ssl3,
                "AES128" => matches!(self.enc, Enc::Aes128 | Enc::Aes128Gcm),
                "AES256" => matches!(self.enc, Enc::Aes256 | Enc::Aes256Gcm),
                "AES" => self.is_aes(),
                "AESGCM" => matches!(self.enc, Enc::Aes128Gcm | Enc::Aes256Gcm),
                "CAMELLIA128" | "CAMELLIA" => self.enc == Enc::Camellia128,
                "SEED" => self.enc == Enc::Seed,
                "MD5" => self.mac == Mac::Md5,
                "SHA1" | "SHA" => self.mac == Mac::Sha1,
                "SHA256" => self.mac == Mac::Sha256,
                "SHA384" => self.mac == Mac::Sha384,
                // AESCCM*, ARIA*, CAMELLIA256, CHACHA20, SUITEB*: no weak suite has them.
                _ => false,
            }
        }
    }

    /// A weak suite: its OpenSSL name and, when OpenSSL 1.1.1 still has it, its attributes
    /// (without them, only its exact name selects it).
    struct Suite<'a> {
        name: Cow<'a, str>,
        attrs: Option<Attrs>,
    }

    const fn s(
        name: &'static str,
        kx: Kx,
        au: Au,
        enc: Enc,
        mac: Mac,
        proto: Proto,
    ) -> (&'static str, Option<Attrs>) {
        (
            name,
            Some(Attrs {
                kx,
                au,
                enc,
                mac,
                proto,
            }),
        )
    }

    use Au::{Dss, Ecdsa};
    use Enc::{Aes128, Aes128Gcm, Aes256, Aes256Gcm, Camellia128, Rc4, Seed, TripleDes};
    use Kx::{Dhe, Ecdhe};
    use Mac::{Aead, Md5, Sha1, Sha256};
    use Proto::{Ssl3, Tls1, Tls12};

    /// The weak suites of OpenSSL 1.1.1 (RC4 ones need `enable-weak-ssl-ciphers`), then the
    /// single-DES and export suites OpenSSL 1.1.0 removed (name only).
    const CATALOGUE: &[(&str, Option<Attrs>)] = &[
        // No encryption.
        s("NULL-MD5", Kx::Rsa, Au::Rsa, Enc::Null, Md5, Ssl3),
        s("NULL-SHA", Kx::Rsa, Au::Rsa, Enc::Null, Sha1, Ssl3),
        s("NULL-SHA256", Kx::Rsa, Au::Rsa, Enc::Null, Sha256, Tls12),
        s("ECDHE-RSA-NULL-SHA", Ecdhe, Au::Rsa, Enc::Null, Sha1, Tls1),
        s("ECDHE-ECDSA-NULL-SHA", Ecdhe, Ecdsa, Enc::Null, Sha1, Tls1),
        s("AECDH-NULL-SHA", Ecdhe, Au::Null, Enc::Null, Sha1, Tls1),
        // Anonymous.
        s("ADH-AES128-SHA", Dhe, Au::Null, Aes128, Sha1, Ssl3),
        s("ADH-AES256-SHA", Dhe, Au::Null, Aes256, Sha1, Ssl3),
        s("ADH-AES128-SHA256", Dhe, Au::Null, Aes128, Sha256, Tls12),
        s("ADH-AES256-SHA256", Dhe, Au::Null, Aes256, Sha256, Tls12),
        s(
            "ADH-AES128-GCM-SHA256",
            Dhe,
            Au::Null,
            Aes128Gcm,
            Aead,
            Tls12,
        ),
        s(
            "ADH-AES256-GCM-SHA384",
            Dhe,
            Au::Null,
            Aes256Gcm,
            Aead,
            Tls12,
        ),
        s(
            "ADH-CAMELLIA128-SHA",
            Dhe,
            Au::Null,
            Camellia128,
            Sha1,
            Ssl3,
        ),
        s("ADH-SEED-SHA", Dhe, Au::Null, Seed, Sha1, Ssl3),
        s("ADH-DES-CBC3-SHA", Dhe, Au::Null, TripleDes, Sha1, Ssl3),
        s("ADH-RC4-MD5", Dhe, Au::Null, Rc4, Md5, Ssl3),
        s("AECDH-AES128-SHA", Ecdhe, Au::Null, Aes128, Sha1, Tls1),
        s("AECDH-AES256-SHA", Ecdhe, Au::Null, Aes256, Sha1, Tls1),
        s("AECDH-DES-CBC3-SHA", Ecdhe, Au::Null, TripleDes, Sha1, Tls1),
        s("AECDH-RC4-SHA", Ecdhe, Au::Null, Rc4, Sha1, Tls1),
        // 3DES.
        s("DES-CBC3-SHA", Kx::Rsa, Au::Rsa, TripleDes, Sha1, Ssl3),
        s("DHE-RSA-DES-CBC3-SHA", Dhe, Au::Rsa, TripleDes, Sha1, Ssl3),
        s("DHE-DSS-DES-CBC3-SHA", Dhe, Dss, TripleDes, Sha1, Ssl3),
        s(
            "ECDHE-RSA-DES-CBC3-SHA",
            Ecdhe,
            Au::Rsa,
            TripleDes,
            Sha1,
            Tls1,
        ),
        s(
            "ECDHE-ECDSA-DES-CBC3-SHA",
            Ecdhe,
            Ecdsa,
            TripleDes,
            Sha1,
            Tls1,
        ),
        // RC4.
        s("RC4-MD5", Kx::Rsa, Au::Rsa, Rc4, Md5, Ssl3),
        s("RC4-SHA", Kx::Rsa, Au::Rsa, Rc4, Sha1, Ssl3),
        s("ECDHE-RSA-RC4-SHA", Ecdhe, Au::Rsa, Rc4, Sha1, Tls1),
        s("ECDHE-ECDSA-RC4-SHA", Ecdhe, Ecdsa, Rc4, Sha1, Tls1),
        // Removed in OpenSSL 1.1.0: only their names select them.
        ("EDH-RSA-DES-CBC3-SHA", None),
        ("EDH-DSS-DES-CBC3-SHA", None),
        ("DES-CBC-SHA", None),
        ("EDH-RSA-DES-CBC-SHA", None),
        ("EDH-DSS-DES-CBC-SHA", None),
        ("ADH-DES-CBC-SHA", None),
        ("EXP-RC4-MD5", None),
        ("EXP-RC2-CBC-MD5", None),
        ("EXP-DES-CBC-SHA", None),
        ("EXP-EDH-RSA-DES-CBC-SHA", None),
        ("EXP-EDH-DSS-DES-CBC-SHA", None),
        ("EXP-ADH-RC4-MD5", None),
        ("EXP-ADH-DES-CBC-SHA", None),
    ];

    #[derive(Clone, Copy, PartialEq, Eq)]
    enum Op {
        Add,
        Remove,
        Kill,
        Move,
    }

    /// The weak suites a valid cipher string leaves enabled, in catalogue order, with why
    /// each is weak.
    pub(super) fn selected_weak(list: &str) -> Vec<(Cow<'_, str>, Weak)> {
        let elements: Vec<(Op, &str)> = list
            .split([':', ',', ' '])
            .map(str::trim)
            .filter(|e| !e.is_empty() && !e.starts_with('@'))
            .map(|e| match e.as_bytes()[0] {
                b'!' => (Op::Kill, &e[1..]),
                b'-' => (Op::Remove, &e[1..]),
                b'+' => (Op::Move, &e[1..]),
                _ => (Op::Add, e),
            })
            .collect();
        let is_words = |body: &str| body.split('+').all(|w| CIPHER_WORDS.contains(&w));
        let mut suites: Vec<Suite<'_>> = CATALOGUE
            .iter()
            .map(|&(name, attrs)| Suite {
                name: Cow::Borrowed(name),
                attrs,
            })
            .collect();
        // Weak suite names the catalogue lacks still count when named.
        for &(_, body) in &elements {
            if !is_words(body)
                && Weak::of_name(body).any()
                && !suites.iter().any(|s| s.name == body)
            {
                suites.push(Suite {
                    name: Cow::Borrowed(body),
                    attrs: None,
                });
            }
        }
        let mut enabled = vec![false; suites.len()];
        let mut killed = vec![false; suites.len()];
        for (op, body) in elements {
            let words = is_words(body);
            for (k, suite) in suites.iter().enumerate() {
                let hit = if words {
                    suite
                        .attrs
                        .is_some_and(|a| body.split('+').all(|w| a.word(w)))
                } else {
                    suite.name == body
                };
                if !hit {
                    continue;
                }
                match op {
                    Op::Add => enabled[k] |= !killed[k],
                    Op::Remove => enabled[k] = false,
                    Op::Kill => {
                        enabled[k] = false;
                        killed[k] = true;
                    }
                    Op::Move => {}
                }
            }
        }
        suites
            .into_iter()
            .zip(enabled)
            .filter(|(_, on)| *on)
            .map(|(s, _)| {
                let w = Weak::of_name(&s.name);
                (s.name, w)
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(list: &str) -> Vec<String> {
        cipher::selected_weak(list)
            .into_iter()
            .map(|(n, _)| n.into_owned())
            .collect()
    }

    #[test]
    fn every_name_used_is_in_the_registry() {
        for name in [
            "FIPS_Mode",
            "TLS_Min_Version",
            "TLS_Client_Min_Version",
            "TLS_Server_Min_Version",
            "Enable_SSLv3",
            "TLS_Cipher_List",
            "Firewall",
            "Firewall_Config",
            "Enable_Web_Server",
            "Enable_Protocol",
            "Admin_Password",
            "User_Password",
            "Resync_From_SIP",
            "Line_Enable_1_",
            "SIP_Transport_1_",
            "TLS_Name_Validate_1_",
            "Auth_INVITE_1_",
            "Auth_Support_RFC8760_1_",
            "Auth_Support_RFC8760",
            "MediaSec_Request_1_",
            "MediaSec_Over_TLS_Only_1_",
            "Auth_Resync-Reboot_1_",
            "Restricted_Access_Domains",
            "Provision_Enable",
            "Upgrade_Enable",
            "IKM_HTTP_Encrypt_Content",
            "GPP_A",
            "GPP_P",
            "GPP_SA",
            "GPP_SD",
            "LDAP_Server",
            "LDAP_Dir_Enable",
            "LDAP_StartTLS_Enable",
            "LDAP_Auth_Method",
            "Enable_TR-069",
            "Proxy_Mode",
            "Proxy_Server_Requires_Authentication",
            "Enable_802.1X_Authentication",
        ]
        .into_iter()
        .chain(RULES.iter().copied())
        {
            assert!(
                registry::lookup(name).is_some(),
                "{name} is not in the registry"
            );
        }
    }

    #[test]
    fn checks_are_unique_kebab_case_sorted_and_documented() {
        let doc = include_str!("audit.rs");
        let mut seen = std::collections::HashSet::new();
        for pair in CHECKS.windows(2) {
            let (a, b) = (&pair[0], &pair[1]);
            assert!(
                a.severity > b.severity || (a.severity == b.severity && a.id < b.id),
                "CHECKS out of order at {} / {}",
                a.id,
                b.id
            );
        }
        for c in CHECKS {
            assert!(seen.insert(c.id), "duplicate id {}", c.id);
            assert!(
                c.id.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'),
                "{} is not kebab-case",
                c.id
            );
            let row = format!("//! | `{}` | {} |", c.id, c.severity);
            assert!(doc.contains(&row), "module table lacks {row}");
        }
        let rows = doc.lines().filter(|l| l.starts_with("//! | `")).count();
        assert_eq!(
            rows,
            CHECKS.len(),
            "the module table has rows for unknown checks"
        );
    }

    #[test]
    fn severity_parse_display_order() {
        for s in Severity::ALL {
            assert_eq!(s.to_string().parse::<Severity>(), Ok(s));
        }
        assert_eq!("HIGH".parse::<Severity>(), Ok(Severity::High));
        assert!("critical".parse::<Severity>().is_err());
        assert!(Severity::High > Severity::Medium);
        assert!(Severity::Low > Severity::Info);
    }

    #[test]
    fn cipher_semantics() {
        // DEFAULT and HIGH without anonymous suites keep nothing weak.
        assert!(names("DEFAULT").is_empty());
        assert!(names("HIGH:!aNULL").is_empty());
        assert!(names("ECDHE+AESGCM:ECDHE+CHACHA20").is_empty());
        // HIGH alone keeps the anonymous AES suites.
        assert!(names("HIGH").contains(&"ADH-AES128-SHA".to_owned()));
        // ALL keeps anonymous, 3DES and RC4 suites but no NULL one.
        let all = names("ALL");
        assert!(all.contains(&"AECDH-AES128-SHA".to_owned()));
        assert!(all.contains(&"DES-CBC3-SHA".to_owned()));
        assert!(!all.iter().any(|n| n.contains("NULL-")));
        // `!` is final, `-` is not.
        assert!(
            names("ALL:!MEDIUM:MEDIUM")
                .iter()
                .all(|n| !n.contains("DES"))
        );
        assert!(names("ALL:-MEDIUM:MEDIUM").contains(&"DES-CBC3-SHA".to_owned()));
        // `+` joins words as an intersection; a leading `+` only reorders.
        assert_eq!(
            names("kRSA+MD5"),
            ["NULL-MD5", "RC4-MD5"].map(str::to_owned)
        );
        assert!(names("+MEDIUM").is_empty());
        // The seed's example keeps 3DES and RC4 (and MD5 through RC4-MD5).
        let seed = names("RSA:!aNULL:!eNULL");
        assert_eq!(
            seed,
            ["DES-CBC3-SHA", "RC4-MD5", "RC4-SHA"].map(str::to_owned)
        );
        assert!(names("RSA:!aNULL:!eNULL:!MEDIUM").is_empty());
        // Names select exactly; unknown weak names count.
        assert_eq!(
            names("EXP1024-RC4-SHA"),
            ["EXP1024-RC4-SHA"].map(str::to_owned)
        );
        assert_eq!(names("DES-CBC-SHA:!DES-CBC-SHA"), Vec::<String>::new());
        // The words TLSv1 and SSLv3 match the suites' lowest version exactly.
        assert!(
            names("TLSv1+MEDIUM")
                .iter()
                .all(|n| n.starts_with("ECDHE") || n.starts_with("AECDH"))
        );
        assert!(names("COMPLEMENTOFALL").iter().all(|n| n.contains("NULL")));
        assert_eq!(names("COMPLEMENTOFALL").len(), 6);
    }
}
