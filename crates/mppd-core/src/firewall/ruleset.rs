//! [`Policy`] -> nftables: one rule model rendered twice, as the JSON `nft -j -f -` takes
//! ([`Policy::ruleset`]) and as an `nft -f` script ([`Policy::script`]), so the two cannot
//! drift apart.

use std::borrow::Cow;
use std::fmt::Write as _;

use nftables::batch::Batch;
use nftables::expr::{CT, CTDir, Range, SetItem};
use nftables::expr::{Expression, Meta, MetaKey, NamedExpression, Payload, PayloadField, Prefix};
use nftables::schema::{Chain, NfListObject, Nftables, Rule, Table};
use nftables::stmt::{Accept, Drop, Match, Operator, Reject, RejectType, Statement};
use nftables::types::{NfChainPolicy, NfChainType, NfFamily, NfHook, RejectCode};

use super::policy::{Policy, Proto};

/// The name of mppd's `inet` table.
pub const TABLE: &str = "mppd";

/// The ICMPv6 types IPv6 needs to work, always accepted.
const ICMPV6_NEEDED: &[&str] = &[
    "nd-router-advert",
    "nd-neighbor-solicit",
    "nd-neighbor-advert",
    "mld-listener-query",
];

/// One match of a rule.
#[derive(Debug, Clone, Copy)]
enum Cond {
    /// `ct state a,b`.
    CtState(&'static [&'static str]),
    /// `iif "lo"` (`true`) or `iif != "lo"` (`false`).
    IifLo(bool),
    /// `ip daddr ADDR/LEN`.
    Ip4Daddr(&'static str, u32),
    /// `ip6 daddr ADDR[/LEN]`.
    Ip6Daddr(&'static str, Option<u32>),
    /// `icmpv6 type { ... }`.
    Icmpv6Types(&'static [&'static str]),
    /// `icmp type T` / `icmpv6 type T` (`v6`).
    IcmpType { v6: bool, name: &'static str },
    /// `icmp code C` / `icmpv6 code C`.
    IcmpCode { v6: bool, name: &'static str },
    /// `meta pkttype host`: unicast to this host.
    PkttypeHost,
    /// `meta l4proto P`.
    L4proto(Proto),
    /// `P dport X[-Y]`.
    Dport(Proto, u16, u16),
    /// `ct protocol P`.
    CtProtocol(Proto),
    /// `ct original proto-dst X[-Y]`.
    CtOriginalProtoDst(u16, u16),
}

/// What a rule does.
#[derive(Debug, Clone, Copy)]
enum Verdict {
    Accept,
    Drop,
    /// `reject with icmpx type port-unreachable`.
    RejectPortUnreachable,
}

/// One rule.
#[derive(Debug, Clone)]
struct RuleSpec {
    conds: Vec<Cond>,
    verdict: Verdict,
    comment: String,
}

/// One base chain.
#[derive(Debug, Clone)]
struct ChainSpec {
    name: &'static str,
    hook: NfHook,
    policy: NfChainPolicy,
    rules: Vec<RuleSpec>,
}

fn rule(conds: &[Cond], verdict: Verdict, comment: impl Into<String>) -> RuleSpec {
    RuleSpec {
        conds: conds.to_vec(),
        verdict,
        comment: comment.into(),
    }
}

/// The chains of an enabled firewall: the single source of both renderings.
fn chains(p: &Policy) -> Vec<ChainSpec> {
    use Cond::*;
    use Verdict::*;
    let mut input = vec![
        rule(&[CtState(&["invalid"])], Drop, "invalid packets"),
        rule(
            &[CtState(&["established", "related"])],
            Accept,
            "replies to connections and flows the phone started",
        ),
        rule(&[IifLo(true)], Accept, "loopback"),
        rule(
            &[IifLo(false), Ip4Daddr("127.0.0.0", 8)],
            Drop,
            "loopback address from outside",
        ),
        rule(
            &[IifLo(false), Ip6Daddr("::1", None)],
            Drop,
            "loopback address from outside",
        ),
        rule(
            &[Icmpv6Types(ICMPV6_NEEDED)],
            Accept,
            "IPv6 neighbour discovery, router advertisements, multicast listener queries",
        ),
        rule(
            &[
                Ip6Daddr("ff00::", Some(8)),
                IcmpType {
                    v6: true,
                    name: "echo-request",
                },
            ],
            Accept,
            "IPv6 multicast echo (Broadcast Echo)",
        ),
    ];
    if !p.options.no_icmp_ping {
        for v6 in [false, true] {
            input.push(rule(
                &[IcmpType {
                    v6,
                    name: "echo-request",
                }],
                Accept,
                "ping",
            ));
        }
    }
    for o in &p.open {
        input.push(rule(&[Dport(o.proto, o.first, o.last)], Accept, o.reason()));
    }
    if !p.options.no_icmp_unreachable {
        input.push(rule(
            &[PkttypeHost, L4proto(Proto::Udp)],
            RejectPortUnreachable,
            "closed UDP port: port-unreachable",
        ));
    }
    let mut out = vec![ChainSpec {
        name: "input",
        hook: NfHook::Input,
        policy: NfChainPolicy::Drop,
        rules: input,
    }];
    if p.options.no_icmp_unreachable {
        let mut rules = Vec::new();
        for v6 in [false, true] {
            let unreach = [
                IcmpType {
                    v6,
                    name: "destination-unreachable",
                },
                IcmpCode {
                    v6,
                    name: "port-unreachable",
                },
            ];
            let mut rtp = unreach.to_vec();
            rtp.extend([CtProtocol(Proto::Udp), CtOriginalProtoDst(p.rtp.0, p.rtp.1)]);
            rules.push(rule(&rtp, Accept, "RTP ports always get port-unreachable"));
            rules.push(rule(&unreach, Drop, "NO_ICMP_UNREACHABLE"));
        }
        out.push(ChainSpec {
            name: "output",
            hook: NfHook::Output,
            policy: NfChainPolicy::Accept,
            rules,
        });
    }
    out
}

fn ports_text(first: u16, last: u16) -> String {
    if first == last {
        first.to_string()
    } else {
        format!("{first}-{last}")
    }
}

impl Cond {
    fn text(self) -> String {
        let icmp = |v6: bool| if v6 { "icmpv6" } else { "icmp" };
        match self {
            Self::CtState(states) => format!("ct state {}", states.join(",")),
            Self::IifLo(true) => "iif \"lo\"".to_owned(),
            Self::IifLo(false) => "iif != \"lo\"".to_owned(),
            Self::Ip4Daddr(a, len) => format!("ip daddr {a}/{len}"),
            Self::Ip6Daddr(a, None) => format!("ip6 daddr {a}"),
            Self::Ip6Daddr(a, Some(len)) => format!("ip6 daddr {a}/{len}"),
            Self::Icmpv6Types(types) => format!("icmpv6 type {{ {} }}", types.join(", ")),
            Self::IcmpType { v6, name } => format!("{} type {name}", icmp(v6)),
            Self::IcmpCode { v6, name } => format!("{} code {name}", icmp(v6)),
            Self::PkttypeHost => "meta pkttype host".to_owned(),
            Self::L4proto(p) => format!("meta l4proto {p}"),
            Self::Dport(p, x, y) => format!("{p} dport {}", ports_text(x, y)),
            Self::CtProtocol(p) => format!("ct protocol {p}"),
            Self::CtOriginalProtoDst(x, y) => {
                format!("ct original proto-dst {}", ports_text(x, y))
            }
        }
    }

    fn stmt(self) -> Statement<'static> {
        let icmp = |v6: bool| if v6 { "icmpv6" } else { "icmp" };
        match self {
            Self::CtState(states) => {
                let right = match states {
                    [one] => string(one),
                    many => Expression::List(many.iter().map(|s| string(s)).collect()),
                };
                matches(ct("state", None), Operator::IN, right)
            }
            Self::IifLo(eq) => matches(
                meta(MetaKey::Iif),
                if eq { Operator::EQ } else { Operator::NEQ },
                string("lo"),
            ),
            Self::Ip4Daddr(a, len) => matches(payload("ip", "daddr"), Operator::EQ, prefix(a, len)),
            Self::Ip6Daddr(a, None) => matches(payload("ip6", "daddr"), Operator::EQ, string(a)),
            Self::Ip6Daddr(a, Some(len)) => {
                matches(payload("ip6", "daddr"), Operator::EQ, prefix(a, len))
            }
            Self::Icmpv6Types(types) => matches(
                payload("icmpv6", "type"),
                Operator::EQ,
                Expression::Named(NamedExpression::Set(
                    types.iter().map(|t| SetItem::Element(string(t))).collect(),
                )),
            ),
            Self::IcmpType { v6, name } => {
                matches(payload(icmp(v6), "type"), Operator::EQ, string(name))
            }
            Self::IcmpCode { v6, name } => {
                matches(payload(icmp(v6), "code"), Operator::EQ, string(name))
            }
            Self::PkttypeHost => matches(meta(MetaKey::Pkttype), Operator::EQ, string("host")),
            Self::L4proto(p) => matches(meta(MetaKey::L4proto), Operator::EQ, string(p.as_str())),
            Self::Dport(p, x, y) => {
                matches(payload(p.as_str(), "dport"), Operator::EQ, ports(x, y))
            }
            Self::CtProtocol(p) => matches(ct("protocol", None), Operator::EQ, string(p.as_str())),
            Self::CtOriginalProtoDst(x, y) => matches(
                ct("proto-dst", Some(CTDir::Original)),
                Operator::EQ,
                ports(x, y),
            ),
        }
    }
}

impl Verdict {
    fn text(self) -> &'static str {
        match self {
            Self::Accept => "accept",
            Self::Drop => "drop",
            Self::RejectPortUnreachable => "reject with icmpx type port-unreachable",
        }
    }

    fn stmt(self) -> Statement<'static> {
        match self {
            Self::Accept => Statement::Accept(None::<Accept>),
            Self::Drop => Statement::Drop(None::<Drop>),
            Self::RejectPortUnreachable => Statement::Reject(Some(Reject::new(
                Some(RejectType::ICMPX),
                Some(RejectCode::PortUnreach),
            ))),
        }
    }
}

