//! The value grammars the key tables share: whole numbers, seconds,
//! addresses, text, lists, regexes, yes/no, one-of-a-set, and credit.
//!
//! Each is a [`Parse`](super::keys::Parse): text in, a value or the reason
//! it is wrong out. The reason is what the operator reads after
//! `file:line: [section] key: `, so its wording is part of the interface
//! (tests and docs/configuration.md quote it). Grammars only one section
//! uses live with that section.

use std::net::IpAddr;
use std::time::Duration;

use regex::Regex;

use super::Secret;

/// An amount of credit in millionths: no floating-point drift.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Credit {
    Unlimited,
    Micro(i64),
}

impl Credit {
    pub const MICRO: i64 = 1_000_000;

    /// `unlimited`, or a decimal amount with at most 6 decimals.
    pub fn parse(s: &str) -> Result<Credit, String> {
        let s = s.trim();
        if s.eq_ignore_ascii_case("unlimited") {
            return Ok(Credit::Unlimited);
        }
        parse_micro(s).map(Credit::Micro)
    }
}

/// A decimal such as `12.5` in millionths.
pub fn parse_micro(s: &str) -> Result<i64, String> {
    let bad = || format!("expected a decimal amount such as 12.5, got {s:?}");
    let (neg, digits) = match s.strip_prefix('-') {
        Some(d) => (true, d),
        None => (false, s),
    };
    let (int, frac) = digits.split_once('.').unwrap_or((digits, ""));
    if int.is_empty() && frac.is_empty()
        || !int.bytes().all(|b| b.is_ascii_digit())
        || !frac.bytes().all(|b| b.is_ascii_digit())
    {
        return Err(bad());
    }
    if frac.len() > 6 {
        return Err(format!("{s:?}: at most 6 decimals"));
    }
    let int: i64 = if int.is_empty() {
        0
    } else {
        int.parse().map_err(|_| bad())?
    };
    let frac_v: i64 = if frac.is_empty() {
        0
    } else {
        frac.parse::<i64>().map_err(|_| bad())? * 10i64.pow(6 - frac.len() as u32)
    };
    let v = int
        .checked_mul(Credit::MICRO)
        .and_then(|v| v.checked_add(frac_v))
        .ok_or_else(|| format!("{s:?} is too large"))?;
    Ok(if neg { -v } else { v })
}

/// The text as written.
pub(super) fn text(v: &str) -> Result<String, String> {
    Ok(v.to_string())
}

/// The text without surrounding whitespace.
pub(super) fn trimmed(v: &str) -> Result<String, String> {
    Ok(v.trim().to_string())
}

/// The text as written, kept out of logs.
pub(super) fn secret(v: &str) -> Result<Secret, String> {
    Ok(Secret::new(v))
}

pub(super) fn whole<T: std::str::FromStr>(v: &str) -> Result<T, String> {
    v.trim()
        .parse::<T>()
        .map_err(|_| format!("expected a whole number, got {v:?}"))
}

/// A whole number of seconds.
pub(super) fn seconds(v: &str) -> Result<Duration, String> {
    whole(v).map(Duration::from_secs)
}

pub(super) fn ip(v: &str) -> Result<IpAddr, String> {
    v.trim()
        .parse::<IpAddr>()
        .map_err(|_| format!("expected an IP address, got {v:?}"))
}

pub(super) fn regex(v: &str) -> Result<Regex, String> {
    Regex::new(v).map_err(|e| format!("bad regex {v:?}: {e}"))
}

/// `a, b, c`: the items, trimmed, empty ones dropped.
pub(super) fn items(v: &str) -> Vec<String> {
    v.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

/// [`items`] as a key's parser: a list is never wrong.
pub(super) fn list(v: &str) -> Result<Vec<String>, String> {
    Ok(items(v))
}

pub(super) fn yes_no(v: &str) -> Result<bool, String> {
    match v.trim().to_ascii_lowercase().as_str() {
        "yes" | "true" | "on" | "1" => Ok(true),
        "no" | "false" | "off" | "0" => Ok(false),
        _ => Err(format!("expected yes or no, got {v:?}")),
    }
}

/// One of `options` by name, case-insensitive.
pub(super) fn choice<T: Copy>(v: &str, options: &[(&str, T)]) -> Result<T, String> {
    let l = v.trim().to_ascii_lowercase();
    options
        .iter()
        .find(|(name, _)| *name == l)
        .map(|(_, t)| *t)
        .ok_or_else(|| {
            format!(
                "expected one of {}, got {v:?}",
                options.iter().map(|o| o.0).collect::<Vec<_>>().join(", ")
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credit_and_decimals() {
        assert_eq!(Credit::parse(" Unlimited "), Ok(Credit::Unlimited));
        assert_eq!(Credit::parse("12.5"), Ok(Credit::Micro(12_500_000)));
        assert_eq!(parse_micro("-.25"), Ok(-250_000));
        assert_eq!(
            parse_micro("1.2345678"),
            Err("\"1.2345678\": at most 6 decimals".to_string())
        );
        assert!(parse_micro(".").is_err());
        assert!(parse_micro("99999999999999").is_err());
    }

    #[test]
    fn the_grammars_and_their_reasons() {
        assert_eq!(whole::<u16>(" 80 "), Ok(80));
        assert_eq!(
            whole::<u16>("70000"),
            Err("expected a whole number, got \"70000\"".to_string())
        );
        assert_eq!(seconds("5"), Ok(Duration::from_secs(5)));
        assert_eq!(items(" a, ,b ,"), vec!["a", "b"]);
        assert_eq!(yes_no("ON"), Ok(true));
        assert_eq!(
            choice(" B ", &[("a", 1), ("b", 2)]),
            Ok(2),
            "trimmed, case ignored"
        );
        assert_eq!(
            choice("c", &[("a", 1), ("b", 2)]),
            Err("expected one of a, b, got \"c\"".to_string())
        );
    }
}
