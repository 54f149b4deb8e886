//! Profile -> [`Policy`]: which ports are open and why, and the ICMP options.

use std::fmt;

use mppd_config::Profile;
use mppd_config::registry;
use mppd_config::validate::{self, FirewallOptions, ValueError};
use serde::ser::{Serialize, SerializeStruct, Serializer};

/// The lowest TR-069 connection-request port (SPEC §13: random in 8000-9999).
pub const TR069_PORT_MIN: u16 = 8000;
/// The highest TR-069 connection-request port.
pub const TR069_PORT_MAX: u16 = 9999;

/// A transport protocol of an open port.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Proto {
    /// TCP.
    Tcp,
    /// UDP.
    Udp,
}

impl Proto {
    /// `tcp` or `udp`, as nft and `mppd firewall ports` write it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Tcp => "tcp",
            Self::Udp => "udp",
        }
    }
}

impl fmt::Display for Proto {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a port is open (SPEC §13).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum Reason {
    /// UDP 68.
    Dhcp,
    /// UDP 546.
    Dhcpv6,
    /// The SIP UDP port of an enabled line with transport UDP or Auto.
    SipLine(u8),
    /// `RTP_Port_Min`..`RTP_Port_Max`+1.
    Rtp,
    /// `Web_Server_Port` when `Enable_Web_Server`.
    WebServer,
    /// UDP 4051, TCP 4051 and 6970 with `Upgrade_Enable` and `Peer_Firmware_Sharing`.
    PeerFirmwareSharing,
    /// UDP 53240-53245 unless `NO_CISCO_TFTP`.
    TftpClient,
    /// UDP 7999 with TR-069.
    Tr069Stun,
    /// The TCP connection-request port with TR-069.
    Tr069ConnectionRequest,
    /// A `UDP:`/`TCP:` entry of `Firewall_Config`.
    FirewallConfig,
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Dhcp => f.write_str("DHCP"),
            Self::Dhcpv6 => f.write_str("DHCPv6"),
            Self::SipLine(n) => write!(f, "SIP line {n}"),
            Self::Rtp => f.write_str("RTP"),
            Self::WebServer => f.write_str("web server"),
            Self::PeerFirmwareSharing => f.write_str("peer firmware sharing"),
            Self::TftpClient => f.write_str("TFTP client"),
            Self::Tr069Stun => f.write_str("TR-069 STUN"),
            Self::Tr069ConnectionRequest => f.write_str("TR-069 connection request"),
            Self::FirewallConfig => f.write_str("Firewall_Config"),
        }
    }
}

/// An open port or range (inclusive), with every reason it is open for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenPort {
    /// The protocol.
    pub proto: Proto,
    /// The first port.
    pub first: u16,
    /// The last port (`first` for a single port).
    pub last: u16,
    /// Why it is open, in the order the reasons were found (never empty).
    pub reasons: Vec<Reason>,
}

impl OpenPort {
    /// `5060` or `16384-16483`.
    pub fn ports(&self) -> String {
        if self.first == self.last {
            self.first.to_string()
        } else {
            format!("{}-{}", self.first, self.last)
        }
    }

    /// The reasons joined with `, `.
    pub fn reason(&self) -> String {
        let v: Vec<String> = self.reasons.iter().map(ToString::to_string).collect();
        v.join(", ")
    }

    /// Whether `port` is in this range.
    pub fn contains(&self, port: u16) -> bool {
        (self.first..=self.last).contains(&port)
    }
}

impl fmt::Display for OpenPort {
    /// `PROTO FIRST[-LAST] REASON`, as `mppd firewall ports` prints it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} {}", self.proto, self.ports(), self.reason())
    }
}

impl Serialize for OpenPort {
    /// `{"proto","first","last","reason"}`.
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut st = s.serialize_struct("OpenPort", 4)?;
        st.serialize_field("proto", self.proto.as_str())?;
        st.serialize_field("first", &self.first)?;
        st.serialize_field("last", &self.last)?;
        st.serialize_field("reason", &self.reason())?;
        st.end()
    }
}

/// What the compiler needs besides the profile.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Inputs {
    /// How many lines the device has: lines 1..=`lines` are considered.
    pub lines: u8,
    /// The TR-069 connection-request port (8000-9999, chosen once and kept by the shell);
    /// needed only when [`tr069_enabled`].
    pub tr069_port: Option<u16>,
}

