//! GSM 03.38 (3GPP TS 23.038) 7-bit default alphabet with its extension
//! table, in both forms SMS uses.
//!
//! - *Unpacked*: one septet per octet. This is what SMPP carries in
//!   short_message for data_coding 0; the SMSC packs it for the air.
//! - *Packed*: septets laid end to end, LSB first, as in a TP-UD. A UDH in
//!   front of packed text is followed by fill bits so the text starts on a
//!   septet boundary; [`pack`] and [`unpack`] take that bit count.
//!
//! Encoding looks characters up in a static table for U+0000..=U+00FF and a
//! `match` for the few Greek capitals and the euro sign, so it never hashes or
//! allocates per character.
//!
//! Decoding never fails and never panics. Input that cannot be GSM text (an
//! octet above 0x7F, an escape with nothing after it) decodes to U+FFFD
//! (REPLACEMENT CHARACTER), not `'?'`, so a bad message cannot be mistaken for
//! one that really had a question mark. An escape followed by a code the
//! extension table does not define decodes to the default-table character for
//! that code, and escape-escape to a space, both as TS 23.038 tells receivers
//! to do.

use super::{EncodeError, Encoding};

/// The escape septet: the next septet is looked up in the extension table.
pub const ESC: u8 = 0x1B;

/// Carriage return, which TS 23.038 uses to pad 7 spare bits in packed text.
const CR: u8 = 0x0D;

/// Used for undecodable input; see the module documentation.
const REPLACEMENT: char = char::REPLACEMENT_CHARACTER;

/// The default alphabet indexed by septet. Index 0x1B is the escape and is
/// never looked up for decoding; the space there is a placeholder.
const DEFAULT: [char; 128] = [
    '@', '£', '$', '¥', 'è', 'é', 'ù', 'ì', 'ò', 'Ç', '\n', 'Ø', 'ø', '\r', 'Å', 'å', //
    'Δ', '_', 'Φ', 'Γ', 'Λ', 'Ω', 'Π', 'Ψ', 'Σ', 'Θ', 'Ξ', ' ', 'Æ', 'æ', 'ß', 'É', //
    ' ', '!', '"', '#', '¤', '%', '&', '\'', '(', ')', '*', '+', ',', '-', '.', '/', //
    '0', '1', '2', '3', '4', '5', '6', '7', '8', '9', ':', ';', '<', '=', '>', '?', //
    '¡', 'A', 'B', 'C', 'D', 'E', 'F', 'G', 'H', 'I', 'J', 'K', 'L', 'M', 'N', 'O', //
    'P', 'Q', 'R', 'S', 'T', 'U', 'V', 'W', 'X', 'Y', 'Z', 'Ä', 'Ö', 'Ñ', 'Ü', '§', //
    '¿', 'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j', 'k', 'l', 'm', 'n', 'o', //
    'p', 'q', 'r', 's', 't', 'u', 'v', 'w', 'x', 'y', 'z', 'ä', 'ö', 'ñ', 'ü', 'à', //
];

/// The extension table: (septet after [`ESC`], character).
const EXTENSION: [(u8, char); 10] = [
    (0x0A, '\u{0C}'), // form feed
    (0x14, '^'),
    (0x28, '{'),
    (0x29, '}'),
    (0x2F, '\\'),
    (0x3C, '['),
    (0x3D, '~'),
    (0x3E, ']'),
    (0x40, '|'),
    (0x65, '€'),
];

/// Marks an extension-table entry in the encode tables.
const EXT_FLAG: u16 = 0x100;
/// Marks a character with no GSM 7-bit encoding.
const NONE: u16 = 0xFFFF;

/// Encode table for U+0000..=U+00FF: the septet, `EXT_FLAG | septet` for an
/// extension character, or `NONE`.
static LATIN1_TO_GSM: [u16; 256] = build_latin1_table();

/// Decode table for the extension: the character, or `None` if undefined.
static EXT_DECODE: [Option<char>; 128] = build_ext_table();

const fn build_latin1_table() -> [u16; 256] {
    let mut table = [NONE; 256];
    let mut i = 0;
    while i < DEFAULT.len() {
        let c = DEFAULT[i] as u32;
        if i != ESC as usize && c < 256 {
            table[c as usize] = i as u16;
        }
        i += 1;
    }
    let mut j = 0;
    while j < EXTENSION.len() {
        let (code, c) = EXTENSION[j];
        let c = c as u32;
        if c < 256 {
            table[c as usize] = EXT_FLAG | code as u16;
        }
        j += 1;
    }
    table
}

const fn build_ext_table() -> [Option<char>; 128] {
    let mut table = [None; 128];
    let mut j = 0;
    while j < EXTENSION.len() {
        let (code, c) = EXTENSION[j];
        table[code as usize] = Some(c);
        j += 1;
    }
    table
}

