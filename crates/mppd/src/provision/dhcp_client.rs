//! DHCPv4 discovery of the provisioning options (SPEC §2; mpp-provisioning §3.4), on the one
//! interface the user names (`mppd provision --dhcp-iface IFACE`), never on any other.
//!
//! mppd only *discovers* provisioning options: it broadcasts a DHCPDISCOVER and reads the first
//! DHCPOFFER that answers it. It sends no DHCPREQUEST and takes no lease: configuring the
//! interface's address is the operating system's job (its own DHCP client or static
//! configuration), and the interface needs an address for the fetch that follows.
//!
//! The DISCOVER (built with `dhcproto`) carries the interface's MAC address
//! (`/sys/class/net/IFACE/address`) as `chaddr`, the broadcast flag (the client may have no
//! address the server could unicast to), option 60 vendor class `$PN` (e.g. `CP-8851-3PCC`) and
//! a parameter request list of 1, 3, 6, 15, 66, 150, 159, 160, 43, 125, 252. It goes out from a
//! UDP socket bound to `0.0.0.0:68` with `SO_BROADCAST` and `SO_BINDTODEVICE` to
//! `255.255.255.255:67`, and is sent again (same transaction id) when no OFFER came within the
//! timeout, for a few attempts.
//!
//! The OFFER's options are read from its raw bytes rather than from `dhcproto`'s decoded
//! message: `dhcproto` 0.15 decodes option 150 as exactly one IPv4 address and, when a server sends
//! the list RFC 5859 allows (`IP1;IP2` is the documented use), silently stops decoding options
//! there, losing every option after it (159, 160); options 159/160 are unknown to it anyway. Options that appear more than once are concatenated
//! (RFC 3396); option 52 (overload into `sname`/`file`) is not followed. What is returned, as
//! text for [`mppd_core::provision::dhcp::candidates`]: 66, 159 and 160 as text (159 as dotted
//! IPv4 addresses when its data is not text but a multiple of 4 bytes), 150 as IPv4 addresses
//! separated by `;`; also 15 (the domain name) and 252 (the WPAD URL) as text, for the HTTP
//! proxy's WPAD discovery (SPEC §18). Other options are left out.

use std::collections::BTreeMap;
use std::fmt;
use std::io::ErrorKind;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, UdpSocket};
use std::time::{Duration, Instant};

use dhcproto::v4::{DhcpOption, Flags, Message, MessageType, OptionCode};
use dhcproto::{Encodable, Encoder};
use socket2::{Domain, Protocol, Socket, Type};

/// The options the DISCOVER asks for.
pub const PARAMETER_REQUEST_LIST: [u8; 11] = [1, 3, 6, 15, 66, 150, 159, 160, 43, 125, 252];

/// How long to wait for an OFFER after each DISCOVER.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(2);

/// How many DISCOVERs to send before giving up.
pub const DEFAULT_ATTEMPTS: u32 = 3;

/// The DHCP magic cookie (RFC 2131 §3).
const MAGIC: [u8; 4] = [99, 130, 83, 99];

/// Where the options start in a DHCP message (BOOTP header, then the cookie).
const OPTIONS_AT: usize = 240;

/// Why discovery failed.
#[derive(Debug)]
#[non_exhaustive]
pub enum DhcpClientError {
    /// The interface's MAC address cannot be read.
    Mac {
        /// The interface.
        iface: String,
        /// Why.
        reason: String,
    },
    /// A socket operation failed.
    Socket {
        /// What was being done.
        what: &'static str,
        /// The error.
        error: std::io::Error,
    },
    /// The DISCOVER could not be encoded.
    Encode(String),
    /// No OFFER answered.
    NoOffer {
        /// The interface.
        iface: String,
        /// DISCOVERs sent.
        attempts: u32,
    },
}

impl fmt::Display for DhcpClientError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Mac { iface, reason } => write!(f, "DHCP on {iface}: MAC address: {reason}"),
            Self::Socket { what, error } => write!(f, "DHCP: {what}: {error}"),
            Self::Encode(e) => write!(f, "DHCP: encoding the DISCOVER: {e}"),
            Self::NoOffer { iface, attempts } => write!(
                f,
                "DHCP on {iface}: no DHCPOFFER after {attempts} DISCOVER(s)"
            ),
        }
    }
}

impl std::error::Error for DhcpClientError {}

/// What an OFFER gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Offer {
    /// The server that offered (option 54, else the packet's source).
    pub server: Ipv4Addr,
    /// The provisioning options, as text (see the module documentation).
    pub options: BTreeMap<u16, String>,
}

