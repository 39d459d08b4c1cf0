//! SMPP times (3.4 §7.1.1) and receipt dates, plus the civil-date
//! arithmetic both need.
//!
//! This module owns:
//! - [`SmppTime`]: the 16-character `YYMMDDhhmmsstnnp` form of
//!   schedule_delivery_time and validity_period, absolute or relative, with
//!   parsing, formatting, validation and resolution to Unix seconds.
//! - [`ReceiptDate`]: the 10- or 12-digit `YYMMDDhhmm[ss]` dates of a
//!   delivery receipt text (`submit date:` / `done date:`).
//! - [`days_from_civil`] / [`civil_from_days`]: Howard Hinnant's proleptic
//!   Gregorian algorithms, so the crate needs no chrono/time dependency.
//!
//! Two-digit years are read as 20YY (2000–2099): SMPP has no century and
//! nothing in this gateway predates 2000.
//!
//! Strictness: [`SmppTime::parse`] is strict on structure (exactly 16
//! characters, 15 digits, then `+`, `-` or `R`) and on the ranges of
//! absolute times, but accepts a relative time whose `tnn` is not `000`,
//! ignoring those digits: they carry no meaning for a relative time, some
//! ESMEs fill them anyway, and rejecting a submit_sm over them helps no one.
//! Formatting always writes `000` there.

use std::fmt;

const SECS_PER_DAY: i128 = 86_400;

/// Why a 16-character SMPP time was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TimeError {
    /// Not 16 characters (an empty value is "not set", not an error).
    #[error("SMPP time must be 16 characters, got {0}")]
    Length(usize),
    /// One of the first 15 characters is not an ASCII digit.
    #[error("SMPP time character {position} is not a digit")]
    NotDigit {
        /// Zero-based position of the offending character.
        position: usize,
    },
    /// The 16th character is not `+`, `-` or `R`.
    #[error("SMPP time direction must be '+', '-' or 'R', got byte {0:#04x}")]
    Direction(u8),
    /// A field outside its range (month 1–12, day valid for the month, hour
    /// 0–23, minute/second 0–59, tenths 0–9, offset 0–48 quarter hours).
    #[error("SMPP time {field} out of range: {value}")]
    OutOfRange {
        /// Name of the field.
        field: &'static str,
        /// The value found (for the offset, its magnitude).
        value: u8,
    },
}

/// An SMPP 3.4 time (§7.1.1), as carried by schedule_delivery_time and
/// validity_period. "Not set" (the empty C-octet string) is `None` at the
/// [`SmppTime::parse`] level, not a variant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SmppTime {
    /// A point in time, written in some local time `offset_quarter_hours`
    /// quarter hours ahead of UTC (negative: behind).
    Absolute {
        /// Two-digit year, 0–99, meaning 2000–2099.
        year: u8,
        /// 1–12.
        month: u8,
        /// 1–31, valid for the month.
        day: u8,
        /// 0–23.
        hour: u8,
        /// 0–59.
        minute: u8,
        /// 0–59.
        second: u8,
        /// Tenths of a second, 0–9.
        tenths: u8,
        /// Local time minus UTC, in quarter hours, -48..=48 (`p` is the sign;
        /// a written `00-` reads as 0 and formats back as `00+`).
        offset_quarter_hours: i8,
    },
    /// An amount of time after "now" (the SMSC's current time), each field
    /// 0–99.
    Relative {
        /// Years to add.
        years: u8,
        /// Months to add.
        months: u8,
        /// Days to add.
        days: u8,
        /// Hours to add.
        hours: u8,
        /// Minutes to add.
        minutes: u8,
        /// Seconds to add.
        seconds: u8,
    },
}

