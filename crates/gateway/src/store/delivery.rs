//! What the store keeps for the way back: receipts for one upstream part
//! as a connector parsed them, and the items waiting in a user's delivery
//! queue (the user's receipts and MO messages) until one of the user's
//! receiver binds takes them.
//!
//! The receipt rules both backends apply (memory in Rust, redis in Lua)
//! are written once here in prose and in [`wants_receipt`]:
//!
//! - A message's parts for receipts are its upstream ids (what
//!   [`super::Store::sent`] recorded). A final receipt for a part counts
//!   once; when every part is final the message is final: DELIVERED when
//!   every part was delivered, otherwise the state and error code of the
//!   last part that was not.
//! - The user gets exactly one final receipt per message that asked for
//!   one (registered_delivery bits 1-0: 1 = always, 2 = on failure), and
//!   an intermediate receipt for each non-final part receipt when it
//!   asked for intermediate notification (bit 4).

use bytes::{Bytes, BytesMut};
use smpp::MessageState;
use smpp::pdu::{Body, DeliverSm, Limits, Pdu, RegisteredDelivery};

use super::StoredMessage;

/// A receipt for one upstream part, as a connector parsed it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PartReceipt {
    pub state: MessageState,
    /// The receipt's network error code (`err:`), 0 when none.
    pub error_code: u16,
    /// When upstream says the part reached this state (Unix ms).
    pub done_ms: i64,
}

/// What [`super::Store::receipt`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReceiptOutcome {
    /// No mapping yet: held until `sent` records it.
    Held,
    /// The part was final already: nothing changed.
    Duplicate,
    /// A non-final state; `queued` when the user asked for intermediate
    /// receipts and one was queued.
    Intermediate { queued: bool },
    /// The part is counted; other parts are not final yet.
    Partial,
    /// The message became final in `state`; `queued` when its receipt was
    /// queued for the user.
    Final { state: MessageState, queued: bool },
}

/// A receipt for the user, as queued: everything the deliver_sm needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserReceipt {
    /// The message as accepted (its id, addresses, text, submit date);
    /// shared, not copied.
    pub message: std::sync::Arc<StoredMessage>,
    pub state: MessageState,
    pub error_code: u16,
    /// The message's parts and how many were delivered.
    pub sub: u32,
    pub dlvrd: u32,
    /// When the message (or, for an intermediate receipt, the part)
    /// reached `state` (Unix ms).
    pub done_ms: i64,
}

/// An item of a user's delivery queue.
#[derive(Debug, Clone, PartialEq, Eq)]
#[allow(clippy::large_enum_variant)] // MO is the common item; receipts are boxed
pub enum DeliveryItem {
    Receipt(Box<UserReceipt>),
    /// An MO message, the deliver_sm to send as it is (its sequence
    /// number is the session's).
    Mo(DeliverSm<Bytes>),
}

/// An item taken from a user's delivery queue. It stays the taker's until
/// [`super::Store::delivered`] or [`super::Store::redeliver`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    /// The backend's handle on the queue entry (a stream id on redis).
    pub token: String,
    pub item: DeliveryItem,
    /// When it was queued and when it is dropped undelivered (Unix ms).
    pub queued_ms: i64,
    pub expires_ms: i64,
}

/// Whether a message with `registered_delivery` gets a receipt for this
/// state: a final one per bits 1-0, an intermediate one per bit 4.
pub fn wants_receipt(registered_delivery: u8, state: MessageState) -> bool {
    let rd = RegisteredDelivery(registered_delivery);
    if state.is_final() {
        rd.wants_final(state == MessageState::Delivered)
    } else {
        rd.intermediate()
    }
}

/// A deliver_sm as bytes (a whole PDU with sequence number 0), for a
/// backend that keeps bytes.
pub fn encode_mo(d: &DeliverSm<Bytes>) -> Bytes {
    let mut b = BytesMut::with_capacity(64 + d.short_message.len());
    // An MO is built from a PDU that decoded, so it encodes; a failure
    // leaves bytes that decode_mo reports.
    let _ = Pdu::new(0, Body::DeliverSm(d.clone())).encode(&mut b);
    b.freeze()
}

/// The deliver_sm [`encode_mo`] wrote.
pub fn decode_mo(b: &[u8]) -> Result<DeliverSm<Bytes>, super::message::CorruptMessage> {
    match Pdu::decode(&Bytes::copy_from_slice(b), &Limits::JASMIN).map(|p| p.body) {
        Ok(Body::DeliverSm(d)) => Ok(d),
        _ => Err(super::message::CorruptMessage("mo pdu")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn receipt_wishes_follow_registered_delivery() {
        use MessageState::*;
        assert!(!wants_receipt(0, Delivered));
        assert!(!wants_receipt(0, Undeliverable));
        assert!(wants_receipt(1, Delivered));
        assert!(wants_receipt(1, Expired));
        assert!(!wants_receipt(2, Delivered));
        assert!(wants_receipt(2, Rejected));
        assert!(!wants_receipt(1, Enroute));
        assert!(wants_receipt(0x11, Enroute));
        assert!(!wants_receipt(0x10, Delivered));
    }

    #[test]
    fn mo_round_trips() {
        let d = DeliverSm::<Bytes> {
            short_message: Bytes::from_static(b"hello"),
            ..Default::default()
        };
        assert_eq!(decode_mo(&encode_mo(&d)).unwrap(), d);
        assert!(decode_mo(b"\x00\x00").is_err());
    }
}
