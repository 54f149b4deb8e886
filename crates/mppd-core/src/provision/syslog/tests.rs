//! Tests of the parent module (kept apart: STYLE.md, inline tests past ~500 lines).

use super::*;
use mppd_config::macros::RequestParts;

fn profile(pairs: &[(&str, &str)]) -> Profile {
    let mut p = Profile::new();
    for (n, v) in pairs {
        p.set(n, v, None, 0);
    }
    p
}

const REQUEST: RequestParts<'static> = RequestParts {
    scheme: "https",
    host: "prov.example.net",
    ip: Some("192.0.2.10"),
    port: 443,
    path: "/cfg/020000000001.xml",
};

const HEADER: Header<'static> = Header {
    timestamp: "Jan  2 03:04:05",
    hostname: "192.0.2.55",
};

#[test]
fn default_failure_message_is_exact() {
    let id = DeviceIdentity::emulated();
    let ctx = MacroContext {
        error: Some("host name mismatch: ..."),
        ..MacroContext::new(&id)
    };
    let cfg = SyslogConfig::from_profile(&Profile::new()).unwrap();
    assert_eq!(
        cfg.text(Message::ResyncFailure, &ctx).unwrap(),
        "CP-8851-3PCC 02:00:00:00:00:01 -- Resync failed: host name mismatch: ..."
    );
    assert_eq!(
        cfg.datagram(Message::ResyncFailure, &ctx, &HEADER).unwrap(),
        b"<131>Jan  2 03:04:05 192.0.2.55 mppd: \
          CP-8851-3PCC 02:00:00:00:00:01 -- Resync failed: host name mismatch: ..."
    );
}

#[test]
fn request_and_success_messages_expand_the_request() {
    let id = DeviceIdentity::emulated();
    let ctx = MacroContext {
        request: Some(REQUEST),
        ..MacroContext::new(&id)
    };
    let cfg = SyslogConfig::default();
    assert_eq!(
        cfg.datagram(Message::ResyncRequest, &ctx, &HEADER).unwrap(),
        b"<134>Jan  2 03:04:05 192.0.2.55 mppd: CP-8851-3PCC 02:00:00:00:00:01 -- \
          Requesting resync https://192.0.2.10:443/cfg/020000000001.xml"
    );
    assert_eq!(
        cfg.text(Message::ResyncSuccess, &ctx).unwrap(),
        "CP-8851-3PCC 02:00:00:00:00:01 -- Successful resync \
         https://192.0.2.10:443/cfg/020000000001.xml"
    );
    let upgrade = RequestParts {
        scheme: "http",
        host: "fw.example.net",
        ip: None,
        port: 8080,
        path: "/sip88xx.12-0-1.loads",
    };
    let ctx = MacroContext {
        request: Some(upgrade),
        error: Some("image stored"),
        ..MacroContext::new(&id)
    };
    assert_eq!(
        cfg.text(Message::UpgradeRequest, &ctx).unwrap(),
        "CP-8851-3PCC 02:00:00:00:00:01 -- Requesting upgrade \
         http://fw.example.net:8080/sip88xx.12-0-1.loads"
    );
    assert_eq!(
        cfg.datagram(Message::UpgradeSuccess, &ctx, &HEADER)
            .unwrap(),
        b"<134>Jan  2 03:04:05 192.0.2.55 mppd: CP-8851-3PCC 02:00:00:00:00:01 -- \
          Successful upgrade http://fw.example.net:8080/sip88xx.12-0-1.loads -- image stored"
    );
    let ctx = MacroContext {
        error: Some("SHA-256 mismatch"),
        ..MacroContext::new(&id)
    };
    assert_eq!(
        cfg.datagram(Message::UpgradeFailure, &ctx, &HEADER)
            .unwrap(),
        b"<131>Jan  2 03:04:05 192.0.2.55 mppd: \
          CP-8851-3PCC 02:00:00:00:00:01 -- Upgrade failed: SHA-256 mismatch"
    );
}

#[test]
fn defaults_match_the_registry() {
    for m in Message::ALL {
        let def = registry::lookup(m.param()).unwrap().def;
        assert_eq!(def.default_for(None), m.default_template(), "{}", m.param());
    }
    assert_eq!(
        SyslogConfig::from_profile(&Profile::defaults(1)).unwrap(),
        SyslogConfig::default()
    );
}