fn string(s: &str) -> Expression<'static> {
    Expression::String(Cow::Owned(s.to_owned()))
}

fn ports(first: u16, last: u16) -> Expression<'static> {
    if first == last {
        Expression::Number(u32::from(first))
    } else {
        Expression::Range(Box::new(Range {
            range: [
                Expression::Number(u32::from(first)),
                Expression::Number(u32::from(last)),
            ],
        }))
    }
}

fn prefix(addr: &str, len: u32) -> Expression<'static> {
    Expression::Named(NamedExpression::Prefix(Prefix {
        addr: Box::new(string(addr)),
        len,
    }))
}

fn payload(protocol: &str, field: &str) -> Expression<'static> {
    Expression::Named(NamedExpression::Payload(Payload::PayloadField(
        PayloadField {
            protocol: Cow::Owned(protocol.to_owned()),
            field: Cow::Owned(field.to_owned()),
        },
    )))
}

fn meta(key: MetaKey) -> Expression<'static> {
    Expression::Named(NamedExpression::Meta(Meta { key }))
}

fn ct(key: &str, dir: Option<CTDir>) -> Expression<'static> {
    Expression::Named(NamedExpression::CT(CT {
        key: Cow::Owned(key.to_owned()),
        family: None,
        dir,
    }))
}

