//! Device identity: MAC address, serial number, product name and series, firmware and hardware
//! versions, and whether a device certificate is installed (SPEC.md §0).
//!
//! These are the values behind the `$MA`, `$MAU`, `$MAC`, `$PN`, `$PSN`, `$SN`, `$SWVER`,
//! `$HWVER` and `$CCERT` macros ([`crate::macros`]) and the default HTTP User-Agent.
//!
//! Pure: nothing here reads a file. The shell reads `STATE/identity/device.toml` and hands its
//! text to [`DeviceIdentity::from_toml_str`], then fills what the toml left out from the device
//! certificate's subject (`OU=<product name>, L=<serial>, S=<MAC>`) with
//! [`DeviceIdentity::merge_subject`]. With no identity at all, `mppd run` uses
//! [`DeviceIdentity::emulated`].

use std::fmt;
use std::str::FromStr;

/// A 48-bit Ethernet MAC address.
///
/// Parsed from `0011223344ab`, `00:11:22:33:44:AB` or `00-11-22-33-44-ab` (hex digits in any
/// case; one separator style throughout). Printed three ways, one per macro: [`Mac::lower`]
/// (`$MA`), [`Mac::upper`] (`$MAU`) and [`Mac::colon`] (`$MAC`, also the [`Display`] form).
///
/// [`Display`]: fmt::Display
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Mac([u8; 6]);

impl Mac {
    /// The address with these six octets, most significant first.
    pub const fn new(octets: [u8; 6]) -> Self {
        Self(octets)
    }

    /// The six octets, most significant first.
    pub const fn octets(&self) -> [u8; 6] {
        self.0
    }

    /// Twelve lowercase hex digits, no separator: `0011223344ab` (the `$MA` macro).
    pub fn lower(&self) -> String {
        self.hex(b"0123456789abcdef", None)
    }

    /// Twelve uppercase hex digits, no separator: `0011223344AB` (the `$MAU` macro).
    pub fn upper(&self) -> String {
        self.hex(b"0123456789ABCDEF", None)
    }

    /// Lowercase hex pairs separated by colons: `00:11:22:33:44:ab` (the `$MAC` macro).
    pub fn colon(&self) -> String {
        self.hex(b"0123456789abcdef", Some(':'))
    }

    fn hex(&self, digits: &[u8; 16], sep: Option<char>) -> String {
        let mut out = String::with_capacity(17);
        for (i, byte) in self.0.iter().enumerate() {
            if let (Some(sep), true) = (sep, i > 0) {
                out.push(sep);
            }
            out.push(char::from(digits[usize::from(byte >> 4)]));
            out.push(char::from(digits[usize::from(byte & 0x0f)]));
        }
        out
    }
}

impl fmt::Display for Mac {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.colon())
    }
}

impl FromStr for Mac {
    type Err = ParseMacError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = || ParseMacError {
            value: s.to_owned(),
        };
        let bytes = s.as_bytes();
        // Either 12 bare digits, or 6 pairs joined by one separator (`:` or `-`) used throughout.
        let (stride, sep) = match bytes.len() {
            12 => (2, None),
            17 => match bytes[2] {
                b @ (b':' | b'-') => (3, Some(b)),
                _ => return Err(err()),
            },
            _ => return Err(err()),
        };
        let mut octets = [0u8; 6];
        for (i, octet) in octets.iter_mut().enumerate() {
            let at = i * stride;
            if let Some(sep) = sep
                && i > 0
                && bytes[at - 1] != sep
            {
                return Err(err());
            }
            let (Some(hi), Some(lo)) = (hex_value(bytes[at]), hex_value(bytes[at + 1])) else {
                return Err(err());
            };
            *octet = (hi << 4) | lo;
        }
        Ok(Self(octets))
    }
}

fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// A string that is not a MAC address in one of the accepted forms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseMacError {
    /// The rejected text, as given.
    pub value: String,
}

