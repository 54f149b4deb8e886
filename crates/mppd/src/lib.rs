//! mppd library.
