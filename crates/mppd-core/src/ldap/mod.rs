//! The corporate directory over LDAP (SPEC §9), sans-IO: the profile's LDAP parameters as a
//! typed [`DirectoryConfig`], search filters ([`filter`]), what a result shows ([`display`]),
//! SASL DIGEST-MD5 ([`digest_md5`]) and the bind decision ([`bind_plan`]).
//!
//! Decisions:
//! - `LDAP_Server` decides TLS: `ldaps://` is TLS from the first byte (port 636);
//!   `ldap://` (389) is upgraded with StartTLS when `LDAP_StartTLS_Enable` is Yes. The host
//!   name is always validated (no parameter turns that off for LDAP).
//! - A server that refuses StartTLS leaves the connection in plain text, as the seed says; the
//!   shell logs a warning and reports it, and [`bind_plan`] then refuses to send a Simple bind
//!   password (nor does it ever send one over a plain `ldap://` connection).
//! - `LDAP_Auth_Method`: None binds anonymously (no bind request); Simple binds with
//!   `LDAP_Client_DN` (else `LDAP_Username`) and `LDAP_Password`, and is an anonymous bind
//!   when either is empty (the admin guide's rule); DIGEST-MD5 uses `LDAP_Username` and
//!   `LDAP_Password` and is refused in FIPS mode (MD5).
//! - Limits: the phone has no parameter for them (the MPP XML reference lists none), so they
//!   are fixed in [`Limits::default`].

pub mod digest_md5;
pub mod display;
pub mod filter;

use std::fmt;

use mppd_config::Profile;

pub use display::{DisplayAttr, NumberMapping, Row};
pub use filter::{Filter, FilterError, FilterTemplate};

/// `ldap://` or `ldaps://`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    /// LDAP, port 389, optionally upgraded with StartTLS.
    Ldap,
    /// LDAP over TLS, port 636.
    Ldaps,
}

/// `LDAP_Server` parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerUrl {
    /// The scheme.
    pub scheme: Scheme,
    /// The host (an IPv6 literal without brackets).
    pub host: String,
    /// The port (default 389 or 636).
    pub port: u16,
}

impl ServerUrl {
    /// Parses `ldap://host[:port]` or `ldaps://host[:port]` (a trailing `/` allowed).
    pub fn parse(value: &str) -> Result<Self, ConfigError> {
        let bad = || ConfigError::BadServer(value.to_owned());
        let value = value.trim();
        let (scheme, rest) = value.split_once("://").ok_or_else(bad)?;
        let scheme = if scheme.eq_ignore_ascii_case("ldap") {
            Scheme::Ldap
        } else if scheme.eq_ignore_ascii_case("ldaps") {
            Scheme::Ldaps
        } else {
            return Err(bad());
        };
        let authority = rest.strip_suffix('/').unwrap_or(rest);
        if authority.is_empty() || authority.contains(['/', '?', '#', '@']) {
            return Err(bad());
        }
        // An IPv6 address is checked by `split_host_port`; a name or IPv4 address here.
        let (host, port) = mppd_config::validate::split_host_port(authority).map_err(|_| bad())?;
        mppd_config::validate::check_host(host).map_err(|_| bad())?;
        let port = port.unwrap_or(match scheme {
            Scheme::Ldap => 389,
            Scheme::Ldaps => 636,
        });
        Ok(Self {
            scheme,
            host: host.to_owned(),
            port,
        })
    }
}

impl fmt::Display for ServerUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scheme = match self.scheme {
            Scheme::Ldap => "ldap",
            Scheme::Ldaps => "ldaps",
        };
        if self.host.contains(':') {
            write!(f, "{scheme}://[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{scheme}://{}:{}", self.host, self.port)
        }
    }
}

/// `LDAP_Auth_Method`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthMethod {
    /// Anonymous.
    None,
    /// Simple bind (DN and password).
    Simple,
    /// SASL DIGEST-MD5 (RFC 2831).
    DigestMd5,
}

/// The fixed limits of a directory search.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Seconds for connecting, the TLS handshake, and each request/response exchange; also
    /// sent as the search's time limit.
    pub timeout_secs: u32,
    /// Entries asked for (the search's size limit); the client stops reading beyond it.
    pub size_limit: u32,
    /// Largest LDAP message accepted from the server, in bytes.
    pub max_message_bytes: usize,
}

