//! The TLS policy: from the profile and the application to the settings every secure channel of
//! the phone applies (SPEC §5, §10, §14, §15, §19). Pure: no OpenSSL here; the shell
//! (`mppd::tls`) applies a policy to OpenSSL builders.
//!
//! Decisions:
//! - `TLS_Min_Version` (alias `TLS_Client_Min_Version`) is the minimum of every client;
//!   `TLS_Server_Min_Version` that of the web server. A minimum below TLS 1.2 lowers OpenSSL's
//!   security level to 0 for that context only, so that TLS 1.0/1.1 servers work as the seed's
//!   table (SPEC §5) says; otherwise the system's level stays.
//! - `FIPS_Mode` Enabled raises every minimum to TLS 1.2 and never lowers the security level.
//! - `TLS_Cipher_List` governs the TLS 1.2-and-older suites only. TLS 1.3 suites are not cipher-
//!   string words in OpenSSL; they keep OpenSSL's defaults (all AEAD). So a TLS 1.3 server
//!   negotiates TLS 1.3 whatever the list; to make the list decide, a server must be limited to
//!   TLS 1.2 or the minimum must be TLS 1.3.
//! - An empty or invalid list falls back to the application's default: the web server's five
//!   suites, XMPP's `HIGH:MEDIUM:AES:@STRENGTH`, and for SIP, provisioning and the other HTTP
//!   clients the seed's 28-entry DEFAULT list (27 suites plus the renegotiation SCSV, which
//!   OpenSSL sends by itself).
//! - Host names are validated for every application; only SIP line n with
//!   `TLS_Name_Validate_n_` = No skips it. Provisioning accepts a CN of the form `host/anything`
//!   and checks the certificate's name against the server's IP address.

use std::fmt;
use std::net::IpAddr;

use mppd_config::Profile;
use mppd_config::validate::{CipherListError, check_cipher_list};

/// A TLS protocol version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum TlsVersion {
    /// TLS 1.0.
    Tls1_0,
    /// TLS 1.1.
    Tls1_1,
    /// TLS 1.2.
    Tls1_2,
    /// TLS 1.3.
    Tls1_3,
}

impl TlsVersion {
    /// Parses the profile spelling (`TLS 1.2`, case-insensitive).
    pub fn from_profile(value: &str) -> Option<Self> {
        match value.trim().to_ascii_uppercase().as_str() {
            "TLS 1.0" => Some(Self::Tls1_0),
            "TLS 1.1" => Some(Self::Tls1_1),
            "TLS 1.2" => Some(Self::Tls1_2),
            "TLS 1.3" => Some(Self::Tls1_3),
            _ => None,
        }
    }

    /// OpenSSL's name (`TLSv1`, `TLSv1.1`, `TLSv1.2`, `TLSv1.3`).
    pub fn openssl_name(self) -> &'static str {
        match self {
            Self::Tls1_0 => "TLSv1",
            Self::Tls1_1 => "TLSv1.1",
            Self::Tls1_2 => "TLSv1.2",
            Self::Tls1_3 => "TLSv1.3",
        }
    }
}

impl fmt::Display for TlsVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Tls1_0 => "TLS 1.0",
            Self::Tls1_1 => "TLS 1.1",
            Self::Tls1_2 => "TLS 1.2",
            Self::Tls1_3 => "TLS 1.3",
        })
    }
}

/// A TLS client of the phone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientApp {
    /// HTTPS provisioning (profile rules, custom CA, upgrade).
    Provisioning,
    /// SIP over TLS for a line (1-based).
    Sip {
        /// The line.
        line: u8,
    },
    /// LDAPS and LDAP StartTLS.
    Ldap,
    /// XMPP.
    Xmpp,
    /// Report and PRT uploads.
    Upload,
}

impl ClientApp {
    /// The name used in logs and the CLI.
    pub fn name(self) -> &'static str {
        match self {
            Self::Provisioning => "provisioning",
            Self::Sip { .. } => "sip",
            Self::Ldap => "ldap",
            Self::Xmpp => "xmpp",
            Self::Upload => "upload",
        }
    }
}

