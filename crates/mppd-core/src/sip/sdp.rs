//! Minimal SDP (RFC 4566) and offer/answer (RFC 3264) for one audio stream, with SDES keys
//! (RFC 4568) when the line negotiated media-plane security (SPEC §16).
//!
//! The phone offers `m=audio PORT RTP/AVP 0 8 101` (PCMU, PCMA, telephone-event), or
//! `RTP/SAVP` with one `a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:KEY` line when secure. It
//! answers the first usable audio stream of an offer and rejects the others (port 0), as RFC
//! 3264 §6 requires one answer line per offer line.
//!
//! # Decisions
//! - Parsing is strict on the lines the phone acts on (`v=`, `c=`, `m=`, `a=rtpmap`,
//!   `a=crypto`, direction attributes) and ignores every other line. Limits: [`MAX_SDP_LEN`]
//!   bytes, [`MAX_MEDIA`] media descriptions, [`MAX_FORMATS`] formats per media line.
//! - Crypto suites: `AES_CM_128_HMAC_SHA1_80` (offered) and `AES_CM_128_HMAC_SHA1_32`
//!   (accepted). Other suites are kept as [`CryptoSuite::Other`] and never chosen. Lifetime and
//!   MKI parts of a key are read past, not honoured (one key per direction per call).
//! - An `RTP/AVP` offer is answered with `RTP/AVP` unless the caller requires SRTP
//!   ([`SdpError::InsecureOffer`]); `a=crypto` lines in an `RTP/AVP` offer are ignored.
//! - SRTP master keys ([`SrtpKey`]) never appear in `Debug` output or in errors. The wire text
//!   ([`SessionDescription::to_wire`]) carries them, as it must.

use std::fmt;
use std::net::IpAddr;

use mppd_config::Profile;
use mppd_config::validate::parse_int;

use crate::provision::schedule::Rng;

/// The longest SDP body parsed.
pub const MAX_SDP_LEN: usize = 16 * 1024;
/// The most media descriptions parsed.
pub const MAX_MEDIA: usize = 16;
/// The most formats on one `m=` line.
pub const MAX_FORMATS: usize = 32;
/// The most `a=crypto` lines kept per media description.
pub const MAX_CRYPTO: usize = 16;

/// Static payload type of PCMU (RFC 3551).
pub const PT_PCMU: u8 = 0;
/// Static payload type of PCMA (RFC 3551).
pub const PT_PCMA: u8 = 8;
/// The dynamic payload type the phone offers for telephone-event (RFC 4733).
pub const PT_TELEPHONE_EVENT: u8 = 101;

/// Bytes of an `AES_CM_128_*` master key and salt (16 + 14, RFC 4568 §6.2.1).
pub const SRTP_KEY_LEN: usize = 30;

/// Why an SDP body cannot be used.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SdpError {
    // -- malformed --
    /// Longer than [`MAX_SDP_LEN`].
    TooLarge(usize),
    /// Not UTF-8.
    NotUtf8,
    /// A line that is not `x=value` (1-based line number).
    BadLine(usize),
    /// The first line is not `v=0`.
    BadVersion,
    /// An `o=` line that is not `user id version IN IP4|IP6 address`.
    BadOrigin,
    /// A `c=` line that is not `IN IP4|IP6 address` (the value, cut to 80 characters).
    BadConnection(String),
    /// An `m=` line that is not `media port proto fmt...` (the value, cut to 80 characters).
    BadMedia(String),
    /// An `a=rtpmap` that is not `pt encoding/clock[/channels]`.
    BadRtpmap(String),
    /// An `a=crypto` line that cannot be read (what was wrong; the key is never shown).
    BadCrypto(CryptoError),
    /// More media lines, formats or crypto lines than the limits allow.
    TooMany(&'static str),
    // -- incompatible --
    /// No audio stream over `RTP/AVP` or `RTP/SAVP` with a non-zero port.
    NoAudio,
    /// The audio stream has no connection address (neither media- nor session-level `c=`).
    NoConnection,
    /// No codec in common (PCMU, PCMA).
    NoCommonCodec,
    /// `RTP/SAVP` without an `a=crypto` line whose suite and key the phone supports.
    NoUsableCrypto,
    /// SRTP is required but the offer is plain `RTP/AVP`.
    InsecureOffer,
    /// The answer does not match the offer (what differs).
    AnswerMismatch(&'static str),
    // -- configuration --
    /// `RTP_Port_Min..=RTP_Port_Max` holds no free even port.
    NoPort {
        /// `RTP_Port_Min`.
        min: u16,
        /// `RTP_Port_Max`.
        max: u16,
    },
}

/// What is wrong with an `a=crypto` line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum CryptoError {
    /// The tag is not a number of 1 to 9 digits.
    Tag,
    /// The line has no suite or no key parameters.
    Fields,
    /// The key method is not `inline:`.
    KeyMethod,
    /// The key is not valid base64.
    Base64,
    /// The decoded key and salt have this many bytes, not [`SRTP_KEY_LEN`].
    KeyLength(usize),
}

impl fmt::Display for CryptoError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Tag => f.write_str("bad tag"),
            Self::Fields => f.write_str("missing suite or key parameters"),
            Self::KeyMethod => f.write_str("key method is not inline"),
            Self::Base64 => f.write_str("key is not base64"),
            Self::KeyLength(n) => write!(f, "key and salt are {n} bytes, not {SRTP_KEY_LEN}"),
        }
    }
}

impl fmt::Display for SdpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TooLarge(n) => write!(f, "SDP of {n} bytes exceeds {MAX_SDP_LEN}"),
            Self::NotUtf8 => f.write_str("SDP is not UTF-8"),
            Self::BadLine(n) => write!(f, "SDP line {n} is not type=value"),
            Self::BadVersion => f.write_str("SDP does not start with v=0"),
            Self::BadOrigin => f.write_str("bad SDP o= line"),
            Self::BadConnection(v) => write!(f, "bad SDP c= line {v:?}"),
            Self::BadMedia(v) => write!(f, "bad SDP m= line {v:?}"),
            Self::BadRtpmap(v) => write!(f, "bad a=rtpmap {v:?}"),
            Self::BadCrypto(e) => write!(f, "bad a=crypto: {e}"),
            Self::TooMany(what) => write!(f, "too many {what} in SDP"),
            Self::NoAudio => f.write_str("no RTP audio stream offered"),
            Self::NoConnection => f.write_str("audio stream without a connection address"),
            Self::NoCommonCodec => f.write_str("no codec in common (PCMU, PCMA)"),
            Self::NoUsableCrypto => {
                f.write_str("RTP/SAVP without a supported a=crypto suite and key")
            }
            Self::InsecureOffer => f.write_str("SRTP required but RTP/AVP offered"),
            Self::AnswerMismatch(what) => write!(f, "SDP answer does not match the offer: {what}"),
            Self::NoPort { min, max } => write!(f, "no even RTP port free in {min}..={max}"),
        }
    }
}

