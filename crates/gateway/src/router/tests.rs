//! The router against configurations read as an operator writes them.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use proptest::prelude::*;

use super::*;
use crate::config::Config;

/// Four connectors (a, b, c, d), users alice (group g1), bob (no group)
/// and carol (group g2), and the default mt-route to d.
const BASE: &str = "\
[connector:a]\nhost = 127.0.0.1\nport = 2776\nusername = u\npassword = p\n\
[connector:b]\nhost = 127.0.0.1\nport = 2777\nusername = u\npassword = p\n\
[connector:c]\nhost = 127.0.0.1\nport = 2778\nusername = u\npassword = p\n\
[connector:d]\nhost = 127.0.0.1\nport = 2779\nusername = u\npassword = p\n\
[group:g1]\n[group:g2]\n\
[user:alice]\npassword = p\ngroup = g1\n\
[user:bob]\npassword = p\n\
[user:carol]\npassword = p\ngroup = g2\n\
[mt-route:0]\ntype = default\nconnectors = d\n";

fn config(extra: &str) -> Config {
    Config::parse(&format!("{BASE}{extra}"), "test.ini", &|_| None)
        .unwrap_or_else(|e| panic!("{e}"))
}

fn router(extra: &str) -> Router {
    Router::new(&config(extra))
}

/// Unix seconds at `hh:mm:ss` UTC on a date.
fn at(y: i64, m: u8, d: u8, hh: i64, mm: i64, ss: i64) -> i64 {
    smpp::time::days_from_civil(y, m, d) * DAY + hh * 3600 + mm * 60 + ss
}

/// 2026-03-15 12:00:00 UTC.
fn noon() -> i64 {
    at(2026, 3, 15, 12, 0, 0)
}

/// An MT message from alice (group g1) to `dst`.
fn mt(dst: &str) -> MtContext<'_> {
    MtContext {
        system_id: "alice",
        group: Some("g1"),
        source_addr: "TERN",
        destination_addr: dst,
        text: "hello",
        tags: &[],
        now: noon(),
    }
}

fn mo<'a>(connector: &'a str, src: &'a str, dst: &'a str) -> MoContext<'a> {
    MoContext {
        connector,
        source_addr: src,
        destination_addr: dst,
        text: "hello",
        tags: &[],
        now: noon(),
    }
}

fn names(d: &MtDecision) -> Vec<&str> {
    d.connectors().map(|c| &**c).collect()
}

/// The order of the matching route (every test config has a default).
fn order(r: &Router, cx: MtContext<'_>) -> u32 {
    r.route_mt(&cx).expect("the default route matches").order
}

/// A filter section and a static mt-route 10 to `a` that uses it.
fn one_filter(kind: &str, value: &str) -> Router {
    router(&format!(
        "[filter:f]\ntype = {kind}\nvalue = {value}\n\
         [mt-route:10]\ntype = static\nconnectors = a\nfilters = f\n"
    ))
}

#[test]
fn highest_order_first_default_last() {
    let r = router(
        "[filter:fr]\ntype = destination_addr\nvalue = ^33\n\
         [filter:fr1]\ntype = destination_addr\nvalue = ^331\n\
         [filter:fr12]\ntype = destination_addr\nvalue = ^3312\n\
         [mt-route:5]\ntype = static\nconnectors = a\nfilters = fr\n\
         [mt-route:20]\ntype = static\nconnectors = b\nfilters = fr1\n\
         [mt-route:10]\ntype = static\nconnectors = c\nfilters = fr12\n",
    );
    assert_eq!(r.mt_orders().collect::<Vec<_>>(), [20, 10, 5, 0]);
    // 3312… matches 20, 10 and 5: the highest wins.
    assert_eq!(order(&r, mt("33123456")), 20);
    assert_eq!(order(&r, mt("33912345")), 5);
    let d = r.route_mt(&mt("4412345")).unwrap();
    assert_eq!(
        (d.order, d.kind, names(&d)),
        (0, MtRouteType::Default, vec!["d"])
    );
}

