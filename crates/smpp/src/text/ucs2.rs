//! UCS-2 as SMSCs actually use it, SMPP data_coding 8: UTF-16 big-endian,
//! so characters outside the BMP (emoji) travel as surrogate pairs.
//!
//! Encoding cannot fail. Decoding never fails or panics: an unpaired
//! surrogate or a trailing odd octet becomes U+FFFD.

/// Encodes `s` as UTF-16BE.
pub fn encode(s: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(s.len() * 2);
    for unit in s.encode_utf16() {
        out.extend_from_slice(&unit.to_be_bytes());
    }
    out
}

/// The number of UTF-16 code units in `s` (a surrogate pair counts two):
/// what the 70-per-part limit counts.
pub fn unit_count(s: &str) -> usize {
    s.chars().map(char::len_utf16).sum()
}

/// Decodes UTF-16BE, lossily: unpaired surrogates and an odd final octet
/// become U+FFFD.
pub fn decode(bytes: &[u8]) -> String {
    let chunks = bytes.chunks_exact(2);
    let odd = !chunks.remainder().is_empty();
    let units = chunks.map(|p| u16::from_be_bytes([p[0], p[1]]));
    let mut out: String = char::decode_utf16(units)
        .map(|r| r.unwrap_or(char::REPLACEMENT_CHARACTER))
        .collect();
    if odd {
        out.push(char::REPLACEMENT_CHARACTER);
    }
    out
}

/// Whether a UTF-16 code unit is a high (leading) surrogate.
pub(crate) const fn is_high_surrogate(unit: u16) -> bool {
    matches!(unit, 0xD800..=0xDBFF)
}

/// Whether a UTF-16 code unit is a low (trailing) surrogate.
pub(crate) const fn is_low_surrogate(unit: u16) -> bool {
    matches!(unit, 0xDC00..=0xDFFF)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn bmp_and_emoji() {
        assert_eq!(encode("Aé"), vec![0x00, 0x41, 0x00, 0xE9]);
        // U+1F600 is D83D DE00.
        assert_eq!(encode("😀"), vec![0xD8, 0x3D, 0xDE, 0x00]);
        assert_eq!(decode(&[0xD8, 0x3D, 0xDE, 0x00]), "😀");
        assert_eq!(unit_count("a😀"), 3);
    }

    #[test]
    fn malformed_is_lossy() {
        assert_eq!(decode(&[0x00, 0x41, 0x42]), "A\u{FFFD}");
        assert_eq!(decode(&[0xD8, 0x3D, 0x00, 0x41]), "\u{FFFD}A");
        assert_eq!(decode(&[0xDE, 0x00]), "\u{FFFD}");
        assert_eq!(decode(&[0xD8, 0x3D]), "\u{FFFD}");
        assert_eq!(decode(&[]), "");
    }

    proptest! {
        #[test]
        fn round_trips(s in any::<String>()) {
            let bytes = encode(&s);
            prop_assert_eq!(bytes.len(), unit_count(&s) * 2);
            prop_assert_eq!(decode(&bytes), s);
        }

        #[test]
        fn decoding_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
            let _ = decode(&bytes);
        }
    }
}
