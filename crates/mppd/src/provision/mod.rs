//! Provisioning shell: fetching, decoding and applying profiles.

pub mod body;
pub mod fetch;
pub mod resync;
