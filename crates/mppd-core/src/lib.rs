//! Sans-IO protocol cores of mppd: no tokio, no sockets, no clock reads.
//!
//! Later issues add `sip`, `provision`, `tls`, `firewall`, `proxy`, `eap`, `ldap` and `vpn`.
