#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::VecDeque;

use super::*;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn bytes(s: &str) -> Bytes {
    Arc::from(s.as_bytes())
}

fn text(b: &Bytes) -> &str {
    std::str::from_utf8(b).unwrap()
}

fn req<'a>(method: &'a str, branch: &'a str) -> RequestInfo<'a> {
    RequestInfo {
        method,
        branch,
        sent_by: "pc33.example.com:5060",
    }
}

fn rsp<'a>(status: u16, branch: &'a str, cseq_method: &'a str) -> ResponseInfo<'a> {
    ResponseInfo {
        status,
        branch,
        cseq_method,
    }
}

fn no_ack() -> Bytes {
    panic!("no ACK expected here")
}

/// One layer on a virtual clock; records what it sends, with the time, in ms from t0.
struct Harness {
    l: TransactionLayer<&'static str>,
    t0: Instant,
    now: Instant,
    sent: Vec<(u64, String, bool)>,
    events: Vec<(u64, Event)>,
}

impl Harness {
    fn new() -> Self {
        let t0 = Instant::now();
        Self {
            l: TransactionLayer::new(TransactionConfig::default()),
            t0,
            now: t0,
            sent: Vec::new(),
            events: Vec::new(),
        }
    }

    fn at(&self, msecs: u64) -> Instant {
        self.t0 + ms(msecs)
    }

    fn elapsed(&self) -> u64 {
        u64::try_from(self.now.duration_since(self.t0).as_millis()).unwrap()
    }

    fn drain(&mut self) {
        let t = self.elapsed();
        while let Some(x) = self.l.poll_transmit() {
            assert_eq!(x.dest, "peer");
            self.sent
                .push((t, text(&x.bytes).to_owned(), x.retransmission));
        }
        while let Some(e) = self.l.poll_event() {
            self.events.push((t, e));
        }
    }

    /// Fires every timer up to `msecs` in order, then moves the clock there.
    fn run_to(&mut self, msecs: u64) {
        let end = self.at(msecs);
        while let Some(t) = self.l.poll_timeout().filter(|t| *t <= end) {
            assert!(t >= self.now, "deadline in the past");
            self.now = t;
            self.l.handle_timeout(t);
            self.drain();
        }
        self.now = end;
    }

    fn send(&mut self, method: &str, branch: &str, reliable: bool) -> TxId {
        let id = self
            .l
            .send_request(
                self.now,
                &req(method, branch),
                reliable,
                "peer",
                bytes(method),
            )
            .unwrap();
        self.drain();
        id
    }

    fn response(&mut self, status: u16, branch: &str, method: &str) -> ResponseDisposition {
        let d = self
            .l
            .handle_response(self.now, &rsp(status, branch, method), || bytes("ACK"));
        self.drain();
        d
    }

    fn times(&self, what: &str) -> Vec<u64> {
        self.sent
            .iter()
            .filter(|(_, m, _)| m == what)
            .map(|(t, _, _)| *t)
            .collect()
    }

    fn take_events(&mut self) -> Vec<(u64, Event)> {
        std::mem::take(&mut self.events)
    }
}

// ---- client transactions ----

#[test]
fn invite_client_timer_a_doubles_and_b_times_out() {
    let mut h = Harness::new();
    let tx = h.send("INVITE", "z9hG4bK1", false);
    assert_eq!(h.l.state(tx), Some(State::Calling));
    h.run_to(40_000);
    // A: T1, 2T1, 4T1... without the T2 cap; B at 64×T1 = 32 s.
    assert_eq!(
        h.times("INVITE"),
        vec![0, 500, 1500, 3500, 7500, 15500, 31500]
    );
    assert!(
        h.sent.iter().skip(1).all(|s| s.2),
        "retransmissions are marked"
    );
    assert_eq!(
        h.take_events(),
        vec![
            (
                32_000,
                Event::Timeout {
                    tx,
                    timer: Timer::B
                }
            ),
            (32_000, Event::Terminated { tx }),
        ]
    );
    assert!(h.l.is_empty() && h.l.poll_timeout().is_none());
}