#[test]
fn decision_carries_rate_order_and_connector() {
    let r = router(
        "[filter:fr]\ntype = destination_addr\nvalue = ^33\n\
         [mt-route:7]\ntype = static\nconnectors = b\nfilters = fr\nrate = 0.05\n",
    );
    let d = r.route_mt(&mt("33600000000")).unwrap();
    assert_eq!(d.order, 7);
    assert_eq!(d.kind, MtRouteType::Static);
    assert_eq!(d.rate, Credit::Micro(50_000));
    assert_eq!(&**d.first(), "b");
    assert_eq!((d.len(), d.is_empty()), (1, false));
    assert_eq!(names(&d), ["b"]);
    // The default route's rate defaults to 0.
    assert_eq!(r.route_mt(&mt("44")).unwrap().rate, Credit::Micro(0));
}

#[test]
fn decision_outlives_the_router() {
    let r = router("");
    let d = r.route_mt(&mt("1")).unwrap();
    drop(r);
    assert_eq!(names(&d), ["d"]);
}

#[test]
fn user_filter() {
    let r = one_filter("user", "alice");
    assert_eq!(order(&r, mt("1")), 10);
    let bob = MtContext {
        system_id: "bob",
        group: None,
        ..mt("1")
    };
    assert_eq!(order(&r, bob), 0);
    // Equality, not a pattern or prefix.
    let alice2 = MtContext {
        system_id: "alice2",
        ..mt("1")
    };
    assert_eq!(order(&r, alice2), 0);
}

#[test]
fn group_filter() {
    let r = one_filter("group", "g1");
    assert_eq!(order(&r, mt("1")), 10);
    let carol = MtContext {
        system_id: "carol",
        group: Some("g2"),
        ..mt("1")
    };
    assert_eq!(order(&r, carol), 0);
    let bob = MtContext {
        system_id: "bob",
        group: None,
        ..mt("1")
    };
    assert_eq!(order(&r, bob), 0);
}

#[test]
fn source_addr_filter() {
    let r = one_filter("source_addr", "^TERN$");
    assert_eq!(order(&r, mt("1")), 10);
    assert_eq!(
        order(
            &r,
            MtContext {
                source_addr: "TERN2",
                ..mt("1")
            }
        ),
        0
    );
    assert_eq!(
        order(
            &r,
            MtContext {
                source_addr: "",
                ..mt("1")
            }
        ),
        0
    );
}

#[test]
fn destination_addr_filter() {
    let r = one_filter("destination_addr", "^\\+?33\\d{9}$");
    assert_eq!(order(&r, mt("33612345678")), 10);
    assert_eq!(order(&r, mt("+33612345678")), 10);
    assert_eq!(order(&r, mt("3361234567")), 0);
    assert_eq!(order(&r, mt("4433612345678")), 0);
}

#[test]
fn short_message_filter_matches_anywhere_unless_anchored() {
    let r = one_filter("short_message", "STOP");
    assert_eq!(
        order(
            &r,
            MtContext {
                text: "please STOP now",
                ..mt("1")
            }
        ),
        10
    );
    assert_eq!(
        order(
            &r,
            MtContext {
                text: "stop",
                ..mt("1")
            }
        ),
        0
    );
    let r = one_filter("short_message", "^(?i)stop");
    assert_eq!(
        order(
            &r,
            MtContext {
                text: "Stop it",
                ..mt("1")
            }
        ),
        10
    );
    assert_eq!(
        order(
            &r,
            MtContext {
                text: "do stop",
                ..mt("1")
            }
        ),
        0
    );
    // Non-ASCII text (decoded by the caller).
    let r = one_filter("short_message", "€");
    assert_eq!(
        order(
            &r,
            MtContext {
                text: "5 € off",
                ..mt("1")
            }
        ),
        10
    );
}