/// The table entry for `c`: a septet, `EXT_FLAG | septet`, or `NONE`.
#[inline]
fn lookup(c: char) -> u16 {
    let u = u32::from(c);
    if let Some(&code) = LATIN1_TO_GSM.get(u as usize) {
        return code;
    }
    match c {
        'Δ' => 0x10,
        'Φ' => 0x12,
        'Γ' => 0x13,
        'Λ' => 0x14,
        'Ω' => 0x15,
        'Π' => 0x16,
        'Ψ' => 0x17,
        'Σ' => 0x18,
        'Θ' => 0x19,
        'Ξ' => 0x1A,
        '€' => EXT_FLAG | 0x65,
        _ => NONE,
    }
}

/// How many septets `c` takes: 1 in the default table, 2 (escape + code) in
/// the extension table, `None` if GSM 7-bit cannot carry it.
#[inline]
pub fn char_septets(c: char) -> Option<usize> {
    match lookup(c) {
        NONE => None,
        code if code & EXT_FLAG != 0 => Some(2),
        _ => Some(1),
    }
}

/// Whether every character of `s` is in the default or extension table.
pub fn is_encodable(s: &str) -> bool {
    s.chars().all(|c| lookup(c) != NONE)
}

/// The number of septets `s` encodes to (extension characters count two), or
/// `None` if some character is not in the alphabet.
pub fn septet_count(s: &str) -> Option<usize> {
    s.chars()
        .try_fold(0usize, |n, c| Some(n + char_septets(c)?))
}

/// Encodes `s` as unpacked septets (one per octet), SMPP's data_coding 0 form.
///
/// Fails on the first character outside the default and extension tables.
pub fn encode(s: &str) -> Result<Vec<u8>, EncodeError> {
    let mut out = Vec::with_capacity(s.len());
    encode_into(s, &mut out)?;
    Ok(out)
}

/// Appends the unpacked septets of `s` to `out`. On error `out` may hold the
/// septets of the characters before the failing one.
pub fn encode_into(s: &str, out: &mut Vec<u8>) -> Result<(), EncodeError> {
    for (index, c) in s.char_indices() {
        push_code(out, lookup(c)).ok_or(EncodeError::Unencodable {
            ch: c,
            index,
            encoding: Encoding::Gsm7,
        })?;
    }
    Ok(())
}

/// Encodes `s` as unpacked septets, replacing characters outside the alphabet
/// with `'?'`: for when something must be sent and a visible substitute beats
/// refusing.
pub fn encode_lossy(s: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(s.len());
    for c in s.chars() {
        if push_code(&mut out, lookup(c)).is_none() {
            out.push(b'?');
        }
    }
    out
}

#[inline]
fn push_code(out: &mut Vec<u8>, code: u16) -> Option<()> {
    if code == NONE {
        return None;
    }
    let [hi, lo] = code.to_be_bytes();
    if hi != 0 {
        out.push(ESC);
    }
    out.push(lo);
    Some(())
}

/// Decodes unpacked septets to text. Never fails; see the module
/// documentation for what malformed input becomes.
pub fn decode(septets: &[u8]) -> String {
    let mut out = String::with_capacity(septets.len());
    decode_into(septets, &mut out);
    out
}

/// Appends the text of unpacked `septets` to `out`, like [`decode`].
pub fn decode_into(septets: &[u8], out: &mut String) {
    let mut it = septets.iter();
    while let Some(&b) = it.next() {
        if b == ESC {
            out.push(match it.next() {
                Some(&ESC) => ' ',
                Some(&code) => decode_ext(code),
                None => REPLACEMENT,
            });
        } else {
            out.push(decode_basic(b));
        }
    }
}

#[inline]
fn decode_basic(b: u8) -> char {
    DEFAULT.get(usize::from(b)).copied().unwrap_or(REPLACEMENT)
}

#[inline]
fn decode_ext(code: u8) -> char {
    match EXT_DECODE.get(usize::from(code)) {
        Some(Some(c)) => *c,
        _ => decode_basic(code),
    }
}

/// The fill bits that follow a UDH of `udh_len` octets (UDHL octet included)
/// so that packed text starts on a septet boundary: 0..=6.
pub const fn fill_bits_for_udh(udh_len: usize) -> u8 {
    ((7 - (udh_len % 7) * 8 % 7) % 7) as u8
}

/// The number of octets [`pack`] produces for `septets` septets after
/// `fill_bits` fill bits.
pub const fn packed_len(septets: usize, fill_bits: u8) -> usize {
    if septets == 0 {
        0
    } else {
        ((fill_bits & 7) as usize)
            .saturating_add(septets.saturating_mul(7))
            .div_ceil(8)
    }
}

