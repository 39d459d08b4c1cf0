//! Moving a message on to the next connector of its route (DESIGN.md,
//! "Routing: failover and re-routing"): the mt-route that chose a
//! message's connectors (its order is stored with the message) says, as
//! configured now, when it moves — `reroute_on`, a permanent refusal
//! upstream ([`on_refusal`], asked by the worker: the refusing connector
//! is dropped from the message's list), and `failover_after`, its
//! connector down that long ([`watch`], one task per connector: the
//! message goes to a connector bound now, and the down one to the end of
//! its list, so it is not lost to it). The
//! store moves it atomically ([`Store::reroute`]) with its id, charge and
//! receipt request, so the user still gets exactly one final receipt:
//! from the connector that finally sends it.
//!
//! "Down" is this process's view ([`ConnectorStates::down_for`]): no
//! bound session here. With several terns on one Redis each decides from
//! its own sessions.
//!
//! [`ConnectorStates::down_for`]: crate::context::ConnectorStates::down_for

use std::sync::Arc;
use std::time::{Duration, Instant};

use smpp::CommandStatus;
use tokio::sync::watch;
use tracing::{debug, info, warn};

use crate::config::{Config, MtRoute};
use crate::context::Context;
use crate::metrics::labels::RerouteReason;
use crate::store::{Store, StoredMessage, Taken};

/// Messages a watch takes from a down connector's queue at a time.
const BATCH: usize = 64;
/// How often a watch looks at its connector's state.
const LOOK_EVERY: Duration = Duration::from_secs(1);
/// How long after a pass over a down connector's queue the next one
/// comes when nothing it depends on changed.
const PASS_AGAIN: Duration = Duration::from_secs(300);

/// The route that chose `m`'s connectors, as configured now.
fn route_of<'a>(config: &'a Config, m: &StoredMessage) -> Option<&'a MtRoute> {
    let order = m.route?;
    config.mt_routes.iter().find(|r| r.order == order)
}

/// `m` as it moves on to the next configured connector of its route.
fn next(config: &Config, m: &StoredMessage) -> Option<StoredMessage> {
    m.moved_on(|c| config.connectors.contains_key(c))
}

/// `m`, refused upstream with `status`, as it moves on when its route's
/// `reroute_on` names the status and a connector is left; None: it fails.
pub(super) fn on_refusal(
    config: &Config,
    m: &StoredMessage,
    status: CommandStatus,
) -> Option<StoredMessage> {
    if !route_of(config, m)?.reroutes_on(status) {
        return None;
    }
    next(config, m)
}

/// `m`, waiting for a connector down for `down`, as it moves on when its
/// route's `failover_after` has passed: to the first of its other
/// connectors that is configured and `bound` now, the connectors before
/// that one (the down one among them) going to the end of its list, so
/// it can come back to them if they come back first. None: it waits.
/// Only a refusal drops a connector for good ([`on_refusal`]).
fn on_down(
    config: &Config,
    m: &StoredMessage,
    down: Duration,
    bound: impl Fn(&str) -> bool,
) -> Option<StoredMessage> {
    let after = route_of(config, m)?.failover_after;
    if after.is_zero() || down < after {
        return None;
    }
    let to = m
        .connectors
        .iter()
        .skip(1)
        .position(|c| config.connectors.contains_key(c) && bound(c))?
        + 1;
    let mut next = m.clone();
    next.connectors.rotate_left(to);
    Some(next)
}

/// The shortest `failover_after` of the routes through `connector` that
/// have another connector to move to, and whether one of those others
/// is `bound` now; None: nothing waiting for it can move now.
fn soonest(config: &Config, connector: &str, bound: impl Fn(&str) -> bool) -> Option<Duration> {
    config
        .mt_routes
        .iter()
        .filter(|r| !r.failover_after.is_zero())
        .filter(|r| r.connectors.iter().any(|c| c == connector))
        .filter(|r| r.connectors.iter().any(|c| c != connector && bound(c)))
        .map(|r| r.failover_after)
        .min()
}

