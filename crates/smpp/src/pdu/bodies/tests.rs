use super::*;
use crate::tlv::{TlvTag, TlvsBuilder};
use bytes::Bytes;

#[test]
fn body_and_content() {
    let plain = SubmitSm::<Bytes> {
        short_message: Bytes::from_static(b"hi"),
        ..Default::default()
    };
    assert_eq!((plain.body(), plain.content()), (&b"hi"[..], &b"hi"[..]));
    let mut t = TlvsBuilder::new();
    t.push(TlvTag::MESSAGE_PAYLOAD, b"long");
    let payload = SubmitSm::<Bytes> {
        tlvs: t.build(),
        ..Default::default()
    };
    assert_eq!(payload.body(), b"long");
    let udh = SubmitSm::<Bytes> {
        esm_class: EsmClass(0x40),
        short_message: Bytes::from_static(b"\x05\x00\x03\x07\x02\x01hi"),
        ..Default::default()
    };
    assert_eq!(udh.body().len(), 8);
    assert_eq!(udh.content(), b"hi");
    let bad = SubmitSm::<Bytes> {
        esm_class: EsmClass(0x40),
        short_message: Bytes::from_static(b"\x09hi"),
        ..Default::default()
    };
    assert_eq!(
        bad.content(),
        b"\x09hi",
        "an unreadable UDH leaves the body whole"
    );
}

#[test]
fn a_data_sm_reads_as_a_submit_sm() {
    let mut t = TlvsBuilder::new();
    t.push(TlvTag::MESSAGE_PAYLOAD, b"text");
    let d = DataSm::<Bytes> {
        service_type: Bytes::from_static(b"WAP"),
        registered_delivery: RegisteredDelivery(1),
        data_coding: DataCoding(8),
        tlvs: t.build(),
        ..Default::default()
    };
    let s = SubmitSm::from(d.clone());
    assert_eq!(s.service_type, d.service_type);
    assert_eq!(
        (s.registered_delivery, s.data_coding),
        (d.registered_delivery, d.data_coding)
    );
    assert_eq!(s.body(), b"text");
    assert!(s.short_message.is_empty());
}

/// A NUL inside a C-Octet String field, wherever it sits in the value, is
/// the field's error, and the buffer is left as it was.
#[test]
fn a_nul_in_a_field_is_refused_on_encode() {
    use crate::pdu::{Address, Pdu};
    for addr in [
        &b"\0"[..],
        b"44\0",
        b"4477\0",
        b"447700900123\0",
        b"\x004477009001234567",
    ] {
        let p = Pdu::new(
            1,
            Body::SubmitSm(SubmitSm::<Bytes> {
                destination: Address {
                    addr: Bytes::copy_from_slice(addr),
                    ..Default::default()
                },
                ..Default::default()
            }),
        );
        let mut buf = BytesMut::from(&b"kept"[..]);
        assert_eq!(
            p.encode(&mut buf),
            Err(EncodeError::NulInField {
                field: "destination_addr"
            }),
            "{addr:?}"
        );
        assert_eq!(&buf[..], b"kept");
    }
}
