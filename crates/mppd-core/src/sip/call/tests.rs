#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use super::*;
use crate::provision::schedule::SplitMix64;
use crate::sip::digest::{ChallengeHeader, ChallengeKind};
use crate::sip::digest::{DigestPolicy, Hash, VerifierConfig};
use crate::sip::mediasec::{MediaSecPolicy, MediaSecState};
use crate::sip::sdp::{self, MediaProto};

const PASSWORD: &str = "s3cret-pw";

fn line(secure: bool) -> LineConfig {
    let mut ms = MediaSecState::new(MediaSecPolicy::default(), "TLS");
    if secure {
        let mut r = Message::response(200, "OK");
        r.push("Security-Server", "sdes-srtp;mediasec");
        ms.on_response(&r);
    }
    LineConfig {
        line: 1,
        user: "1001".to_owned(),
        display_name: "Desk".to_owned(),
        domain: "mppd.test".to_owned(),
        transport: "TLS",
        local: "192.0.2.10:5061".to_owned(),
        user_agent: "mppd-test".to_owned(),
        media_address: "192.0.2.10".parse().unwrap(),
        rtp_ports: RtpPortRange::default(),
        timers: TimerConfig::default(),
        mediasec_headers: ms.headers_for_dialog_request(),
        secure_media: ms.negotiated(),
    }
}

fn creds(password: &str) -> Credentials {
    Credentials {
        username: "1001".to_owned(),
        password: password.to_owned(),
    }
}

fn incoming(auth_invite: bool, answer: AnswerPolicy) -> IncomingConfig {
    IncomingConfig {
        line: line(false),
        auth_invite,
        credentials: creds(PASSWORD),
        answer,
        require_srtp: false,
    }
}

const NOW: AnswerPolicy = AnswerPolicy::Answer {
    after: Duration::ZERO,
};

fn verifier(rfc8760: bool, now: Instant, rng: &mut SplitMix64) -> Verifier {
    let policy = DigestPolicy {
        rfc8760,
        fips: false,
    };
    Verifier::new(VerifierConfig::new("mppd.test", policy), now, rng)
}

fn wire(m: &Message) -> Message {
    Message::parse(&m.to_bytes()).unwrap()
}

/// A caller (the proxy, or SIPp's UAC) as plain messages.
struct Caller {
    call_id: String,
    tag: String,
    cseq: u32,
    uri: String,
    sdp: Vec<u8>,
}

impl Caller {
    fn new(sdp: &[u8]) -> Self {
        Self {
            call_id: "c4ll@198.51.100.7".to_owned(),
            tag: "caller-tag".to_owned(),
            cseq: 0,
            uri: "sip:1001@192.0.2.10:5061;transport=tls".to_owned(),
            sdp: sdp.to_vec(),
        }
    }

    fn invite(&mut self, auth: Option<String>) -> Message {
        self.cseq += 1;
        let mut m = Message::request("INVITE", &self.uri);
        m.push(
            "Via",
            format!(
                "SIP/2.0/TLS 198.51.100.7:5061;branch=z9hG4bK-inv{}",
                self.cseq
            ),
        )
        .push("Record-Route", "<sip:proxy.mppd.test;lr>")
        .push(
            "From",
            format!("\"Bob\" <sip:2002@mppd.test>;tag={}", self.tag),
        )
        .push("To", "<sip:1001@mppd.test>")
        .push("Call-ID", self.call_id.clone())
        .push("CSeq", format!("{} INVITE", self.cseq))
        .push("Contact", "<sip:2002@198.51.100.7:5061;transport=tls>")
        .push("Max-Forwards", "70");
        if let Some(a) = auth {
            m.push("Authorization", a);
        }
        if !self.sdp.is_empty() {
            m.push("Content-Type", "application/sdp");
            m.body = self.sdp.clone();
        }
        wire(&m)
    }

    fn in_dialog(&mut self, method: &str, to_tag: &str, cseq: u32) -> Message {
        let mut m = Message::request(method, "sip:1001@192.0.2.10:5061;transport=tls");
        m.push(
            "Via",
            format!("SIP/2.0/TLS 198.51.100.7:5061;branch=z9hG4bK-{method}{cseq}"),
        )
        .push(
            "From",
            format!("\"Bob\" <sip:2002@mppd.test>;tag={}", self.tag),
        )
        .push("To", format!("<sip:1001@mppd.test>;tag={to_tag}"))
        .push("Call-ID", self.call_id.clone())
        .push("CSeq", format!("{cseq} {method}"))
        .push("Max-Forwards", "70");
        wire(&m)
    }
}

fn offer_bytes(secure: bool, rng: &mut SplitMix64) -> Vec<u8> {
    let local = sdp::LocalMedia {
        address: "198.51.100.7".parse().unwrap(),
        port: 6000,
        session_id: 7,
    };
    let key = secure.then(|| SrtpKey::random(rng));
    sdp::offer(&local, key).to_wire().into_bytes()
}

fn drain(call: &mut IncomingCall) -> (Vec<CallTransmit>, Vec<CallEvent>) {
    let mut t = Vec::new();
    while let Some(x) = call.poll_transmit() {
        t.push(x);
    }
    let mut e = Vec::new();
    while let Some(x) = call.poll_event() {
        e.push(x);
    }
    (t, e)
}