#[test]
fn date_filter_is_inclusive_in_utc() {
    let r = one_filter("date", "2026-03-10;2026-03-20");
    let on = |now| order(&r, MtContext { now, ..mt("1") });
    assert_eq!(on(at(2026, 3, 10, 0, 0, 0)), 10);
    assert_eq!(on(at(2026, 3, 15, 12, 0, 0)), 10);
    assert_eq!(on(at(2026, 3, 20, 23, 59, 59)), 10);
    assert_eq!(on(at(2026, 3, 9, 23, 59, 59)), 0);
    assert_eq!(on(at(2026, 3, 21, 0, 0, 0)), 0);
    assert_eq!(on(at(2025, 3, 15, 12, 0, 0)), 0);
    // A single day.
    let r = one_filter("date", "2026-03-15;2026-03-15");
    assert_eq!(order(&r, mt("1")), 10);
    assert_eq!(
        order(
            &r,
            MtContext {
                now: at(2026, 3, 16, 0, 0, 0),
                ..mt("1")
            }
        ),
        0
    );
}

#[test]
fn time_filter_is_inclusive_in_utc() {
    let r = one_filter("time", "08:00;18:30");
    let on = |hh, mm, ss| {
        order(
            &r,
            MtContext {
                now: at(2026, 3, 15, hh, mm, ss),
                ..mt("1")
            },
        )
    };
    assert_eq!(on(8, 0, 0), 10);
    assert_eq!(on(12, 0, 0), 10);
    assert_eq!(on(18, 30, 0), 10);
    assert_eq!(on(7, 59, 59), 0);
    assert_eq!(on(18, 30, 1), 0);
    assert_eq!(on(0, 0, 0), 0);
    // Any day.
    assert_eq!(
        order(
            &r,
            MtContext {
                now: at(1999, 12, 31, 9, 0, 0),
                ..mt("1")
            }
        ),
        10
    );
}

#[test]
fn time_filter_wraps_past_midnight() {
    let r = one_filter("time", "22:00;06:00");
    let on = |hh, mm, ss| {
        order(
            &r,
            MtContext {
                now: at(2026, 3, 15, hh, mm, ss),
                ..mt("1")
            },
        )
    };
    assert_eq!(on(22, 0, 0), 10);
    assert_eq!(on(23, 59, 59), 10);
    assert_eq!(on(0, 0, 0), 10);
    assert_eq!(on(3, 0, 0), 10);
    assert_eq!(on(6, 0, 0), 10);
    assert_eq!(on(6, 0, 1), 0);
    assert_eq!(on(12, 0, 0), 0);
    assert_eq!(on(21, 59, 59), 0);
    // Before 1970 too: one second before the epoch is 23:59:59.
    assert_eq!(order(&r, MtContext { now: -1, ..mt("1") }), 10);
    assert_eq!(
        order(
            &r,
            MtContext {
                now: -DAY / 2,
                ..mt("1")
            }
        ),
        0
    );
}

#[test]
fn tag_filter() {
    let r = one_filter("tag", "7");
    assert_eq!(
        order(
            &r,
            MtContext {
                tags: &[3, 7],
                ..mt("1")
            }
        ),
        10
    );
    assert_eq!(
        order(
            &r,
            MtContext {
                tags: &[7],
                ..mt("1")
            }
        ),
        10
    );
    assert_eq!(
        order(
            &r,
            MtContext {
                tags: &[3, 70],
                ..mt("1")
            }
        ),
        0
    );
    assert_eq!(order(&r, mt("1")), 0);
}

