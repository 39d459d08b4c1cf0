//! The users' delivery queues: items wait in order, a taken item stays
//! counted until delivered, goes back to the tail when redelivered (with
//! its stamps), and is handed out again when its taker died.

use std::time::{Duration, Instant};

use gateway::store::{DeliveryItem, Store, UserReceipt};
use smpp::MessageState;

use super::{Backend, assert_stamped, drain};
use crate::common::fixtures::{DONE, TTL, mo, mo_text, ms, tokens, with_rd};

pub async fn deliveries_are_taken_settled_and_redelivered_at_the_tail<B: Backend>(b: &B) {
    let s = b.store();
    assert_eq!(s.delivery_depth("v").await.unwrap(), 0);
    assert!(
        b.take_deliveries("v", "a", 10, Duration::ZERO)
            .await
            .unwrap()
            .is_empty()
    );
    let before = b.now_ms();
    for text in ["one", "two", "three"] {
        s.deliver("v", &mo(text), ms(30_000)).await.unwrap();
    }
    let after = b.now_ms();
    assert_eq!(s.delivery_depth("v").await.unwrap(), 3);
    let first = b
        .take_deliveries("v", "a", 2, Duration::ZERO)
        .await
        .unwrap();
    assert_eq!(first.len(), 2);
    assert_eq!(mo_text(&first[0]), b"one");
    assert_eq!(mo_text(&first[1]), b"two");
    assert_eq!(first[0].item, mo("one"));
    assert_stamped(b, &first[0], ms(30_000), before, after);
    // Taken ones are still in the queue.
    assert_eq!(s.delivery_depth("v").await.unwrap(), 3);
    // "one" could not be delivered now: back to the tail.
    s.redeliver("v", &first[0].token).await.unwrap();
    assert_eq!(s.delivery_depth("v").await.unwrap(), 3);
    s.delivered("v", std::slice::from_ref(&first[1].token))
        .await
        .unwrap();
    assert_eq!(s.delivery_depth("v").await.unwrap(), 2);
    // Tokens no longer held, or never: nothing changes.
    s.redeliver("v", &first[0].token).await.unwrap();
    s.delivered("v", std::slice::from_ref(&first[1].token))
        .await
        .unwrap();
    s.redeliver("v", "99999999999999-0").await.unwrap();
    s.delivered("v", &["not a token".to_string()])
        .await
        .unwrap();
    s.redeliver("nobody", "1-0").await.unwrap();
    assert_eq!(s.delivery_depth("v").await.unwrap(), 2);
    let rest = b
        .take_deliveries("v", "a", 10, Duration::ZERO)
        .await
        .unwrap();
    assert_eq!(rest.len(), 2);
    assert_eq!(mo_text(&rest[0]), b"three");
    assert_eq!(mo_text(&rest[1]), b"one");
    assert_ne!(rest[1].token, first[0].token);
    // The same stamps: redelivery does not extend its life.
    assert_eq!(rest[1].queued_ms, first[0].queued_ms);
    assert_eq!(rest[1].expires_ms, first[0].expires_ms);
    // Another consumer gets nothing taken and not idle yet ...
    assert!(
        b.take_deliveries("v", "b", 10, Duration::ZERO)
            .await
            .unwrap()
            .is_empty()
    );
    b.pass(b.reclaim_ms() - b.tick()).await;
    assert!(
        b.take_deliveries("v", "b", 10, Duration::ZERO)
            .await
            .unwrap()
            .is_empty()
    );
    // ... until it is (a dead consumer's), oldest first, same tokens.
    b.pass(b.tick()).await;
    let back = b
        .take_deliveries("v", "b", 10, Duration::ZERO)
        .await
        .unwrap();
    assert_eq!(tokens(&back), tokens(&rest));
    // Claimed: idle time starts over.
    assert!(
        b.take_deliveries("v", "b", 10, Duration::ZERO)
            .await
            .unwrap()
            .is_empty()
    );
    for d in &back {
        s.delivered("v", std::slice::from_ref(&d.token))
            .await
            .unwrap();
    }
    assert_eq!(s.delivery_depth("v").await.unwrap(), 0);

    // A receipt queued with deliver round-trips too.
    let receipt = DeliveryItem::Receipt(Box::new(UserReceipt {
        message: with_rd("m", 2, 1).into(),
        state: MessageState::Expired,
        error_code: 300,
        sub: 2,
        dlvrd: 1,
        done_ms: DONE,
    }));
    s.deliver("v", &receipt, TTL).await.unwrap();
    let got = drain(b, "v").await;
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].item, receipt);
    assert_eq!(s.delivery_depth("v").await.unwrap(), 0);
}

/// An item that expired while its taker was dead is handed out again
/// like the others (its `expires_ms` past): the caller drops it.
pub async fn an_expired_item_is_handed_out_all_the_same<B: Backend>(b: &B) {
    let s = b.store();
    let ttl = b.reclaim_ms() / 2;
    s.deliver("u", &mo("short"), ms(ttl)).await.unwrap();
    let got = b
        .take_deliveries("u", "c", 10, Duration::ZERO)
        .await
        .unwrap();
    assert_eq!(got.len(), 1);
    assert!(got[0].expires_ms > got[0].queued_ms);
    b.pass(b.reclaim_ms()).await;
    let again = b
        .take_deliveries("u", "c", 10, Duration::ZERO)
        .await
        .unwrap();
    assert_eq!(tokens(&again), tokens(&got));
    assert!(again[0].expires_ms <= b.now_ms() + b.slack_ms());
    assert_eq!(s.delivery_depth("u").await.unwrap(), 1);
}

/// Runs on the real clock: a blocked take of deliveries waits out its
/// time, and wakes for a deliver.
pub async fn a_blocking_take_of_deliveries_wakes_for_a_deliver<B: Backend>(b: &B) {
    let s = b.store();
    let t0 = Instant::now();
    assert!(
        b.take_deliveries("v", "a", 10, ms(300))
            .await
            .unwrap()
            .is_empty()
    );
    assert!(t0.elapsed() >= ms(300), "{:?}", t0.elapsed());
    let waiter = {
        let s = s.clone();
        tokio::spawn(async move { s.take_deliveries("v", "a", 10, ms(5_000)).await })
    };
    tokio::time::sleep(ms(200)).await;
    assert!(!waiter.is_finished());
    // Another user's item does not wake it with anything.
    s.deliver("w", &mo("not yours"), TTL).await.unwrap();
    tokio::time::sleep(ms(50)).await;
    assert!(!waiter.is_finished());
    let t0 = Instant::now();
    s.deliver("v", &mo("late"), TTL).await.unwrap();
    let got = waiter.await.unwrap().unwrap();
    assert_eq!(got.len(), 1);
    assert_eq!(mo_text(&got[0]), b"late");
    assert!(t0.elapsed() < Duration::from_secs(2), "{:?}", t0.elapsed());
    s.delivered("v", std::slice::from_ref(&got[0].token))
        .await
        .unwrap();
    assert_eq!(s.delivery_depth("v").await.unwrap(), 0);
}