impl fmt::Display for ParseMacError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "invalid MAC address {:?}: expected 12 hex digits (0011223344ab), \
             or 6 hex pairs separated by ':' or '-' (00:11:22:33:44:ab)",
            self.value
        )
    }
}

impl std::error::Error for ParseMacError {}

/// A field of the identity that both `device.toml` and the device certificate can name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum IdentityField {
    /// The MAC address (`mac` in device.toml, `S=` in the certificate subject).
    Mac,
    /// The serial number (`serial`, `L=`).
    Serial,
    /// The product name (`product_name`, `OU=`).
    ProductName,
}

impl fmt::Display for IdentityField {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Mac => "MAC address (mac, subject S=)",
            Self::Serial => "serial number (serial, subject L=)",
            Self::ProductName => "product name (product_name, subject OU=)",
        })
    }
}

/// Why a device identity could not be read.
///
/// All variants are "malformed local configuration" in STYLE.md lesson 6's terms: the identity
/// comes from the state directory and the device certificate, never from a peer.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum IdentityError {
    /// `device.toml` is not valid TOML.
    Toml {
        /// The TOML parser's description of the problem.
        message: String,
        /// The 1-based line and column (in characters) of the problem, when the parser knows
        /// it.
        position: Option<(usize, usize)>,
    },
    /// `device.toml` has a key this version does not know.
    UnknownKey {
        /// The key as written.
        key: String,
    },
    /// A key of `device.toml` has a value of the wrong type.
    WrongType {
        /// The key.
        key: &'static str,
        /// What the key takes ("a string", "an integer").
        expected: &'static str,
    },
    /// `lines` is outside 1..=16.
    LinesOutOfRange {
        /// The value given.
        value: i64,
    },
    /// A MAC address that does not parse.
    BadMac {
        /// Where it came from: `device.toml key mac` or `certificate subject S=`.
        origin: &'static str,
        /// The value as given.
        value: String,
    },
    /// `device.toml` and the device certificate name different devices.
    SubjectMismatch {
        /// The field that differs.
        field: IdentityField,
        /// The value from `device.toml`.
        configured: String,
        /// The value from the certificate subject.
        certificate: String,
    },
}

impl fmt::Display for IdentityError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Toml {
                message,
                position: Some((line, column)),
            } => write!(f, "device.toml line {line}, column {column}: {message}"),
            Self::Toml {
                message,
                position: None,
            } => write!(f, "device.toml: {message}"),
            Self::UnknownKey { key } => write!(
                f,
                "device.toml: unknown key {key:?} (known: {})",
                KNOWN_KEYS.join(", ")
            ),
            Self::WrongType { key, expected } => {
                write!(f, "device.toml: key {key} must be {expected}")
            }
            Self::LinesOutOfRange { value } => {
                write!(f, "device.toml: lines = {value} is outside 1..=16")
            }
            Self::BadMac { origin, value } => write!(
                f,
                "{origin}: invalid MAC address {value:?} (expected 0011223344ab, \
                 00:11:22:33:44:ab or 00-11-22-33-44-ab)"
            ),
            Self::SubjectMismatch {
                field,
                configured,
                certificate,
            } => write!(
                f,
                "the device certificate names another device: {field} is {configured:?} in \
                 device.toml but {certificate:?} in the certificate subject"
            ),
        }
    }
}

impl std::error::Error for IdentityError {}

/// The keys `device.toml` may carry.
const KNOWN_KEYS: &[&str] = &[
    "mac",
    "serial",
    "product_name",
    "psn",
    "firmware_version",
    "hardware_version",
    "lines",
];

/// Highest line count a device may declare (`lines` in device.toml).
pub const MAX_LINES: u8 = 16;

