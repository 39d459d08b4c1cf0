//! Decode and encode a typical submit_sm and deliver_sm (receipt).
//!
//! `make bench`; figures go in docs/benchmarks.md. One iteration is one PDU,
//! so divan's items/s is PDUs per second on one core.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use bytes::{Bytes, BytesMut};
use divan::{Bencher, black_box, counter::ItemsCount};
use smpp::pdu::*;
use smpp::tlv::{TlvTag, TlvsBuilder};

fn main() {
    divan::main();
}

/// A 1-part GSM submit_sm as ESMEs send it: international addresses,
/// registered_delivery 1, a 60-character text, no TLVs.
fn submit_sm() -> Pdu<Bytes> {
    Pdu::new(
        0x0102_0304,
        Body::SubmitSm(SubmitSm {
            source: Address {
                ton: Ton::ALPHANUMERIC,
                npi: Npi::UNKNOWN,
                addr: Bytes::from_static(b"TernBank"),
            },
            destination: Address {
                ton: Ton::INTERNATIONAL,
                npi: Npi::ISDN,
                addr: Bytes::from_static(b"447700900123"),
            },
            registered_delivery: RegisteredDelivery::FINAL,
            short_message: Bytes::from_static(
                b"Your verification code is 482913. It expires in 10 minutes.",
            ),
            ..Default::default()
        }),
    )
}

/// A receipt as SMSCs send it: the text and the receipted_message_id and
/// message_state TLVs.
fn deliver_sm() -> Pdu<Bytes> {
    let mut t = TlvsBuilder::new();
    t.push_c_octet_string(TlvTag::RECEIPTED_MESSAGE_ID, b"6f1a2b3c4d")
        .push_u8(TlvTag::MESSAGE_STATE, 2);
    Pdu::new(
        77,
        Body::DeliverSm(DeliverSm {
            source: Address {
                ton: Ton::INTERNATIONAL,
                npi: Npi::ISDN,
                addr: Bytes::from_static(b"447700900123"),
            },
            destination: Address {
                ton: Ton::ALPHANUMERIC,
                npi: Npi::UNKNOWN,
                addr: Bytes::from_static(b"TernBank"),
            },
            esm_class: EsmClass(EsmClass::TYPE_DELIVERY_RECEIPT),
            short_message: Bytes::from_static(
                b"id:6f1a2b3c4d sub:001 dlvrd:001 submit date:2611231200 done date:2611231200 stat:DELIVRD err:000 text:Your verification c",
            ),
            tlvs: t.build(),
            ..Default::default()
        }),
    )
}

fn frame(p: &Pdu<Bytes>) -> Bytes {
    p.to_bytes().expect("encodes")
}

#[divan::bench(name = "decode_submit_sm_borrowed")]
fn decode_submit_sm_borrowed(b: Bencher) {
    let f = frame(&submit_sm());
    let f: &[u8] = &f;
    b.counter(ItemsCount::new(1usize)).bench(|| {
        Pdu::<&[u8]>::decode(black_box(&f), &Limits::SMPP34).map(|p| black_box(p).sequence_number)
    });
}

#[divan::bench(name = "decode_submit_sm_bytes")]
fn decode_submit_sm_bytes(b: Bencher) {
    let f = frame(&submit_sm());
    b.counter(ItemsCount::new(1usize)).bench(|| {
        Pdu::<Bytes>::decode(black_box(&f), &Limits::SMPP34).map(|p| black_box(p).sequence_number)
    });
}

#[divan::bench(name = "encode_submit_sm")]
fn encode_submit_sm(b: Bencher) {
    let p = submit_sm();
    let mut buf = BytesMut::with_capacity(4096);
    b.counter(ItemsCount::new(1usize)).bench_local(|| {
        buf.clear();
        black_box(&p).encode(&mut buf).expect("encodes");
        black_box(buf.len())
    });
}

#[divan::bench(name = "decode_deliver_sm_borrowed")]
fn decode_deliver_sm_borrowed(b: Bencher) {
    let f = frame(&deliver_sm());
    let f: &[u8] = &f;
    b.counter(ItemsCount::new(1usize)).bench(|| {
        Pdu::<&[u8]>::decode(black_box(&f), &Limits::SMPP34).map(|p| black_box(p).sequence_number)
    });
}

#[divan::bench(name = "decode_deliver_sm_bytes")]
fn decode_deliver_sm_bytes(b: Bencher) {
    let f = frame(&deliver_sm());
    b.counter(ItemsCount::new(1usize)).bench(|| {
        Pdu::<Bytes>::decode(black_box(&f), &Limits::SMPP34).map(|p| black_box(p).sequence_number)
    });
}

#[divan::bench(name = "encode_deliver_sm")]
fn encode_deliver_sm(b: Bencher) {
    let p = deliver_sm();
    let mut buf = BytesMut::with_capacity(4096);
    b.counter(ItemsCount::new(1usize)).bench_local(|| {
        buf.clear();
        black_box(&p).encode(&mut buf).expect("encodes");
        black_box(buf.len())
    });
}

/// Framing plus decoding, as a session does it: frames cut from a stream
/// buffer of 64 back-to-back submit_sm.
#[divan::bench(name = "frame_and_decode_submit_sm_x64")]
fn frame_and_decode(b: Bencher) {
    let one = frame(&submit_sm());
    let mut stream = BytesMut::new();
    for _ in 0..64 {
        stream.extend_from_slice(&one);
    }
    let stream = stream.freeze();
    let d = smpp::FrameDecoder::default();
    b.counter(ItemsCount::new(64usize)).bench_local(|| {
        let mut buf = BytesMut::from(&stream[..]);
        let mut n = 0u32;
        while let Ok(Some(raw)) = d.decode(&mut buf) {
            if let Ok(p) = raw.decode(&Limits::SMPP34) {
                n = n.wrapping_add(black_box(p).sequence_number);
            }
        }
        n
    });
}
