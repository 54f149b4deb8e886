//! The SIP parsers `sip` does not reach (SPEC §4b, §8; issues 5 and 10): whatever the bytes,
//! none panics, and a NOTIFY is never obeyed without the line's credentials.
//!
//! - the raw data as a NOTIFY (`Message::parse`) through `NotifyGuard::decide`, both with
//!   `Auth_Resync-Reboot` Yes (never accepted: the data cannot hold a valid response to the
//!   phone's nonce) and No;
//!
//! then, the data cut at `0xFF` bytes (never part of UTF-8) into text fields:
//!
//! - field 0 as `Proxy_n_` (`ProxyValue::parse`, `split_host_port`): an SRV list comes out
//!   sorted, and written back in its syntax parses to the same list; field 1 as
//!   `SIP_Transport_n_`; fields 2-9 as NAPTR records (`naptr_choices`);
//! - the `Event` header (field 1) and body (field 3) as a trigger (`TriggerKind::from_event`);
//! - the digest round trip: the phone's verifier with a realm from field 4 challenges a NOTIFY
//!   (Request-URI field 5, Call-ID field 6, body field 3), the line's digest client (user and
//!   password fields 7, 8) answers, and the answer is accepted once (`Verdict::Ok(_)`, trigger
//!   obeyed) and refused when replayed, also with field 9 inserted into the credentials
//!   wherever they still verify; the data as an `Authorization` value (`NONCE` in it replaced
//!   by the phone's nonce) is never accepted.
//!
//! Run: `cd fuzz && RUSTC_BOOTSTRAP=1 cargo fuzz run sip_extra`.
#![no_main]

use std::time::{Duration, Instant};

use libfuzzer_sys::fuzz_target;
use mppd_core::sip::SplitMix64;
use mppd_core::sip::digest::{
    AuthSession, ChallengeKind, Credentials, DigestClient, DigestPolicy, RequestTarget, Verdict,
    Verifier, VerifierConfig, challenge_headers,
};
use mppd_core::sip::locate::{Naptr, ProxyValue, TransportSetting, naptr_choices, split_host_port};
use mppd_core::sip::message::Message;
use mppd_core::sip::notify::{NotifyGuard, NotifyPolicy, TriggerKind};

fn field(parts: &[String], i: usize) -> &str {
    parts.get(i).map_or("", String::as_str)
}

/// Text a header or quoted string carries as it is: short, no control character.
fn plain(s: &str) -> bool {
    s.len() <= 256 && !s.chars().any(char::is_control)
}

const LIFETIME: Duration = Duration::from_secs(30);

