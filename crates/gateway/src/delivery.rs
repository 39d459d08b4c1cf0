//! The way back to the users: each user's delivery queue (receipts and MO,
//! in the store) goes out as deliver_sm over the user's receiver binds
//! (bind_receiver or bind_transceiver) in this process.
//!
//! - The front end registers each receiver bind in the context's
//!   [`crate::context::Receivers`]; the first receiver of a user asks
//!   [`spawn`]'s task for the user's worker; the worker ends when the
//!   user's last receiver is gone (what it held goes back to the queue),
//!   and the queue waits in the store — store and forward — until the
//!   next bind, up to the item's expiry.
//! - The worker takes up to [`WINDOW`] items at a time, spreads them over
//!   the user's receivers in turn (each session's own window bounds what
//!   is outstanding on it), and settles each item: removed on
//!   deliver_sm_resp ESME_ROK (many per store call, by a task of the
//!   worker's that gathers them) or dropped and counted on
//!   ESME_RX_P_APPN / ESME_RX_R_APPN (refused for good), given back to
//!   the queue's tail on another error
//!   status, a response timeout or an unbind (the worker then pauses
//!   [`RETRY_PAUSE`] so a receiver that refuses everything is not
//!   flooded). An item past its expiry is dropped and counted.
//! - The consumer name is `<[smpp-server] id>-dlv`, stable across
//!   restarts, so a restarted process at once resends what it had taken
//!   (redis); each tern sharing one Redis needs its own id.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use bytes::Bytes;
use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;
use smpp::CommandStatus;
use smpp::pdu::{Body, DeliverSm};
use smpp::receipt::{NetworkErrorCode, Receipt};
use smpp::text::Encoding;
use smpp::time::ReceiptDate;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinHandle;
use tracing::{Instrument, debug, info, info_span, warn};

use crate::context::Context;
use crate::metrics::labels::DeliveryResult;
use crate::store::{Delivery, DeliveryItem, Store, UserReceipt, now_us};

/// Items of one user out at once, over all its receivers (and at most a
/// receiver session's window per receiver).
pub const WINDOW: usize = 256;

/// How long settling a delivered item waits for others to settle with.
pub const ACK_LINGER: Duration = Duration::from_millis(1);
/// The pause after an item could not be delivered.
pub const RETRY_PAUSE: Duration = Duration::from_secs(1);

/// Start the way back: a worker for each user whose first receiver binds
/// (the front end registers binds in the context's
/// [`crate::context::Receivers`]). Returns None when it runs already.
pub fn spawn<S: Store>(ctx: &Arc<Context<S>>) -> Option<JoinHandle<()>> {
    let mut requests = ctx.receivers.take_worker_requests()?;
    let ctx = ctx.clone();
    let workers = async move {
        while let Some(user) = requests.recv().await {
            let span = info_span!(parent: None, "delivery", user = %user);
            tokio::spawn(run_user(ctx.clone(), user).instrument(span));
        }
    };
    Some(tokio::spawn(workers.instrument(info_span!("delivery"))))
}