impl Default for Limits {
    /// 10 s, 100 entries (a phone's directory screen), 256 KiB per message (an entry with the
    /// display attributes is well under 4 KiB; the limit stops a server from exhausting memory).
    fn default() -> Self {
        Self {
            timeout_secs: 10,
            size_limit: 100,
            max_message_bytes: 256 * 1024,
        }
    }
}

/// A secret that never shows in `Debug`.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Password(String);

impl Password {
    /// Wraps a password.
    pub fn new(s: impl Into<String>) -> Self {
        Self(s.into())
    }

    /// The password (only for the bind itself).
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Whether it is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.0.is_empty() { "\"\"" } else { "*****" })
    }
}

/// The profile's LDAP parameters, checked.
#[derive(Debug, Clone)]
pub struct DirectoryConfig {
    /// `LDAP_Corp_Dir_Name`.
    pub name: String,
    /// `LDAP_Server`.
    pub server: ServerUrl,
    /// `LDAP_StartTLS_Enable` (ignored for `ldaps://`).
    pub start_tls: bool,
    /// `LDAP_Auth_Method`.
    pub auth: AuthMethod,
    /// `LDAP_Client_DN`.
    pub client_dn: String,
    /// `LDAP_Username`.
    pub username: String,
    /// `LDAP_Password`.
    pub password: Password,
    /// `LDAP_Search_Base`.
    pub search_base: String,
    /// `LDAP_Last_Name_Filter`.
    pub last_name_filter: Option<FilterTemplate>,
    /// `LDAP_First_Name_Filter`.
    pub first_name_filter: Option<FilterTemplate>,
    /// `LDAP_Search_Item_3` (a label) and `LDAP_Item_3_Filter`.
    pub item3: Option<(String, FilterTemplate)>,
    /// `LDAP_Search_Item_4` and `LDAP_Item_4_Filter`.
    pub item4: Option<(String, FilterTemplate)>,
    /// `LDAP_Display_Attrs` (its default when empty).
    pub display: Vec<DisplayAttr>,
    /// `LDAP_Number_Mapping`.
    pub number_mapping: NumberMapping,
    /// `FIPS_Mode` Enabled.
    pub fips: bool,
    /// Timeouts and sizes.
    pub limits: Limits,
}

/// Why the profile does not give a usable directory.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConfigError {
    /// `LDAP_Dir_Enable` is not Yes.
    Disabled,
    /// `LDAP_Server` is empty.
    NoServer,
    /// `LDAP_Server` is not `ldap[s]://host[:port]`.
    BadServer(String),
    /// A filter parameter is not a valid filter.
    BadFilter {
        /// The parameter.
        param: &'static str,
        /// Why.
        error: FilterError,
    },
    /// `LDAP_Display_Attrs` or `LDAP_Number_Mapping` is invalid.
    BadDisplay {
        /// The parameter.
        param: &'static str,
        /// Why.
        error: display::DisplayError,
    },
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Disabled => f.write_str("LDAP_Dir_Enable is not Yes: the directory is off"),
            Self::NoServer => f.write_str("LDAP_Server is empty"),
            Self::BadServer(v) => write!(
                f,
                "LDAP_Server {v:?} is not ldap://host[:port] or ldaps://host[:port]"
            ),
            Self::BadFilter { param, error } => write!(f, "{param}: {error}"),
            Self::BadDisplay { param, error } => write!(f, "{param}: {error}"),
        }
    }
}

impl std::error::Error for ConfigError {}

fn template(profile: &Profile, param: &'static str) -> Result<Option<FilterTemplate>, ConfigError> {
    let v = profile.effective(param).unwrap_or_default();
    if v.trim().is_empty() {
        return Ok(None);
    }
    FilterTemplate::parse(&v)
        .map(Some)
        .map_err(|error| ConfigError::BadFilter { param, error })
}

