//! The simulator's shared state: message records for query_sm/cancel_sm,
//! receipts owed to each system_id, and the receivers bound for it.
//!
//! A receipt or MO goes to one of the system_id's receiver sessions,
//! round-robin, through that session's deliverer. When none is bound, or
//! its deliver_sm fails, it is kept as owed and sent when one binds again,
//! as a real SMSC does.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use smpp::MessageState;
use smpp::pdu::{Body, DeliverSm, SubmitSm};
use smpp::receipt::{NetworkErrorCode, Receipt};
use smpp::time::ReceiptDate;
use smpp_session::Session;
use tokio::sync::{Notify, mpsc};
use tokio::time::Instant;
use tracing::Instrument;

use crate::cli::Args;
use crate::counters::{Counters, dec, inc};

/// A deliver_sm waiting to go to a receiver.
#[derive(Debug, Clone)]
pub struct Outgoing {
    pub body: DeliverSm<Bytes>,
    /// For a receipt: the message number, to turn it into DELETED if the
    /// message is cancelled before the receipt goes.
    pub message: Option<u64>,
}

/// A message as query_sm and cancel_sm see it.
#[derive(Debug, Clone)]
pub struct Record {
    pub id: u64,
    pub system_id: Arc<str>,
    pub final_at: Instant,
    pub final_unix: i64,
    pub state: MessageState,
    pub err: u16,
    pub cancelled: bool,
}

struct Receivers {
    deliverers: Vec<(u64, mpsc::Sender<Outgoing>)>,
    next: usize,
    owed: VecDeque<Outgoing>,
}

pub struct Sim {
    pub args: Args,
    pub counters: Counters,
    next_id: AtomicU64,
    next_deliverer: AtomicU64,
    records: Mutex<Vec<Option<Record>>>,
    receivers: Mutex<HashMap<Arc<str>, Receivers>>,
    delayed: Mutex<VecDeque<(Instant, Arc<str>, Outgoing)>>,
    delayed_notify: Notify,
    tps: Mutex<(u64, u64)>,
}

pub fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

impl Sim {
    pub fn new(args: Args) -> Arc<Sim> {
        let cap = args.remember.max(1);
        Arc::new(Sim {
            args,
            counters: Counters::default(),
            next_id: AtomicU64::new(1),
            next_deliverer: AtomicU64::new(1),
            records: Mutex::new(vec![None; cap]),
            receivers: Mutex::new(HashMap::new()),
            delayed: Mutex::new(VecDeque::new()),
            delayed_notify: Notify::new(),
            tps: Mutex::new((0, 0)),
        })
    }

    pub fn next_message(&self) -> u64 {
        self.next_id.fetch_add(1, Relaxed)
    }

    pub fn format_id(&self, n: u64) -> String {
        if self.args.id_format == "dec" {
            n.to_string()
        } else {
            format!("{n:x}")
        }
    }

    pub fn parse_id(&self, s: &[u8]) -> Option<u64> {
        let s = std::str::from_utf8(s).ok()?;
        if self.args.id_format == "dec" {
            s.parse().ok()
        } else {
            u64::from_str_radix(s, 16).ok()
        }
    }

    /// Over --max-tps in the current second?
    pub fn over_max_tps(&self) -> bool {
        let max = self.args.max_tps;
        if max == 0 {
            return false;
        }
        let second = unix_now() as u64;
        let Ok(mut w) = self.tps.lock() else {
            return false;
        };
        if w.0 != second {
            *w = (second, 0);
        }
        w.1 += 1;
        w.1 > max
    }

    pub fn remember(&self, r: Record) {
        if let Ok(mut recs) = self.records.lock() {
            let i = (r.id as usize) % recs.len();
            recs[i] = Some(r);
        }
    }

    /// The record for message `id`, if it is still remembered.
    pub fn record(&self, id: u64) -> Option<Record> {
        let recs = self.records.lock().ok()?;
        let n = recs.len();
        recs[(id as usize) % n]
            .as_ref()
            .filter(|r| r.id == id)
            .cloned()
    }

    /// Cancel message `id` for `system_id` if it is not final yet.
    pub fn cancel(&self, id: u64, system_id: &str, now: Instant) -> bool {
        let Ok(mut recs) = self.records.lock() else {
            return false;
        };
        let n = recs.len();
        match recs[(id as usize) % n].as_mut() {
            Some(r)
                if r.id == id && &*r.system_id == system_id && !r.cancelled && now < r.final_at =>
            {
                r.cancelled = true;
                r.state = MessageState::Deleted;
                r.final_at = now;
                r.final_unix = unix_now();
                true
            }
            _ => false,
        }
    }

