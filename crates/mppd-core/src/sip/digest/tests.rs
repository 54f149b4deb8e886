#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use super::parse::parse_digest_params;
use super::verifier::check_response;
use super::*;
use crate::sip::SplitMix64;

// RFC 7616 §3.9.1 ("Mufasa").
const RFC_REALM: &str = "http-auth@example.org";
const RFC_NONCE: &str = "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v";
const RFC_CNONCE: &str = "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ";
const RFC_OPAQUE: &str = "FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS";
const RFC_TARGET: RequestTarget<'static> = RequestTarget {
    method: "GET",
    uri: "/dir/index.html",
    body: b"",
};

fn mufasa() -> Credentials {
    Credentials {
        username: "Mufasa".into(),
        password: "Circle of Life".into(),
    }
}

fn alice() -> Credentials {
    Credentials {
        username: "alice".into(),
        password: "secret".into(),
    }
}

fn rfc_input(algorithm: Algorithm) -> ResponseInput<'static> {
    ResponseInput {
        algorithm,
        username: "Mufasa",
        realm: RFC_REALM,
        password: "Circle of Life",
        nonce: RFC_NONCE,
        qop: Some((Qop::Auth, 1, RFC_CNONCE)),
        target: RFC_TARGET,
    }
}

/// The RFC's Authorization header for `alg`/`response`, folded over lines as printed there.
fn rfc_authorization(alg: &str, response: &str) -> String {
    format!(
        "Digest username=\"Mufasa\",\r\n       realm=\"{RFC_REALM}\",\r\n       \
         uri=\"/dir/index.html\",\r\n       algorithm={alg},\r\n       nonce=\"{RFC_NONCE}\",\r\n       \
         nc=00000001,\r\n       cnonce=\"{RFC_CNONCE}\",\r\n       qop=auth,\r\n       \
         response=\"{response}\",\r\n       opaque=\"{RFC_OPAQUE}\""
    )
}

const RFC_MD5: &str = "8ca523f5e9506fed4657c9700eebdbec";
const RFC_SHA256: &str = "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1";
// Not in RFC 7616 (it has no SHA-512-256 example): the same inputs hashed independently with
//   python3 -c "import hashlib; H=lambda s: hashlib.new('sha512_256', s.encode()).hexdigest();
//     n='7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v';
//     c='f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ';
//     print(H(H('Mufasa:http-auth@example.org:Circle of Life')+':'+n+':00000001:'+c+':auth:'
//       +H('GET:/dir/index.html')))"
const RFC_SHA512_256: &str = "430d05014cecc49cab6fbe03176d41a1da86cbfe24a16580e22aaad928d960d0";

/// A source that always returns the same word: cnonce `0123456789abcdef0123456789abcdef`.
fn fixed_rng() -> impl FnMut() -> u64 {
    || 0x0123_4567_89ab_cdef
}

fn www(value: &str) -> ChallengeHeader<'_> {
    ChallengeHeader {
        kind: ChallengeKind::Www,
        value,
    }
}

fn yes() -> DigestPolicy {
    DigestPolicy {
        rfc8760: true,
        fips: false,
    }
}

fn no() -> DigestPolicy {
    DigestPolicy::default()
}

// ---- vectors ----

#[test]
fn rfc7616_vectors_client_computation() {
    assert_eq!(compute_response(&rfc_input(Algorithm::MD5)), RFC_MD5);
    assert_eq!(compute_response(&rfc_input(Algorithm::SHA256)), RFC_SHA256);
    assert_eq!(
        compute_response(&rfc_input(Algorithm::SHA512_256)),
        RFC_SHA512_256
    );
}

#[test]
fn sess_vectors() {
    // python3: HA1 = H(H(user:realm:pass):nonce:cnonce), rest as above.
    let sess = |hash| Algorithm { hash, sess: true };
    assert_eq!(
        compute_response(&rfc_input(sess(Hash::Md5))),
        "e783283f46242139c486a698fec7211d"
    );
    assert_eq!(
        compute_response(&rfc_input(sess(Hash::Sha256))),
        "2fd51b3a77ad75bad6afad6003e818d767133c46d9e2749e7f5232ae1ea3efd7"
    );
    assert_eq!(
        compute_response(&rfc_input(sess(Hash::Sha512_256))),
        "3f2a34f923c38b0fb26dce2fdfc2ce326c23cecf86fbb1444f3e51fbbc2cb92e"
    );
}