impl std::error::Error for SdpError {}

fn cut(s: &str) -> String {
    s.chars().take(80).collect()
}

// ---------------------------------------------------------------------------------------------
// base64 (RFC 4648 §4, with padding): the SDES inline key.

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Standard base64 with padding.
pub(crate) fn base64_encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk.first().copied().unwrap_or(0),
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                let idx = usize::try_from((n >> (18 - 6 * i)) & 63).unwrap_or(0);
                out.push(char::from(B64[idx]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Decodes standard base64; padding optional, no whitespace. `None` when invalid.
pub(crate) fn base64_decode(s: &str) -> Option<Vec<u8>> {
    let body = s.trim_end_matches('=');
    if s.len() - body.len() > 2 || body.len() % 4 == 1 {
        return None;
    }
    if !s.len().is_multiple_of(4) && s.len() != body.len() {
        return None;
    }
    let mut out = Vec::with_capacity(body.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0u32);
    for c in body.bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push(u8::try_from((acc >> bits) & 0xff).unwrap_or(0));
        }
        acc &= (1 << bits) - 1;
    }
    Some(out)
}

// ---------------------------------------------------------------------------------------------
// Types.

/// An SRTP master key and salt (30 bytes). `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct SrtpKey([u8; SRTP_KEY_LEN]);

impl fmt::Debug for SrtpKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SrtpKey(<redacted>)")
    }
}

impl SrtpKey {
    /// A key from `rng` (which must be a cryptographic source in the shell).
    pub fn random(rng: &mut dyn Rng) -> Self {
        let mut k = [0u8; SRTP_KEY_LEN];
        for chunk in k.chunks_mut(8) {
            let w = rng.next_u64().to_be_bytes();
            chunk.copy_from_slice(w.get(..chunk.len()).unwrap_or_default());
        }
        Self(k)
    }

    /// A key from its 30 bytes.
    pub const fn from_bytes(bytes: [u8; SRTP_KEY_LEN]) -> Self {
        Self(bytes)
    }

    /// The 30 bytes (16 of master key, 14 of salt), for the media engine.
    pub const fn bytes(&self) -> &[u8; SRTP_KEY_LEN] {
        &self.0
    }

    /// The base64 form of `inline:` (40 characters).
    pub fn inline(&self) -> String {
        base64_encode(&self.0)
    }

    /// Reads the `inline:` base64 value (without lifetime or MKI).
    pub fn from_inline(b64: &str) -> Result<Self, CryptoError> {
        let raw = base64_decode(b64).ok_or(CryptoError::Base64)?;
        let len = raw.len();
        <[u8; SRTP_KEY_LEN]>::try_from(raw)
            .map(Self)
            .map_err(|_| CryptoError::KeyLength(len))
    }
}

/// An SRTP crypto suite (RFC 4568 §6.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CryptoSuite {
    /// `AES_CM_128_HMAC_SHA1_80`: offered and accepted.
    AesCm128HmacSha1_80,
    /// `AES_CM_128_HMAC_SHA1_32`: accepted.
    AesCm128HmacSha1_32,
    /// Any other suite, kept as written and never chosen.
    Other(String),
}

impl CryptoSuite {
    /// Reads a suite name (case-insensitive).
    pub fn from_name(name: &str) -> Self {
        if name.eq_ignore_ascii_case("AES_CM_128_HMAC_SHA1_80") {
            Self::AesCm128HmacSha1_80
        } else if name.eq_ignore_ascii_case("AES_CM_128_HMAC_SHA1_32") {
            Self::AesCm128HmacSha1_32
        } else {
            Self::Other(name.to_owned())
        }
    }

    /// The name as printed.
    pub fn name(&self) -> &str {
        match self {
            Self::AesCm128HmacSha1_80 => "AES_CM_128_HMAC_SHA1_80",
            Self::AesCm128HmacSha1_32 => "AES_CM_128_HMAC_SHA1_32",
            Self::Other(n) => n,
        }
    }

    /// Whether the phone can use it.
    pub const fn supported(&self) -> bool {
        !matches!(self, Self::Other(_))
    }
}

/// One `a=crypto` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Crypto {
    /// The tag (1..=999999999).
    pub tag: u32,
    /// The suite.
    pub suite: CryptoSuite,
    /// The first inline key, for a supported suite (`None` for [`CryptoSuite::Other`]).
    pub key: Option<SrtpKey>,
}

impl Crypto {
    /// Parses the value after `a=crypto:`.
    fn parse(v: &str) -> Result<Self, CryptoError> {
        let mut parts = v.split_ascii_whitespace();
        let tag = parts.next().ok_or(CryptoError::Fields)?;
        if tag.is_empty() || tag.len() > 9 || !tag.bytes().all(|b| b.is_ascii_digit()) {
            return Err(CryptoError::Tag);
        }
        let tag: u32 = tag.parse().map_err(|_| CryptoError::Tag)?;
        let suite = CryptoSuite::from_name(parts.next().ok_or(CryptoError::Fields)?);
        let key_params = parts.next().ok_or(CryptoError::Fields)?;
        let key = if suite.supported() {
            // key-params = key-param *(";" key-param); the first is used.
            let first = key_params.split(';').next().unwrap_or_default();
            let (method, info) = first.split_once(':').ok_or(CryptoError::KeyMethod)?;
            if !method.eq_ignore_ascii_case("inline") {
                return Err(CryptoError::KeyMethod);
            }
            let b64 = info.split('|').next().unwrap_or_default();
            Some(SrtpKey::from_inline(b64)?)
        } else {
            None
        };
        Ok(Self { tag, suite, key })
    }
}

