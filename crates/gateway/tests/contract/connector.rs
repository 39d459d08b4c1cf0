//! The connector's side: taking in order, settling a taken message with
//! sent, retry or fail (once: a settled token settles nothing), and a
//! message taken and never settled handed out again.

use std::time::{Duration, Instant};

use gateway::store::{CancelOutcome, Refusal, Store};
use smpp::MessageState;

use super::{Backend, take};
use crate::common::fixtures::{TTL, ids, message, ms, sub};

pub async fn sent_maps_upstream_ids_until_their_ttl<B: Backend>(b: &B) {
    const TTL_MS: u64 = 400;
    let s = b.store();
    let m = message("a", "u", 2, 0);
    s.submit(sub(&m, None, None)).await.unwrap();
    let taken = take(b, 10).await;
    assert_eq!(ids(&taken), vec!["a"]);
    assert_eq!(*taken[0].message, m);
    let up = vec!["x1".to_string(), "x2".to_string()];
    s.sent("up", &taken[0], &up, ms(TTL_MS)).await.unwrap();
    assert_eq!(s.upstream("up", "x1").await.unwrap().as_deref(), Some("a"));
    assert_eq!(s.upstream("up", "x2").await.unwrap().as_deref(), Some("a"));
    // Per connector.
    assert_eq!(s.upstream("other", "x1").await.unwrap(), None);
    assert_eq!(s.upstream("up", "nope").await.unwrap(), None);
    // Sent: ENROUTE until its receipt, too late to cancel, settled (a
    // retry of the settled token queues nothing).
    let st = s.status("a").await.unwrap().unwrap();
    assert_eq!(st.state, MessageState::Enroute);
    assert_eq!(st.final_ms, None);
    assert_eq!(s.cancel("a", "u").await.unwrap(), CancelOutcome::TooLate);
    s.retry("up", &taken[0], Duration::ZERO).await.unwrap();
    assert!(take(b, 10).await.is_empty());
    assert_eq!(s.queue_depth("up").await.unwrap(), 0);
    // A repeated sent is harmless (its mappings start their ttl again).
    s.sent("up", &taken[0], &up, ms(TTL_MS)).await.unwrap();
    assert_eq!(s.status("a").await.unwrap().unwrap(), st);

    b.pass(TTL_MS - b.tick()).await;
    assert_eq!(s.upstream("up", "x1").await.unwrap().as_deref(), Some("a"));
    b.pass(b.tick()).await;
    assert_eq!(s.upstream("up", "x1").await.unwrap(), None);
    assert_eq!(s.upstream("up", "x2").await.unwrap(), None);
    // A zero ttl is not an error.
    let m = message("b", "u", 1, 0);
    s.submit(sub(&m, None, None)).await.unwrap();
    let taken = take(b, 10).await;
    s.sent("up", &taken[0], &["y".into()], Duration::ZERO)
        .await
        .unwrap();
    // No upstream ids: settled all the same.
    let c = message("c", "u", 1, 0);
    s.submit(sub(&c, None, None)).await.unwrap();
    let taken = take(b, 10).await;
    s.sent("up", &taken[0], &[], ms(1_000)).await.unwrap();
    assert!(take(b, 10).await.is_empty());
    assert_eq!(s.queue_depth("up").await.unwrap(), 0);
}

pub async fn retry_waits_for_its_delay_and_rejoins_the_queue<B: Backend>(b: &B) {
    const DELAY_MS: u64 = 400;
    let s = b.store();
    s.init_credit("u", 1_000_000).await.unwrap();
    let a = message("a", "u", 1, 1_000);
    s.submit(sub(&a, None, Some(1_000))).await.unwrap();
    let taken = take(b, 10).await;
    assert_eq!(s.queue_depth("up").await.unwrap(), 0);
    s.retry("up", &taken[0], ms(DELAY_MS)).await.unwrap();
    // Waiting in the retry set counts as queued, and against the limit.
    assert_eq!(s.queue_depth("up").await.unwrap(), 1);
    assert_eq!(
        s.status("a").await.unwrap().unwrap().state,
        MessageState::Enroute
    );
    let m = message("b", "u", 1, 1_000);
    let mut x = sub(&m, None, Some(1_000));
    x.queue_limit = 1;
    assert_eq!(s.submit(x).await, Err(Refusal::QueueFull));
    s.submit(sub(&m, None, Some(1_000))).await.unwrap();
    assert_eq!(s.queue_depth("up").await.unwrap(), 2);
    b.pass(DELAY_MS - b.tick()).await;
    let got_b = take(b, 10).await;
    assert_eq!(ids(&got_b), vec!["b"]);
    s.sent("up", &got_b[0], &[], ms(1_000)).await.unwrap();
    assert!(take(b, 10).await.is_empty());
    b.pass(b.tick()).await;
    let again = take(b, 10).await;
    assert_eq!(ids(&again), vec!["a"]);
    assert_eq!(*again[0].message, a);
    assert_ne!(again[0].token, taken[0].token);
    assert_eq!(s.queue_depth("up").await.unwrap(), 0);
    // The first token was settled by the retry: no second retry.
    s.retry("up", &taken[0], Duration::ZERO).await.unwrap();
    assert!(take(b, 10).await.is_empty());
    assert_eq!(s.queue_depth("up").await.unwrap(), 0);
    // Charged once, never refunded by retries.
    assert_eq!(s.balance("u").await.unwrap(), Some(998_000));
}

