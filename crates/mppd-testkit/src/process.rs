//! Processes started by tests: a guard that kills and reaps by PID on drop, free loopback
//! ports, and a bounded wait until a server accepts TCP connections.

use std::fs;
use std::net::{IpAddr, SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, ExitStatus};
use std::thread;
use std::time::{Duration, Instant};

/// How long a peer may take to start listening.
pub const READY_TIMEOUT: Duration = Duration::from_secs(15);

/// A child process that is killed (SIGKILL, by its PID) and reaped when the guard is dropped,
/// so a failing test leaves nothing behind.
#[derive(Debug)]
pub struct ChildGuard {
    child: Child,
    what: String,
}

impl ChildGuard {
    /// Spawns `cmd`; `what` names it in panic messages.
    pub fn spawn(cmd: &mut Command, what: &str) -> Self {
        let child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("{what}: cannot start {cmd:?}: {e}"));
        Self {
            child,
            what: what.to_owned(),
        }
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The exit status when the process has already exited.
    pub fn exited(&mut self) -> Option<ExitStatus> {
        self.child
            .try_wait()
            .unwrap_or_else(|e| panic!("{}: waiting for pid {}: {e}", self.what, self.pid()))
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        // Only this child, by its PID; errors mean it is already gone.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A TCP port on `ip` that was free a moment ago: bind port 0, read the port, release it.
pub fn free_port(ip: IpAddr) -> u16 {
    let listener = TcpListener::bind(SocketAddr::new(ip, 0))
        .unwrap_or_else(|e| panic!("binding {ip} port 0 to find a free port: {e}"));
    listener
        .local_addr()
        .unwrap_or_else(|e| panic!("local address of a port-0 listener: {e}"))
        .port()
}

/// Why a server did not become ready.
#[derive(Debug)]
pub enum NotReady {
    /// The process exited before accepting a connection.
    Exited(ExitStatus),
    /// It did not accept a connection within the timeout.
    Timeout(Duration),
}

impl std::fmt::Display for NotReady {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Exited(s) => write!(f, "exited before accepting connections ({s})"),
            Self::Timeout(d) => write!(f, "did not accept a TCP connection within {d:?}"),
        }
    }
}

/// Waits until the process says it listens (`bound` returns true: a line it printed, a pid
/// file it wrote) and `addr` accepts a TCP connection (then closed), as long as the process
/// runs, for at most `timeout`. `bound` keeps a server that lost the race for a free port
/// from being taken for ready because another test's server answers on that port.
pub fn wait_for_tcp(
    child: &mut ChildGuard,
    addr: SocketAddr,
    timeout: Duration,
    bound: impl Fn() -> bool,
) -> Result<(), NotReady> {
    let start = Instant::now();
    loop {
        if let Some(status) = child.exited() {
            return Err(NotReady::Exited(status));
        }
        if bound() && TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
            return Ok(());
        }
        if start.elapsed() > timeout {
            return Err(NotReady::Timeout(timeout));
        }
        thread::sleep(Duration::from_millis(20));
    }
}

/// The contents of a log file written by a peer (empty when it does not exist yet).
pub fn read_log(path: &Path) -> String {
    match fs::read(path) {
        Ok(b) => String::from_utf8_lossy(&b).into_owned(),
        Err(_) => String::new(),
    }
}

/// A file to redirect a child's stdout or stderr to (a pipe nobody reads would block it).
pub fn log_file(path: &Path) -> fs::File {
    fs::File::create(path).unwrap_or_else(|e| panic!("creating {}: {e}", path.display()))
}
