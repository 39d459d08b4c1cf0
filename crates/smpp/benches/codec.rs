//! Decode and encode a typical submit_sm, a deliver_sm receipt, and a stream
//! of 64 back-to-back submit_sm, with our codec and, on the very same bytes,
//! with rusmpp's (0.4, an independent implementation), side by side.
//!
//! `make bench`; figures go in docs/benchmarks.md. One iteration is one PDU
//! (64 for the `*_x64` groups), so divan's items/s is PDUs per second on one
//! core. Each group fixes its sample size (iterations per timed sample), so
//! that no row is timed one iteration at a time, where the clock's own cost
//! (about 20 ns) would weigh on the fast rows; divan otherwise picks it from
//! its first runs, which on a loaded machine can leave it at 1.
//!
//! Before anything is measured, `main` checks that the comparison is fair:
//! rusmpp decodes each frame to the same fields as ours (the `Command` built
//! by hand from our `Pdu`'s fields), and both encoders write the same bytes.
//!
//! Like with like:
//! - decode: rusmpp's `Command` owns its data the way our `Pdu<Bytes>` does
//!   (each field a reference-counted slice of the input buffer, split off a
//!   `BytesMut`), so `decode_ours_shared` against `decode_rusmpp` is the fair
//!   row; `decode_ours_borrowed` (`Pdu<&[u8]>`, no reference counts) is shown
//!   beside them but has no rusmpp counterpart (the `rusmpp` crate exposes
//!   only its owned types). rusmpp decodes by consuming a `BytesMut`, so each
//!   iteration gets its own copy of the frame, made outside the timed region
//!   and already in shared (reference-counted) form as a session's read
//!   buffer is after its first frame; ours reads a shared `Bytes`. In both,
//!   the decoded PDU is dropped inside the timed region.
//! - encode: both into one reused `BytesMut`, cleared each iteration;
//!   rusmpp's the way its tokio codec drives it (command_length from
//!   `length()`, then the command).
//! - the x64 stream: both copy the stream into a fresh `BytesMut` (timed),
//!   then cut and decode every frame: ours with `FrameDecoder`, rusmpp with
//!   its tokio codec's steps (length, the 16 and 8192 octet bounds, decode
//!   from the buffer), written out here since the `rusmpp` feature that
//!   exports the codec pulls in tokio.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use bytes::{Buf, BufMut, Bytes, BytesMut};
use divan::{Bencher, black_box, counter::ItemsCount};
use rusmpp::decode::DecodeWithLength;
use rusmpp::encode::Length;
use rusmpp::encode::owned::Encode;
use rusmpp::pdus as rp;
use rusmpp::pdus::parts as rpp;
use rusmpp::tlvs::{Tlv as RTlv, TlvValue as RV};
use rusmpp::types as rt;
use rusmpp::values as rv;
use rusmpp::{Command, Pdu as RPdu};
use smpp::pdu::*;
use smpp::tlv::{TlvTag, TlvsBuilder};

fn main() {
    check_fair();
    divan::main();
}

// ---- the PDUs ----

/// A 1-part GSM submit_sm as ESMEs send it: international addresses,
/// registered_delivery 1, a 60-character text, no TLVs (83 octets).
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

/// How many submit_sm the stream benches carry back to back.
const STREAM: usize = 64;

fn frame(p: &Pdu<Bytes>) -> Bytes {
    p.to_bytes().expect("encodes")
}

fn stream(one: &[u8]) -> Bytes {
    let mut s = BytesMut::new();
    for _ in 0..STREAM {
        s.extend_from_slice(one);
    }
    s.freeze()
}

// ---- the same PDUs as rusmpp Commands, field by field ----

/// A C-Octet String field: the value and its NUL.
fn c<const MIN: usize, const MAX: usize>(s: &[u8]) -> rt::COctetString<MIN, MAX> {
    let mut v = s.to_vec();
    v.push(0);
    rt::COctetString::from_vec(v).expect("rusmpp takes the C-Octet String")
}

/// A time field: empty, or 16 characters and its NUL.
fn time(s: &[u8]) -> rt::EmptyOrFullCOctetString<17> {
    let mut v = s.to_vec();
    v.push(0);
    rt::EmptyOrFullCOctetString::from_vec(v).expect("rusmpp takes the time")
}

/// The TLVs these benches use, as rusmpp's typed values.
fn r_tlvs(t: &smpp::tlv::Tlvs<Bytes>) -> Vec<RTlv> {
    t.iter()
        .map(|t| match t.tag {
            TlvTag::RECEIPTED_MESSAGE_ID => RTlv::new(RV::ReceiptedMessageId(
                rt::COctetString::from_slice(t.value).expect("NUL-terminated ASCII"),
            )),
            TlvTag::MESSAGE_STATE => {
                RTlv::new(RV::MessageState(rv::MessageState::from(t.value[0])))
            }
            other => panic!("no rusmpp mapping here for {other:?}"),
        })
        .collect()
}

