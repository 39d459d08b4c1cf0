//! Splitting a long message into parts that each fit one short_message.
//!
//! This module owns the per-part limits and where the cuts go:
//!
//! | encoding | single part | per part, 8-bit-ref UDH | 16-bit-ref UDH | SAR |
//! |---|---|---|---|---|
//! | GSM 7-bit (septets) | 160 | 153 | 152 | 160 |
//! | Latin-1, binary (octets) | 140 | 134 | 133 | 140 |
//! | UCS-2 (UTF-16 units) | 70 | 67 | 66 | 70 |
//!
//! The UDH limits come from 140 octets of TP-UD minus the header (6 or 7
//! octets), counted in whole septets / UTF-16 units. SAR parts carry their
//! concatenation in TLVs, so they keep the whole 140 octets. A text that
//! fits in a single part is never split and carries no UDH or SAR, whatever
//! the method.
//!
//! Cuts never separate a GSM escape from the character it introduces, nor
//! the two halves of a UTF-16 surrogate pair; such a pair moves whole to the
//! next part.
//!
//! GSM text stays unpacked (one septet per octet) in the parts, UDH first,
//! as SMPP data_coding 0 expects; the SMSC packs it.

use bytes::{BufMut, Bytes, BytesMut};

use crate::pdu::SubmitSm;
use crate::text::gsm7::ESC;
use crate::text::ucs2::{is_high_surrogate, is_low_surrogate};
use crate::text::{EncodeError, Encoding};
use crate::tlv::{TlvTag, TlvsBuilder};
use crate::udh;

/// Most parts a concatenated message can have: seq and total are one octet.
pub const MAX_PARTS: usize = 255;

/// Most octets a message_payload TLV can hold (its length is 16 bits).
pub const MAX_PAYLOAD: usize = u16::MAX as usize;

/// How the parts of a long message are tied together.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Method {
    /// Concatenation UDH with an 8-bit reference (IE 0x00), the most widely
    /// supported. Only the low 8 bits of the reference are used.
    Udh8,
    /// Concatenation UDH with a 16-bit reference (IE 0x08).
    Udh16,
    /// sar_msg_ref_num / sar_total_segments / sar_segment_seqnum TLVs, no UDH.
    Sar,
    /// No split: the whole body goes in one message_payload TLV.
    Payload,
}

/// SAR values for one part, to be sent as the three sar_* TLVs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Sar {
    /// sar_msg_ref_num, shared by all parts.
    pub ref_num: u16,
    /// sar_total_segments.
    pub total: u8,
    /// sar_segment_seqnum, 1-based.
    pub seq: u8,
}

/// One part of a split message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Part {
    /// The octets to send: UDH (if `udhi`) then the encoded text. For
    /// [`Method::Payload`] these go in message_payload instead.
    pub short_message: Bytes,
    /// Whether `short_message` starts with a UDH: the caller must then set
    /// UDHI (0x40) in esm_class.
    pub udhi: bool,
    /// The SAR TLV values, for [`Method::Sar`] parts.
    pub sar: Option<Sar>,
}

impl Part {
    /// The submit_sm (or deliver_sm) that carries this part: `template`'s
    /// addresses and flags, with this part's content, UDHI and SAR TLVs.
    /// Content over 254 octets (a [`Method::Payload`] part) goes in
    /// message_payload with an empty short_message.
    pub fn to_submit_sm(&self, template: &SubmitSm<Bytes>) -> SubmitSm<Bytes> {
        let mut tlvs = TlvsBuilder::new();
        // The template's own TLVs, less any content or SAR ones it carried.
        for t in template.tlvs.iter() {
            if !matches!(
                t.tag,
                TlvTag::MESSAGE_PAYLOAD
                    | TlvTag::SAR_MSG_REF_NUM
                    | TlvTag::SAR_TOTAL_SEGMENTS
                    | TlvTag::SAR_SEGMENT_SEQNUM
            ) {
                tlvs.push(t.tag, t.value);
            }
        }
        if let Some(sar) = self.sar {
            tlvs.push_u16(TlvTag::SAR_MSG_REF_NUM, sar.ref_num)
                .push_u8(TlvTag::SAR_TOTAL_SEGMENTS, sar.total)
                .push_u8(TlvTag::SAR_SEGMENT_SEQNUM, sar.seq);
        }
        let short_message = if self.short_message.len() > SHORT_MESSAGE_MAX {
            tlvs.push(TlvTag::MESSAGE_PAYLOAD, &self.short_message);
            Bytes::new()
        } else {
            self.short_message.clone()
        };
        SubmitSm {
            esm_class: template.esm_class.with_udhi(self.udhi),
            short_message,
            tlvs: tlvs.build(),
            ..template.clone()
        }
    }
}

