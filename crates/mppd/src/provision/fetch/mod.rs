//! Fetching a provisioning URL over tftp, http or https (SPEC §1, §10, §11;
//! mpp-provisioning §2.2, §3.3).
//!
//! One [`Fetcher::fetch`] call does, in order:
//!
//! 1. the `Restricted_Access_Domains` check on the host (a URL without a host uses the
//!    DHCP-supplied server) — before any name is resolved or any packet sent;
//! 2. resolution through the [`Resolve`] in use (the system resolver by default: `/etc/hosts`,
//!    then DNS). Provisioning uses A records only (SPEC §11); an IP literal is used as it is;
//! 3. the addresses in turn until one answers (redundancy): for http(s) an address that refuses
//!    the TCP connection or does not accept it within the connect timeout is skipped; for tftp
//!    one that sends nothing back within its retransmissions;
//! 4. for https, the TLS policy of provisioning ([`crate::tls::connector`]) with the device
//!    certificate as client certificate, then [`crate::tls::check_peer`]'s host name check and
//!    the certificate-IP check (done here with the same resolver as step 2);
//! 5. HTTP/1.1 with the `User-Agent` of the unit; a 401 is answered with `--uid/--pwd` (Basic, or
//!    Digest RFC 7616 MD5/SHA-256 `qop=auth` unless FIPS mode), at most twice; a 301/302 is
//!    followed (at most [`MAX_REDIRECTS`]) to an http or https target that passes steps 1-4
//!    again — never from https down to http; a 404 is [`FetchError::NotFound`], any other
//!    status outside 2xx [`FetchError::Status`] (mpp-provisioning §3.3);
//! 6. the body, bounded by [`MAX_BODY_BYTES`] while it is read.
//!
//! Every error's text says what failed and never holds a password: it becomes `$ERR` in the
//! syslog failure message.
//!
//! The HTTP proxy (SPEC §18, [`crate::proxy`]) sits at step 2-3 for http and https: the route
//! of the URL (`Proxy_Mode` Off or Manual, or the PAC file's answer in Auto) is tried entry by
//! entry, `DIRECT` as above, a proxy through `CONNECT` (https, the TLS policy applying end to
//! end inside the tunnel) or with the absolute-URI form (http); see [`proxied`]. tftp is never
//! proxied.

mod proxied;

pub(crate) use proxied::route_of_result;
pub use proxied::{MAX_PAC_BYTES, PAC_REFRESH, PAC_RETRY, ProxyDecision, ProxyStatus};

use std::fmt;
use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::sync::Arc;
use std::time::Duration;

use crate::tls::TlsConnector;
use http_body_util::{BodyExt as _, Full};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use mppd_config::Profile;
use mppd_config::identity::DeviceIdentity;
use mppd_config::macros::{MacroContext, MacroScope, expand};
use mppd_config::rule::{ExpandedOptions, Scheme, Url};
use mppd_core::provision::domains::{DomainError, RestrictedDomains};
use mppd_core::proxy::result::ProxyChoice;
use mppd_core::tls::{CertNames, ClientApp, ClientPolicy, client_policy};
use openssl::hash::{MessageDigest, hash};
use tokio::net::{TcpStream, UdpSocket};
use tokio_openssl::SslStream;

use crate::state::StateDir;
use crate::tls::{
    TlsError, TlsFailure, TlsWarning, cert_names, check_peer_name, classify, connector,
};

/// The largest body accepted: a profile of the largest size parsed plus room for compression
/// or encryption overhead.
pub const MAX_BODY_BYTES: usize = mppd_config::xml::MAX_PROFILE_BYTES + 64 * 1024;

/// How many redirects one fetch follows.
pub const MAX_REDIRECTS: u32 = 5;

/// How many times a 401 is answered with credentials (mpp-provisioning §3.3).
pub const MAX_AUTH_RETRIES: u32 = 2;

/// The TFTP block size (RFC 1350).
const TFTP_BLOCK: usize = 512;

/// The request method: a GET for profiles and firmware, PUT or POST with a body for reports.
#[derive(Clone, PartialEq, Eq)]
pub enum Method {
    /// `GET`.
    Get,
    /// `PUT` with this body.
    Put(Vec<u8>),
    /// `POST` with this body.
    Post(Vec<u8>),
}

impl Method {
    /// `GET`, `PUT` or `POST`.
    pub const fn as_str(&self) -> &'static str {
        match self {
            Self::Get => "GET",
            Self::Put(_) => "PUT",
            Self::Post(_) => "POST",
        }
    }

    fn body(&self) -> Option<&[u8]> {
        match self {
            Self::Get => None,
            Self::Put(b) | Self::Post(b) => Some(b),
        }
    }
}

/// The body is not shown (a report may hold configuration).
impl fmt::Debug for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.body() {
            None => f.write_str(self.as_str()),
            Some(b) => write!(f, "{}({} bytes)", self.as_str(), b.len()),
        }
    }
}

/// What a successful fetch got, and from where (the request macros `$SCHEME`, `$SERV`,
/// `$SERVIP`, `$PORT`, `$PATH` of the final request).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fetched {
    /// The body (empty for a tftp transfer of an empty file or an HTTP answer without one).
    pub body: Vec<u8>,
    /// The HTTP status (2xx); 200 for tftp.
    pub status: u16,
    /// The scheme of the final request.
    pub scheme: Scheme,
    /// The host of the final request, as the URL (or the redirect) names it.
    pub host: String,
    /// The address actually connected to (`$SERVIP`).
    pub ip: IpAddr,
    /// The port connected to.
    pub port: u16,
    /// The path of the final request, after redirects.
    pub path: String,
    /// How many redirects were followed.
    pub redirects: u32,
    /// The HTTP proxy the final request went through (`PROXY host:port`), `None` when direct;
    /// [`Fetched::ip`] is then the proxy's address.
    pub proxy: Option<String>,
}

