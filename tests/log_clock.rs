//! The reference servers' log timestamps (`examples/common/log_clock.rs`): the same text as
//! tracing-subscriber's default clock, from a per-thread cache of the current second.

#[allow(dead_code)]
#[path = "../examples/common/log_clock.rs"]
mod log_clock;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use log_clock::{CachedSecondClock, timestamp};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::time::FormatTime;

fn text(seconds: u64, micros: u32) -> String {
    String::from_utf8(timestamp(seconds, micros).to_vec()).unwrap()
}

fn formatted(clock: &impl FormatTime) -> String {
    let mut out = String::new();
    clock.format_time(&mut Writer::new(&mut out)).unwrap();
    out
}

/// Each `(seconds, micros)` as its expected text, in order (the cache sees them in order).
fn assert_texts(cases: &[(u64, u32, &str)]) {
    for &(seconds, micros, expected) in cases {
        assert_eq!(text(seconds, micros), expected, "{seconds} s {micros} µs");
    }
}

#[test]
fn known_instants_are_written_in_rfc_3339() {
    assert_texts(&[
        (0, 0, "1970-01-01T00:00:00.000000Z"),
        (951_782_400, 7, "2000-02-29T00:00:00.000007Z"),
        (951_868_799, 999_999, "2000-02-29T23:59:59.999999Z"),
        (1_796_085_877, 123_456, "2026-12-01T00:44:37.123456Z"),
        (4_107_456_000, 0, "2100-02-28T00:00:00.000000Z"),
        (4_107_542_400, 0, "2100-03-01T00:00:00.000000Z"),
        (253_402_300_799, 1, "9999-12-31T23:59:59.000001Z"),
    ]);
}

#[test]
fn the_cached_second_gives_way_to_the_next() {
    assert_texts(&[
        (1_796_085_877, 5, "2026-12-01T00:44:37.000005Z"),
        (1_796_085_878, 5, "2026-12-01T00:44:38.000005Z"),
        (1_796_085_877, 6, "2026-12-01T00:44:37.000006Z"),
        // A day and a year boundary, as a long-running thread meets them.
        (1_798_761_599, 0, "2026-12-31T23:59:59.000000Z"),
        (1_798_761_600, 0, "2027-01-01T00:00:00.000000Z"),
    ]);
}

/// Every day from 1970 to 2400 against a date computed by counting days month by month.
#[test]
fn every_day_of_four_centuries_matches_a_day_count() {
    let mut seconds = 0u64;
    for year in 1970..2400u32 {
        let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
        let lengths = [
            31,
            if leap { 29 } else { 28 },
            31,
            30,
            31,
            30,
            31,
            31,
            30,
            31,
            30,
            31,
        ];
        for (month, length) in lengths.iter().enumerate() {
            for day in 1..=*length {
                let expected = format!("{year:04}-{:02}-{day:02}T00:00:00.000000Z", month + 1);
                assert_eq!(text(seconds, 0), expected);
                seconds += 86_400;
            }
        }
    }
}

/// The same text as tracing-subscriber's clock, read at the same instant (to the second:
/// the two read the clock one after the other, so a pair straddling a second is read again).
#[test]
fn it_writes_what_the_default_clock_writes() {
    let default = tracing_subscriber::fmt::time::SystemTime;
    for _ in 0..1000 {
        let ours = formatted(&CachedSecondClock);
        let theirs = formatted(&default);
        assert_eq!(ours.len(), theirs.len(), "{ours} vs {theirs}");
        if ours[..19] == theirs[..19] {
            assert!(ours.ends_with('Z') && ours.as_bytes()[19] == b'.', "{ours}");
            return;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    panic!("the two clocks never agreed to the second");
}

#[test]
fn the_microseconds_are_the_clocks() {
    let before = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
    let ours = formatted(&CachedSecondClock);
    let after = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
    let micros: u32 = ours[20..26].parse().unwrap();
    let low = before.subsec_micros();
    let high = after.subsec_micros();
    // Unless the second turned between the readings, `micros` lies between them.
    if before.as_secs() == after.as_secs() {
        assert!(
            (low..=high).contains(&micros),
            "{low} <= {micros} <= {high}"
        );
    }
}
