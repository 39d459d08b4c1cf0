//! Submit's contract: throttle, charge and queue atomically, a refusal
//! changes nothing, cancel refunds what was charged, once.

use gateway::store::{CancelOutcome, Limit, Refusal, Store};
use smpp::MessageState;

use super::{Backend, take};
use crate::common::fixtures::{limited, message, sub};

pub async fn credit_is_charged_atomically_and_refunded_on_cancel<B: Backend>(b: &B) {
    let s = b.store();
    s.ping().await.unwrap();
    assert_eq!(s.balance("u").await.unwrap(), None);
    s.init_credit("u", 1_000_000).await.unwrap();
    s.init_credit("u", 99).await.unwrap(); // already tracked: unchanged
    let a = message("a", "u", 2, 300_000);
    s.submit(sub(&a, None, Some(a.charge_micro())))
        .await
        .unwrap();
    assert_eq!(s.balance("u").await.unwrap(), Some(400_000));
    let m = message("b", "u", 2, 300_000);
    assert_eq!(
        s.submit(sub(&m, None, Some(m.charge_micro()))).await,
        Err(Refusal::NoCredit)
    );
    // The refusal changed nothing.
    assert_eq!(s.balance("u").await.unwrap(), Some(400_000));
    assert_eq!(s.queue_depth("up").await.unwrap(), 1);
    assert_eq!(s.status("b").await.unwrap(), None);

    let st = s.status("a").await.unwrap().unwrap();
    assert_eq!(st.id, "a");
    assert_eq!(st.user, "u");
    assert_eq!(st.state, MessageState::Enroute);
    assert_eq!(st.accepted_ms, a.accepted_ms);
    assert_eq!(st.final_ms, None);
    assert_eq!(st.error_code, 0);

    assert_eq!(
        s.cancel("a", "someone-else").await.unwrap(),
        CancelOutcome::NotFound
    );
    assert_eq!(
        s.cancel("nope", "u").await.unwrap(),
        CancelOutcome::NotFound
    );
    b.pass(b.tick()).await;
    let before = b.now_ms();
    assert_eq!(s.cancel("a", "u").await.unwrap(), CancelOutcome::Cancelled);
    let after = b.now_ms();
    assert_eq!(s.balance("u").await.unwrap(), Some(1_000_000));
    assert_eq!(s.queue_depth("up").await.unwrap(), 0);
    let st = s.status("a").await.unwrap().unwrap();
    assert_eq!(st.state, MessageState::Deleted);
    b.assert_between(st.final_ms.unwrap(), before, after);
    assert_eq!(s.cancel("a", "u").await.unwrap(), CancelOutcome::TooLate);
    assert_eq!(s.balance("u").await.unwrap(), Some(1_000_000));
    assert!(take(b, 10).await.is_empty());

    // Unlimited credit: nothing tracked, nothing charged or refunded.
    let c = message("c", "free", 1, 0);
    s.submit(sub(&c, None, None)).await.unwrap();
    assert_eq!(s.balance("free").await.unwrap(), None);
    assert_eq!(
        s.cancel("c", "free").await.unwrap(),
        CancelOutcome::Cancelled
    );
    assert_eq!(s.balance("free").await.unwrap(), None);
}

/// Two parts a second, two at once: one part fits again 500 ms after
/// the burst, a 2-part message needs room for two.
pub async fn throttle_refusal_changes_nothing<B: Backend>(b: &B) {
    const INTERVAL_MS: u64 = 500;
    let s = b.store();
    s.init_credit("u", 10_000_000).await.unwrap();
    let limit = Some(Limit { rate: 2, burst: 2 });
    for i in 0..2 {
        let m = message(&format!("m{i}"), "u", 1, 1_000_000);
        s.submit(sub(&m, limit, Some(1_000_000))).await.unwrap();
    }
    let m = message("m2", "u", 1, 1_000_000);
    assert_eq!(
        s.submit(sub(&m, limit, Some(1_000_000))).await,
        Err(Refusal::Throttled)
    );
    assert_eq!(s.balance("u").await.unwrap(), Some(8_000_000));
    assert_eq!(s.queue_depth("up").await.unwrap(), 2);
    assert_eq!(s.status("m2").await.unwrap(), None);
    // Just before one interval: still no room.
    b.pass(INTERVAL_MS - b.tick()).await;
    assert_eq!(
        s.submit(sub(&m, limit, Some(1_000_000))).await,
        Err(Refusal::Throttled)
    );
    b.pass(b.tick()).await;
    // A 2-part message needs room for 2 even after one interval.
    let big = message("big", "u", 2, 1_000_000);
    assert_eq!(
        s.submit(sub(&big, limit, Some(2_000_000))).await,
        Err(Refusal::Throttled)
    );
    s.submit(sub(&m, limit, Some(1_000_000))).await.unwrap();
    assert_eq!(s.balance("u").await.unwrap(), Some(7_000_000));
    assert_eq!(s.queue_depth("up").await.unwrap(), 3);
    // Another user has their own limit.
    let other = message("o", "v", 1, 0);
    s.submit(sub(&other, limit, None)).await.unwrap();
}