impl DirectoryConfig {
    /// Reads the LDAP parameters of `profile`; `Disabled` unless `LDAP_Dir_Enable` is Yes.
    pub fn from_profile(profile: &Profile) -> Result<Self, ConfigError> {
        if !profile.bool("LDAP_Dir_Enable") {
            return Err(ConfigError::Disabled);
        }
        let get = |n: &str| profile.effective(n).unwrap_or_default().trim().to_owned();
        let server = get("LDAP_Server");
        if server.is_empty() {
            return Err(ConfigError::NoServer);
        }
        let server = ServerUrl::parse(&server)?;
        let auth = match get("LDAP_Auth_Method").to_ascii_uppercase().as_str() {
            "SIMPLE" => AuthMethod::Simple,
            "DIGEST-MD5" => AuthMethod::DigestMd5,
            _ => AuthMethod::None,
        };
        let item = |label: &'static str, param: &'static str| {
            Ok::<_, ConfigError>(template(profile, param)?.map(|t| (get(label), t)))
        };
        let display =
            display::parse_display_attrs(&get("LDAP_Display_Attrs")).map_err(|error| {
                ConfigError::BadDisplay {
                    param: "LDAP_Display_Attrs",
                    error,
                }
            })?;
        let number_mapping =
            NumberMapping::parse(&get("LDAP_Number_Mapping")).map_err(|error| {
                ConfigError::BadDisplay {
                    param: "LDAP_Number_Mapping",
                    error,
                }
            })?;
        Ok(Self {
            name: get("LDAP_Corp_Dir_Name"),
            server,
            start_tls: profile.bool("LDAP_StartTLS_Enable"),
            auth,
            client_dn: get("LDAP_Client_DN"),
            username: get("LDAP_Username"),
            // A password is taken as written: spaces may be part of it.
            password: Password::new(profile.effective("LDAP_Password").unwrap_or_default()),
            search_base: get("LDAP_Search_Base"),
            last_name_filter: template(profile, "LDAP_Last_Name_Filter")?,
            first_name_filter: template(profile, "LDAP_First_Name_Filter")?,
            item3: item("LDAP_Search_Item_3", "LDAP_Item_3_Filter")?,
            item4: item("LDAP_Search_Item_4", "LDAP_Item_4_Filter")?,
            display,
            number_mapping,
            fips: profile
                .effective("FIPS_Mode")
                .is_some_and(|v| v.eq_ignore_ascii_case("Enabled")),
            limits: Limits::default(),
        })
    }

    /// The filter of a name search: the last-name filter OR the first-name filter with
    /// `$VALUE` = `name` (escaped); the admin guide's examples `sn:(sn=$VALUE*)` and
    /// `cn:(cn=$VALUE*)` when both are empty.
    pub fn name_filter(&self, name: &str) -> Result<Filter, FilterError> {
        let defaults;
        let templates: Vec<&FilterTemplate> =
            match (&self.last_name_filter, &self.first_name_filter) {
                (None, None) => {
                    defaults = [
                        FilterTemplate::parse("sn:(sn=$VALUE*)")?,
                        FilterTemplate::parse("cn:(cn=$VALUE*)")?,
                    ];
                    defaults.iter().collect()
                }
                (a, b) => a.iter().chain(b.iter()).collect(),
            };
        let mut filters = templates
            .iter()
            .map(|t| t.build(name))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(if filters.len() == 1 {
            filters.remove(0)
        } else {
            Filter::Or(filters)
        })
    }

    /// Whether the connection is TLS before any operation (ldaps, or ldap with StartTLS).
    pub fn wants_tls(&self) -> bool {
        self.server.scheme == Scheme::Ldaps || self.start_tls
    }
}

/// What protects the connection when the bind is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// TLS (ldaps or StartTLS done).
    Tls,
    /// Plain text: `ldap://` without StartTLS.
    Plain,
    /// Plain text because the server refused StartTLS.
    StartTlsRefused,
}

/// The bind to perform.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BindPlan {
    /// No bind request: anonymous.
    Anonymous,
    /// Simple bind.
    Simple {
        /// The DN.
        dn: String,
        /// The password.
        password: Password,
    },
    /// SASL DIGEST-MD5.
    DigestMd5 {
        /// The authentication id.
        username: String,
        /// The password.
        password: Password,
    },
}

/// Why the phone refuses to bind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum BindRefusal {
    /// DIGEST-MD5 needs MD5, which FIPS mode forbids.
    DigestMd5InFips,
    /// A Simple bind password would go out in plain text.
    SimpleInClear(Transport),
    /// DIGEST-MD5 without `LDAP_Username` or `LDAP_Password`.
    DigestMd5NoCredentials,
}