fn matches(
    left: Expression<'static>,
    op: Operator,
    right: Expression<'static>,
) -> Statement<'static> {
    Statement::Match(Match { left, right, op })
}

fn table() -> Table<'static> {
    Table {
        family: NfFamily::INet,
        name: Cow::Borrowed(TABLE),
        handle: None,
    }
}

/// The transaction that removes mppd's table, whether or not it exists (`add table` first,
/// so the `delete` never fails on a missing table).
pub fn removal() -> Nftables<'static> {
    let mut b = Batch::new();
    b.add(NfListObject::Table(table()));
    b.delete(NfListObject::Table(table()));
    b.to_nftables()
}

/// [`removal`] as an `nft -f` script.
pub fn removal_script() -> String {
    format!("table inet {TABLE}\ndelete table inet {TABLE}\n")
}

impl Policy {
    /// The `nft -j -f -` transaction that puts this policy in force: `add table`, `delete
    /// table`, then the table, its chains and rules (only the removal when disabled).
    pub fn ruleset(&self) -> Nftables<'static> {
        if !self.enabled {
            return removal();
        }
        let mut b = Batch::new();
        b.add(NfListObject::Table(table()));
        b.delete(NfListObject::Table(table()));
        b.add(NfListObject::Table(table()));
        let chains = chains(self);
        for c in &chains {
            b.add(NfListObject::Chain(Chain {
                family: NfFamily::INet,
                table: Cow::Borrowed(TABLE),
                name: Cow::Borrowed(c.name),
                _type: Some(NfChainType::Filter),
                hook: Some(c.hook),
                prio: Some(0),
                policy: Some(c.policy),
                ..Chain::default()
            }));
        }
        for c in chains {
            for r in c.rules {
                let mut expr: Vec<Statement<'static>> =
                    r.conds.iter().map(|cond| cond.stmt()).collect();
                expr.push(r.verdict.stmt());
                b.add(NfListObject::Rule(Rule {
                    family: NfFamily::INet,
                    table: Cow::Borrowed(TABLE),
                    chain: Cow::Borrowed(c.name),
                    expr: Cow::Owned(expr),
                    handle: None,
                    index: None,
                    comment: Some(Cow::Owned(r.comment)),
                }));
            }
        }
        b.to_nftables()
    }

    /// The same transaction as an `nft -f` script (`mppd firewall rules`).
    pub fn script(&self) -> String {
        let mut s = String::new();
        if !self.enabled {
            s.push_str("# mppd firewall: Firewall is Disabled; the table is removed.\n");
            s.push_str(&removal_script());
            return s;
        }
        let _ = writeln!(
            s,
            "# mppd firewall (SPEC §13): one transaction that replaces table inet {TABLE}."
        );
        s.push_str(&removal_script());
        let _ = writeln!(s, "table inet {TABLE} {{");
        for (i, c) in chains(self).iter().enumerate() {
            if i > 0 {
                s.push('\n');
            }
            let hook = match c.hook {
                NfHook::Output => "output",
                _ => "input",
            };
            let policy = match c.policy {
                NfChainPolicy::Accept => "accept",
                NfChainPolicy::Drop => "drop",
            };
            let _ = writeln!(s, "\tchain {} {{", c.name);
            let _ = writeln!(
                s,
                "\t\ttype filter hook {hook} priority filter; policy {policy};"
            );
            for r in &c.rules {
                let conds: Vec<String> = r.conds.iter().map(|c| c.text()).collect();
                let _ = writeln!(
                    s,
                    "\t\t{} {} comment \"{}\"",
                    conds.join(" "),
                    r.verdict.text(),
                    r.comment
                );
            }
            let _ = writeln!(s, "\t}}");
        }
        let _ = writeln!(s, "}}");
        s
    }
}
