//! Test support for mppd's integration tests (`publish = false`).
//!
//! - [`pki`]: a throw-away certificate authority that issues server certificates at run time
//!   (no private key is ever committed);
//! - [`openssl_server`] and [`nginx`]: real TLS peers started on a free loopback port, waited
//!   for with a bounded timeout, and killed by PID when dropped;
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

pub use mppd::{Mppd, RunOutput, StateSandbox};
pub use nginx::{Nginx, NginxBuilder};
pub use openssl_server::{OpensslServer, OpensslServerBuilder, ServerVersion};
pub use pki::{KeyType, TestCa, Validity};
