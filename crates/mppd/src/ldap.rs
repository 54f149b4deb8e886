//! The corporate directory client (SPEC §9): the tokio shell of `mppd_core::ldap`.
//!
//! One search is one connection: TCP, then TLS (`ldaps://`) or the StartTLS extended operation
//! and the TLS upgrade (`ldap://` with `LDAP_StartTLS_Enable`), with the phone's TLS policy
//! (`TLS_Min_Version`, `TLS_Cipher_List`, FIPS) and the host name always validated; then the
//! bind the core decides, the search, and an unbind. Messages are framed by `ldap3_proto`'s
//! codec, every read bounded by [`Limits::max_message_bytes`] and every step by
//! [`Limits::timeout_secs`].

use std::fmt;
use std::net::SocketAddr;
use std::time::Duration;

use crate::tls::TlsConnector;
use bytes::BytesMut;
use ldap3_proto::LdapCodec;
use ldap3_proto::proto::{
    LdapBindCred, LdapBindRequest, LdapDerefAliases, LdapExtendedRequest, LdapFilter,
    LdapMatchingRuleAssertion, LdapMsg, LdapOp, LdapResult, LdapSearchRequest, LdapSearchScope,
    LdapSubstringFilter, SaslCredentials,
};
use mppd_config::Profile;
use mppd_core::ldap::digest_md5::{self, Challenge, Credentials, DigestError};
use mppd_core::ldap::{
    BindPlan, BindRefusal, ConfigError, DirectoryConfig, Filter, FilterError, Limits, Row, Scheme,
    Transport, bind_plan, display, result_code_name,
};
use mppd_core::tls::{ClientApp, ClientPolicy, client_policy};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_openssl::SslStream;
use tokio_util::codec::{Decoder, Encoder};
use tracing::warn;

use crate::state::StateDir;
use crate::tls::{TlsError, TlsFailure, TlsWarning, check_peer, connector};

/// The StartTLS extended operation (RFC 4511 §4.14.1).
pub const START_TLS_OID: &str = "1.3.6.1.4.1.1466.20037";

/// The whole search (connect, TLS, bind, search) may take this many step timeouts.
pub const WHOLE_SEARCH_STEPS: u32 = 3;

/// The Notice of Disconnection unsolicited notification (RFC 4511 §4.4.1).
const NOTICE_OF_DISCONNECTION_OID: &str = "1.3.6.1.4.1.1466.20036";

/// Why a directory search failed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum LdapError {
    /// The profile does not give a usable directory.
    Config(ConfigError),
    /// The TLS context could not be built (local files, OpenSSL).
    TlsSetup(TlsError),
    /// No TCP connection to the server.
    Connect(String),
    /// The TLS handshake or the post-handshake checks failed.
    Tls(TlsFailure),
    /// A step did not finish within [`Limits::timeout_secs`].
    Timeout(&'static str),
    /// The server closed the connection.
    Closed(&'static str),
    /// A message larger than [`Limits::max_message_bytes`].
    Oversized(usize),
    /// A message that is not LDAP (bad BER, wrong structure, wrong message id).
    Malformed(String),
    /// The phone refuses to bind (FIPS, a password in clear).
    BindRefused(BindRefusal),
    /// The server refused the bind.
    Bind {
        /// The result code.
        code: u32,
        /// The server's diagnostic message.
        message: String,
    },
    /// DIGEST-MD5 failed on the client side.
    Digest(DigestError),
    /// The server refused the search.
    Search {
        /// The result code.
        code: u32,
        /// The server's diagnostic message.
        message: String,
    },
    /// The search filter is invalid.
    Filter(FilterError),
    /// The server sent a Notice of Disconnection.
    Disconnected(String),
}

fn with_message(message: &str) -> String {
    if message.is_empty() {
        String::new()
    } else {
        format!(": {message}")
    }
}

impl fmt::Display for LdapError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Config(e) => write!(f, "ldap: {e}"),
            Self::TlsSetup(e) => write!(f, "TLS setup: {e}"),
            Self::Connect(e) => write!(f, "ldap: cannot connect: {e}"),
            Self::Tls(e) => write!(f, "TLS: {e}"),
            Self::Timeout(what) => write!(f, "ldap: timed out {what}"),
            Self::Closed(what) => write!(f, "ldap: the server closed the connection {what}"),
            Self::Oversized(limit) => write!(
                f,
                "ldap: the server sent a message larger than {limit} bytes"
            ),
            Self::Malformed(e) => write!(f, "ldap: malformed response from the server: {e}"),
            Self::BindRefused(e) => write!(f, "ldap: bind refused: {e}"),
            Self::Bind { code, message } => write!(
                f,
                "ldap: bind failed: {} ({code}){}",
                result_code_name(*code),
                with_message(message)
            ),
            Self::Digest(e) => write!(f, "ldap: DIGEST-MD5: {e}"),
            Self::Search { code, message } => {
                write!(
                    f,
                    "ldap: search failed: {} ({code}){}",
                    result_code_name(*code),
                    with_message(message)
                )?;
                if *code == 13 || *code == 8 {
                    f.write_str(
                        " (the server requires TLS: use ldaps:// or LDAP_StartTLS_Enable=Yes)",
                    )?;
                }
                Ok(())
            }
            Self::Filter(e) => write!(f, "ldap: search filter: {e}"),
            Self::Disconnected(m) => write!(f, "ldap: the server disconnected{}", with_message(m)),
        }
    }
}

