//! The gauges that are state, not events, read when a scrape comes: each
//! configured connector's queue depth and whether it is bound, each
//! configured user's delivery-queue depth, the callback queue's depth.
//!
//! The store is asked once per connector and per user, so a scrape costs
//! what the configuration holds, and only names of the configuration
//! become labels: the gauges are cleared first, so a connector or user
//! removed by a reload leaves no series behind. A depth the store cannot
//! give (unavailable) is left out of that scrape rather than shown as 0.

use std::collections::BTreeMap;

use super::Metrics;
use crate::config::Config;
use crate::store::Store;

/// Set the state gauges of `metrics` from `store`, for `config`'s
/// connectors and users; `bound` is the bound sessions per connector
/// ([`crate::context::ConnectorStates::snapshot`]).
pub async fn sample<S: Store>(
    metrics: &Metrics,
    store: &S,
    config: &Config,
    bound: &BTreeMap<String, u32>,
) {
    metrics.queue_depth.reset();
    metrics.connector_up.reset();
    metrics.delivery_depth.reset();
    for name in config.connectors.keys() {
        let up = bound.get(name).is_some_and(|n| *n > 0);
        metrics
            .connector_up
            .with_label_values(&[name.as_str()])
            .set(i64::from(up));
        if let Ok(depth) = store.queue_depth(name).await {
            metrics
                .queue_depth
                .with_label_values(&[name.as_str()])
                .set(gauge_value(depth));
        }
    }
    for user in config.users.keys() {
        if let Ok(depth) = store.delivery_depth(user).await {
            metrics
                .delivery_depth
                .with_label_values(&[user.as_str()])
                .set(gauge_value(depth));
        }
    }
    if let Ok(depth) = store.callback_depth().await {
        metrics.callback_depth.set(gauge_value(depth));
    }
}

fn gauge_value(depth: u64) -> i64 {
    i64::try_from(depth).unwrap_or(i64::MAX)
}
