//! What the store keeps for HTTP callbacks: where a message's receipts
//! go when it was sent with a `dlr-url` ([`ReceiptCallback`], kept in the
//! [`StoredMessage`]), and the items of the one callback queue
//! ([`Callback`]) that every tern process's sender takes from, retries
//! with back-off and settles once the far end answered 2xx.
//!
//! A receipt callback is queued by the store in the same atomic step
//! that makes the receipt (a message with a callback has its receipts
//! queued here instead of in its user's delivery queue), so it is as
//! durable as the receipt; its Jasmin parameters are made when it is
//! sent. Other calls (an MO for a user's `mo_url`) come whole
//! ([`HttpCall`]).

use std::sync::Arc;

use bytes::{Buf, BufMut, Bytes, BytesMut};
use smpp::MessageState;

use super::StoredMessage;
use super::UserReceipt;
use super::message::{CorruptMessage, UnstorableMessage};

/// GET (parameters in the query) or POST (a form body).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallMethod {
    Get,
    Post,
}

impl CallMethod {
    pub fn as_u8(self) -> u8 {
        match self {
            CallMethod::Get => 0,
            CallMethod::Post => 1,
        }
    }

    pub fn from_u8(v: u8) -> Option<CallMethod> {
        match v {
            0 => Some(CallMethod::Get),
            1 => Some(CallMethod::Post),
            _ => None,
        }
    }

    /// `GET` or `POST`, any case (Jasmin's `dlr-method`, `mo_method`).
    pub fn parse(s: &str) -> Option<CallMethod> {
        if s.eq_ignore_ascii_case("get") {
            Some(CallMethod::Get)
        } else if s.eq_ignore_ascii_case("post") {
            Some(CallMethod::Post)
        } else {
            None
        }
    }
}

/// Jasmin's `dlr-level`: which events of a message are called back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DlrLevel {
    /// 1: the upstream's answer to the submit (ESME_ROK or its refusal).
    Smsc,
    /// 2: the receipt (the terminal state).
    Terminal,
    /// 3: both.
    Both,
}

impl DlrLevel {
    pub fn as_u8(self) -> u8 {
        match self {
            DlrLevel::Smsc => 1,
            DlrLevel::Terminal => 2,
            DlrLevel::Both => 3,
        }
    }

    pub fn from_u8(v: u8) -> Option<DlrLevel> {
        match v {
            1 => Some(DlrLevel::Smsc),
            2 => Some(DlrLevel::Terminal),
            3 => Some(DlrLevel::Both),
            _ => None,
        }
    }

    /// Whether the upstream's answer to the submit is called back.
    pub fn smsc(self) -> bool {
        matches!(self, DlrLevel::Smsc | DlrLevel::Both)
    }

    /// Whether receipts are called back (and asked of the SMSC).
    pub fn terminal(self) -> bool {
        matches!(self, DlrLevel::Terminal | DlrLevel::Both)
    }
}

/// Where a message's receipts go: its `dlr-url`, `dlr-method` and
/// `dlr-level`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceiptCallback {
    pub url: String,
    pub method: CallMethod,
    pub level: DlrLevel,
}

/// A call whose parameters were made when it was queued.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpCall {
    pub url: String,
    pub method: CallMethod,
    pub params: Vec<(String, String)>,
}

/// An item of the callback queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Callback {
    /// dlr-level 1: `connector` answered the message's submit with
    /// `status` (0: ESME_ROK; else the low octet of the refusal, as
    /// [`super::Store::fail`] records it).
    Submitted {
        message: Arc<StoredMessage>,
        connector: String,
        status: u32,
        /// The upstream id of its first part ("" when refused).
        upstream_id: String,
    },
    /// dlr-level 2: a receipt of the message (its one final receipt, or
    /// an intermediate one it asked for), as a user's deliver_sm would
    /// carry it.
    Receipt {
        receipt: Box<UserReceipt>,
        connector: String,
        /// The upstream id of the part whose receipt made it ("" for a
        /// message that failed before it was sent).
        upstream_id: String,
    },
    /// Any other call, made whole (an MO for a user's `mo_url`).
    Call(HttpCall),
}

impl Callback {
    /// The message a receipt callback is about.
    pub fn message(&self) -> Option<&StoredMessage> {
        match self {
            Callback::Submitted { message, .. } => Some(message),
            Callback::Receipt { receipt, .. } => Some(&receipt.message),
            Callback::Call(_) => None,
        }
    }

    /// Where it goes and how; None for a receipt callback whose message
    /// has no callback (it cannot be sent: dropped).
    pub fn target(&self) -> Option<(&str, CallMethod)> {
        match self {
            Callback::Call(c) => Some((&c.url, c.method)),
            _ => self
                .message()?
                .callback
                .as_ref()
                .map(|c| (c.url.as_str(), c.method)),
        }
    }
}

