//! Runs of the `mppd` binary on a temporary state directory.
//!
//! The binary's path comes from the calling test crate (`env!("CARGO_BIN_EXE_mppd")` exists
//! only in `crates/mppd`'s tests), so every entry point takes it as a parameter.

use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use tempfile::TempDir;

/// The outcome of one run of the binary.
#[derive(Debug, Clone)]
pub struct RunOutput {
    /// The command that ran (for messages).
    pub command: String,
    /// The exit code (`None` when killed by a signal).
    pub code: Option<i32>,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}

impl RunOutput {
    fn new(command: String, o: Output) -> Self {
        Self {
            command,
            code: o.status.code(),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        }
    }

    /// The command, exit code, stdout and stderr, for assertion messages.
    pub fn describe(&self) -> String {
        format!(
            "{}\n--- exit code: {:?}\n--- stdout:\n{}\n--- stderr:\n{}",
            self.command, self.code, self.stdout, self.stderr
        )
    }

    /// Panics with the whole output unless the exit code is `code`.
    #[track_caller]
    pub fn expect_code(&self, code: i32) -> &Self {
        assert_eq!(
            self.code,
            Some(code),
            "unexpected exit code\n{}",
            self.describe()
        );
        self
    }

    /// The one line printed on stdout (without its newline); panics when stdout is not
    /// exactly one newline-terminated line.
    #[track_caller]
    pub fn stdout_line(&self) -> &str {
        let line = self.stdout.strip_suffix('\n');
        match line {
            Some(l) if !l.contains('\n') => l,
            _ => panic!("expected exactly one line on stdout\n{}", self.describe()),
        }
    }
}

/// The `mppd` binary bound to one state directory.
#[derive(Debug, Clone)]
pub struct Mppd {
    bin: PathBuf,
    state: PathBuf,
}

impl Mppd {
    /// `bin --state-dir state`.
    pub fn new(bin: impl Into<PathBuf>, state: impl Into<PathBuf>) -> Self {
        Self {
            bin: bin.into(),
            state: state.into(),
        }
    }

    /// The state directory.
    pub fn state(&self) -> &Path {
        &self.state
    }

    /// A `mppd --state-dir STATE` command with a clean environment (no `MPPD_STATE_DIR`,
    /// no `RUST_LOG`, `NO_COLOR=1`, stdin from `/dev/null`), run from the state directory's
    /// parent so nothing lands in the source tree.
    pub fn command(&self) -> Command {
        let mut c = Command::new(&self.bin);
        c.arg("--state-dir").arg(&self.state);
        self.clean(&mut c);
        c
    }

    fn clean(&self, c: &mut Command) {
        c.env_remove("MPPD_STATE_DIR")
            .env_remove("RUST_LOG")
            .env("NO_COLOR", "1")
            .stdin(Stdio::null());
        if let Some(parent) = self.state.parent() {
            c.current_dir(parent);
        }
    }

    /// Runs `mppd --state-dir STATE ARGS...` to completion.
    pub fn run(&self, args: &[&str]) -> RunOutput {
        let mut c = self.command();
        c.args(args);
        let what = format!(
            "mppd --state-dir {} {}",
            self.state.display(),
            args.join(" ")
        );
        let out = c
            .output()
            .unwrap_or_else(|e| panic!("running {}: {e}", self.bin.display()));
        RunOutput::new(what, out)
    }

    /// Runs `mppd --state-dir STATE ARGS...` with extra environment variables (for example
    /// OpenSSL's `SSL_CERT_DIR`).
    pub fn run_with_env(&self, env: &[(&str, &Path)], args: &[&str]) -> RunOutput {
        let mut c = self.command();
        c.args(args);
        let mut what = String::new();
        for (k, v) in env {
            c.env(k, v);
            what.push_str(&format!("{k}={} ", v.display()));
        }
        what.push_str(&format!(
            "mppd --state-dir {} {}",
            self.state.display(),
            args.join(" ")
        ));
        let out = c
            .output()
            .unwrap_or_else(|e| panic!("running {}: {e}", self.bin.display()));
        RunOutput::new(what, out)
    }

