//! Delivery receipts: the text SMSCs put in a deliver_sm's short_message
//! (SMPP 3.4 Appendix B), the receipt TLVs, and matching a receipt's id to
//! the message_id a submit_sm_resp gave.
//!
//! This module owns:
//! - [`Receipt`]: the receipt data, parsed from text with [`Receipt::parse`]
//!   or from text plus TLVs with [`Receipt::from_deliver`], and written back
//!   as the standard text with [`Receipt::format`] (what a gateway sends its
//!   own users), or as a whole deliver_sm with [`Receipt::deliver_sm`]
//!   (in `deliver_sm.rs`).
//! - [`normalize_id`], [`id_value`], [`ids_match`]: id matching across the
//!   hex/decimal/leading-zero variants SMSCs produce.
//!
//! The standard text is
//! `id:<id> sub:001 dlvrd:001 submit date:YYMMDDhhmm done date:YYMMDDhhmm
//! stat:DELIVRD err:000 text:<first 20 chars>`, but it is only an appendix
//! example, so the parser is tolerant: keys in any case and order, extra
//! spaces, `submit_date`/`submitdate`, `status`/`error` aliases, 10- or
//! 12-digit dates, unknown extra fields, missing optional fields, trailing
//! garbage, non-UTF-8 bytes (decoded lossily). Only `id` and `stat` are
//! required.
//!
//! `text:` is always the last field: its value is the rest of the string,
//! `:` and all, and no key is looked for after it. That is also a safety
//! rule: the text is the user's message, so it must never be able to supply
//! a `stat:` or `id:` of its own.

use std::fmt;
use std::str::FromStr;

use crate::message_state::MessageState;
use crate::time::ReceiptDate;

mod deliver_sm;

/// Most characters of the original message a receipt's `text:` carries.
pub const RECEIPT_TEXT_CHARS: usize = 20;

/// Why a receipt could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReceiptError {
    /// No `id:` field with a value (and no receipted_message_id TLV).
    #[error("delivery receipt has no id")]
    MissingId,
    /// No `stat:` field (and no message_state TLV).
    #[error("delivery receipt has no stat")]
    MissingStat,
    /// A `stat:` value that names no message state.
    #[error("delivery receipt stat {0:?} is not a known state")]
    BadStat(String),
}

/// The network_error_code TLV (3.4 §5.3.2.31): network type (1 ANSI-136,
/// 2 IS-95, 3 GSM, ...) and that network's error code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct NetworkErrorCode {
    /// The network type octet.
    pub network_type: u8,
    /// The error code, big-endian on the wire.
    pub error_code: u16,
}

impl NetworkErrorCode {
    /// Read the 3-byte TLV value; `None` if it is not 3 bytes.
    pub fn from_bytes(value: &[u8]) -> Option<Self> {
        match *value {
            [network_type, hi, lo] => Some(Self {
                network_type,
                error_code: u16::from_be_bytes([hi, lo]),
            }),
            _ => None,
        }
    }

    /// The 3-byte TLV value.
    pub fn to_bytes(self) -> [u8; 3] {
        let [hi, lo] = self.error_code.to_be_bytes();
        [self.network_type, hi, lo]
    }
}

/// A delivery receipt.
///
/// Fields other than `id` and `stat` are optional because SMSCs leave them
/// out; [`Receipt::format`] writes only the fields that are set, so fill
/// them for a fully standard text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Receipt {
    /// The message id as written (hex, decimal, UUID...); match it with
    /// [`ids_match`] rather than `==`.
    pub id: String,
    /// `sub:` number of messages submitted (written zero-padded to 3).
    pub sub: Option<u32>,
    /// `dlvrd:` number delivered (written zero-padded to 3).
    pub dlvrd: Option<u32>,
    /// `submit date:`.
    pub submit_date: Option<ReceiptDate>,
    /// `done date:`.
    pub done_date: Option<ReceiptDate>,
    /// `stat:` (or the message_state TLV).
    pub stat: MessageState,
    /// `err:` as given, usually 3 digits such as `000`; SMSC-specific.
    pub err: Option<String>,
    /// `text:`, the start of the original message (up to 20 characters
    /// in the standard; kept as received).
    pub text: Option<String>,
    /// The network_error_code TLV, when the deliver_sm had one.
    pub network_error: Option<NetworkErrorCode>,
}

impl Receipt {
    /// A receipt with only an id and a state.
    pub fn new(id: impl Into<String>, stat: MessageState) -> Self {
        Self {
            id: id.into(),
            sub: None,
            dlvrd: None,
            submit_date: None,
            done_date: None,
            stat,
            err: None,
            text: None,
            network_error: None,
        }
    }

