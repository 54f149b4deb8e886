//! The state directory: profile store, device identity, trust store.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use mppd_config::identity::{DeviceIdentity, IdentityError};
use mppd_config::registry::{DEFAULT_LINES, MAX_LINES};
use mppd_config::store::Store;
use openssl::nid::Nid;
use openssl::x509::X509;

/// A state directory (`--state-dir`).
#[derive(Debug, Clone)]
pub struct StateDir {
    dir: PathBuf,
}

/// Why the device identity could not be read.
#[derive(Debug)]
#[non_exhaustive]
pub enum IdentityLoadError {
    /// A file could not be read.
    Io {
        /// The file.
        path: PathBuf,
        /// The error.
        source: io::Error,
    },
    /// `device.toml` or the certificate subject is invalid or inconsistent.
    Invalid {
        /// The file.
        path: PathBuf,
        /// The error.
        error: IdentityError,
    },
    /// `device.pem` is not a PEM certificate.
    Certificate {
        /// The file.
        path: PathBuf,
        /// OpenSSL's description.
        message: String,
    },
}

impl std::fmt::Display for IdentityLoadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Io { path, source } => write!(f, "{}: {source}", path.display()),
            Self::Invalid { path, error } => write!(f, "{}: {error}", path.display()),
            Self::Certificate { path, message } => {
                write!(f, "{}: not a PEM certificate: {message}", path.display())
            }
        }
    }
}

impl std::error::Error for IdentityLoadError {}

/// The device identity and where it came from.
#[derive(Debug, Clone)]
pub struct LoadedIdentity {
    /// The identity.
    pub identity: DeviceIdentity,
    /// `true` when neither `device.toml` nor `device.pem` exists and the emulated lab identity
    /// is used.
    pub emulated: bool,
}

impl StateDir {
    /// The state directory at `dir`.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

    /// Its path.
    pub fn path(&self) -> &Path {
        &self.dir
    }

    /// The profile store.
    pub fn store(&self) -> Store {
        Store::new(&self.dir)
    }

    /// `STATE/mppd.sock`.
    pub fn socket_path(&self) -> PathBuf {
        self.dir.join("mppd.sock")
    }

    /// `STATE/identity/`.
    pub fn identity_dir(&self) -> PathBuf {
        self.dir.join("identity")
    }

    /// Reads the device identity from `identity/device.toml` and the subject of
    /// `identity/device.pem` (`OU` product, `L` serial, `ST` MAC); `$CCERT` is Installed when
    /// both `device.pem` and `device.key` exist. With neither file, the emulated lab identity.
    pub fn identity(&self) -> Result<LoadedIdentity, IdentityLoadError> {
        let dir = self.identity_dir();
        let toml_path = dir.join("device.toml");
        let pem_path = dir.join("device.pem");
        let key_path = dir.join("device.key");
        let toml = read_optional(&toml_path)?;
        let pem = read_optional(&pem_path)?;
        if toml.is_none() && pem.is_none() {
            return Ok(LoadedIdentity {
                identity: DeviceIdentity::emulated(),
                emulated: true,
            });
        }
        let mut identity = match &toml {
            Some(bytes) => {
                let text = String::from_utf8_lossy(bytes);
                DeviceIdentity::from_toml_str(&text).map_err(|error| {
                    IdentityLoadError::Invalid {
                        path: toml_path.clone(),
                        error,
                    }
                })?
            }
            None => DeviceIdentity::default(),
        };
        if let Some(bytes) = &pem {
            let cert = X509::from_pem(bytes).map_err(|e| IdentityLoadError::Certificate {
                path: pem_path.clone(),
                message: e.to_string(),
            })?;
            let field = |nid: Nid| {
                cert.subject_name()
                    .entries_by_nid(nid)
                    .next()
                    .and_then(|e| e.data().to_string().ok())
            };
            let ou = field(Nid::ORGANIZATIONALUNITNAME);
            let l = field(Nid::LOCALITYNAME);
            let st = field(Nid::STATEORPROVINCENAME);
            identity
                .merge_subject(ou.as_deref(), l.as_deref(), st.as_deref())
                .map_err(|error| IdentityLoadError::Invalid {
                    path: pem_path.clone(),
                    error,
                })?;
            identity.cert_installed = key_path.exists();
        }
        Ok(LoadedIdentity {
            identity,
            emulated: false,
        })
    }

