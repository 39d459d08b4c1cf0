//! The expiry sweep, one task per connector: every second it ends what
//! is past its time in the connector's two expiry indexes (see
//! [`Store::expire_waiting`] and [`Store::expire_unanswered`]) — messages
//! still waiting for it past their validity (EXPIRED, refunded, while
//! the connector is down as much as up) and messages it sent whose final
//! receipts did not all come within its `dlr_expiry` (its
//! `dlr_expiry_state`) — so that every accepted message reaches a final
//! state and its user gets one final receipt, whatever the SMSC does.
//!
//! Every tern that runs the connector sweeps it; the store's steps are
//! atomic and each message is ended once.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tracing::{info, warn};

use crate::config::Connector;
use crate::context::Context;
use crate::metrics::labels::ExpiryReason;
use crate::store::Store;

/// How often the sweep looks.
const EVERY: Duration = Duration::from_secs(1);
/// Messages one store call ends at most; a sweep goes on while calls
/// end this many.
const BATCH: usize = 256;

pub(super) async fn sweep<S: Store>(
    ctx: Arc<Context<S>>,
    c: Arc<Connector>,
    mut stop: watch::Receiver<bool>,
) {
    let mut tick = tokio::time::interval(EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stop.wait_for(|s| *s) => return,
        }
        once(&ctx, &c).await;
    }
}

/// One sweep of both indexes, until neither has anything due.
async fn once<S: Store>(ctx: &Context<S>, c: &Connector) {
    let store = &ctx.store;
    loop {
        let waiting = store.expire_waiting(&c.name, BATCH, c.dlr_expiry).await;
        let unanswered = store
            .expire_unanswered(&c.name, c.dlr_expiry_state, BATCH, c.dlr_expiry)
            .await;
        let mut more = false;
        for (r, reason) in [
            (waiting, ExpiryReason::Validity),
            (unanswered, ExpiryReason::NoReceipt),
        ] {
            match r {
                Ok(0) => {}
                Ok(n) => {
                    info!(
                        count = n,
                        reason = reason.as_str(),
                        "messages expired and their final receipts queued"
                    );
                    ctx.metrics.expired(&c.name, reason, n);
                    more |= n as usize >= BATCH;
                }
                Err(e) => warn!(error = %e, "expiry sweep: store unavailable"),
            }
        }
        if !more {
            return;
        }
    }
}