impl std::error::Error for LdapError {}

impl From<TlsFailure> for LdapError {
    fn from(e: TlsFailure) -> Self {
        Self::Tls(e)
    }
}

/// A successful search.
#[derive(Debug, Clone)]
pub struct SearchOutcome {
    /// The entries, in the server's order.
    pub rows: Vec<Row>,
    /// The server or the client stopped at the size limit.
    pub truncated: bool,
    /// What protected the connection.
    pub transport: Transport,
    /// The TLS version (`TLSv1.3`), when TLS was used.
    pub tls_version: Option<String>,
    /// Warnings (StartTLS refused, cipher list fallback).
    pub warnings: Vec<String>,
    /// The filter sent (values escaped).
    pub filter: String,
}

/// The directory client for one profile.
pub struct Directory {
    config: DirectoryConfig,
    policy: ClientPolicy,
    connector: TlsConnector,
    warnings: Vec<TlsWarning>,
}

impl fmt::Debug for Directory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Directory")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl Directory {
    /// From the profile in force: the LDAP parameters and the LDAP TLS policy (trust store:
    /// system roots + `STATE/ca/*.pem`).
    pub fn new(profile: &Profile, state: &StateDir) -> Result<Self, LdapError> {
        let config = DirectoryConfig::from_profile(profile).map_err(LdapError::Config)?;
        let mut policy = client_policy(profile, ClientApp::Ldap);
        // SPEC §9: the phone always validates the server's host name for LDAPS/StartTLS.
        policy.verify_host = true;
        let (connector, warnings) = connector(&policy, state).map_err(LdapError::TlsSetup)?;
        Ok(Self {
            config,
            policy,
            connector,
            warnings,
        })
    }

    /// The configuration in force.
    pub fn config(&self) -> &DirectoryConfig {
        &self.config
    }

    /// Searches by name with the name filters (`$VALUE` = `name`, escaped).
    pub async fn search_name(&self, name: &str) -> Result<SearchOutcome, LdapError> {
        let filter = self.config.name_filter(name).map_err(LdapError::Filter)?;
        self.search(&filter).await
    }

    /// Connects, binds, searches with `filter` and unbinds; the whole exchange is bounded by
    /// [`WHOLE_SEARCH_STEPS`] steps' timeouts (a server trickling entries cannot hold the
    /// phone longer).
    pub async fn search(&self, filter: &Filter) -> Result<SearchOutcome, LdapError> {
        let step = Duration::from_secs(u64::from(self.config.limits.timeout_secs));
        tokio::time::timeout(step * WHOLE_SEARCH_STEPS, self.search_inner(filter))
            .await
            .map_err(|_| LdapError::Timeout("(the whole search)"))?
    }

    async fn search_inner(&self, filter: &Filter) -> Result<SearchOutcome, LdapError> {
        let limits = self.config.limits;
        let step = Duration::from_secs(u64::from(limits.timeout_secs));
        let mut warnings: Vec<String> = self.warnings.iter().map(ToString::to_string).collect();
        let (tcp, addr) = self.connect(step).await?;
        let host = self.config.server.host.as_str();
        let (mut session, transport, tls_version): (Session<Box<dyn Io>>, _, _) =
            match self.config.server.scheme {
                Scheme::Ldaps => {
                    let tls = self.handshake(tcp, addr, step).await?;
                    let v = tls.ssl().version_str().to_owned();
                    (Session::new(Box::new(tls), limits), Transport::Tls, Some(v))
                }
                Scheme::Ldap if self.config.start_tls => {
                    let mut plain = Session::new(tcp, limits);
                    if plain.start_tls().await? {
                        let next_id = plain.next_id;
                        let tcp = plain.into_inner()?;
                        let tls = self.handshake(tcp, addr, step).await?;
                        let v = tls.ssl().version_str().to_owned();
                        let mut s = Session::new(Box::new(tls) as Box<dyn Io>, limits);
                        s.next_id = next_id;
                        (s, Transport::Tls, Some(v))
                    } else {
                        let w = format!(
                            "ldap: {host} refused StartTLS; the connection continues in plain text"
                        );
                        warn!("{w}");
                        warnings.push(w);
                        let s = Session {
                            io: Box::new(plain.io) as Box<dyn Io>,
                            buf: plain.buf,
                            codec: plain.codec,
                            limits,
                            next_id: plain.next_id,
                        };
                        (s, Transport::StartTlsRefused, None)
                    }
                }
                Scheme::Ldap => (
                    Session::new(Box::new(tcp) as Box<dyn Io>, limits),
                    Transport::Plain,
                    None,
                ),
            };
        let plan = bind_plan(&self.config, transport).map_err(LdapError::BindRefused)?;
        session.bind(&plan, host).await?;
        let (rows, truncated) = session.search(&self.config, filter).await?;
        session.unbind().await;
        Ok(SearchOutcome {
            rows,
            truncated,
            transport,
            tls_version,
            warnings,
            filter: filter.to_string(),
        })
    }

    async fn connect(&self, step: Duration) -> Result<(TcpStream, SocketAddr), LdapError> {
        let server = &self.config.server;
        let addrs: Vec<SocketAddr> = tokio::time::timeout(
            step,
            tokio::net::lookup_host((server.host.as_str(), server.port)),
        )
        .await
        .map_err(|_| LdapError::Timeout("resolving the server's name"))?
        .map_err(|e| LdapError::Connect(format!("{}: {e}", server.host)))?
        .collect();
        let mut last = format!("{}: no address", server.host);
        for addr in addrs {
            match tokio::time::timeout(step, TcpStream::connect(addr)).await {
                Ok(Ok(s)) => return Ok((s, addr)),
                Ok(Err(e)) => last = format!("{addr}: {e}"),
                Err(_) => last = format!("{addr}: timed out"),
            }
        }
        Err(LdapError::Connect(last))
    }

    async fn handshake(
        &self,
        tcp: TcpStream,
        addr: SocketAddr,
        step: Duration,
    ) -> Result<SslStream<TcpStream>, LdapError> {
        let name = self.config.server.host.as_str();
        // The step's timeout is the LDAP error; the handshake's own (a second later) never
        // fires first.
        let handshake =
            crate::tls::handshake(&self.connector, tcp, name, step + Duration::from_secs(1));
        let stream = tokio::time::timeout(step, handshake)
            .await
            .map_err(|_| LdapError::Timeout("in the TLS handshake"))??;
        check_peer(stream.ssl(), &self.policy, name, addr.ip())?;
        Ok(stream)
    }
}

