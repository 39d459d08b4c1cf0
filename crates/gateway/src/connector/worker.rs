//! One connector session: dial (TCP, or TLS with `tls = yes`), bind, take,
//! submit, settle; reconnect on loss.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;
use smpp::pdu::{Bind, BindResp, Body, Limits, RegisteredDelivery, SubmitSm};
use smpp::split::{Method, split_encoded};
use smpp::text::Encoding;
use smpp::{CommandStatus, MessageState};
use smpp_session::{BindMode, Event, Session, SessionConfig, SessionError, esme, tls};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc, watch};
use tracing::{Instrument, debug, info, warn};

use super::{Pace, inbound, reroute};
use crate::config::{Connector, ConnectorBind};
use crate::context::Context;
use crate::metrics::Upstream;
use crate::metrics::labels::RerouteReason;
use crate::settle::retrying;
use crate::store::{Store, StoredMessage, Taken, now_us};

/// The shortest and longest wait before a temporarily failed message is
/// tried again (see [`retry_delay`]).
const RETRY_MIN: Duration = Duration::from_secs(1);
const RETRY_MAX: Duration = Duration::from_secs(60);
/// The longest pause between reconnection attempts.
const MAX_RECONNECT_DELAY: Duration = Duration::from_secs(60);

/// The bound sessions of one connector session: a transceiver, or a
/// transmitter and a receiver.
struct Link {
    tx: Session,
    rx: Option<Session>,
}

pub(super) async fn run<S: Store + Clone>(
    ctx: Arc<Context<S>>,
    c: Arc<Connector>,
    index: u32,
    pace: Arc<Pace>,
    joiner: Arc<inbound::Joiner>,
    mut shutdown: watch::Receiver<bool>,
) {
    // Stable across restarts: a restarted process resends at once
    // what it had taken (see Store::take); each tern on one Redis
    // needs its own [smpp-server] id.
    let consumer = format!("{}-{}", ctx.config.load().smpp_server.id, index);
    if c.tls.as_ref().is_some_and(|t| !t.verify()) {
        warn!("tls_verify = no: the upstream's certificate is not checked");
    }
    let mut delay = c.reconnect_delay.max(Duration::from_millis(100));
    loop {
        if *shutdown.borrow() {
            return;
        }
        match connect(&ctx, &c, &joiner).await {
            Ok(link) => {
                info!(addr = %format!("{}:{}", c.host, c.port), "bound");
                let _up = ctx.connectors.up(&c.name);
                delay = c.reconnect_delay.max(Duration::from_millis(100));
                let upstream = ctx.metrics.upstream(&c.name);
                serve(&ctx, &c, &link, &pace, &consumer, &upstream, &mut shutdown).await;
                let _ = link.tx.unbind().await;
                if let Some(rx) = &link.rx {
                    let _ = rx.unbind().await;
                }
                if *shutdown.borrow() {
                    return;
                }
                warn!("session lost; reconnecting");
            }
            Err(e) => warn!(error = %e, retry_in = ?delay, "bind failed"),
        }
        tokio::select! {
            _ = tokio::time::sleep(delay) => {}
            _ = shutdown.changed() => {}
        }
        delay = (delay * 2).min(MAX_RECONNECT_DELAY);
    }
}

async fn connect<S: Store>(
    ctx: &Arc<Context<S>>,
    c: &Arc<Connector>,
    joiner: &Arc<inbound::Joiner>,
) -> Result<Link, SessionError> {
    let addr = format!("{}:{}", c.host, c.port);
    let config = SessionConfig {
        session_init_timer: None,
        enquire_link_timer: Some(c.enquire_link).filter(|d| !d.is_zero()),
        inactivity_timer: None,
        response_timer: c.response_timeout,
        window: c.window as usize,
        limits: Limits::JASMIN,
        ..SessionConfig::default()
    };
    let bind = Bind {
        system_id: Bytes::copy_from_slice(c.username.as_bytes()),
        password: Bytes::copy_from_slice(c.password.expose().as_bytes()),
        system_type: Bytes::copy_from_slice(c.system_type.as_bytes()),
        interface_version: 0x34,
        ..Default::default()
    };
    match c.bind {
        ConnectorBind::Transceiver => {
            let (tx, events, _) = dial(c, &addr, BindMode::Transceiver, bind, config).await?;
            inbound::spawn(ctx.clone(), c.clone(), tx.clone(), events, joiner.clone());
            Ok(Link { tx, rx: None })
        }
        ConnectorBind::TransmitterAndReceiver => {
            let (tx, tx_events, _) = dial(
                c,
                &addr,
                BindMode::Transmitter,
                bind.clone(),
                config.clone(),
            )
            .await?;
            inbound::spawn(
                ctx.clone(),
                c.clone(),
                tx.clone(),
                tx_events,
                joiner.clone(),
            );
            let (rx, rx_events, _) = match dial(c, &addr, BindMode::Receiver, bind, config).await {
                Ok(r) => r,
                Err(e) => {
                    let _ = tx.unbind().await;
                    return Err(e);
                }
            };
            inbound::spawn(
                ctx.clone(),
                c.clone(),
                rx.clone(),
                rx_events,
                joiner.clone(),
            );
            Ok(Link { tx, rx: Some(rx) })
        }
    }
}

