//! Tests of the parent module (kept apart: STYLE.md, inline tests past ~500 lines).

use super::*;

/// The largest random value (multiply-shift gives the top of every range).
fn max_rng() -> impl Rng {
    || u64::MAX
}

/// The smallest random value.
fn min_rng() -> impl Rng {
    || 0
}

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

fn profile(pairs: &[(&str, &str)]) -> Profile {
    let mut p = Profile::new();
    for (n, v) in pairs {
        p.set(n, v, None, 0);
    }
    p
}

fn config(pairs: &[(&str, &str)]) -> ScheduleConfig {
    ScheduleConfig::from_profile(&profile(pairs)).unwrap()
}

/// A virtual clock driving a schedule: `t0` is power-up.
struct Harness<R> {
    t0: Instant,
    s: Schedule<R>,
}

impl<R: Rng> Harness<R> {
    fn new(config: ScheduleConfig, rng: R) -> Self {
        let t0 = Instant::now();
        Self {
            t0,
            s: Schedule::new(t0, config, rng),
        }
    }

    fn at(&self, secs: u64) -> Instant {
        self.t0 + Duration::from_secs(secs)
    }

    fn offset(&self, t: Instant) -> u64 {
        (t - self.t0).as_secs()
    }

    /// Runs the timers up to `until` seconds; returns each resync asked for with its time.
    /// Every resync gets `result` at once.
    fn run(&mut self, until: u64, result: ResyncResult) -> Vec<(u64, Reason)> {
        let mut out = Vec::new();
        while let Some(t) = self.s.poll_timeout() {
            if t > self.at(until) {
                break;
            }
            self.s.handle_timeout(t);
            while let Some(Event::Resync { reason }) = self.s.poll_event() {
                out.push((self.offset(t), reason));
                self.s.handle_result(t, result);
            }
        }
        out
    }

    /// The next resync: reason and offset in seconds.
    fn next(&self) -> Option<(Reason, u64)> {
        self.s.next().map(|(r, t)| (r, self.offset(t)))
    }

    /// Fires the timer due at `secs` and expects exactly this resync.
    fn expect_resync(&mut self, secs: u64, reason: Reason) {
        let t = self.at(secs);
        assert_eq!(self.s.poll_timeout(), Some(t), "deadline");
        self.s.handle_timeout(t);
        assert_eq!(self.s.poll_event(), Some(Event::Resync { reason }));
        assert_eq!(self.s.poll_event(), None);
    }
}

#[test]
fn defaults_match_the_registry() {
    assert_eq!(
        ScheduleConfig::from_profile(&Profile::new()).unwrap(),
        ScheduleConfig::default()
    );
    assert_eq!(
        ScheduleConfig::from_profile(&Profile::defaults(2)).unwrap(),
        ScheduleConfig::default()
    );
}

#[test]
fn parses_every_form() {
    let c = config(&[
        ("Provision_Enable", "yes"),
        ("Resync_On_Reset", "NO"),
        ("Resync_Random_Delay", "3"),
        ("Resync_Periodic", "3600+600"),
        ("Resync_Error_Retry_Delay", "30, 90,0x10"),
        ("Resync_At__HHmm_", "0230"),
        ("Resync_At_Random_Delay", "900"),
        ("Forced_Resync_Delay", "0"),
    ]);
    assert!(c.enabled);
    assert!(!c.resync_on_reset);
    assert_eq!(c.boot_random_delay, secs(60));
    assert_eq!(
        c.periodic,
        [Interval {
            base: secs(3600),
            random: secs(600)
        }]
    );
    assert_eq!(c.error_retry, [secs(30), secs(90), secs(16)]);
    assert_eq!(
        c.daily,
        Some(Daily {
            at: secs(2 * 3600 + 30 * 60),
            random: secs(900)
        })
    );
    assert_eq!(c.forced_delay, Duration::ZERO);

    assert_eq!(
        config(&[("Resync_Periodic", "60,120+10, 300")]).periodic,
        [
            Interval::secs(60),
            Interval {
                base: secs(120),
                random: secs(10)
            },
            Interval::secs(300)
        ]
    );
    assert!(config(&[("Resync_Periodic", "0")]).periodic.is_empty());
    assert_eq!(
        config(&[("Resync_At__HHmm_", "2400")]).daily.unwrap().at,
        secs(0)
    );
    assert_eq!(
        config(&[("Resync_At__HHmm_", "2359")]).daily.unwrap().at,
        secs(86_340)
    );
    // Below 600 the spread is 0..=600.
    for v in ["0", "1", "599"] {
        let c = config(&[("Resync_At__HHmm_", "0100"), ("Resync_At_Random_Delay", v)]);
        assert_eq!(c.daily.unwrap().random, MIN_AT_RANDOM_DELAY, "{v}");
    }
}