pub async fn queue_limit_and_taking_in_order<B: Backend>(b: &B) {
    let s = b.store();
    for i in 0..3 {
        let m = message(&format!("m{i}"), "u", 1, 0);
        s.submit(limited(&m)).await.unwrap();
    }
    let m3 = message("m3", "u", 1, 0);
    assert_eq!(s.submit(limited(&m3)).await, Err(Refusal::QueueFull));
    assert_eq!(s.status("m3").await.unwrap(), None);
    let taken = take(b, 2).await;
    assert_eq!(crate::common::fixtures::ids(&taken), vec!["m0", "m1"]);
    assert_eq!(s.queue_depth("up").await.unwrap(), 1);
    // Taken (being sent upstream): too late to cancel.
    assert_eq!(s.cancel("m0", "u").await.unwrap(), CancelOutcome::TooLate);
    assert_eq!(
        s.status("m2").await.unwrap().unwrap().state,
        MessageState::Enroute
    );
    assert!(take(b, 0).await.is_empty());
    // Taken messages no longer count against the limit.
    s.submit(limited(&m3)).await.unwrap();
    assert_eq!(s.queue_depth("up").await.unwrap(), 2);
    // Settled: gone from the queue, still too late to cancel.
    s.sent("up", &taken[0], &[], crate::common::fixtures::TTL)
        .await
        .unwrap();
    assert_eq!(s.cancel("m0", "u").await.unwrap(), CancelOutcome::TooLate);
    let rest = take(b, 10).await;
    assert_eq!(crate::common::fixtures::ids(&rest), vec!["m2", "m3"]);
    assert_eq!(s.queue_depth("up").await.unwrap(), 0);
    // An empty queue of an unknown connector.
    assert_eq!(s.queue_depth("nowhere").await.unwrap(), 0);
    assert!(
        b.take("nowhere", "w", 10, std::time::Duration::ZERO)
            .await
            .unwrap()
            .is_empty()
    );
}

/// A submit of a message id the store has already accepted (the front
/// end retrying after a dropped connection) is accepted again without
/// doing anything: not queued, charged or throttled twice, nor refused
/// by a queue limit or a throttle that would refuse a new message.
pub async fn a_repeated_submit_is_accepted_once<B: Backend>(b: &B) {
    let s = b.store();
    s.init_credit("u", 5_000_000).await.unwrap();
    let limit = Some(Limit { rate: 1, burst: 2 });
    let m = message("k1", "u", 1, 1_000_000);
    s.submit(sub(&m, limit, Some(1_000_000))).await.unwrap();
    assert_eq!(s.balance("u").await.unwrap(), Some(4_000_000));
    // Queued: not queued again.
    s.submit(sub(&m, limit, Some(1_000_000))).await.unwrap();
    assert_eq!(s.balance("u").await.unwrap(), Some(4_000_000));
    assert_eq!(s.queue_depth("up").await.unwrap(), 1);
    // Not refused by a full queue or by a throttle with no room left.
    let mut full = sub(&m, Some(Limit { rate: 1, burst: 1 }), Some(1_000_000));
    full.queue_limit = 0;
    assert_eq!(s.submit(full).await, Ok(()));
    // Nor queued for another connector under the same id.
    let mut elsewhere = m.clone();
    elsewhere.connectors = vec!["elsewhere".into()];
    s.submit(sub(&elsewhere, None, Some(1_000_000)))
        .await
        .unwrap();
    assert_eq!(s.queue_depth("elsewhere").await.unwrap(), 0);
    assert_eq!(s.queue_depth("up").await.unwrap(), 1);
    assert_eq!(s.balance("u").await.unwrap(), Some(4_000_000));
    // Nor throttled twice: one more fits the burst of two.
    let n = message("k2", "u", 1, 1_000_000);
    s.submit(sub(&n, limit, Some(1_000_000))).await.unwrap();
    let taken = take(b, 10).await;
    assert_eq!(crate::common::fixtures::ids(&taken), vec!["k1", "k2"]);
    assert_eq!(*taken[0].message, m);
    // Taken: not queued again.
    s.submit(sub(&m, None, Some(1_000_000))).await.unwrap();
    assert_eq!(s.balance("u").await.unwrap(), Some(3_000_000));
    assert!(take(b, 10).await.is_empty());
    assert_eq!(s.queue_depth("up").await.unwrap(), 0);
    assert_eq!(
        s.status("k1").await.unwrap().unwrap().state,
        MessageState::Enroute
    );
    // Final: still final.
    s.fail(
        "up",
        &taken[0],
        MessageState::Rejected,
        1,
        crate::common::fixtures::TTL,
    )
    .await
    .unwrap();
    let st = s.status("k1").await.unwrap().unwrap();
    s.submit(sub(&m, None, Some(1_000_000))).await.unwrap();
    assert_eq!(s.status("k1").await.unwrap().unwrap(), st);
    assert_eq!(s.balance("u").await.unwrap(), Some(4_000_000));
    assert!(take(b, 10).await.is_empty());
}

/// A message without a stored form (a short_message over its 254 octets
/// does not encode as a PDU) is refused for good by both backends, and
/// the refusal changes nothing: not charged, throttled, queued or kept.
pub async fn a_message_without_a_stored_form_is_refused<B: Backend>(b: &B) {
    let s = b.store();
    s.init_credit("u", 1_000_000).await.unwrap();
    let limit = Some(Limit { rate: 1, burst: 1 });
    let mut long = message("m-long", "u", 1, 100_000);
    long.submit.short_message = bytes::Bytes::from(vec![b'x'; 255]);
    match s.submit(sub(&long, limit, Some(100_000))).await {
        Err(Refusal::Unstorable(why)) => assert!(why.contains("m-long"), "{why}"),
        other => panic!("not refused as unstorable: {other:?}"),
    }
    assert_eq!(s.balance("u").await.unwrap(), Some(1_000_000));
    assert_eq!(s.queue_depth("up").await.unwrap(), 0);
    assert_eq!(s.status("m-long").await.unwrap(), None);
    // Not throttled: the burst of one is still there.
    let m = message("m", "u", 1, 100_000);
    s.submit(sub(&m, limit, Some(100_000))).await.unwrap();
    assert_eq!(crate::common::fixtures::ids(&take(b, 10).await), vec!["m"]);
}