#[test]
fn rfc2069_form_without_qop() {
    // python3: md5(md5('alice:example.com:secret'):abc:md5('REGISTER:sip:example.com'))
    let i = ResponseInput {
        algorithm: Algorithm::MD5,
        username: "alice",
        realm: "example.com",
        password: "secret",
        nonce: "abc",
        qop: None,
        target: RequestTarget {
            method: "REGISTER",
            uri: "sip:example.com",
            body: b"",
        },
    };
    assert_eq!(compute_response(&i), "dbe98f00688a08a2dbda0b12e8c71319");
}

#[test]
fn rfc7616_vectors_verifier_acceptance() {
    for (alg, resp, offered) in [
        ("MD5", RFC_MD5, Algorithm::MD5),
        ("SHA-256", RFC_SHA256, Algorithm::SHA256),
        ("SHA-512-256", RFC_SHA512_256, Algorithm::SHA512_256),
    ] {
        let p = parse_digest_params(&rfc_authorization(alg, resp)).unwrap();
        assert_eq!(
            check_response(RFC_REALM, &[offered], &p, &RFC_TARGET, &mufasa()),
            Ok((RFC_NONCE, offered)),
            "{alg}"
        );
        // The same answer with a wrong password, another algorithm offered, another URI.
        let wrong = Credentials {
            password: "circle of life".into(),
            ..mufasa()
        };
        assert_eq!(
            check_response(RFC_REALM, &[offered], &p, &RFC_TARGET, &wrong),
            Err(WrongReason::ResponseMismatch)
        );
        let other = if offered == Algorithm::MD5 {
            Algorithm::SHA256
        } else {
            Algorithm::MD5
        };
        assert_eq!(
            check_response(RFC_REALM, &[other], &p, &RFC_TARGET, &mufasa()),
            Err(WrongReason::AlgorithmNotOffered(alg.into()))
        );
        let moved = RequestTarget {
            uri: "/dir/other.html",
            ..RFC_TARGET
        };
        assert_eq!(
            check_response(RFC_REALM, &[offered], &p, &moved, &mufasa()),
            Err(WrongReason::UriMismatch)
        );
    }
}

#[test]
fn client_answers_the_rfc_challenge_and_prints_the_rfc_order() {
    // RFC 7616 §3.9.1 challenge (MD5 and SHA-256 headers, SHA-256 first).
    let sha = format!(
        "Digest realm=\"{RFC_REALM}\", qop=\"auth, auth-int\", algorithm=SHA-256, \
         nonce=\"{RFC_NONCE}\", opaque=\"{RFC_OPAQUE}\""
    );
    let md5 = sha.replace("SHA-256", "MD5");
    let mut c = DigestClient::new(mufasa(), yes(), 2);
    let mut s = AuthSession::default();
    let out = c
        .respond(
            &mut s,
            &[www(&sha), www(&md5)],
            &RFC_TARGET,
            &mut fixed_rng(),
        )
        .unwrap();
    assert_eq!(out.len(), 1);
    let h = &out[0];
    assert_eq!(h.name(), "Authorization");
    assert_eq!(h.algorithm, Algorithm::SHA256);
    let cnonce = "0123456789abcdef0123456789abcdef";
    let expected = compute_response(&ResponseInput {
        qop: Some((Qop::Auth, 1, cnonce)),
        ..rfc_input(Algorithm::SHA256)
    });
    assert_eq!(
        h.value,
        format!(
            "Digest username=\"Mufasa\", realm=\"{RFC_REALM}\", uri=\"/dir/index.html\", \
             algorithm=SHA-256, nonce=\"{RFC_NONCE}\", nc=00000001, cnonce=\"{cnonce}\", \
             qop=auth, response=\"{expected}\", opaque=\"{RFC_OPAQUE}\""
        )
    );
    // The verifier side accepts what the client printed.
    let p = parse_digest_params(&h.value).unwrap();
    assert_eq!(
        check_response(RFC_REALM, &[Algorithm::SHA256], &p, &RFC_TARGET, &mufasa()),
        Ok((RFC_NONCE, Algorithm::SHA256))
    );
}

