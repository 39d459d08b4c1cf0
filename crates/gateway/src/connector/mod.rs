//! Connectors: SMPP clients to the upstream SMSCs, one task per
//! `sessions` of each `[connector:*]`.
//!
//! A connector session binds (transceiver, or a transmitter and a
//! receiver), reconnects with a doubling back-off, takes messages from its
//! queue in the store, splits long content per the connector's `split`,
//! submits each part within the window and the `submit_throughput` pace,
//! and settles each message in the store: sent (with its parts' upstream
//! ids, so receipts can find it), retried later on a temporary error
//! (ESME_RTHROTTLED also slows the pace), or failed with a refund on a
//! permanent one.
//!
//! Receipts and MO arriving on these sessions are handled by [`inbound`]:
//! stored (receipts matched to their message, MO routed to a user's
//! delivery queue) before they are answered.

pub mod inbound;
mod pace;
mod worker;

use std::sync::Arc;

use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::server::Gateway;
use crate::store::Store;

pub use pace::Pace;

/// Start every configured connector's sessions. They stop when
/// `shutdown` turns true, after settling what they have in flight.
pub fn spawn_all<S: Store + Clone>(
    gw: &Arc<Gateway<S>>,
    shutdown: watch::Receiver<bool>,
) -> Vec<JoinHandle<()>> {
    let config = gw.config.load_full();
    let mut tasks = Vec::new();
    for c in config.connectors.values() {
        let pace = Arc::new(Pace::new(c.submit_throughput));
        for index in 0..c.sessions {
            tasks.push(tokio::spawn(worker::run(
                gw.clone(),
                Arc::new(c.clone()),
                index,
                pace.clone(),
                shutdown.clone(),
            )));
        }
    }
    tasks
}
