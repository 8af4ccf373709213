//! Timestamps: seconds since the Unix epoch, built, split and formatted by `chrono`.
//!
//! What stays hand-written, and why:
//! * the tokenizers of `Timestamp::parse`: a Mailbox Details log spells dates many ways
//!   (`M/d/yyyy h:mm:ss AM/PM` with or without seconds, 24-hour, `d.M.yyyy`, ISO 8601
//!   with or without a time, fraction or zone) and the analyzer must say whether a date
//!   carried its zone. chrono parses one layout per format string, interpreted on each
//!   call, and its RFC 3339 parser needs a zone; trying layouts one after another would
//!   be slower and still not cover these. So the scanning is ours, the values chrono's
//!   (`NaiveDate`, `NaiveDateTime`, `FixedOffset`).
//! * the fallback of `parse_rfc5322`: chrono's RFC 2822 parser comes first; email
//!   `Date:` headers in the wild also have wrong day names, no zone or long month names.
//! * `relative`, `ago` and `human_span`: our wording; chrono has no humanizer.

use std::fmt;

use chrono::{
    DateTime, Datelike, FixedOffset, NaiveDate, NaiveDateTime, SecondsFormat, Timelike, Utc,
};

/// Seconds since the Unix epoch, UTC.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(pub i64);

/// A parsed date and whether the text carried its own zone (ISO 8601 `Z` or offset).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParsedDate {
    pub at: Timestamp,
    pub zoned: bool,
}

