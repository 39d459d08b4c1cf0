//! Connectors: SMPP clients to the upstream SMSCs, one task per
//! `sessions` of each `[connector:*]`.
//!
//! A connector session binds (transceiver, or a transmitter and a
//! receiver), reconnects with a doubling back-off, takes messages from its
//! queue in the store, splits long content per the connector's `split`,
//! submits each part within the window and the `submit_throughput` pace,
//! and settles each message in the store: sent (with its parts' upstream
//! ids, so receipts can find it), retried later on a temporary error
//! with a back-off that grows with the message's age, 1 s to 60 s
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

use tokio::task::JoinHandle;
use tracing::{Instrument, info_span};

use crate::context::Context;
use crate::store::Store;

pub use pace::Pace;

/// Start every configured connector's sessions, each in its span. They
/// stop at the context's connector shutdown, after settling what they
/// have in flight.
pub fn spawn_all<S: Store + Clone>(ctx: &Arc<Context<S>>) -> Vec<JoinHandle<()>> {
    let shutdown = ctx.shutdown.connectors();
    let config = ctx.config.load_full();
    let mut tasks = Vec::new();
    for c in config.connectors.values() {
        let pace = Arc::new(Pace::new(c.submit_throughput));
        let joiner = Arc::new(inbound::Joiner::default());
        for index in 0..c.sessions {
            let span = info_span!("connector", connector = %c.name, session = index);
            let session = worker::run(
                ctx.clone(),
                Arc::new(c.clone()),
                index,
                pace.clone(),
                joiner.clone(),
                shutdown.clone(),
            );
            tasks.push(tokio::spawn(session.instrument(span)));
        }
    }
    tasks
}

/// The key an upstream message id is mapped under, read per `format`:
/// with `hex` or `dec` its value (so `00000ABD` in hex and `2749` in
/// decimal are one key), with `auto` its normalised text (`auto` cannot
/// tell hex `10` from decimal `10`, so it never compares across bases).
pub fn upstream_id_key(id: &str, format: smpp::receipt::IdFormat) -> String {
    use smpp::receipt::{IdFormat, id_value, normalize_id};
    match format {
        IdFormat::Auto => normalize_id(id, format),
        _ => id_value(id, format)
            .map(|v| v.to_string())
            .unwrap_or_else(|| normalize_id(id, format)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use smpp::receipt::IdFormat::*;

    #[test]
    fn ids_are_keyed_by_value_in_a_known_base() {
        assert_eq!(
            upstream_id_key("00000ABD", Hex),
            upstream_id_key("abd", Hex)
        );
        assert_eq!(upstream_id_key("ABD", Hex), upstream_id_key("2749", Dec));
        assert_eq!(upstream_id_key("0042", Dec), upstream_id_key("42", Dec));
        assert_eq!(upstream_id_key("00AB", Auto), upstream_id_key("ab", Auto));
        assert_ne!(upstream_id_key("a", Auto), upstream_id_key("10", Auto));
        assert_eq!(upstream_id_key("Msg-1", Hex), "msg-1");
    }
}