#[test]
fn non_invite_client_timer_e_caps_at_t2_and_f_times_out() {
    let mut h = Harness::new();
    let tx = h.send("REGISTER", "z9hG4bK2", false);
    h.run_to(40_000);
    assert_eq!(
        h.times("REGISTER"),
        vec![
            0, 500, 1500, 3500, 7500, 11500, 15500, 19500, 23500, 27500, 31500
        ]
    );
    assert_eq!(
        h.take_events(),
        vec![
            (
                32_000,
                Event::Timeout {
                    tx,
                    timer: Timer::F
                }
            ),
            (32_000, Event::Terminated { tx }),
        ]
    );
}

#[test]
fn non_invite_client_proceeding_retransmits_every_t2_then_k() {
    let mut h = Harness::new();
    let tx = h.send("SUBSCRIBE", "z9hG4bK3", false);
    h.run_to(200);
    assert_eq!(
        h.response(100, "z9hG4bK3", "SUBSCRIBE"),
        ResponseDisposition::Deliver { tx }
    );
    assert_eq!(h.l.state(tx), Some(State::Proceeding));
    h.run_to(10_000);
    // E fires at 500 (already armed), then every T2 in Proceeding.
    assert_eq!(h.times("SUBSCRIBE"), vec![0, 500, 4500, 8500]);
    assert_eq!(
        h.response(200, "z9hG4bK3", "SUBSCRIBE"),
        ResponseDisposition::Deliver { tx }
    );
    assert_eq!(h.l.state(tx), Some(State::Completed));
    h.run_to(12_000);
    // The lost-ACK case of non-INVITE: the 200 comes again and is absorbed.
    assert_eq!(
        h.response(200, "z9hG4bK3", "SUBSCRIBE"),
        ResponseDisposition::Absorbed { tx }
    );
    h.run_to(20_000);
    assert_eq!(h.times("SUBSCRIBE"), vec![0, 500, 4500, 8500]);
    // K = T4 = 5 s after the final response; no timeout event.
    assert_eq!(h.take_events(), vec![(15_000, Event::Terminated { tx })]);
}

#[test]
fn provisional_stops_invite_retransmission_and_2xx_ends_the_transaction() {
    let mut h = Harness::new();
    let tx = h.send("INVITE", "z9hG4bK4", false);
    h.run_to(700);
    assert_eq!(h.times("INVITE"), vec![0, 500]);
    assert_eq!(
        h.response(180, "z9hG4bK4", "INVITE"),
        ResponseDisposition::Deliver { tx }
    );
    assert_eq!(h.l.state(tx), Some(State::Proceeding));
    assert_eq!(h.l.poll_timeout(), None, "no A and no B in Proceeding");
    // Every provisional goes up.
    assert_eq!(
        h.response(183, "z9hG4bK4", "INVITE"),
        ResponseDisposition::Deliver { tx }
    );
    h.run_to(60_000);
    assert_eq!(h.times("INVITE"), vec![0, 500]);
    assert_eq!(
        h.response(200, "z9hG4bK4", "INVITE"),
        ResponseDisposition::Deliver { tx }
    );
    assert_eq!(h.take_events(), vec![(60_000, Event::Terminated { tx })]);
    // 2xx retransmissions go to the dialog layer, which ACKs them (not this layer).
    assert_eq!(
        h.response(200, "z9hG4bK4", "INVITE"),
        ResponseDisposition::Stray
    );
    assert!(h.times("ACK").is_empty());
}

