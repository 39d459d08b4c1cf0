//! Routing: which upstream connectors carry a message a user submits (MT),
//! and which user receives a message that arrives from upstream (MO).
//!
//! The module owns the route tables and their filters, nothing else: it
//! knows nothing of the store, sessions or network. The caller hands it the
//! facts of one message (user, addresses, decoded text, tags, and the clock,
//! passed in for testability) and gets back a decision.
//!
//! Routes are tried highest order first; the first whose filters *all*
//! match wins (a route without filters matches everything, so the default
//! route, order 0, catches the rest). An MT route's decision lists the
//! connectors to try in preference order: a static or default route's one
//! connector, a failover route's connectors as configured, a round-robin
//! route's connectors rotated by one per message. The caller takes the
//! first that is up.
//!
//! A [`Router`] is built from a checked [`Config`] and rebuilt on reload
//! (the caller swaps it in with arc-swap). Building is cheap: filter names
//! are resolved to indices once, each filter is the configuration's own
//! (its regexes shared, not recompiled), connector and user names are interned as [`Arc<str>`].
//! Routing does no lookup by name and allocates nothing.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::config::{Config, Credit, Filter, FilterKind, MtRouteType};

/// Seconds in a day.
const DAY: i64 = 86_400;

/// The facts of one MT message (a user's submit) that routes filter on.
#[derive(Debug, Clone, Copy)]
pub struct MtContext<'a> {
    /// The submitting user's system_id.
    pub system_id: &'a str,
    /// The user's group, if any.
    pub group: Option<&'a str>,
    pub source_addr: &'a str,
    pub destination_addr: &'a str,
    /// The message text, decoded by the caller.
    pub text: &'a str,
    pub tags: &'a [u32],
    /// The current time, in seconds since 1970-01-01 UTC.
    pub now: i64,
}

/// The facts of one MO message (from an upstream connector) that routes
/// filter on.
#[derive(Debug, Clone, Copy)]
pub struct MoContext<'a> {
    /// The name of the connector the message came from.
    pub connector: &'a str,
    pub source_addr: &'a str,
    pub destination_addr: &'a str,
    /// The message text, decoded by the caller.
    pub text: &'a str,
    pub tags: &'a [u32],
    /// The current time, in seconds since 1970-01-01 UTC.
    pub now: i64,
}

/// Where an MT message goes: the matching route's connectors in preference
/// order, and what it costs.
///
/// Owns its data (reference-counted, shared with the [`Router`]), so it
/// outlives a reload that swaps the router.
#[derive(Debug, Clone)]
pub struct MtDecision {
    /// The order of the route that matched.
    pub order: u32,
    pub kind: MtRouteType,
    /// Credit charged per message part.
    pub rate: Credit,
    /// The route's connectors as configured; never empty.
    connectors: Arc<[Arc<str>]>,
    /// Index of the preferred connector (round-robin rotation).
    start: usize,
}

impl MtDecision {
    /// The connectors to try, most preferred first; each appears once.
    pub fn connectors(&self) -> impl Iterator<Item = &Arc<str>> + Clone + '_ {
        let (before, from) = self.connectors.split_at(self.start);
        from.iter().chain(before)
    }

    /// The most preferred connector.
    pub fn first(&self) -> &Arc<str> {
        // `start < len` and the list is never empty (Router::new).
        &self.connectors[self.start]
    }

    /// How many connectors [`connectors`](Self::connectors) yields.
    pub fn len(&self) -> usize {
        self.connectors.len()
    }

    /// Always false: a route has at least one connector.
    pub fn is_empty(&self) -> bool {
        self.connectors.is_empty()
    }
}

/// The MT and MO route tables of one configuration, ready to route.
#[derive(Debug)]
pub struct Router {
    /// Every filter any route uses, once (regexes are compiled by config
    /// and shared); routes index into it.
    filters: Box<[FilterKind]>,
    /// Highest order first.
    mt: Box<[MtEntry]>,
    /// Highest order first.
    mo: Box<[MoEntry]>,
}

#[derive(Debug)]
struct MtEntry {
    order: u32,
    kind: MtRouteType,
    rate: Credit,
    /// Indices into `Router::filters`, cheapest test first.
    filters: Box<[usize]>,
    connectors: Arc<[Arc<str>]>,
    /// Round-robin position: messages routed here so far.
    next: AtomicUsize,
}