    /// Send `out` to one of `system_id`'s receivers now, or owe it.
    pub fn dispatch(&self, system_id: &Arc<str>, out: Outgoing) {
        let Ok(mut map) = self.receivers.lock() else {
            return;
        };
        let entry = map.entry(system_id.clone()).or_insert_with(|| Receivers {
            deliverers: Vec::new(),
            next: 0,
            owed: VecDeque::new(),
        });
        let mut out = out;
        let n = entry.deliverers.len();
        for _ in 0..n {
            let i = entry.next % n;
            entry.next = entry.next.wrapping_add(1);
            match entry.deliverers[i].1.try_send(out) {
                Ok(()) => return,
                Err(e) => out = e.into_inner(),
            }
        }
        entry.owed.push_back(out);
        inc(&self.counters.receipts_owed);
    }

    /// Send `out` after `delay`.
    pub fn dispatch_later(&self, system_id: Arc<str>, out: Outgoing, delay: Duration) {
        if delay.is_zero() {
            return self.dispatch(&system_id, out);
        }
        if let Ok(mut q) = self.delayed.lock() {
            let at = Instant::now() + delay;
            // Delays are mostly one constant, so pushing at the back keeps
            // order; a retry with another delay is inserted in place.
            let pos = q
                .iter()
                .rposition(|(t, _, _)| *t <= at)
                .map_or(0, |p| p + 1);
            q.insert(pos, (at, system_id, out));
        }
        self.delayed_notify.notify_one();
    }

    /// Run the delayed-dispatch queue forever.
    pub async fn run_delayed(self: Arc<Self>) {
        loop {
            let next = self
                .delayed
                .lock()
                .ok()
                .and_then(|q| q.front().map(|d| d.0));
            match next {
                None => self.delayed_notify.notified().await,
                Some(at) if at > Instant::now() => {
                    tokio::select! {
                        _ = tokio::time::sleep_until(at) => {}
                        _ = self.delayed_notify.notified() => {}
                    }
                }
                Some(_) => {
                    let now = Instant::now();
                    let due: Vec<_> = match self.delayed.lock() {
                        Ok(mut q) => {
                            let k = q.iter().take_while(|d| d.0 <= now).count();
                            q.drain(..k).collect()
                        }
                        Err(_) => return,
                    };
                    for (_, sid, out) in due {
                        let out = self.deleted_if_cancelled(out);
                        self.dispatch(&sid, out);
                    }
                }
            }
        }
    }

    /// A receipt whose message was cancelled meanwhile says DELETED. It
    /// replaces the receipt `out.body`, whose addresses are the message's
    /// swapped: swapped back here, so the DELETED one comes from the
    /// handset like every receipt.
    fn deleted_if_cancelled(&self, out: Outgoing) -> Outgoing {
        let Some(n) = out.message else { return out };
        match self.record(n) {
            Some(r) if r.cancelled => {
                let message = SubmitSm {
                    service_type: out.body.service_type.clone(),
                    source: out.body.destination.clone(),
                    destination: out.body.source.clone(),
                    ..Default::default()
                };
                let receipt = receipt_body(
                    &self.format_id(n),
                    MessageState::Deleted,
                    0,
                    r.final_unix,
                    r.final_unix,
                    &message,
                    b"",
                    false,
                );
                Outgoing {
                    body: receipt,
                    message: Some(n),
                }
            }
            _ => out,
        }
    }

    /// A receiver bound for `system_id`: register its deliverer and hand it
    /// what is owed.
    pub fn register(self: &Arc<Self>, system_id: Arc<str>, session: Session) -> u64 {
        let key = self.next_deliverer.fetch_add(1, Relaxed);
        let (tx, rx) = mpsc::channel(4096);
        let owed: Vec<Outgoing> = match self.receivers.lock() {
            Ok(mut map) => {
                let e = map.entry(system_id.clone()).or_insert_with(|| Receivers {
                    deliverers: Vec::new(),
                    next: 0,
                    owed: VecDeque::new(),
                });
                e.deliverers.push((key, tx.clone()));
                e.owed.drain(..).collect()
            }
            Err(_) => Vec::new(),
        };
        for _ in &owed {
            dec(&self.counters.receipts_owed);
        }
        // Both serve the receiver session registering: they carry its span.
        tokio::spawn(deliverer(self.clone(), system_id.clone(), session, rx).in_current_span());
        if !owed.is_empty() {
            let sim = self.clone();
            tokio::spawn(
                async move {
                    for out in owed {
                        if let Err(e) = tx.send(out).await {
                            sim.dispatch(&system_id, e.0);
                        }
                    }
                }
                .in_current_span(),
            );
        }
        key
    }

