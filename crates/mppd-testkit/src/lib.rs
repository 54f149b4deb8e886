//! Test support for mppd's integration tests (`publish = false`).
//!
//! - [`pki`]: a throw-away certificate authority that issues server certificates at run time
//!   (no private key is ever committed);
//! - [`openssl_server`], [`nginx`] and [`slapd`]: real TLS peers started on a free loopback
//!   port, waited for with a bounded timeout, and killed by PID when dropped;
//! - [`proxy`]: real HTTP proxies (tinyproxy, squid with Basic authentication) on a free
//!   loopback port, and a raw `CONNECT` through them;
//! - [`kamailio`] and [`sipp`]: real SIP peers on free loopback ports: a kamailio registrar
//!   and proxy with one digest credential (UDP, TCP, TLS), SIPp scenarios as UAS or UAC, and
//!   socat as the TLS front of a SIPp TCP server;
//! - [`dnsmasq`]: a DNS server on loopback with the records a test gives (A, SRV, NAPTR);
//! - [`mppd`]: runs of the `mppd` binary on a temporary state directory, optionally with a
//!   private `/etc/hosts` (a mount namespace of its own).
//!
//! Everything here panics with a message that says what failed (and shows the peer's own
//! output) instead of returning errors: it is only ever called from tests.

pub mod dnsmasq;
pub mod kamailio;
pub mod mppd;
pub mod nginx;
pub mod openssl_server;
pub mod pki;
pub mod process;
pub mod proxy;
pub mod sipp;
pub mod slapd;

pub use kamailio::{Kamailio, KamailioBuilder};
pub use mppd::{Mppd, RunOutput, StateSandbox};
pub use nginx::{Nginx, NginxBuilder};
pub use openssl_server::{OpensslServer, OpensslServerBuilder, ServerVersion};
pub use pki::{KeyType, TestCa, Validity};
pub use proxy::{Squid, Tinyproxy, TinyproxyBuilder};
pub use sipp::{Sipp, SippBuilder, SippRun, SippTransport, SocatTls};
pub use slapd::{Slapd, SlapdBuilder};