#[test]
fn invite_client_acks_non_2xx_and_re_acks_retransmissions() {
    let mut h = Harness::new();
    let tx = h.send("INVITE", "z9hG4bK5", false);
    h.run_to(100);
    assert_eq!(
        h.response(486, "z9hG4bK5", "INVITE"),
        ResponseDisposition::Deliver { tx }
    );
    assert_eq!(h.l.state(tx), Some(State::Completed));
    // The ACK is lost; the 486 comes again: the stored ACK is re-sent, build_ack is not called.
    h.run_to(600);
    let d =
        h.l.handle_response(h.now, &rsp(486, "z9hG4bK5", "INVITE"), no_ack);
    assert_eq!(d, ResponseDisposition::Absorbed { tx });
    h.drain();
    assert_eq!(h.times("ACK"), vec![100, 600]);
    assert_eq!(h.sent.last().map(|s| s.2), Some(true));
    h.run_to(40_000);
    assert_eq!(
        h.times("INVITE"),
        vec![0],
        "A stopped by the final response"
    );
    // D = 32 s after the final response.
    assert_eq!(h.take_events(), vec![(32_100, Event::Terminated { tx })]);
}

#[test]
fn lost_request_is_retransmitted_until_answered() {
    let mut h = Harness::new();
    let tx = h.send("BYE", "z9hG4bK6", false);
    // The first two copies are lost; the third (at 1500 ms) is answered.
    h.run_to(1600);
    assert_eq!(h.times("BYE"), vec![0, 500, 1500]);
    assert_eq!(
        h.response(200, "z9hG4bK6", "BYE"),
        ResponseDisposition::Deliver { tx }
    );
    h.run_to(40_000);
    assert_eq!(h.times("BYE"), vec![0, 500, 1500]);
    assert_eq!(h.take_events(), vec![(6600, Event::Terminated { tx })]);
}

// ---- server transactions ----

#[test]
fn invite_server_retransmits_final_with_g_until_ack_then_i() {
    let mut h = Harness::new();
    let RequestDisposition::New { tx } =
        h.l.handle_request(h.now, &req("INVITE", "z9hG4bK7"), false, "peer")
    else {
        panic!("new transaction expected");
    };
    assert_eq!(h.l.kind(tx), Some(Kind::InviteServer));
    assert_eq!(h.l.state(tx), Some(State::Proceeding));
    // Retransmitted INVITE before any response: absorbed, nothing to re-send.
    assert_eq!(
        h.l.handle_request(h.now, &req("INVITE", "z9hG4bK7"), false, "peer"),
        RequestDisposition::Absorbed { tx }
    );
    h.l.respond(h.now, tx, 180, bytes("180")).unwrap();
    h.drain();
    h.run_to(300);
    // The INVITE comes again (our 180 was lost): the 180 is re-sent.
    h.l.handle_request(h.now, &req("INVITE", "z9hG4bK7"), false, "peer");
    h.drain();
    assert_eq!(h.times("180"), vec![0, 300]);
    h.run_to(1000);
    h.l.respond(h.now, tx, 486, bytes("486")).unwrap();
    h.drain();
    assert_eq!(h.l.state(tx), Some(State::Completed));
    assert_eq!(
        h.l.respond(h.now, tx, 500, bytes("500")),
        Err(TxError::FinalAlreadySent(tx))
    );
    h.run_to(9000);
    // G: T1, 2T1, 4T1, then capped at T2.
    assert_eq!(h.times("486"), vec![1000, 1500, 2500, 4500, 8500]);
    // A retransmitted INVITE also gets the final response.
    h.l.handle_request(h.now, &req("INVITE", "z9hG4bK7"), false, "peer");
    h.drain();
    assert_eq!(h.times("486").last(), Some(&9000));
    assert_eq!(
        h.l.handle_request(h.now, &req("ACK", "z9hG4bK7"), false, "peer"),
        RequestDisposition::Absorbed { tx }
    );
    assert_eq!(h.l.state(tx), Some(State::Confirmed));
    h.run_to(12_000);
    assert_eq!(h.times("486").len(), 6, "G stopped by the ACK");
    // ACK retransmissions and late INVITEs are absorbed silently in Confirmed.
    assert_eq!(
        h.l.handle_request(h.now, &req("ACK", "z9hG4bK7"), false, "peer"),
        RequestDisposition::Absorbed { tx }
    );
    h.l.handle_request(h.now, &req("INVITE", "z9hG4bK7"), false, "peer");
    h.drain();
    assert_eq!(h.times("486").len(), 6);
    h.run_to(20_000);
    // I = T4 after the ACK (9000 + 5000).
    assert_eq!(h.take_events(), vec![(14_000, Event::Terminated { tx })]);
}

