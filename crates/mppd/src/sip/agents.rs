//! The daemon's SIP side: one task per line that keeps it registered (SPEC §3, §8; issue 5
//! item 8). Lines without `User_ID_n_` or `Proxy_n_` (the embedded default has none) get no
//! task: `mppd run` then sends no SIP at all.

use std::sync::{Arc, Mutex};

use mppd_config::Profile;
use mppd_config::identity::DeviceIdentity;
use serde_json::Value;
use tokio::sync::mpsc::UnboundedSender;

use super::LineSettings;
use super::calls::SipTrigger;
use super::locate::SipResolver;
use super::register::{SharedSipStatus, SipStatus, keep_registered};
use crate::state::StateDir;
use crate::supervise::Supervisor;

/// The line agents of the daemon.
#[derive(Debug)]
pub struct SipAgents {
    tasks: Supervisor,
    status: SharedSipStatus,
    triggers: UnboundedSender<SipTrigger>,
}

impl SipAgents {
    /// Starts an agent for each line of `profile` that can register; accepted SIP NOTIFY
    /// triggers go to `triggers`.
    pub fn start(
        profile: &Profile,
        state: &StateDir,
        identity: &DeviceIdentity,
        lines: u8,
        triggers: UnboundedSender<SipTrigger>,
    ) -> Self {
        let mut agents = Self {
            tasks: Supervisor::default(),
            status: Arc::new(Mutex::new(SipStatus::default())),
            triggers,
        };
        agents.spawn(profile, state, identity, lines);
        agents
    }

    fn spawn(&mut self, profile: &Profile, state: &StateDir, identity: &DeviceIdentity, lines: u8) {
        for line in 1..=lines {
            match LineSettings::from_profile(profile, identity, line) {
                Ok(s) if s.unusable().is_none() => {
                    tracing::info!("sip line {line}: registering");
                    let (profile, state, identity) =
                        (profile.clone(), state.clone(), identity.clone());
                    let (status, triggers) = (Arc::clone(&self.status), self.triggers.clone());
                    self.tasks.add(format!("sip line {line}"), move || {
                        tokio::spawn(keep_registered(
                            profile.clone(),
                            state.clone(),
                            identity.clone(),
                            line,
                            SipResolver::new(None),
                            Arc::clone(&status),
                            Some(triggers.clone()),
                        ))
                    });
                }
                Ok(s) => {
                    if let Some(why) = s.unusable() {
                        tracing::debug!("sip line {line}: {why}");
                    }
                }
                Err(e) => tracing::warn!("sip line {line}: {e}"),
            }
        }
    }

    /// Stops every agent and starts them again on `profile` (after a reload).
    pub fn restart(
        &mut self,
        profile: &Profile,
        state: &StateDir,
        identity: &DeviceIdentity,
        lines: u8,
    ) {
        self.stop();
        if let Ok(mut s) = self.status.lock() {
            s.clear_lines();
        }
        self.spawn(profile, state, identity, lines);
    }

    fn stop(&mut self) {
        self.tasks.clear();
    }

    /// Restarts line agents that ended (see [`Supervisor::check`]).
    pub fn supervise(&mut self) {
        self.tasks.check(std::time::Instant::now());
    }

    /// The `sip` part of the status, with `supervision`: the line agents' restarts.
    pub fn status_json(&self) -> Value {
        let mut v = self
            .status
            .lock()
            .ok()
            .and_then(|s| serde_json::to_value(&*s).ok())
            .unwrap_or(Value::Null);
        if v.is_object() {
            v["supervision"] = self.tasks.status_json();
        }
        v
    }
}

impl Drop for SipAgents {
    fn drop(&mut self) {
        self.stop();
    }
}
