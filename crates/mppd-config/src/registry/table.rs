//! The registry table.
use super::*;

pub(super) static PARAMS: &[ParamDef] = &[];
