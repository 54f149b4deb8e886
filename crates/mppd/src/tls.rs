//! The TLS policy applied to OpenSSL (`mppd_core::tls` decides; this module configures
//! client contexts ([`TlsConnector`]) and `SslAcceptor` builders, checks names, classifies
//! failures and probes).
//!
//! Checks run in this order and the first failure is the one reported: protocol and cipher
//! negotiation, certificate chain (trust, expiry) during the handshake; then the host name and,
//! for provisioning, the certificate-IP check, right after it.

use std::fmt;
use std::fs;
use std::io::{self, Read, Write};
use std::net::{IpAddr, SocketAddr, TcpStream, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::time::Duration;

use mppd_core::tls::{
    CertNames, CipherSource, ClientApp, ClientPolicy, ServerPolicy, TlsVersion, host_matches,
};
use openssl::error::ErrorStack;
use openssl::nid::Nid;
use openssl::ssl::{
    HandshakeError, Ssl, SslAcceptor, SslContext, SslContextBuilder, SslContextRef, SslFiletype,
    SslMethod, SslMode, SslOptions, SslRef, SslVerifyMode, SslVersion,
};
use openssl::x509::X509;
use openssl::x509::store::{X509Lookup, X509StoreBuilder};

use crate::state::StateDir;

/// Why a TLS connection failed, in the order the checks run. The reason ids are the CLI's.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum TlsFailure {
    /// No TCP connection.
    Connect(String),
    /// No common protocol version (alert 70, or our own refusal of the server's version).
    ProtocolAlert(String),
    /// No common cipher suite (alert 40, or nothing to offer).
    NoSharedCipher(String),
    /// The certificate chain does not lead to a trusted root.
    Untrusted(String),
    /// A certificate of the chain has expired.
    Expired(String),
    /// The certificate does not name the server.
    NameMismatch(String),
    /// The server's IP address is not among the DNS addresses of its certificate's name.
    IpMismatch(String),
    /// The server refused the phone's client certificate (or its absence).
    ClientCertRefused(String),
}

impl TlsFailure {
    /// The reason id: `connect`, `protocol-alert`, `no-shared-cipher`, `untrusted`, `expired`,
    /// `name-mismatch`, `ip-mismatch`, `client-cert-refused`.
    pub fn reason_id(&self) -> &'static str {
        match self {
            Self::Connect(_) => "connect",
            Self::ProtocolAlert(_) => "protocol-alert",
            Self::NoSharedCipher(_) => "no-shared-cipher",
            Self::Untrusted(_) => "untrusted",
            Self::Expired(_) => "expired",
            Self::NameMismatch(_) => "name-mismatch",
            Self::IpMismatch(_) => "ip-mismatch",
            Self::ClientCertRefused(_) => "client-cert-refused",
        }
    }

    /// The detail.
    pub fn detail(&self) -> &str {
        match self {
            Self::Connect(d)
            | Self::ProtocolAlert(d)
            | Self::NoSharedCipher(d)
            | Self::Untrusted(d)
            | Self::Expired(d)
            | Self::NameMismatch(d)
            | Self::IpMismatch(d)
            | Self::ClientCertRefused(d) => d,
        }
    }
}

impl fmt::Display for TlsFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.reason_id(), self.detail())
    }
}

/// A local configuration problem: the TLS context could not be built.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum TlsError {
    /// A certificate, key or CA file could not be read or used.
    File {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
    /// OpenSSL refused a setting.
    OpenSsl(String),
}

impl fmt::Display for TlsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::File { path, message } => write!(f, "{}: {message}", path.display()),
            Self::OpenSsl(m) => write!(f, "OpenSSL: {m}"),
        }
    }
}

impl std::error::Error for TlsError {}

impl From<ErrorStack> for TlsError {
    fn from(e: ErrorStack) -> Self {
        Self::OpenSsl(e.to_string())
    }
}

/// A warning about how the policy was applied (never fatal).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsWarning(pub String);

impl fmt::Display for TlsWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

fn ssl_version(v: TlsVersion) -> SslVersion {
    match v {
        TlsVersion::Tls1_0 => SslVersion::TLS1,
        TlsVersion::Tls1_1 => SslVersion::TLS1_1,
        TlsVersion::Tls1_2 => SslVersion::TLS1_2,
        TlsVersion::Tls1_3 => SslVersion::TLS1_3,
    }
}

