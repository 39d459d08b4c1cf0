//! `[mt-route:ORDER]` and `[mo-route:ORDER]`: which connector a submitted
//! message goes to, and which user a message from upstream goes to.
//!
//! A route's name is its order: routes are tried from the highest down,
//! and order 0 is the default route's alone. Reading a route checks only
//! its own keys; [`check_routes`] then checks what routes name (the
//! connectors, users and filters) once every section is read, with the
//! rules mt- and mo-routes share written once ([`Route`]).

use std::collections::BTreeMap;
use std::time::Duration;

use smpp::CommandStatus;

use super::connectors::Connector;
use super::filters::{Direction, Filter};
use super::ini::Section;
use super::keys::{Keys, Reader, key_table};
use super::users::User;
use super::values::{Credit, choice, list, parse_micro, seconds};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MtRouteType {
    Default,
    Static,
    RoundRobin,
    Failover,
}

#[derive(Debug, Clone)]
pub struct MtRoute {
    pub order: u32,
    pub kind: MtRouteType,
    pub connectors: Vec<String>,
    pub filters: Vec<String>,
    /// Credit charged per message part.
    pub rate: Credit,
    /// A message waiting for a connector that has been down this long
    /// moves to the next connector of its route; zero: never.
    pub failover_after: Duration,
    /// Permanent upstream refusals that move a message to the next
    /// connector of its route instead of failing it.
    pub reroute_on: Vec<CommandStatus>,
}

