#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The provisioning fetcher against real peers (issue 4, items 2, 4, 5): nginx over HTTPS with
//! `ssl_verify_client on` and over plain HTTP, serving files, redirects, `auth_basic` and 404s;
//! the TLS checks (unknown CA, name mismatch, missing client certificate);
//! `Restricted_Access_Domains` on the URL and on redirect targets; redundant addresses through
//! an injected resolver (the host's `/etc/hosts` is never edited); and TFTP against an in-test
//! UDP server.

use std::fs;
use std::net::{IpAddr, Ipv4Addr, UdpSocket};
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use mppd::provision::fetch::{FetchError, Fetcher, Method, Resolve, Timeouts};
use mppd::state::StateDir;
use mppd::tls::TlsFailure;
use mppd_config::Profile;
use mppd_config::identity::DeviceIdentity;
use mppd_config::rule::{ExpandedOptions, Scheme, Url};
use mppd_testkit::{Nginx, NginxBuilder, TestCa, Validity};
use tempfile::TempDir;

const LOCALHOST: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);
const PROFILE: &[u8] = b"<flat-profile><Station_Name>fetched</Station_Name></flat-profile>\n";
const DEVICE_CN: &str = "SEP001122334455";

/// Files under `/prov/`, a redirect inside and one outside, Basic auth, the User-Agent echoed.
const LOCATIONS: &str = "\
    location /prov/ { }\n\
    location = /moved { return 302 /prov/SEP.xml; }\n\
    location = /away { return 302 https://evil.example.org/prov/SEP.xml; }\n\
    location = /loop { return 302 /loop; }\n\
    location = /ua { return 200 \"$http_user_agent\"; }\n";

/// A state directory (trusting `ca` when given, with a device certificate when `device`).
struct Phone {
    _dir: TempDir,
    state: StateDir,
    profile: Profile,
}

impl Phone {
    fn new(trust: Option<&TestCa>, device: Option<&TestCa>) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state");
        fs::create_dir_all(&path).unwrap();
        if let Some(ca) = trust {
            ca.install_into(&path, "test-ca.pem");
        }
        if let Some(ca) = device {
            let (cert, key) = ca.issue_client(DEVICE_CN, Validity::Valid);
            let id = path.join("identity");
            fs::create_dir_all(&id).unwrap();
            fs::copy(cert, id.join("device.pem")).unwrap();
            fs::copy(key, id.join("device.key")).unwrap();
        }
        Self {
            _dir: dir,
            state: StateDir::new(path),
            profile: Profile::new(),
        }
    }

    fn set(mut self, name: &str, value: &str) -> Self {
        self.profile.set(name, value, None, 0);
        self
    }

    fn fetcher(&self) -> Fetcher {
        let (f, warnings) =
            Fetcher::new(&self.profile, &self.state, &DeviceIdentity::emulated()).unwrap();
        assert!(warnings.is_empty(), "{warnings:?}");
        f
    }
}

fn url(scheme: Scheme, host: &str, port: u16, path: &str) -> Url {
    Url {
        scheme,
        host: Some(host.to_owned()),
        port: Some(port),
        path: path.to_owned(),
    }
}

fn creds(uid: &str, pwd: &str) -> ExpandedOptions {
    ExpandedOptions {
        uid: Some(uid.to_owned()),
        pwd: Some(pwd.to_owned()),
        ..ExpandedOptions::default()
    }
}

fn serve(nginx: &Nginx, name: &str, body: &[u8]) {
    let dir = nginx.html_dir().join("prov");
    fs::create_dir_all(&dir).unwrap();
    fs::write(dir.join(name), body).unwrap();
}

/// An HTTPS nginx for `localhost`/127.0.0.1 issued by `ca`, requiring a client certificate
/// from `ca`, serving `/prov/SEP.xml`.
fn https_nginx(ca: &TestCa, names: &[&str], extra: &str) -> Nginx {
    let (cert, key) = ca.issue_server(names, &[LOCALHOST], Some(names[0]), Validity::Valid);
    let n = Nginx::builder(&cert, &key)
        .require_client_cert(&ca.cert_path())
        .locations(LOCATIONS)
        .locations(extra)
        .start();
    serve(&n, "SEP.xml", PROFILE);
    n
}

