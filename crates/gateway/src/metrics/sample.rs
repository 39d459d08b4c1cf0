//! The gauges that are state, not events, read when a scrape comes: each
//! configured connector's queue depth and whether it is bound, each
//! configured user's delivery-queue depth, the callback queue's depth.
//!
//! The store is asked once per connector and per user, so a scrape costs
//! what the configuration holds, and only names of the configuration
//! become labels: the gauges are cleared first, so a connector or user
//! removed by a reload leaves no series behind. When the store does not
//! answer, the depths are left out of that scrape (not shown as 0), and
//! it is not asked again in that scrape: a scrape of a gateway whose
//! store is down waits for one failed read, not one per name.

use std::collections::BTreeMap;

use super::Metrics;
use crate::config::Config;
use crate::store::{Store, StoreError};

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
    metrics.callback_depth.reset();
    for name in config.connectors.keys() {
        let up = bound.get(name).is_some_and(|n| *n > 0);
        metrics
            .connector_up
            .with_label_values(&[name.as_str()])
            .set(i64::from(up));
    }
    if let Err(e) = depths(metrics, store, config).await {
        tracing::debug!(error = %e, "store unavailable; queue depths left out of this scrape");
    }
}

/// The store's depths into the gauges; stops at the first read that fails.
async fn depths<S: Store>(metrics: &Metrics, store: &S, config: &Config) -> Result<(), StoreError> {
    for name in config.connectors.keys() {
        let depth = store.queue_depth(name).await?;
        metrics
            .queue_depth
            .with_label_values(&[name.as_str()])
            .set(gauge_value(depth));
    }
    for user in config.users.keys() {
        let depth = store.delivery_depth(user).await?;
        metrics
            .delivery_depth
            .with_label_values(&[user.as_str()])
            .set(gauge_value(depth));
    }
    let depth = store.callback_depth().await?;
    metrics
        .callback_depth
        .with_label_values::<&str>(&[])
        .set(gauge_value(depth));
    Ok(())
}

fn gauge_value(depth: u64) -> i64 {
    i64::try_from(depth).unwrap_or(i64::MAX)
}