/// Who this phone is: the values behind the identity macros and the User-Agent.
///
/// `None` means unknown; the macros of an unknown value expand to the empty string.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DeviceIdentity {
    /// The MAC address (`$MA`, `$MAU`, `$MAC`).
    pub mac: Option<Mac>,
    /// The serial number (`$SN`), e.g. `88012BA01234`.
    pub serial: Option<String>,
    /// The product name (`$PN`), e.g. `CP-8851-3PCC`.
    pub product_name: Option<String>,
    /// The product series as configured; see [`DeviceIdentity::psn`] for the effective `$PSN`.
    pub psn: Option<String>,
    /// The firmware version (`$SWVER`).
    pub firmware_version: Option<String>,
    /// The hardware version (`$HWVER`).
    pub hardware_version: Option<String>,
    /// The number of lines of the device, 1..=16.
    pub lines: Option<u8>,
    /// Whether a device certificate and key are installed (`$CCERT`). Set by the caller that
    /// looked at `identity/device.pem`; `device.toml` does not carry it.
    pub cert_installed: bool,
}

impl DeviceIdentity {
    /// The identity of an emulated phone, for a state directory without one.
    ///
    /// Product `CP-8851-3PCC`, serial `MPPD0000001`, MAC `02:00:00:00:00:01` (the locally
    /// administered bit is set, so it cannot collide with a real vendor address), firmware
    /// `mppd-<version of this crate>`, no certificate. Hardware version and line count are
    /// unknown.
    pub fn emulated() -> Self {
        Self {
            mac: Some(Mac::new([0x02, 0, 0, 0, 0, 0x01])),
            serial: Some("MPPD0000001".to_owned()),
            product_name: Some("CP-8851-3PCC".to_owned()),
            psn: None,
            firmware_version: Some(concat!("mppd-", env!("CARGO_PKG_VERSION")).to_owned()),
            hardware_version: None,
            lines: None,
            cert_installed: false,
        }
    }

    /// Reads the text of `identity/device.toml`.
    ///
    /// Keys, all optional: `mac`, `serial`, `product_name`, `psn`, `firmware_version`,
    /// `hardware_version` (strings) and `lines` (integer, 1..=16). An empty string counts as
    /// absent. Any other key is an error naming it, as is a value of the wrong type or a MAC
    /// that does not parse. `cert_installed` is left `false`.
    pub fn from_toml_str(text: &str) -> Result<Self, IdentityError> {
        let table: toml::Table = text.parse().map_err(|e: toml::de::Error| {
            // toml's message can span lines ("invalid array\nexpected `]`") or be empty.
            let message = e
                .message()
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .collect::<Vec<_>>()
                .join(": ");
            IdentityError::Toml {
                message: if message.is_empty() {
                    "syntax error".to_owned()
                } else {
                    message
                },
                position: e.span().map(|span| position_of(text, span.start)),
            }
        })?;
        let mut id = Self::default();
        for (key, value) in &table {
            let Some(&key) = KNOWN_KEYS.iter().find(|k| **k == key.as_str()) else {
                return Err(IdentityError::UnknownKey { key: key.clone() });
            };
            if key == "lines" {
                let toml::Value::Integer(n) = *value else {
                    return Err(IdentityError::WrongType {
                        key,
                        expected: "an integer",
                    });
                };
                let lines = u8::try_from(n)
                    .ok()
                    .filter(|n| (1..=MAX_LINES).contains(n))
                    .ok_or(IdentityError::LinesOutOfRange { value: n })?;
                id.lines = Some(lines);
                continue;
            }
            let toml::Value::String(s) = value else {
                return Err(IdentityError::WrongType {
                    key,
                    expected: "a string",
                });
            };
            if s.is_empty() {
                continue;
            }
            let slot = match key {
                "mac" => {
                    id.mac = Some(s.trim().parse().map_err(|_| IdentityError::BadMac {
                        origin: "device.toml key mac",
                        value: s.clone(),
                    })?);
                    continue;
                }
                "serial" => &mut id.serial,
                "product_name" => &mut id.product_name,
                "psn" => &mut id.psn,
                "firmware_version" => &mut id.firmware_version,
                _ => &mut id.hardware_version,
            };
            *slot = Some(s.clone());
        }
        Ok(id)
    }