/// Applies the version floor, security level and cipher list to a context builder. The
/// security level is set before the cipher list, which OpenSSL filters by it.
fn apply_common(
    b: &mut SslContextBuilder,
    min: TlsVersion,
    level: Option<u32>,
    ciphers: &mppd_core::tls::CipherChoice,
    app: &str,
    warnings: &mut Vec<TlsWarning>,
) -> Result<(), TlsError> {
    if let Some(level) = level {
        b.set_security_level(level);
    }
    b.set_min_proto_version(Some(ssl_version(min)))?;
    if let CipherSource::DefaultInvalid(e) = &ciphers.source {
        warnings.push(TlsWarning(format!(
            "TLS_Cipher_List: {e}; {app} uses its default list"
        )));
    }
    if b.set_cipher_list(&ciphers.list).is_err() {
        warnings.push(TlsWarning(format!(
            "TLS_Cipher_List {:?} selects no cipher this OpenSSL supports; {app} uses its default list",
            ciphers.list
        )));
        b.set_cipher_list(&ciphers.fallback)?;
    }
    Ok(())
}

/// A client TLS context built from a policy ([`connector`]); [`TlsConnector::ssl`] starts one
/// connection. Host names are not checked by OpenSSL: [`check_peer`] does it after the
/// handshake, with the policy's rules.
#[derive(Clone, Debug)]
pub struct TlsConnector(SslContext);

impl TlsConnector {
    /// One connection's TLS state, sending `name` as SNI unless it is an IP address literal
    /// (bracketed IPv6 included: RFC 6066 forbids addresses in SNI).
    pub fn ssl(&self, name: &str) -> Result<Ssl, ErrorStack> {
        let mut ssl = Ssl::new(&self.0)?;
        let bare = name
            .strip_prefix('[')
            .and_then(|n| n.strip_suffix(']'))
            .unwrap_or(name);
        if bare.parse::<IpAddr>().is_err() {
            ssl.set_hostname(name)?;
        }
        Ok(ssl)
    }

    /// The context, for inspection (cipher lists, versions).
    pub fn context(&self) -> &SslContextRef {
        &self.0
    }
}

/// A client context with the options of `openssl`'s `SslConnector` (no SSLv2/3, no
/// compression, partial writes, buffers released while idle) but without its trust store,
/// which [`system_trust`] replaces by an on-demand lookup.
fn client_builder() -> Result<SslContextBuilder, ErrorStack> {
    let mut b = SslContextBuilder::new(SslMethod::tls_client())?;
    let opts = (SslOptions::ALL
        | SslOptions::NO_COMPRESSION
        | SslOptions::NO_SSLV2
        | SslOptions::NO_SSLV3
        | SslOptions::SINGLE_DH_USE
        | SslOptions::SINGLE_ECDH_USE)
        & !SslOptions::DONT_INSERT_EMPTY_FRAGMENTS;
    b.set_options(opts);
    b.set_mode(
        SslMode::AUTO_RETRY
            | SslMode::ACCEPT_MOVING_WRITE_BUFFER
            | SslMode::ENABLE_PARTIAL_WRITE
            | SslMode::RELEASE_BUFFERS,
    );
    Ok(b)
}