/// Watch `connector` until `stop`. Once it has been down longer than the
/// `failover_after` of a route through it while another connector of
/// that route is bound, one pass takes what waits in its queue (as
/// `consumer`; due retries join it) and moves on what its route says may
/// move; the rest goes back to the queue's tail, to wait for the
/// connector. A pass takes each waiting message once (as many as the
/// queue held when it began). The next pass comes when what it depends
/// on changes — which connectors are bound, the configuration, another
/// route's `failover_after` passing — or
/// after [`PASS_AGAIN`] for what arrived since (a message a failover
/// route queued while none of its connectors was bound, a retry fallen
/// due), so messages no route lets move are not taken over and over.
pub(super) async fn watch<S: Store>(
    ctx: Arc<Context<S>>,
    connector: String,
    consumer: String,
    mut stop: watch::Receiver<bool>,
) {
    let started = Instant::now();
    // What the last pass saw, and when it ran.
    let mut last: Option<(Instant, Arc<Config>, Vec<String>, usize)> = None;
    loop {
        if *stop.borrow() {
            return;
        }
        let config = ctx.config.load_full();
        let bound = |c: &str| ctx.connectors.is_bound(c);
        let down = ctx.connectors.down_for(&connector, started);
        let pause = match (soonest(&config, &connector, bound), down) {
            (Some(after), Some(down)) if down >= after => {
                let up: Vec<String> = config
                    .connectors
                    .keys()
                    .filter(|c| bound(c))
                    .cloned()
                    .collect();
                // Routes whose failover_after has passed: one more lets
                // more messages move.
                let passed = config
                    .mt_routes
                    .iter()
                    .filter(|r| !r.failover_after.is_zero() && r.failover_after <= down)
                    .count();
                let due = match &last {
                    None => true,
                    Some((at, seen, was_up, was_passed)) => {
                        at.elapsed() >= PASS_AGAIN
                            || !Arc::ptr_eq(seen, &config)
                            || *was_up != up
                            || *was_passed != passed
                    }
                };
                if due {
                    pass(&ctx, &config, &connector, &consumer, down).await;
                    last = Some((Instant::now(), config, up, passed));
                }
                LOOK_EVERY
            }
            (Some(after), Some(down)) => (after - down).min(LOOK_EVERY),
            // Up, or nothing could move: the next time it is down
            // long enough, a pass at once.
            _ => {
                last = None;
                LOOK_EVERY
            }
        };
        tokio::select! {
            _ = tokio::time::sleep(pause) => {}
            _ = stop.changed() => {}
        }
    }
}

/// One pass of [`watch`]: each message waiting for `connector` taken
/// once, moved on or given back.
async fn pass<S: Store>(
    ctx: &Context<S>,
    config: &Config,
    connector: &str,
    consumer: &str,
    down: Duration,
) {
    let waiting = match ctx.store.queue_depth(connector).await {
        Ok(n) => n,
        Err(e) => {
            warn!(error = %e, "store unavailable; rerouting later");
            return;
        }
    };
    let (mut seen, mut moved) = (0u64, 0u64);
    while seen < waiting {
        let max = BATCH.min(usize::try_from(waiting - seen).unwrap_or(BATCH));
        let taken = match ctx
            .store
            .take(connector, consumer, max, Duration::ZERO)
            .await
        {
            Ok(t) if t.is_empty() => break,
            Ok(t) => t,
            Err(e) => {
                warn!(error = %e, "store unavailable; rerouting later");
                return;
            }
        };
        seen += taken.len() as u64;
        for t in &taken {
            let bound = |c: &str| ctx.connectors.is_bound(c);
            let result = match on_down(config, &t.message, down, bound) {
                Some(next) => reroute(ctx, connector, t, &next, RerouteReason::Down)
                    .await
                    .map(|m| moved += u64::from(m)),
                // Its route keeps it here: back to the queue, to wait.
                None => ctx.store.retry(connector, t, Duration::ZERO).await,
            };
            if let Err(e) = result {
                // Left taken: taken again after the reclaim time.
                warn!(message = %t.message.id, error = %e, "cannot settle in the store");
            }
        }
    }
    if moved > 0 {
        info!(
            moved,
            "connector down: messages moved on to the next connector of their route"
        );
    }
}

/// Move `t` on as `next` (tried again as every settle is,
/// [`super::worker::retrying`]), logged and counted unless another
/// settled it first.
async fn reroute<S: Store>(
    ctx: &Context<S>,
    connector: &str,
    t: &Taken,
    next: &StoredMessage,
    reason: RerouteReason,
) -> Result<bool, crate::store::StoreError> {
    let moved = crate::settle::retrying(|| ctx.store.reroute(connector, t, next)).await?;
    if moved {
        self::moved(ctx, connector, t, next, reason);
    }
    Ok(moved)
}