#[test]
fn unusable_values_are_typed_errors() {
    let err = |name: &str, value: &str| {
        ScheduleConfig::from_profile(&profile(&[(name, value)])).unwrap_err()
    };
    assert_eq!(
        err("Provision_Enable", "maybe"),
        ScheduleError::NotBool {
            param: "Provision_Enable",
            value: "maybe".into()
        }
    );
    assert_eq!(
        err("Resync_Random_Delay", "65536"),
        ScheduleError::BadNumber {
            param: "Resync_Random_Delay",
            value: "65536".into(),
            min: 0,
            max: 65_535
        }
    );
    assert!(matches!(
        err("Forced_Resync_Delay", "-1"),
        ScheduleError::BadNumber {
            param: "Forced_Resync_Delay",
            ..
        }
    ));
    assert!(matches!(
        err("Resync_At_Random_Delay", "x"),
        ScheduleError::BadNumber { .. }
    ));
    for v in ["x", "3600+", "+5", "1,,2", "-1", "1+2+3", "4294967296"] {
        assert_eq!(
            err("Resync_Periodic", v),
            ScheduleError::BadPeriodic { value: v.into() },
            "{v}"
        );
    }
    for v in ["x", "60,,120", "-5", "2147483648"] {
        assert_eq!(
            err("Resync_Error_Retry_Delay", v),
            ScheduleError::BadRetryList { value: v.into() },
            "{v}"
        );
    }
    for v in ["2401", "2460", "12:00", "930", "0960", "٠٠٠٠"] {
        assert_eq!(
            err("Resync_At__HHmm_", v),
            ScheduleError::BadHhMm { value: v.into() },
            "{v}"
        );
    }
    assert_eq!(
        err("Resync_At__HHmm_", "2401").to_string(),
        "Resync_At__HHmm_: invalid value \"2401\": allowed: a time HHmm from 0000 to 2400"
    );
}

/// A small deterministic fuzz of the parser: no value panics.
#[test]
fn never_panics_on_any_value() {
    let pieces = [
        "0",
        "1",
        "9",
        "+",
        ",",
        " ",
        "-",
        "x",
        "0x",
        "ff",
        "2400",
        "é",
        "99999999999999999999",
    ];
    let names = [
        "Provision_Enable",
        "Resync_On_Reset",
        "Resync_Random_Delay",
        "Resync_Periodic",
        "Resync_Error_Retry_Delay",
        "Resync_At__HHmm_",
        "Resync_At_Random_Delay",
        "Forced_Resync_Delay",
    ];
    let mut rng = SplitMix64::new(7);
    let mut pick = |n: usize| usize::try_from(rng.next_u64() % n as u64).unwrap();
    for _ in 0..5000 {
        let len = pick(6);
        let v: String = (0..len).map(|_| pieces[pick(pieces.len())]).collect();
        let name = names[pick(names.len())];
        let _ = ScheduleConfig::from_profile(&profile(&[(name, &v)]));
    }
}

#[test]
fn random_draws_cover_the_range() {
    assert_eq!(random_up_to(&mut max_rng(), secs(40)), secs(40));
    assert_eq!(random_up_to(&mut min_rng(), secs(40)), secs(0));
    assert_eq!(random_up_to(&mut max_rng(), Duration::ZERO), Duration::ZERO);
    let mut mid = || u64::MAX / 2 + 1;
    assert_eq!(random_up_to(&mut mid, secs(600)), secs(300));
    let mut rng = SplitMix64::new(1);
    for _ in 0..1000 {
        assert!(random_up_to(&mut rng, secs(600)) <= secs(600));
    }
}