/// Packs septets (the low 7 bits of each octet) LSB first, after `fill_bits`
/// zero bits (0..=6 in practice; only the low 3 bits are used).
///
/// When the last octet has 7 spare bits they hold a carriage return, as
/// TS 23.038 §6.1.2.3.1 requires, so a receiver does not read an extra `@`;
/// [`unpack`] removes it again.
pub fn pack(septets: &[u8], fill_bits: u8) -> Vec<u8> {
    let mut out = Vec::with_capacity(packed_len(septets.len(), fill_bits));
    if septets.is_empty() {
        return out;
    }
    let mut acc: u32 = 0;
    let mut bits = u32::from(fill_bits & 7);
    for &s in septets {
        acc |= u32::from(s & 0x7F) << bits;
        bits += 7;
        while bits >= 8 {
            out.push(acc as u8);
            acc >>= 8;
            bits -= 8;
        }
    }
    if bits > 0 {
        if bits == 1 {
            acc |= u32::from(CR) << 1;
        }
        out.push(acc as u8);
    }
    out
}

/// Unpacks exactly `count` septets (fewer if `packed` is too short) that
/// start after `fill_bits` bits (only the low 3 bits are used). Use this when
/// the septet count is known, e.g. from TP-UDL.
pub fn unpack_exact(packed: &[u8], fill_bits: u8, count: usize) -> Vec<u8> {
    let fill = u32::from(fill_bits & 7);
    let available = packed.len().saturating_mul(8).saturating_sub(fill as usize) / 7;
    let count = count.min(available);
    let mut out = Vec::with_capacity(count);
    let mut acc: u32 = 0;
    let mut bits: u32 = 0;
    for (i, &b) in packed.iter().enumerate() {
        if out.len() == count {
            break;
        }
        acc |= u32::from(b) << bits;
        bits += 8;
        if i == 0 {
            acc >>= fill;
            bits -= fill;
        }
        while bits >= 7 && out.len() < count {
            out.push((acc & 0x7F) as u8);
            acc >>= 7;
            bits -= 7;
        }
    }
    out
}

