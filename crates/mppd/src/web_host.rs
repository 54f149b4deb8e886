//! The admin web UI served by `mppd run --web-listen IP` (issue 7 item 1): HTTP or HTTPS per
//! `Enable_Protocol` on `Web_Server_Port`, when `Enable_Web_Server` is Yes, on the address the
//! user names (none by default: the UI is reachable only when the user says so). HTTPS uses the web server's TLS policy (`TLS_Server_Min_Version`,
//! the cipher fallback of SPEC §14) with the device certificate, else a self-signed one made
//! once into `STATE/web/`.
//!
//! The UI talks to the daemon through [`DaemonHooks`]: a status snapshot the daemon refreshes,
//! and commands (resync, reboot, profile applied) sent to its main loop.

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::ConnectInfo;
use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use mppd_config::Profile;
use mppd_config::identity::DeviceIdentity;
use mppd_core::tls::server_policy;
use serde_json::Value;
use tokio::net::TcpListener;
use tokio::sync::mpsc::UnboundedSender;
use tokio::task::JoinHandle;
use tower::ServiceExt as _;

use crate::state::StateDir;
use crate::web::{WebHooks, WebState, app};

/// What the web UI asks the daemon to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WebCommand {
    /// Resync now (with this URL as the rule, when given).
    Resync(Option<String>),
    /// Restart the subsystems.
    Reboot,
    /// The stored profile changed: load it (as SIGHUP).
    Applied,
}

/// The daemon's side of the web UI.
#[derive(Debug)]
pub struct DaemonHooks {
    /// The status as the daemon last built it.
    pub snapshot: Arc<Mutex<Value>>,
    /// The daemon's command channel.
    pub commands: UnboundedSender<WebCommand>,
}

impl WebHooks for DaemonHooks {
    fn status(&self) -> Value {
        self.snapshot
            .lock()
            .map(|v| v.clone())
            .unwrap_or(Value::Null)
    }

    fn resync(&self, url: Option<String>) {
        let _ = self.commands.send(WebCommand::Resync(url));
    }

    fn reboot(&self) {
        let _ = self.commands.send(WebCommand::Reboot);
    }

    fn applied(&self, _profile: &Profile) {
        let _ = self.commands.send(WebCommand::Applied);
    }
}

/// A running web server; stopped when dropped.
#[derive(Debug)]
pub struct WebServer {
    task: JoinHandle<()>,
    /// Where it listens.
    pub addr: SocketAddr,
    /// Whether it speaks HTTPS.
    pub https: bool,
}

impl WebServer {
    /// Serves until the server's task ends (it does not on its own) and says why it did.
    pub async fn wait(mut self) -> String {
        match (&mut self.task).await {
            Ok(()) => "the web server stopped".to_owned(),
            Err(e) => format!("the web server failed: {e}"),
        }
    }
}

impl Drop for WebServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// How long a client may take for the TLS handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

impl WebServer {
    /// Starts the UI for `profile` on `listen`; `Ok(None)` when `Enable_Web_Server` is No.
    pub async fn start(
        profile: &Profile,
        state: &StateDir,
        identity: &DeviceIdentity,
        lines: u8,
        listen: IpAddr,
        hooks: Arc<dyn WebHooks>,
    ) -> Result<Option<Self>, String> {
        if !profile.bool("Enable_Web_Server") {
            return Ok(None);
        }
        let https = !profile
            .effective("Enable_Protocol")
            .is_some_and(|v| v.trim().eq_ignore_ascii_case("http"));
        let port: u16 = profile
            .effective("Web_Server_Port")
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(if https { 443 } else { 80 });
        let addr = SocketAddr::new(listen, port);
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|e| format!("cannot listen on {addr} (Web_Server_Port): {e}"))?;
        let addr = listener
            .local_addr()
            .map_err(|e| format!("web server address: {e}"))?;
        let mut ws = WebState::new(state.clone(), identity.clone(), lines);
        ws.hooks = hooks;
        ws.secure_cookies = https;
        let router = app(ws);
        let task = if https {
            let (cert, key) = match crate::tls::device_credentials(state) {
                Some(c) => c,
                None => self_signed(state)?,
            };
            let (acceptor, warnings) =
                crate::tls::server_acceptor(&server_policy(profile), &cert, &key)
                    .map_err(|e| format!("web server TLS: {e}"))?;
            for w in warnings {
                tracing::warn!("web: {w}");
            }
            let acceptor = Arc::new(acceptor);
            tokio::spawn(async move {
                loop {
                    let Ok((tcp, peer)) = listener.accept().await else {
                        continue;
                    };
                    let acceptor = Arc::clone(&acceptor);
                    let router = router.clone();
                    tokio::spawn(async move {
                        let Ok(ssl) = openssl::ssl::Ssl::new(acceptor.context()) else {
                            return;
                        };
                        let Ok(mut stream) = tokio_openssl::SslStream::new(ssl, tcp) else {
                            return;
                        };
                        let handshake = std::pin::Pin::new(&mut stream).accept();
                        match tokio::time::timeout(HANDSHAKE_TIMEOUT, handshake).await {
                            Ok(Ok(())) => {}
                            Ok(Err(e)) => {
                                tracing::debug!("web: TLS handshake with {peer} failed: {e}");
                                return;
                            }
                            Err(_) => return,
                        }
                        let service = router.layer(axum::Extension(ConnectInfo(peer)));
                        let service = TowerToHyperService::new(service.map_request(
                            |r: hyper::Request<hyper::body::Incoming>| r.map(axum::body::Body::new),
                        ));
                        let _ = hyper::server::conn::http1::Builder::new()
                            .serve_connection(TokioIo::new(stream), service)
                            .await;
                    });
                }
            })
        } else {
            tokio::spawn(async move {
                let _ = axum::serve(
                    listener,
                    router.into_make_service_with_connect_info::<SocketAddr>(),
                )
                .await;
            })
        };
        tracing::info!(
            "web UI on {}://{addr}",
            if https { "https" } else { "http" }
        );
        Ok(Some(Self { task, addr, https }))
    }
}

