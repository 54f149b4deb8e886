//! mppd: the security subsystem of a multiplatform SIP desk phone, configured by cfg.xml.
//!
//! This crate is the shell: the command line ([`cli`]), the daemon ([`daemon`]) and the state
//! directory ([`state`]). Protocol logic lives in the sans-IO `mppd-core`; the profile in
//! `mppd-config`.

pub mod cli;
pub mod daemon;
pub mod firewall;
pub mod ldap;
pub mod provision;
pub mod proxy;
pub mod sip;
pub mod state;
pub mod supervise;
pub mod tls;
pub mod web;
pub mod web_host;
