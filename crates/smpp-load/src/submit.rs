//! Submitting on one bind: a sender that keeps the window full and a
//! collector that takes the responses.
//!
//! The sender loops on [`Session::send_request`], whose wait for a window
//! slot is the back-pressure, and hands each pending response with its
//! send time to the collector. The collector awaits them all at once (in
//! whatever order they complete, so an SMSC that answers out of order is
//! measured right), records latencies and statuses, and registers accepted
//! message ids with the receipt [`Tracker`](crate::receipts::Tracker).
//! Neither task spawns anything per message nor copies message text.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;
use smpp::pdu::{Body, Pdu};
use smpp_session::{PendingResponse, Session, SessionError};
use tokio::sync::mpsc;
use tokio::time::Instant;
use tracing::debug;

use crate::receipts::Submitted;
use crate::run::Shared;
use crate::summary::Stats;

/// Submits taken from the rate schedule at a time.
const BATCH: u64 = 64;
/// Messages claimed from the --count budget at a time.
const CLAIM: u64 = 16;

/// A response on its way, with the time its submit_sm was handed to the
/// session.
pub(crate) struct Timed {
    response: PendingResponse,
    sent_at: Instant,
}

impl Future for Timed {
    type Output = (Result<Pdu<Bytes>, SessionError>, Instant);

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let sent_at = self.sent_at;
        Pin::new(&mut self.response)
            .poll(cx)
            .map(|result| (result, sent_at))
    }
}

/// Send submit_sm on `session` until the count, the duration or a stop
/// request ends the run. Returns messages started and submit_sm sent.
pub(crate) async fn sender(
    shared: Arc<Shared>,
    session: Session,
    responses: mpsc::UnboundedSender<Timed>,
    first_variant: usize,
) -> Stats {
    let mut stats = Stats::new();
    let mut variant = first_variant;
    // Messages claimed from the count and not started yet.
    let mut claimed = 0u64;
    // The next part of the current message; 0 when a new one is due.
    let mut part = 0usize;
    'run: loop {
        let budget = shared.pacer.take(BATCH).await;
        for _ in 0..budget {
            if part == 0 {
                if claimed == 0 {
                    claimed = shared.claim(CLAIM);
                }
                if claimed == 0 || !shared.may_start() {
                    break 'run;
                }
                claimed -= 1;
                variant = variant.wrapping_add(1);
                stats.messages += 1;
            }
            let parts = shared.plan.parts(variant);
            let Some(submit) = parts.get(part) else {
                break 'run;
            };
            match session.send_request(Body::SubmitSm(submit.clone())).await {
                Ok(response) => {
                    stats.sent += 1;
                    let sent_at = Instant::now();
                    if responses.send(Timed { response, sent_at }).is_err() {
                        break 'run;
                    }
                }
                Err(e) => {
                    debug!(error = %e, peer = session.peer(), "submit_sm not sent; this bind stops");
                    break 'run;
                }
            }
            part += 1;
            if part >= parts.len() {
                part = 0;
            }
        }
    }
    // Let the other binds send what this one claimed and did not start.
    shared.unclaim(claimed);
    stats
}

/// Take every response the sender hands over until it is done.
pub(crate) async fn collector(
    shared: Arc<Shared>,
    mut responses: mpsc::UnboundedReceiver<Timed>,
) -> Stats {
    let mut stats = Stats::new();
    let mut in_flight = FuturesUnordered::new();
    let mut open = true;
    loop {
        tokio::select! {
            biased;
            Some((result, sent_at)) = in_flight.next(), if !in_flight.is_empty() => {
                on_response(&shared, &mut stats, result, sent_at);
            }
            next = responses.recv(), if open => match next {
                Some(t) => {
                    in_flight.push(t);
                    while let Ok(t) = responses.try_recv() {
                        in_flight.push(t);
                    }
                }
                None => open = false,
            },
            else => break,
        }
    }
    stats
}

fn on_response(
    shared: &Shared,
    stats: &mut Stats,
    result: Result<Pdu<Bytes>, SessionError>,
    sent_at: Instant,
) {
    let now = Instant::now();
    match result {
        Ok(pdu) => {
            let status = pdu.command_status;
            stats.response(status, now.saturating_duration_since(sent_at), now);
            if let Some(i) = &shared.intervals {
                i.submit(now.saturating_duration_since(sent_at));
            }
            if !(status.is_ok() && shared.dlr) {
                return;
            }
            let id: &[u8] = match &pdu.body {
                Body::SubmitSmResp(r) => &r.message_id,
                _ => &[],
            };
            if let Submitted::Matched { received_at } = shared.tracker.submitted(id, sent_at) {
                stats.matched(received_at.saturating_duration_since(sent_at), received_at);
                if let Some(i) = &shared.intervals {
                    i.receipt(received_at.saturating_duration_since(sent_at));
                }
            }
        }
        Err(SessionError::Timeout) => stats.timeouts += 1,
        Err(e) => {
            debug!(error = %e, "submit_sm got no response");
            stats.failed += 1;
        }
    }
}
