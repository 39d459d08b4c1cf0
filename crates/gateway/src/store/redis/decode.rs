//! Replies as values: stream entries, the fields of a delivery queue
//! item both ways, and the dropping of entries that do not decode (so a
//! corrupt entry cannot wedge a queue).

use ::redis::Value;
use bytes::Bytes;
use smpp::MessageState;

use super::RedisStore;
use super::keys::{callback_key, delivery_key, queue_key};
use crate::store::message::UnstorableMessage;
use crate::store::way_back::{decode_mo, encode_mo};
use crate::store::{
    Callback, CallbackTaken, Delivery, DeliveryItem, HttpCall, StoredMessage, Taken, UserReceipt,
};

impl RedisStore {
    /// Decode queue entries; acknowledge (and log) those that are not
    /// stored messages.
    pub(super) async fn decode_entries(&self, connector: &str, entries: Vec<Entry>) -> Vec<Taken> {
        let mut out = Vec::with_capacity(entries.len());
        let mut corrupt = Vec::new();
        for mut e in entries {
            match e.take(b"m").map(|b| StoredMessage::decode(Bytes::from(b))) {
                Some(Ok(message)) => out.push(Taken {
                    token: e.id,
                    message: message.into(),
                }),
                Some(Err(err)) => {
                    tracing::error!(connector, stream_id = e.id, error = %err, "dropping a corrupt queued message");
                    corrupt.push(e.id);
                }
                None => {
                    tracing::error!(
                        connector,
                        stream_id = e.id,
                        "dropping a queue entry without a message"
                    );
                    corrupt.push(e.id);
                }
            }
        }
        if !corrupt.is_empty() {
            if let Err(e) = self.ack_entries(&queue_key(connector), &corrupt).await {
                tracing::warn!(connector, error = %e, "could not drop corrupt queue entries");
            }
        }
        out
    }

    /// Decode delivery queue entries; drop (acknowledge, delete and log)
    /// those that do not decode, so they cannot wedge the queue.
    pub(super) async fn decode_deliveries(&self, user: &str, entries: Vec<Entry>) -> Vec<Delivery> {
        self.decode_or_drop(&delivery_key(user), entries, delivery_of)
            .await
    }

    /// Decode callback stream entries; drop those that do not decode.
    pub(super) async fn decode_callbacks(&self, entries: Vec<Entry>) -> Vec<CallbackTaken> {
        self.decode_or_drop(callback_key(), entries, callback_of)
            .await
    }

    /// Decode the entries of the stream `key` with `of`; acknowledge,
    /// delete and log those that do not decode (the field at fault), so
    /// they cannot wedge the queue.
    async fn decode_or_drop<T>(
        &self,
        key: &str,
        entries: Vec<Entry>,
        of: fn(Entry) -> Result<T, &'static str>,
    ) -> Vec<T> {
        let mut out = Vec::with_capacity(entries.len());
        let mut corrupt = Vec::new();
        for e in entries {
            let id = e.id.clone();
            match of(e) {
                Ok(d) => out.push(d),
                Err(field) => {
                    tracing::warn!(
                        stream = key,
                        stream_id = id,
                        field,
                        "dropping a corrupt entry"
                    );
                    corrupt.push(id);
                }
            }
        }
        if !corrupt.is_empty() {
            if let Err(e) = self.ack_entries(key, &corrupt).await {
                tracing::warn!(stream = key, error = %e, "could not drop corrupt entries");
            }
        }
        out
    }
}

/// The elements of an array reply.
pub(super) fn array(v: Value) -> Option<Vec<Value>> {
    match v {
        Value::Array(a) | Value::Set(a) => Some(a),
        _ => None,
    }
}

/// A string reply's bytes.
pub(super) fn bulk(v: Value) -> Option<Vec<u8>> {
    match v {
        Value::BulkString(b) => Some(b),
        Value::SimpleString(s) => Some(s.into_bytes()),
        _ => None,
    }
}

/// Key/value pairs of a map reply (RESP3) or of an array of two-element
/// arrays (RESP2), as XREADGROUP answers per stream.
pub(super) fn pairs(v: Value) -> Vec<(Value, Value)> {
    match v {
        Value::Map(m) => m,
        Value::Array(a) => a
            .into_iter()
            .filter_map(|kv| {
                let mut it = array(kv)?.into_iter();
                Some((it.next()?, it.next()?))
            })
            .collect(),
        _ => Vec::new(),
    }
}

/// A stream entry as read: its id and its fields.
pub(super) struct Entry {
    pub(super) id: String,
    fields: Vec<(Vec<u8>, Vec<u8>)>,
}

impl Entry {
    /// The value of the field `name`, taken out.
    fn take(&mut self, name: &[u8]) -> Option<Vec<u8>> {
        let i = self.fields.iter().position(|(k, _)| k == name)?;
        Some(self.fields.swap_remove(i).1)
    }