fn drain_out(call: &mut OutgoingCall) -> (Vec<CallTransmit>, Vec<CallEvent>) {
    let mut t = Vec::new();
    while let Some(x) = call.poll_transmit() {
        t.push(x);
    }
    let mut e = Vec::new();
    while let Some(x) = call.poll_event() {
        e.push(x);
    }
    (t, e)
}

fn codes(t: &[CallTransmit]) -> Vec<u16> {
    t.iter().filter_map(|x| x.message.code()).collect()
}

fn states(e: &[CallEvent]) -> Vec<CallState> {
    e.iter().map(|x| x.state).collect()
}

/// The caller's digest answer to the phone's 401, computed by the real digest client,
/// restricted to the challenges `keep` allows.
fn answer_401(
    r401: &Message,
    password: &str,
    rfc8760: bool,
    keep: impl Fn(&str) -> bool,
    uri: &str,
    body: &[u8],
    rng: &mut SplitMix64,
) -> String {
    let mut client = DigestClient::new(
        creds(password),
        DigestPolicy {
            rfc8760,
            fips: false,
        },
        2,
    );
    let headers: Vec<ChallengeHeader<'_>> = r401
        .headers_named("WWW-Authenticate")
        .filter(|v| keep(v))
        .map(|value| ChallengeHeader {
            kind: ChallengeKind::Www,
            value,
        })
        .collect();
    let target = RequestTarget {
        method: "INVITE",
        uri,
        body,
    };
    let mut answers = client
        .respond(&mut AuthSession::default(), &headers, &target, rng)
        .unwrap();
    answers.remove(0).value
}

/// Auth INVITE on: 401, the retried INVITE with `password` and the algorithm `keep` selects.
fn challenged_then_retried(
    password: &str,
    rfc8760: bool,
    keep: impl Fn(&str) -> bool,
) -> (
    IncomingCall,
    Caller,
    Vec<CallTransmit>,
    Vec<CallEvent>,
    Instant,
) {
    let mut rng = SplitMix64::new(21);
    let now = Instant::now();
    let v = verifier(rfc8760, now, &mut rng);
    let mut caller = Caller::new(&offer_bytes(false, &mut rng));
    let first = caller.invite(None);
    let mut call = IncomingCall::new(now, &first, incoming(true, NOW), &v, &mut rng, &[]).unwrap();
    let (t, e) = drain(&mut call);
    assert_eq!(codes(&t), [401], "challenge only");
    assert_eq!(states(&e), [CallState::Challenged]);
    let r401 = wire(&t[0].message);
    assert_eq!(t[0].via, SendVia::Response);
    assert_eq!(r401.via_branch(), first.via_branch());
    let offered: Vec<&str> = r401.headers_named("WWW-Authenticate").collect();
    assert_eq!(offered.len(), if rfc8760 { 3 } else { 1 }, "{offered:?}");
    assert!(offered.iter().all(|o| o.contains("qop=\"auth\"")));
    let auth = answer_401(
        &r401,
        password,
        rfc8760,
        keep,
        &caller.uri.clone(),
        &caller.sdp.clone(),
        &mut rng,
    );
    let retry = caller.invite(Some(auth));
    assert!(call.matches(&retry));
    let later = now + Duration::from_millis(300);
    call.handle_request(later, &retry, &v, &mut rng);
    let (t, e) = drain(&mut call);
    (call, caller, t, e, later)
}

#[test]
fn auth_invite_md5_rings_answers_and_hangs_up() {
    let (mut call, mut caller, t, e, now) = challenged_then_retried(PASSWORD, false, |_| true);
    assert_eq!(codes(&t), [180, 200]);
    assert_eq!(states(&e), [CallState::Ringing]);
    assert_eq!(e[0].algorithm, Some(Algorithm::MD5));
    assert_eq!(e[0].remote, "sip:2002@mppd.test");
    let ok = wire(&t[1].message);
    let tag = ok.to_tag().unwrap().to_owned();
    assert_eq!(
        t[0].message.to_tag(),
        Some(tag.as_str()),
        "same to-tag in 180 and 200"
    );
    assert_eq!(ok.header("Record-Route"), Some("<sip:proxy.mppd.test;lr>"));
    assert_eq!(
        ok.header("Contact"),
        Some("<sip:1001@192.0.2.10:5061;transport=tls>")
    );
    assert_eq!(ok.header("Content-Type"), Some("application/sdp"));
    assert_eq!(ok.cseq(), Some((2, "INVITE")));
    let answer = SessionDescription::parse(&ok.body).unwrap();
    assert_eq!(answer.media[0].proto, MediaProto::Avp);
    assert_eq!(answer.media[0].port, call.local_port());
    assert_eq!(call.media().unwrap().remote_port, 6000);
    // The 2xx is re-sent until the ACK.
    assert_eq!(call.poll_timeout(), Some(now + Duration::from_millis(500)));
    let mut rng = SplitMix64::new(1);
    let v = verifier(false, now, &mut rng);
    call.handle_timeout(now + Duration::from_millis(500), &mut rng);
    let (t, _) = drain(&mut call);
    assert_eq!(t.len(), 1);
    assert_eq!(t[0].via, SendVia::ResponseRetransmit);
    assert_eq!(call.poll_timeout(), Some(now + Duration::from_millis(1500)));
    // ACK (the 2xx ACK is a stray for the transaction layer) confirms the dialog.
    let ack = caller.in_dialog("ACK", &tag, 2);
    assert!(call.matches(&ack));
    call.handle_request(now, &ack, &v, &mut rng);
    let (t, e) = drain(&mut call);
    assert!(t.is_empty());
    assert_eq!(states(&e), [CallState::Established]);
    assert_eq!(call.poll_timeout(), None);
    // An OPTIONS in the dialog: 200; a stale CSeq: 500.
    call.handle_request(now, &caller.in_dialog("OPTIONS", &tag, 3), &v, &mut rng);
    call.handle_request(now, &caller.in_dialog("INFO", &tag, 3), &v, &mut rng);
    call.handle_request(now, &caller.in_dialog("BYE", "wrong", 9), &v, &mut rng);
    let (t, _) = drain(&mut call);
    assert_eq!(codes(&t), [200, 500, 481]);
    // BYE: 200 and the call ends.
    call.handle_request(now, &caller.in_dialog("BYE", &tag, 4), &v, &mut rng);
    let (t, e) = drain(&mut call);
    assert_eq!(codes(&t), [200]);
    assert_eq!(t[0].message.cseq(), Some((4, "BYE")));
    assert_eq!(states(&e), [CallState::Ended]);
    assert_eq!(e[0].reason.as_deref(), Some("remote hangup"));
    assert!(call.is_ended());
}

