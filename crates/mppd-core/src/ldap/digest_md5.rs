//! SASL DIGEST-MD5 (RFC 2831), client side, `qop=auth` only (no security layer: the
//! connection is protected by TLS or not at all).
//!
//! Sans-IO: the shell passes the server's challenge and a fresh client nonce in, sends the
//! response out, and hands the server's final `rspauth` back for verification (mutual
//! authentication). MD5 is refused in FIPS mode by [`super::bind_plan`], never here.

use std::fmt;

use md5::{Digest, Md5};

/// Longest challenge accepted (RFC 2831 §2.1.1: 2048 bytes).
pub const MAX_CHALLENGE_LEN: usize = 2048;

/// Why a DIGEST-MD5 exchange failed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DigestError {
    /// The challenge is longer than [`MAX_CHALLENGE_LEN`].
    ChallengeTooLong(usize),
    /// The challenge is not a list of `name=value` pairs.
    Malformed(&'static str),
    /// The challenge lacks a directive the client needs (`nonce`).
    Missing(&'static str),
    /// A directive that may appear once appears twice.
    Duplicate(&'static str),
    /// The server does not offer `qop=auth`.
    NoQopAuth,
    /// The challenge's `algorithm` is not `md5-sess`.
    BadAlgorithm,
    /// A user name or password cannot be written in ISO 8859-1 for a server that does not take
    /// UTF-8.
    Charset,
    /// The server's `rspauth` does not prove it knows the password.
    BadRspauth,
}

impl fmt::Display for DigestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::ChallengeTooLong(n) => {
                write!(f, "challenge of {n} bytes (at most {MAX_CHALLENGE_LEN})")
            }
            Self::Malformed(why) => write!(f, "malformed challenge: {why}"),
            Self::Missing(d) => write!(f, "the challenge has no {d}"),
            Self::Duplicate(d) => write!(f, "the challenge repeats {d}"),
            Self::NoQopAuth => f.write_str("the server does not offer qop=auth"),
            Self::BadAlgorithm => f.write_str("the challenge's algorithm is not md5-sess"),
            Self::Charset => f.write_str(
                "the user name or password is not ISO 8859-1 and the server does not take UTF-8",
            ),
            Self::BadRspauth => {
                f.write_str("the server's rspauth is wrong (it does not know the password)")
            }
        }
    }
}

impl std::error::Error for DigestError {}

/// The server's first challenge (RFC 2831 §2.1.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    /// The realms offered (possibly none).
    pub realms: Vec<String>,
    /// The server nonce.
    pub nonce: String,
    /// The qop values offered (default `auth`).
    pub qop: Vec<String>,
    /// `charset=utf-8`.
    pub utf8: bool,
}

/// Splits `a=b, c="d\"e"` into pairs (values unquoted, `\` escapes removed).
fn directives(text: &str) -> Result<Vec<(String, String)>, DigestError> {
    let b = text.as_bytes();
    let mut i = 0;
    let mut out = Vec::new();
    loop {
        while i < b.len() && (b[i] == b',' || b[i].is_ascii_whitespace()) {
            i += 1;
        }
        if i >= b.len() {
            return Ok(out);
        }
        let start = i;
        while i < b.len() && b[i] != b'=' && b[i] != b',' {
            i += 1;
        }
        if i >= b.len() || b[i] != b'=' {
            return Err(DigestError::Malformed("a directive without '='"));
        }
        let name = text[start..i].trim().to_ascii_lowercase();
        if name.is_empty() {
            return Err(DigestError::Malformed("an empty directive name"));
        }
        i += 1;
        while i < b.len() && b[i].is_ascii_whitespace() {
            i += 1;
        }
        let mut value = Vec::new();
        if i < b.len() && b[i] == b'"' {
            i += 1;
            loop {
                match b.get(i) {
                    None => return Err(DigestError::Malformed("an unterminated quoted string")),
                    Some(b'"') => {
                        i += 1;
                        break;
                    }
                    Some(b'\\') => {
                        let c = *b
                            .get(i + 1)
                            .ok_or(DigestError::Malformed("a '\\' at the end"))?;
                        value.push(c);
                        i += 2;
                    }
                    Some(&c) => {
                        value.push(c);
                        i += 1;
                    }
                }
            }
        } else {
            while i < b.len() && b[i] != b',' {
                value.push(b[i]);
                i += 1;
            }
            while value.last().is_some_and(u8::is_ascii_whitespace) {
                value.pop();
            }
        }
        let value =
            String::from_utf8(value).map_err(|_| DigestError::Malformed("a value not UTF-8"))?;
        out.push((name, value));
    }
}

