//! The test data of the store's tests: messages on connector `up`,
//! submissions, part receipts, MO items and callbacks, and small readers
//! of what the store hands back.

use std::time::Duration;

use bytes::Bytes;
use gateway::store::{
    CallMethod, Callback, CallbackTaken, Delivery, DeliveryItem, DlrLevel, HttpCall, Limit,
    PartReceipt, ReceiptCallback, ReceiptOutcome, StoredMessage, Submission, Taken, UserReceipt,
};
use smpp::MessageState;
use smpp::pdu::{DeliverSm, RegisteredDelivery};

/// What delivery queues and upstream mappings are kept for when a test
/// does not look at expiry.
pub const TTL: Duration = Duration::from_secs(3_600);

/// The done date of the receipts the tests make (Unix ms).
pub const DONE: i64 = 1_790_000_100_000;

/// When the tests' messages were accepted (Unix ms).
pub const ACCEPTED: i64 = 1_790_000_000_000;

pub fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// A message of `user` for connector "up", `parts` parts at `rate`
/// millionths each.
pub fn message(id: &str, user: &str, parts: u32, rate: i64) -> StoredMessage {
    StoredMessage {
        id: id.into(),
        user: user.into(),
        connectors: vec!["up".into()],
        submit: Default::default(),
        parts,
        rate_micro: rate,
        accepted_ms: ACCEPTED,
        expires_ms: None,
        callback: None,
        route: None,
    }
}

/// A message of user "u" asking for receipts per `rd`.
pub fn with_rd(id: &str, parts: u32, rd: u8) -> StoredMessage {
    let mut m = message(id, "u", parts, 0);
    m.submit.registered_delivery = RegisteredDelivery(rd);
    m
}

/// A message of user "u" asking for receipts per `rd`, sent with a
/// `dlr-url` at `level`: its receipts go to the callback queue.
pub fn with_callback(id: &str, parts: u32, rd: u8, level: DlrLevel) -> StoredMessage {
    let mut m = with_rd(id, parts, rd);
    m.callback = Some(ReceiptCallback {
        url: "http://127.0.0.1:9/dlr".into(),
        method: CallMethod::Post,
        level,
    });
    m
}

/// A call made whole (an MO for a `mo_url`), told apart by `text`.
pub fn call(text: &str) -> HttpCall {
    HttpCall {
        url: "http://127.0.0.1:9/mo".into(),
        method: CallMethod::Get,
        params: vec![("content".into(), text.into()), ("to".into(), "123".into())],
    }
}

/// A submission with a queue limit of 1000.
pub fn sub(m: &StoredMessage, throttle: Option<Limit>, charge: Option<i64>) -> Submission<'_> {
    Submission {
        message: m,
        throttle,
        charge_micro: charge,
        queue_limit: 1000,
    }
}

/// A submission with a queue limit of 3, unthrottled, unlimited credit.
pub fn limited(m: &StoredMessage) -> Submission<'_> {
    let mut x = sub(m, None, None);
    x.queue_limit = 3;
    x
}

/// A part receipt done at [`DONE`].
pub fn part(state: MessageState, error_code: u16) -> PartReceipt {
    PartReceipt {
        state,
        error_code,
        done_ms: DONE,
    }
}

pub fn fin(state: MessageState, queued: bool) -> ReceiptOutcome {
    ReceiptOutcome::Final { state, queued }
}

pub fn ids(taken: &[Taken]) -> Vec<String> {
    taken.iter().map(|t| t.message.id.clone()).collect()
}

pub fn tokens(ds: &[Delivery]) -> Vec<String> {
    ds.iter().map(|d| d.token.clone()).collect()
}

pub fn mo(text: &'static str) -> DeliveryItem {
    DeliveryItem::Mo(DeliverSm::<Bytes> {
        short_message: Bytes::from_static(text.as_bytes()),
        ..Default::default()
    })
}

pub fn mo_text(d: &Delivery) -> &[u8] {
    match &d.item {
        DeliveryItem::Mo(m) => &m.short_message,
        other => panic!("not an MO: {other:?}"),
    }
}

pub fn receipt_of(d: &Delivery) -> &UserReceipt {
    match &d.item {
        DeliveryItem::Receipt(r) => r,
        other => panic!("not a receipt: {other:?}"),
    }
}

pub fn cb_tokens(cs: &[CallbackTaken]) -> Vec<String> {
    cs.iter().map(|c| c.token.clone()).collect()
}

/// The items of taken callbacks.
pub fn cb_items(cs: &[CallbackTaken]) -> Vec<Callback> {
    cs.iter().map(|c| c.item.clone()).collect()
}

/// The `content` of taken callbacks that are calls made whole.
pub fn call_texts(cs: &[CallbackTaken]) -> Vec<String> {
    cs.iter()
        .map(|c| match &c.item {
            Callback::Call(h) => h
                .params
                .iter()
                .find(|(k, _)| k == "content")
                .map(|(_, v)| v.clone())
                .unwrap_or_default(),
            other => panic!("not a call: {other:?}"),
        })
        .collect()
}