impl fmt::Display for BindRefusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::DigestMd5InFips => f.write_str(
                "DIGEST-MD5 is refused in FIPS mode (it needs MD5): use Simple over TLS",
            ),
            Self::SimpleInClear(Transport::StartTlsRefused) => f.write_str(
                "the server refused StartTLS and the connection is plain text: \
                 the Simple bind password is not sent in clear",
            ),
            Self::SimpleInClear(_) => f.write_str(
                "the connection is plain text (ldap:// without StartTLS): the Simple bind \
                 password is not sent in clear; use ldaps:// or LDAP_StartTLS_Enable=Yes",
            ),
            Self::DigestMd5NoCredentials => {
                f.write_str("DIGEST-MD5 needs LDAP_Username and LDAP_Password")
            }
        }
    }
}

impl std::error::Error for BindRefusal {}

/// Decides the bind for `cfg` on a connection protected by `transport`.
pub fn bind_plan(cfg: &DirectoryConfig, transport: Transport) -> Result<BindPlan, BindRefusal> {
    match cfg.auth {
        AuthMethod::None => Ok(BindPlan::Anonymous),
        AuthMethod::Simple => {
            let dn = if cfg.client_dn.is_empty() {
                &cfg.username
            } else {
                &cfg.client_dn
            };
            if dn.is_empty() || cfg.password.is_empty() {
                return Ok(BindPlan::Anonymous);
            }
            if transport != Transport::Tls {
                return Err(BindRefusal::SimpleInClear(transport));
            }
            Ok(BindPlan::Simple {
                dn: dn.clone(),
                password: cfg.password.clone(),
            })
        }
        AuthMethod::DigestMd5 => {
            if cfg.fips {
                return Err(BindRefusal::DigestMd5InFips);
            }
            if cfg.username.is_empty() || cfg.password.is_empty() {
                return Err(BindRefusal::DigestMd5NoCredentials);
            }
            Ok(BindPlan::DigestMd5 {
                username: cfg.username.clone(),
                password: cfg.password.clone(),
            })
        }
    }
}

