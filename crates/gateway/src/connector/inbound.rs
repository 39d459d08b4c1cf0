//! What an upstream SMSC sends a connector: receipts and MO messages
//! (deliver_sm or data_sm). Each is answered only once the store has it,
//! so an SMSC that gets no ESME_ROK sends it again and nothing is lost:
//!
//! - a receipt is parsed (TLVs first, the text otherwise), its id
//!   normalised per the connector's `id_format` and handed to
//!   [`Store::receipt`] (which matches it to its message, or holds it
//!   until the message's mapping exists); an unreadable receipt is
//!   answered ESME_ROK and logged (sending it again cannot help);
//! - an MO goes through the mo-routes to a user's delivery queue (or, for
//!   a user with an `mo_url`, to the callback queue as an HTTP call with
//!   Jasmin's MO parameters, [`crate::jasmin::mo_call`]); a user
//!   with `mo_reassemble` gets the parts of a concatenated MO joined into
//!   one deliver_sm (parts are joined across the connector's sessions and
//!   answered, each on its own session, once the whole is stored; parts
//!   still incomplete after [`REASSEMBLY_TIMEOUT`] go as they came; an
//!   SMSC that waits for each answer before sending the next part —
//!   window 1 — therefore gets its parts through only after that
//!   timeout); an MO no route takes is answered ESME_RX_R_APPN and
//!   logged.
//!
//! A store that cannot be reached gets ESME_RX_T_APPN (temporary: the
//! SMSC retries).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;
use smpp::CommandStatus;
use smpp::pdu::{Body, DeliverSm, DeliverSmResp, Pdu};
use smpp::reassembly::{Config as ReassemblyConfig, Outcome, Reassembler};
use smpp::receipt::Receipt;
use smpp::text::Encoding;
use smpp::tlv::{TlvTag, TlvsBuilder};
use smpp::udh::Udh;
use smpp_session::{Event, Session};
use tokio::sync::mpsc;
use tracing::{Instrument, debug, info, warn};

use crate::config::Connector;
use crate::context::Context;
use crate::router::MoContext;
use crate::store::{DeliveryItem, PartReceipt, Store, now_us};

/// Inbound requests of one session handled at once.
const IN_FLIGHT: usize = 128;
/// How long the parts of a concatenated MO wait for the rest.
pub const REASSEMBLY_TIMEOUT: Duration = Duration::from_secs(10);

/// Parts of concatenated MO being joined: (user, source, destination,
/// reference).
type Key = (String, Bytes, Bytes, u16);

/// A connector's reassembly state, shared by its sessions (an SMSC
/// spreads the parts of one MO over its binds): the joiner and the held
/// parts' PDUs with the session each came on (to answer there, or to pass
/// through when the message never completes).
pub struct Joiner(Mutex<Joining>);

/// A part held for reassembly and the session to answer it on.
type HeldPart = (Session, Pdu<Bytes>);

struct Joining {
    joiner: Reassembler<Key>,
    pdus: HashMap<Key, Vec<HeldPart>>,
    /// Copies of held parts the SMSC sent again (its response timer ran
    /// out, or the session they came on dropped): answered with the
    /// message, never stored, so nothing is acknowledged before it is
    /// stored.
    echoes: HashMap<Key, Vec<HeldPart>>,
}

/// The parts of a message that will not be joined: the held ones and the
/// copies sent again.
type Unjoined = (Vec<HeldPart>, Vec<HeldPart>);

impl Default for Joiner {
    fn default() -> Self {
        Joiner(Mutex::new(Joining {
            joiner: Reassembler::new(ReassemblyConfig {
                timeout: REASSEMBLY_TIMEOUT,
                max_pending: 10_000,
            }),
            pdus: HashMap::new(),
            echoes: HashMap::new(),
        }))
    }
}

