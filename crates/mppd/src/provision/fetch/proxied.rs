//! Requests through the HTTP proxy (SPEC §18; issue 8).
//!
//! The route of a URL is a list of [`ProxyChoice`]s tried in order (failover): `Off` gives
//! `DIRECT`, `Manual` the configured proxy, `Auto` what the PAC file answers (SOCKS entries
//! are skipped with a warning: mppd speaks no SOCKS). An entry that cannot be used (the proxy
//! does not answer, refuses the tunnel, a direct host does not resolve or answer) passes to
//! the next; anything else (an answer from the server, a TLS failure, a proxy refusing the
//! phone's credentials) ends the request.
//!
//! - https: `CONNECT host:port` to the proxy, then the TLS handshake with the server inside the
//!   tunnel, with the provisioning TLS policy and the host name check end to end. The
//!   certificate-IP check of SPEC §10 is not made through a proxy: the phone does not know the
//!   server's address (the proxy resolved it).
//! - http: the request in absolute-URI form (`GET http://host/path`) to the proxy.
//! - `HTTPS host:port` PAC entries: TLS to the proxy first (its name checked), then as above.
//! - Credentials: a 407 (or the 401 tinyproxy sends) is answered once with
//!   `Proxy-Authorization: Basic` from `Proxy_Username`/`Proxy_Password` when
//!   `Proxy_Server_Requires_Authentication` is Yes; the header goes to the proxy only (never
//!   inside the tunnel). Refused again: [`FetchError::ProxyAuth`].
//! - The PAC file (Auto) is fetched direct, at the first request, and kept for
//!   [`PAC_REFRESH`]; a failure to get or load it is retried after [`PAC_RETRY`], and until
//!   then every request goes `DIRECT` with a warning.

use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use mppd_config::identity::DeviceIdentity;
use mppd_config::macros::MacroContext;
use mppd_config::rule::{ExpandedOptions, Rule, Scheme, Url};
use mppd_core::proxy::result::{ProxyChoice, parse_proxy_result};
use serde::Serialize;
use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWrite, AsyncWriteExt as _};
use tokio::net::TcpStream;

use super::{
    FetchError, Fetcher, Method, Response, Target, client_cert_refused, host_header, unbracket,
};
use crate::proxy::pac::{PacEngine, PacEnv, PacLimits};
use crate::proxy::{ProxyMode, ProxySettings, WpadHints};
use crate::tls::check_peer_name;

/// How long a loaded PAC file is used before it is fetched again.
pub const PAC_REFRESH: Duration = Duration::from_secs(3600);
/// How long after a failure to get or load the PAC file it is tried again.
pub const PAC_RETRY: Duration = Duration::from_secs(60);
/// The largest PAC file accepted.
pub const MAX_PAC_BYTES: usize = 1 << 20;
/// The largest proxy answer to `CONNECT` read (status line and headers).
const MAX_CONNECT_HEADER: usize = 16 * 1024;

/// The route chosen for one URL, for the log, status and `mppd proxy find`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProxyDecision {
    /// The URL as given to `FindProxyForURL`.
    pub url: String,
    /// The PAC result string as the PAC file returned it (`DIRECT` when there is no PAC file
    /// or it failed; the configured proxy in Manual mode).
    pub result: String,
    /// The entries to try, in order (never SOCKS; `DIRECT` when nothing usable remains).
    #[serde(serialize_with = "choices_as_text")]
    pub route: Vec<ProxyChoice>,
    /// Where the PAC file came from (Auto).
    pub pac_source: Option<String>,
    /// What went wrong on the way (each meant a fallback).
    pub warnings: Vec<String>,
}

fn choices_as_text<S: serde::Serializer>(c: &[ProxyChoice], s: S) -> Result<S::Ok, S::Error> {
    s.collect_seq(c.iter().map(ToString::to_string))
}

/// The proxy part of the status: mode, PAC source, last decision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProxyStatus {
    /// `Proxy_Mode`.
    pub mode: &'static str,
    /// One line describing the settings (no password).
    pub settings: String,
    /// Where the PAC file in use came from.
    pub pac_source: Option<String>,
    /// Why there is no PAC file, when there should be one.
    pub pac_error: Option<String>,
    /// The last decision made.
    pub last_decision: Option<ProxyDecision>,
}