/// A byte stream a session runs on (TCP, or TLS over TCP).
trait Io: AsyncRead + AsyncWrite + Unpin + Send {}

impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

/// An LDAP session on a stream: framing, message ids, timeouts.
struct Session<S> {
    io: S,
    buf: BytesMut,
    codec: LdapCodec,
    limits: Limits,
    next_id: i32,
}

fn result_error(res: &LdapResult) -> (u32, String) {
    (res.code.clone() as u32, res.message.clone())
}

impl<S: AsyncRead + AsyncWrite + Unpin> Session<S> {
    fn new(io: S, limits: Limits) -> Self {
        Self {
            io,
            buf: BytesMut::with_capacity(8 * 1024),
            codec: LdapCodec::new(Some(limits.max_message_bytes), None),
            limits,
            next_id: 1,
        }
    }

    fn step(&self) -> Duration {
        Duration::from_secs(u64::from(self.limits.timeout_secs))
    }

    /// Sends a request; returns its message id.
    async fn send(&mut self, op: LdapOp) -> Result<i32, LdapError> {
        let msgid = self.next_id;
        self.next_id = self.next_id.wrapping_add(1).max(1);
        let mut out = BytesMut::new();
        self.codec
            .encode(
                LdapMsg {
                    msgid,
                    op,
                    ctrl: Vec::new(),
                },
                &mut out,
            )
            .map_err(|e| LdapError::Malformed(format!("cannot encode the request: {e}")))?;
        let step = self.step();
        tokio::time::timeout(step, async {
            self.io.write_all(&out).await?;
            self.io.flush().await
        })
        .await
        .map_err(|_| LdapError::Timeout("sending a request"))?
        .map_err(|e| LdapError::Connect(format!("sending a request: {e}")))?;
        Ok(msgid)
    }

