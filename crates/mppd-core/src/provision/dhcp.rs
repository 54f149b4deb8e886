//! DHCP options to candidate provisioning URLs (SPEC §2; mpp-provisioning §3.4).
//!
//! The shell runs the DHCP (and DHCPv6) exchange and hands over what it received, as text, keyed
//! by option code; [`candidates`] turns that into the ordered list of URLs to try:
//!
//! - Only while `Profile_Rule` starts with `/` (the factory default `/$PSN.xml`): a rule naming
//!   its own server wins over DHCP, and then there are no DHCP candidates at all.
//! - Options are taken in the order of `DHCP_Option_To_Use` (default
//!   [`DEFAULT_OPTION_ORDER`]) or `DHCPv6_Option_To_Use` (default [`DEFAULT_V6_OPTION_ORDER`]).
//! - Options 66 (TFTP server name), 150 (TFTP servers), 159 (provisioning server) and 160
//!   (provisioning URL) carry a server, and so does DHCPv6 17 once decoded
//!   ([`option17_value`]) and DHCPv6 160/159. Options 60, 43 and 125 carry no provisioning
//!   server for mppd: 60 is the vendor class the *phone* sends (`$PN`), 43 and 125 carry
//!   vendor-specific data that Cisco uses for TR-069 ACS discovery, which mppd does not do. They
//!   stay in the default order because the parameter's default names them, and are skipped.
//! - A value is one item or several separated by `;` ("multiformat", `IP1;IP2`), tried in order.
//!   An item is `scheme://host[:port][/path]` (scheme tftp, http or https) or a bare host or IP
//!   (optionally `:port`).
//! - A URL item gives: the URL as given, then with `/$PSN.xml` appended to its path, then with
//!   `/Cisco/$PN/$MA.cfg` appended. A bare item gives, for tftp, then http, then https: the
//!   `/$PSN.xml` URL, then the `/Cisco/$PN/$MA.cfg` one (six URLs per host).
//! - A tail whose identity value is unknown (no `$PSN`, `$PN` or MAC) is left out; duplicates
//!   are dropped, keeping the first; items that are not valid are reported in
//!   [`Candidates::skipped`] and skipped.
//!
//! DHCP values are literal: macros are not expanded in them (the value comes from the network).
//!
//! **DHCPv6 option 17.** RFC 8415 §21.17 defines the container (enterprise number, then
//! code/length/data sub-options); [`VendorOptions::parse`] decodes it. Which sub-option carries
//! the provisioning server for Cisco MPP phones is not documented in the sources mppd follows
//! (searched: Cisco MPP admin guides as summarised in mpp-provisioning.md, and the public web
//! corpus for "Cisco MPP DHCPv6 option 17 sub-option provisioning URL"; nothing found). The
//! decision, in [`option17_value`]: enterprise 9 (Cisco) sub-option 1, the sub-option Cisco IOS
//! DHCPv6 pools use for phones' TFTP servers (`vendor-specific 9` / `suboption 1 address ...`).
//! Its data is read as a list of 16-byte IPv6 addresses when its length is a multiple of 16
//! (each becomes a bare-host item), otherwise as text (a URL or host, like option 160). Other
//! enterprises and sub-options are ignored.

use std::collections::BTreeMap;
use std::fmt;
use std::net::{IpAddr, Ipv6Addr};

use mppd_config::identity::DeviceIdentity;

use super::rule::{Scheme, Url};

/// The default of `DHCP_Option_To_Use`.
pub const DEFAULT_OPTION_ORDER: &str = "66,160,159,150,60,43,125";

/// The default of `DHCPv6_Option_To_Use`.
pub const DEFAULT_V6_OPTION_ORDER: &str = "17,160,159";

/// The IANA enterprise number of Cisco, whose option-17 data [`option17_value`] reads.
pub const CISCO_ENTERPRISE: u32 = 9;

/// The DHCPv4 options that carry a provisioning server.
const V4_SERVER_OPTIONS: &[u16] = &[66, 150, 159, 160];

/// A DHCP value or parameter that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DhcpError {
    /// An item of `DHCP_Option_To_Use` / `DHCPv6_Option_To_Use` that is not an option code.
    BadOptionCode {
        /// The item, trimmed.
        item: String,
    },
    /// A URL item with a scheme other than tftp, http, https.
    UnsupportedScheme {
        /// The item.
        item: String,
    },
    /// An item whose server or port is not valid.
    BadServer {
        /// The item.
        item: String,
    },
}