impl SmppTime {
    /// Parse the value of a schedule_delivery_time or validity_period field.
    ///
    /// `Ok(None)` for an empty value (not set). One trailing NUL is
    /// tolerated, so the field may be passed with or without its terminator.
    /// See the module docs for how strict this is.
    pub fn parse(bytes: &[u8]) -> Result<Option<Self>, TimeError> {
        let bytes = bytes.strip_suffix(&[0]).unwrap_or(bytes);
        if bytes.is_empty() {
            return Ok(None);
        }
        let b: &[u8; 16] = bytes
            .try_into()
            .map_err(|_| TimeError::Length(bytes.len()))?;
        if let Some(position) = b[..15].iter().position(|c| !c.is_ascii_digit()) {
            return Err(TimeError::NotDigit { position });
        }
        let two = |i: usize| (b[i] - b'0') * 10 + (b[i + 1] - b'0');
        let time = match b[15] {
            b'R' => Self::Relative {
                years: two(0),
                months: two(2),
                days: two(4),
                hours: two(6),
                minutes: two(8),
                seconds: two(10),
            },
            p @ (b'+' | b'-') => {
                let nn = two(13);
                // nn <= 99, so it fits in an i8 either way round.
                let magnitude = i8::try_from(nn).unwrap_or(i8::MAX);
                Self::Absolute {
                    year: two(0),
                    month: two(2),
                    day: two(4),
                    hour: two(6),
                    minute: two(8),
                    second: two(10),
                    tenths: b[12] - b'0',
                    offset_quarter_hours: if p == b'-' { -magnitude } else { magnitude },
                }
            }
            other => return Err(TimeError::Direction(other)),
        };
        time.validate()?;
        Ok(Some(time))
    }

    /// Check every field is in range (see [`TimeError::OutOfRange`]).
    /// [`SmppTime::parse`] only returns valid times; this is for values built
    /// by hand before they are encoded.
    pub fn validate(&self) -> Result<(), TimeError> {
        let check = |field: &'static str, value: u8, ok: bool| {
            if ok {
                Ok(())
            } else {
                Err(TimeError::OutOfRange { field, value })
            }
        };
        match *self {
            Self::Absolute {
                year,
                month,
                day,
                hour,
                minute,
                second,
                tenths,
                offset_quarter_hours,
            } => {
                check("year", year, year <= 99)?;
                check("month", month, (1..=12).contains(&month))?;
                let dim = days_in_month(2000 + i64::from(year), month);
                check("day", day, day >= 1 && day <= dim)?;
                check("hour", hour, hour <= 23)?;
                check("minute", minute, minute <= 59)?;
                check("second", second, second <= 59)?;
                check("tenths", tenths, tenths <= 9)?;
                let off = offset_quarter_hours.unsigned_abs();
                check("offset", off, off <= 48)
            }
            Self::Relative {
                years,
                months,
                days,
                hours,
                minutes,
                seconds,
            } => {
                check("years", years, years <= 99)?;
                check("months", months, months <= 99)?;
                check("days", days, days <= 99)?;
                check("hours", hours, hours <= 99)?;
                check("minutes", minutes, minutes <= 99)?;
                check("seconds", seconds, seconds <= 99)
            }
        }
    }

    /// The 16 wire characters. Out-of-range fields (only possible for values
    /// built by hand; see [`SmppTime::validate`]) are written modulo 100,
    /// never panicking.
    pub fn to_bytes(&self) -> [u8; 16] {
        let mut out = [b'0'; 16];
        let mut put = |i: usize, v: u8| {
            out[i] = b'0' + v / 10 % 10;
            out[i + 1] = b'0' + v % 10;
        };
        match *self {
            Self::Absolute {
                year,
                month,
                day,
                hour,
                minute,
                second,
                tenths,
                offset_quarter_hours,
            } => {
                put(0, year);
                put(2, month);
                put(4, day);
                put(6, hour);
                put(8, minute);
                put(10, second);
                put(13, offset_quarter_hours.unsigned_abs());
                out[12] = b'0' + tenths % 10;
                out[15] = if offset_quarter_hours < 0 { b'-' } else { b'+' };
            }
            Self::Relative {
                years,
                months,
                days,
                hours,
                minutes,
                seconds,
            } => {
                put(0, years);
                put(2, months);
                put(4, days);
                put(6, hours);
                put(8, minutes);
                put(10, seconds);
                out[15] = b'R';
            }
        }
        out
    }

    /// The 16 characters as a `String` (same as `to_string()`).
    pub fn format(&self) -> String {
        self.to_bytes().iter().map(|&b| char::from(b)).collect()
    }

    /// Resolve to Unix seconds (tenths are dropped).
    ///
    /// Absolute: the offset is applied, giving UTC. Relative: added to
    /// `now_unix` (UTC) calendar-aware: years and months move the calendar
    /// month, clamping the day to that month's end (Jan 31 + 1 month = Feb
    /// 28/29), then days, hours, minutes and seconds are added as fixed
    /// lengths (UTC has no DST). Saturates at the ends of `i64`.
    pub fn to_unix(&self, now_unix: i64) -> i64 {
        let secs = match *self {
            Self::Absolute {
                year,
                month,
                day,
                hour,
                minute,
                second,
                offset_quarter_hours,
                ..
            } => {
                days_from_civil_wide(2000 + i128::from(year), month, day) * SECS_PER_DAY
                    + time_of_day(hour, minute, second)
                    - i128::from(offset_quarter_hours) * 900
            }
            Self::Relative {
                years,
                months,
                days,
                hours,
                minutes,
                seconds,
            } => {
                let now = i128::from(now_unix);
                let (day_number, sod) =
                    (now.div_euclid(SECS_PER_DAY), now.rem_euclid(SECS_PER_DAY));
                let (y, m, d) = civil_from_days_wide(day_number);
                let month_index =
                    y * 12 + i128::from(m) - 1 + i128::from(years) * 12 + i128::from(months);
                let ny = month_index.div_euclid(12);
                // rem_euclid(12) is 0..=11, so this fits a u8.
                let nm = u8::try_from(month_index.rem_euclid(12) + 1).unwrap_or(1);
                let nd = d.min(days_in_month_wide(ny, nm));
                (days_from_civil_wide(ny, nm, nd) + i128::from(days)) * SECS_PER_DAY
                    + sod
                    + time_of_day(hours, minutes, seconds)
            }
        };
        clamp_i64(secs)
    }

    /// The absolute SMPP time of a Unix timestamp, in UTC (`...000+`).
    /// `None` outside 2000–2099, which two-digit years cannot express.
    pub fn from_unix(unix: i64) -> Option<Self> {
        let c = Civil::from_unix(unix)?;
        Some(Self::Absolute {
            year: c.yy,
            month: c.month,
            day: c.day,
            hour: c.hour,
            minute: c.minute,
            second: c.second,
            tenths: 0,
            offset_quarter_hours: 0,
        })
    }
}

