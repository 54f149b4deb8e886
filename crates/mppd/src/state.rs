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
