//! Profile bodies: plain, gzip and `--key` encrypted (`reference/mpp-provisioning.md` §2.3-§2.4).
//!
//! An encrypted body has the format of `openssl enc -aes-256-cbc -k KEY`: the 8 bytes
//! `Salted__`, an 8-byte salt, then AES-256-CBC ciphertext with PKCS#7 padding. Key and IV come
//! from `EVP_BytesToKey` with one iteration over the key string and the salt. The digest is not
//! in the file: OpenSSL 1.1.0 and later default to SHA-256, OpenSSL 1.0 and older (the Cisco
//! guides say the firmware was tested with 0.9.7c) to MD5, and Wazo's SPA plugin runs `openssl
//! enc` without `-md`. So [`decode`] tries SHA-256, then MD5 (never in FIPS mode).
//!
//! A wrong key is recognised twice over: the padding check of the last block fails, or the
//! plaintext (after an optional gunzip) does not begin, after an optional UTF-8 BOM and
//! whitespace, with `<`. "Compression must precede encryption": the body is decrypted first, and
//! the plaintext inflated when it is gzip. A plain gzip body is accepted without a key. Inflating
//! stops at [`MAX_PROFILE_BYTES`], so a gzip bomb is [`BodyError::TooLarge`], not an exhausted
//! memory.
//!
//! [`encrypt`] is the inverse, for `Report_Rule` with `--key`: its output decrypts with
//! `openssl enc -d -aes-256-cbc -md sha256 -k KEY`.

use std::fmt;
use std::io::{self, Read};

use flate2::read::MultiGzDecoder;
use mppd_config::xml::MAX_PROFILE_BYTES;
use openssl::error::ErrorStack;
use openssl::hash::MessageDigest;
use openssl::pkcs5::bytes_to_key;
use openssl::symm::{Cipher, Crypter, Mode};

/// The magic that starts an `openssl enc` body with a salt.
const SALTED: &[u8; 8] = b"Salted__";
/// Salt length of the `openssl enc` format.
const SALT_LEN: usize = 8;
/// AES block size.
const BLOCK: usize = 16;
/// The gzip magic (RFC 1952).
const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];
/// The UTF-8 byte order mark a profile may start with.
const UTF8_BOM: [u8; 3] = [0xef, 0xbb, 0xbf];
/// The largest body worth looking at: a profile of [`MAX_PROFILE_BYTES`], gzipped without any
/// gain (deflate's stored blocks add 5 bytes per 64 KiB), encrypted, with room to spare.
const MAX_INPUT_BYTES: usize = MAX_PROFILE_BYTES + MAX_PROFILE_BYTES / 1024 + 4096;

/// Why a profile body could not be decoded. The [`Display`](fmt::Display) text is the `$ERR` of
/// the syslog failure message.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum BodyError {
    /// The rule has `--key` but the body is not in the `openssl enc` format (no `Salted__`
    /// header). The phone decrypts whenever a key is present, so a plaintext body is refused.
    NotEncrypted {
        /// What the body looks like instead: `an XML profile`, `gzip data` or `unknown data`.
        found: &'static str,
    },
    /// The body is encrypted (`Salted__`) but the rule has no `--key`.
    KeyRequired,
    /// The body ends early.
    Truncated {
        /// Which part is cut: the header, the ciphertext, the gzip stream.
        what: &'static str,
    },
    /// Neither SHA-256 nor MD5 key derivation decrypts the body to a profile.
    WrongKey,
    /// SHA-256 key derivation does not decrypt the body, and MD5 derivation, which might, is
    /// refused in FIPS mode.
    Md5RefusedInFips,
    /// The key decrypts the body (the first block is a profile or gzip header) but the result,
    /// once inflated, is not an XML profile.
    NotAProfile,
    /// The gzip stream is invalid.
    Corrupt {
        /// The inflater's message.
        reason: String,
    },
    /// The decoded profile would exceed the limit (a gzip bomb, or simply too big).
    TooLarge {
        /// The limit in bytes ([`MAX_PROFILE_BYTES`]).
        limit: usize,
    },
    /// OpenSSL failed (not a property of the body).
    Crypto {
        /// OpenSSL's error stack.
        reason: String,
    },
}

