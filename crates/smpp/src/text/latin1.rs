//! ISO-8859-1 (Latin-1), SMPP data_coding 3: one octet per character,
//! U+0000..=U+00FF. Decoding is total (every octet is a character);
//! encoding fails on anything above U+00FF.

use super::{EncodeError, Encoding};

/// Whether every character of `s` is at or below U+00FF.
pub fn is_encodable(s: &str) -> bool {
    s.chars().all(|c| u32::from(c) <= 0xFF)
}

/// Encodes `s` as Latin-1, failing on the first character above U+00FF.
pub fn encode(s: &str) -> Result<Vec<u8>, EncodeError> {
    let mut out = Vec::with_capacity(s.len());
    for (index, c) in s.char_indices() {
        let b = u8::try_from(c).map_err(|_| EncodeError::Unencodable {
            ch: c,
            index,
            encoding: Encoding::Latin1,
        })?;
        out.push(b);
    }
    Ok(out)
}

/// Encodes `s` as Latin-1, replacing characters above U+00FF with `'?'`.
pub fn encode_lossy(s: &str) -> Vec<u8> {
    s.chars().map(|c| u8::try_from(c).unwrap_or(b'?')).collect()
}

/// Decodes Latin-1; never fails.
pub fn decode(bytes: &[u8]) -> String {
    bytes.iter().map(|&b| char::from(b)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn every_octet_round_trips() {
        let all: Vec<u8> = (0..=255).collect();
        let s = decode(&all);
        assert_eq!(s.chars().count(), 256);
        assert_eq!(encode(&s).unwrap(), all);
        assert_eq!(decode(&[0xE9, 0xFF]), "éÿ");
    }

    #[test]
    fn rejects_above_ff() {
        assert_eq!(
            encode("a€"),
            Err(EncodeError::Unencodable {
                ch: '€',
                index: 1,
                encoding: Encoding::Latin1
            })
        );
        assert!(!is_encodable("Ω"));
        assert_eq!(encode_lossy("aΩb"), b"a?b");
    }

    proptest! {
        #[test]
        fn round_trips(s in "[\\u{0}-\\u{ff}]{0,200}") {
            prop_assert_eq!(decode(&encode(&s).unwrap()), s);
        }
    }
}