#[test]
fn auth_invite_accepts_sha256_credentials() {
    let (_, _, t, e, _) =
        challenged_then_retried(PASSWORD, true, |v| v.contains("algorithm=SHA-256,"));
    assert_eq!(codes(&t), [180, 200]);
    assert_eq!(e[0].algorithm.map(|a| a.hash), Some(Hash::Sha256));
    // With RFC 8760 the caller's own choice is the top-most: SHA-512-256.
    let (_, _, t, e, _) = challenged_then_retried(PASSWORD, true, |_| true);
    assert_eq!(codes(&t), [180, 200]);
    assert_eq!(e[0].algorithm, Some(Algorithm::SHA512_256));
}

#[test]
fn wrong_password_is_refused_and_never_rings() {
    let (call, _, t, e, _) = challenged_then_retried("not-the-password", false, |_| true);
    assert_eq!(codes(&t), [403]);
    assert_eq!(states(&e), [CallState::Failed]);
    let why = e[0].reason.as_deref().unwrap();
    assert!(why.contains("credentials refused"), "{why}");
    assert!(!why.contains(PASSWORD) && !why.contains("not-the-password"));
    assert!(call.is_ended());
    let dbg = format!("{call:?}");
    assert!(!dbg.contains(PASSWORD), "{dbg}");
}

#[test]
fn missing_credentials_get_401_only_then_403() {
    let mut rng = SplitMix64::new(5);
    let now = Instant::now();
    let v = verifier(false, now, &mut rng);
    let mut caller = Caller::new(&offer_bytes(false, &mut rng));
    let mut call = IncomingCall::new(
        now,
        &caller.invite(None),
        incoming(true, NOW),
        &v,
        &mut rng,
        &[],
    )
    .unwrap();
    let mut all = Vec::new();
    let mut events = Vec::new();
    for _ in 0..4 {
        let (t, e) = drain(&mut call);
        all.extend(codes(&t));
        events.extend(states(&e));
        if call.is_ended() {
            break;
        }
        call.handle_request(now, &caller.invite(None), &v, &mut rng);
    }
    assert_eq!(all, [401, 401, 401, 403]);
    assert!(!events.contains(&CallState::Ringing));
    assert_eq!(events.last(), Some(&CallState::Failed));

    // A challenge nobody answers ends the call after 64×T1.
    let mut caller = Caller::new(b"");
    caller.call_id = "other".to_owned();
    let mut call = IncomingCall::new(
        now,
        &caller.invite(None),
        incoming(true, NOW),
        &v,
        &mut rng,
        &[],
    )
    .unwrap();
    let _ = drain(&mut call);
    assert_eq!(call.poll_timeout(), Some(now + Duration::from_secs(32)));
    call.handle_timeout(now + Duration::from_secs(32), &mut rng);
    let (_, e) = drain(&mut call);
    assert_eq!(states(&e), [CallState::Failed]);
    assert!(call.is_ended());
}