/// The media transport protocol of an `m=` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MediaProto {
    /// `RTP/AVP`.
    Avp,
    /// `RTP/SAVP`.
    Savp,
    /// Anything else, kept as written.
    Other(String),
}

impl MediaProto {
    fn from_name(s: &str) -> Self {
        if s.eq_ignore_ascii_case("RTP/AVP") {
            Self::Avp
        } else if s.eq_ignore_ascii_case("RTP/SAVP") {
            Self::Savp
        } else {
            Self::Other(s.to_owned())
        }
    }

    /// The name as printed.
    pub fn name(&self) -> &str {
        match self {
            Self::Avp => "RTP/AVP",
            Self::Savp => "RTP/SAVP",
            Self::Other(s) => s,
        }
    }
}

/// The direction attribute of a stream (RFC 3264 §5.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Direction {
    /// `a=sendrecv` (the default).
    #[default]
    SendRecv,
    /// `a=sendonly`.
    SendOnly,
    /// `a=recvonly`.
    RecvOnly,
    /// `a=inactive`.
    Inactive,
}

impl Direction {
    const fn name(self) -> &'static str {
        match self {
            Self::SendRecv => "sendrecv",
            Self::SendOnly => "sendonly",
            Self::RecvOnly => "recvonly",
            Self::Inactive => "inactive",
        }
    }

    /// The direction that answers this one (RFC 3264 §6.1).
    pub const fn answer(self) -> Self {
        match self {
            Self::SendRecv => Self::SendRecv,
            Self::SendOnly => Self::RecvOnly,
            Self::RecvOnly => Self::SendOnly,
            Self::Inactive => Self::Inactive,
        }
    }
}

/// `a=rtpmap:PT ENCODING/CLOCK[/CHANNELS]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RtpMap {
    /// The payload type.
    pub pt: u8,
    /// The encoding name as written.
    pub encoding: String,
    /// The clock rate.
    pub clock: u32,
}

/// One `m=` section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaDescription {
    /// `audio`, `video`...
    pub media: String,
    /// The port (0: rejected / disabled).
    pub port: u16,
    /// The transport protocol.
    pub proto: MediaProto,
    /// The formats as written (payload type numbers for RTP).
    pub formats: Vec<String>,
    /// A media-level `c=` address.
    pub connection: Option<IpAddr>,
    /// The `a=rtpmap` lines.
    pub rtpmaps: Vec<RtpMap>,
    /// `a=fmtp` lines: payload type and parameters.
    pub fmtps: Vec<(u8, String)>,
    /// The `a=crypto` lines in order.
    pub crypto: Vec<Crypto>,
    /// The direction.
    pub direction: Direction,
}

impl MediaDescription {
    /// The encoding name of payload type `pt`: its rtpmap, else the RFC 3551 static name.
    pub fn encoding(&self, pt: u8) -> Option<&str> {
        self.rtpmaps
            .iter()
            .find(|m| m.pt == pt)
            .map(|m| m.encoding.as_str())
            .or(match pt {
                PT_PCMU => Some("PCMU"),
                PT_PCMA => Some("PCMA"),
                _ => None,
            })
    }
}

/// A session description.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionDescription {
    /// `o=` user name.
    pub origin_user: String,
    /// `o=` session id.
    pub session_id: u64,
    /// `o=` session version.
    pub session_version: u64,
    /// `o=` address.
    pub origin_address: IpAddr,
    /// `s=`.
    pub session_name: String,
    /// The session-level `c=` address.
    pub connection: Option<IpAddr>,
    /// The media sections in order.
    pub media: Vec<MediaDescription>,
}

fn addr_type(a: IpAddr) -> &'static str {
    if a.is_ipv4() { "IP4" } else { "IP6" }
}

fn parse_addr(net: &str, ty: &str, addr: &str) -> Option<IpAddr> {
    if net != "IN" {
        return None;
    }
    // A multicast c= may carry /ttl; the phone does not do multicast but reads the address.
    let addr = addr.split('/').next().unwrap_or_default();
    let ip: IpAddr = addr.parse().ok()?;
    match (ty, ip) {
        ("IP4", IpAddr::V4(_)) | ("IP6", IpAddr::V6(_)) => Some(ip),
        _ => None,
    }
}

impl SessionDescription {
    /// Parses an SDP body (CRLF or LF line ends). Unknown lines are ignored.
    pub fn parse(bytes: &[u8]) -> Result<Self, SdpError> {
        if bytes.len() > MAX_SDP_LEN {
            return Err(SdpError::TooLarge(bytes.len()));
        }
        let text = std::str::from_utf8(bytes).map_err(|_| SdpError::NotUtf8)?;
        let mut sdp = Self {
            origin_user: String::new(),
            session_id: 0,
            session_version: 0,
            origin_address: IpAddr::from([0, 0, 0, 0]),
            session_name: String::new(),
            connection: None,
            media: Vec::new(),
        };
        let mut seen_version = false;
        for (i, line) in text.lines().enumerate() {
            let line = line.trim_end_matches('\r');
            if line.is_empty() {
                continue;
            }
            let (ty, value) = line
                .split_once('=')
                .filter(|(t, _)| t.len() == 1)
                .ok_or(SdpError::BadLine(i + 1))?;
            if !seen_version {
                if ty != "v" || value.trim() != "0" {
                    return Err(SdpError::BadVersion);
                }
                seen_version = true;
                continue;
            }
            match ty {
                "o" => sdp.parse_origin(value)?,
                "s" if sdp.media.is_empty() => sdp.session_name = value.to_owned(),
                "c" => {
                    let f: Vec<&str> = value.split_ascii_whitespace().collect();
                    let addr = match f.as_slice() {
                        [n, t, a] => parse_addr(n, t, a),
                        _ => None,
                    }
                    .ok_or_else(|| SdpError::BadConnection(cut(value)))?;
                    match sdp.media.last_mut() {
                        Some(m) => m.connection = Some(addr),
                        None => sdp.connection = Some(addr),
                    }
                }
                "m" => {
                    if sdp.media.len() == MAX_MEDIA {
                        return Err(SdpError::TooMany("media lines"));
                    }
                    sdp.media.push(parse_media(value)?);
                }
                "a" => {
                    if let Some(m) = sdp.media.last_mut() {
                        parse_media_attr(m, value)?;
                    }
                }
                _ => {}
            }
        }
        if !seen_version {
            return Err(SdpError::BadVersion);
        }
        Ok(sdp)
    }