/// Why a profile does not compile to a firewall. The previous firewall stays in force.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CompileError {
    /// A parameter the firewall reads has an invalid value (`Firewall_Config` included: its
    /// error names the bad item).
    InvalidValue {
        /// The parameter (`Firewall_Config`, `SIP_Port_2_`).
        name: String,
        /// Its value.
        value: String,
        /// What is wrong.
        error: ValueError,
    },
    /// `RTP_Port_Max` is below `RTP_Port_Min`: the RTP range would be empty.
    RtpRange {
        /// `RTP_Port_Min`.
        min: u16,
        /// `RTP_Port_Max`.
        max: u16,
    },
    /// TR-069 is enabled but no connection-request port was given (a bug of the caller).
    Tr069PortMissing,
    /// The TR-069 connection-request port given is outside 8000-9999.
    Tr069PortOutOfRange(u16),
}

impl fmt::Display for CompileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::InvalidValue { name, value, error } => {
                write!(f, "{name}: invalid value {value:?}: {error}")
            }
            Self::RtpRange { min, max } => write!(
                f,
                "RTP_Port_Max ({max}) is below RTP_Port_Min ({min}): the RTP range would be empty"
            ),
            Self::Tr069PortMissing => {
                f.write_str("TR-069 is enabled but no connection-request port was given")
            }
            Self::Tr069PortOutOfRange(p) => write!(
                f,
                "TR-069 connection-request port {p} is outside {TR069_PORT_MIN}-{TR069_PORT_MAX}"
            ),
        }
    }
}

impl std::error::Error for CompileError {}

/// The firewall a profile asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    /// `Firewall` Enabled. When `false`, nothing is filtered and [`Policy::open`] is empty.
    pub enabled: bool,
    /// The open ports, sorted by protocol, first and last port; no two equal ranges.
    pub open: Vec<OpenPort>,
    /// `Firewall_Config` (its `UDP:`/`TCP:` entries are in [`Policy::open`] too).
    pub options: FirewallOptions,
    /// The RTP range as opened: `RTP_Port_Min`, `RTP_Port_Max`+1.
    pub rtp: (u16, u16),
    /// The TR-069 connection-request port, when TR-069 is on.
    pub tr069_port: Option<u16>,
}

/// Whether the profile turns TR-069 on: `Enable_TR-069` Yes and `FIPS_Mode` not Enabled (FIPS
/// mode disables TR-069, SPEC §19). The shell needs the connection-request port only then.
pub fn tr069_enabled(profile: &Profile) -> bool {
    profile.bool("Enable_TR-069")
        && profile
            .effective("FIPS_Mode")
            .is_none_or(|v| v != "Enabled")
}

/// Reads checked effective values.
struct Reader<'a> {
    profile: &'a Profile,
}

impl Reader<'_> {
    /// The effective value, checked against the registry.
    fn value(&self, name: &str) -> Result<String, CompileError> {
        let invalid = |value: &str, error| CompileError::InvalidValue {
            name: name.to_owned(),
            value: value.to_owned(),
            error,
        };
        // Names are the compiler's own, all in the registry; an unknown one reads as empty.
        let Some(r) = registry::lookup(name) else {
            return Ok(String::new());
        };
        if let Some(e) = self.profile.entry_for(r.def, r.line) {
            validate::check_value(r.def, &e.value).map_err(|err| invalid(&e.value, err))?;
        }
        Ok(self.profile.effective_def(r.def, r.line).into_owned())
    }

    fn yes(&self, name: &str) -> Result<bool, CompileError> {
        Ok(self.value(name)? == "Yes")
    }

    fn port(&self, name: &str) -> Result<u16, CompileError> {
        let v = self.value(name)?;
        validate::parse_int(&v)
            .and_then(|n| u16::try_from(n).ok())
            .filter(|&n| n > 0)
            .ok_or(CompileError::InvalidValue {
                name: name.to_owned(),
                value: v,
                error: ValueError::OutOfRange { min: 1, max: 65535 },
            })
    }
}