    /// Fills the product name (`OU=`), serial (`L=`) and MAC (`S=`) from the device
    /// certificate's subject where `device.toml` left them out.
    ///
    /// Values are trimmed; an absent or empty one is ignored. When both sources name a field
    /// and disagree (product name and serial compared ASCII case-insensitively, the MAC by
    /// value) the certificate belongs to another device: the error names the field and both
    /// values, and `self` is left unchanged.
    pub fn merge_subject(
        &mut self,
        ou: Option<&str>,
        l: Option<&str>,
        st: Option<&str>,
    ) -> Result<(), IdentityError> {
        let (ou, l, st) = (present(ou), present(l), present(st));
        let mac = st
            .map(|s| {
                s.parse::<Mac>().map_err(|_| IdentityError::BadMac {
                    origin: "certificate subject S=",
                    value: s.to_owned(),
                })
            })
            .transpose()?;
        // Check everything before changing anything.
        if let (Some(mine), Some(theirs)) = (self.mac, mac)
            && mine != theirs
        {
            return Err(IdentityError::SubjectMismatch {
                field: IdentityField::Mac,
                configured: mine.colon(),
                certificate: theirs.colon(),
            });
        }
        for (field, mine, theirs) in [
            (IdentityField::Serial, self.serial.as_deref(), l),
            (IdentityField::ProductName, self.product_name.as_deref(), ou),
        ] {
            if let (Some(mine), Some(theirs)) = (mine, theirs)
                && !mine.eq_ignore_ascii_case(theirs)
            {
                return Err(IdentityError::SubjectMismatch {
                    field,
                    configured: mine.to_owned(),
                    certificate: theirs.to_owned(),
                });
            }
        }
        if self.mac.is_none() {
            self.mac = mac;
        }
        if self.serial.is_none() {
            self.serial = l.map(str::to_owned);
        }
        if self.product_name.is_none() {
            self.product_name = ou.map(str::to_owned);
        }
        Ok(())
    }

    /// The effective product series (`$PSN`): the configured `psn`, else the product name
    /// without its leading `CP-` (`CP-8851-3PCC` gives `8851-3PCC`, the name of the factory
    /// default profile `/$PSN.xml`), else `None`.
    pub fn psn(&self) -> Option<&str> {
        self.psn.as_deref().or_else(|| {
            self.product_name
                .as_deref()
                .and_then(|pn| pn.strip_prefix("CP-"))
                .filter(|psn| !psn.is_empty())
        })
    }

    /// The `$CCERT` value: `Installed` or `Not Installed`.
    pub const fn ccert(&self) -> &'static str {
        if self.cert_installed {
            "Installed"
        } else {
            "Not Installed"
        }
    }

    /// The default HTTP User-Agent, `Cisco-<product name>/<firmware> (<MAC, $MA form>)`, e.g.
    /// `Cisco-CP-7832-3PCC/11.0.1 (00562b043615)` (mpp-provisioning §3.3). Unknown parts read
    /// `unknown`.
    pub fn user_agent(&self) -> String {
        format!(
            "Cisco-{}/{} ({})",
            self.product_name.as_deref().unwrap_or("unknown"),
            self.firmware_version.as_deref().unwrap_or("unknown"),
            self.mac.map_or_else(|| "unknown".to_owned(), |m| m.lower()),
        )
    }
}

/// The trimmed value, if there is one and it is not empty.
fn present(v: Option<&str>) -> Option<&str> {
    v.map(str::trim).filter(|v| !v.is_empty())
}