#[test]
fn empty_template_sends_nothing() {
    let id = DeviceIdentity::emulated();
    let ctx = MacroContext::new(&id);
    let p = profile(&[
        ("Log_Failure_Msg", ""),
        ("Log_Upgrade_Request_Msg", ""),
        ("Log_Request_Msg", "resync of $MA"),
    ]);
    let cfg = SyslogConfig::from_profile(&p).unwrap();
    assert_eq!(cfg.datagram(Message::ResyncFailure, &ctx, &HEADER), None);
    assert_eq!(cfg.text(Message::UpgradeRequest, &ctx), None);
    assert_eq!(
        cfg.text(Message::ResyncRequest, &ctx).unwrap(),
        "resync of 020000000001"
    );
    // The others keep their defaults.
    assert_eq!(
        cfg.template(Message::UpgradeFailure),
        Message::UpgradeFailure.default_template()
    );
    let cfg = SyslogConfig::default().with_template(Message::ResyncSuccess, "");
    assert_eq!(cfg.text(Message::ResyncSuccess, &ctx), None);
}

#[test]
fn secrets_never_appear() {
    let id = DeviceIdentity::emulated();
    let mut gpp_secret = [""; 4];
    gpp_secret[0] = "s3cret-key";
    let ctx = MacroContext {
        gpp_secret,
        request: Some(REQUEST),
        error: Some("fetch of [--uid admin --pwd hunter2] https://u:pw123@h.example/x failed"),
        ..MacroContext::new(&id)
    };
    let cfg = SyslogConfig::default()
        .with_template(Message::ResyncFailure, "$SA $(SA) $ERR")
        .with_template(Message::ResyncRequest, "$SCHEME://$SERV:$PORT$PATH");
    let text = cfg.text(Message::ResyncFailure, &ctx).unwrap();
    assert_eq!(
        text,
        "$SA $(SA) fetch of [--uid admin --pwd *****] https://u:*****@h.example/x failed"
    );
    for secret in ["s3cret-key", "hunter2", "pw123"] {
        assert!(!text.contains(secret), "{text}");
    }
    // The request parts carry no credentials at all.
    assert_eq!(
        cfg.text(Message::ResyncRequest, &ctx).unwrap(),
        "https://prov.example.net:443/cfg/020000000001.xml"
    );
}

#[test]
fn control_characters_cannot_forge_lines() {
    let id = DeviceIdentity::emulated();
    let ctx = MacroContext {
        error: Some("bad\r\n<131>Jan  1 00:00:00 evil mppd: forged\t!"),
        ..MacroContext::new(&id)
    };
    let cfg = SyslogConfig::default().with_template(Message::ResyncFailure, "$ERR");
    let bytes = cfg.datagram(Message::ResyncFailure, &ctx, &HEADER).unwrap();
    assert!(!bytes.contains(&b'\n') && !bytes.contains(&b'\r'));
    assert_eq!(
        std::str::from_utf8(&bytes).unwrap(),
        "<131>Jan  2 03:04:05 192.0.2.55 mppd: bad  <131>Jan  1 00:00:00 evil mppd: forged !"
    );
    // A host name with spaces stays one word.
    let header = Header {
        timestamp: "Jan  2 03:04:05",
        hostname: "my phone\n",
    };
    let bytes = cfg.datagram(Message::ResyncFailure, &ctx, &header).unwrap();
    assert!(bytes.starts_with(b"<131>Jan  2 03:04:05 my-phone- mppd: "));
    let header = Header {
        timestamp: "",
        hostname: "",
    };
    let bytes = cfg.datagram(Message::ResyncFailure, &ctx, &header).unwrap();
    assert!(bytes.starts_with(b"<131>- - mppd: "));
}

#[test]
fn long_messages_are_cut_at_1024_bytes() {
    let id = DeviceIdentity::emulated();
    let long = "é".repeat(2000);
    let ctx = MacroContext {
        error: Some(&long),
        ..MacroContext::new(&id)
    };
    let bytes = SyslogConfig::default()
        .datagram(Message::ResyncFailure, &ctx, &HEADER)
        .unwrap();
    assert!(bytes.len() <= MAX_DATAGRAM && bytes.len() >= MAX_DATAGRAM - 1);
    assert!(std::str::from_utf8(&bytes).is_ok());
}

