//! Text encodings of SMS and the choice between them.
//!
//! This module owns the mapping between Rust strings and the octets of
//! short_message / message_payload:
//!
//! - [`gsm7`], the GSM 03.38 default alphabet plus extension table, unpacked
//!   (SMPP's usual form) and packed (TP-UD form, with fill bits after a UDH).
//! - [`latin1`], ISO-8859-1.
//! - [`ucs2`], UTF-16BE with surrogate pairs, which is what "UCS-2" means in
//!   practice.
//! - Binary: octets as they are.
//!
//! [`Encoding`] ties them to SMPP's data_coding byte in both directions, and
//! [`choose_encoding`] picks GSM 7-bit when it can carry the text and UCS-2
//! otherwise. Latin-1 is never chosen automatically: it would carry some
//! texts GSM cannot (say with "ç") at 140 characters a part instead of
//! UCS-2's 70, but many SMSCs and handsets deliver data_coding 3 badly, so it
//! is there only for callers that ask for it. How many parts a text needs is
//! [`crate::split::count_parts`].
//!
//! Decoding never fails and never panics; malformed input becomes U+FFFD.

pub mod gsm7;
pub mod latin1;
pub mod ucs2;

/// A character that the chosen encoding cannot carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum EncodeError {
    /// `ch`, at byte `index` of the input, has no code in `encoding`.
    #[error("character {ch:?} at byte {index} cannot be encoded as {encoding:?}")]
    Unencodable {
        /// The character.
        ch: char,
        /// Its byte offset in the input string.
        index: usize,
        /// The encoding that lacks it.
        encoding: Encoding,
    },
}

/// How the text of a message is turned into octets.
///
/// This is what the rest of Tern reasons about; SMPP's data_coding byte says
/// more (message class, indications, legacy character sets), and
/// [`Encoding::from_data_coding`] reduces it to one of these.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Encoding {
    /// GSM 03.38 7-bit default alphabet + extension table, unpacked on the
    /// wire (one septet per octet). Counted in septets: 160 per single part.
    Gsm7,
    /// ISO-8859-1, one octet per character: 140 per single part.
    Latin1,
    /// UTF-16BE ("UCS-2"): 70 code units per single part.
    Ucs2,
    /// Octets as they are: 140 per single part. As text, a `&str` is carried
    /// as its UTF-8 octets and decoded lossily, which is only meant for logs.
    Binary,
}

impl Encoding {
    /// The data_coding byte to send: 0 (SMSC default alphabet, which we treat
    /// as GSM 7-bit), 3, 8, or 4 (8-bit binary).
    pub const fn data_coding(self) -> u8 {
        match self {
            Encoding::Gsm7 => 0x00,
            Encoding::Latin1 => 0x03,
            Encoding::Ucs2 => 0x08,
            Encoding::Binary => 0x04,
        }
    }

    /// Reduces an SMPP data_coding byte to the encoding of its octets.
    ///
    /// - 0x00 (SMSC default): GSM 7-bit. 0x01 (IA5/ASCII): Latin-1, which
    ///   decodes ASCII exactly and does not mangle stray high octets.
    ///   0x03: Latin-1. 0x08: UCS-2. 0x02, 0x04: binary.
    /// - 0x05-0x07, 0x09, 0x0A, 0x0D, 0x0E (JIS, Cyrillic, Hebrew, pictogram,
    ///   ISO-2022-JP, Kanji, KS C 5601): binary, so the octets are kept
    ///   intact for a caller that knows these sets, rather than misdecoded.
    /// - 0x10-0x7F (TS 23.038 general data coding, uncompressed or marked for
    ///   deletion): alphabet bits 3-2; compressed text (bit 5) is binary.
    /// - 0xC0-0xDF (message waiting, discard/store): GSM 7-bit; 0xE0-0xEF
    ///   (message waiting, store, UCS-2): UCS-2.
    /// - 0xF0-0xFF (data coding / message class): bit 2 set is 8-bit binary,
    ///   clear is GSM 7-bit.
    /// - Everything reserved (0x0B, 0x0C, 0x0F, 0x80-0xBF, alphabet 11):
    ///   GSM 7-bit, as TS 23.038 tells receivers to assume.
    pub const fn from_data_coding(data_coding: u8) -> Encoding {
        match data_coding {
            0x00 => Encoding::Gsm7,
            0x01 | 0x03 => Encoding::Latin1,
            0x08 => Encoding::Ucs2,
            0x02 | 0x04 | 0x05..=0x07 | 0x09 | 0x0A | 0x0D | 0x0E => Encoding::Binary,
            0x0B | 0x0C | 0x0F => Encoding::Gsm7,
            0x10..=0x7F => {
                if data_coding & 0x20 != 0 {
                    Encoding::Binary
                } else {
                    match (data_coding >> 2) & 0x03 {
                        0b01 => Encoding::Binary,
                        0b10 => Encoding::Ucs2,
                        _ => Encoding::Gsm7,
                    }
                }
            }
            0x80..=0xDF => Encoding::Gsm7,
            0xE0..=0xEF => Encoding::Ucs2,
            0xF0..=0xFF => {
                if data_coding & 0x04 != 0 {
                    Encoding::Binary
                } else {
                    Encoding::Gsm7
                }
            }
        }
    }

    /// Whether `s` can be encoded without loss.
    pub fn can_encode(self, s: &str) -> bool {
        match self {
            Encoding::Gsm7 => gsm7::is_encodable(s),
            Encoding::Latin1 => latin1::is_encodable(s),
            Encoding::Ucs2 | Encoding::Binary => true,
        }
    }