impl fmt::Display for SmppTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.format())
    }
}

/// A date-time of a delivery receipt text, `YYMMDDhhmm` or `YYMMDDhhmmss`.
///
/// Receipts carry no time zone; [`ReceiptDate::to_unix`] reads them as UTC,
/// which is what this gateway writes (SMSCs vary: compare with care).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ReceiptDate {
    /// Two-digit year, 0–99, meaning 2000–2099.
    pub year: u8,
    /// 1–12.
    pub month: u8,
    /// 1–31, valid for the month.
    pub day: u8,
    /// 0–23.
    pub hour: u8,
    /// 0–59.
    pub minute: u8,
    /// 0–59 when the date had 12 digits; `None` for the usual 10.
    pub second: Option<u8>,
}

impl ReceiptDate {
    /// Parse 10 or 12 ASCII digits with valid fields; `None` otherwise
    /// (receipt parsing is tolerant, so a bad date is just absent).
    pub fn parse(bytes: &[u8]) -> Option<Self> {
        if !matches!(bytes.len(), 10 | 12) || !bytes.iter().all(u8::is_ascii_digit) {
            return None;
        }
        let two = |i: usize| (bytes[i] - b'0') * 10 + (bytes[i + 1] - b'0');
        let date = Self {
            year: two(0),
            month: two(2),
            day: two(4),
            hour: two(6),
            minute: two(8),
            second: (bytes.len() == 12).then(|| two(10)),
        };
        date.is_valid().then_some(date)
    }

    /// Whether every field is in range.
    pub fn is_valid(&self) -> bool {
        self.year <= 99
            && (1..=12).contains(&self.month)
            && self.day >= 1
            && self.day <= days_in_month(2000 + i64::from(self.year), self.month)
            && self.hour <= 23
            && self.minute <= 59
            && self.second.is_none_or(|s| s <= 59)
    }

    /// The 10-digit date (seconds dropped) of a Unix timestamp, in UTC.
    /// `None` outside 2000–2099. Set `second` for the 12-digit form.
    pub fn from_unix(unix: i64) -> Option<Self> {
        let c = Civil::from_unix(unix)?;
        Some(Self {
            year: c.yy,
            month: c.month,
            day: c.day,
            hour: c.hour,
            minute: c.minute,
            second: None,
        })
    }