/// Handle what the SMSC sends on `session` until it closes.
pub(super) fn spawn<S: Store>(
    ctx: Arc<Context<S>>,
    c: Arc<Connector>,
    session: Session,
    mut events: mpsc::Receiver<Event>,
    joining: Arc<Joiner>,
) {
    tokio::spawn(async move {
        let mut inflight = FuturesUnordered::new();
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        loop {
            tokio::select! {
                ev = events.recv(), if inflight.len() < IN_FLIGHT => {
                    let Some(Event::Request(pdu)) = ev else { break };
                    inflight.push(handle(ctx.clone(), c.clone(), session.clone(), joining.clone(), *pdu));
                }
                Some(()) = inflight.next(), if !inflight.is_empty() => {}
                _ = tick.tick() => {
                    let expired = expire(&joining, Instant::now());
                    for (user, pdus) in expired {
                        let (ctx, c) = (ctx.clone(), c.clone());
                        inflight.push(Box::pin(async move {
                            pass_through(&ctx, &c, &user, pdus).await;
                        }));
                    }
                }
            }
        }
        while inflight.next().await.is_some() {}
    }.in_current_span());
}

/// The parts of messages that did not complete in time: (user, parts).
fn expire(joining: &Joiner, now: Instant) -> Vec<(String, Unjoined)> {
    let Ok(mut j) = joining.0.lock() else {
        return Vec::new();
    };
    let gone = j.joiner.expire(now);
    gone.into_iter()
        .map(|p| {
            let parts = j.pdus.remove(&p.key).unwrap_or_default();
            let echoes = j.echoes.remove(&p.key).unwrap_or_default();
            (p.key.0, (parts, echoes))
        })
        .collect()
}

type Handled = std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>;

fn handle<S: Store>(
    ctx: Arc<Context<S>>,
    c: Arc<Connector>,
    session: Session,
    joining: Arc<Joiner>,
    pdu: Pdu<Bytes>,
) -> Handled {
    Box::pin(async move {
        let d = match mo_of(&pdu) {
            Some(d) => d,
            None => {
                let _ = session
                    .respond_error(&pdu, CommandStatus::ESME_RINVCMDID)
                    .await;
                return;
            }
        };
        let status = if d.esm_class.is_receipt() || d.tlvs.receipted_message_id().is_some() {
            receipt(&ctx, &c, &d).await
        } else {
            match mo(&ctx, &c, &session, &joining, &d, &pdu).await {
                Some(s) => s,
                // Held for reassembly: answered with the whole message.
                None => return,
            }
        };
        answer(&session, &pdu, status).await;
    })
}

async fn answer(session: &Session, pdu: &Pdu<Bytes>, status: CommandStatus) {
    let body = match pdu.body {
        Body::DataSm(_) => Body::DataSmResp(DeliverSmResp::default()),
        _ => Body::DeliverSmResp(DeliverSmResp::default()),
    };
    let _ = session.respond(pdu.sequence_number, status, body).await;
}

async fn receipt<S: Store>(ctx: &Context<S>, c: &Connector, d: &DeliverSm<Bytes>) -> CommandStatus {
    let r = match Receipt::from_tlvs(&d.short_message, &d.tlvs) {
        Ok(r) => r,
        Err(e) => {
            warn!(error = %e, "unreadable receipt from upstream; dropped");
            return CommandStatus::ESME_ROK;
        }
    };
    let upstream_id = super::upstream_id_key(&r.id, c.id_format);
    let error_code = r
        .network_error
        .map(|n| n.error_code)
        .or_else(|| r.err.as_deref().and_then(|e| e.trim().parse().ok()))
        .unwrap_or(0);
    let part = PartReceipt {
        state: r.stat,
        error_code,
        done_ms: now_us() / 1000,
    };
    match ctx
        .store
        .receipt(&c.name, &upstream_id, part, c.dlr_expiry)
        .await
    {
        Ok(outcome) => {
            debug!(upstream_id, ?outcome, "receipt");
            CommandStatus::ESME_ROK
        }
        Err(e) => {
            if store_warning_due() {
                warn!(error = %e, "cannot store receipts; the SMSC will send them again");
            }
            CommandStatus::ESME_RX_T_APPN
        }
    }
}