/// Connect to the upstream, over TLS with `tls = yes`, and bind.
async fn dial(
    c: &Connector,
    addr: &str,
    mode: BindMode,
    bind: Bind<Bytes>,
    config: SessionConfig,
) -> Result<(Session, mpsc::Receiver<Event>, BindResp<Bytes>), SessionError> {
    let Some(t) = &c.tls else {
        return esme::connect(addr, mode, bind, config).await;
    };
    // Checked when the configuration was read; an error here is the
    // bind's (logged, retried).
    let tls = t
        .connector()
        .map_err(|e| SessionError::Tls(e.to_string()))?;
    let name = tls::server_name(&t.server_name).map_err(|e| SessionError::Tls(e.to_string()))?;
    esme::connect_tls(addr, &tls, name, mode, bind, config).await
}

/// A taken message and its place in the window: the permit is released
/// when the message is settled.
type InWindow = (Taken, OwnedSemaphorePermit);

/// Take and submit until the session is lost or tern stops.
///
/// Taking runs in a task of its own, so a take (a blocking stream read on
/// redis) is never cancelled half-way by a submit finishing. The window's
/// permits bound everything taken and not yet settled, and the pace is
/// waited for before a message is taken, not after: a taken message goes
/// upstream at once, so it is settled long before another consumer could
/// reclaim it ([`crate::store::RECLAIM_AFTER_MS`]). What was taken and not
/// submitted when the session ends is given back to the queue.
async fn serve<S: Store + Clone>(
    ctx: &Arc<Context<S>>,
    c: &Arc<Connector>,
    link: &Link,
    pace: &Arc<Pace>,
    consumer: &str,
    upstream: &Upstream,
    shutdown: &mut watch::Receiver<bool>,
) {
    let window = Arc::new(Semaphore::new(c.window.max(1) as usize));
    let (tx, mut rx) = mpsc::channel::<InWindow>(c.window.max(1) as usize);
    let taker = tokio::spawn(
        take_into(
            ctx.clone(),
            c.clone(),
            consumer.to_string(),
            pace.clone(),
            window.clone(),
            tx,
        )
        .in_current_span(),
    );
    let rx_closed = async {
        match &link.rx {
            Some(rx) => {
                rx.closed().await;
            }
            None => std::future::pending::<()>().await,
        }
    };
    tokio::pin!(rx_closed);
    let mut inflight = FuturesUnordered::new();
    loop {
        if *shutdown.borrow() {
            break;
        }
        tokio::select! {
            _ = shutdown.changed() => break,
            _ = link.tx.closed() => break,
            _ = &mut rx_closed => break,
            Some(()) = inflight.next(), if !inflight.is_empty() => {}
            t = rx.recv() => match t {
                Some((t, permit)) => inflight.push(submit(ctx.clone(), c.clone(), link.tx.clone(), pace.clone(), upstream.clone(), t, permit)),
                None => break,
            },
        }
    }
    // Settle what is in flight, give back what was taken but not sent.
    while inflight.next().await.is_some() {}
    rx.close();
    while let Some((t, _permit)) = rx.recv().await {
        settle(ctx.store.retry(&c.name, &t, Duration::ZERO).await, &t);
    }
    window.close();
    let _ = taker.await;
}