    /// The number of lines: `--lines`, else `lines` of `device.toml`, else the default.
    pub fn lines(&self, flag: Option<u8>) -> u8 {
        flag.or_else(|| self.identity().ok().and_then(|i| i.identity.lines))
            .unwrap_or(DEFAULT_LINES)
            .clamp(1, MAX_LINES)
    }
}

fn read_optional(path: &Path) -> Result<Option<Vec<u8>>, IdentityLoadError> {
    match fs::read(path) {
        Ok(b) => Ok(Some(b)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(IdentityLoadError::Io {
            path: path.to_owned(),
            source,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use openssl::asn1::Asn1Time;
    use openssl::ec::{EcGroup, EcKey};
    use openssl::hash::MessageDigest;
    use openssl::pkey::PKey;
    use openssl::x509::{X509Builder, X509NameBuilder};

    /// A self-signed certificate with the phone's subject layout (OU product, L serial, ST MAC).
    fn device_cert(ou: &str, l: &str, st: &str) -> (Vec<u8>, Vec<u8>) {
        let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).unwrap();
        let key = PKey::from_ec_key(EcKey::generate(&group).unwrap()).unwrap();
        let mut name = X509NameBuilder::new().unwrap();
        name.append_entry_by_nid(Nid::ORGANIZATIONALUNITNAME, ou)
            .unwrap();
        name.append_entry_by_nid(Nid::LOCALITYNAME, l).unwrap();
        name.append_entry_by_nid(Nid::STATEORPROVINCENAME, st)
            .unwrap();
        let name = name.build();
        let mut b = X509Builder::new().unwrap();
        b.set_version(2).unwrap();
        b.set_subject_name(&name).unwrap();
        b.set_issuer_name(&name).unwrap();
        b.set_pubkey(&key).unwrap();
        b.set_not_before(&Asn1Time::days_from_now(0).unwrap())
            .unwrap();
        b.set_not_after(&Asn1Time::days_from_now(1).unwrap())
            .unwrap();
        b.sign(&key, MessageDigest::sha256()).unwrap();
        (
            b.build().to_pem().unwrap(),
            key.private_key_to_pem_pkcs8().unwrap(),
        )
    }

    #[test]
    fn emulated_identity_without_files() {
        let dir = tempfile::tempdir().unwrap();
        let id = StateDir::new(dir.path()).identity().unwrap();
        assert!(id.emulated);
        assert_eq!(id.identity.product_name.as_deref(), Some("CP-8851-3PCC"));
        assert_eq!(StateDir::new(dir.path()).lines(None), DEFAULT_LINES);
    }

    #[test]
    fn identity_from_certificate_subject_and_toml() {
        let dir = tempfile::tempdir().unwrap();
        let state = StateDir::new(dir.path());
        fs::create_dir_all(state.identity_dir()).unwrap();
        let (pem, key) = device_cert("CP-8861-3PCC", "FCH2222AB12", "00:11:22:33:44:AB");
        fs::write(state.identity_dir().join("device.pem"), &pem).unwrap();
        // Certificate without key: not installed.
        let id = state.identity().unwrap().identity;
        assert_eq!(id.product_name.as_deref(), Some("CP-8861-3PCC"));
        assert_eq!(id.serial.as_deref(), Some("FCH2222AB12"));
        assert_eq!(id.mac.unwrap().lower(), "0011223344ab");
        assert_eq!(id.psn(), Some("8861-3PCC"));
        assert!(!id.cert_installed);
        fs::write(state.identity_dir().join("device.key"), &key).unwrap();
        assert!(state.identity().unwrap().identity.cert_installed);
        // device.toml adds what the certificate lacks and must agree with it.
        fs::write(
            state.identity_dir().join("device.toml"),
            "firmware_version = \"12.0.1\"\nlines = 4\n",
        )
        .unwrap();
        let id = state.identity().unwrap().identity;
        assert_eq!(id.firmware_version.as_deref(), Some("12.0.1"));
        assert_eq!(state.lines(None), 4);
        assert_eq!(state.lines(Some(1)), 1);
        fs::write(
            state.identity_dir().join("device.toml"),
            "serial = \"OTHER\"\n",
        )
        .unwrap();
        let err = state.identity().unwrap_err().to_string();
        assert!(err.contains("device.pem") && err.contains("OTHER"), "{err}");
        fs::write(state.identity_dir().join("device.pem"), b"not a pem").unwrap();
        let err = state.identity().unwrap_err().to_string();
        assert!(err.contains("not a PEM certificate"), "{err}");
    }
}