impl fmt::Display for DhcpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::BadOptionCode { item } => write!(f, "{item:?} is not a DHCP option code"),
            Self::UnsupportedScheme { item } => write!(
                f,
                "{item:?}: scheme not supported for provisioning (tftp, http, https)"
            ),
            Self::BadServer { item } => write!(f, "{item:?}: not a valid server or URL"),
        }
    }
}

impl std::error::Error for DhcpError {}

/// Parses `DHCP_Option_To_Use` or `DHCPv6_Option_To_Use`: comma-separated codes, items
/// trimmed. The empty value means the default (`default`, e.g. [`DEFAULT_OPTION_ORDER`]).
pub fn parse_option_order(value: &str, default: &str) -> Result<Vec<u16>, DhcpError> {
    let value = if value.trim().is_empty() {
        default
    } else {
        value
    };
    value
        .split(',')
        .map(str::trim)
        .map(|item| {
            item.parse::<u16>().map_err(|_| DhcpError::BadOptionCode {
                item: item.to_owned(),
            })
        })
        .collect()
}

/// Whether DHCP discovery applies: `Profile_Rule` starts with `/` (leading white space
/// ignored).
pub fn applies(profile_rule: &str) -> bool {
    profile_rule.trim_start().starts_with('/')
}

/// One candidate URL and the option it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    /// The DHCP option code.
    pub option: u16,
    /// The URL to try.
    pub url: Url,
}

/// An item of an option value that was skipped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    /// The DHCP option code.
    pub option: u16,
    /// Why.
    pub error: DhcpError,
}

/// The result of [`candidates`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Candidates {
    /// The URLs to try, in order.
    pub urls: Vec<Candidate>,
    /// Items that could not be used.
    pub skipped: Vec<Skipped>,
}

/// The candidate URLs of the options `received` (code to value, as text), in the order
/// `order`, while `profile_rule` starts with `/` (see the module documentation). Options with
/// no provisioning server (60, 43, 125, or any code not known to carry one) are skipped.
/// `received` holds DHCPv4 or DHCPv6 options, not both: DHCPv6 17 is read only as the text
/// [`option17_value`] gives.
pub fn candidates(
    received: &BTreeMap<u16, String>,
    order: &[u16],
    identity: &DeviceIdentity,
    profile_rule: &str,
) -> Candidates {
    let mut out = Candidates::default();
    if !applies(profile_rule) {
        return out;
    }
    for &option in order {
        if !(V4_SERVER_OPTIONS.contains(&option) || option == 17) {
            continue;
        }
        let Some(value) = received.get(&option) else {
            continue;
        };
        for item in value.split(';').map(str::trim).filter(|i| !i.is_empty()) {
            match item_urls(item, identity) {
                Ok(urls) => {
                    for url in urls {
                        if !out.urls.iter().any(|c| c.url == url) {
                            out.urls.push(Candidate { option, url });
                        }
                    }
                }
                Err(error) => out.skipped.push(Skipped { option, error }),
            }
        }
    }
    out
}

/// The URLs of one item of an option value, in order.
pub fn item_urls(item: &str, identity: &DeviceIdentity) -> Result<Vec<Url>, DhcpError> {
    let tails = tails(identity);
    if let Some((scheme, rest)) = item.split_once("://") {
        let Some(scheme @ (Scheme::Tftp | Scheme::Http | Scheme::Https)) = Scheme::parse(scheme)
        else {
            return Err(DhcpError::UnsupportedScheme {
                item: item.to_owned(),
            });
        };
        let (auth, path) = match rest.find('/') {
            Some(i) => rest.split_at(i),
            None => (rest, ""),
        };
        let (host, port) = server(auth).ok_or_else(|| DhcpError::BadServer {
            item: item.to_owned(),
        })?;
        if path.chars().any(|c| c == ' ' || c.is_control()) {
            return Err(DhcpError::BadServer {
                item: item.to_owned(),
            });
        }
        let base = path.strip_suffix('/').unwrap_or(path);
        let url = |path: String| Url {
            scheme,
            host: Some(host.clone()),
            port,
            path,
        };
        let mut urls = vec![url(path.to_owned())];
        urls.extend(tails.iter().map(|t| url(format!("{base}{t}"))));
        Ok(urls)
    } else {
        let (host, port) = server(item).ok_or_else(|| DhcpError::BadServer {
            item: item.to_owned(),
        })?;
        Ok([Scheme::Tftp, Scheme::Http, Scheme::Https]
            .into_iter()
            .flat_map(|scheme| {
                let host = host.clone();
                tails.iter().map(move |t| Url {
                    scheme,
                    host: Some(host.clone()),
                    port,
                    path: t.clone(),
                })
            })
            .collect())
    }
}