/// The SIP/HTTP clients' default suites: the seed's DEFAULT list (SPEC §14), in its order, with
/// OpenSSL names. The 28th entry of the seed, `EMPTY_RENEGOTIATION_INFO_SCSV`, is sent by
/// OpenSSL on its own.
pub const CLIENT_DEFAULT_SUITES: &[&str] = &[
    "ECDHE-ECDSA-AES256-GCM-SHA384",
    "ECDHE-RSA-AES256-GCM-SHA384",
    "DHE-RSA-AES256-GCM-SHA384",
    "ECDHE-ECDSA-CHACHA20-POLY1305",
    "ECDHE-RSA-CHACHA20-POLY1305",
    "DHE-RSA-CHACHA20-POLY1305",
    "ECDHE-ECDSA-AES128-GCM-SHA256",
    "ECDHE-RSA-AES128-GCM-SHA256",
    "DHE-RSA-AES128-GCM-SHA256",
    "ECDHE-ECDSA-AES256-SHA384",
    "ECDHE-RSA-AES256-SHA384",
    "DHE-RSA-AES256-SHA256",
    "ECDHE-ECDSA-AES128-SHA256",
    "ECDHE-RSA-AES128-SHA256",
    "DHE-RSA-AES128-SHA256",
    "ECDHE-ECDSA-AES256-SHA",
    "ECDHE-RSA-AES256-SHA",
    "DHE-RSA-AES256-SHA",
    "ECDHE-ECDSA-AES128-SHA",
    "ECDHE-RSA-AES128-SHA",
    "DHE-RSA-AES128-SHA",
    "AES256-GCM-SHA384",
    "AES128-GCM-SHA256",
    "AES256-SHA256",
    "AES128-SHA256",
    "AES256-SHA",
    "AES128-SHA",
];

/// The web server's default suites (SPEC §14).
pub const WEB_DEFAULT_SUITES: &[&str] = &[
    "ECDHE-RSA-AES256-GCM-SHA384",
    "ECDHE-RSA-AES128-GCM-SHA256",
    "AES256-SHA",
    "AES128-SHA",
    "DES-CBC3-SHA",
];

/// XMPP's default cipher string (SPEC §14).
pub const XMPP_DEFAULT: &str = "HIGH:MEDIUM:AES:@STRENGTH";

/// Where a cipher list came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CipherSource {
    /// `TLS_Cipher_List` as configured.
    Configured,
    /// The application's default: the list was empty.
    DefaultEmpty,
    /// The application's default: the list was invalid (a warning names the word).
    DefaultInvalid(CipherListError),
}

/// The cipher string to apply and where it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CipherChoice {
    /// An OpenSSL cipher string (TLS 1.2 and older).
    pub list: String,
    /// Configured or a default.
    pub source: CipherSource,
    /// The default to use if OpenSSL itself refuses `list` (a configured list whose words are
    /// all known but which selects nothing).
    pub fallback: String,
}

/// The settings of one TLS client connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientPolicy {
    /// The application.
    pub app: ClientApp,
    /// The lowest protocol version accepted.
    pub min_version: TlsVersion,
    /// The TLS 1.2-and-older suites offered.
    pub ciphers: CipherChoice,
    /// OpenSSL security level to set for this context (`Some(0)` when the minimum is below
    /// TLS 1.2), or `None` to keep the system's.
    pub security_level: Option<u32>,
    /// Whether the server's name is checked against its certificate.
    pub verify_host: bool,
    /// Whether a CN of the form `host/anything` names `host` (provisioning, SPEC §10).
    pub cn_slash_form: bool,
    /// Whether the server's IP address must be among the DNS addresses of the certificate's
    /// name (provisioning, SPEC §10).
    pub cert_ip_check: bool,
    /// Whether FIPS mode is requested.
    pub fips: bool,
}

/// The settings of the phone's TLS server (the web UI).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerPolicy {
    /// The lowest protocol version accepted (`TLS_Server_Min_Version`).
    pub min_version: TlsVersion,
    /// The TLS 1.2-and-older suites accepted.
    pub ciphers: CipherChoice,
    /// OpenSSL security level to set, as for clients.
    pub security_level: Option<u32>,
    /// Whether FIPS mode is requested.
    pub fips: bool,
}

fn fips(profile: &Profile) -> bool {
    profile
        .effective("FIPS_Mode")
        .is_some_and(|v| v.eq_ignore_ascii_case("Enabled"))
}

fn min_version(profile: &Profile, name: &str, fallback: TlsVersion, fips: bool) -> TlsVersion {
    let v = profile
        .effective(name)
        .and_then(|v| TlsVersion::from_profile(&v))
        .unwrap_or(fallback);
    if fips { v.max(TlsVersion::Tls1_2) } else { v }
}

fn security_level(min: TlsVersion, fips: bool) -> Option<u32> {
    (min < TlsVersion::Tls1_2 && !fips).then_some(0)
}

