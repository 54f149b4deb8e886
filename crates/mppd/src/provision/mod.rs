//! Provisioning shell: fetching, decoding and applying profiles.

pub mod body;