#[test]
fn power_up_waits_the_random_boot_delay() {
    // Default: 2 units of 20 s, so 0..=40 s.
    let h = Harness::new(ScheduleConfig::default(), max_rng());
    assert_eq!(h.next(), Some((Reason::PowerUp, 40)));
    let h = Harness::new(ScheduleConfig::default(), min_rng());
    assert_eq!(h.next(), Some((Reason::PowerUp, 0)));
    let mut h = Harness::new(config(&[("Resync_Random_Delay", "10")]), max_rng());
    assert_eq!(h.next(), Some((Reason::PowerUp, 200)));
    // Nothing happens before the deadline.
    h.s.handle_timeout(h.at(199));
    assert_eq!(h.s.poll_event(), None);
    h.expect_resync(200, Reason::PowerUp);
    assert!(h.s.in_progress());
    assert_eq!(h.s.poll_timeout(), None);
    // 0 resyncs at once.
    let mut h = Harness::new(config(&[("Resync_Random_Delay", "0")]), max_rng());
    h.expect_resync(0, Reason::PowerUp);
}

#[test]
fn periodic_after_each_success() {
    let mut h = Harness::new(config(&[("Resync_Random_Delay", "0")]), max_rng());
    let got = h.run(4 * 3600, ResyncResult::Success);
    assert_eq!(
        got,
        [
            (0, Reason::PowerUp),
            (3600, Reason::Periodic),
            (7200, Reason::Periodic),
            (10800, Reason::Periodic),
            (14400, Reason::Periodic),
        ]
    );
    // The wait counts from the end of the resync, not its start.
    let mut h = Harness::new(config(&[("Resync_Random_Delay", "0")]), max_rng());
    h.expect_resync(0, Reason::PowerUp);
    h.s.handle_result(h.at(25), ResyncResult::Success);
    assert_eq!(h.next(), Some((Reason::Periodic, 3625)));
}

#[test]
fn periodic_base_plus_random_stays_in_bounds() {
    let c = config(&[
        ("Resync_Random_Delay", "0"),
        ("Resync_Periodic", "3600+600"),
    ]);
    let mut top = Harness::new(c.clone(), max_rng());
    assert_eq!(
        top.run(3 * 4200, ResyncResult::Success)[1..],
        [
            (4200, Reason::Periodic),
            (8400, Reason::Periodic),
            (12600, Reason::Periodic)
        ]
    );
    let mut bottom = Harness::new(c.clone(), min_rng());
    assert_eq!(
        bottom.run(3 * 3600, ResyncResult::Success)[1..],
        [
            (3600, Reason::Periodic),
            (7200, Reason::Periodic),
            (10800, Reason::Periodic)
        ]
    );
    // A seeded generator: every wait within [3600, 4200], and not all equal.
    let mut h = Harness::new(c, SplitMix64::new(42));
    let got = h.run(100 * 4200, ResyncResult::Success);
    let waits: Vec<u64> = got.windows(2).map(|w| w[1].0 - w[0].0).collect();
    assert!(waits.len() >= 99);
    assert!(waits.iter().all(|w| (3600..=4200).contains(w)), "{waits:?}");
    assert!(waits.iter().any(|w| *w != waits[0]));
}

#[test]
fn periodic_list_and_zero() {
    let mut h = Harness::new(
        config(&[
            ("Resync_Random_Delay", "0"),
            ("Resync_Periodic", "60,120+0,300"),
        ]),
        max_rng(),
    );
    let times: Vec<u64> = h
        .run(2000, ResyncResult::Success)
        .iter()
        .map(|e| e.0)
        .collect();
    assert_eq!(times, [0, 60, 180, 480, 780, 1080, 1380, 1680, 1980]);

    // 0 disables periodic resyncs: only the power-up one.
    let mut h = Harness::new(
        config(&[("Resync_Random_Delay", "0"), ("Resync_Periodic", "0")]),
        max_rng(),
    );
    assert_eq!(
        h.run(1_000_000, ResyncResult::Success),
        [(0, Reason::PowerUp)]
    );
    assert_eq!(h.s.poll_timeout(), None);
    // A 0 inside the list stops after it.
    let mut h = Harness::new(
        config(&[("Resync_Random_Delay", "0"), ("Resync_Periodic", "60,0")]),
        max_rng(),
    );
    assert_eq!(
        h.run(1_000_000, ResyncResult::Success),
        [(0, Reason::PowerUp), (60, Reason::Periodic)]
    );
}