/// Reads `/sys/class/net/IFACE/address`.
pub fn interface_mac(iface: &str) -> Result<[u8; 6], DhcpClientError> {
    let fail = |reason: String| DhcpClientError::Mac {
        iface: iface.to_owned(),
        reason,
    };
    if iface.is_empty() || iface.contains('/') || iface.starts_with('.') {
        return Err(fail("not an interface name".to_owned()));
    }
    let path = format!("/sys/class/net/{iface}/address");
    let text = std::fs::read_to_string(&path).map_err(|e| fail(format!("{path}: {e}")))?;
    parse_mac(text.trim()).ok_or_else(|| fail(format!("{path}: {:?} is not a MAC", text.trim())))
}

fn parse_mac(text: &str) -> Option<[u8; 6]> {
    let mut mac = [0u8; 6];
    let mut parts = text.split(':');
    for b in &mut mac {
        *b = u8::from_str_radix(parts.next()?, 16).ok()?;
    }
    parts.next().is_none().then_some(mac)
}

/// The DISCOVER: `chaddr` `mac`, transaction `xid`, broadcast flag, option 60 `vendor_class`
/// and the parameter request list.
pub fn discover_message(
    mac: &[u8; 6],
    xid: u32,
    vendor_class: &str,
) -> Result<Vec<u8>, DhcpClientError> {
    let unspecified = Ipv4Addr::UNSPECIFIED;
    let mut msg =
        Message::new_with_id(xid, unspecified, unspecified, unspecified, unspecified, mac);
    msg.set_flags(Flags::default().set_broadcast());
    let opts = msg.opts_mut();
    opts.insert(DhcpOption::MessageType(MessageType::Discover));
    opts.insert(DhcpOption::ClassIdentifier(
        vendor_class.as_bytes().to_vec(),
    ));
    opts.insert(DhcpOption::ParameterRequestList(
        PARAMETER_REQUEST_LIST
            .iter()
            .map(|&c| OptionCode::from(c))
            .collect(),
    ));
    let mut buf = Vec::with_capacity(300);
    msg.encode(&mut Encoder::new(&mut buf))
        .map_err(|e| DhcpClientError::Encode(e.to_string()))?;
    Ok(buf)
}

/// The OFFER in `bytes` answering transaction `xid` from `mac`, or `None` when `bytes` is not
/// one (another message type, transaction or client, or malformed). `source` is the sender.
pub fn parse_offer(bytes: &[u8], xid: u32, mac: &[u8; 6], source: Ipv4Addr) -> Option<Offer> {
    if bytes.len() < OPTIONS_AT || bytes[0] != 2 || bytes[236..240] != MAGIC {
        return None;
    }
    if bytes[4..8] != xid.to_be_bytes() || bytes[28..34] != mac[..] {
        return None;
    }
    let raw = raw_options(&bytes[OPTIONS_AT..])?;
    if raw.get(&53).map(Vec::as_slice) != Some(&[2][..]) {
        return None;
    }
    let server = raw
        .get(&54)
        .and_then(|d| <[u8; 4]>::try_from(d.as_slice()).ok())
        .map_or(source, Ipv4Addr::from);
    let mut options = BTreeMap::new();
    for (code, data) in &raw {
        let value = match code {
            15 | 66 | 160 | 252 => Some(text(data)),
            159 if !is_text(data) => ipv4_list(data),
            159 => Some(text(data)),
            150 => ipv4_list(data),
            _ => None,
        };
        if let Some(v) = value.filter(|v| !v.is_empty()) {
            options.insert(u16::from(*code), v);
        }
    }
    Some(Offer { server, options })
}

/// The options area as code to data, repeated options concatenated. `None` when truncated.
fn raw_options(mut area: &[u8]) -> Option<BTreeMap<u8, Vec<u8>>> {
    let mut out: BTreeMap<u8, Vec<u8>> = BTreeMap::new();
    while let Some((&code, rest)) = area.split_first() {
        match code {
            0 => area = rest,
            255 => break,
            _ => {
                let (&len, rest) = rest.split_first()?;
                let (data, rest) = rest.split_at_checked(usize::from(len))?;
                out.entry(code).or_default().extend_from_slice(data);
                area = rest;
            }
        }
    }
    Some(out)
}

fn is_text(data: &[u8]) -> bool {
    let data = trim_nul(data);
    !data.is_empty() && data.iter().all(|b| b.is_ascii_graphic() || *b == b' ')
}