pub async fn fail_is_final_and_refunds_tracked_credit_once<B: Backend>(b: &B) {
    let s = b.store();
    s.init_credit("u", 1_000_000).await.unwrap();
    let a = message("a", "u", 2, 100_000);
    s.submit(sub(&a, None, Some(a.charge_micro())))
        .await
        .unwrap();
    assert_eq!(s.balance("u").await.unwrap(), Some(800_000));
    let taken = take(b, 10).await;
    b.pass(b.tick()).await;
    let before = b.now_ms();
    s.fail(
        "up",
        &taken[0],
        MessageState::Rejected,
        0x45,
        Duration::from_secs(60),
    )
    .await
    .unwrap();
    let after = b.now_ms();
    let st = s.status("a").await.unwrap().unwrap();
    assert_eq!(st.state, MessageState::Rejected);
    assert_eq!(st.error_code, 0x45);
    b.assert_between(st.final_ms.unwrap(), before, after);
    assert_eq!(s.balance("u").await.unwrap(), Some(1_000_000));
    assert!(take(b, 10).await.is_empty());
    assert_eq!(s.queue_depth("up").await.unwrap(), 0);
    // Settled: a second fail (or a cancel) changes and refunds nothing.
    s.fail(
        "up",
        &taken[0],
        MessageState::Undeliverable,
        1,
        Duration::from_secs(60),
    )
    .await
    .unwrap();
    assert_eq!(s.status("a").await.unwrap().unwrap(), st);
    assert_eq!(s.balance("u").await.unwrap(), Some(1_000_000));
    assert_eq!(s.cancel("a", "u").await.unwrap(), CancelOutcome::TooLate);

    // Unlimited: no credit tracked, and fail does not make it tracked.
    let f = message("f", "free", 1, 100_000);
    s.submit(sub(&f, None, None)).await.unwrap();
    let taken = take(b, 10).await;
    s.fail(
        "up",
        &taken[0],
        MessageState::Expired,
        0,
        Duration::from_secs(60),
    )
    .await
    .unwrap();
    assert_eq!(
        s.status("f").await.unwrap().unwrap().state,
        MessageState::Expired
    );
    assert_eq!(s.balance("free").await.unwrap(), None);
    // Submitted while unlimited, credit tracked since: nothing was
    // charged, so nothing is refunded.
    let g = message("g", "v", 1, 100_000);
    s.submit(sub(&g, None, None)).await.unwrap();
    s.init_credit("v", 5).await.unwrap();
    let taken = take(b, 10).await;
    s.fail(
        "up",
        &taken[0],
        MessageState::Rejected,
        0,
        Duration::from_secs(60),
    )
    .await
    .unwrap();
    assert_eq!(s.balance("v").await.unwrap(), Some(5));
}