#[test]
fn foreign_or_stale_nonce() {
    let mut rng = SplitMix64::new(8);
    let now = Instant::now();
    let v = verifier(false, now, &mut rng);
    // A nonce issued for another dialog is refused.
    let mut other = Caller::new(b"");
    other.call_id = "another-call".to_owned();
    let mut c2 = IncomingCall::new(
        now,
        &other.invite(None),
        incoming(true, NOW),
        &v,
        &mut rng,
        &[],
    )
    .unwrap();
    let (t, _) = drain(&mut c2);
    let foreign = answer_401(
        &t[0].message,
        PASSWORD,
        false,
        |_| true,
        &other.uri,
        b"",
        &mut rng,
    );
    let mut caller = Caller::new(b"");
    let mut call = IncomingCall::new(
        now,
        &caller.invite(Some(foreign)),
        incoming(true, NOW),
        &v,
        &mut rng,
        &[],
    )
    .unwrap();
    let (t, e) = drain(&mut call);
    assert_eq!(codes(&t), [403]);
    assert!(e[0].reason.as_deref().unwrap().contains("nonce"), "{e:?}");

    // A right answer after the nonce's lifetime: 401 with stale=true, then OK.
    let mut caller = Caller::new(b"");
    caller.call_id = "stale-call".to_owned();
    let mut call = IncomingCall::new(
        now,
        &caller.invite(None),
        incoming(true, NOW),
        &v,
        &mut rng,
        &[],
    )
    .unwrap();
    let (t, _) = drain(&mut call);
    let auth = answer_401(
        &t[0].message,
        PASSWORD,
        false,
        |_| true,
        &caller.uri,
        b"",
        &mut rng,
    );
    let late = now + Duration::from_secs(31);
    call.handle_request(late, &caller.invite(Some(auth)), &v, &mut rng);
    let (t, e) = drain(&mut call);
    assert_eq!(codes(&t), [401]);
    assert!(
        t[0].message
            .header("WWW-Authenticate")
            .unwrap()
            .contains("stale=true")
    );
    assert_eq!(e[0].reason.as_deref(), Some("nonce expired"));
    let auth = answer_401(
        &t[0].message,
        PASSWORD,
        false,
        |_| true,
        &caller.uri,
        b"",
        &mut rng,
    );
    call.handle_request(late, &caller.invite(Some(auth)), &v, &mut rng);
    let (t, _) = drain(&mut call);
    // Late offer: the INVITE had no SDP, so the 200 carries the phone's offer.
    assert_eq!(codes(&t), [180, 200]);
    let offer = SessionDescription::parse(&t[1].message.body).unwrap();
    assert_eq!(offer.media[0].formats, ["0", "8", "101"]);
}

#[test]
fn auth_invite_off_rings_at_once_and_answers_after_the_delay() {
    let mut rng = SplitMix64::new(2);
    let now = Instant::now();
    let v = verifier(false, now, &mut rng);
    let mut caller = Caller::new(&offer_bytes(false, &mut rng));
    let policy = AnswerPolicy::Answer {
        after: Duration::from_secs(2),
    };
    let mut call = IncomingCall::new(
        now,
        &caller.invite(None),
        incoming(false, policy),
        &v,
        &mut rng,
        &[],
    )
    .unwrap();
    let (t, e) = drain(&mut call);
    assert_eq!(codes(&t), [180]);
    assert_eq!(states(&e), [CallState::Ringing]);
    assert_eq!(e[0].algorithm, None);
    assert_eq!(call.poll_timeout(), Some(now + Duration::from_secs(2)));
    call.handle_timeout(now + Duration::from_secs(1), &mut rng);
    assert!(call.poll_transmit().is_none());
    let t2 = now + Duration::from_secs(2);
    call.handle_timeout(t2, &mut rng);
    let (t, _) = drain(&mut call);
    assert_eq!(codes(&t), [200]);
    // No ACK ever: re-sent at 0.5, 1.5, 3.5, 7.5, 11.5 ... then BYE at 32 s.
    let mut resends = 0;
    let mut at = t2;
    while let Some(next) = call.poll_timeout() {
        at = next;
        call.handle_timeout(at, &mut rng);
        let (t, e) = drain(&mut call);
        if t.iter().any(|x| x.message.method() == Some("BYE")) {
            assert_eq!(states(&e), [CallState::Ended]);
            let bye = &t[0];
            assert_eq!(bye.via, SendVia::Request);
            assert_eq!(
                bye.message.header("Route"),
                Some("<sip:proxy.mppd.test;lr>")
            );
            assert_eq!(bye.next_hop.as_deref(), Some("sip:proxy.mppd.test;lr"),);
            assert_eq!(
                request_uri(&bye.message),
                "sip:2002@198.51.100.7:5061;transport=tls"
            );
            break;
        }
        resends += t.len();
    }
    assert_eq!(at, t2 + Duration::from_secs(32));
    assert!((9..=11).contains(&resends), "{resends}");
    // The BYE's answer ends the call.
    let mut bye_ok = Message::response(200, "OK");
    bye_ok
        .push("Call-ID", caller.call_id.clone())
        .push("CSeq", "1 BYE")
        .push("To", "<sip:2002@mppd.test>;tag=caller-tag");
    assert!(call.matches(&bye_ok));
    call.handle_response(at, &bye_ok);
    assert!(call.is_ended());
    let _ = caller.invite(None);
}

#[test]
fn cancel_while_ringing_and_reject_policy() {
    let mut rng = SplitMix64::new(3);
    let now = Instant::now();
    let v = verifier(false, now, &mut rng);
    let mut caller = Caller::new(&offer_bytes(false, &mut rng));
    let policy = AnswerPolicy::Answer {
        after: Duration::from_secs(10),
    };
    let invite = caller.invite(None);
    let mut call =
        IncomingCall::new(now, &invite, incoming(false, policy), &v, &mut rng, &[]).unwrap();
    let _ = drain(&mut call);
    // A CANCEL with another branch matches nothing.
    let mut cancel = caller.in_dialog("CANCEL", "x", 1);
    cancel.remove("To");
    cancel.push("To", "<sip:1001@mppd.test>");
    call.handle_request(now, &cancel, &v, &mut rng);
    let (t, _) = drain(&mut call);
    assert_eq!(codes(&t), [481]);
    cancel.remove("Via");
    cancel.push("Via", invite.top_via().unwrap().to_owned());
    call.handle_request(now, &cancel, &v, &mut rng);
    let (t, e) = drain(&mut call);
    assert_eq!(codes(&t), [200, 487]);
    assert_eq!(t[0].message.cseq(), Some((1, "CANCEL")));
    assert_eq!(t[1].message.cseq(), Some((1, "INVITE")));
    assert_eq!(states(&e), [CallState::Ended]);
    assert!(call.is_ended());

    let mut caller = Caller::new(&offer_bytes(false, &mut rng));
    let mut call = IncomingCall::new(
        now,
        &caller.invite(None),
        incoming(false, AnswerPolicy::Reject { code: 486 }),
        &v,
        &mut rng,
        &[],
    )
    .unwrap();
    let (t, e) = drain(&mut call);
    assert_eq!(codes(&t), [486]);
    assert_eq!(states(&e), [CallState::Failed]);
}