    /// Unix seconds, reading the date as UTC (missing seconds are 0).
    pub fn to_unix(&self) -> i64 {
        clamp_i64(
            days_from_civil_wide(2000 + i128::from(self.year), self.month, self.day) * SECS_PER_DAY
                + time_of_day(self.hour, self.minute, self.second.unwrap_or(0)),
        )
    }

    /// The digits: 10, or 12 when `second` is set. Out-of-range fields are
    /// written modulo 100.
    pub fn format(&self) -> String {
        self.to_string()
    }
}

impl ReceiptDate {
    /// Append the digits (as [`ReceiptDate::format`]) to `out`.
    pub fn write_to(&self, out: &mut Vec<u8>) {
        let d2 = |v: u8| {
            let v = v % 100;
            [b'0' + v / 10, b'0' + v % 10]
        };
        for v in [self.year, self.month, self.day, self.hour, self.minute] {
            out.extend_from_slice(&d2(v));
        }
        if let Some(s) = self.second {
            out.extend_from_slice(&d2(s));
        }
    }
}

impl fmt::Display for ReceiptDate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut b = Vec::with_capacity(12);
        self.write_to(&mut b);
        f.write_str(std::str::from_utf8(&b).map_err(|_| fmt::Error)?)
    }
}

/// Format a Unix timestamp as a 10-digit receipt date `YYMMDDhhmm` (UTC).
/// `None` outside 2000–2099.
pub fn format_receipt_date(unix: i64) -> Option<String> {
    ReceiptDate::from_unix(unix).map(|d| d.to_string())
}

/// Parse a 10- or 12-digit receipt date, read as UTC, to Unix seconds.
pub fn parse_receipt_date(bytes: &[u8]) -> Option<i64> {
    ReceiptDate::parse(bytes).map(|d| d.to_unix())
}

/// Whether `year` is a Gregorian leap year.
pub fn is_leap_year(year: i64) -> bool {
    is_leap_wide(i128::from(year))
}

/// Days in `month` (1–12) of `year`; 0 for a month outside 1–12.
pub fn days_in_month(year: i64, month: u8) -> u8 {
    days_in_month_wide(i128::from(year), month)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Hinnant's
/// `days_from_civil`). Expects month 1–12 and day 1–31; other values give
/// an unspecified result but never panic. Saturates at the ends of `i64`.
pub fn days_from_civil(year: i64, month: u8, day: u8) -> i64 {
    clamp_i64(days_from_civil_wide(i128::from(year), month, day))
}

/// The proleptic Gregorian `(year, month 1–12, day 1–31)` of a day number
/// counted from 1970-01-01 (Hinnant's `civil_from_days`). Total: every
/// `i64` maps to a date.
pub fn civil_from_days(days: i64) -> (i64, u8, u8) {
    let (y, m, d) = civil_from_days_wide(i128::from(days));
    // |days| < 2^63 days is far fewer than 2^63 years.
    (clamp_i64(y), m, d)
}

/// A UTC civil date-time in 2000–2099, the range two-digit years cover.
struct Civil {
    yy: u8,
    month: u8,
    day: u8,
    hour: u8,
    minute: u8,
    second: u8,
}

impl Civil {
    fn from_unix(unix: i64) -> Option<Self> {
        let unix = i128::from(unix);
        let (y, month, day) = civil_from_days_wide(unix.div_euclid(SECS_PER_DAY));
        let sod = unix.rem_euclid(SECS_PER_DAY);
        let yy = u8::try_from(y - 2000).ok().filter(|yy| *yy <= 99)?;
        let small = |v: i128| u8::try_from(v).ok();
        Some(Self {
            yy,
            month,
            day,
            hour: small(sod / 3600)?,
            minute: small(sod / 60 % 60)?,
            second: small(sod % 60)?,
        })
    }
}

fn time_of_day(h: u8, m: u8, s: u8) -> i128 {
    i128::from(h) * 3600 + i128::from(m) * 60 + i128::from(s)
}

fn clamp_i64(v: i128) -> i64 {
    i64::try_from(v).unwrap_or(if v < 0 { i64::MIN } else { i64::MAX })
}

fn is_leap_wide(y: i128) -> bool {
    y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)
}

fn days_in_month_wide(y: i128, m: u8) -> u8 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if is_leap_wide(y) => 29,
        2 => 28,
        _ => 0,
    }
}

