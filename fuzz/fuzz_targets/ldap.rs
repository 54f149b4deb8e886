//! The directory parsers (SPEC §9; issue 9): whatever the bytes, none panics.
//!
//! - the raw data as a SASL DIGEST-MD5 challenge (`digest_md5::Challenge::parse`), answered
//!   (`respond`) and its `rspauth` checked against the data;
//!
//! then, the data cut at `0xFF` bytes (never part of UTF-8) into text fields:
//!
//! - field 0 as an RFC 4515 filter (`filter::parse`): a filter prints and parses back to
//!   itself; field 1 escaped (`escape_value`) into `(cn=...)` parses to that very value;
//! - field 0 as a filter template (`FilterTemplate::parse`): a template that parses builds a
//!   valid filter for any input (field 1), as its documentation promises (unless too long),
//!   and `render` parses to what `build` gives;
//! - field 2 as `LDAP_Display_Attrs`, field 3 as `LDAP_Number_Mapping` applied to field 4,
//!   an entry from fields 5-8 mapped to a row (`to_row`);
//! - field 9 as `LDAP_Server` (`ServerUrl::parse`): a server URL prints and parses back to
//!   itself; all of them in a profile (`DirectoryConfig::from_profile`), then `name_filter`
//!   and `bind_plan`.
//!
//! Run: `cd fuzz && RUSTC_BOOTSTRAP=1 cargo fuzz run ldap`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mppd_config::Profile;
use mppd_core::ldap::digest_md5::{self, Credentials};
use mppd_core::ldap::display::{parse_display_attrs, requested_attributes, to_row};
use mppd_core::ldap::filter::{self, MAX_FILTER_LEN, escape_value};
use mppd_core::ldap::{
    DirectoryConfig, Filter, FilterError, FilterTemplate, NumberMapping, ServerUrl, Transport,
    bind_plan, result_code_name,
};

fn field(parts: &[String], i: usize) -> &str {
    parts.get(i).map_or("", String::as_str)
}

fuzz_target!(|data: &[u8]| {
    // DIGEST-MD5.
    if let Ok(c) = digest_md5::Challenge::parse(data) {
        let creds = Credentials {
            username: "user",
            password: "pässword",
            digest_uri: "ldap/dir.example.com",
        };
        if let Ok(r) = digest_md5::respond(&c, &creds, "OA6MHXh6VqTrRk") {
            let _ = r.verify_rspauth(data);
            let _ = r.verify_rspauth(r.text.as_bytes());
        }
    }
    let _ = result_code_name(u32::from(*data.first().unwrap_or(&0)));

    let parts: Vec<String> = data
        .split(|&b| b == 0xFF)
        .map(|p| String::from_utf8_lossy(p).into_owned())
        .collect();
    let (text, input) = (field(&parts, 0), field(&parts, 1));

    // RFC 4515 filters.
    match filter::parse(text) {
        Ok(f) => {
            let printed = f.to_string();
            if printed.len() <= MAX_FILTER_LEN {
                let again = filter::parse(&printed)
                    .unwrap_or_else(|e| panic!("printed filter {printed:?} does not parse: {e}"));
                assert_eq!(again, f, "parse -> print -> parse changed {printed:?}");
            }
        }
        Err(e) => {
            let _ = e.to_string();
        }
    }
    let eq = format!("(cn={})", escape_value(input));
    if eq.len() <= MAX_FILTER_LEN {
        assert_eq!(
            filter::parse(&eq),
            Ok(Filter::Equality("cn".to_owned(), input.to_owned())),
            "escaped input {input:?} does not parse back to itself"
        );
    }

    // Filter templates: valid for any input once parsed.
    if let Ok(t) = FilterTemplate::parse(text) {
        let built = t.build(input);
        match &built {
            Ok(_) | Err(FilterError::TooLong(_)) => {}
            Err(e) => panic!("template {text:?} accepted, but input {input:?} gives {e}"),
        }
        assert_eq!(filter::parse(&t.render(input)), built);
    }

    // What an entry shows.
    if let Ok(display) = parse_display_attrs(field(&parts, 2)) {
        let _ = requested_attributes(&display);
        let mapping = NumberMapping::parse(field(&parts, 3)).unwrap_or_default();
        let _ = mapping.is_empty();
        let number: String = field(&parts, 4).chars().take(64).collect();
        let _ = mapping.apply(&number);
        let attrs: Vec<(String, Vec<String>)> = parts
            .get(5..9)
            .unwrap_or_default()
            .chunks(2)
            .map(|kv| {
                let v: String = kv
                    .get(1)
                    .map_or("", String::as_str)
                    .chars()
                    .take(64)
                    .collect();
                (kv[0].clone(), vec![v])
            })
            .collect();
        let row = to_row(field(&parts, 9), &attrs, &display, &mapping);
        let _ = format!("{row:?}");
    }

    // LDAP_Server.
    if let Ok(u) = ServerUrl::parse(field(&parts, 9)) {
        let printed = u.to_string();
        assert_eq!(
            ServerUrl::parse(&printed),
            Ok(u),
            "server URL {printed:?} parses differently"
        );
    }

    // The whole configuration.
    let mut p = Profile::new();
    p.set("LDAP_Dir_Enable", "Yes", None, 0);
    for (i, name) in [
        (9, "LDAP_Server"),
        (0, "LDAP_Last_Name_Filter"),
        (1, "LDAP_First_Name_Filter"),
        (2, "LDAP_Display_Attrs"),
        (3, "LDAP_Number_Mapping"),
        (4, "LDAP_Auth_Method"),
        (5, "LDAP_Client_DN"),
        (6, "LDAP_Username"),
        (7, "LDAP_Password"),
        (8, "LDAP_Item_3_Filter"),
    ] {
        p.set(name, field(&parts, i), None, 0);
    }
    match DirectoryConfig::from_profile(&p) {
        Ok(cfg) => {
            let _ = cfg.name_filter(input);
            let _ = cfg.wants_tls();
            for t in [Transport::Tls, Transport::Plain, Transport::StartTlsRefused] {
                if let Err(e) = bind_plan(&cfg, t) {
                    let _ = e.to_string();
                }
            }
        }
        Err(e) => {
            let _ = e.to_string();
        }
    }
});