    /// One receipt or MO owed to `system_id`, for a receiver with room.
    fn take_owed(&self, system_id: &Arc<str>) -> Option<Outgoing> {
        let out = self
            .receivers
            .lock()
            .ok()?
            .get_mut(system_id)?
            .owed
            .pop_front()?;
        dec(&self.counters.receipts_owed);
        Some(out)
    }

    pub fn unregister(&self, system_id: &Arc<str>, key: u64) {
        if let Ok(mut map) = self.receivers.lock() {
            if let Some(e) = map.get_mut(system_id) {
                e.deliverers.retain(|(k, _)| *k != key);
            }
        }
    }

    /// Pick any bound receiver's system_id (for MO), round-robin-ish.
    pub fn any_receiver(&self, pick: u64) -> Option<Arc<str>> {
        let map = self.receivers.lock().ok()?;
        let live: Vec<&Arc<str>> = map
            .iter()
            .filter(|(_, r)| !r.deliverers.is_empty())
            .map(|(k, _)| k)
            .collect();
        if live.is_empty() {
            return None;
        }
        Some(live[(pick as usize) % live.len()].clone())
    }
}

/// Send what arrives for one receiver session; what fails goes back to be
/// dispatched again (to another receiver, or owed), after a pause.
async fn deliverer(
    sim: Arc<Sim>,
    system_id: Arc<str>,
    session: Session,
    mut rx: mpsc::Receiver<Outgoing>,
) {
    let (done_tx, mut done_rx) = mpsc::channel(4096);
    let collector = {
        let sim = sim.clone();
        let system_id = system_id.clone();
        tokio::spawn(
            async move {
                while let Some((pending, out)) = done_rx.recv().await {
                    let pending: smpp_session::PendingResponse = pending;
                    let out: Outgoing = out;
                    match pending.await {
                        Ok(resp) if resp.command_status.is_ok() => {
                            if out.message.is_some() {
                                inc(&sim.counters.receipts_acked);
                            } else {
                                inc(&sim.counters.mo_acked);
                            }
                        }
                        _ => {
                            inc(&sim.counters.receipts_failed);
                            sim.dispatch_later(system_id.clone(), out, Duration::from_millis(500));
                        }
                    }
                }
            }
            .in_current_span(),
        )
    };
    loop {
        // What was queued for this session first; then what is owed to its
        // system_id (left there while every receiver's queue was full);
        // then wait.
        let out = match rx.try_recv() {
            Ok(out) => out,
            Err(mpsc::error::TryRecvError::Disconnected) => break,
            Err(mpsc::error::TryRecvError::Empty) => match sim.take_owed(&system_id) {
                Some(out) => out,
                None => match rx.recv().await {
                    Some(out) => out,
                    None => break,
                },
            },
        };
        let body = Body::DeliverSm(out.body.clone());
        match session.send_request(body).await {
            Ok(pending) => {
                if out.message.is_some() {
                    inc(&sim.counters.receipts_sent);
                } else {
                    inc(&sim.counters.mo_sent);
                }
                if done_tx.send((pending, out)).await.is_err() {
                    break;
                }
            }
            Err(_) => {
                // The session is gone: this and everything queued behind it
                // go elsewhere.
                sim.dispatch_later(system_id.clone(), out, Duration::from_millis(100));
                rx.close();
                while let Some(out) = rx.recv().await {
                    sim.dispatch_later(system_id.clone(), out, Duration::from_millis(100));
                }
                break;
            }
        }
    }
    drop(done_tx);
    let _ = collector.await;
}

/// A receipt deliver_sm for `message` (see [`Receipt::deliver_sm`]): one
/// part submitted, delivered or not, and a network_error_code (GSM) only
/// for a failure with an error.
#[allow(clippy::too_many_arguments)]
pub fn receipt_body(
    id: &str,
    state: MessageState,
    err: u16,
    submit_unix: i64,
    done_unix: i64,
    message: &SubmitSm<Bytes>,
    text: &[u8],
    intermediate: bool,
) -> DeliverSm<Bytes> {
    let delivered = state == MessageState::Delivered;
    let mut r = Receipt::new(id, state);
    r.sub = Some(1);
    r.dlvrd = Some(u32::from(delivered));
    r.submit_date = ReceiptDate::from_unix(submit_unix);
    r.done_date = ReceiptDate::from_unix(done_unix);
    r.err = Some(format!("{err:03}"));
    let text: String = String::from_utf8_lossy(text).chars().take(20).collect();
    r.text = Some(text);
    r.network_error = (!delivered && err != 0).then_some(NetworkErrorCode {
        network_type: 3,
        error_code: err,
    });
    r.deliver_sm(message, intermediate)
}