    /// Receives the next message for `msgid`; a Notice of Disconnection or a message for
    /// another id is an error.
    async fn recv(&mut self, msgid: i32, what: &'static str) -> Result<LdapOp, LdapError> {
        let step = self.step();
        let msg = tokio::time::timeout(step, self.read_msg(what))
            .await
            .map_err(|_| LdapError::Timeout(what))??;
        if msg.msgid == 0 {
            if let LdapOp::ExtendedResponse(r) = &msg.op
                && r.name.as_deref() == Some(NOTICE_OF_DISCONNECTION_OID)
            {
                let (code, text) = result_error(&r.res);
                return Err(LdapError::Disconnected(format!(
                    "{} ({code}){}",
                    result_code_name(code),
                    with_message(&text)
                )));
            }
            return Err(LdapError::Malformed(
                "an unsolicited message with id 0".to_owned(),
            ));
        }
        if msg.msgid != msgid {
            return Err(LdapError::Malformed(format!(
                "a response to message {} while waiting for {msgid}",
                msg.msgid
            )));
        }
        Ok(msg.op)
    }

    async fn read_msg(&mut self, what: &'static str) -> Result<LdapMsg, LdapError> {
        loop {
            match self.codec.decode(&mut self.buf) {
                Ok(Some(m)) => return Ok(m),
                Ok(None) => {}
                Err(e) if e.kind() == std::io::ErrorKind::OutOfMemory => {
                    return Err(LdapError::Oversized(self.limits.max_message_bytes));
                }
                Err(e) => return Err(LdapError::Malformed(e.to_string())),
            }
            self.buf.reserve(16 * 1024);
            let n = self
                .io
                .read_buf(&mut self.buf)
                .await
                .map_err(|e| LdapError::Connect(format!("reading {what}: {e}")))?;
            if n == 0 {
                if self.buf.is_empty() {
                    return Err(LdapError::Closed(what));
                }
                return Err(LdapError::Malformed(format!(
                    "the server closed the connection inside a message ({} bytes that are not \
                     a whole LDAP message) {what}",
                    self.buf.len()
                )));
            }
        }
    }

    /// Sends StartTLS; true when the server accepted it.
    async fn start_tls(&mut self) -> Result<bool, LdapError> {
        let id = self
            .send(LdapOp::ExtendedRequest(LdapExtendedRequest {
                name: START_TLS_OID.to_owned(),
                value: None,
            }))
            .await?;
        match self.recv(id, "waiting for the StartTLS response").await? {
            LdapOp::ExtendedResponse(r) => Ok(r.res.code.clone() as u32 == 0),
            other => Err(unexpected("an ExtendedResponse", &other)),
        }
    }

