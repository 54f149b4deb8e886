//! The resync schedule (issue 4 item 7; mpp-provisioning §2.1, §3.1, §3.3): when the phone
//! asks the shell to resync, as a sans-IO state machine on a virtual clock.
//!
//! The machine never reads a clock and never draws from a global RNG: time comes in with every
//! call (`now`), randomness from the [`Rng`] it is built with, and the wall-clock time of day
//! (for `Resync_At__HHmm_`) from [`Schedule::handle_wall_clock`].
//!
//! # Decisions (where the sources are silent or disagree)
//! - **`Resync_Random_Delay` is in units of 20 s** (the newest doc, \[METH\] Nov 2025: "in units of
//!   20 seconds … default 2 (40 seconds)"); older guides say seconds. The power-up resync waits
//!   a uniform random 0..=value×20 s, whole seconds. It applies at power-up only.
//! - **`Resync_Periodic`** is seconds; `0` disables it. `base+random` waits `base` plus a uniform
//!   random 0..=`random` seconds, drawn afresh for every wait. A comma list (the doc names the
//!   form without saying what it means) is read like `Resync_Error_Retry_Delay`: the k-th
//!   consecutive successful resync waits the k-th element, the last repeats; each element may
//!   itself be `base+random`. An element of `0` ends periodic resyncs; a failure starts the
//!   count again (a profile change re-reads the list but keeps the count).
//! - The periodic timer "starts only after the first successful sync" \[METH\]. When
//!   `Resync_On_Reset` is No there is no first sync, so the timer starts at power-up instead
//!   (otherwise the phone would never resync by itself; inference).
//! - **`Resync_Error_Retry_Delay`**: the n-th consecutive failure waits the n-th element; the last
//!   repeats forever \[FMT\]. `0` (alone, or reached in the list) means no retry: the phone then
//!   falls back to its regular schedule (periodic or daily) counted from the failure, rather
//!   than never resyncing again (inference).
//! - **`Resync_At__HHmm_`**, when set, replaces the periodic resync \[METH\]. The resync happens at
//!   the next HH:mm strictly after the previous resync ended (or power-up), plus a uniform random
//!   0..=`Resync_At_Random_Delay` seconds; a value below 600 counts as 600 [METH: "below 600 the
//!   phone uses 0–600"]. `2400` is midnight, the same as `0000`. A phone resync that ends exactly
//!   at HH:mm waits for the next day. The wall clock is a separate input because `now` is a
//!   monotonic [`Instant`]: the shell calls [`Schedule::handle_wall_clock`] at start and after
//!   every clock step or time zone change. Until it has, no daily resync is armed. A new wall
//!   clock reading moves the deadline but keeps the random delay already drawn.
//! - **`Forced_Resync_Delay`**: a resync that falls due while a line is busy
//!   ([`Schedule::handle_lines_busy`]) waits until the lines are idle, at most this long, then
//!   goes ahead anyway. `0` means no waiting. This applies to every reason, manual included.
//! - **`Provision_Enable` No** stops everything, manual resyncs included ("allows or denies all
//!   resync actions"). Setting it back to Yes re-arms the schedule from where it stood; if the
//!   phone never resynced since power-up, that is the power-up resync (which may be due at once).
//! - A manual resync while one is deferred or in progress is absorbed by it.
//! - A result always re-arms the schedule, even one the machine did not ask for (`mppd provision
//!   --once` from the shell).
//! - A profile change ([`Schedule::handle_config`]) that leaves the schedule's parameters equal is
//!   ignored; otherwise the pending timer is recomputed from its basis (power-up, or the end of
//!   the last resync) with new random draws. A deadline already in the past fires at once.
//!
//! # Call order
//! Build with [`Schedule::new`] at power-up. Then, in any order, feed inputs with the `handle_*`
//! methods; after each, drain [`Schedule::poll_event`] and sleep until
//! [`Schedule::poll_timeout`], then call [`Schedule::handle_timeout`]. Every
//! [`Event::Resync`] must be answered by one [`Schedule::handle_result`].

use std::collections::VecDeque;
use std::fmt;
use std::time::{Duration, Instant};

use mppd_config::Profile;
use mppd_config::validate::parse_int;

