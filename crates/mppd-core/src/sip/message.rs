//! SIP messages (RFC 3261 §7): a start line, the headers in the order received (names as
//! written, values trimmed, folded lines joined) and the body.
//!
//! This is deliberately small: the phone's SIP security needs the header order (RFC 8760's
//! top-most challenge), several headers of one name kept apart (`WWW-Authenticate`), the
//! compact forms (`v`, `f`, `t`, `i`, `m`, `l`, `c`, `k`, `s`, `e`), and strict limits. Header
//! values are kept as text; the few the phone acts on (Via branch, CSeq, tags, Expires) have
//! accessors. Parsing never panics; anything malformed is a [`MessageError`] naming what.

use std::fmt;

use super::transaction::{RequestInfo, ResponseInfo};

/// The most headers one message may carry.
pub const MAX_HEADERS: usize = 128;
/// The longest header line (after unfolding): a registrar's 200 lists every binding of the
/// address of record in one `Contact` line.
pub const MAX_HEADER_LINE: usize = 16 * 1024;

/// The start line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StartLine {
    /// `METHOD URI SIP/2.0`.
    Request {
        /// The method, as written (methods are case-sensitive).
        method: String,
        /// The Request-URI.
        uri: String,
    },
    /// `SIP/2.0 CODE REASON`.
    Response {
        /// The status code, 100..=699.
        code: u16,
        /// The reason phrase.
        reason: String,
    },
}

/// One header line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    /// The name as written.
    pub name: String,
    /// The value, trimmed, folded lines joined with one space.
    pub value: String,
}

/// A SIP request or response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// The start line.
    pub start: StartLine,
    /// The headers, in order.
    pub headers: Vec<Header>,
    /// The body (its length is the `Content-Length` printed).
    pub body: Vec<u8>,
}

/// Why bytes are not a SIP message.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum MessageError {
    /// No blank line ends the headers.
    NoHeaderEnd,
    /// The start line is neither `METHOD URI SIP/2.0` nor `SIP/2.0 CODE REASON`.
    BadStartLine(String),
    /// A header line without a `:` or with an empty or invalid name.
    BadHeader(String),
    /// More than [`MAX_HEADERS`] headers, or a line longer than [`MAX_HEADER_LINE`].
    TooLarge(&'static str),
    /// The headers are not UTF-8.
    NotUtf8,
    /// `Content-Length` is not a number, or says more than the bytes present.
    BadContentLength(String),
    /// A header the request needs is missing or malformed (`Via`, `CSeq`, ...).
    Missing(&'static str),
}

impl fmt::Display for MessageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NoHeaderEnd => f.write_str("no blank line ends the headers"),
            Self::BadStartLine(l) => write!(f, "bad start line {l:?}"),
            Self::BadHeader(l) => write!(f, "bad header line {l:?}"),
            Self::TooLarge(what) => write!(f, "too large: {what}"),
            Self::NotUtf8 => f.write_str("the headers are not UTF-8"),
            Self::BadContentLength(v) => write!(f, "bad Content-Length {v:?}"),
            Self::Missing(what) => write!(f, "missing or malformed {what}"),
        }
    }
}

impl std::error::Error for MessageError {}

/// The long form of a compact header name (RFC 3261 §7.3.3, RFC 3515, RFC 3329 none).
fn long_name(name: &str) -> &str {
    if name.len() != 1 {
        return name;
    }
    match name.as_bytes()[0].to_ascii_lowercase() {
        b'v' => "Via",
        b'f' => "From",
        b't' => "To",
        b'i' => "Call-ID",
        b'm' => "Contact",
        b'l' => "Content-Length",
        b'c' => "Content-Type",
        b'k' => "Supported",
        b's' => "Subject",
        b'e' => "Content-Encoding",
        b'o' => "Event",
        b'r' => "Refer-To",
        b'u' => "Allow-Events",
        _ => name,
    }
}

/// Whether header name `a` (as written, maybe compact) is `b` (a long name).
pub fn same_name(a: &str, b: &str) -> bool {
    long_name(a).eq_ignore_ascii_case(b)
}

