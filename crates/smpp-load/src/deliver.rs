//! What the SMSC sends us on one bind: receipts and MO.
//!
//! Every deliver_sm and data_sm is answered ESME_ROK at once. A receipt
//! (esm_class receipt type) is matched through the shared
//! [`Tracker`](crate::receipts::Tracker) by its receipted_message_id TLV,
//! or the `id:` of its text when the TLV is absent; anything else counts
//! as MO. A receipt that carries both the id and message_state TLVs is
//! read without parsing its text, so the common case allocates nothing.

use std::borrow::Cow;
use std::sync::Arc;

use bytes::Bytes;
use smpp::pdu::{Body, EsmClass, SubmitSmResp};
use smpp::receipt::Receipt;
use smpp::{CommandStatus, MessageState, Tlvs};
use smpp_session::{Event, Session};
use tokio::sync::mpsc;
use tokio::time::Instant;
use tracing::debug;

use crate::receipts::Received;
use crate::run::Shared;
use crate::summary::Stats;

/// Answer and count everything the peer sends on `session` until it closes.
pub(crate) async fn receiver(
    shared: Arc<Shared>,
    session: Session,
    mut events: mpsc::Receiver<Event>,
) -> Stats {
    let mut stats = Stats::new();
    while let Some(Event::Request(pdu)) = events.recv().await {
        let seq = pdu.sequence_number;
        let answered = match &pdu.body {
            Body::DeliverSm(d) => {
                let ok = Body::DeliverSmResp(SubmitSmResp::default());
                let r = session.respond(seq, CommandStatus::ESME_ROK, ok).await;
                if d.esm_class.is_receipt() {
                    on_receipt(&shared, &mut stats, d.esm_class, &d.short_message, &d.tlvs);
                } else {
                    stats.mo += 1;
                }
                r
            }
            Body::DataSm(d) => {
                let ok = Body::DataSmResp(SubmitSmResp::default());
                let r = session.respond(seq, CommandStatus::ESME_ROK, ok).await;
                if d.esm_class.is_receipt() {
                    on_receipt(&shared, &mut stats, d.esm_class, &[], &d.tlvs);
                } else {
                    stats.mo += 1;
                }
                r
            }
            Body::AlertNotification(_) => Ok(()),
            _ => {
                session
                    .respond_error(&pdu, CommandStatus::ESME_RINVCMDID)
                    .await
            }
        };
        if let Err(e) = answered {
            debug!(error = %e, "cannot answer; the session is closing");
        }
    }
    stats
}

fn on_receipt(
    shared: &Shared,
    stats: &mut Stats,
    esm_class: EsmClass,
    short_message: &[u8],
    tlvs: &Tlvs<Bytes>,
) {
    let now = Instant::now();
    if esm_class.message_type() == EsmClass::TYPE_INTERMEDIATE_NOTIFICATION {
        stats.dlr_intermediate += 1;
        return;
    }
    let Some((id, state)) = receipt_id_and_state(short_message, tlvs) else {
        stats.dlr_invalid += 1;
        return;
    };
    stats.receipt_state(state);
    match shared.tracker.received(&id, now) {
        Received::Matched { submitted_at } => {
            stats.matched(now.saturating_duration_since(submitted_at), now);
            if let Some(i) = &shared.intervals {
                i.receipt(now.saturating_duration_since(submitted_at));
            }
        }
        Received::Held => {}
        Received::Duplicate => stats.duplicates += 1,
    }
}

/// The receipt's message id and state: from the TLVs when both are there,
/// else from the text (TLVs still win field by field).
fn receipt_id_and_state<'a>(
    short_message: &[u8],
    tlvs: &'a Tlvs<Bytes>,
) -> Option<(Cow<'a, [u8]>, MessageState)> {
    if let (Some(id), Some(state)) = (tlvs.receipted_message_id(), tlvs.message_state()) {
        if !id.trim_ascii().is_empty() {
            return Some((Cow::Borrowed(id), state));
        }
    }
    let r = Receipt::from_tlvs(short_message, tlvs).ok()?;
    Some((Cow::Owned(r.id.into_bytes()), r.stat))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use smpp::tlv::{TlvTag, TlvsBuilder};

    #[test]
    fn id_and_state_from_tlvs() {
        let mut b = TlvsBuilder::new();
        b.push_c_octet_string(TlvTag::RECEIPTED_MESSAGE_ID, b"abc-1")
            .push_u8(TlvTag::MESSAGE_STATE, 5);
        let tlvs = b.build();
        let (id, state) = receipt_id_and_state(b"id:other stat:DELIVRD", &tlvs).unwrap();
        assert_eq!(&id[..], b"abc-1");
        assert_eq!(state, MessageState::Undeliverable);
    }

    #[test]
    fn id_and_state_from_text() {
        let text = b"id:1A2B sub:001 dlvrd:001 submit date:2401011200 done date:2401011200 stat:DELIVRD err:000 text:hi";
        let none = Tlvs::default();
        let (id, state) = receipt_id_and_state(text, &none).unwrap();
        assert_eq!(&id[..], b"1A2B");
        assert_eq!(state, MessageState::Delivered);
        // the TLV id wins over the text's, the text gives the state
        let mut b = TlvsBuilder::new();
        b.push_c_octet_string(TlvTag::RECEIPTED_MESSAGE_ID, b"77");
        let tlvs = b.build();
        let (id, state) = receipt_id_and_state(text, &tlvs).unwrap();
        assert_eq!((&id[..], state), (&b"77"[..], MessageState::Delivered));
        assert!(receipt_id_and_state(b"hello", &none).is_none());
    }
}
