//! Optional parameters (TLVs, SMPP 3.4 §5.3): tags, length rules, and a
//! validated, zero-copy view over a PDU's TLV section.
//!
//! A PDU keeps its TLV section as the bytes it came in, checked once when
//! decoded: every TLV is whole and every standard TLV has a length its tag
//! allows. Unknown and vendor TLVs are therefore kept intact and in order,
//! and re-encoding writes them back byte for byte.

use bytes::{BufMut, Bytes, BytesMut};
use std::fmt;

use crate::message_state::MessageState;
use crate::status::CommandStatus;

/// A TLV tag. Unknown tags are kept as sent.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TlvTag(pub u16);

/// The lengths a standard TLV may have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlvLength {
    Exact(usize),
    Range(usize, usize),
}

macro_rules! tlv_tags {
    ($($name:ident = $value:literal, $len:expr, $text:literal;)*) => {
        impl TlvTag {
            $(pub const $name: TlvTag = TlvTag($value);)*

            /// The 3.4 name in lower case, as the specification writes it.
            pub fn name(self) -> Option<&'static str> {
                match self.0 {
                    $($value => Some($text),)*
                    _ => None,
                }
            }

            /// The lengths the 3.4 specification allows for this tag, or
            /// None for a tag outside the table (any length is kept).
            pub fn length(self) -> Option<TlvLength> {
                match self.0 {
                    $($value => Some($len),)*
                    _ => None,
                }
            }

            /// Every standard 3.4 tag.
            pub const ALL: &'static [TlvTag] = &[$(TlvTag($value)),*];
        }
    };
}

use TlvLength::{Exact, Range};

tlv_tags! {
    DEST_ADDR_SUBUNIT = 0x0005, Exact(1), "dest_addr_subunit";
    DEST_NETWORK_TYPE = 0x0006, Exact(1), "dest_network_type";
    DEST_BEARER_TYPE = 0x0007, Exact(1), "dest_bearer_type";
    DEST_TELEMATICS_ID = 0x0008, Exact(2), "dest_telematics_id";
    SOURCE_ADDR_SUBUNIT = 0x000D, Exact(1), "source_addr_subunit";
    SOURCE_NETWORK_TYPE = 0x000E, Exact(1), "source_network_type";
    SOURCE_BEARER_TYPE = 0x000F, Exact(1), "source_bearer_type";
    // 3.4 gives 1 in §5.3.2.16's table and 2 in its text; accept both.
    SOURCE_TELEMATICS_ID = 0x0010, Range(1, 2), "source_telematics_id";
    QOS_TIME_TO_LIVE = 0x0017, Exact(4), "qos_time_to_live";
    PAYLOAD_TYPE = 0x0019, Exact(1), "payload_type";
    ADDITIONAL_STATUS_INFO_TEXT = 0x001D, Range(1, 256), "additional_status_info_text";
    RECEIPTED_MESSAGE_ID = 0x001E, Range(1, 65), "receipted_message_id";
    MS_MSG_WAIT_FACILITIES = 0x0030, Exact(1), "ms_msg_wait_facilities";
    PRIVACY_INDICATOR = 0x0201, Exact(1), "privacy_indicator";
    SOURCE_SUBADDRESS = 0x0202, Range(2, 23), "source_subaddress";
    DEST_SUBADDRESS = 0x0203, Range(2, 23), "dest_subaddress";
    USER_MESSAGE_REFERENCE = 0x0204, Exact(2), "user_message_reference";
    USER_RESPONSE_CODE = 0x0205, Exact(1), "user_response_code";
    SOURCE_PORT = 0x020A, Exact(2), "source_port";
    DESTINATION_PORT = 0x020B, Exact(2), "destination_port";
    SAR_MSG_REF_NUM = 0x020C, Exact(2), "sar_msg_ref_num";
    LANGUAGE_INDICATOR = 0x020D, Exact(1), "language_indicator";
    SAR_TOTAL_SEGMENTS = 0x020E, Exact(1), "sar_total_segments";
    SAR_SEGMENT_SEQNUM = 0x020F, Exact(1), "sar_segment_seqnum";
    SC_INTERFACE_VERSION = 0x0210, Exact(1), "sc_interface_version";
    CALLBACK_NUM_PRES_IND = 0x0302, Exact(1), "callback_num_pres_ind";
    CALLBACK_NUM_ATAG = 0x0303, Range(0, 65), "callback_num_atag";
    NUMBER_OF_MESSAGES = 0x0304, Exact(1), "number_of_messages";
    CALLBACK_NUM = 0x0381, Range(4, 19), "callback_num";
    DPF_RESULT = 0x0420, Exact(1), "dpf_result";
    SET_DPF = 0x0421, Exact(1), "set_dpf";
    MS_AVAILABILITY_STATUS = 0x0422, Exact(1), "ms_availability_status";
    NETWORK_ERROR_CODE = 0x0423, Exact(3), "network_error_code";
    MESSAGE_PAYLOAD = 0x0424, Range(0, 65535), "message_payload";
    DELIVERY_FAILURE_REASON = 0x0425, Exact(1), "delivery_failure_reason";
    MORE_MESSAGES_TO_SEND = 0x0426, Exact(1), "more_messages_to_send";
    MESSAGE_STATE = 0x0427, Exact(1), "message_state";
    USSD_SERVICE_OP = 0x0501, Exact(1), "ussd_service_op";
    DISPLAY_TIME = 0x1201, Exact(1), "display_time";
    SMS_SIGNAL = 0x1203, Exact(2), "sms_signal";
    MS_VALIDITY = 0x1204, Exact(1), "ms_validity";
    // A flag with no value in 3.4; SMPP 5.0 peers send one octet.
    ALERT_ON_MESSAGE_DELIVERY = 0x130C, Range(0, 1), "alert_on_message_delivery";
    ITS_REPLY_TYPE = 0x1380, Exact(1), "its_reply_type";
    ITS_SESSION_INFO = 0x1383, Exact(2), "its_session_info";
}