#[test]
fn identifier_names_the_host() {
    let id = DeviceIdentity::emulated();
    let ctx = MacroContext {
        error: Some("x"),
        ..MacroContext::new(&id)
    };
    for (value, host) in [
        ("None", "192.0.2.55"),
        ("$MA", "020000000001"),
        ("$MAU", "020000000001"),
        ("$MAC", "02:00:00:00:00:01"),
        ("$SN", "MPPD0000001"),
        ("$mac", "02:00:00:00:00:01"),
    ] {
        let cfg = SyslogConfig::from_profile(&profile(&[("Syslog_Identifier", value)])).unwrap();
        let bytes = cfg.datagram(Message::ResyncFailure, &ctx, &HEADER).unwrap();
        let want = format!(
            "<131>Jan  2 03:04:05 {host} mppd: CP-8851-3PCC 02:00:00:00:00:01 -- Resync \
             failed: x"
        );
        assert_eq!(std::str::from_utf8(&bytes).unwrap(), want, "{value}");
    }
    let mac = DeviceIdentity {
        mac: Some(mppd_config::identity::Mac::new([
            0, 0x0e, 8, 0xaa, 0xbb, 0xcc,
        ])),
        ..DeviceIdentity::default()
    };
    assert_eq!(Identifier::Mau.value(&mac).unwrap(), "000E08AABBCC");
    assert_eq!(Identifier::Ma.value(&mac).unwrap(), "000e08aabbcc");
    // Unknown serial: the shell's host name.
    assert_eq!(Identifier::Sn.value(&mac), None);
    assert_eq!(
        SyslogConfig::from_profile(&profile(&[("Syslog_Identifier", "$IP")])),
        Err(SyslogError::BadIdentifier {
            value: "$IP".into()
        })
    );
}

#[test]
fn server_parses_host_and_port() {
    let t = |v: &str| SyslogTarget::parse(v).unwrap();
    let target = |host: &str, port| {
        Some(SyslogTarget {
            host: host.into(),
            port,
        })
    };
    assert_eq!(t(""), None);
    assert_eq!(t("  "), None);
    assert_eq!(t("log.example.net"), target("log.example.net", 514));
    assert_eq!(t("log.example.net:5514"), target("log.example.net", 5514));
    assert_eq!(t("192.0.2.1"), target("192.0.2.1", 514));
    assert_eq!(t("192.0.2.1:1"), target("192.0.2.1", 1));
    assert_eq!(t("2001:db8::1"), target("2001:db8::1", 514));
    assert_eq!(t("[2001:db8::1]"), target("2001:db8::1", 514));
    assert_eq!(t("[2001:db8::1]:6514"), target("2001:db8::1", 6514));
    assert_eq!(
        t("[2001:db8::1]:6514").unwrap().to_string(),
        "[2001:db8::1]:6514"
    );
    assert_eq!(t("log:1").unwrap().to_string(), "log:1");
    let cfg = SyslogConfig::from_profile(&profile(&[("Syslog_Server", "log:600")])).unwrap();
    assert_eq!(cfg.server, target("log", 600));

    let bad = |v: &str, problem| {
        assert_eq!(
            SyslogTarget::parse(v),
            Err(SyslogError::BadServer {
                value: v.into(),
                problem
            }),
            "{v}"
        );
    };
    bad("log:0", ServerProblem::BadPort);
    bad("log:65536", ServerProblem::BadPort);
    bad("log:", ServerProblem::BadPort);
    bad("log:+5", ServerProblem::BadPort);
    bad("log:x", ServerProblem::BadPort);
    bad(":514", ServerProblem::BadHost);
    bad("bad host:514", ServerProblem::BadHost);
    bad("udp://log", ServerProblem::BadPort);
    bad("-log-", ServerProblem::BadHost);
    bad("[2001:db8::1", ServerProblem::BadBrackets);
    bad("[2001:db8::1]x", ServerProblem::BadBrackets);
    bad("[log]:1", ServerProblem::BadHost);
    bad("1:2:x", ServerProblem::BadHost);
    assert_eq!(
        SyslogTarget::parse("log:0").unwrap_err().to_string(),
        "Syslog_Server: invalid value \"log:0\": allowed: host[:port] (the port is not 1-65535)"
    );
}

/// A small deterministic fuzz: no server value panics.
#[test]
fn server_parse_never_panics() {
    let pieces = ["[", "]", ":", "1", "65536", "log", ".", "é", " ", "::", "0"];
    let mut state: u64 = 1;
    let mut next = || {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        usize::try_from(state >> 33).unwrap()
    };
    for _ in 0..10_000 {
        let len = next() % 8;
        let v: String = (0..len).map(|_| pieces[next() % pieces.len()]).collect();
        let _ = SyslogTarget::parse(&v);
    }
}

#[test]
fn timestamps() {
    assert_eq!(rfc3164_timestamp(1, 2, 3, 4, 5).unwrap(), "Jan  2 03:04:05");
    assert_eq!(
        rfc3164_timestamp(12, 31, 23, 59, 60).unwrap(),
        "Dec 31 23:59:60"
    );
    for (mo, d, h, mi, s) in [
        (0, 1, 0, 0, 0),
        (13, 1, 0, 0, 0),
        (1, 0, 0, 0, 0),
        (1, 32, 0, 0, 0),
        (1, 1, 24, 0, 0),
        (1, 1, 0, 60, 0),
        (1, 1, 0, 0, 61),
    ] {
        assert_eq!(rfc3164_timestamp(mo, d, h, mi, s), None);
    }
}
