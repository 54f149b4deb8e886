//! Sans-IO protocol cores of mppd: no tokio, no sockets, no clock reads.
//!
//! [`audit`] judges a profile's effective security settings. Later issues add `sip`,
//! `provision`, `tls`, `firewall`, `proxy`, `eap`, `ldap` and `vpn`.

pub mod audit;
pub mod tls;