impl Challenge {
    /// Parses the server's challenge.
    pub fn parse(bytes: &[u8]) -> Result<Self, DigestError> {
        if bytes.len() > MAX_CHALLENGE_LEN {
            return Err(DigestError::ChallengeTooLong(bytes.len()));
        }
        let text =
            std::str::from_utf8(bytes).map_err(|_| DigestError::Malformed("not UTF-8 text"))?;
        let mut c = Self {
            realms: Vec::new(),
            nonce: String::new(),
            qop: Vec::new(),
            utf8: false,
        };
        let (mut nonce, mut qop, mut charset, mut algorithm) = (false, false, false, false);
        for (name, value) in directives(text)? {
            let once = |seen: &mut bool, d: &'static str| {
                if std::mem::replace(seen, true) {
                    Err(DigestError::Duplicate(d))
                } else {
                    Ok(())
                }
            };
            match name.as_str() {
                "realm" => c.realms.push(value),
                "nonce" => {
                    once(&mut nonce, "nonce")?;
                    c.nonce = value;
                }
                "qop" => {
                    once(&mut qop, "qop")?;
                    c.qop = value.split(',').map(|q| q.trim().to_owned()).collect();
                }
                "charset" => {
                    once(&mut charset, "charset")?;
                    c.utf8 = value.eq_ignore_ascii_case("utf-8");
                }
                "algorithm" => {
                    once(&mut algorithm, "algorithm")?;
                    if !value.eq_ignore_ascii_case("md5-sess") {
                        return Err(DigestError::BadAlgorithm);
                    }
                }
                _ => {}
            }
        }
        if !nonce {
            return Err(DigestError::Missing("nonce"));
        }
        if !algorithm {
            return Err(DigestError::Missing("algorithm"));
        }
        if !qop {
            c.qop = vec!["auth".to_owned()];
        }
        if !c.qop.iter().any(|q| q == "auth") {
            return Err(DigestError::NoQopAuth);
        }
        Ok(c)
    }
}

/// The client's credentials and the server it talks to.
#[derive(Clone)]
pub struct Credentials<'a> {
    /// The authentication id (`LDAP_Username`).
    pub username: &'a str,
    /// The password.
    pub password: &'a str,
    /// The service and host of `digest-uri` (`ldap/host`).
    pub digest_uri: &'a str,
}

impl fmt::Debug for Credentials<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("username", &self.username)
            .field("password", &"*****")
            .field("digest_uri", &self.digest_uri)
            .finish()
    }
}

/// The client's response and what it needs to check the server's `rspauth`.
#[derive(Clone, PartialEq, Eq)]
pub struct Response {
    /// The response to send (the SASL credentials of the second bind).
    pub text: String,
    /// The `rspauth` value a server that knows the password sends back.
    expected_rspauth: String,
}

impl fmt::Debug for Response {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The response is a password hash: not for logs.
        f.write_str("Response { .. }")
    }
}

impl Response {
    /// Checks the server's final message `rspauth=...` (RFC 2831 §2.1.3).
    pub fn verify_rspauth(&self, server_final: &[u8]) -> Result<(), DigestError> {
        let text = std::str::from_utf8(server_final)
            .map_err(|_| DigestError::Malformed("not UTF-8 text"))?;
        let got = directives(text)?
            .into_iter()
            .find(|(n, _)| n == "rspauth")
            .map(|(_, v)| v)
            .ok_or(DigestError::Missing("rspauth"))?;
        if got.eq_ignore_ascii_case(&self.expected_rspauth) {
            Ok(())
        } else {
            Err(DigestError::BadRspauth)
        }
    }
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(char::from(DIGITS[usize::from(b >> 4)]));
        s.push(char::from(DIGITS[usize::from(b & 0x0f)]));
    }
    s
}

/// ISO 8859-1 bytes of `s`, or `None` when a character is outside it.
fn latin1(s: &str) -> Option<Vec<u8>> {
    s.chars().map(|c| u8::try_from(u32::from(c)).ok()).collect()
}

/// A quoted-string value (`"` and `\` escaped).
fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