#[test]
fn sha512_256_register_vector_end_to_end() {
    // python3: H=sha512_256; H(H('alice:example.com:secret')+':abc123:00000001:'
    //   +'0123456789abcdef0123456789abcdef:auth:'+H('REGISTER:sip:example.com'))
    // and nc 00000002 for the pre-emptive refresh.
    let target = RequestTarget {
        method: "REGISTER",
        uri: "sip:example.com",
        body: b"",
    };
    let ch = "Digest realm=\"example.com\", nonce=\"abc123\", algorithm=SHA-512-256, qop=\"auth\"";
    let mut c = DigestClient::new(alice(), yes(), 2);
    let mut s = AuthSession::default();
    let out = c
        .respond(&mut s, &[www(ch)], &target, &mut fixed_rng())
        .unwrap();
    assert!(
        out[0].value.contains(
            "response=\"05fc030b04cb0918ac0f3688bbdd00ca50c19449cfcfa0bac4b850d5dd5103a3\""
        )
    );
    assert!(out[0].value.contains("algorithm=SHA-512-256"));
    let again = c.authorize(&target, &mut fixed_rng());
    assert_eq!(again.len(), 1);
    assert!(again[0].value.contains("nc=00000002"));
    assert!(
        again[0].value.contains(
            "response=\"bb0152a9ea60041658f7d88f37695c1f52bf8de3cc19b57d91ba3c7d1178c590\""
        )
    );
}

// ---- RFC 8760 selection ----

fn three(order: &[&str]) -> Vec<String> {
    order
        .iter()
        .map(|a| {
            format!("Digest realm=\"sip.example\", nonce=\"n-{a}\", algorithm={a}, qop=\"auth\"")
        })
        .collect()
}

fn chosen(policy: DigestPolicy, order: &[&str]) -> Result<Algorithm, AuthError> {
    let values = three(order);
    let headers: Vec<_> = values.iter().map(|v| www(v)).collect();
    let mut c = DigestClient::new(alice(), policy, 2);
    let target = RequestTarget {
        method: "REGISTER",
        uri: "sip:sip.example",
        body: b"",
    };
    let out = c.respond(
        &mut AuthSession::default(),
        &headers,
        &target,
        &mut SplitMix64::new(1),
    )?;
    assert_eq!(out.len(), 1);
    Ok(out[0].algorithm)
}

#[test]
fn rfc8760_yes_takes_the_top_most_supported_header() {
    let fips = DigestPolicy {
        rfc8760: true,
        fips: true,
    };
    assert_eq!(
        chosen(yes(), &["SHA-512-256", "SHA-256", "MD5"]),
        Ok(Algorithm::SHA512_256)
    );
    assert_eq!(
        chosen(yes(), &["SHA-256", "MD5", "SHA-512-256"]),
        Ok(Algorithm::SHA256)
    );
    assert_eq!(
        chosen(yes(), &["MD5", "SHA-256", "SHA-512-256"]),
        Ok(Algorithm::MD5)
    );
    // Unknown algorithms are skipped, not fatal.
    assert_eq!(
        chosen(yes(), &["SHA-512", "AKAv1-MD5", "SHA-256"]),
        Ok(Algorithm::SHA256)
    );
    assert_eq!(
        chosen(yes(), &["SHA-512-256-sess", "MD5"]),
        Ok(Algorithm {
            hash: Hash::Sha512_256,
            sess: true
        })
    );
    // FIPS: MD5 is skipped even when it is top-most.
    assert_eq!(
        chosen(fips, &["MD5", "SHA-256", "SHA-512-256"]),
        Ok(Algorithm::SHA256)
    );
}

#[test]
fn rfc8760_no_answers_md5_only() {
    assert_eq!(
        chosen(no(), &["SHA-512-256", "SHA-256", "MD5"]),
        Ok(Algorithm::MD5)
    );
    assert_eq!(
        chosen(no(), &["MD5", "SHA-256", "SHA-512-256"]),
        Ok(Algorithm::MD5)
    );
    assert_eq!(
        chosen(no(), &["SHA-256", "SHA-512-256"]),
        Err(AuthError::NoUsableChallenge(vec![
            (0, Rejection::NotAllowed(Algorithm::SHA256)),
            (1, Rejection::NotAllowed(Algorithm::SHA512_256)),
        ]))
    );
}