/// The RFC 4511 name of a result code (`invalidCredentials`), for error messages.
pub fn result_code_name(code: u32) -> &'static str {
    match code {
        0 => "success",
        1 => "operationsError",
        2 => "protocolError",
        3 => "timeLimitExceeded",
        4 => "sizeLimitExceeded",
        7 => "authMethodNotSupported",
        8 => "strongerAuthRequired",
        10 => "referral",
        11 => "adminLimitExceeded",
        12 => "unavailableCriticalExtension",
        13 => "confidentialityRequired",
        14 => "saslBindInProgress",
        16 => "noSuchAttribute",
        17 => "undefinedAttributeType",
        18 => "inappropriateMatching",
        32 => "noSuchObject",
        34 => "invalidDNSyntax",
        48 => "inappropriateAuthentication",
        49 => "invalidCredentials",
        50 => "insufficientAccessRights",
        51 => "busy",
        52 => "unavailable",
        53 => "unwillingToPerform",
        80 => "other",
        _ => "unknown",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn profile(params: &[(&str, &str)]) -> Profile {
        let mut p = Profile::new();
        p.set("LDAP_Dir_Enable", "Yes", None, 0);
        p.set("LDAP_Server", "ldaps://ldap.example.test", None, 0);
        for (n, v) in params {
            p.set(n, v, None, 0);
        }
        p
    }

    #[test]
    fn server_urls_and_default_ports() {
        let u = ServerUrl::parse("ldaps://ldap.example.test").unwrap();
        assert_eq!(
            (u.scheme, u.host.as_str(), u.port),
            (Scheme::Ldaps, "ldap.example.test", 636)
        );
        let u = ServerUrl::parse("LDAP://10.0.0.1:3389/").unwrap();
        assert_eq!((u.scheme, u.port), (Scheme::Ldap, 3389));
        let u = ServerUrl::parse("ldap://[::1]").unwrap();
        assert_eq!((u.host.as_str(), u.port), ("::1", 389));
        assert_eq!(u.to_string(), "ldap://[::1]:389");
        for bad in [
            "ldap.example.test",
            "http://x",
            "ldap://",
            "ldap://x:0",
            "ldap://u@x",
            "ldap://x/dc=a",
        ] {
            assert!(ServerUrl::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn server_hosts_must_be_names_or_valid_ip_addresses() {
        // Found by fuzzing: two colons were taken for an IPv6 address without a check.
        for bad in [
            "ldap://:]:",
            "ldap://dir.example.com:389:636",
            "ldap://[:]:]:389",
            "ldap://[dir.example.com]:389",
            "ldap://[192.0.2.1]",
            "ldap://[::1",
            "ldap://[::1]x",
            "ldap://::g",
            "ldap://bad host",
            "ldap://:389",
        ] {
            assert!(
                matches!(ServerUrl::parse(bad), Err(ConfigError::BadServer(ref v)) if v == bad),
                "{bad}"
            );
        }
        for (url, scheme, host, port, printed) in [
            (
                "ldap://[::1]:636",
                Scheme::Ldap,
                "::1",
                636,
                "ldap://[::1]:636",
            ),
            ("ldap://::1", Scheme::Ldap, "::1", 389, "ldap://[::1]:389"),
            (
                "ldaps://[2001:db8::10]/",
                Scheme::Ldaps,
                "2001:db8::10",
                636,
                "ldaps://[2001:db8::10]:636",
            ),
            (
                "ldaps://dir.example.com",
                Scheme::Ldaps,
                "dir.example.com",
                636,
                "ldaps://dir.example.com:636",
            ),
            (
                "ldap://192.0.2.1:3389",
                Scheme::Ldap,
                "192.0.2.1",
                3389,
                "ldap://192.0.2.1:3389",
            ),
        ] {
            let u = ServerUrl::parse(url).unwrap();
            assert_eq!(
                (u.scheme, u.host.as_str(), u.port),
                (scheme, host, port),
                "{url}"
            );
            assert_eq!(u.to_string(), printed);
            assert_eq!(ServerUrl::parse(&u.to_string()).unwrap(), u, "{url}");
        }
    }

    #[test]
    fn server_urls_print_and_parse_back() {
        // Whatever parses prints as a URL that parses back to the same value.
        let hosts = [
            "",
            ":",
            "::",
            ":]:",
            "[",
            "]",
            "[]",
            "[::]",
            "::1",
            "[::1]",
            "a:b:c",
            "a",
            "a.b.",
            "1.2.3.4",
            "[1.2.3.4]",
            "-a",
            "a_b",
            "fe80::1%eth0",
            "::ffff:1.2.3.4",
            "a b",
        ];
        let ports = ["", ":", ":1", ":389", ":65535", ":65536", ":0", ":x", "::1"];
        for scheme in ["ldap", "ldaps"] {
            for host in hosts {
                for port in ports {
                    for tail in ["", "/"] {
                        let url = format!("{scheme}://{host}{port}{tail}");
                        if let Ok(u) = ServerUrl::parse(&url) {
                            let printed = u.to_string();
                            assert_eq!(ServerUrl::parse(&printed), Ok(u), "{url} -> {printed}");
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn split_host_port_checks_ipv6_addresses() {
        use mppd_config::validate::split_host_port;
        assert_eq!(
            split_host_port("h.example:5061"),
            Ok(("h.example", Some(5061)))
        );
        assert_eq!(split_host_port("h.example"), Ok(("h.example", None)));
        assert_eq!(
            split_host_port("192.0.2.1:514"),
            Ok(("192.0.2.1", Some(514)))
        );
        assert_eq!(
            split_host_port("[2001:db8::1]:5061"),
            Ok(("2001:db8::1", Some(5061)))
        );
        assert_eq!(split_host_port("[2001:db8::1]"), Ok(("2001:db8::1", None)));
        assert_eq!(split_host_port("2001:db8::1"), Ok(("2001:db8::1", None)));
        assert_eq!(split_host_port("::"), Ok(("::", None)));
        for bad in [
            ":]:",
            "a:1:2",
            "h:389:636",
            "[:]:]:389",
            "[h.example]:1",
            "[]",
            "[1.2.3.4]",
        ] {
            let e = split_host_port(bad).unwrap_err();
            assert!(e.contains(&format!("{bad:?}")), "{bad}: {e}");
        }
        assert!(split_host_port("h:0").is_err());
        assert!(split_host_port("[::1]:x").is_err());
    }

    #[test]
    fn the_directory_must_be_enabled() {
        let mut p = profile(&[]);
        p.set("LDAP_Dir_Enable", "No", None, 0);
        assert_eq!(
            DirectoryConfig::from_profile(&p).unwrap_err(),
            ConfigError::Disabled
        );
        let p = profile(&[("LDAP_Server", "")]);
        assert_eq!(
            DirectoryConfig::from_profile(&p).unwrap_err(),
            ConfigError::NoServer
        );
        let p = profile(&[("LDAP_Last_Name_Filter", "sn:(sn=$VALUE")]);
        assert!(matches!(
            DirectoryConfig::from_profile(&p).unwrap_err(),
            ConfigError::BadFilter {
                param: "LDAP_Last_Name_Filter",
                ..
            }
        ));
    }

    #[test]
    fn search_items_and_the_older_item_4_spelling() {
        let c = DirectoryConfig::from_profile(&profile(&[
            ("LDAP_Search_Item_3", "Department"),
            ("LDAP_Item_3_Filter", "ou:(ou=$VALUE*)"),
            ("LDAP_Search_Item_4", "Mail"),
            ("LDAP_item_4_Filter", "mail:(mail=$VALUE*)"),
        ]))
        .unwrap();
        let (label, t) = c.item3.unwrap();
        assert_eq!(
            (label.as_str(), t.attr.as_deref()),
            ("Department", Some("ou"))
        );
        let (label, t) = c.item4.unwrap();
        assert_eq!(
            (label.as_str(), t.filter.as_str()),
            ("Mail", "(mail=$VALUE*)")
        );
    }

    #[test]
    fn name_search_ors_last_and_first_name_filters() {
        let p = profile(&[
            ("LDAP_Last_Name_Filter", "sn:(sn=*$VALUE*)"),
            ("LDAP_First_Name_Filter", "cn:(cn=$VALUE*)"),
        ]);
        let c = DirectoryConfig::from_profile(&p).unwrap();
        assert_eq!(
            c.name_filter("Sm").unwrap().to_string(),
            "(|(sn=*Sm*)(cn=Sm*))"
        );
        assert_eq!(
            c.name_filter("*)(uid=*").unwrap().to_string(),
            "(|(sn=*\\2a\\29\\28uid=\\2a*)(cn=\\2a\\29\\28uid=\\2a*))"
        );
        let c =
            DirectoryConfig::from_profile(&profile(&[("LDAP_Last_Name_Filter", "sn:(sn=$VALUE)")]))
                .unwrap();
        assert_eq!(c.name_filter("x").unwrap().to_string(), "(sn=x)");
        let c = DirectoryConfig::from_profile(&profile(&[])).unwrap();
        assert_eq!(c.name_filter("x").unwrap().to_string(), "(|(sn=x*)(cn=x*))");
    }

    #[test]
    fn bind_decisions() {
        let cfg =
            |params: &[(&str, &str)]| DirectoryConfig::from_profile(&profile(params)).unwrap();
        assert_eq!(
            bind_plan(&cfg(&[]), Transport::Plain),
            Ok(BindPlan::Anonymous)
        );
        let simple = cfg(&[
            ("LDAP_Auth_Method", "Simple"),
            ("LDAP_Client_DN", "cn=phone,dc=x"),
            ("LDAP_Password", "pw"),
        ]);
        assert!(matches!(
            bind_plan(&simple, Transport::Tls),
            Ok(BindPlan::Simple { .. })
        ));
        assert_eq!(
            bind_plan(&simple, Transport::StartTlsRefused),
            Err(BindRefusal::SimpleInClear(Transport::StartTlsRefused))
        );
        assert!(
            bind_plan(&simple, Transport::StartTlsRefused)
                .unwrap_err()
                .to_string()
                .contains("not sent in clear")
        );
        assert_eq!(
            bind_plan(&simple, Transport::Plain),
            Err(BindRefusal::SimpleInClear(Transport::Plain))
        );
        // Simple without a password: the anonymous simple bind (admin guide).
        let anon = cfg(&[("LDAP_Auth_Method", "Simple"), ("LDAP_Client_DN", "cn=x")]);
        assert_eq!(bind_plan(&anon, Transport::Plain), Ok(BindPlan::Anonymous));
        let digest = [
            ("LDAP_Auth_Method", "DIGEST-MD5"),
            ("LDAP_Username", "alice"),
            ("LDAP_Password", "pw"),
        ];
        assert!(matches!(
            bind_plan(&cfg(&digest), Transport::Plain),
            Ok(BindPlan::DigestMd5 { .. })
        ));
        let mut fips = digest.to_vec();
        fips.push(("FIPS_Mode", "Enabled"));
        assert_eq!(
            bind_plan(&cfg(&fips), Transport::Tls),
            Err(BindRefusal::DigestMd5InFips)
        );
        // The password never shows in Debug output.
        assert!(!format!("{simple:?}").contains("\"pw\""));
        assert!(!format!("{:?}", bind_plan(&simple, Transport::Tls)).contains("\"pw\""));
    }
}