/// The system's trust anchors, looked up on demand: OpenSSL's certificate directory (hashed
/// links, as Debian's `update-ca-certificates` keeps them) is searched for the issuer a chain
/// needs during the handshake. OpenSSL's default verify paths would instead parse the whole
/// bundle (`cert.pem`, about 140 roots) into memory for every context: about 1 MiB of heap and
/// tens of milliseconds each time.
///
/// As for OpenSSL, `SSL_CERT_DIR` (a `:`-separated list) replaces the directory and a bundle
/// named by `SSL_CERT_FILE` is always loaded too. OpenSSL's default bundle is loaded only when
/// no directory holds hashed links, so trust does not shrink on systems without them. What
/// cannot be read is a warning, and so is ending up with no system root at all.
fn system_trust(b: &mut SslContextBuilder, warnings: &mut Vec<TlsWarning>) -> Result<(), TlsError> {
    let openssl_dir = openssl_dir();
    let dirs: Vec<PathBuf> = match std::env::var_os("SSL_CERT_DIR") {
        Some(v) => std::env::split_paths(&v)
            .filter(|p| !p.as_os_str().is_empty())
            .collect(),
        None => vec![openssl_dir.join("certs")],
    };
    let mut store = X509StoreBuilder::new()?;
    let mut hashed_dirs = 0;
    for dir in dirs.iter().filter(|d| has_hashed_links(d)) {
        let Some(name) = dir.to_str() else {
            warnings.push(TlsWarning(format!(
                "system trust roots: {} is not a UTF-8 path; skipped",
                dir.display()
            )));
            continue;
        };
        // One lookup method serves every directory added to it.
        store
            .add_lookup(X509Lookup::hash_dir())?
            .add_dir(name, SslFiletype::PEM)?;
        hashed_dirs += 1;
    }
    let bundle = match std::env::var_os("SSL_CERT_FILE") {
        Some(f) => Some(PathBuf::from(f)),
        None if hashed_dirs == 0 => Some(openssl_dir.join("cert.pem")),
        None => None,
    };
    let mut from_bundle = 0;
    if let Some(file) = bundle {
        let loaded = fs::read(&file)
            .map_err(|e| e.to_string())
            .and_then(|bytes| X509::stack_from_pem(&bytes).map_err(|e| format!("not PEM: {e}")));
        match loaded {
            Ok(certs) => {
                for cert in certs {
                    // A root listed twice is not an error.
                    if store.add_cert(cert).is_ok() {
                        from_bundle += 1;
                    }
                }
            }
            Err(e) => warnings.push(TlsWarning(format!(
                "system trust roots: {}: {e}",
                file.display()
            ))),
        }
    }
    if hashed_dirs == 0 && from_bundle == 0 {
        warnings.push(TlsWarning(format!(
            "no system trust roots (no hashed certificates in {}, no bundle file); only \
             STATE/ca/*.pem is trusted",
            dirs.iter()
                .map(|d| d.display().to_string())
                .collect::<Vec<_>>()
                .join(":")
        )));
    }
    b.set_cert_store(store.build());
    Ok(())
}

/// OpenSSL's configuration directory (`OPENSSLDIR`, `/usr/lib/ssl` on Debian).
fn openssl_dir() -> PathBuf {
    let dir = openssl::version::dir();
    let dir = dir
        .strip_prefix("OPENSSLDIR:")
        .unwrap_or(dir)
        .trim()
        .trim_matches('"');
    PathBuf::from(if dir.is_empty() { "/usr/lib/ssl" } else { dir })
}

/// Whether a directory holds OpenSSL's hashed certificate links (`8 hex digits.N`).
fn has_hashed_links(dir: &Path) -> bool {
    fs::read_dir(dir).is_ok_and(|entries| {
        entries.flatten().any(|e| {
            let name = e.file_name();
            let name = name.to_string_lossy();
            name.split_once('.').is_some_and(|(hash, n)| {
                hash.len() == 8
                    && hash.bytes().all(|c| c.is_ascii_hexdigit())
                    && n.bytes().all(|c| c.is_ascii_digit())
                    && !n.is_empty()
            })
        })
    })
}

/// Adds `STATE/ca/*.pem` (each file may hold several certificates) to the trust store.
fn add_state_cas(b: &mut SslContextBuilder, state: &StateDir) -> Result<(), TlsError> {
    let dir = state.path().join("ca");
    let Ok(entries) = fs::read_dir(&dir) else {
        return Ok(());
    };
    let mut paths: Vec<PathBuf> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "pem"))
        .collect();
    paths.sort();
    for path in paths {
        let bytes = fs::read(&path).map_err(|e| TlsError::File {
            path: path.clone(),
            message: e.to_string(),
        })?;
        let certs = X509::stack_from_pem(&bytes).map_err(|e| TlsError::File {
            path: path.clone(),
            message: format!("not PEM certificates: {e}"),
        })?;
        for cert in certs {
            // A CA listed twice is not an error.
            let _ = b.cert_store_mut().add_cert(cert);
        }
    }
    Ok(())
}

/// The device certificate and key, when both exist.
pub fn device_credentials(state: &StateDir) -> Option<(PathBuf, PathBuf)> {
    let dir = state.identity_dir();
    let (cert, key) = (dir.join("device.pem"), dir.join("device.key"));
    (cert.exists() && key.exists()).then_some((cert, key))
}