macro_rules! r_sm {
    ($ty:ident, $parts:ident, $s:expr) => {{
        let s = $s;
        rp::$ty::from_parts(rpp::$parts {
            service_type: rv::ServiceType::new(c(&s.service_type)),
            source_addr_ton: rv::Ton::from(s.source.ton.0),
            source_addr_npi: rv::Npi::from(s.source.npi.0),
            source_addr: c(&s.source.addr),
            dest_addr_ton: rv::Ton::from(s.destination.ton.0),
            dest_addr_npi: rv::Npi::from(s.destination.npi.0),
            destination_addr: c(&s.destination.addr),
            esm_class: rv::EsmClass::from(s.esm_class.0),
            protocol_id: s.protocol_id,
            priority_flag: rv::PriorityFlag::from(s.priority_flag),
            schedule_delivery_time: time(&s.schedule_delivery_time),
            validity_period: time(&s.validity_period),
            registered_delivery: rv::RegisteredDelivery::from(s.registered_delivery.0),
            replace_if_present_flag: rv::ReplaceIfPresentFlag::from(s.replace_if_present_flag),
            data_coding: rv::DataCoding::from(s.data_coding.0),
            sm_default_msg_id: s.sm_default_msg_id,
            sm_length: u8::try_from(s.short_message.len()).expect("short_message fits"),
            short_message: rt::OctetString::from_slice(&s.short_message)
                .expect("rusmpp takes the short_message"),
            tlvs: r_tlvs(&s.tlvs),
        })
    }};
}

/// Our submit_sm or deliver_sm as the rusmpp `Command` with the same fields.
fn command(p: &Pdu<Bytes>) -> Command {
    let body = match &p.body {
        Body::SubmitSm(s) => RPdu::SubmitSm(r_sm!(SubmitSm, SubmitSmParts, s)),
        Body::DeliverSm(s) => RPdu::DeliverSm(r_sm!(DeliverSm, DeliverSmParts, s)),
        other => panic!("no rusmpp mapping here for {other:?}"),
    };
    Command::new(
        rusmpp::CommandStatus::from(p.command_status.0),
        p.sequence_number,
        body,
    )
}

// ---- rusmpp's codec, as its tokio codec drives it ----

/// rusmpp's encode: command_length, then the command.
fn rusmpp_encode(cmd: &Command, buf: &mut BytesMut) {
    let len = 4 + cmd.length();
    buf.reserve(len);
    buf.put_u32(len as u32);
    cmd.encode(buf);
}

/// rusmpp's decode of one whole frame at the front of `buf`.
fn rusmpp_decode(buf: &mut BytesMut) -> Option<Command> {
    if buf.len() < 16 {
        return None;
    }
    let len = buf.get_u32() as usize;
    if !(16..=8192).contains(&len) || buf.len() < len - 4 {
        return None;
    }
    Command::decode(buf, len - 4).ok().map(|(cmd, _)| cmd)
}

/// A frame in a `BytesMut` of its own, already in shared form (as a
/// session's read buffer is once a frame has been split off it).
fn rusmpp_input(frame: &[u8]) -> BytesMut {
    let mut b = BytesMut::from(frame);
    drop(b.split_to(0));
    b
}

/// The comparison is of the same work: rusmpp reads each frame as the PDU
/// ours encoded it from, and writes the same bytes from it.
fn check_fair() {
    for p in [submit_sm(), deliver_sm()] {
        let f = frame(&p);
        let cmd = command(&p);
        assert_eq!(Pdu::<Bytes>::decode(&f, &Limits::SMPP34).as_ref(), Ok(&p));
        let mut input = rusmpp_input(&f);
        assert_eq!(
            rusmpp_decode(&mut input).as_ref(),
            Some(&cmd),
            "rusmpp's decode"
        );
        assert!(input.is_empty(), "rusmpp used the whole frame");
        let mut theirs = BytesMut::new();
        rusmpp_encode(&cmd, &mut theirs);
        assert_eq!(&theirs[..], &f[..], "rusmpp's encode");
    }
    let s = stream(&frame(&submit_sm()));
    let mut buf = BytesMut::from(&s[..]);
    let expected = command(&submit_sm());
    for _ in 0..STREAM {
        assert_eq!(rusmpp_decode(&mut buf).as_ref(), Some(&expected));
    }
    assert!(buf.is_empty());
}

// ---- the benches, shared by the groups below ----

fn decode_borrowed(b: Bencher, f: &[u8]) {
    b.counter(ItemsCount::new(1usize)).bench(|| {
        Pdu::<&[u8]>::decode(black_box(&f), &Limits::SMPP34).map(|p| black_box(p).sequence_number)
    });
}