impl fmt::Debug for TlvTag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(n) => f.write_str(n),
            None => write!(f, "TlvTag({:#06x})", self.0),
        }
    }
}

/// One TLV, borrowed from its PDU.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tlv<'a> {
    pub tag: TlvTag,
    pub value: &'a [u8],
}

/// Check a TLV section: every TLV whole (else ESME_RINVTLVSTREAM) and every
/// standard TLV of an allowed length (else ESME_RINVTLVLEN).
pub fn validate(mut raw: &[u8]) -> Result<(), CommandStatus> {
    while !raw.is_empty() {
        if raw.len() < 4 {
            return Err(CommandStatus::ESME_RINVTLVSTREAM);
        }
        let tag = TlvTag(u16::from_be_bytes([raw[0], raw[1]]));
        let len = u16::from_be_bytes([raw[2], raw[3]]) as usize;
        if raw.len() - 4 < len {
            return Err(CommandStatus::ESME_RINVTLVSTREAM);
        }
        let ok = match tag.length() {
            None => true,
            Some(Exact(n)) => len == n,
            Some(Range(lo, hi)) => (lo..=hi).contains(&len),
        };
        if !ok {
            return Err(CommandStatus::ESME_RINVTLVLEN);
        }
        raw = &raw[4 + len..];
    }
    Ok(())
}

/// A PDU's TLV section: validated bytes, read in place.
///
/// Build one for encoding with [`TlvsBuilder`]. Equality compares the bytes,
/// so two sections with the same TLVs in another order differ.
#[derive(Debug, Clone, PartialEq, Eq, Default, Hash)]
pub struct Tlvs<B> {
    raw: B,
}

impl<B: AsRef<[u8]>> Tlvs<B> {
    /// Wrap a TLV section after checking it as [`validate`] does.
    pub fn from_raw(raw: B) -> Result<Self, CommandStatus> {
        validate(raw.as_ref())?;
        Ok(Self { raw })
    }

    /// The section's bytes as they are on the wire.
    pub fn raw(&self) -> &[u8] {
        self.raw.as_ref()
    }

    pub fn into_raw(self) -> B {
        self.raw
    }

    pub fn is_empty(&self) -> bool {
        self.raw.as_ref().is_empty()
    }