/// The unit of `Resync_Random_Delay` (newest doc: 20 s).
pub const RANDOM_DELAY_UNIT: Duration = Duration::from_secs(20);

/// The smallest random spread of a daily resync; `Resync_At_Random_Delay` below it counts as it.
pub const MIN_AT_RANDOM_DELAY: Duration = Duration::from_secs(600);

/// One day.
const DAY: Duration = Duration::from_secs(86_400);

/// A source of random numbers. Tests script it; the shell seeds a [`SplitMix64`] from the OS.
pub trait Rng {
    /// The next uniformly distributed 64-bit value.
    fn next_u64(&mut self) -> u64;
}

impl<F: FnMut() -> u64> Rng for F {
    fn next_u64(&mut self) -> u64 {
        self()
    }
}

/// A small seeded generator (SplitMix64, Steele et al. 2014): enough to spread resyncs, not for
/// secrets.
#[derive(Debug, Clone)]
pub struct SplitMix64 {
    state: u64,
}

impl SplitMix64 {
    /// A generator starting from `seed`.
    pub const fn new(seed: u64) -> Self {
        Self { state: seed }
    }
}

impl Rng for SplitMix64 {
    fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

/// A uniform random whole number of seconds in 0..=`max` (whole seconds of `max`).
fn random_up_to(rng: &mut dyn Rng, max: Duration) -> Duration {
    let n = max.as_secs();
    if n == 0 {
        return Duration::ZERO;
    }
    // Multiply-shift maps 0..2^64 onto 0..=n: 0 gives 0, u64::MAX gives n.
    let wide = (u128::from(rng.next_u64()) * (u128::from(n) + 1)) >> 64;
    Duration::from_secs(u64::try_from(wide).unwrap_or(n))
}

/// One wait of `Resync_Periodic`: `base` plus a random 0..=`random`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Interval {
    /// The fixed part.
    pub base: Duration,
    /// The largest random addition.
    pub random: Duration,
}

impl Interval {
    /// A fixed interval of `secs` seconds.
    pub const fn secs(secs: u64) -> Self {
        Self {
            base: Duration::from_secs(secs),
            random: Duration::ZERO,
        }
    }

    /// Whether this element stops periodic resyncs (`0`, `0+0`).
    pub fn is_stop(&self) -> bool {
        self.base.is_zero() && self.random.is_zero()
    }
}

/// `Resync_At__HHmm_` with its random spread.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Daily {
    /// The time of day, from local midnight, below 24 h (`2400` is stored as 0).
    pub at: Duration,
    /// The largest random delay after it (at least [`MIN_AT_RANDOM_DELAY`]).
    pub random: Duration,
}

/// The schedule's parameters, typed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScheduleConfig {
    /// `Provision_Enable`: No stops every resync.
    pub enabled: bool,
    /// `Resync_On_Reset`: resync after power-up.
    pub resync_on_reset: bool,
    /// `Resync_Random_Delay` × 20 s: the largest random wait before the power-up resync.
    pub boot_random_delay: Duration,
    /// `Resync_Periodic`: the k-th consecutive success waits element k, the last repeats; empty
    /// means no periodic resync.
    pub periodic: Vec<Interval>,
    /// `Resync_Error_Retry_Delay`: the n-th consecutive failure waits element n, the last
    /// repeats; empty or a zero element means no retry.
    pub error_retry: Vec<Duration>,
    /// `Resync_At__HHmm_` and `Resync_At_Random_Delay`; when set, `periodic` is ignored.
    pub daily: Option<Daily>,
    /// `Forced_Resync_Delay`: how long a due resync waits for busy lines.
    pub forced_delay: Duration,
}

impl Default for ScheduleConfig {
    /// The defaults of mpp-provisioning §3.1 (\[METH\], Nov 2025): enabled, resync on reset,
    /// random delay 2 (40 s), periodic 3600 s, the retry list `60,120,…,61440,86400`, no daily
    /// time, forced delay 14400 s.
    fn default() -> Self {
        Self {
            enabled: true,
            resync_on_reset: true,
            boot_random_delay: RANDOM_DELAY_UNIT * 2,
            periodic: vec![Interval::secs(3600)],
            error_retry: [
                60, 120, 240, 480, 960, 1920, 3840, 7680, 15360, 30720, 61440, 86400,
            ]
            .map(Duration::from_secs)
            .to_vec(),
            daily: None,
            forced_delay: Duration::from_secs(14_400),
        }
    }
}

