//! The PAC engine (SPEC §18; issue 8 item 2): `FindProxyForURL(url, host)` evaluated by
//! QuickJS (rquickjs) on a thread of its own, with a memory limit, a JS stack limit and a time
//! limit per call, so that a broken, hostile or looping PAC file ends in an error, never in a
//! hang or a crash of the daemon.
//!
//! The standard helper functions are Rust ([`mppd_core::proxy::helpers`]) bound into the JS
//! global object; only name resolution (`dnsResolve`, `dnsResolveEx`, `isResolvable`,
//! `isResolvableEx`, and `isInNet` on a host name) and the clock (`weekdayRange`, `dateRange`,
//! `timeRange`) come from outside, through [`PacEnv`]. As in pacparser (the oracle of the
//! differential test):
//! - `dnsResolve` gives the first IPv4 address as a string, or `null` (not `undefined`);
//! - `dnsResolveEx` gives every address, `;`-separated, or `null`;
//! - `myIpAddress`/`myIpAddressEx` give the pinned address ([`PacEnv::my_ip`]) or the address
//!   of the interface that routes to the outside (found without sending a packet), else
//!   `127.0.0.1`;
//! - `isInNet(host, pattern, mask)` resolves a host name first; `isInNetEx` does not.
//!
//! Local time is taken as UTC: the phone's time zone setting is not wired to the PAC clock.

use std::cell::Cell;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, UdpSocket};
use std::rc::Rc;
use std::sync::Arc;
use std::sync::mpsc::{self, RecvTimeoutError, SyncSender};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use mppd_core::proxy::helpers::{self, PacArg, PacTime};
use rquickjs::convert::Coerced;
use rquickjs::function::Rest;
use rquickjs::{CaughtError, Context, Ctx, Function, Runtime, Value};

use crate::provision::fetch::Resolve;

/// Limits of the engine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PacLimits {
    /// Heap of the JS runtime, in bytes.
    pub memory: usize,
    /// JS stack, in bytes (the engine thread's own stack is four times larger).
    pub stack: usize,
    /// Time for loading the script and for each `FindProxyForURL` call.
    pub time: Duration,
}

impl Default for PacLimits {
    fn default() -> Self {
        Self {
            memory: 32 << 20,
            stack: 512 << 10,
            time: Duration::from_secs(2),
        }
    }
}

/// What the PAC functions see of the world.
#[derive(Clone)]
pub struct PacEnv {
    /// `myIpAddress()`; `None`: the address that routes to the outside, else `127.0.0.1`.
    pub my_ip: Option<IpAddr>,
    /// Name resolution for `dnsResolve` and friends.
    pub resolver: Arc<dyn Resolve>,
}

impl fmt::Debug for PacEnv {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PacEnv")
            .field("my_ip", &self.my_ip)
            .finish_non_exhaustive()
    }
}

/// Why a PAC file could not be loaded or did not give an answer.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum PacError {
    /// The script does not parse.
    Syntax(String),
    /// The script defines no function `FindProxyForURL`.
    NoFunction,
    /// The script threw.
    Exception(String),
    /// `FindProxyForURL` returned something other than a string (the JS type is named).
    NotAString(String),
    /// The script ran past the time limit.
    Timeout(Duration),
    /// The script exhausted the memory limit.
    OutOfMemory(usize),
    /// The script recursed past the stack limit.
    StackOverflow(usize),
    /// The engine thread is gone (it could not start, or an earlier call never returned).
    EngineGone(String),
}

impl fmt::Display for PacError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Syntax(m) => write!(f, "PAC file has a syntax error: {m}"),
            Self::NoFunction => f.write_str("PAC file defines no function FindProxyForURL"),
            Self::Exception(m) => write!(f, "PAC file threw an exception: {m}"),
            Self::NotAString(t) => {
                write!(f, "FindProxyForURL returned {t}, not a string")
            }
            Self::Timeout(d) => write!(f, "PAC evaluation timed out after {d:?} (time limit)"),
            Self::OutOfMemory(n) => write!(
                f,
                "PAC evaluation ran out of memory (limit {} MiB)",
                n >> 20
            ),
            Self::StackOverflow(n) => write!(
                f,
                "PAC evaluation overflowed the stack (recursion too deep, limit {} KiB)",
                n >> 10
            ),
            Self::EngineGone(m) => write!(f, "PAC engine unavailable: {m}"),
        }
    }
}