/// `/$PSN.xml` and `/Cisco/$PN/$MA.cfg` for this identity, leaving out a tail with an unknown
/// value.
fn tails(identity: &DeviceIdentity) -> Vec<String> {
    let mut tails = Vec::with_capacity(2);
    if let Some(psn) = identity.psn() {
        tails.push(format!("/{psn}.xml"));
    }
    if let (Some(pn), Some(mac)) = (identity.product_name.as_deref(), identity.mac) {
        tails.push(format!("/Cisco/{pn}/{}.cfg", mac.lower()));
    }
    tails
}

/// `host[:port]`, `[v6][:port]` or a bare IPv6 literal: the host (IPv6 without brackets) and
/// the port.
fn server(auth: &str) -> Option<(String, Option<u16>)> {
    if auth.parse::<Ipv6Addr>().is_ok() {
        return Some((auth.to_owned(), None));
    }
    let (host, port) = if let Some(v6) = auth.strip_prefix('[') {
        let (addr, after) = v6.split_once(']')?;
        addr.parse::<Ipv6Addr>().ok()?;
        let port = match after {
            "" => None,
            p => Some(p.strip_prefix(':')?),
        };
        (addr, port)
    } else {
        match auth.split_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (auth, None),
        }
    };
    let port = match port {
        None => None,
        Some(p) => Some(p.parse::<u16>().ok().filter(|&n| n != 0)?),
    };
    let valid = host.parse::<IpAddr>().is_ok()
        || (!host.is_empty()
            && host
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_')));
    valid.then(|| (host.to_owned(), port))
}

/// The contents of DHCPv6 option 17 (vendor-specific information, RFC 8415 §21.17).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VendorOptions {
    /// The IANA enterprise number.
    pub enterprise: u32,
    /// The sub-options, in order: code and data.
    pub options: Vec<(u16, Vec<u8>)>,
}

/// Option-17 data that is not well formed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Option17Error {
    /// Fewer than the 4 bytes of the enterprise number.
    MissingEnterprise {
        /// The length received.
        len: usize,
    },
    /// A sub-option header (code and length, 4 bytes) cut short.
    TruncatedHeader {
        /// Where the header starts.
        offset: usize,
    },
    /// A sub-option whose data is shorter than its length says.
    TruncatedData {
        /// The sub-option code.
        code: u16,
        /// Where its data starts.
        offset: usize,
        /// The length it declares.
        declared: usize,
        /// The bytes that remain.
        available: usize,
    },
}

impl fmt::Display for Option17Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::MissingEnterprise { len } => write!(
                f,
                "DHCPv6 option 17: {len} bytes, too short for an enterprise number"
            ),
            Self::TruncatedHeader { offset } => write!(
                f,
                "DHCPv6 option 17: sub-option header at byte {offset} is truncated"
            ),
            Self::TruncatedData {
                code,
                offset,
                declared,
                available,
            } => write!(
                f,
                "DHCPv6 option 17: sub-option {code} at byte {offset} declares {declared} \
                 bytes, {available} remain"
            ),
        }
    }
}

impl std::error::Error for Option17Error {}