#[test]
fn all_filters_must_match() {
    let r = router(
        "[filter:fr]\ntype = destination_addr\nvalue = ^33\n\
         [filter:alice]\ntype = user\nvalue = alice\n\
         [filter:t1]\ntype = tag\nvalue = 1\n\
         [filter:day]\ntype = time\nvalue = 08:00;20:00\n\
         [mt-route:10]\ntype = static\nconnectors = a\nfilters = fr, alice, t1, day\n",
    );
    let all = MtContext {
        tags: &[1],
        ..mt("336")
    };
    assert_eq!(order(&r, all), 10);
    assert_eq!(
        order(
            &r,
            MtContext {
                destination_addr: "446",
                ..all
            }
        ),
        0
    );
    assert_eq!(
        order(
            &r,
            MtContext {
                system_id: "bob",
                ..all
            }
        ),
        0
    );
    assert_eq!(order(&r, MtContext { tags: &[2], ..all }), 0);
    assert_eq!(
        order(
            &r,
            MtContext {
                now: at(2026, 3, 15, 21, 0, 0),
                ..all
            }
        ),
        0
    );
}

#[test]
fn a_route_without_filters_matches_everything() {
    let r = router("[mt-route:3]\ntype = static\nconnectors = b\n");
    assert_eq!(order(&r, mt("1")), 3);
    assert_eq!(
        order(
            &r,
            MtContext {
                system_id: "bob",
                group: None,
                ..mt("")
            }
        ),
        3
    );
}

#[test]
fn default_catches_what_no_other_route_takes() {
    let r = router(
        "[filter:fr]\ntype = destination_addr\nvalue = ^33\n\
         [filter:de]\ntype = destination_addr\nvalue = ^49\n\
         [filter:bob]\ntype = user\nvalue = bob\n\
         [mt-route:30]\ntype = static\nconnectors = a\nfilters = fr\n\
         [mt-route:20]\ntype = failover\nconnectors = b, c\nfilters = de\n\
         [mt-route:10]\ntype = roundrobin\nconnectors = a, b\nfilters = bob\n",
    );
    assert_eq!(order(&r, mt("336")), 30);
    assert_eq!(order(&r, mt("496")), 20);
    assert_eq!(
        order(
            &r,
            MtContext {
                system_id: "bob",
                ..mt("446")
            }
        ),
        10
    );
    for dst in ["446", "", "+1", "34"] {
        let d = r.route_mt(&mt(dst)).unwrap();
        assert_eq!((d.order, names(&d)), (0, vec!["d"]), "{dst:?}");
    }
}

#[test]
fn round_robin_rotates_per_message_and_lists_every_connector() {
    let r = router(
        "[filter:fr]\ntype = destination_addr\nvalue = ^33\n\
         [mt-route:10]\ntype = roundrobin\nconnectors = a, b, c\nfilters = fr\n",
    );
    let mut seen = Vec::new();
    for _ in 0..7 {
        let d = r.route_mt(&mt("336")).unwrap();
        assert_eq!(d.kind, MtRouteType::RoundRobin);
        assert_eq!(d.len(), 3);
        assert_eq!(&**d.first(), names(&d)[0]);
        seen.push(names(&d).join(""));
        // Messages routed elsewhere do not move the rotation.
        assert_eq!(order(&r, mt("44")), 0);
    }
    assert_eq!(seen, ["abc", "bca", "cab", "abc", "bca", "cab", "abc"]);
}

#[test]
fn round_robin_routes_rotate_independently() {
    let r = router(
        "[filter:fr]\ntype = destination_addr\nvalue = ^33\n\
         [filter:de]\ntype = destination_addr\nvalue = ^49\n\
         [mt-route:20]\ntype = roundrobin\nconnectors = a, b\nfilters = fr\n\
         [mt-route:10]\ntype = roundrobin\nconnectors = c, d, a\nfilters = de\n",
    );
    let first = |dst| r.route_mt(&mt(dst)).unwrap().first().to_string();
    assert_eq!(first("33"), "a");
    assert_eq!(first("33"), "b");
    assert_eq!(first("49"), "c");
    assert_eq!(first("33"), "a");
    assert_eq!(first("49"), "d");
    assert_eq!(first("49"), "a");
    assert_eq!(first("49"), "c");
}

