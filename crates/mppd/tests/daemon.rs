#![allow(clippy::unwrap_used, clippy::expect_used)]
//! `mppd run` on a temporary state directory: starts on the embedded default, serves status on
//! `STATE/mppd.sock` (mode 0600), reloads on SIGHUP (refusing an invalid profile and keeping
//! the old one), and stops cleanly on SIGTERM.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use common::{Sandbox, s, shared_profile};
use mppd_config::{Profile, validate};

/// The running daemon; killed (SIGKILL, by its PID) when the test ends early.
struct Daemon {
    child: Option<Child>,
    log: PathBuf,
}

impl Daemon {
    fn start(sb: &Sandbox) -> Self {
        let log = sb.dir.path().join("daemon.log");
        let child = common::command(&sb.state())
            .arg("run")
            .stdout(Stdio::from(
                std::fs::File::create(sb.dir.path().join("daemon.out")).unwrap(),
            ))
            .stderr(Stdio::from(std::fs::File::create(&log).unwrap()))
            .spawn()
            .expect("spawn mppd run");
        Self {
            child: Some(child),
            log,
        }
    }

    fn pid(&self) -> u32 {
        self.child.as_ref().expect("running").id()
    }

    /// What the daemon logged so far.
    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Sends a signal with kill(1).
    fn signal(&self, sig: &str) {
        let st = std::process::Command::new("kill")
            .args([&format!("-{sig}"), &self.pid().to_string()])
            .status()
            .expect("run kill");
        assert!(st.success(), "kill -{sig} {}", self.pid());
    }

