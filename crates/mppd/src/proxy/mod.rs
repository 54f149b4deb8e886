//! The HTTP proxy of every HTTP client of the phone (SPEC §18; issue 8): the settings the
//! profile gives, where the PAC file comes from, and the PAC engine ([`pac`]). The fetcher
//! ([`crate::provision::fetch`]) asks [`ProxySettings`] and the loaded PAC file for the route of
//! each request and goes `DIRECT`, through `CONNECT` (https) or with the absolute-URI form
//! (http).
//!
//! - `Proxy_Mode` `Off` (the default): direct.
//! - `Manual`: `Proxy_Host`:`Proxy_Port` (3128). A `Manual` profile without `Proxy_Host` goes
//!   direct with a warning.
//! - `Auto`: the PAC file from WPAD (`Use_Auto_Discovery__WPAD_` Yes: DHCP option 252, then
//!   `http://wpad.<domain>/wpad.dat` walking down the phone's domain, never to a public suffix
//!   or a single label: [`mppd_core::proxy::wpad`]) or from `PAC_URL` (tftp, http, https).
//!   A PAC file that cannot be fetched, loaded or evaluated means DIRECT with a warning.
//! - `Proxy_Server_Requires_Authentication` Yes: `Proxy_Username`/`Proxy_Password` answer the
//!   proxy's 407 with Basic credentials, sent to the proxy only.

pub mod pac;

use std::fmt;

use mppd_config::Profile;
use mppd_core::proxy::result::ProxyChoice;
use mppd_core::proxy::wpad::wpad_candidates;

/// `Proxy_Mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProxyMode {
    /// Direct.
    Off,
    /// `Proxy_Host`:`Proxy_Port`.
    Manual,
    /// A PAC file, from WPAD or `PAC_URL`.
    Auto,
}

impl ProxyMode {
    /// The profile's spelling.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Off => "Off",
            Self::Manual => "Manual",
            Self::Auto => "Auto",
        }
    }
}

/// `Proxy_Username` and `Proxy_Password`. The password never shows in `Debug`.
#[derive(Clone, PartialEq, Eq)]
pub struct ProxyCredentials {
    /// `Proxy_Username`.
    pub username: String,
    password: String,
}

impl fmt::Debug for ProxyCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProxyCredentials")
            .field("username", &self.username)
            .field("password", &"********")
            .finish()
    }
}

impl ProxyCredentials {
    /// Credentials (tests, tools).
    pub fn new(username: &str, password: &str) -> Self {
        Self {
            username: username.to_owned(),
            password: password.to_owned(),
        }
    }

    /// The `Proxy-Authorization` value: `Basic base64(user:password)`.
    pub fn basic(&self) -> String {
        crate::provision::fetch::basic_authorization(&self.username, &self.password)
    }
}

/// The HTTP proxy settings of a profile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProxySettings {
    /// `Proxy_Mode`.
    pub mode: ProxyMode,
    /// In `Manual`: the proxy (`None` when `Proxy_Host` is empty: direct).
    pub manual: Option<ProxyChoice>,
    /// The credentials, when `Proxy_Server_Requires_Authentication` is Yes.
    pub credentials: Option<ProxyCredentials>,
    /// `Use_Auto_Discovery__WPAD_`.
    pub wpad: bool,
    /// `PAC_URL` (trimmed, `None` when empty).
    pub pac_url: Option<String>,
    /// What is wrong with the settings (each then means direct), for the log and status.
    pub problems: Vec<String>,
}

impl Default for ProxySettings {
    fn default() -> Self {
        Self {
            mode: ProxyMode::Off,
            manual: None,
            credentials: None,
            wpad: true,
            pac_url: None,
            problems: Vec::new(),
        }
    }
}

impl ProxySettings {
    /// From the profile in force (values are validated already; what still cannot work is
    /// in [`Self::problems`]).
    pub fn from_profile(profile: &Profile) -> Self {
        let get = |name: &str| {
            profile
                .effective(name)
                .map(|v| v.trim().to_owned())
                .unwrap_or_default()
        };
        let yes = |name: &str| get(name).eq_ignore_ascii_case("yes");
        let mode = match get("Proxy_Mode").to_ascii_lowercase().as_str() {
            "manual" => ProxyMode::Manual,
            "auto" => ProxyMode::Auto,
            _ => ProxyMode::Off,
        };
        let mut problems = Vec::new();
        let manual = if mode == ProxyMode::Manual {
            let host = get("Proxy_Host");
            let port = get("Proxy_Port").parse::<u16>().ok().filter(|p| *p != 0);
            match (host.is_empty(), port) {
                (true, _) => {
                    problems.push(
                        "Proxy_Mode is Manual but Proxy_Host is empty: going direct".to_owned(),
                    );
                    None
                }
                (false, None) => {
                    problems.push(format!(
                        "Proxy_Port {:?} is not a port: going direct",
                        get("Proxy_Port")
                    ));
                    None
                }
                (false, Some(port)) => Some(ProxyChoice::Http {
                    host: host
                        .trim_start_matches('[')
                        .trim_end_matches(']')
                        .to_owned(),
                    port,
                }),
            }
        } else {
            None
        };
        let credentials = yes("Proxy_Server_Requires_Authentication").then(|| ProxyCredentials {
            username: get("Proxy_Username"),
            password: profile
                .effective("Proxy_Password")
                .map(|v| v.into_owned())
                .unwrap_or_default(),
        });
        let pac_url = Some(get("PAC_URL")).filter(|u| !u.is_empty());
        let wpad = yes("Use_Auto_Discovery__WPAD_");
        if mode == ProxyMode::Auto && !wpad && pac_url.is_none() {
            problems
                .push("Proxy_Mode is Auto with WPAD off and no PAC_URL: going direct".to_owned());
        }
        Self {
            mode,
            manual,
            credentials,
            wpad,
            pac_url,
            problems,
        }
    }