/// Why a fetch failed. The `Display` text is `$ERR`: precise, and never a password.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum FetchError {
    /// The host (of the URL or of a redirect target) is outside `Restricted_Access_Domains`.
    NotAllowed(DomainError),
    /// The URL names no server and DHCP supplied none.
    NoServer,
    /// The host name did not resolve to an address the phone may use.
    Resolve {
        /// The host.
        host: String,
        /// Why.
        reason: String,
    },
    /// No address of the host answered.
    Unreachable {
        /// The host.
        host: String,
        /// Each address tried and why it failed.
        tried: Vec<(SocketAddr, String)>,
    },
    /// The TLS connection to `addr` failed.
    Tls {
        /// The server address.
        addr: SocketAddr,
        /// Which check failed.
        failure: TlsFailure,
    },
    /// An HTTP status outside 2xx other than 301/302, 401 and 404.
    Status {
        /// The status code.
        code: u16,
    },
    /// HTTP 404, or a TFTP "file not found" error.
    NotFound,
    /// HTTP 401 with no credentials, or still 401 after answering with them.
    Unauthorized,
    /// More than [`MAX_REDIRECTS`] redirects.
    TooManyRedirects,
    /// A redirect without a usable target (no `Location`, a scheme other than http/https, a
    /// downgrade from https to http, credentials in the URL).
    BadRedirect(String),
    /// The body is larger than [`MAX_BODY_BYTES`] (or the bound of [`Fetcher::fetch_limited`]).
    TooLarge,
    /// The request did not complete in time.
    Timeout,
    /// A TFTP transfer failed.
    Tftp(String),
    /// The server asks for Digest authentication, which FIPS mode disables.
    DigestRefusedInFips,
    /// Something the fetcher does not do (a scheme, an HTTP failure of the connection).
    Unsupported(String),
    /// The HTTP proxy could not be used: unreachable, or it refused the tunnel.
    Proxy {
        /// The proxy, as `PROXY host:port`.
        proxy: String,
        /// Why.
        reason: String,
    },
    /// The HTTP proxy asked for credentials (407) that the phone does not have or that it
    /// refused.
    ProxyAuth {
        /// The proxy, as `PROXY host:port`.
        proxy: String,
        /// Why.
        reason: String,
    },
}

impl fmt::Display for FetchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotAllowed(e) => write!(f, "{e}"),
            Self::NoServer => f.write_str("the URL names no server and DHCP supplied none"),
            Self::Resolve { host, reason } => write!(f, "cannot resolve {host}: {reason}"),
            Self::Unreachable { host, tried } => {
                write!(f, "no server of {host} answered")?;
                if !tried.is_empty() {
                    let list: Vec<String> =
                        tried.iter().map(|(a, why)| format!("{a}: {why}")).collect();
                    write!(f, " ({})", list.join("; "))?;
                }
                Ok(())
            }
            Self::Tls { addr, failure } => write!(f, "TLS with {addr} failed: {failure}"),
            Self::Status { code } => write!(f, "HTTP status {code}"),
            Self::NotFound => f.write_str("file not found (HTTP 404)"),
            Self::Unauthorized => f.write_str("authentication failed (HTTP 401)"),
            Self::TooManyRedirects => write!(f, "more than {MAX_REDIRECTS} redirects"),
            Self::BadRedirect(why) => write!(f, "redirect refused: {why}"),
            Self::TooLarge => write!(f, "the body is larger than {MAX_BODY_BYTES} bytes"),
            Self::Timeout => f.write_str("the request timed out"),
            Self::Tftp(why) => write!(f, "tftp: {why}"),
            Self::DigestRefusedInFips => {
                f.write_str("the server requires HTTP Digest authentication, disabled in FIPS mode")
            }
            Self::Unsupported(why) => f.write_str(why),
            Self::Proxy { proxy, reason } => write!(f, "HTTP proxy {proxy}: {reason}"),
            Self::ProxyAuth { proxy, reason } => {
                write!(f, "HTTP proxy {proxy} authentication failed: {reason}")
            }
        }
    }
}

impl std::error::Error for FetchError {}

impl From<DomainError> for FetchError {
    fn from(e: DomainError) -> Self {
        Self::NotAllowed(e)
    }
}

/// Name resolution for provisioning hosts: the addresses of `host` (a name, never an IP
/// literal), in the order they are to be tried. Blocking is allowed: it runs on tokio's
/// blocking pool. The seam for a resolver with its own name server (hickory) and for tests.
pub trait Resolve: Send + Sync {
    /// The addresses of `host`, or why there are none.
    fn resolve(&self, host: &str) -> Result<Vec<IpAddr>, String>;
}

/// The system resolver (`getaddrinfo`: `/etc/hosts`, then DNS per `nsswitch.conf`).
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemResolver;

impl Resolve for SystemResolver {
    fn resolve(&self, host: &str) -> Result<Vec<IpAddr>, String> {
        let mut out: Vec<IpAddr> = Vec::new();
        for a in (host, 0).to_socket_addrs().map_err(|e| e.to_string())? {
            if !out.contains(&a.ip()) {
                out.push(a.ip());
            }
        }
        Ok(out)
    }
}

impl<F> Resolve for F
where
    F: Fn(&str) -> Result<Vec<IpAddr>, String> + Send + Sync,
{
    fn resolve(&self, host: &str) -> Result<Vec<IpAddr>, String> {
        self(host)
    }
}

/// The time limits of one attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// TCP connection and TLS handshake, per address.
    pub connect: Duration,
    /// One whole request (connection, TLS, request, body), per address.
    pub total: Duration,
    /// TFTP: wait for a packet before retransmitting.
    pub tftp_retransmit: Duration,
    /// TFTP: retransmissions of one packet before giving up.
    pub tftp_retries: u32,
}

impl Default for Timeouts {
    fn default() -> Self {
        Self {
            connect: Duration::from_secs(10),
            total: Duration::from_secs(30),
            tftp_retransmit: Duration::from_secs(1),
            tftp_retries: 4,
        }
    }
}

/// Fetches provisioning URLs with the profile's policy. Build one per resync (it holds the TLS
/// context made from the state directory at that time).
pub struct Fetcher {
    connector: TlsConnector,
    policy: ClientPolicy,
    domains: RestrictedDomains,
    user_agent: String,
    fips: bool,
    resolver: Arc<dyn Resolve>,
    timeouts: Timeouts,
    identity: DeviceIdentity,
    proxy: proxied::ProxyState,
}

impl fmt::Debug for Fetcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Fetcher")
            .field("policy", &self.policy)
            .field("domains", &self.domains)
            .field("user_agent", &self.user_agent)
            .field("fips", &self.fips)
            .field("timeouts", &self.timeouts)
            .field("proxy", &self.proxy.settings)
            .finish_non_exhaustive()
    }
}

/// One HTTP response as the fetch loop needs it.
struct Response {
    status: u16,
    location: Option<String>,
    authenticate: Vec<String>,
    body: Vec<u8>,
    ip: IpAddr,
    /// The proxy the request went through.
    proxy: Option<String>,
    /// `Proxy-Authenticate` challenges (a 407 from the proxy).
    proxy_authenticate: bool,
}

/// The current target of the fetch loop.
#[derive(Debug, Clone)]
struct Target {
    scheme: Scheme,
    host: String,
    port: u16,
    path: String,
}

impl Fetcher {
    /// From the profile in force and the state dir: the provisioning TLS policy, the trust store
    /// (system roots + `STATE/ca/*.pem`), the device certificate as client certificate,
    /// `Restricted_Access_Domains`, the User-Agent (`HTTP_User_Agent_Name` with its macros
    /// expanded, else [`DeviceIdentity::user_agent`]) and FIPS mode.
    pub fn new(
        profile: &Profile,
        state: &StateDir,
        identity: &DeviceIdentity,
    ) -> Result<(Self, Vec<TlsWarning>), TlsError> {
        let policy = client_policy(profile, ClientApp::Provisioning);
        let (connector, warnings) = connector(&policy, state)?;
        let domains = RestrictedDomains::parse(
            profile
                .effective("Restricted_Access_Domains")
                .as_deref()
                .unwrap_or(""),
        );
        let fetcher = Self {
            connector,
            fips: policy.fips,
            policy,
            domains,
            user_agent: user_agent(profile, identity),
            resolver: Arc::new(SystemResolver),
            timeouts: Timeouts::default(),
            identity: identity.clone(),
            proxy: proxied::ProxyState::new(crate::proxy::ProxySettings::from_profile(profile)),
        };
        Ok((fetcher, warnings))
    }