/// What reassembly made of a part.
enum Step {
    /// Held until the rest comes (answered then).
    Hold,
    /// The last part: the joined payload and the held parts' PDUs.
    Whole(Vec<u8>, Vec<HeldPart>),
    /// Not a usable concatenation: it goes as it came.
    Alone,
}

/// Route an MO and queue it; None when the part is held for reassembly.
async fn mo<S: Store>(
    ctx: &Context<S>,
    c: &Connector,
    session: &Session,
    joining: &Joiner,
    d: &DeliverSm<Bytes>,
    pdu: &Pdu<Bytes>,
) -> Option<CommandStatus> {
    let concat = concat_of(d);
    let text = match &concat {
        Some((.., text)) => text.as_slice(),
        None => d.body(),
    };
    let Some(user) = route(ctx, c, d, text) else {
        info!(
            source = %String::from_utf8_lossy(&d.source.addr),
            destination = %String::from_utf8_lossy(&d.destination.addr),
            "no mo-route takes this MO; refused"
        );
        return Some(CommandStatus::ESME_RX_R_APPN);
    };
    let reassemble = ctx
        .config
        .load()
        .users
        .get(&user)
        .is_some_and(|u| u.mo_reassemble);
    let (true, Some((reference, total, seq, text))) = (reassemble, concat) else {
        return Some(store_mo(ctx, c, &user, d.clone()).await);
    };
    let key: Key = (
        user.clone(),
        d.source.addr.clone(),
        d.destination.addr.clone(),
        reference,
    );
    let (step, displaced) = {
        let Ok(mut j) = joining.0.lock() else {
            return Some(CommandStatus::ESME_RX_T_APPN);
        };
        match j
            .joiner
            .push(key.clone(), total, seq, &text, Instant::now())
        {
            Err(_) => (Step::Alone, None),
            Ok(pushed) => {
                let displaced = pushed.dropped.map(|p| {
                    let parts = j.pdus.remove(&p.key).unwrap_or_default();
                    let echoes = j.echoes.remove(&p.key).unwrap_or_default();
                    (parts, echoes)
                });
                let step = match pushed.outcome {
                    Outcome::Complete(payload) => {
                        let mut parts = j.pdus.remove(&key).unwrap_or_default();
                        parts.extend(j.echoes.remove(&key).unwrap_or_default());
                        Step::Whole(payload, parts)
                    }
                    Outcome::Incomplete { .. } => {
                        j.pdus
                            .entry(key)
                            .or_default()
                            .push((session.clone(), pdu.clone()));
                        Step::Hold
                    }
                    Outcome::Duplicate => {
                        j.echoes
                            .entry(key)
                            .or_default()
                            .push((session.clone(), pdu.clone()));
                        Step::Hold
                    }
                };
                (step, displaced)
            }
        }
    };
    if let Some(pdus) = displaced {
        // Superseded or evicted: its parts go as they came.
        pass_through(ctx, c, &user, pdus).await;
    }
    match step {
        Step::Hold => None,
        Step::Alone => Some(store_mo(ctx, c, &user, d.clone()).await),
        Step::Whole(payload, parts) => {
            let status = store_mo(ctx, c, &user, joined(d, payload)).await;
            for (s, p) in &parts {
                answer(s, p, status).await;
            }
            Some(status)
        }
    }
}

/// The user the mo-routes give an MO to; `text` is its text's bytes (a
/// concatenated part's without its UDH).
fn route<S: Store>(
    ctx: &Context<S>,
    c: &Connector,
    d: &DeliverSm<Bytes>,
    text: &[u8],
) -> Option<String> {
    let text = Encoding::from_data_coding(d.data_coding.0).decode(text);
    let source = String::from_utf8_lossy(&d.source.addr);
    let destination = String::from_utf8_lossy(&d.destination.addr);
    ctx.router
        .load()
        .route_mo(&MoContext {
            connector: &c.name,
            source_addr: &source,
            destination_addr: &destination,
            text: &text,
            tags: &[],
            now: now_us() / 1_000_000,
        })
        .map(|u| u.to_string())
}