/// A schedule parameter whose value cannot be used.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ScheduleError {
    /// A Yes/No parameter with another value.
    NotBool {
        /// The parameter.
        param: &'static str,
        /// Its value.
        value: String,
    },
    /// A number that does not parse or is out of range.
    BadNumber {
        /// The parameter.
        param: &'static str,
        /// Its value.
        value: String,
        /// The smallest allowed.
        min: i64,
        /// The largest allowed.
        max: i64,
    },
    /// `Resync_Periodic` is not seconds, `base+random` or a comma list of them.
    BadPeriodic {
        /// Its value.
        value: String,
    },
    /// `Resync_Error_Retry_Delay` is not a comma list of seconds.
    BadRetryList {
        /// Its value.
        value: String,
    },
    /// `Resync_At__HHmm_` is not a time from 0000 to 2400.
    BadHhMm {
        /// Its value.
        value: String,
    },
}

impl fmt::Display for ScheduleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotBool { param, value } => {
                write!(f, "{param}: invalid value {value:?}: allowed: Yes, No")
            }
            Self::BadNumber {
                param,
                value,
                min,
                max,
            } => write!(
                f,
                "{param}: invalid value {value:?}: allowed: an integer from {min} to {max}"
            ),
            Self::BadPeriodic { value } => write!(
                f,
                "Resync_Periodic: invalid value {value:?}: allowed: seconds, base+random seconds, \
                 or a comma list of them"
            ),
            Self::BadRetryList { value } => write!(
                f,
                "Resync_Error_Retry_Delay: invalid value {value:?}: allowed: a comma list of seconds"
            ),
            Self::BadHhMm { value } => write!(
                f,
                "Resync_At__HHmm_: invalid value {value:?}: allowed: a time HHmm from 0000 to 2400"
            ),
        }
    }
}

impl std::error::Error for ScheduleError {}

/// The largest number of seconds a list element may hold (the registry's bound).
const MAX_LIST_SECS: i64 = 2_147_483_647;

impl ScheduleConfig {
    /// Reads the schedule's parameters from the effective values of `profile` (an unset or
    /// empty parameter is its default). Never panics; a value that cannot be used is an error
    /// naming the parameter.
    pub fn from_profile(profile: &Profile) -> Result<Self, ScheduleError> {
        let value = |name: &str| {
            profile
                .effective(name)
                .map(|v| v.trim().to_owned())
                .unwrap_or_default()
        };
        let boolean = |param: &'static str| {
            let v = value(param);
            if v.eq_ignore_ascii_case("yes") {
                Ok(true)
            } else if v.eq_ignore_ascii_case("no") {
                Ok(false)
            } else {
                Err(ScheduleError::NotBool { param, value: v })
            }
        };
        let number = |param: &'static str, min: i64, max: i64| {
            let v = value(param);
            match parse_int(&v) {
                Some(n) if (min..=max).contains(&n) => Ok(n.unsigned_abs()),
                _ => Err(ScheduleError::BadNumber {
                    param,
                    value: v,
                    min,
                    max,
                }),
            }
        };

        let enabled = boolean("Provision_Enable")?;
        let resync_on_reset = boolean("Resync_On_Reset")?;
        let boot_units = number("Resync_Random_Delay", 0, 65_535)?;
        let periodic = parse_periodic(&value("Resync_Periodic"))?;
        let error_retry = parse_retry(&value("Resync_Error_Retry_Delay"))?;
        let at = parse_hhmm(&value("Resync_At__HHmm_"))?;
        // Validation allows 600..=65535; below 600 the phone uses 0..=600 \[METH\], so only
        // non-numbers, negatives and values past 65535 are errors here.
        let at_random = Duration::from_secs(number("Resync_At_Random_Delay", 0, 65_535)?)
            .max(MIN_AT_RANDOM_DELAY);
        let forced = number("Forced_Resync_Delay", 0, 65_535)?;
        Ok(Self {
            enabled,
            resync_on_reset,
            boot_random_delay: RANDOM_DELAY_UNIT * u32::try_from(boot_units).unwrap_or(0),
            periodic,
            error_retry,
            daily: at.map(|at| Daily {
                at,
                random: at_random,
            }),
            forced_delay: Duration::from_secs(forced),
        })
    }

    /// The wait of `Resync_Error_Retry_Delay` after the `n`-th consecutive failure (n ≥ 1), or
    /// `None` for no retry.
    pub fn retry_delay(&self, n: u32) -> Option<Duration> {
        let i = usize::try_from(n.max(1) - 1).unwrap_or(usize::MAX);
        let d = self.error_retry.get(i).or(self.error_retry.last())?;
        (!d.is_zero()).then_some(*d)
    }

    /// The `Resync_Periodic` element after the `k`-th consecutive success (k ≥ 1), or `None`
    /// when periodic resync is off.
    pub fn periodic_interval(&self, k: u32) -> Option<Interval> {
        let i = usize::try_from(k.max(1) - 1).unwrap_or(usize::MAX);
        let p = self.periodic.get(i).or(self.periodic.last())?;
        (!p.is_stop()).then_some(*p)
    }
}