impl std::error::Error for PacError {}

struct Job {
    url: String,
    host: String,
    reply: SyncSender<Result<String, PacError>>,
}

/// A loaded PAC file, evaluated on its own thread. Cheap to share (`Send + Sync`); calls are
/// served one at a time.
pub struct PacEngine {
    jobs: SyncSender<Job>,
    limits: PacLimits,
}

impl fmt::Debug for PacEngine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PacEngine")
            .field("limits", &self.limits)
            .finish_non_exhaustive()
    }
}

/// Extra time the caller waits beyond the engine's own limit before it gives up on the thread
/// (a helper stuck in a slow name lookup, say).
const WATCHDOG_SLACK: Duration = Duration::from_secs(2);

impl PacEngine {
    /// Loads `script` (checking that it parses and defines `FindProxyForURL`) on a new engine
    /// thread.
    pub fn new(script: &str, env: PacEnv, limits: PacLimits) -> Result<Self, PacError> {
        let (jobs_tx, jobs_rx) = mpsc::sync_channel::<Job>(16);
        let (ready_tx, ready_rx) = mpsc::sync_channel::<Result<(), PacError>>(1);
        let script = script.to_owned();
        std::thread::Builder::new()
            .name("mppd-pac".to_owned())
            .stack_size(limits.stack.saturating_mul(4).max(2 << 20))
            .spawn(move || worker(&script, &env, limits, &ready_tx, &jobs_rx))
            .map_err(|e| PacError::EngineGone(format!("cannot start the PAC thread: {e}")))?;
        match ready_rx.recv_timeout(limits.time + WATCHDOG_SLACK) {
            Ok(Ok(())) => Ok(Self {
                jobs: jobs_tx,
                limits,
            }),
            Ok(Err(e)) => Err(e),
            Err(RecvTimeoutError::Timeout) => Err(PacError::Timeout(limits.time)),
            Err(RecvTimeoutError::Disconnected) => Err(PacError::EngineGone(
                "the PAC thread ended while loading the script".to_owned(),
            )),
        }
    }

    /// `FindProxyForURL(url, host)`: the string the PAC file returned, as it returned it.
    pub fn find(&self, url: &str, host: &str) -> Result<String, PacError> {
        let (reply, answer) = mpsc::sync_channel(1);
        self.jobs
            .try_send(Job {
                url: url.to_owned(),
                host: host.to_owned(),
                reply,
            })
            .map_err(|e| match e {
                mpsc::TrySendError::Full(_) => PacError::EngineGone(
                    "the PAC thread is still busy with earlier calls".to_owned(),
                ),
                mpsc::TrySendError::Disconnected(_) => {
                    PacError::EngineGone("the PAC thread has ended".to_owned())
                }
            })?;
        match answer.recv_timeout(self.limits.time + WATCHDOG_SLACK) {
            Ok(r) => r,
            Err(RecvTimeoutError::Timeout) => Err(PacError::Timeout(self.limits.time)),
            Err(RecvTimeoutError::Disconnected) => Err(PacError::EngineGone(
                "the PAC thread ended during the call".to_owned(),
            )),
        }
    }

    /// The limits in force.
    pub fn limits(&self) -> PacLimits {
        self.limits
    }
}

/// The host part of `url` as `FindProxyForURL` gets it: after `scheme://` and any
/// `user@`, up to `:`, `/`, `?` or `#`, lower-cased; an IPv6 literal without its brackets.
/// `None` when the URL has no `scheme://` or an empty host.
pub fn host_of_url(url: &str) -> Option<String> {
    let (_, rest) = url.split_once("://")?;
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = &rest[..end];
    let hostport = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = if let Some(inner) = hostport.strip_prefix('[') {
        inner.split_once(']')?.0
    } else {
        hostport.split(':').next().unwrap_or("")
    };
    (!host.is_empty()).then(|| host.to_ascii_lowercase())
}

// ---------------------------------------------------------------- the engine thread

struct Clock {
    deadline: Cell<Option<Instant>>,
    fired: Cell<bool>,
}

