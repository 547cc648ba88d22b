//! The gateway's delivery-report callback body: bytes from outside, parsed
//! before anything touches the database. Never panics; what it accepts is
//! bounded and every id it returns is one we could have issued.
#![no_main]
use acikkapi_notification::callback::{MAX_REPORTS, parse};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|body: &[u8]| {
    if let Ok(reports) = parse(body) {
        assert!(reports.len() <= MAX_REPORTS);
        for r in &reports {
            assert!(!r.id.is_empty() && r.id.len() <= 64, "{:?}", r.id);
            assert!(
                r.id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'),
                "{:?}",
                r.id
            );
        }
    }
});
