//! Provisioning logic, sans-IO (SPEC §1, §2, §10-§12; mpp-provisioning §2-§3): profile rules,
//! restricted access domains, DHCP options to candidate URLs, the resync schedule and the
//! syslog messages. The shell (`mppd::provision`) fetches, decodes and applies.

pub mod dhcp;
pub mod domains;
/// The rule syntax lives in `mppd-config` so that `config validate` checks rules.
pub use mppd_config::rule;
pub mod schedule;
pub mod syslog;