/// Loads a certificate chain and its private key into a context, checking they match.
fn load_credentials(b: &mut SslContextBuilder, cert: &Path, key: &Path) -> Result<(), TlsError> {
    let file_err = |path: &Path, message: String| TlsError::File {
        path: path.to_owned(),
        message,
    };
    b.set_certificate_chain_file(cert)
        .map_err(|e| file_err(cert, e.to_string()))?;
    b.set_private_key_file(key, SslFiletype::PEM)
        .map_err(|e| file_err(key, e.to_string()))?;
    b.check_private_key()
        .map_err(|e| file_err(key, format!("does not match the certificate: {e}")))
}

/// Builds the connector for a client policy: version floor, security level, cipher list, trust
/// (system roots + `STATE/ca/*.pem`), peer verification, and the device certificate when
/// present. Host names are checked by [`check_peer`] after the handshake, not by OpenSSL.
pub fn connector(
    policy: &ClientPolicy,
    state: &StateDir,
) -> Result<(TlsConnector, Vec<TlsWarning>), TlsError> {
    let mut warnings = Vec::new();
    let mut b = client_builder()?;
    system_trust(&mut b, &mut warnings)?;
    apply_common(
        &mut b,
        policy.min_version,
        policy.security_level,
        &policy.ciphers,
        policy.app.name(),
        &mut warnings,
    )?;
    add_state_cas(&mut b, state)?;
    b.set_verify(SslVerifyMode::PEER);
    if let Some((cert, key)) = device_credentials(state) {
        load_credentials(&mut b, &cert, &key)?;
    }
    Ok((TlsConnector(b.build()), warnings))
}

/// Builds the acceptor of the phone's HTTPS server from its policy.
pub fn server_acceptor(
    policy: &ServerPolicy,
    cert: &Path,
    key: &Path,
) -> Result<(SslAcceptor, Vec<TlsWarning>), TlsError> {
    let mut warnings = Vec::new();
    let mut b = SslAcceptor::mozilla_intermediate_v5(SslMethod::tls_server())?;
    // The preset forbids TLS 1.0/1.1; TLS_Server_Min_Version decides instead.
    b.clear_options(SslOptions::NO_TLSV1 | SslOptions::NO_TLSV1_1);
    apply_common(
        &mut b,
        policy.min_version,
        policy.security_level,
        &policy.ciphers,
        "the web server",
        &mut warnings,
    )?;
    load_credentials(&mut b, cert, key)?;
    Ok((b.build(), warnings))
}

/// The names a certificate gives its holder.
pub fn cert_names(cert: &X509) -> CertNames {
    let mut names = CertNames::default();
    if let Some(sans) = cert.subject_alt_names() {
        for san in &sans {
            if let Some(d) = san.dnsname() {
                names.dns.push(d.to_owned());
            } else if let Some(ip) = san.ipaddress() {
                match ip.len() {
                    4 => names.ips.push(IpAddr::from([ip[0], ip[1], ip[2], ip[3]])),
                    16 => {
                        let mut a = [0u8; 16];
                        a.copy_from_slice(ip);
                        names.ips.push(IpAddr::from(a));
                    }
                    _ => {}
                }
            }
        }
    }
    for e in cert.subject_name().entries_by_nid(Nid::COMMONNAME) {
        if let Ok(s) = e.data().to_string() {
            names.cns.push(s);
        }
    }
    names
}

fn describe(names: &CertNames) -> String {
    let mut parts: Vec<String> = names.dns.iter().map(|d| format!("DNS:{d}")).collect();
    parts.extend(names.ips.iter().map(|i| format!("IP:{i}")));
    parts.extend(names.cns.iter().map(|c| format!("CN={c}")));
    if parts.is_empty() {
        "no name".to_owned()
    } else {
        parts.join(", ")
    }
}

/// [`check_peer`] without the certificate-IP check: the host name only (unless the policy
/// skips it). For connections whose server address the certificate-IP check does not apply
/// to: SIP, a proxy, a server reached through a proxy tunnel.
pub fn check_peer_name(
    ssl: &SslRef,
    policy: &ClientPolicy,
    name: &str,
    peer: IpAddr,
) -> Result<(), TlsFailure> {
    let mut names_only = policy.clone();
    names_only.cert_ip_check = false;
    check_peer(ssl, &names_only, name, peer)
}

