//! The HTTP proxy's pure parts (SPEC §18, issue 8): no sockets, no clock reads, no JS engine.
//!
//! - [`result`] parses the string `FindProxyForURL` returns into an ordered list of
//!   [`result::ProxyChoice`]s.
//! - [`helpers`] implements the standard PAC helper functions in Rust; the JS glue resolves
//!   names and reads the clock, then calls these.
//! - [`wpad`] lists the WPAD candidate URLs for a DHCP option 252 value and the phone's domain.

pub mod helpers;
pub mod result;
pub mod wpad;