impl VendorOptions {
    /// Parses the data of option 17 (without the option's own code and length): a 4-byte
    /// enterprise number, then sub-options of 2-byte code, 2-byte length, data.
    pub fn parse(bytes: &[u8]) -> Result<Self, Option17Error> {
        let Some((ent, mut rest)) = bytes.split_first_chunk::<4>() else {
            return Err(Option17Error::MissingEnterprise { len: bytes.len() });
        };
        let enterprise = u32::from_be_bytes(*ent);
        let mut options = Vec::new();
        while !rest.is_empty() {
            let offset = bytes.len() - rest.len();
            let Some((head, after)) = rest.split_first_chunk::<4>() else {
                return Err(Option17Error::TruncatedHeader { offset });
            };
            let code = u16::from_be_bytes([head[0], head[1]]);
            let declared = usize::from(u16::from_be_bytes([head[2], head[3]]));
            let Some((data, after)) = after.split_at_checked(declared) else {
                return Err(Option17Error::TruncatedData {
                    code,
                    offset: offset + 4,
                    declared,
                    available: after.len(),
                });
            };
            options.push((code, data.to_vec()));
            rest = after;
        }
        Ok(Self {
            enterprise,
            options,
        })
    }

    /// Builds the option's data back (for tests and fixtures). Sub-options longer than
    /// 65535 bytes are cut to that length.
    pub fn emit(&self) -> Vec<u8> {
        let mut out = self.enterprise.to_be_bytes().to_vec();
        for (code, data) in &self.options {
            let len = u16::try_from(data.len()).unwrap_or(u16::MAX);
            out.extend_from_slice(&code.to_be_bytes());
            out.extend_from_slice(&len.to_be_bytes());
            out.extend_from_slice(data.get(..usize::from(len)).unwrap_or(data));
        }
        out
    }
}