/// The longest short_message field (§5.2.21).
const SHORT_MESSAGE_MAX: usize = 254;

/// Why a message could not be split.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SplitError {
    /// More than [`MAX_PARTS`] parts would be needed.
    #[error("message needs {parts} parts, more than the 255 allowed")]
    TooManyParts {
        /// How many parts it would need.
        parts: usize,
    },
    /// The body is longer than a message_payload TLV can carry.
    #[error("message of {len} octets exceeds message_payload's 65535")]
    PayloadTooLong {
        /// Encoded length.
        len: usize,
    },
    /// The text has a character the encoding cannot carry.
    #[error(transparent)]
    Encode(#[from] EncodeError),
}

/// The most a single, unsplit part holds, in the encoding's counting unit:
/// septets for GSM 7-bit, octets otherwise (UCS-2: 140 octets = 70 units).
pub const fn single_part_limit(encoding: Encoding) -> usize {
    match encoding {
        Encoding::Gsm7 => 160,
        Encoding::Latin1 | Encoding::Ucs2 | Encoding::Binary => 140,
    }
}

/// The most each part of a split message holds with `method`, in the same
/// unit as [`single_part_limit`]. For [`Method::Payload`] it is
/// [`MAX_PAYLOAD`].
pub const fn part_limit(encoding: Encoding, method: Method) -> usize {
    let udh_len = match method {
        Method::Udh8 => udh::CONCAT_8_LEN,
        Method::Udh16 => udh::CONCAT_16_LEN,
        Method::Sar => return single_part_limit(encoding),
        Method::Payload => return MAX_PAYLOAD,
    };
    let octets = 140 - udh_len;
    match encoding {
        Encoding::Gsm7 => octets * 8 / 7,
        Encoding::Ucs2 => octets & !1,
        Encoding::Latin1 | Encoding::Binary => octets,
    }
}

/// How many parts `text` needs in `encoding` with `method`: 1 if it fits a
/// single part (and always 1 for [`Method::Payload`]). Does not allocate.
pub fn count_parts(text: &str, encoding: Encoding, method: Method) -> Result<usize, SplitError> {
    if encoding == Encoding::Binary {
        // Binary is octets, cut anywhere: count the UTF-8 octets as such.
        return count_parts_encoded(text.as_bytes(), encoding, method);
    }
    let mut counter = Counter::new(encoding, method);
    for (index, c) in text.char_indices() {
        let size = char_size(encoding, c).ok_or(EncodeError::Unencodable {
            ch: c,
            index,
            encoding,
        })?;
        counter.add(size);
    }
    counter.finish()
}

/// Like [`count_parts`] for an already encoded body (GSM 7-bit unpacked).
pub fn count_parts_encoded(
    body: &[u8],
    encoding: Encoding,
    method: Method,
) -> Result<usize, SplitError> {
    let mut counter = Counter::new(encoding, method);
    let mut i = 0;
    while i < body.len() {
        let size = token_len(encoding, body, i);
        counter.add(size);
        i += size;
    }
    counter.finish()
}

/// Encodes `text` and splits it; see [`split_encoded`].
pub fn split_text(
    text: &str,
    encoding: Encoding,
    method: Method,
    reference: u16,
) -> Result<Vec<Part>, SplitError> {
    let body = encoding.encode(text)?;
    split_encoded(&body, encoding, method, reference)
}

