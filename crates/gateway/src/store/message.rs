//! A message as the store keeps it: the submit_sm as accepted, with what
//! the gateway decided about it (id, user, connector, parts, price), in a
//! compact binary form so every backend stores the same bytes.

use bytes::{Buf, BufMut, Bytes, BytesMut};
use smpp::pdu::{Body, Limits, Pdu, SubmitSm};

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
}

/// Bytes that are not a stored message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("corrupt stored message: {0}")]
pub struct CorruptMessage(pub &'static str);

const VERSION: u8 = 1;

impl StoredMessage {
    /// The total charge, in millionths.
    pub fn charge_micro(&self) -> i64 {
        self.rate_micro.saturating_mul(i64::from(self.parts))
    }

    pub fn encode(&self) -> Bytes {
        let mut b = BytesMut::with_capacity(256 + self.submit.short_message.len());
        b.put_u8(VERSION);
        put_str(&mut b, &self.id);
        put_str(&mut b, &self.user);
        b.put_u16(self.connectors.len() as u16);
        for c in &self.connectors {
            put_str(&mut b, c);
        }
        b.put_u32(self.parts);
        b.put_i64(self.rate_micro);
        b.put_i64(self.accepted_ms);
        b.put_i64(self.expires_ms.unwrap_or(i64::MIN));
        let mut pdu = BytesMut::new();
        // A stored message was accepted, so its fields are within limits;
        // a failure here leaves an empty PDU that decode reports.
        let _ = Pdu::new(0, Body::SubmitSm(self.submit.clone())).encode(&mut pdu);
        b.put_u32(pdu.len() as u32);
        b.put_slice(&pdu);
        b.freeze()
    }

    pub fn decode(mut b: Bytes) -> Result<StoredMessage, CorruptMessage> {
        if b.remaining() < 1 || b.get_u8() != VERSION {
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
        Ok(StoredMessage {
            id,
            user,
            connectors,
            submit,
            parts,
            rate_micro,
            accepted_ms,
            expires_ms,
        })
    }
}

fn put_str(b: &mut BytesMut, s: &str) {
    let s = &s.as_bytes()[..s.len().min(u16::MAX as usize)];
    b.put_u16(s.len() as u16);
    b.put_slice(s);
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
        }
    }

    #[test]
    fn round_trip() {
        let m = sample();
        assert_eq!(StoredMessage::decode(m.encode()).unwrap(), m);
        let mut e = m.clone();
        e.expires_ms = Some(1_790_000_100_000);
        assert_eq!(StoredMessage::decode(e.encode()).unwrap(), e);
    }

    #[test]
    fn corrupt_input_is_an_error() {
        let b = sample().encode();
        for cut in 0..b.len() {
            assert!(StoredMessage::decode(b.slice(..cut)).is_err());
        }
        assert!(StoredMessage::decode(Bytes::from_static(b"\x09")).is_err());
    }
}
