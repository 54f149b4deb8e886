//! The provisioning parsers fed by the profile and the network (SPEC §1, §2, §12; issue 4):
//! whatever the bytes, none panics.
//!
//! The data is cut at `0xFF` bytes (never part of UTF-8) into fields, each read as text:
//!
//! - field 0 as a rule (`Rule::parse`, `rule::check`, `Condition::parse`), then evaluated and
//!   expanded in a context whose GPPs, `$ERR` and request come from fields 1-4: an expanded URL
//!   keeps a valid host and a path from `/` without spaces or control characters, whatever the
//!   GPP values hold;
//! - the raw data as DHCPv6 option 17 (`VendorOptions::parse`): what parses emits back the same
//!   bytes; `option17_value`, then DHCP option values (fields 1-4 as options 66, 150, 159, 160,
//!   field 5 as `DHCP_Option_To_Use`) through `candidates`: no duplicate URL, every URL with a
//!   server;
//! - field 6 as `Restricted_Access_Domains`: every entry allows itself, the entries written
//!   back parse to the same list; expanded rule hosts checked against it;
//! - field 7 as `Syslog_Server` (`SyslogTarget::parse`): a target prints and parses back to
//!   itself; fields as the schedule and syslog parameters of a profile
//!   (`ScheduleConfig::from_profile`, `SyslogConfig::from_profile`), the schedule driven a few
//!   steps, and every syslog datagram is one line of at most 1024 bytes.
//!
//! Run: `cd fuzz && RUSTC_BOOTSTRAP=1 cargo fuzz run provision`.
#![no_main]

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use libfuzzer_sys::fuzz_target;
use mppd_config::Profile;
use mppd_config::identity::DeviceIdentity;
use mppd_config::macros::{MacroContext, RequestParts};
use mppd_core::provision::dhcp::{
    self, DEFAULT_OPTION_ORDER, VendorOptions, candidates, item_urls, option17_value,
    parse_option_order,
};
use mppd_core::provision::domains::RestrictedDomains;
use mppd_core::provision::rule::{self, Condition, Rule, Version};
use mppd_core::provision::schedule::{Event, ResyncResult, Schedule, ScheduleConfig, SplitMix64};
use mppd_core::provision::syslog::{self, Header, Identifier, Message, SyslogConfig, SyslogTarget};

/// Field `i` of the data cut at `0xFF`, as text (empty when missing).
fn field(parts: &[String], i: usize) -> &str {
    parts.get(i).map_or("", String::as_str)
}

