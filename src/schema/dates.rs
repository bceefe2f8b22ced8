//! Date parsing for export columns.
//!
//! Accepted forms: ISO dates and datetimes (with `T` or a space, fractional
//! seconds, and `Z` or `±HH:MM` offsets, which are normalised to UTC before
//! the day is taken), `YYYYMMDD`, `M/D/YYYY H:MM` (US exports), `DD.MM.YYYY`
//! and `DD/MM/YYYY`, each optionally followed by a time of day. A chrono
//! format string (`--date-format`) overrides detection.
//!
//! Detection never guesses: when every value reads as both month/day and
//! day/month, it is an error that asks for `--date-format`.

use chrono::{DateTime, NaiveDate, NaiveDateTime};
use serde::{Deserialize, Serialize};

/// A date layout.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum DateFormat {
    /// `YYYY-MM-DD`, optionally with a time and an offset.
    Iso,
    /// `YYYYMMDD`.
    Compact,
    /// `M/D/YYYY`, optionally with a time (US exports).
    MonthFirst,
    /// `D/M/YYYY`, optionally with a time.
    DayFirst,
    /// `D.M.YYYY`, optionally with a time.
    Dotted,
    /// A chrono format string.
    Custom(String),
}

impl DateFormat {
    /// The candidates detection tries, in order of preference.
    pub const DETECTABLE: [DateFormat; 5] = [
        DateFormat::Iso,
        DateFormat::Compact,
        DateFormat::MonthFirst,
        DateFormat::DayFirst,
        DateFormat::Dotted,
    ];

    /// A name for people (and `--date-format` values that select a layout).
    pub fn describe(&self) -> String {
        match self {
            DateFormat::Iso => "ISO (YYYY-MM-DD[THH:MM:SS][±HH:MM])".into(),
            DateFormat::Compact => "YYYYMMDD".into(),
            DateFormat::MonthFirst => "M/D/YYYY".into(),
            DateFormat::DayFirst => "D/M/YYYY".into(),
            DateFormat::Dotted => "D.M.YYYY".into(),
            DateFormat::Custom(f) => f.clone(),
        }
    }

    /// Parses a `--date-format` value: a layout name (`iso`, `ymd`, `mdy`,
    /// `dmy`, `dmy.`) or a chrono format string such as `%d/%m/%Y %H:%M`.
    pub fn from_flag(text: &str) -> Self {
        match text.to_ascii_lowercase().as_str() {
            "iso" => DateFormat::Iso,
            "ymd" | "yyyymmdd" => DateFormat::Compact,
            "mdy" | "us" | "m/d/y" => DateFormat::MonthFirst,
            "dmy" | "d/m/y" => DateFormat::DayFirst,
            "dmy." | "d.m.y" => DateFormat::Dotted,
            _ => DateFormat::Custom(text.to_string()),
        }
    }

    /// A usage error for a custom layout that chrono cannot read (`%Q`),
    /// before any row is read, rather than every row rejected; `option` is
    /// the caller's name for the setting (e.g. `--date-format`).
    pub fn check(&self, option: &str) -> anyhow::Result<()> {
        if let DateFormat::Custom(layout) = self {
            let bad = chrono::format::StrftimeItems::new(layout)
                .any(|item| matches!(item, chrono::format::Item::Error));
            if bad {
                anyhow::bail!(crate::error::usage(format!(
                    "{option} '{layout}': not a date layout (iso, ymd, mdy, dmy, dmy., or \
                     chrono's %Y-%m-%d fields)"
                )));
            }
        }
        Ok(())
    }

