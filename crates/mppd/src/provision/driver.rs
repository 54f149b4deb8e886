//! The daemon's provisioning driver: the sans-IO resync schedule
//! (`mppd_core::provision::schedule`) on tokio's clock, one resync task at a time.
//!
//! Call order, from the daemon's loop: [`Driver::wakeup`] gives the next deadline; when it
//! passes, [`Driver::fire`] starts a resync if the schedule asks for one; [`Driver::finished`]
//! resolves when that resync ends and [`Driver::complete`] reports it to the schedule; after a
//! reload, [`Driver::reconfigure`] re-arms the schedule from the new profile.
//!
//! Safe by default: the embedded default profile's rule `/$PSN.xml` names no server and mppd
//! has no DHCP client running, so the resync ends at once with "no server" and sends nothing.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use mppd_config::Profile;
use mppd_config::identity::DeviceIdentity;
use mppd_core::provision::schedule::{
    Event, Reason, ResyncResult, Schedule, ScheduleConfig, SplitMix64,
};
use serde_json::{Value, json};
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tracing::{debug, info, warn};

use super::fetch::Fetcher;
use super::resync::{Outcome, Resync};
use super::upgrade::{Upgrade, UpgradeOutcome};
use crate::state::StateDir;

/// How the last resync ended.
#[derive(Debug, Clone)]
struct Last {
    at: u64,
    reason: Reason,
    ok: bool,
    message: String,
}

/// The provisioning driver of the daemon.
pub struct Driver {
    schedule: Schedule<SplitMix64>,
    /// Built once and reused: loading the system trust store costs OpenSSL ~80 ms. Dropped
    /// when a resync changed the profile or installed a custom CA, and on a new profile.
    fetcher: Option<Arc<Fetcher>>,
    running: Option<(Reason, JoinHandle<Result<Outcome, String>>)>,
    last: Option<Last>,
    config_error: Option<String>,
    /// The HTTP proxy settings in force, for the status before the first resync.
    proxy: crate::proxy::ProxySettings,
    /// The rule a SIP NOTIFY gave for the next manual resync.
    manual_rule: Option<String>,
}

fn unix_now() -> Duration {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
}

fn schedule_config(profile: &Profile) -> (ScheduleConfig, Option<String>) {
    match ScheduleConfig::from_profile(profile) {
        Ok(c) => (c, None),
        Err(e) => {
            warn!("resync schedule: {e}; provisioning is off until the profile is fixed");
            let off = ScheduleConfig {
                enabled: false,
                ..ScheduleConfig::default()
            };
            (off, Some(e.to_string()))
        }
    }
}

impl Driver {
    /// Arms the schedule at power-up from the profile in force.
    pub fn new(profile: &Profile) -> Self {
        let now = Instant::now().into_std();
        let (config, config_error) = schedule_config(profile);
        let seed = u64::try_from(unix_now().as_nanos() & u128::from(u64::MAX)).unwrap_or(1)
            ^ u64::from(std::process::id());
        let mut schedule = Schedule::new(now, config, SplitMix64::new(seed));
        // The wall clock for Resync_At__HHmm_ (UTC: the phone's time zone is not modelled yet).
        let secs = u32::try_from(unix_now().as_secs() % 86_400).unwrap_or(0);
        schedule.handle_wall_clock(now, secs);
        Self {
            schedule,
            fetcher: None,
            running: None,
            last: None,
            config_error,
            proxy: crate::proxy::ProxySettings::from_profile(profile),
            manual_rule: None,
        }
    }

    /// The next deadline of the schedule (`None`: nothing scheduled).
    pub fn wakeup(&self) -> Option<Instant> {
        self.schedule.poll_timeout().map(Instant::from_std)
    }

    /// Whether a resync is running.
    pub fn is_running(&self) -> bool {
        self.running.is_some()
    }

    /// The fetcher kept between resyncs, built first when there is none.
    fn fetcher(
        &mut self,
        state: &StateDir,
        profile: &Profile,
        identity: &DeviceIdentity,
    ) -> Result<Arc<Fetcher>, String> {
        if let Some(f) = &self.fetcher {
            return Ok(Arc::clone(f));
        }
        let (f, warnings) = Fetcher::new(profile, state, identity).map_err(|e| e.to_string())?;
        for w in warnings {
            warn!("{w}");
        }
        let f = Arc::new(f);
        self.fetcher = Some(Arc::clone(&f));
        Ok(f)
    }