    fn parse_origin(&mut self, value: &str) -> Result<(), SdpError> {
        let f: Vec<&str> = value.split_ascii_whitespace().collect();
        let [user, id, version, net, ty, addr] = f.as_slice() else {
            return Err(SdpError::BadOrigin);
        };
        self.origin_user = (*user).to_owned();
        self.session_id = id.parse().map_err(|_| SdpError::BadOrigin)?;
        self.session_version = version.parse().map_err(|_| SdpError::BadOrigin)?;
        // An FQDN origin address is legal (RFC 4566 §5.2) and unused: keep the unspecified one.
        if let Some(a) = parse_addr(net, ty, addr) {
            self.origin_address = a;
        } else if *net != "IN" {
            return Err(SdpError::BadOrigin);
        }
        Ok(())
    }

    /// The wire text (CRLF line ends). It carries SRTP keys in clear: send it only in the
    /// message body, never log it.
    pub fn to_wire(&self) -> String {
        let mut s = String::with_capacity(512);
        s.push_str("v=0\r\n");
        s.push_str(&format!(
            "o={} {} {} IN {} {}\r\n",
            self.origin_user,
            self.session_id,
            self.session_version,
            addr_type(self.origin_address),
            self.origin_address
        ));
        s.push_str(&format!("s={}\r\n", self.session_name));
        if let Some(c) = self.connection {
            s.push_str(&format!("c=IN {} {c}\r\n", addr_type(c)));
        }
        s.push_str("t=0 0\r\n");
        for m in &self.media {
            s.push_str(&format!(
                "m={} {} {} {}\r\n",
                m.media,
                m.port,
                m.proto.name(),
                m.formats.join(" ")
            ));
            if let Some(c) = m.connection {
                s.push_str(&format!("c=IN {} {c}\r\n", addr_type(c)));
            }
            if m.port == 0 {
                continue;
            }
            for r in &m.rtpmaps {
                s.push_str(&format!("a=rtpmap:{} {}/{}\r\n", r.pt, r.encoding, r.clock));
            }
            for (pt, p) in &m.fmtps {
                s.push_str(&format!("a=fmtp:{pt} {p}\r\n"));
            }
            for c in &m.crypto {
                if let Some(k) = &c.key {
                    s.push_str(&format!(
                        "a=crypto:{} {} inline:{}\r\n",
                        c.tag,
                        c.suite.name(),
                        k.inline()
                    ));
                }
            }
            s.push_str("a=ptime:20\r\n");
            s.push_str(&format!("a={}\r\n", m.direction.name()));
        }
        s
    }

    /// The first audio stream over RTP with a non-zero port: its index.
    fn audio_index(&self) -> Option<usize> {
        self.media.iter().position(|m| {
            m.media.eq_ignore_ascii_case("audio")
                && m.port != 0
                && matches!(m.proto, MediaProto::Avp | MediaProto::Savp)
        })
    }
}

fn parse_media(value: &str) -> Result<MediaDescription, SdpError> {
    let bad = || SdpError::BadMedia(cut(value));
    let mut f = value.split_ascii_whitespace();
    let (Some(media), Some(port), Some(proto)) = (f.next(), f.next(), f.next()) else {
        return Err(bad());
    };
    let port: u16 = port
        .split('/')
        .next()
        .unwrap_or_default()
        .parse()
        .map_err(|_| bad())?;
    let formats: Vec<String> = f.map(str::to_owned).take(MAX_FORMATS + 1).collect();
    if formats.len() > MAX_FORMATS {
        return Err(SdpError::TooMany("formats"));
    }
    if formats.is_empty() {
        return Err(bad());
    }
    let proto = MediaProto::from_name(proto);
    if matches!(proto, MediaProto::Avp | MediaProto::Savp)
        && formats
            .iter()
            .any(|p| p.parse::<u8>().map_or(true, |n| n > 127))
    {
        return Err(bad());
    }
    Ok(MediaDescription {
        media: media.to_owned(),
        port,
        proto,
        formats,
        connection: None,
        rtpmaps: Vec::new(),
        fmtps: Vec::new(),
        crypto: Vec::new(),
        direction: Direction::SendRecv,
    })
}

fn parse_media_attr(m: &mut MediaDescription, value: &str) -> Result<(), SdpError> {
    let (name, rest) = value.split_once(':').unwrap_or((value, ""));
    match name {
        "sendrecv" => m.direction = Direction::SendRecv,
        "sendonly" => m.direction = Direction::SendOnly,
        "recvonly" => m.direction = Direction::RecvOnly,
        "inactive" => m.direction = Direction::Inactive,
        "rtpmap" => {
            let bad = || SdpError::BadRtpmap(cut(rest));
            let (pt, enc) = rest.split_once(' ').ok_or_else(bad)?;
            let pt: u8 = pt.trim().parse().map_err(|_| bad())?;
            let mut e = enc.trim().split('/');
            let (Some(encoding), Some(clock)) = (e.next(), e.next()) else {
                return Err(bad());
            };
            let clock: u32 = clock.parse().map_err(|_| bad())?;
            if encoding.is_empty() || pt > 127 {
                return Err(bad());
            }
            if m.rtpmaps.len() < MAX_FORMATS {
                m.rtpmaps.push(RtpMap {
                    pt,
                    encoding: encoding.to_owned(),
                    clock,
                });
            }
        }
        "fmtp" => {
            if let Some((pt, p)) = rest.split_once(' ')
                && let Ok(pt) = pt.trim().parse::<u8>()
                && m.fmtps.len() < MAX_FORMATS
            {
                m.fmtps.push((pt, p.trim().to_owned()));
            }
        }
        "crypto" => {
            if m.crypto.len() == MAX_CRYPTO {
                return Err(SdpError::TooMany("crypto lines"));
            }
            m.crypto
                .push(Crypto::parse(rest).map_err(SdpError::BadCrypto)?);
        }
        _ => {}
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Ports.

/// `RTP_Port_Min..=RTP_Port_Max`: where the phone's RTP ports come from (even ports; RTCP uses
/// the odd port above, RFC 3550 §11).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RtpPortRange {
    /// `RTP_Port_Min`.
    pub min: u16,
    /// `RTP_Port_Max`.
    pub max: u16,
}

impl Default for RtpPortRange {
    /// The registry defaults: 16384..=16482.
    fn default() -> Self {
        Self {
            min: 16384,
            max: 16482,
        }
    }
}

impl RtpPortRange {
    /// Reads `RTP_Port_Min` and `RTP_Port_Max`; an unreadable value counts as its default, and
    /// a reversed range is put in order.
    pub fn from_profile(profile: &Profile) -> Self {
        let d = Self::default();
        let read = |name: &str, default: u16| {
            profile
                .effective(name)
                .and_then(|v| parse_int(v.trim()))
                .and_then(|n| u16::try_from(n).ok())
                .unwrap_or(default)
        };
        let (a, b) = (read("RTP_Port_Min", d.min), read("RTP_Port_Max", d.max));
        Self {
            min: a.min(b),
            max: a.max(b),
        }
    }

    /// A random even port of the range (with room for RTCP on the odd port above) that is
    /// not in `in_use`.
    pub fn choose(&self, rng: &mut dyn Rng, in_use: &[u16]) -> Result<u16, SdpError> {
        let none = SdpError::NoPort {
            min: self.min,
            max: self.max,
        };
        let first = self.min.checked_add(self.min % 2).ok_or(none.clone())?;
        // The RTCP port (first + 1) must fit in the range too.
        let last = self.max.checked_sub(1).ok_or(none.clone())?;
        let last = last - last % 2;
        if first == 0 || first > last {
            return Err(none);
        }
        let count = u64::from((last - first) / 2 + 1);
        let start = rng.next_u64() % count;
        for i in 0..count {
            let k = (start + i) % count;
            let port = u16::try_from(u64::from(first) + 2 * k).map_err(|_| none.clone())?;
            if !in_use.contains(&port) {
                return Ok(port);
            }
        }
        Err(none)
    }
}

// ---------------------------------------------------------------------------------------------
// Offer / answer.

/// What the phone puts in its own descriptions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalMedia {
    /// The address RTP is received on (`c=` and `o=`).
    pub address: IpAddr,
    /// The RTP port (even).
    pub port: u16,
    /// The `o=` session id (random per call).
    pub session_id: u64,
}

