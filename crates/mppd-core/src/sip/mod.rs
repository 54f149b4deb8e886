//! SIP security foundations (issue 5), sans-IO: digest authentication, the RFC 3261 §17
//! transaction layer and stream framing.
//!
//! Nothing here reads a clock, opens a socket or draws from a global RNG: time comes in as an
//! [`Instant`](std::time::Instant) argument and randomness from a [`Rng`] the caller passes.
//! SIP messages are parsed and printed by [`message`] (a small parser of our own that keeps
//! header order and repeated headers apart: `ezk-sip-types` 0.6 matches digest parameter
//! names case-sensitively and prints realm/nonce unescaped); the other modules work on header
//! values ([`digest`]), light message summaries ([`transaction`]) and raw bytes ([`framing`]).
//!
//! - [`digest`]: the digest client (RFC 2617/7616/8760, RFC 3261 §22) for every request a line
//!   sends, and the verifier for the phone's own challenges (Auth INVITE, NOTIFY triggers).
//! - [`transaction`]: client and server transactions, INVITE and non-INVITE, Timers A–K.
//! - [`message`]: SIP messages: parse, print, the headers the phone acts on.
//! - [`framing`]: splitting a TCP/TLS byte stream into messages by `Content-Length`, keep-alives,
//!   and size limits for streams and datagrams.
//! - [`call`]: incoming calls (Auth INVITE) and outgoing calls, one INVITE dialog each.
//! - [`sdp`]: minimal SDP offer/answer for one audio stream, SDES keys for SRTP.
//! - [`mediasec`]: the media-plane security agreement (RFC 3329 + mediasec) of a line.

pub mod call;
pub mod digest;
pub mod framing;
pub mod locate;
pub mod mediasec;
pub mod message;
pub mod notify;
pub mod register;
pub mod sdp;
pub mod transaction;

pub use crate::provision::schedule::{Rng, SplitMix64};
