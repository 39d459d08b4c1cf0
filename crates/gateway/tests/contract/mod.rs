//! The store's contract, written once: each case is an `async fn`
//! generic over a [`Backend`], and `store_contract.rs` runs every case
//! against memory and against a real redis-server.
//!
//! The cases follow the pipeline: [`submit`] (throttle, credit, queue
//! limit, cancel), [`connector`] (take, sent, retry, fail, reclaim,
//! blocking takes), [`receipts`] (part receipts summed into the user's
//! one final receipt, held receipts, intermediate ones),
//! [`deliveries`] (the users' delivery queues) and [`callbacks`] (the
//! one callback queue: receipts of messages sent with a `dlr-url`, the
//! upstream's answer, retries with attempts); [`reroute`] (a message
//! moved on to the next connector of its route). What only one backend
//! does (redis' key layout, consumer groups, restart recovery, its
//! connection pool) stays in `redis_store.rs` / `memory_store.rs`.

pub mod backend;
pub mod callbacks;
pub mod connector;
pub mod deliveries;
pub mod expiry;
pub mod receipts;
pub mod replace;
pub mod reroute;
pub mod submit;

use std::time::Duration;

use gateway::store::{CallbackTaken, Delivery, Store, StoredMessage, Taken};

use crate::common::fixtures::{TTL, sub};
pub use backend::Backend;

/// Up to `max` messages of connector "up" for consumer "w", not waiting.
pub async fn take<B: Backend>(b: &B, max: usize) -> Vec<Taken> {
    b.take("up", "w", max, Duration::ZERO).await.unwrap()
}

/// Submit `m` (unthrottled, unlimited credit) and take it.
pub async fn taken<B: Backend>(b: &B, m: &StoredMessage) -> Taken {
    b.store().submit(sub(m, None, None)).await.unwrap();
    let mut t = take(b, 1).await;
    assert_eq!(t.len(), 1);
    let t = t.remove(0);
    assert_eq!(&*t.message, m);
    t
}

/// Submit, take and send `m` upstream as `ups`.
pub async fn sent<B: Backend>(b: &B, m: &StoredMessage, ups: &[&str]) -> Taken {
    let t = taken(b, m).await;
    let ups: Vec<String> = ups.iter().map(|u| u.to_string()).collect();
    b.store().sent("up", &t, &ups, TTL).await.unwrap();
    t
}

/// Everything waiting in `user`'s queue, taken and delivered.
pub async fn drain<B: Backend>(b: &B, user: &str) -> Vec<Delivery> {
    let got = b
        .take_deliveries(user, "drain", 100, Duration::ZERO)
        .await
        .unwrap();
    for d in &got {
        b.store()
            .delivered(user, std::slice::from_ref(&d.token))
            .await
            .unwrap();
    }
    got
}

/// A queue entry's stamps: queued between `before` and `after` (the
/// store's clock), expiring `ttl` later.
pub fn assert_stamped<B: Backend>(b: &B, d: &Delivery, ttl: Duration, before: i64, after: i64) {
    b.assert_between(d.queued_ms, before, after);
    assert_eq!(d.expires_ms - d.queued_ms, ttl.as_millis() as i64, "{d:?}");
}

/// Up to `max` callbacks for consumer `consumer`, not waiting.
pub async fn take_cbs<B: Backend>(b: &B, consumer: &str, max: usize) -> Vec<CallbackTaken> {
    b.take_callbacks(consumer, max, Duration::ZERO)
        .await
        .unwrap()
}

/// Everything waiting in the callback queue (due retries included, at
/// most 100 of them), taken and done.
pub async fn drain_callbacks<B: Backend>(b: &B) -> Vec<CallbackTaken> {
    let got = take_cbs(b, "drain", 100).await;
    let tokens: Vec<String> = got.iter().map(|c| c.token.clone()).collect();
    b.store().callbacks_done(&tokens).await.unwrap();
    got
}

/// A callback's stamps: queued between `before` and `after` (the
/// store's clock), expiring `ttl` later.
pub fn assert_cb_stamped<B: Backend>(
    b: &B,
    c: &CallbackTaken,
    ttl: Duration,
    before: i64,
    after: i64,
) {
    b.assert_between(c.queued_ms, before, after);
    assert_eq!(c.expires_ms - c.queued_ms, ttl.as_millis() as i64, "{c:?}");
}
