//! The key names: every key carries a hash tag naming its owner (`{c:…}`
//! connector, `{u:…}` user, `{m:…}` message), so the layout is
//! Cluster-shaped (docs/store.md, "Key layout" and "Redis Cluster").

#[cfg(doc)]
use crate::store::Store;

/// The consumer group every tern process reads a connector's queue (and a
/// user's delivery queue) with.
pub const GROUP: &str = "tern";

/// The connector's queue (a stream).
pub fn queue_key(connector: &str) -> String {
    format!("tern:{{c:{connector}}}:mt")
}

/// The connector's retry set (message ids by due time).
pub fn retry_key(connector: &str) -> String {
    format!("tern:{{c:{connector}}}:retry")
}

/// The encoded messages of the connector's retry set, by id.
pub fn retry_messages_key(connector: &str) -> String {
    format!("tern:{{c:{connector}}}:retry:m")
}

/// Retried messages back in the connector's stream: id → stream entry id.
pub fn requeued_key(connector: &str) -> String {
    format!("tern:{{c:{connector}}}:requeued")
}

/// The message id an upstream message id of `connector` belongs to.
pub fn upstream_key(connector: &str, upstream_id: &str) -> String {
    format!("tern:{{c:{connector}}}:up:{upstream_id}")
}

/// A receipt for an upstream message id of `connector` that came before
/// its [`Store::sent`] (held until `sent` applies it).
pub fn held_key(connector: &str, upstream_id: &str) -> String {
    format!("tern:{{c:{connector}}}:held:{upstream_id}")
}

/// The messages waiting for `connector` (queued, retrying or taken) by
/// when their validity ends (a sorted set of message ids): what
/// [`Store::expire_waiting`] looks at.
pub fn waiting_key(connector: &str) -> String {
    format!("tern:{{c:{connector}}}:until:valid")
}

/// The messages `connector` sent that are not final, by when their wait
/// for receipts ends (a sorted set of message ids): what
/// [`Store::expire_unanswered`] looks at.
pub fn unanswered_key(connector: &str) -> String {
    format!("tern:{{c:{connector}}}:until:receipt")
}

/// A user's delivery queue (a stream): receipts and MO messages.
pub fn delivery_key(user: &str) -> String {
    format!("tern:{{u:{user}}}:dlv")
}

/// A user's credit in millionths.
pub fn credit_key(user: &str) -> String {
    format!("tern:{{u:{user}}}:credit")
}

/// A user's throttle state.
pub fn tat_key(user: &str) -> String {
    format!("tern:{{u:{user}}}:tat")
}

/// A message's state.
pub fn message_key(id: &str) -> String {
    format!("tern:{{m:{id}}}")
}

/// The callback queue (a stream, one for every user): HTTP receipts and
/// MO calls.
pub fn callback_key() -> &'static str {
    "tern:{cb}:q"
}

/// The callback retry set (retry ids by due time).
pub fn callback_retry_key() -> &'static str {
    "tern:{cb}:retry"
}

/// The items of the callback retry set, by retry id (MessagePack of
/// their stream fields).
pub fn callback_retry_items_key() -> &'static str {
    "tern:{cb}:retry:v"
}

/// The sequence retry ids are drawn from.
pub fn callback_seq_key() -> &'static str {
    "tern:{cb}:seq"
}