fn worker(
    script: &str,
    env: &PacEnv,
    limits: PacLimits,
    ready: &SyncSender<Result<(), PacError>>,
    jobs: &mpsc::Receiver<Job>,
) {
    let setup = || -> Result<(Runtime, Context), PacError> {
        let rt = Runtime::new()
            .map_err(|e| PacError::EngineGone(format!("cannot create the JS runtime: {e}")))?;
        rt.set_memory_limit(limits.memory);
        rt.set_max_stack_size(limits.stack);
        let ctx = Context::full(&rt)
            .map_err(|e| PacError::EngineGone(format!("cannot create the JS context: {e}")))?;
        Ok((rt, ctx))
    };
    let (rt, ctx) = match setup() {
        Ok(v) => v,
        Err(e) => {
            let _ = ready.send(Err(e));
            return;
        }
    };
    let clock = Rc::new(Clock {
        deadline: Cell::new(None),
        fired: Cell::new(false),
    });
    let handler_clock = Rc::clone(&clock);
    rt.set_interrupt_handler(Some(Box::new(move || {
        let over = handler_clock
            .deadline
            .get()
            .is_some_and(|d| Instant::now() >= d);
        if over {
            handler_clock.fired.set(true);
        }
        over
    })));
    let my_ip = env.my_ip.unwrap_or_else(outward_address);

    let arm = |clock: &Clock| {
        clock.fired.set(false);
        clock.deadline.set(Some(Instant::now() + limits.time));
    };

    arm(&clock);
    let loaded = ctx.with(|ctx| -> Result<(), PacError> {
        install_helpers(&ctx, env, my_ip).map_err(|e| {
            PacError::EngineGone(format!("cannot install the PAC helper functions: {e}"))
        })?;
        let r: Result<Value, _> = ctx.eval(script.as_bytes());
        if let Err(e) = r {
            let caught = CaughtError::from_error(&ctx, e);
            return Err(classify(&caught, &clock, limits, true));
        }
        let f: Value = ctx
            .globals()
            .get("FindProxyForURL")
            .map_err(|_| PacError::NoFunction)?;
        if f.is_function() {
            Ok(())
        } else {
            Err(PacError::NoFunction)
        }
    });
    clock.deadline.set(None);
    let failed = loaded.is_err();
    if ready.send(loaded).is_err() || failed {
        return;
    }

    while let Ok(job) = jobs.recv() {
        arm(&clock);
        let result = ctx.with(|ctx| call(&ctx, &job, &clock, limits));
        clock.deadline.set(None);
        if result.is_err() {
            rt.run_gc();
        }
        let _ = job.reply.send(result);
    }
}

fn call(ctx: &Ctx<'_>, job: &Job, clock: &Clock, limits: PacLimits) -> Result<String, PacError> {
    let f: Function = ctx
        .globals()
        .get("FindProxyForURL")
        .map_err(|_| PacError::NoFunction)?;
    let v: Value = match f.call((job.url.as_str(), job.host.as_str())) {
        Ok(v) => v,
        Err(e) => {
            let caught = CaughtError::from_error(ctx, e);
            return Err(classify(&caught, clock, limits, false));
        }
    };
    match v.as_string() {
        Some(s) => s
            .to_string()
            .map_err(|e| PacError::Exception(format!("cannot read the returned string: {e}"))),
        None => Err(PacError::NotAString(js_type(&v))),
    }
}

fn js_type(v: &Value<'_>) -> String {
    v.type_name().to_owned()
}

fn classify(caught: &CaughtError<'_>, clock: &Clock, limits: PacLimits, loading: bool) -> PacError {
    if clock.fired.get() {
        return PacError::Timeout(limits.time);
    }
    let (name, message) = match caught {
        CaughtError::Exception(ex) => {
            let name: Option<String> = ex
                .get::<_, Option<Coerced<String>>>("name")
                .ok()
                .flatten()
                .map(|c| c.0);
            (name.unwrap_or_default(), ex.message().unwrap_or_default())
        }
        // QuickJS throws `null` when it cannot even allocate the "out of memory" error.
        CaughtError::Value(v) if v.is_null() => return PacError::OutOfMemory(limits.memory),
        CaughtError::Value(v) => (
            String::new(),
            v.get::<Coerced<String>>()
                .map(|c| c.0)
                .unwrap_or_else(|_| js_type(v)),
        ),
        CaughtError::Error(e) => {
            if matches!(e, rquickjs::Error::Allocation) {
                return PacError::OutOfMemory(limits.memory);
            }
            (String::new(), e.to_string())
        }
    };
    let lower = message.to_ascii_lowercase();
    if lower.contains("out of memory") {
        PacError::OutOfMemory(limits.memory)
    } else if lower.contains("stack overflow") || lower.contains("call stack size") {
        PacError::StackOverflow(limits.stack)
    } else if lower.contains("interrupted") {
        PacError::Timeout(limits.time)
    } else if loading && name == "SyntaxError" {
        PacError::Syntax(message)
    } else if name.is_empty() {
        PacError::Exception(message)
    } else {
        PacError::Exception(format!("{name}: {message}"))
    }
}