#[test]
fn invite_server_times_out_with_h_when_the_ack_is_lost() {
    let mut h = Harness::new();
    let RequestDisposition::New { tx } =
        h.l.handle_request(h.now, &req("INVITE", "z9hG4bK8"), false, "peer")
    else {
        panic!("new transaction expected");
    };
    h.l.respond(h.now, tx, 401, bytes("401")).unwrap();
    h.drain();
    h.run_to(40_000);
    assert_eq!(
        h.times("401"),
        vec![
            0, 500, 1500, 3500, 7500, 11500, 15500, 19500, 23500, 27500, 31500
        ]
    );
    assert_eq!(
        h.take_events(),
        vec![
            (
                32_000,
                Event::Timeout {
                    tx,
                    timer: Timer::H
                }
            ),
            (32_000, Event::Terminated { tx }),
        ]
    );
}

#[test]
fn invite_server_2xx_ends_the_transaction_and_its_ack_is_stray() {
    let mut h = Harness::new();
    let RequestDisposition::New { tx } =
        h.l.handle_request(h.now, &req("INVITE", "z9hG4bK9"), false, "peer")
    else {
        panic!("new transaction expected");
    };
    h.l.respond(h.now, tx, 200, bytes("200")).unwrap();
    h.drain();
    assert_eq!(h.take_events(), vec![(0, Event::Terminated { tx })]);
    assert_eq!(h.l.state(tx), None);
    // The ACK of a 2xx has its own branch; either way it is the dialog's.
    for branch in ["z9hG4bK9", "z9hG4bKack"] {
        assert_eq!(
            h.l.handle_request(h.now, &req("ACK", branch), false, "peer"),
            RequestDisposition::Stray
        );
    }
    assert_eq!(
        h.l.respond(h.now, tx, 200, bytes("200")),
        Err(TxError::UnknownTransaction(tx))
    );
}

#[test]
fn non_invite_server_absorbs_retransmissions_until_j() {
    let mut h = Harness::new();
    let RequestDisposition::New { tx } =
        h.l.handle_request(h.now, &req("NOTIFY", "z9hG4bKa"), false, "peer")
    else {
        panic!("new transaction expected");
    };
    assert_eq!(h.l.state(tx), Some(State::Trying));
    h.l.respond(h.now, tx, 100, bytes("100")).unwrap();
    assert_eq!(h.l.state(tx), Some(State::Proceeding));
    h.l.respond(h.now, tx, 200, bytes("200")).unwrap();
    h.drain();
    assert_eq!(h.l.state(tx), Some(State::Completed));
    h.run_to(2000);
    // Our 200 was lost: the NOTIFY comes again and gets the 200 again; no timer retransmits.
    assert_eq!(
        h.l.handle_request(h.now, &req("NOTIFY", "z9hG4bKa"), false, "peer"),
        RequestDisposition::Absorbed { tx }
    );
    h.drain();
    h.run_to(40_000);
    assert_eq!(h.times("200"), vec![0, 2000]);
    // J = 64×T1 after the final response.
    assert_eq!(h.take_events(), vec![(32_000, Event::Terminated { tx })]);
}

// ---- reliable transports ----