#[test]
fn round_robin_spreads_evenly_across_threads() {
    let r = router("[mt-route:10]\ntype = roundrobin\nconnectors = a, b, c\n");
    let counts = std::thread::scope(|s| {
        let workers: Vec<_> = (0..2)
            .map(|_| {
                s.spawn(|| {
                    let mut n = [0usize; 3];
                    for _ in 0..300 {
                        let d = r.route_mt(&mt("1")).unwrap();
                        n[usize::from(d.first().as_bytes()[0] - b'a')] += 1;
                    }
                    n
                })
            })
            .collect();
        workers.into_iter().fold([0; 3], |mut acc, w| {
            let n = w.join().unwrap();
            for i in 0..3 {
                acc[i] += n[i];
            }
            acc
        })
    });
    assert_eq!(counts, [200, 200, 200]);
}

#[test]
fn failover_keeps_the_configured_order() {
    let r = router(
        "[filter:fr]\ntype = destination_addr\nvalue = ^33\n\
         [mt-route:10]\ntype = failover\nconnectors = c, a, b\nfilters = fr\n",
    );
    for _ in 0..4 {
        let d = r.route_mt(&mt("336")).unwrap();
        assert_eq!(d.kind, MtRouteType::Failover);
        assert_eq!(names(&d), ["c", "a", "b"]);
        assert_eq!(&**d.first(), "c");
    }
}

/// MO routes: connector a → alice; from 33… to 555… → bob; STOP → carol;
/// tag 9 → bob. No default MO route.
const MO: &str = "\
[filter:up_a]\ntype = connector\nvalue = a\n\
[filter:src33]\ntype = source_addr\nvalue = ^33\n\
[filter:dst555]\ntype = destination_addr\nvalue = ^555\n\
[filter:stop]\ntype = short_message\nvalue = ^STOP\n\
[filter:t9]\ntype = tag\nvalue = 9\n\
[mo-route:40]\ntype = static\nusers = alice\nfilters = up_a\n\
[mo-route:30]\ntype = static\nusers = bob\nfilters = src33, dst555\n\
[mo-route:20]\ntype = static\nusers = carol\nfilters = stop\n\
[mo-route:10]\ntype = static\nusers = bob\nfilters = t9\n";

#[test]
fn mo_routes_by_connector_source_destination_text_and_tag() {
    let r = router(MO);
    assert_eq!(r.mo_orders().collect::<Vec<_>>(), [40, 30, 20, 10]);
    let to = |cx: MoContext<'_>| r.route_mo(&cx).map(|u| u.to_string());
    // The connector route is highest: it wins whatever else matches.
    assert_eq!(to(mo("a", "336", "5551")).as_deref(), Some("alice"));
    assert_eq!(to(mo("b", "336", "5551")).as_deref(), Some("bob"));
    // Both of route 30's filters must match.
    assert_eq!(to(mo("b", "336", "4441")), None);
    assert_eq!(to(mo("b", "446", "5551")), None);
    assert_eq!(
        to(MoContext {
            text: "STOP please",
            ..mo("b", "1", "2")
        })
        .as_deref(),
        Some("carol")
    );
    assert_eq!(
        to(MoContext {
            text: "please STOP",
            ..mo("b", "1", "2")
        }),
        None
    );
    assert_eq!(
        to(MoContext {
            tags: &[9],
            ..mo("b", "1", "2")
        })
        .as_deref(),
        Some("bob")
    );
    // Nothing matches and there is no default MO route.
    assert_eq!(to(mo("c", "1", "2")), None);
}

#[test]
fn mo_default_route_catches_the_rest() {
    let r = router(&format!(
        "{MO}[mo-route:0]\ntype = default\nusers = carol\n"
    ));
    assert_eq!(r.mo_orders().last(), Some(0));
    assert_eq!(r.route_mo(&mo("c", "1", "2")).as_deref(), Some("carol"));
    assert_eq!(r.route_mo(&mo("a", "1", "2")).as_deref(), Some("alice"));
}