impl Timestamp {
    /// A UTC civil date and time; second 60 (a leap second) is the next minute's first.
    pub fn from_civil(y: i64, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> Option<Self> {
        naive(y, mo, d, h, mi, s).map(|t| Timestamp(t.and_utc().timestamp()))
    }

    /// Milliseconds since the epoch, as JavaScript's `Date.now()` gives.
    pub fn from_millis(ms: f64) -> Self {
        Timestamp((ms / 1000.0).floor() as i64)
    }

    /// As chrono's value. Seconds beyond chrono's range (about ±262,000 years, which
    /// only arithmetic on nonsense reaches) saturate at its ends.
    pub fn to_datetime(self) -> DateTime<Utc> {
        DateTime::from_timestamp(self.0, 0).unwrap_or(if self.0 < 0 {
            DateTime::<Utc>::MIN_UTC
        } else {
            DateTime::<Utc>::MAX_UTC
        })
    }

    /// `2018-12-03T15:23:36Z`; years outside 0..=9999 as `Display` writes them.
    pub fn to_rfc3339(self) -> String {
        let t = self.to_datetime();
        if !(0..=9999).contains(&t.year()) {
            return self.to_string();
        }
        t.to_rfc3339_opts(SecondsFormat::Secs, true)
    }

    /// `yyyy-mm-dd hh:mm` for humans (UTC).
    pub fn to_short_utc(self) -> String {
        // Edited from the RFC 3339 text: `format` interprets its pattern on each call,
        // three times slower, and the analyzer writes this in its findings.
        let mut s = self.to_rfc3339();
        if s.len() == 20 {
            // "2018-12-03T15:23:36Z" -> "2018-12-03 15:23 UTC"
            s.replace_range(10..11, " ");
            s.replace_range(16.., " UTC");
            return s;
        }
        self.to_datetime().format("%Y-%m-%d %H:%M UTC").to_string()
    }

    /// `M/d/yyyy h:mm:ss AM/PM`, the way Mailbox Details logs write dates.
    pub fn to_log_format(self) -> String {
        self.to_datetime()
            .format("%-m/%-d/%Y %-I:%M:%S %p")
            .to_string()
    }

    pub fn civil(self) -> (i64, u32, u32, u32, u32, u32) {
        let t = self.to_datetime();
        (
            i64::from(t.year()),
            t.month(),
            t.day(),
            t.hour(),
            t.minute(),
            t.second(),
        )
    }

    /// Parses the layouts Mailbox Details logs use: `M/d/yyyy h:mm:ss AM/PM`
    /// (also 24-hour and without seconds), `d.M.yyyy H:mm:ss`, and ISO 8601.
    /// Dates without a zone are taken as UTC, which is what online organizations write.
    pub fn parse(text: &str) -> Option<ParsedDate> {
        let t = text.trim();
        let first = *t.as_bytes().first()?;
        if !first.is_ascii_digit() {
            return None;
        }
        if t.len() >= 10 && t.as_bytes()[4] == b'-' {
            return parse_iso(t);
        }
        if let Some(at) = parse_us_fast(t.as_bytes()) {
            return Some(ParsedDate { at, zoned: false });
        }
        parse_us_or_dotted(t)
    }
}

impl From<DateTime<Utc>> for Timestamp {
    fn from(t: DateTime<Utc>) -> Self {
        Timestamp(t.timestamp())
    }
}

/// An email's `Date:` header (RFC 5322: `Thu, 03 Dec 2026 07:01:42 +0000`, the day
/// name and seconds optional, a numeric zone or one of the obsolete names; a trailing
/// comment such as `(UTC)` ignored). chrono's RFC 2822 parser first; headers it
/// refuses (a day name that does not match the date, no zone, `December`, words after
/// the zone) are read leniently.
pub fn parse_rfc5322(text: &str) -> Option<Timestamp> {
    if let Ok(t) = DateTime::parse_from_rfc2822(text.trim()) {
        // chrono keeps a leap second (:60) in the nanoseconds of :59; it is the next
        // minute's first second here, as everywhere in this module.
        let leap = t.nanosecond() >= 1_000_000_000;
        return Some(Timestamp(t.timestamp() + i64::from(leap)));
    }
    parse_rfc5322_lenient(text)
}

fn parse_rfc5322_lenient(text: &str) -> Option<Timestamp> {
    let text = text.split('(').next()?;
    let mut words = text.split_whitespace().peekable();
    if words.peek()?.ends_with(',') || words.peek()?.parse::<u32>().is_err() {
        words.next();
    }
    let day: u32 = words.next()?.parse().ok()?;
    let month = words.next()?.get(..3)?.to_ascii_lowercase();
    const MONTHS: [&str; 12] = [
        "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
    ];
    let month = MONTHS.iter().position(|m| *m == month)? as u32 + 1;
    let mut year: i64 = words.next()?.parse().ok()?;
    // Obsolete two-digit years (RFC 5322 4.3).
    if year < 50 {
        year += 2000;
    } else if year < 1000 {
        year += 1900;
    }
    let mut clock = words.next()?.split(':');
    let h: u32 = clock.next()?.parse().ok()?;
    let mi: u32 = clock.next()?.parse().ok()?;
    let s: u32 = clock.next().map_or(Some(0), |s| s.parse().ok())?;
    let zone = words.next().unwrap_or("+0000");
    let hours = |h: i32| FixedOffset::east_opt(h * 3600);
    let offset = match zone.to_ascii_uppercase().as_str() {
        "UT" | "GMT" | "Z" => hours(0),
        "EDT" => hours(-4),
        "EST" | "CDT" => hours(-5),
        "CST" | "MDT" => hours(-6),
        "MST" | "PDT" => hours(-7),
        "PST" => hours(-8),
        z => {
            let sign = match z.as_bytes().first()? {
                b'+' => 1,
                b'-' => -1,
                _ => return None,
            };
            let digits = z.get(1..5)?;
            let hh: i32 = digits.get(..2)?.parse().ok()?;
            let mm: i32 = digits.get(2..)?.parse().ok()?;
            FixedOffset::east_opt(sign * (hh * 3600 + mm * 60))
        }
    }?;
    zoned(naive(year, month, day, h, mi, s)?, offset)
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.to_datetime().format("%Y-%m-%dT%H:%M:%SZ"))
    }
}

/// "in 3 min", "overdue by 2 h", "now": how far `target` is from `now`.
pub fn relative(target: Timestamp, now: Timestamp) -> String {
    let diff = target.0 - now.0;
    if diff.abs() < 30 {
        return "now".to_string();
    }
    let span = human_span(diff.unsigned_abs());
    if diff > 0 {
        format!("in {span}")
    } else {
        format!("overdue by {span}")
    }
}

/// "3 min ago", "just now": how long before `now` something happened (a date in the
/// future, from a clock ahead of ours, reads "in 3 min").
pub fn ago(past: Timestamp, now: Timestamp) -> String {
    let diff = now.0 - past.0;
    if diff.abs() < 30 {
        return "just now".to_string();
    }
    let span = human_span(diff.unsigned_abs());
    if diff > 0 {
        format!("{span} ago")
    } else {
        format!("in {span}")
    }
}