#[test]
fn tcp_never_retransmits_and_zero_timers_end_at_once() {
    let mut h = Harness::new();
    // INVITE client: no A, only B.
    let inv = h.send("INVITE", "z9hG4bKt1", true);
    assert_eq!(h.l.poll_timeout(), Some(h.at(32_000)));
    // Non-INVITE client: no E, only F.
    let reg = h.send("REGISTER", "z9hG4bKt2", true);
    h.run_to(1000);
    assert_eq!(h.sent.len(), 2);
    // Non-INVITE final: K = 0.
    h.response(200, "z9hG4bKt2", "REGISTER");
    assert_eq!(h.take_events(), vec![(1000, Event::Terminated { tx: reg })]);
    // INVITE non-2xx: ACK sent, D = 0.
    h.response(603, "z9hG4bKt1", "INVITE");
    assert_eq!(h.times("ACK"), vec![1000]);
    assert_eq!(h.take_events(), vec![(1000, Event::Terminated { tx: inv })]);
    // Server non-INVITE: J = 0.
    let RequestDisposition::New { tx } =
        h.l.handle_request(h.now, &req("OPTIONS", "z9hG4bKt3"), true, "peer")
    else {
        panic!("new transaction expected");
    };
    h.l.respond(h.now, tx, 200, bytes("200")).unwrap();
    h.drain();
    assert_eq!(h.take_events(), vec![(1000, Event::Terminated { tx })]);
    // Server INVITE: no G, H still runs; ACK ends it at once (I = 0).
    let RequestDisposition::New { tx } =
        h.l.handle_request(h.now, &req("INVITE", "z9hG4bKt4"), true, "peer")
    else {
        panic!("new transaction expected");
    };
    h.l.respond(h.now, tx, 401, bytes("401")).unwrap();
    h.drain();
    assert_eq!(h.l.poll_timeout(), Some(h.at(33_000)));
    h.run_to(5000);
    assert_eq!(h.times("401"), vec![1000]);
    h.l.handle_request(h.now, &req("ACK", "z9hG4bKt4"), true, "peer");
    h.drain();
    assert_eq!(h.take_events(), vec![(5000, Event::Terminated { tx })]);
    assert!(h.l.is_empty());
}

#[test]
fn tcp_invite_client_times_out_with_b_without_retransmitting() {
    let mut h = Harness::new();
    let tx = h.send("INVITE", "z9hG4bKt5", true);
    h.run_to(40_000);
    assert_eq!(h.times("INVITE"), vec![0]);
    assert_eq!(
        h.take_events(),
        vec![
            (
                32_000,
                Event::Timeout {
                    tx,
                    timer: Timer::B
                }
            ),
            (32_000, Event::Terminated { tx }),
        ]
    );
}

// ---- matching ----

#[test]
fn matching_by_branch_method_and_sent_by() {
    let mut h = Harness::new();
    let inv = h.send("INVITE", "z9hG4bKm", false);
    let cancel = h.send("CANCEL", "z9hG4bKm", false);
    assert_ne!(inv, cancel);
    assert_eq!(
        h.response(200, "z9hG4bKm", "CANCEL"),
        ResponseDisposition::Deliver { tx: cancel }
    );
    assert_eq!(
        h.response(487, "z9hG4bKm", "INVITE"),
        ResponseDisposition::Deliver { tx: inv }
    );
    assert_eq!(
        h.response(200, "z9hG4bKother", "INVITE"),
        ResponseDisposition::Stray
    );
    assert_eq!(
        h.response(99, "z9hG4bKm", "INVITE"),
        ResponseDisposition::Stray
    );
    assert_eq!(
        h.l.send_request(h.now, &req("INVITE", "z9hG4bKm"), false, "peer", bytes("x")),
        Err(TxError::DuplicateBranch("z9hG4bKm".into()))
    );
    assert_eq!(
        h.l.send_request(h.now, &req("ACK", "z9hG4bKn"), false, "peer", bytes("x")),
        Err(TxError::AckIsNotATransaction)
    );

    // Server side: sent-by is part of the key (case-insensitive host), CANCEL finds its INVITE.
    let RequestDisposition::New { tx: sinv } =
        h.l.handle_request(h.now, &req("INVITE", "z9hG4bKs"), false, "peer")
    else {
        panic!("new transaction expected");
    };
    let upper = RequestInfo {
        sent_by: "PC33.Example.COM:5060",
        ..req("INVITE", "z9hG4bKs")
    };
    assert_eq!(
        h.l.handle_request(h.now, &upper, false, "peer"),
        RequestDisposition::Absorbed { tx: sinv }
    );
    let elsewhere = RequestInfo {
        sent_by: "198.51.100.7",
        ..req("INVITE", "z9hG4bKs")
    };
    assert!(matches!(
        h.l.handle_request(h.now, &elsewhere, false, "peer"),
        RequestDisposition::New { .. }
    ));
    let c = req("CANCEL", "z9hG4bKs");
    assert_eq!(h.l.invite_for_cancel(&c), Some(sinv));
    let RequestDisposition::New { tx: scancel } = h.l.handle_request(h.now, &c, false, "peer")
    else {
        panic!("CANCEL is a transaction of its own");
    };
    assert_eq!(h.l.kind(scancel), Some(Kind::NonInviteServer));
    assert_eq!(
        h.l.respond(h.now, sinv, 700, bytes("x")),
        Err(TxError::InvalidStatus(700))
    );
    assert_eq!(
        h.l.respond(h.now, inv, 200, bytes("x")),
        Err(TxError::UnknownTransaction(inv)),
        "a client transaction cannot respond"
    );
}