    /// Uses `resolver` for host names (and for the certificate-IP check) instead of the
    /// system's.
    #[must_use]
    pub fn with_resolver(mut self, resolver: Arc<dyn Resolve>) -> Self {
        self.resolver = resolver;
        self
    }

    /// Uses other time limits.
    #[must_use]
    pub fn with_timeouts(mut self, timeouts: Timeouts) -> Self {
        self.timeouts = timeouts;
        self
    }

    /// Whether FIPS mode is on (no MD5 key derivation, no Digest).
    pub fn fips(&self) -> bool {
        self.fips
    }

    /// The User-Agent sent.
    pub fn user_agent(&self) -> &str {
        &self.user_agent
    }

    /// The restricted domains enforced.
    pub fn domains(&self) -> &RestrictedDomains {
        &self.domains
    }

    /// Fetches `url` (see the module documentation for every step). `dhcp_server` is the
    /// server DHCP supplied, used when the URL names none.
    pub async fn fetch(
        &self,
        url: &Url,
        opts: &ExpandedOptions,
        method: Method,
        dhcp_server: Option<&str>,
    ) -> Result<Fetched, FetchError> {
        self.fetch_limited(url, opts, method, dhcp_server, MAX_BODY_BYTES)
            .await
    }

    /// [`Fetcher::fetch`] with another bound on the body than [`MAX_BODY_BYTES`] (firmware
    /// images are larger than profiles): a body over `max_bytes` is [`FetchError::TooLarge`].
    pub async fn fetch_limited(
        &self,
        url: &Url,
        opts: &ExpandedOptions,
        method: Method,
        dhcp_server: Option<&str>,
        max_bytes: usize,
    ) -> Result<Fetched, FetchError> {
        self.fetch_via(url, opts, method, dhcp_server, max_bytes, true)
            .await
    }