/// Computes the client's response to `challenge` (RFC 2831 §2.1.2) with `qop=auth`,
/// `nc=00000001`, the first realm offered (none: the empty realm) and `cnonce` (at least 64
/// bits of randomness, chosen by the caller).
pub fn respond(
    challenge: &Challenge,
    creds: &Credentials<'_>,
    cnonce: &str,
) -> Result<Response, DigestError> {
    let realm = challenge.realms.first().map_or("", String::as_str);
    let (user, pass, realm_b) = if challenge.utf8 {
        (
            creds.username.as_bytes().to_vec(),
            creds.password.as_bytes().to_vec(),
            realm.as_bytes().to_vec(),
        )
    } else {
        (
            latin1(creds.username).ok_or(DigestError::Charset)?,
            latin1(creds.password).ok_or(DigestError::Charset)?,
            latin1(realm).ok_or(DigestError::Charset)?,
        )
    };
    let nc = "00000001";
    let qop = "auth";
    // A1 = H(user:realm:pass) ":" nonce ":" cnonce
    let mut inner = Vec::with_capacity(user.len() + realm_b.len() + pass.len() + 2);
    inner.extend_from_slice(&user);
    inner.push(b':');
    inner.extend_from_slice(&realm_b);
    inner.push(b':');
    inner.extend_from_slice(&pass);
    let mut a1 = Md5::digest(&inner).to_vec();
    a1.extend_from_slice(format!(":{}:{cnonce}", challenge.nonce).as_bytes());
    let ha1 = hex(&Md5::digest(&a1));
    let kd = |a2: &str| {
        let ha2 = hex(&Md5::digest(a2.as_bytes()));
        hex(&Md5::digest(
            format!("{ha1}:{}:{nc}:{cnonce}:{qop}:{ha2}", challenge.nonce).as_bytes(),
        ))
    };
    let response = kd(&format!("AUTHENTICATE:{}", creds.digest_uri));
    let expected_rspauth = kd(&format!(":{}", creds.digest_uri));
    let mut text = format!("username={}", quote(creds.username));
    if !challenge.realms.is_empty() {
        text.push_str(&format!(",realm={}", quote(realm)));
    }
    text.push_str(&format!(
        ",nonce={},cnonce={},nc={nc},qop={qop},digest-uri={},response={response}",
        quote(&challenge.nonce),
        quote(cnonce),
        quote(creds.digest_uri),
    ));
    if challenge.utf8 {
        text.push_str(",charset=utf-8");
    }
    Ok(Response {
        text,
        expected_rspauth,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 2831 §4, the IMAP example.
    #[test]
    fn rfc_2831_imap_example() {
        let c = Challenge::parse(
            b"realm=\"elwood.innosoft.com\",nonce=\"OA6MG9tEQGm2hh\",qop=\"auth\",\
              algorithm=md5-sess,charset=utf-8",
        )
        .unwrap();
        assert_eq!(c.realms, ["elwood.innosoft.com"]);
        assert!(c.utf8);
        let creds = Credentials {
            username: "chris",
            password: "secret",
            digest_uri: "imap/elwood.innosoft.com",
        };
        let r = respond(&c, &creds, "OA6MHXh6VqTrRk").unwrap();
        assert_eq!(
            r.text,
            "username=\"chris\",realm=\"elwood.innosoft.com\",nonce=\"OA6MG9tEQGm2hh\",\
             cnonce=\"OA6MHXh6VqTrRk\",nc=00000001,qop=auth,digest-uri=\"imap/elwood.innosoft.com\",\
             response=d388dad90d4bbd760a152321f2143af7,charset=utf-8"
        );
        r.verify_rspauth(b"rspauth=ea40f60335c427b5527b84dbabcdfffd")
            .unwrap();
        assert_eq!(
            r.verify_rspauth(b"rspauth=00000000000000000000000000000000"),
            Err(DigestError::BadRspauth)
        );
    }

    /// RFC 2831 §4, the ACAP example.
    #[test]
    fn rfc_2831_acap_example() {
        let c = Challenge::parse(
            b"realm=\"elwood.innosoft.com\",nonce=\"OA9BSXrbuRhWay\",qop=\"auth\",\
              algorithm=md5-sess,charset=utf-8",
        )
        .unwrap();
        let creds = Credentials {
            username: "chris",
            password: "secret",
            digest_uri: "acap/elwood.innosoft.com",
        };
        let r = respond(&c, &creds, "OA9BSuZWMSpW8m").unwrap();
        assert!(r.text.contains("response=6084c6db3fede7352c551284490fd0fc"));
        r.verify_rspauth(b"rspauth=2f0b3d7c3c2e486600ef710726aa2eae")
            .unwrap();
    }

    #[test]
    fn bad_challenges_are_errors() {
        assert_eq!(
            Challenge::parse(b"realm=\"x\",algorithm=md5-sess"),
            Err(DigestError::Missing("nonce"))
        );
        assert_eq!(
            Challenge::parse(b"nonce=\"a\",qop=\"auth-conf\",algorithm=md5-sess"),
            Err(DigestError::NoQopAuth)
        );
        assert_eq!(
            Challenge::parse(b"nonce=\"a\",nonce=\"b\",algorithm=md5-sess"),
            Err(DigestError::Duplicate("nonce"))
        );
        assert!(Challenge::parse(b"nonce=\"a").is_err());
        assert!(Challenge::parse(b"garbage").is_err());
        assert!(Challenge::parse(&[b'a'; 3000]).is_err());
        assert!(Challenge::parse(&[0xff, 0xfe]).is_err());
    }

    #[test]
    fn latin1_charset_without_utf8() {
        let c = Challenge::parse(b"nonce=\"n\",algorithm=md5-sess").unwrap();
        let ok = Credentials {
            username: "müller",
            password: "pw",
            digest_uri: "ldap/h",
        };
        assert!(respond(&c, &ok, "c").is_ok());
        let bad = Credentials {
            username: "用户",
            password: "pw",
            digest_uri: "ldap/h",
        };
        assert_eq!(respond(&c, &bad, "c"), Err(DigestError::Charset));
        assert!(!format!("{ok:?}").contains("pw"));
    }
}
