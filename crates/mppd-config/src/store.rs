//! The atomic profile store: `STATE/profile.xml` is replaced whole or not at all.
//!
//! A write goes to a temporary file in the same directory, is fsynced, renamed over the
//! target and the directory is fsynced, so a crash at any moment leaves either the old or the
//! new complete file. Read-modify-write operations hold an exclusive lock on `STATE/.lock`.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::profile::Profile;
use crate::validate::{self, Report};
use crate::xml::ParseError;

/// The profile's file name in the state directory.
pub const PROFILE_FILE: &str = "profile.xml";

const TMP_PREFIX: &str = ".profile.xml.tmp.";

/// Errors of the store.
#[derive(Debug)]
#[non_exhaustive]
pub enum StoreError {
    /// A file could not be read or written.
    Io {
        /// The path.
        path: PathBuf,
        /// The error.
        source: io::Error,
    },
    /// The stored profile cannot be parsed (it was changed by hand).
    Corrupt {
        /// The path.
        path: PathBuf,
        /// The parse error.
        error: ParseError,
    },
    /// The new configuration is invalid; nothing was written.
    Invalid(Report),
}

impl std::fmt::Display for StoreError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Io { path, source } => write!(f, "{}: {source}", path.display()),
            Self::Corrupt { path, error } => {
                write!(
                    f,
                    "{}:{}: {}: {error}",
                    path.display(),
                    error.line(),
                    error.name()
                )
            }
            Self::Invalid(r) => write!(
                f,
                "the configuration has {} invalid value(s); nothing was changed",
                r.errors.len()
            ),
        }
    }
}

impl std::error::Error for StoreError {}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> StoreError + '_ {
    move |source| StoreError::Io {
        path: path.to_owned(),
        source,
    }
}

/// Writes `bytes` to `path` atomically: temporary file, fsync, rename, fsync of the directory.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(
        ".{name}.tmp.{}.{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    let result = (|| {
        let mut f = OpenOptions::new().write(true).create_new(true).open(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        drop(f);
        fs::rename(&tmp, path)?;
        File::open(dir)?.sync_all()
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// How a new profile combines with the stored one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApplyMode {
    /// As a resync: the parameters the new profile names replace the stored ones, the others
    /// are left unchanged.
    Merge,
    /// The new profile replaces the stored one entirely.
    Replace,
}

/// The profile store of a state directory.
#[derive(Debug, Clone)]
pub struct Store {
    dir: PathBuf,
}

impl Store {
    /// The store in `state_dir` (not created until the first write).
    pub fn new(state_dir: impl Into<PathBuf>) -> Self {
        Self {
            dir: state_dir.into(),
        }
    }

    /// The state directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// `STATE/profile.xml`.
    pub fn profile_path(&self) -> PathBuf {
        self.dir.join(PROFILE_FILE)
    }

    /// The stored profile, or `None` when there is none yet.
    pub fn load(&self) -> Result<Option<Profile>, StoreError> {
        let path = self.profile_path();
        match fs::read(&path) {
            Ok(bytes) => Profile::parse(&bytes)
                .map(Some)
                .map_err(|error| StoreError::Corrupt { path, error }),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io_err(&path)(e)),
        }
    }

    /// Validates `incoming` combined with the stored profile and, when valid, writes the
    /// result atomically. On any error nothing is written. Returns the stored profile and the
    /// validation report (warnings, unknown names).
    pub fn apply(
        &self,
        incoming: &Profile,
        mode: ApplyMode,
    ) -> Result<(Profile, Report), StoreError> {
        match mode {
            ApplyMode::Merge => self.update(|mut current| {
                current.merge(incoming);
                current
            }),
            // Replace does not read the stored profile, so it also repairs a damaged one.
            ApplyMode::Replace => self.locked(|| {
                let mut next = Profile::new();
                next.merge(incoming);
                Ok(next)
            }),
        }
    }

    /// Runs a read-modify-write under the store lock: `f` gets the stored profile (empty when
    /// none) and returns the new one, which is validated and written atomically.
    pub fn update(
        &self,
        f: impl FnOnce(Profile) -> Profile,
    ) -> Result<(Profile, Report), StoreError> {
        self.locked(|| Ok(f(self.load()?.unwrap_or_default())))
    }

    /// Under the store lock: builds the next profile, validates it and writes it atomically.
    fn locked(
        &self,
        next: impl FnOnce() -> Result<Profile, StoreError>,
    ) -> Result<(Profile, Report), StoreError> {
        fs::create_dir_all(&self.dir).map_err(io_err(&self.dir))?;
        let lock_path = self.dir.join(".lock");
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(io_err(&lock_path))?;
        lock.lock().map_err(io_err(&lock_path))?;
        self.remove_stale_temporaries();
        let next = next()?;
        let report = validate::validate(&next);
        if !report.is_valid() {
            return Err(StoreError::Invalid(report));
        }
        let path = self.profile_path();
        write_atomic(&path, next.emit(false).as_bytes()).map_err(io_err(&path))?;
        Ok((next, report))
    }

    /// Temporary files left by a writer that was killed mid-write.
    fn remove_stale_temporaries(&self) {
        let Ok(dir) = fs::read_dir(&self.dir) else {
            return;
        };
        for entry in dir.flatten() {
            if entry.file_name().to_string_lossy().starts_with(TMP_PREFIX) {
                let _ = fs::remove_file(entry.path());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn apply_merges_and_refuses_invalid() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::new(dir.path());
        assert!(store.load().unwrap().is_none());
        let p =
            Profile::parse(b"<flat-profile><Firewall>Disabled</Firewall><X>1</X></flat-profile>")
                .unwrap();
        store.apply(&p, ApplyMode::Merge).unwrap();
        let before = fs::read(store.profile_path()).unwrap();
        let bad =
            Profile::parse(b"<flat-profile><Firewall>Maybe</Firewall></flat-profile>").unwrap();
        assert!(matches!(
            store.apply(&bad, ApplyMode::Merge),
            Err(StoreError::Invalid(_))
        ));
        assert_eq!(fs::read(store.profile_path()).unwrap(), before);
        let more = Profile::parse(b"<flat-profile><Y>2</Y></flat-profile>").unwrap();
        let (stored, _) = store.apply(&more, ApplyMode::Merge).unwrap();
        assert_eq!(stored.get("X").unwrap().value, "1");
        assert_eq!(stored.get("Y").unwrap().value, "2");
        let (stored, _) = store.apply(&more, ApplyMode::Replace).unwrap();
        assert!(stored.get("X").is_none());
    }
}
