//! Checking a submit_sm (or data_sm turned into one) field by field before
//! anything is charged or stored, with the SMPP status for each fault
//! (shared/DESIGN.md, "SMPP front end: status codes").

use bytes::Bytes;
use regex::Regex;
use smpp::CommandStatus as S;
use smpp::pdu::SubmitSm;
use smpp::split::{Method, count_parts_encoded};
use smpp::text::Encoding;
use smpp::time::SmppTime;

/// What validation learned about an acceptable submit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checked {
    /// The parts it will be sent as (credit and throughput count these).
    pub parts: u32,
    /// The text, decoded per data_coding (UDH skipped), for routing filters.
    pub text: String,
    /// schedule_delivery_time as Unix seconds, if set.
    pub schedule_s: Option<i64>,
    /// validity_period as Unix seconds, if set.
    pub expires_s: Option<i64>,
}

/// A destination is digits with an optional leading `+`.
pub fn valid_destination(addr: &[u8]) -> bool {
    let digits = addr.strip_prefix(b"+").unwrap_or(addr);
    !digits.is_empty() && digits.len() <= 20 && digits.iter().all(u8::is_ascii_digit)
}

/// Check `s` for a user whose source_addr must match `source_addr`, at
/// `now_s` (Unix seconds).
pub fn check_submit(s: &SubmitSm<Bytes>, source_addr: &Regex, now_s: i64) -> Result<Checked, S> {
    if !valid_destination(&s.destination.addr) {
        return Err(S::ESME_RINVDSTADR);
    }
    let source = std::str::from_utf8(&s.source.addr).map_err(|_| S::ESME_RINVSRCADR)?;
    if !source_addr.is_match(source) {
        return Err(S::ESME_RINVSRCADR);
    }
    // Only a default message type may be submitted (no receipts, no acks).
    if s.esm_class.message_type() != 0 {
        return Err(S::ESME_RINVESMCLASS);
    }
    if !s.registered_delivery.is_valid() {
        return Err(S::ESME_RINVREGDLVFLG);
    }
    if s.priority_flag > 3 {
        return Err(S::ESME_RINVPRTFLG);
    }
    if s.replace_if_present_flag > 1 {
        return Err(S::ESME_RINVREPFLAG);
    }
    if s.sm_default_msg_id != 0 {
        return Err(S::ESME_RINVDFTMSGID);
    }
    let schedule_s = time(&s.schedule_delivery_time, now_s).map_err(|_| S::ESME_RINVSCHED)?;
    let expires_s = time(&s.validity_period, now_s).map_err(|_| S::ESME_RINVEXPIRY)?;
    if expires_s.is_some_and(|e| e <= now_s || schedule_s.is_some_and(|sch| e <= sch)) {
        return Err(S::ESME_RINVEXPIRY);
    }
    // The text is in short_message or in message_payload, never both.
    if !s.short_message.is_empty() && s.tlvs.message_payload().is_some() {
        return Err(S::ESME_RINVMSGLEN);
    }
    let encoding = Encoding::from_data_coding(s.data_coding.0);
    let parts = if s.esm_class.udhi() {
        // The ESME split it itself: this is one part, UDH first, and the
        // UDH must parse (content() would pass a bad one through whole).
        smpp::udh::Udh::parse(s.body()).map_err(|_| S::ESME_RINVESMCLASS)?;
        1
    } else {
        count_parts_encoded(s.body(), encoding, Method::Udh8).map_err(|_| S::ESME_RINVMSGLEN)?
            as u32
    };
    let content = s.content();
    Ok(Checked {
        parts: parts.max(1),
        text: encoding.decode(content),
        schedule_s,
        expires_s,
    })
}