/// The post-handshake checks: the host name (unless the policy skips it), then for
/// provisioning the certificate-IP check against `peer`.
pub fn check_peer(
    ssl: &SslRef,
    policy: &ClientPolicy,
    name: &str,
    peer: IpAddr,
) -> Result<(), TlsFailure> {
    let Some(cert) = ssl.peer_certificate() else {
        return Err(TlsFailure::Untrusted(
            "the server sent no certificate".to_owned(),
        ));
    };
    let names = cert_names(&cert);
    if policy.verify_host && !host_matches(&names, name, policy.cn_slash_form) {
        return Err(TlsFailure::NameMismatch(format!(
            "the certificate names {} and not {name}",
            describe(&names)
        )));
    }
    if policy.cert_ip_check {
        let bare = name.trim_start_matches('[').trim_end_matches(']');
        let addrs: Vec<IpAddr> = match bare.parse::<IpAddr>() {
            Ok(ip) => vec![ip],
            Err(_) => (bare, 0)
                .to_socket_addrs()
                .map_err(|e| {
                    TlsFailure::IpMismatch(format!(
                        "{name} (the name in the certificate) does not resolve: {e}"
                    ))
                })?
                .map(|a| a.ip())
                .collect(),
        };
        if !addrs.contains(&peer) {
            let list: Vec<String> = addrs.iter().map(ToString::to_string).collect();
            return Err(TlsFailure::IpMismatch(format!(
                "the server is {peer} but {name} resolves to {}",
                list.join(", ")
            )));
        }
    }
    Ok(())
}

/// The client handshake on `io` (a TCP connection, or a tunnel) with `connector`, SNI `name`,
/// within `timeout`. The host name is not checked here: call [`check_peer`] next.
pub async fn handshake<S>(
    connector: &TlsConnector,
    io: S,
    name: &str,
    timeout: Duration,
) -> Result<tokio_openssl::SslStream<S>, TlsFailure>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let ssl = connector
        .ssl(name)
        .map_err(|e| TlsFailure::Connect(format!("TLS setup: {e}")))?;
    let mut stream = tokio_openssl::SslStream::new(ssl, io)
        .map_err(|e| TlsFailure::Connect(format!("TLS setup: {e}")))?;
    match tokio::time::timeout(timeout, std::pin::Pin::new(&mut stream).connect()).await {
        Err(_) => Err(TlsFailure::Connect(
            "the TLS handshake timed out".to_owned(),
        )),
        Ok(Err(e)) => {
            let text = match e.ssl_error() {
                Some(stack) => reasons(stack),
                None => e.to_string(),
            };
            let text = if text.is_empty() {
                "the server closed the connection during the handshake".to_owned()
            } else {
                text
            };
            let v = stream.ssl().verify_result();
            Err(classify(&text, Some((v.as_raw(), v.error_string()))))
        }
        Ok(Ok(())) => Ok(stream),
    }
}

/// The negotiated protocol version and cipher of `ssl`, for logs and status.
pub fn negotiated(ssl: &SslRef) -> (String, String) {
    (
        ssl.version_str().to_owned(),
        ssl.current_cipher()
            .map_or_else(|| "(none)".to_owned(), |c| c.name().to_owned()),
    )
}

/// OpenSSL's reasons of an error stack, `; `-separated.
pub(crate) fn reasons(stack: &ErrorStack) -> String {
    let r: Vec<String> = stack
        .errors()
        .iter()
        .map(|e| e.reason().unwrap_or("unknown error").to_owned())
        .collect();
    r.join("; ")
}

/// Classifies a failed handshake or a TLS error after it.
/// `verify` is the chain verification result (OpenSSL's code and text), when there is one.
pub(crate) fn classify(stack_text: &str, verify: Option<(i32, &str)>) -> TlsFailure {
    let t = stack_text.to_ascii_lowercase();
    if t.contains("certificate verify failed") {
        if let Some((code, text)) = verify {
            // X509_V_ERR_CERT_HAS_EXPIRED
            if code == 10 {
                return TlsFailure::Expired(text.to_owned());
            }
            return TlsFailure::Untrusted(text.to_owned());
        }
        return TlsFailure::Untrusted(stack_text.to_owned());
    }
    let has = |words: &[&str]| words.iter().any(|w| t.contains(w));
    if has(&[
        "alert certificate required",
        "alert bad certificate",
        "alert unknown ca",
        "alert certificate unknown",
        "alert certificate expired",
        "alert certificate revoked",
        "alert unsupported certificate",
        "alert access denied",
    ]) {
        return TlsFailure::ClientCertRefused(stack_text.to_owned());
    }
    if has(&[
        "protocol version",
        "unsupported protocol",
        "no protocols available",
        "wrong version number",
        "version too low",
        "tlsv1 alert inappropriate fallback",
    ]) {
        return TlsFailure::ProtocolAlert(stack_text.to_owned());
    }
    if has(&[
        "handshake failure",
        "no shared cipher",
        "no ciphers available",
        "no cipher match",
        "insufficient security",
    ]) {
        return TlsFailure::NoSharedCipher(stack_text.to_owned());
    }
    TlsFailure::ProtocolAlert(stack_text.to_owned())
}

