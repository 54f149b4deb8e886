//! Message framing for SIP over TCP/TLS (RFC 3261 §18.3) and the size check of UDP datagrams.
//!
//! A stream carries messages back to back; each ends after its headers (the first empty line)
//! plus `Content-Length` bytes of body. Between messages, RFC 5626 §3.5.1 keep-alives may appear:
//! a double CRLF "ping" (answer with a single CRLF "pong") and the single CRLF "pong".
//!
//! # Decisions
//! - The header block ends at the first `CRLF CRLF`; bare LF line ends are not accepted.
//! - `Content-Length` (or compact `l`) is required on streams (RFC 3261 §20.14); a missing,
//!   non-numeric or conflicting (two different values) length is an error, as is a length over
//!   [`FrameLimits::max_body`]. Header lines may be folded (RFC 3261 §7.3.1).
//! - A CRLF at a message boundary followed by anything but CR is a pong; `CRLF CRLF` is a ping.
//!   A CRLF alone at the end of the buffered bytes is a pong at once (waiting would delay the
//!   keep-alive check); a ping split after its first CRLF is then read as two pongs.
//! - An error poisons the stream (framing is lost): every later call returns it again and the
//!   shell must close the connection.
//! - Datagrams: a `Content-Length` smaller than the body cuts the body; a larger one is an error
//!   (RFC 3261 §18.3); without one the body runs to the end of the datagram.

use std::fmt;

/// Size limits for everything read from the network.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameLimits {
    /// The longest start line plus headers, including the empty line.
    pub max_header: usize,
    /// The longest body.
    pub max_body: usize,
    /// The most bytes buffered from a stream at once.
    pub max_buffer: usize,
    /// The longest UDP datagram accepted.
    pub max_datagram: usize,
}

impl Default for FrameLimits {
    /// 16 KiB of headers, 64 KiB of body, a buffer that holds one largest message, and
    /// datagrams up to 65 535 bytes (the UDP maximum).
    fn default() -> Self {
        Self {
            max_header: 16 * 1024,
            max_body: 64 * 1024,
            max_buffer: 80 * 1024,
            max_datagram: 65_535,
        }
    }
}

/// Why bytes could not be framed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum FrameError {
    /// No end of headers within [`FrameLimits::max_header`] bytes.
    HeadersTooLong {
        /// The limit.
        limit: usize,
    },
    /// The body announced is longer than [`FrameLimits::max_body`].
    BodyTooLarge {
        /// The announced length.
        length: usize,
        /// The limit.
        limit: usize,
    },
    /// More than [`FrameLimits::max_buffer`] bytes are waiting.
    BufferFull {
        /// The limit.
        limit: usize,
    },
    /// A stream message without `Content-Length`.
    MissingContentLength,
    /// A `Content-Length` that is not a decimal number.
    BadContentLength {
        /// The value.
        value: String,
    },
    /// Two `Content-Length` headers with different values.
    ConflictingContentLength {
        /// The first value.
        first: usize,
        /// The other value.
        second: usize,
    },
    /// A datagram longer than [`FrameLimits::max_datagram`].
    DatagramTooLarge {
        /// Its length.
        len: usize,
        /// The limit.
        limit: usize,
    },
    /// A datagram without the empty line that ends the headers.
    NoHeaderEnd,
    /// A datagram whose `Content-Length` exceeds the bytes that follow the headers.
    TruncatedBody {
        /// The announced length.
        declared: usize,
        /// The bytes present.
        available: usize,
    },
}

impl fmt::Display for FrameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::HeadersTooLong { limit } => {
                write!(f, "no end of headers within {limit} bytes")
            }
            Self::BodyTooLarge { length, limit } => {
                write!(f, "Content-Length {length} exceeds the body limit {limit}")
            }
            Self::BufferFull { limit } => write!(f, "more than {limit} bytes buffered"),
            Self::MissingContentLength => f.write_str("stream message without Content-Length"),
            Self::BadContentLength { value } => write!(f, "invalid Content-Length {value:?}"),
            Self::ConflictingContentLength { first, second } => {
                write!(f, "conflicting Content-Length values {first} and {second}")
            }
            Self::DatagramTooLarge { len, limit } => {
                write!(f, "datagram of {len} bytes exceeds {limit}")
            }
            Self::NoHeaderEnd => f.write_str("datagram without the empty line after the headers"),
            Self::TruncatedBody {
                declared,
                available,
            } => write!(
                f,
                "Content-Length {declared} but only {available} body bytes in the datagram"
            ),
        }
    }
}