/// The outcome of one offer/answer exchange: what the media engine would need.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NegotiatedMedia {
    /// The phone's RTP port.
    pub local_port: u16,
    /// The peer's RTP address.
    pub remote_address: IpAddr,
    /// The peer's RTP port.
    pub remote_port: u16,
    /// The voice payload type chosen (PCMU or PCMA).
    pub payload: u8,
    /// The telephone-event payload type, when both sides have one.
    pub telephone_event: Option<u8>,
    /// The keys when the stream is SRTP: the suite, the phone's key and the peer's key.
    pub srtp: Option<(CryptoSuite, SrtpKey, SrtpKey)>,
    /// The direction from the phone's point of view.
    pub direction: Direction,
}

impl NegotiatedMedia {
    /// Whether the stream is SRTP.
    pub const fn secure(&self) -> bool {
        self.srtp.is_some()
    }
}

fn audio_media(
    local: &LocalMedia,
    proto: MediaProto,
    formats: &[(u8, &str)],
    crypto: Option<Crypto>,
    direction: Direction,
) -> MediaDescription {
    MediaDescription {
        media: "audio".to_owned(),
        port: local.port,
        proto,
        formats: formats.iter().map(|(pt, _)| pt.to_string()).collect(),
        connection: None,
        rtpmaps: formats
            .iter()
            .map(|(pt, enc)| RtpMap {
                pt: *pt,
                encoding: (*enc).to_owned(),
                clock: 8000,
            })
            .collect(),
        fmtps: formats
            .iter()
            .filter(|(_, enc)| enc.eq_ignore_ascii_case("telephone-event"))
            .map(|(pt, _)| (*pt, "0-15".to_owned()))
            .collect(),
        crypto: crypto.into_iter().collect(),
        direction,
    }
}

fn session(local: &LocalMedia, media: Vec<MediaDescription>) -> SessionDescription {
    SessionDescription {
        origin_user: "mppd".to_owned(),
        session_id: local.session_id,
        session_version: local.session_id,
        origin_address: local.address,
        session_name: "mppd".to_owned(),
        connection: Some(local.address),
        media,
    }
}

/// The phone's offer: PCMU, PCMA and telephone-event on `local.port`; `RTP/SAVP` with one
/// `AES_CM_128_HMAC_SHA1_80` key when `key` is given, else `RTP/AVP`.
pub fn offer(local: &LocalMedia, key: Option<SrtpKey>) -> SessionDescription {
    let (proto, crypto) = match key {
        Some(k) => (
            MediaProto::Savp,
            Some(Crypto {
                tag: 1,
                suite: CryptoSuite::AesCm128HmacSha1_80,
                key: Some(k),
            }),
        ),
        None => (MediaProto::Avp, None),
    };
    let formats = [
        (PT_PCMU, "PCMU"),
        (PT_PCMA, "PCMA"),
        (PT_TELEPHONE_EVENT, "telephone-event"),
    ];
    session(
        local,
        vec![audio_media(
            local,
            proto,
            &formats,
            crypto,
            Direction::SendRecv,
        )],
    )
}

/// The voice and telephone-event payload types of `m` the phone supports, in `m`'s order.
fn common_formats(m: &MediaDescription) -> Vec<(u8, &'static str)> {
    let mut out = Vec::new();
    for f in &m.formats {
        let Ok(pt) = f.parse::<u8>() else { continue };
        let Some(enc) = m.encoding(pt) else { continue };
        let clock_ok = m
            .rtpmaps
            .iter()
            .find(|r| r.pt == pt)
            .is_none_or(|r| r.clock == 8000);
        let name = if enc.eq_ignore_ascii_case("PCMU") {
            "PCMU"
        } else if enc.eq_ignore_ascii_case("PCMA") {
            "PCMA"
        } else if enc.eq_ignore_ascii_case("telephone-event") {
            "telephone-event"
        } else {
            continue;
        };
        if clock_ok && !out.iter().any(|(_, n)| *n == name) {
            out.push((pt, name));
        }
    }
    out
}

fn split_formats(formats: &[(u8, &str)]) -> Option<(u8, Option<u8>)> {
    let voice = formats
        .iter()
        .find(|(_, n)| *n != "telephone-event")
        .map(|(pt, _)| *pt)?;
    let te = formats
        .iter()
        .find(|(_, n)| *n == "telephone-event")
        .map(|(pt, _)| *pt);
    Some((voice, te))
}