fuzz_target!(|data: &[u8]| {
    let parts: Vec<String> = data
        .split(|&b| b == 0xFF)
        .map(|p| String::from_utf8_lossy(p).into_owned())
        .collect();
    let id = DeviceIdentity::emulated();

    // DHCPv6 option 17: the container round-trips byte for byte.
    if let Ok(v) = VendorOptions::parse(data) {
        assert_eq!(v.emit(), data, "option 17 parse -> emit changed the bytes");
        if let Some(text) = option17_value(&v) {
            let received = BTreeMap::from([(17u16, text)]);
            let _ = candidates(&received, &[17], &id, "/$PSN.xml");
        }
    }

    // DHCPv4 option values.
    let mut received = BTreeMap::new();
    for (i, code) in [66u16, 150, 159, 160].into_iter().enumerate() {
        received.insert(code, field(&parts, i + 1).to_owned());
        let _ = item_urls(field(&parts, i + 1), &id);
    }
    let order = parse_option_order(field(&parts, 5), DEFAULT_OPTION_ORDER)
        .unwrap_or_else(|_| parse_option_order("", DEFAULT_OPTION_ORDER).unwrap_or_default());
    let _ = dhcp::applies(field(&parts, 0));
    let c = candidates(&received, &order, &id, "/$PSN.xml");
    for (i, a) in c.urls.iter().enumerate() {
        assert!(a.url.host.is_some(), "a DHCP candidate without a server");
        assert!(
            !c.urls[..i].iter().any(|b| b.url == a.url),
            "duplicate DHCP candidate {}",
            a.url
        );
        let _ = a.url.to_string();
        let _ = a.url.effective_port();
    }
    for s in &c.skipped {
        let _ = s.error.to_string();
    }

    // Restricted_Access_Domains.
    let domains = RestrictedDomains::parse(field(&parts, 6));
    let written: Vec<String> = domains.entries().map(str::to_owned).collect();
    for e in &written {
        assert!(domains.allows(e), "entry {e:?} does not allow itself");
    }
    assert_eq!(
        RestrictedDomains::parse(&written.join(",")),
        domains,
        "entries written back parse to another list"
    );
    for i in 0..parts.len().min(8) {
        let _ = domains.check(field(&parts, i));
    }

    // The rule, expanded with GPPs, $ERR and a request from the data.
    let gpp = [
        field(&parts, 1),
        field(&parts, 2),
        field(&parts, 3),
        field(&parts, 4),
        "",
        "",
        "",
        "",
        "",
        "",
        "",
        "",
        "",
        "",
        "",
        "",
    ];
    let ctx = MacroContext {
        gpp,
        gpp_secret: [field(&parts, 4), field(&parts, 3), "", ""],
        error: Some(field(&parts, 2)),
        request: Some(RequestParts {
            scheme: "https",
            host: field(&parts, 3),
            ip: None,
            port: 443,
            path: field(&parts, 4),
        }),
        ..MacroContext::new(&id)
    };
    let text = field(&parts, 0);
    let parsed = Rule::parse(text);
    assert_eq!(parsed.is_ok(), rule::check(text).is_ok());
    match parsed {
        Ok(r) => {
            let _ = r.is_empty();
            for alt in &r.alternatives {
                let _ = alt.expand_assignments(&ctx);
                if let Some(c) = &alt.condition {
                    let _ = c.eval(&ctx);
                }
                if let Ok(requests) = alt.expand(&ctx) {
                    for req in requests {
                        let u = &req.url;
                        assert!(
                            u.path.starts_with('/')
                                && !u.path.chars().any(|c| c == ' ' || c.is_control()),
                            "expanded path {:?}",
                            u.path
                        );
                        if let Some(h) = &u.host {
                            assert!(!h.is_empty() && !h.contains(['/', ' ', '[', ']', '|']));
                            let _ = domains.check(h);
                        }
                        let _ = format!("{u} {:?}", req.options);
                    }
                }
            }
            let _ = r.select(&ctx);
        }
        Err(e) => {
            let _ = e.to_string();
        }
    }
    if let Ok(c) = Condition::parse(text) {
        let _ = c.eval(&ctx);
    }
    let _ = Version::parse(field(&parts, 1));

    // Syslog_Server round trip.
    if let Ok(Some(t)) = SyslogTarget::parse(field(&parts, 7)) {
        let again = SyslogTarget::parse(&t.to_string());
        assert_eq!(again, Ok(Some(t.clone())), "printed {t} parses differently");
    }
    let _ = Identifier::parse(field(&parts, 8));

    // The schedule and syslog parameters of a profile.
    let mut p = Profile::new();
    for (i, name) in [
        "Resync_Periodic",
        "Resync_Error_Retry_Delay",
        "Resync_At__HHmm_",
        "Resync_At_Random_Delay",
        "Resync_Random_Delay",
        "Forced_Resync_Delay",
        "Syslog_Server",
        "Syslog_Identifier",
    ]
    .into_iter()
    .enumerate()
    {
        if let Some(v) = parts.get(i + 1) {
            p.set(name, v, None, 0);
        }
    }
    for (i, m) in Message::ALL.into_iter().enumerate() {
        if let Some(v) = parts.get(i + 3) {
            p.set(m.param(), v, None, 0);
        }
    }
    if let Ok(cfg) = SyslogConfig::from_profile(&p) {
        let header = Header {
            timestamp: field(&parts, 5),
            hostname: field(&parts, 6),
        };
        for m in Message::ALL {
            if let Some(d) = cfg.datagram(m, &ctx, &header) {
                assert!(
                    d.len() <= syslog::MAX_DATAGRAM,
                    "datagram of {} bytes",
                    d.len()
                );
                assert!(
                    !d.contains(&b'\n') && !d.contains(&b'\r'),
                    "a syslog datagram spans lines: {:?}",
                    String::from_utf8_lossy(&d)
                );
            }
        }
    }
    if let Ok(cfg) = ScheduleConfig::from_profile(&p) {
        let _ = cfg.retry_delay(3);
        let _ = cfg.periodic_interval(3);
        let t0 = Instant::now();
        let mut s = Schedule::new(t0, cfg, SplitMix64::new(data.len() as u64));
        s.handle_wall_clock(t0, 3600);
        let mut now = t0;
        for &b in data.iter().take(32) {
            match b % 4 {
                0 => s.handle_manual(now),
                1 => s.handle_lines_busy(now, b & 0x10 != 0),
                _ => {}
            }
            if let Some(at) = s.poll_timeout() {
                now = now.max(at);
                s.handle_timeout(now);
            }
            while let Some(Event::Resync { reason }) = s.poll_event() {
                let _ = reason.prvst();
                now += Duration::from_secs(u64::from(b));
                let result = if b & 0x20 != 0 {
                    ResyncResult::Success
                } else {
                    ResyncResult::Failure
                };
                s.handle_result(now, result);
            }
        }
        let _ = s.next();
    }
});