/// The address of the interface that routes towards the outside (a UDP `connect` sends no
/// packet), else 127.0.0.1.
fn outward_address() -> IpAddr {
    let probe = || -> std::io::Result<IpAddr> {
        let s = UdpSocket::bind((Ipv4Addr::UNSPECIFIED, 0))?;
        s.connect((Ipv4Addr::new(192, 0, 2, 1), 9))?;
        Ok(s.local_addr()?.ip())
    };
    match probe() {
        Ok(ip) if !ip.is_unspecified() => ip,
        _ => IpAddr::V4(Ipv4Addr::LOCALHOST),
    }
}

// ---------------------------------------------------------------- the helpers in JS

fn resolve_all(resolver: &dyn Resolve, host: &str) -> Vec<IpAddr> {
    if let Ok(ip) = host.parse::<IpAddr>() {
        return vec![ip];
    }
    if host.is_empty() {
        return Vec::new();
    }
    resolver.resolve(host).unwrap_or_default()
}

fn first_v4(resolver: &dyn Resolve, host: &str) -> Option<String> {
    resolve_all(resolver, host)
        .into_iter()
        .find(IpAddr::is_ipv4)
        .map(|ip| ip.to_string())
}

fn all_joined(resolver: &dyn Resolve, host: &str) -> Option<String> {
    let all = resolve_all(resolver, host);
    (!all.is_empty()).then(|| {
        all.iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(";")
    })
}

/// The time helpers' arguments, coerced to strings by JS (`15` becomes `"15"`, which
/// [`PacArg`] reads back as a number).
fn pac_args(args: Vec<Coerced<String>>) -> Vec<PacArg> {
    args.into_iter()
        .map(|c| match c.0.parse::<i64>() {
            Ok(n) => PacArg::Int(n),
            Err(_) => PacArg::Str(c.0),
        })
        .collect()
}

/// Now, as the PAC time helpers see it (local time is UTC, see the module documentation).
fn now_pac_time() -> PacTime {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    pac_time_from_unix(secs)
}

/// Civil date and time (UTC) of a Unix time, by Howard Hinnant's days-from-civil inverse.
fn pac_time_from_unix(secs: u64) -> PacTime {
    let days = i64::try_from(secs / 86_400).unwrap_or(0);
    let rem = secs % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    // 1970-01-01 was a Thursday (4).
    let weekday = (days + 4).rem_euclid(7);
    let small = |v: i64| u8::try_from(v).unwrap_or(0);
    PacTime {
        year: i32::try_from(year).unwrap_or(1970),
        month: small(month),
        day: small(day),
        weekday: small(weekday),
        hour: small(i64::try_from(rem / 3600).unwrap_or(0)),
        minute: small(i64::try_from(rem % 3600 / 60).unwrap_or(0)),
        second: small(i64::try_from(rem % 60).unwrap_or(0)),
    }
}