#[derive(Default)]
struct PacSlot {
    engine: Option<Arc<PacEngine>>,
    source: Option<String>,
    loaded: Option<Instant>,
    failed: Option<(Instant, String)>,
}

/// The fetcher's proxy state.
pub(super) struct ProxyState {
    pub(super) settings: ProxySettings,
    hints: WpadHints,
    my_ip: Option<IpAddr>,
    pac: tokio::sync::Mutex<PacSlot>,
    last: Mutex<Option<ProxyDecision>>,
}

impl ProxyState {
    pub(super) fn new(settings: ProxySettings) -> Self {
        Self {
            settings,
            hints: WpadHints::default(),
            my_ip: None,
            pac: tokio::sync::Mutex::new(PacSlot::default()),
            last: Mutex::new(None),
        }
    }
}

/// A byte stream to the proxy: TCP, or TLS over TCP for an `HTTPS` proxy.
trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

enum Tunnel {
    Open(Box<dyn Io>),
    /// The proxy wants (other) credentials: its status code.
    AuthRequired(u16),
}

impl Fetcher {
    /// Uses other proxy settings than the profile's (tools, tests).
    #[must_use]
    pub fn with_proxy_settings(mut self, settings: ProxySettings) -> Self {
        self.proxy = ProxyState::new(settings);
        self
    }

    /// What WPAD starts from (DHCP option 252 and the domain).
    #[must_use]
    pub fn with_wpad_hints(mut self, hints: WpadHints) -> Self {
        self.proxy.hints = hints;
        self
    }

    /// Pins `myIpAddress()` of the PAC file.
    #[must_use]
    pub fn with_pac_my_ip(mut self, ip: Option<IpAddr>) -> Self {
        self.proxy.my_ip = ip;
        self
    }

    /// The proxy settings in force.
    pub fn proxy_settings(&self) -> &ProxySettings {
        &self.proxy.settings
    }

    /// Mode, PAC source and the last decision.
    pub async fn proxy_status(&self) -> ProxyStatus {
        let slot = self.proxy.pac.lock().await;
        ProxyStatus {
            mode: self.proxy.settings.mode.as_str(),
            settings: self.proxy.settings.describe(),
            pac_source: slot.source.clone(),
            pac_error: slot.failed.as_ref().map(|(_, e)| e.clone()),
            last_decision: self.proxy.last.lock().ok().and_then(|l| l.clone()),
        }
    }

    /// [`Self::proxy_status`] without waiting: while the PAC file is being loaded, its
    /// source and error show as unknown.
    pub fn proxy_status_now(&self) -> ProxyStatus {
        let slot = self.proxy.pac.try_lock().ok();
        ProxyStatus {
            mode: self.proxy.settings.mode.as_str(),
            settings: self.proxy.settings.describe(),
            pac_source: slot.as_ref().and_then(|s| s.source.clone()),
            pac_error: slot
                .as_ref()
                .and_then(|s| s.failed.as_ref().map(|(_, e)| e.clone())),
            last_decision: self.proxy.last.lock().ok().and_then(|l| l.clone()),
        }
    }

    /// The route for `url` (whose host part is `host`), loading the PAC file first in Auto.
    pub async fn decide_proxy(&self, url: &str, host: &str) -> ProxyDecision {
        let settings = &self.proxy.settings;
        let mut warnings = settings.problems.clone();
        let mut pac_source = None;
        let result = match settings.mode {
            ProxyMode::Off => "DIRECT".to_owned(),
            ProxyMode::Manual => settings
                .manual
                .as_ref()
                .map_or_else(|| "DIRECT".to_owned(), ToString::to_string),
            ProxyMode::Auto => match self.pac_engine().await {
                Ok((engine, source)) => {
                    let (u, h) = (url.to_owned(), host.to_owned());
                    let answer = tokio::task::spawn_blocking(move || engine.find(&u, &h)).await;
                    let r = match answer {
                        Ok(Ok(s)) => s,
                        Ok(Err(e)) => {
                            warnings.push(format!("PAC file {source}: {e}; using DIRECT"));
                            "DIRECT".to_owned()
                        }
                        Err(e) => {
                            warnings.push(format!("PAC evaluation task failed: {e}; using DIRECT"));
                            "DIRECT".to_owned()
                        }
                    };
                    pac_source = Some(source);
                    r
                }
                Err(why) => {
                    warnings.push(format!("{why}; using DIRECT"));
                    "DIRECT".to_owned()
                }
            },
        };
        let route = route_of_result(&result, &mut warnings);
        for w in &warnings {
            tracing::warn!("proxy: {w}");
        }
        let decision = ProxyDecision {
            url: url.to_owned(),
            result,
            route,
            pac_source,
            warnings,
        };
        if let Ok(mut last) = self.proxy.last.lock() {
            *last = Some(decision.clone());
        }
        decision
    }

