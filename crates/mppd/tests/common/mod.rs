//! Helpers shared by the integration tests of the `mppd` binary: running it with a state
//! directory, the shared test data, and comparing profiles through the library.
// Each test crate uses a subset of these helpers.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use mppd_config::Profile;

/// The binary under test.
pub(crate) const BIN: &str = env!("CARGO_BIN_EXE_mppd");

/// `../shared/profiles` (real-world profiles, read-only).
pub(crate) const PROFILES_DIR: &str =
    concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/profiles");

/// `../shared/profiles/expected.json`.
pub(crate) const EXPECTED_JSON: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../../shared/profiles/expected.json"
);

/// `../shared/reference/parameters.tsv`.
pub(crate) const PARAMETERS_TSV: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../../shared/reference/parameters.tsv"
);

/// The outcome of one run of the binary.
#[derive(Debug)]
pub(crate) struct Run {
    /// The exit code (`None` when killed by a signal).
    pub(crate) code: Option<i32>,
    pub(crate) stdout: String,
    pub(crate) stderr: String,
}

impl Run {
    /// Panics with the whole output unless the exit code is `code`.
    #[track_caller]
    pub(crate) fn expect_code(&self, code: i32, what: &str) -> &Self {
        assert_eq!(
            self.code,
            Some(code),
            "{what}: exit code\n--- stdout:\n{}\n--- stderr:\n{}",
            self.stdout,
            self.stderr
        );
        self
    }

    /// stdout and stderr together (for messages the contract does not assign to one stream).
    pub(crate) fn all_output(&self) -> String {
        format!("{}{}", self.stdout, self.stderr)
    }
}

impl From<Output> for Run {
    fn from(o: Output) -> Self {
        Self {
            code: o.status.code(),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        }
    }
}

/// A `mppd --state-dir STATE` command with a clean environment (no `MPPD_STATE_DIR`, no
/// `RUST_LOG`, no colours), run from the state directory's parent so that nothing lands in the
/// source tree.
pub(crate) fn command(state: &Path) -> Command {
    let mut c = Command::new(BIN);
    c.arg("--state-dir")
        .arg(state)
        .env_remove("MPPD_STATE_DIR")
        .env_remove("RUST_LOG")
        .env("NO_COLOR", "1")
        .stdin(Stdio::null());
    if let Some(parent) = state.parent() {
        c.current_dir(parent);
    }
    c
}

/// Runs `mppd --state-dir STATE ARGS...` to completion.
pub(crate) fn mppd(state: &Path, args: &[&str]) -> Run {
    command(state)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("running {BIN} {args:?}: {e}"))
        .into()
}

/// A temporary directory holding a state directory `state` (not created) and room for
/// profiles written by the test.
pub(crate) struct Sandbox {
    pub(crate) dir: tempfile::TempDir,
}

impl Sandbox {
    pub(crate) fn new() -> Self {
        Self {
            dir: tempfile::tempdir().expect("temp dir"),
        }
    }

    /// The state directory (`--state-dir`).
    pub(crate) fn state(&self) -> PathBuf {
        self.dir.path().join("state")
    }

    /// `STATE/profile.xml`.
    pub(crate) fn profile_xml(&self) -> PathBuf {
        self.state().join("profile.xml")
    }

    /// Writes `bytes` to a file of the sandbox and returns its path.
    pub(crate) fn write(&self, name: &str, bytes: impl AsRef<[u8]>) -> PathBuf {
        let p = self.dir.path().join(name);
        std::fs::write(&p, bytes).expect("write test file");
        p
    }

    /// Runs the binary on this sandbox's state directory.
    pub(crate) fn mppd(&self, args: &[&str]) -> Run {
        mppd(&self.state(), args)
    }

    /// The bytes of `STATE/profile.xml`, `None` when it does not exist.
    pub(crate) fn stored_bytes(&self) -> Option<Vec<u8>> {
        match std::fs::read(self.profile_xml()) {
            Ok(b) => Some(b),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => panic!("reading {}: {e}", self.profile_xml().display()),
        }
    }
}

/// A path as a `&str` (test paths are UTF-8).
pub(crate) fn s(p: &Path) -> &str {
    p.to_str().expect("UTF-8 path")
}

/// Every `*.xml` of `../shared/profiles`, sorted by name.
pub(crate) fn shared_profiles() -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(PROFILES_DIR)
        .unwrap_or_else(|e| panic!("reading {PROFILES_DIR}: {e}"))
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "xml"))
        .collect();
    v.sort();
    assert!(v.len() >= 7, "expected the 7 shared profiles, found {v:?}");
    v
}

/// One shared profile by file name.
pub(crate) fn shared_profile(name: &str) -> PathBuf {
    Path::new(PROFILES_DIR).join(name)
}

/// `expected.json`, parsed.
pub(crate) fn expected() -> serde_json::Value {
    let text = std::fs::read_to_string(EXPECTED_JSON)
        .unwrap_or_else(|e| panic!("reading {EXPECTED_JSON}: {e}"));
    serde_json::from_str(&text).expect("expected.json is JSON")
}

/// Parses a profile file with the library (it must parse).
pub(crate) fn parse_file(path: &Path) -> Profile {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    Profile::parse(&bytes).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The parameters of a profile as `(name, value, ua)`, sorted by name: what "the same
/// parameters" means (source lines and order do not matter).
pub(crate) fn entries(p: &Profile) -> Vec<(String, String, Option<&'static str>)> {
    let mut v: Vec<_> = p
        .entries()
        .iter()
        .map(|e| (e.name.clone(), e.value.clone(), e.ua.map(|u| u.as_str())))
        .collect();
    v.sort();
    v
}

/// Lists the differences between two entry lists (for readable failures).
pub(crate) fn diff(
    left: &[(String, String, Option<&'static str>)],
    right: &[(String, String, Option<&'static str>)],
) -> String {
    use std::collections::BTreeMap;
    let l: BTreeMap<_, _> = left.iter().map(|(n, v, u)| (n, (v, u))).collect();
    let r: BTreeMap<_, _> = right.iter().map(|(n, v, u)| (n, (v, u))).collect();
    let mut out = String::new();
    for (n, lv) in &l {
        match r.get(n) {
            None => out.push_str(&format!("  only left:  {n} = {lv:?}\n")),
            Some(rv) if rv != lv => out.push_str(&format!("  differs:    {n}: {lv:?} vs {rv:?}\n")),
            Some(_) => {}
        }
    }
    for (n, rv) in &r {
        if !l.contains_key(n) {
            out.push_str(&format!("  only right: {n} = {rv:?}\n"));
        }
    }
    if out.len() > 4000 {
        out.truncate(4000);
        out.push_str("...\n");
    }
    out
}