impl BodyError {
    /// A short stable id: `not-encrypted`, `key-required`, `truncated`, `wrong-key`,
    /// `md5-refused-in-fips`, `not-a-profile`, `corrupt`, `too-large`, `crypto`.
    pub fn reason_id(&self) -> &'static str {
        match self {
            Self::NotEncrypted { .. } => "not-encrypted",
            Self::KeyRequired => "key-required",
            Self::Truncated { .. } => "truncated",
            Self::WrongKey => "wrong-key",
            Self::Md5RefusedInFips => "md5-refused-in-fips",
            Self::NotAProfile => "not-a-profile",
            Self::Corrupt { .. } => "corrupt",
            Self::TooLarge { .. } => "too-large",
            Self::Crypto { .. } => "crypto",
        }
    }
}

impl fmt::Display for BodyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotEncrypted { found } => write!(
                f,
                "the rule has --key but the profile is not encrypted (no openssl enc \
                 \"Salted__\" header; found {found})"
            ),
            Self::KeyRequired => f.write_str(
                "the profile is encrypted (openssl enc \"Salted__\" header) but the rule has no \
                 --key",
            ),
            Self::Truncated { what } => write!(f, "the profile body is truncated: {what}"),
            Self::WrongKey => f.write_str(
                "wrong --key: neither SHA-256 nor MD5 key derivation (openssl enc -md sha256 / \
                 -md md5) decrypts the profile",
            ),
            Self::Md5RefusedInFips => f.write_str(
                "wrong --key, or an MD5-derived key: SHA-256 key derivation does not decrypt the \
                 profile, and MD5 derivation (openssl enc -md md5, the OpenSSL 1.0 default) is \
                 refused in FIPS mode; re-encrypt with -md sha256",
            ),
            Self::NotAProfile => f.write_str(
                "the decrypted and inflated body is not an XML profile (it does not start with \
                 '<')",
            ),
            Self::Corrupt { reason } => write!(f, "the profile's gzip data is corrupt: {reason}"),
            Self::TooLarge { limit } => write!(
                f,
                "the decoded profile is larger than the {limit} bytes accepted (gzip bomb?)"
            ),
            Self::Crypto { reason } => write!(f, "OpenSSL failed: {reason}"),
        }
    }
}

impl std::error::Error for BodyError {}

impl From<ErrorStack> for BodyError {
    fn from(e: ErrorStack) -> Self {
        Self::Crypto {
            reason: e.to_string(),
        }
    }
}

/// Decode a fetched profile body to the profile's bytes.
///
/// - `key` is the rule's `--key` argument after macro expansion, quotes removed. With a key the
///   body must be `openssl enc -aes-256-cbc` output; it is decrypted with SHA-256 key
///   derivation, then with MD5 unless `fips`, and the plaintext inflated if it is gzip.
/// - Without a key, a gzip body is inflated and anything else is returned unchanged (the XML
///   parser judges it), except an encrypted body, which is [`BodyError::KeyRequired`].
///
/// The result is at most [`MAX_PROFILE_BYTES`] long.
///
/// # Errors
/// See [`BodyError`]: its text names the cause.
pub fn decode(body: &[u8], key: Option<&str>, fips: bool) -> Result<Vec<u8>, BodyError> {
    if body.len() > MAX_INPUT_BYTES {
        return Err(too_large());
    }
    match key {
        None => decode_plain(body),
        Some(key) => decrypt(body, key, fips),
    }
}