    /// The route of a fetch target.
    pub(super) async fn route_of(&self, target: &Target) -> Vec<ProxyChoice> {
        if self.proxy.settings.mode == ProxyMode::Off {
            return vec![ProxyChoice::Direct];
        }
        let url = format!(
            "{}://{}{}",
            target.scheme.as_str(),
            host_header(target),
            target.path
        );
        let host = unbracket(&target.host).to_ascii_lowercase();
        let d = self.decide_proxy(&url, &host).await;
        tracing::info!(
            "proxy: {url} -> {}",
            d.route
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("; ")
        );
        d.route
    }

    /// The loaded PAC file and where it came from, fetching and loading it when needed.
    async fn pac_engine(&self) -> Result<(Arc<PacEngine>, String), String> {
        let mut slot = self.proxy.pac.lock().await;
        if let (Some(engine), Some(source), Some(at)) = (&slot.engine, &slot.source, slot.loaded)
            && at.elapsed() < PAC_REFRESH
        {
            return Ok((Arc::clone(engine), source.clone()));
        }
        if let Some((at, why)) = &slot.failed
            && at.elapsed() < PAC_RETRY
        {
            return Err(why.clone());
        }
        let sources = self.proxy.settings.pac_sources(&self.proxy.hints);
        let mut failures = Vec::new();
        if sources.is_empty() {
            failures.push(if self.proxy.settings.wpad {
                "WPAD has no candidate (no DHCP option 252, no domain)".to_owned()
            } else {
                "PAC_URL is empty".to_owned()
            });
        }
        for source in sources {
            match self.load_pac(&source).await {
                Ok(engine) => {
                    tracing::info!("proxy: PAC file loaded from {source}");
                    let engine = Arc::new(engine);
                    slot.engine = Some(Arc::clone(&engine));
                    slot.source = Some(source.clone());
                    slot.loaded = Some(Instant::now());
                    slot.failed = None;
                    return Ok((engine, source));
                }
                Err(why) => {
                    tracing::warn!("proxy: PAC file {source}: {why}");
                    failures.push(format!("{source}: {why}"));
                }
            }
        }
        let why = format!("no usable PAC file ({})", failures.join("; "));
        slot.failed = Some((Instant::now(), why.clone()));
        // A stale PAC file is better than none.
        if let (Some(engine), Some(source)) = (&slot.engine, &slot.source) {
            tracing::warn!("proxy: {why}; keeping the PAC file from {source}");
            return Ok((Arc::clone(engine), source.clone()));
        }
        Err(why)
    }

    async fn load_pac(&self, source: &str) -> Result<PacEngine, String> {
        let url = url_of(source, &self.identity)?;
        let fetched = Box::pin(self.fetch_via(
            &url,
            &ExpandedOptions::default(),
            Method::Get,
            None,
            MAX_PAC_BYTES,
            false,
        ))
        .await
        .map_err(|e| e.to_string())?;
        let text = String::from_utf8(fetched.body)
            .map_err(|e| format!("the PAC file is not UTF-8 text: {e}"))?;
        let env = PacEnv {
            my_ip: self.proxy.my_ip,
            resolver: Arc::clone(&self.resolver),
        };
        tokio::task::spawn_blocking(move || PacEngine::new(&text, env, PacLimits::default()))
            .await
            .map_err(|e| format!("PAC load task failed: {e}"))?
            .map_err(|e| e.to_string())
    }