fn is_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-.!%*_+`'~".contains(&b))
}

impl Message {
    /// A request with no headers yet.
    pub fn request(method: &str, uri: &str) -> Self {
        Self {
            start: StartLine::Request {
                method: method.to_owned(),
                uri: uri.to_owned(),
            },
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    /// A response with no headers yet.
    pub fn response(code: u16, reason: &str) -> Self {
        Self {
            start: StartLine::Response {
                code,
                reason: reason.to_owned(),
            },
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    /// Parses one whole message (a datagram, or a frame of the stream framer). The body is
    /// what follows the blank line, cut to `Content-Length` when given.
    pub fn parse(bytes: &[u8]) -> Result<Self, MessageError> {
        let end = memfind(bytes, b"\r\n\r\n").ok_or(MessageError::NoHeaderEnd)?;
        let head = std::str::from_utf8(&bytes[..end]).map_err(|_| MessageError::NotUtf8)?;
        let rest = &bytes[end + 4..];
        let mut lines = head.split("\r\n");
        let first = lines.next().unwrap_or("");
        let start = parse_start_line(first)?;
        let mut headers: Vec<Header> = Vec::new();
        for line in lines {
            if line.starts_with([' ', '\t']) {
                let Some(last) = headers.last_mut() else {
                    return Err(MessageError::BadHeader(truncate(line)));
                };
                last.value.push(' ');
                last.value.push_str(line.trim());
                if last.value.len() > MAX_HEADER_LINE {
                    return Err(MessageError::TooLarge("header line"));
                }
                continue;
            }
            if line.len() > MAX_HEADER_LINE {
                return Err(MessageError::TooLarge("header line"));
            }
            let (name, value) = line
                .split_once(':')
                .ok_or_else(|| MessageError::BadHeader(truncate(line)))?;
            let name = name.trim_end();
            if !is_token(name) {
                return Err(MessageError::BadHeader(truncate(line)));
            }
            if headers.len() == MAX_HEADERS {
                return Err(MessageError::TooLarge("header count"));
            }
            headers.push(Header {
                name: name.to_owned(),
                value: value.trim().to_owned(),
            });
        }
        let mut msg = Self {
            start,
            headers,
            body: Vec::new(),
        };
        let body = match msg.header("Content-Length") {
            Some(v) => {
                let n: usize = v
                    .parse()
                    .map_err(|_| MessageError::BadContentLength(truncate(v)))?;
                if n > rest.len() {
                    return Err(MessageError::BadContentLength(truncate(v)));
                }
                &rest[..n]
            }
            None => rest,
        };
        msg.body = body.to_vec();
        Ok(msg)
    }

    /// The wire form; `Content-Length` is set to the body's length (replacing any).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(512 + self.body.len());
        match &self.start {
            StartLine::Request { method, uri } => {
                out.extend_from_slice(format!("{method} {uri} SIP/2.0\r\n").as_bytes());
            }
            StartLine::Response { code, reason } => {
                out.extend_from_slice(format!("SIP/2.0 {code} {reason}\r\n").as_bytes());
            }
        }
        for h in &self.headers {
            if same_name(&h.name, "Content-Length") {
                continue;
            }
            out.extend_from_slice(h.name.as_bytes());
            out.extend_from_slice(b": ");
            out.extend_from_slice(h.value.as_bytes());
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(format!("Content-Length: {}\r\n\r\n", self.body.len()).as_bytes());
        out.extend_from_slice(&self.body);
        out
    }

    /// The method of a request (`None` for a response).
    pub fn method(&self) -> Option<&str> {
        match &self.start {
            StartLine::Request { method, .. } => Some(method),
            StartLine::Response { .. } => None,
        }
    }

    /// The status code of a response (`None` for a request).
    pub fn code(&self) -> Option<u16> {
        match &self.start {
            StartLine::Response { code, .. } => Some(*code),
            StartLine::Request { .. } => None,
        }
    }

    /// The first header named `name` (compact forms match their long name).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|h| same_name(&h.name, name))
            .map(|h| h.value.as_str())
    }

    /// Every header named `name`, in order.
    pub fn headers_named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.headers
            .iter()
            .filter(move |h| same_name(&h.name, name))
            .map(|h| h.value.as_str())
    }

    /// Appends a header.
    pub fn push(&mut self, name: &str, value: impl Into<String>) -> &mut Self {
        self.headers.push(Header {
            name: name.to_owned(),
            value: value.into(),
        });
        self
    }

    /// Removes every header named `name`.
    pub fn remove(&mut self, name: &str) {
        self.headers.retain(|h| !same_name(&h.name, name));
    }

    /// The top-most Via value (the first of a comma-separated list).
    pub fn top_via(&self) -> Option<&str> {
        self.header("Via")
            .map(|v| split_commas(v).next().unwrap_or(v).trim())
    }

    /// The `branch` parameter of the top-most Via.
    pub fn via_branch(&self) -> Option<&str> {
        self.top_via().and_then(|v| param(v, "branch"))
    }

    /// The sent-by (`host[:port]`) of the top-most Via.
    pub fn via_sent_by(&self) -> Option<&str> {
        let v = self.top_via()?;
        let (_, rest) = v.split_once(char::is_whitespace)?;
        Some(rest.trim().split(';').next().unwrap_or("").trim())
    }

    /// `CSeq`: the number and the method.
    pub fn cseq(&self) -> Option<(u32, &str)> {
        let v = self.header("CSeq")?;
        let (n, m) = v.split_once(char::is_whitespace)?;
        Some((n.trim().parse().ok()?, m.trim()))
    }

    /// `Call-ID`.
    pub fn call_id(&self) -> Option<&str> {
        self.header("Call-ID")
    }

    /// The `tag` of `From`.
    pub fn from_tag(&self) -> Option<&str> {
        self.header("From").and_then(|v| param(after_uri(v), "tag"))
    }

    /// The `tag` of `To`.
    pub fn to_tag(&self) -> Option<&str> {
        self.header("To").and_then(|v| param(after_uri(v), "tag"))
    }

    /// What the transaction layer needs of a request.
    pub fn request_info(&self) -> Result<RequestInfo<'_>, MessageError> {
        Ok(RequestInfo {
            method: self.method().ok_or(MessageError::Missing("request line"))?,
            branch: self
                .via_branch()
                .ok_or(MessageError::Missing("Via branch"))?,
            sent_by: self
                .via_sent_by()
                .ok_or(MessageError::Missing("Via sent-by"))?,
        })
    }

    /// What the transaction layer needs of a response.
    pub fn response_info(&self) -> Result<ResponseInfo<'_>, MessageError> {
        Ok(ResponseInfo {
            status: self.code().ok_or(MessageError::Missing("status line"))?,
            branch: self
                .via_branch()
                .ok_or(MessageError::Missing("Via branch"))?,
            cseq_method: self.cseq().ok_or(MessageError::Missing("CSeq"))?.1,
        })
    }

    /// A response to this request (RFC 3261 §8.2.6.2): Via, From, To (with `to_tag` added when
    /// the request's To has none), Call-ID and CSeq copied.
    pub fn reply(&self, code: u16, reason: &str, to_tag: Option<&str>) -> Self {
        let mut r = Self::response(code, reason);
        for h in &self.headers {
            if same_name(&h.name, "Via")
                || same_name(&h.name, "From")
                || same_name(&h.name, "Call-ID")
                || same_name(&h.name, "CSeq")
            {
                r.headers.push(h.clone());
            } else if same_name(&h.name, "To") {
                let mut value = h.value.clone();
                if let Some(tag) = to_tag
                    && param(after_uri(&value), "tag").is_none()
                {
                    value.push_str(";tag=");
                    value.push_str(tag);
                }
                r.headers.push(Header {
                    name: h.name.clone(),
                    value,
                });
            }
        }
        r
    }
}

/// The text after a name-addr's `>` (or the whole value for an addr-spec), where header
/// parameters such as `tag` live.
fn after_uri(v: &str) -> &str {
    v.rfind('>').map_or(v, |i| &v[i + 1..])
}

/// The value of `;name=value` among the parameters of `v` (case-insensitive name; quotes
/// removed).
pub fn param<'a>(v: &'a str, name: &str) -> Option<&'a str> {
    v.split(';').skip(1).find_map(|p| {
        let (k, val) = p.split_once('=').unwrap_or((p, ""));
        k.trim()
            .eq_ignore_ascii_case(name)
            .then(|| val.trim().trim_matches('"'))
    })
}

/// Splits a header value at commas outside quotes and angle brackets.
pub fn split_commas(v: &str) -> impl Iterator<Item = &str> {
    let mut parts = Vec::new();
    let (mut quoted, mut angle, mut start) = (false, false, 0);
    let bytes = v.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' if quoted => i += 1,
            b'"' => quoted = !quoted,
            b'<' if !quoted => angle = true,
            b'>' if !quoted => angle = false,
            b',' if !quoted && !angle => {
                parts.push(&v[start..i]);
                start = i + 1;
            }
            _ => {}
        }
        i += 1;
    }
    parts.push(&v[start.min(v.len())..]);
    parts.into_iter().map(str::trim)
}

fn truncate(s: &str) -> String {
    s.chars().take(80).collect()
}

fn memfind(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

fn parse_start_line(line: &str) -> Result<StartLine, MessageError> {
    let bad = || MessageError::BadStartLine(truncate(line));
    if let Some(rest) = line.strip_prefix("SIP/2.0 ") {
        let (code, reason) = rest.split_once(' ').unwrap_or((rest, ""));
        let code: u16 = code.parse().map_err(|_| bad())?;
        if !(100..=699).contains(&code) || !code_is_3_digits(rest) {
            return Err(bad());
        }
        return Ok(StartLine::Response {
            code,
            reason: reason.to_owned(),
        });
    }
    let mut parts = line.split(' ');
    let (Some(method), Some(uri), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(bad());
    };
    if version != "SIP/2.0" || !is_token(method) || uri.is_empty() || !uri.contains(':') {
        return Err(bad());
    }
    Ok(StartLine::Request {
        method: method.to_owned(),
        uri: uri.to_owned(),
    })
}

fn code_is_3_digits(rest: &str) -> bool {
    rest.bytes().take_while(u8::is_ascii_digit).count() == 3
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use crate::provision::schedule::{Rng as _, SplitMix64};

    const REGISTER: &str = "REGISTER sip:mppd.test SIP/2.0\r\n\
        v: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bK776asdhds;rport\r\n\
        Max-Forwards: 70\r\n\
        To: <sip:1001@mppd.test>\r\n\
        f: \"Alice, A.\" <sip:1001@mppd.test>;tag=1928301774\r\n\
        i: a84b4c76e66710@pc33\r\n\
        CSeq: 314159 REGISTER\r\n\
        WWW-Authenticate: Digest realm=\"a\",\r\n nonce=\"b\"\r\n\
        WWW-Authenticate: Digest realm=\"c\"\r\n\
        l: 4\r\n\r\nbodyEXTRA";

    #[test]
    fn parses_compact_folded_and_repeated_headers() {
        let m = Message::parse(REGISTER.as_bytes()).unwrap();
        assert_eq!(m.method(), Some("REGISTER"));
        assert_eq!(m.via_branch(), Some("z9hG4bK776asdhds"));
        assert_eq!(m.via_sent_by(), Some("127.0.0.1:5060"));
        assert_eq!(m.cseq(), Some((314_159, "REGISTER")));
        assert_eq!(m.call_id(), Some("a84b4c76e66710@pc33"));
        assert_eq!(m.from_tag(), Some("1928301774"));
        assert_eq!(m.to_tag(), None);
        assert_eq!(
            m.headers_named("WWW-Authenticate").collect::<Vec<_>>(),
            ["Digest realm=\"a\", nonce=\"b\"", "Digest realm=\"c\""]
        );
        assert_eq!(m.body, b"body");
        // Printing keeps every header but writes Content-Length in its long form.
        let mut again = Message::parse(&m.to_bytes()).unwrap();
        let mut want = m.clone();
        again.remove("Content-Length");
        want.remove("Content-Length");
        assert_eq!(again, want);
        let r = m.reply(200, "OK", Some("xyz"));
        assert_eq!(r.to_tag(), Some("xyz"));
        assert_eq!(r.via_branch(), m.via_branch());
        assert!(r.header("Max-Forwards").is_none());
    }

    #[test]
    fn rejects_malformed_messages_by_name() {
        for (bytes, want) in [
            (
                &b"REGISTER sip:a SIP/2.0\r\nVia: x\r\n"[..],
                "no blank line",
            ),
            (b"HELLO\r\n\r\n", "bad start line"),
            (b"SIP/2.0 20 OK\r\n\r\n", "bad start line"),
            (b"SIP/2.0 2000 OK\r\n\r\n", "bad start line"),
            (b"INVITE sip:a SIP/3.0\r\n\r\n", "bad start line"),
            (b"INVITE sip:a SIP/2.0\r\nNoColon\r\n\r\n", "bad header"),
            (b"INVITE sip:a SIP/2.0\r\n : x\r\n\r\n", "bad header"),
            (b"INVITE sip:a SIP/2.0\r\nl: 9\r\n\r\nabc", "Content-Length"),
            (b"INVITE sip:a SIP/2.0\r\nl: -1\r\n\r\n", "Content-Length"),
            (b"INVITE sip:a SIP/2.0\r\nX: \xff\r\n\r\n", "UTF-8"),
        ] {
            let e = Message::parse(bytes).unwrap_err().to_string();
            assert!(e.contains(want), "{e} / {want}");
        }
        let many: String =
            "INVITE sip:a SIP/2.0\r\n".to_owned() + &"X: y\r\n".repeat(MAX_HEADERS + 1) + "\r\n";
        assert_eq!(
            Message::parse(many.as_bytes()),
            Err(MessageError::TooLarge("header count"))
        );
    }

    #[test]
    fn random_bytes_never_panic() {
        let mut rng = SplitMix64::new(7);
        let base = REGISTER.as_bytes();
        for _ in 0..20_000 {
            let mut b = base.to_vec();
            for _ in 0..(rng.next_u64() % 8) {
                let i = usize::try_from(rng.next_u64() % b.len() as u64).unwrap();
                b[i] = u8::try_from(rng.next_u64() % 256).unwrap();
            }
            let cut = usize::try_from(rng.next_u64() % (b.len() as u64 + 1)).unwrap();
            let _ = Message::parse(&b[..cut]);
        }
    }

    #[test]
    fn split_commas_respects_quotes_and_brackets() {
        assert_eq!(
            split_commas("\"a,b\" <sip:x@y;p=1,2>;q=1, <sip:z>").collect::<Vec<_>>(),
            ["\"a,b\" <sip:x@y;p=1,2>;q=1", "<sip:z>"]
        );
    }
}
