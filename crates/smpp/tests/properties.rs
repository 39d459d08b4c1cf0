//! Property tests of the PDU codec: decode(encode(pdu)) == pdu, the three
//! buffer kinds agree, and no input makes the decoder panic.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use bytes::{Bytes, BytesMut};
use proptest::prelude::*;
use smpp::pdu::{Limits, Pdu};
use smpp::{FrameDecoder, Header};

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn decode_inverts_encode(pdu in common::pdu()) {
        let mut buf = BytesMut::new();
        pdu.encode(&mut buf).unwrap();
        let frame = buf.to_vec();
        let back = Pdu::<Vec<u8>>::decode(&frame, &Limits::SMPP34).unwrap();
        prop_assert_eq!(&back, &pdu);

        // Borrowed and shared decodes see the same fields.
        let borrowed = Pdu::<&[u8]>::decode(&&frame[..], &Limits::SMPP34).unwrap();
        let mut again = BytesMut::new();
        borrowed.encode(&mut again).unwrap();
        prop_assert_eq!(&again[..], &frame[..]);
        let shared = Pdu::<Bytes>::decode(&Bytes::from(frame.clone()), &Limits::SMPP34).unwrap();
        prop_assert_eq!(shared.to_bytes().unwrap(), Bytes::from(frame.clone()));

        // Every strict prefix of the body is an error, never a panic and
        // never a different PDU.
        for cut in 16..frame.len() {
            let mut f = frame[..cut].to_vec();
            f[..4].copy_from_slice(&(cut as u32).to_be_bytes());
            if let Ok(p) = Pdu::<&[u8]>::decode(&&f[..], &Limits::SMPP34) {
                // Only a shorter TLV section, or an optional body, may still parse.
                prop_assert_eq!(p.command_id(), pdu.command_id());
            }
        }
    }

    #[test]
    fn arbitrary_bodies_never_panic(id in prop::sample::select(smpp::CommandId::ALL.to_vec()),
                                    status in any::<u32>(),
                                    body in proptest::collection::vec(any::<u8>(), 0..400)) {
        let mut f = Vec::with_capacity(16 + body.len());
        f.extend_from_slice(&((16 + body.len()) as u32).to_be_bytes());
        f.extend_from_slice(&id.0.to_be_bytes());
        f.extend_from_slice(&status.to_be_bytes());
        f.extend_from_slice(&7u32.to_be_bytes());
        f.extend_from_slice(&body);
        match Pdu::<&[u8]>::decode(&&f[..], &Limits::JASMIN) {
            Ok(p) => {
                // Whatever decodes re-encodes (within the lenient limits it
                // may exceed 3.4's, which encoding refuses cleanly).
                let _ = p.encode(&mut BytesMut::new());
            }
            Err(e) => {
                prop_assert_eq!(e.sequence_number, 7);
                prop_assert!(!e.status.is_ok());
                let _ = e.response::<Bytes>();
            }
        }
    }

    #[test]
    fn arbitrary_streams_never_panic(chunks in proptest::collection::vec(
        proptest::collection::vec(any::<u8>(), 0..64), 0..20)) {
        let d = FrameDecoder::new(4096);
        let mut buf = BytesMut::new();
        'outer: for c in chunks {
            buf.extend_from_slice(&c);
            loop {
                match d.decode(&mut buf) {
                    Ok(Some(raw)) => {
                        prop_assert_eq!(raw.bytes.len(), raw.header.command_length as usize);
                        let _ = raw.decode(&Limits::SMPP34);
                    }
                    Ok(None) => break,
                    Err(e) => {
                        prop_assert!(e.command_length < 16 || e.command_length > 4096);
                        break 'outer;
                    }
                }
            }
            prop_assert!(buf.capacity() <= 4096 + 64 * 20 + 64);
        }
    }

    #[test]
    fn header_parse_is_total(b in proptest::collection::vec(any::<u8>(), 0..32)) {
        let h = Header::parse(&b);
        prop_assert_eq!(h.is_some(), b.len() >= 16);
    }
}