    pub fn iter(&self) -> TlvIter<'_> {
        TlvIter {
            raw: self.raw.as_ref(),
        }
    }

    /// The value of the first TLV with this tag.
    pub fn get(&self, tag: TlvTag) -> Option<&[u8]> {
        self.iter().find(|t| t.tag == tag).map(|t| t.value)
    }

    pub fn contains(&self, tag: TlvTag) -> bool {
        self.get(tag).is_some()
    }

    fn get_u8(&self, tag: TlvTag) -> Option<u8> {
        match self.get(tag)? {
            [v] => Some(*v),
            _ => None,
        }
    }

    fn get_u16(&self, tag: TlvTag) -> Option<u16> {
        match self.get(tag)? {
            [a, b] => Some(u16::from_be_bytes([*a, *b])),
            _ => None,
        }
    }

    /// message_payload: the message body when it is not in short_message.
    pub fn message_payload(&self) -> Option<&[u8]> {
        self.get(TlvTag::MESSAGE_PAYLOAD)
    }

    /// receipted_message_id without its terminating NUL.
    pub fn receipted_message_id(&self) -> Option<&[u8]> {
        self.get(TlvTag::RECEIPTED_MESSAGE_ID).map(strip_nul)
    }

    pub fn message_state(&self) -> Option<MessageState> {
        self.get_u8(TlvTag::MESSAGE_STATE)
            .map(MessageState::from_u8)
    }

    /// network_error_code: (network type, error code).
    pub fn network_error_code(&self) -> Option<(u8, u16)> {
        match self.get(TlvTag::NETWORK_ERROR_CODE)? {
            [t, a, b] => Some((*t, u16::from_be_bytes([*a, *b]))),
            _ => None,
        }
    }

    pub fn sar_msg_ref_num(&self) -> Option<u16> {
        self.get_u16(TlvTag::SAR_MSG_REF_NUM)
    }

    pub fn sar_total_segments(&self) -> Option<u8> {
        self.get_u8(TlvTag::SAR_TOTAL_SEGMENTS)
    }

    pub fn sar_segment_seqnum(&self) -> Option<u8> {
        self.get_u8(TlvTag::SAR_SEGMENT_SEQNUM)
    }

    pub fn user_message_reference(&self) -> Option<u16> {
        self.get_u16(TlvTag::USER_MESSAGE_REFERENCE)
    }

    pub fn sc_interface_version(&self) -> Option<u8> {
        self.get_u8(TlvTag::SC_INTERFACE_VERSION)
    }

    pub fn source_port(&self) -> Option<u16> {
        self.get_u16(TlvTag::SOURCE_PORT)
    }

    pub fn destination_port(&self) -> Option<u16> {
        self.get_u16(TlvTag::DESTINATION_PORT)
    }

    pub fn more_messages_to_send(&self) -> Option<u8> {
        self.get_u8(TlvTag::MORE_MESSAGES_TO_SEND)
    }

    pub fn delivery_failure_reason(&self) -> Option<u8> {
        self.get_u8(TlvTag::DELIVERY_FAILURE_REASON)
    }

    pub fn ms_availability_status(&self) -> Option<u8> {
        self.get_u8(TlvTag::MS_AVAILABILITY_STATUS)
    }

    pub fn additional_status_info_text(&self) -> Option<&[u8]> {
        self.get(TlvTag::ADDITIONAL_STATUS_INFO_TEXT).map(strip_nul)
    }

    /// Copy into an owned section.
    pub fn to_bytes(&self) -> Tlvs<Bytes> {
        Tlvs {
            raw: Bytes::copy_from_slice(self.raw.as_ref()),
        }
    }
}

impl<B> Tlvs<B> {
    /// Wrap bytes already known to be a valid section (the decoder's path).
    pub(crate) fn from_validated(raw: B) -> Self {
        Self { raw }
    }
}

fn strip_nul(v: &[u8]) -> &[u8] {
    match v.split_last() {
        Some((0, rest)) => rest,
        _ => v,
    }
}

/// Iterator over a validated TLV section.
#[derive(Clone)]
pub struct TlvIter<'a> {
    raw: &'a [u8],
}

impl<'a> Iterator for TlvIter<'a> {
    type Item = Tlv<'a>;

    fn next(&mut self) -> Option<Tlv<'a>> {
        if self.raw.len() < 4 {
            return None;
        }
        let tag = TlvTag(u16::from_be_bytes([self.raw[0], self.raw[1]]));
        let len = u16::from_be_bytes([self.raw[2], self.raw[3]]) as usize;
        let value = self.raw.get(4..4 + len)?;
        self.raw = &self.raw[4 + len..];
        Some(Tlv { tag, value })
    }
}