pub async fn a_message_in_the_retry_set_can_be_cancelled<B: Backend>(b: &B) {
    const DELAY_MS: u64 = 400;
    let s = b.store();
    s.init_credit("u", 1_000_000).await.unwrap();
    let a = message("a", "u", 1, 1_000);
    s.submit(sub(&a, None, Some(1_000))).await.unwrap();
    let taken = take(b, 10).await;
    s.retry("up", &taken[0], ms(DELAY_MS)).await.unwrap();
    assert_eq!(s.cancel("a", "v").await.unwrap(), CancelOutcome::NotFound);
    let before = b.now_ms();
    assert_eq!(s.cancel("a", "u").await.unwrap(), CancelOutcome::Cancelled);
    let after = b.now_ms();
    let st = s.status("a").await.unwrap().unwrap();
    assert_eq!(st.state, MessageState::Deleted);
    b.assert_between(st.final_ms.unwrap(), before, after);
    assert_eq!(s.balance("u").await.unwrap(), Some(1_000_000));
    assert_eq!(s.queue_depth("up").await.unwrap(), 0);
    // Its retry time comes and goes: nothing to take.
    b.pass(DELAY_MS + b.tick()).await;
    assert!(take(b, 10).await.is_empty());
    assert_eq!(s.cancel("a", "u").await.unwrap(), CancelOutcome::TooLate);
    assert_eq!(s.balance("u").await.unwrap(), Some(1_000_000));

    // Due and back in the queue, not taken yet: still cancellable.
    let m = message("b", "u", 1, 1_000);
    s.submit(sub(&m, None, Some(1_000))).await.unwrap();
    let taken = take(b, 10).await;
    s.retry("up", &taken[0], ms(DELAY_MS)).await.unwrap();
    let c = message("c", "u", 1, 1_000);
    s.submit(sub(&c, None, Some(1_000))).await.unwrap();
    b.pass(DELAY_MS).await;
    // This take moves b to the queue's back and takes only c.
    let got_c = take(b, 1).await;
    assert_eq!(ids(&got_c), vec!["c"]);
    assert_eq!(s.queue_depth("up").await.unwrap(), 1);
    assert_eq!(s.cancel("b", "u").await.unwrap(), CancelOutcome::Cancelled);
    assert_eq!(s.queue_depth("up").await.unwrap(), 0);
    assert!(take(b, 10).await.is_empty());
    assert_eq!(s.balance("u").await.unwrap(), Some(999_000));

    // Back in the queue and taken again: too late.
    s.retry("up", &got_c[0], ms(1)).await.unwrap();
    b.pass(b.tick()).await;
    let again = take(b, 10).await;
    assert_eq!(ids(&again), vec!["c"]);
    assert_eq!(s.cancel("c", "u").await.unwrap(), CancelOutcome::TooLate);
    s.sent("up", &again[0], &["c1".into()], ms(1_000))
        .await
        .unwrap();
    assert_eq!(s.cancel("c", "u").await.unwrap(), CancelOutcome::TooLate);
    assert_eq!(s.queue_depth("up").await.unwrap(), 0);
    assert_eq!(s.balance("u").await.unwrap(), Some(999_000));
}

/// A taker that died: what it took is handed out again, the same token,
/// first, once it was idle for the reclaim time.
pub async fn an_unsettled_message_is_handed_out_again<B: Backend>(b: &B) {
    let s = b.store();
    let reclaim = b.reclaim_ms();
    for i in 0..2 {
        let m = message(&format!("m{i}"), "u", 1, 0);
        s.submit(sub(&m, None, None)).await.unwrap();
    }
    let first = take(b, 1).await;
    assert_eq!(ids(&first), vec!["m0"]);
    b.pass(reclaim - b.tick()).await;
    assert_eq!(ids(&take(b, 10).await), vec!["m1"]);
    b.pass(b.tick()).await;
    let m2 = message("m2", "u", 1, 0);
    s.submit(sub(&m2, None, None)).await.unwrap();
    let again = take(b, 10).await;
    assert_eq!(ids(&again), vec!["m0", "m2"]);
    assert_eq!(again[0], first[0]);
    // Handed out again: idle time starts over.
    assert!(take(b, 10).await.is_empty());
    s.sent("up", &again[0], &["x".into()], TTL).await.unwrap();
    b.pass(reclaim).await;
    // m0 is settled; m1 and m2 were never settled.
    assert_eq!(ids(&take(b, 10).await), vec!["m1", "m2"]);
    assert_eq!(s.upstream("up", "x").await.unwrap().as_deref(), Some("m0"));
}

/// Runs on the real clock: a blocked take waits out its time, wakes for
/// a submit to its own connector, and for a retry falling due.
pub async fn a_blocking_take_waits_and_wakes_for_a_submit_or_a_retry<B: Backend>(b: &B) {
    let s = b.store();
    let t0 = Instant::now();
    assert!(b.take("up", "w", 10, ms(300)).await.unwrap().is_empty());
    assert!(t0.elapsed() >= ms(300), "{:?}", t0.elapsed());

    let waiter = {
        let s = s.clone();
        tokio::spawn(async move { s.take("up", "w", 10, ms(10_000)).await })
    };
    tokio::time::sleep(ms(200)).await;
    assert!(!waiter.is_finished());
    // Another connector's submit does not hand it anything.
    let mut o = message("o", "u", 1, 0);
    o.connectors = vec!["other".into()];
    s.submit(sub(&o, None, None)).await.unwrap();
    tokio::time::sleep(ms(50)).await;
    assert!(!waiter.is_finished());
    let t0 = Instant::now();
    // (On redis: the pool is not held up by the blocked read.)
    let m = message("late", "u", 1, 0);
    s.submit(sub(&m, None, None)).await.unwrap();
    let got = waiter.await.unwrap().unwrap();
    assert_eq!(ids(&got), vec!["late"]);
    assert!(t0.elapsed() < Duration::from_secs(2), "{:?}", t0.elapsed());
    assert_eq!(s.cancel("late", "u").await.unwrap(), CancelOutcome::TooLate);

    // A retry falling due while blocked is taken when due.
    s.retry("up", &got[0], ms(300)).await.unwrap();
    let t0 = Instant::now();
    let again = b.take("up", "w", 10, ms(5_000)).await.unwrap();
    let waited = t0.elapsed();
    assert_eq!(ids(&again), vec!["late"]);
    assert!(
        waited >= ms(250) && waited < Duration::from_secs(2),
        "{waited:?}"
    );
    s.sent("up", &again[0], &["z".into()], ms(10_000))
        .await
        .unwrap();
    assert_eq!(
        s.upstream("up", "z").await.unwrap().as_deref(),
        Some("late")
    );
    assert!(take(b, 10).await.is_empty());
    assert_eq!(s.queue_depth("up").await.unwrap(), 0);
}