#[derive(Debug)]
struct MoEntry {
    order: u32,
    filters: Box<[usize]>,
    user: Arc<str>,
}

/// One message's facts, MT or MO: what does not apply is `None`, and a
/// filter on it does not match.
struct Facts<'a> {
    user: Option<&'a str>,
    group: Option<&'a str>,
    connector: Option<&'a str>,
    source_addr: &'a str,
    destination_addr: &'a str,
    text: &'a str,
    tags: &'a [u32],
    /// Days since 1970-01-01 (UTC).
    day: i64,
    /// Seconds into the UTC day.
    second: u32,
}

impl<'a> Facts<'a> {
    fn new(
        source_addr: &'a str,
        destination_addr: &'a str,
        text: &'a str,
        tags: &'a [u32],
        now: i64,
    ) -> Self {
        Facts {
            user: None,
            group: None,
            connector: None,
            source_addr,
            destination_addr,
            text,
            tags,
            day: now.div_euclid(DAY),
            // rem_euclid(DAY) is in 0..86_400: fits.
            second: u32::try_from(now.rem_euclid(DAY)).unwrap_or(0),
        }
    }
}

/// Relative cost, to test cheap filters before regexes.
fn cost(filter: &FilterKind) -> u8 {
    match filter {
        FilterKind::SourceAddr(_) | FilterKind::DestinationAddr(_) => 1,
        FilterKind::ShortMessage(_) => 2,
        _ => 0,
    }
}

/// Whether `filter` matches a message with these facts.
fn filter_matches(filter: &FilterKind, f: &Facts<'_>) -> bool {
    match filter {
        FilterKind::User(u) => f.user == Some(u.as_str()),
        FilterKind::Group(g) => f.group == Some(g.as_str()),
        FilterKind::Connector(c) => f.connector == Some(c.as_str()),
        FilterKind::SourceAddr(r) => r.is_match(f.source_addr),
        FilterKind::DestinationAddr(r) => r.is_match(f.destination_addr),
        FilterKind::ShortMessage(r) => r.is_match(f.text),
        FilterKind::Date { from, to } => (*from..=*to).contains(&f.day),
        FilterKind::Time { from, to } => {
            if from <= to {
                (*from..=*to).contains(&f.second)
            } else {
                f.second >= *from || f.second <= *to
            }
        }
        FilterKind::Tag(t) => f.tags.contains(t),
    }
}

/// Resolves filter names to indices into one table of filters.
struct FilterTable<'c> {
    config: &'c BTreeMap<String, Filter>,
    index: BTreeMap<&'c str, usize>,
    compiled: Vec<FilterKind>,
}

impl<'c> FilterTable<'c> {
    /// The route's filters as indices, cheapest first; `None` if one is
    /// not in the configuration (the route can then never match).
    fn resolve(&mut self, names: &[String]) -> Option<Box<[usize]>> {
        let mut out = Vec::with_capacity(names.len());
        for name in names {
            let (key, filter) = self.config.get_key_value(name.as_str())?;
            let i = *self.index.entry(key.as_str()).or_insert_with(|| {
                self.compiled.push(filter.kind.clone());
                self.compiled.len() - 1
            });
            if !out.contains(&i) {
                out.push(i);
            }
        }
        let compiled = &self.compiled;
        out.sort_by_key(|&i| compiled.get(i).map_or(u8::MAX, cost));
        Some(out.into_boxed_slice())
    }
}

/// One shared copy of each connector or user name.
fn intern<'c>(names: &mut BTreeMap<&'c str, Arc<str>>, name: &'c str) -> Arc<str> {
    Arc::clone(names.entry(name).or_insert_with(|| name.into()))
}

