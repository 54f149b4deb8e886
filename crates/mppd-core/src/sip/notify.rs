//! SIP NOTIFY triggers (SPEC §4b; issue 10), sans-IO: a NOTIFY with `Event: resync`,
//! `reboot_now`, `restart_now` or `report` to a line is obeyed only when `Resync_From_SIP` is
//! Yes and, with `Auth_Resync-Reboot_n_` Yes (the default), its retry carries digest
//! credentials of the line that verify against the phone's own challenge (the offered
//! algorithms follow `Auth_Support_RFC8760`: `SHA-512-256`, `SHA-256`, `MD5` in that order, or
//! `MD5` alone; never MD5 in FIPS mode). Each nonce is accepted once. With
//! `Auth_Resync-Reboot_n_` No, only a NOTIFY from the line's own proxy is obeyed.
//!
//! [`NotifyGuard::decide`] answers every NOTIFY (the response to send) and says whether to act;
//! every decision is a [`TriggerRecord`] for the log and status.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use super::digest::{Credentials, RequestTarget, Verdict, Verifier};
use super::message::{Message, param};
use crate::provision::schedule::Rng;

/// What a NOTIFY asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TriggerKind {
    /// `Event: resync`: run the profile rules (optionally another rule, from the body or the
    /// Event's `profile` parameter).
    Resync {
        /// A rule given with the NOTIFY.
        rule: Option<String>,
    },
    /// `Event: reboot_now`: restart (mppd restarts its subsystems).
    Reboot,
    /// `Event: restart_now`: as reboot.
    Restart,
    /// `Event: report`: run the report rule.
    Report,
}

impl TriggerKind {
    /// From an `Event` header value; `None` for other events (`check-sync` and the like are
    /// not phone triggers here).
    pub fn from_event(value: &str, body: &[u8]) -> Option<Self> {
        let name = value
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        match name.as_str() {
            "resync" => {
                let from_param = param(value, "profile").map(str::to_owned);
                let from_body = std::str::from_utf8(body)
                    .ok()
                    .map(str::trim)
                    .filter(|b| !b.is_empty() && b.len() <= 1024 && !b.contains(['\r', '\n']))
                    .map(str::to_owned);
                Some(Self::Resync {
                    rule: from_param.or(from_body),
                })
            }
            "reboot_now" | "reboot" => Some(Self::Reboot),
            "restart_now" => Some(Self::Restart),
            "report" => Some(Self::Report),
            _ => None,
        }
    }

    /// The event's name.
    pub const fn name(&self) -> &'static str {
        match self {
            Self::Resync { .. } => "resync",
            Self::Reboot => "reboot_now",
            Self::Restart => "restart_now",
            Self::Report => "report",
        }
    }
}

/// The settings a line's NOTIFY handling reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NotifyPolicy {
    /// `Resync_From_SIP`.
    pub resync_from_sip: bool,
    /// `Auth_Resync-Reboot_n_`.
    pub auth_required: bool,
}

/// One NOTIFY as the status keeps it: a security event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TriggerRecord {
    /// The event name (`resync`, ... or what the NOTIFY said).
    pub event: String,
    /// Whether the phone acts on it.
    pub accepted: bool,
    /// The status code answered.
    pub code: u16,
    /// Why (refusals), or how it was authenticated.
    pub reason: String,
}

/// What to do with one NOTIFY.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotifyDecision {
    /// The response to send.
    pub response: Message,
    /// What to do, when accepted.
    pub trigger: Option<TriggerKind>,
    /// The security event.
    pub record: TriggerRecord,
}

/// How many used nonces are remembered (each until it would expire anyway).
const USED_NONCES: usize = 256;

/// The NOTIFY handling of one line: remembers used nonces.
#[derive(Debug, Default)]
pub struct NotifyGuard {
    used: VecDeque<(String, Instant)>,
}