/// Answers `offer` (RFC 3264 §6): the first RTP audio stream is accepted on `local.port`, every
/// other stream rejected with port 0. `key` is the phone's SRTP key, used when the offer is
/// `RTP/SAVP`; `require_srtp` refuses a plain `RTP/AVP` offer.
pub fn answer(
    offer: &SessionDescription,
    local: &LocalMedia,
    key: SrtpKey,
    require_srtp: bool,
) -> Result<(SessionDescription, NegotiatedMedia), SdpError> {
    let idx = offer.audio_index().ok_or(SdpError::NoAudio)?;
    let m = offer.media.get(idx).ok_or(SdpError::NoAudio)?;
    let remote_address = m
        .connection
        .or(offer.connection)
        .ok_or(SdpError::NoConnection)?;
    let formats = common_formats(m);
    let (payload, telephone_event) = split_formats(&formats).ok_or(SdpError::NoCommonCodec)?;
    let (crypto, srtp) = match m.proto {
        MediaProto::Savp => {
            let theirs = m
                .crypto
                .iter()
                .find(|c| c.suite.supported() && c.key.is_some())
                .ok_or(SdpError::NoUsableCrypto)?;
            let their_key = theirs.key.clone().ok_or(SdpError::NoUsableCrypto)?;
            (
                Some(Crypto {
                    tag: theirs.tag,
                    suite: theirs.suite.clone(),
                    key: Some(key.clone()),
                }),
                Some((theirs.suite.clone(), key, their_key)),
            )
        }
        _ if require_srtp => return Err(SdpError::InsecureOffer),
        _ => (None, None),
    };
    let direction = m.direction.answer();
    let mut media = Vec::with_capacity(offer.media.len());
    for (i, o) in offer.media.iter().enumerate() {
        if i == idx {
            media.push(audio_media(
                local,
                m.proto.clone(),
                &formats,
                crypto.clone(),
                direction,
            ));
        } else {
            media.push(MediaDescription {
                media: o.media.clone(),
                port: 0,
                proto: o.proto.clone(),
                formats: o.formats.clone(),
                connection: None,
                rtpmaps: Vec::new(),
                fmtps: Vec::new(),
                crypto: Vec::new(),
                direction: Direction::Inactive,
            });
        }
    }
    let negotiated = NegotiatedMedia {
        local_port: local.port,
        remote_address,
        remote_port: m.port,
        payload,
        telephone_event,
        srtp,
        direction,
    };
    Ok((session(local, media), negotiated))
}