    /// The fetch, through the HTTP proxy when `use_proxy` (the PAC file itself is fetched
    /// direct).
    async fn fetch_via(
        &self,
        url: &Url,
        opts: &ExpandedOptions,
        method: Method,
        dhcp_server: Option<&str>,
        max_bytes: usize,
        use_proxy: bool,
    ) -> Result<Fetched, FetchError> {
        let host = match (&url.host, dhcp_server) {
            (Some(h), _) if !h.is_empty() => h.clone(),
            (_, Some(d)) if !d.trim().is_empty() => d.trim().to_owned(),
            _ => return Err(FetchError::NoServer),
        };
        let mut target = Target {
            scheme: url.scheme,
            host,
            port: url.effective_port(),
            path: if url.path.is_empty() {
                "/".to_owned()
            } else {
                url.path.clone()
            },
        };
        if target.scheme == Scheme::Gds {
            return Err(FetchError::Unsupported(
                "gds:// (activation-code onboarding) is not supported".to_owned(),
            ));
        }
        let mut redirects = 0;
        'redirect: loop {
            self.domains.check(&target.host)?;
            if target.scheme == Scheme::Tftp {
                let addrs = self.resolve(&target.host).await?;
                if method != Method::Get {
                    return Err(FetchError::Unsupported(format!(
                        "{} over tftp is not supported",
                        method.as_str()
                    )));
                }
                let (body, ip) = self.tftp_any(&target, &addrs, max_bytes).await?;
                return Ok(Fetched {
                    body,
                    status: 200,
                    scheme: target.scheme,
                    host: target.host,
                    ip,
                    port: target.port,
                    path: target.path,
                    redirects,
                    proxy: None,
                });
            }
            let routes = if use_proxy {
                self.route_of(&target).await
            } else {
                vec![ProxyChoice::Direct]
            };
            let mut authorization: Option<String> = None;
            let mut auth_tries = 0;
            loop {
                let resp = self
                    .http_routes(
                        &target,
                        &routes,
                        &method,
                        authorization.as_deref(),
                        max_bytes,
                    )
                    .await?;
                match resp.status {
                    200..=299 => {
                        return Ok(Fetched {
                            body: resp.body,
                            status: resp.status,
                            scheme: target.scheme,
                            host: target.host,
                            ip: resp.ip,
                            port: target.port,
                            path: target.path,
                            redirects,
                            proxy: resp.proxy,
                        });
                    }
                    301 | 302 => {
                        redirects += 1;
                        if redirects > MAX_REDIRECTS {
                            return Err(FetchError::TooManyRedirects);
                        }
                        let location = resp.location.ok_or_else(|| {
                            FetchError::BadRedirect(format!(
                                "HTTP {} without a Location header",
                                resp.status
                            ))
                        })?;
                        target = redirect_target(&target, &location)?;
                        continue 'redirect;
                    }
                    401 => {
                        let (Some(uid), Some(pwd)) = (&opts.uid, &opts.pwd) else {
                            return Err(FetchError::Unauthorized);
                        };
                        if auth_tries >= MAX_AUTH_RETRIES {
                            return Err(FetchError::Unauthorized);
                        }
                        auth_tries += 1;
                        authorization = Some(authorization_for(
                            &resp.authenticate,
                            self.fips,
                            uid,
                            pwd,
                            method.as_str(),
                            &target.path,
                        )?);
                    }
                    404 => return Err(FetchError::NotFound),
                    code => return Err(FetchError::Status { code }),
                }
            }
        }
    }

    /// The addresses to try for `host`: the literal itself, or its A records.
    async fn resolve(&self, host: &str) -> Result<Vec<IpAddr>, FetchError> {
        let bare = unbracket(host);
        if let Ok(ip) = bare.parse::<IpAddr>() {
            return Ok(vec![ip]);
        }
        let all = self
            .lookup(bare)
            .await
            .map_err(|reason| FetchError::Resolve {
                host: host.to_owned(),
                reason,
            })?;
        let v4: Vec<IpAddr> = all.into_iter().filter(IpAddr::is_ipv4).collect();
        if v4.is_empty() {
            return Err(FetchError::Resolve {
                host: host.to_owned(),
                reason: "no A record".to_owned(),
            });
        }
        Ok(v4)
    }

    /// The resolver's answer, run on the blocking pool.
    async fn lookup(&self, name: &str) -> Result<Vec<IpAddr>, String> {
        let resolver = Arc::clone(&self.resolver);
        let name = name.to_owned();
        tokio::task::spawn_blocking(move || resolver.resolve(&name))
            .await
            .map_err(|e| format!("resolver task failed: {e}"))?
    }

    /// Tries each address until one answers; a TLS failure or an HTTP answer ends the search
    /// (a server answered).
    async fn http_any(
        &self,
        target: &Target,
        addrs: &[IpAddr],
        method: &Method,
        authorization: Option<&str>,
        max_bytes: usize,
    ) -> Result<Response, FetchError> {
        let mut tried = Vec::new();
        for &ip in addrs {
            let addr = SocketAddr::new(ip, target.port);
            let tcp =
                match tokio::time::timeout(self.timeouts.connect, TcpStream::connect(addr)).await {
                    Ok(Ok(s)) => s,
                    Ok(Err(e)) => {
                        tried.push((addr, e.to_string()));
                        continue;
                    }
                    Err(_) => {
                        tried.push((addr, "connection timed out".to_owned()));
                        continue;
                    }
                };
            let request = self.http_one(tcp, addr, target, method, authorization, max_bytes);
            return match tokio::time::timeout(self.timeouts.total, request).await {
                Ok(r) => r,
                Err(_) => Err(FetchError::Timeout),
            };
        }
        Err(FetchError::Unreachable {
            host: target.host.clone(),
            tried,
        })
    }

    /// One request on a connected socket.
    async fn http_one(
        &self,
        tcp: TcpStream,
        addr: SocketAddr,
        target: &Target,
        method: &Method,
        authorization: Option<&str>,
        max_bytes: usize,
    ) -> Result<Response, FetchError> {
        if target.scheme == Scheme::Https {
            let name = unbracket(&target.host);
            let stream = self.tls_handshake(tcp, name, addr).await?;
            self.check_server(&stream, name, addr.ip())
                .await
                .map_err(|failure| FetchError::Tls { addr, failure })?;
            let resp = self
                .exchange(stream, addr, target, method, authorization, max_bytes)
                .await?;
            client_cert_refused(resp, addr)
        } else {
            self.exchange(tcp, addr, target, method, authorization, max_bytes)
                .await
        }
    }

    /// The TLS handshake with the provisioning policy on `io` (a TCP connection, or a tunnel
    /// through a proxy), SNI `name`; `addr` names the server in errors. The host name is
    /// checked afterwards by the caller.
    async fn tls_handshake<S>(
        &self,
        io: S,
        name: &str,
        addr: SocketAddr,
    ) -> Result<SslStream<S>, FetchError>
    where
        S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
    {
        crate::tls::handshake(&self.connector, io, name, self.timeouts.connect)
            .await
            .map_err(|failure| FetchError::Tls { addr, failure })
    }

    /// The host name check of [`check_peer`], then the certificate-IP check (SPEC §10) with
    /// this fetcher's resolver, so that it agrees with the addresses connected to: the server's
    /// address must be among the addresses of the server name in the certificate. For a URL
    /// naming the server by name that is the URL's host (the certificate names it); for a URL
    /// giving an IP literal, the certificate's DNS names (SAN, else the host part of the CN;
    /// wildcards cannot be resolved and are skipped) — a certificate with none is checked by
    /// its IP SAN alone.
    async fn check_server<S>(
        &self,
        stream: &SslStream<S>,
        host: &str,
        peer: IpAddr,
    ) -> Result<(), TlsFailure> {
        check_peer_name(stream.ssl(), &self.policy, host, peer)?;
        if !self.policy.cert_ip_check {
            return Ok(());
        }
        let names: Vec<String> = if host.parse::<IpAddr>().is_ok() {
            stream
                .ssl()
                .peer_certificate()
                .map(|c| cert_dns_names(&cert_names(&c)))
                .unwrap_or_default()
        } else {
            vec![host.to_owned()]
        };
        let mut addrs: Vec<IpAddr> = Vec::new();
        for name in &names {
            let found = self.lookup(name).await.map_err(|e| {
                TlsFailure::IpMismatch(format!(
                    "{name} (the name in the certificate) does not resolve: {e}"
                ))
            })?;
            addrs.extend(found);
        }
        if names.is_empty() || addrs.contains(&peer) {
            Ok(())
        } else {
            let list: Vec<String> = addrs.iter().map(ToString::to_string).collect();
            Err(TlsFailure::IpMismatch(format!(
                "the server is {peer} but {} resolves to {}",
                names.join(", "),
                list.join(", ")
            )))
        }
    }

    /// Sends the request and reads the response, the body bounded by `max_bytes`.
    async fn exchange<S>(
        &self,
        io: S,
        addr: SocketAddr,
        target: &Target,
        method: &Method,
        authorization: Option<&str>,
        max_bytes: usize,
    ) -> Result<Response, FetchError>
    where
        S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
    {
        self.exchange_with(
            io,
            addr,
            target,
            &target.path,
            method,
            authorization,
            None,
            max_bytes,
        )
        .await
    }

    /// [`Self::exchange`] with the request target `uri` (the absolute form through a proxy)
    /// and a `Proxy-Authorization` value.
    #[allow(clippy::too_many_arguments)]
    async fn exchange_with<S>(
        &self,
        io: S,
        addr: SocketAddr,
        target: &Target,
        uri: &str,
        method: &Method,
        authorization: Option<&str>,
        proxy_authorization: Option<&str>,
        max_bytes: usize,
    ) -> Result<Response, FetchError>
    where
        S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
    {
        let conn_err = |what: &str, e: &hyper::Error| -> FetchError {
            if let Some(f) = tls_failure_in(e) {
                return FetchError::Tls { addr, failure: f };
            }
            FetchError::Unsupported(format!(
                "HTTP {what} with {addr} failed: {}",
                error_chain(e)
            ))
        };
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(io))
            .await
            .map_err(|e| conn_err("connection", &e))?;
        let driver = tokio::spawn(conn);
        let _abort = AbortOnDrop(driver.abort_handle());

        let mut builder = http::Request::builder()
            .method(method.as_str())
            .uri(uri)
            .header(http::header::HOST, host_header(target))
            .header(http::header::USER_AGENT, self.user_agent.as_str())
            .header(http::header::ACCEPT, "*/*")
            .header(http::header::CONNECTION, "close");
        if let Some(a) = authorization {
            builder = builder.header(http::header::AUTHORIZATION, a);
        }
        if let Some(a) = proxy_authorization {
            builder = builder.header(http::header::PROXY_AUTHORIZATION, a);
        }
        let body = method.body().map(<[u8]>::to_vec).unwrap_or_default();
        if method.body().is_some() {
            builder = builder.header(http::header::CONTENT_LENGTH, body.len());
        }
        let request = builder
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| FetchError::Unsupported(format!("cannot build the request: {e}")))?;
        let response = sender
            .send_request(request)
            .await
            .map_err(|e| conn_err("request", &e))?;
        let status = response.status().as_u16();
        let headers = response.headers();
        let location = headers
            .get(http::header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let authenticate: Vec<String> = headers
            .get_all(http::header::WWW_AUTHENTICATE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .map(str::to_owned)
            .collect();
        let proxy_authenticate = headers.contains_key(http::header::PROXY_AUTHENTICATE);
        let declared = headers
            .get(http::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok());
        if declared.is_some_and(|n| n > max_bytes as u64) {
            return Err(FetchError::TooLarge);
        }
        let mut body = response.into_body();
        let mut out = Vec::new();
        while let Some(frame) = body.frame().await {
            let frame = frame.map_err(|e| conn_err("body", &e))?;
            if let Ok(data) = frame.into_data() {
                if out.len() + data.len() > max_bytes {
                    return Err(FetchError::TooLarge);
                }
                out.extend_from_slice(&data);
            }
        }
        Ok(Response {
            status,
            location,
            authenticate,
            body: out,
            ip: addr.ip(),
            proxy: None,
            proxy_authenticate,
        })
    }

    /// TFTP from each address in turn until one answers.
    async fn tftp_any(
        &self,
        target: &Target,
        addrs: &[IpAddr],
        max_bytes: usize,
    ) -> Result<(Vec<u8>, IpAddr), FetchError> {
        let mut tried = Vec::new();
        for &ip in addrs {
            let addr = SocketAddr::new(ip, target.port);
            let transfer = tftp_get(addr, &target.path, self.timeouts, max_bytes);
            match tokio::time::timeout(self.timeouts.total, transfer).await {
                Err(_) => return Err(FetchError::Timeout),
                Ok(Ok(body)) => return Ok((body, ip)),
                Ok(Err(TftpFailure::NoAnswer(why))) => tried.push((addr, why)),
                Ok(Err(TftpFailure::Failed(e))) => return Err(e),
            }
        }
        Err(FetchError::Unreachable {
            host: target.host.clone(),
            tried,
        })
    }
}