#[test]
fn table_is_bounded_and_transport_errors_end_transactions() {
    let t0 = Instant::now();
    let mut l = TransactionLayer::new(TransactionConfig {
        max_transactions: 2,
        ..TransactionConfig::default()
    });
    let a = l
        .send_request(t0, &req("OPTIONS", "b1"), false, (), bytes("x"))
        .unwrap();
    l.handle_request(t0, &req("OPTIONS", "b2"), false, ());
    assert_eq!(
        l.send_request(t0, &req("OPTIONS", "b3"), false, (), bytes("x")),
        Err(TxError::Overloaded)
    );
    assert_eq!(
        l.handle_request(t0, &req("OPTIONS", "b4"), false, ()),
        RequestDisposition::Overloaded
    );
    l.handle_transport_error(a).unwrap();
    assert_eq!(l.poll_event(), Some(Event::TransportError { tx: a }));
    assert_eq!(l.poll_event(), Some(Event::Terminated { tx: a }));
    assert_eq!(
        l.handle_transport_error(a),
        Err(TxError::UnknownTransaction(a))
    );
    assert_eq!(l.len(), 1);
}

// ---- a client and a server over a lossy network ----

/// Test wire format: `REQ <method> <branch>` and `RSP <status> <branch> <cseq-method>`.
fn wire_req(method: &str, branch: &str) -> Bytes {
    bytes(&format!("REQ {method} {branch}"))
}

