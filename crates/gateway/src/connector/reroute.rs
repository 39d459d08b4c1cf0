//! Moving a message on to the next connector of its route (DESIGN.md,
//! "Routing: failover and re-routing"): the mt-route that chose a
//! message's connectors (its order is stored with the message) says, as
//! configured now, when it moves — `reroute_on`, a permanent refusal
//! upstream ([`on_refusal`], asked by the worker), and `failover_after`,
//! its connector down that long ([`watch`], one task per connector). The
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
use tracing::{info, warn};

use crate::config::{Config, MtRoute};
use crate::context::Context;
use crate::metrics::labels::RerouteReason;
use crate::store::{Store, StoredMessage, Taken};

/// Messages a watch takes from a down connector's queue at a time.
const BATCH: usize = 64;
/// How often a watch looks again when there is nothing to move.
const LOOK_EVERY: Duration = Duration::from_secs(1);

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
/// route's `failover_after` has passed and a connector is left.
fn on_down(config: &Config, m: &StoredMessage, down: Duration) -> Option<StoredMessage> {
    let after = route_of(config, m)?.failover_after;
    if after.is_zero() || down < after {
        return None;
    }
    next(config, m)
}

/// The shortest `failover_after` of the routes through `connector` that
/// have another connector to move to; None: nothing waiting for it ever
/// moves.
fn soonest(config: &Config, connector: &str) -> Option<Duration> {
    config
        .mt_routes
        .iter()
        .filter(|r| !r.failover_after.is_zero() && r.connectors.len() > 1)
        .filter(|r| r.connectors.iter().any(|c| c == connector))
        .map(|r| r.failover_after)
        .min()
}

/// Watch `connector` until `stop`: while it is down longer than the
/// `failover_after` of a route through it, take what waits in its queue
/// (its retries as they fall due too) as `consumer` and move on what its
/// route says may move; give back the rest, to wait for the connector.
pub(super) async fn watch<S: Store>(
    ctx: Arc<Context<S>>,
    connector: String,
    consumer: String,
    mut stop: watch::Receiver<bool>,
) {
    let started = Instant::now();
    loop {
        if *stop.borrow() {
            return;
        }
        let config = ctx.config.load_full();
        let down = ctx.connectors.down_for(&connector, started);
        let pause = match (soonest(&config, &connector), down) {
            (Some(after), Some(down)) if down >= after => {
                match move_on(&ctx, &config, &connector, &consumer, down).await {
                    // A full batch moved: more may wait.
                    Ok(moved) if moved == BATCH => Duration::ZERO,
                    Ok(_) => LOOK_EVERY,
                    Err(e) => {
                        warn!(error = %e, "store unavailable; rerouting later");
                        LOOK_EVERY
                    }
                }
            }
            (Some(after), Some(down)) => (after - down).min(LOOK_EVERY),
            _ => LOOK_EVERY,
        };
        tokio::select! {
            _ = tokio::time::sleep(pause) => {}
            _ = stop.changed() => {}
        }
    }
}

/// One batch of [`watch`]: how many messages moved on.
async fn move_on<S: Store>(
    ctx: &Context<S>,
    config: &Config,
    connector: &str,
    consumer: &str,
    down: Duration,
) -> Result<usize, crate::store::StoreError> {
    let taken = ctx
        .store
        .take(connector, consumer, BATCH, Duration::ZERO)
        .await?;
    let mut moved = 0;
    for t in &taken {
        match on_down(config, &t.message, down) {
            Some(next) => {
                reroute(ctx, connector, t, &next, RerouteReason::Down).await?;
                moved += 1;
            }
            // Its route keeps it here: back to the queue, to wait.
            None => ctx.store.retry(connector, t, Duration::ZERO).await?,
        }
    }
    Ok(moved)
}

/// Move `t` on as `next`, logged and counted.
pub(super) async fn reroute<S: Store>(
    ctx: &Context<S>,
    connector: &str,
    t: &Taken,
    next: &StoredMessage,
    reason: RerouteReason,
) -> Result<(), crate::store::StoreError> {
    ctx.store.reroute(connector, t, next).await?;
    let to = next.connectors.first().map(String::as_str).unwrap_or("");
    info!(message = %t.message.id, to, reason = reason.as_str(), "moved on to the next connector of its route");
    ctx.metrics.rerouted(connector, reason);
    Ok(())
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
        assert_eq!(on_down(&c, &m, Duration::from_secs(29)), None);
        let n = on_down(&c, &m, Duration::from_secs(30)).unwrap();
        assert_eq!(n.connectors[0], "b");
        assert_eq!(
            on_down(&c, &message(Some(0)), Duration::from_secs(99)),
            None
        );
        assert_eq!(soonest(&c, "a"), Some(Duration::from_secs(30)));
        assert_eq!(soonest(&c, "c"), Some(Duration::from_secs(5)));
        let none = config("[mt-route:0]\ntype = default\nconnectors = a\n");
        assert_eq!(soonest(&none, "a"), None);
    }
}