/// Aborts the connection task when the request is done or abandoned.
struct AbortOnDrop(tokio::task::AbortHandle);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// The User-Agent: `HTTP_User_Agent_Name` with its macros expanded, else the default.
/// nginx answers a missing or refused client certificate with a 400 page: that is a TLS
/// failure of the device certificate, not an HTTP answer.
fn client_cert_refused(resp: Response, addr: SocketAddr) -> Result<Response, FetchError> {
    if resp.status == 400 {
        let text = String::from_utf8_lossy(&resp.body);
        if text.contains("No required SSL certificate was sent")
            || text.contains("The SSL certificate error")
        {
            return Err(FetchError::Tls {
                addr,
                failure: TlsFailure::ClientCertRefused(
                    "the server answered 400: no or unacceptable client certificate".to_owned(),
                ),
            });
        }
    }
    Ok(resp)
}

fn user_agent(profile: &Profile, identity: &DeviceIdentity) -> String {
    let configured = profile
        .effective("HTTP_User_Agent_Name")
        .map(|v| v.trim().to_owned())
        .unwrap_or_default();
    if configured.is_empty() {
        return identity.user_agent();
    }
    let gpp: Vec<String> = (b'A'..=b'P')
        .map(|l| {
            profile
                .effective(&format!("GPP_{}", l as char))
                .map(|v| v.into_owned())
                .unwrap_or_default()
        })
        .collect();
    let mut ctx = MacroContext::new(identity);
    for (slot, v) in ctx.gpp.iter_mut().zip(&gpp) {
        *slot = v;
    }
    let ua = expand(&configured, &ctx, MacroScope::Text);
    // A header value cannot hold control characters.
    ua.chars().filter(|c| !c.is_control()).collect()
}

/// The resolvable DNS names of a certificate: its DNS SANs, else the host part of its CNs
/// (`host/anything`, SPEC §10); wildcards and IP-looking names left out.
fn cert_dns_names(names: &CertNames) -> Vec<String> {
    let candidates: Vec<&str> = if names.dns.is_empty() {
        names
            .cns
            .iter()
            .map(|cn| cn.split('/').next().unwrap_or(""))
            .collect()
    } else {
        names.dns.iter().map(String::as_str).collect()
    };
    let mut out: Vec<String> = Vec::new();
    for n in candidates {
        let n = n.trim().trim_end_matches('.');
        if n.is_empty() || n.contains('*') || n.contains(' ') || n.parse::<IpAddr>().is_ok() {
            continue;
        }
        if !out.iter().any(|o| o.eq_ignore_ascii_case(n)) {
            out.push(n.to_owned());
        }
    }
    out
}

fn unbracket(host: &str) -> &str {
    host.strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host)
}

/// `host[:port]`, the port only when it is not the scheme's default; IPv6 in brackets.
fn host_header(t: &Target) -> String {
    let bare = unbracket(&t.host);
    let host = if bare.contains(':') {
        format!("[{bare}]")
    } else {
        bare.to_owned()
    };
    if Some(t.port) == t.scheme.default_port() {
        host
    } else {
        format!("{host}:{}", t.port)
    }
}

/// An error and its sources, `: `-separated.
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        let t = c.to_string();
        if !s.contains(&t) {
            s.push_str(": ");
            s.push_str(&t);
        }
        cur = c.source();
    }
    s
}

/// A TLS alert after the handshake (a TLS 1.3 server refusing the client certificate) found in
/// a connection error.
fn tls_failure_in(e: &hyper::Error) -> Option<TlsFailure> {
    let text = error_chain(e);
    let lower = text.to_ascii_lowercase();
    (lower.contains("alert") || lower.contains("ssl")).then(|| classify(&text, None))
}

/// The request after a 301/302 to `location`: http or https only, never down from https to
/// http, no credentials in the URL. A relative location is resolved against `current`.
fn redirect_target(current: &Target, location: &str) -> Result<Target, FetchError> {
    let location = location.trim();
    let location = location.split('#').next().unwrap_or("");
    if location.is_empty() {
        return Err(FetchError::BadRedirect("an empty Location".to_owned()));
    }
    if location.chars().any(|c| c.is_control() || c == ' ') {
        return Err(FetchError::BadRedirect(format!(
            "an invalid Location {location:?}"
        )));
    }
    let bad = |why: String| FetchError::BadRedirect(why);
    let next = if let Some((scheme, _)) = location.split_once("://") {
        let uri: http::Uri = location
            .parse()
            .map_err(|e| bad(format!("an invalid Location {location:?}: {e}")))?;
        let scheme = match scheme.to_ascii_lowercase().as_str() {
            "http" => Scheme::Http,
            "https" => Scheme::Https,
            other => {
                return Err(bad(format!(
                    "to {other}://, only http and https are followed"
                )));
            }
        };
        let authority = uri
            .authority()
            .ok_or_else(|| bad(format!("no host in {location:?}")))?;
        if authority.as_str().contains('@') {
            return Err(bad("a Location with credentials".to_owned()));
        }
        let host = unbracket(authority.host()).to_owned();
        let port = authority
            .port_u16()
            .or_else(|| scheme.default_port())
            .unwrap_or(0);
        let path = uri
            .path_and_query()
            .map_or_else(|| "/".to_owned(), |p| p.as_str().to_owned());
        Target {
            scheme,
            host,
            port,
            path,
        }
    } else if location.starts_with("//") {
        let abs = format!("{}:{location}", current.scheme);
        return redirect_target(current, &abs);
    } else if location.starts_with('/') {
        Target {
            path: location.to_owned(),
            ..current.clone()
        }
    } else {
        let base = current.path.split('?').next().unwrap_or("/");
        let dir = base.rfind('/').map_or("/", |i| &base[..=i]);
        Target {
            path: format!("{dir}{location}"),
            ..current.clone()
        }
    };
    if current.scheme == Scheme::Https && next.scheme == Scheme::Http {
        return Err(bad(format!(
            "from https down to http ({}://{}{})",
            next.scheme, next.host, next.path
        )));
    }
    if next.host.is_empty() {
        return Err(bad(format!("no host in {location:?}")));
    }
    Ok(next)
}