impl Policy {
    /// Compiles the firewall of a profile (effective values: what the profile sets, else the
    /// defaults).
    pub fn from_profile(profile: &Profile, inputs: &Inputs) -> Result<Self, CompileError> {
        let r = Reader { profile };
        let enabled = r.value("Firewall")? != "Disabled";
        let config = r.value("Firewall_Config")?;
        let options = FirewallOptions::parse(&config).map_err(|e| CompileError::InvalidValue {
            name: "Firewall_Config".to_owned(),
            value: config.clone(),
            error: ValueError::Firewall(e),
        })?;
        let rtp_min = r.port("RTP_Port_Min")?;
        let rtp_max = r.port("RTP_Port_Max")?;
        if rtp_max < rtp_min {
            return Err(CompileError::RtpRange {
                min: rtp_min,
                max: rtp_max,
            });
        }
        let rtp = (rtp_min, rtp_max.saturating_add(1));
        let tr069 = r.yes("Enable_TR-069")? && r.value("FIPS_Mode")? != "Enabled";
        let tr069_port = if tr069 {
            let p = inputs.tr069_port.ok_or(CompileError::Tr069PortMissing)?;
            if !(TR069_PORT_MIN..=TR069_PORT_MAX).contains(&p) {
                return Err(CompileError::Tr069PortOutOfRange(p));
            }
            Some(p)
        } else {
            None
        };

        let mut open: Vec<(Proto, u16, u16, Reason)> = Vec::new();
        let mut one = |proto, first, last, reason| open.push((proto, first, last, reason));
        one(Proto::Udp, 68, 68, Reason::Dhcp);
        one(Proto::Udp, 546, 546, Reason::Dhcpv6);
        for n in 1..=inputs.lines.min(registry::MAX_LINES) {
            if !r.yes(&format!("Line_Enable_{n}_"))? {
                continue;
            }
            let transport = r.value(&format!("SIP_Transport_{n}_"))?;
            if transport == "UDP" || transport == "Auto" {
                let port = r.port(&format!("SIP_Port_{n}_"))?;
                one(Proto::Udp, port, port, Reason::SipLine(n));
            }
        }
        one(Proto::Udp, rtp.0, rtp.1, Reason::Rtp);
        if r.yes("Enable_Web_Server")? {
            let port = r.port("Web_Server_Port")?;
            one(Proto::Tcp, port, port, Reason::WebServer);
        }
        if r.yes("Upgrade_Enable")? && r.yes("Peer_Firmware_Sharing")? {
            one(Proto::Udp, 4051, 4051, Reason::PeerFirmwareSharing);
            one(Proto::Tcp, 4051, 4051, Reason::PeerFirmwareSharing);
            one(Proto::Tcp, 6970, 6970, Reason::PeerFirmwareSharing);
        }
        if !options.no_cisco_tftp {
            one(Proto::Udp, 53240, 53245, Reason::TftpClient);
        }
        if let Some(port) = tr069_port {
            one(Proto::Udp, 7999, 7999, Reason::Tr069Stun);
            one(Proto::Tcp, port, port, Reason::Tr069ConnectionRequest);
        }
        for &(x, y) in &options.udp {
            one(Proto::Udp, x, y, Reason::FirewallConfig);
        }
        for &(x, y) in &options.tcp {
            one(Proto::Tcp, x, y, Reason::FirewallConfig);
        }

        // Sort (stable: reasons keep the order above) and merge equal ranges.
        open.sort_by_key(|&(proto, first, last, _)| (proto, first, last));
        let mut merged: Vec<OpenPort> = Vec::with_capacity(open.len());
        for (proto, first, last, reason) in open {
            match merged.last_mut() {
                Some(p) if p.proto == proto && p.first == first && p.last == last => {
                    if !p.reasons.contains(&reason) {
                        p.reasons.push(reason);
                    }
                }
                _ => merged.push(OpenPort {
                    proto,
                    first,
                    last,
                    reasons: vec![reason],
                }),
            }
        }
        if !enabled {
            merged.clear();
        }
        Ok(Self {
            enabled,
            open: merged,
            options,
            rtp,
            tr069_port: if enabled { tr069_port } else { None },
        })
    }

    /// Whether a port of `proto` is open.
    pub fn is_open(&self, proto: Proto, port: u16) -> bool {
        self.open
            .iter()
            .any(|p| p.proto == proto && p.contains(port))
    }
}