#[test]
fn malformed_or_unknown_invites_are_refused_with_a_response() {
    let mut rng = SplitMix64::new(4);
    let now = Instant::now();
    let v = verifier(false, now, &mut rng);
    let mut caller = Caller::new(b"");
    let mut inv = caller.invite(None);
    inv.remove("Contact");
    let r = IncomingCall::new(now, &inv, incoming(false, NOW), &v, &mut rng, &[]).unwrap_err();
    assert_eq!(r.error, CallError::Malformed("Contact"));
    assert_eq!(r.response.unwrap().code(), Some(400));
    let mut inv = caller.invite(None);
    inv.remove("Contact");
    inv.push("Contact", "<sip:a b@c>");
    let r = IncomingCall::new(now, &inv, incoming(false, NOW), &v, &mut rng, &[]).unwrap_err();
    assert_eq!(r.error, CallError::Malformed("Contact"));
    let mut inv = caller.invite(None);
    inv.remove("To");
    inv.push("To", "<sip:1001@mppd.test>;tag=zzz");
    let r = IncomingCall::new(now, &inv, incoming(false, NOW), &v, &mut rng, &[]).unwrap_err();
    assert_eq!(r.response.unwrap().code(), Some(481));
    let mut cfg = incoming(false, NOW);
    cfg.line.rtp_ports = RtpPortRange {
        min: 3001,
        max: 3002,
    };
    let r = IncomingCall::new(now, &caller.invite(None), cfg, &v, &mut rng, &[]).unwrap_err();
    assert_eq!(r.response.unwrap().code(), Some(503));
    // Bad SDP: 488, never rings.
    let mut caller = Caller::new(b"v=0\r\nm=audio x RTP/AVP 0\r\n");
    let mut call = IncomingCall::new(
        now,
        &caller.invite(None),
        incoming(false, NOW),
        &v,
        &mut rng,
        &[],
    )
    .unwrap();
    let (t, e) = drain(&mut call);
    assert_eq!(codes(&t), [488]);
    assert_eq!(states(&e), [CallState::Failed]);
}

#[test]
fn mediasec_line_answers_savp_with_its_own_key() {
    let mut rng = SplitMix64::new(6);
    let now = Instant::now();
    let v = verifier(false, now, &mut rng);
    let mut caller = Caller::new(&offer_bytes(true, &mut rng));
    let mut cfg = incoming(false, NOW);
    cfg.line = line(true);
    let mut call =
        IncomingCall::new(now, &caller.invite(None), cfg.clone(), &v, &mut rng, &[]).unwrap();
    let (t, e) = drain(&mut call);
    assert_eq!(codes(&t), [180, 200]);
    let text = String::from_utf8(t[1].message.body.clone()).unwrap();
    assert!(text.contains(" RTP/SAVP 0 8 101\r\n"), "{text}");
    assert!(
        text.contains("a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:"),
        "{text}"
    );
    let media = call.media().unwrap();
    assert!(media.secure());
    // Debug output of the transmit and the call never shows the keys.
    let (_, mine, theirs) = media.srtp.clone().unwrap();
    for dbg in [
        format!("{:?}", t[1]),
        format!("{call:?}"),
        format!("{media:?}"),
    ] {
        assert!(
            !dbg.contains(&mine.inline()) && !dbg.contains(&theirs.inline()),
            "{dbg}"
        );
    }
    assert!(e.iter().any(|x| x.state == CallState::Ringing));
    // SRTP required and a plain offer: 488.
    cfg.require_srtp = true;
    let mut caller = Caller::new(&offer_bytes(false, &mut rng));
    let mut call = IncomingCall::new(now, &caller.invite(None), cfg, &v, &mut rng, &[]).unwrap();
    let (t, _) = drain(&mut call);
    assert_eq!(codes(&t), [488]);
}

// ---- outgoing ---------------------------------------------------------------------------

fn dialer(secure: bool, hangup_after: Option<Duration>) -> (OutgoingCall, SplitMix64, Instant) {
    let mut rng = SplitMix64::new(31);
    let now = Instant::now();
    let digest = DigestClient::new(
        creds(PASSWORD),
        DigestPolicy {
            rfc8760: true,
            fips: false,
        },
        2,
    );
    let call = OutgoingCall::new(
        now,
        "2002",
        line(secure),
        digest,
        hangup_after,
        &mut rng,
        &[],
    )
    .unwrap();
    (call, rng, now)
}

