//! Provisioning shell: fetching, decoding and applying profiles.

pub mod body;
pub mod driver;
pub mod fetch;
pub mod resync;