    /// Parse receipt text from a short_message. Non-UTF-8 bytes are decoded
    /// lossily (a UCS-2 receipt must be decoded by the caller first, then
    /// use [`Receipt::parse_str`]).
    pub fn parse(short_message: &[u8]) -> Result<Self, ReceiptError> {
        Self::parse_str(&String::from_utf8_lossy(short_message))
    }

    /// Parse receipt text. See the module docs for what is tolerated.
    pub fn parse_str(text: &str) -> Result<Self, ReceiptError> {
        let fields = Fields::parse(text);
        let id = fields.id.clone().ok_or(ReceiptError::MissingId)?;
        let stat = match &fields.stat {
            None => return Err(ReceiptError::MissingStat),
            Some(Err(bad)) => return Err(ReceiptError::BadStat(bad.clone())),
            Some(Ok(stat)) => *stat,
        };
        Ok(fields.into_receipt(id, stat))
    }

    /// Build a receipt from a deliver_sm / data_sm: its short_message text
    /// and its receipt TLVs, whose values are passed raw.
    ///
    /// The receipted_message_id and message_state TLVs win over the text's
    /// `id:` and `stat:` (they are typed and unambiguous; texts vary); the
    /// text fills every other field. A receipt whose TLVs give id and state
    /// is valid even when the text is empty or unreadable. When the text has
    /// no `err:`, it is filled from network_error_code as its error code in
    /// decimal, zero-padded to 3 digits.
    ///
    /// - `receipted_message_id`: the C-octet string value; a trailing NUL is
    ///   stripped; empty counts as absent.
    /// - `message_state`: the 1-byte value.
    /// - `network_error_code`: the 3-byte value; other lengths are ignored.
    pub fn from_deliver(
        short_message: &[u8],
        receipted_message_id: Option<&[u8]>,
        message_state: Option<u8>,
        network_error_code: Option<&[u8]>,
    ) -> Result<Self, ReceiptError> {
        let text = String::from_utf8_lossy(short_message);
        let fields = Fields::parse(&text);
        let tlv_id = receipted_message_id
            .map(|v| {
                let v = v.strip_suffix(&[0]).unwrap_or(v);
                String::from_utf8_lossy(v).trim().to_owned()
            })
            .filter(|id| !id.is_empty());
        let id = tlv_id
            .or_else(|| fields.id.clone())
            .ok_or(ReceiptError::MissingId)?;
        let stat = match (message_state, &fields.stat) {
            (Some(v), _) => MessageState::from_u8(v),
            (None, Some(Ok(stat))) => *stat,
            (None, Some(Err(bad))) => return Err(ReceiptError::BadStat(bad.clone())),
            (None, None) => return Err(ReceiptError::MissingStat),
        };
        let network_error = network_error_code.and_then(NetworkErrorCode::from_bytes);
        let mut receipt = fields.into_receipt(id, stat);
        if receipt.err.is_none() {
            receipt.err = network_error.map(|n| format!("{:03}", n.error_code));
        }
        receipt.network_error = network_error;
        Ok(receipt)
    }

    /// The receipt a deliver_sm or data_sm carries: receipted_message_id,
    /// message_state and network_error_code TLVs first, the text (from
    /// short_message, or message_payload when short_message is empty) for
    /// the rest.
    pub fn from_tlvs<B: AsRef<[u8]>>(
        short_message: &[u8],
        tlvs: &crate::tlv::Tlvs<B>,
    ) -> Result<Self, ReceiptError> {
        let text = match short_message {
            [] => tlvs.message_payload().unwrap_or_default(),
            sm => sm,
        };
        Self::from_deliver(
            text,
            tlvs.receipted_message_id(),
            tlvs.message_state().map(MessageState::as_u8),
            tlvs.get(crate::tlv::TlvTag::NETWORK_ERROR_CODE),
        )
    }

    /// The standard receipt text, fields in the standard order, leaving out
    /// those that are `None`. `sub`/`dlvrd` are zero-padded to 3 digits;
    /// dates are written as held (10 digits unless seconds are set); `stat`
    /// is the 7-letter name; `text` is cut to its first 20 characters
    /// (characters, not bytes). `id`, `err` and `text` are written as they
    /// are, so an id with spaces will not read back.
    pub fn format(&self) -> String {
        let mut out = Vec::with_capacity(160);
        self.write_to(&mut out);
        // Only UTF-8 pieces were written.
        String::from_utf8(out).unwrap_or_default()
    }