#[test]
fn pair_over_lossy_udp_completes_exactly_once() {
    let t0 = Instant::now();
    let mut uac: TransactionLayer<u8> = TransactionLayer::new(TransactionConfig::default());
    let mut uas: TransactionLayer<u8> = TransactionLayer::new(TransactionConfig::default());
    // (arrival time, to_uas, bytes); one-way delay 50 ms. Drop pattern: 1st and 2nd request,
    // 1st response.
    let mut wire: VecDeque<(Instant, bool, Bytes)> = VecDeque::new();
    let mut req_copies = 0;
    let mut rsp_copies = 0;
    let mut delivered_uac = Vec::new();
    let mut new_uas = Vec::new();
    let tx = uac
        .send_request(
            t0,
            &req("REGISTER", "z9hG4bKp"),
            false,
            1,
            wire_req("REGISTER", "z9hG4bKp"),
        )
        .unwrap();
    let mut now = t0;
    let end = t0 + Duration::from_secs(60);
    loop {
        // Move every transmit onto the wire, dropping by pattern.
        while let Some(x) = uac.poll_transmit() {
            req_copies += 1;
            if req_copies > 2 {
                wire.push_back((now + ms(50), true, x.bytes));
            }
        }
        while let Some(x) = uas.poll_transmit() {
            rsp_copies += 1;
            if rsp_copies > 1 {
                wire.push_back((now + ms(50), false, x.bytes));
            }
        }
        let next = [
            uac.poll_timeout(),
            uas.poll_timeout(),
            wire.iter().map(|w| w.0).min(),
        ]
        .into_iter()
        .flatten()
        .min();
        let Some(next) = next.filter(|n| *n <= end) else {
            break;
        };
        now = next;
        uac.handle_timeout(now);
        uas.handle_timeout(now);
        while let Some(pos) = wire.iter().position(|w| w.0 <= now) {
            let (_, to_uas, b) = wire.remove(pos).unwrap();
            let s = text(&b).to_owned();
            let parts: Vec<&str> = s.split(' ').collect();
            if to_uas {
                let r = RequestInfo {
                    method: parts[1],
                    branch: parts[2],
                    sent_by: "uac",
                };
                if let RequestDisposition::New { tx } = uas.handle_request(now, &r, false, 2) {
                    new_uas.push(now);
                    let resp = bytes(&format!("RSP 200 {} {}", parts[2], parts[1]));
                    uas.respond(now, tx, 200, resp).unwrap();
                }
            } else {
                let r = rsp(parts[1].parse().unwrap(), parts[2], parts[3]);
                if let ResponseDisposition::Deliver { tx } = uac.handle_response(now, &r, no_ack) {
                    delivered_uac.push((tx, now));
                }
            }
        }
    }
    // Requests at 0 and 500 were lost; the one at 1500 reached the UAS at 1550; its 200 was lost;
    // the UAC's next copy (3500) arrived at 3550 and got the 200 again, delivered at 3600.
    assert_eq!(new_uas, vec![t0 + ms(1550)], "one server transaction");
    assert_eq!(
        delivered_uac,
        vec![(tx, t0 + ms(3600))],
        "the TU sees one final response"
    );
    assert_eq!(req_copies, 4);
    assert_eq!(rsp_copies, 2);
    assert!(uac.is_empty() && uas.is_empty());
    let ev: Vec<_> = std::iter::from_fn(|| uac.poll_event()).collect();
    assert_eq!(ev, vec![Event::Terminated { tx }], "no timeout");
}

// ---- configuration ----

#[test]
fn timers_from_the_profile() {
    let mut p = Profile::new();
    assert_eq!(TimerConfig::from_profile(&p), Ok(TimerConfig::default()));
    p.set("SIP_T1", ".25", None, 0);
    p.set("SIP_T2", "0.1", None, 0);
    p.set("SIP_T4", "0", None, 0);
    assert_eq!(
        TimerConfig::from_profile(&p),
        Ok(TimerConfig {
            t1: ms(250),
            t2: ms(250),
            t4: Duration::ZERO,
        })
    );
    p.set("SIP_T1", "0", None, 0);
    assert_eq!(
        TimerConfig::from_profile(&p),
        Err(TimerConfigError::BadValue {
            param: "SIP_T1",
            value: "0".into()
        })
    );
    p.set("SIP_T1", "abc", None, 0);
    assert!(TimerConfig::from_profile(&p).is_err());
}

#[test]
fn configured_t1_scales_every_timer() {
    let t0 = Instant::now();
    let mut l = TransactionLayer::new(TransactionConfig {
        timers: TimerConfig {
            t1: ms(100),
            t2: ms(400),
            t4: ms(1000),
        },
        ..TransactionConfig::default()
    });
    l.send_request(t0, &req("INVITE", "b"), false, (), bytes("x"))
        .unwrap();
    assert_eq!(l.poll_timeout(), Some(t0 + ms(100)));
    l.handle_timeout(t0 + ms(100));
    assert_eq!(l.poll_timeout(), Some(t0 + ms(300)));
    l.handle_timeout(t0 + ms(6400));
    assert_eq!(
        std::iter::from_fn(|| l.poll_event()).count(),
        2,
        "B = 64×T1 = 6.4 s"
    );
}