#[test]
fn a_client_restricted_to_one_hash_skips_the_others_and_the_policy_still_applies() {
    let only = |policy, hash, order: &[&str]| {
        let values = three(order);
        let headers: Vec<_> = values.iter().map(|v| www(v)).collect();
        let mut c = DigestClient::new(alice(), policy, 2).only(hash);
        let target = RequestTarget {
            method: "INVITE",
            uri: "sip:1001@sip.example",
            body: b"",
        };
        c.respond(
            &mut AuthSession::default(),
            &headers,
            &target,
            &mut SplitMix64::new(1),
        )
        .map(|out| out[0].algorithm)
    };
    // The callee offers SHA-512-256 first; a SHA-256-only client answers the second header.
    assert_eq!(
        only(yes(), Hash::Sha256, &["SHA-512-256", "SHA-256", "MD5"]),
        Ok(Algorithm::SHA256)
    );
    assert_eq!(
        only(yes(), Hash::Md5, &["SHA-512-256", "SHA-256", "MD5"]),
        Ok(Algorithm::MD5)
    );
    assert_eq!(
        only(yes(), Hash::Sha256, &["SHA-512-256", "MD5"]),
        Err(AuthError::NoUsableChallenge(vec![
            (0, Rejection::NotAsked(Algorithm::SHA512_256)),
            (1, Rejection::NotAsked(Algorithm::MD5)),
        ]))
    );
    // Without RFC 8760 the SHA algorithms stay forbidden, whatever was asked for.
    assert_eq!(
        only(no(), Hash::Sha256, &["SHA-256", "MD5"]),
        Err(AuthError::NoUsableChallenge(vec![
            (0, Rejection::NotAllowed(Algorithm::SHA256)),
            (1, Rejection::NotAsked(Algorithm::MD5)),
        ]))
    );
}

#[test]
fn fips_never_uses_md5() {
    let fips_no = DigestPolicy {
        rfc8760: false,
        fips: true,
    };
    assert_eq!(
        chosen(fips_no, &["MD5"]),
        Err(AuthError::NoUsableChallenge(vec![(
            0,
            Rejection::NotAllowed(Algorithm::MD5)
        )]))
    );
    // Decision: FIPS keeps SIP digest working with the RFC 8760 SHA algorithms.
    assert_eq!(
        chosen(fips_no, &["MD5", "SHA-512-256"]),
        Ok(Algorithm::SHA512_256)
    );
    assert_eq!(
        fips_no.offered(),
        vec![Algorithm::SHA512_256, Algorithm::SHA256]
    );
    assert_eq!(
        yes().offered(),
        vec![Algorithm::SHA512_256, Algorithm::SHA256, Algorithm::MD5]
    );
    assert_eq!(no().offered(), vec![Algorithm::MD5]);
}

#[test]
fn one_answer_per_realm_and_kind() {
    let a = "Digest realm=\"a\", nonce=\"1\", algorithm=SHA-256, qop=\"auth\"";
    let a_md5 = "Digest realm=\"a\", nonce=\"1\", algorithm=MD5, qop=\"auth\"";
    let b = "Digest realm=\"b\", nonce=\"2\", qop=\"auth\"";
    let headers = [
        www(a),
        ChallengeHeader {
            kind: ChallengeKind::Proxy,
            value: b,
        },
        www(a_md5),
    ];
    let mut c = DigestClient::new(alice(), yes(), 2);
    let out = c
        .respond(
            &mut AuthSession::default(),
            &headers,
            &RFC_TARGET,
            &mut SplitMix64::new(2),
        )
        .unwrap();
    let got: Vec<_> = out
        .iter()
        .map(|h| (h.name(), h.realm.as_str(), h.algorithm))
        .collect();
    assert_eq!(
        got,
        vec![
            ("Authorization", "a", Algorithm::SHA256),
            ("Proxy-Authorization", "b", Algorithm::MD5),
        ]
    );
}

#[test]
fn qop_choice() {
    let mut c = DigestClient::new(alice(), no(), 5);
    let mut s = AuthSession::default();
    let t = RequestTarget {
        method: "INVITE",
        uri: "sip:bob@example.com",
        body: b"v=0\r\n",
    };
    let int_only = "Digest realm=\"r\", nonce=\"1\", qop=\"auth-int\"";
    let out = c
        .respond(&mut s, &[www(int_only)], &t, &mut fixed_rng())
        .unwrap();
    assert!(out[0].value.contains("qop=auth-int"));
    let none = "Digest realm=\"r\", nonce=\"2\"";
    let out = c
        .respond(&mut s, &[www(none)], &t, &mut fixed_rng())
        .unwrap();
    assert!(!out[0].value.contains("qop") && !out[0].value.contains("cnonce"));
    let unknown = "Digest realm=\"r\", nonce=\"3\", qop=\"auth-conf\"";
    assert_eq!(
        c.respond(&mut s, &[www(unknown)], &t, &mut fixed_rng()),
        Err(AuthError::NoUsableChallenge(vec![(
            0,
            Rejection::UnsupportedQop
        )]))
    );
    let sess = "Digest realm=\"r\", nonce=\"4\", algorithm=MD5-sess";
    assert_eq!(
        c.respond(&mut s, &[www(sess)], &t, &mut fixed_rng()),
        Err(AuthError::NoUsableChallenge(vec![(
            0,
            Rejection::SessWithoutQop
        )]))
    );
}