    /// Append [`Receipt::format`]'s text to `out` without formatting
    /// machinery or allocation beyond `out`'s growth: receipts are built
    /// once per message on the hot path.
    pub fn write_to(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(b"id:");
        out.extend_from_slice(self.id.as_bytes());
        if let Some(sub) = self.sub {
            out.extend_from_slice(b" sub:");
            write_padded3(out, sub);
        }
        if let Some(dlvrd) = self.dlvrd {
            out.extend_from_slice(b" dlvrd:");
            write_padded3(out, dlvrd);
        }
        if let Some(d) = &self.submit_date {
            out.extend_from_slice(b" submit date:");
            d.write_to(out);
        }
        if let Some(d) = &self.done_date {
            out.extend_from_slice(b" done date:");
            d.write_to(out);
        }
        out.extend_from_slice(b" stat:");
        out.extend_from_slice(self.stat.receipt_stat().as_bytes());
        if let Some(err) = &self.err {
            out.extend_from_slice(b" err:");
            out.extend_from_slice(err.as_bytes());
        }
        if let Some(text) = &self.text {
            out.extend_from_slice(b" text:");
            let end = text
                .char_indices()
                .nth(RECEIPT_TEXT_CHARS)
                .map_or(text.len(), |(i, _)| i);
            out.extend_from_slice(&text.as_bytes()[..end]);
        }
    }
}

/// A number zero-padded to at least 3 digits, as `{:03}` writes it.
fn write_padded3(out: &mut Vec<u8>, v: u32) {
    if v < 1000 {
        out.extend_from_slice(&[
            b'0' + (v / 100) as u8,
            b'0' + (v / 10 % 10) as u8,
            b'0' + (v % 10) as u8,
        ]);
    } else {
        out.extend_from_slice(v.to_string().as_bytes());
    }
}

impl fmt::Display for Receipt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.format())
    }
}

impl FromStr for Receipt {
    type Err = ReceiptError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse_str(s)
    }
}

/// The fields found in a receipt text, before deciding what is required.
#[derive(Default)]
struct Fields {
    id: Option<String>,
    sub: Option<u32>,
    dlvrd: Option<u32>,
    submit_date: Option<ReceiptDate>,
    done_date: Option<ReceiptDate>,
    /// `Err` holds an unparsable value, reported only if no TLV overrides it.
    stat: Option<Result<MessageState, String>>,
    err: Option<String>,
    text: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Key {
    Id,
    Sub,
    Dlvrd,
    SubmitDate,
    DoneDate,
    Stat,
    Err,
    Text,
}

/// Keys and their spellings (lowercase). Each spelling is words that may
/// be joined by spaces, `_` or `-`, or by nothing. Longer spellings first.
const KEYS: &[(Key, &[&str])] = &[
    (Key::Id, &["id"]),
    (Key::Sub, &["sub"]),
    (Key::Dlvrd, &["dlvrd"]),
    (Key::SubmitDate, &["submit", "date"]),
    (Key::DoneDate, &["done", "date"]),
    (Key::Stat, &["status"]),
    (Key::Stat, &["stat"]),
    (Key::Err, &["error"]),
    (Key::Err, &["err"]),
    (Key::Text, &["text"]),
];

/// If a key starts at `i` of `lower` (already at a word boundary), the key
/// and where its value starts (just after the `:`).
fn match_key(lower: &[u8], i: usize) -> Option<(Key, usize)> {
    'spellings: for &(key, words) in KEYS {
        let mut pos = i;
        for (n, word) in words.iter().enumerate() {
            if n > 0 {
                while matches!(lower.get(pos), Some(b' ' | b'_' | b'-')) {
                    pos += 1;
                }
            }
            match lower.get(pos..pos + word.len()) {
                Some(s) if s == word.as_bytes() => pos += word.len(),
                _ => continue 'spellings,
            }
        }
        while matches!(lower.get(pos), Some(b' ' | b'\t')) {
            pos += 1;
        }
        if lower.get(pos) == Some(&b':') {
            return Some((key, pos + 1));
        }
    }
    None
}

/// The first token of a value: up to whitespace or a control character.
fn token(value: &str) -> Option<&str> {
    value
        .split(|c: char| c.is_whitespace() || c.is_control())
        .find(|t| !t.is_empty())
}

