//! A byte stream in arbitrary chunks: the framer yields whole frames or a
//! command_length error, never panics, and never holds more than a frame.
#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use smpp::FrameDecoder;
use smpp::pdu::Limits;

fuzz_target!(|data: &[u8]| {
    let Some((&chunk, rest)) = data.split_first() else { return };
    let chunk = (chunk as usize % 64) + 1;
    let d = FrameDecoder::new(2048);
    let mut buf = BytesMut::new();
    for piece in rest.chunks(chunk) {
        buf.extend_from_slice(piece);
        loop {
            match d.decode(&mut buf) {
                Ok(Some(raw)) => {
                    assert_eq!(raw.bytes.len(), raw.header.command_length as usize);
                    let _ = raw.decode(&Limits::SMPP34);
                }
                Ok(None) => break,
                Err(_) => return,
            }
        }
        assert!(buf.len() < 2048 + 64);
    }
});