fn install_helpers(ctx: &Ctx<'_>, env: &PacEnv, my_ip: IpAddr) -> rquickjs::Result<()> {
    let g = ctx.globals();
    let s = |c: Coerced<String>| c.0;

    g.set(
        "isPlainHostName",
        Function::new(ctx.clone(), move |h: Coerced<String>| {
            helpers::is_plain_host_name(&s(h))
        })?,
    )?;
    g.set(
        "dnsDomainIs",
        Function::new(
            ctx.clone(),
            move |h: Coerced<String>, d: Coerced<String>| helpers::dns_domain_is(&s(h), &s(d)),
        )?,
    )?;
    g.set(
        "localHostOrDomainIs",
        Function::new(
            ctx.clone(),
            move |h: Coerced<String>, d: Coerced<String>| {
                helpers::local_host_or_domain_is(&s(h), &s(d))
            },
        )?,
    )?;
    g.set(
        "dnsDomainLevels",
        Function::new(ctx.clone(), move |h: Coerced<String>| {
            i32::try_from(helpers::dns_domain_levels(&s(h))).unwrap_or(i32::MAX)
        })?,
    )?;
    g.set(
        "shExpMatch",
        Function::new(
            ctx.clone(),
            move |t: Coerced<String>, p: Coerced<String>| helpers::sh_exp_match(&s(t), &s(p)),
        )?,
    )?;

    let r = Arc::clone(&env.resolver);
    g.set(
        "__mppd_dnsResolve",
        Function::new(ctx.clone(), move |h: Coerced<String>| {
            first_v4(r.as_ref(), &s(h))
        })?,
    )?;
    let r = Arc::clone(&env.resolver);
    g.set(
        "__mppd_dnsResolveEx",
        Function::new(ctx.clone(), move |h: Coerced<String>| {
            all_joined(r.as_ref(), &s(h))
        })?,
    )?;
    // rquickjs gives `undefined` for `None`; PAC files test `dnsResolve(h) == null` or
    // `=== null`, so the JS side turns it into `null`.
    ctx.eval::<(), _>(
        "function dnsResolve(h) { var r = __mppd_dnsResolve(h); return r === undefined ? null : r; }\n\
         function dnsResolveEx(h) { var r = __mppd_dnsResolveEx(h); return r === undefined ? null : r; }",
    )?;
    let r = Arc::clone(&env.resolver);
    g.set(
        "isResolvable",
        Function::new(ctx.clone(), move |h: Coerced<String>| {
            first_v4(r.as_ref(), &s(h)).is_some()
        })?,
    )?;
    let r = Arc::clone(&env.resolver);
    g.set(
        "isResolvableEx",
        Function::new(ctx.clone(), move |h: Coerced<String>| {
            all_joined(r.as_ref(), &s(h)).is_some()
        })?,
    )?;
    let r = Arc::clone(&env.resolver);
    g.set(
        "isInNet",
        Function::new(
            ctx.clone(),
            move |h: Coerced<String>, p: Coerced<String>, m: Coerced<String>| {
                let host = s(h);
                let ip = match host.parse::<Ipv4Addr>() {
                    Ok(ip) => Some(IpAddr::V4(ip)),
                    Err(_) => first_v4(r.as_ref(), &host).and_then(|a| a.parse().ok()),
                };
                ip.is_some_and(|ip| helpers::is_in_net(ip, &s(p), &s(m)))
            },
        )?,
    )?;
    g.set(
        "isInNetEx",
        Function::new(
            ctx.clone(),
            move |h: Coerced<String>, p: Coerced<String>| {
                s(h).parse::<IpAddr>()
                    .is_ok_and(|ip| helpers::is_in_net_ex(ip, &s(p)))
            },
        )?,
    )?;
    let mine = my_ip.to_string();
    g.set(
        "myIpAddress",
        Function::new(ctx.clone(), move || mine.clone())?,
    )?;
    let mine = my_ip.to_string();
    g.set(
        "myIpAddressEx",
        Function::new(ctx.clone(), move || mine.clone())?,
    )?;

    type TimeFn = fn(&[PacArg], &PacTime) -> bool;
    for (name, f) in [
        ("weekdayRange", helpers::weekday_range as TimeFn),
        ("dateRange", helpers::date_range as TimeFn),
        ("timeRange", helpers::time_range as TimeFn),
    ] {
        g.set(
            name,
            Function::new(ctx.clone(), move |args: Rest<Coerced<String>>| {
                let args = pac_args(args.0);
                f(&args, &now_pac_time())
            })?,
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    fn env() -> PacEnv {
        let resolver = |h: &str| -> Result<Vec<IpAddr>, String> {
            match h {
                "intranet.example.com" => Ok(vec!["10.1.2.3".parse().unwrap()]),
                "dual.example.com" => Ok(vec![
                    "2001:db8::1".parse().unwrap(),
                    "192.0.2.7".parse().unwrap(),
                ]),
                _ => Err("not found".to_owned()),
            }
        };
        PacEnv {
            my_ip: Some("10.9.8.7".parse().unwrap()),
            resolver: Arc::new(resolver),
        }
    }

    fn limits() -> PacLimits {
        PacLimits {
            time: Duration::from_millis(300),
            ..PacLimits::default()
        }
    }

    fn engine(body: &str) -> Result<PacEngine, PacError> {
        PacEngine::new(
            &format!("function FindProxyForURL(url, host) {{ {body} }}"),
            env(),
            limits(),
        )
    }

    #[test]
    fn helpers_answer_as_pacparser_does() {
        let e = engine(
            "return [isPlainHostName(host), dnsDomainIs(host, '.example.com'), \
             dnsDomainLevels(host), dnsResolve(host), dnsResolveEx('dual.example.com'), \
             dnsResolve('nowhere.invalid') === null, isResolvable('nowhere.invalid'), \
             isInNet(host, '10.0.0.0', '255.0.0.0'), isInNetEx('2001:db8::1', '2001:db8::/32'), \
             myIpAddress(), shExpMatch(url, 'http://*.example.com/*'), \
             weekdayRange('SUN', 'SAT'), dateRange(1995), timeRange(0, 23)].join('|');",
        )
        .unwrap();
        assert_eq!(
            e.find("http://intranet.example.com/x", "intranet.example.com")
                .unwrap(),
            "false|true|2|10.1.2.3|2001:db8::1;192.0.2.7|true|false|true|true|10.9.8.7|true|\
             true|false|true"
        );
    }

    #[test]
    fn hostile_scripts_end_in_errors_within_the_limits() {
        let t0 = Instant::now();
        let e = engine("while (true) {}").unwrap();
        assert_eq!(
            e.find("http://a/", "a"),
            Err(PacError::Timeout(limits().time))
        );
        // The engine still answers after an interrupted call.
        assert_eq!(
            e.find("http://a/", "a"),
            Err(PacError::Timeout(limits().time))
        );
        assert!(t0.elapsed() < Duration::from_secs(3), "{:?}", t0.elapsed());

        let e = engine("var s = 'x'; while (true) { s = s + s; }").unwrap();
        let r = e.find("http://a/", "a");
        assert!(
            matches!(&r, Err(PacError::OutOfMemory(_)))
                || r == Err(PacError::Exception(
                    "InternalError: string too long".to_owned()
                )),
            "{r:?}"
        );
        let e = engine("var a = []; while (true) { a.push(new Array(100000).fill(a.length)); }")
            .unwrap();
        let r = e.find("http://a/", "a");
        assert!(matches!(r, Err(PacError::OutOfMemory(_))), "{r:?}");
        let e = engine("function f(n) { return f(n + 1) + 1; } return f(0);").unwrap();
        assert!(matches!(
            e.find("http://a/", "a"),
            Err(PacError::StackOverflow(_))
        ));
        let e = engine("return 5;").unwrap();
        assert_eq!(
            e.find("http://a/", "a"),
            Err(PacError::NotAString("int".to_owned()))
        );
        let e = engine("throw new Error('boom');").unwrap();
        assert_eq!(
            e.find("http://a/", "a"),
            Err(PacError::Exception("Error: boom".to_owned()))
        );
        assert!(matches!(
            PacEngine::new("function FindProxyForURL(url, host) {", env(), limits()),
            Err(PacError::Syntax(_))
        ));
        assert_eq!(
            PacEngine::new("var x = 1;", env(), limits()).err(),
            Some(PacError::NoFunction)
        );
        assert_eq!(
            PacEngine::new("while (true) {}", env(), limits()).err(),
            Some(PacError::Timeout(limits().time))
        );
    }

    #[test]
    fn host_of_url_takes_the_host_part() {
        assert_eq!(
            host_of_url("http://User@WWW.Example.com:8080/p?q#f").as_deref(),
            Some("www.example.com")
        );
        assert_eq!(
            host_of_url("https://[2001:db8::1]:443/").as_deref(),
            Some("2001:db8::1")
        );
        assert_eq!(host_of_url("http://a?b").as_deref(), Some("a"));
        assert_eq!(host_of_url("nothing"), None);
        assert_eq!(host_of_url("http:///path"), None);
    }

    #[test]
    fn civil_time_from_unix() {
        let t = pac_time_from_unix(1_764_115_200 + 3661); // 2025-11-26 01:01:01 UTC, Wednesday
        assert_eq!(
            (
                t.year, t.month, t.day, t.weekday, t.hour, t.minute, t.second
            ),
            (2025, 11, 26, 3, 1, 1, 1)
        );
        let t = pac_time_from_unix(951_782_400); // 2000-02-29 00:00 UTC, Tuesday
        assert_eq!((t.year, t.month, t.day, t.weekday), (2000, 2, 29, 2));
    }
}