impl Fields {
    fn parse(text: &str) -> Self {
        // ASCII lowercasing keeps byte offsets, so positions found in
        // `lower` are char boundaries of `text` (keys are ASCII).
        let lower = text.to_ascii_lowercase().into_bytes();
        let mut found: Vec<(Key, usize, usize)> = Vec::new();
        let mut i = 0;
        while i < lower.len() {
            let boundary = i == 0 || !matches!(lower[i - 1], b'a'..=b'z' | b'0'..=b'9' | b'_');
            match boundary.then(|| match_key(&lower, i)).flatten() {
                Some((key, value_start)) => {
                    found.push((key, i, value_start));
                    if key == Key::Text {
                        break;
                    }
                    i = value_start;
                }
                None => i += 1,
            }
        }

        let mut fields = Self::default();
        for (n, &(key, _, start)) in found.iter().enumerate() {
            let end = found.get(n + 1).map_or(text.len(), |&(_, next, _)| next);
            let Some(value) = text.get(start..end) else {
                continue;
            };
            let tok = token(value);
            match key {
                Key::Id => {
                    if fields.id.is_none() {
                        fields.id = tok.map(str::to_owned);
                    }
                }
                Key::Sub => {
                    if fields.sub.is_none() {
                        fields.sub = tok.and_then(|t| t.parse().ok());
                    }
                }
                Key::Dlvrd => {
                    if fields.dlvrd.is_none() {
                        fields.dlvrd = tok.and_then(|t| t.parse().ok());
                    }
                }
                Key::SubmitDate => {
                    if fields.submit_date.is_none() {
                        fields.submit_date = tok.and_then(|t| ReceiptDate::parse(t.as_bytes()));
                    }
                }
                Key::DoneDate => {
                    if fields.done_date.is_none() {
                        fields.done_date = tok.and_then(|t| ReceiptDate::parse(t.as_bytes()));
                    }
                }
                Key::Stat => {
                    if fields.stat.is_none() {
                        fields.stat = tok.map(|t| {
                            MessageState::from_receipt_stat(t).ok_or_else(|| t.to_owned())
                        });
                    }
                }
                Key::Err => {
                    if fields.err.is_none() {
                        fields.err = tok.map(str::to_owned);
                    }
                }
                Key::Text => {
                    fields.text = Some(value.trim_end_matches('\0').to_owned());
                }
            }
        }
        fields
    }

    fn into_receipt(self, id: String, stat: MessageState) -> Receipt {
        Receipt {
            id,
            sub: self.sub,
            dlvrd: self.dlvrd,
            submit_date: self.submit_date,
            done_date: self.done_date,
            stat,
            err: self.err,
            text: self.text,
            network_error: None,
        }
    }
}

/// How an upstream writes message ids, for matching a receipt's id to the
/// submit_sm_resp message_id.
///
/// SMSCs often answer submit_sm_resp with a hex id (`1A2B3C`) and write the
/// same id in decimal in the receipt (`1715004`), or the other way round,
/// or with leading zeros. Configure `Hex`/`Dec` per side when the upstream
/// is known; `Auto` guesses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum IdFormat {
    /// Decimal if all digits, else hex if all hex digits, else opaque.
    #[default]
    Auto,
    /// Hexadecimal (an optional `0x` prefix is allowed).
    Hex,
    /// Decimal.
    Dec,
}

/// The digits of `id` if it is a number in `radix` (16 allows `0x`),
/// leading zeros stripped (`"0"` for zero).
fn number_digits(id: &str, radix: u32) -> Option<&str> {
    let digits = if radix == 16 {
        id.strip_prefix("0x")
            .or_else(|| id.strip_prefix("0X"))
            .unwrap_or(id)
    } else {
        id
    };
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    let trimmed = digits.trim_start_matches('0');
    Some(if trimmed.is_empty() { "0" } else { trimmed })
}

/// Normalise an id for comparison under `format`. The id is trimmed, then:
///
/// - `Hex`: if it is hex, its lowercase hex digits without `0x` or leading
///   zeros (`"001A2B"` → `"1a2b"`);
/// - `Dec`: if it is decimal, its digits without leading zeros
///   (`"00123"` → `"123"`);
/// - `Auto`: `Dec` if all decimal digits, else `Hex` if all hex digits.
///
/// An id that is not a number in that format (a UUID, say) is kept as it
/// is, lowercased. Two ids written in the same base match iff their
/// normalised forms are equal; for different bases see [`id_value`].
pub fn normalize_id(id: &str, format: IdFormat) -> String {
    let id = id.trim();
    let dec = || number_digits(id, 10).map(str::to_owned);
    let hex = || number_digits(id, 16).map(|d| d.to_ascii_lowercase());
    match format {
        IdFormat::Dec => dec(),
        IdFormat::Hex => hex(),
        IdFormat::Auto => dec().or_else(hex),
    }
    .unwrap_or_else(|| id.to_lowercase())
}

/// The numeric value of an id read in `format` (`Auto`: decimal if all
/// digits, else hex), or `None` if it is not such a number or exceeds
/// `u128`. This is the lookup key across bases: store
/// `id_value(resp_id, Hex)` and look up `id_value(receipt_id, Dec)` for an
/// upstream known to answer in hex and report in decimal.
pub fn id_value(id: &str, format: IdFormat) -> Option<u128> {
    let id = id.trim();
    let parse =
        |radix: u32| number_digits(id, radix).and_then(|d| u128::from_str_radix(d, radix).ok());
    match format {
        IdFormat::Dec => parse(10),
        IdFormat::Hex => parse(16),
        IdFormat::Auto => {
            if number_digits(id, 10).is_some() {
                parse(10)
            } else {
                parse(16)
            }
        }
    }
}