#[test]
fn error_backoff_follows_the_list_and_repeats_the_last() {
    let mut h = Harness::new(config(&[("Resync_Random_Delay", "0")]), max_rng());
    let got = h.run(400_000, ResyncResult::Failure);
    let waits: Vec<u64> = got.windows(2).map(|w| w[1].0 - w[0].0).collect();
    assert_eq!(
        waits,
        [
            60, 120, 240, 480, 960, 1920, 3840, 7680, 15360, 30720, 61440, 86400, 86400, 86400
        ]
    );
    assert!(got[1..].iter().all(|e| e.1 == Reason::Retry));

    // A success resets the count; the next failure waits the first element again.
    let mut h = Harness::new(
        config(&[
            ("Resync_Random_Delay", "0"),
            ("Resync_Error_Retry_Delay", "10,20,30"),
        ]),
        max_rng(),
    );
    h.expect_resync(0, Reason::PowerUp);
    h.s.handle_result(h.at(0), ResyncResult::Failure);
    h.expect_resync(10, Reason::Retry);
    h.s.handle_result(h.at(10), ResyncResult::Failure);
    h.expect_resync(30, Reason::Retry);
    h.s.handle_result(h.at(30), ResyncResult::Success);
    h.expect_resync(3630, Reason::Periodic);
    h.s.handle_result(h.at(3630), ResyncResult::Failure);
    h.expect_resync(3640, Reason::Retry);
    h.s.handle_result(h.at(3640), ResyncResult::Failure);
    h.expect_resync(3660, Reason::Retry);
    h.s.handle_result(h.at(3660), ResyncResult::Failure);
    h.expect_resync(3690, Reason::Retry);
    h.s.handle_result(h.at(3690), ResyncResult::Failure);
    h.expect_resync(3720, Reason::Retry);
}

#[test]
fn zero_retry_delay_never_retries() {
    // `0`: no retry; the regular schedule (periodic, counted from the failure) goes on.
    let mut h = Harness::new(
        config(&[
            ("Resync_Random_Delay", "0"),
            ("Resync_Error_Retry_Delay", "0"),
        ]),
        max_rng(),
    );
    assert_eq!(
        h.run(7300, ResyncResult::Failure),
        [
            (0, Reason::PowerUp),
            (3600, Reason::Periodic),
            (7200, Reason::Periodic)
        ]
    );
    // With periodic off as well, nothing more ever happens.
    let mut h = Harness::new(
        config(&[
            ("Resync_Random_Delay", "0"),
            ("Resync_Error_Retry_Delay", "0"),
            ("Resync_Periodic", "0"),
        ]),
        max_rng(),
    );
    assert_eq!(
        h.run(u64::from(u32::MAX), ResyncResult::Failure),
        [(0, Reason::PowerUp)]
    );
    assert_eq!(h.s.poll_timeout(), None);
    // A 0 reached in the list stops retrying there.
    let c = config(&[("Resync_Error_Retry_Delay", "60,0")]);
    assert_eq!(c.retry_delay(1), Some(secs(60)));
    assert_eq!(c.retry_delay(2), None);
    assert_eq!(c.retry_delay(u32::MAX), None);
}

#[test]
fn daily_time_replaces_periodic() {
    let c = config(&[
        ("Resync_Random_Delay", "0"),
        ("Resync_At__HHmm_", "0300"),
        ("Resync_At_Random_Delay", "600"),
    ]);
    let mut h = Harness::new(c, min_rng());
    // Power-up at 01:00 local.
    h.s.handle_wall_clock(h.at(0), 3600);
    h.expect_resync(0, Reason::PowerUp);
    h.s.handle_result(h.at(5), ResyncResult::Success);
    // Next 03:00, two hours after power-up; no periodic resync at 3605.
    assert_eq!(h.next(), Some((Reason::Daily, 7200)));
    let got = h.run(7200 + 3 * 86_400, ResyncResult::Success);
    assert_eq!(
        got,
        [
            (7200, Reason::Daily),
            (7200 + 86_400, Reason::Daily),
            (7200 + 2 * 86_400, Reason::Daily),
            (7200 + 3 * 86_400, Reason::Daily),
        ]
    );
}