/// Take messages while the window has room; stop when the channel closes.
async fn take_into<S: Store>(
    ctx: Arc<Context<S>>,
    c: Arc<Connector>,
    consumer: String,
    pace: Arc<Pace>,
    window: Arc<Semaphore>,
    tx: mpsc::Sender<InWindow>,
) {
    loop {
        let Ok(first) = window.clone().acquire_owned().await else {
            return;
        };
        if tx.is_closed() {
            return;
        }
        let mut permits = vec![first];
        if pace.rate().is_finite() {
            // Paced: one message at a time, taken when it may go.
            pace.wait().await;
        } else {
            while let Ok(p) = window.clone().try_acquire_owned() {
                permits.push(p);
            }
        }
        match ctx
            .store
            .take(&c.name, &consumer, permits.len(), Duration::from_secs(1))
            .await
        {
            Ok(taken) => {
                for t in taken {
                    let Some(permit) = permits.pop() else { break };
                    if let Err(e) = tx.send((t, permit)).await {
                        // The session ended meanwhile: give it back.
                        let (t, _permit) = e.0;
                        settle(ctx.store.retry(&c.name, &t, Duration::ZERO).await, &t);
                    }
                }
            }
            Err(e) => {
                if tx.is_closed() {
                    return;
                }
                warn!(error = %e, "store unavailable; retrying");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    }
}

/// What happened to a message's parts upstream.
enum Outcome {
    Sent(Vec<String>),
    Temporary {
        throttled: bool,
        why: String,
    },
    /// Refused for good; `partly_sent` when another part of the message
    /// was accepted (it is not sent again elsewhere then).
    Permanent {
        status: CommandStatus,
        partly_sent: bool,
    },
}

async fn submit<S: Store>(
    ctx: Arc<Context<S>>,
    c: Arc<Connector>,
    session: Session,
    pace: Arc<Pace>,
    upstream: Upstream,
    taken: Taken,
    _window: OwnedSemaphorePermit,
) {
    let m = &taken.message;
    // A message without a validity_period expires after the default one,
    // so a message that only ever meets temporary errors ends too.
    if m.valid_until() <= now_us() / 1000 {
        settle_with_retries(&ctx, &c, &taken, Settle::Fail(MessageState::Expired, 0)).await;
        return;
    }
    let parts = match parts(&m.submit, c.split, reference(&m.id)) {
        Ok(mut p) => {
            // Always ask upstream for the final receipt: the message's
            // state (query_sm) depends on it; the user gets what its own
            // registered_delivery asks for (the store decides).
            let rd = RegisteredDelivery((m.submit.registered_delivery.0 & 0x10) | 0x01);
            for part in &mut p {
                part.registered_delivery = rd;
            }
            p
        }
        Err(e) => {
            warn!(message = %m.id, error = %e, "cannot split for this connector");
            settle_with_retries(&ctx, &c, &taken, Settle::Fail(MessageState::Rejected, 0)).await;
            return;
        }
    };
    // Tries of failed parts stop well before another consumer could
    // reclaim the message (RECLAIM_AFTER_MS).
    let deadline =
        tokio::time::Instant::now() + Duration::from_millis(crate::store::RECLAIM_AFTER_MS / 3);
    let outcome = send_parts(
        &session,
        &pace,
        &upstream,
        parts,
        c.submit_id_format,
        deadline,
    )
    .await;
    let action = match outcome {
        Outcome::Sent(mut ids) => {
            // One key per part: an SMSC that answers the same id twice,
            // or none, must not leave the message waiting for a part
            // that cannot come.
            ids.retain(|i| !i.is_empty());
            ids.sort_unstable();
            ids.dedup();
            Settle::Sent(ids)
        }
        Outcome::Temporary { throttled, why } => {
            if throttled {
                pace.throttled();
            }
            debug!(message = %m.id, why, "temporary failure; retrying later");
            Settle::Retry(retry_delay(m.accepted_ms, now_us() / 1000))
        }
        Outcome::Permanent {
            status,
            partly_sent,
        } => {
            let next = if partly_sent {
                None
            } else {
                reroute::on_refusal(&ctx.config.load(), m, status)
            };
            match next {
                Some(next) => {
                    debug!(message = %m.id, %status, "refused upstream; its route moves it on");
                    Settle::Reroute(Box::new(next))
                }
                None => {
                    info!(message = %m.id, %status, "rejected upstream");
                    Settle::Fail(MessageState::Rejected, (status.0 & 0xff) as u8)
                }
            }
        }
    };
    settle_with_retries(&ctx, &c, &taken, action).await;
}

/// How a taken message is settled.
enum Settle {
    Sent(Vec<String>),
    Retry(Duration),
    Fail(MessageState, u8),
    /// On to the next connector of its route (`reroute_on`).
    Reroute(Box<StoredMessage>),
}

/// Settle in the store, trying again for up to a third of the reclaim
/// time ([`crate::settle::SETTLE_FOR`]) when the store does not answer
/// (every settle is safe to repeat): a message left taken is only taken
/// again after the reclaim time, and sent twice.
async fn settle_with_retries<S: Store>(
    ctx: &Context<S>,
    c: &Connector,
    taken: &Taken,
    action: Settle,
) {
    let store = &ctx.store;
    // Whether a reroute moved it (the others: false).
    let result = retrying(|| async {
        match &action {
            Settle::Sent(ids) => store
                .sent(&c.name, taken, ids, c.dlr_expiry)
                .await
                .map(|()| false),
            Settle::Retry(delay) => store.retry(&c.name, taken, *delay).await.map(|()| false),
            Settle::Fail(state, code) => store
                .fail(&c.name, taken, *state, *code, c.dlr_expiry)
                .await
                .map(|()| false),
            Settle::Reroute(next) => store.reroute(&c.name, taken, next).await,
        }
    })
    .await;
    match (result, &action) {
        (Ok(true), Settle::Reroute(next)) => {
            reroute::moved(ctx, &c.name, taken, next, RerouteReason::Refused)
        }
        (Ok(_), _) => {}
        (Err(e), _) => settle(Err(e), taken),
    }
}

/// The back-off of a temporarily failed message: half its age, between
/// [`RETRY_MIN`] and [`RETRY_MAX`]. It grows with every failed attempt
/// (roughly doubling: 1 s, 1 s, 2 s, 3 s, 5 s, … 60 s) without any count
/// to keep, and a restart does not reset it.
fn retry_delay(accepted_ms: i64, now_ms: i64) -> Duration {
    let half_age =
        Duration::from_millis(u64::try_from(now_ms.saturating_sub(accepted_ms) / 2).unwrap_or(0));
    half_age.clamp(RETRY_MIN, RETRY_MAX)
}

fn settle(result: Result<(), crate::store::StoreError>, taken: &Taken) {
    if let Err(e) = result {
        // Left taken: it is taken again after the reclaim time.
        warn!(message = %taken.message.id, error = %e, "cannot settle in the store");
    }
}

/// Submit every part; the upstream ids, or why not.
///
/// A message is settled as a whole, so once a part of a long message was
/// accepted a part that failed temporarily is sent again here, on its
/// own, up to [`PART_RETRIES`] times with a growing pause (throttling
/// clears in a second or two) rather than the whole message later. When
/// it still fails the whole message is retried later (the handset may
/// see a part twice; nothing is lost).
async fn send_parts(
    session: &Session,
    pace: &Pace,
    upstream: &Upstream,
    parts: Vec<SubmitSm<Bytes>>,
    id_format: smpp::receipt::IdFormat,
    deadline: tokio::time::Instant,
) -> Outcome {
    // Each part's answer future, and when it went out (for its timing).
    let mut pending = Vec::with_capacity(parts.len());
    for (i, p) in parts.iter().enumerate() {
        // The first part's turn was waited for before the message was taken.
        if i > 0 {
            pace.wait().await;
        }
        match session.send_request(Body::SubmitSm(p.clone())).await {
            Ok(r) => pending.push((r, std::time::Instant::now())),
            Err(e) => {
                return Outcome::Temporary {
                    throttled: false,
                    why: e.to_string(),
                };
            }
        }
    }
    let mut ids: Vec<Option<String>> = vec![None; parts.len()];
    let mut again = Vec::new();
    let mut outcome = None;
    for (i, (r, sent_at)) in pending.into_iter().enumerate() {
        let r = r.await;
        upstream.answered(answer_status(&r), sent_at.elapsed());
        match part_outcome(r, id_format) {
            Ok(id) => ids[i] = Some(id),
            Err(o @ Outcome::Temporary { .. }) => {
                again.push(i);
                outcome.get_or_insert(o);
            }
            Err(o) => outcome = Some(o),
        }
    }
    let some_accepted = ids.iter().any(Option::is_some);
    if matches!(outcome, Some(Outcome::Temporary { .. })) && some_accepted {
        outcome = None;
        for i in again {
            let mut last = None;
            for attempt in 1..=PART_RETRIES {
                match last {
                    Some(Outcome::Temporary {
                        throttled: true, ..
                    }) => pace.throttled(),
                    // Permanent: no use trying again.
                    Some(Outcome::Permanent { .. }) => break,
                    _ => {}
                }
                if tokio::time::Instant::now() >= deadline {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(500 * u64::from(attempt))).await;
                pace.wait().await;
                let r = match session.send_request(Body::SubmitSm(parts[i].clone())).await {
                    Ok(r) => {
                        let sent_at = std::time::Instant::now();
                        let r = r.await;
                        upstream.answered(answer_status(&r), sent_at.elapsed());
                        r
                    }
                    Err(e) => Err(e),
                };
                match part_outcome(r, id_format) {
                    Ok(id) => {
                        ids[i] = Some(id);
                        last = None;
                        break;
                    }
                    Err(o) => last = Some(o),
                }
            }
            if let Some(o) = last {
                outcome = Some(o);
                break;
            }
        }
    }
    match outcome {
        Some(Outcome::Permanent { status, .. }) => Outcome::Permanent {
            status,
            partly_sent: ids.iter().any(Option::is_some),
        },
        Some(o) => o,
        None => Outcome::Sent(ids.into_iter().flatten().collect()),
    }
}

/// Tries of a part of a long message that failed temporarily after
/// another part was accepted (see [`send_parts`]).
const PART_RETRIES: u32 = 3;

/// The status of a part's answer; None when it had none.
fn answer_status(r: &Result<smpp::pdu::Pdu<Bytes>, SessionError>) -> Option<CommandStatus> {
    r.as_ref().ok().map(|p| p.command_status)
}

/// One part's answer: its upstream id (keyed per `id_format`), or the
/// outcome it makes.
fn part_outcome(
    r: Result<smpp::pdu::Pdu<Bytes>, SessionError>,
    id_format: smpp::receipt::IdFormat,
) -> Result<String, Outcome> {
    match r {
        Ok(resp) if resp.command_status.is_ok() => match resp.body {
            Body::SubmitSmResp(r) => Ok(super::upstream_id_key(
                &String::from_utf8_lossy(&r.message_id),
                id_format,
            )),
            _ => Ok(String::new()),
        },
        Ok(resp) if resp.command_status.is_temporary() => Err(Outcome::Temporary {
            throttled: resp.command_status == CommandStatus::ESME_RTHROTTLED,
            why: resp.command_status.to_string(),
        }),
        Ok(resp) => Err(Outcome::Permanent {
            status: resp.command_status,
            partly_sent: false,
        }),
        Err(e) => Err(Outcome::Temporary {
            throttled: false,
            why: e.to_string(),
        }),
    }
}

/// A concatenation reference from the message id.
fn reference(id: &str) -> u16 {
    id.bytes()
        .fold(0u16, |h, b| h.wrapping_mul(31).wrapping_add(u16::from(b)))
}

/// The submit_sm parts of a message for a connector splitting with
/// `method`. A message the ESME split itself (UDHI) goes as it is.
fn parts(
    s: &SubmitSm<Bytes>,
    method: Method,
    reference: u16,
) -> Result<Vec<SubmitSm<Bytes>>, smpp::split::SplitError> {
    if s.esm_class.udhi() {
        return Ok(vec![s.clone()]);
    }
    let body = s.body();
    let encoding = Encoding::from_data_coding(s.data_coding.0);
    let template = SubmitSm {
        short_message: Bytes::new(),
        ..s.clone()
    };
    Ok(split_encoded(body, encoding, method, reference)?
        .iter()
        .map(|p| p.to_submit_sm(&template))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use smpp::tlv::{TlvTag, TlvsBuilder};

    #[test]
    fn retries_back_off_with_age() {
        assert_eq!(retry_delay(0, 0), RETRY_MIN);
        assert_eq!(retry_delay(0, 10_000), Duration::from_secs(5));
        assert_eq!(retry_delay(0, 3_600_000), RETRY_MAX);
        assert_eq!(retry_delay(10, 0), RETRY_MIN);
    }

    #[test]
    fn long_payloads_are_split_per_method() {
        let mut s = SubmitSm::<Bytes>::default();
        let mut t = TlvsBuilder::new();
        t.push(TlvTag::MESSAGE_PAYLOAD, &[b'a'; 400]);
        s.tlvs = t.build();
        let udh = parts(&s, Method::Udh8, 7).unwrap();
        assert_eq!(udh.len(), 3);
        assert!(
            udh.iter()
                .all(|p| p.esm_class.udhi() && p.tlvs.message_payload().is_none())
        );
        let sar = parts(&s, Method::Sar, 7).unwrap();
        assert_eq!(sar.len(), 3);
        assert_eq!(sar[2].tlvs.sar_segment_seqnum(), Some(3));
        let payload = parts(&s, Method::Payload, 7).unwrap();
        assert_eq!(payload.len(), 1);
        assert_eq!(
            payload[0].tlvs.message_payload().map(<[u8]>::len),
            Some(400)
        );
        let short = SubmitSm::<Bytes> {
            short_message: Bytes::from_static(b"hi"),
            ..Default::default()
        };
        assert_eq!(
            parts(&short, Method::Udh8, 7).unwrap()[0].short_message,
            Bytes::from_static(b"hi")
        );
    }
}