    /// Days since 1970-01-01 of `text`, or None when it does not parse.
    pub fn parse(&self, text: &str) -> Option<i32> {
        let text = text.trim();
        let date = match self {
            DateFormat::Iso => parse_iso(text)?,
            DateFormat::Compact => {
                if text.len() != 8 || !text.bytes().all(|b| b.is_ascii_digit()) {
                    return None;
                }
                ymd(num(&text[..4])?, num(&text[4..6])?, num(&text[6..])?)?
            }
            DateFormat::MonthFirst => {
                let (a, b, y) = split_dmy(text, b'/')?;
                ymd(y, a, b)?
            }
            DateFormat::DayFirst => {
                let (a, b, y) = split_dmy(text, b'/')?;
                ymd(y, b, a)?
            }
            DateFormat::Dotted => {
                let (a, b, y) = split_dmy(text, b'.')?;
                ymd(y, b, a)?
            }
            DateFormat::Custom(format) => parse_custom(text, format)?,
        };
        Some(days_since_epoch(date))
    }
}

/// Days from 0001-01-01 (day 1) to 1970-01-01 (day 719,163).
const EPOCH_FROM_CE: i32 = 719_163;

/// Days since 1970-01-01.
pub fn days_since_epoch(date: NaiveDate) -> i32 {
    use chrono::Datelike;
    date.num_days_from_ce() - EPOCH_FROM_CE
}

/// The number one to four ASCII digits spell.
fn num(text: &str) -> Option<u32> {
    digits(text.as_bytes())
}

fn digits(bytes: &[u8]) -> Option<u32> {
    if bytes.is_empty() || bytes.len() > 4 {
        return None;
    }
    bytes.iter().try_fold(0, |n, &b| {
        b.is_ascii_digit().then(|| n * 10 + u32::from(b - b'0'))
    })
}

fn ymd(year: u32, month: u32, day: u32) -> Option<NaiveDate> {
    if !(1000..=9999).contains(&year) {
        return None;
    }
    NaiveDate::from_ymd_opt(year as i32, month, day)
}

/// Splits `a/b/yyyy[ time]` into its three numbers; the time, if any, must
/// look like one (`H:MM[:SS][ AM|PM]`).
fn split_dmy(text: &str, sep: u8) -> Option<(u32, u32, u32)> {
    // bytes, not chars: the separators are ASCII (a tenth of the time)
    let (date, time) = match text.bytes().position(|b| b == b' ') {
        Some(i) => (&text.as_bytes()[..i], Some(text[i + 1..].trim())),
        None => (text.as_bytes(), None),
    };
    if let Some(time) = time
        && !looks_like_time(time)
    {
        return None;
    }
    let mut parts = date.split(|&b| b == sep);
    let a = parts.next()?;
    let b = parts.next()?;
    let y = parts.next()?;
    if parts.next().is_some() || a.len() > 2 || b.len() > 2 || y.len() != 4 {
        return None;
    }
    Some((digits(a)?, digits(b)?, digits(y)?))
}

fn looks_like_time(time: &str) -> bool {
    let time = time
        .strip_suffix("AM")
        .or_else(|| time.strip_suffix("PM"))
        .or_else(|| time.strip_suffix("am"))
        .or_else(|| time.strip_suffix("pm"))
        .unwrap_or(time)
        .trim_end();
    let mut parts = time.as_bytes().split(|&b| b == b':');
    let Some(h) = parts.next().and_then(digits) else {
        return false;
    };
    let Some(m) = parts.next().and_then(digits) else {
        return false;
    };
    let s = match parts.next() {
        Some(s) => s.split(|&b| b == b'.').next().and_then(digits),
        None => Some(0),
    };
    parts.next().is_none() && h < 24 && m < 60 && s.is_some_and(|s| s < 61)
}