/// "45 s", "3 min", "2 h", "5 d": the largest unit that fits, rounded down.
pub fn human_span(secs: u64) -> String {
    match secs {
        0..=59 => format!("{secs} s"),
        60..=3599 => format!("{} min", secs / 60),
        3600..=172_799 => format!("{} h", secs / 3600),
        _ => format!("{} d", secs / 86_400),
    }
}

/// chrono's date and time for a civil one, or `None` where it does not exist. Second
/// 60 is the next minute's first (chrono would keep it as a leap second of :59).
fn naive(y: i64, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> Option<NaiveDateTime> {
    let date = NaiveDate::from_ymd_opt(i32::try_from(y).ok()?, mo, d)?;
    if s == 60 {
        return date
            .and_hms_opt(h, mi, 59)?
            .checked_add_signed(chrono::TimeDelta::seconds(1));
    }
    date.and_hms_opt(h, mi, s)
}

/// A local date and time at a fixed offset from UTC.
fn zoned(local: NaiveDateTime, offset: FixedOffset) -> Option<Timestamp> {
    let at = local.and_local_timezone(offset).single()?;
    Some(Timestamp(at.timestamp()))
}

fn parse_iso(t: &str) -> Option<ParsedDate> {
    let b = t.as_bytes();
    let y = num(&b[0..4])?;
    if b[7] != b'-' {
        return None;
    }
    let mo = num(&b[5..7])? as u32;
    let d = num(&b[8..10])? as u32;
    let mut rest = &t[10..];
    let (mut h, mut mi, mut s) = (0, 0, 0);
    if let Some(r) = rest.strip_prefix(['T', 't', ' ']) {
        let rb = r.as_bytes();
        if rb.len() < 5 || rb[2] != b':' {
            return None;
        }
        h = num(&rb[0..2])? as u32;
        mi = num(&rb[3..5])? as u32;
        rest = &r[5..];
        if let Some(r2) = rest.strip_prefix(':') {
            let rb2 = r2.as_bytes();
            if rb2.len() < 2 {
                return None;
            }
            s = num(&rb2[0..2])? as u32;
            rest = &r2[2..];
        }
        if let Some(frac) = rest.strip_prefix(['.', ',']) {
            let n = frac.bytes().take_while(u8::is_ascii_digit).count();
            if n == 0 {
                return None;
            }
            rest = &frac[n..];
        }
    }
    let rest = rest.trim();
    let local = naive(y, mo, d, h, mi, s)?;
    if rest.is_empty() {
        return Some(ParsedDate {
            at: Timestamp(local.and_utc().timestamp()),
            zoned: false,
        });
    }
    let offset = if rest.eq_ignore_ascii_case("z") {
        FixedOffset::east_opt(0)?
    } else {
        parse_offset(rest)?
    };
    Some(ParsedDate {
        at: zoned(local, offset)?,
        zoned: true,
    })
}

/// Exactly `M/d/yyyy h:mm:ss AM|PM`, the product's own layout, read byte by byte;
/// the general parser handles every other spelling.
fn parse_us_fast(b: &[u8]) -> Option<Timestamp> {
    let mut i = 0;
    let mut digits = |min: usize, max: usize, end: Option<u8>| -> Option<u32> {
        let start = i;
        let mut v = 0u32;
        while i < b.len() && b[i].is_ascii_digit() && i - start < max {
            v = v * 10 + u32::from(b[i] - b'0');
            i += 1;
        }
        if i - start < min {
            return None;
        }
        if let Some(e) = end {
            if b.get(i) != Some(&e) {
                return None;
            }
            i += 1;
        }
        Some(v)
    };
    let mo = digits(1, 2, Some(b'/'))?;
    let d = digits(1, 2, Some(b'/'))?;
    let y = digits(4, 4, Some(b' '))?;
    let h = digits(1, 2, Some(b':'))?;
    let mi = digits(2, 2, Some(b':'))?;
    let sec = digits(2, 2, Some(b' '))?;
    let h = match b.get(i..)? {
        [b'A' | b'a', b'M' | b'm'] if (1..=12).contains(&h) => h % 12,
        [b'P' | b'p', b'M' | b'm'] if (1..=12).contains(&h) => h % 12 + 12,
        _ => return None,
    };
    Timestamp::from_civil(i64::from(y), mo, d, h, mi, sec)
}

/// `+hh:mm`, `+hhmm` (any colons ignored, four digits).
fn parse_offset(s: &str) -> Option<FixedOffset> {
    let b = s.as_bytes();
    let sign = match b.first()? {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    let mut digits = [0u8; 4];
    let mut n = 0;
    for &c in b[1..].iter().filter(|c| **c != b':') {
        *digits.get_mut(n)? = c;
        n += 1;
    }
    if n != 4 {
        return None;
    }
    let h = num(&digits[0..2])? as i32;
    let m = num(&digits[2..4])? as i32;
    FixedOffset::east_opt(sign * (h * 3600 + m * 60))
}

fn parse_us_or_dotted(t: &str) -> Option<ParsedDate> {
    let (date, time) = match t.split_once([' ', 'T']) {
        Some((d, rest)) => (d, rest.trim()),
        None => (t, ""),
    };
    let (y, mo, d) = if date.contains('/') {
        let mut it = date.split('/');
        let mo = small(it.next()?)?;
        let d = small(it.next()?)?;
        let y = year(it.next()?)?;
        if it.next().is_some() {
            return None;
        }
        (y, mo, d)
    } else if date.contains('.') {
        let mut it = date.split('.');
        let d = small(it.next()?)?;
        let mo = small(it.next()?)?;
        let y = year(it.next()?)?;
        (y, mo, d)
    } else {
        return None;
    };
    let (h, mi, s) = if time.is_empty() {
        (0, 0, 0)
    } else {
        parse_clock(time)?
    };
    let at = Timestamp::from_civil(y, mo, d, h, mi, s)?;
    Some(ParsedDate { at, zoned: false })
}

fn parse_clock(time: &str) -> Option<(u32, u32, u32)> {
    let (clock, meridiem) = match time.rsplit_once(' ') {
        Some((c, m)) => (c.trim(), Some(m.trim())),
        None => (time, None),
    };
    let mut it = clock.split(':');
    let mut h = small(it.next()?)?;
    let mi = small(it.next()?)?;
    let s = match it.next() {
        Some(s) => small(s.split(['.', ',']).next()?)?,
        None => 0,
    };
    if it.next().is_some() {
        return None;
    }
    match meridiem.map(|m| m.to_ascii_uppercase()) {
        None => {}
        Some(m) if m == "AM" => {
            if !(1..=12).contains(&h) {
                return None;
            }
            if h == 12 {
                h = 0;
            }
        }
        Some(m) if m == "PM" => {
            if !(1..=12).contains(&h) {
                return None;
            }
            if h != 12 {
                h += 12;
            }
        }
        Some(_) => return None,
    }
    Some((h, mi, s))
}

fn num(b: &[u8]) -> Option<i64> {
    if b.is_empty() || !b.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(b.iter().fold(0i64, |acc, c| acc * 10 + i64::from(c - b'0')))
}

fn small(s: &str) -> Option<u32> {
    let s = s.trim();
    if s.is_empty() || s.len() > 2 {
        return None;
    }
    num(s.as_bytes()).map(|n| n as u32)
}

fn year(s: &str) -> Option<i64> {
    let s = s.trim();
    if s.len() != 4 {
        return None;
    }
    num(s.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Option<String> {
        Timestamp::parse(s).map(|d| d.at.to_rfc3339())
    }

    #[test]
    fn us_layout_with_meridiem() {
        assert_eq!(
            p("12/3/2018 3:23:36 PM").as_deref(),
            Some("2018-12-03T15:23:36Z")
        );
        assert_eq!(
            p("1/1/2020 12:00:00 AM").as_deref(),
            Some("2020-01-01T00:00:00Z")
        );
        assert_eq!(
            p("1/1/2020 12:30:00 PM").as_deref(),
            Some("2020-01-01T12:30:00Z")
        );
        assert_eq!(
            p("2/29/2024 11:59:59 pm").as_deref(),
            Some("2024-02-29T23:59:59Z")
        );
        assert_eq!(
            p("11/29/2018 18:07:17").as_deref(),
            Some("2018-11-29T18:07:17Z")
        );
        assert_eq!(
            p("11/29/2018 6:07 PM").as_deref(),
            Some("2018-11-29T18:07:00Z")
        );
    }

    #[test]
    fn iso_layouts() {
        assert_eq!(
            p("2018-12-03T15:23:36Z").as_deref(),
            Some("2018-12-03T15:23:36Z")
        );
        assert_eq!(
            p("2018-12-03T15:23:36.123+01:00").as_deref(),
            Some("2018-12-03T14:23:36Z")
        );
        assert_eq!(
            p("2018-12-03 15:23:36").as_deref(),
            Some("2018-12-03T15:23:36Z")
        );
        assert!(Timestamp::parse("2018-12-03T15:23:36Z").unwrap().zoned);
        assert!(!Timestamp::parse("2018-12-03T15:23:36").unwrap().zoned);
    }

    #[test]
    fn log_format_roundtrips() {
        for t in [
            0i64,
            1_543_850_616,
            1_700_000_000,
            1_700_040_000,
            951_782_400,
        ] {
            let text = Timestamp(t).to_log_format();
            assert_eq!(
                Timestamp::parse(&text).map(|d| d.at),
                Some(Timestamp(t)),
                "{text}"
            );
        }
        assert_eq!(
            Timestamp(1_543_850_616).to_log_format(),
            "12/3/2018 3:23:36 PM"
        );
    }

    #[test]
    fn rejects_nonsense() {
        for bad in [
            "",
            "Null",
            "13/1/2018 1:00:00 PM",
            "2/30/2019 1:00:00 PM",
            "1/1/2018 13:00:00 PM",
            "yesterday",
            "1/1/18",
            "2018-1x-01",
        ] {
            assert_eq!(p(bad), None, "{bad}");
        }
    }

    #[test]
    fn rfc3339_matches_display() {
        for t in [
            -62_135_596_800i64,
            -1,
            0,
            1_543_850_616,
            253_402_300_799,
            253_402_300_800,
        ] {
            assert_eq!(Timestamp(t).to_rfc3339(), Timestamp(t).to_string());
        }
    }

    #[test]
    fn roundtrip_civil() {
        for days in [-800_000i64, -1, 0, 1, 17_000, 20_000, 2_000_000] {
            for secs in [0, 1, 43_199, 86_399] {
                let t = Timestamp(days * 86_400 + secs);
                let (y, mo, d, h, mi, s) = t.civil();
                assert_eq!(Timestamp::from_civil(y, mo, d, h, mi, s), Some(t));
            }
        }
    }

    #[test]
    fn leap_second_is_the_next_minutes_first() {
        for text in [
            "12/31/2016 11:59:60 PM",
            "2016-12-31T23:59:60Z",
            "31.12.2016 23:59:60",
        ] {
            assert_eq!(p(text).as_deref(), Some("2017-01-01T00:00:00Z"), "{text}");
        }
        let t = parse_rfc5322("Sat, 31 Dec 2016 23:59:60 +0000");
        assert_eq!(
            t.map(Timestamp::to_rfc3339).as_deref(),
            Some("2017-01-01T00:00:00Z")
        );
    }

    #[test]
    fn beyond_chronos_range_saturates() {
        for t in [i64::MAX, i64::MAX / 4, i64::MIN / 4, i64::MIN] {
            let t = Timestamp(t);
            assert_eq!(t.to_rfc3339(), t.to_string());
            t.to_short_utc();
            t.to_log_format();
            assert!(t.civil().0.abs() > 200_000);
        }
    }

    #[test]
    fn formats() {
        let t = Timestamp(1_543_850_616);
        assert_eq!(t.to_short_utc(), "2018-12-03 15:23 UTC");
        assert_eq!(
            Timestamp(1_543_795_200).to_log_format(),
            "12/3/2018 12:00:00 AM"
        );
        assert_eq!(
            Timestamp(-62_135_596_800).to_rfc3339(),
            "0001-01-01T00:00:00Z"
        );
        // .NET's DateTime.MinValue as the product writes it (yyyy: four digits), so
        // that it reads back.
        let min_value = Timestamp(-62_135_596_800);
        assert_eq!(min_value.to_log_format(), "1/1/0001 12:00:00 AM");
        assert_eq!(
            Timestamp::parse(&min_value.to_log_format()).map(|d| d.at),
            Some(min_value)
        );
        assert_eq!(Timestamp::from(t.to_datetime()), t);
    }

    #[test]
    fn email_dates_chrono_refuses() {
        let t = |s| parse_rfc5322(s).map(|t| t.to_rfc3339());
        // The wrong day name, no zone, a long month name, words after the zone.
        for text in [
            "Mon, 03 Dec 2026 07:01:42 +0000",
            "Thu, 03 Dec 2026 07:01:42",
            "Thu, 03 December 2026 07:01:42 +0000",
            "Thu, 03 Dec 2026 07:01:42 +0000 UTC",
        ] {
            assert_eq!(t(text).as_deref(), Some("2026-12-03T07:01:42Z"), "{text}");
        }
    }

    proptest::proptest! {
        /// Where chrono's RFC 3339 parser reads a date, ours reads the same instant.
        #[test]
        fn iso_agrees_with_chrono(
            secs in -62_135_596_800i64..253_402_300_799,
            frac in proptest::option::of("[0-9]{1,9}"),
            offset_min in proptest::option::of(-1439i32..=1439),
            sep in proptest::sample::select(vec!['T', 't', ' ']),
        ) {
            let local = Timestamp(secs).to_datetime().format("%Y-%m-%d").to_string()
                + &sep.to_string()
                + &Timestamp(secs).to_datetime().format("%H:%M:%S").to_string();
            let frac = frac.map(|f| format!(".{f}")).unwrap_or_default();
            let zone = match offset_min {
                None => "Z".to_string(),
                Some(m) => format!("{}{:02}:{:02}", if m < 0 { '-' } else { '+' }, m.abs() / 60, m.abs() % 60),
            };
            let text = format!("{local}{frac}{zone}");
            let chrono = DateTime::parse_from_rfc3339(&text).map(|t| t.timestamp()).ok();
            let ours = Timestamp::parse(&text);
            proptest::prop_assert!(ours.is_none_or(|d| d.zoned), "{}", text);
            proptest::prop_assert_eq!(ours.map(|d| d.at.0), chrono, "{}", text);
        }

        /// Where chrono's RFC 2822 parser reads a header, the lenient reader agrees.
        #[test]
        fn lenient_email_dates_agree_with_chrono(
            secs in 0i64..4_102_444_800,
            offset_min in -1439i32..=1439,
            day_name in proptest::bool::ANY,
            seconds in proptest::bool::ANY,
        ) {
            let zone = FixedOffset::east_opt(offset_min * 60).unwrap();
            let local = Timestamp(secs).to_datetime().with_timezone(&zone);
            let layout = match (day_name, seconds) {
                (true, true) => "%a, %-d %b %Y %H:%M:%S %z",
                (true, false) => "%a, %d %b %Y %H:%M %z",
                (false, true) => "%d %b %Y %H:%M:%S %z (comment)",
                (false, false) => "%-d %b %Y %H:%M %z",
            };
            let text = local.format(layout).to_string();
            let chrono = DateTime::parse_from_rfc2822(&text).map(|t| t.timestamp()).ok();
            proptest::prop_assert!(chrono.is_some(), "{}", text);
            proptest::prop_assert_eq!(parse_rfc5322_lenient(&text).map(|t| t.0), chrono, "{}", text);
        }
    }

    #[test]
    fn relative_wording() {
        let now = Timestamp(1_000_000);
        assert_eq!(relative(Timestamp(now.0 + 180), now), "in 3 min");
        assert_eq!(relative(Timestamp(now.0 - 7200), now), "overdue by 2 h");
        assert_eq!(relative(now, now), "now");
        assert_eq!(relative(Timestamp(now.0 + 5 * 86_400), now), "in 5 d");
        assert_eq!(ago(Timestamp(now.0 - 7200), now), "2 h ago");
        assert_eq!(ago(Timestamp(now.0 + 180), now), "in 3 min");
        assert_eq!(ago(now, now), "just now");
    }

    #[test]
    fn email_dates() {
        let t = |s| parse_rfc5322(s).map(|t| t.to_rfc3339());
        assert_eq!(
            t("Thu, 03 Dec 2026 07:01:42 +0000").as_deref(),
            Some("2026-12-03T07:01:42Z")
        );
        assert_eq!(
            t("3 Dec 2026 09:01 +0200 (CEST)").as_deref(),
            Some("2026-12-03T07:01:00Z")
        );
        assert_eq!(
            t("Wed, 2 Dec 26 23:30:00 EST").as_deref(),
            Some("2026-12-03T04:30:00Z")
        );
        assert_eq!(t("yesterday"), None);
        assert_eq!(t("Thu, 33 Foo 2026 07:01:42 +0000"), None);
    }

    /// Throughput of `Timestamp::parse` on the spellings the fixtures and the product
    /// write; prints figures, asserts nothing but the checksum's stability. Run with
    /// `cargo test -p mailsync-core --release -- --ignored bench_time_parse --nocapture`.
    #[test]
    #[ignore]
    fn bench_time_parse() {
        use std::time::Instant;
        const N: usize = 1_000_000;
        // A small LCG: the same varied inputs on every run.
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut next = |m: u64| {
            seed = seed
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            (seed >> 33) % m
        };
        let inputs: Vec<String> = (0..N)
            .map(|i| {
                let (y, mo, d) = (2000 + next(30), 1 + next(12), 1 + next(28));
                let (h, mi, s) = (next(24), next(60), next(60));
                let h12 = if h % 12 == 0 { 12 } else { h % 12 };
                let ap = if h < 12 { "AM" } else { "PM" };
                match i % 10 {
                    // The product's own layout, most of any log.
                    0..=3 => format!("{mo}/{d}/{y} {h12}:{mi:02}:{s:02} {ap}"),
                    4 => format!("{y}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}Z"),
                    5 => format!("{y}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}.123+01:00"),
                    6 => format!("{y}-{mo:02}-{d:02} {h:02}:{mi:02}:{s:02}"),
                    7 => format!("{mo}/{d}/{y} {h:02}:{mi:02}:{s:02}"),
                    8 => format!("{d}.{mo}.{y} {h}:{mi:02}"),
                    _ => match next(4) {
                        0 => "1/1/0001 12:00:00 AM".to_string(),
                        1 => "Null".to_string(),
                        2 => format!("2/30/{y} {h12}:{mi:02}:{s:02} {ap}"),
                        _ => format!("{mo}/{d}/{y} {h12}:{mi:02} {ap}"),
                    },
                }
            })
            .collect();
        let bytes: usize = inputs.iter().map(String::len).sum();
        let mut best = f64::INFINITY;
        let mut sum = 0i64;
        for _ in 0..5 {
            let start = Instant::now();
            sum = 0;
            for s in &inputs {
                if let Some(d) = Timestamp::parse(std::hint::black_box(s)) {
                    sum = sum.wrapping_add(d.at.0 ^ i64::from(d.zoned));
                }
            }
            best = best.min(start.elapsed().as_secs_f64());
        }
        println!(
            "bench_time_parse: {N} dates ({bytes} bytes), best of 5: {:.1} ms, {:.1} ns/date, {:.1} M dates/s, {:.0} MB/s; checksum {sum}",
            best * 1e3,
            best * 1e9 / N as f64,
            N as f64 / best / 1e6,
            bytes as f64 / best / 1e6,
        );
        let stamps: Vec<Timestamp> = (0..N)
            .map(|_| Timestamp(946_684_800 + next(1_000_000_000) as i64))
            .collect();
        for (name, f) in [
            (
                "to_rfc3339",
                Timestamp::to_rfc3339 as fn(Timestamp) -> String,
            ),
            ("to_short_utc", Timestamp::to_short_utc),
            ("to_log_format", Timestamp::to_log_format),
        ] {
            let start = Instant::now();
            let len: usize = stamps
                .iter()
                .map(|t| f(std::hint::black_box(*t)).len())
                .sum();
            let secs = start.elapsed().as_secs_f64();
            println!(
                "bench_time_parse: {name}: {:.1} ns/date (len {len})",
                secs * 1e9 / N as f64
            );
        }
        let headers: Vec<String> = stamps
            .iter()
            .take(N / 10)
            .map(|t| {
                let (y, mo, d, h, mi, s) = t.civil();
                const M: [&str; 12] = [
                    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov",
                    "Dec",
                ];
                format!("{d} {} {y} {h:02}:{mi:02}:{s:02} +0200", M[mo as usize - 1])
            })
            .collect();
        let start = Instant::now();
        let sum: i64 = headers
            .iter()
            .filter_map(|h| parse_rfc5322(std::hint::black_box(h)))
            .map(|t| t.0)
            .fold(0, i64::wrapping_add);
        let secs = start.elapsed().as_secs_f64();
        println!(
            "bench_time_parse: parse_rfc5322: {:.1} ns/header; checksum {sum}",
            secs * 1e9 / headers.len() as f64
        );
    }
}