/// Encrypt a body (a `Report_Rule` upload with `--key`) the way `openssl enc -e -aes-256-cbc
/// -salt -md sha256 -k KEY` does: `Salted__`, a random 8-byte salt, AES-256-CBC ciphertext.
///
/// # Errors
/// [`BodyError::Crypto`] when OpenSSL fails (no random bytes, no cipher).
pub fn encrypt(plain: &[u8], key: &str) -> Result<Vec<u8>, BodyError> {
    let mut salt = [0u8; SALT_LEN];
    openssl::rand::rand_bytes(&mut salt)?;
    let cipher = Cipher::aes_256_cbc();
    let (k, iv) = derive(cipher, MessageDigest::sha256(), key, &salt)?;
    let ciphertext = openssl::symm::encrypt(cipher, &k, Some(&iv), plain)?;
    let mut out = Vec::with_capacity(SALTED.len() + SALT_LEN + ciphertext.len());
    out.extend_from_slice(SALTED);
    out.extend_from_slice(&salt);
    out.extend_from_slice(&ciphertext);
    Ok(out)
}

/// No key: inflate gzip, refuse ciphertext, pass the rest.
fn decode_plain(body: &[u8]) -> Result<Vec<u8>, BodyError> {
    if body.starts_with(SALTED) {
        return Err(BodyError::KeyRequired);
    }
    let out = if body.starts_with(&GZIP_MAGIC) {
        gunzip(body)?
    } else {
        body.to_vec()
    };
    if out.len() > MAX_PROFILE_BYTES {
        return Err(too_large());
    }
    if out.starts_with(SALTED) {
        // Encrypted, then compressed: still needs the key.
        return Err(BodyError::KeyRequired);
    }
    Ok(out)
}

/// The outcome of one key-derivation digest.
struct Attempt {
    /// The decoded profile, or why not.
    result: Result<Vec<u8>, BodyError>,
    /// The first plaintext block looks like a profile or a gzip header: the key is right, so
    /// this attempt's error is the real cause.
    key_right: bool,
}

/// With a key: check the format, then try SHA-256 and MD5.
fn decrypt(body: &[u8], key: &str, fips: bool) -> Result<Vec<u8>, BodyError> {
    if body.len() < SALTED.len() + SALT_LEN {
        if SALTED.starts_with(body) || body.starts_with(SALTED) {
            return Err(BodyError::Truncated {
                what: "the body ends inside the 16-byte \"Salted__\" header",
            });
        }
        return Err(BodyError::NotEncrypted {
            found: describe(body),
        });
    }
    if !body.starts_with(SALTED) {
        return Err(BodyError::NotEncrypted {
            found: describe(body),
        });
    }
    let (salt, ciphertext) = body[SALTED.len()..].split_at(SALT_LEN);
    if ciphertext.is_empty() {
        return Err(BodyError::Truncated {
            what: "no ciphertext after the \"Salted__\" header",
        });
    }
    if ciphertext.len() % BLOCK != 0 {
        return Err(BodyError::Truncated {
            what: "the ciphertext is not a whole number of 16-byte AES blocks",
        });
    }

    let sha = attempt(MessageDigest::sha256(), key, salt, ciphertext)?;
    if sha.result.is_ok() || sha.key_right {
        return sha.result;
    }
    if fips {
        return Err(BodyError::Md5RefusedInFips);
    }
    let md5 = attempt(MessageDigest::md5(), key, salt, ciphertext)?;
    if md5.result.is_ok() || md5.key_right {
        return md5.result;
    }
    Err(BodyError::WrongKey)
}