/// The provisioning value carried by option 17, as text for [`candidates`] (key 17): Cisco's
/// (enterprise 9) sub-option 1, as `;`-separated IPv6 addresses when its length is a non-zero
/// multiple of 16, else as UTF-8 text. `None` for another enterprise, no sub-option 1, or
/// data that is neither. See the module documentation for why sub-option 1.
pub fn option17_value(v: &VendorOptions) -> Option<String> {
    if v.enterprise != CISCO_ENTERPRISE {
        return None;
    }
    let data = v.options.iter().find(|(code, _)| *code == 1)?.1.as_slice();
    if !data.is_empty() && data.len() % 16 == 0 {
        let addrs: Vec<String> = data
            .chunks_exact(16)
            .filter_map(|c| <[u8; 16]>::try_from(c).ok())
            .map(|a| Ipv6Addr::from(a).to_string())
            .collect();
        return Some(addrs.join(";"));
    }
    let text = std::str::from_utf8(data).ok()?.trim();
    (!text.is_empty() && !text.chars().any(char::is_control)).then(|| text.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use mppd_config::identity::Mac;

    fn identity() -> DeviceIdentity {
        DeviceIdentity {
            mac: Some(Mac::new([0x00, 0x12, 0x34, 0xab, 0x45, 0xde])),
            product_name: Some("CP-8851-3PCC".into()),
            ..DeviceIdentity::default()
        }
    }

    fn urls(c: &Candidates) -> Vec<String> {
        c.urls.iter().map(|c| c.url.to_string()).collect()
    }

    fn received(pairs: &[(u16, &str)]) -> BTreeMap<u16, String> {
        pairs.iter().map(|&(k, v)| (k, v.to_owned())).collect()
    }

    fn default_order() -> Vec<u16> {
        parse_option_order("", DEFAULT_OPTION_ORDER).unwrap()
    }

    #[test]
    fn option_order() {
        assert_eq!(default_order(), [66, 160, 159, 150, 60, 43, 125]);
        assert_eq!(
            parse_option_order(" 160 , 66", DEFAULT_OPTION_ORDER).unwrap(),
            [160, 66]
        );
        assert_eq!(
            parse_option_order("", DEFAULT_V6_OPTION_ORDER).unwrap(),
            [17, 160, 159]
        );
        assert_eq!(
            parse_option_order("66,x", DEFAULT_OPTION_ORDER),
            Err(DhcpError::BadOptionCode { item: "x".into() })
        );
        assert!(parse_option_order("66,,160", DEFAULT_OPTION_ORDER).is_err());
    }

    #[test]
    fn url_value_doc_example() {
        let c = candidates(
            &received(&[(160, "https://10.23.45.67/path")]),
            &default_order(),
            &identity(),
            "/$PSN.xml",
        );
        assert_eq!(
            urls(&c),
            [
                "https://10.23.45.67/path",
                "https://10.23.45.67/path/8851-3PCC.xml",
                "https://10.23.45.67/path/Cisco/CP-8851-3PCC/001234ab45de.cfg",
            ]
        );
        assert!(c.urls.iter().all(|c| c.option == 160));
        assert!(c.skipped.is_empty());
    }

    #[test]
    fn bare_ip_doc_example() {
        let c = candidates(
            &received(&[(66, "10.23.45.67")]),
            &default_order(),
            &identity(),
            "/$PSN.xml",
        );
        let six = [
            "tftp://10.23.45.67/8851-3PCC.xml",
            "tftp://10.23.45.67/Cisco/CP-8851-3PCC/001234ab45de.cfg",
            "http://10.23.45.67/8851-3PCC.xml",
            "http://10.23.45.67/Cisco/CP-8851-3PCC/001234ab45de.cfg",
            "https://10.23.45.67/8851-3PCC.xml",
            "https://10.23.45.67/Cisco/CP-8851-3PCC/001234ab45de.cfg",
        ];
        assert_eq!(urls(&c), six);
        // Multiformat IP1;IP2 (option 150): twelve URLs, IP1's first.
        let c = candidates(
            &received(&[(150, "10.23.45.67; 10.23.45.68")]),
            &default_order(),
            &identity(),
            "/$PSN.xml",
        );
        let got = urls(&c);
        assert_eq!(got.len(), 12);
        assert_eq!(got[..6], six);
        assert_eq!(got[6], "tftp://10.23.45.68/8851-3PCC.xml");
        assert_eq!(
            got[11],
            "https://10.23.45.68/Cisco/CP-8851-3PCC/001234ab45de.cfg"
        );
    }

    #[test]
    fn url_forms() {
        let id = identity();
        let s = |item: &str| -> Vec<String> {
            item_urls(item, &id)
                .unwrap()
                .iter()
                .map(ToString::to_string)
                .collect()
        };
        assert_eq!(
            s("http://prov.example:8080"),
            [
                "http://prov.example:8080",
                "http://prov.example:8080/8851-3PCC.xml",
                "http://prov.example:8080/Cisco/CP-8851-3PCC/001234ab45de.cfg",
            ]
        );
        assert_eq!(s("https://h/p/")[1], "https://h/p/8851-3PCC.xml");
        assert_eq!(s("TFTP://h/x.cfg")[0], "tftp://h/x.cfg");
        assert_eq!(
            s("prov.example:6970")[0],
            "tftp://prov.example:6970/8851-3PCC.xml"
        );
        assert_eq!(s("2001:db8::5")[2], "http://[2001:db8::5]/8851-3PCC.xml");
        assert_eq!(
            s("http://[2001:db8::5]:81/x")[0],
            "http://[2001:db8::5]:81/x"
        );
        for bad in [
            "ftp://h/x",
            "gds://",
            "http://u@h/x",
            "h:0",
            "h:x",
            "http:///x",
            "a b",
        ] {
            assert!(item_urls(bad, &id).is_err(), "{bad}");
        }
    }

    #[test]
    fn order_dedup_skips_and_non_server_options() {
        let c = candidates(
            &received(&[
                (66, "10.0.0.5"),
                (150, "10.0.0.5;ftp://x/y;10.0.0.6"),
                (160, "https://prov.example/path"),
                (159, "10.0.0.7"),
                (60, "CP-8851-3PCC"),
                (43, "http://acs.example/"),
                (125, "x"),
            ]),
            &default_order(),
            &identity(),
            "/$PSN.xml",
        );
        let options: Vec<u16> = c.urls.iter().map(|c| c.option).collect();
        // 66 (6), then 160 (3), then 159 (6), then 150 without the duplicate 10.0.0.5 (6).
        assert_eq!(options.len(), 21);
        assert_eq!(options[..6], [66; 6]);
        assert_eq!(options[6..9], [160; 3]);
        assert_eq!(options[9..15], [159; 6]);
        assert_eq!(options[15..], [150; 6]);
        assert_eq!(
            c.skipped,
            [Skipped {
                option: 150,
                error: DhcpError::UnsupportedScheme {
                    item: "ftp://x/y".into()
                }
            }]
        );
        // A custom order changes the order; an order without an option ignores it.
        let c2 = candidates(
            &received(&[(66, "10.0.0.5"), (160, "https://prov.example/path")]),
            &[160],
            &identity(),
            "/$PSN.xml",
        );
        assert_eq!(urls(&c2).len(), 3);
    }

    #[test]
    fn only_while_profile_rule_starts_with_slash() {
        let r = received(&[(160, "https://prov.example/path")]);
        let order = default_order();
        assert_eq!(
            candidates(&r, &order, &identity(), "  /$PSN.xml")
                .urls
                .len(),
            3
        );
        for rule in ["http://pbx.example/$MA.xml", "", "tftp:///x", "[--key k]/x"] {
            assert_eq!(
                candidates(&r, &order, &identity(), rule),
                Candidates::default()
            );
        }
    }

    #[test]
    fn unknown_identity_values_drop_their_tail() {
        let id = DeviceIdentity::default();
        let got: Vec<String> = item_urls("10.0.0.5", &id)
            .unwrap()
            .iter()
            .map(ToString::to_string)
            .collect();
        assert!(got.is_empty());
        assert_eq!(item_urls("http://h/p", &id).unwrap().len(), 1);
    }

    #[test]
    fn option17_parse_and_value() {
        // A generated option-17 payload: enterprise 9, sub-option 1 with two IPv6 addresses,
        // sub-option 2 with text.
        let mut bytes = vec![0, 0, 0, 9, 0, 1, 0, 32];
        bytes.extend_from_slice(&"2001:db8::5".parse::<Ipv6Addr>().unwrap().octets());
        bytes.extend_from_slice(&"2001:db8::6".parse::<Ipv6Addr>().unwrap().octets());
        bytes.extend_from_slice(&[0, 2, 0, 3, b'a', b'b', b'c']);
        let v = VendorOptions::parse(&bytes).unwrap();
        assert_eq!(v.enterprise, 9);
        assert_eq!(v.options.len(), 2);
        assert_eq!(v.options[1], (2, b"abc".to_vec()));
        assert_eq!(v.emit(), bytes);
        let value = option17_value(&v).unwrap();
        assert_eq!(value, "2001:db8::5;2001:db8::6");
        let c = candidates(
            &received(&[(17, &value), (160, "https://prov.example/x")]),
            &parse_option_order("", DEFAULT_V6_OPTION_ORDER).unwrap(),
            &identity(),
            "/$PSN.xml",
        );
        let got = urls(&c);
        assert_eq!(got.len(), 15);
        assert_eq!(got[0], "tftp://[2001:db8::5]/8851-3PCC.xml");
        assert_eq!(got[12], "https://prov.example/x");

        // Text form, another enterprise, no sub-option 1.
        let text = VendorOptions {
            enterprise: 9,
            options: vec![(1, b"https://prov.example/v6".to_vec())],
        };
        assert_eq!(
            option17_value(&VendorOptions::parse(&text.emit()).unwrap()).as_deref(),
            Some("https://prov.example/v6")
        );
        let other = VendorOptions {
            enterprise: 4491,
            options: vec![(1, b"x".to_vec())],
        };
        assert_eq!(option17_value(&other), None);
        let empty = VendorOptions::parse(&[0, 0, 0, 9]).unwrap();
        assert!(empty.options.is_empty());
        assert_eq!(option17_value(&empty), None);
    }

    #[test]
    fn option17_truncated() {
        assert_eq!(
            VendorOptions::parse(&[0, 0, 9]),
            Err(Option17Error::MissingEnterprise { len: 3 })
        );
        assert_eq!(
            VendorOptions::parse(&[0, 0, 0, 9, 0, 1, 0]),
            Err(Option17Error::TruncatedHeader { offset: 4 })
        );
        assert_eq!(
            VendorOptions::parse(&[0, 0, 0, 9, 0, 1, 0, 5, 1, 2]),
            Err(Option17Error::TruncatedData {
                code: 1,
                offset: 8,
                declared: 5,
                available: 2
            })
        );
        // Every truncation of a valid payload is either a prefix that parses or an error.
        let full = VendorOptions {
            enterprise: 9,
            options: vec![(1, vec![7; 16]), (5, b"hello".to_vec())],
        }
        .emit();
        for n in 0..full.len() {
            let _ = VendorOptions::parse(&full[..n]);
        }
    }
}