impl std::error::Error for FrameError {}

/// One unit read from a stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    /// A whole message: headers and body.
    Message(Vec<u8>),
    /// A double CRLF keep-alive: answer with a single CRLF.
    Ping,
    /// A single CRLF: the answer to our ping.
    Pong,
}

/// Splits a TCP/TLS byte stream into [`Frame`]s.
///
/// Call order: [`StreamFramer::push`] what was read (at most [`StreamFramer::room`] bytes),
/// then call [`StreamFramer::next_frame`] until it returns `Ok(None)`. On `Err`, close the
/// connection.
#[derive(Debug, Clone)]
pub struct StreamFramer {
    limits: FrameLimits,
    buf: Vec<u8>,
    /// How far the search for the end of headers got in the current message.
    scanned: usize,
    /// The current message's header length and body length, once its headers are complete.
    sizes: Option<(usize, usize)>,
    error: Option<FrameError>,
}

impl StreamFramer {
    /// An empty framer.
    pub const fn new(limits: FrameLimits) -> Self {
        Self {
            limits,
            buf: Vec::new(),
            scanned: 0,
            sizes: None,
            error: None,
        }
    }

    /// How many more bytes may be pushed.
    pub fn room(&self) -> usize {
        self.limits.max_buffer.saturating_sub(self.buf.len())
    }

    /// How many bytes wait to be framed.
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }

    fn fail(&mut self, e: FrameError) -> FrameError {
        self.error = Some(e.clone());
        self.buf.clear();
        e
    }

    /// Appends bytes read from the stream.
    pub fn push(&mut self, data: &[u8]) -> Result<(), FrameError> {
        if let Some(e) = &self.error {
            return Err(e.clone());
        }
        if data.len() > self.room() {
            let limit = self.limits.max_buffer;
            return Err(self.fail(FrameError::BufferFull { limit }));
        }
        self.buf.extend_from_slice(data);
        Ok(())
    }

    /// The next complete frame, `Ok(None)` when more bytes are needed.
    pub fn next_frame(&mut self) -> Result<Option<Frame>, FrameError> {
        if let Some(e) = &self.error {
            return Err(e.clone());
        }
        match self.step() {
            Ok(f) => Ok(f),
            Err(e) => Err(self.fail(e)),
        }
    }

    fn consume(&mut self, n: usize) -> Vec<u8> {
        let rest = self.buf.split_off(n.min(self.buf.len()));
        self.scanned = 0;
        self.sizes = None;
        std::mem::replace(&mut self.buf, rest)
    }

    fn step(&mut self) -> Result<Option<Frame>, FrameError> {
        if self.sizes.is_none() && self.scanned == 0 {
            // At a message boundary: keep-alives.
            match self.buf.as_slice() {
                [b'\r', b'\n', b'\r', b'\n', ..] => {
                    self.consume(4);
                    return Ok(Some(Frame::Ping));
                }
                [b'\r'] | [b'\r', b'\n', b'\r'] => return Ok(None),
                [b'\r', b'\n', ..] => {
                    self.consume(2);
                    return Ok(Some(Frame::Pong));
                }
                _ => {}
            }
        }
        let (header_len, body_len) = match self.sizes {
            Some(s) => s,
            None => {
                let from = self.scanned.saturating_sub(3);
                let window = self.buf.get(from..).unwrap_or_default();
                let Some(pos) = find(window, b"\r\n\r\n") else {
                    self.scanned = self.buf.len();
                    if self.buf.len() > self.limits.max_header {
                        return Err(FrameError::HeadersTooLong {
                            limit: self.limits.max_header,
                        });
                    }
                    return Ok(None);
                };
                let header_len = from + pos + 4;
                if header_len > self.limits.max_header {
                    return Err(FrameError::HeadersTooLong {
                        limit: self.limits.max_header,
                    });
                }
                let headers = self.buf.get(..header_len).unwrap_or_default();
                let body_len = content_length(headers)?.ok_or(FrameError::MissingContentLength)?;
                if body_len > self.limits.max_body {
                    return Err(FrameError::BodyTooLarge {
                        length: body_len,
                        limit: self.limits.max_body,
                    });
                }
                self.sizes = Some((header_len, body_len));
                (header_len, body_len)
            }
        };
        let total = header_len + body_len;
        if self.buf.len() < total {
            return Ok(None);
        }
        Ok(Some(Frame::Message(self.consume(total))))
    }
}