/// Decrypt with one digest. `Err` only for an OpenSSL failure.
fn attempt(
    md: MessageDigest,
    key: &str,
    salt: &[u8],
    ciphertext: &[u8],
) -> Result<Attempt, BodyError> {
    let cipher = Cipher::aes_256_cbc();
    let (k, iv) = derive(cipher, md, key, salt)?;
    // Padding is checked here rather than by OpenSSL, so that a body with the right key but a
    // cut-off end (bad padding, good first block) can be told from a wrong key.
    let mut crypter = Crypter::new(cipher, Mode::Decrypt, &k, Some(&iv))?;
    crypter.pad(false);
    let mut raw = vec![0u8; ciphertext.len() + BLOCK];
    let mut n = crypter.update(ciphertext, &mut raw)?;
    n += crypter.finalize(&mut raw[n..])?;
    raw.truncate(n);

    let unpadded = strip_padding(&raw);
    let key_right = first_block_plausible(unpadded.unwrap_or(&raw));
    let Some(plain) = unpadded else {
        return Ok(Attempt {
            result: Err(BodyError::Truncated {
                what: "the last AES block's padding is invalid (the body was cut at a block \
                       boundary or altered)",
            }),
            key_right,
        });
    };
    let result = if plain.starts_with(&GZIP_MAGIC) {
        gunzip(plain).and_then(|inflated| {
            if looks_like_profile(&inflated) {
                Ok(inflated)
            } else {
                Err(BodyError::NotAProfile)
            }
        })
    } else if first_block_plausible(plain) {
        if plain.len() > MAX_PROFILE_BYTES {
            Err(too_large())
        } else {
            Ok(plain.to_vec())
        }
    } else {
        Err(BodyError::WrongKey)
    };
    Ok(Attempt { result, key_right })
}

/// `EVP_BytesToKey` with one iteration: the AES-256 key and the IV.
fn derive(
    cipher: Cipher,
    md: MessageDigest,
    key: &str,
    salt: &[u8],
) -> Result<(Vec<u8>, Vec<u8>), BodyError> {
    let pair = bytes_to_key(cipher, md, key.as_bytes(), Some(salt), 1)?;
    let iv = pair.iv.ok_or_else(|| BodyError::Crypto {
        reason: "EVP_BytesToKey gave no IV for AES-256-CBC".to_owned(),
    })?;
    Ok((pair.key, iv))
}

/// The plaintext without its PKCS#7 padding, or `None` when the padding is invalid.
fn strip_padding(raw: &[u8]) -> Option<&[u8]> {
    let &last = raw.last()?;
    let n = usize::from(last);
    if n == 0 || n > BLOCK || n > raw.len() {
        return None;
    }
    let (plain, pad) = raw.split_at(raw.len() - n);
    pad.iter().all(|&b| b == last).then_some(plain)
}

/// Inflate gzip (one or more members), stopping past [`MAX_PROFILE_BYTES`].
fn gunzip(data: &[u8]) -> Result<Vec<u8>, BodyError> {
    let limit = u64::try_from(MAX_PROFILE_BYTES).unwrap_or(u64::MAX);
    let mut out = Vec::new();
    MultiGzDecoder::new(data)
        .take(limit.saturating_add(1))
        .read_to_end(&mut out)
        .map_err(|e| {
            if e.kind() == io::ErrorKind::UnexpectedEof {
                BodyError::Truncated {
                    what: "the gzip stream ends early",
                }
            } else {
                BodyError::Corrupt {
                    reason: e.to_string(),
                }
            }
        })?;
    if out.len() > MAX_PROFILE_BYTES {
        return Err(too_large());
    }
    Ok(out)
}

/// After an optional UTF-8 BOM and whitespace, the text starts with `<`.
fn looks_like_profile(text: &[u8]) -> bool {
    let text = text.strip_prefix(&UTF8_BOM).unwrap_or(text);
    text.iter()
        .find(|b| !b.is_ascii_whitespace())
        .is_some_and(|&b| b == b'<')
}

