//! Timestamps without a date-time crate: the log only needs parsing of two layouts,
//! RFC 3339 output and differences, and this keeps core tiny and fast on wasm32.

use std::fmt;

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
    pub fn from_civil(y: i64, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> Option<Self> {
        if !(1..=12).contains(&mo)
            || d == 0
            || d > days_in_month(y, mo)
            || h > 23
            || mi > 59
            || s > 60
        {
            return None;
        }
        let days = days_from_civil(y, mo, d);
        Some(Timestamp(
            days * 86_400 + i64::from(h) * 3600 + i64::from(mi) * 60 + i64::from(s),
        ))
    }

    /// Milliseconds since the epoch, as JavaScript's `Date.now()` gives.
    pub fn from_millis(ms: f64) -> Self {
        Timestamp((ms / 1000.0).floor() as i64)
    }

    pub fn to_rfc3339(self) -> String {
        let (y, mo, d, h, mi, s) = self.civil();
        if !(0..=9999).contains(&y) {
            return self.to_string();
        }
        // Hand-rolled: formatting machinery dominated the analyzer's profile.
        let mut b = *b"0000-00-00T00:00:00Z";
        let mut put = |at: usize, width: usize, mut v: u32| {
            for i in (at..at + width).rev() {
                b[i] = b'0' + (v % 10) as u8;
                v /= 10;
            }
        };
        put(0, 4, y as u32);
        put(5, 2, mo);
        put(8, 2, d);
        put(11, 2, h);
        put(14, 2, mi);
        put(17, 2, s);
        String::from_utf8_lossy(&b).into_owned()
    }

    /// `yyyy-mm-dd hh:mm` for humans (UTC).
    pub fn to_short_utc(self) -> String {
        let mut s = self.to_rfc3339();
        if s.len() == 20 {
            // "2018-12-03T15:23:36Z" -> "2018-12-03 15:23 UTC"
            s.replace_range(10..11, " ");
            s.replace_range(16.., " UTC");
            return s;
        }
        let (y, mo, d, h, mi, _) = self.civil();
        format!("{y:04}-{mo:02}-{d:02} {h:02}:{mi:02} UTC")
    }

    /// `M/d/yyyy h:mm:ss AM/PM`, the way Mailbox Details logs write dates.
    pub fn to_log_format(self) -> String {
        let (y, mo, d, h, mi, s) = self.civil();
        let (h12, meridiem) = match h {
            0 => (12, "AM"),
            1..=11 => (h, "AM"),
            12 => (12, "PM"),
            _ => (h - 12, "PM"),
        };
        format!("{mo}/{d}/{y} {h12}:{mi:02}:{s:02} {meridiem}")
    }

    pub fn civil(self) -> (i64, u32, u32, u32, u32, u32) {
        let days = self.0.div_euclid(86_400);
        let secs = self.0.rem_euclid(86_400);
        let (y, mo, d) = civil_from_days(days);
        (
            y,
            mo,
            d,
            (secs / 3600) as u32,
            ((secs % 3600) / 60) as u32,
            (secs % 60) as u32,
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

/// An email's `Date:` header (RFC 5322: `Thu, 03 Dec 2026 07:01:42 +0000`, the day
/// name and seconds optional, a numeric zone or one of the obsolete names; a trailing
/// comment such as `(UTC)` ignored).
pub fn parse_rfc5322(text: &str) -> Option<Timestamp> {
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
    let offset = match zone.to_ascii_uppercase().as_str() {
        "UT" | "GMT" | "Z" => 0,
        "EDT" => -4 * 3600,
        "EST" | "CDT" => -5 * 3600,
        "CST" | "MDT" => -6 * 3600,
        "MST" | "PDT" => -7 * 3600,
        "PST" => -8 * 3600,
        z => {
            let sign = match z.as_bytes().first()? {
                b'+' => 1,
                b'-' => -1,
                _ => return None,
            };
            let digits = z.get(1..5)?;
            let hh: i64 = digits.get(..2)?.parse().ok()?;
            let mm: i64 = digits.get(2..)?.parse().ok()?;
            sign * (hh * 3600 + mm * 60)
        }
    };
    let local = Timestamp::from_civil(year, month, day, h, mi, s)?;
    Some(Timestamp(local.0 - offset))
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (y, mo, d, h, mi, s) = self.civil();
        write!(f, "{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}Z")
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
    let (offset, zoned) = if rest.is_empty() {
        (0, false)
    } else if rest.eq_ignore_ascii_case("z") {
        (0, true)
    } else {
        (parse_offset(rest)?, true)
    };
    let at = Timestamp::from_civil(y, mo, d, h, mi, s)?;
    Some(ParsedDate {
        at: Timestamp(at.0 - offset),
        zoned,
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

fn parse_offset(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    let sign = match b.first()? {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    let digits: Vec<u8> = b[1..].iter().copied().filter(|c| *c != b':').collect();
    if digits.len() != 4 {
        return None;
    }
    let h = num(&digits[0..2])?;
    let m = num(&digits[2..4])?;
    Some(sign * (h * 3600 + m * 60))
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

fn is_leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

fn days_in_month(y: i64, m: u32) -> u32 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if is_leap(y) => 29,
        2 => 28,
        _ => 0,
    }
}

// Howard Hinnant's days_from_civil / civil_from_days.
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
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
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
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
}
