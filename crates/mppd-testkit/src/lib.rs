//! Test support for mppd's integration tests (`publish = false`).
//!
//! - [`pki`]: a throw-away certificate authority that issues server certificates at run time
//!   (no private key is ever committed);
//! - [`openssl_server`], [`nginx`] and [`slapd`]: real TLS peers started on a free loopback
//!   port, waited for with a bounded timeout, and killed by PID when dropped;
//! - [`proxy`]: real HTTP proxies (tinyproxy, squid with Basic authentication) on a free
//!   loopback port, and a raw `CONNECT` through them;
//! - [`mppd`]: runs of the `mppd` binary on a temporary state directory, optionally with a
//!   private `/etc/hosts` (a mount namespace of its own).
//!
//! Everything here panics with a message that says what failed (and shows the peer's own
//! output) instead of returning errors: it is only ever called from tests.

pub mod mppd;
pub mod nginx;
pub mod openssl_server;
pub mod pki;
pub mod process;
pub mod proxy;
pub mod slapd;

pub use mppd::{Mppd, RunOutput, StateSandbox};
pub use nginx::{Nginx, NginxBuilder};
pub use openssl_server::{OpensslServer, OpensslServerBuilder, ServerVersion};
pub use pki::{KeyType, TestCa, Validity};
pub use proxy::{Squid, Tinyproxy, TinyproxyBuilder};
pub use slapd::{Slapd, SlapdBuilder};