// ---- stale and the retry bound ----

fn challenge(nonce: &str, stale: bool) -> String {
    format!("Digest realm=\"r\", nonce=\"{nonce}\", qop=\"auth\", stale={stale}")
}

#[test]
fn stale_rechallenge_is_answered_with_the_new_nonce() {
    let mut c = DigestClient::new(alice(), no(), 3);
    let mut s = AuthSession::default();
    let first = challenge("A", false);
    let out = c
        .respond(&mut s, &[www(&first)], &RFC_TARGET, &mut fixed_rng())
        .unwrap();
    assert!(out[0].value.contains("nonce=\"A\""));
    let stale = challenge("B", true);
    let out = c
        .respond(&mut s, &[www(&stale)], &RFC_TARGET, &mut fixed_rng())
        .unwrap();
    assert!(out[0].value.contains("nonce=\"B\"") && out[0].value.contains("nc=00000001"));
    // A re-challenge with the nonce just answered: refused, even if it says stale.
    for again in [
        challenge("B", false),
        challenge("B", true),
        challenge("A", false),
    ] {
        assert_eq!(
            c.respond(&mut s, &[www(&again)], &RFC_TARGET, &mut fixed_rng()),
            Err(AuthError::Refused { realm: "r".into() })
        );
    }
    assert_eq!(s.challenges(), 2);
}

#[test]
fn max_auth_bounds_the_retries() {
    let mut c = DigestClient::new(alice(), no(), 2);
    let mut s = AuthSession::default();
    for n in ["1", "2"] {
        let v = challenge(n, false);
        assert!(
            c.respond(&mut s, &[www(&v)], &RFC_TARGET, &mut fixed_rng())
                .is_ok()
        );
    }
    let v = challenge("3", true);
    assert_eq!(
        c.respond(&mut s, &[www(&v)], &RFC_TARGET, &mut fixed_rng()),
        Err(AuthError::TooManyChallenges { max_auth: 2 })
    );
    // A new request starts a new session; Max_Auth 0 answers nothing.
    assert!(
        c.respond(
            &mut AuthSession::default(),
            &[www(&v)],
            &RFC_TARGET,
            &mut fixed_rng()
        )
        .is_ok()
    );
    let mut zero = DigestClient::new(alice(), no(), 0);
    assert_eq!(
        zero.respond(
            &mut AuthSession::default(),
            &[www(&v)],
            &RFC_TARGET,
            &mut fixed_rng()
        ),
        Err(AuthError::TooManyChallenges { max_auth: 0 })
    );
    assert_eq!(
        zero.respond(
            &mut AuthSession::default(),
            &[],
            &RFC_TARGET,
            &mut fixed_rng()
        ),
        Err(AuthError::NoChallenge)
    );
}

// ---- parsing ----

#[test]
fn challenge_parsing() {
    let c = Challenge::parse(
        "digest REALM=\"a\\\"b\\\\c\" ,, Nonce=abc/+= , qop=\"auth, auth-int, token\", \
         algorithm=sha-256-SESS, stale=TRUE, opaque=\"o\", domain=\"sip:x\", foo=\"bar\"",
    )
    .unwrap();
    assert_eq!(c.realm, "a\"b\\c");
    assert_eq!(c.nonce, "abc/+=");
    assert_eq!(c.qop, vec![Qop::Auth, Qop::AuthInt]);
    assert_eq!(
        c.algorithm,
        AlgorithmName::Known(Algorithm {
            hash: Hash::Sha256,
            sess: true
        })
    );
    assert!(c.stale);
    assert_eq!(c.opaque.as_deref(), Some("o"));
    let d = Challenge::parse("Digest realm=r,nonce=n").unwrap();
    assert_eq!(d.algorithm, AlgorithmName::Known(Algorithm::MD5));
    assert!(!d.stale && !d.qop_present);
    let u = Challenge::parse("Digest realm=r, nonce=n, algorithm=AKAv1-MD5").unwrap();
    assert_eq!(u.algorithm, AlgorithmName::Unknown("AKAv1-MD5".into()));
}

