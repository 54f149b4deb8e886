//! Provisioning shell: fetching, decoding and applying profiles.

pub mod body;
pub mod dhcp_client;
pub mod dns;
pub mod driver;
pub mod fetch;
pub mod resync;
pub mod upgrade;