/// Whether a submit_sm_resp message_id and a receipt id name the same
/// message, with no knowledge of the upstream (`Auto`): equal ignoring case
/// and surrounding spaces; or equal as numbers in the same base ignoring
/// leading zeros; or equal as numbers with one read as hex and the other
/// as decimal, either way round.
///
/// The cross-base rule makes false positives possible (`"10"` matches
/// `"16"`), which is harmless when checking a receipt against the one
/// message it is thought to belong to, but not for searching among many:
/// key those by [`id_value`] with configured formats.
pub fn ids_match(submit_resp_id: &str, receipt_id: &str) -> bool {
    let (a, b) = (submit_resp_id.trim(), receipt_id.trim());
    if a.eq_ignore_ascii_case(b) {
        return true;
    }
    let same_base = |radix| match (number_digits(a, radix), number_digits(b, radix)) {
        (Some(x), Some(y)) => x.eq_ignore_ascii_case(y),
        _ => false,
    };
    if same_base(10) || same_base(16) {
        return true;
    }
    let (a_hex, b_hex) = (id_value(a, IdFormat::Hex), id_value(b, IdFormat::Hex));
    let (a_dec, b_dec) = (id_value(a, IdFormat::Dec), id_value(b, IdFormat::Dec));
    (a_hex.is_some() && a_hex == b_dec) || (a_dec.is_some() && a_dec == b_hex)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn date(s: &str) -> Option<ReceiptDate> {
        Some(ReceiptDate::parse(s.as_bytes()).unwrap())
    }

    fn parse(s: &str) -> Receipt {
        Receipt::parse(s.as_bytes()).unwrap()
    }

    const STANDARD: &str = "id:0123456789 sub:001 dlvrd:001 submit date:2402291530 \
         done date:2402291531 stat:DELIVRD err:000 text:Hello world, this is";

    #[test]
    fn standard() {
        let r = parse(STANDARD);
        assert_eq!(
            r,
            Receipt {
                id: "0123456789".into(),
                sub: Some(1),
                dlvrd: Some(1),
                submit_date: date("2402291530"),
                done_date: date("2402291531"),
                stat: MessageState::Delivered,
                err: Some("000".into()),
                text: Some("Hello world, this is".into()),
                network_error: None,
            }
        );
        assert_eq!(r.format(), STANDARD);
        assert_eq!(r.to_string().parse::<Receipt>().unwrap(), r);
    }

    #[test]
    fn uppercase_keys_and_lowercase_stat() {
        let r = parse(
            "ID:abc SUB:001 DLVRD:000 SUBMIT DATE:2401010000 DONE DATE:2401010001 \
             STAT:undeliv ERR:005 TEXT:hi",
        );
        assert_eq!(r.id, "abc");
        assert_eq!(r.stat, MessageState::Undeliverable);
        assert_eq!(r.dlvrd, Some(0));
        assert_eq!(r.err.as_deref(), Some("005"));
        assert_eq!(r.text.as_deref(), Some("hi"));
        assert_eq!(r.done_date, date("2401010001"));
        let r = parse("Id:1 Stat:Delivrd Text:Ok");
        assert_eq!((r.id.as_str(), r.stat), ("1", MessageState::Delivered));
        assert_eq!(r.text.as_deref(), Some("Ok"));
    }

    #[test]
    fn twelve_digit_dates() {
        let r = parse(
            "id:77 sub:001 dlvrd:001 submit date:240229153045 done date:240229153159 \
             stat:DELIVRD err:000 text:",
        );
        assert_eq!(r.submit_date.unwrap().second, Some(45));
        assert_eq!(r.done_date.unwrap().to_unix(), 1_709_220_719);
        assert_eq!(r.text.as_deref(), Some(""));
        assert!(r.format().contains("submit date:240229153045"));
    }

    #[test]
    fn missing_sub_dlvrd_and_text() {
        let r = parse("id:42 submit date:2401010000 done date:2401010001 stat:EXPIRED err:000");
        assert_eq!((r.sub, r.dlvrd, r.text), (None, None, None));
        assert_eq!(r.stat, MessageState::Expired);
        assert_eq!(r.err.as_deref(), Some("000"));
    }

    #[test]
    fn only_id_and_stat() {
        let r = parse("id:X1 stat:ACCEPTD");
        assert_eq!(r, Receipt::new("X1", MessageState::Accepted));
        assert_eq!(r.format(), "id:X1 stat:ACCEPTD");
    }

    #[test]
    fn hex_id_kept_as_written() {
        let r = parse("id:1A2B3C sub:001 dlvrd:001 stat:DELIVRD");
        assert_eq!(r.id, "1A2B3C");
        assert!(ids_match("1715004", &r.id));
    }

    #[test]
    fn underscore_and_joined_date_keys() {
        let r = parse("id:5 submit_date:2401010000 done_date:2401010100 stat:DELIVRD");
        assert_eq!(r.submit_date, date("2401010000"));
        assert_eq!(r.done_date, date("2401010100"));
        let r = parse("id:5 SubmitDate:2401010000 Done-Date:2401010100 stat:DELIVRD");
        assert_eq!(r.submit_date, date("2401010000"));
        assert_eq!(r.done_date, date("2401010100"));
    }

    #[test]
    fn text_with_colons_and_keys_inside() {
        let r = parse("id:9 stat:DELIVRD err:000 Text:stat:REJECTD id:666 a:b::c ");
        assert_eq!(r.id, "9");
        assert_eq!(r.stat, MessageState::Delivered);
        assert_eq!(r.text.as_deref(), Some("stat:REJECTD id:666 a:b::c "));
    }

    #[test]
    fn text_cannot_supply_required_fields() {
        assert_eq!(
            Receipt::parse(b"id:9 text:stat:DELIVRD"),
            Err(ReceiptError::MissingStat)
        );
    }

    #[test]
    fn extra_spaces_and_order() {
        let r = parse("  stat : DELIVRD   err:000  id :  123   sub:  2  dlvrd:1   ");
        assert_eq!(r.id, "123");
        assert_eq!(r.stat, MessageState::Delivered);
        assert_eq!((r.sub, r.dlvrd), (Some(2), Some(1)));
        assert_eq!(r.format(), "id:123 sub:002 dlvrd:001 stat:DELIVRD err:000");
    }

    #[test]
    fn trailing_garbage_and_unknown_fields() {
        let r = parse("id:12 foo:bar sub:001 stat:DELIVRD err:000 imsi:123456 xyz\0\0");
        assert_eq!(r.id, "12");
        assert_eq!(r.sub, Some(1));
        assert_eq!(r.err.as_deref(), Some("000"));
        let r = parse("id:12 stat:DELIVRD\0err:000\r\n");
        assert_eq!(r.stat, MessageState::Delivered);
        assert_eq!(r.err.as_deref(), Some("000"));
        // Key-like words glued to other words are not keys.
        let r = parse("msg_id:99 id:12 unstat:REJECTD stat:DELIVRD");
        assert_eq!((r.id.as_str(), r.stat), ("12", MessageState::Delivered));
    }

    #[test]
    fn long_stat_names_and_aliases() {
        let r = parse("id:1 status:delivered error:001");
        assert_eq!(r.stat, MessageState::Delivered);
        assert_eq!(r.err.as_deref(), Some("001"));
        assert_eq!(parse("id:1 stat:REJECTD").stat, MessageState::Rejected);
        assert_eq!(parse("id:1 stat:unknown").stat, MessageState::Unknown);
        assert_eq!(parse("id:1 stat:ENROUTE").stat, MessageState::Enroute);
        assert_eq!(parse("id:1 stat:DELETED").stat, MessageState::Deleted);
    }

    #[test]
    fn uuid_id_and_bad_dates() {
        let r = parse(
            "id:3F2504E0-4F89-11D3-9A0C-0305E82C3301 sub:001 dlvrd:001 \
             submit date:2413011200 done date:24/01/01 stat:DELIVRD err:000 text:x",
        );
        assert_eq!(r.id, "3F2504E0-4F89-11D3-9A0C-0305E82C3301");
        assert_eq!((r.submit_date, r.done_date), (None, None));
    }

    #[test]
    fn non_utf8_is_lossy() {
        let mut bytes = b"id:55 stat:DELIVRD err:000 text:caf".to_vec();
        bytes.extend_from_slice(&[0xE9, 0xFF]);
        let r = Receipt::parse(&bytes).unwrap();
        assert_eq!(r.id, "55");
        assert_eq!(r.text.as_deref(), Some("caf\u{FFFD}\u{FFFD}"));
        // A non-UTF-8 byte right before a key still leaves a boundary.
        let r = Receipt::parse(b"\xffid:7 \xffstat:DELIVRD").unwrap();
        assert_eq!((r.id.as_str(), r.stat), ("7", MessageState::Delivered));
    }

    #[test]
    fn errors() {
        assert_eq!(Receipt::parse(b""), Err(ReceiptError::MissingId));
        assert_eq!(
            Receipt::parse(b"sub:001 stat:DELIVRD"),
            Err(ReceiptError::MissingId)
        );
        assert_eq!(
            Receipt::parse(b"id: sub:001 stat:DELIVRD"),
            Err(ReceiptError::MissingId)
        );
        assert_eq!(
            Receipt::parse(b"id:1 err:000"),
            Err(ReceiptError::MissingStat)
        );
        assert_eq!(
            Receipt::parse(b"id:1 stat:"),
            Err(ReceiptError::MissingStat)
        );
        assert_eq!(
            Receipt::parse(b"id:1 stat:WHATEVER"),
            Err(ReceiptError::BadStat("WHATEVER".into()))
        );
    }

    #[test]
    fn format_truncates_text_by_chars() {
        let mut r = Receipt::new("1", MessageState::Delivered);
        r.text = Some("ééééééééééééééééééééééé".into()); // 23 chars
        r.sub = Some(1234);
        assert_eq!(
            r.format(),
            "id:1 sub:1234 stat:DELIVRD text:éééééééééééééééééééé"
        );
        r.stat = MessageState::Other(42);
        assert!(r.format().contains("stat:UNKNOWN"));
    }

    #[test]
    fn tlvs_win_over_text() {
        let r = Receipt::from_deliver(
            STANDARD.as_bytes(),
            Some(b"1A2B3C\0"),
            Some(5),
            Some(&[3, 0x00, 0x22]),
        )
        .unwrap();
        assert_eq!(r.id, "1A2B3C");
        assert_eq!(r.stat, MessageState::Undeliverable);
        // Text fills the rest, err from the text wins over the TLV's.
        assert_eq!(r.err.as_deref(), Some("000"));
        assert_eq!(r.sub, Some(1));
        assert_eq!(r.text.as_deref(), Some("Hello world, this is"));
        assert_eq!(
            r.network_error,
            Some(NetworkErrorCode {
                network_type: 3,
                error_code: 0x22
            })
        );
    }

    #[test]
    fn tlvs_alone_are_enough() {
        for text in [&b""[..], b"garbage", b"\xff\xfe", b"id: stat:BOGUS"] {
            let r = Receipt::from_deliver(text, Some(b"abc"), Some(2), Some(&[3, 1, 0])).unwrap();
            assert_eq!(r.id, "abc");
            assert_eq!(r.stat, MessageState::Delivered);
            assert_eq!(r.err.as_deref(), Some("256"));
        }
        let r = Receipt::from_deliver(b"", Some(b"abc"), Some(2), Some(&[3, 0, 7])).unwrap();
        assert_eq!(r.err.as_deref(), Some("007"));
    }

    #[test]
    fn tlv_fallbacks_to_text() {
        // Only id from TLV, stat from text.
        let r = Receipt::from_deliver(b"id:1 stat:EXPIRED", Some(b"ff"), None, None).unwrap();
        assert_eq!((r.id.as_str(), r.stat), ("ff", MessageState::Expired));
        // Empty TLV id falls back to text; bad network_error_code length ignored.
        let r = Receipt::from_deliver(b"id:1 stat:EXPIRED", Some(b"\0"), Some(3), Some(&[1, 2]))
            .unwrap();
        assert_eq!((r.id.as_str(), r.stat), ("1", MessageState::Expired));
        assert_eq!((r.err, r.network_error), (None, None));
        // Unknown message_state values are kept.
        let r = Receipt::from_deliver(b"", Some(b"1"), Some(0), None).unwrap();
        assert_eq!(r.stat, MessageState::Other(0));
        // Errors when neither side has them.
        assert_eq!(
            Receipt::from_deliver(b"stat:DELIVRD", None, None, None),
            Err(ReceiptError::MissingId)
        );
        assert_eq!(
            Receipt::from_deliver(b"", Some(b"1"), None, None),
            Err(ReceiptError::MissingStat)
        );
        assert_eq!(
            Receipt::from_deliver(b"stat:nope", Some(b"1"), None, None),
            Err(ReceiptError::BadStat("nope".into()))
        );
    }

    #[test]
    fn network_error_code_bytes() {
        let n = NetworkErrorCode::from_bytes(&[3, 0x12, 0x34]).unwrap();
        assert_eq!(n.error_code, 0x1234);
        assert_eq!(n.to_bytes(), [3, 0x12, 0x34]);
        assert_eq!(NetworkErrorCode::from_bytes(&[3, 0x12, 0x34, 0]), None);
    }

    #[test]
    fn normalize() {
        assert_eq!(normalize_id("001A2B", IdFormat::Hex), "1a2b");
        assert_eq!(normalize_id("0x1A2B", IdFormat::Hex), "1a2b");
        assert_eq!(normalize_id("0000", IdFormat::Hex), "0");
        assert_eq!(normalize_id(" 00123 ", IdFormat::Dec), "123");
        assert_eq!(normalize_id("1A2B", IdFormat::Dec), "1a2b");
        assert_eq!(normalize_id("00123", IdFormat::Auto), "123");
        assert_eq!(normalize_id("00AbC", IdFormat::Auto), "abc");
        let uuid = "3F2504E0-4F89-11D3-9A0C-0305E82C3301";
        assert_eq!(normalize_id(uuid, IdFormat::Auto), uuid.to_lowercase());
        assert_eq!(normalize_id(uuid, IdFormat::Hex), uuid.to_lowercase());
        assert_eq!(id_value("1A2B3C", IdFormat::Hex), Some(1_715_004));
        assert_eq!(id_value("1715004", IdFormat::Dec), Some(1_715_004));
        assert_eq!(id_value("1715004", IdFormat::Auto), Some(1_715_004));
        assert_eq!(id_value("ff", IdFormat::Auto), Some(255));
        assert_eq!(id_value("xyz", IdFormat::Auto), None);
        assert_eq!(id_value(&"9".repeat(40), IdFormat::Dec), None); // > u128
    }

    #[test]
    fn matching() {
        assert!(ids_match("1A2B3C", "1715004")); // hex resp, dec receipt
        assert!(ids_match("1715004", "1a2b3c")); // dec resp, hex receipt
        assert!(ids_match("001715004", "1715004")); // leading zeros
        assert!(ids_match("00001a2b3c", "1A2B3C"));
        assert!(ids_match("0x1A2B3C", "1715004"));
        assert!(ids_match(" abc ", "ABC"));
        let uuid = "3F2504E0-4F89-11D3-9A0C-0305E82C3301";
        assert!(ids_match(uuid, &uuid.to_lowercase()));
        assert!(!ids_match(uuid, "3F2504E0-4F89-11D3-9A0C-0305E82C3302"));
        assert!(!ids_match("1A2B3C", "1715005"));
        assert!(!ids_match("abc", "abd"));
        assert!(!ids_match("", "0"));
        // Beyond u128, same-base textual comparison still works.
        let big = "1".repeat(50);
        assert!(ids_match(&format!("000{big}"), &big));
        // Documented false positive of cross-base matching.
        assert!(ids_match("10", "16"));
    }

    fn arb_date() -> impl Strategy<Value = Option<ReceiptDate>> {
        proptest::option::of(
            (946_684_800i64..4_102_444_800, proptest::option::of(0u8..60)).prop_map(
                |(unix, second)| {
                    let d = ReceiptDate::from_unix(unix).unwrap();
                    ReceiptDate { second, ..d }
                },
            ),
        )
    }

    fn arb_receipt() -> impl Strategy<Value = Receipt> {
        (
            "[0-9A-Za-z-]{1,40}",
            proptest::option::of(any::<u32>()),
            proptest::option::of(any::<u32>()),
            arb_date(),
            arb_date(),
            1u8..=8,
            proptest::option::of("[0-9A-Za-z]{1,5}"),
            proptest::option::of("\\PC{0,20}"),
        )
            .prop_map(
                |(id, sub, dlvrd, submit_date, done_date, stat, err, text)| Receipt {
                    id,
                    sub,
                    dlvrd,
                    submit_date,
                    done_date,
                    stat: MessageState::from_u8(stat),
                    err,
                    text,
                    network_error: None,
                },
            )
    }

    proptest! {
        #[test]
        fn format_parse_round_trip(r in arb_receipt()) {
            let text = r.format();
            prop_assert_eq!(Receipt::parse(text.as_bytes()), Ok(r.clone()));
            // Mixed-case keys read the same.
            let upper = text.replacen("id:", "ID:", 1).replacen(" stat:", " Stat:", 1);
            prop_assert_eq!(Receipt::parse_str(&upper), Ok(r));
        }

        #[test]
        fn parse_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = Receipt::parse(&bytes);
            let _ = Receipt::from_deliver(&bytes, Some(&bytes), Some(1), Some(&bytes));
        }

        #[test]
        fn parse_receiptish_never_panics(
            s in "((id|ID|sub|dlvrd|submit[ _]?date|done date|stat|err|text|Text)? ?: ?[0-9A-Za-z:é\\x00 ]{0,12} ?){0,10}",
        ) {
            if let Ok(r) = Receipt::parse_str(&s) {
                prop_assert!(!r.id.is_empty());
                let _ = r.format();
            }
        }

        #[test]
        fn hex_dec_ids_match(v: u64, zeros in 0usize..4) {
            let hex = format!("{}{v:X}", "0".repeat(zeros));
            let dec = v.to_string();
            prop_assert!(ids_match(&hex, &dec));
            prop_assert!(ids_match(&dec, &hex));
            prop_assert_eq!(id_value(&hex, IdFormat::Hex), Some(u128::from(v)));
            prop_assert_eq!(normalize_id(&hex, IdFormat::Hex), format!("{v:x}"));
        }
    }
}