// --- HTTP authentication -------------------------------------------------------------------

/// The `Authorization` value answering the server's challenges: Digest (SHA-256 preferred
/// over MD5) unless FIPS mode, else Basic.
fn authorization_for(
    challenges: &[String],
    fips: bool,
    uid: &str,
    pwd: &str,
    method: &str,
    uri: &str,
) -> Result<String, FetchError> {
    let parsed: Vec<Challenge> = challenges
        .iter()
        .flat_map(|c| parse_challenges(c))
        .collect();
    let digest = |alg: DigestAlg| {
        parsed
            .iter()
            .find(|c| c.scheme.eq_ignore_ascii_case("digest") && c.algorithm() == Some(alg))
    };
    let basic = parsed
        .iter()
        .any(|c| c.scheme.eq_ignore_ascii_case("basic"));
    let any_digest = parsed
        .iter()
        .any(|c| c.scheme.eq_ignore_ascii_case("digest"));
    if !fips {
        for alg in [
            DigestAlg::Sha256Sess,
            DigestAlg::Sha256,
            DigestAlg::Md5Sess,
            DigestAlg::Md5,
        ] {
            if let Some(c) = digest(alg) {
                return digest_authorization(c, alg, uid, pwd, method, uri, &cnonce());
            }
        }
    }
    if basic || parsed.is_empty() {
        return Ok(basic_authorization(uid, pwd));
    }
    if any_digest && fips {
        return Err(FetchError::DigestRefusedInFips);
    }
    let schemes: Vec<&str> = parsed.iter().map(|c| c.scheme.as_str()).collect();
    Err(FetchError::Unsupported(format!(
        "the server asks for HTTP authentication the phone does not do ({})",
        schemes.join(", ")
    )))
}

/// `Basic base64(uid:pwd)`.
pub(crate) fn basic_authorization(uid: &str, pwd: &str) -> String {
    format!(
        "Basic {}",
        openssl::base64::encode_block(format!("{uid}:{pwd}").as_bytes())
    )
}

/// One challenge of a `WWW-Authenticate` header.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Challenge {
    scheme: String,
    params: Vec<(String, String)>,
}

impl Challenge {
    fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The Digest algorithm (MD5 when absent); `None` for one the phone does not do.
    fn algorithm(&self) -> Option<DigestAlg> {
        match self
            .param("algorithm")
            .unwrap_or("MD5")
            .to_ascii_uppercase()
            .as_str()
        {
            "MD5" => Some(DigestAlg::Md5),
            "MD5-SESS" => Some(DigestAlg::Md5Sess),
            "SHA-256" => Some(DigestAlg::Sha256),
            "SHA-256-SESS" => Some(DigestAlg::Sha256Sess),
            _ => None,
        }
    }
}

/// Parses a `WWW-Authenticate` value, which may hold several challenges
/// (`Digest realm="a", nonce="b", Basic realm="c"`).
fn parse_challenges(value: &str) -> Vec<Challenge> {
    let mut out: Vec<Challenge> = Vec::new();
    let b = value.as_bytes();
    let mut i = 0;
    let skip = |i: &mut usize| {
        while *i < b.len() && (b[*i] == b' ' || b[*i] == b'\t' || b[*i] == b',') {
            *i += 1;
        }
    };
    let token = |i: &mut usize| {
        let start = *i;
        while *i < b.len() && !matches!(b[*i], b' ' | b'\t' | b',' | b'=') {
            *i += 1;
        }
        value[start..*i].to_owned()
    };
    loop {
        skip(&mut i);
        if i >= b.len() {
            break;
        }
        let word = token(&mut i);
        // Look past spaces for `=`: a parameter of the current challenge.
        let mut j = i;
        while j < b.len() && (b[j] == b' ' || b[j] == b'\t') {
            j += 1;
        }
        if j < b.len() && b[j] == b'=' && !out.is_empty() {
            i = j + 1;
            while i < b.len() && (b[i] == b' ' || b[i] == b'\t') {
                i += 1;
            }
            let v = if i < b.len() && b[i] == b'"' {
                i += 1;
                let mut s = String::new();
                while i < b.len() && b[i] != b'"' {
                    if b[i] == b'\\' && i + 1 < b.len() {
                        i += 1;
                    }
                    let ch_len = value[i..].chars().next().map_or(1, char::len_utf8);
                    s.push_str(&value[i..i + ch_len]);
                    i += ch_len;
                }
                i += 1;
                s
            } else {
                token(&mut i)
            };
            if let Some(c) = out.last_mut() {
                c.params.push((word, v));
            }
        } else if j < b.len() && b[j] == b'=' {
            // token68 or a parameter without a scheme: ignore.
            i = j + 1;
            let _ = token(&mut i);
        } else {
            out.push(Challenge {
                scheme: word,
                params: Vec::new(),
            });
        }
    }
    out
}

/// The Digest algorithms of RFC 7616 the phone answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DigestAlg {
    Md5,
    Md5Sess,
    Sha256,
    Sha256Sess,
}

impl DigestAlg {
    const fn name(self) -> &'static str {
        match self {
            Self::Md5 => "MD5",
            Self::Md5Sess => "MD5-sess",
            Self::Sha256 => "SHA-256",
            Self::Sha256Sess => "SHA-256-sess",
        }
    }

    fn digest(self) -> MessageDigest {
        match self {
            Self::Md5 | Self::Md5Sess => MessageDigest::md5(),
            Self::Sha256 | Self::Sha256Sess => MessageDigest::sha256(),
        }
    }

    const fn sess(self) -> bool {
        matches!(self, Self::Md5Sess | Self::Sha256Sess)
    }
}

fn hex_hash(alg: DigestAlg, data: &str) -> Result<String, FetchError> {
    let d = hash(alg.digest(), data.as_bytes()).map_err(|e| {
        FetchError::Unsupported(format!(
            "{} is not available: {}",
            alg.name(),
            crate::tls::reasons(&e)
        ))
    })?;
    Ok(d.iter().map(|b| format!("{b:02x}")).collect())
}

