//! Text decoders, UDH parsing, receipts and SMPP times on any bytes: never
//! panic, and what decodes as GSM re-encodes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use smpp::text::{Encoding, gsm7};

fuzz_target!(|data: &[u8]| {
    let Some((&dc, rest)) = data.split_first() else { return };
    let enc = Encoding::from_data_coding(dc);
    let text = enc.decode(rest);
    let _ = enc.encode_lossy(&text);
    let _ = gsm7::unpack(rest, dc % 7);
    if let Ok(udh) = smpp::udh::Udh::parse(rest) {
        assert!(udh.payload_offset() <= rest.len());
        let _ = udh.concat();
    }
    let _ = smpp::receipt::Receipt::parse(rest);
    let _ = smpp::time::SmppTime::parse(rest);
    if let Ok(s) = std::str::from_utf8(rest) {
        for m in [smpp::split::Method::Udh8, smpp::split::Method::Sar] {
            let e = smpp::text::choose_encoding(s);
            if let Ok(parts) = smpp::split::split_text(s, e, m, 7) {
                assert_eq!(Ok(parts.len()), smpp::split::count_parts(s, e, m));
            }
        }
    }
});