    /// The stream, for the TLS upgrade; bytes already received after the StartTLS response
    /// would be a server speaking out of turn.
    fn into_inner(self) -> Result<S, LdapError> {
        if self.buf.is_empty() {
            Ok(self.io)
        } else {
            Err(LdapError::Malformed(
                "data after the StartTLS response, before the TLS handshake".to_owned(),
            ))
        }
    }

    async fn bind(&mut self, plan: &BindPlan, host: &str) -> Result<(), LdapError> {
        match plan {
            BindPlan::Anonymous => Ok(()),
            BindPlan::Simple { dn, password } => {
                let res = self
                    .bind_once(dn, LdapBindCred::Simple(password.expose().to_owned()))
                    .await?;
                check_bind(&res.0)
            }
            BindPlan::DigestMd5 { username, password } => {
                let sasl = |credentials: Vec<u8>| {
                    LdapBindCred::SASL(SaslCredentials {
                        mechanism: "DIGEST-MD5".to_owned(),
                        credentials,
                    })
                };
                let (res, challenge) = self.bind_once("", sasl(Vec::new())).await?;
                if res.code.clone() as u32 != 14 {
                    check_bind(&res)?;
                    return Err(LdapError::Malformed(
                        "the server accepted DIGEST-MD5 without a challenge".to_owned(),
                    ));
                }
                let challenge =
                    Challenge::parse(&challenge.unwrap_or_default()).map_err(LdapError::Digest)?;
                let digest_uri = format!("ldap/{host}");
                let creds = Credentials {
                    username,
                    password: password.expose(),
                    digest_uri: &digest_uri,
                };
                let response = digest_md5::respond(&challenge, &creds, &cnonce()?)
                    .map_err(LdapError::Digest)?;
                let (res, rspauth) = self
                    .bind_once("", sasl(response.text.as_bytes().to_vec()))
                    .await?;
                match res.code.clone() as u32 {
                    0 | 14 => {
                        // The server proves it knows the password (RFC 2831 §2.1.3).
                        response
                            .verify_rspauth(&rspauth.unwrap_or_default())
                            .map_err(LdapError::Digest)?;
                        if res.code.clone() as u32 == 14 {
                            let (res, _) = self.bind_once("", sasl(Vec::new())).await?;
                            check_bind(&res)?;
                        }
                        Ok(())
                    }
                    _ => check_bind(&res),
                }
            }
        }
    }

    async fn bind_once(
        &mut self,
        dn: &str,
        cred: LdapBindCred,
    ) -> Result<(LdapResult, Option<Vec<u8>>), LdapError> {
        let id = self
            .send(LdapOp::BindRequest(LdapBindRequest {
                version: 3,
                dn: dn.to_owned(),
                cred,
            }))
            .await?;
        match self.recv(id, "waiting for the bind response").await? {
            LdapOp::BindResponse(r) => Ok((r.res, r.saslcreds)),
            other => Err(unexpected("a BindResponse", &other)),
        }
    }

    async fn search(
        &mut self,
        cfg: &DirectoryConfig,
        filter: &Filter,
    ) -> Result<(Vec<Row>, bool), LdapError> {
        let attrs = display::requested_attributes(&cfg.display);
        let limit = cfg.limits.size_limit;
        let id = self
            .send(LdapOp::SearchRequest(LdapSearchRequest {
                base: cfg.search_base.clone(),
                scope: LdapSearchScope::Subtree,
                aliases: LdapDerefAliases::Never,
                sizelimit: i32::try_from(limit).unwrap_or(i32::MAX),
                timelimit: i32::try_from(cfg.limits.timeout_secs).unwrap_or(i32::MAX),
                typesonly: false,
                filter: to_proto(filter)?,
                attrs,
            }))
            .await?;
        let mut rows = Vec::new();
        loop {
            match self.recv(id, "waiting for search results").await? {
                LdapOp::SearchResultEntry(e) => {
                    if rows.len() >= limit as usize {
                        // A server ignoring the size limit: stop reading.
                        return Ok((rows, true));
                    }
                    let attrs: Vec<(String, Vec<String>)> = e
                        .attributes
                        .into_iter()
                        .map(|a| {
                            let vals = a
                                .vals
                                .iter()
                                .map(|v| String::from_utf8_lossy(v).into_owned())
                                .collect();
                            (a.atype, vals)
                        })
                        .collect();
                    rows.push(display::to_row(
                        &e.dn,
                        &attrs,
                        &cfg.display,
                        &cfg.number_mapping,
                    ));
                }
                LdapOp::SearchResultReference(_) => {}
                LdapOp::SearchResultDone(res) => {
                    return match res.code.clone() as u32 {
                        0 => Ok((rows, false)),
                        4 => Ok((rows, true)),
                        code => Err(LdapError::Search {
                            code,
                            message: res.message,
                        }),
                    };
                }
                other => return Err(unexpected("search results", &other)),
            }
        }
    }