#[test]
fn mo_time_and_date_filters() {
    let r = router(
        "[filter:night]\ntype = time\nvalue = 22:00;06:00\n\
         [filter:march]\ntype = date\nvalue = 2026-03-01;2026-03-31\n\
         [mo-route:10]\ntype = static\nusers = bob\nfilters = night, march\n",
    );
    let on = |now| {
        r.route_mo(&MoContext {
            now,
            ..mo("a", "1", "2")
        })
    };
    assert_eq!(on(at(2026, 3, 31, 23, 0, 0)).as_deref(), Some("bob"));
    assert_eq!(on(at(2026, 3, 1, 5, 0, 0)).as_deref(), Some("bob"));
    assert_eq!(on(at(2026, 4, 1, 1, 0, 0)), None);
    assert_eq!(on(at(2026, 3, 15, 12, 0, 0)), None);
}

/// A hand-built (unchecked) config: what config rejects fails closed.
#[test]
fn an_unchecked_config_fails_closed() {
    let mut c = config(
        "[filter:alice]\ntype = user\nvalue = alice\n\
         [filter:up_a]\ntype = connector\nvalue = a\n\
         [mt-route:10]\ntype = static\nconnectors = a\n\
         [mt-route:20]\ntype = static\nconnectors = b\n\
         [mo-route:10]\ntype = static\nusers = bob\n",
    );
    // MT route 10 gets a connector filter, 20 a missing one; the MO route
    // a user filter.
    c.mt_routes[1].filters.push("up_a".into());
    c.mt_routes[0].filters.push("nope".into());
    c.mo_routes[0].filters.push("alice".into());
    let r = Router::new(&c);
    assert_eq!(r.mt_orders().collect::<Vec<_>>(), [10, 0]);
    assert_eq!(order(&r, mt("1")), 0);
    assert_eq!(r.route_mo(&mo("a", "1", "2")), None);
}

#[test]
fn filters_shared_by_routes_are_compiled_once() {
    let r = router(
        "[filter:fr]\ntype = destination_addr\nvalue = ^33\n\
         [filter:t1]\ntype = tag\nvalue = 1\n\
         [mt-route:10]\ntype = static\nconnectors = a\nfilters = fr, t1\n\
         [mt-route:20]\ntype = static\nconnectors = b\nfilters = t1, fr, t1\n\
         [mo-route:10]\ntype = static\nusers = bob\nfilters = fr\n",
    );
    assert_eq!(r.filters.len(), 2);
    // Cheap filters are tested first; a filter named twice is kept once.
    assert!(r.mt[..2].iter().all(|e| e.filters.len() == 2));
    assert!(
        r.mt[0]
            .filters
            .iter()
            .zip(&r.mt[1].filters)
            .all(|(a, b)| a == b)
    );
    assert!(matches!(r.filters[r.mt[0].filters[0]], FilterKind::Tag(1)));
}

// ---- property: the router agrees with a naive reading of the config ----