/// A take moves at most `max` due retries to the queue's back, earliest
/// due first (redis' `promote(connector, max)`): a due retry it did not
/// move is overtaken by a message submitted before the next take.
pub async fn a_take_moves_at_most_max_due_retries_earliest_due_first<B: Backend>(b: &B) {
    let s = b.store();
    for i in 0..3 {
        let m = message(&format!("m{i}"), "u", 1, 0);
        s.submit(sub(&m, None, None)).await.unwrap();
    }
    let t = take(b, 3).await;
    assert_eq!(ids(&t), vec!["m0", "m1", "m2"]);
    // Due now, in the order m2, m0, m1 (not their ids' order).
    for i in [2, 0, 1] {
        s.retry("up", &t[i], Duration::ZERO).await.unwrap();
        b.pass(b.tick()).await;
    }
    assert_eq!(s.queue_depth("up").await.unwrap(), 3);
    // A take of one moves only the earliest due.
    assert_eq!(ids(&take(b, 1).await), vec!["m2"]);
    assert_eq!(s.queue_depth("up").await.unwrap(), 2);
    let m3 = message("m3", "u", 1, 0);
    s.submit(sub(&m3, None, None)).await.unwrap();
    // m0 and m1 join the queue's back behind m3 now.
    assert_eq!(ids(&take(b, 2).await), vec!["m3", "m0"]);
    assert_eq!(s.queue_depth("up").await.unwrap(), 1);
    let m4 = message("m4", "u", 1, 0);
    s.submit(sub(&m4, None, None)).await.unwrap();
    assert_eq!(ids(&take(b, 10).await), vec!["m1", "m4"]);
    assert_eq!(s.queue_depth("up").await.unwrap(), 0);
}

/// A take of 0 answers at once, even asked to block, and moves no due
/// retry: a message submitted after it is taken first.
pub async fn a_take_of_none_moves_nothing<B: Backend>(b: &B) {
    let s = b.store();
    let a = message("a", "u", 1, 0);
    s.submit(sub(&a, None, None)).await.unwrap();
    let t = take(b, 1).await;
    s.retry("up", &t[0], Duration::ZERO).await.unwrap();
    b.pass(b.tick()).await;
    let t0 = Instant::now();
    assert!(b.take("up", "w", 0, ms(5_000)).await.unwrap().is_empty());
    assert!(t0.elapsed() < Duration::from_secs(2), "{:?}", t0.elapsed());
    assert_eq!(s.queue_depth("up").await.unwrap(), 1);
    let m = message("b", "u", 1, 0);
    s.submit(sub(&m, None, None)).await.unwrap();
    assert_eq!(ids(&take(b, 10).await), vec!["b", "a"]);
    assert_eq!(s.queue_depth("up").await.unwrap(), 0);
}

/// A retry delay too long to mean anything (`Duration::MAX`) is not due:
/// the message stays in the retry set, counted in the queue's depth, and
/// is not handed out.
pub async fn an_absurd_retry_delay_is_never_due<B: Backend>(b: &B) {
    let s = b.store();
    for id in ["a", "b"] {
        s.submit(sub(&message(id, "u", 1, 0), None, None))
            .await
            .unwrap();
    }
    let t = take(b, 10).await;
    s.retry("up", &t[0], Duration::MAX).await.unwrap();
    s.retry("up", &t[1], Duration::from_millis(u64::MAX))
        .await
        .unwrap();
    b.pass(b.tick()).await;
    assert!(take(b, 10).await.is_empty());
    assert_eq!(s.queue_depth("up").await.unwrap(), 2);
}
