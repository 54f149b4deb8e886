//! The phone's firewall (SPEC §13) as a pure compiler: profile -> [`Policy`] (what is open and
//! why) -> nftables ruleset (the JSON `nft -j -f -` takes, and the same ruleset as an `nft -f`
//! script). No I/O: the shell runs `nft`, and hands in what lives outside the profile (the
//! TR-069 connection-request port kept in the state directory).
//!
//! # The ruleset
//!
//! One `inet` table, [`TABLE`] (`mppd`), for IPv4 and IPv6. Its input chain (hook input,
//! priority filter, policy **drop**):
//!
//! 1. `ct state invalid drop`, then `ct state established,related accept`: the firewall is
//!    stateful, so replies to an outgoing TCP connection or UDP flow (and the ICMP errors about
//!    it) come in while the flow is alive, whatever port it uses.
//! 2. loopback accepted; loopback addresses arriving on another interface dropped.
//! 3. ICMPv6 that IPv6 needs: router advertisements, neighbour solicitations and
//!    advertisements, multicast listener queries. Always accepted.
//! 4. ICMPv6 echo requests to a multicast address: always accepted, so the IPv6 "Broadcast
//!    Echo" setting keeps working whatever the firewall options say (SPEC §13).
//! 5. ICMP and ICMPv6 echo requests, unless `NO_ICMP_PING`.
//! 6. One rule per open port or range ([`Policy::open`]), commented with why it is open.
//! 7. What a closed UDP port gets (see below). Everything else falls to the policy: dropped,
//!    without an answer (a TCP SYN to a closed port gets no RST: the connection times out).
//!
//! # Decision: ICMP port-unreachable (`NO_ICMP_UNREACHABLE`)
//!
//! A UDP datagram to a port nobody listens on normally gets an ICMP/ICMPv6 port-unreachable.
//! SPEC §13 lets `NO_ICMP_UNREACHABLE` silence that for every UDP port except the RTP range.
//!
//! - **Without the option** the phone answers as a host without a firewall would: a unicast UDP
//!   datagram to a port the firewall does not open is rejected with port-unreachable
//!   (`reject with icmpx type port-unreachable`, rule 7), and an open port nobody listens on
//!   gets the kernel's own port-unreachable.
//! - **With the option** rule 7 is left out (the datagram is dropped silently) and an output
//!   chain (hook output, policy accept) drops the port-unreachable messages the kernel sends
//!   for open ports without a listener, except when conntrack ties the message to a UDP flow
//!   whose original destination port is in the RTP range: RTP ports always get it.
//!
//! # Replacing the table atomically
//!
//! [`Policy::ruleset`] is one transaction: `add table`, `delete table`, then the new table
//! with its chains and rules. `nft` commits it whole or not at all, so there is never a
//! moment without rules, and a failed apply leaves the previous table in force. With
//! `Firewall` Disabled the transaction only removes the table ([`removal`]).
//!
//! # Other decisions
//!
//! - TR-069 (UDP 7999 and the TCP connection-request port) is open only when `Enable_TR-069` is
//!   Yes and `FIPS_Mode` is not Enabled: FIPS mode disables TR-069 (SPEC §19).
//! - Ports come sorted by protocol (tcp before udp), first and last port; one port or range
//!   opened for several reasons (two lines on one SIP port) is one rule listing them all.
//! - Every parameter read is checked again here ([`CompileError::InvalidValue`]): the compiler
//!   does not trust its caller to have validated the profile.
//! - `RTP_Port_Max` below `RTP_Port_Min` is refused ([`CompileError::RtpRange`]): the
//!   previous firewall stays in force, as for an invalid `Firewall_Config`.

mod policy;
mod ruleset;

pub use policy::{
    CompileError, Inputs, OpenPort, Policy, Proto, Reason, TR069_PORT_MAX, TR069_PORT_MIN,
    tr069_enabled,
};
pub use ruleset::{TABLE, removal, removal_script};