impl MtRoute {
    /// Whether a message of this route refused upstream with `status`
    /// moves on (`reroute_on`).
    pub fn reroutes_on(&self, status: CommandStatus) -> bool {
        self.reroute_on.contains(&status)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MoRouteType {
    Default,
    Static,
}

#[derive(Debug, Clone)]
pub struct MoRoute {
    pub order: u32,
    pub kind: MoRouteType,
    pub users: Vec<String>,
    pub filters: Vec<String>,
}

key_table! {
    /// `[mt-route:ORDER]`.
    pub(super) mod mt_route {
        TYPE: MtRouteType = "type", required, mt_route_type;
        CONNECTORS: Vec<String> = "connectors", required, list;
        FILTERS: Vec<String> = "filters", default "", list;
        RATE: Credit = "rate", default "0", rate;
        FAILOVER_AFTER: Duration = "failover_after", default "0", seconds;
        REROUTE_ON: Vec<CommandStatus> = "reroute_on", default "", statuses;
    }
}

key_table! {
    /// `[mo-route:ORDER]`.
    pub(super) mod mo_route {
        TYPE: MoRouteType = "type", required, mo_route_type;
        USERS: Vec<String> = "users", required, list;
        FILTERS: Vec<String> = "filters", default "", list;
    }
}

fn mt_route_type(v: &str) -> Result<MtRouteType, String> {
    choice(
        v,
        &[
            ("default", MtRouteType::Default),
            ("static", MtRouteType::Static),
            ("roundrobin", MtRouteType::RoundRobin),
            ("failover", MtRouteType::Failover),
        ],
    )
}

fn mo_route_type(v: &str) -> Result<MoRouteType, String> {
    choice(
        v,
        &[
            ("default", MoRouteType::Default),
            ("static", MoRouteType::Static),
        ],
    )
}

/// Credit per part: a decimal, not negative.
fn rate(v: &str) -> Result<Credit, String> {
    match parse_micro(v)? {
        r if r < 0 => Err("a rate cannot be negative".into()),
        r => Ok(Credit::Micro(r)),
    }
}

/// `reroute_on`: SMPP statuses by name (`ESME_RINVDSTADR`) or number
/// (`0x0B`, `11`), comma-separated. Only permanent refusals: a temporary
/// one is retried on its connector, and ESME_ROK is no refusal.
fn statuses(v: &str) -> Result<Vec<CommandStatus>, String> {
    let mut out = Vec::new();
    for item in super::values::items(v) {
        let status = CommandStatus::ALL
            .iter()
            .copied()
            .find(|s| s.name().is_some_and(|n| n.eq_ignore_ascii_case(&item)))
            .or_else(|| {
                let n = match item.strip_prefix("0x").or_else(|| item.strip_prefix("0X")) {
                    Some(hex) => u32::from_str_radix(hex, 16).ok(),
                    None => item.parse::<u32>().ok(),
                };
                n.map(CommandStatus)
            })
            .ok_or_else(|| {
                format!(
                    "expected an SMPP status name (ESME_RINVDSTADR) or number (0x0B), got {item:?}"
                )
            })?;
        if status.is_ok() {
            return Err(format!("{item} is not a refusal"));
        }
        if status.is_temporary() {
            return Err(format!(
                "{item} is temporary: it is retried on its connector, not rerouted"
            ));
        }
        if !out.contains(&status) {
            out.push(status);
        }
    }
    Ok(out)
}

/// The route's order, from its name; its keys are not read without one.
fn order(reader: &Reader<'_>, section: &Section) -> Option<u32> {
    let order = section.name.trim().parse::<u32>().ok();
    if order.is_none() {
        reader.section_error(section, "the name of a route is its order, a whole number");
    }
    order
}

/// A named `[mt-route:ORDER]`; `None` without an order or a type
/// (reported, and nothing more about it is).
pub(super) fn read_mt_route(reader: &Reader<'_>, section: &Section) -> Option<MtRoute> {
    use mt_route::*;
    let order = order(reader, section)?;
    let r = Keys::new(reader, section, names());
    let filters = r.get(&FILTERS);
    Some(MtRoute {
        order,
        kind: r.get(&TYPE)?,
        connectors: r.get(&CONNECTORS).unwrap_or_default(),
        filters,
        rate: r.get(&RATE),
        failover_after: r.get(&FAILOVER_AFTER),
        reroute_on: r.get(&REROUTE_ON),
    })
}

/// A named `[mo-route:ORDER]`; `None` without an order or a type.
pub(super) fn read_mo_route(reader: &Reader<'_>, section: &Section) -> Option<MoRoute> {
    use mo_route::*;
    let order = order(reader, section)?;
    let r = Keys::new(reader, section, names());
    let filters = r.get(&FILTERS);
    Some(MoRoute {
        order,
        kind: r.get(&TYPE)?,
        users: r.get(&USERS).unwrap_or_default(),
        filters,
    })
}

/// What routes may name.
pub(super) struct Known<'a> {
    pub connectors: &'a BTreeMap<String, Connector>,
    pub users: &'a BTreeMap<String, User>,
    pub filters: &'a BTreeMap<String, Filter>,
}

/// The rules on what routes name and on their orders, each error on the
/// route's line (`routes` holds each route with it). A default route is
/// not required: an operator who routes only by prefix wants nothing
/// sent elsewhere, and a submit no route matches is refused
/// (ESME_RINVDSTADR over SMPP).
pub(super) fn check_routes(
    reader: &Reader<'_>,
    mt: &[(MtRoute, usize)],
    mo: &[(MoRoute, usize)],
    known: &Known<'_>,
) {
    check(reader, mt, known);
    check(reader, mo, known);
}

/// Routes tried in turn: highest order first, the default route last.
pub(super) fn by_order<R: Route>(routes: Vec<(R, usize)>) -> Vec<R> {
    let mut routes: Vec<R> = routes.into_iter().map(|(r, _)| r).collect();
    routes.sort_by_key(|r| std::cmp::Reverse(r.order()));
    routes
}

/// What the shared rules need of an mt- or mo-route.
pub(super) trait Route {
    /// `mt-route` or `mo-route`.
    const KIND: &'static str;
    const DIRECTION: Direction;
    const TYPE: &'static str;
    const FILTERS: &'static str;
    fn order(&self) -> u32;
    fn is_default(&self) -> bool;
    fn filters(&self) -> &[String];
    /// The rules on what the route sends to; `report(key, message)`.
    fn check_targets(&self, known: &Known<'_>, report: &dyn Fn(&str, String));
    /// The rules on a default route beyond its order.
    fn check_default(&self, report: &dyn Fn(&str, String));
}

fn check<R: Route>(reader: &Reader<'_>, routes: &[(R, usize)], known: &Known<'_>) {
    let mut orders = BTreeMap::new();
    for (r, line) in routes {
        // The order as read, not as written: `[mt-route:00]` is mt-route:0.
        let section = format!("{}:{}", R::KIND, r.order());
        let error =
            |key: Option<&str>, m: String| reader.error(Some(*line), Some(&section), key, m);
        let report = |key: &str, m: String| error(Some(key), m);
        if let Some(first) = orders.insert(r.order(), *line) {
            error(
                None,
                format!(
                    "two {}s with order {} (the other on line {first})",
                    R::KIND,
                    r.order()
                ),
            );
        }
        r.check_targets(known, &report);
        for f in r.filters() {
            match known.filters.get(f) {
                None => report(R::FILTERS, format!("no [filter:{f}]")),
                Some(filter) if !filter.kind.applies_to(R::DIRECTION) => report(
                    R::FILTERS,
                    format!("filter {f:?} does not apply to {}s", R::KIND),
                ),
                Some(_) => {}
            }
        }
        if (r.order() == 0) != r.is_default() {
            report(
                R::TYPE,
                "the default route, and only it, has order 0".into(),
            );
        }
        if r.is_default() {
            r.check_default(&report);
        }
    }
}

impl Route for MtRoute {
    const KIND: &'static str = "mt-route";
    const DIRECTION: Direction = Direction::Mt;
    const TYPE: &'static str = mt_route::TYPE.name;
    const FILTERS: &'static str = mt_route::FILTERS.name;