fn time(field: &[u8], now_s: i64) -> Result<Option<i64>, ()> {
    match SmppTime::parse(field) {
        Ok(Some(t)) => Ok(Some(t.to_unix(now_s))),
        Ok(None) => Ok(None),
        Err(_) => Err(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use smpp::pdu::{Address, DataCoding, EsmClass, RegisteredDelivery};
    use smpp::tlv::{TlvTag, TlvsBuilder};

    const NOW: i64 = 1_795_000_000;

    fn base() -> SubmitSm<Bytes> {
        SubmitSm {
            source: Address {
                addr: Bytes::from_static(b"Tern"),
                ..Default::default()
            },
            destination: Address {
                addr: Bytes::from_static(b"+447700900123"),
                ..Default::default()
            },
            short_message: Bytes::from_static(b"hello"),
            ..Default::default()
        }
    }

    fn any() -> Regex {
        Regex::new(".*").unwrap()
    }

    fn status(s: SubmitSm<Bytes>) -> S {
        check_submit(&s, &any(), NOW).unwrap_err()
    }

    #[test]
    fn a_plain_submit_is_one_part() {
        let c = check_submit(&base(), &any(), NOW).unwrap();
        assert_eq!(
            (c.parts, c.text.as_str(), c.schedule_s, c.expires_s),
            (1, "hello", None, None)
        );
    }

    #[test]
    fn each_fault_has_its_status() {
        let mut s = base();
        s.destination.addr = Bytes::from_static(b"44-77");
        assert_eq!(status(s), S::ESME_RINVDSTADR);
        let mut s = base();
        s.destination.addr = Bytes::new();
        assert_eq!(status(s), S::ESME_RINVDSTADR);
        let s = base();
        assert_eq!(
            check_submit(&s, &Regex::new("^[0-9]+$").unwrap(), NOW).unwrap_err(),
            S::ESME_RINVSRCADR
        );
        let mut s = base();
        s.esm_class = EsmClass(EsmClass::TYPE_DELIVERY_RECEIPT);
        assert_eq!(status(s), S::ESME_RINVESMCLASS);
        let mut s = base();
        s.registered_delivery = RegisteredDelivery(3);
        assert_eq!(status(s), S::ESME_RINVREGDLVFLG);
        let mut s = base();
        s.registered_delivery = RegisteredDelivery(0x80);
        assert_eq!(status(s), S::ESME_RINVREGDLVFLG);
        let mut s = base();
        s.schedule_delivery_time = Bytes::from_static(b"261399000000000+");
        assert_eq!(status(s), S::ESME_RINVSCHED);
        let mut s = base();
        s.validity_period = Bytes::from_static(b"nonsense");
        assert_eq!(status(s), S::ESME_RINVEXPIRY);
        let mut s = base();
        s.validity_period = Bytes::from_static(b"200101000000000+");
        assert_eq!(status(s), S::ESME_RINVEXPIRY, "validity in the past");
        let mut s = base();
        let mut t = TlvsBuilder::new();
        t.push(TlvTag::MESSAGE_PAYLOAD, b"more");
        s.tlvs = t.build();
        assert_eq!(
            status(s),
            S::ESME_RINVMSGLEN,
            "short_message and message_payload"
        );
        let mut s = base();
        s.priority_flag = 4;
        assert_eq!(status(s), S::ESME_RINVPRTFLG);
        let mut s = base();
        s.esm_class = EsmClass(EsmClass::UDHI);
        s.short_message = Bytes::from_static(b"\x09\x00\x03");
        assert_eq!(status(s), S::ESME_RINVESMCLASS, "UDHI without a UDH");
    }

    #[test]
    fn relative_validity_and_long_payloads() {
        let mut s = base();
        s.validity_period = Bytes::from_static(b"000001000000000R");
        assert_eq!(
            check_submit(&s, &any(), NOW).unwrap().expires_s,
            Some(NOW + 86_400)
        );
        let mut s = base();
        s.short_message = Bytes::new();
        let mut t = TlvsBuilder::new();
        t.push(TlvTag::MESSAGE_PAYLOAD, &[b'a'; 400]);
        s.tlvs = t.build();
        assert_eq!(check_submit(&s, &any(), NOW).unwrap().parts, 3);
        // UCS-2: 67 characters per part.
        let mut s = base();
        s.data_coding = DataCoding::UCS2;
        s.short_message = Bytes::new();
        let text: Vec<u8> = "é"
            .repeat(100)
            .encode_utf16()
            .flat_map(|u| u.to_be_bytes())
            .collect();
        let mut t = TlvsBuilder::new();
        t.push(TlvTag::MESSAGE_PAYLOAD, &text);
        s.tlvs = t.build();
        let c = check_submit(&s, &any(), NOW).unwrap();
        assert_eq!((c.parts, c.text.chars().count()), (2, 100));
        // An ESME-split part counts one, and its text is after the UDH.
        let mut s = base();
        s.esm_class = EsmClass(EsmClass::UDHI);
        s.short_message = Bytes::from_static(b"\x05\x00\x03\x07\x02\x01part one");
        let c = check_submit(&s, &any(), NOW).unwrap();
        assert_eq!((c.parts, c.text.as_str()), (1, "part one"));
    }
}