    /// The value of the field `name` as a decimal number.
    fn number<T: std::str::FromStr>(&self, name: &'static str) -> Result<T, &'static str> {
        self.fields
            .iter()
            .find(|(k, _)| k == name.as_bytes())
            .and_then(|(_, v)| std::str::from_utf8(v).ok()?.parse().ok())
            .ok_or(name)
    }
}

/// A stream entry `[id, [field, value, ...]]`. An entry deleted from the
/// stream while pending (nil) has no fields.
pub(super) fn entry(v: Value) -> Option<Entry> {
    let mut it = array(v)?.into_iter();
    let id = String::from_utf8(bulk(it.next()?)?).ok()?;
    let raw = match it.next() {
        Some(Value::Map(m)) => m,
        Some(v) => {
            let mut flat = array(v).unwrap_or_default().into_iter();
            let mut kv = Vec::new();
            while let (Some(k), Some(v)) = (flat.next(), flat.next()) {
                kv.push((k, v));
            }
            kv
        }
        None => Vec::new(),
    };
    let fields = raw
        .into_iter()
        .filter_map(|(k, v)| Some((bulk(k)?, bulk(v)?)))
        .collect();
    Some(Entry { id, fields })
}

/// A delivery queue entry as a [`Delivery`]; the field at fault when it
/// does not decode.
fn delivery_of(mut e: Entry) -> Result<Delivery, &'static str> {
    if let Some(r) = e.take(b"r") {
        return packed_receipt(e, &r);
    }
    let queued_ms = e.number("q")?;
    let expires_ms = e.number("exp")?;
    let item = match e.take(b"k").as_deref() {
        Some(b"r") => {
            let receipt = UserReceipt {
                state: MessageState::from_u8(e.number("st")?),
                error_code: e.number("err")?,
                sub: e.number("sub")?,
                dlvrd: e.number("dlvrd")?,
                done_ms: e.number("done")?,
                message: e
                    .take(b"m")
                    .and_then(|m| StoredMessage::decode(Bytes::from(m)).ok())
                    .ok_or("m")?
                    .into(),
            };
            DeliveryItem::Receipt(Box::new(receipt))
        }
        Some(b"mo") => DeliveryItem::Mo(e.take(b"p").and_then(|p| decode_mo(&p).ok()).ok_or("p")?),
        _ => return Err("k"),
    };
    Ok(Delivery {
        token: e.id,
        item,
        queued_ms,
        expires_ms,
    })
}

/// A receipt queued by a script (`queue_receipt` in `lua/receipts.lua`):
/// its numbers in `r` = `st:err:sub:dlvrd:done:q:exp`, and its message in
/// `m`. (A receipt queued before this form, or by [`delivery_fields`],
/// has a field per number and `k` = `r`.)
fn packed_receipt(mut e: Entry, r: &[u8]) -> Result<Delivery, &'static str> {
    let r = std::str::from_utf8(r).map_err(|_| "r")?;
    let mut n = r.split(':');
    let mut next =
        || -> Result<i64, &'static str> { n.next().and_then(|v| v.parse().ok()).ok_or("r") };
    let state = u8::try_from(next()?).map_err(|_| "r")?;
    let error_code = u16::try_from(next()?).map_err(|_| "r")?;
    let sub = u32::try_from(next()?).map_err(|_| "r")?;
    let dlvrd = u32::try_from(next()?).map_err(|_| "r")?;
    let done_ms = next()?;
    let queued_ms = next()?;
    let expires_ms = next()?;
    if n.next().is_some() {
        return Err("r");
    }
    let message = e
        .take(b"m")
        .and_then(|m| StoredMessage::decode(Bytes::from(m)).ok())
        .ok_or("m")?
        .into();
    Ok(Delivery {
        token: e.id,
        item: DeliveryItem::Receipt(Box::new(UserReceipt {
            state: MessageState::from_u8(state),
            error_code,
            sub,
            dlvrd,
            done_ms,
            message,
        })),
        queued_ms,
        expires_ms,
    })
}

/// A callback stream entry as a [`CallbackTaken`]; the field at fault
/// when it does not decode.
fn callback_of(mut e: Entry) -> Result<CallbackTaken, &'static str> {
    let queued_ms = e.number("q")?;
    let expires_ms = e.number("exp")?;
    let attempts = e.number("n")?;
    let kind = e.take(b"k");
    let item = match kind.as_deref() {
        Some(b"c") => Callback::Call(
            e.take(b"v")
                .and_then(|v| HttpCall::decode(Bytes::from(v)).ok())
                .ok_or("v")?,
        ),
        Some(b"r") | Some(b"s") => {
            let connector = e
                .take(b"c")
                .and_then(|c| String::from_utf8(c).ok())
                .ok_or("c")?;
            let upstream_id = e
                .take(b"up")
                .and_then(|c| String::from_utf8(c).ok())
                .ok_or("up")?;
            let message: std::sync::Arc<StoredMessage> = e
                .take(b"m")
                .and_then(|m| StoredMessage::decode(Bytes::from(m)).ok())
                .ok_or("m")?
                .into();
            if kind.as_deref() == Some(b"s") {
                Callback::Submitted {
                    message,
                    connector,
                    status: e.number("st")?,
                    upstream_id,
                }
            } else {
                let receipt = UserReceipt {
                    state: MessageState::from_u8(e.number("st")?),
                    error_code: e.number("err")?,
                    sub: e.number("sub")?,
                    dlvrd: e.number("dlvrd")?,
                    done_ms: e.number("done")?,
                    message,
                };
                Callback::Receipt {
                    receipt: Box::new(receipt),
                    connector,
                    upstream_id,
                }
            }
        }
        _ => return Err("k"),
    };
    Ok(CallbackTaken {
        token: e.id,
        item,
        queued_ms,
        expires_ms,
        attempts,
    })
}