fn cnonce() -> String {
    let mut b = [0u8; 16];
    if openssl::rand::rand_bytes(&mut b).is_err() {
        // The random generator failing leaves a fixed cnonce: weaker, not insecure for auth.
        return "0123456789abcdef".to_owned();
    }
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// The Digest `Authorization` value (RFC 7616 §3.4) for `qop=auth` (or RFC 2069 when the
/// server offers no qop).
fn digest_authorization(
    c: &Challenge,
    alg: DigestAlg,
    uid: &str,
    pwd: &str,
    method: &str,
    uri: &str,
    cnonce: &str,
) -> Result<String, FetchError> {
    let realm = c.param("realm").unwrap_or("");
    let nonce = c.param("nonce").unwrap_or("");
    let qop_auth = c
        .param("qop")
        .is_some_and(|q| q.split(',').any(|x| x.trim().eq_ignore_ascii_case("auth")));
    if c.param("qop").is_some() && !qop_auth {
        return Err(FetchError::Unsupported(
            "the server's Digest challenge offers no qop=auth".to_owned(),
        ));
    }
    let nc = "00000001";
    let mut ha1 = hex_hash(alg, &format!("{uid}:{realm}:{pwd}"))?;
    if alg.sess() {
        ha1 = hex_hash(alg, &format!("{ha1}:{nonce}:{cnonce}"))?;
    }
    let ha2 = hex_hash(alg, &format!("{method}:{uri}"))?;
    let response = if qop_auth {
        hex_hash(alg, &format!("{ha1}:{nonce}:{nc}:{cnonce}:auth:{ha2}"))?
    } else {
        hex_hash(alg, &format!("{ha1}:{nonce}:{ha2}"))?
    };
    let q = |s: &str| s.replace('\\', "\\\\").replace('"', "\\\"");
    let mut v = format!(
        "Digest username=\"{}\", realm=\"{}\", uri=\"{}\", algorithm={}, nonce=\"{}\"",
        q(uid),
        q(realm),
        q(uri),
        alg.name(),
        q(nonce)
    );
    if qop_auth {
        v.push_str(&format!(", nc={nc}, cnonce=\"{}\", qop=auth", q(cnonce)));
    }
    v.push_str(&format!(", response=\"{response}\""));
    if let Some(opaque) = c.param("opaque") {
        v.push_str(&format!(", opaque=\"{}\"", q(opaque)));
    }
    Ok(v)
}

// --- TFTP (RFC 1350) -----------------------------------------------------------------------

/// A TFTP attempt that got no answer at all (try the next address) or failed after one.
enum TftpFailure {
    NoAnswer(String),
    Failed(FetchError),
}

/// An RRQ in octet mode, then DATA/ACK in lockstep; the last block is shorter than 512 bytes.
async fn tftp_get(
    server: SocketAddr,
    path: &str,
    timeouts: Timeouts,
    max_bytes: usize,
) -> Result<Vec<u8>, TftpFailure> {
    let failed = |why: String| TftpFailure::Failed(FetchError::Tftp(why));
    let bind: SocketAddr = if server.is_ipv4() {
        SocketAddr::from(([0, 0, 0, 0], 0))
    } else {
        SocketAddr::from(([0u16; 8], 0))
    };
    let sock = UdpSocket::bind(bind)
        .await
        .map_err(|e| failed(format!("cannot open a UDP socket: {e}")))?;
    let mut rrq = vec![0, 1];
    rrq.extend_from_slice(path.as_bytes());
    rrq.push(0);
    rrq.extend_from_slice(b"octet");
    rrq.push(0);

    let mut last_sent = rrq;
    let mut dest = server;
    let mut peer: Option<SocketAddr> = None;
    let mut expected: u16 = 1;
    let mut body = Vec::new();
    let mut buf = vec![0u8; 4 + TFTP_BLOCK + 64];
    let mut retries = 0;
    sock.send_to(&last_sent, dest)
        .await
        .map_err(|e| failed(format!("sending to {server}: {e}")))?;
    loop {
        let (n, from) =
            match tokio::time::timeout(timeouts.tftp_retransmit, sock.recv_from(&mut buf)).await {
                Err(_) => {
                    retries += 1;
                    if retries > timeouts.tftp_retries {
                        return Err(if peer.is_none() {
                            TftpFailure::NoAnswer("no answer".to_owned())
                        } else {
                            TftpFailure::Failed(FetchError::Tftp(format!(
                                "{server} stopped answering after {} bytes",
                                body.len()
                            )))
                        });
                    }
                    sock.send_to(&last_sent, dest)
                        .await
                        .map_err(|e| failed(format!("sending to {dest}: {e}")))?;
                    continue;
                }
                Ok(Err(e)) => {
                    if peer.is_none() {
                        return Err(TftpFailure::NoAnswer(e.to_string()));
                    }
                    return Err(failed(format!("receiving from {dest}: {e}")));
                }
                Ok(Ok(r)) => r,
            };
        // The server answers from a new port (its transfer id); the address must be the server's.
        if from.ip() != server.ip() || peer.is_some_and(|p| p != from) {
            let _ = sock
                .send_to(&tftp_error(5, "Unknown transfer ID"), from)
                .await;
            continue;
        }
        let pkt = &buf[..n];
        if pkt.len() < 4 {
            return Err(failed(format!("a {n}-byte packet from {from}")));
        }
        let opcode = u16::from_be_bytes([pkt[0], pkt[1]]);
        let number = u16::from_be_bytes([pkt[2], pkt[3]]);
        match opcode {
            3 => {
                peer = Some(from);
                dest = from;
                if number == expected {
                    let data = &pkt[4..];
                    if body.len() + data.len() > max_bytes {
                        let _ = sock.send_to(&tftp_error(3, "Too large"), from).await;
                        return Err(TftpFailure::Failed(FetchError::TooLarge));
                    }
                    body.extend_from_slice(data);
                    last_sent = tftp_ack(number);
                    retries = 0;
                    sock.send_to(&last_sent, from)
                        .await
                        .map_err(|e| failed(format!("sending to {from}: {e}")))?;
                    if data.len() < TFTP_BLOCK {
                        return Ok(body);
                    }
                    expected = expected.wrapping_add(1);
                } else if number == expected.wrapping_sub(1) {
                    // A duplicate: our ACK was lost.
                    let _ = sock.send_to(&last_sent, from).await;
                }
            }
            5 => {
                let msg = pkt[4..].split(|&b| b == 0).next().unwrap_or(&[]);
                let msg = String::from_utf8_lossy(msg);
                if number == 1 {
                    return Err(TftpFailure::Failed(FetchError::NotFound));
                }
                return Err(failed(format!(
                    "{from} sent error {number} ({}): {msg}",
                    tftp_error_name(number)
                )));
            }
            other => {
                return Err(failed(format!("unexpected opcode {other} from {from}")));
            }
        }
    }
}

fn tftp_ack(block: u16) -> Vec<u8> {
    let mut p = vec![0, 4];
    p.extend_from_slice(&block.to_be_bytes());
    p
}

fn tftp_error(code: u16, msg: &str) -> Vec<u8> {
    let mut p = vec![0, 5];
    p.extend_from_slice(&code.to_be_bytes());
    p.extend_from_slice(msg.as_bytes());
    p.push(0);
    p
}

const fn tftp_error_name(code: u16) -> &'static str {
    match code {
        1 => "file not found",
        2 => "access violation",
        3 => "disk full",
        4 => "illegal operation",
        5 => "unknown transfer id",
        6 => "file exists",
        7 => "no such user",
        _ => "not defined",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(scheme: Scheme, host: &str, port: u16, path: &str) -> Target {
        Target {
            scheme,
            host: host.to_owned(),
            port,
            path: path.to_owned(),
        }
    }

    /// RFC 7616 §3.9.1.
    #[test]
    fn digest_matches_the_rfc_7616_examples() {
        let header = "Digest realm=\"http-auth@example.org\", qop=\"auth, auth-int\", \
                      algorithm=SHA-256, nonce=\"7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v\", \
                      opaque=\"FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS\", \
                      Digest realm=\"http-auth@example.org\", qop=\"auth, auth-int\", \
                      algorithm=MD5, nonce=\"7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v\", \
                      opaque=\"FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS\"";
        let cs = parse_challenges(header);
        assert_eq!(cs.len(), 2);
        assert_eq!(cs[0].algorithm(), Some(DigestAlg::Sha256));
        assert_eq!(cs[1].algorithm(), Some(DigestAlg::Md5));
        let cn = "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ";
        let sha = digest_authorization(
            &cs[0],
            DigestAlg::Sha256,
            "Mufasa",
            "Circle of Life",
            "GET",
            "/dir/index.html",
            cn,
        )
        .unwrap();
        assert!(
            sha.contains(
                "response=\"753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1\""
            ),
            "{sha}"
        );
        let md5 = digest_authorization(
            &cs[1],
            DigestAlg::Md5,
            "Mufasa",
            "Circle of Life",
            "GET",
            "/dir/index.html",
            cn,
        )
        .unwrap();
        assert!(
            md5.contains("response=\"8ca523f5e9506fed4657c9700eebdbec\""),
            "{md5}"
        );
        assert!(md5.contains("opaque=\"FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS\""));
        assert!(md5.contains(
            ", nc=00000001, cnonce=\"f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ\", qop=auth"
        ));
    }

    #[test]
    fn challenges_with_basic_and_digest_parse() {
        let cs = parse_challenges("Basic realm=\"prov\", Digest realm=\"x\", nonce=\"n\"");
        assert_eq!(cs.len(), 2);
        assert_eq!(cs[0].scheme, "Basic");
        assert_eq!(cs[0].param("realm"), Some("prov"));
        assert_eq!(cs[1].param("nonce"), Some("n"));
        assert_eq!(basic_authorization("u", "p"), "Basic dTpw");
    }

    #[test]
    fn challenges_pick_digest_unless_fips() {
        let both = [
            "Basic realm=\"p\"".to_owned(),
            "Digest realm=\"p\", nonce=\"n\", qop=\"auth\", algorithm=SHA-256".to_owned(),
        ];
        let a = authorization_for(&both, false, "u", "pw", "GET", "/x").unwrap();
        assert!(
            a.starts_with("Digest username=\"u\", realm=\"p\", uri=\"/x\", algorithm=SHA-256"),
            "{a}"
        );
        assert!(!a.contains("pw"));
        assert_eq!(
            authorization_for(&both, true, "u", "p", "GET", "/x").unwrap(),
            "Basic dTpw"
        );
        let digest_only = &both[1..];
        assert_eq!(
            authorization_for(digest_only, true, "u", "p", "GET", "/x"),
            Err(FetchError::DigestRefusedInFips)
        );
        assert!(matches!(
            authorization_for(&["Negotiate".to_owned()], false, "u", "p", "GET", "/x"),
            Err(FetchError::Unsupported(_))
        ));
    }

    #[test]
    fn certificate_dns_names_for_the_ip_check() {
        let names = CertNames {
            dns: vec![],
            ips: vec![],
            cns: vec!["pv.telco.net/mailto:admin@telco.net".to_owned()],
        };
        assert_eq!(cert_dns_names(&names), ["pv.telco.net"]);
        let names = CertNames {
            dns: vec![
                "*.telco.net".to_owned(),
                "a.telco.net".to_owned(),
                "127.0.0.1".to_owned(),
            ],
            ips: vec![],
            cns: vec!["ignored".to_owned()],
        };
        assert_eq!(cert_dns_names(&names), ["a.telco.net"]);
    }

    #[test]
    fn redirects_resolve_and_refuse() {
        let cur = target(Scheme::Https, "prov.example.net", 8443, "/a/b.xml?x=1");
        let t = redirect_target(&cur, "/c.xml").unwrap();
        assert_eq!(
            (t.host.as_str(), t.port, t.path.as_str()),
            ("prov.example.net", 8443, "/c.xml")
        );
        let t = redirect_target(&cur, "c.xml").unwrap();
        assert_eq!(t.path, "/a/c.xml");
        let t = redirect_target(&cur, "https://other.example.net/z?q").unwrap();
        assert_eq!(
            (t.host.as_str(), t.port, t.path.as_str()),
            ("other.example.net", 443, "/z?q")
        );
        let t = redirect_target(&cur, "//[::1]:99/p").unwrap();
        assert_eq!((t.host.as_str(), t.port), ("::1", 99));
        for bad in [
            "http://prov.example.net/x",
            "tftp://prov.example.net/x",
            "https://u:p@prov.example.net/x",
            "",
        ] {
            assert!(
                matches!(redirect_target(&cur, bad), Err(FetchError::BadRedirect(_))),
                "{bad:?}"
            );
        }
        let plain = target(Scheme::Http, "h", 80, "/");
        assert_eq!(
            redirect_target(&plain, "https://h/x").unwrap().scheme,
            Scheme::Https
        );
    }

    #[test]
    fn host_header_omits_default_ports() {
        assert_eq!(host_header(&target(Scheme::Https, "h", 443, "/")), "h");
        assert_eq!(host_header(&target(Scheme::Http, "h", 443, "/")), "h:443");
        assert_eq!(
            host_header(&target(Scheme::Http, "::1", 8080, "/")),
            "[::1]:8080"
        );
    }

    #[test]
    fn errors_never_show_secrets_and_name_the_cause() {
        let e = FetchError::Unreachable {
            host: "prov.example.net".to_owned(),
            tried: vec![(SocketAddr::from(([10, 0, 0, 1], 443)), "refused".to_owned())],
        };
        assert_eq!(
            e.to_string(),
            "no server of prov.example.net answered (10.0.0.1:443: refused)"
        );
        assert_eq!(
            FetchError::NotFound.to_string(),
            "file not found (HTTP 404)"
        );
        assert_eq!(
            format!("{:?}", Method::Put(b"secret".to_vec())),
            "PUT(6 bytes)"
        );
    }
}