    /// The request over each route entry in turn (see the module documentation).
    pub(super) async fn http_routes(
        &self,
        target: &Target,
        routes: &[ProxyChoice],
        method: &Method,
        authorization: Option<&str>,
        max_bytes: usize,
    ) -> Result<Response, FetchError> {
        let mut last = None;
        for (i, route) in routes.iter().enumerate() {
            let result = match route {
                ProxyChoice::Direct => match self.resolve(&target.host).await {
                    Ok(addrs) => {
                        self.http_any(target, &addrs, method, authorization, max_bytes)
                            .await
                    }
                    Err(e) => Err(e),
                },
                ProxyChoice::Http { host, port } | ProxyChoice::Https { host, port } => {
                    let over_tls = matches!(route, ProxyChoice::Https { .. });
                    let attempt = self.via_proxy(
                        route,
                        host,
                        *port,
                        over_tls,
                        target,
                        method,
                        authorization,
                        max_bytes,
                    );
                    match tokio::time::timeout(self.timeouts.total, attempt).await {
                        Ok(r) => r,
                        Err(_) => Err(FetchError::Timeout),
                    }
                }
                ProxyChoice::Socks { .. } => continue,
            };
            match result {
                Err(
                    e @ (FetchError::Proxy { .. }
                    | FetchError::Unreachable { .. }
                    | FetchError::Resolve { .. }),
                ) if i + 1 < routes.len() => {
                    tracing::warn!("proxy: {route} failed ({e}); trying the next entry");
                    last = Some(e);
                }
                other => return other,
            }
        }
        Err(last.unwrap_or_else(|| {
            FetchError::Unsupported("the proxy route has no usable entry".to_owned())
        }))
    }

    /// One request through the proxy `host:port` (over TLS when `over_tls`).
    #[allow(clippy::too_many_arguments)]
    async fn via_proxy(
        &self,
        route: &ProxyChoice,
        host: &str,
        port: u16,
        over_tls: bool,
        target: &Target,
        method: &Method,
        authorization: Option<&str>,
        max_bytes: usize,
    ) -> Result<Response, FetchError> {
        let label = route.to_string();
        let credentials = self.proxy.settings.credentials.as_ref();
        let mut proxy_auth: Option<String> = None;
        loop {
            let auth_error = |code: u16, sent: bool| -> FetchError {
                let reason = match (sent, credentials) {
                    (true, Some(c)) => format!(
                        "the proxy refused the credentials of Proxy_Username {:?} (HTTP {code})",
                        c.username
                    ),
                    _ => format!(
                        "the proxy requires authentication (HTTP {code}) and \
                         Proxy_Server_Requires_Authentication is No"
                    ),
                };
                FetchError::ProxyAuth {
                    proxy: label.clone(),
                    reason,
                }
            };
            let (io, addr) = self.connect_proxy(host, port, over_tls, &label).await?;
            let mut resp = if target.scheme == Scheme::Https {
                match self
                    .connect_tunnel(io, target, proxy_auth.as_deref(), &label)
                    .await?
                {
                    Tunnel::Open(tunnel) => {
                        let name = unbracket(&target.host);
                        let stream = self.tls_handshake(tunnel, name, addr).await?;
                        check_peer_name(stream.ssl(), &self.policy, name, addr.ip())
                            .map_err(|failure| FetchError::Tls { addr, failure })?;
                        let resp = self
                            .exchange_with(
                                stream,
                                addr,
                                target,
                                &target.path,
                                method,
                                authorization,
                                None,
                                max_bytes,
                            )
                            .await?;
                        client_cert_refused(resp, addr)?
                    }
                    Tunnel::AuthRequired(code) => {
                        if proxy_auth.is_none()
                            && let Some(c) = credentials
                        {
                            proxy_auth = Some(c.basic());
                            continue;
                        }
                        return Err(auth_error(code, proxy_auth.is_some()));
                    }
                }
            } else {
                let uri = format!("http://{}{}", host_header(target), target.path);
                let resp = self
                    .exchange_with(
                        io,
                        addr,
                        target,
                        &uri,
                        method,
                        authorization,
                        proxy_auth.as_deref(),
                        max_bytes,
                    )
                    .await?;
                // 407, or the 401 tinyproxy answers wrong credentials with (an origin's 401
                // carries WWW-Authenticate).
                let proxy_wants_auth = resp.status == 407
                    || (resp.status == 401
                        && (resp.proxy_authenticate
                            || (proxy_auth.is_some() && resp.authenticate.is_empty())));
                if proxy_wants_auth {
                    if proxy_auth.is_none()
                        && let Some(c) = credentials
                    {
                        proxy_auth = Some(c.basic());
                        continue;
                    }
                    return Err(auth_error(resp.status, proxy_auth.is_some()));
                }
                resp
            };
            resp.proxy = Some(label);
            return Ok(resp);
        }
    }