    /// Encodes `s` (GSM 7-bit unpacked; binary as UTF-8).
    pub fn encode(self, s: &str) -> Result<Vec<u8>, EncodeError> {
        match self {
            Encoding::Gsm7 => gsm7::encode(s),
            Encoding::Latin1 => latin1::encode(s),
            Encoding::Ucs2 => Ok(ucs2::encode(s)),
            Encoding::Binary => Ok(s.as_bytes().to_vec()),
        }
    }

    /// Encodes `s`, replacing what the encoding cannot carry with `'?'`.
    pub fn encode_lossy(self, s: &str) -> Vec<u8> {
        match self {
            Encoding::Gsm7 => gsm7::encode_lossy(s),
            Encoding::Latin1 => latin1::encode_lossy(s),
            Encoding::Ucs2 => ucs2::encode(s),
            Encoding::Binary => s.as_bytes().to_vec(),
        }
    }

    /// Decodes octets (GSM 7-bit unpacked; binary as lossy UTF-8). Never
    /// fails; malformed input becomes U+FFFD.
    pub fn decode(self, bytes: &[u8]) -> String {
        match self {
            Encoding::Gsm7 => gsm7::decode(bytes),
            Encoding::Latin1 => latin1::decode(bytes),
            Encoding::Ucs2 => ucs2::decode(bytes),
            Encoding::Binary => String::from_utf8_lossy(bytes).into_owned(),
        }
    }

    /// The length of `s` in this encoding's counting unit, the one the
    /// per-part limits use: septets for GSM 7-bit, octets otherwise (so a
    /// UCS-2 character is 2, a surrogate pair 4). `None` if it cannot be
    /// encoded.
    pub fn encoded_len(self, s: &str) -> Option<usize> {
        match self {
            Encoding::Gsm7 => gsm7::septet_count(s),
            Encoding::Latin1 => latin1::is_encodable(s).then(|| s.chars().count()),
            Encoding::Ucs2 => Some(ucs2::unit_count(s) * 2),
            Encoding::Binary => Some(s.len()),
        }
    }
}

/// The encoding to send `s` in: GSM 7-bit if every character is in its
/// default or extension table, else UCS-2, which carries anything.
///
/// Latin-1 is deliberately not considered; see the module documentation.
pub fn choose_encoding(s: &str) -> Encoding {
    if gsm7::is_encodable(s) {
        Encoding::Gsm7
    } else {
        Encoding::Ucs2
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn data_coding_round_trips() {
        for e in [
            Encoding::Gsm7,
            Encoding::Latin1,
            Encoding::Ucs2,
            Encoding::Binary,
        ] {
            assert_eq!(Encoding::from_data_coding(e.data_coding()), e);
        }
    }

    #[test]
    fn data_coding_mapping() {
        use Encoding::*;
        let cases = [
            (0x00, Gsm7),
            (0x01, Latin1),
            (0x02, Binary),
            (0x03, Latin1),
            (0x04, Binary),
            (0x06, Binary),
            (0x08, Ucs2),
            (0x0E, Binary),
            (0x0F, Gsm7),
            (0x10, Gsm7),
            (0x11, Gsm7),
            (0x14, Binary),
            (0x15, Binary),
            (0x18, Ucs2),
            (0x19, Ucs2),
            (0x1C, Gsm7),
            (0x30, Binary),
            (0x48, Ucs2),
            (0x90, Gsm7),
            (0xC0, Gsm7),
            (0xD3, Gsm7),
            (0xE0, Ucs2),
            (0xEF, Ucs2),
            (0xF0, Gsm7),
            (0xF1, Gsm7),
            (0xF4, Binary),
            (0xF6, Binary),
            (0xFF, Binary),
        ];
        for (dc, e) in cases {
            assert_eq!(Encoding::from_data_coding(dc), e, "data_coding {dc:#04x}");
        }
    }

    #[test]
    fn choice() {
        assert_eq!(choose_encoding("Hello {world} €5"), Encoding::Gsm7);
        assert_eq!(choose_encoding(""), Encoding::Gsm7);
        assert_eq!(choose_encoding("ç"), Encoding::Ucs2);
        assert_eq!(choose_encoding("hi 😀"), Encoding::Ucs2);
    }

    #[test]
    fn lengths() {
        assert_eq!(Encoding::Gsm7.encoded_len("a€"), Some(3));
        assert_eq!(Encoding::Gsm7.encoded_len("aç"), None);
        assert_eq!(Encoding::Latin1.encoded_len("aç"), Some(2));
        assert_eq!(Encoding::Latin1.encoded_len("a€"), None);
        assert_eq!(Encoding::Ucs2.encoded_len("a😀"), Some(6));
        assert_eq!(Encoding::Binary.encoded_len("é"), Some(2));
    }

    proptest! {
        #[test]
        fn encode_decode_consistent(s in any::<String>(), dc in any::<u8>()) {
            let e = Encoding::from_data_coding(dc);
            if let Ok(bytes) = e.encode(&s) {
                prop_assert!(e.can_encode(&s));
                prop_assert_eq!(Some(bytes.len()), e.encoded_len(&s));
                prop_assert_eq!(e.decode(&bytes), s.clone());
            } else {
                prop_assert!(!e.can_encode(&s));
                prop_assert_eq!(e.encoded_len(&s), None);
            }
            let chosen = choose_encoding(&s);
            prop_assert!(chosen.can_encode(&s));
        }

        #[test]
        fn decode_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..300), dc in any::<u8>()) {
            let _ = Encoding::from_data_coding(dc).decode(&bytes);
        }
    }
}
