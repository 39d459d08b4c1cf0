//! One frame, any bytes: the decoder must answer with a PDU or a status,
//! never panic; whatever it decodes must re-encode to the same bytes when
//! within the 3.4 limits.
#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use smpp::pdu::{Limits, Pdu};

fuzz_target!(|data: &[u8]| {
    // Make command_length agree with the input so bodies get exercised.
    let mut frame = data.to_vec();
    if frame.len() >= 16 {
        let len = (frame.len() as u32).to_be_bytes();
        frame[..4].copy_from_slice(&len);
    }
    for limits in [Limits::SMPP34, Limits::JASMIN] {
        match Pdu::<&[u8]>::decode(&&frame[..], &limits) {
            Ok(pdu) => {
                let mut buf = BytesMut::new();
                if pdu.encode(&mut buf).is_ok() {
                    // Re-decoding what we encoded gives the same PDU.
                    let again = Pdu::<&[u8]>::decode(&&buf[..], &limits).expect("re-decodes");
                    assert_eq!(again, pdu);
                }
            }
            Err(e) => {
                assert!(!e.status.is_ok());
                if let Some(r) = e.response::<bytes::Bytes>() {
                    r.encode(&mut BytesMut::new()).expect("error responses encode");
                }
            }
        }
    }
});
