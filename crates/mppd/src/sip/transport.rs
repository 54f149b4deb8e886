//! SIP transports (issue 5 item 2): UDP (a socket on the line's `SIP_Port_n_`, connected to
//! the registrar), TCP and TLS (a connection from an ephemeral port; TLS with the SIP policy of
//! the line: minimum version, cipher list, trust store, device certificate, and the host name
//! check unless `TLS_Name_Validate_n_` is No). Reads are bounded: datagrams and stream frames
//! by [`FrameLimits`], messages by [`Message::parse`]'s limits.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use crate::tls::TlsConnector;
use mppd_core::sip::framing::{Datagram, Frame, FrameLimits, StreamFramer, datagram};
use mppd_core::sip::locate::Transport;
use mppd_core::sip::message::Message;
use mppd_core::tls::ClientPolicy;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpStream, UdpSocket};
use tokio_openssl::SslStream;

use super::locate::Target;
use crate::tls::{TlsFailure, check_peer_name, handshake, negotiated};

/// How long a TCP connection or TLS handshake may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// The TLS side of a line: its connector and policy.
pub struct TlsSetup {
    /// The connector (trust store, device certificate, versions, ciphers).
    pub connector: TlsConnector,
    /// The policy (whether the host name is checked).
    pub policy: ClientPolicy,
}

impl std::fmt::Debug for TlsSetup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsSetup")
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

/// Why a connection could not be opened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConnectError {
    /// A socket, bind or TCP connect failure.
    Io(String),
    /// The TLS handshake or a check after it failed.
    Tls(TlsFailure),
}

impl std::fmt::Display for ConnectError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Io(m) => f.write_str(m),
            Self::Tls(t) => write!(f, "TLS: {t}"),
        }
    }
}

enum Io {
    Udp(UdpSocket),
    Tcp(TcpStream),
    Tls(Box<SslStream<TcpStream>>),
}

/// One connection to a SIP peer.
pub struct Connection {
    io: Io,
    framer: StreamFramer,
    limits: FrameLimits,
    buf: Vec<u8>,
    /// The transport.
    pub transport: Transport,
    /// The local address (`host:port` of Via and Contact).
    pub local: SocketAddr,
    /// The peer.
    pub peer: SocketAddr,
    /// For TLS: the negotiated version and cipher.
    pub tls: Option<(String, String)>,
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection")
            .field("transport", &self.transport)
            .field("local", &self.local)
            .field("peer", &self.peer)
            .field("tls", &self.tls)
            .finish_non_exhaustive()
    }
}

