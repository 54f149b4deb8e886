#![allow(clippy::unwrap_used, clippy::expect_used)]
//! `mppd run` provisions on its schedule (issue 4 item 11): with `Resync_Random_Delay` 0 the
//! power-up resync fetches the profile from nginx (HTTPS, device certificate), the daemon loads
//! the result at once (status: new generation, the fetched value in force), and status reports
//! the last resync. On the embedded default (rule `/$PSN.xml`, no DHCP server) the resync
//! fails at once with "no server" and nothing is sent anywhere.

use std::fs;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use mppd_testkit::mppd::profile_xml;
use mppd_testkit::{Nginx, TestCa, Validity};
use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_mppd");

struct Daemon(Child);

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start(state: &Path) -> Daemon {
    let child = Command::new(BIN)
        .arg("--state-dir")
        .arg(state)
        .arg("run")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    Daemon(child)
}

fn status(state: &Path) -> Option<Value> {
    let out = Command::new(BIN)
        .arg("--state-dir")
        .arg(state)
        .args(["status", "--format", "json"])
        .output()
        .unwrap();
    out.status
        .success()
        .then(|| serde_json::from_slice(&out.stdout).unwrap())
}

/// Polls the status until `done` holds (at most 20 s).
fn wait_for(state: &Path, what: &str, done: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(v) = status(state)
            && done(&v)
        {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {what}: {:?}",
            status(state)
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn the_daemon_resyncs_at_power_up_and_loads_the_result() {
    let ca = TestCa::new("prov ca");
    let devices = TestCa::new("device ca");
    let (cert, key) = ca.issue_server(&["localhost"], &[], Some("localhost"), Validity::Valid);
    let nginx = Nginx::builder(&cert, &key)
        .require_client_cert(&devices.cert_path())
        .locations("location /prov/ { }\n")
        .start();
    let prov = nginx.html_dir().join("prov");
    fs::create_dir_all(&prov).unwrap();
    // The fetched profile names a firmware image: the daemon fetches it after the resync.
    let image: Vec<u8> = (0..70_000u32).map(|i| (i % 251) as u8).collect();
    fs::write(prov.join("fw.loads"), &image).unwrap();
    let digest: String = openssl::sha::sha256(&image)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    fs::write(
        prov.join("fw.loads.sha256"),
        format!("{digest}  fw.loads\n"),
    )
    .unwrap();
    let upgrade_rule = format!("https://localhost:{}/prov/fw.loads", nginx.port());
    fs::write(
        prov.join("0011223344ab.xml"),
        profile_xml(&[
            ("Station_Name", "from-schedule"),
            ("Resync_Periodic", "0"),
            ("Upgrade_Rule", &upgrade_rule),
        ]),
    )
    .unwrap();

    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    fs::create_dir_all(&state).unwrap();
    ca.install_into(&state, "test-ca.pem");
    mppd_testkit::mppd::create_identity(
        std::path::Path::new(BIN),
        &state,
        &devices,
        "00:11:22:33:44:ab",
        "FCH1",
        "CP-8851-3PCC",
    );
    let rule = format!("https://localhost:{}/prov/$MA.xml", nginx.port());
    let initial = dir.path().join("initial.xml");
    fs::write(
        &initial,
        profile_xml(&[
            ("Profile_Rule", &rule),
            ("Resync_Random_Delay", "0"),
            ("Station_Name", "before"),
        ]),
    )
    .unwrap();
    let out = Command::new(BIN)
        .arg("--state-dir")
        .arg(&state)
        .args(["config", "apply", "--replace"])
        .arg(&initial)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");

    let _daemon = start(&state);
    let v = wait_for(&state, "a successful resync", |v| {
        v["provisioning"]["last"]["ok"] == Value::Bool(true)
    });
    assert_eq!(v["provisioning"]["last"]["reason"], "PowerUp", "{v}");
    // The fetched profile is in force: stored, and loaded by the daemon (a new generation).
    let stored =
        mppd_config::Profile::parse(&fs::read(state.join("profile.xml")).unwrap()).unwrap();
    assert_eq!(stored.get("Station_Name").unwrap().value, "from-schedule");
    let v = wait_for(&state, "the reload", |v| {
        v["profile"]["generation"].as_u64() >= Some(2)
    });
    assert_eq!(v["profile"]["source"], "stored", "{v}");
    // The upgrade that follows the resync stored the image.
    let stored_image = state.join("firmware/fw.loads");
    let deadline = Instant::now() + Duration::from_secs(20);
    while fs::read(&stored_image).ok().as_deref() != Some(&image[..]) {
        assert!(
            Instant::now() < deadline,
            "no firmware image in {}",
            stored_image.display()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    // Resync_Periodic 0 in the fetched profile: nothing more is scheduled.
    let v = wait_for(&state, "the new schedule", |v| {
        v["provisioning"]["next"].is_null()
    });
    assert!(v["provisioning"]["running"].is_null(), "{v}");
}

#[test]
fn the_embedded_default_fails_at_once_without_a_server() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    // Resync_Random_Delay must be 0 for the test to be quick: set it, nothing else.
    let out = Command::new(BIN)
        .arg("--state-dir")
        .arg(&state)
        .args(["config", "set", "Resync_Random_Delay=0"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let _daemon = start(&state);
    let v = wait_for(&state, "the failed resync", |v| {
        v["provisioning"]["last"]["ok"] == Value::Bool(false)
    });
    let message = v["provisioning"]["last"]["message"].as_str().unwrap();
    assert!(message.contains("names no server"), "{message}");
    // The failure schedules a retry (Resync_Error_Retry_Delay, first step 60 s).
    assert_eq!(v["provisioning"]["next"]["reason"], "Retry", "{v}");
}

/// Proxy_Mode Auto with a hostile PAC file (an endless loop, issue 8): the daemon's power-up
/// resync goes DIRECT after the PAC time limit, succeeds, and the daemon stays up; status shows
/// the proxy mode, the PAC source and the last decision with its warning.
#[test]
fn a_hostile_pac_file_falls_back_to_direct_and_status_says_so() {
    let ca = TestCa::new("prov ca");
    let (cert, key) = ca.issue_server(&["localhost"], &[], Some("localhost"), Validity::Valid);
    let nginx = Nginx::builder(&cert, &key)
        .plain_http()
        .locations("location /prov/ { }\n")
        .start();
    let prov = nginx.html_dir().join("prov");
    fs::create_dir_all(&prov).unwrap();
    fs::write(
        prov.join("loop.pac"),
        "function FindProxyForURL(url, host) { for (;;) {} }\n",
    )
    .unwrap();
    let rule = format!("http://localhost:{}/prov/phone.xml", nginx.port());
    let pac_url = format!("http://localhost:{}/prov/loop.pac", nginx.port());
    let params = [
        ("Profile_Rule", rule.as_str()),
        ("Resync_Random_Delay", "0"),
        ("Proxy_Mode", "Auto"),
        ("Use_Auto_Discovery__WPAD_", "No"),
        ("PAC_URL", pac_url.as_str()),
    ];
    // The served profile changes nothing, so the daemon keeps its fetcher (and its PAC state).
    fs::write(prov.join("phone.xml"), profile_xml(&params)).unwrap();

    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    fs::create_dir_all(&state).unwrap();
    let initial = dir.path().join("initial.xml");
    fs::write(&initial, profile_xml(&params)).unwrap();
    let out = Command::new(BIN)
        .arg("--state-dir")
        .arg(&state)
        .args(["config", "apply", "--replace"])
        .arg(&initial)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");

    let mut daemon = start(&state);
    let v = wait_for(&state, "a successful resync", |v| {
        v["provisioning"]["last"]["ok"] == Value::Bool(true)
    });
    let proxy = &v["provisioning"]["proxy"];
    assert_eq!(proxy["mode"], "Auto", "{v}");
    assert_eq!(proxy["pac_source"], pac_url.as_str(), "{v}");
    let decision = &proxy["last_decision"];
    assert_eq!(decision["url"], rule.as_str(), "{v}");
    assert_eq!(decision["result"], "DIRECT", "{v}");
    assert_eq!(decision["route"], serde_json::json!(["DIRECT"]), "{v}");
    let warnings = decision["warnings"].to_string();
    assert!(warnings.contains("PAC evaluation timed out"), "{v}");
    assert!(
        daemon.0.try_wait().unwrap().is_none(),
        "the daemon must stay up"
    );
    assert!(
        nginx.access_log().contains("GET /prov/phone.xml"),
        "{}",
        nginx.access_log()
    );
}