    /// Sends an unbind and closes; errors do not matter any more.
    async fn unbind(&mut self) {
        if let Ok(Ok(_)) =
            tokio::time::timeout(Duration::from_secs(1), self.send(LdapOp::UnbindRequest)).await
        {
            let _ = tokio::time::timeout(Duration::from_secs(1), self.io.shutdown()).await;
        }
    }
}

fn check_bind(res: &LdapResult) -> Result<(), LdapError> {
    match res.code.clone() as u32 {
        0 => Ok(()),
        code => Err(LdapError::Bind {
            code,
            message: res.message.clone(),
        }),
    }
}

fn unexpected(wanted: &str, got: &LdapOp) -> LdapError {
    let name = match got {
        LdapOp::BindResponse(_) => "a BindResponse",
        LdapOp::SearchResultEntry(_) => "a SearchResultEntry",
        LdapOp::SearchResultDone(_) => "a SearchResultDone",
        LdapOp::ExtendedResponse(_) => "an ExtendedResponse",
        _ => "another operation",
    };
    LdapError::Malformed(format!("{name} where {wanted} was expected"))
}

/// A fresh client nonce: 128 random bits, hex.
fn cnonce() -> Result<String, LdapError> {
    let mut b = [0u8; 16];
    openssl::rand::rand_bytes(&mut b)
        .map_err(|e| LdapError::TlsSetup(TlsError::OpenSsl(e.to_string())))?;
    Ok(b.iter().map(|x| format!("{x:02x}")).collect())
}

/// The core's filter as `ldap3_proto`'s.
fn to_proto(f: &Filter) -> Result<LdapFilter, LdapError> {
    let list = |v: &[Filter]| v.iter().map(to_proto).collect::<Result<Vec<_>, _>>();
    Ok(match f {
        Filter::And(v) => LdapFilter::And(list(v)?),
        Filter::Or(v) => LdapFilter::Or(list(v)?),
        Filter::Not(x) => LdapFilter::Not(Box::new(to_proto(x)?)),
        Filter::Equality(a, v) => LdapFilter::Equality(a.clone(), v.clone()),
        Filter::Substrings {
            attr,
            initial,
            any,
            last,
        } => LdapFilter::Substring(
            attr.clone(),
            LdapSubstringFilter {
                initial: initial.clone(),
                any: any.clone(),
                final_: last.clone(),
            },
        ),
        Filter::GreaterOrEqual(a, v) => LdapFilter::GreaterOrEqual(a.clone(), v.clone()),
        Filter::LessOrEqual(a, v) => LdapFilter::LessOrEqual(a.clone(), v.clone()),
        Filter::Present(a) => LdapFilter::Present(a.clone()),
        Filter::Approx(a, v) => LdapFilter::Approx(a.clone(), v.clone()),
        Filter::Extensible {
            rule,
            attr,
            value,
            dn,
        } => LdapFilter::Extensible(LdapMatchingRuleAssertion {
            matching_rule: rule.clone(),
            type_: attr.clone(),
            match_value: value.clone(),
            dn_attributes: *dn,
        }),
        // The core's enum is non_exhaustive: a new kind is refused until it is mapped here,
        // never replaced by a broader filter.
        other => {
            return Err(LdapError::Malformed(format!(
                "filter {other} has a kind this client cannot send"
            )));
        }
    })
}