fn plain_nginx(ca: &TestCa, extra: &str) -> Nginx {
    let (cert, key) = ca.issue_server(&["localhost"], &[], None, Validity::Valid);
    let n: NginxBuilder = Nginx::builder(&cert, &key)
        .plain_http()
        .locations(LOCATIONS)
        .locations(extra);
    let n = n.start();
    serve(&n, "SEP.xml", PROFILE);
    n
}

/// The access log once `done` holds for it (nginx writes a line after the response is sent, so
/// the client can be faster); panics with the log after 5 s.
fn log_when(nginx: &Nginx, done: impl Fn(&str) -> bool) -> String {
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    loop {
        let log = nginx.access_log();
        if done(&log) {
            return log;
        }
        assert!(std::time::Instant::now() < deadline, "access log:\n{log}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

async fn get(f: &Fetcher, u: &Url) -> Result<mppd::provision::fetch::Fetched, FetchError> {
    f.fetch(u, &ExpandedOptions::default(), Method::Get, None)
        .await
}

#[tokio::test]
async fn https_with_the_device_certificate_fetches_and_nginx_logs_the_subject() {
    let ca = TestCa::new("mppd prov CA");
    let nginx = https_nginx(&ca, &["localhost"], "");
    let phone = Phone::new(Some(&ca), Some(&ca));
    let f = phone.fetcher();
    let got = get(
        &f,
        &url(Scheme::Https, "localhost", nginx.port(), "/prov/SEP.xml"),
    )
    .await
    .unwrap();
    assert_eq!(got.body, PROFILE);
    assert_eq!(got.status, 200);
    assert_eq!(got.ip, LOCALHOST, "$SERVIP is the address connected to");
    assert_eq!((got.host.as_str(), got.port), ("localhost", nginx.port()));
    let log = log_when(&nginx, |l| l.contains("\"GET /prov/SEP.xml HTTP/1.1\""));
    assert!(
        log.contains("client_verify=SUCCESS")
            && log.contains(&format!("CN={DEVICE_CN}"))
            && log.contains("200 \"GET /prov/SEP.xml HTTP/1.1\""),
        "{log}"
    );

    // The User-Agent is the unit's, or HTTP_User_Agent_Name with its macros expanded.
    let ua = get(&f, &url(Scheme::Https, "localhost", nginx.port(), "/ua"))
        .await
        .unwrap();
    assert_eq!(
        String::from_utf8(ua.body).unwrap(),
        DeviceIdentity::emulated().user_agent()
    );
    let custom = Phone::new(Some(&ca), Some(&ca))
        .set("HTTP_User_Agent_Name", "acme-$MA-$A")
        .set("GPP_A", "x1")
        .fetcher();
    let ua = get(
        &custom,
        &url(Scheme::Https, "localhost", nginx.port(), "/ua"),
    )
    .await
    .unwrap();
    assert_eq!(String::from_utf8(ua.body).unwrap(), "acme-020000000001-x1");
}

#[tokio::test]
async fn https_without_the_client_certificate_is_refused() {
    let ca = TestCa::new("mppd prov CA");
    let nginx = https_nginx(&ca, &["localhost"], "");
    let f = Phone::new(Some(&ca), None).fetcher();
    let err = get(
        &f,
        &url(Scheme::Https, "localhost", nginx.port(), "/prov/SEP.xml"),
    )
    .await
    .unwrap_err();
    assert!(
        matches!(
            &err,
            FetchError::Tls {
                failure: TlsFailure::ClientCertRefused(_),
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("client-cert-refused"), "{err}");
}

#[tokio::test]
async fn a_server_from_an_unknown_ca_is_untrusted() {
    let ca = TestCa::new("mppd prov CA");
    let nginx = https_nginx(&ca, &["localhost"], "");
    let other = TestCa::new("another CA");
    let f = Phone::new(Some(&other), Some(&ca)).fetcher();
    let err = get(
        &f,
        &url(Scheme::Https, "localhost", nginx.port(), "/prov/SEP.xml"),
    )
    .await
    .unwrap_err();
    assert!(
        matches!(
            &err,
            FetchError::Tls {
                failure: TlsFailure::Untrusted(_),
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(
        nginx.access_log(),
        "",
        "no request after a failed handshake"
    );
}

#[tokio::test]
async fn a_certificate_for_another_name_is_a_mismatch() {
    let ca = TestCa::new("mppd prov CA");
    let nginx = https_nginx(&ca, &["prov.example.net"], "");
    let f = Phone::new(Some(&ca), Some(&ca)).fetcher();
    let err = get(
        &f,
        &url(Scheme::Https, "localhost", nginx.port(), "/prov/SEP.xml"),
    )
    .await
    .unwrap_err();
    let FetchError::Tls {
        failure: TlsFailure::NameMismatch(detail),
        addr,
    } = &err
    else {
        panic!("{err:?}");
    };
    assert_eq!(addr.ip(), LOCALHOST);
    assert!(detail.contains("prov.example.net"), "{detail}");
}

/// A resolver that counts its calls and answers from a table.
struct Table {
    calls: AtomicUsize,
    entries: Vec<(&'static str, Vec<IpAddr>)>,
}

impl Resolve for Table {
    fn resolve(&self, host: &str) -> Result<Vec<IpAddr>, String> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        self.entries
            .iter()
            .find(|(h, _)| *h == host)
            .map(|(_, a)| a.clone())
            .ok_or_else(|| "no such host".to_owned())
    }
}

#[tokio::test]
async fn a_host_outside_the_restricted_domains_is_never_contacted() {
    let ca = TestCa::new("mppd prov CA");
    let nginx = https_nginx(&ca, &["localhost"], "");
    let table = Arc::new(Table {
        calls: AtomicUsize::new(0),
        entries: vec![("localhost", vec![LOCALHOST])],
    });
    let f = Phone::new(Some(&ca), Some(&ca))
        .set("Restricted_Access_Domains", "example.net, prov.example.com")
        .fetcher()
        .with_resolver(table.clone());
    let err = get(
        &f,
        &url(Scheme::Https, "localhost", nginx.port(), "/prov/SEP.xml"),
    )
    .await
    .unwrap_err();
    assert!(matches!(err, FetchError::NotAllowed(_)), "{err:?}");
    assert_eq!(
        err.to_string(),
        "host \"localhost\" is not in Restricted_Access_Domains (example.net, prov.example.com)"
    );
    assert_eq!(table.calls.load(Ordering::SeqCst), 0, "not even resolved");
    // An IP literal is not a name of the list either.
    let err = get(
        &f,
        &url(Scheme::Https, "127.0.0.1", nginx.port(), "/prov/SEP.xml"),
    )
    .await
    .unwrap_err();
    assert!(matches!(err, FetchError::NotAllowed(_)), "{err:?}");
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(nginx.access_log(), "", "nginx saw nothing");
}

#[tokio::test]
async fn redirects_are_followed_only_inside_the_restricted_domains() {
    let ca = TestCa::new("mppd prov CA");
    let nginx = https_nginx(&ca, &["localhost"], "");
    let f = Phone::new(Some(&ca), Some(&ca))
        .set("Restricted_Access_Domains", "localhost")
        .fetcher();

    let got = get(&f, &url(Scheme::Https, "localhost", nginx.port(), "/moved"))
        .await
        .unwrap();
    assert_eq!(got.body, PROFILE);
    assert_eq!((got.path.as_str(), got.redirects), ("/prov/SEP.xml", 1));

    let err = get(&f, &url(Scheme::Https, "localhost", nginx.port(), "/away"))
        .await
        .unwrap_err();
    let FetchError::NotAllowed(e) = &err else {
        panic!("{err:?}");
    };
    assert!(e.to_string().contains("\"evil.example.org\""), "{e}");

    let err = get(&f, &url(Scheme::Https, "localhost", nginx.port(), "/loop"))
        .await
        .unwrap_err();
    assert_eq!(err, FetchError::TooManyRedirects);
    log_when(&nginx, |l| l.matches("\"GET /loop HTTP/1.1\"").count() == 6);
}

#[tokio::test]
async fn status_404_is_not_found_and_401_is_answered_with_basic_credentials() {
    let ca = TestCa::new("mppd prov CA");
    let dir = tempfile::tempdir().unwrap();
    let users = dir.path().join("htpasswd");
    write_htpasswd(&users, "phone", "s3cret");
    let auth = format!(
        "location /secure/ {{ auth_basic \"prov\"; auth_basic_user_file {}; alias {}/; }}",
        users.display(),
        dir.path().display()
    );
    fs::write(dir.path().join("SEP.xml"), PROFILE).unwrap();
    let nginx = plain_nginx(&ca, &auth);
    let f = Phone::new(None, None).fetcher();
    let u = |p: &str| url(Scheme::Http, "localhost", nginx.port(), p);

    let plain = get(&f, &u("/prov/SEP.xml")).await.unwrap();
    assert_eq!(
        (plain.body.as_slice(), plain.scheme),
        (PROFILE, Scheme::Http)
    );

    assert_eq!(
        get(&f, &u("/prov/missing.xml")).await.unwrap_err(),
        FetchError::NotFound
    );

    let ok = f
        .fetch(
            &u("/secure/SEP.xml"),
            &creds("phone", "s3cret"),
            Method::Get,
            None,
        )
        .await
        .unwrap();
    assert_eq!(ok.body, PROFILE);

    let err = f
        .fetch(
            &u("/secure/SEP.xml"),
            &creds("phone", "wrong-pw"),
            Method::Get,
            None,
        )
        .await
        .unwrap_err();
    assert_eq!(err, FetchError::Unauthorized);
    assert!(!err.to_string().contains("wrong-pw"));
    assert_eq!(
        get(&f, &u("/secure/SEP.xml")).await.unwrap_err(),
        FetchError::Unauthorized
    );
    // The right password: one 401 then 200; the wrong one: the first 401 and two retries.
    log_when(&nginx, |l| {
        l.matches("401 \"GET /secure/SEP.xml HTTP/1.1\"").count() == 1 + 3 + 1
            && l.matches("200 \"GET /secure/SEP.xml HTTP/1.1\"").count() == 1
    });
}

/// `user:$apr1$...` made by `openssl passwd -apr1`, as nginx's `auth_basic_user_file`.
fn write_htpasswd(path: &Path, user: &str, password: &str) {
    let out = Command::new("openssl")
        .args(["passwd", "-apr1", password])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let hash = String::from_utf8(out.stdout).unwrap();
    fs::write(path, format!("{user}:{}\n", hash.trim())).unwrap();
}

#[tokio::test]
async fn a_dead_first_address_is_skipped_for_the_live_one() {
    let ca = TestCa::new("mppd prov CA");
    let nginx = https_nginx(&ca, &["prov.test"], "");
    // 127.0.0.2 is loopback too, but nginx listens on 127.0.0.1 only: refused at once.
    let dead = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2));
    let v6 = "::1".parse().unwrap();
    let table = Arc::new(Table {
        calls: AtomicUsize::new(0),
        entries: vec![
            ("prov.test", vec![v6, dead, LOCALHOST]),
            (
                "dead.test",
                vec![dead, IpAddr::V4(Ipv4Addr::new(127, 0, 0, 3))],
            ),
        ],
    });
    let f = Phone::new(Some(&ca), Some(&ca))
        .set("Restricted_Access_Domains", "test")
        .fetcher()
        .with_resolver(table);
    let got = get(
        &f,
        &url(Scheme::Https, "prov.test", nginx.port(), "/prov/SEP.xml"),
    )
    .await
    .unwrap();
    assert_eq!(got.body, PROFILE);
    assert_eq!(
        got.ip, LOCALHOST,
        "A records only; the dead address skipped"
    );

    let err = get(
        &f,
        &url(Scheme::Https, "dead.test", nginx.port(), "/prov/SEP.xml"),
    )
    .await
    .unwrap_err();
    let FetchError::Unreachable { host, tried } = &err else {
        panic!("{err:?}");
    };
    assert_eq!(host, "dead.test");
    let addrs: Vec<IpAddr> = tried.iter().map(|(a, _)| a.ip()).collect();
    assert_eq!(
        addrs,
        [
            "127.0.0.2".parse::<IpAddr>().unwrap(),
            "127.0.0.3".parse().unwrap()
        ]
    );
    assert!(
        err.to_string()
            .starts_with("no server of dead.test answered (127.0.0.2:"),
        "{err}"
    );
}

#[tokio::test]
async fn a_url_without_a_server_needs_dhcp() {
    let f = Phone::new(None, None).fetcher();
    let u = Url {
        scheme: Scheme::Tftp,
        host: None,
        port: None,
        path: "/SEP.cfg".to_owned(),
    };
    let err = f
        .fetch(&u, &ExpandedOptions::default(), Method::Get, None)
        .await
        .unwrap_err();
    assert_eq!(err, FetchError::NoServer);
}

// --- TFTP ----------------------------------------------------------------------------------
//
// The server is a small in-test mock: Debian's tftpd-hpa needs inetd or a root-run daemon bound
// to port 69 plus a served directory, which a test cannot set up without touching the host.

/// What the mock server does with a read request.
#[derive(Clone, Copy)]
enum Mock {
    /// Serve this many bytes (drop the first RRQ to force a retransmission).
    File(usize),
    /// Answer with an ERROR packet of this code.
    Error(u16),
}

/// Serves one read request on 127.0.0.1 from a fresh transfer id; returns its port and the
/// file name the client asked for.
fn tftp_server(mock: Mock) -> (u16, std::thread::JoinHandle<String>) {
    let listen = UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = listen.local_addr().unwrap().port();
    let handle = std::thread::spawn(move || {
        listen
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let mut buf = [0u8; 1024];
        let (mut n, mut client) = listen.recv_from(&mut buf).unwrap();
        if matches!(mock, Mock::File(_)) {
            // Lose the first request: the client retransmits it.
            (n, client) = listen.recv_from(&mut buf).unwrap();
        }
        assert_eq!(&buf[..2], &[0, 1], "RRQ");
        let fields: Vec<&[u8]> = buf[2..n].split(|&b| b == 0).collect();
        let name = String::from_utf8(fields[0].to_vec()).unwrap();
        assert_eq!(fields[1], b"octet");
        let tid = UdpSocket::bind("127.0.0.1:0").unwrap();
        tid.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        match mock {
            Mock::Error(code) => {
                let mut p = vec![0, 5];
                p.extend_from_slice(&code.to_be_bytes());
                p.extend_from_slice(b"denied by mock\0");
                tid.send_to(&p, client).unwrap();
            }
            Mock::File(len) => {
                let data: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
                // A size that is a multiple of 512 ends with an empty block.
                let last = (len % 512 == 0).then_some(&[][..]);
                for (block, chunk) in (1u16..).zip(data.chunks(512).chain(last)) {
                    let mut p = vec![0, 3];
                    p.extend_from_slice(&block.to_be_bytes());
                    p.extend_from_slice(chunk);
                    tid.send_to(&p, client).unwrap();
                    let (m, _) = tid.recv_from(&mut buf).unwrap();
                    let [hi, lo] = block.to_be_bytes();
                    assert_eq!(&buf[..m], &[0, 4, hi, lo], "ACK");
                }
            }
        }
        name
    });
    (port, handle)
}

fn fast_tftp(f: Fetcher) -> Fetcher {
    f.with_timeouts(Timeouts {
        tftp_retransmit: Duration::from_millis(300),
        ..Timeouts::default()
    })
}

#[tokio::test]
async fn tftp_fetches_from_the_dhcp_server_and_retransmits() {
    let f = fast_tftp(Phone::new(None, None).fetcher());
    for len in [1300, 1024, 0] {
        let (port, server) = tftp_server(Mock::File(len));
        let u = Url {
            scheme: Scheme::Tftp,
            host: None,
            port: Some(port),
            path: "/SEP001122334455.cfg".to_owned(),
        };
        let got = f
            .fetch(
                &u,
                &ExpandedOptions::default(),
                Method::Get,
                Some("127.0.0.1"),
            )
            .await
            .unwrap();
        let expected: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
        assert_eq!(got.body, expected, "{len} bytes");
        assert_eq!(
            (got.ip, got.port, got.scheme),
            (LOCALHOST, port, Scheme::Tftp)
        );
        assert_eq!(server.join().unwrap(), "/SEP001122334455.cfg");
    }
}

#[tokio::test]
async fn tftp_error_packets_fail_the_fetch() {
    let f = fast_tftp(Phone::new(None, None).fetcher());
    let (port, server) = tftp_server(Mock::Error(2));
    let err = get(&f, &url(Scheme::Tftp, "127.0.0.1", port, "/x.cfg"))
        .await
        .unwrap_err();
    server.join().unwrap();
    let FetchError::Tftp(why) = &err else {
        panic!("{err:?}");
    };
    assert!(
        why.contains("error 2 (access violation): denied by mock"),
        "{why}"
    );
    let (port, server) = tftp_server(Mock::Error(1));
    let err = get(&f, &url(Scheme::Tftp, "127.0.0.1", port, "/x.cfg"))
        .await
        .unwrap_err();
    server.join().unwrap();
    assert_eq!(err, FetchError::NotFound);

    // Nobody on the port: every retransmission unanswered.
    let port = UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let err = get(&f, &url(Scheme::Tftp, "127.0.0.1", port, "/x.cfg"))
        .await
        .unwrap_err();
    assert!(matches!(err, FetchError::Unreachable { .. }), "{err:?}");
}

#[tokio::test]
async fn the_server_address_must_be_one_of_its_certificate_name() {
    let ca = TestCa::new("mppd prov CA");
    // The certificate names prov.test and 127.0.0.1; the URL gives the address.
    let nginx = https_nginx(&ca, &["prov.test"], "");
    let phone = Phone::new(Some(&ca), Some(&ca));
    let u = url(Scheme::Https, "127.0.0.1", nginx.port(), "/prov/SEP.xml");
    let resolving_to = |ip: [u8; 4]| {
        Arc::new(Table {
            calls: AtomicUsize::new(0),
            entries: vec![("prov.test", vec![IpAddr::from(ip)])],
        })
    };

    let f = phone.fetcher().with_resolver(resolving_to([127, 0, 0, 1]));
    assert_eq!(get(&f, &u).await.unwrap().body, PROFILE);

    let f = phone.fetcher().with_resolver(resolving_to([127, 0, 0, 5]));
    let err = get(&f, &u).await.unwrap_err();
    let FetchError::Tls {
        failure: TlsFailure::IpMismatch(detail),
        ..
    } = &err
    else {
        panic!("{err:?}");
    };
    assert_eq!(
        detail,
        "the server is 127.0.0.1 but prov.test resolves to 127.0.0.5"
    );
    assert!(err.to_string().contains("ip-mismatch"), "{err}");
}

#[tokio::test]
async fn reports_are_posted_with_their_body() {
    let ca = TestCa::new("mppd prov CA");
    let nginx = plain_nginx(&ca, "");
    let f = Phone::new(None, None).fetcher();
    let got = f
        .fetch(
            &url(Scheme::Http, "localhost", nginx.port(), "/ua"),
            &ExpandedOptions::default(),
            Method::Post(b"<status/>".to_vec()),
            None,
        )
        .await
        .unwrap();
    assert_eq!(got.status, 200);
    log_when(&nginx, |l| l.contains("200 \"POST /ua HTTP/1.1\""));
}