fn trim_nul(data: &[u8]) -> &[u8] {
    let end = data.iter().rposition(|&b| b != 0).map_or(0, |i| i + 1);
    &data[..end]
}

fn text(data: &[u8]) -> String {
    String::from_utf8_lossy(trim_nul(data)).trim().to_owned()
}

fn ipv4_list(data: &[u8]) -> Option<String> {
    if data.is_empty() || !data.len().is_multiple_of(4) {
        return None;
    }
    Some(
        data.chunks_exact(4)
            .map(|c| Ipv4Addr::new(c[0], c[1], c[2], c[3]).to_string())
            .collect::<Vec<_>>()
            .join(";"),
    )
}

/// Broadcasts a DISCOVER on `iface` (only there: `SO_BINDTODEVICE`) with vendor class
/// `vendor_class`, and returns the first OFFER answering it. Each of `attempts` DISCOVERs waits
/// `timeout` for the answer. Needs `CAP_NET_RAW` (device binding) and `CAP_NET_BIND_SERVICE`
/// (port 68): run as root.
pub fn discover(
    iface: &str,
    vendor_class: &str,
    timeout: Duration,
    attempts: u32,
) -> Result<Offer, DhcpClientError> {
    let mac = interface_mac(iface)?;
    let sock = |what: &'static str| move |error| DhcpClientError::Socket { what, error };
    let socket = Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::UDP))
        .map_err(sock("creating the UDP socket"))?;
    socket
        .set_reuse_address(true)
        .map_err(sock("SO_REUSEADDR"))?;
    socket.set_broadcast(true).map_err(sock("SO_BROADCAST"))?;
    socket
        .bind_device(Some(iface.as_bytes()))
        .map_err(sock("SO_BINDTODEVICE (needs root)"))?;
    socket
        .bind(&SocketAddr::from((Ipv4Addr::UNSPECIFIED, 68)).into())
        .map_err(sock("binding 0.0.0.0:68 (needs root)"))?;
    let socket: UdpSocket = socket.into();
    let xid = transaction_id(&mac);
    let discover = discover_message(&mac, xid, vendor_class)?;
    let to = SocketAddrV4::new(Ipv4Addr::BROADCAST, 67);
    let mut buf = [0u8; 1500];
    for _ in 0..attempts {
        socket
            .send_to(&discover, to)
            .map_err(sock("sending the DISCOVER"))?;
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            socket
                .set_read_timeout(Some(left))
                .map_err(sock("setting the timeout"))?;
            match socket.recv_from(&mut buf) {
                Ok((n, from)) => {
                    let source = match from {
                        SocketAddr::V4(a) => *a.ip(),
                        SocketAddr::V6(_) => Ipv4Addr::UNSPECIFIED,
                    };
                    if let Some(offer) = parse_offer(&buf[..n], xid, &mac, source) {
                        return Ok(offer);
                    }
                }
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                    break;
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => {
                    return Err(DhcpClientError::Socket {
                        what: "receiving",
                        error: e,
                    });
                }
            }
        }
    }
    Err(DhcpClientError::NoOffer {
        iface: iface.to_owned(),
        attempts,
    })
}