impl NotifyGuard {
    /// Decides on `notify` (a NOTIFY to this line). `from_proxy` says whether it came from
    /// the line's own proxy (its address); `lifetime` is how long a nonce of `verifier` lives
    /// (used nonces are forgotten after it).
    #[allow(clippy::too_many_arguments)]
    pub fn decide(
        &mut self,
        now: Instant,
        notify: &Message,
        policy: NotifyPolicy,
        verifier: &Verifier,
        credentials: &Credentials,
        from_proxy: bool,
        lifetime: Duration,
        rng: &mut dyn Rng,
    ) -> NotifyDecision {
        let event = notify.header("Event").unwrap_or("").trim().to_owned();
        let name = event.split(';').next().unwrap_or("").trim().to_owned();
        let record = |accepted: bool, code: u16, reason: String| TriggerRecord {
            event: if name.is_empty() {
                "(no Event)".to_owned()
            } else {
                name.clone()
            },
            accepted,
            code,
            reason,
        };
        let reply = |code: u16, reason: &str| notify.reply(code, reason, Some("mppdnotify"));
        let Some(kind) = TriggerKind::from_event(&event, &notify.body) else {
            return NotifyDecision {
                response: reply(489, "Bad Event"),
                trigger: None,
                record: record(false, 489, format!("unknown event {event:?}")),
            };
        };
        if !policy.resync_from_sip {
            return NotifyDecision {
                response: reply(200, "OK"),
                trigger: None,
                record: record(false, 200, "Resync_From_SIP is No: not acted on".to_owned()),
            };
        }
        if !policy.auth_required {
            if from_proxy {
                return NotifyDecision {
                    response: reply(200, "OK"),
                    trigger: Some(kind),
                    record: record(true, 200, "from the line's proxy (no challenge)".to_owned()),
                };
            }
            return NotifyDecision {
                response: reply(403, "Forbidden"),
                trigger: None,
                record: record(false, 403, "not from the line's proxy".to_owned()),
            };
        }
        self.used
            .retain(|(_, at)| now.saturating_duration_since(*at) <= lifetime);
        let binding = binding_of(notify);
        let authorization: Vec<&str> = notify.headers_named("Authorization").collect();
        let uri = match &notify.start {
            super::message::StartLine::Request { uri, .. } => uri.as_str(),
            super::message::StartLine::Response { .. } => "",
        };
        let target = RequestTarget {
            method: "NOTIFY",
            uri,
            body: &notify.body,
        };
        let challenge = |stale: bool, rng: &mut dyn Rng| {
            let mut r = reply(401, "Unauthorized");
            for v in verifier.challenge(now, &binding, stale, rng) {
                r.push("WWW-Authenticate", v);
            }
            r
        };
        match verifier.verify(now, &binding, &authorization, &target, credentials) {
            Verdict::Missing => NotifyDecision {
                response: challenge(false, rng),
                trigger: None,
                record: record(false, 401, "challenged".to_owned()),
            },
            Verdict::Stale => NotifyDecision {
                response: challenge(true, rng),
                trigger: None,
                record: record(false, 401, "stale nonce: challenged again".to_owned()),
            },
            Verdict::Wrong(why) => NotifyDecision {
                response: reply(403, "Forbidden"),
                trigger: None,
                record: record(false, 403, format!("credentials refused: {why}")),
            },
            Verdict::Ok(verified) => {
                // The nonce as the verifier read it (quoted strings unescaped, the credentials
                // of our realm), so no other spelling of a used nonce passes as a new one.
                let nonce = verified.nonce;
                if self.used.iter().any(|(n, _)| *n == nonce) {
                    return NotifyDecision {
                        response: reply(403, "Forbidden"),
                        trigger: None,
                        record: record(false, 403, "nonce already used (replay)".to_owned()),
                    };
                }
                if self.used.len() == USED_NONCES {
                    self.used.pop_front();
                }
                self.used.push_back((nonce, now));
                let alg = verified.algorithm;
                NotifyDecision {
                    response: reply(200, "OK"),
                    trigger: Some(kind),
                    record: record(true, 200, format!("authenticated (digest {alg})")),
                }
            }
        }
    }
}