/// An item taken from the callback queue. It stays the taker's until
/// [`super::Store::callbacks_done`] or [`super::Store::retry_callback`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallbackTaken {
    pub token: String,
    pub item: Callback,
    /// When it was queued and when it is dropped unsent (Unix ms).
    pub queued_ms: i64,
    pub expires_ms: i64,
    /// Attempts that failed before this one (each retry counts one).
    pub attempts: u32,
}

/// A receipt item of the callback queue as the store makes it.
pub fn receipt_callback(receipt: UserReceipt, connector: &str, upstream_id: &str) -> Callback {
    Callback::Receipt {
        receipt: Box::new(receipt),
        connector: connector.to_string(),
        upstream_id: upstream_id.to_string(),
    }
}

/// The state a level-1 callback reports for `status`.
pub fn submitted_state(status: u32) -> MessageState {
    if status == 0 {
        MessageState::Accepted
    } else {
        MessageState::Rejected
    }
}

const CALL_VERSION: u8 = 1;

impl HttpCall {
    /// The stored form (a backend that keeps bytes).
    pub fn encode(&self) -> Result<Bytes, UnstorableMessage> {
        let mut b = BytesMut::with_capacity(64 + self.url.len());
        b.put_u8(CALL_VERSION);
        b.put_u8(self.method.as_u8());
        put_long(&mut b, &self.url, "url")?;
        let n =
            u16::try_from(self.params.len()).map_err(|_| UnstorableMessage::TooLong("params"))?;
        b.put_u16(n);
        for (k, v) in &self.params {
            put_long(&mut b, k, "param")?;
            put_long(&mut b, v, "param")?;
        }
        Ok(b.freeze())
    }

    pub fn decode(mut b: Bytes) -> Result<HttpCall, CorruptMessage> {
        if b.remaining() < 2 || b.get_u8() != CALL_VERSION {
            return Err(CorruptMessage("call version"));
        }
        let method = CallMethod::from_u8(b.get_u8()).ok_or(CorruptMessage("call method"))?;
        let url = get_long(&mut b)?;
        if b.remaining() < 2 {
            return Err(CorruptMessage("truncated call"));
        }
        let n = b.get_u16();
        let mut params = Vec::with_capacity(usize::from(n).min(64));
        for _ in 0..n {
            let k = get_long(&mut b)?;
            let v = get_long(&mut b)?;
            params.push((k, v));
        }
        Ok(HttpCall {
            url,
            method,
            params,
        })
    }
}

/// A string with a u32 length (a parameter may be a long MO text).
fn put_long(b: &mut BytesMut, s: &str, field: &'static str) -> Result<(), UnstorableMessage> {
    let n = u32::try_from(s.len()).map_err(|_| UnstorableMessage::TooLong(field))?;
    b.put_u32(n);
    b.put_slice(s.as_bytes());
    Ok(())
}

fn get_long(b: &mut Bytes) -> Result<String, CorruptMessage> {
    if b.remaining() < 4 {
        return Err(CorruptMessage("truncated call"));
    }
    let n = b.get_u32() as usize;
    if b.remaining() < n {
        return Err(CorruptMessage("truncated call string"));
    }
    String::from_utf8(b.split_to(n).to_vec()).map_err(|_| CorruptMessage("utf-8"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_call_round_trips() {
        let c = HttpCall {
            url: "http://127.0.0.1:9/mo?x=1".into(),
            method: CallMethod::Post,
            params: vec![
                ("id".into(), "abc".into()),
                ("content".into(), "é ☃".into()),
            ],
        };
        let b = c.encode().unwrap();
        assert_eq!(HttpCall::decode(b.clone()).unwrap(), c);
        for cut in 0..b.len() {
            assert!(HttpCall::decode(b.slice(..cut)).is_err());
        }
    }

    #[test]
    fn levels_and_methods() {
        assert!(DlrLevel::Smsc.smsc() && !DlrLevel::Smsc.terminal());
        assert!(!DlrLevel::Terminal.smsc() && DlrLevel::Terminal.terminal());
        assert!(DlrLevel::Both.smsc() && DlrLevel::Both.terminal());
        for v in 1..=3 {
            assert_eq!(DlrLevel::from_u8(v).map(DlrLevel::as_u8), Some(v));
        }
        assert_eq!(DlrLevel::from_u8(4), None);
        assert_eq!(CallMethod::parse("post"), Some(CallMethod::Post));
        assert_eq!(CallMethod::parse("GET"), Some(CallMethod::Get));
        assert_eq!(CallMethod::parse("PUT"), None);
    }
}