#[test]
fn malformed_challenges_name_the_problem() {
    let cases: &[(&str, ParseError)] = &[
        ("", ParseError::Empty),
        ("   ", ParseError::Empty),
        (
            "Basic realm=\"x\"",
            ParseError::NotDigest {
                scheme: "Basic".into(),
            },
        ),
        (
            "Digest realm=\"abc",
            ParseError::UnterminatedQuote {
                param: "realm".into(),
            },
        ),
        (
            "Digest realm=\"abc\\",
            ParseError::UnterminatedQuote {
                param: "realm".into(),
            },
        ),
        (
            "Digest realm",
            ParseError::MissingValue {
                param: "realm".into(),
            },
        ),
        (
            "Digest realm=",
            ParseError::MissingValue {
                param: "realm".into(),
            },
        ),
        (
            "Digest realm=\"a\", Realm=\"b\", nonce=n",
            ParseError::Duplicate {
                param: "realm".into(),
            },
        ),
        ("Digest nonce=\"x\"", ParseError::Missing { param: "realm" }),
        ("Digest realm=x", ParseError::Missing { param: "nonce" }),
        (
            "Digest realm=r, nonce=n, stale=maybe",
            ParseError::BadValue {
                param: "stale",
                value: "maybe".into(),
            },
        ),
        (
            "Digest realm=\"r\" nonce=n",
            ParseError::UnexpectedChar { at: 17, found: 'n' },
        ),
        (
            "Digest, realm=r",
            ParseError::UnexpectedChar { at: 6, found: ',' },
        ),
        (
            "Digest =r",
            ParseError::UnexpectedChar { at: 7, found: '=' },
        ),
        (
            "Digest realm=r, nonce=n, é=1",
            ParseError::UnexpectedChar {
                at: 25, found: 'é'
            },
        ),
    ];
    for (input, err) in cases {
        assert_eq!(Challenge::parse(input).as_ref(), Err(err), "{input:?}");
        // Every error prints as a sentence naming what was wrong.
        assert!(!err.to_string().is_empty());
    }
    let long = format!("Digest realm=\"{}\"", "x".repeat(MAX_VALUE_LEN));
    assert!(matches!(
        Challenge::parse(&long),
        Err(ParseError::TooLong { .. })
    ));
    let many: String = (0..=MAX_PARAMS).map(|i| format!("p{i}=1,")).collect();
    assert_eq!(
        Challenge::parse(&format!("Digest {many}")),
        Err(ParseError::TooManyParams)
    );
}

#[test]
fn printer_escapes_and_round_trips() {
    let creds = Credentials {
        username: "a\"b\\c".into(),
        password: "p".into(),
    };
    let mut c = DigestClient::new(creds.clone(), no(), 2);
    let ch = "Digest realm=\"r\\\"q\", nonce=\"n\", qop=auth";
    let out = c
        .respond(
            &mut AuthSession::default(),
            &[www(ch)],
            &RFC_TARGET,
            &mut fixed_rng(),
        )
        .unwrap();
    assert!(
        out[0]
            .value
            .starts_with("Digest username=\"a\\\"b\\\\c\", realm=\"r\\\"q\"")
    );
    let p = parse_digest_params(&out[0].value).unwrap();
    assert_eq!(
        check_response("r\"q", &[Algorithm::MD5], &p, &RFC_TARGET, &creds),
        Ok(("n", Algorithm::MD5))
    );
    assert!(format!("{creds:?}").contains("<redacted>"));
    assert!(!format!("{creds:?}").contains("\"p\""));
}

// ---- verifier ----

fn verifier(policy: DigestPolicy, t0: Instant) -> Verifier {
    Verifier::new(
        VerifierConfig::new("phone@mppd", policy),
        t0,
        &mut SplitMix64::new(42),
    )
}

const INVITE: RequestTarget<'static> = RequestTarget {
    method: "INVITE",
    uri: "sip:1001@192.0.2.10:5060",
    body: b"v=0\r\n",
};

fn line() -> Credentials {
    Credentials {
        username: "1001".into(),
        password: "pw".into(),
    }
}

/// The proxy's side: answers the phone's 401 with `creds` under `policy`.
fn answer(challenges: &[String], policy: DigestPolicy, creds: Credentials) -> AuthorizationHeader {
    let headers: Vec<_> = challenges.iter().map(|v| www(v)).collect();
    let mut c = DigestClient::new(creds, policy, 2);
    c.respond(
        &mut AuthSession::default(),
        &headers,
        &INVITE,
        &mut SplitMix64::new(9),
    )
    .unwrap()
    .remove(0)
}

