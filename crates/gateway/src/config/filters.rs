//! `[filter:NAME]`: a condition a route puts on a message, as a `type`
//! and a `value` whose grammar the type decides.
//!
//! Which filters apply to mt-routes and which to mo-routes is
//! [`FilterKind::applies_to`]; `routes.rs` checks routes against it.

use regex::Regex;

use super::ini::Section;
use super::keys::{Keys, Parse, Reader, key_table};
use super::values::{regex, text};

/// What a filter matches on.
#[derive(Debug, Clone)]
pub enum FilterKind {
    User(String),
    Group(String),
    SourceAddr(Regex),
    DestinationAddr(Regex),
    ShortMessage(Regex),
    /// For MO: the connector the message came from.
    Connector(String),
    /// Inclusive UTC dates, as days since 1970-01-01.
    Date {
        from: i64,
        to: i64,
    },
    /// UTC seconds of the day; `from > to` wraps past midnight.
    Time {
        from: u32,
        to: u32,
    },
    Tag(u32),
}

#[derive(Debug, Clone)]
pub struct Filter {
    pub name: String,
    pub kind: FilterKind,
}

/// Which way a routed message goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Direction {
    /// Submitted by a user, to a connector.
    Mt,
    /// From a connector, to a user.
    Mo,
}

impl FilterKind {
    /// Whether a route of this direction may use the filter: users and
    /// groups submit MT only, connectors send MO only.
    pub(super) fn applies_to(&self, direction: Direction) -> bool {
        match self {
            FilterKind::User(_) | FilterKind::Group(_) => direction == Direction::Mt,
            FilterKind::Connector(_) => direction == Direction::Mo,
            _ => true,
        }
    }
}

key_table! {
    /// `[filter:NAME]`.
    pub(super) mod filter {
        // One of TYPES, case-insensitive.
        TYPE: String = "type", required, lower_case;
        VALUE: String = "value", required, text;
    }
}

fn lower_case(v: &str) -> Result<String, String> {
    Ok(v.trim().to_ascii_lowercase())
}

/// Each filter type and the grammar of its value.
const TYPES: &[(&str, Parse<FilterKind>)] = &[
    ("user", |v| Ok(FilterKind::User(v.trim().to_string()))),
    ("group", |v| Ok(FilterKind::Group(v.trim().to_string()))),
    ("source_addr", |v| regex(v).map(FilterKind::SourceAddr)),
    ("destination_addr", |v| {
        regex(v).map(FilterKind::DestinationAddr)
    }),
    ("short_message", |v| regex(v).map(FilterKind::ShortMessage)),
    ("connector", |v| {
        Ok(FilterKind::Connector(v.trim().to_string()))
    }),
    ("date", |v| {
        range(v, date).map(|(from, to)| FilterKind::Date { from, to })
    }),
    ("time", |v| {
        range(v, time_of_day).map(|(from, to)| FilterKind::Time { from, to })
    }),
    ("tag", |v| {
        v.trim()
            .parse()
            .map(FilterKind::Tag)
            .map_err(|_| format!("expected a tag number, got {v:?}"))
    }),
];

/// A named `[filter:NAME]`; `None` when its type or value is missing or
/// wrong (reported), so routes naming it report it missing too.
pub(super) fn read_filter(reader: &Reader<'_>, section: &Section) -> Option<Filter> {
    use filter::*;
    let f = Keys::new(reader, section, names());
    let kind = f.get(&TYPE);
    let value = f.get(&VALUE)?;
    let kind = kind?;
    let Some((_, parse)) = TYPES.iter().find(|(name, _)| *name == kind) else {
        let names: Vec<&str> = TYPES.iter().map(|(name, _)| *name).collect();
        f.fault(
            &TYPE,
            format!("unknown filter type {kind:?} ({})", names.join(", ")),
        );
        return None;
    };
    match parse(&value) {
        Ok(kind) => Some(Filter {
            name: section.name.clone(),
            kind,
        }),
        Err(m) => {
            f.fault(&VALUE, m);
            None
        }
    }
}

/// `FROM;TO`, each read by `f`.
fn range<T>(v: &str, f: impl Fn(&str) -> Result<T, String>) -> Result<(T, T), String> {
    let (a, b) = v
        .split_once(';')
        .ok_or_else(|| format!("expected FROM;TO, got {v:?}"))?;
    Ok((f(a)?, f(b)?))
}

/// `YYYY-MM-DD` as days since 1970-01-01.
fn date(s: &str) -> Result<i64, String> {
    let bad = || format!("expected a date YYYY-MM-DD, got {s:?}");
    let p: Vec<&str> = s.trim().split('-').collect();
    let [y, m, d] = p.as_slice() else {
        return Err(bad());
    };
    let (y, m, d): (i64, u8, u8) = (
        y.parse().map_err(|_| bad())?,
        m.parse().map_err(|_| bad())?,
        d.parse().map_err(|_| bad())?,
    );
    if !(1..=12).contains(&m) || d == 0 || d > smpp::time::days_in_month(y, m) {
        return Err(bad());
    }
    Ok(smpp::time::days_from_civil(y, m, d))
}

/// `hh:mm[:ss]` as seconds of the day.
fn time_of_day(s: &str) -> Result<u32, String> {
    let bad = || format!("expected a time hh:mm[:ss], got {s:?}");
    let p: Vec<u32> = s
        .trim()
        .split(':')
        .map(|x| x.parse::<u32>().map_err(|_| bad()))
        .collect::<Result<_, _>>()?;
    let (h, m, sec) = match p.as_slice() {
        [h, m] => (*h, *m, 0),
        [h, m, s] => (*h, *m, *s),
        _ => return Err(bad()),
    };
    if h > 23 || m > 59 || sec > 59 {
        return Err(bad());
    }
    Ok(h * 3600 + m * 60 + sec)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_and_times() {
        assert_eq!(date("1970-01-02"), Ok(1));
        assert!(date("2025-02-29").is_err());
        assert_eq!(time_of_day("23:59:59"), Ok(86_399));
        assert!(time_of_day("24:00").is_err());
        assert_eq!(
            range("1;2", |v| v.parse::<u8>().map_err(|e| e.to_string())),
            Ok((1, 2))
        );
        assert!(bad_type_names().is_empty());
        assert!(filter::bad_defaults().is_empty());
    }

    /// The type names are what `TYPE`'s parser gives: lower case, trimmed.
    fn bad_type_names() -> Vec<&'static str> {
        TYPES
            .iter()
            .map(|(name, _)| *name)
            .filter(|n| lower_case(n).as_deref() != Ok(*n))
            .collect()
    }
}