/// A concatenated part's (reference, total, seq, text without UDH), from
/// its UDH or SAR TLVs.
fn concat_of(d: &DeliverSm<Bytes>) -> Option<(u16, u8, u8, Vec<u8>)> {
    let body = d.body();
    if d.esm_class.udhi() {
        let udh = Udh::parse(body).ok()?;
        let c = udh.concat()?;
        return Some((
            c.reference.value(),
            c.total,
            c.seq,
            body[udh.payload_offset()..].to_vec(),
        ));
    }
    let t = &d.tlvs;
    Some((
        t.sar_msg_ref_num()?,
        t.sar_total_segments()?,
        t.sar_segment_seqnum()?,
        body.to_vec(),
    ))
}

/// The whole message from its first-seen part's fields and the joined
/// text, in message_payload.
fn joined(d: &DeliverSm<Bytes>, payload: Vec<u8>) -> DeliverSm<Bytes> {
    let mut tlvs = TlvsBuilder::new();
    tlvs.push(TlvTag::MESSAGE_PAYLOAD, &payload);
    DeliverSm {
        esm_class: d.esm_class.with_udhi(false),
        short_message: Bytes::new(),
        tlvs: tlvs.build(),
        ..d.clone()
    }
}

/// The deliver_sm an upstream request carries.
fn mo_of(pdu: &Pdu<Bytes>) -> Option<DeliverSm<Bytes>> {
    match &pdu.body {
        Body::DeliverSm(d) => Some(d.clone()),
        Body::DataSm(d) => Some(DeliverSm::from(d.clone())),
        _ => None,
    }
}

/// Store and answer parts that will not be joined, each as it came.
async fn pass_through<S: Store>(
    ctx: &Context<S>,
    c: &Connector,
    user: &str,
    (pdus, echoes): Unjoined,
) {
    let mut all = CommandStatus::ESME_ROK;
    for (session, p) in pdus {
        let status = match mo_of(&p) {
            Some(d) => store_mo(ctx, c, user, d).await,
            None => CommandStatus::ESME_RX_R_APPN,
        };
        if status == CommandStatus::ESME_RX_T_APPN {
            all = status;
        }
        answer(&session, &p, status).await;
    }
    // The copies: stored with their originals (or to be sent again).
    for (session, p) in echoes {
        answer(&session, &p, all).await;
    }
}

async fn store_mo<S: Store>(
    ctx: &Context<S>,
    c: &Connector,
    user: &str,
    mut d: DeliverSm<Bytes>,
) -> CommandStatus {
    // An MO asks the user for nothing back.
    d.registered_delivery = Default::default();
    let to_url = ctx
        .config
        .load()
        .users
        .get(user)
        .and_then(|u| u.mo_url.clone().map(|url| (url, u.mo_method)));
    let stored = match to_url {
        // A user with an mo_url gets it as an HTTP call (the callback
        // queue), with an id of its own that every retry carries.
        Some((url, method)) => {
            let id = uuid::Uuid::new_v4().to_string();
            let call = crate::jasmin::mo_call(&url, method, &id, &c.name, &d);
            ctx.store.queue_callback(&call, c.dlr_expiry).await
        }
        None => {
            ctx.store
                .deliver(user, &DeliveryItem::Mo(d), c.dlr_expiry)
                .await
        }
    };
    match stored {
        Ok(()) => {
            ctx.metrics.mo(user);
            CommandStatus::ESME_ROK
        }
        Err(e) => {
            if store_warning_due() {
                warn!(error = %e, "cannot store MO; the SMSC will send them again");
            }
            CommandStatus::ESME_RX_T_APPN
        }
    }
}

/// Whether a "store unavailable" warning may be logged now: one a second
/// at most, however fast the SMSC resends.
fn store_warning_due() -> bool {
    use std::sync::atomic::{AtomicI64, Ordering};
    static LAST: AtomicI64 = AtomicI64::new(0);
    let now = now_us() / 1_000_000;
    LAST.swap(now, Ordering::Relaxed) != now
}