/// The 1-based line and column (in characters) of byte offset `at` in `text`.
fn position_of(text: &str, at: usize) -> (usize, usize) {
    let before = text
        .char_indices()
        .take_while(|(i, _)| *i < at)
        .map(|(_, c)| c);
    before.fold((1, 1), |(line, column), c| {
        if c == '\n' {
            (line + 1, 1)
        } else {
            (line, column + 1)
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAC: Mac = Mac::new([0x00, 0x11, 0x22, 0x33, 0x44, 0xab]);

    #[test]
    fn mac_parses_the_three_forms_in_any_case() {
        for s in [
            "0011223344ab",
            "0011223344AB",
            "00:11:22:33:44:ab",
            "00:11:22:33:44:AB",
            "00-11-22-33-44-ab",
            "00-11-22-33-44-Ab",
        ] {
            assert_eq!(s.parse::<Mac>(), Ok(MAC), "{s}");
        }
    }

    #[test]
    fn mac_rejects_other_text() {
        for s in [
            "",
            "0011223344a",
            "0011223344abc",
            "0011223344ag",
            "00:11:22:33:44-ab",
            "00.11.22.33.44.ab",
            "00:11:22:33:44:a",
            "0:011:22:33:44:ab",
            " 0011223344ab",
            "00112233445é",
            "+011223344ab",
            "é0:11:22:33:44:a",
        ] {
            let err = s.parse::<Mac>().unwrap_err();
            assert_eq!(err.value, s);
            assert!(err.to_string().contains("invalid MAC address"));
        }
    }

    #[test]
    fn mac_prints_three_ways() {
        assert_eq!(MAC.lower(), "0011223344ab");
        assert_eq!(MAC.upper(), "0011223344AB");
        assert_eq!(MAC.colon(), "00:11:22:33:44:ab");
        assert_eq!(MAC.to_string(), "00:11:22:33:44:ab");
        assert_eq!(MAC.octets(), [0x00, 0x11, 0x22, 0x33, 0x44, 0xab]);
    }

    #[test]
    fn toml_with_every_key() {
        let id = DeviceIdentity::from_toml_str(
            r#"
            mac = "00:11:22:33:44:AB"
            serial = "88012BA01234"
            product_name = "CP-8851-3PCC"
            psn = "8851"
            firmware_version = "sip88xx.12-0-1MPP-1"
            hardware_version = "V03"
            lines = 10
            "#,
        )
        .unwrap();
        assert_eq!(
            id,
            DeviceIdentity {
                mac: Some(MAC),
                serial: Some("88012BA01234".into()),
                product_name: Some("CP-8851-3PCC".into()),
                psn: Some("8851".into()),
                firmware_version: Some("sip88xx.12-0-1MPP-1".into()),
                hardware_version: Some("V03".into()),
                lines: Some(10),
                cert_installed: false,
            }
        );
    }

    #[test]
    fn toml_empty_and_empty_strings() {
        assert_eq!(
            DeviceIdentity::from_toml_str(""),
            Ok(DeviceIdentity::default())
        );
        assert_eq!(
            DeviceIdentity::from_toml_str("serial = \"\"\nmac = \"\""),
            Ok(DeviceIdentity::default())
        );
    }

    #[test]
    fn toml_unknown_key_is_named() {
        let err =
            DeviceIdentity::from_toml_str("mac = \"0011223344ab\"\nmodel = \"8851\"").unwrap_err();
        assert_eq!(
            err,
            IdentityError::UnknownKey {
                key: "model".into()
            }
        );
        assert!(err.to_string().contains("\"model\""), "{err}");
        // A table is a key too.
        assert_eq!(
            DeviceIdentity::from_toml_str("[cert]\nx = 1").unwrap_err(),
            IdentityError::UnknownKey { key: "cert".into() }
        );
    }

    #[test]
    fn toml_bad_mac_names_the_value() {
        let err = DeviceIdentity::from_toml_str("mac = \"00:11:22:33:44\"").unwrap_err();
        assert_eq!(
            err,
            IdentityError::BadMac {
                origin: "device.toml key mac",
                value: "00:11:22:33:44".into()
            }
        );
        assert!(err.to_string().contains("\"00:11:22:33:44\""), "{err}");
    }

    #[test]
    fn toml_wrong_types_and_ranges() {
        assert_eq!(
            DeviceIdentity::from_toml_str("serial = 12").unwrap_err(),
            IdentityError::WrongType {
                key: "serial",
                expected: "a string"
            }
        );
        assert_eq!(
            DeviceIdentity::from_toml_str("lines = \"2\"").unwrap_err(),
            IdentityError::WrongType {
                key: "lines",
                expected: "an integer"
            }
        );
        for n in [0i64, 17, -1, 300, i64::MAX] {
            assert_eq!(
                DeviceIdentity::from_toml_str(&format!("lines = {n}")).unwrap_err(),
                IdentityError::LinesOutOfRange { value: n }
            );
        }
        assert_eq!(
            DeviceIdentity::from_toml_str("lines = 16").unwrap().lines,
            Some(16)
        );
    }

    #[test]
    fn toml_syntax_error_has_a_line() {
        let err = DeviceIdentity::from_toml_str("serial = \"a\"\nmac = ").unwrap_err();
        assert_eq!(
            err,
            IdentityError::Toml {
                message: "syntax error".into(),
                position: Some((2, 7)),
            }
        );
        assert_eq!(
            err.to_string(),
            "device.toml line 2, column 7: syntax error"
        );
        let err = DeviceIdentity::from_toml_str("serial = \"é\"\nx = [1,").unwrap_err();
        assert_eq!(
            err.to_string(),
            "device.toml line 2, column 8: invalid array: expected `]`"
        );
        // Duplicate keys are a TOML error, not "last one wins".
        let err = DeviceIdentity::from_toml_str("serial = \"a\"\nserial = \"b\"").unwrap_err();
        assert!(err.to_string().contains("duplicate key `serial`"), "{err}");
    }

    #[test]
    fn merge_subject_fills_missing_fields() {
        let mut id = DeviceIdentity::from_toml_str("serial = \"88012BA01234\"").unwrap();
        id.merge_subject(
            Some("CP-7841-3PCC"),
            Some("88012BA01234"),
            Some(" 000e08abcdef "),
        )
        .unwrap();
        assert_eq!(id.product_name.as_deref(), Some("CP-7841-3PCC"));
        assert_eq!(id.serial.as_deref(), Some("88012BA01234"));
        assert_eq!(id.mac.map(|m| m.lower()).as_deref(), Some("000e08abcdef"));
        // Absent and empty values change nothing.
        let before = id.clone();
        id.merge_subject(None, Some(""), Some("  ")).unwrap();
        assert_eq!(id, before);
    }

    #[test]
    fn merge_subject_agreement_in_another_spelling_is_fine() {
        let mut id = DeviceIdentity::from_toml_str(
            "mac = \"00:0E:08:AB:CD:EF\"\nserial = \"88012ba01234\"\nproduct_name = \"CP-7832-3PCC\"",
        )
        .unwrap();
        let before = id.clone();
        id.merge_subject(
            Some("cp-7832-3pcc"),
            Some("88012BA01234"),
            Some("000e08abcdef"),
        )
        .unwrap();
        assert_eq!(id, before);
    }

    #[test]
    fn merge_subject_conflict_names_field_and_both_values() {
        let mut id = DeviceIdentity::from_toml_str("mac = \"0011223344ab\"").unwrap();
        let before = id.clone();
        let err = id
            .merge_subject(Some("CP-8841-3PCC"), Some("X"), Some("000e08abcdef"))
            .unwrap_err();
        assert_eq!(
            err,
            IdentityError::SubjectMismatch {
                field: IdentityField::Mac,
                configured: "00:11:22:33:44:ab".into(),
                certificate: "00:0e:08:ab:cd:ef".into(),
            }
        );
        let text = err.to_string();
        assert!(
            text.contains("MAC") && text.contains("00:11:22:33:44:ab"),
            "{text}"
        );
        assert!(text.contains("00:0e:08:ab:cd:ef"), "{text}");
        assert_eq!(id, before, "nothing is merged on error");

        let mut id = DeviceIdentity::from_toml_str("serial = \"A1\"").unwrap();
        assert_eq!(
            id.merge_subject(Some("CP-8841-3PCC"), Some("B2"), None),
            Err(IdentityError::SubjectMismatch {
                field: IdentityField::Serial,
                configured: "A1".into(),
                certificate: "B2".into(),
            })
        );
        assert_eq!(id.product_name, None, "nothing is merged on error");

        let mut id = DeviceIdentity::from_toml_str("product_name = \"CP-8851-3PCC\"").unwrap();
        assert!(matches!(
            id.merge_subject(Some("CP-7841-3PCC"), None, None),
            Err(IdentityError::SubjectMismatch {
                field: IdentityField::ProductName,
                ..
            })
        ));
    }

    #[test]
    fn merge_subject_bad_mac() {
        let mut id = DeviceIdentity::default();
        assert_eq!(
            id.merge_subject(Some("CP-8851-3PCC"), None, Some("nope")),
            Err(IdentityError::BadMac {
                origin: "certificate subject S=",
                value: "nope".into()
            })
        );
        assert_eq!(id, DeviceIdentity::default());
    }

    #[test]
    fn psn_explicit_derived_or_none() {
        let mut id = DeviceIdentity {
            product_name: Some("CP-8851-3PCC".into()),
            ..DeviceIdentity::default()
        };
        assert_eq!(id.psn(), Some("8851-3PCC"));
        id.psn = Some("8851".into());
        assert_eq!(id.psn(), Some("8851"));
        id.psn = None;
        id.product_name = Some("IP Phone 7832".into());
        assert_eq!(id.psn(), None);
        id.product_name = Some("CP-".into());
        assert_eq!(id.psn(), None);
        assert_eq!(DeviceIdentity::default().psn(), None);
    }

    #[test]
    fn ccert() {
        let mut id = DeviceIdentity::default();
        assert_eq!(id.ccert(), "Not Installed");
        id.cert_installed = true;
        assert_eq!(id.ccert(), "Installed");
    }

    #[test]
    fn user_agent() {
        let id = DeviceIdentity {
            mac: Some("00562b043615".parse().unwrap()),
            product_name: Some("CP-7832-3PCC".into()),
            firmware_version: Some("11.0.1".into()),
            ..DeviceIdentity::default()
        };
        assert_eq!(id.user_agent(), "Cisco-CP-7832-3PCC/11.0.1 (00562b043615)");
        assert_eq!(
            DeviceIdentity::default().user_agent(),
            "Cisco-unknown/unknown (unknown)"
        );
    }

    #[test]
    fn emulated_identity() {
        let id = DeviceIdentity::emulated();
        assert_eq!(id.product_name.as_deref(), Some("CP-8851-3PCC"));
        assert_eq!(id.psn(), Some("8851-3PCC"));
        assert_eq!(id.serial.as_deref(), Some("MPPD0000001"));
        let mac = id.mac.unwrap();
        assert_eq!(mac.colon(), "02:00:00:00:00:01");
        assert_eq!(mac.octets()[0] & 0x02, 0x02, "locally administered");
        assert_eq!(mac.octets()[0] & 0x01, 0, "unicast");
        let fw = id.firmware_version.as_deref().unwrap();
        assert_eq!(fw, format!("mppd-{}", env!("CARGO_PKG_VERSION")));
        assert_eq!(
            id.user_agent(),
            format!("Cisco-CP-8851-3PCC/{fw} (020000000001)")
        );
    }
}
