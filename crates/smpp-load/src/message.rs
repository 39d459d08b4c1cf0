//! The submit_sm bodies a run sends, built once before the first bind.
//!
//! A [`MessagePlan`] holds a pool of message variants: each has its own
//! destination (the `--destination` prefix and a number) and, for long
//! messages, its own concatenation reference, and is already split into
//! the submit_sm of each part. Senders cycle through the pool and clone
//! bodies (reference counts, no copies), so the hot path allocates no text.

use bytes::Bytes;
use smpp::pdu::{Address, DataCoding, Npi, RegisteredDelivery, SubmitSm, Ton};
use smpp::split::{Method, split_text};
use smpp::text::Encoding;

use crate::cli::Args;

/// Distinct messages in the pool (destinations and UDH references).
pub const VARIANTS: usize = 1024;

const SHORT_GSM: &str = "smpp-load test message: hello from Tern's load generator";
const SHORT_UCS2: &str = "smpp-load тест: привет от генератора нагрузки ✓";
const LONG_GSM: &str = "smpp-load long test message. This text is longer than one SMS \
    so it is split into concatenated parts, each with an 8-bit reference user data \
    header, and every part is its own submit_sm. The handset joins them again by \
    reference, part number and total. Padding to three hundred: 0123456789 abcdefghij.";
const LONG_UCS2: &str = "smpp-load длинное тестовое сообщение ✓ — этот текст длиннее \
    одного SMS в UCS-2, поэтому он делится на части с заголовком UDH; каждая часть \
    отправляется своим submit_sm, а телефон собирает их по ссылке и номеру части.";

/// The pool of pre-built messages, each a list of submit_sm parts.
#[derive(Debug, Clone)]
pub struct MessagePlan {
    variants: Vec<Vec<SubmitSm<Bytes>>>,
    /// The encoding the text went out in.
    pub encoding: Encoding,
}

/// Why the messages could not be built.
#[derive(Debug, thiserror::Error)]
#[error("cannot build the message: {0}")]
pub struct PlanError(String);

impl MessagePlan {
    /// Build the pool for these arguments.
    pub fn new(args: &Args) -> Result<Self, PlanError> {
        let text = match (&args.text, args.long, args.ucs2) {
            (Some(t), _, _) => t.as_str(),
            (None, false, false) => SHORT_GSM,
            (None, false, true) => SHORT_UCS2,
            (None, true, false) => LONG_GSM,
            (None, true, true) => LONG_UCS2,
        };
        let encoding = if args.ucs2 || !Encoding::Gsm7.can_encode(text) {
            Encoding::Ucs2
        } else {
            Encoding::Gsm7
        };
        let source = source_address(&args.source);
        let registered_delivery = if args.dlr {
            RegisteredDelivery::FINAL
        } else {
            RegisteredDelivery::NONE
        };
        let mut variants = Vec::with_capacity(VARIANTS);
        for v in 0..VARIANTS {
            let template = SubmitSm {
                source: source.clone(),
                destination: Address {
                    ton: Ton::INTERNATIONAL,
                    npi: Npi::ISDN,
                    addr: Bytes::from(destination(&args.destination, v)),
                },
                registered_delivery,
                data_coding: DataCoding(encoding.data_coding()),
                ..Default::default()
            };
            // Without --long a text that does not fit one part still goes
            // out split: one submit_sm cannot carry it otherwise.
            let reference = u16::try_from(v).unwrap_or(0);
            let parts = split_text(text, encoding, Method::Udh8, reference)
                .map_err(|e| PlanError(e.to_string()))?;
            variants.push(parts.iter().map(|p| p.to_submit_sm(&template)).collect());
        }
        Ok(MessagePlan { variants, encoding })
    }

    /// The parts of variant `v` (taken modulo the pool size).
    pub fn parts(&self, v: usize) -> &[SubmitSm<Bytes>] {
        match self.variants.get(v % self.variants.len().max(1)) {
            Some(parts) => parts,
            None => &[],
        }
    }