/// A non-negative number of seconds within `u32` (as `Resync_Periodic` validation allows).
fn secs_u32(text: &str) -> Option<Duration> {
    let t = text.trim();
    if t.is_empty() || !t.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    t.parse::<u32>().ok().map(|n| Duration::from_secs(n.into()))
}

fn parse_periodic(value: &str) -> Result<Vec<Interval>, ScheduleError> {
    let bad = || ScheduleError::BadPeriodic {
        value: value.to_owned(),
    };
    let mut list = Vec::new();
    for item in value.split(',') {
        let (base, random) = match item.split_once('+') {
            Some((b, r)) => (secs_u32(b).ok_or_else(bad)?, secs_u32(r).ok_or_else(bad)?),
            None => (secs_u32(item).ok_or_else(bad)?, Duration::ZERO),
        };
        list.push(Interval { base, random });
    }
    // `0` alone (or first) disables: keep the list empty so the meaning is plain.
    if list.first().is_some_and(Interval::is_stop) {
        list.clear();
    }
    Ok(list)
}

fn parse_retry(value: &str) -> Result<Vec<Duration>, ScheduleError> {
    value
        .split(',')
        .map(|item| match parse_int(item) {
            Some(n) if (0..=MAX_LIST_SECS).contains(&n) => {
                Ok(Duration::from_secs(n.unsigned_abs()))
            }
            _ => Err(ScheduleError::BadRetryList {
                value: value.to_owned(),
            }),
        })
        .collect()
}

/// `HHmm` from `0000` to `2400` as a time from midnight; empty is `None`.
fn parse_hhmm(value: &str) -> Result<Option<Duration>, ScheduleError> {
    if value.is_empty() {
        return Ok(None);
    }
    let bad = || ScheduleError::BadHhMm {
        value: value.to_owned(),
    };
    if value.len() != 4 || !value.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let hh: u64 = value[..2].parse().map_err(|_| bad())?;
    let mm: u64 = value[2..].parse().map_err(|_| bad())?;
    if hh > 24 || mm > 59 || (hh == 24 && mm != 0) {
        return Err(bad());
    }
    // 2400 is the midnight that ends the day: the same time of day as 0000.
    Ok(Some(Duration::from_secs((hh * 3600 + mm * 60) % 86_400)))
}

/// Why a resync is asked for. [`Reason::prvst`] gives the `$PRVST` macro value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Reason {
    /// After power-up (`Resync_On_Reset`).
    PowerUp,
    /// `Resync_Periodic` elapsed.
    Periodic,
    /// A retry after a failure (`Resync_Error_Retry_Delay`).
    Retry,
    /// The daily time `Resync_At__HHmm_`.
    Daily,
    /// An explicit request (web, SIP NOTIFY, CLI).
    Manual,
}