/// `t` moved on from `connector` as `next`: logged and counted.
pub(super) fn moved<S: Store>(
    ctx: &Context<S>,
    connector: &str,
    t: &Taken,
    next: &StoredMessage,
    reason: RerouteReason,
) {
    let to = next.connectors.first().map(String::as_str).unwrap_or("");
    debug!(message = %t.message.id, to, reason = reason.as_str(), "moved on to the next connector of its route");
    ctx.metrics.rerouted(connector, reason);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(routes: &str) -> Config {
        let text = format!(
            "[connector:a]\nhost = h\nport = 1\nusername = u\n\
             [connector:b]\nhost = h\nport = 2\nusername = u\n\
             [connector:c]\nhost = h\nport = 3\nusername = u\n{routes}"
        );
        Config::parse(&text, "tern.ini", &|_| None).expect("config")
    }

    fn message(route: Option<u32>) -> StoredMessage {
        StoredMessage {
            id: "m".into(),
            user: "u".into(),
            connectors: vec!["a".into(), "b".into(), "c".into()],
            submit: Default::default(),
            parts: 1,
            rate_micro: 0,
            accepted_ms: 0,
            expires_ms: None,
            callback: None,
            route,
        }
    }

    #[test]
    fn a_refusal_moves_a_message_on_when_its_route_names_it() {
        let c = config(
            "[mt-route:10]\ntype = failover\nconnectors = a, b, c\nreroute_on = ESME_RINVDSTADR\n\
             [mt-route:0]\ntype = default\nconnectors = a\n",
        );
        let m = message(Some(10));
        let n = on_refusal(&c, &m, CommandStatus::ESME_RINVDSTADR).unwrap();
        assert_eq!(n.connectors, vec!["b".to_string(), "c".to_string()]);
        assert_eq!(on_refusal(&c, &m, CommandStatus::ESME_RINVSRCADR), None);
        // Its route gone, or another route's: it fails.
        assert_eq!(
            on_refusal(&c, &message(Some(0)), CommandStatus::ESME_RINVDSTADR),
            None
        );
        assert_eq!(
            on_refusal(&c, &message(None), CommandStatus::ESME_RINVDSTADR),
            None
        );
        assert_eq!(
            on_refusal(&c, &message(Some(99)), CommandStatus::ESME_RINVDSTADR),
            None
        );
    }

    #[test]
    fn a_down_connector_moves_on_what_waited_longer_than_its_route_allows() {
        let c = config(
            "[mt-route:10]\ntype = failover\nconnectors = a, b, c\nfailover_after = 30\n\
             [mt-route:20]\ntype = roundrobin\nconnectors = b, c\nfailover_after = 5\n\
             [mt-route:0]\ntype = default\nconnectors = a\n",
        );
        let m = message(Some(10));
        let all = |_: &str| true;
        let secs = Duration::from_secs;
        assert_eq!(on_down(&c, &m, secs(29), all), None);
        let n = on_down(&c, &m, secs(30), all).unwrap();
        assert_eq!(n.connectors, vec!["b", "c", "a"]);
        let back = StoredMessage {
            connectors: m.connectors.clone(),
            ..n
        };
        assert_eq!(back, m);
        // To the first bound: b is down too, so c; a and b follow, to
        // come back to when they are up first.
        let n = on_down(&c, &m, secs(30), |x| x == "c").unwrap();
        assert_eq!(n.connectors, vec!["c", "a", "b"]);
        // None bound: it waits where it is.
        assert_eq!(on_down(&c, &m, secs(30), |_| false), None);
        assert_eq!(on_down(&c, &message(Some(0)), secs(99), all), None);
        assert_eq!(soonest(&c, "a", all), Some(secs(30)));
        assert_eq!(soonest(&c, "c", all), Some(secs(5)));
        // Nowhere to move to now.
        assert_eq!(soonest(&c, "a", |_| false), None);
        assert_eq!(soonest(&c, "c", |x| x == "c"), None);
        assert_eq!(soonest(&c, "a", |x| x == "c"), Some(secs(30)));
        let none = config("[mt-route:0]\ntype = default\nconnectors = a\n");
        assert_eq!(soonest(&none, "a", all), None);
    }
}