fn respond(req: &Message, code: u16, tag: Option<&str>, extra: &[(&str, &str)]) -> Message {
    let mut r = req.reply(code, reason_phrase(code), tag);
    for (n, v) in extra {
        r.push(n, *v);
    }
    wire(&r)
}

#[test]
fn outgoing_call_with_challenge_ack_and_bye() {
    let (mut call, mut rng, now) = dialer(true, Some(Duration::from_secs(5)));
    let (t, e) = drain_out(&mut call);
    assert_eq!(states(&e), [CallState::Calling]);
    assert_eq!(t.len(), 1);
    let inv1 = wire(&t[0].message);
    assert_eq!(t[0].via, SendVia::Request);
    assert_eq!(request_uri(&inv1), "sip:2002@mppd.test");
    assert_eq!(inv1.cseq(), Some((1, "INVITE")));
    assert_eq!(inv1.header("Security-Verify"), Some("sdes-srtp;mediasec"));
    assert_eq!(inv1.header("Require"), Some("mediasec"));
    assert_eq!(inv1.header("Proxy-Require"), Some("mediasec"));
    let offer = SessionDescription::parse(&inv1.body).unwrap();
    assert_eq!(offer.media[0].proto, MediaProto::Savp);
    assert_eq!(offer.media[0].port, call.local_port());
    assert!(call.local_port() % 2 == 0);
    // 407 from the proxy: re-INVITE with new CSeq and branch, same Call-ID and tag.
    let ch = respond(
        &inv1,
        407,
        Some("p"),
        &[(
            "Proxy-Authenticate",
            "Digest realm=\"mppd.test\", nonce=\"n1\", qop=\"auth\", algorithm=SHA-256",
        )],
    );
    let ack = call.ack_for_non_2xx(&ch);
    assert_eq!(ack.cseq(), Some((1, "ACK")));
    assert_eq!(ack.via_branch(), inv1.via_branch());
    assert_eq!(ack.to_tag(), Some("p"));
    call.handle_response(now, &ch, &mut rng);
    let (t, _) = drain_out(&mut call);
    let inv2 = wire(&t[0].message);
    assert_eq!(inv2.cseq(), Some((2, "INVITE")));
    assert_ne!(inv2.via_branch(), inv1.via_branch());
    assert_eq!(inv2.call_id(), inv1.call_id());
    assert_eq!(inv2.from_tag(), inv1.from_tag());
    let pa = inv2.header("Proxy-Authorization").unwrap();
    assert!(pa.contains("algorithm=SHA-256") && pa.contains("uri=\"sip:2002@mppd.test\""));
    assert_eq!(inv2.body, inv1.body, "same offer");
    // 180, then 200 with the callee's answer.
    call.handle_response(now, &respond(&inv2, 180, Some("callee"), &[]), &mut rng);
    let (_, e) = drain_out(&mut call);
    assert_eq!(states(&e), [CallState::Ringing]);
    let mut answerer_rng = SplitMix64::new(77);
    let (answer, _) = sdp::answer(
        &offer,
        &sdp::LocalMedia {
            address: "198.51.100.7".parse().unwrap(),
            port: 7000,
            session_id: 1,
        },
        SrtpKey::random(&mut answerer_rng),
        true,
    )
    .unwrap();
    let mut ok = inv2.reply(200, "OK", Some("callee"));
    ok.push(
        "Record-Route",
        "<sip:p2.mppd.test;lr>, <sip:p1.mppd.test;lr>",
    )
    .push("Contact", "<sip:2002@198.51.100.7:5061;transport=tls>")
    .push("Content-Type", "application/sdp");
    ok.body = answer.to_wire().into_bytes();
    let ok = wire(&ok);
    call.handle_response(now, &ok, &mut rng);
    let (t, e) = drain_out(&mut call);
    assert_eq!(states(&e), [CallState::Established]);
    assert!(e[0].secure_media);
    assert_eq!(e[0].algorithm, Some(Algorithm::SHA256));
    assert_eq!(t.len(), 1);
    assert_eq!(t[0].via, SendVia::Ack);
    let ack = wire(&t[0].message);
    assert_eq!(
        request_uri(&ack),
        "sip:2002@198.51.100.7:5061;transport=tls"
    );
    assert_eq!(ack.cseq(), Some((2, "ACK")));
    assert_ne!(ack.via_branch(), inv2.via_branch());
    assert_eq!(
        ack.headers_named("Route").collect::<Vec<_>>(),
        ["<sip:p1.mppd.test;lr>", "<sip:p2.mppd.test;lr>"]
    );
    assert_eq!(t[0].next_hop.as_deref(), Some("sip:p1.mppd.test;lr"));
    assert!(ack.header("Security-Verify").is_none());
    assert!(call.media().unwrap().secure());
    assert_eq!(call.media().unwrap().remote_port, 7000);
    // The 2xx again: the same ACK again.
    call.handle_response(now, &ok, &mut rng);
    let (t2, _) = drain_out(&mut call);
    assert_eq!(t2.len(), 1);
    assert_eq!(t2[0].message, t[0].message);
    // --hangup-after 5: BYE with CSeq 3.
    assert_eq!(call.poll_timeout(), Some(now + Duration::from_secs(5)));
    call.handle_timeout(now + Duration::from_secs(5), &mut rng);
    let (t, e) = drain_out(&mut call);
    assert_eq!(states(&e), [CallState::Ended]);
    let bye = wire(&t[0].message);
    assert_eq!(bye.cseq(), Some((3, "BYE")));
    assert_eq!(bye.to_tag(), Some("callee"));
    assert_eq!(bye.header("Security-Verify"), Some("sdes-srtp;mediasec"));
    assert!(!call.is_ended());
    call.handle_response(now, &respond(&bye, 200, None, &[]), &mut rng);
    assert!(call.is_ended());
}