/// Chooses the cipher string: `TLS_Cipher_List` when set and valid, else `default`.
pub fn cipher_choice(profile: &Profile, default: &str) -> CipherChoice {
    let configured = profile
        .effective("TLS_Cipher_List")
        .map(|v| v.trim().to_owned())
        .unwrap_or_default();
    let fallback = default.to_owned();
    if configured.is_empty() {
        return CipherChoice {
            list: fallback.clone(),
            source: CipherSource::DefaultEmpty,
            fallback,
        };
    }
    match check_cipher_list(&configured) {
        Ok(()) => CipherChoice {
            list: configured,
            source: CipherSource::Configured,
            fallback,
        },
        Err(e) => CipherChoice {
            list: fallback.clone(),
            source: CipherSource::DefaultInvalid(e),
            fallback,
        },
    }
}

/// The application's default cipher string.
pub fn default_ciphers(app: ClientApp) -> String {
    match app {
        ClientApp::Xmpp => XMPP_DEFAULT.to_owned(),
        _ => CLIENT_DEFAULT_SUITES.join(":"),
    }
}

/// The policy of a TLS client of the phone.
pub fn client_policy(profile: &Profile, app: ClientApp) -> ClientPolicy {
    let fips = fips(profile);
    let min_version = min_version(profile, "TLS_Min_Version", TlsVersion::Tls1_1, fips);
    let verify_host = match app {
        ClientApp::Sip { line } => profile.bool(&format!("TLS_Name_Validate_{line}_")),
        _ => true,
    };
    ClientPolicy {
        app,
        min_version,
        ciphers: cipher_choice(profile, &default_ciphers(app)),
        security_level: security_level(min_version, fips),
        verify_host,
        cn_slash_form: app == ClientApp::Provisioning,
        cert_ip_check: app == ClientApp::Provisioning,
        fips,
    }
}

/// The policy of the phone's HTTPS web server.
pub fn server_policy(profile: &Profile) -> ServerPolicy {
    let fips = fips(profile);
    let min_version = min_version(profile, "TLS_Server_Min_Version", TlsVersion::Tls1_2, fips);
    ServerPolicy {
        min_version,
        ciphers: cipher_choice(profile, &WEB_DEFAULT_SUITES.join(":")),
        security_level: security_level(min_version, fips),
        fips,
    }
}

/// The names a certificate gives its holder.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CertNames {
    /// DNS subject alternative names.
    pub dns: Vec<String>,
    /// IP address subject alternative names.
    pub ips: Vec<IpAddr>,
    /// Subject common names.
    pub cns: Vec<String>,
}

/// Whether the certificate names `host` (RFC 6125): an IP address must be an IP SAN (or, in a
/// certificate without any SAN, the CN); a name is matched against the DNS SANs, and against
/// the CN only when the certificate has no DNS SAN. A wildcard `*` is accepted only as the
/// whole left-most label, matches exactly one label, and needs two labels after it. With
/// `cn_slash_form`, a CN `host/anything` names `host` (SPEC §10). Case-insensitive; a trailing
/// dot is ignored.
pub fn host_matches(names: &CertNames, host: &str, cn_slash_form: bool) -> bool {
    let host = host.strip_suffix('.').unwrap_or(host);
    let bare = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    if let Ok(ip) = bare.parse::<IpAddr>() {
        if names.ips.contains(&ip) {
            return true;
        }
        return names.dns.is_empty()
            && names.ips.is_empty()
            && names.cns.iter().any(|cn| cn.parse::<IpAddr>() == Ok(ip));
    }
    if !names.dns.is_empty() {
        return names.dns.iter().any(|p| dns_matches(p, host));
    }
    names.cns.iter().any(|cn| {
        let cn = if cn_slash_form {
            cn.split_once('/').map_or(cn.as_str(), |(h, _)| h)
        } else {
            cn.as_str()
        };
        dns_matches(cn, host)
    })
}