    /// Where the PAC file is looked for, in order (Auto only): the WPAD candidates for
    /// `hints` when WPAD is on, else `PAC_URL`.
    pub fn pac_sources(&self, hints: &WpadHints) -> Vec<String> {
        if self.mode != ProxyMode::Auto {
            return Vec::new();
        }
        if self.wpad {
            wpad_candidates(hints.option_252.as_deref(), hints.domain.as_deref())
        } else {
            self.pac_url.iter().cloned().collect()
        }
    }

    /// One line for logs and status: mode and target, never the password.
    pub fn describe(&self) -> String {
        match self.mode {
            ProxyMode::Off => "Off (direct)".to_owned(),
            ProxyMode::Manual => match &self.manual {
                Some(p) => format!(
                    "Manual: {p}{}",
                    self.credentials
                        .as_ref()
                        .map(|c| format!(" (Basic auth as {:?})", c.username))
                        .unwrap_or_default()
                ),
                None => "Manual without a usable Proxy_Host (direct)".to_owned(),
            },
            ProxyMode::Auto if self.wpad => "Auto: PAC file by WPAD".to_owned(),
            ProxyMode::Auto => format!(
                "Auto: PAC file {}",
                self.pac_url.as_deref().unwrap_or("(none: direct)")
            ),
        }
    }
}

/// What WPAD starts from: DHCP option 252 and the phone's DNS domain (DHCP option 15, else
/// the `domain`/`search` line of `/etc/resolv.conf`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WpadHints {
    /// DHCP option 252, as received.
    pub option_252: Option<String>,
    /// The phone's DNS domain.
    pub domain: Option<String>,
}

impl WpadHints {
    /// The domain of `/etc/resolv.conf` (`domain`, else the first `search` entry), when no
    /// DHCP domain is known.
    pub fn domain_from_resolv_conf(text: &str) -> Option<String> {
        let mut search = None;
        for line in text.lines() {
            let mut words = line.split_whitespace();
            match words.next() {
                Some("domain") => {
                    if let Some(d) = words.next() {
                        return Some(d.to_owned());
                    }
                }
                Some("search") if search.is_none() => search = words.next().map(str::to_owned),
                _ => {}
            }
        }
        search
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    fn profile(xml: &str) -> Profile {
        Profile::parse(xml.as_bytes()).unwrap()
    }

    #[test]
    fn modes_from_the_profile() {
        let s = ProxySettings::from_profile(&profile("<flat-profile/>"));
        assert_eq!(
            (s.mode, s.manual.clone(), s.wpad),
            (ProxyMode::Off, None, true)
        );
        assert_eq!(s.describe(), "Off (direct)");

        let s = ProxySettings::from_profile(&profile(
            "<flat-profile><Proxy_Mode>Manual</Proxy_Mode><Proxy_Host>proxy.corp</Proxy_Host>\
             <Proxy_Server_Requires_Authentication>Yes</Proxy_Server_Requires_Authentication>\
             <Proxy_Username>u</Proxy_Username><Proxy_Password>s3cret</Proxy_Password>\
             </flat-profile>",
        ));
        assert_eq!(
            s.manual,
            Some(ProxyChoice::Http {
                host: "proxy.corp".to_owned(),
                port: 3128
            })
        );
        assert_eq!(
            s.credentials.as_ref().unwrap().basic(),
            "Basic dTpzM2NyZXQ="
        );
        assert!(!format!("{s:?}{}", s.describe()).contains("s3cret"));

        let s = ProxySettings::from_profile(&profile(
            "<flat-profile><Proxy_Mode>Manual</Proxy_Mode></flat-profile>",
        ));
        assert_eq!(s.manual, None);
        assert_eq!(s.problems.len(), 1, "{:?}", s.problems);

        let s = ProxySettings::from_profile(&profile(
            "<flat-profile><Proxy_Mode>Auto</Proxy_Mode>\
             <Use_Auto_Discovery__WPAD_>No</Use_Auto_Discovery__WPAD_>\
             <PAC_URL>https://pac.corp/proxy.pac</PAC_URL></flat-profile>",
        ));
        assert_eq!(
            s.pac_sources(&WpadHints::default()),
            vec!["https://pac.corp/proxy.pac".to_owned()]
        );
        let s = ProxySettings::from_profile(&profile(
            "<flat-profile><Proxy_Mode>Auto</Proxy_Mode></flat-profile>",
        ));
        assert_eq!(
            s.pac_sources(&WpadHints {
                option_252: Some("http://10.0.0.1/w.pac\0".to_owned()),
                domain: Some("a.example.com".to_owned()),
            }),
            vec![
                "http://10.0.0.1/w.pac".to_owned(),
                "http://wpad.a.example.com/wpad.dat".to_owned(),
                "http://wpad.example.com/wpad.dat".to_owned(),
            ]
        );
    }

    #[test]
    fn resolv_conf_domain() {
        assert_eq!(
            WpadHints::domain_from_resolv_conf("nameserver 1.1.1.1\nsearch a.b c.d\n"),
            Some("a.b".to_owned())
        );
        assert_eq!(
            WpadHints::domain_from_resolv_conf("search x.y\ndomain corp.example\n"),
            Some("corp.example".to_owned())
        );
        assert_eq!(WpadHints::domain_from_resolv_conf(""), None);
    }
}