    /// Parts per message (the same for every variant).
    pub fn parts_per_message(&self) -> usize {
        self.parts(0).len()
    }

    pub fn len(&self) -> usize {
        self.variants.len()
    }

    pub fn is_empty(&self) -> bool {
        self.variants.is_empty()
    }
}

/// source_addr: international digits, or alphanumeric.
fn source_address(s: &str) -> Address<Bytes> {
    let digits = s.bytes().all(|b| b.is_ascii_digit());
    Address {
        ton: if digits {
            Ton::INTERNATIONAL
        } else {
            Ton::ALPHANUMERIC
        },
        npi: if digits { Npi::ISDN } else { Npi::UNKNOWN },
        addr: Bytes::copy_from_slice(s.as_bytes()),
    }
}

/// The prefix padded with the variant number to at least 11 digits.
fn destination(prefix: &str, v: usize) -> String {
    let width = 11usize.saturating_sub(prefix.len()).max(4);
    format!("{prefix}{v:0width$}")
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use clap::Parser;
    use smpp::pdu::EsmClass;

    fn args(extra: &[&str]) -> Args {
        let base = ["smpp-load", "--port", "1", "-u", "u", "-p", "p"];
        Args::try_parse_from(base.iter().chain(extra.iter()).copied()).unwrap()
    }

    #[test]
    fn short_gsm() {
        let plan = MessagePlan::new(&args(&[])).unwrap();
        assert_eq!(plan.len(), VARIANTS);
        assert_eq!(plan.parts_per_message(), 1);
        let p = &plan.parts(0)[0];
        assert_eq!(p.data_coding, DataCoding(0));
        assert!(!p.esm_class.udhi());
        assert_eq!(p.registered_delivery, RegisteredDelivery::NONE);
        assert_eq!(&p.destination.addr[..], b"33600000000");
        assert_eq!(&plan.parts(1)[0].destination.addr[..], b"33600000001");
        assert_eq!(p.source.ton, Ton::ALPHANUMERIC);
    }

    #[test]
    fn long_gsm_with_receipts() {
        let plan = MessagePlan::new(&args(&["--long", "--dlr"])).unwrap();
        assert_eq!(plan.parts_per_message(), 2);
        for p in plan.parts(7) {
            assert!(p.esm_class.udhi());
            assert_eq!(p.esm_class, EsmClass(EsmClass::UDHI));
            assert_eq!(p.registered_delivery, RegisteredDelivery::FINAL);
            // UDH: length 5, IE 0 (8-bit ref), 3 octets: ref, total, seq
            assert_eq!(&p.short_message[..4], &[5, 0, 3, 7]);
            // unpacked septets: 6 octets of UDH and up to 153 characters
            assert!(p.short_message.len() <= 6 + 153);
        }
    }

    #[test]
    fn long_ucs2() {
        let plan = MessagePlan::new(&args(&["--long", "--ucs2"])).unwrap();
        assert_eq!(plan.encoding, Encoding::Ucs2);
        assert!(plan.parts_per_message() >= 3);
        assert!(
            plan.parts(0)
                .iter()
                .all(|p| p.data_coding == DataCoding::UCS2 && p.esm_class.udhi())
        );
    }

    #[test]
    fn short_ucs2_and_own_text() {
        let plan = MessagePlan::new(&args(&["--ucs2"])).unwrap();
        assert_eq!(plan.parts_per_message(), 1);
        assert_eq!(plan.parts(0)[0].data_coding, DataCoding::UCS2);
        let plan = MessagePlan::new(&args(&["--text", "hi €", "--source", "4412"])).unwrap();
        assert_eq!(plan.encoding, Encoding::Gsm7);
        assert_eq!(plan.parts(0)[0].source.ton, Ton::INTERNATIONAL);
        let plan = MessagePlan::new(&args(&["--text", "日本"])).unwrap();
        assert_eq!(plan.encoding, Encoding::Ucs2);
    }
}