#[test]
fn auth_invite_round_trip_for_every_algorithm() {
    let t0 = Instant::now();
    let v = verifier(yes(), t0);
    let binding = b"call-1@192.0.2.1;from-tag=abc";
    let now = t0 + Duration::from_secs(5);
    let ch = v.challenge(now, binding, false, &mut SplitMix64::new(3));
    assert_eq!(ch.len(), 3);
    assert!(ch[0].contains("algorithm=SHA-512-256") && ch[0].contains("qop=\"auth\""));
    assert!(ch[1].contains("algorithm=SHA-256"));
    assert!(ch[2].contains("algorithm=MD5"));
    assert!(!ch[0].contains("stale"));
    for (client_policy, alg) in [(yes(), Algorithm::SHA512_256), (no(), Algorithm::MD5)] {
        let a = answer(&ch, client_policy, line());
        assert_eq!(a.algorithm, alg);
        let later = now + Duration::from_secs(1);
        match v.verify(later, binding, &[&a.value], &INVITE, &line()) {
            Verdict::Ok(verified) => assert_eq!(verified.algorithm, alg),
            other => panic!("{other:?}"),
        }
        // Bound to the dialog: another Call-ID/tag gets nothing from this nonce.
        assert_eq!(
            v.verify(later, b"call-2", &[&a.value], &INVITE, &line()),
            Verdict::Wrong(WrongReason::ForeignNonce)
        );
        // Expired: stale when right, wrong when wrong.
        let late = now + DEFAULT_NONCE_LIFETIME + Duration::from_millis(1);
        assert_eq!(
            v.verify(late, binding, &[&a.value], &INVITE, &line()),
            Verdict::Stale
        );
        let bad = answer(
            &ch,
            client_policy,
            Credentials {
                password: "PW".into(),
                ..line()
            },
        );
        assert_eq!(
            v.verify(later, binding, &[&bad.value], &INVITE, &line()),
            Verdict::Wrong(WrongReason::ResponseMismatch)
        );
        assert_eq!(
            v.verify(late, binding, &[&bad.value], &INVITE, &line()),
            Verdict::Wrong(WrongReason::ResponseMismatch)
        );
    }
    let stale = v.challenge(now, binding, true, &mut SplitMix64::new(4));
    assert!(stale.iter().all(|c| c.ends_with(", stale=true")));
    // Each challenge has a fresh nonce.
    let ch2 = v.challenge(now, binding, false, &mut SplitMix64::new(5));
    assert_ne!(
        Challenge::parse(&ch[0]).unwrap().nonce,
        Challenge::parse(&ch2[0]).unwrap().nonce
    );
}

#[test]
fn missing_wrong_and_foreign_credentials_never_ring() {
    let t0 = Instant::now();
    let v = verifier(no(), t0);
    let b = b"call";
    assert_eq!(v.verify(t0, b, &[], &INVITE, &line()), Verdict::Missing);
    // Credentials for another realm are not ours.
    let other = "Digest username=\"1001\", realm=\"else\", nonce=\"x\", uri=\"u\", response=\"r\"";
    assert_eq!(
        v.verify(t0, b, &[other], &INVITE, &line()),
        Verdict::Missing
    );
    assert_eq!(
        v.verify(t0, b, &["Digest realm=\"phone@mppd"], &INVITE, &line()),
        Verdict::Wrong(WrongReason::Malformed(ParseError::UnterminatedQuote {
            param: "realm".into()
        }))
    );
    let ch = v.challenge(t0, b, false, &mut SplitMix64::new(1));
    assert_eq!(ch.len(), 1);
    let a = answer(&ch, no(), line());
    let stranger = Credentials {
        username: "1002".into(),
        ..line()
    };
    assert_eq!(
        v.verify(t0, b, &[&a.value], &INVITE, &stranger),
        Verdict::Wrong(WrongReason::UnknownUser("1001".into()))
    );
    // A forged nonce (right format, wrong MAC) and a truncated one.
    let n = Challenge::parse(&ch[0]).unwrap().nonce;
    let mut forged = n.clone().into_bytes();
    forged[40] = if forged[40] == b'0' { b'1' } else { b'0' };
    let forged = a.value.replace(&n, std::str::from_utf8(&forged).unwrap());
    assert_eq!(
        v.verify(t0, b, &[&forged], &INVITE, &line()),
        Verdict::Wrong(WrongReason::ForeignNonce)
    );
    let short = a.value.replace(&n, &n[..10]);
    assert_eq!(
        v.verify(t0, b, &[&short], &INVITE, &line()),
        Verdict::Wrong(WrongReason::ForeignNonce)
    );
    // SHA answer to an MD5-only phone.
    let sha = a.value.replace("algorithm=MD5", "algorithm=SHA-256");
    assert_eq!(
        v.verify(t0, b, &[&sha], &INVITE, &line()),
        Verdict::Wrong(WrongReason::AlgorithmNotOffered("SHA-256".into()))
    );
    // qop removed, nc garbled.
    let noqop = a.value.replace(", qop=auth", "");
    assert_eq!(
        v.verify(t0, b, &[&noqop], &INVITE, &line()),
        Verdict::Wrong(WrongReason::BadQop)
    );
    let badnc = a.value.replace("nc=00000001", "nc=1");
    assert_eq!(
        v.verify(t0, b, &[&badnc], &INVITE, &line()),
        Verdict::Wrong(WrongReason::BadNc("1".into()))
    );
    // Uppercase hex in the response is accepted.
    let start = a.value.find("response=\"").unwrap() + 10;
    let mut upper = a.value.clone();
    upper.replace_range(
        start..start + 32,
        &a.value[start..start + 32].to_ascii_uppercase(),
    );
    assert!(matches!(
        v.verify(t0, b, &[&upper], &INVITE, &line()),
        Verdict::Ok(_)
    ));
}