/// The fields a queued item is stored with (`q` and `exp` are added by
/// the script, by Redis' clock).
pub(super) fn delivery_fields(
    item: &DeliveryItem,
) -> Result<Vec<(&'static str, Vec<u8>)>, UnstorableMessage> {
    Ok(match item {
        DeliveryItem::Receipt(r) => vec![
            ("k", b"r".to_vec()),
            ("id", r.message.id.as_bytes().to_vec()),
            ("st", r.state.as_u8().to_string().into_bytes()),
            ("err", r.error_code.to_string().into_bytes()),
            ("sub", r.sub.to_string().into_bytes()),
            ("dlvrd", r.dlvrd.to_string().into_bytes()),
            ("done", r.done_ms.to_string().into_bytes()),
            ("m", r.message.encode()?.to_vec()),
        ],
        DeliveryItem::Mo(d) => vec![("k", b"mo".to_vec()), ("p", encode_mo(d)?.to_vec())],
    })
}

/// Whether `token` has the shape of a stream entry id (`<ms>-<seq>`):
/// anything else was never handed out, and Redis would refuse it.
pub(super) fn is_stream_id(token: &str) -> bool {
    token.split_once('-').is_some_and(|(ms, seq)| {
        !ms.is_empty()
            && !seq.is_empty()
            && ms.bytes().all(|b| b.is_ascii_digit())
            && seq.bytes().all(|b| b.is_ascii_digit())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message() -> StoredMessage {
        StoredMessage {
            id: "m1".into(),
            user: "u".into(),
            connectors: vec!["up".into()],
            submit: Default::default(),
            parts: 2,
            rate_micro: 0,
            accepted_ms: 1_790_000_000_000,
            expires_ms: None,
            callback: None,
            route: None,
        }
    }

    fn entry_of(fields: &[(&str, Vec<u8>)]) -> Entry {
        Entry {
            id: "1-0".into(),
            fields: fields
                .iter()
                .map(|(k, v)| (k.as_bytes().to_vec(), v.clone()))
                .collect(),
        }
    }

    fn receipt(d: &Delivery) -> &UserReceipt {
        match &d.item {
            DeliveryItem::Receipt(r) => r,
            DeliveryItem::Mo(_) => panic!("not a receipt"),
        }
    }

    #[test]
    fn a_packed_receipt_decodes_as_the_field_per_number_form() {
        let m = message().encode().unwrap().to_vec();
        let packed = delivery_of(entry_of(&[
            (
                "r",
                b"2:0:2:1:1790000100000:1790000000500:1790003600500".to_vec(),
            ),
            ("m", m.clone()),
        ]))
        .unwrap();
        let fields = delivery_of(entry_of(&[
            ("k", b"r".to_vec()),
            ("id", b"m1".to_vec()),
            ("st", b"2".to_vec()),
            ("err", b"0".to_vec()),
            ("sub", b"2".to_vec()),
            ("dlvrd", b"1".to_vec()),
            ("done", b"1790000100000".to_vec()),
            ("q", b"1790000000500".to_vec()),
            ("exp", b"1790003600500".to_vec()),
            ("m", m),
        ]))
        .unwrap();
        for d in [&packed, &fields] {
            assert_eq!(
                (d.queued_ms, d.expires_ms),
                (1_790_000_000_500, 1_790_003_600_500)
            );
            let r = receipt(d);
            assert_eq!(r.state, MessageState::Delivered);
            assert_eq!((r.error_code, r.sub, r.dlvrd), (0, 2, 1));
            assert_eq!(r.done_ms, 1_790_000_100_000);
            assert_eq!(r.message.id, "m1");
        }
    }

    #[test]
    fn a_bad_packed_receipt_names_its_field() {
        let m = message().encode().unwrap().to_vec();
        for bad in [
            &b"2:0:2:1:1790000100000:1790000000500"[..],
            b"2:0:2:1:1790000100000:1790000000500:1:9",
            b"2:x:2:1:1790000100000:1790000000500:1",
            b"2:70000:2:1:1790000100000:1790000000500:1",
            b"\xff",
            b"",
        ] {
            let e = delivery_of(entry_of(&[("r", bad.to_vec()), ("m", m.clone())]));
            assert_eq!(e.err(), Some("r"), "{bad:?}");
        }
        let e = delivery_of(entry_of(&[
            ("r", b"2:0:1:1:5:6:7".to_vec()),
            ("m", b"junk".to_vec()),
        ]));
        assert_eq!(e.err(), Some("m"));
    }
}