/// Writes TLVs one after another, for a PDU to be encoded.
#[derive(Debug, Default, Clone)]
pub struct TlvsBuilder {
    buf: BytesMut,
}

impl TlvsBuilder {
    pub fn new() -> Self {
        Self::default()
    }

    /// Append a TLV. Values longer than 65535 octets cannot be carried and
    /// are cut there; the standard tags' own limits are the caller's to keep
    /// (decoding checks them).
    pub fn push(&mut self, tag: TlvTag, value: &[u8]) -> &mut Self {
        let value = &value[..value.len().min(u16::MAX as usize)];
        self.buf.reserve(4 + value.len());
        self.buf.put_u16(tag.0);
        self.buf.put_u16(value.len() as u16);
        self.buf.put_slice(value);
        self
    }

    pub fn push_u8(&mut self, tag: TlvTag, v: u8) -> &mut Self {
        self.push(tag, &[v])
    }

    pub fn push_u16(&mut self, tag: TlvTag, v: u16) -> &mut Self {
        self.push(tag, &v.to_be_bytes())
    }

    /// A C-Octet String TLV (receipted_message_id, additional_status_info_text):
    /// the value with its terminating NUL.
    pub fn push_c_octet_string(&mut self, tag: TlvTag, s: &[u8]) -> &mut Self {
        let s = &s[..s.len().min(u16::MAX as usize - 1)];
        self.buf.reserve(5 + s.len());
        self.buf.put_u16(tag.0);
        self.buf.put_u16(s.len() as u16 + 1);
        self.buf.put_slice(s);
        self.buf.put_u8(0);
        self
    }

    /// A builder with room for `octets` of TLVs.
    pub fn with_capacity(octets: usize) -> Self {
        Self {
            buf: BytesMut::with_capacity(octets),
        }
    }

    pub fn build(self) -> Tlvs<Bytes> {
        Tlvs {
            raw: self.buf.freeze(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_lengths_cover_the_table() {
        assert_eq!(TlvTag::ALL.len(), 44);
        for t in TlvTag::ALL {
            assert!(t.name().is_some());
            assert!(t.length().is_some());
        }
        assert_eq!(TlvTag(0x0427).name(), Some("message_state"));
        assert_eq!(format!("{:?}", TlvTag(0x1400)), "TlvTag(0x1400)");
    }

    #[test]
    fn validate_reports_stream_and_length_errors() {
        assert_eq!(validate(&[]), Ok(()));
        assert_eq!(validate(&[0x04]), Err(CommandStatus::ESME_RINVTLVSTREAM));
        assert_eq!(
            validate(&[0x04, 0x27, 0x00, 0x02, 0x01]),
            Err(CommandStatus::ESME_RINVTLVSTREAM)
        );
        assert_eq!(
            validate(&[0x04, 0x27, 0x00, 0x02, 0x01, 0x02]),
            Err(CommandStatus::ESME_RINVTLVLEN)
        );
        // Unknown tags of any length are kept.
        assert_eq!(validate(&[0x14, 0x00, 0x00, 0x03, 1, 2, 3]), Ok(()));
    }

    #[test]
    fn builder_and_getters_agree() {
        let mut b = TlvsBuilder::new();
        b.push_c_octet_string(TlvTag::RECEIPTED_MESSAGE_ID, b"abc")
            .push_u8(TlvTag::MESSAGE_STATE, 2)
            .push(TlvTag::NETWORK_ERROR_CODE, &[3, 0, 5])
            .push_u16(TlvTag::SAR_MSG_REF_NUM, 0x1234)
            .push(TlvTag(0x1401), b"vendor");
        let t = b.build();
        assert!(validate(t.raw()).is_ok());
        assert_eq!(t.receipted_message_id(), Some(&b"abc"[..]));
        assert_eq!(t.message_state(), Some(MessageState::Delivered));
        assert_eq!(t.network_error_code(), Some((3, 5)));
        assert_eq!(t.sar_msg_ref_num(), Some(0x1234));
        assert_eq!(t.get(TlvTag(0x1401)), Some(&b"vendor"[..]));
        assert_eq!(t.iter().count(), 5);
    }
}