#[test]
fn outgoing_call_gives_up_on_refused_credentials_and_errors() {
    let (mut call, mut rng, now) = dialer(false, None);
    let (t, _) = drain_out(&mut call);
    let ch = [(
        "WWW-Authenticate",
        "Digest realm=\"mppd.test\", nonce=\"n1\", algorithm=MD5",
    )];
    call.handle_response(now, &respond(&t[0].message, 401, Some("a"), &ch), &mut rng);
    let (t, _) = drain_out(&mut call);
    assert_eq!(t.len(), 1);
    let plain = SessionDescription::parse(&t[0].message.body).unwrap();
    assert_eq!(plain.media[0].proto, MediaProto::Avp);
    assert!(t[0].message.header("Require").is_none());
    // Same nonce again: refused, no loop.
    call.handle_response(now, &respond(&t[0].message, 401, Some("a"), &ch), &mut rng);
    let (t, e) = drain_out(&mut call);
    assert!(t.is_empty());
    assert_eq!(states(&e), [CallState::Failed]);
    assert!(e[0].reason.as_deref().unwrap().contains("refused"), "{e:?}");
    assert!(call.is_ended());

    let (mut call, mut rng, now) = dialer(false, None);
    let (t, _) = drain_out(&mut call);
    call.handle_response(now, &respond(&t[0].message, 486, Some("b"), &[]), &mut rng);
    let (_, e) = drain_out(&mut call);
    assert_eq!(e[0].reason.as_deref(), Some("486 Busy Here"));

    let (mut call, _, now) = dialer(false, None);
    let _ = drain_out(&mut call);
    call.handle_failure(now, "no answer (Timer B)");
    let (_, e) = drain_out(&mut call);
    assert_eq!(states(&e), [CallState::Failed]);
    assert!(call.is_ended());
}

#[test]
fn outgoing_hangup_before_and_after_ringing() {
    // Hang-up before any provisional: CANCEL waits for the 180.
    let (mut call, mut rng, now) = dialer(false, None);
    let (t, _) = drain_out(&mut call);
    let inv = t[0].message.clone();
    call.hangup(now, &mut rng);
    assert!(call.poll_transmit().is_none());
    call.handle_response(now, &respond(&inv, 180, Some("c"), &[]), &mut rng);
    let (t, _) = drain_out(&mut call);
    let cancel = wire(&t[0].message);
    assert_eq!(cancel.method(), Some("CANCEL"));
    assert_eq!(cancel.via_branch(), inv.via_branch());
    assert_eq!(cancel.cseq(), Some((1, "CANCEL")));
    assert!(cancel.to_tag().is_none() && cancel.header("Require").is_none());
    call.handle_response(now, &respond(&cancel, 200, Some("c"), &[]), &mut rng);
    call.handle_response(now, &respond(&inv, 487, Some("c"), &[]), &mut rng);
    let (_, e) = drain_out(&mut call);
    assert_eq!(states(&e), [CallState::Ended]);
    assert_eq!(e[0].reason.as_deref(), Some("cancelled"));
    assert!(call.is_ended());

    // The far end hangs up an established call.
    let (mut call, mut rng, now) = dialer(false, None);
    let (t, _) = drain_out(&mut call);
    let inv = t[0].message.clone();
    let offer = SessionDescription::parse(&inv.body).unwrap();
    let (answer, _) = sdp::answer(
        &offer,
        &sdp::LocalMedia {
            address: "198.51.100.7".parse().unwrap(),
            port: 7000,
            session_id: 1,
        },
        SrtpKey::random(&mut rng),
        false,
    )
    .unwrap();
    let mut ok = inv.reply(200, "OK", Some("far"));
    ok.push("Contact", "<sip:2002@198.51.100.7>");
    ok.body = answer.to_wire().into_bytes();
    call.handle_response(now, &wire(&ok), &mut rng);
    let _ = drain_out(&mut call);
    let mut bye = Message::request("BYE", "sip:1001@192.0.2.10:5061");
    bye.push("Via", "SIP/2.0/TLS 198.51.100.7;branch=z9hG4bKbye")
        .push("From", "<sip:2002@mppd.test>;tag=far")
        .push(
            "To",
            format!("<sip:1001@mppd.test>;tag={}", inv.from_tag().unwrap()),
        )
        .push("Call-ID", inv.call_id().unwrap())
        .push("CSeq", "1 BYE");
    let bye = wire(&bye);
    assert!(call.matches(&bye));
    call.handle_request(now, &bye);
    let (t, e) = drain_out(&mut call);
    assert_eq!(codes(&t), [200]);
    assert_eq!(e[0].reason.as_deref(), Some("remote hangup"));
    assert!(call.is_ended());
}