/// The web settings of a profile: when they change, the server starts again.
pub fn web_settings(profile: &Profile) -> Vec<String> {
    [
        "Enable_Web_Server",
        "Enable_Protocol",
        "Web_Server_Port",
        "TLS_Server_Min_Version",
        "TLS_Cipher_List",
        "FIPS_Mode",
    ]
    .iter()
    .map(|n| {
        profile
            .effective(n)
            .map(|v| v.into_owned())
            .unwrap_or_default()
    })
    .collect()
}

/// The web UI as a task of its own (for supervision): binds, serves until aborted; a bind or
/// TLS failure ends the task with an error in the log (the supervisor starts it again later).
pub fn spawn(
    profile: Profile,
    state: StateDir,
    identity: DeviceIdentity,
    lines: u8,
    listen: IpAddr,
    hooks: Arc<dyn WebHooks>,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        match WebServer::start(&profile, &state, &identity, lines, listen, hooks).await {
            Ok(Some(server)) => {
                let why = server.wait().await;
                tracing::error!("web UI: {why}");
            }
            Ok(None) => std::future::pending::<()>().await,
            Err(e) => tracing::error!("web UI: {e}"),
        }
    })
}

/// `STATE/web/server.pem` and `server.key`: a self-signed certificate for the web UI when the
/// device has none, made once (RSA 2048, 10 years, CN `mppd web UI`).
fn self_signed(state: &StateDir) -> Result<(PathBuf, PathBuf), String> {
    let dir = state.path().join("web");
    let (cert, key) = (dir.join("server.pem"), dir.join("server.key"));
    if cert.is_file() && key.is_file() {
        return Ok((cert, key));
    }
    let make = || -> Result<(Vec<u8>, Vec<u8>), openssl::error::ErrorStack> {
        use openssl::asn1::Asn1Time;
        use openssl::bn::BigNum;
        use openssl::hash::MessageDigest;
        use openssl::pkey::PKey;
        use openssl::rsa::Rsa;
        use openssl::x509::{X509Builder, X509NameBuilder};
        // RSA: the web server's TLS 1.2 cipher fallback (SPEC §14) has RSA suites only.
        let pkey = PKey::from_rsa(Rsa::generate(2048)?)?;
        let mut name = X509NameBuilder::new()?;
        name.append_entry_by_text("CN", "mppd web UI")?;
        let name = name.build();
        let mut b = X509Builder::new()?;
        b.set_version(2)?;
        let mut serial = BigNum::new()?;
        serial.rand(64, openssl::bn::MsbOption::MAYBE_ZERO, false)?;
        let serial = serial.to_asn1_integer()?;
        b.set_serial_number(&serial)?;
        b.set_subject_name(&name)?;
        b.set_issuer_name(&name)?;
        b.set_pubkey(&pkey)?;
        let (from, until) = (Asn1Time::days_from_now(0)?, Asn1Time::days_from_now(3650)?);
        b.set_not_before(&from)?;
        b.set_not_after(&until)?;
        b.sign(&pkey, MessageDigest::sha256())?;
        Ok((b.build().to_pem()?, pkey.private_key_to_pem_pkcs8()?))
    };
    let (pem, key_pem) = make().map_err(|e| format!("cannot make the web certificate: {e}"))?;
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    write_private(&key, &key_pem)?;
    std::fs::write(&cert, pem).map_err(|e| format!("{}: {e}", cert.display()))?;
    Ok((cert, key))
}

fn write_private(path: &Path, bytes: &[u8]) -> Result<(), String> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    f.write_all(bytes)
        .map_err(|e| format!("{}: {e}", path.display()))
}
