//! The log lines' timestamps: the same RFC 3339 UTC form as tracing-subscriber's default
//! (`2026-12-01T00:44:37.123456Z`), with the date and time of day worked out once a second
//! per thread instead of for every line.
//!
//! The default formats all seven fields through `core::fmt` padding on each line: 0.74 µs of
//! the ~2.9 µs a sign-up's audit line cost (`bash bench/profile.sh sign-up`). Here a line in
//! the same second as the thread's previous one copies the cached prefix and writes six
//! digits.

use std::cell::Cell;
use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::time::FormatTime;

/// `YYYY-MM-DDTHH:MM:SS.`: what stays the same for a second.
type Prefix = [u8; 20];

/// The last second of 9999: later times (a clock gone wrong) are formatted by the default.
const LAST_FOUR_DIGIT_SECOND: u64 = 253_402_300_799;

thread_local! {
    /// The second (since the epoch) whose prefix is cached, and the prefix.
    static CACHED: Cell<Option<(u64, Prefix)>> = const { Cell::new(None) };
}

/// tracing-subscriber's timestamp, with a per-thread cache of the current second.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct CachedSecondClock;

impl FormatTime for CachedSecondClock {
    fn format_time(&self, w: &mut Writer<'_>) -> fmt::Result {
        let now = SystemTime::now();
        match now.duration_since(UNIX_EPOCH) {
            Ok(since) if since.as_secs() <= LAST_FOUR_DIGIT_SECOND => {
                let stamp = timestamp(since.as_secs(), since.subsec_micros());
                w.write_str(std::str::from_utf8(&stamp).map_err(|_| fmt::Error)?)
            }
            // Before 1970 or after 9999: rare enough for the default's general formatting.
            _ => tracing_subscriber::fmt::time::SystemTime.format_time(w),
        }
    }
}

/// `seconds` since the epoch (at most [`LAST_FOUR_DIGIT_SECOND`]) and `micros` into the
/// second, as `YYYY-MM-DDTHH:MM:SS.ffffffZ`.
pub(crate) fn timestamp(seconds: u64, micros: u32) -> [u8; 27] {
    let prefix = CACHED.with(|cached| match cached.get() {
        Some((second, prefix)) if second == seconds => prefix,
        _ => {
            let prefix = prefix_of(seconds);
            cached.set(Some((seconds, prefix)));
            prefix
        }
    });
    let mut out = [0u8; 27];
    out[..20].copy_from_slice(&prefix);
    put_digits(&mut out[20..26], micros);
    out[26] = b'Z';
    out
}

/// The date and time of day of `seconds` since the epoch, up to the decimal point.
fn prefix_of(seconds: u64) -> Prefix {
    let days = seconds / 86_400;
    let of_day = seconds % 86_400;
    let (year, month, day) = civil_from_days(days);
    let mut prefix = *b"0000-00-00T00:00:00.";
    put_digits(&mut prefix[0..4], year);
    put_digits(&mut prefix[5..7], month);
    put_digits(&mut prefix[8..10], day);
    put_digits(&mut prefix[11..13], (of_day / 3600) as u32);
    put_digits(&mut prefix[14..16], (of_day / 60 % 60) as u32);
    put_digits(&mut prefix[17..19], (of_day % 60) as u32);
    prefix
}

/// The Gregorian (year, month, day) of a count of days since 1970-01-01 (Howard Hinnant's
/// `civil_from_days`, for days on or after the epoch).
fn civil_from_days(days: u64) -> (u32, u32, u32) {
    let z = days + 719_468;
    let era = z / 146_097;
    let day_of_era = z % 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let shifted_month = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * shifted_month + 2) / 5 + 1;
    let month = if shifted_month < 10 {
        shifted_month + 3
    } else {
        shifted_month - 9
    };
    let year = year_of_era + era * 400 + u64::from(month <= 2);
    (year as u32, month as u32, day as u32)
}

/// Writes `value` as decimal digits filling `out`, zero-padded (the highest digits are cut if
/// it does not fit, which the callers rule out).
fn put_digits(out: &mut [u8], mut value: u32) {
    for digit in out.iter_mut().rev() {
        *digit = b'0' + (value % 10) as u8;
        value /= 10;
    }
}