    /// A connection to the proxy (its addresses in turn), with TLS when `over_tls`.
    async fn connect_proxy(
        &self,
        host: &str,
        port: u16,
        over_tls: bool,
        label: &str,
    ) -> Result<(Box<dyn Io>, SocketAddr), FetchError> {
        let proxy_err = |reason: String| FetchError::Proxy {
            proxy: label.to_owned(),
            reason,
        };
        let addrs: Vec<IpAddr> = match host.parse::<IpAddr>() {
            Ok(ip) => vec![ip],
            Err(_) => self
                .lookup(host)
                .await
                .map_err(|e| proxy_err(format!("cannot resolve {host}: {e}")))?,
        };
        let mut tried = Vec::new();
        for ip in addrs {
            let addr = SocketAddr::new(ip, port);
            let tcp =
                match tokio::time::timeout(self.timeouts.connect, TcpStream::connect(addr)).await {
                    Ok(Ok(s)) => s,
                    Ok(Err(e)) => {
                        tried.push(format!("{addr}: {e}"));
                        continue;
                    }
                    Err(_) => {
                        tried.push(format!("{addr}: connection timed out"));
                        continue;
                    }
                };
            if !over_tls {
                return Ok((Box::new(tcp), addr));
            }
            let stream = self
                .tls_handshake(tcp, host, addr)
                .await
                .map_err(|e| proxy_err(e.to_string()))?;
            check_peer_name(stream.ssl(), &self.policy, host, ip)
                .map_err(|f| proxy_err(format!("TLS: {f}")))?;
            return Ok((Box::new(stream), addr));
        }
        Err(proxy_err(format!("cannot connect ({})", tried.join("; "))))
    }

    /// `CONNECT host:port` on `io`; the open tunnel, or the proxy's demand for credentials.
    async fn connect_tunnel(
        &self,
        mut io: Box<dyn Io>,
        target: &Target,
        proxy_auth: Option<&str>,
        label: &str,
    ) -> Result<Tunnel, FetchError> {
        let proxy_err = |reason: String| FetchError::Proxy {
            proxy: label.to_owned(),
            reason,
        };
        let bare = unbracket(&target.host);
        let authority = if bare.contains(':') {
            format!("[{bare}]:{}", target.port)
        } else {
            format!("{bare}:{}", target.port)
        };
        let mut request = format!(
            "CONNECT {authority} HTTP/1.1\r\nHost: {authority}\r\nUser-Agent: {}\r\n",
            self.user_agent
        );
        if let Some(a) = proxy_auth {
            request.push_str("Proxy-Authorization: ");
            request.push_str(a);
            request.push_str("\r\n");
        }
        request.push_str("\r\n");
        io.write_all(request.as_bytes())
            .await
            .map_err(|e| proxy_err(format!("sending CONNECT: {e}")))?;
        io.flush()
            .await
            .map_err(|e| proxy_err(format!("sending CONNECT: {e}")))?;
        // Byte by byte, so that nothing of the tunnel is read past the header.
        let mut head = Vec::with_capacity(256);
        while !head.ends_with(b"\r\n\r\n") {
            if head.len() >= MAX_CONNECT_HEADER {
                return Err(proxy_err(format!(
                    "the answer to CONNECT is longer than {MAX_CONNECT_HEADER} bytes"
                )));
            }
            match io.read_u8().await {
                Ok(b) => head.push(b),
                Err(e) => {
                    return Err(proxy_err(format!(
                        "the connection ended during the answer to CONNECT: {e}"
                    )));
                }
            }
        }
        let text = String::from_utf8_lossy(&head);
        let status_line = text.lines().next().unwrap_or("");
        let code = parse_status_line(status_line).ok_or_else(|| {
            proxy_err(format!(
                "not an HTTP answer to CONNECT: {:?}",
                status_line.chars().take(80).collect::<String>()
            ))
        })?;
        match code {
            200..=299 => Ok(Tunnel::Open(io)),
            401 | 407 => Ok(Tunnel::AuthRequired(code)),
            _ => Err(proxy_err(format!(
                "refused the tunnel to {authority}: {}",
                status_line.trim()
            ))),
        }
    }
}