fn decode_shared(b: Bencher, f: &Bytes) {
    b.counter(ItemsCount::new(1usize)).bench(|| {
        Pdu::<Bytes>::decode(black_box(f), &Limits::SMPP34).map(|p| black_box(p).sequence_number)
    });
}

fn decode_rusmpp(b: Bencher, f: &[u8]) {
    b.counter(ItemsCount::new(1usize))
        .with_inputs(|| rusmpp_input(f))
        .bench_local_refs(|buf| {
            rusmpp_decode(black_box(buf)).map(|c| black_box(c).sequence_number())
        });
}

fn encode_ours(b: Bencher, p: &Pdu<Bytes>, n: usize) {
    let mut buf = BytesMut::with_capacity(8192);
    b.counter(ItemsCount::new(n)).bench_local(|| {
        buf.clear();
        for _ in 0..n {
            black_box(p).encode(&mut buf).expect("encodes");
        }
        black_box(buf.len())
    });
}

fn encode_rusmpp(b: Bencher, cmd: &Command, n: usize) {
    let mut buf = BytesMut::with_capacity(8192);
    b.counter(ItemsCount::new(n)).bench_local(|| {
        buf.clear();
        for _ in 0..n {
            rusmpp_encode(black_box(cmd), &mut buf);
        }
        black_box(buf.len())
    });
}

/// The 83-octet submit_sm.
#[divan::bench_group(sample_size = 1000)]
mod submit_sm {
    use super::*;

    #[divan::bench]
    fn decode_ours_borrowed(b: Bencher) {
        decode_borrowed(b, &frame(&submit_sm()));
    }

    #[divan::bench]
    fn decode_ours_shared(b: Bencher) {
        decode_shared(b, &frame(&submit_sm()));
    }

    #[divan::bench]
    fn decode_rusmpp(b: Bencher) {
        super::decode_rusmpp(b, &frame(&submit_sm()));
    }

    #[divan::bench]
    fn encode_ours(b: Bencher) {
        super::encode_ours(b, &submit_sm(), 1);
    }

    #[divan::bench]
    fn encode_rusmpp(b: Bencher) {
        super::encode_rusmpp(b, &command(&submit_sm()), 1);
    }
}

/// The deliver_sm receipt with receipted_message_id and message_state.
#[divan::bench_group(sample_size = 1000)]
mod deliver_sm {
    use super::*;

    #[divan::bench]
    fn decode_ours_borrowed(b: Bencher) {
        decode_borrowed(b, &frame(&deliver_sm()));
    }

    #[divan::bench]
    fn decode_ours_shared(b: Bencher) {
        decode_shared(b, &frame(&deliver_sm()));
    }

    #[divan::bench]
    fn decode_rusmpp(b: Bencher) {
        super::decode_rusmpp(b, &frame(&deliver_sm()));
    }

    #[divan::bench]
    fn encode_ours(b: Bencher) {
        super::encode_ours(b, &deliver_sm(), 1);
    }

    #[divan::bench]
    fn encode_rusmpp(b: Bencher) {
        super::encode_rusmpp(b, &command(&deliver_sm()), 1);
    }
}

/// 64 back-to-back submit_sm: framing plus decoding, as a session does it
/// (frames cut from a stream buffer), and encoding them into one buffer.
#[divan::bench_group(sample_size = 20)]
mod submit_sm_x64 {
    use super::*;

    #[divan::bench]
    fn frame_and_decode_ours(b: Bencher) {
        let s = stream(&frame(&submit_sm()));
        let d = smpp::FrameDecoder::default();
        b.counter(ItemsCount::new(STREAM)).bench_local(|| {
            let mut buf = BytesMut::from(&s[..]);
            let mut n = 0u32;
            while let Ok(Some(raw)) = d.decode(&mut buf) {
                if let Ok(p) = raw.decode(&Limits::SMPP34) {
                    n = n.wrapping_add(black_box(p).sequence_number);
                }
            }
            n
        });
    }

    #[divan::bench]
    fn frame_and_decode_rusmpp(b: Bencher) {
        let s = stream(&frame(&submit_sm()));
        b.counter(ItemsCount::new(STREAM)).bench_local(|| {
            let mut buf = BytesMut::from(&s[..]);
            let mut n = 0u32;
            while let Some(c) = rusmpp_decode(&mut buf) {
                n = n.wrapping_add(black_box(c).sequence_number());
            }
            n
        });
    }

    #[divan::bench]
    fn encode_ours(b: Bencher) {
        super::encode_ours(b, &submit_sm(), STREAM);
    }

    #[divan::bench]
    fn encode_rusmpp(b: Bencher) {
        super::encode_rusmpp(b, &command(&submit_sm()), STREAM);
    }
}