/// One datagram, checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Datagram<'a> {
    /// A message (cut to its `Content-Length`).
    Message(&'a [u8]),
    /// Only CR/LF (or nothing): a keep-alive.
    KeepAlive,
}

/// Checks a UDP datagram against the limits and cuts it to its `Content-Length`.
pub fn datagram<'a>(data: &'a [u8], limits: &FrameLimits) -> Result<Datagram<'a>, FrameError> {
    if data.len() > limits.max_datagram {
        return Err(FrameError::DatagramTooLarge {
            len: data.len(),
            limit: limits.max_datagram,
        });
    }
    if data.iter().all(|b| matches!(b, b'\r' | b'\n')) {
        return Ok(Datagram::KeepAlive);
    }
    let header_len = match find(data, b"\r\n\r\n") {
        Some(pos) => pos + 4,
        None if data.len() > limits.max_header => {
            return Err(FrameError::HeadersTooLong {
                limit: limits.max_header,
            });
        }
        None => return Err(FrameError::NoHeaderEnd),
    };
    if header_len > limits.max_header {
        return Err(FrameError::HeadersTooLong {
            limit: limits.max_header,
        });
    }
    let available = data.len() - header_len;
    let body_len = match content_length(data.get(..header_len).unwrap_or_default())? {
        Some(n) if n > available => {
            return Err(FrameError::TruncatedBody {
                declared: n,
                available,
            });
        }
        Some(n) => n,
        None => available,
    };
    if body_len > limits.max_body {
        return Err(FrameError::BodyTooLarge {
            length: body_len,
            limit: limits.max_body,
        });
    }
    Ok(Datagram::Message(
        data.get(..header_len + body_len).unwrap_or_default(),
    ))
}