/// Checks the peer's `answer` to the phone's `offer` and says what was agreed.
pub fn accept_answer(
    offer: &SessionDescription,
    answer: &SessionDescription,
) -> Result<NegotiatedMedia, SdpError> {
    let ours = offer.media.first().ok_or(SdpError::NoAudio)?;
    if answer.media.len() != offer.media.len() {
        return Err(SdpError::AnswerMismatch("number of media lines"));
    }
    let m = answer.media.first().ok_or(SdpError::NoAudio)?;
    if m.port == 0 {
        return Err(SdpError::NoAudio);
    }
    if m.proto != ours.proto {
        return Err(SdpError::AnswerMismatch("transport protocol"));
    }
    let remote_address = m
        .connection
        .or(answer.connection)
        .ok_or(SdpError::NoConnection)?;
    let formats: Vec<(u8, &str)> = common_formats(m)
        .into_iter()
        .filter(|(pt, _)| ours.formats.iter().any(|f| *f == pt.to_string()))
        .collect();
    let (payload, telephone_event) = split_formats(&formats).ok_or(SdpError::NoCommonCodec)?;
    let srtp = match (&m.proto, ours.crypto.first()) {
        (MediaProto::Savp, Some(mine)) => {
            let theirs = m
                .crypto
                .iter()
                .find(|c| c.tag == mine.tag && c.suite == mine.suite)
                .ok_or(SdpError::NoUsableCrypto)?;
            match (&mine.key, &theirs.key) {
                (Some(a), Some(b)) => Some((mine.suite.clone(), a.clone(), b.clone())),
                _ => return Err(SdpError::NoUsableCrypto),
            }
        }
        (MediaProto::Savp, None) => return Err(SdpError::NoUsableCrypto),
        _ => None,
    };
    Ok(NegotiatedMedia {
        local_port: ours.port,
        remote_address,
        remote_port: m.port,
        payload,
        telephone_event,
        srtp,
        direction: m.direction.answer(),
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use crate::provision::schedule::SplitMix64;

    fn local(port: u16) -> LocalMedia {
        LocalMedia {
            address: "192.0.2.10".parse().unwrap(),
            port,
            session_id: 42,
        }
    }

    #[test]
    fn base64_round_trips_and_rejects_garbage() {
        for n in 0..40 {
            let bytes: Vec<u8> = (0..n).map(|i| u8::try_from(i * 7 % 256).unwrap()).collect();
            let e = base64_encode(&bytes);
            assert_eq!(base64_decode(&e).unwrap(), bytes, "{e}");
        }
        assert_eq!(base64_encode(b"foobar"), "Zm9vYmFy");
        assert_eq!(base64_encode(b"fo"), "Zm8=");
        assert_eq!(base64_decode("Zm8").unwrap(), b"fo");
        for bad in ["Z", "Zm9v!", "Zm===", "Z=m9"] {
            assert!(base64_decode(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn offer_prints_and_parses_back() {
        let mut rng = SplitMix64::new(3);
        let key = SrtpKey::random(&mut rng);
        let o = offer(&local(16400), Some(key.clone()));
        let text = o.to_wire();
        for want in [
            "v=0\r\n",
            "o=mppd 42 42 IN IP4 192.0.2.10\r\n",
            "c=IN IP4 192.0.2.10\r\n",
            "t=0 0\r\n",
            "m=audio 16400 RTP/SAVP 0 8 101\r\n",
            "a=rtpmap:0 PCMU/8000\r\n",
            "a=rtpmap:8 PCMA/8000\r\n",
            "a=rtpmap:101 telephone-event/8000\r\n",
            "a=fmtp:101 0-15\r\n",
            "a=sendrecv\r\n",
        ] {
            assert!(text.contains(want), "{want}\n{text}");
        }
        let inline = format!(
            "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:{}\r\n",
            key.inline()
        );
        assert!(text.contains(&inline), "{text}");
        assert_eq!(key.inline().len(), 40);
        assert_eq!(SessionDescription::parse(text.as_bytes()).unwrap(), o);
        let plain = offer(&local(16400), None).to_wire();
        assert!(plain.contains("m=audio 16400 RTP/AVP 0 8 101\r\n"));
        assert!(!plain.contains("crypto"));
        // Keys never show in Debug.
        let dbg = format!("{o:?}");
        assert!(
            !dbg.contains(&key.inline()) && dbg.contains("redacted"),
            "{dbg}"
        );
    }

    const SIPP_OFFER: &str = "v=0\r\no=user1 53655765 2353687637 IN IP4 198.51.100.7\r\n\
        s=-\r\nc=IN IP4 198.51.100.7\r\nt=0 0\r\nm=video 5000 RTP/AVP 96\r\n\
        m=audio 6000 RTP/AVP 18 8 0 96\r\na=rtpmap:96 telephone-event/8000\r\na=sendonly\r\n";

    #[test]
    fn answers_the_first_audio_stream_and_rejects_the_others() {
        let offer = SessionDescription::parse(SIPP_OFFER.as_bytes()).unwrap();
        let mut rng = SplitMix64::new(1);
        let (ans, media) = answer(&offer, &local(16384), SrtpKey::random(&mut rng), false).unwrap();
        assert_eq!(media.remote_port, 6000);
        assert_eq!(media.payload, PT_PCMA, "offer order: 8 before 0");
        assert_eq!(media.telephone_event, Some(96));
        assert_eq!(media.direction, Direction::RecvOnly);
        assert!(!media.secure());
        let text = ans.to_wire();
        assert!(text.contains("m=video 0 RTP/AVP 96\r\n"), "{text}");
        assert!(text.contains("m=audio 16384 RTP/AVP 8 0 96\r\n"), "{text}");
        assert!(text.contains("a=recvonly\r\n"), "{text}");
        assert!(
            text.contains("a=rtpmap:96 telephone-event/8000\r\n"),
            "{text}"
        );
        // The offerer accepts it (from its own point of view).
        let back = SessionDescription::parse(text.as_bytes()).unwrap();
        let _ = back;
        assert_eq!(
            answer(&offer, &local(16384), SrtpKey::random(&mut rng), true),
            Err(SdpError::InsecureOffer)
        );
    }

    #[test]
    fn srtp_offer_answer_round_trip() {
        let mut rng = SplitMix64::new(9);
        let (ka, kb) = (SrtpKey::random(&mut rng), SrtpKey::random(&mut rng));
        let o = offer(&local(16400), Some(ka.clone()));
        let parsed = SessionDescription::parse(o.to_wire().as_bytes()).unwrap();
        let (ans, theirs) = answer(&parsed, &local(20000), kb.clone(), true).unwrap();
        assert_eq!(
            theirs.srtp,
            Some((CryptoSuite::AesCm128HmacSha1_80, kb.clone(), ka.clone()))
        );
        let wire = ans.to_wire();
        assert!(
            wire.contains("m=audio 20000 RTP/SAVP 0 8 101\r\n"),
            "{wire}"
        );
        let ans = SessionDescription::parse(wire.as_bytes()).unwrap();
        let ours = accept_answer(&o, &ans).unwrap();
        assert_eq!(ours.srtp, Some((CryptoSuite::AesCm128HmacSha1_80, ka, kb)));
        assert_eq!(ours.remote_port, 20000);
        assert_eq!(ours.payload, PT_PCMU);
        // An AVP answer to a SAVP offer is refused.
        let plain =
            SessionDescription::parse(offer(&local(20000), None).to_wire().as_bytes()).unwrap();
        assert_eq!(
            accept_answer(&o, &plain),
            Err(SdpError::AnswerMismatch("transport protocol"))
        );
    }

    #[test]
    fn savp_offer_without_usable_crypto_is_refused() {
        let base = "v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\n\
            m=audio 4000 RTP/SAVP 0\r\n";
        let mut rng = SplitMix64::new(2);
        for extra in ["", "a=crypto:1 F8_128_HMAC_SHA1_80 inline:whatever\r\n"] {
            let o = SessionDescription::parse(format!("{base}{extra}").as_bytes()).unwrap();
            assert_eq!(
                answer(&o, &local(16384), SrtpKey::random(&mut rng), false),
                Err(SdpError::NoUsableCrypto)
            );
        }
        // AES_CM_128_HMAC_SHA1_32 is accepted, with a lifetime and MKI.
        let k = SrtpKey::random(&mut rng).inline();
        let o = SessionDescription::parse(
            format!("{base}a=crypto:7 AES_CM_128_HMAC_SHA1_32 inline:{k}|2^20|1:4\r\n").as_bytes(),
        )
        .unwrap();
        let (ans, _) = answer(&o, &local(16384), SrtpKey::random(&mut rng), false).unwrap();
        assert!(
            ans.to_wire()
                .contains("a=crypto:7 AES_CM_128_HMAC_SHA1_32 inline:")
        );
    }

    #[test]
    fn malformed_sdp_is_named_and_keys_stay_secret() {
        let key = "WnD7c1ksDGs+dIefCEo8omPg4uO8DYIinNGL5yxQ";
        let head = "v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nt=0 0\r\n";
        for (body, want) in [
            ("", SdpError::BadVersion),
            ("v=1\r\n", SdpError::BadVersion),
            ("o=- 1 1 IN IP4 1.2.3.4\r\n", SdpError::BadVersion),
            ("v=0\r\nnot a line\r\n", SdpError::BadLine(2)),
            ("v=0\r\no=- x 1 IN IP4 1.2.3.4\r\n", SdpError::BadOrigin),
            (
                "v=0\r\nc=IN IP4 999.1.1.1\r\n",
                SdpError::BadConnection("IN IP4 999.1.1.1".to_owned()),
            ),
            (
                "v=0\r\nc=IN IP6 10.0.0.1\r\n",
                SdpError::BadConnection("IN IP6 10.0.0.1".to_owned()),
            ),
            (
                "v=0\r\nm=audio x RTP/AVP 0\r\n",
                SdpError::BadMedia("audio x RTP/AVP 0".to_owned()),
            ),
            (
                "v=0\r\nm=audio 4000 RTP/AVP\r\n",
                SdpError::BadMedia("audio 4000 RTP/AVP".to_owned()),
            ),
            (
                "v=0\r\nm=audio 4000 RTP/AVP 300\r\n",
                SdpError::BadMedia("audio 4000 RTP/AVP 300".to_owned()),
            ),
            (
                "v=0\r\nm=audio 4000 RTP/AVP 0\r\na=rtpmap:0 PCMU\r\n",
                SdpError::BadRtpmap("0 PCMU".to_owned()),
            ),
        ] {
            assert_eq!(
                SessionDescription::parse(body.as_bytes()),
                Err(want),
                "{body:?}"
            );
        }
        let crypto = |line: &str| {
            SessionDescription::parse(
                format!("{head}m=audio 4000 RTP/SAVP 0\r\na=crypto:{line}\r\n").as_bytes(),
            )
        };
        for (line, want) in [
            (
                format!("x AES_CM_128_HMAC_SHA1_80 inline:{key}"),
                CryptoError::Tag,
            ),
            ("1 AES_CM_128_HMAC_SHA1_80".to_owned(), CryptoError::Fields),
            (
                format!("1 AES_CM_128_HMAC_SHA1_80 uri:{key}"),
                CryptoError::KeyMethod,
            ),
            (
                "1 AES_CM_128_HMAC_SHA1_80 inline:!!!!".to_owned(),
                CryptoError::Base64,
            ),
            (
                "1 AES_CM_128_HMAC_SHA1_80 inline:QUJD".to_owned(),
                CryptoError::KeyLength(3),
            ),
        ] {
            let e = crypto(&line).unwrap_err();
            assert_eq!(e, SdpError::BadCrypto(want));
            assert!(!e.to_string().contains(key) && !format!("{e:?}").contains(key));
        }
        assert_eq!(
            SessionDescription::parse(&vec![b'v'; MAX_SDP_LEN + 1]),
            Err(SdpError::TooLarge(MAX_SDP_LEN + 1))
        );
        assert_eq!(
            SessionDescription::parse(b"v=0\r\ns=\xff\r\n"),
            Err(SdpError::NotUtf8)
        );
        let many = format!("{head}{}", "m=audio 1 RTP/AVP 0\r\n".repeat(MAX_MEDIA + 1));
        assert_eq!(
            SessionDescription::parse(many.as_bytes()),
            Err(SdpError::TooMany("media lines"))
        );
        let o = SessionDescription::parse(format!("{head}m=audio 4000 RTP/AVP 0\r\n").as_bytes())
            .unwrap();
        let mut rng = SplitMix64::new(5);
        assert_eq!(
            answer(&o, &local(1), SrtpKey::random(&mut rng), false).unwrap_err(),
            SdpError::NoConnection
        );
        let o = SessionDescription::parse(
            format!("{head}c=IN IP4 1.2.3.4\r\nm=audio 4000 RTP/AVP 18 9\r\n").as_bytes(),
        )
        .unwrap();
        assert_eq!(
            answer(&o, &local(1), SrtpKey::random(&mut rng), false).unwrap_err(),
            SdpError::NoCommonCodec
        );
        let o =
            SessionDescription::parse(format!("{head}m=audio 0 RTP/AVP 0\r\n").as_bytes()).unwrap();
        assert_eq!(
            answer(&o, &local(1), SrtpKey::random(&mut rng), false).unwrap_err(),
            SdpError::NoAudio
        );
    }

    #[test]
    fn ports_are_even_in_range_and_free() {
        let mut rng = SplitMix64::new(11);
        let r = RtpPortRange::default();
        for _ in 0..500 {
            let p = r.choose(&mut rng, &[]).unwrap();
            assert!(p % 2 == 0 && (r.min..r.max).contains(&p), "{p}");
        }
        let tight = RtpPortRange {
            min: 3001,
            max: 3005,
        };
        let mut seen = [tight.choose(&mut rng, &[]).unwrap(), 0];
        seen[1] = tight.choose(&mut rng, &[seen[0]]).unwrap();
        seen.sort_unstable();
        assert_eq!(seen, [3002, 3004]);
        assert_eq!(
            tight.choose(&mut rng, &seen),
            Err(SdpError::NoPort {
                min: 3001,
                max: 3005
            })
        );
        for (min, max) in [(3000, 3000), (3001, 3002), (65535, 65535), (0, 1)] {
            assert!(
                RtpPortRange { min, max }.choose(&mut rng, &[]).is_err(),
                "{min}..{max}"
            );
        }
        let mut p = Profile::new();
        assert_eq!(RtpPortRange::from_profile(&p), RtpPortRange::default());
        p.set("RTP_Port_Min", "20000", None, 0);
        p.set("RTP_Port_Max", "10000", None, 0);
        assert_eq!(
            RtpPortRange::from_profile(&p),
            RtpPortRange {
                min: 10000,
                max: 20000
            }
        );
    }

    #[test]
    fn random_bytes_never_panic() {
        let mut rng = SplitMix64::new(0x5d9);
        let mut k = SrtpKey::random(&mut rng).inline();
        k.push_str("|2^31|1:1");
        let base = format!(
            "{SIPP_OFFER}m=audio 7000 RTP/SAVP 0 101\r\nc=IN IP6 ::1\r\n\
             a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:{k}\r\na=fmtp:101 0-15\r\n"
        );
        let base = base.as_bytes();
        let mut parsed = 0;
        for _ in 0..20_000 {
            let mut b = base.to_vec();
            for _ in 0..(rng.next_u64() % 6) {
                let i = usize::try_from(rng.next_u64() % b.len() as u64).unwrap();
                b[i] = u8::try_from(rng.next_u64() % 256).unwrap();
            }
            let c = usize::try_from(rng.next_u64() % (b.len() as u64 + 1)).unwrap();
            if let Ok(sdp) = SessionDescription::parse(&b[..c]) {
                parsed += 1;
                let _ = answer(&sdp, &local(2000), SrtpKey::random(&mut rng), false);
                let again = SessionDescription::parse(sdp.to_wire().as_bytes());
                let _ = again.map(|a| accept_answer(&sdp, &a));
            }
        }
        assert!(parsed > 1000, "{parsed}");
    }
}