#[test]
fn phone_calls_phone_with_auth_invite() {
    // The phone's UAC against the phone's UAS, through the wire format, both algorithms.
    for rfc8760 in [false, true] {
        let mut rng = SplitMix64::new(99);
        let now = Instant::now();
        let v = verifier(rfc8760, now, &mut rng);
        let digest = DigestClient::new(
            creds(PASSWORD),
            DigestPolicy {
                rfc8760,
                fips: false,
            },
            2,
        );
        let mut uac = OutgoingCall::new(
            now,
            "sip:1001@192.0.2.10:5061",
            line(true),
            digest,
            None,
            &mut rng,
            &[],
        )
        .unwrap();
        let mut cfg = incoming(true, NOW);
        cfg.line = line(true);
        let inv = wire(&uac.poll_transmit().unwrap().message);
        let mut uas = IncomingCall::new(now, &inv, cfg, &v, &mut rng, &[uac.local_port()]).unwrap();
        assert_ne!(uas.local_port(), uac.local_port());
        let mut log = Vec::new();
        for _ in 0..10 {
            let mut moved = false;
            while let Some(t) = uas.poll_transmit() {
                let m = wire(&t.message);
                log.push(format!("uas {:?}", m.start));
                uac.handle_response(now, &m, &mut rng);
                moved = true;
            }
            while let Some(t) = uac.poll_transmit() {
                let m = wire(&t.message);
                log.push(format!("uac {:?}", m.start));
                if uas.matches(&m) {
                    uas.handle_request(now, &m, &v, &mut rng);
                }
                moved = true;
            }
            if !moved {
                break;
            }
        }
        let (_, ue) = drain_out(&mut uac);
        let (_, se) = drain(&mut uas);
        assert_eq!(
            states(&ue),
            [
                CallState::Calling,
                CallState::Ringing,
                CallState::Established
            ],
            "{log:#?}"
        );
        assert_eq!(
            states(&se),
            [
                CallState::Challenged,
                CallState::Ringing,
                CallState::Established
            ],
            "{log:#?}"
        );
        let want = if rfc8760 {
            Algorithm::SHA512_256
        } else {
            Algorithm::MD5
        };
        assert_eq!(se[1].algorithm, Some(want));
        assert_eq!(ue[2].algorithm, Some(want));
        let (um, sm) = (uac.media().unwrap(), uas.media().unwrap());
        assert_eq!(um.remote_port, uas.local_port());
        assert_eq!(sm.remote_port, uac.local_port());
        let (ua, ub) = (um.srtp.clone().unwrap(), sm.srtp.clone().unwrap());
        assert_eq!((ua.1, ua.2), (ub.2, ub.1), "keys cross over");
        // Hang up from the UAC.
        uac.hangup(now, &mut rng);
        let bye = wire(&uac.poll_transmit().unwrap().message);
        uas.handle_request(now, &bye, &v, &mut rng);
        let ok = wire(&uas.poll_transmit().unwrap().message);
        uac.handle_response(now, &ok, &mut rng);
        assert!(uac.is_ended() && uas.is_ended());
    }
}

#[test]
fn targets_and_helpers() {
    assert_eq!(target_uri("2002", "d.test").unwrap(), "sip:2002@d.test");
    // The line's domain completes a bare number: it must not break the header either.
    for domain in ["\n\0", "d.test\r\nX: y", "a b", "<d>", ""] {
        assert!(
            matches!(target_uri("2002", domain), Err(CallError::BadTarget(_))),
            "{domain:?}"
        );
    }
    assert_eq!(target_uri("bob@x.test", "d").unwrap(), "sip:bob@x.test");
    assert_eq!(
        target_uri("sips:bob@x.test;transport=tls", "d").unwrap(),
        "sips:bob@x.test;transport=tls"
    );
    for bad in [
        "",
        "a b",
        "sip:a@b>\r\nX: y",
        "tel:123",
        "sip:",
        "x\"y",
        "sip:a@",
    ] {
        assert!(
            matches!(target_uri(bad, "d"), Err(CallError::BadTarget(_))),
            "{bad:?}"
        );
    }
    assert_eq!(
        strip_tag("\"A\" <sip:a@b;tag=x>;tag=1;p=2"),
        "\"A\" <sip:a@b;tag=x>;p=2"
    );
    assert_eq!(strip_tag("sip:a@b;tag=1"), "sip:a@b");
    assert_eq!(uri_of("\"A\" <sip:a@b;x>;q=1"), "sip:a@b;x");
    assert_eq!(uri_of("sip:a@b;expires=1"), "sip:a@b");
}

#[test]
fn random_requests_never_panic() {
    let mut rng = SplitMix64::new(0xca11);
    let now = Instant::now();
    let v = verifier(true, now, &mut rng);
    let mut caller = Caller::new(&offer_bytes(true, &mut rng));
    let base = caller.invite(None).to_bytes();
    for _ in 0..3000 {
        let mut b = base.clone();
        for _ in 0..(rng.next_u64() % 6) {
            let i = usize::try_from(rng.next_u64() % b.len() as u64).unwrap();
            b[i] = u8::try_from(rng.next_u64() % 256).unwrap();
        }
        let Ok(m) = Message::parse(&b) else { continue };
        let auth = rng.next_u64().is_multiple_of(2);
        if let Ok(mut call) = IncomingCall::new(now, &m, incoming(auth, NOW), &v, &mut rng, &[]) {
            let _ = drain(&mut call);
            call.handle_request(now, &m, &v, &mut rng);
            call.handle_timeout(now + Duration::from_secs(60), &mut rng);
            let _ = drain(&mut call);
        }
    }
}