    fn order(&self) -> u32 {
        self.order
    }

    fn is_default(&self) -> bool {
        self.kind == MtRouteType::Default
    }

    fn filters(&self) -> &[String] {
        &self.filters
    }

    fn check_targets(&self, known: &Known<'_>, report: &dyn Fn(&str, String)) {
        let key = mt_route::CONNECTORS.name;
        for c in &self.connectors {
            if !known.connectors.contains_key(c) {
                report(key, format!("no [connector:{c}]"));
            }
        }
        if self.connectors.is_empty() {
            report(key, "names no connector".into());
        }
        for (i, c) in self.connectors.iter().enumerate() {
            if self.connectors[..i].contains(c) {
                report(key, format!("names {c:?} twice"));
            }
        }
        if matches!(self.kind, MtRouteType::Default | MtRouteType::Static)
            && self.connectors.len() > 1
        {
            report(
                key,
                "a default or static route has exactly one connector".into(),
            );
        }
        if matches!(self.kind, MtRouteType::Default | MtRouteType::Static) {
            // Nowhere to move a message to.
            if !self.failover_after.is_zero() {
                report(
                    mt_route::FAILOVER_AFTER.name,
                    "only a failover or roundrobin route has a next connector".into(),
                );
            }
            if !self.reroute_on.is_empty() {
                report(
                    mt_route::REROUTE_ON.name,
                    "only a failover or roundrobin route has a next connector".into(),
                );
            }
        }
    }

    fn check_default(&self, report: &dyn Fn(&str, String)) {
        if !self.filters.is_empty() {
            report(Self::FILTERS, "the default route takes no filters".into());
        }
    }
}

impl Route for MoRoute {
    const KIND: &'static str = "mo-route";
    const DIRECTION: Direction = Direction::Mo;
    const TYPE: &'static str = mo_route::TYPE.name;
    const FILTERS: &'static str = mo_route::FILTERS.name;

    fn order(&self) -> u32 {
        self.order
    }

    fn is_default(&self) -> bool {
        self.kind == MoRouteType::Default
    }

    fn filters(&self) -> &[String] {
        &self.filters
    }

    fn check_targets(&self, known: &Known<'_>, report: &dyn Fn(&str, String)) {
        let key = mo_route::USERS.name;
        for u in &self.users {
            if !known.users.contains_key(u) {
                report(key, format!("no [user:{u}]"));
            }
        }
        if self.users.len() != 1 {
            report(key, "an mo-route names exactly one user".into());
        }
    }

    /// A default mo-route may have filters.
    fn check_default(&self, _report: &dyn Fn(&str, String)) {}
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_default_reads() {
        assert!(mt_route::bad_defaults().is_empty());
        assert!(mo_route::bad_defaults().is_empty());
    }

    #[test]
    fn reroute_on_takes_permanent_statuses_by_name_or_number() {
        assert_eq!(
            statuses("ESME_RINVDSTADR, 0x45, 10, esme_rinvdstadr"),
            Ok(vec![
                CommandStatus::ESME_RINVDSTADR,
                CommandStatus::ESME_RSUBMITFAIL,
                CommandStatus::ESME_RINVSRCADR,
            ])
        );
        assert_eq!(statuses(""), Ok(vec![]));
        assert_eq!(statuses("0x401"), Ok(vec![CommandStatus(0x401)]));
        assert!(
            statuses("ESME_RTHROTTLED")
                .unwrap_err()
                .contains("temporary")
        );
        assert!(statuses("0x14").unwrap_err().contains("temporary"));
        assert!(statuses("8").unwrap_err().contains("temporary"));
        assert!(statuses("0").unwrap_err().contains("not a refusal"));
        assert!(statuses("ESME_NOPE").unwrap_err().contains("ESME_NOPE"));
        assert!(statuses("0xZZ").is_err());
    }

    #[test]
    fn a_rate_is_a_decimal_not_below_zero() {
        assert_eq!(rate("0.05"), Ok(Credit::Micro(50_000)));
        assert_eq!(rate("-1"), Err("a rate cannot be negative".to_string()));
        assert!(rate("free").is_err());
    }
}