const PROP_ROUTES: &str = "\
[filter:fr]\ntype = destination_addr\nvalue = ^33\n\
[filter:fr1]\ntype = destination_addr\nvalue = ^331\n\
[filter:uk]\ntype = destination_addr\nvalue = ^44\n\
[filter:four]\ntype = destination_addr\nvalue = ^4\n\
[filter:nine]\ntype = destination_addr\nvalue = 9$\n\
[filter:tern]\ntype = source_addr\nvalue = ^TERN\n\
[filter:promo]\ntype = short_message\nvalue = (?i)promo\n\
[filter:t5]\ntype = tag\nvalue = 5\n\
[filter:night]\ntype = time\nvalue = 22:00;06:00\n\
[filter:h1]\ntype = date\nvalue = 2026-01-01;2026-06-30\n\
[filter:alice]\ntype = user\nvalue = alice\n\
[filter:g1]\ntype = group\nvalue = g1\n\
[mt-route:40]\ntype = failover\nconnectors = b, c\nfilters = fr, t5\n\
[mt-route:35]\ntype = static\nconnectors = a\nfilters = fr1\nrate = 0.1\n\
[mt-route:30]\ntype = roundrobin\nconnectors = a, b, c\nfilters = uk, night\n\
[mt-route:25]\ntype = static\nconnectors = b\nfilters = promo, g1\n\
[mt-route:20]\ntype = static\nconnectors = c\nfilters = nine, h1\n\
[mt-route:10]\ntype = failover\nconnectors = c, b\nfilters = tern, four, alice\n";

/// The route a naive reading of the config picks: by name, every time.
fn reference<'c>(c: &'c Config, cx: &MtContext<'_>) -> Option<&'c crate::config::MtRoute> {
    let day = cx.now.div_euclid(DAY);
    let second = cx.now - day * DAY;
    c.mt_routes.iter().find(|r| {
        r.filters.iter().all(|name| match &c.filters[name].kind {
            FilterKind::User(u) => cx.system_id == u,
            FilterKind::Group(g) => cx.group == Some(g.as_str()),
            FilterKind::SourceAddr(re) => re.is_match(cx.source_addr),
            FilterKind::DestinationAddr(re) => re.is_match(cx.destination_addr),
            FilterKind::ShortMessage(re) => re.is_match(cx.text),
            FilterKind::Connector(_) => false,
            FilterKind::Date { from, to } => *from <= day && day <= *to,
            FilterKind::Time { from, to } => {
                let (from, to) = (i64::from(*from), i64::from(*to));
                if from <= to {
                    from <= second && second <= to
                } else {
                    // Outside the gap between `to` and `from`.
                    !(to < second && second < from)
                }
            }
            FilterKind::Tag(t) => cx.tags.contains(t),
        })
    })
}

proptest! {
    #[test]
    fn router_agrees_with_a_naive_reference(
        dst in prop_oneof![
            "33[0-9]{0,9}",
            "331[0-9]{0,8}",
            "44[0-9]{0,9}",
            "4[0-9]{0,10}",
            "[0-9]{0,12}9",
            "\\+?[0-9]{0,14}",
        ],
        src in prop_oneof![Just("TERN"), Just("TERNX"), Just("33600"), Just("")],
        text in prop_oneof![Just("hello"), Just("big PROMO"), Just("")],
        user in prop_oneof![Just(("alice", Some("g1"))), Just(("bob", None)), Just(("carol", Some("g2")))],
        tags in proptest::collection::vec(0u32..8, 0..3),
        // 2025-11-01 .. 2026-09-01, any second.
        now in 1_761_955_200i64..1_788_220_800,
        calls in 1usize..4,
    ) {
        let c = config(PROP_ROUTES);
        let r = Router::new(&c);
        let cx = MtContext {
            system_id: user.0,
            group: user.1,
            source_addr: src,
            destination_addr: &dst,
            text,
            tags: &tags,
            now,
        };
        // A fresh router: a round-robin route's nth message starts at n.
        for call in 0..calls {
            let route = reference(&c, &cx).expect("the default route matches");
            let got = r.route_mt(&cx).expect("the default route matches");
            prop_assert_eq!(got.order, route.order);
            prop_assert_eq!(got.kind, route.kind);
            prop_assert_eq!(got.rate, route.rate);
            let mut want: Vec<&str> = route.connectors.iter().map(String::as_str).collect();
            if route.kind == MtRouteType::RoundRobin {
                let n = want.len();
                want.rotate_left(call % n);
            }
            let got = names(&got);
            prop_assert_eq!(got, want);
        }
    }
}
