//! Reading and writing the primitive SMPP types: integers, C-Octet Strings
//! with their maximum lengths, Octet Strings, and the TLV section.
//!
//! The reader returns the `CommandStatus` a peer must get when a field is
//! wrong, so a body decoder is a straight sequence of `?`.

use bytes::{BufMut, BytesMut};

use super::{Buffer, EncodeError};
use crate::status::CommandStatus;
use crate::tlv::{self, Tlvs};

/// Reads a PDU body in place; fields are sub-slices of the source buffer.
pub(crate) struct Reader<'s, B> {
    src: &'s B,
    pos: usize,
}

impl<'s, B: Buffer> Reader<'s, B> {
    pub(crate) fn new(src: &'s B, pos: usize) -> Self {
        Self { src, pos }
    }

    fn rest(&self) -> &[u8] {
        self.src.as_ref().get(self.pos..).unwrap_or_default()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.rest().is_empty()
    }

    pub(crate) fn u8(&mut self) -> Result<u8, CommandStatus> {
        let v = *self.rest().first().ok_or(CommandStatus::ESME_RINVCMDLEN)?;
        self.pos += 1;
        Ok(v)
    }

    pub(crate) fn u32(&mut self) -> Result<u32, CommandStatus> {
        match self.rest() {
            [a, b, c, d, ..] => {
                let v = u32::from_be_bytes([*a, *b, *c, *d]);
                self.pos += 4;
                Ok(v)
            }
            _ => Err(CommandStatus::ESME_RINVCMDLEN),
        }
    }

    /// A C-Octet String of at most `max` octets including its NUL.
    ///
    /// No NUL within `max` octets is the field's own error (`status`), unless
    /// the body ends first: then the body is short (ESME_RINVCMDLEN).
    pub(crate) fn c_octet_string(
        &mut self,
        max: usize,
        status: CommandStatus,
    ) -> Result<B, CommandStatus> {
        let rest = self.rest();
        let window = &rest[..rest.len().min(max)];
        match window.iter().position(|&b| b == 0) {
            Some(n) => {
                let s = self.src.slice_range(self.pos, self.pos + n);
                self.pos += n + 1;
                Ok(s)
            }
            None if rest.len() < max => Err(CommandStatus::ESME_RINVCMDLEN),
            None => Err(status),
        }
    }

    /// `n` octets; fewer left is the field's error.
    pub(crate) fn octets(&mut self, n: usize, status: CommandStatus) -> Result<B, CommandStatus> {
        if self.rest().len() < n {
            return Err(status);
        }
        let s = self.src.slice_range(self.pos, self.pos + n);
        self.pos += n;
        Ok(s)
    }

    /// The rest of the body as a TLV section.
    pub(crate) fn tlvs(&mut self) -> Result<Tlvs<B>, CommandStatus> {
        tlv::validate(self.rest())?;
        let end = self.src.as_ref().len();
        let s = self.src.slice_range(self.pos.min(end), end);
        self.pos = end;
        Ok(Tlvs::from_validated(s))
    }

    /// A body without TLVs must end here.
    pub(crate) fn finish(&self) -> Result<(), CommandStatus> {
        if self.is_empty() {
            Ok(())
        } else {
            Err(CommandStatus::ESME_RINVCMDLEN)
        }
    }
}

/// Write a C-Octet String of at most `max` octets including the NUL.
///
/// Always inlined: it is called for five fields of every submit_sm and
/// deliver_sm, and as a call (its `Result` returned through memory) it was
/// a third of an encode (docs/benchmarks.md, "SMPP codec").
#[inline(always)]
pub(crate) fn put_c_octet_string(
    buf: &mut BytesMut,
    s: &[u8],
    max: usize,
    field: &'static str,
) -> Result<(), EncodeError> {
    if s.len() >= max {
        return Err(EncodeError::FieldTooLong {
            field,
            max: max - 1,
        });
    }
    if has_nul(s) {
        return Err(EncodeError::NulInField { field });
    }
    // Mostly empty (service_type, the times): skip the copy's call.
    if !s.is_empty() {
        buf.put_slice(s);
    }
    buf.put_u8(0);
    Ok(())
}

/// Whether `s` holds a NUL octet, looked for a word at a time: the strings
/// are short (addresses, ids), where `<[u8]>::contains` goes octet by octet,
/// and this check is on every encode. Overlapping words cover the tail.
#[inline]
fn has_nul(s: &[u8]) -> bool {
    // A word holds a zero octet exactly when this is non-zero.
    fn zero_in_u64(w: u64) -> bool {
        w.wrapping_sub(0x0101_0101_0101_0101) & !w & 0x8080_8080_8080_8080 != 0
    }
    fn zero_in_u32(w: u32) -> bool {
        w.wrapping_sub(0x0101_0101) & !w & 0x8080_8080 != 0
    }
    if let Some(last) = s.last_chunk::<8>() {
        let mut rest = s;
        while let Some((w, r)) = rest.split_first_chunk::<8>() {
            if zero_in_u64(u64::from_ne_bytes(*w)) {
                return true;
            }
            rest = r;
        }
        return !rest.is_empty() && zero_in_u64(u64::from_ne_bytes(*last));
    }
    match (s.first_chunk::<4>(), s.last_chunk::<4>()) {
        (Some(a), Some(b)) => {
            zero_in_u32(u32::from_ne_bytes(*a)) || zero_in_u32(u32::from_ne_bytes(*b))
        }
        _ => s.contains(&0),
    }
}

/// Write a time field: empty, or exactly 16 characters (§7.1.1).
#[inline]
pub(crate) fn put_time(
    buf: &mut BytesMut,
    s: &[u8],
    field: &'static str,
) -> Result<(), EncodeError> {
    put_c_octet_string(buf, s, 17, field)
}

#[cfg(test)]
mod tests {
    use super::has_nul;
    use proptest::prelude::*;

    /// Every length up to three words and a tail, a NUL at each place or
    /// none, among octets that trip a careless zero-octet test (0x01, 0x80,
    /// 0xff): the word-at-a-time look agrees with the naive one.
    #[test]
    fn has_nul_agrees_with_contains_at_every_length_and_place() {
        for len in 0..=27 {
            for fill in [0x01u8, 0x80, 0xff, b'7'] {
                let mut s = vec![fill; len];
                assert!(!has_nul(&s), "len {len} fill {fill:#x}");
                for at in 0..len {
                    s[at] = 0;
                    assert!(has_nul(&s), "len {len} fill {fill:#x} NUL at {at}");
                    s[at] = fill;
                }
            }
        }
    }

    proptest! {
        #[test]
        fn has_nul_is_contains(s in proptest::collection::vec(any::<u8>(), 0..80)) {
            prop_assert_eq!(has_nul(&s), s.contains(&0));
        }
    }
}
