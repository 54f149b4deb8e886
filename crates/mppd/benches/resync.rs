//! Criterion benchmark of one full provisioning resync (issue 4: median at most 30 ms): a local
//! nginx with `ssl_verify_client on` serves `fusionpbx-8851.xml` (73 KB) as `$MA.xml`; each
//! iteration is `Resync::run(None)` — a new TCP + TLS connection with the device certificate,
//! the GET, decode, parse, validate and the atomic apply (temporary file, fsync, rename, fsync of
//! the directory) to `STATE/profile.xml`.
//!
//! - `resync_https_mtls`: the Fetcher built once, as the daemon does; state dir on the real disk
//!   (the system temporary directory). This is the issue's figure.
//! - `resync_https_mtls_cold`: the Fetcher built inside the iteration (loads the system roots,
//!   `STATE/ca/*.pem`, the device certificate and key), as `mppd provision --once` does.
//! - `resync_https_mtls_tmpfs`: as the first, state dir on `/dev/shm` (when present), where
//!   fsync is nearly free: the difference to the first is the cost of durable storage.
//!
//! `scripts/bench-resync` runs this and prints the medians.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::fs;
use std::path::Path;

use criterion::{Criterion, criterion_group, criterion_main};
use mppd::provision::fetch::Fetcher;
use mppd::provision::resync::Resync;
use mppd::state::StateDir;
use mppd_config::Profile;
use mppd_config::store::ApplyMode;
use mppd_testkit::mppd::profile_xml;
use mppd_testkit::{Nginx, TestCa, Validity};
use tempfile::TempDir;

const BIN: &str = env!("CARGO_BIN_EXE_mppd");
const MA: &str = "0011223344ab";
const PROFILE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../../shared/profiles/fusionpbx-8851.xml"
);

/// The served profile: `fusionpbx-8851.xml` with its `Custom_CA_Rule` emptied (it points at
/// `pbx.example.net`, outside the restricted domains, and would fail every resync).
fn served_profile() -> Vec<u8> {
    let text = fs::read_to_string(PROFILE).unwrap_or_else(|e| panic!("reading {PROFILE}: {e}"));
    let ca_rule = "<Custom_CA_Rule ua=\"na\">https://pbx.example.net/ca/example-net-root-ca.pem</Custom_CA_Rule>";
    assert!(text.contains(ca_rule), "{PROFILE} has a Custom_CA_Rule");
    text.replace(ca_rule, "<Custom_CA_Rule ua=\"na\"/>")
        .into_bytes()
}

/// A phone's state directory under `parent`: the provisioning CA in `STATE/ca/`, a device
/// certificate from `devices` made by `mppd identity create`, and a stored profile whose
/// `Profile_Rule` fetches `$MA.xml` from `nginx`.
fn phone(parent: &Path, ca: &TestCa, devices: &TestCa, nginx: &Nginx) -> (TempDir, StateDir) {
    let dir = tempfile::tempdir_in(parent).unwrap();
    let state_path = dir.path().join("state");
    fs::create_dir_all(&state_path).unwrap();
    ca.install_into(&state_path, "test-ca.pem");
    mppd_testkit::mppd::create_identity(
        std::path::Path::new(BIN),
        &state_path,
        devices,
        "00:11:22:33:44:ab",
        "FCH1234ABCD",
        "CP-8851-3PCC",
    );
    let rule = format!("https://localhost:{}/prov/$MA.xml", nginx.port());
    let initial = Profile::parse(
        profile_xml(&[
            ("Profile_Rule", &rule),
            ("Restricted_Access_Domains", "localhost"),
        ])
        .as_bytes(),
    )
    .unwrap();
    let state = StateDir::new(&state_path);
    state
        .store()
        .apply(&initial, ApplyMode::Replace)
        .expect("storing the initial profile");
    (dir, state)
}

fn bench_resync(c: &mut Criterion) {
    let ca = TestCa::new("prov ca");
    let devices = TestCa::new("device ca");
    let (cert, key) = ca.issue_server(&["localhost"], &[], Some("localhost"), Validity::Valid);
    let nginx = Nginx::builder(&cert, &key)
        .require_client_cert(&devices.cert_path())
        .locations("location /prov/ { }\n")
        .start();
    let prov = nginx.html_dir().join("prov");
    fs::create_dir_all(&prov).unwrap();
    fs::write(prov.join(format!("{MA}.xml")), served_profile()).unwrap();

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();

    let mut parents = vec![("resync_https_mtls", std::env::temp_dir())];
    let shm = Path::new("/dev/shm");
    if shm.is_dir() {
        parents.push(("resync_https_mtls_tmpfs", shm.to_path_buf()));
    } else {
        eprintln!("/dev/shm not found: no tmpfs variant");
    }

    for (i, (name, parent)) in parents.iter().enumerate() {
        let (_dir, state) = phone(parent, &ca, &devices, &nginx);
        // The profile in force and the identity, loaded as the daemon does.
        let profile = state.store().load().unwrap().expect("a stored profile");
        let identity = state.identity().unwrap().identity;
        let lines = state.lines(None);
        let (fetcher, _warnings) = Fetcher::new(&profile, &state, &identity).unwrap();
        let resync = Resync {
            state: &state,
            profile: &profile,
            identity: &identity,
            fetcher: &fetcher,
            dhcp_server: None,
            lines,
        };

        // Check once, outside the timing, that the work measured is the real thing: the
        // profile is fetched over mutual TLS and its values land in STATE/profile.xml.
        let outcome = rt
            .block_on(resync.run(None))
            .unwrap_or_else(|e| panic!("first resync: {e}\nnginx: {}", nginx.error_log()));
        assert_eq!(outcome.fetched.len(), 1, "{outcome:?}");
        assert!(outcome.changed.len() > 100, "{:?}", outcome.changed);
        let stored = state.store().load().unwrap().unwrap();
        assert!(stored.entries().len() > 500, "{}", stored.entries().len());

        c.bench_function(name, |b| {
            b.iter(|| rt.block_on(resync.run(None)).unwrap());
        });

        if i == 0 {
            c.bench_function("resync_https_mtls_cold", |b| {
                b.iter(|| {
                    let (fetcher, _warnings) = Fetcher::new(&profile, &state, &identity).unwrap();
                    let resync = Resync {
                        fetcher: &fetcher,
                        ..resync
                    };
                    rt.block_on(resync.run(None)).unwrap()
                });
            });
        }
    }
}

criterion_group!(benches, bench_resync);
criterion_main!(benches);