/// Hinnant's `days_from_civil`, in `i128` so no `i64` year can overflow.
fn days_from_civil_wide(y: i128, m: u8, d: u8) -> i128 {
    let (m, d) = (i128::from(m), i128::from(d));
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400; // [0, 399]
    let mp = (m + 9) % 12; // March = 0
    let doy = (153 * mp + 2) / 5 + d - 1; // [0, 365]
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy; // [0, 146096]
    era * 146_097 + doe - 719_468
}

/// Hinnant's `civil_from_days`, in `i128`.
fn civil_from_days_wide(z: i128) -> (i128, u8, u8) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097; // [0, 146096]
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365; // [0, 399]
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100); // [0, 365]
    let mp = (5 * doy + 2) / 153; // [0, 11]
    let d = doy - (153 * mp + 2) / 5 + 1; // [1, 31]
    let m = if mp < 10 { mp + 3 } else { mp - 9 }; // [1, 12]
    let y = if m <= 2 { y + 1 } else { y };
    // m and d are in the small ranges noted above.
    (
        y,
        u8::try_from(m).unwrap_or(1),
        u8::try_from(d).unwrap_or(1),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn abs(s: &str) -> SmppTime {
        SmppTime::parse(s.as_bytes()).unwrap().unwrap()
    }

    #[test]
    fn empty_is_not_set() {
        assert_eq!(SmppTime::parse(b""), Ok(None));
        assert_eq!(SmppTime::parse(b"\0"), Ok(None));
    }

    #[test]
    fn absolute_vectors() {
        assert_eq!(
            abs("240229235959948+"),
            SmppTime::Absolute {
                year: 24,
                month: 2,
                day: 29,
                hour: 23,
                minute: 59,
                second: 59,
                tenths: 9,
                offset_quarter_hours: 48,
            }
        );
        assert_eq!(
            abs("991231000000012-"),
            SmppTime::Absolute {
                year: 99,
                month: 12,
                day: 31,
                hour: 0,
                minute: 0,
                second: 0,
                tenths: 0,
                offset_quarter_hours: -12,
            }
        );
        // Trailing NUL tolerated.
        assert_eq!(
            SmppTime::parse(b"250101120000000+\0").unwrap(),
            Some(abs("250101120000000+"))
        );
        // Year 00 = 2000, a leap year.
        assert!(SmppTime::parse(b"000229000000000+").is_ok());
    }

    #[test]
    fn format_is_exact() {
        for s in [
            "240229235959948+",
            "991231000000012-",
            "000101000000000+",
            "000002031000000R",
            "991231235959000R",
        ] {
            assert_eq!(abs(s).format(), s);
            assert_eq!(abs(s).to_string(), s);
            assert_eq!(&abs(s).to_bytes(), s.as_bytes());
        }
        // "-00" normalises to "+00".
        assert_eq!(abs("250101000000000-").format(), "250101000000000+");
    }

    #[test]
    fn relative_vectors() {
        assert_eq!(
            abs("010203040506000R"),
            SmppTime::Relative {
                years: 1,
                months: 2,
                days: 3,
                hours: 4,
                minutes: 5,
                seconds: 6,
            }
        );
        // Relative fields are amounts, not calendar values: 99 hours is fine.
        assert!(SmppTime::parse(b"000000990000000R").is_ok());
        // Sloppy tnn accepted and ignored; written back as 000.
        assert_eq!(abs("000001000000123R").format(), "000001000000000R");
    }

    #[test]
    fn errors() {
        let e = |s: &[u8]| SmppTime::parse(s).unwrap_err();
        assert_eq!(e(b"2401011200000"), TimeError::Length(13));
        assert_eq!(e(b"2401011200000000+"), TimeError::Length(17));
        assert_eq!(e(b"24010112000000a+"), TimeError::NotDigit { position: 14 });
        assert_eq!(e(b"240101120000000X"), TimeError::Direction(b'X'));
        assert_eq!(e(b"240101120000000r"), TimeError::Direction(b'r'));
        assert_eq!(
            e(b"241301120000000+"),
            TimeError::OutOfRange {
                field: "month",
                value: 13
            }
        );
        assert_eq!(
            e(b"240001120000000+"),
            TimeError::OutOfRange {
                field: "month",
                value: 0
            }
        );
        assert_eq!(
            e(b"230229000000000+"),
            TimeError::OutOfRange {
                field: "day",
                value: 29
            }
        );
        assert_eq!(
            e(b"240431000000000+"),
            TimeError::OutOfRange {
                field: "day",
                value: 31
            }
        );
        assert_eq!(
            e(b"240101240000000+"),
            TimeError::OutOfRange {
                field: "hour",
                value: 24
            }
        );
        assert_eq!(
            e(b"240101006000000+"),
            TimeError::OutOfRange {
                field: "minute",
                value: 60
            }
        );
        assert_eq!(
            e(b"240101000060000+"),
            TimeError::OutOfRange {
                field: "second",
                value: 60
            }
        );
        assert_eq!(
            e(b"240101000000049-"),
            TimeError::OutOfRange {
                field: "offset",
                value: 49
            }
        );
        // 16 bytes, but a two-byte UTF-8 character among the digits.
        assert_eq!(
            e("2401011200000é+".as_bytes()),
            TimeError::NotDigit { position: 13 }
        );
    }

    #[test]
    fn absolute_to_unix_applies_offset() {
        // 2024-02-29T23:59:59Z = 1709251199.
        assert_eq!(abs("240229235959000+").to_unix(0), 1_709_251_199);
        // Local is 12h ahead of UTC: 12:00+12h is 00:00Z.
        assert_eq!(abs("240301120000048+").to_unix(0), 1_709_251_200);
        // Local is 3h behind UTC: 21:00-3h is 00:00Z next day.
        assert_eq!(abs("240229210000012-").to_unix(0), 1_709_251_200);
        assert_eq!(abs("000101000000000+").to_unix(0), 946_684_800);
    }

    #[test]
    fn relative_to_unix_is_calendar_aware() {
        let now = abs("240131103000000+").to_unix(0);
        // +1 month from Jan 31 2024 clamps to Feb 29.
        assert_eq!(
            abs("000100000000000R").to_unix(now),
            abs("240229103000000+").to_unix(0)
        );
        // +1 year from Feb 29 2024 clamps to Feb 28 2025.
        let leap = abs("240229000000000+").to_unix(0);
        assert_eq!(
            abs("010000000000000R").to_unix(leap),
            abs("250228000000000+").to_unix(0)
        );
        // +2 days 3h 4m 5s.
        assert_eq!(
            abs("000002030405000R").to_unix(now),
            now + 2 * 86_400 + 3 * 3600 + 4 * 60 + 5
        );
        // +13 months crosses the year.
        assert_eq!(
            abs("001300000000000R").to_unix(now),
            abs("250228103000000+").to_unix(0)
        );
        // Extremes saturate instead of overflowing.
        assert_eq!(abs("990000000000000R").to_unix(i64::MAX), i64::MAX);
        let _ = abs("990000000000000R").to_unix(i64::MIN);
    }

    #[test]
    fn from_unix_vectors() {
        assert_eq!(
            SmppTime::from_unix(1_709_251_199).unwrap().format(),
            "240229235959000+"
        );
        assert_eq!(
            SmppTime::from_unix(946_684_800).unwrap().format(),
            "000101000000000+"
        );
        assert_eq!(SmppTime::from_unix(946_684_799), None);
        assert_eq!(SmppTime::from_unix(4_102_444_800), None); // 2100-01-01
        assert_eq!(SmppTime::from_unix(i64::MIN), None);
        assert_eq!(SmppTime::from_unix(i64::MAX), None);
    }

    #[test]
    fn validate_hand_built() {
        let t = SmppTime::Relative {
            years: 100,
            months: 0,
            days: 0,
            hours: 0,
            minutes: 0,
            seconds: 0,
        };
        assert!(t.validate().is_err());
        let _ = t.format(); // never panics
        let t = SmppTime::Absolute {
            year: 255,
            month: 255,
            day: 255,
            hour: 255,
            minute: 255,
            second: 255,
            tenths: 255,
            offset_quarter_hours: i8::MIN,
        };
        assert!(t.validate().is_err());
        assert_eq!(t.format().len(), 16);
        let _ = t.to_unix(0);
    }

    #[test]
    fn receipt_dates() {
        let d = ReceiptDate::parse(b"2402291530").unwrap();
        assert_eq!(d.second, None);
        assert_eq!(d.to_string(), "2402291530");
        assert_eq!(d.to_unix(), 1_709_220_600);
        let d = ReceiptDate::parse(b"240229153045").unwrap();
        assert_eq!(d.second, Some(45));
        assert_eq!(d.to_string(), "240229153045");
        assert_eq!(parse_receipt_date(b"240229153045"), Some(1_709_220_645));
        assert_eq!(format_receipt_date(1_709_220_645).unwrap(), "2402291530");
        for bad in [
            &b""[..],
            b"240229153",
            b"24022915304",
            b"2302291530",
            b"2413011530",
            b"2401012400",
            b"2401010060",
            b"240101000060",
            b"24010100a0",
            b"2401010000000",
        ] {
            assert_eq!(ReceiptDate::parse(bad), None, "{bad:?}");
        }
        assert_eq!(format_receipt_date(0), None);
    }

    #[test]
    fn civil_known_days() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
        assert_eq!(civil_from_days(-1), (1969, 12, 31));
        assert!(is_leap_year(2000) && is_leap_year(2024));
        assert!(!is_leap_year(1900) && !is_leap_year(2023));
        assert_eq!(days_in_month(2100, 2), 28);
        assert_eq!(days_in_month(2024, 13), 0);
        let _ = civil_from_days(i64::MIN);
        let _ = civil_from_days(i64::MAX);
        let _ = days_from_civil(i64::MIN, 0, 255);
        let _ = days_from_civil(i64::MAX, 12, 31);
    }

    fn valid_time() -> impl Strategy<Value = SmppTime> {
        let absolute = (
            0u8..100,
            1u8..=12,
            0u8..24,
            0u8..60,
            0u8..60,
            0u8..10,
            -48i8..=48,
        )
            .prop_flat_map(|(year, month, hour, minute, second, tenths, off)| {
                let dim = days_in_month(2000 + i64::from(year), month);
                (1..=dim).prop_map(move |day| SmppTime::Absolute {
                    year,
                    month,
                    day,
                    hour,
                    minute,
                    second,
                    tenths,
                    offset_quarter_hours: off,
                })
            });
        let relative = (0u8..100, 0u8..100, 0u8..100, 0u8..100, 0u8..100, 0u8..100).prop_map(
            |(years, months, days, hours, minutes, seconds)| SmppTime::Relative {
                years,
                months,
                days,
                hours,
                minutes,
                seconds,
            },
        );
        prop_oneof![absolute, relative]
    }

    proptest! {
        #[test]
        fn time_format_parse_round_trip(t in valid_time()) {
            prop_assert_eq!(t.validate(), Ok(()));
            let bytes = t.to_bytes();
            prop_assert_eq!(SmppTime::parse(&bytes), Ok(Some(t)));
            // And the text is stable.
            prop_assert_eq!(SmppTime::parse(&bytes).unwrap().unwrap().to_bytes(), bytes);
        }

        #[test]
        fn unix_smpp_time_round_trip(unix in 946_684_800i64..4_102_444_800, now: i64) {
            let t = SmppTime::from_unix(unix).unwrap();
            prop_assert_eq!(t.to_unix(now), unix);
            let d = ReceiptDate::from_unix(unix).unwrap();
            prop_assert_eq!(d.to_unix(), unix - unix.rem_euclid(60));
            let d = ReceiptDate { second: Some(t_second(&t)), ..d };
            prop_assert_eq!(ReceiptDate::parse(d.to_string().as_bytes()), Some(d));
            prop_assert_eq!(d.to_unix(), unix);
        }

        #[test]
        fn civil_round_trip(days in -1_000_000_000i64..1_000_000_000) {
            let (y, m, d) = civil_from_days(days);
            prop_assert!((1..=12).contains(&m));
            prop_assert!(d >= 1 && d <= days_in_month(y, m));
            prop_assert_eq!(days_from_civil(y, m, d), days);
        }

        #[test]
        fn time_parse_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..20), now: i64) {
            if let Ok(Some(t)) = SmppTime::parse(&bytes) {
                let _ = t.to_unix(now);
                prop_assert_eq!(t.validate(), Ok(()));
            }
            let _ = ReceiptDate::parse(&bytes);
        }

        #[test]
        fn time_digits_never_panic(digits in "[0-9]{15}[-+R]", now: i64) {
            if let Ok(Some(t)) = SmppTime::parse(digits.as_bytes()) {
                let _ = t.to_unix(now);
            }
        }
    }

    fn t_second(t: &SmppTime) -> u8 {
        match *t {
            SmppTime::Absolute { second, .. } => second,
            SmppTime::Relative { seconds, .. } => seconds,
        }
    }
}
