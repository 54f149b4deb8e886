#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The proxy runners work: a raw `CONNECT 127.0.0.1:PORT` through tinyproxy and through squid
//! reaches a local TCP server (bytes flow both ways) with the right Basic credentials, is
//! refused without them or with wrong ones (with each proxy's own status code), shows in the
//! proxy's log, and dropping the runner stops the proxy.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::thread;
use std::time::{Duration, Instant};

use mppd_testkit::proxy::{ConnectReply, connect_through};
use mppd_testkit::{Squid, Tinyproxy};

const GREETING: &[u8] = b"hello from the target\n";

/// A TCP server on 127.0.0.1 that sends [`GREETING`] to each client, then echoes what it
/// reads. Its thread lives as long as the test process.
fn target() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { continue };
            thread::spawn(move || {
                let _ = conn.write_all(GREETING);
                let mut buf = [0u8; 1024];
                while let Ok(n) = conn.read(&mut buf) {
                    if n == 0 || conn.write_all(&buf[..n]).is_err() {
                        break;
                    }
                }
            });
        }
    });
    addr
}

/// Reads from the tunnel until `want` bytes arrived (after `early`), for at most 10 s.
fn read_exactly(reply: &mut ConnectReply, mut got: Vec<u8>, want: usize) -> Vec<u8> {
    let mut buf = [0u8; 1024];
    while got.len() < want {
        let n = reply
            .stream
            .read(&mut buf)
            .unwrap_or_else(|e| panic!("reading the tunnel ({got:?} so far): {e}"));
        assert!(n > 0, "the tunnel closed after {got:?}");
        got.extend_from_slice(&buf[..n]);
    }
    got
}

/// Asserts that the tunnel reaches the target: its greeting arrives, and a line sent comes
/// back.
fn assert_tunnel(mut reply: ConnectReply) {
    assert_eq!(reply.status, 200, "{}", reply.head);
    let early = std::mem::take(&mut reply.early);
    let got = read_exactly(&mut reply, early, GREETING.len());
    assert_eq!(got, GREETING, "{}", String::from_utf8_lossy(&got));
    reply.stream.write_all(b"ping through the proxy\n").unwrap();
    let back = read_exactly(&mut reply, Vec::new(), 23);
    assert_eq!(back, b"ping through the proxy\n");
}

fn assert_stopped(addr: SocketAddr) {
    let r = TcpStream::connect_timeout(&addr, Duration::from_secs(2));
    assert!(
        r.is_err(),
        "{addr} still accepts connections after the drop"
    );
}

#[test]
fn tinyproxy_tunnels_with_the_right_credentials_only() {
    let t = target();
    let target = t.to_string();
    let proxy = Tinyproxy::builder()
        .basic_auth("alice", "s3cret")
        .connect_port(t.port())
        .start();
    let addr = proxy.addr();

    assert_tunnel(connect_through(addr, &target, Some(("alice", "s3cret"))));

    // No credentials: 407 with a Basic challenge.
    let r = connect_through(addr, &target, None);
    assert_eq!(r.status, 407, "{}", r.head);
    assert!(
        r.head.contains("Proxy-Authenticate: Basic"),
        "no Basic challenge in {}",
        r.head
    );
    // Wrong credentials: tinyproxy 1.11 answers 401 (not 407).
    let r = connect_through(addr, &target, Some(("alice", "wrong")));
    assert_eq!(r.status, 401, "{}", r.head);
    let r = connect_through(addr, &target, Some(("mallory", "s3cret")));
    assert_eq!(r.status, 401, "{}", r.head);

    // ConnectPort: a port not listed is refused even with the right credentials.
    let other = self::target();
    let r = connect_through(addr, &other.to_string(), Some(("alice", "s3cret")));
    assert_eq!(r.status, 403, "{}", r.head);

    let log = proxy.wait_log(&format!("CONNECT {target} HTTP/1.1"));
    let lines = log
        .lines()
        .filter(|l| l.contains("Request (file descriptor") && l.contains(&target))
        .count();
    assert_eq!(lines, 4, "one Request line per CONNECT to {target}:\n{log}");
    assert!(
        log.contains(&format!("Established connection to host \"{}\"", t.ip())),
        "{log}"
    );

    drop(proxy);
    assert_stopped(addr);
}

#[test]
fn squid_tunnels_with_the_right_credentials_only() {
    let t = target();
    let target = t.to_string();
    let proxy = Squid::start("bob", "pa55word");
    let addr = proxy.addr();

    assert_tunnel(connect_through(addr, &target, Some(("bob", "pa55word"))));

    // No credentials and wrong ones: both 407 with a Basic challenge.
    for creds in [None, Some(("bob", "wrong")), Some(("eve", "pa55word"))] {
        let r = connect_through(addr, &target, creds);
        assert_eq!(r.status, 407, "{creds:?}: {}", r.head);
        assert!(
            r.head
                .contains("Proxy-Authenticate: Basic realm=\"mppd-test\""),
            "{creds:?}: no Basic challenge in {}",
            r.head
        );
    }

    // The tunnel's line is written when it closes (after the drop of its stream above).
    let log = proxy.wait_log("TCP_TUNNEL/200");
    let tunnel = log.lines().find(|l| l.contains("TCP_TUNNEL/200")).unwrap();
    assert!(
        tunnel.contains(&format!("CONNECT {target} bob ")),
        "tunnel line: {tunnel}\n{log}"
    );
    let denied = |log: &str| {
        log.lines()
            .filter(|l| l.contains("TCP_DENIED/407") && l.contains(&format!("CONNECT {target} ")))
            .count()
    };
    let start = Instant::now();
    while denied(&proxy.log()) < 3 && start.elapsed() < Duration::from_secs(10) {
        thread::sleep(Duration::from_millis(50));
    }
    let log = proxy.log();
    assert_eq!(denied(&log), 3, "three denied CONNECTs:\n{log}");

    drop(proxy);
    assert_stopped(addr);
}