/// The first position of `needle` in `hay`.
fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// The `Content-Length` (or `l`) of a header block (start line included), unfolding
/// continuation lines. `None` when absent.
fn content_length(headers: &[u8]) -> Result<Option<usize>, FrameError> {
    // Logical lines: a physical line starting with SP/HT continues the previous one.
    let mut logical: Vec<Vec<u8>> = Vec::new();
    for line in headers.split(|&b| b == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        match (line.first(), logical.last_mut()) {
            (Some(b' ' | b'\t'), Some(prev)) => {
                prev.push(b' ');
                prev.extend_from_slice(line);
            }
            _ => logical.push(line.to_vec()),
        }
    }
    let mut found: Option<usize> = None;
    // Skip the start line.
    for line in logical.iter().skip(1) {
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            continue;
        };
        let (name, value) = line.split_at(colon);
        let name = name.trim_ascii();
        if !(name.eq_ignore_ascii_case(b"content-length") || name.eq_ignore_ascii_case(b"l")) {
            continue;
        }
        let value = value.get(1..).unwrap_or_default().trim_ascii();
        let bad = || FrameError::BadContentLength {
            value: String::from_utf8_lossy(value).into_owned(),
        };
        if value.is_empty() || value.len() > 10 || !value.iter().all(u8::is_ascii_digit) {
            return Err(bad());
        }
        let n: usize = std::str::from_utf8(value)
            .ok()
            .and_then(|v| v.parse().ok())
            .ok_or_else(bad)?;
        match found {
            Some(first) if first != n => {
                return Err(FrameError::ConflictingContentLength { first, second: n });
            }
            _ => found = Some(n),
        }
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use crate::sip::{Rng, SplitMix64};

    const OPTIONS: &[u8] = b"OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/TCP h;branch=z9hG4bK1\r\n\
Content-Length: 4\r\n\r\nbody";

    fn framer() -> StreamFramer {
        StreamFramer::new(FrameLimits::default())
    }

    fn all(f: &mut StreamFramer) -> Vec<Frame> {
        std::iter::from_fn(|| f.next_frame().unwrap()).collect()
    }

    #[test]
    fn splits_back_to_back_messages_fed_byte_by_byte() {
        let mut stream = Vec::new();
        stream.extend_from_slice(OPTIONS);
        stream.extend_from_slice(b"\r\n\r\n");
        let compact = b"SIP/2.0 200 OK\r\nl: 0\r\n\r\n";
        stream.extend_from_slice(compact);
        stream.extend_from_slice(OPTIONS);
        // Whole.
        let mut f = framer();
        f.push(&stream).unwrap();
        assert_eq!(
            all(&mut f),
            vec![
                Frame::Message(OPTIONS.to_vec()),
                Frame::Ping,
                Frame::Message(compact.to_vec()),
                Frame::Message(OPTIONS.to_vec()),
            ]
        );
        assert_eq!(f.buffered(), 0);
        // Byte by byte: the same frames (the ping arrives split, see the pong rule below, so
        // feed it in one piece).
        let mut f = framer();
        let mut got = Vec::new();
        for (i, b) in stream.iter().enumerate() {
            if (OPTIONS.len()..OPTIONS.len() + 3).contains(&i) {
                continue;
            }
            if i == OPTIONS.len() + 3 {
                f.push(b"\r\n\r\n").unwrap();
            } else {
                f.push(&[*b]).unwrap();
            }
            got.extend(all(&mut f));
        }
        assert_eq!(got.len(), 4);
        assert_eq!(got[1], Frame::Ping);
        assert_eq!(got[3], Frame::Message(OPTIONS.to_vec()));
    }

    #[test]
    fn keep_alives() {
        let mut f = framer();
        f.push(b"\r\n").unwrap();
        assert_eq!(all(&mut f), vec![Frame::Pong]);
        f.push(b"\r\n\r").unwrap();
        assert_eq!(all(&mut f), vec![], "wait: ping or pong + message");
        f.push(b"\n").unwrap();
        assert_eq!(all(&mut f), vec![Frame::Ping]);
        f.push(b"\r\nSIP/2.0 200 OK\r\nContent-Length: 0\r\n\r\n")
            .unwrap();
        assert_eq!(all(&mut f).len(), 2);
    }

    #[test]
    fn folded_and_spaced_content_length() {
        let mut f = framer();
        f.push(b"MESSAGE sip:a SIP/2.0\r\nContent-Length :\r\n  3\r\n\r\nabcNEXT")
            .unwrap();
        assert_eq!(
            f.next_frame().unwrap(),
            Some(Frame::Message(
                b"MESSAGE sip:a SIP/2.0\r\nContent-Length :\r\n  3\r\n\r\nabc".to_vec()
            ))
        );
        assert_eq!(f.next_frame().unwrap(), None);
        assert_eq!(f.buffered(), 4);
    }

    #[test]
    fn stream_errors_name_the_problem_and_poison() {
        let cases: &[(&[u8], FrameError)] = &[
            (
                b"INVITE x SIP/2.0\r\nVia: a\r\n\r\n",
                FrameError::MissingContentLength,
            ),
            (
                b"INVITE x SIP/2.0\r\nContent-Length: -1\r\n\r\n",
                FrameError::BadContentLength { value: "-1".into() },
            ),
            (
                b"INVITE x SIP/2.0\r\nContent-Length: 99999999999\r\n\r\n",
                FrameError::BadContentLength {
                    value: "99999999999".into(),
                },
            ),
            (
                b"INVITE x SIP/2.0\r\nContent-Length: 1\r\nl: 2\r\n\r\n",
                FrameError::ConflictingContentLength {
                    first: 1,
                    second: 2,
                },
            ),
            (
                b"INVITE x SIP/2.0\r\nContent-Length: 65537\r\n\r\n",
                FrameError::BodyTooLarge {
                    length: 65537,
                    limit: 65536,
                },
            ),
        ];
        for (input, err) in cases {
            let mut f = framer();
            f.push(input).unwrap();
            assert_eq!(f.next_frame().as_ref(), Err(err));
            assert_eq!(f.next_frame().as_ref(), Err(err), "poisoned");
            assert_eq!(f.push(b"x").as_ref(), Err(err));
            assert!(!err.to_string().is_empty());
        }
        // Headers that never end.
        let mut f = framer();
        let junk = vec![b'a'; 1000];
        let mut result = Ok(None);
        for _ in 0..17 {
            f.push(&junk).unwrap();
            result = f.next_frame();
            if result.is_err() {
                break;
            }
        }
        assert_eq!(result, Err(FrameError::HeadersTooLong { limit: 16 * 1024 }));
        // The buffer bound.
        let mut f = StreamFramer::new(FrameLimits {
            max_buffer: 10,
            ..FrameLimits::default()
        });
        assert_eq!(f.room(), 10);
        assert_eq!(f.push(&[0; 11]), Err(FrameError::BufferFull { limit: 10 }));
    }

    #[test]
    fn datagrams() {
        let l = FrameLimits::default();
        assert_eq!(datagram(OPTIONS, &l), Ok(Datagram::Message(OPTIONS)));
        let mut extra = OPTIONS.to_vec();
        extra.extend_from_slice(b"garbage");
        assert_eq!(datagram(&extra, &l), Ok(Datagram::Message(OPTIONS)));
        let short = &OPTIONS[..OPTIONS.len() - 1];
        assert_eq!(
            datagram(short, &l),
            Err(FrameError::TruncatedBody {
                declared: 4,
                available: 3
            })
        );
        let no_cl = b"SIP/2.0 200 OK\r\n\r\nxyz";
        assert_eq!(datagram(no_cl, &l), Ok(Datagram::Message(no_cl)));
        assert_eq!(datagram(b"\r\n\r\n", &l), Ok(Datagram::KeepAlive));
        assert_eq!(datagram(b"", &l), Ok(Datagram::KeepAlive));
        assert_eq!(datagram(b"abc", &l), Err(FrameError::NoHeaderEnd));
        let big = vec![b'a'; 70_000];
        assert_eq!(
            datagram(&big, &l),
            Err(FrameError::DatagramTooLarge {
                len: 70_000,
                limit: 65_535
            })
        );
        assert_eq!(
            datagram(&big[..20_000], &l),
            Err(FrameError::HeadersTooLong { limit: 16 * 1024 })
        );
    }

    #[test]
    fn random_bytes_never_panic() {
        let pieces: [&[u8]; 10] = [
            b"\r\n",
            b"\r\n\r\n",
            b"Content-Length: 5",
            b"l:",
            b" 12",
            b"INVITE sip:x SIP/2.0",
            b"\r",
            b"\n",
            b"abc",
            b"\xff\x00",
        ];
        let mut rng = SplitMix64::new(0xf4a3);
        let limits = FrameLimits {
            max_header: 256,
            max_body: 64,
            max_buffer: 512,
            max_datagram: 400,
        };
        for round in 0..5_000 {
            let mut f = StreamFramer::new(limits);
            for _ in 0..20 {
                let n = usize::try_from(rng.next_u64() % 6).unwrap();
                let mut chunk = Vec::new();
                for _ in 0..n {
                    if round % 3 == 0 {
                        chunk.push(rng.next_u64().to_le_bytes()[0]);
                    } else {
                        let i = usize::try_from(rng.next_u64() % 10).unwrap();
                        chunk.extend_from_slice(pieces[i]);
                    }
                }
                let _ = datagram(&chunk, &limits);
                if f.push(&chunk).is_err() {
                    break;
                }
                while let Ok(Some(frame)) = f.next_frame() {
                    if let Frame::Message(m) = frame {
                        assert!(m.len() <= limits.max_header + limits.max_body);
                    }
                }
            }
        }
    }
}
