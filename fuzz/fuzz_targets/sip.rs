//! The SIP parsers the network feeds (issue 5): whatever the bytes, none panics.
//!
//! - a datagram through `framing::datagram` and `Message::parse`, and a printed message parsing
//!   back with the same start line and headers;
//! - the same bytes as a TCP/TLS stream through `StreamFramer`, split at a data-chosen point;
//! - every header value as a digest challenge (`Challenge::parse`) and as a mediasec mechanism
//!   list; the body as SDP.
//!
//! Run: `cd fuzz && RUSTC_BOOTSTRAP=1 cargo fuzz run sip`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mppd_core::sip::digest::Challenge;
use mppd_core::sip::framing::{FrameLimits, StreamFramer, datagram};
use mppd_core::sip::mediasec::parse_mechanisms;
use mppd_core::sip::message::Message;
use mppd_core::sip::sdp::SessionDescription;

fuzz_target!(|data: &[u8]| {
    let limits = FrameLimits::default();
    let _ = datagram(data, &limits);
    if let Ok(m) = Message::parse(data) {
        let again = Message::parse(&m.to_bytes()).expect("a printed message parses");
        assert_eq!(again.start, m.start);
        for h in &m.headers {
            let _ = Challenge::parse(&h.value);
            let _ = parse_mechanisms(&h.value);
        }
        let _ = SessionDescription::parse(&m.body);
        let _ = m.request_info();
        let _ = m.response_info();
    }
    let split = data.first().map_or(0, |b| usize::from(*b)).min(data.len());
    let mut framer = StreamFramer::new(limits);
    for part in [&data[..split], &data[split..]] {
        if framer.push(part).is_err() {
            break;
        }
        while let Ok(Some(_)) = framer.next_frame() {}
    }
});
