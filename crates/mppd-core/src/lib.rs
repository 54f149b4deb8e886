//! Sans-IO protocol cores of mppd: no tokio, no sockets, no clock reads.
//!
//! [`audit`] judges a profile's effective security settings; [`firewall`] compiles the
//! profile's firewall to an nftables ruleset. Later issues add `sip`, `provision`, `tls`,
//! `proxy`, `eap`, `ldap` and `vpn`.

pub mod audit;
pub mod firewall;
pub mod ldap;
pub mod provision;
pub mod proxy;
pub mod sip;
pub mod tls;
