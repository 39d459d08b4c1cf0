//! A message as the store keeps it: the submit_sm as accepted, with what
//! the gateway decided about it (id, user, connector, parts, price), in a
//! compact binary form so every backend stores the same bytes.
//!
//! Encoding can fail (a field too long for its length prefix, a submit_sm
//! that does not encode as a PDU): [`StoredMessage::encode`] says so with
//! [`UnstorableMessage`] rather than writing bytes that would decode as
//! nothing, so a backend that stores bytes refuses the message before it
//! is accepted instead of losing it after.

use bytes::{Buf, BufMut, Bytes, BytesMut};
use smpp::pdu::{Body, EncodeError, Limits, Pdu, SubmitSm};

use super::callback::{CallMethod, DlrLevel, ReceiptCallback};

/// An accepted message, ready for its connector.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredMessage {
    /// The id the user got in submit_sm_resp (a UUID).
    pub id: String,
    pub user: String,
    /// The connectors to try, in preference order (failover and
    /// round-robin routes give several).
    pub connectors: Vec<String>,
    /// The submit_sm as accepted (long content stays whole here; the
    /// connector splits it per its `split`).
    pub submit: SubmitSm<Bytes>,
    /// Parts charged.
    pub parts: u32,
    /// Credit charged per part, in millionths (for refunds).
    pub rate_micro: i64,
    /// When it was accepted, Unix milliseconds.
    pub accepted_ms: i64,
    /// When it expires if still queued (validity_period), Unix milliseconds.
    pub expires_ms: Option<i64>,
    /// Where its receipts go over HTTP (sent with a `dlr-url`); None:
    /// to the user's receiver binds.
    pub callback: Option<ReceiptCallback>,
    /// The order of the mt-route that chose `connectors`: its
    /// `failover_after` and `reroute_on` (as configured now) say when the
    /// message moves to the next of them. None: it never moves (stored by
    /// a tern before version 3).
    pub route: Option<u32>,
}

