//! What only the memory backend does, through its public API on a test
//! clock: it forgets old message states itself (redis lets the message
//! hash expire), a delivery queue nobody takes from drops what expired
//! at the next deliver (redis trims only whole stream nodes, so a short
//! stream keeps it until taken), and it never encodes a message
//! (so it accepts one redis refuses as unencodable). The behaviour both
//! backends share is in `store_contract.rs`; docs/store.md, "Where the
//! backends may differ", says why these differ.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use gateway::store::memory::MemoryStore;
use gateway::store::{STATUS_RETENTION_MS, Store};

use common::fixtures::{ids, message, mo, sub};

/// A memory store on a test clock, and the clock (Unix µs).
fn clocked() -> (MemoryStore, Arc<AtomicI64>) {
    let t = Arc::new(AtomicI64::new(1_000_000_000_000));
    let c = t.clone();
    (
        MemoryStore::with_clock(Arc::new(move || c.load(Ordering::Relaxed))),
        t,
    )
}

/// Move a test clock on by `ms`.
fn advance(t: &AtomicI64, ms: i64) {
    t.fetch_add(ms * 1000, Ordering::Relaxed);
}

#[tokio::test]
async fn forgetting_old_states_spares_messages_in_flight() {
    let (s, t) = clocked();
    let a = message("a", "u", 1, 0);
    let b = message("b", "u", 1, 0);
    s.submit(sub(&a, None, None)).await.unwrap();
    s.submit(sub(&b, None, None)).await.unwrap();
    let taken = s.take("up", "w", 1, Duration::ZERO).await.unwrap();
    s.sent("up", &taken[0], &[], Duration::from_secs(1))
        .await
        .unwrap();
    advance(&t, STATUS_RETENTION_MS);
    let c = message("c", "u", 1, 0);
    s.submit(sub(&c, None, None)).await.unwrap();
    assert_eq!(s.status("a").await.unwrap(), None);
    assert!(s.status("b").await.unwrap().is_some());
    assert_eq!(
        ids(&s.take("up", "w", 10, Duration::ZERO).await.unwrap()),
        vec!["b", "c"]
    );
}

#[tokio::test]
async fn a_queue_nobody_takes_from_drops_what_expired() {
    let (s, t) = clocked();
    s.deliver("u", &mo("a"), Duration::from_secs(10))
        .await
        .unwrap();
    s.deliver("u", &mo("b"), Duration::from_secs(10))
        .await
        .unwrap();
    advance(&t, 11_000);
    s.deliver("u", &mo("c"), Duration::from_secs(10))
        .await
        .unwrap();
    assert_eq!(s.delivery_depth("u").await.unwrap(), 1);
}

/// Memory keeps the message as it is, but refuses what has no stored
/// form, as redis does (`redis_store.rs`; the contract's
/// `submit::a_message_without_a_stored_form_is_refused`): a short_message
/// longer than its 254 octets is refused for good, and nothing is queued.
#[tokio::test]
async fn a_message_redis_cannot_encode_is_refused_as_redis_refuses_it() {
    let (s, _t) = clocked();
    let mut long = message("m-long", "u", 1, 0);
    long.submit.short_message = bytes::Bytes::from(vec![b'x'; 255]);
    assert!(long.encode().is_err());
    match s.submit(sub(&long, None, None)).await {
        Err(gateway::store::Refusal::Unstorable(why)) => assert!(why.contains("m-long"), "{why}"),
        other => panic!("not refused as unstorable: {other:?}"),
    }
    assert!(
        s.take("up", "w", 10, Duration::ZERO)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(s.status("m-long").await.unwrap(), None);
}

#[tokio::test]
async fn status_retention_is_the_stores_setting() {
    let (s, t) = clocked();
    let s = s.with_retention(Duration::from_secs(60));
    let a = message("a", "u", 1, 0);
    s.submit(sub(&a, None, None)).await.unwrap();
    let taken = s.take("up", "w", 1, Duration::ZERO).await.unwrap();
    s.fail(
        "up",
        &taken[0],
        smpp::MessageState::Rejected,
        1,
        Duration::from_secs(1),
    )
    .await
    .unwrap();
    advance(&t, 59_999);
    let b = message("b", "u", 1, 0);
    s.submit(sub(&b, None, None)).await.unwrap();
    assert!(s.status("a").await.unwrap().is_some());
    advance(&t, 1);
    let c = message("c", "u", 1, 0);
    s.submit(sub(&c, None, None)).await.unwrap();
    assert_eq!(s.status("a").await.unwrap(), None);
    // Waiting: kept.
    assert!(s.status("b").await.unwrap().is_some());
}