/// A successful probe.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeOk {
    /// OpenSSL's version name (`TLSv1.2`).
    pub version: String,
    /// OpenSSL's cipher name.
    pub cipher: String,
}

/// Connects to `host:port` with the policy, runs every check in order, and for HTTP
/// applications sends one `GET /` to see whether the server refuses the client certificate.
pub fn probe(
    policy: &ClientPolicy,
    connector: &TlsConnector,
    host: &str,
    port: u16,
    name: &str,
) -> Result<ProbeOk, TlsFailure> {
    let timeout = Duration::from_secs(5);
    let addrs: Vec<SocketAddr> = (host.trim_start_matches('[').trim_end_matches(']'), port)
        .to_socket_addrs()
        .map_err(|e| TlsFailure::Connect(format!("{host}: {e}")))?
        .collect();
    let mut last = format!("{host}: no address");
    let mut tcp = None;
    for a in &addrs {
        match TcpStream::connect_timeout(a, timeout) {
            Ok(s) => {
                tcp = Some(s);
                break;
            }
            Err(e) => last = format!("{a}: {e}"),
        }
    }
    let tcp = tcp.ok_or(TlsFailure::Connect(last))?;
    let peer = tcp
        .peer_addr()
        .map_err(|e| TlsFailure::Connect(e.to_string()))?
        .ip();
    let _ = tcp.set_read_timeout(Some(timeout));
    let _ = tcp.set_write_timeout(Some(timeout));
    let ssl: Ssl = connector
        .ssl(name)
        .map_err(|e| TlsFailure::Connect(format!("TLS setup: {e}")))?;
    let mut stream = match ssl.connect(tcp) {
        Ok(s) => s,
        Err(HandshakeError::Failure(mid)) => {
            let text = match mid.error().ssl_error() {
                Some(stack) => reasons(stack),
                None => mid.error().to_string(),
            };
            let text = if text.is_empty() {
                "the server closed the connection during the handshake".to_owned()
            } else {
                text
            };
            let v = mid.ssl().verify_result();
            return Err(classify(&text, Some((v.as_raw(), v.error_string()))));
        }
        Err(HandshakeError::SetupFailure(e)) => return Err(classify(&reasons(&e), None)),
        Err(HandshakeError::WouldBlock(_)) => {
            return Err(TlsFailure::Connect("handshake timed out".to_owned()));
        }
    };
    check_peer(stream.ssl(), policy, name, peer)?;
    let ok = ProbeOk {
        version: stream.ssl().version_str().to_owned(),
        cipher: stream
            .ssl()
            .current_cipher()
            .map_or("(none)", |c| c.name())
            .to_owned(),
    };
    // A server may refuse the client certificate only after the handshake (TLS 1.3), or at
    // the HTTP layer (nginx: 400 "No required SSL certificate was sent").
    let http = matches!(policy.app, ClientApp::Provisioning | ClientApp::Upload);
    if http {
        let req = format!("GET / HTTP/1.1\r\nHost: {name}\r\nConnection: close\r\n\r\n");
        let _ = stream.write_all(req.as_bytes());
    } else {
        let _ = stream
            .get_ref()
            .set_read_timeout(Some(Duration::from_millis(300)));
    }
    let mut buf = vec![0u8; 8192];
    let mut got = Vec::new();
    loop {
        match stream.ssl_read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                got.extend_from_slice(&buf[..n]);
                if got.len() > 64 * 1024 {
                    break;
                }
            }
            Err(e) => {
                if let Some(stack) = e.ssl_error() {
                    let f = classify(&reasons(stack), None);
                    if matches!(f, TlsFailure::ClientCertRefused(_)) {
                        return Err(f);
                    }
                }
                break;
            }
        }
    }
    let text = String::from_utf8_lossy(&got);
    if http
        && text.starts_with("HTTP/1.1 400")
        && (text.contains("No required SSL certificate was sent")
            || text.contains("The SSL certificate error"))
    {
        return Err(TlsFailure::ClientCertRefused(
            "the server answered 400: no or unacceptable client certificate".to_owned(),
        ));
    }
    Ok(ok)
}