#[test]
fn fips_verifier_offers_no_md5() {
    let t0 = Instant::now();
    let fips = DigestPolicy {
        rfc8760: true,
        fips: true,
    };
    let v = verifier(fips, t0);
    let ch = v.challenge(t0, b"c", false, &mut SplitMix64::new(1));
    assert_eq!(ch.len(), 2);
    assert!(ch.iter().all(|c| !c.contains("MD5")));
    let md5_ch = ch[0].replace("SHA-512-256", "MD5");
    let a = answer(&[md5_ch], no(), line());
    assert_eq!(
        v.verify(t0, b"c", &[&a.value], &INVITE, &line()),
        Verdict::Wrong(WrongReason::AlgorithmNotOffered("MD5".into()))
    );
}

// ---- robustness ----

#[test]
fn random_input_never_panics() {
    let pieces = [
        "Digest",
        " ",
        ",",
        "=",
        "\"",
        "\\",
        "realm",
        "nonce",
        "qop",
        "auth",
        "algorithm",
        "SHA-256",
        "-sess",
        "stale",
        "true",
        "\r\n",
        "é",
        "\t",
        "username",
        "response",
        "nc",
        "cnonce",
        "uri",
        "x",
    ];
    let mut rng = SplitMix64::new(0x5eed);
    let t0 = Instant::now();
    let v = verifier(yes(), t0);
    let mut client = DigestClient::new(alice(), yes(), 255);
    let mut session = AuthSession::default();
    for round in 0..20_000 {
        let n = usize::try_from(rng.next_u64() % 12).unwrap();
        let s: String = if round % 4 == 0 {
            let bytes: Vec<u8> = (0..n * 4)
                .map(|_| rng.next_u64().to_le_bytes()[0])
                .collect();
            String::from_utf8_lossy(&bytes).into_owned()
        } else {
            (0..n)
                .map(|_| pieces[usize::try_from(rng.next_u64() % pieces.len() as u64).unwrap()])
                .collect()
        };
        let _ = Challenge::parse(&s);
        let _ = v.verify(t0, b"b", &[&s], &INVITE, &line());
        let _ = client.respond(&mut session, &[www(&s)], &INVITE, &mut rng.clone());
        let _ = Algorithm::from_name(&s);
    }
}

// ---- configuration ----

#[test]
fn policy_credentials_and_max_auth_from_the_profile() {
    use mppd_config::Profile;
    let mut p = Profile::new();
    assert_eq!(DigestPolicy::from_profile(&p, 1), no());
    assert_eq!(max_auth_from_profile(&p), 2);
    p.set("Auth_Support_RFC8760", "Yes", None, 0);
    p.set("Auth_Support_RFC8760_2_", "No", None, 0);
    p.set("Max_Auth", "5", None, 0);
    p.set("User_ID_1_", "1001", None, 0);
    p.set("Password_1_", "pw", None, 0);
    p.set("User_ID_2_", "1002", None, 0);
    p.set("Auth_ID_2_", "auth2", None, 0);
    assert_eq!(DigestPolicy::from_profile(&p, 1), yes());
    assert_eq!(DigestPolicy::from_profile(&p, 2), no());
    assert_eq!(max_auth_from_profile(&p), 5);
    assert_eq!(Credentials::from_profile(&p, 1), line());
    assert_eq!(Credentials::from_profile(&p, 2).username, "auth2");
    p.set("FIPS_Mode", "Enabled", None, 0);
    assert!(DigestPolicy::from_profile(&p, 2).fips);
}