#[test]
fn daily_random_delay_bounds() {
    for (rng_top, want) in [(true, 7200 + 900), (false, 7200)] {
        let c = config(&[
            ("Resync_On_Reset", "No"),
            ("Resync_At__HHmm_", "0300"),
            ("Resync_At_Random_Delay", "900"),
        ]);
        let mut h = Harness::new(c, move || if rng_top { u64::MAX } else { 0 });
        h.s.handle_wall_clock(h.at(0), 3600);
        assert_eq!(h.next(), Some((Reason::Daily, want)));
    }
    // Below 600: 0..=600.
    let c = config(&[
        ("Resync_On_Reset", "No"),
        ("Resync_At__HHmm_", "0300"),
        ("Resync_At_Random_Delay", "100"),
    ]);
    let mut h = Harness::new(c, max_rng());
    h.s.handle_wall_clock(h.at(0), 3600);
    assert_eq!(h.next(), Some((Reason::Daily, 7800)));
}

#[test]
fn daily_rolls_over_midnight() {
    let c = config(&[("Resync_On_Reset", "No"), ("Resync_At__HHmm_", "0010")]);
    let mut h = Harness::new(c, min_rng());
    h.s.handle_wall_clock(h.at(0), 23 * 3600 + 50 * 60); // 23:50
    assert_eq!(h.next(), Some((Reason::Daily, 20 * 60)));
    h.expect_resync(1200, Reason::Daily);
    h.s.handle_result(h.at(1230), ResyncResult::Success);
    assert_eq!(h.next(), Some((Reason::Daily, 1200 + 86_400)));

    // 2400 is the coming midnight.
    let c = config(&[("Resync_On_Reset", "No"), ("Resync_At__HHmm_", "2400")]);
    let mut h = Harness::new(c, min_rng());
    h.s.handle_wall_clock(h.at(0), 23 * 3600 + 50 * 60);
    assert_eq!(h.next(), Some((Reason::Daily, 600)));
    // 0000 is the same time.
    let c = config(&[("Resync_On_Reset", "No"), ("Resync_At__HHmm_", "0000")]);
    let mut h = Harness::new(c, min_rng());
    h.s.handle_wall_clock(h.at(0), 23 * 3600 + 50 * 60);
    assert_eq!(h.next(), Some((Reason::Daily, 600)));
    // Exactly at the time: the next day (strictly after).
    let c = config(&[("Resync_On_Reset", "No"), ("Resync_At__HHmm_", "1200")]);
    let mut h = Harness::new(c, min_rng());
    h.s.handle_wall_clock(h.at(0), 12 * 3600);
    assert_eq!(h.next(), Some((Reason::Daily, 86_400)));
    // A reading past a day (leap second) is taken modulo a day.
    h.s.handle_wall_clock(h.at(0), 86_400 + 11 * 3600);
    assert_eq!(h.next(), Some((Reason::Daily, 3600)));
}

#[test]
fn daily_waits_for_the_wall_clock_and_follows_it() {
    let c = config(&[
        ("Resync_On_Reset", "No"),
        ("Resync_At__HHmm_", "0300"),
        ("Resync_At_Random_Delay", "600"),
    ]);
    let mut h = Harness::new(c, max_rng());
    // No wall clock yet: nothing armed (periodic is ignored while HHmm is set).
    assert_eq!(h.s.poll_timeout(), None);
    // Learnt 100 s after power-up that it is 02:00 then: 03:00 is at 3700, plus 600.
    h.s.handle_wall_clock(h.at(100), 2 * 3600);
    assert_eq!(h.next(), Some((Reason::Daily, 100 + 3600 + 600)));
    // The clock is stepped: at 200 it is 02:30. The random delay stays as drawn.
    let mut draws = 0;
    let mut h2 = Harness::new(
        config(&[("Resync_On_Reset", "No"), ("Resync_At__HHmm_", "0300")]),
        move || {
            draws += 1;
            assert_eq!(draws, 1, "one draw per wait");
            u64::MAX
        },
    );
    h2.s.handle_wall_clock(h2.at(100), 2 * 3600);
    assert_eq!(h2.next(), Some((Reason::Daily, 4300)));
    h2.s.handle_wall_clock(h2.at(200), 2 * 3600 + 1800);
    assert_eq!(h2.next(), Some((Reason::Daily, 200 + 1800 + 600)));
    h.s.handle_wall_clock(h.at(200), 2 * 3600 + 1800);
    assert_eq!(h.next(), Some((Reason::Daily, 2600)));
}