/// A transaction id that differs between runs and clients (no cryptographic need).
fn transaction_id(mac: &[u8; 6]) -> u32 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let mac_bits = u32::from_be_bytes([mac[2], mac[3], mac[4], mac[5]]);
    nanos ^ mac_bits ^ std::process::id().rotate_left(16)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use dhcproto::Decodable;
    use dhcproto::v4::{Opcode, UnknownOption};

    use super::*;

    const MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 1];

    fn offer(xid: u32, extra: Vec<DhcpOption>) -> Vec<u8> {
        let z = Ipv4Addr::UNSPECIFIED;
        let mut m = Message::new_with_id(xid, z, Ipv4Addr::new(10, 77, 0, 100), z, z, &MAC);
        m.set_opcode(Opcode::BootReply);
        m.opts_mut()
            .insert(DhcpOption::MessageType(MessageType::Offer));
        m.opts_mut()
            .insert(DhcpOption::ServerIdentifier(Ipv4Addr::new(10, 77, 0, 1)));
        for o in extra {
            m.opts_mut().insert(o);
        }
        let mut buf = Vec::new();
        m.encode(&mut Encoder::new(&mut buf)).unwrap();
        buf
    }

    fn unknown(code: u8, data: &[u8]) -> DhcpOption {
        DhcpOption::Unknown(UnknownOption::new(OptionCode::from(code), data.to_vec()))
    }

    #[test]
    fn discover_carries_vendor_class_and_request_list() {
        let bytes = discover_message(&MAC, 0x1234_5678, "CP-8851-3PCC").unwrap();
        let m = Message::decode(&mut dhcproto::Decoder::new(&bytes)).unwrap();
        assert_eq!(m.xid(), 0x1234_5678);
        assert_eq!(&m.chaddr()[..6], &MAC);
        assert!(m.flags().broadcast());
        assert_eq!(m.opts().msg_type(), Some(MessageType::Discover));
        assert_eq!(
            m.opts().get(OptionCode::ClassIdentifier),
            Some(&DhcpOption::ClassIdentifier(b"CP-8851-3PCC".to_vec()))
        );
        let Some(DhcpOption::ParameterRequestList(prl)) =
            m.opts().get(OptionCode::ParameterRequestList)
        else {
            panic!("no parameter request list");
        };
        let codes: Vec<u8> = prl.iter().map(|&c| u8::from(c)).collect();
        assert_eq!(codes, PARAMETER_REQUEST_LIST);
    }

    #[test]
    fn offer_options_as_text() {
        let bytes = offer(
            7,
            vec![
                DhcpOption::TFTPServerName(b"10.77.0.1\0".to_vec()),
                unknown(150, &[10, 77, 0, 1, 10, 77, 0, 2]),
                unknown(159, &[10, 77, 0, 3]),
                unknown(160, b"http://10.77.0.1:8080/prov"),
                DhcpOption::DomainNameServer(vec![Ipv4Addr::new(10, 77, 0, 1)]),
            ],
        );
        // dhcproto stops decoding options at option 150 with two addresses, losing 159 and
        // 160 after it: why the options are read raw.
        let decoded = Message::decode(&mut dhcproto::Decoder::new(&bytes)).unwrap();
        assert!(decoded.opts().get(OptionCode::from(160)).is_none());
        let o = parse_offer(&bytes, 7, &MAC, Ipv4Addr::UNSPECIFIED).unwrap();
        assert_eq!(o.server, Ipv4Addr::new(10, 77, 0, 1));
        let want: BTreeMap<u16, String> = [
            (66, "10.77.0.1"),
            (150, "10.77.0.1;10.77.0.2"),
            (159, "10.77.0.3"),
            (160, "http://10.77.0.1:8080/prov"),
        ]
        .into_iter()
        .map(|(k, v)| (k, v.to_owned()))
        .collect();
        assert_eq!(o.options, want);
        // 159 as text.
        let bytes = offer(7, vec![unknown(159, b"prov.example")]);
        let o = parse_offer(&bytes, 7, &MAC, Ipv4Addr::UNSPECIFIED).unwrap();
        assert_eq!(o.options[&159], "prov.example");
    }

    #[test]
    fn not_our_offer() {
        let bytes = offer(7, vec![]);
        assert!(parse_offer(&bytes, 8, &MAC, Ipv4Addr::UNSPECIFIED).is_none());
        assert!(parse_offer(&bytes, 7, &[2, 0, 0, 0, 0, 2], Ipv4Addr::UNSPECIFIED).is_none());
        assert!(parse_offer(&bytes[..200], 7, &MAC, Ipv4Addr::UNSPECIFIED).is_none());
        let discover = discover_message(&MAC, 7, "x").unwrap();
        assert!(parse_offer(&discover, 7, &MAC, Ipv4Addr::UNSPECIFIED).is_none());
        // Truncated option: not an offer.
        let mut cut = offer(7, vec![unknown(160, b"http://h/p")]);
        let end = cut.iter().rposition(|&b| b == 255).unwrap();
        cut.truncate(end - 2);
        assert!(parse_offer(&cut, 7, &MAC, Ipv4Addr::UNSPECIFIED).is_none());
    }

    #[test]
    fn repeated_options_concatenate_and_mac_parses() {
        let mut area = vec![160, 3, b'a', b'b', b'c', 0, 160, 2, b'd', b'e', 255, 1, 2];
        let raw = raw_options(&area).unwrap();
        assert_eq!(raw[&160], b"abcde");
        area.truncate(4);
        assert!(raw_options(&area).is_none());
        assert_eq!(parse_mac("02:00:00:0a:Bc:01"), Some([2, 0, 0, 10, 0xbc, 1]));
        assert_eq!(parse_mac("02:00:00:0a:bc"), None);
        assert_eq!(parse_mac("02:00:00:0a:bc:01:02"), None);
        assert!(interface_mac("../x").is_err());
    }
}