impl Reason {
    /// `$PRVST` (mpp-provisioning §2.5): -1 explicit request, 0 power-up, 1 periodic (the daily
    /// resync counts as periodic), 2 retry after failure.
    pub const fn prvst(self) -> i8 {
        match self {
            Self::Manual => -1,
            Self::PowerUp => 0,
            Self::Periodic | Self::Daily => 1,
            Self::Retry => 2,
        }
    }
}

/// What the schedule asks of the shell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    /// Run one resync now and report it with [`Schedule::handle_result`].
    Resync {
        /// Why.
        reason: Reason,
    },
}

/// How a resync ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResyncResult {
    /// Every rule evaluated and the profile applied.
    Success,
    /// The resync failed (mpp-provisioning §3.3 B and C).
    Failure,
}

/// The schedule's timers (STYLE lesson 3): a closed set; the next wake-up is the minimum.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Timer {
    /// The power-up resync.
    PowerUp,
    /// The next periodic resync.
    Periodic,
    /// The retry after a failure.
    Retry,
    /// The daily resync.
    Daily,
    /// The end of the wait for busy lines.
    Forced,
}

impl Timer {
    const ALL: [Self; 5] = [
        Self::PowerUp,
        Self::Periodic,
        Self::Retry,
        Self::Daily,
        Self::Forced,
    ];

    /// The reason a schedule timer resyncs for (`Forced` carries the deferred reason instead).
    const fn reason(self) -> Option<Reason> {
        match self {
            Self::PowerUp => Some(Reason::PowerUp),
            Self::Periodic => Some(Reason::Periodic),
            Self::Retry => Some(Reason::Retry),
            Self::Daily => Some(Reason::Daily),
            Self::Forced => None,
        }
    }

    const fn index(self) -> usize {
        self as usize
    }
}

/// A deadline per timer.
#[derive(Debug, Clone, Copy, Default)]
struct TimerTable([Option<Instant>; Timer::ALL.len()]);

impl TimerTable {
    fn set(&mut self, t: Timer, at: Instant) {
        self.0[t.index()] = Some(at);
    }

    fn get(&self, t: Timer) -> Option<Instant> {
        self.0[t.index()]
    }

    fn stop(&mut self, t: Timer) {
        self.0[t.index()] = None;
    }

    fn stop_schedule(&mut self) {
        for t in Timer::ALL {
            if t != Timer::Forced {
                self.stop(t);
            }
        }
    }

    fn next(&self) -> Option<Instant> {
        self.0.iter().flatten().min().copied()
    }

    /// The earliest armed timer at or before `now`.
    fn expired(&self, now: Instant) -> Option<Timer> {
        Timer::ALL
            .into_iter()
            .filter_map(|t| self.get(t).filter(|&d| d <= now).map(|d| (d, t)))
            .min_by_key(|&(d, _)| d)
            .map(|(_, t)| t)
    }
}

/// Where the machine stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// `Provision_Enable` is No.
    Disabled,
    /// Waiting for the schedule's timers (possibly none).
    Scheduled,
    /// A resync is due but lines are busy; the `Forced` timer bounds the wait.
    Deferred(Reason),
    /// A resync was asked for; waiting for its result.
    InProgress(Reason),
}

/// What the next scheduled resync counts from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Basis {
    /// Power-up, no resync ended since.
    PowerUp(Instant),
    /// The `n`-th consecutive success ended then.
    Success(Instant, u32),
    /// The `n`-th consecutive failure ended then.
    Failure(Instant, u32),
}

/// The resync schedule. See the module documentation for the decisions and the call order.
pub struct Schedule<R> {
    config: ScheduleConfig,
    rng: R,
    timers: TimerTable,
    phase: Phase,
    basis: Basis,
    busy: bool,
    /// The wall clock: at this instant it was this long since local midnight.
    wall: Option<(Instant, Duration)>,
    /// The random delay drawn for the pending wait, kept across wall-clock updates.
    jitter: Option<Duration>,
    events: VecDeque<Event>,
}

impl<R> fmt::Debug for Schedule<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Schedule")
            .field("config", &self.config)
            .field("timers", &self.timers)
            .field("phase", &self.phase)
            .field("basis", &self.basis)
            .field("busy", &self.busy)
            .field("wall", &self.wall)
            .finish_non_exhaustive()
    }
}

