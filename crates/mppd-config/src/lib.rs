//! The phone's configuration: the parameter registry, cfg.xml parsing and emitting, value
//! validation, macro expansion, device identity and the atomic profile store.
//!
//! Layers (STYLE.md lesson 8): [`xml`] turns bytes into raw entries with their source lines;
//! [`profile`] keeps them (last duplicate wins, unknown names verbatim) and answers effective
//! values with defaults and fallbacks; [`validate`] checks known values against the
//! [`registry`]; [`store`] replaces `STATE/profile.xml` atomically.

pub mod identity;
pub mod macros;
pub mod profile;
pub mod registry;
pub mod rule;
pub mod store;
pub mod validate;
pub mod xml;

pub use profile::{Entry, Profile};
pub use registry::{Kind, ParamDef, ParamRef, Scope, Ua};