#[test]
fn failed_daily_retries_then_returns_to_the_daily_time() {
    let c = config(&[
        ("Resync_On_Reset", "No"),
        ("Resync_At__HHmm_", "0300"),
        ("Resync_Error_Retry_Delay", "60"),
    ]);
    let mut h = Harness::new(c, min_rng());
    h.s.handle_wall_clock(h.at(0), 2 * 3600);
    h.expect_resync(3600, Reason::Daily);
    h.s.handle_result(h.at(3600), ResyncResult::Failure);
    h.expect_resync(3660, Reason::Retry);
    h.s.handle_result(h.at(3660), ResyncResult::Success);
    assert_eq!(h.next(), Some((Reason::Daily, 3600 + 86_400)));
}

#[test]
fn resync_waits_for_busy_lines_at_most_the_forced_delay() {
    let c = config(&[("Resync_Random_Delay", "0"), ("Forced_Resync_Delay", "900")]);
    // Busy before the power-up resync: deferred until the lines are idle.
    let mut h = Harness::new(c.clone(), max_rng());
    h.s.handle_lines_busy(h.at(0), true);
    h.s.handle_timeout(h.at(0));
    assert_eq!(h.s.poll_event(), None);
    assert_eq!(h.next(), Some((Reason::PowerUp, 900)));
    h.s.handle_lines_busy(h.at(300), false);
    assert_eq!(
        h.s.poll_event(),
        Some(Event::Resync {
            reason: Reason::PowerUp
        })
    );
    assert_eq!(h.s.poll_timeout(), None);
    h.s.handle_result(h.at(310), ResyncResult::Success);
    assert_eq!(h.next(), Some((Reason::Periodic, 3910)));

    // Busy the whole time: the forced delay elapses and the resync goes anyway.
    h.s.handle_lines_busy(h.at(3000), true);
    h.s.handle_timeout(h.at(3910));
    assert_eq!(h.s.poll_event(), None);
    h.expect_resync(3910 + 900, Reason::Periodic);
    // Lines going idle afterwards change nothing.
    h.s.handle_lines_busy(h.at(5000), false);
    assert_eq!(h.s.poll_event(), None);

    // Forced_Resync_Delay 0: no waiting at all.
    let mut h = Harness::new(
        config(&[("Resync_Random_Delay", "0"), ("Forced_Resync_Delay", "0")]),
        max_rng(),
    );
    h.s.handle_lines_busy(h.at(0), true);
    h.expect_resync(0, Reason::PowerUp);
}

#[test]
fn manual_resync() {
    let mut h = Harness::new(config(&[("Resync_Random_Delay", "0")]), max_rng());
    h.expect_resync(0, Reason::PowerUp);
    // During a resync: absorbed.
    h.s.handle_manual(h.at(1));
    assert_eq!(h.s.poll_event(), None);
    h.s.handle_result(h.at(2), ResyncResult::Success);
    h.s.handle_manual(h.at(100));
    assert_eq!(
        h.s.poll_event(),
        Some(Event::Resync {
            reason: Reason::Manual
        })
    );
    assert_eq!(h.s.poll_timeout(), None, "the periodic timer is replaced");
    h.s.handle_result(h.at(101), ResyncResult::Success);
    assert_eq!(h.next(), Some((Reason::Periodic, 3701)));
    assert_eq!(Reason::Manual.prvst(), -1);
    assert_eq!(Reason::PowerUp.prvst(), 0);
    assert_eq!(Reason::Daily.prvst(), 1);
    assert_eq!(Reason::Retry.prvst(), 2);
}

#[test]
fn provision_disabled_does_nothing() {
    let c = config(&[("Provision_Enable", "No")]);
    let mut h = Harness::new(c.clone(), max_rng());
    assert_eq!(h.s.poll_timeout(), None);
    assert_eq!(h.next(), None);
    h.s.handle_manual(h.at(5));
    h.s.handle_wall_clock(h.at(5), 0);
    h.s.handle_lines_busy(h.at(6), true);
    h.s.handle_lines_busy(h.at(7), false);
    h.s.handle_timeout(h.at(1_000_000));
    assert_eq!(h.s.poll_event(), None);
    assert_eq!(h.s.poll_timeout(), None);
    // A result (the shell's own --once) changes nothing either.
    h.s.handle_result(h.at(8), ResyncResult::Failure);
    assert_eq!(h.s.poll_timeout(), None);

    // Disabling mid-way stops every timer, the forced wait included.
    let mut h = Harness::new(config(&[("Resync_Random_Delay", "0")]), max_rng());
    h.s.handle_lines_busy(h.at(0), true);
    h.s.handle_timeout(h.at(0));
    assert!(h.s.poll_timeout().is_some());
    h.s.handle_config(h.at(1), c);
    assert_eq!(h.s.poll_timeout(), None);
    h.s.handle_lines_busy(h.at(2), false);
    assert_eq!(h.s.poll_event(), None);
    // Enabling again: the power-up resync never happened, so it is due now.
    h.s.handle_config(h.at(50), config(&[("Resync_Random_Delay", "0")]));
    h.s.handle_lines_busy(h.at(50), false);
    h.expect_resync(0, Reason::PowerUp);
}