    /// The deadline passed: starts the resync the schedule asks for, with the profile in force.
    pub fn fire(
        &mut self,
        state: &StateDir,
        profile: &Profile,
        identity: &DeviceIdentity,
        lines: u8,
    ) {
        self.schedule.handle_timeout(Instant::now().into_std());
        while let Some(Event::Resync { reason }) = self.schedule.poll_event() {
            if self.running.is_some() {
                continue;
            }
            info!(?reason, "resync starting");
            let fetcher = self.fetcher(state, profile, identity);
            let (state, profile, identity) = (state.clone(), profile.clone(), identity.clone());
            let rule = if reason == Reason::Manual {
                self.manual_rule.take()
            } else {
                None
            };
            let task = tokio::spawn(async move {
                let fetcher = fetcher?;
                let outcome = Resync {
                    state: &state,
                    profile: &profile,
                    identity: &identity,
                    fetcher: &fetcher,
                    dhcp_server: None,
                    lines,
                }
                .run(rule.as_deref())
                .await
                .map_err(|e| e.to_string())?;
                // An upgrade attempt follows each successful resync (mpp-provisioning §2.6),
                // under the profile now in force; it never retries a URL already attempted.
                let now_in_force = state.store().load().ok().flatten().unwrap_or(profile);
                let upgrade = Upgrade {
                    state: &state,
                    profile: &now_in_force,
                    identity: &identity,
                    fetcher: &fetcher,
                    dhcp_server: None,
                    lines,
                };
                match upgrade.run().await {
                    Ok(UpgradeOutcome::Stored(image)) => info!(?image, "firmware image stored"),
                    Ok(other) => debug!(?other, "no upgrade"),
                    Err(e) => warn!("upgrade failed: {e}"),
                }
                Ok(outcome)
            });
            self.running = Some((reason, task));
        }
    }

    /// Asks for a resync now (SIP NOTIFY `Event: resync`), with `rule` instead of the profile
    /// rules when the NOTIFY gave one. A resync already running is not interrupted.
    pub fn manual(&mut self, rule: Option<String>) {
        self.manual_rule = rule;
        self.schedule.handle_manual(Instant::now().into_std());
    }

    /// Runs `Report_Rule` now (SIP NOTIFY `Event: report`), in a task of its own; the result
    /// is logged.
    pub fn report(
        &mut self,
        state: &StateDir,
        profile: &Profile,
        identity: &DeviceIdentity,
        lines: u8,
    ) {
        let fetcher = match self.fetcher(state, profile, identity) {
            Ok(f) => f,
            Err(e) => {
                warn!("report: {e}");
                return;
            }
        };
        let (state, profile, identity) = (state.clone(), profile.clone(), identity.clone());
        tokio::spawn(async move {
            let r = Resync {
                state: &state,
                profile: &profile,
                identity: &identity,
                fetcher: &fetcher,
                dhcp_server: None,
                lines,
            }
            .report(None)
            .await;
            match r {
                Ok(done) => info!("report: {} upload(s) done", done.len()),
                Err(e) => warn!("report failed: {e}"),
            }
        });
    }

    /// Resolves when the running resync ends (pending forever when none runs).
    pub async fn finished(&mut self) -> Result<Outcome, String> {
        match &mut self.running {
            Some((_, task)) => match task.await {
                Ok(r) => r,
                Err(e) => Err(format!("the resync task failed: {e}")),
            },
            None => std::future::pending().await,
        }
    }

    /// Reports the ended resync to the schedule; returns whether the stored profile changed.
    pub fn complete(&mut self, result: &Result<Outcome, String>) -> bool {
        let Some((reason, _)) = self.running.take() else {
            return false;
        };
        let now = Instant::now().into_std();
        let (ok, message, changed) = match result {
            Ok(o) => (
                true,
                format!(
                    "{} profile(s) fetched, {} parameter(s) changed",
                    o.fetched.len(),
                    o.changed.len()
                ),
                !o.changed.is_empty(),
            ),
            Err(e) => (false, e.clone(), false),
        };
        // A new profile or custom CA may change the TLS settings or trust: build anew.
        if changed || result.as_ref().is_ok_and(|o| !o.custom_ca.is_empty()) {
            self.fetcher = None;
        }
        if ok {
            info!(?reason, %message, "resync succeeded");
        } else {
            warn!(?reason, "resync failed: {message}");
        }
        self.schedule.handle_result(
            now,
            if ok {
                ResyncResult::Success
            } else {
                ResyncResult::Failure
            },
        );
        self.last = Some(Last {
            at: unix_now().as_secs(),
            reason,
            ok,
            message,
        });
        changed
    }

    /// Re-arms the schedule after the profile in force changed.
    pub fn reconfigure(&mut self, profile: &Profile) {
        let (config, error) = schedule_config(profile);
        self.config_error = error;
        self.fetcher = None;
        self.proxy = crate::proxy::ProxySettings::from_profile(profile);
        self.schedule
            .handle_config(Instant::now().into_std(), config);
    }

    /// The provisioning part of the status.
    pub fn status_json(&self) -> Value {
        let next = self.schedule.next().map(|(reason, at)| {
            let secs = at
                .saturating_duration_since(Instant::now().into_std())
                .as_secs();
            json!({"reason": format!("{reason:?}"), "in_seconds": secs})
        });
        json!({
            "running": self.running.as_ref().map(|(r, _)| format!("{r:?}")),
            "next": next,
            "last": self.last.as_ref().map(|l| json!({
                "at": l.at, "reason": format!("{:?}", l.reason), "ok": l.ok, "message": l.message,
            })),
            "schedule_error": self.config_error,
            "proxy": self.proxy_status_json(),
        })
    }

    /// The HTTP proxy: mode, PAC source, last decision (SPEC §18).
    fn proxy_status_json(&self) -> Value {
        match &self.fetcher {
            Some(f) => serde_json::to_value(f.proxy_status_now()).unwrap_or(Value::Null),
            None => json!({
                "mode": self.proxy.mode.as_str(),
                "settings": self.proxy.describe(),
                "pac_source": null,
                "pac_error": null,
                "last_decision": null,
            }),
        }
    }
}
