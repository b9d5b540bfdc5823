//! Wall-clock time in the forms the protocol uses.

use chrono::{DateTime, FixedOffset, SecondsFormat, TimeZone, Utc};

/// Milliseconds since the Unix epoch, now.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// Korea Standard Time, the mall's time zone (no daylight saving).
pub fn kst() -> FixedOffset {
    FixedOffset::east_opt(9 * 3600).expect("valid offset")
}

fn at(ms: u64) -> DateTime<FixedOffset> {
    Utc.timestamp_millis_opt(ms as i64)
        .single()
        .unwrap_or_default()
        .with_timezone(&kst())
}

/// RFC 3339 in KST with milliseconds, e.g. `2026-11-28T18:02:11.204+09:00`.
pub fn rfc3339(ms: u64) -> String {
    at(ms).to_rfc3339_opts(SecondsFormat::Millis, false)
}

/// The guide's `agrDts` form in KST: `2017-10-20 17:09:33.0`.
pub fn agr_dts(ms: u64) -> String {
    format!(
        "{}.{}",
        at(ms).format("%Y-%m-%d %H:%M:%S"),
        (ms % 1000) / 100
    )
}

/// `HH:MM:SS KST`, for sentences people read (the log beside them is in UTC).
pub fn time_of_day(ms: u64) -> String {
    at(ms).format("%H:%M:%S KST").to_string()
}

/// `YYYY-MM-DD HH:MM:SS KST`, for sentences about another day.
pub fn date_time(ms: u64) -> String {
    at(ms).format("%Y-%m-%d %H:%M:%S KST").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_written_in_korea_standard_time() {
        // 2017-10-20 08:09:33.000 UTC is 17:09:33 in Seoul.
        let ms = 1_508_486_973_000;
        assert_eq!(agr_dts(ms), "2017-10-20 17:09:33.0");
        assert_eq!(rfc3339(ms), "2017-10-20T17:09:33.000+09:00");
    }

    #[test]
    fn a_time_in_a_sentence_names_its_zone() {
        // 2026-11-28 18:10:01 UTC is 03:10:01 the next day in Seoul.
        assert_eq!(time_of_day(1_795_889_401_000), "03:10:01 KST");
        assert_eq!(date_time(1_795_889_401_000), "2026-11-29 03:10:01 KST");
    }
}