#[test]
fn config_change_rearms() {
    let mut h = Harness::new(config(&[("Resync_Random_Delay", "0")]), max_rng());
    h.expect_resync(0, Reason::PowerUp);
    h.s.handle_result(h.at(10), ResyncResult::Success);
    assert_eq!(h.next(), Some((Reason::Periodic, 3610)));
    // The same parameters: nothing changes (no new random draw either).
    h.s.handle_config(h.at(20), config(&[("Resync_Random_Delay", "0")]));
    assert_eq!(h.next(), Some((Reason::Periodic, 3610)));
    // A shorter period counts from the last resync.
    h.s.handle_config(
        h.at(20),
        config(&[("Resync_Random_Delay", "0"), ("Resync_Periodic", "600")]),
    );
    assert_eq!(h.next(), Some((Reason::Periodic, 610)));
    // Already past: due at once.
    h.s.handle_config(
        h.at(700),
        config(&[("Resync_Random_Delay", "0"), ("Resync_Periodic", "60")]),
    );
    assert_eq!(h.next(), Some((Reason::Periodic, 70)));
    h.s.handle_timeout(h.at(700));
    assert_eq!(
        h.s.poll_event(),
        Some(Event::Resync {
            reason: Reason::Periodic
        })
    );
    // A change during the resync applies to its result.
    h.s.handle_config(
        h.at(701),
        config(&[("Resync_Random_Delay", "0"), ("Resync_Periodic", "0")]),
    );
    assert_eq!(h.s.poll_timeout(), None);
    h.s.handle_result(h.at(705), ResyncResult::Success);
    assert_eq!(h.s.poll_timeout(), None);
    // Switching to a daily time.
    h.s.handle_wall_clock(h.at(705), 0);
    h.s.handle_config(
        h.at(800),
        config(&[
            ("Resync_Random_Delay", "0"),
            ("Resync_Periodic", "0"),
            ("Resync_At__HHmm_", "0100"),
        ]),
    );
    assert_eq!(h.next(), Some((Reason::Daily, 705 + 3600 + 600)));
    // A new retry list applies to the pending retry.
    let mut h = Harness::new(config(&[("Resync_Random_Delay", "0")]), max_rng());
    h.expect_resync(0, Reason::PowerUp);
    h.s.handle_result(h.at(0), ResyncResult::Failure);
    assert_eq!(h.next(), Some((Reason::Retry, 60)));
    h.s.handle_config(
        h.at(1),
        config(&[
            ("Resync_Random_Delay", "0"),
            ("Resync_Error_Retry_Delay", "5"),
        ]),
    );
    assert_eq!(h.next(), Some((Reason::Retry, 5)));
}

#[test]
fn no_resync_on_reset_starts_the_regular_schedule_at_power_up() {
    let mut h = Harness::new(config(&[("Resync_On_Reset", "No")]), max_rng());
    assert_eq!(h.next(), Some((Reason::Periodic, 3600)));
    assert_eq!(
        h.run(7200, ResyncResult::Success),
        [(3600, Reason::Periodic), (7200, Reason::Periodic)]
    );
}

#[test]
fn stale_or_early_timeouts_do_nothing() {
    let mut h = Harness::new(config(&[("Resync_Random_Delay", "0")]), max_rng());
    h.expect_resync(0, Reason::PowerUp);
    h.s.handle_timeout(h.at(100_000));
    assert_eq!(h.s.poll_event(), None);
    assert!(h.s.in_progress());
    h.s.handle_result(h.at(0), ResyncResult::Success);
    h.s.handle_timeout(h.at(3599));
    assert_eq!(h.s.poll_event(), None);
}