/// Splits an encoded body (GSM 7-bit as unpacked septets) into parts.
///
/// `reference` ties the parts together (the low 8 bits for
/// [`Method::Udh8`]); the caller should vary it per message and destination.
/// A body that fits one part comes back as one plain part. All parts share
/// one allocation.
pub fn split_encoded(
    body: &[u8],
    encoding: Encoding,
    method: Method,
    reference: u16,
) -> Result<Vec<Part>, SplitError> {
    if method == Method::Payload {
        if body.len() > MAX_PAYLOAD {
            return Err(SplitError::PayloadTooLong { len: body.len() });
        }
        return Ok(vec![plain(body)]);
    }
    if body.len() <= single_part_limit(encoding) {
        return Ok(vec![plain(body)]);
    }

    let limit = part_limit(encoding, method);
    let mut ends = Vec::new();
    let mut start = 0;
    let mut i = 0;
    while i < body.len() {
        let size = token_len(encoding, body, i);
        if i + size - start > limit {
            ends.push(i);
            start = i;
        }
        i += size;
    }
    ends.push(body.len());
    let total =
        u8::try_from(ends.len()).map_err(|_| SplitError::TooManyParts { parts: ends.len() })?;

    let (udh_len, udhi) = match method {
        Method::Udh8 => (udh::CONCAT_8_LEN, true),
        Method::Udh16 => (udh::CONCAT_16_LEN, true),
        Method::Sar | Method::Payload => (0, false),
    };
    let mut buf = BytesMut::with_capacity(body.len() + udh_len * ends.len());
    let mut parts = Vec::with_capacity(ends.len());
    let mut start = 0;
    for (seq, &end) in (1..=total).zip(&ends) {
        let mut sar = None;
        match method {
            Method::Udh8 => buf.put_slice(&udh::concat8(reference.to_be_bytes()[1], total, seq)),
            Method::Udh16 => buf.put_slice(&udh::concat16(reference, total, seq)),
            Method::Sar | Method::Payload => {
                sar = Some(Sar {
                    ref_num: reference,
                    total,
                    seq,
                });
            }
        }
        buf.put_slice(&body[start..end]);
        start = end;
        parts.push(Part {
            short_message: buf.split().freeze(),
            udhi,
            sar,
        });
    }
    Ok(parts)
}

fn plain(body: &[u8]) -> Part {
    Part {
        short_message: Bytes::copy_from_slice(body),
        udhi: false,
        sar: None,
    }
}

/// Size of one uncuttable unit of `c` in the counting unit.
fn char_size(encoding: Encoding, c: char) -> Option<usize> {
    match encoding {
        Encoding::Gsm7 => crate::text::gsm7::char_septets(c),
        Encoding::Latin1 => (u32::from(c) <= 0xFF).then_some(1),
        Encoding::Ucs2 => Some(c.len_utf16() * 2),
        // Not reached: binary is counted per octet by the caller.
        Encoding::Binary => Some(c.len_utf8()),
    }
}

/// Length of the uncuttable unit starting at `body[i]` (`i < body.len()`):
/// an escape pair in GSM, a surrogate pair or single unit in UCS-2 (a
/// trailing odd octet alone), else one octet.
fn token_len(encoding: Encoding, body: &[u8], i: usize) -> usize {
    let rest = body.get(i..).unwrap_or_default();
    match (encoding, rest) {
        (Encoding::Gsm7, [ESC, _, ..]) => 2,
        (Encoding::Ucs2, [a, b, c, d, ..])
            if is_high_surrogate(u16::from_be_bytes([*a, *b]))
                && is_low_surrogate(u16::from_be_bytes([*c, *d])) =>
        {
            4
        }
        (Encoding::Ucs2, [_, _, ..]) => 2,
        _ => 1,
    }
}

/// Greedy part counting, shared by the text and octet paths so they agree
/// with [`split_encoded`].
struct Counter {
    method: Method,
    single: usize,
    limit: usize,
    total: usize,
    parts: usize,
    current: usize,
}