/// Bytes that are not a stored message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("corrupt stored message: {0}")]
pub struct CorruptMessage(pub &'static str);

/// A message that cannot be written in the stored form.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UnstorableMessage {
    /// A string or list longer than its length prefix holds.
    #[error("{0} is too long to store")]
    TooLong(&'static str),
    /// The submit_sm (or an MO deliver_sm) does not encode as a PDU.
    #[error("the PDU does not encode: {0}")]
    Pdu(#[from] EncodeError),
}

/// Version 2 added the receipt callback after the submit_sm, version 3
/// the route after the callback; versions 1 (no callback) and 2 (no
/// route) still decode, so messages stored by an older tern are sent
/// after an upgrade.
const VERSION: u8 = 3;
const VERSION_2: u8 = 2;
const VERSION_1: u8 = 1;

impl StoredMessage {
    /// The total charge, in millionths.
    pub fn charge_micro(&self) -> i64 {
        self.rate_micro.saturating_mul(i64::from(self.parts))
    }

    /// When its validity ends, Unix milliseconds: its `expires_ms`, or
    /// [`super::DEFAULT_VALIDITY_MS`] after its acceptance. Past it, a
    /// message still waiting for its connector expires.
    pub fn valid_until(&self) -> i64 {
        self.expires_ms
            .unwrap_or(self.accepted_ms.saturating_add(super::DEFAULT_VALIDITY_MS))
    }

    /// How long from its acceptance a store whose retention is
    /// `retention_ms` ([`super::STATUS_RETENTION_MS`] by default, `[store]
    /// status_retention`) keeps its state: that, or to
    /// [`super::EXPIRY_GRACE_MS`] past the end of its validity when that
    /// is later (the expiry sweep must find it).
    pub fn retention_ms(&self, retention_ms: i64) -> i64 {
        let span = self.valid_until().saturating_sub(self.accepted_ms);
        retention_ms.max(span.saturating_add(super::EXPIRY_GRACE_MS))
    }

    /// This message with `r`'s content in place of its own
    /// ([`super::Store::replace`]): refused, as `(was, now)`, when the
    /// replacement has another number of parts, since the charge and the
    /// throughput were counted for these parts. The one place both
    /// backends take that rule from.
    pub fn replaced(&self, r: super::Replacement) -> Result<StoredMessage, (u32, u32)> {
        if r.parts != self.parts {
            return Err((self.parts, r.parts));
        }
        Ok(StoredMessage {
            submit: r.submit,
            expires_ms: r.expires_ms,
            ..self.clone()
        })
    }

    /// The stored form, or why this message has none.
    pub fn encode(&self) -> Result<Bytes, UnstorableMessage> {
        let mut b = BytesMut::with_capacity(256 + self.submit.short_message.len());
        b.put_u8(VERSION);
        put_str(&mut b, &self.id, "id")?;
        put_str(&mut b, &self.user, "user")?;
        let n = u16::try_from(self.connectors.len())
            .map_err(|_| UnstorableMessage::TooLong("connectors"))?;
        b.put_u16(n);
        for c in &self.connectors {
            put_str(&mut b, c, "connector")?;
        }
        b.put_u32(self.parts);
        b.put_i64(self.rate_micro);
        b.put_i64(self.accepted_ms);
        b.put_i64(self.expires_ms.unwrap_or(i64::MIN));
        let len_at = b.len();
        b.put_u32(0);
        Pdu::new(0, Body::SubmitSm(self.submit.clone())).encode(&mut b)?;
        let len = u32::try_from(b.len() - len_at - 4)
            .map_err(|_| UnstorableMessage::TooLong("submit_sm"))?;
        b[len_at..len_at + 4].copy_from_slice(&len.to_be_bytes());
        match &self.callback {
            None => b.put_u8(0),
            Some(c) => {
                b.put_u8(c.level.as_u8());
                b.put_u8(c.method.as_u8());
                put_str(&mut b, &c.url, "dlr-url")?;
            }
        }
        match self.route {
            None => b.put_u8(0),
            Some(order) => {
                b.put_u8(1);
                b.put_u32(order);
            }
        }
        Ok(b.freeze())
    }

    pub fn decode(mut b: Bytes) -> Result<StoredMessage, CorruptMessage> {
        let version = if b.remaining() < 1 { 0 } else { b.get_u8() };
        if !matches!(version, VERSION | VERSION_2 | VERSION_1) {
            return Err(CorruptMessage("version"));
        }
        let id = get_str(&mut b)?;
        let user = get_str(&mut b)?;
        let n = get_u16(&mut b)?;
        let mut connectors = Vec::with_capacity(n as usize);
        for _ in 0..n {
            connectors.push(get_str(&mut b)?);
        }
        if b.remaining() < 4 + 8 * 3 + 4 {
            return Err(CorruptMessage("truncated"));
        }
        let parts = b.get_u32();
        let rate_micro = b.get_i64();
        let accepted_ms = b.get_i64();
        let expires_ms = Some(b.get_i64()).filter(|v| *v != i64::MIN);
        let len = b.get_u32() as usize;
        if b.remaining() < len {
            return Err(CorruptMessage("truncated pdu"));
        }
        let frame = b.split_to(len);
        let submit = match Pdu::decode(&frame, &Limits::JASMIN).map(|p| p.body) {
            Ok(Body::SubmitSm(s)) => s,
            _ => return Err(CorruptMessage("pdu")),
        };
        let callback = if version == VERSION_1 {
            None
        } else {
            if b.remaining() < 1 {
                return Err(CorruptMessage("truncated callback"));
            }
            match b.get_u8() {
                0 => None,
                level => {
                    let level = DlrLevel::from_u8(level).ok_or(CorruptMessage("dlr level"))?;
                    if b.remaining() < 1 {
                        return Err(CorruptMessage("truncated callback"));
                    }
                    let method =
                        CallMethod::from_u8(b.get_u8()).ok_or(CorruptMessage("dlr method"))?;
                    let url = get_str(&mut b)?;
                    Some(ReceiptCallback { url, method, level })
                }
            }
        };
        let route = if version != VERSION {
            None
        } else {
            match (b.remaining(), b.first()) {
                (1.., Some(0)) => None,
                (5.., Some(1)) => {
                    b.advance(1);
                    Some(b.get_u32())
                }
                _ => return Err(CorruptMessage("route")),
            }
        };
        Ok(StoredMessage {
            id,
            user,
            connectors,
            submit,
            parts,
            rate_micro,
            accepted_ms,
            expires_ms,
            callback,
            route,
        })
    }

    /// This message refused at its first connector: the same message
    /// (id, charge, receipt request) queued for the connectors after it,
    /// from the first of them `exists` says is configured; None when no
    /// connector is left (`reroute_on`; a message whose connector is
    /// down keeps every connector, rotated: connector/reroute.rs).
    pub fn moved_on(&self, exists: impl Fn(&str) -> bool) -> Option<StoredMessage> {
        let rest = self.connectors.get(1..)?;
        let from = rest.iter().position(|c| exists(c))?;
        Some(StoredMessage {
            connectors: rest[from..].to_vec(),
            ..self.clone()
        })
    }
}

fn put_str(b: &mut BytesMut, s: &str, field: &'static str) -> Result<(), UnstorableMessage> {
    let n = u16::try_from(s.len()).map_err(|_| UnstorableMessage::TooLong(field))?;
    b.put_u16(n);
    b.put_slice(s.as_bytes());
    Ok(())
}

fn get_u16(b: &mut Bytes) -> Result<u16, CorruptMessage> {
    if b.remaining() < 2 {
        return Err(CorruptMessage("truncated"));
    }
    Ok(b.get_u16())
}

fn get_str(b: &mut Bytes) -> Result<String, CorruptMessage> {
    let n = get_u16(b)? as usize;
    if b.remaining() < n {
        return Err(CorruptMessage("truncated string"));
    }
    String::from_utf8(b.split_to(n).to_vec()).map_err(|_| CorruptMessage("utf-8"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use smpp::pdu::{Address, RegisteredDelivery, Ton};

    pub fn sample() -> StoredMessage {
        StoredMessage {
            id: "0b9e2c1e-4a35-4a8e-9a53-6d1c8f1f2a10".into(),
            user: "demo".into(),
            connectors: vec!["sim".into(), "backup".into()],
            submit: SubmitSm {
                source: Address {
                    ton: Ton::ALPHANUMERIC,
                    npi: Default::default(),
                    addr: Bytes::from_static(b"Tern"),
                },
                destination: Address {
                    ton: Ton::INTERNATIONAL,
                    npi: Default::default(),
                    addr: Bytes::from_static(b"447700900123"),
                },
                registered_delivery: RegisteredDelivery::FINAL,
                short_message: Bytes::from_static(b"hello"),
                ..Default::default()
            },
            parts: 1,
            rate_micro: 25_000,
            accepted_ms: 1_790_000_000_000,
            expires_ms: None,
            callback: None,
            route: None,
        }
    }

    #[test]
    fn round_trip() {
        let m = sample();
        assert_eq!(StoredMessage::decode(m.encode().unwrap()).unwrap(), m);
        let mut e = m.clone();
        e.expires_ms = Some(1_790_000_100_000);
        assert_eq!(StoredMessage::decode(e.encode().unwrap()).unwrap(), e);
        e.callback = Some(ReceiptCallback {
            url: "https://example.com/dlr?k=v".into(),
            method: CallMethod::Post,
            level: DlrLevel::Both,
        });
        assert_eq!(StoredMessage::decode(e.encode().unwrap()).unwrap(), e);
        e.route = Some(0);
        assert_eq!(StoredMessage::decode(e.encode().unwrap()).unwrap(), e);
        e.route = Some(u32::MAX);
        assert_eq!(StoredMessage::decode(e.encode().unwrap()).unwrap(), e);
    }

    #[test]
    fn a_message_stored_by_version_2_still_decodes() {
        // Version 2 ended with the callback and had no route.
        let mut m = sample();
        m.callback = Some(ReceiptCallback {
            url: "http://127.0.0.1/dlr".into(),
            method: CallMethod::Get,
            level: DlrLevel::Smsc,
        });
        let mut b = BytesMut::from(&m.encode().unwrap()[..]);
        b[0] = VERSION_2;
        b.truncate(b.len() - 1);
        assert_eq!(StoredMessage::decode(b.freeze()).unwrap(), m);
    }

    #[test]
    fn moving_on_keeps_everything_but_the_connectors_tried() {
        let mut m = sample();
        m.connectors = vec!["a".into(), "b".into(), "c".into()];
        m.route = Some(30);
        let n = m.moved_on(|_| true).unwrap();
        assert_eq!(n.connectors, vec!["b".to_string(), "c".to_string()]);
        assert_eq!(
            StoredMessage {
                connectors: m.connectors.clone(),
                ..n.clone()
            },
            m
        );
        // A connector no longer configured is skipped.
        let n = m.moved_on(|c| c != "b").unwrap();
        assert_eq!(n.connectors, vec!["c".to_string()]);
        assert_eq!(m.moved_on(|c| c == "a"), None);
        assert_eq!(n.moved_on(|_| true), None);
    }

    #[test]
    fn a_message_stored_by_version_1_still_decodes() {
        // Version 1 ended with the submit_sm and had no callback.
        let m = sample();
        let mut b = BytesMut::from(&m.encode().unwrap()[..]);
        b[0] = VERSION_1;
        b.truncate(b.len() - 2);
        assert_eq!(StoredMessage::decode(b.freeze()).unwrap(), m);
    }

    #[test]
    fn a_message_that_cannot_be_stored_says_so() {
        // short_message holds 254 octets at most (longer text goes in
        // message_payload): the PDU does not encode.
        let mut m = sample();
        m.submit.short_message = Bytes::from(vec![b'x'; 300]);
        assert!(matches!(m.encode(), Err(UnstorableMessage::Pdu(_))));
        let mut m = sample();
        m.user = "u".repeat(70_000);
        assert_eq!(m.encode(), Err(UnstorableMessage::TooLong("user")));
        let mut m = sample();
        m.connectors = vec![String::new(); 70_000];
        assert_eq!(m.encode(), Err(UnstorableMessage::TooLong("connectors")));
    }

    #[test]
    fn a_replacement_keeps_everything_but_the_content_and_its_parts() {
        let m = sample();
        let mut submit = m.submit.clone();
        submit.short_message = Bytes::from_static(b"changed");
        let r = crate::store::Replacement {
            submit: submit.clone(),
            parts: 1,
            expires_ms: Some(1_790_000_100_000),
        };
        let n = m.replaced(r.clone()).unwrap();
        assert_eq!(n.submit, submit);
        assert_eq!(n.expires_ms, Some(1_790_000_100_000));
        assert_eq!(
            (&n.id, &n.user, &n.connectors),
            (&m.id, &m.user, &m.connectors)
        );
        assert_eq!(
            (n.parts, n.rate_micro, n.accepted_ms),
            (1, m.rate_micro, m.accepted_ms)
        );
        let two = crate::store::Replacement { parts: 2, ..r };
        assert_eq!(m.replaced(two), Err((1, 2)));
    }

    #[test]
    fn corrupt_input_is_an_error() {
        let b = sample().encode().unwrap();
        for cut in 0..b.len() {
            assert!(StoredMessage::decode(b.slice(..cut)).is_err());
        }
        assert!(StoredMessage::decode(Bytes::from_static(b"\x09")).is_err());
    }
}