impl<R: Rng> Schedule<R> {
    /// The schedule of a phone that powered up at `now`.
    pub fn new(now: Instant, config: ScheduleConfig, rng: R) -> Self {
        let mut s = Self {
            phase: if config.enabled {
                Phase::Scheduled
            } else {
                Phase::Disabled
            },
            config,
            rng,
            timers: TimerTable::default(),
            basis: Basis::PowerUp(now),
            busy: false,
            wall: None,
            jitter: None,
            events: VecDeque::new(),
        };
        s.rearm();
        s
    }

    /// The configuration in force.
    pub fn config(&self) -> &ScheduleConfig {
        &self.config
    }

    /// The next resync the schedule will ask for and when: a scheduled one, or a deferred one
    /// with the end of its wait for busy lines. `None` while disabled, while a resync is in
    /// progress, or when nothing is scheduled.
    pub fn next(&self) -> Option<(Reason, Instant)> {
        match self.phase {
            Phase::Deferred(reason) => self.timers.get(Timer::Forced).map(|at| (reason, at)),
            Phase::Scheduled => Timer::ALL
                .into_iter()
                .filter_map(|t| Some((t.reason()?, self.timers.get(t)?)))
                .min_by_key(|&(_, at)| at),
            Phase::Disabled | Phase::InProgress(_) => None,
        }
    }

    /// Whether a resync was asked for and its result is awaited.
    pub fn in_progress(&self) -> bool {
        matches!(self.phase, Phase::InProgress(_))
    }