fuzz_target!(|data: &[u8]| {
    let t0 = Instant::now();
    let now = t0 + Duration::from_secs(1);
    let mut rng = SplitMix64::new(0x5eed);
    let creds = Credentials {
        username: "1001".to_owned(),
        password: "secret".to_owned(),
    };
    let policy = DigestPolicy {
        rfc8760: data.first().is_some_and(|b| b & 1 == 1),
        fips: data.first().is_some_and(|b| b & 2 == 2),
    };
    let verifier = Verifier::new(VerifierConfig::new("mppd", policy), t0, &mut rng);

    // The raw data as a NOTIFY.
    if let Ok(m) = Message::parse(data) {
        let mut guard = NotifyGuard::default();
        for auth_required in [true, false] {
            let p = NotifyPolicy {
                resync_from_sip: true,
                auth_required,
            };
            let d = guard.decide(now, &m, p, &verifier, &creds, true, LIFETIME, &mut rng);
            if auth_required {
                assert!(
                    d.trigger.is_none() && !d.record.accepted,
                    "an unauthenticated NOTIFY was obeyed: {:?}",
                    d.record
                );
            }
            let _ = d.response.to_bytes();
        }
    }

    let parts: Vec<String> = data
        .split(|&b| b == 0xFF)
        .map(|p| String::from_utf8_lossy(p).into_owned())
        .collect();

    // Proxy_n_.
    let _ = split_host_port(field(&parts, 0));
    if let Ok(Some(v)) = ProxyValue::parse(field(&parts, 0)) {
        let _ = v.domain();
        if let ProxyValue::SrvList { name, targets } = &v {
            for w in targets.windows(2) {
                assert!(
                    (w[0].priority, std::cmp::Reverse(w[0].weight))
                        <= (w[1].priority, std::cmp::Reverse(w[1].weight)),
                    "SRV targets not sorted: {targets:?}"
                );
            }
            let list: Vec<String> = targets
                .iter()
                .map(|t| format!("{}:{}:p={}:w={}", t.target, t.port, t.priority, t.weight))
                .collect();
            let printed = format!("{name}:SRV={}", list.join("|"));
            assert_eq!(
                ProxyValue::parse(&printed),
                Ok(Some(v.clone())),
                "SRV list written back as {printed:?} parses differently"
            );
        }
    }
    let _ = TransportSetting::parse(field(&parts, 1));
    let records: Vec<Naptr> = parts
        .get(2..10)
        .unwrap_or_default()
        .chunks(2)
        .enumerate()
        .map(|(i, c)| Naptr {
            order: u16::from(*data.get(i).unwrap_or(&0)),
            preference: u16::from(*data.get(i + 4).unwrap_or(&0)),
            flags: if i % 2 == 0 { "S" } else { "s" }.to_owned(),
            services: c[0].clone(),
            replacement: c.get(1).cloned().unwrap_or_default(),
        })
        .collect();
    let _ = naptr_choices(&records);

    // The trigger of an Event header.
    let body = field(&parts, 3).as_bytes();
    let _ = TriggerKind::from_event(field(&parts, 1), body).map(|k| k.name());

    // The digest round trip of an authenticated NOTIFY.
    let (realm, uri, call_id) = (field(&parts, 4), field(&parts, 5), field(&parts, 6));
    let line = Credentials {
        username: field(&parts, 7).to_owned(),
        password: field(&parts, 8).to_owned(),
    };
    let uri_ok = !uri.is_empty() && !uri.contains(|c: char| c.is_whitespace() || c.is_control());
    let call_id_ok = !call_id.trim().is_empty() && plain(call_id) && call_id.trim() == call_id;
    if !(plain(realm) && uri_ok && uri.len() <= 256 && call_id_ok && plain(&line.username)) {
        return;
    }
    let event =
        if TriggerKind::from_event(field(&parts, 1), body).is_some() && plain(field(&parts, 1)) {
            field(&parts, 1).trim()
        } else {
            "resync"
        };
    let verifier = Verifier::new(VerifierConfig::new(realm, policy), t0, &mut rng);
    let mut notify = Message::request("NOTIFY", uri);
    notify
        .push("Via", "SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bKn1")
        .push("From", "<sip:proxy@example.com>;tag=abc")
        .push("To", "<sip:1001@example.com>")
        .push("Call-ID", call_id)
        .push("CSeq", "1 NOTIFY")
        .push("Event", event);
    notify.body = body.to_vec();
    let Ok(notify) = Message::parse(&notify.to_bytes()) else {
        return;
    };
    let on = NotifyPolicy {
        resync_from_sip: true,
        auth_required: true,
    };
    let mut guard = NotifyGuard::default();
    let first = guard.decide(
        now, &notify, on, &verifier, &line, false, LIFETIME, &mut rng,
    );
    assert_eq!(first.record.code, 401, "{:?}", first.record);
    let challenged = first.response;
    let headers = challenge_headers(&challenged);
    let target = RequestTarget {
        method: "NOTIFY",
        uri,
        body: &notify.body,
    };
    let mut client = DigestClient::new(line.clone(), policy, 2);
    let answers = client
        .respond(&mut AuthSession::default(), &headers, &target, &mut rng)
        .unwrap_or_else(|e| panic!("the phone's own challenge is not answered: {e}"));
    let values: Vec<&str> = answers.iter().map(|a| a.value.as_str()).collect();
    assert!(answers.iter().all(|a| a.kind == ChallengeKind::Www));
    let binding = [call_id.as_bytes(), b"\0", b"abc"].concat();
    assert!(
        matches!(
            verifier.verify(now, &binding, &values, &target, &line),
            Verdict::Ok(_)
        ),
        "the client's answer {values:?} is not accepted"
    );

    let mut retry = notify.clone();
    for v in &values {
        retry.push("Authorization", *v);
    }
    let Ok(retry) = Message::parse(&retry.to_bytes()) else {
        panic!("the retried NOTIFY does not parse");
    };
    let later = now + Duration::from_secs(1);
    let ok = guard.decide(
        later, &retry, on, &verifier, &line, false, LIFETIME, &mut rng,
    );
    assert!(
        ok.record.accepted && ok.trigger.is_some(),
        "the authenticated NOTIFY was refused: {:?}",
        ok.record
    );
    let replay = guard.decide(
        later, &retry, on, &verifier, &line, false, LIFETIME, &mut rng,
    );
    assert!(
        !replay.record.accepted && replay.record.code == 403,
        "a replayed NOTIFY was obeyed: {:?}",
        replay.record
    );

    // The credentials rewritten (field 9 inserted at a byte the last one of the data picks):
    // if the verifier still accepts them they answer the used nonce, so they are a replay.
    let insert = field(&parts, 9);
    if let Some(v0) = values.first()
        && plain(insert)
    {
        let at = usize::from(*data.last().unwrap_or(&0)) * v0.len() / 255;
        if v0.is_char_boundary(at) {
            let mut v = (*v0).to_owned();
            v.insert_str(at, insert);
            if matches!(
                verifier.verify(later, &binding, &[v.as_str()], &target, &line),
                Verdict::Ok(_)
            ) {
                let mut m = notify.clone();
                m.push("Authorization", v.clone());
                if let Ok(m) = Message::parse(&m.to_bytes()) {
                    let d =
                        guard.decide(later, &m, on, &verifier, &line, false, LIFETIME, &mut rng);
                    assert!(
                        !d.record.accepted && d.trigger.is_none(),
                        "a replay with the credentials rewritten as {v:?} was obeyed: {:?}",
                        d.record
                    );
                }
            }
        }
    }

    // The data as credentials carrying the real nonce: never accepted.
    if let Some(nonce) = headers
        .first()
        .and_then(|h| h.value.split("nonce=\"").nth(1))
        .and_then(|r| r.split('"').next())
    {
        let forged = String::from_utf8_lossy(data).replace("NONCE", nonce);
        let v = verifier.verify(now, &binding, &[forged.as_str()], &target, &line);
        assert!(
            matches!(v, Verdict::Missing | Verdict::Wrong(_)),
            "forged credentials {forged:?} gave {v:?}"
        );
    }
});