    /// Runs `mppd --state-dir STATE ARGS...` in a private mount namespace whose `/etc/hosts`
    /// is the file `hosts` (bind-mounted by `unshare -m`, which makes the namespace's mounts
    /// private, so the host's `/etc/hosts` is untouched). Needs root (CI runs as root).
    pub fn run_with_hosts(&self, hosts: &Path, args: &[&str]) -> RunOutput {
        let mut c = Command::new("unshare");
        c.arg("--mount")
            .arg("--propagation")
            .arg("private")
            .arg("--")
            .arg("sh")
            .arg("-c")
            .arg(r#"mount --bind "$0" /etc/hosts && exec "$@""#)
            .arg(hosts)
            .arg(&self.bin)
            .arg("--state-dir")
            .arg(&self.state)
            .args(args);
        self.clean(&mut c);
        let what = format!(
            "[/etc/hosts = {}] mppd --state-dir {} {}",
            hosts.display(),
            self.state.display(),
            args.join(" ")
        );
        let out = c
            .output()
            .unwrap_or_else(|e| panic!("running unshare for {what}: {e}"));
        RunOutput::new(what, out)
    }
}

/// A temporary directory holding a state directory (`DIR/state`, created) and room for the
/// test's own files (profiles, hosts files); removed when dropped.
#[derive(Debug)]
pub struct StateSandbox {
    dir: TempDir,
    mppd: Mppd,
}

impl StateSandbox {
    /// A fresh sandbox for the binary at `bin`.
    pub fn new(bin: impl Into<PathBuf>) -> Self {
        let dir = tempfile::Builder::new()
            .prefix("mppd-test-")
            .tempdir()
            .unwrap_or_else(|e| panic!("creating a temp dir: {e}"));
        let state = dir.path().join("state");
        fs::create_dir_all(&state).unwrap_or_else(|e| panic!("creating {}: {e}", state.display()));
        let mppd = Mppd::new(bin, state);
        Self { dir, mppd }
    }

    /// The sandbox directory.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The state directory (`--state-dir`).
    pub fn state(&self) -> &Path {
        self.mppd.state()
    }

    /// The binary bound to this state directory.
    pub fn mppd(&self) -> &Mppd {
        &self.mppd
    }

    /// Writes `bytes` to `DIR/name` and returns its path.
    pub fn write(&self, name: &str, bytes: impl AsRef<[u8]>) -> PathBuf {
        let p = self.dir.path().join(name);
        fs::write(&p, bytes).unwrap_or_else(|e| panic!("writing {}: {e}", p.display()));
        p
    }

    /// Writes a cfg.xml profile `DIR/name` setting `params` (`(name, value)`, values escaped)
    /// and returns its path.
    pub fn write_profile(&self, name: &str, params: &[(&str, &str)]) -> PathBuf {
        self.write(name, profile_xml(params))
    }

    /// Writes a hosts file `DIR/name` (`localhost` on 127.0.0.1 and ::1, then `entries` as
    /// `(address, name)`) for [`run_with_hosts`](Self::run_with_hosts) and returns its path.
    pub fn write_hosts(&self, name: &str, entries: &[(&str, &str)]) -> PathBuf {
        let mut s = String::from("127.0.0.1 localhost\n::1 localhost\n");
        for (addr, host) in entries {
            let _ = writeln!(s, "{addr} {host}");
        }
        self.write(name, s)
    }

    /// Runs `mppd --state-dir STATE ARGS...`.
    pub fn run(&self, args: &[&str]) -> RunOutput {
        self.mppd.run(args)
    }

    /// Runs `mppd --state-dir STATE ARGS...` with extra environment variables.
    pub fn run_with_env(&self, env: &[(&str, &Path)], args: &[&str]) -> RunOutput {
        self.mppd.run_with_env(env, args)
    }

    /// Runs `mppd --state-dir STATE ARGS...` with `/etc/hosts` replaced by `hosts` in a
    /// private mount namespace (see [`Mppd::run_with_hosts`]).
    pub fn run_with_hosts(&self, hosts: &Path, args: &[&str]) -> RunOutput {
        self.mppd.run_with_hosts(hosts, args)
    }
}

/// A `<flat-profile>` setting `params` (`(name, value)`) with `ua="na"`.
pub fn profile_xml(params: &[(&str, &str)]) -> String {
    let mut s = String::from("<flat-profile>\n");
    for (name, value) in params {
        let _ = writeln!(s, "  <{name} ua=\"na\">{}</{name}>", xml_escape(value));
    }
    s.push_str("</flat-profile>\n");
    s
}

fn xml_escape(v: &str) -> String {
    v.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// Runs `mppd --state-dir STATE identity create` with `ca` as the signing CA and the given
/// MAC, serial and product, and panics with the output when it fails.
pub fn create_identity(
    bin: &Path,
    state: &Path,
    ca: &crate::TestCa,
    mac: &str,
    serial: &str,
    product: &str,
) {
    let out = Command::new(bin)
        .arg("--state-dir")
        .arg(state)
        .args(["identity", "create", "--ca-cert"])
        .arg(ca.cert_path())
        .arg("--ca-key")
        .arg(ca.key_path())
        .args(["--mac", mac, "--serial", serial, "--product", product])
        .output()
        .unwrap_or_else(|e| panic!("running {}: {e}", bin.display()));
    assert!(out.status.success(), "identity create: {out:?}");
}