impl Router {
    /// The routes of `config`, compiled.
    ///
    /// `config` is expected to be checked ([`Config::parse`]). Otherwise a
    /// route is left out, with a warning, if it names a filter that does
    /// not exist or has no connector (MT) or no user (MO); a filter that
    /// does not apply (a connector filter on an MT route, a user or group
    /// filter on an MO route) never matches.
    pub fn new(config: &Config) -> Router {
        let mut table = FilterTable {
            config: &config.filters,
            index: BTreeMap::new(),
            compiled: Vec::new(),
        };
        let mut names: BTreeMap<&str, Arc<str>> = BTreeMap::new();

        let mut mt = Vec::with_capacity(config.mt_routes.len());
        for r in &config.mt_routes {
            let Some(filters) = table.resolve(&r.filters) else {
                tracing::warn!(order = r.order, "mt-route names a missing filter: left out");
                continue;
            };
            if r.connectors.is_empty() {
                tracing::warn!(order = r.order, "mt-route has no connector: left out");
                continue;
            }
            // A static or default route has one connector (checked by config).
            let take = match r.kind {
                MtRouteType::Default | MtRouteType::Static => 1,
                MtRouteType::RoundRobin | MtRouteType::Failover => r.connectors.len(),
            };
            let connectors: Arc<[Arc<str>]> = r
                .connectors
                .iter()
                .take(take)
                .map(|c| intern(&mut names, c))
                .collect();
            mt.push(MtEntry {
                order: r.order,
                kind: r.kind,
                rate: r.rate,
                filters,
                connectors,
                next: AtomicUsize::new(0),
            });
        }
        mt.sort_by_key(|r| std::cmp::Reverse(r.order));

        let mut mo = Vec::with_capacity(config.mo_routes.len());
        for r in &config.mo_routes {
            let Some(filters) = table.resolve(&r.filters) else {
                tracing::warn!(order = r.order, "mo-route names a missing filter: left out");
                continue;
            };
            // An MO route names exactly one user (checked by config).
            let Some(user) = r.users.first() else {
                tracing::warn!(order = r.order, "mo-route has no user: left out");
                continue;
            };
            mo.push(MoEntry {
                order: r.order,
                filters,
                user: intern(&mut names, user),
            });
        }
        mo.sort_by_key(|r| std::cmp::Reverse(r.order));

        Router {
            filters: table.compiled.into_boxed_slice(),
            mt: mt.into_boxed_slice(),
            mo: mo.into_boxed_slice(),
        }
    }

    /// Whether every filter (by index) matches.
    fn all_match(&self, filters: &[usize], facts: &Facts<'_>) -> bool {
        filters.iter().all(|&i| {
            self.filters
                .get(i)
                .is_some_and(|k| filter_matches(k, facts))
        })
    }

    /// The first MT route, highest order first, whose filters all match;
    /// `None` if none does (the server answers ESME_RINVDSTADR).
    ///
    /// A round-robin route advances its rotation each time it is chosen.
    pub fn route_mt(&self, cx: &MtContext<'_>) -> Option<MtDecision> {
        let facts = Facts {
            user: Some(cx.system_id),
            group: cx.group,
            ..Facts::new(
                cx.source_addr,
                cx.destination_addr,
                cx.text,
                cx.tags,
                cx.now,
            )
        };
        let r = self
            .mt
            .iter()
            .find(|r| self.all_match(&r.filters, &facts))?;
        let start = match r.kind {
            MtRouteType::RoundRobin => r.next.fetch_add(1, Ordering::Relaxed) % r.connectors.len(),
            MtRouteType::Default | MtRouteType::Static | MtRouteType::Failover => 0,
        };
        Some(MtDecision {
            order: r.order,
            kind: r.kind,
            rate: r.rate,
            connectors: Arc::clone(&r.connectors),
            start,
        })
    }

    /// The system_id of the user an MO message goes to: that of the first
    /// MO route, highest order first, whose filters all match; `None` if
    /// none does.
    pub fn route_mo(&self, cx: &MoContext<'_>) -> Option<Arc<str>> {
        let facts = Facts {
            connector: Some(cx.connector),
            ..Facts::new(
                cx.source_addr,
                cx.destination_addr,
                cx.text,
                cx.tags,
                cx.now,
            )
        };
        self.mo
            .iter()
            .find(|r| self.all_match(&r.filters, &facts))
            .map(|r| Arc::clone(&r.user))
    }

    /// The orders of the MT routes, as tried (highest first).
    pub fn mt_orders(&self) -> impl Iterator<Item = u32> + '_ {
        self.mt.iter().map(|r| r.order)
    }

    /// The orders of the MO routes, as tried (highest first).
    pub fn mo_orders(&self) -> impl Iterator<Item = u32> + '_ {
        self.mo.iter().map(|r| r.order)
    }
}

#[cfg(test)]
mod tests;