/// Unpacks every whole septet after `fill_bits` bits, then drops a final
/// carriage return that ends exactly on an octet boundary, since that is
/// padding (TS 23.038 §6.1.2.3.1). A sender that means a final CR in that
/// position must send two; prefer [`unpack_exact`] when the count is known.
pub fn unpack(packed: &[u8], fill_bits: u8) -> Vec<u8> {
    let fill = usize::from(fill_bits & 7);
    let count = packed.len().saturating_mul(8).saturating_sub(fill) / 7;
    let mut out = unpack_exact(packed, fill_bits, count);
    if fill + count * 7 == packed.len().saturating_mul(8) && out.last() == Some(&CR) {
        out.pop();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn hex(s: &str) -> Vec<u8> {
        s.split_whitespace()
            .map(|h| u8::from_str_radix(h, 16).unwrap())
            .collect()
    }

    /// Every character of both tables, for round trips.
    fn all_chars() -> Vec<char> {
        let mut v: Vec<char> = DEFAULT
            .iter()
            .enumerate()
            .filter(|&(i, _)| i != usize::from(ESC))
            .map(|(_, &c)| c)
            .collect();
        v.extend(EXTENSION.iter().map(|&(_, c)| c));
        v
    }

    #[test]
    fn every_default_septet_round_trips() {
        for code in 0u8..128 {
            if code == ESC {
                continue;
            }
            let s = decode(&[code]);
            assert_eq!(s.chars().count(), 1, "septet {code:#04x}");
            assert_eq!(encode(&s).unwrap(), vec![code], "char {s:?}");
        }
    }

    #[test]
    fn every_extension_char_round_trips() {
        for &(code, c) in &EXTENSION {
            let s = c.to_string();
            assert_eq!(encode(&s).unwrap(), vec![ESC, code]);
            assert_eq!(decode(&[ESC, code]), s);
            assert_eq!(char_septets(c), Some(2));
        }
        assert_eq!(
            encode("^{}\\[~]|€\u{0C}").unwrap(),
            hex("1B 14 1B 28 1B 29 1B 2F 1B 3C 1B 3D 1B 3E 1B 40 1B 65 1B 0A")
        );
    }

    #[test]
    fn table_is_a_bijection() {
        let chars = all_chars();
        assert_eq!(chars.len(), 127 + 10);
        let mut sorted = chars.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), chars.len(), "duplicate character in tables");
        let s: String = chars.iter().collect();
        assert_eq!(decode(&encode(&s).unwrap()), s);
        assert_eq!(septet_count(&s), Some(127 + 20));
    }

    #[test]
    fn known_codes() {
        assert_eq!(encode("@£$¥").unwrap(), vec![0, 1, 2, 3]);
        assert_eq!(
            encode("ΔΦΓΛΩΠΨΣΘΞ").unwrap(),
            (0x10..=0x1A).filter(|&c| c != 0x11).collect::<Vec<u8>>()
        );
        assert_eq!(encode("¡¿§à").unwrap(), vec![0x40, 0x60, 0x5F, 0x7F]);
        assert_eq!(encode("Hello").unwrap(), b"Hello".to_vec());
    }

    #[test]
    fn unencodable() {
        assert_eq!(
            encode("ab😀"),
            Err(EncodeError::Unencodable {
                ch: '😀',
                index: 2,
                encoding: Encoding::Gsm7
            })
        );
        assert_eq!(char_septets('\t'), None);
        assert_eq!(char_septets('`'), None);
        assert_eq!(septet_count("a`"), None);
        assert!(!is_encodable("ç"));
        assert_eq!(encode_lossy("a😀{"), vec![b'a', b'?', ESC, 0x28]);
    }

    #[test]
    fn malformed_decodes() {
        assert_eq!(decode(&[b'a', ESC]), "a\u{FFFD}");
        assert_eq!(decode(&[0x80, 0xFF]), "\u{FFFD}\u{FFFD}");
        assert_eq!(decode(&[ESC, ESC]), " ");
        // Undefined extension code: the default-table character.
        assert_eq!(decode(&[ESC, b'A']), "A");
        assert_eq!(decode(&[ESC, 0x90]), "\u{FFFD}");
    }

    #[test]
    fn packing_vectors() {
        assert_eq!(pack(b"hellohello", 0), hex("E8 32 9B FD 46 97 D9 EC 37"));
        assert_eq!(unpack(&hex("E8 32 9B FD 46 97 D9 EC 37"), 0), b"hellohello");
        // Eight septets fill seven octets exactly.
        assert_eq!(pack(b"12345678", 0), hex("31 D9 8C 56 B3 DD 70"));
        assert_eq!(unpack(&hex("31 D9 8C 56 B3 DD 70"), 0), b"12345678");
        // Seven septets leave seven spare bits: padded with CR, which unpack drops.
        assert_eq!(pack(b"1234567", 0), hex("31 D9 8C 56 B3 DD 1A"));
        assert_eq!(unpack(&hex("31 D9 8C 56 B3 DD 1A"), 0), b"1234567");
        assert_eq!(unpack_exact(&hex("31 D9 8C 56 B3 DD 1A"), 0, 7), b"1234567");
        assert!(pack(b"", 3).is_empty());
    }

    #[test]
    fn packing_after_udh() {
        // A 6-octet concatenation UDH needs 1 fill bit: 48 bits + 1 = 7 septets.
        assert_eq!(fill_bits_for_udh(6), 1);
        assert_eq!(fill_bits_for_udh(7), 0);
        assert_eq!(fill_bits_for_udh(0), 0);
        assert_eq!(fill_bits_for_udh(1), 6);
        let packed = pack(b"hellohello", 1);
        assert_eq!(packed, hex("D0 65 36 FB 8D 2E B3 D9 6F"));
        assert_eq!(unpack(&packed, 1), b"hellohello");
        // 153 septets after a 6-octet UDH fill exactly 140 octets.
        assert_eq!(6 + packed_len(153, 1), 140);
        assert_eq!(7 + packed_len(152, 0), 140);
        assert_eq!(packed_len(160, 0), 140);
    }

    proptest! {
        #[test]
        fn gsm_text_round_trips(s in proptest::collection::vec(proptest::sample::select(all_chars()), 0..300)) {
            let s: String = s.into_iter().collect();
            let septets = encode(&s).unwrap();
            prop_assert_eq!(septets.len(), septet_count(&s).unwrap());
            prop_assert!(septets.iter().all(|&b| b < 0x80));
            prop_assert_eq!(decode(&septets), s.clone());
            prop_assert_eq!(encode_lossy(&s), septets);
        }

        #[test]
        fn pack_round_trips(septets in proptest::collection::vec(0u8..0x80, 0..300), fill in 0u8..7) {
            let packed = pack(&septets, fill);
            prop_assert_eq!(packed.len(), packed_len(septets.len(), fill));
            prop_assert_eq!(&unpack_exact(&packed, fill, septets.len()), &septets);
            if septets.last() != Some(&CR) {
                prop_assert_eq!(&unpack(&packed, fill), &septets);
            }
        }

        #[test]
        fn decoding_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..400), fill in any::<u8>()) {
            let s = decode(&bytes);
            prop_assert!(s.chars().count() <= bytes.len());
            let septets = unpack(&bytes, fill);
            prop_assert!(septets.len() <= bytes.len() * 8 / 7);
            let _ = decode(&septets);
            let _ = pack(&bytes, fill);
        }
    }
}
