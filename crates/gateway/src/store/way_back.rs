//! What the store keeps for the way back: receipts for one upstream part
//! as a connector parsed them, and the items waiting in a user's delivery
//! queue (the user's receipts and MO messages) until one of the user's
//! receiver binds takes them.
//!
//! The rules for receipts (how parts add up, which receipts a user gets)
//! are [`super::rules::receipts`]'s; this module only holds the types.

use bytes::{Bytes, BytesMut};
use smpp::MessageState;
use smpp::pdu::{Body, DeliverSm, Limits, Pdu};

use super::StoredMessage;
use super::message::{CorruptMessage, UnstorableMessage};

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

/// A deliver_sm as bytes (a whole PDU with sequence number 0), for a
/// backend that keeps bytes; an error when it does not encode (the
/// backend refuses to queue it rather than queue bytes that decode as
/// nothing).
pub fn encode_mo(d: &DeliverSm<Bytes>) -> Result<Bytes, UnstorableMessage> {
    let mut b = BytesMut::with_capacity(64 + d.short_message.len());
    Pdu::new(0, Body::DeliverSm(d.clone())).encode(&mut b)?;
    Ok(b.freeze())
}

/// The deliver_sm [`encode_mo`] wrote.
pub fn decode_mo(b: &[u8]) -> Result<DeliverSm<Bytes>, CorruptMessage> {
    match Pdu::decode(&Bytes::copy_from_slice(b), &Limits::JASMIN).map(|p| p.body) {
        Ok(Body::DeliverSm(d)) => Ok(d),
        _ => Err(CorruptMessage("mo pdu")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mo_round_trips() {
        let d = DeliverSm::<Bytes> {
            short_message: Bytes::from_static(b"hello"),
            ..Default::default()
        };
        assert_eq!(decode_mo(&encode_mo(&d).unwrap()).unwrap(), d);
        assert!(decode_mo(b"\x00\x00").is_err());
        let long = DeliverSm::<Bytes> {
            short_message: Bytes::from(vec![b'x'; 300]),
            ..Default::default()
        };
        assert!(encode_mo(&long).is_err());
    }
}