    /// Waits up to `limit` for the daemon to exit; its status.
    fn wait_exit(&mut self, limit: Duration) -> Option<std::process::ExitStatus> {
        let start = Instant::now();
        let child = self.child.as_mut().expect("running");
        while start.elapsed() < limit {
            if let Some(st) = child.try_wait().expect("try_wait") {
                self.child = None;
                return Some(st);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// Polls `f` every 50 ms for up to `limit`.
fn wait_for<T>(limit: Duration, mut f: impl FnMut() -> Option<T>) -> Option<T> {
    let start = Instant::now();
    loop {
        if let Some(v) = f() {
            return Some(v);
        }
        if start.elapsed() > limit {
            return None;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// `mppd status --format json`, parsed; `None` when no daemon answers (exit 1).
fn status(sb: &Sandbox) -> Option<serde_json::Value> {
    let r = sb.mppd(&["status", "--format", "json"]);
    match r.code {
        Some(0) => Some(serde_json::from_str(&r.stdout).unwrap_or_else(|e| {
            panic!("status JSON: {e}\n{}", r.stdout);
        })),
        Some(1) => None,
        _ => panic!("status: {r:?}"),
    }
}

fn socket(sb: &Sandbox) -> PathBuf {
    sb.state().join("mppd.sock")
}

fn wait_socket(sb: &Sandbox, d: &Daemon) {
    let sock = socket(sb);
    assert!(
        wait_for(Duration::from_secs(10), || sock.exists().then_some(())).is_some(),
        "no {} after 10 s; log:\n{}",
        sock.display(),
        d.log()
    );
}

fn generation(v: &serde_json::Value) -> u64 {
    v["profile"]["generation"]
        .as_u64()
        .unwrap_or_else(|| panic!("profile.generation: {v}"))
}

/// The number of parameters and of unknown names a profile holds.
fn counts(p: &Profile) -> (u64, u64) {
    (
        p.entries().len() as u64,
        validate::validate(p).unknown.len() as u64,
    )
}

fn is_mode_0600(path: &Path) -> bool {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777 == 0o600
}

#[test]
fn status_without_daemon_is_exit_1() {
    let sb = Sandbox::new();
    sb.mppd(&["status"]).expect_code(1, "status with no daemon");
    sb.mppd(&["status", "--format", "json"])
        .expect_code(1, "status --format json with no daemon");
}

#[test]
fn run_reload_and_stop() {
    let sb = Sandbox::new();
    assert!(sb.stored_bytes().is_none());
    let mut d = Daemon::start(&sb);

    // (a) no profile: the embedded default.
    wait_socket(&sb, &d);
    let st = wait_for(Duration::from_secs(5), || status(&sb))
        .unwrap_or_else(|| panic!("status never answered; log:\n{}", d.log()));
    assert_eq!(st["pid"], d.pid(), "{st}");
    assert!(
        st["started"].is_string() || st["started"].is_number(),
        "{st}"
    );
    let default_export = sb.mppd(&["config", "export"]);
    default_export.expect_code(0, "config export (embedded default)");
    let default_profile = Profile::parse(default_export.stdout.as_bytes()).unwrap();
    let (n, unknown) = counts(&default_profile);
    assert_eq!(st["profile"]["parameters"], n, "embedded default: {st}");
    assert_eq!(st["profile"]["unknown"], 0, "{st}");
    assert_eq!(unknown, 0);
    // The source names (not fixed by docs/cli.md): `embedded-default` and `stored`.
    assert_eq!(st["profile"]["source"], "embedded-default", "{st}");
    assert!(
        d.log().to_lowercase().contains("embedded default"),
        "the log says it runs on the embedded default:\n{}",
        d.log()
    );
    // No reload yet.
    assert_eq!(st["last_reload"], serde_json::Value::Null, "{st}");
    let gen1 = generation(&st);

    // (b) the socket is private.
    assert!(is_mode_0600(&socket(&sb)), "STATE/mppd.sock mode 0600");
    let text = sb.mppd(&["status"]);
    text.expect_code(0, "status (text)");
    assert!(
        text.stdout.contains(&d.pid().to_string()),
        "{}",
        text.stdout
    );

    // (c) a new valid profile, SIGHUP: a new generation with its parameter count.
    let f = shared_profile("wazo-base.xml");
    sb.mppd(&["config", "apply", "--replace", s(&f)])
        .expect_code(0, "config apply wazo-base.xml");
    let applied = Profile::parse(&sb.stored_bytes().unwrap()).unwrap();
    let (n2, unknown2) = counts(&applied);
    assert_eq!((n2, unknown2), (84, 60), "wazo-base.xml as stored");
    d.signal("HUP");
    let st2 = wait_for(Duration::from_secs(5), || {
        status(&sb).filter(|v| generation(v) != gen1)
    })
    .unwrap_or_else(|| panic!("no new generation after SIGHUP; log:\n{}", d.log()));
    assert_eq!(generation(&st2), gen1 + 1, "{st2}");
    assert_eq!(st2["profile"]["parameters"], n2, "{st2}");
    assert_eq!(st2["profile"]["unknown"], unknown2, "{st2}");
    assert_eq!(st2["last_reload"]["ok"], true, "{st2}");
    assert_eq!(st2["pid"], d.pid(), "same process: {st2}");
    assert_eq!(st2["profile"]["source"], "stored", "{st2}");

    // (d) an invalid profile written directly, SIGHUP: refused, the previous one stays.
    std::fs::write(
        sb.profile_xml(),
        "<flat-profile>\n<Firewall>Disabled</Firewall>\n<SIP_Transport_1_>SCTP</SIP_Transport_1_>\n</flat-profile>\n",
    )
    .unwrap();
    d.signal("HUP");
    let st3 = wait_for(Duration::from_secs(5), || {
        status(&sb).filter(|v| v["last_reload"]["ok"] == false)
    })
    .unwrap_or_else(|| {
        panic!(
            "SIGHUP with an invalid profile not reported; log:\n{}",
            d.log()
        )
    });
    assert_eq!(generation(&st3), gen1 + 1, "the old profile stays: {st3}");
    assert_eq!(st3["profile"]["parameters"], n2, "{st3}");
    let msg = st3["last_reload"]["message"].as_str().expect("message");
    assert!(
        msg.contains("SIP_Transport_1_") && msg.contains("SCTP"),
        "{msg}"
    );

    // Malformed XML likewise.
    std::fs::write(
        sb.profile_xml(),
        "<flat-profile>\n<A>1</B>\n</flat-profile>\n",
    )
    .unwrap();
    d.signal("HUP");
    let st4 = wait_for(Duration::from_secs(5), || {
        status(&sb).filter(|v| {
            v["last_reload"]["message"]
                .as_str()
                .is_some_and(|m| m.contains("malformed"))
        })
    })
    .unwrap_or_else(|| panic!("SIGHUP with malformed XML not reported; log:\n{}", d.log()));
    assert_eq!(st4["last_reload"]["ok"], false, "{st4}");
    assert_eq!(generation(&st4), gen1 + 1, "{st4}");

    // A valid one again (written directly, as the stored file is now malformed): accepted.
    std::fs::write(
        sb.profile_xml(),
        "<flat-profile><Firewall>Enabled</Firewall></flat-profile>",
    )
    .unwrap();
    d.signal("HUP");
    let st5 = wait_for(Duration::from_secs(5), || {
        status(&sb).filter(|v| generation(v) == gen1 + 2)
    })
    .unwrap_or_else(|| {
        panic!(
            "valid profile after a refused one not loaded; log:\n{}",
            d.log()
        )
    });
    assert_eq!(st5["last_reload"]["ok"], true, "{st5}");
    assert_eq!(st5["profile"]["parameters"], 1, "{st5}");

    // (e) SIGTERM: exit 0 within 5 s, the socket removed.
    d.signal("TERM");
    let exit = d
        .wait_exit(Duration::from_secs(5))
        .unwrap_or_else(|| panic!("still running 5 s after SIGTERM; log:\n{}", d.log()));
    assert_eq!(exit.code(), Some(0), "exit status after SIGTERM: {exit:?}");
    assert!(!socket(&sb).exists(), "STATE/mppd.sock removed on exit");
    sb.mppd(&["status"])
        .expect_code(1, "status after the daemon stopped");
}

#[test]
fn run_on_a_stored_profile_and_sigint() {
    let sb = Sandbox::new();
    let f = shared_profile("wazo-model-cfg.xml");
    sb.mppd(&["config", "apply", "--replace", s(&f)])
        .expect_code(0, "config apply wazo-model-cfg.xml");
    let mut d = Daemon::start(&sb);
    wait_socket(&sb, &d);
    let st = wait_for(Duration::from_secs(5), || status(&sb))
        .unwrap_or_else(|| panic!("status never answered; log:\n{}", d.log()));
    assert_eq!(st["profile"]["parameters"], 4, "{st}");
    assert_eq!(st["profile"]["unknown"], 0, "{st}");
    assert_eq!(st["profile"]["source"], "stored", "{st}");
    d.signal("INT");
    let exit = d
        .wait_exit(Duration::from_secs(5))
        .unwrap_or_else(|| panic!("still running 5 s after SIGINT; log:\n{}", d.log()));
    assert_eq!(exit.code(), Some(0), "{exit:?}");
    assert!(!socket(&sb).exists());
}