impl Counter {
    fn new(encoding: Encoding, method: Method) -> Counter {
        Counter {
            method,
            single: single_part_limit(encoding),
            limit: part_limit(encoding, method),
            total: 0,
            parts: 1,
            current: 0,
        }
    }

    fn add(&mut self, size: usize) {
        self.total += size;
        if self.current + size > self.limit {
            self.parts += 1;
            self.current = size;
        } else {
            self.current += size;
        }
    }

    fn finish(self) -> Result<usize, SplitError> {
        if self.method == Method::Payload {
            return if self.total > MAX_PAYLOAD {
                Err(SplitError::PayloadTooLong { len: self.total })
            } else {
                Ok(1)
            };
        }
        if self.total <= self.single {
            Ok(1)
        } else if self.parts > MAX_PARTS {
            Err(SplitError::TooManyParts { parts: self.parts })
        } else {
            Ok(self.parts)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reassembly::{Config, Outcome, Reassembler};
    use crate::text::gsm7;
    use crate::udh::Udh;
    use proptest::prelude::*;
    use std::time::Instant;

    const METHODS: [Method; 4] = [Method::Udh8, Method::Udh16, Method::Sar, Method::Payload];
    const ENCODINGS: [Encoding; 4] = [
        Encoding::Gsm7,
        Encoding::Latin1,
        Encoding::Ucs2,
        Encoding::Binary,
    ];

    /// The payload of each part, UDH stripped.
    fn payloads(parts: &[Part]) -> Vec<&[u8]> {
        parts
            .iter()
            .map(|p| {
                if p.udhi {
                    let off = Udh::parse(&p.short_message).unwrap().payload_offset();
                    &p.short_message[off..]
                } else {
                    &p.short_message[..]
                }
            })
            .collect()
    }

    fn gsm_lens(text: &str, method: Method) -> Vec<usize> {
        let parts = split_text(text, Encoding::Gsm7, method, 7).unwrap();
        payloads(&parts).iter().map(|p| p.len()).collect()
    }

    #[test]
    fn limits() {
        use Encoding::*;
        assert_eq!(part_limit(Gsm7, Method::Udh8), 153);
        assert_eq!(part_limit(Gsm7, Method::Udh16), 152);
        assert_eq!(part_limit(Gsm7, Method::Sar), 160);
        assert_eq!(part_limit(Latin1, Method::Udh8), 134);
        assert_eq!(part_limit(Binary, Method::Udh16), 133);
        assert_eq!(part_limit(Ucs2, Method::Udh8), 134);
        assert_eq!(part_limit(Ucs2, Method::Udh16), 132);
        assert_eq!(part_limit(Ucs2, Method::Sar), 140);
    }

    #[test]
    fn gsm_boundaries() {
        let s160 = "a".repeat(160);
        let s161 = "a".repeat(161);
        assert_eq!(count_parts(&s160, Encoding::Gsm7, Method::Udh8), Ok(1));
        assert_eq!(gsm_lens(&s160, Method::Udh8), vec![160]);
        let parts = split_text(&s160, Encoding::Gsm7, Method::Udh8, 1).unwrap();
        assert!(!parts[0].udhi && parts[0].sar.is_none());
        assert_eq!(count_parts(&s161, Encoding::Gsm7, Method::Udh8), Ok(2));
        assert_eq!(gsm_lens(&s161, Method::Udh8), vec![153, 8]);
        assert_eq!(gsm_lens(&s161, Method::Udh16), vec![152, 9]);
        assert_eq!(gsm_lens(&s161, Method::Sar), vec![160, 1]);

        let s306 = "a".repeat(153 * 2);
        let s307 = "a".repeat(153 * 2 + 1);
        assert_eq!(count_parts(&s306, Encoding::Gsm7, Method::Udh8), Ok(2));
        assert_eq!(gsm_lens(&s306, Method::Udh8), vec![153, 153]);
        assert_eq!(count_parts(&s307, Encoding::Gsm7, Method::Udh8), Ok(3));
        assert_eq!(gsm_lens(&s307, Method::Udh8), vec![153, 153, 1]);
    }

    #[test]
    fn gsm_parts_have_udh_first() {
        let parts = split_text(&"x".repeat(200), Encoding::Gsm7, Method::Udh8, 0x1234).unwrap();
        assert_eq!(parts.len(), 2);
        assert_eq!(parts[0].short_message[..6], [5, 0, 3, 0x34, 2, 1]);
        assert_eq!(parts[1].short_message[..6], [5, 0, 3, 0x34, 2, 2]);
        assert!(parts.iter().all(|p| p.udhi && p.sar.is_none()));
        let parts = split_text(&"x".repeat(200), Encoding::Gsm7, Method::Udh16, 0x1234).unwrap();
        assert_eq!(parts[1].short_message[..7], [6, 8, 4, 0x12, 0x34, 2, 2]);
        let parts = split_text(&"x".repeat(200), Encoding::Gsm7, Method::Sar, 0x1234).unwrap();
        assert!(!parts[0].udhi);
        assert_eq!(
            parts[1].sar,
            Some(Sar {
                ref_num: 0x1234,
                total: 2,
                seq: 2
            })
        );
    }

    #[test]
    fn extension_char_is_not_cut() {
        // 152 plain septets, then '€' (2 septets): it does not fit in 153.
        let text = format!("{}€{}", "a".repeat(152), "b".repeat(10));
        assert_eq!(gsm_lens(&text, Method::Udh8), vec![152, 12]);
        let parts = split_text(&text, Encoding::Gsm7, Method::Udh8, 1).unwrap();
        let p = payloads(&parts);
        assert_eq!(p[1][..2], [ESC, 0x65]);
        assert_eq!(count_parts(&text, Encoding::Gsm7, Method::Udh8), Ok(2));
        // 151 + '€' fits exactly.
        let text = format!("{}€{}", "a".repeat(151), "b".repeat(10));
        assert_eq!(gsm_lens(&text, Method::Udh8), vec![153, 10]);
        // An extension char counts two toward the single-part limit.
        let text = format!("{}€", "a".repeat(159));
        assert_eq!(count_parts(&text, Encoding::Gsm7, Method::Udh8), Ok(2));
        let text = format!("{}€", "a".repeat(158));
        assert_eq!(count_parts(&text, Encoding::Gsm7, Method::Udh8), Ok(1));
    }

    #[test]
    fn ucs2_boundaries() {
        let s70 = "é".repeat(70);
        let s71 = "é".repeat(71);
        assert_eq!(count_parts(&s70, Encoding::Ucs2, Method::Udh8), Ok(1));
        assert_eq!(count_parts(&s71, Encoding::Ucs2, Method::Udh8), Ok(2));
        let parts = split_text(&s71, Encoding::Ucs2, Method::Udh8, 1).unwrap();
        let lens: Vec<usize> = payloads(&parts).iter().map(|p| p.len()).collect();
        assert_eq!(lens, vec![134, 8]);
        let parts = split_text(&s71, Encoding::Ucs2, Method::Udh16, 1).unwrap();
        let lens: Vec<usize> = payloads(&parts).iter().map(|p| p.len()).collect();
        assert_eq!(lens, vec![132, 10]);
    }

    #[test]
    fn emoji_is_not_cut() {
        // 66 units, then an emoji (2 units) that would straddle 67.
        let text = format!("{}😀{}", "a".repeat(66), "b".repeat(5));
        assert_eq!(count_parts(&text, Encoding::Ucs2, Method::Udh8), Ok(2));
        let parts = split_text(&text, Encoding::Ucs2, Method::Udh8, 1).unwrap();
        let p = payloads(&parts);
        assert_eq!(p[0].len(), 132);
        assert_eq!(p[1][..4], [0xD8, 0x3D, 0xDE, 0x00]);
        // Exactly 70 units including a pair stays single.
        let text = format!("{}😀", "a".repeat(68));
        assert_eq!(count_parts(&text, Encoding::Ucs2, Method::Udh8), Ok(1));
        let text = format!("{}😀", "a".repeat(69));
        assert_eq!(count_parts(&text, Encoding::Ucs2, Method::Udh8), Ok(2));
    }

    #[test]
    fn eight_bit_boundaries() {
        let body = [0x1Bu8; 141];
        for (encoding, method, lens) in [
            (Encoding::Binary, Method::Udh8, vec![134, 7]),
            (Encoding::Latin1, Method::Udh16, vec![133, 8]),
            (Encoding::Binary, Method::Sar, vec![140, 1]),
        ] {
            let parts = split_encoded(&body, encoding, method, 1).unwrap();
            let got: Vec<usize> = payloads(&parts).iter().map(|p| p.len()).collect();
            assert_eq!(got, lens);
            assert!(parts.iter().all(|p| p.short_message.len() <= 140));
        }
        assert_eq!(
            split_encoded(&body[..140], Encoding::Binary, Method::Udh8, 1)
                .unwrap()
                .len(),
            1
        );
        // Binary text is octets: a UTF-8 character may straddle parts.
        let text = format!("{}é", "a".repeat(133));
        assert_eq!(count_parts(&text, Encoding::Binary, Method::Udh8), Ok(1));
        let text = format!("{}é", "a".repeat(139));
        assert_eq!(count_parts(&text, Encoding::Binary, Method::Udh8), Ok(2));
        let parts = split_text(&text, Encoding::Binary, Method::Udh8, 1).unwrap();
        assert_eq!(payloads(&parts)[0].len(), 134);
    }

    #[test]
    fn too_many_parts() {
        let ok = "a".repeat(153 * 255);
        assert_eq!(count_parts(&ok, Encoding::Gsm7, Method::Udh8), Ok(255));
        assert_eq!(
            split_text(&ok, Encoding::Gsm7, Method::Udh8, 1)
                .unwrap()
                .len(),
            255
        );
        let too = "a".repeat(153 * 255 + 1);
        assert_eq!(
            count_parts(&too, Encoding::Gsm7, Method::Udh8),
            Err(SplitError::TooManyParts { parts: 256 })
        );
        assert_eq!(
            split_text(&too, Encoding::Gsm7, Method::Udh8, 1),
            Err(SplitError::TooManyParts { parts: 256 })
        );
        // The payload method is one part, up to 65535 octets.
        let parts = split_text(&too, Encoding::Gsm7, Method::Payload, 1).unwrap();
        assert_eq!(parts.len(), 1);
        assert_eq!(parts[0].short_message.len(), too.len());
        assert_eq!(count_parts(&too, Encoding::Gsm7, Method::Payload), Ok(1));
        let huge = "a".repeat(65536);
        assert_eq!(
            count_parts(&huge, Encoding::Gsm7, Method::Payload),
            Err(SplitError::PayloadTooLong { len: 65536 })
        );
        assert_eq!(
            split_text(&huge, Encoding::Gsm7, Method::Payload, 1),
            Err(SplitError::PayloadTooLong { len: 65536 })
        );
    }

    #[test]
    fn unencodable_and_empty() {
        assert!(matches!(
            split_text("ç", Encoding::Gsm7, Method::Udh8, 1),
            Err(SplitError::Encode(_))
        ));
        assert!(matches!(
            count_parts("€", Encoding::Latin1, Method::Udh8),
            Err(SplitError::Encode(_))
        ));
        let parts = split_text("", Encoding::Gsm7, Method::Udh8, 1).unwrap();
        assert_eq!(parts.len(), 1);
        assert!(parts[0].short_message.is_empty());
        assert_eq!(count_parts("", Encoding::Ucs2, Method::Sar), Ok(1));
    }

    /// A text whose every character the encoding can carry.
    fn text_for(encoding: Encoding) -> BoxedStrategy<String> {
        let gsm: Vec<char> = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡AZÄÖÑÜ§¿azäöñüà^{}\\[~]|€\u{0C}"
            .chars()
            .collect();
        match encoding {
            Encoding::Gsm7 => proptest::collection::vec(proptest::sample::select(gsm), 0..700)
                .prop_map(|v| v.into_iter().collect())
                .boxed(),
            Encoding::Latin1 => "[\\u{0}-\\u{ff}]{0,600}".boxed(),
            Encoding::Ucs2 => {
                proptest::collection::vec(prop_oneof![any::<char>(), Just('😀'), Just('a')], 0..300)
                    .prop_map(|v| v.into_iter().collect())
                    .boxed()
            }
            Encoding::Binary => proptest::collection::vec(any::<char>(), 0..300)
                .prop_map(|v| v.into_iter().collect())
                .boxed(),
        }
    }

    fn any_encoded_text() -> impl Strategy<Value = (Encoding, String)> {
        proptest::sample::select(ENCODINGS.to_vec()).prop_flat_map(|e| (Just(e), text_for(e)))
    }

    proptest! {
        #[test]
        fn split_then_reassemble(
            (encoding, text) in any_encoded_text(),
            method in proptest::sample::select(METHODS.to_vec()),
            reference in any::<u16>(),
        ) {
            let parts = split_text(&text, encoding, method, reference).unwrap();
            prop_assert_eq!(Ok(parts.len()), count_parts(&text, encoding, method));
            let body = encoding.encode(&text).unwrap();
            prop_assert_eq!(Ok(parts.len()), count_parts_encoded(&body, encoding, method));
            let single = single_part_limit(encoding);
            let limit = part_limit(encoding, method);

            let mut r = Reassembler::new(Config::default());
            let now = Instant::now();
            let mut whole = None;
            // Feed in reverse order to exercise out-of-order arrival.
            for part in parts.iter().rev() {
                let (payload, total, seq) = if part.udhi {
                    let udh = Udh::parse(&part.short_message).unwrap();
                    let c = udh.concat().unwrap();
                    let expected_ref = if method == Method::Udh8 { reference & 0xFF } else { reference };
                    prop_assert_eq!(c.reference.value(), expected_ref);
                    let off = udh.payload_offset();
                    // Octets on the air: UDH plus the payload, GSM packed after fill bits.
                    let air = if encoding == Encoding::Gsm7 {
                        off + gsm7::packed_len(part.short_message.len() - off, gsm7::fill_bits_for_udh(off))
                    } else {
                        part.short_message.len()
                    };
                    prop_assert!(air <= 140);
                    prop_assert!(part.short_message.len() - off <= limit);
                    (part.short_message.slice(off..), c.total, c.seq)
                } else if let Some(sar) = part.sar {
                    prop_assert_eq!(sar.ref_num, reference);
                    prop_assert!(part.short_message.len() <= limit);
                    (part.short_message.clone(), sar.total, sar.seq)
                } else {
                    prop_assert_eq!(parts.len(), 1);
                    if method != Method::Payload {
                        prop_assert!(part.short_message.len() <= single);
                    }
                    (part.short_message.clone(), 1, 1)
                };
                if encoding != Encoding::Gsm7 && method != Method::Payload {
                    prop_assert!(part.short_message.len() <= 140);
                }
                let pushed = r.push(0u8, total, seq, &payload, now).unwrap();
                if let Outcome::Complete(m) = pushed.outcome {
                    whole = Some(m);
                }
            }
            let whole = whole.unwrap();
            prop_assert_eq!(&whole, &body);
            prop_assert_eq!(encoding.decode(&whole), text);
            prop_assert!(r.is_empty());
        }

        #[test]
        fn split_encoded_never_panics(
            body in proptest::collection::vec(any::<u8>(), 0..1000),
            encoding in proptest::sample::select(ENCODINGS.to_vec()),
            method in proptest::sample::select(METHODS.to_vec()),
        ) {
            let parts = split_encoded(&body, encoding, method, 9).unwrap();
            prop_assert_eq!(Ok(parts.len()), count_parts_encoded(&body, encoding, method));
            let joined: Vec<u8> = payloads(&parts).concat();
            prop_assert_eq!(joined, body);
        }
    }
}