/// The first decrypted block is a gzip header (magic, deflate, no reserved flags) or the start
/// of an XML text: after an optional BOM and whitespace, `<` and 15 more bytes of UTF-8 without
/// control characters. A wrong key gives random bytes, which pass with a probability below
/// 2^-20 (and the padding check and gzip's CRC come on top).
fn first_block_plausible(plain: &[u8]) -> bool {
    if let [0x1f, 0x8b, 8, flags, ..] = plain {
        return flags & 0xe0 == 0;
    }
    let text = plain.strip_prefix(&UTF8_BOM).unwrap_or(plain);
    let text = text.trim_ascii_start();
    let head = &text[..text.len().min(BLOCK)];
    if head.first() != Some(&b'<') {
        return false;
    }
    let valid = match std::str::from_utf8(head) {
        Ok(s) => s,
        // A character cut by the block end is fine.
        Err(e) if e.error_len().is_none() => match std::str::from_utf8(&head[..e.valid_up_to()]) {
            Ok(s) => s,
            Err(_) => return false,
        },
        Err(_) => return false,
    };
    valid
        .chars()
        .all(|c| !c.is_control() || c.is_ascii_whitespace())
}

/// What a body that should be encrypted looks like, for [`BodyError::NotEncrypted`].
fn describe(body: &[u8]) -> &'static str {
    if body.starts_with(&GZIP_MAGIC) {
        "gzip data"
    } else if looks_like_profile(body) {
        "an XML profile"
    } else if body.is_empty() {
        "an empty body"
    } else {
        "unknown data"
    }
}