/// Deliver `user`'s queue while the user has a receiver here.
async fn run_user<S: Store>(ctx: Arc<Context<S>>, user: String) {
    let consumer = format!("{}-dlv", ctx.config.load().smpp_server.id);
    let window = Arc::new(Semaphore::new(WINDOW));
    // The front end's sessions keep smpp-session's default window.
    let session_window = smpp_session::SessionConfig::default().window.max(1);
    let failed = Arc::new(AtomicBool::new(false));
    let (acks, acked) = tokio::sync::mpsc::unbounded_channel();
    let acker = tokio::spawn(ack(ctx.clone(), user.clone(), acked).in_current_span());
    // Taken items go to one task that sends them all (each in flight at
    // once), not to a task each.
    let (to_send, sending) = tokio::sync::mpsc::unbounded_channel();
    let sender = tokio::spawn(
        send_all(
            ctx.clone(),
            user.clone(),
            sending,
            failed.clone(),
            acks.clone(),
        )
        .in_current_span(),
    );
    debug!(user, "delivery worker starts");
    loop {
        if ctx.receivers.stop_if_idle(&user) {
            break;
        }
        if failed.swap(false, Ordering::Relaxed) {
            tokio::time::sleep(RETRY_PAUSE).await;
        }
        let Ok(first) = window.clone().acquire_owned().await else {
            break;
        };
        // No more out than the receivers' own windows hold: an item that
        // waited for a session's window past the reclaim time would be
        // handed out again while still on its way.
        let room = session_window * ctx.receivers.count(&user).max(1);
        let out = WINDOW - window.available_permits() - 1;
        let mut permits = vec![first];
        while out + permits.len() < room {
            match window.clone().try_acquire_owned() {
                Ok(p) => permits.push(p),
                Err(_) => break,
            }
        }
        if out >= room {
            // Full: wait until fewer than `room` are out — then
            // WINDOW - room + 1 permits are free — and look again (an
            // event, not a poll: room < WINDOW here).
            drop(permits);
            let need = u32::try_from(WINDOW.saturating_sub(room) + 1).unwrap_or(u32::MAX);
            match window.acquire_many(need).await {
                Ok(p) => drop(p),
                Err(_) => break,
            }
            continue;
        }
        let taken = match ctx
            .store
            .take_deliveries(&user, &consumer, permits.len(), Duration::from_millis(500))
            .await
        {
            Ok(t) => t,
            Err(e) => {
                warn!(user, error = %e, "store unavailable; deliveries wait");
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        let now_ms = now_us() / 1000;
        for d in taken {
            let Some(permit) = permits.pop() else { break };
            if d.expires_ms <= now_ms {
                ctx.metrics.delivery(&user, DeliveryResult::Expired);
                info!(user, "undelivered past its expiry; dropped");
                let _ = acks.send((d.token, permit));
                continue;
            }
            if let Err(e) = to_send.send((d, permit)) {
                // The sender is gone (it panicked): left taken, handed
                // out again after the reclaim time.
                drop(e);
                break;
            }
        }
    }
    drop(to_send);
    let _ = sender.await;
    drop(acks);
    let _ = acker.await;
    debug!(user, "delivery worker stops");
}

/// Send what `user`'s worker took, every item in flight at once, until
/// the worker is done (its channel closed) and everything sent is
/// answered; settle each as [`run_user`] says.
async fn send_all<S: Store>(
    ctx: Arc<Context<S>>,
    user: String,
    mut items: tokio::sync::mpsc::UnboundedReceiver<(Delivery, OwnedSemaphorePermit)>,
    failed: Arc<AtomicBool>,
    acks: tokio::sync::mpsc::UnboundedSender<crate::settle::Settled>,
) {
    let one = |d: Delivery, permit: OwnedSemaphorePermit| {
        let (ctx, user, failed, acks) = (&ctx, &user, &failed, &acks);
        async move {
            let sent = send(ctx, user, &d).await;
            if sent != Sent::Again {
                let result = match sent {
                    Sent::Accepted => DeliveryResult::Delivered,
                    _ => DeliveryResult::Refused,
                };
                ctx.metrics.delivery(user, result);
                let _ = acks.send((d.token, permit));
            } else {
                failed.store(true, Ordering::Relaxed);
                if let Err(e) = ctx.store.redeliver(user, &d.token).await {
                    // Left taken: handed out again after the reclaim time.
                    warn!(user, error = %e, "cannot give back a delivery");
                }
                drop(permit);
            }
        }
    };
    let mut inflight = FuturesUnordered::new();
    let mut open = true;
    while open || !inflight.is_empty() {
        tokio::select! {
            item = items.recv(), if open => match item {
                Some((d, permit)) => inflight.push(one(d, permit)),
                None => open = false,
            },
            Some(()) = inflight.next(), if !inflight.is_empty() => {}
        }
    }
}

/// Settle delivered (or dropped) items in the store, many per call
/// ([`crate::settle::gather`]). An item's window place is given back once
/// it is settled.
async fn ack<S: Store>(
    ctx: Arc<Context<S>>,
    user: String,
    acked: tokio::sync::mpsc::UnboundedReceiver<crate::settle::Settled>,
) {
    crate::settle::gather(acked, ACK_LINGER, WINDOW, |tokens| {
        let (ctx, user) = (&ctx, &user);
        async move {
            // Tried again while Redis restarts (settle::SETTLE_FOR): an
            // item left taken is handed out again after the reclaim
            // time, so the user would get it twice.
            if let Err(e) = crate::settle::retrying(|| ctx.store.delivered(user, &tokens)).await {
                // Left taken: handed out again after the reclaim time.
                warn!(user, error = %e, "cannot settle deliveries");
            }
        }
    })
    .await;
}

/// A receipt's `text:`: the message's first 20 characters, in ASCII
/// (any other character as `?`).
fn receipt_text(chars: impl Iterator<Item = char>) -> String {
    chars
        .take(20)
        .map(|c| {
            if c.is_ascii() && !c.is_ascii_control() {
                c
            } else {
                '?'
            }
        })
        .collect()
}

/// The octets of a message's content its receipt's text is read from.
const RECEIPT_TEXT_OCTETS: usize = 80;

/// What became of one item sent to a receiver.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Sent {
    /// deliver_sm_resp ESME_ROK.
    Accepted,
    /// Refused for good (ESME_RX_P_APPN, ESME_RX_R_APPN): dropped and
    /// counted, as the ESME asked.
    Refused,
    /// Any other answer, none, or no receiver: it goes back to the queue.
    Again,
}

/// Send one item to one of the user's receivers.
async fn send<S: Store>(ctx: &Context<S>, user: &str, d: &Delivery) -> Sent {
    let Some(session) = ctx.receivers.pick(user) else {
        return Sent::Again;
    };
    let body = match &d.item {
        DeliveryItem::Receipt(r) => receipt_pdu(r),
        DeliveryItem::Mo(m) => m.clone(),
    };
    match session.request(Body::DeliverSm(body)).await {
        Ok(resp) if resp.command_status.is_ok() => {
            if let DeliveryItem::Receipt(r) = &d.item {
                ctx.metrics
                    .receipt(user, r.state, r.message.accepted_ms, now_us() / 1000);
            }
            Sent::Accepted
        }
        Ok(resp)
            if matches!(
                resp.command_status,
                CommandStatus::ESME_RX_P_APPN | CommandStatus::ESME_RX_R_APPN
            ) =>
        {
            info!(user, status = %resp.command_status, "deliver_sm refused for good; dropped");
            Sent::Refused
        }
        Ok(resp) => {
            debug!(user, status = %resp.command_status, "deliver_sm refused; kept");
            Sent::Again
        }
        Err(e) => {
            debug!(user, error = %e, "deliver_sm not answered; kept");
            Sent::Again
        }
    }
}

/// The deliver_sm of a user's receipt (DESIGN.md: esm_class 0x04 — 0x20
/// for an intermediate one, as SMPP 3.4 §5.2.12 says — the standard
/// text, receipted_message_id, message_state and network_error_code
/// TLVs). It comes from the handset: source and
/// destination are the message's, swapped.
pub fn receipt_pdu(r: &UserReceipt) -> DeliverSm<Bytes> {
    let m = &r.message;
    let s = &m.submit;
    // The text is its first 20 characters: no encoding takes more than 4
    // octets for one, so those 80 octets hold them (a character cut at
    // the end is past the 20th), and a long message is not decoded whole
    // for each receipt.
    let content = s.content();
    let text = receipt_text(
        Encoding::from_data_coding(s.data_coding.0)
            .decode(content.get(..RECEIPT_TEXT_OCTETS).unwrap_or(content))
            .chars(),
    );
    let mut receipt = Receipt::new(m.id.clone(), r.state);
    receipt.sub = Some(r.sub);
    receipt.dlvrd = Some(r.dlvrd);
    receipt.submit_date = ReceiptDate::from_unix(m.accepted_ms / 1000);
    receipt.done_date = ReceiptDate::from_unix(r.done_ms / 1000);
    receipt.err = Some(format!("{:03}", r.error_code));
    receipt.text = Some(text);
    receipt.network_error = Some(NetworkErrorCode {
        network_type: 3, // GSM
        error_code: r.error_code,
    });
    DeliverSm {
        service_type: s.service_type.clone(),
        // SMPP 3.4 §5.2.12: a non-final state is an intermediate
        // notification.
        ..receipt.deliver_sm(s, !r.state.is_final())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::StoredMessage;
    use smpp::MessageState;
    use smpp::pdu::{Address, SubmitSm};

    #[test]
    fn a_user_receipt_reads_back_as_designed() {
        let r = UserReceipt {
            message: std::sync::Arc::new(StoredMessage {
                id: "0b9e2c1e-4a35-4a8e-9a53-6d1c8f1f2a10".into(),
                user: "u".into(),
                connectors: vec![],
                submit: SubmitSm {
                    source: Address {
                        addr: Bytes::from_static(b"Tern"),
                        ..Default::default()
                    },
                    destination: Address {
                        addr: Bytes::from_static(b"447700900123"),
                        ..Default::default()
                    },
                    short_message: Bytes::from_static(b"Hello there, this is a long text"),
                    ..Default::default()
                },
                parts: 1,
                rate_micro: 0,
                accepted_ms: 1_790_000_000_000,
                expires_ms: None,
                callback: None,
                route: None,
            }),
            state: MessageState::Undeliverable,
            error_code: 27,
            sub: 3,
            dlvrd: 2,
            done_ms: 1_790_000_060_000,
        };
        let d = receipt_pdu(&r);
        assert!(d.esm_class.is_receipt());
        assert_eq!(&d.source.addr[..], b"447700900123");
        assert_eq!(&d.destination.addr[..], b"Tern");
        let text = String::from_utf8(d.short_message.to_vec()).unwrap_or_default();
        assert!(
            text.starts_with(
                "id:0b9e2c1e-4a35-4a8e-9a53-6d1c8f1f2a10 sub:003 dlvrd:002 submit date:"
            ),
            "{text}"
        );
        assert!(
            text.ends_with("stat:UNDELIV err:027 text:Hello there, this is"),
            "{text}"
        );
        let back = Receipt::from_tlvs(&d.short_message, &d.tlvs).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(back.id, r.message.id);
        assert_eq!(back.stat, MessageState::Undeliverable);
        assert_eq!(back.network_error.map(|n| n.error_code), Some(27));
        assert_eq!(d.tlvs.message_state(), Some(MessageState::Undeliverable));
    }

    /// The text of a receipt of a long message, read from its first
    /// octets only, is its first 20 characters in every encoding:
    /// GSM escapes (2 octets), UCS-2 surrogate pairs (4), Latin-1 (1).
    #[test]
    fn a_receipt_text_is_the_first_20_characters_however_long_the_message() {
        let gsm_escapes: Vec<u8> = [0x1b, 0x65].repeat(200); // "€" ×200
        let ucs2_pairs: Vec<u8> = [0xd8, 0x3d, 0xde, 0x00].repeat(100); // "😀"
        let mut ucs2_mixed = vec![0x00, 0x41];
        ucs2_mixed.extend([0xd8, 0x3d, 0xde, 0x00].repeat(100));
        let latin1 = b"0123456789abcdefghijklmnopqrstuvwxyz".repeat(10);
        for (dc, content) in [
            (0u8, gsm_escapes),
            (8, ucs2_pairs),
            (8, ucs2_mixed),
            (3, latin1),
        ] {
            let whole = receipt_text(Encoding::from_data_coding(dc).decode(&content).chars());
            let mut t = smpp::tlv::TlvsBuilder::new();
            t.push(smpp::tlv::TlvTag::MESSAGE_PAYLOAD, &content);
            let r = UserReceipt {
                message: std::sync::Arc::new(StoredMessage {
                    id: "m".into(),
                    user: "u".into(),
                    connectors: vec![],
                    submit: SubmitSm {
                        data_coding: smpp::pdu::DataCoding(dc),
                        tlvs: t.build(),
                        ..Default::default()
                    },
                    parts: 3,
                    rate_micro: 0,
                    accepted_ms: 1_790_000_000_000,
                    expires_ms: None,
                    callback: None,
                    route: None,
                }),
                state: MessageState::Delivered,
                error_code: 0,
                sub: 3,
                dlvrd: 3,
                done_ms: 1_790_000_060_000,
            };
            let d = receipt_pdu(&r);
            let got =
                Receipt::from_tlvs(&d.short_message, &d.tlvs).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(
                got.text.as_deref(),
                Some(whole.as_str()),
                "data_coding {dc}"
            );
            assert_eq!(whole.chars().count(), 20, "data_coding {dc}");
        }
    }
}