fn parse_iso(text: &str) -> Option<NaiveDate> {
    let bytes = text.as_bytes();
    // ASCII up to the time: the slices below then fall on characters
    // (a fuzzed value with a two-byte character across byte 10 panicked)
    if bytes.len() < 10 || bytes[4] != b'-' || bytes[7] != b'-' || !bytes[..10].is_ascii() {
        return None;
    }
    let date = ymd(num(&text[..4])?, num(&text[5..7])?, num(&text[8..10])?)?;
    if bytes.len() == 10 {
        return Some(date);
    }
    if bytes[10] != b'T' && bytes[10] != b' ' {
        return None;
    }
    let rest = &text[11..];
    // Split the time from an offset: Z, +HH:MM, -HH:MM, +HHMM, +HH.
    let (time, offset) = match rest.find(['Z', 'z', '+', '-']) {
        Some(i) => (&rest[..i], Some(&rest[i..])),
        None => (rest, None),
    };
    if !looks_like_time(time.trim_end()) {
        return None;
    }
    match offset {
        None => Some(date),
        Some(z) if z.eq_ignore_ascii_case("z") => Some(date),
        Some(offset) => {
            let minutes = parse_offset(offset)?;
            let (h, m) = {
                let mut p = time.split(':');
                (
                    p.next()?.parse::<i64>().ok()?,
                    p.next()?.parse::<i64>().ok()?,
                )
            };
            let local_minutes = h * 60 + m;
            let utc_minutes = local_minutes - minutes;
            Some(date + chrono::Duration::days(utc_minutes.div_euclid(24 * 60)))
        }
    }
}

