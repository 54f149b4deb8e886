//! The SIP shell (SPEC §3, §4, §8, §15, §16; issue 5): the per-line settings of the profile,
//! locating the registrar (RFC 3263 with hickory), the transports (UDP, TCP, TLS through the
//! OpenSSL TLS policy) and the drivers that move bytes for the sans-IO cores of
//! [`mppd_core::sip`].

pub mod agents;
pub mod calls;
pub mod locate;
pub mod register;
pub mod transport;

use std::time::Duration;

use mppd_config::Profile;
use mppd_config::identity::DeviceIdentity;
use mppd_config::macros::{MacroContext, MacroScope, expand};
use mppd_core::provision::domains::RestrictedDomains;
use mppd_core::sip::digest::{Credentials, DigestPolicy, max_auth_from_profile};
use mppd_core::sip::locate::{ProxyValue, TransportSetting};
use mppd_core::sip::mediasec::MediaSecPolicy;
use mppd_core::sip::notify::NotifyPolicy;
use mppd_core::sip::sdp::RtpPortRange;
use mppd_core::sip::transaction::TimerConfig;

/// A line's SIP settings, as the profile gives them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineSettings {
    /// The line (1-based).
    pub line: u8,
    /// `Line_Enable_n_` and `Register_n_`.
    pub register: bool,
    /// `User_ID_n_`.
    pub user: String,
    /// `Display_Name_n_`.
    pub display_name: String,
    /// `Auth_ID_n_` (else `User_ID_n_`) and `Password_n_`.
    pub credentials: Credentials,
    /// `Proxy_n_`.
    pub proxy: Option<ProxyValue>,
    /// `Outbound_Proxy_n_`.
    pub outbound: Option<ProxyValue>,
    /// `SIP_Transport_n_`.
    pub transport: TransportSetting,
    /// `SIP_Port_n_`: the phone's own port for the line.
    pub local_port: u16,
    /// `Register_Expires_n_`.
    pub expires: u32,
    /// `Use_DNS_SRV_n_`.
    pub use_srv: bool,
    /// `Reg_Retry_Intvl`.
    pub retry: Duration,
    /// `Reg_Retry_Long_Intvl`.
    pub long_retry: Duration,
    /// The digest policy (RFC 8760, FIPS).
    pub digest: DigestPolicy,
    /// `Max_Auth`.
    pub max_auth: u32,
    /// `SIP_User_Agent_Name`, macros expanded.
    pub user_agent: String,
    /// `Auth_INVITE_n_`.
    pub auth_invite: bool,
    /// `MediaSec_Request_n_`, `MediaSec_Over_TLS_Only_n_`.
    pub mediasec: MediaSecPolicy,
    /// `RTP_Port_Min`..`RTP_Port_Max`.
    pub rtp_ports: RtpPortRange,
    /// `SIP_T1`, `SIP_T2`, `SIP_T4`.
    pub timers: TimerConfig,
    /// `Resync_From_SIP`, `Auth_Resync-Reboot_n_`.
    pub notify: NotifyPolicy,
}

impl LineSettings {
    /// Line `line` of `profile`; `Err` names a setting that cannot work (no proxy, no user).
    pub fn from_profile(
        profile: &Profile,
        identity: &DeviceIdentity,
        line: u8,
    ) -> Result<Self, String> {
        let get = |name: &str| {
            profile
                .effective(&format!("{name}_{line}_"))
                .map(|v| v.trim().to_owned())
                .unwrap_or_default()
        };
        let global = |name: &str| {
            profile
                .effective(name)
                .map(|v| v.trim().to_owned())
                .unwrap_or_default()
        };
        let yes = |v: String| v.eq_ignore_ascii_case("yes");
        let proxy = ProxyValue::parse(&get("Proxy")).map_err(|e| format!("Proxy_{line}_: {e}"))?;
        let outbound = ProxyValue::parse(&get("Outbound_Proxy"))
            .map_err(|e| format!("Outbound_Proxy_{line}_: {e}"))?;
        let transport = TransportSetting::parse(&get("SIP_Transport")).ok_or_else(|| {
            format!(
                "SIP_Transport_{line}_ {:?} is not UDP, TCP, TLS or Auto",
                get("SIP_Transport")
            )
        })?;
        let local_port: u16 = get("SIP_Port")
            .parse()
            .map_err(|_| format!("SIP_Port_{line}_ {:?} is not a port", get("SIP_Port")))?;
        let secs = |name: &str, default: u64| {
            Duration::from_secs(global(name).parse::<u64>().unwrap_or(default))
        };
        let ctx = MacroContext::new(identity);
        let user_agent = expand(&global("SIP_User_Agent_Name"), &ctx, MacroScope::Text);
        Ok(Self {
            line,
            register: yes(get("Line_Enable")) && yes(get("Register")),
            user: get("User_ID"),
            display_name: get("Display_Name"),
            credentials: Credentials::from_profile(profile, line),
            proxy,
            outbound,
            transport,
            local_port,
            expires: get("Register_Expires").parse().unwrap_or(3600),
            use_srv: yes(get("Use_DNS_SRV")),
            retry: secs("Reg_Retry_Intvl", 30),
            long_retry: secs("Reg_Retry_Long_Intvl", 1200),
            digest: DigestPolicy::from_profile(profile, line),
            max_auth: max_auth_from_profile(profile),
            user_agent: if user_agent.is_empty() {
                format!("mppd/{}", env!("CARGO_PKG_VERSION"))
            } else {
                user_agent
            },
            auth_invite: yes(get("Auth_INVITE")),
            mediasec: MediaSecPolicy::from_profile(profile, line),
            rtp_ports: RtpPortRange::from_profile(profile),
            timers: TimerConfig::from_profile(profile).unwrap_or_default(),
            notify: NotifyPolicy {
                resync_from_sip: yes(global("Resync_From_SIP")),
                auth_required: yes(get("Auth_Resync-Reboot")),
            },
        })
    }

    /// `Restricted_Access_Domains` (SPEC §1) on `Proxy_n_` and `Outbound_Proxy_n_` (their
    /// hosts, and every host of an SRV list): the first one outside names the setting.
    pub fn check_restricted(&self, profile: &Profile) -> Result<(), String> {
        let domains = RestrictedDomains::parse(
            profile
                .effective("Restricted_Access_Domains")
                .as_deref()
                .unwrap_or(""),
        );
        let line = self.line;
        for (name, value) in [("Proxy", &self.proxy), ("Outbound_Proxy", &self.outbound)] {
            let Some(v) = value else { continue };
            let mut hosts = vec![v.domain().to_owned()];
            if let ProxyValue::SrvList { targets, .. } = v {
                hosts.extend(targets.iter().map(|t| t.target.clone()));
            }
            for h in hosts {
                domains
                    .check(&h)
                    .map_err(|e| format!("{name}_{line}_: {e}"))?;
            }
        }
        Ok(())
    }

    /// Why the line cannot register, or `None` when it can.
    pub fn unusable(&self) -> Option<String> {
        let line = self.line;
        if !self.register {
            return Some(format!(
                "Line_Enable_{line}_ or Register_{line}_ is No: not registering"
            ));
        }
        if self.user.is_empty() {
            return Some(format!("User_ID_{line}_ is empty"));
        }
        if self.proxy.is_none() {
            return Some(format!("Proxy_{line}_ is empty: no registrar"));
        }
        None
    }
}