impl Connection {
    /// Opens a connection to `target`; UDP binds `local_port` (the line's `SIP_Port_n_`,
    /// named `port_name` in errors).
    pub async fn open(
        target: &Target,
        local_port: u16,
        port_name: &str,
        tls: Option<&TlsSetup>,
    ) -> Result<Self, ConnectError> {
        let io_err = |what: String| ConnectError::Io(what);
        let limits = FrameLimits::default();
        let unspecified = match target.addr.ip() {
            IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            IpAddr::V6(_) => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
        };
        let (io, local, tls_info) = match target.transport {
            Transport::Udp => {
                let bind = SocketAddr::new(unspecified, local_port);
                let sock = UdpSocket::bind(bind)
                    .await
                    .map_err(|e| io_err(format!("cannot bind UDP {bind} ({port_name}): {e}")))?;
                // The socket stays unconnected (it also takes requests from other peers); the
                // local address towards the target is the one a connected probe gets.
                let port = sock
                    .local_addr()
                    .map_err(|e| io_err(format!("UDP local address: {e}")))?
                    .port();
                let local = local_towards(SocketAddr::new(bind.ip(), port), target.addr)
                    .await
                    .map_err(|e| io_err(format!("UDP to {}: {e}", target.addr)))?;
                (Io::Udp(sock), local, None)
            }
            Transport::Tcp | Transport::Tls => {
                let tcp = tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(target.addr))
                    .await
                    .map_err(|_| io_err(format!("TCP to {}: connection timed out", target.addr)))?
                    .map_err(|e| io_err(format!("TCP to {}: {e}", target.addr)))?;
                // SIP messages are small writes answered at once: Nagle's algorithm would hold
                // the second REGISTER back until the server's delayed ACK (about 40 ms).
                tcp.set_nodelay(true)
                    .map_err(|e| io_err(format!("TCP_NODELAY: {e}")))?;
                let local = tcp
                    .local_addr()
                    .map_err(|e| io_err(format!("TCP local address: {e}")))?;
                if target.transport == Transport::Tcp {
                    (Io::Tcp(tcp), local, None)
                } else {
                    let setup =
                        tls.ok_or_else(|| io_err("TLS transport without a TLS setup".to_owned()))?;
                    let stream = handshake(&setup.connector, tcp, &target.name, CONNECT_TIMEOUT)
                        .await
                        .map_err(ConnectError::Tls)?;
                    check_peer_name(stream.ssl(), &setup.policy, &target.name, target.addr.ip())
                        .map_err(ConnectError::Tls)?;
                    let info = negotiated(stream.ssl());
                    (Io::Tls(Box::new(stream)), local, Some(info))
                }
            }
        };
        Ok(Self {
            io,
            framer: StreamFramer::new(limits),
            limits,
            buf: vec![0; 16 * 1024],
            transport: target.transport,
            local,
            peer: target.addr,
            tls: tls_info,
        })
    }

    /// Whether the transport is reliable (no retransmissions).
    pub fn reliable(&self) -> bool {
        self.transport != Transport::Udp
    }

    /// Sends one message to the peer.
    pub async fn send(&mut self, bytes: &[u8]) -> Result<(), String> {
        let peer = self.peer;
        self.send_to(peer, bytes).await
    }

    /// Sends one message to `to` (UDP; a stream goes to its peer whatever `to` says).
    pub async fn send_to(&mut self, to: SocketAddr, bytes: &[u8]) -> Result<(), String> {
        let r = match &mut self.io {
            Io::Udp(s) => s.send_to(bytes, to).await.map(drop),
            Io::Tcp(s) => s.write_all(bytes).await,
            Io::Tls(s) => s.write_all(bytes).await,
        };
        r.map_err(|e| format!("sending to {to} over {}: {e}", self.transport))
    }

    /// The next message received and its source. Cancel-safe: nothing read is lost when the
    /// future is dropped. A malformed datagram is skipped (logged); a malformed stream ends
    /// it.
    pub async fn recv(&mut self) -> Result<(Message, SocketAddr), String> {
        loop {
            if let Io::Udp(s) = &self.io {
                let (n, from) = s
                    .recv_from(&mut self.buf)
                    .await
                    .map_err(|e| format!("receiving over UDP: {e}"))?;
                match datagram(&self.buf[..n], &self.limits) {
                    Ok(Datagram::Message(bytes)) => match Message::parse(bytes) {
                        Ok(m) => return Ok((m, from)),
                        Err(e) => tracing::warn!("sip: dropped a datagram from {from}: {e}"),
                    },
                    Ok(Datagram::KeepAlive) => {}
                    Err(e) => tracing::warn!("sip: dropped a datagram from {from}: {e}"),
                }
                continue;
            }
            match self.framer.next_frame() {
                Ok(Some(Frame::Message(bytes))) => {
                    return Message::parse(&bytes)
                        .map(|m| (m, self.peer))
                        .map_err(|e| format!("bad message from {}: {e}", self.peer));
                }
                Ok(Some(Frame::Ping)) => {
                    self.send(b"\r\n").await?;
                    continue;
                }
                Ok(Some(Frame::Pong)) => continue,
                Ok(None) => {}
                Err(e) => return Err(format!("bad stream from {}: {e}", self.peer)),
            }
            let room = self.framer.room().min(self.buf.len());
            if room == 0 {
                return Err(format!("bad stream from {}: message too large", self.peer));
            }
            let n = match &mut self.io {
                Io::Tcp(s) => s.read(&mut self.buf[..room]).await,
                Io::Tls(s) => s.read(&mut self.buf[..room]).await,
                Io::Udp(_) => Ok(0),
            }
            .map_err(|e| format!("receiving from {}: {e}", self.peer))?;
            if n == 0 {
                return Err(format!("{} closed the connection", self.peer));
            }
            self.framer
                .push(&self.buf[..n])
                .map_err(|e| format!("bad stream from {}: {e}", self.peer))?;
        }
    }
}

/// The local address a UDP socket bound to `bind` uses towards `peer` (a connected probe
/// socket on an ephemeral port: connecting UDP sends nothing), with `bind`'s port.
async fn local_towards(bind: SocketAddr, peer: SocketAddr) -> std::io::Result<SocketAddr> {
    let probe = UdpSocket::bind(SocketAddr::new(bind.ip(), 0)).await?;
    probe.connect(peer).await?;
    Ok(SocketAddr::new(probe.local_addr()?.ip(), bind.port()))
}