/// An in-memory transport that records what the client sends and never answers.
struct Capture(Vec<u8>);

impl Read for Capture {
    fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
        Err(io::ErrorKind::WouldBlock.into())
    }
}

impl Write for Capture {
    fn write(&mut self, b: &[u8]) -> io::Result<usize> {
        self.0.extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// The suites a client context really offers, read from its ClientHello: TLS 1.2-and-older
/// suites and TLS 1.3 suites, OpenSSL names, in order.
pub fn offered_suites(connector: &TlsConnector) -> Result<(Vec<String>, Vec<String>), TlsError> {
    let ssl = Ssl::new(connector.context())?;
    let hello = match ssl.connect(Capture(Vec::new())) {
        Err(HandshakeError::WouldBlock(mid)) => mid.get_ref().0.clone(),
        Err(HandshakeError::Failure(mid)) => {
            return Err(TlsError::OpenSsl(mid.error().to_string()));
        }
        Err(HandshakeError::SetupFailure(e)) => return Err(e.into()),
        Ok(_) => return Err(TlsError::OpenSsl("unexpected handshake".to_owned())),
    };
    // record(5) handshake header(4) version(2) random(32) session id(1+n) suites(2+n)
    let malformed = || TlsError::OpenSsl("malformed ClientHello".to_owned());
    let sid_len = *hello.get(43).ok_or_else(malformed)? as usize;
    let at = 44 + sid_len;
    let len_bytes = hello.get(at..at + 2).ok_or_else(malformed)?;
    let len = usize::from(u16::from_be_bytes([len_bytes[0], len_bytes[1]]));
    let suites = hello.get(at + 2..at + 2 + len).ok_or_else(malformed)?;
    let list = Ssl::new(connector.context())?.bytes_to_cipher_list(suites, false)?;
    let mut old = Vec::new();
    let mut tls13 = Vec::new();
    for c in &list.suites {
        let name = c.name().to_owned();
        if name.starts_with("TLS_") {
            tls13.push(name);
        } else {
            old.push(name);
        }
    }
    Ok((old, tls13))
}

/// A connector configured like a server policy (used to list what the server accepts).
pub fn server_like_connector(
    policy: &ServerPolicy,
) -> Result<(TlsConnector, Vec<TlsWarning>), TlsError> {
    let mut warnings = Vec::new();
    // Only lists what the server side would accept: no peer is verified.
    let mut b = client_builder()?;
    apply_common(
        &mut b,
        policy.min_version,
        policy.security_level,
        &policy.ciphers,
        "the web server",
        &mut warnings,
    )?;
    Ok((TlsConnector(b.build()), warnings))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_are_classified_by_openssl_reason() {
        let id = |t: &str| classify(t, None).reason_id();
        assert_eq!(id("tlsv1 alert protocol version"), "protocol-alert");
        assert_eq!(id("unsupported protocol"), "protocol-alert");
        assert_eq!(id("sslv3 alert handshake failure"), "no-shared-cipher");
        assert_eq!(id("no ciphers available"), "no-shared-cipher");
        assert_eq!(
            id("tlsv13 alert certificate required"),
            "client-cert-refused"
        );
        assert_eq!(id("tlsv1 alert unknown ca"), "client-cert-refused");
        assert_eq!(id("certificate verify failed"), "untrusted");
        assert_eq!(
            classify(
                "certificate verify failed",
                Some((10, "certificate has expired"))
            )
            .reason_id(),
            "expired"
        );
        assert_eq!(
            classify(
                "certificate verify failed",
                Some((20, "unable to get local issuer certificate"))
            )
            .reason_id(),
            "untrusted"
        );
    }

    #[test]
    fn capture_reads_would_block() {
        let mut c = Capture(Vec::new());
        assert_eq!(c.write(b"x").unwrap(), 1);
        assert_eq!(
            c.read(&mut [0u8; 1]).unwrap_err().kind(),
            io::ErrorKind::WouldBlock
        );
    }
}