/// The dialog binding of a NOTIFY's nonce: Call-ID and From tag.
fn binding_of(m: &Message) -> Vec<u8> {
    let mut b = m.call_id().unwrap_or("").as_bytes().to_vec();
    b.push(0);
    b.extend_from_slice(m.from_tag().unwrap_or("").as_bytes());
    b
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use crate::provision::schedule::SplitMix64;
    use crate::sip::digest::AuthSession;
    use crate::sip::digest::{
        ChallengeHeader, ChallengeKind, DigestClient, DigestPolicy, VerifierConfig,
    };

    fn notify(event: &str, auth: Option<&str>) -> Message {
        let mut m = Message::request("NOTIFY", "sip:1001@10.0.0.5:5060");
        m.push("Via", "SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bKn1")
            .push("From", "<sip:proxy@example.com>;tag=abc")
            .push("To", "<sip:1001@example.com>")
            .push("Call-ID", "notify-1@example.com")
            .push("CSeq", "1 NOTIFY")
            .push("Event", event);
        if let Some(a) = auth {
            m.push("Authorization", a);
        }
        Message::parse(&m.to_bytes()).unwrap()
    }

    fn creds() -> Credentials {
        Credentials {
            username: "1001".to_owned(),
            password: "secret".to_owned(),
        }
    }

    const ON: NotifyPolicy = NotifyPolicy {
        resync_from_sip: true,
        auth_required: true,
    };

    #[test]
    fn challenge_then_accept_once_with_each_offered_algorithm() {
        let mut rng = SplitMix64::new(3);
        let now = Instant::now();
        let policy = DigestPolicy {
            rfc8760: true,
            fips: false,
        };
        let v = Verifier::new(VerifierConfig::new("example.com", policy), now, &mut rng);
        let mut g = NotifyGuard::default();
        let life = Duration::from_secs(30);
        let first = notify("resync", None);
        let d = g.decide(now, &first, ON, &v, &creds(), true, life, &mut rng);
        assert_eq!(d.response.code(), Some(401));
        assert!(d.trigger.is_none());
        let challenges: Vec<&str> = d.response.headers_named("WWW-Authenticate").collect();
        assert_eq!(challenges.len(), 3);
        for (c, alg) in challenges.iter().zip(["SHA-512-256", "SHA-256", "MD5"]) {
            assert!(c.contains(&format!("algorithm={alg},")), "{c}");
        }
        // Answer each offered algorithm in turn (a fresh challenge each time).
        for pick in ["SHA-256", "SHA-512-256", "MD5"] {
            let d = g.decide(now, &first, ON, &v, &creds(), true, life, &mut rng);
            let values: Vec<String> = d
                .response
                .headers_named("WWW-Authenticate")
                .filter(|c| c.contains(&format!("algorithm={pick},")))
                .map(str::to_owned)
                .collect();
            let headers: Vec<ChallengeHeader<'_>> = values
                .iter()
                .map(|v| ChallengeHeader {
                    kind: ChallengeKind::Www,
                    value: v,
                })
                .collect();
            let mut client = DigestClient::new(creds(), policy, 2);
            let target = RequestTarget {
                method: "NOTIFY",
                uri: "sip:1001@10.0.0.5:5060",
                body: &[],
            };
            let auth = client
                .respond(&mut AuthSession::default(), &headers, &target, &mut rng)
                .unwrap();
            let retry = notify("resync", Some(&auth[0].value));
            let d = g.decide(now, &retry, ON, &v, &creds(), true, life, &mut rng);
            assert_eq!(d.response.code(), Some(200), "{pick}: {:?}", d.record);
            assert_eq!(d.trigger, Some(TriggerKind::Resync { rule: None }));
            assert!(d.record.reason.contains(pick), "{:?}", d.record);
            // The same credentials again: a replay.
            let d = g.decide(now, &retry, ON, &v, &creds(), true, life, &mut rng);
            assert_eq!(d.response.code(), Some(403), "{pick}");
            assert!(d.record.reason.contains("replay"), "{:?}", d.record);
            // Replays spelled otherwise (found by fuzzing): a quoted-pair inside the nonce,
            // which unescapes to the same nonce, and a parameter whose quoted value holds
            // `,nonce=`; both still verify, and both are the used nonce.
            let value = &auth[0].value;
            let (head, rest) = value.split_once("nonce=\"").unwrap();
            let escaped = format!("{head}nonce=\"\\{rest}");
            let decoy = value.replacen("Digest ", "Digest x=\"a,nonce=b\", ", 1);
            for respelled in [escaped, decoy] {
                let replay = notify("resync", Some(&respelled));
                let d = g.decide(now, &replay, ON, &v, &creds(), true, life, &mut rng);
                assert_eq!(d.response.code(), Some(403), "{pick} {respelled}");
                assert!(d.trigger.is_none());
                assert!(d.record.reason.contains("replay"), "{:?}", d.record);
            }
        }
        // A nonce the phone never gave: refused.
        let forged = notify(
            "resync",
            Some(
                "Digest username=\"1001\", realm=\"example.com\", nonce=\"00ff\", \
                 uri=\"sip:1001@10.0.0.5:5060\", response=\"0123\", algorithm=MD5, qop=auth, \
                 nc=00000001, cnonce=\"x\"",
            ),
        );
        let d = g.decide(now, &forged, ON, &v, &creds(), true, life, &mut rng);
        assert_eq!(d.response.code(), Some(403), "{:?}", d.record);
        assert!(d.trigger.is_none());
    }

    #[test]
    fn policy_and_events() {
        let mut rng = SplitMix64::new(4);
        let now = Instant::now();
        let v = Verifier::new(
            VerifierConfig::new("example.com", DigestPolicy::default()),
            now,
            &mut rng,
        );
        let mut g = NotifyGuard::default();
        let life = Duration::from_secs(30);
        let off = NotifyPolicy {
            resync_from_sip: false,
            auth_required: true,
        };
        let d = g.decide(
            now,
            &notify("resync", None),
            off,
            &v,
            &creds(),
            true,
            life,
            &mut rng,
        );
        assert_eq!((d.response.code(), d.trigger), (Some(200), None));
        assert!(d.record.reason.contains("Resync_From_SIP is No"));

        let open = NotifyPolicy {
            resync_from_sip: true,
            auth_required: false,
        };
        let d = g.decide(
            now,
            &notify("reboot_now", None),
            open,
            &v,
            &creds(),
            true,
            life,
            &mut rng,
        );
        assert_eq!(
            (d.response.code(), d.trigger),
            (Some(200), Some(TriggerKind::Reboot))
        );
        let d = g.decide(
            now,
            &notify("reboot_now", None),
            open,
            &v,
            &creds(),
            false,
            life,
            &mut rng,
        );
        assert_eq!((d.response.code(), d.trigger), (Some(403), None));

        let d = g.decide(
            now,
            &notify("check-sync", None),
            ON,
            &v,
            &creds(),
            true,
            life,
            &mut rng,
        );
        assert_eq!(d.response.code(), Some(489));
        // MD5 only without RFC 8760.
        let d = g.decide(
            now,
            &notify("report", None),
            ON,
            &v,
            &creds(),
            true,
            life,
            &mut rng,
        );
        let c: Vec<&str> = d.response.headers_named("WWW-Authenticate").collect();
        assert_eq!(c.len(), 1);
        assert!(c[0].contains("algorithm=MD5"), "{c:?}");
        assert_eq!(
            TriggerKind::from_event("resync;profile=\"https://p/x.xml\"", b""),
            Some(TriggerKind::Resync {
                rule: Some("https://p/x.xml".to_owned())
            })
        );
    }
}