/// The status code of `HTTP/1.x CODE reason`.
fn parse_status_line(line: &str) -> Option<u16> {
    let mut words = line.split_whitespace();
    let version = words.next()?;
    if !version.starts_with("HTTP/1.") {
        return None;
    }
    let code = words.next()?;
    (code.len() == 3)
        .then(|| code.parse::<u16>().ok())
        .flatten()
        .filter(|c| (100..600).contains(c))
}

/// The route for a PAC result: its entries without SOCKS (warned), `DIRECT` when none is left
/// or the result does not parse (warned).
pub(crate) fn route_of_result(result: &str, warnings: &mut Vec<String>) -> Vec<ProxyChoice> {
    match parse_proxy_result(result) {
        Ok(list) => {
            let mut route = Vec::with_capacity(list.len());
            for c in list {
                if matches!(c, ProxyChoice::Socks { .. }) {
                    warnings.push(format!("{c}: SOCKS proxies are not supported, skipped"));
                } else {
                    route.push(c);
                }
            }
            if route.is_empty() {
                warnings.push(format!("no usable entry in {result:?}; using DIRECT"));
                route.push(ProxyChoice::Direct);
            }
            route
        }
        Err(e) => {
            warnings.push(format!("PAC result {result:?}: {e}; using DIRECT"));
            vec![ProxyChoice::Direct]
        }
    }
}

/// A PAC URL (from `PAC_URL` or WPAD) as a fetchable [`Url`]: parsed as a one-URL rule, its
/// macros expanded.
fn url_of(text: &str, identity: &DeviceIdentity) -> Result<Url, String> {
    let rule = Rule::parse(text).map_err(|e| format!("not a URL: {e}"))?;
    let ctx = MacroContext::new(identity);
    let alt = rule
        .select(&ctx)
        .map_err(|e| format!("not a URL: {e}"))?
        .ok_or_else(|| "not a URL".to_owned())?;
    let requests = alt.expand(&ctx).map_err(|e| format!("not a URL: {e}"))?;
    requests
        .into_iter()
        .next()
        .map(|r| r.url)
        .ok_or_else(|| "not a URL".to_owned())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    #[test]
    fn status_lines() {
        assert_eq!(
            parse_status_line("HTTP/1.1 200 Connection established"),
            Some(200)
        );
        assert_eq!(
            parse_status_line("HTTP/1.0 407 Proxy Authentication Required"),
            Some(407)
        );
        assert_eq!(parse_status_line("HTTP/2 200"), None);
        assert_eq!(parse_status_line("HTTP/1.1 20"), None);
        assert_eq!(parse_status_line("SSH-2.0-OpenSSH"), None);
        assert_eq!(parse_status_line(""), None);
    }

    #[test]
    fn routes_skip_socks_and_fall_back_to_direct() {
        let mut w = Vec::new();
        assert_eq!(
            route_of_result("SOCKS5 s:1080; PROXY p:3128; DIRECT", &mut w),
            vec![
                ProxyChoice::Http {
                    host: "p".to_owned(),
                    port: 3128
                },
                ProxyChoice::Direct
            ]
        );
        assert_eq!(w.len(), 1, "{w:?}");
        let mut w = Vec::new();
        assert_eq!(
            route_of_result("SOCKS s:1", &mut w),
            vec![ProxyChoice::Direct]
        );
        assert_eq!(w.len(), 2, "{w:?}");
        let mut w = Vec::new();
        assert_eq!(
            route_of_result("GOPHER x", &mut w),
            vec![ProxyChoice::Direct]
        );
        assert!(w[0].contains("GOPHER"), "{w:?}");
    }
}