fn dns_matches(pattern: &str, host: &str) -> bool {
    let pattern = pattern.strip_suffix('.').unwrap_or(pattern);
    if let Some(rest) = pattern.strip_prefix("*.") {
        if rest.split('.').count() < 2 || rest.contains('*') {
            return false;
        }
        return match host.split_once('.') {
            Some((first, tail)) => !first.is_empty() && tail.eq_ignore_ascii_case(rest),
            None => false,
        };
    }
    !pattern.contains('*') && pattern.eq_ignore_ascii_case(host)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn profile(xml: &str) -> Profile {
        Profile::parse(format!("<flat-profile>{xml}</flat-profile>").as_bytes()).unwrap()
    }

    #[test]
    fn defaults() {
        let p = profile("");
        let c = client_policy(&p, ClientApp::Provisioning);
        assert_eq!(c.min_version, TlsVersion::Tls1_1);
        assert_eq!(c.security_level, Some(0));
        assert_eq!(c.ciphers.source, CipherSource::DefaultEmpty);
        assert_eq!(c.ciphers.list.split(':').count(), 27);
        assert!(c.verify_host && c.cn_slash_form && c.cert_ip_check);
        let s = server_policy(&p);
        assert_eq!(s.min_version, TlsVersion::Tls1_2);
        assert_eq!(s.security_level, None);
        assert_eq!(s.ciphers.list, WEB_DEFAULT_SUITES.join(":"));
        let x = client_policy(&p, ClientApp::Xmpp);
        assert_eq!(x.ciphers.list, XMPP_DEFAULT);
        assert!(!x.cert_ip_check && !x.cn_slash_form);
    }

    #[test]
    fn min_versions_alias_and_fips() {
        let p = profile("<TLS_Client_Min_Version>TLS 1.2</TLS_Client_Min_Version>");
        let c = client_policy(&p, ClientApp::Ldap);
        assert_eq!(c.min_version, TlsVersion::Tls1_2);
        assert_eq!(c.security_level, None);
        let p = profile("<TLS_Min_Version>TLS 1.0</TLS_Min_Version><FIPS_Mode>Yes</FIPS_Mode>");
        let c = client_policy(&p, ClientApp::Sip { line: 1 });
        assert_eq!(c.min_version, TlsVersion::Tls1_2);
        assert_eq!(c.security_level, None);
        assert!(c.fips);
    }

    #[test]
    fn cipher_list_configured_or_fallback() {
        let p = profile("<TLS_Cipher_List>RSA:!aNULL:!eNULL</TLS_Cipher_List>");
        let c = client_policy(&p, ClientApp::Sip { line: 1 });
        assert_eq!(c.ciphers.list, "RSA:!aNULL:!eNULL");
        assert_eq!(c.ciphers.source, CipherSource::Configured);
        let p = profile("<TLS_Cipher_List>FOO:BAR</TLS_Cipher_List>");
        let c = client_policy(&p, ClientApp::Xmpp);
        assert_eq!(c.ciphers.list, XMPP_DEFAULT);
        assert!(matches!(c.ciphers.source, CipherSource::DefaultInvalid(ref e) if e.word == "FOO"));
    }

    #[test]
    fn name_validation_only_off_for_that_sip_line() {
        let p = profile("<TLS_Name_Validate_1_>No</TLS_Name_Validate_1_>");
        assert!(!client_policy(&p, ClientApp::Sip { line: 1 }).verify_host);
        assert!(client_policy(&p, ClientApp::Sip { line: 2 }).verify_host);
        assert!(client_policy(&p, ClientApp::Provisioning).verify_host);
        assert!(client_policy(&p, ClientApp::Ldap).verify_host);
    }

    #[test]
    fn host_matching() {
        let san = CertNames {
            dns: vec!["pv.example.test".into(), "*.sip.example.test".into()],
            ips: vec!["192.0.2.1".parse().unwrap()],
            cns: vec!["other.example".into()],
        };
        assert!(host_matches(&san, "PV.example.test.", false));
        assert!(host_matches(&san, "a.sip.example.test", false));
        assert!(!host_matches(&san, "a.b.sip.example.test", false));
        assert!(!host_matches(&san, "sip.example.test", false));
        assert!(
            !host_matches(&san, "other.example", false),
            "CN ignored with DNS SANs"
        );
        assert!(host_matches(&san, "192.0.2.1", false));
        assert!(!host_matches(&san, "192.0.2.2", false));
        let cn_only = CertNames {
            cns: vec!["pv.example.test/mailto:x@y".into()],
            ..CertNames::default()
        };
        assert!(host_matches(&cn_only, "pv.example.test", true));
        assert!(!host_matches(&cn_only, "pv.example.test", false));
        let plain_cn = CertNames {
            cns: vec!["localhost".into()],
            ..CertNames::default()
        };
        assert!(host_matches(&plain_cn, "localhost", false));
        let wild_tld = CertNames {
            dns: vec!["*.test".into()],
            ..CertNames::default()
        };
        assert!(!host_matches(&wild_tld, "a.test", false));
    }
}