/// `+HH:MM`, `-HHMM`, `+HH` → minutes east of UTC.
fn parse_offset(text: &str) -> Option<i64> {
    let sign = match text.as_bytes().first()? {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    let digits: String = text[1..].chars().filter(|c| *c != ':').collect();
    if !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let (h, m) = match digits.len() {
        2 => (digits.parse::<i64>().ok()?, 0),
        4 => (
            digits[..2].parse::<i64>().ok()?,
            digits[2..].parse::<i64>().ok()?,
        ),
        _ => return None,
    };
    (h <= 18 && m < 60).then_some(sign * (h * 60 + m))
}

fn parse_custom(text: &str, format: &str) -> Option<NaiveDate> {
    if format.contains("%z") || format.contains("%:z") || format.contains("%#z") {
        return DateTime::parse_from_str(text, format)
            .ok()
            .map(|d| d.naive_utc().date());
    }
    NaiveDateTime::parse_from_str(text, format)
        .map(|d| d.date())
        .or_else(|_| NaiveDate::parse_from_str(text, format))
        .ok()
}

/// Why detection failed.
#[derive(Debug, PartialEq)]
pub enum DetectError {
    /// No candidate parses any value; carries an example value.
    NoFormat(String),
    /// Both month/day and day/month read every value; carries an example.
    Ambiguous(String),
}

/// Chooses the layout that parses the most of `values` (a sample of
/// distinct non-null values). Month-first against day-first is settled only
/// by a value with a part above 12; without one it is [`DetectError::Ambiguous`].
pub fn detect<'a>(values: impl IntoIterator<Item = &'a str>) -> Result<DateFormat, DetectError> {
    let values: Vec<&str> = values.into_iter().collect();
    let count = |format: &DateFormat| values.iter().filter(|v| format.parse(v).is_some()).count();
    let counts: Vec<usize> = DateFormat::DETECTABLE.iter().map(count).collect();
    let (best, &best_count) = counts
        .iter()
        .enumerate()
        .max_by_key(|(i, c)| (**c, usize::MAX - i))
        .unwrap_or((0, &0));
    if best_count == 0 {
        return Err(DetectError::NoFormat(
            values.first().unwrap_or(&"").to_string(),
        ));
    }
    let month_first = counts[2];
    let day_first = counts[3];
    let slash_is_best = best == 2 || best == 3;
    if slash_is_best && month_first == day_first {
        let example = values
            .iter()
            .find(|v| DateFormat::MonthFirst.parse(v).is_some())
            .unwrap_or(&"");
        return Err(DetectError::Ambiguous(example.to_string()));
    }
    Ok(DateFormat::DETECTABLE[best].clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_that_is_not_ascii_is_no_date() {
        // found by the dates fuzz target: 'ի' spans bytes 9..11
        let crash = b"2024-01-1\xd5\xab\xda\x92\n2023";
        let text = String::from_utf8_lossy(crash);
        assert_eq!(DateFormat::Iso.parse(&text), None);
        assert_eq!(DateFormat::Iso.parse("2024-01-1ի"), None);
        assert_eq!(DateFormat::Iso.parse("2024-01-15ի"), None);
        assert_eq!(DateFormat::Iso.parse("2024-01-15 ի"), None);
        assert_eq!(DateFormat::Compact.parse("2024011ի"), None);
    }

    fn day(y: i32, m: u32, d: u32) -> Option<i32> {
        Some(days_since_epoch(NaiveDate::from_ymd_opt(y, m, d).unwrap()))
    }

    #[test]
    fn days_since_epoch_counts_from_1970() {
        let epoch = NaiveDate::default();
        for date in [
            epoch,
            day_of(1, 1, 1),
            day_of(1969, 12, 31),
            day_of(2024, 2, 29),
            day_of(9999, 12, 31),
        ] {
            assert_eq!(i64::from(days_since_epoch(date)), (date - epoch).num_days());
        }
    }

    fn day_of(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    #[test]
    fn parses_every_layout() {
        assert_eq!(DateFormat::Iso.parse("1997-01-01"), day(1997, 1, 1));
        assert_eq!(
            DateFormat::Iso.parse("2023-03-05T10:00:00"),
            day(2023, 3, 5)
        );
        assert_eq!(
            DateFormat::Iso.parse("2023-03-05 10:00:00.123"),
            day(2023, 3, 5)
        );
        assert_eq!(DateFormat::Compact.parse("19970101"), day(1997, 1, 1));
        assert_eq!(
            DateFormat::MonthFirst.parse("12/1/2010 8:26"),
            day(2010, 12, 1)
        );
        assert_eq!(DateFormat::DayFirst.parse("13/02/2021"), day(2021, 2, 13));
        assert_eq!(
            DateFormat::Dotted.parse("31.12.2020 23:59:59"),
            day(2020, 12, 31)
        );
        assert_eq!(
            DateFormat::Custom("%d %b %Y".into()).parse("05 Mar 2023"),
            day(2023, 3, 5)
        );
        assert_eq!(DateFormat::Iso.parse("2023-02-30"), None);
        assert_eq!(DateFormat::MonthFirst.parse("13/45/2022 25:99"), None);
    }

    #[test]
    fn offsets_are_normalised_to_utc_before_taking_the_day() {
        assert_eq!(
            DateFormat::Iso.parse("2023-03-05T23:30:00-02:00"),
            day(2023, 3, 6)
        );
        assert_eq!(
            DateFormat::Iso.parse("2023-03-05T00:30:00+0100"),
            day(2023, 3, 4)
        );
        assert_eq!(
            DateFormat::Iso.parse("2023-03-05T12:00:00Z"),
            day(2023, 3, 5)
        );
        let custom = DateFormat::Custom("%Y-%m-%d %H:%M %z".into());
        assert_eq!(custom.parse("2023-03-05 23:30 -0200"), day(2023, 3, 6));
    }

    #[test]
    fn detection_settles_day_month_only_with_evidence() {
        assert_eq!(
            detect(["12/1/2010 8:26", "12/13/2010 9:00"]),
            Ok(DateFormat::MonthFirst)
        );
        assert_eq!(detect(["13/1/2010", "1/2/2010"]), Ok(DateFormat::DayFirst));
        assert_eq!(detect(["19970101", "19970102"]), Ok(DateFormat::Compact));
        assert!(matches!(
            detect(["01/02/2020", "03/04/2020"]),
            Err(DetectError::Ambiguous(_))
        ));
        assert!(matches!(
            detect(["soon", "later"]),
            Err(DetectError::NoFormat(_))
        ));
    }
}