/// [`BodyError::TooLarge`] with the limit.
fn too_large() -> BodyError {
    BodyError::TooLarge {
        limit: MAX_PROFILE_BYTES,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use std::io::Write;

    use flate2::Compression;
    use flate2::write::GzEncoder;

    use super::*;

    const PROFILE: &[u8] =
        b"<flat-profile>\n  <Admin_Password>x</Admin_Password>\n</flat-profile>\n";

    /// `openssl enc` with a chosen digest and salt, in process.
    fn enc_with(md: MessageDigest, key: &str, salt: [u8; 8], plain: &[u8]) -> Vec<u8> {
        let cipher = Cipher::aes_256_cbc();
        let (k, iv) = derive(cipher, md, key, &salt).unwrap();
        let mut out = SALTED.to_vec();
        out.extend_from_slice(&salt);
        out.extend(openssl::symm::encrypt(cipher, &k, Some(&iv), plain).unwrap());
        out
    }

    fn gz(data: &[u8]) -> Vec<u8> {
        let mut e = GzEncoder::new(Vec::new(), Compression::default());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    #[test]
    fn plain_passes_through() {
        assert_eq!(decode(PROFILE, None, false).unwrap(), PROFILE);
        assert_eq!(decode(b"", None, false).unwrap(), b"");
    }

    #[test]
    fn encrypt_then_decode() {
        let body = encrypt(PROFILE, "s3cret").unwrap();
        assert!(body.starts_with(SALTED));
        assert_eq!(decode(&body, Some("s3cret"), true).unwrap(), PROFILE);
        assert_eq!(decode(&body, Some("s3cret"), false).unwrap(), PROFILE);
        assert_eq!(
            decode(&body, Some("other"), false),
            Err(BodyError::WrongKey)
        );
        assert_eq!(decode(&body, None, false), Err(BodyError::KeyRequired));
    }

    #[test]
    fn md5_fallback_and_fips() {
        let body = enc_with(MessageDigest::md5(), "k", *b"12345678", PROFILE);
        assert_eq!(decode(&body, Some("k"), false).unwrap(), PROFILE);
        assert_eq!(
            decode(&body, Some("k"), true),
            Err(BodyError::Md5RefusedInFips)
        );
    }

    #[test]
    fn encrypted_gzip_and_bom() {
        let text = [&UTF8_BOM[..], b"\r\n ", PROFILE].concat();
        let body = enc_with(MessageDigest::sha256(), "k", *b"abcdefgh", &gz(&text));
        assert_eq!(decode(&body, Some("k"), false).unwrap(), text);
    }

    #[test]
    fn utf8_and_short_profiles() {
        for text in [
            "<a/>".as_bytes(),
            "<Nom>Aérogare</Nom>".as_bytes(),
            "<é>".as_bytes(),
            "\u{feff}\n\t<x>€€€€€€€€</x>".as_bytes(),
            "\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n<flat-profile/>".as_bytes(),
        ] {
            for md in [MessageDigest::sha256(), MessageDigest::md5()] {
                let body = enc_with(md, "k", *b"saltsalt", text);
                assert_eq!(decode(&body, Some("k"), false).unwrap(), text);
            }
        }
        assert!(!first_block_plausible(b"<a>\x00\x01bc"));
        assert!(!first_block_plausible(b"<a>\xff\xfebc"));
        assert!(first_block_plausible(b"<ab>cdefghijkl\xc3"));
    }

    #[test]
    fn not_a_profile_after_right_key() {
        let body = enc_with(MessageDigest::sha256(), "k", *b"abcdefgh", &gz(b"hello"));
        assert_eq!(decode(&body, Some("k"), false), Err(BodyError::NotAProfile));
        // Without gzip, non-XML plaintext cannot be told from a wrong key.
        let body = enc_with(MessageDigest::sha256(), "k", *b"abcdefgh", b"hello world");
        assert_eq!(decode(&body, Some("k"), false), Err(BodyError::WrongKey));
    }

    #[test]
    fn cut_at_block_boundary_is_truncated() {
        let long = PROFILE.repeat(4);
        let body = enc_with(MessageDigest::sha256(), "k", *b"abcdefgh", &long);
        let cut = &body[..body.len() - BLOCK];
        assert!(matches!(
            decode(cut, Some("k"), false),
            Err(BodyError::Truncated { .. })
        ));
        assert_eq!(decode(cut, Some("x"), false), Err(BodyError::WrongKey));
    }

    #[test]
    fn header_checks() {
        assert!(matches!(
            decode(b"Salted", Some("k"), false),
            Err(BodyError::Truncated { .. })
        ));
        assert!(matches!(
            decode(b"Salted__1234567", Some("k"), false),
            Err(BodyError::Truncated { .. })
        ));
        assert!(matches!(
            decode(b"Salted__12345678", Some("k"), false),
            Err(BodyError::Truncated { .. })
        ));
        assert_eq!(
            decode(PROFILE, Some("k"), false),
            Err(BodyError::NotEncrypted {
                found: "an XML profile"
            })
        );
        assert_eq!(
            decode(&gz(PROFILE), Some("k"), false),
            Err(BodyError::NotEncrypted { found: "gzip data" })
        );
    }

    #[test]
    fn padding() {
        assert_eq!(strip_padding(b""), None);
        assert_eq!(strip_padding(&[b'a', 0]), None);
        assert_eq!(strip_padding(&[b'a', 2, 2]), Some(&b"a"[..]));
        assert_eq!(strip_padding(&[b'a', 1, 2]), None);
        assert_eq!(strip_padding(&[17; 17]), None);
        assert_eq!(strip_padding(&[16; 16]), Some(&b""[..]));
    }

    #[test]
    fn gzip_bomb_and_corruption() {
        let bomb = gz(&vec![0u8; MAX_PROFILE_BYTES + 1]);
        assert_eq!(decode(&bomb, None, false), Err(too_large()));
        let exact = gz(&vec![b' '; MAX_PROFILE_BYTES]);
        assert_eq!(
            decode(&exact, None, false).unwrap().len(),
            MAX_PROFILE_BYTES
        );
        let good = gz(PROFILE);
        let mut bad = good.clone();
        let crc_at = bad.len() - 8;
        bad[crc_at] ^= 0xff;
        assert!(matches!(
            decode(&bad, None, false),
            Err(BodyError::Corrupt { .. })
        ));
        assert!(matches!(
            decode(&good[..good.len() - 3], None, false),
            Err(BodyError::Truncated { .. })
        ));
    }

    #[test]
    fn messages_name_the_cause() {
        assert!(BodyError::WrongKey.to_string().contains("wrong --key"));
        assert!(BodyError::Md5RefusedInFips.to_string().contains("FIPS"));
        assert!(too_large().to_string().contains("4194304"));
        assert_eq!(BodyError::KeyRequired.reason_id(), "key-required");
    }
}