    /// When [`Schedule::handle_timeout`] must be called next.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.timers.next()
    }

    /// The next thing the shell must do.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// Time passed: fires the expired timer, if any.
    pub fn handle_timeout(&mut self, now: Instant) {
        let Some(timer) = self.timers.expired(now) else {
            return;
        };
        self.timers.stop(timer);
        match (timer.reason(), self.phase) {
            (None, Phase::Deferred(reason)) => self.fire(reason),
            (Some(reason), Phase::Scheduled) => self.request(now, reason),
            // A stale timer (the phase moved on without it): nothing to do.
            _ => {}
        }
    }

    /// An explicit resync request (web page, SIP NOTIFY, CLI).
    pub fn handle_manual(&mut self, now: Instant) {
        if self.phase == Phase::Scheduled {
            self.request(now, Reason::Manual);
        }
    }

    /// Whether any line is busy (a call up or being set up).
    pub fn handle_lines_busy(&mut self, _now: Instant, busy: bool) {
        self.busy = busy;
        if let (false, Phase::Deferred(reason)) = (busy, self.phase) {
            self.fire(reason);
        }
    }

    /// The result of a resync. Re-arms the schedule from `now`: periodic or daily after a
    /// success, the retry delay after a failure.
    pub fn handle_result(&mut self, now: Instant, result: ResyncResult) {
        self.basis = match (result, self.basis) {
            (ResyncResult::Success, Basis::Success(_, k)) => {
                Basis::Success(now, k.saturating_add(1))
            }
            (ResyncResult::Success, _) => Basis::Success(now, 1),
            (ResyncResult::Failure, Basis::Failure(_, n)) => {
                Basis::Failure(now, n.saturating_add(1))
            }
            (ResyncResult::Failure, _) => Basis::Failure(now, 1),
        };
        if self.phase != Phase::Disabled {
            self.phase = Phase::Scheduled;
            self.timers.stop(Timer::Forced);
        }
        self.jitter = None;
        self.rearm();
    }

    /// A new profile: re-arms with its schedule parameters (unchanged parameters change
    /// nothing).
    pub fn handle_config(&mut self, _now: Instant, config: ScheduleConfig) {
        if config == self.config {
            return;
        }
        self.config = config;
        self.jitter = None;
        if !self.config.enabled {
            self.phase = Phase::Disabled;
            self.timers = TimerTable::default();
            return;
        }
        match self.phase {
            Phase::Disabled => {
                self.phase = Phase::Scheduled;
                self.rearm();
            }
            Phase::Scheduled => self.rearm(),
            // The new parameters apply when the pending resync ends.
            Phase::Deferred(_) | Phase::InProgress(_) => {}
        }
    }

    /// The wall clock: at `now` it is `seconds_since_local_midnight` (taken modulo a day).
    /// Call at start and after every clock step or time zone change; only the daily resync
    /// uses it.
    pub fn handle_wall_clock(&mut self, now: Instant, seconds_since_local_midnight: u32) {
        let sod = Duration::from_secs(u64::from(seconds_since_local_midnight) % DAY.as_secs());
        self.wall = Some((now, sod));
        // Re-arming keeps the random delay already drawn, so only the daily deadline moves.
        if self.config.daily.is_some() {
            self.rearm();
        }
    }

    /// The retry wait of the current basis, if it is a failure with a retry.
    fn retry_wait(&self) -> Option<Duration> {
        match self.basis {
            Basis::Failure(_, n) => self.config.retry_delay(n),
            _ => None,
        }
    }

    /// A resync is due: now, or deferred while lines are busy.
    fn request(&mut self, now: Instant, reason: Reason) {
        self.timers.stop_schedule();
        self.jitter = None;
        if self.busy && !self.config.forced_delay.is_zero() {
            self.phase = Phase::Deferred(reason);
            self.timers
                .set(Timer::Forced, now + self.config.forced_delay);
        } else {
            self.fire(reason);
        }
    }

    fn fire(&mut self, reason: Reason) {
        self.timers.stop(Timer::Forced);
        self.phase = Phase::InProgress(reason);
        self.events.push_back(Event::Resync { reason });
    }

    /// The random delay of the pending wait: drawn once, up to `max`.
    fn jitter(&mut self, max: Duration) -> Duration {
        if let Some(j) = self.jitter {
            return j;
        }
        let j = random_up_to(&mut self.rng, max);
        self.jitter = Some(j);
        j
    }

    /// Sets the schedule timers from the basis and the configuration.
    fn rearm(&mut self) {
        self.timers.stop_schedule();
        if self.phase != Phase::Scheduled {
            return;
        }
        match self.basis {
            Basis::PowerUp(at) if self.config.resync_on_reset => {
                let j = self.jitter(self.config.boot_random_delay);
                self.timers.set(Timer::PowerUp, at + j);
            }
            Basis::PowerUp(at) => self.arm_regular(at, 1),
            Basis::Success(at, k) => self.arm_regular(at, k),
            Basis::Failure(at, _) => match self.retry_wait() {
                Some(d) => self.timers.set(Timer::Retry, at + d),
                // No retry: the regular schedule, counting as a first wait.
                None => self.arm_regular(at, 1),
            },
        }
    }

    /// The daily resync if configured (periodic is then ignored), else the periodic one: the
    /// `k`-th element counted from `at`.
    fn arm_regular(&mut self, at: Instant, k: u32) {
        if let Some(daily) = self.config.daily {
            if let Some(delay) = self.wall.map(|wall| until_time_of_day(wall, at, daily.at)) {
                let j = self.jitter(daily.random);
                self.timers.set(Timer::Daily, at + delay + j);
            }
            return;
        }
        if let Some(p) = self.config.periodic_interval(k) {
            let j = self.jitter(p.random);
            self.timers.set(Timer::Periodic, at + p.base + j);
        }
    }
}

/// How long after `at` the wall clock next shows `target` (strictly after: in (0, 24 h]).
/// `wall` is (instant, time since midnight then).
fn until_time_of_day(wall: (Instant, Duration), at: Instant, target: Duration) -> Duration {
    let day = DAY.as_nanos();
    let (w_at, w_sod) = wall;
    // The time of day at `at`, in nanoseconds modulo a day.
    let sod = if at >= w_at {
        (w_sod.as_nanos() + (at - w_at).as_nanos() % day) % day
    } else {
        (w_sod.as_nanos() + day - (w_at - at).as_nanos() % day) % day
    };
    let target = target.as_nanos() % day;
    let ahead = (target + day - sod) % day;
    let ahead = if ahead == 0 { day } else { ahead };
    Duration::from_nanos(u64::try_from(ahead).unwrap_or(u64::MAX))
}

#[cfg(test)]
mod tests;
