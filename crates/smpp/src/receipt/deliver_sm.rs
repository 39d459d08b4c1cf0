//! A [`Receipt`] as the deliver_sm that carries it (SMPP 3.4 §4.6.1,
//! Appendix B): the one way Tern builds a receipt PDU, used by the
//! gateway for its users' receipts and by the simulator for its own.
//!
//! What goes in is decided here once: esm_class 0x04, or 0x20 for an
//! intermediate notification (§5.2.12); the standard text
//! ([`Receipt::write_to`]) as short_message; the receipted_message_id,
//! message_state and (when the receipt has one) network_error_code TLVs;
//! the addresses of the message swapped, since a receipt comes from the
//! handset. What the receipt holds (sub, dates, err, text...) is the
//! caller's to fill.

use bytes::Bytes;

use super::Receipt;
use crate::pdu::{DeliverSm, EsmClass, SubmitSm};
use crate::tlv::{TlvTag, TlvsBuilder};

impl Receipt {
    /// The deliver_sm of this receipt for `message` (the submit it
    /// reports on): source is the message's destination, destination its
    /// source. esm_class is `TYPE_INTERMEDIATE_NOTIFICATION` when
    /// `intermediate`, else `TYPE_DELIVERY_RECEIPT`. TLVs, in this order:
    /// receipted_message_id (the id), message_state (`stat`), and
    /// network_error_code when `network_error` is set. Every other field
    /// (service_type, data_coding...) is left at its default for the
    /// caller to set.
    pub fn deliver_sm(&self, message: &SubmitSm<Bytes>, intermediate: bool) -> DeliverSm<Bytes> {
        let mut tlvs = TlvsBuilder::with_capacity(96);
        tlvs.push_c_octet_string(TlvTag::RECEIPTED_MESSAGE_ID, self.id.as_bytes())
            .push_u8(TlvTag::MESSAGE_STATE, self.stat.as_u8());
        if let Some(code) = self.network_error {
            tlvs.push(TlvTag::NETWORK_ERROR_CODE, &code.to_bytes());
        }
        let mut short_message = Vec::with_capacity(160);
        self.write_to(&mut short_message);
        DeliverSm {
            source: message.destination.clone(),
            destination: message.source.clone(),
            esm_class: EsmClass(if intermediate {
                EsmClass::TYPE_INTERMEDIATE_NOTIFICATION
            } else {
                EsmClass::TYPE_DELIVERY_RECEIPT
            }),
            short_message: Bytes::from(short_message),
            tlvs: tlvs.build(),
            ..Default::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::MessageState;
    use crate::pdu::{Address, Body, Npi, Pdu, Ton};
    use crate::receipt::NetworkErrorCode;
    use crate::time::ReceiptDate;

    fn message() -> SubmitSm<Bytes> {
        SubmitSm {
            service_type: Bytes::from_static(b"CMT"),
            source: Address {
                ton: Ton::ALPHANUMERIC,
                npi: Npi::UNKNOWN,
                addr: Bytes::from_static(b"Tern"),
            },
            destination: Address {
                ton: Ton::INTERNATIONAL,
                npi: Npi::ISDN,
                addr: Bytes::from_static(b"447700900123"),
            },
            short_message: Bytes::from_static(b"Hello"),
            ..Default::default()
        }
    }

    fn receipt(stat: MessageState) -> Receipt {
        let mut r = Receipt::new("1a2b", stat);
        r.sub = Some(1);
        r.dlvrd = Some(u32::from(stat == MessageState::Delivered));
        r.submit_date = ReceiptDate::from_unix(1_790_000_000);
        r.done_date = ReceiptDate::from_unix(1_790_000_060);
        r.err = Some("000".into());
        r.text = Some("Hello".into());
        r
    }

    #[test]
    fn final_receipt_fields() {
        let r = receipt(MessageState::Delivered);
        let m = message();
        let d = r.deliver_sm(&m, false);
        assert_eq!(d.esm_class.0, EsmClass::TYPE_DELIVERY_RECEIPT);
        assert_eq!(d.source, m.destination);
        assert_eq!(d.destination, m.source);
        assert_eq!(d.short_message, Bytes::from(r.format()));
        // Only the receipt's own fields: the message's service_type and
        // text stay behind.
        assert!(d.service_type.is_empty());
        assert_eq!(d.data_coding.0, 0);
        assert_eq!(d.tlvs.receipted_message_id(), Some(&b"1a2b"[..]));
        assert_eq!(d.tlvs.message_state(), Some(MessageState::Delivered));
        assert_eq!(d.tlvs.get(TlvTag::NETWORK_ERROR_CODE), None);
        assert_eq!(Receipt::from_tlvs(&d.short_message, &d.tlvs), Ok(r));
    }

    #[test]
    fn intermediate_receipt_is_0x20() {
        let d = receipt(MessageState::Enroute).deliver_sm(&message(), true);
        assert_eq!(d.esm_class.0, EsmClass::TYPE_INTERMEDIATE_NOTIFICATION);
        assert!(d.esm_class.is_receipt());
    }

    #[test]
    fn network_error_code_when_set() {
        let mut r = receipt(MessageState::Undeliverable);
        r.err = Some("027".into());
        r.network_error = Some(NetworkErrorCode {
            network_type: 3,
            error_code: 27,
        });
        let d = r.deliver_sm(&message(), false);
        assert_eq!(
            d.tlvs.get(TlvTag::NETWORK_ERROR_CODE),
            Some(&[3, 0, 27][..])
        );
        assert_eq!(Receipt::from_tlvs(&d.short_message, &d.tlvs), Ok(r));
    }

    /// The exact bytes, so a change in order or content shows.
    #[test]
    fn wire_bytes() {
        let mut r = Receipt::new("7", MessageState::Rejected);
        r.network_error = Some(NetworkErrorCode {
            network_type: 3,
            error_code: 0x0102,
        });
        let d = r.deliver_sm(&message(), false);
        let mut out = bytes::BytesMut::new();
        assert_eq!(Pdu::new(9, Body::DeliverSm(d)).encode(&mut out), Ok(()));
        let text = b"id:7 stat:REJECTD";
        let mut want = Vec::new();
        want.extend_from_slice(&[0, 0, 0, 0]); // command_length, set below
        want.extend_from_slice(&[0, 0, 0, 5, 0, 0, 0, 0, 0, 0, 0, 9]);
        want.push(0); // service_type
        want.extend_from_slice(&[1, 1]);
        want.extend_from_slice(b"447700900123\0");
        want.extend_from_slice(&[5, 0]);
        want.extend_from_slice(b"Tern\0");
        want.push(0x04); // esm_class
        // protocol_id, priority_flag, schedule_delivery_time,
        // validity_period, registered_delivery, replace_if_present_flag,
        // data_coding, sm_default_msg_id
        want.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 0]);
        want.push(text.len() as u8);
        want.extend_from_slice(text);
        want.extend_from_slice(&[0x00, 0x1E, 0, 2, b'7', 0]);
        want.extend_from_slice(&[0x04, 0x27, 0, 1, 8]);
        want.extend_from_slice(&[0x04, 0x23, 0, 3, 3, 1, 2]);
        let len = want.len() as u32;
        want[..4].copy_from_slice(&len.to_be_bytes());
        assert_eq!(&out[..], &want[..]);
    }
}
