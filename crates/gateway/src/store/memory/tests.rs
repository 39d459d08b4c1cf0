//! The memory backend's own tests, moved unchanged from the single
//! memory.rs (only the paths of three internal maps follow the split),
//! plus the tests of the submit idempotence and of `sent` recording parts
//! like redis. Longer than one sitting because it is one suite kept whole
//! until the cross-backend contract suite in `tests/` replaces it.

use super::*;
use std::sync::atomic::{AtomicI64, Ordering};

fn message(id: &str, user: &str, parts: u32, rate: i64) -> StoredMessage {
    StoredMessage {
        id: id.into(),
        user: user.into(),
        connectors: vec!["up".into()],
        submit: Default::default(),
        parts,
        rate_micro: rate,
        accepted_ms: 0,
        expires_ms: None,
    }
}

fn sub(m: &StoredMessage, throttle: Option<Limit>, charge: Option<i64>) -> Submission<'_> {
    Submission {
        message: m,
        throttle,
        charge_micro: charge,
        queue_limit: 1000,
    }
}

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

async fn take(s: &MemoryStore, max: usize) -> Vec<Taken> {
    s.take("up", "w", max, Duration::ZERO).await.unwrap()
}

fn ids(taken: &[Taken]) -> Vec<String> {
    taken.iter().map(|t| t.message.id.clone()).collect()
}

async fn state(s: &MemoryStore, id: &str) -> MessageState {
    s.status(id).await.unwrap().unwrap().state
}

#[tokio::test]
async fn credit_is_charged_atomically_and_refunded_on_cancel() {
    let s = MemoryStore::new();
    s.init_credit("u", 1_000_000).await.unwrap();
    s.init_credit("u", 99).await.unwrap(); // already tracked: unchanged
    let a = message("a", "u", 2, 300_000);
    s.submit(sub(&a, None, Some(a.charge_micro())))
        .await
        .unwrap();
    assert_eq!(s.balance("u").await.unwrap(), Some(400_000));
    let b = message("b", "u", 2, 300_000);
    assert_eq!(
        s.submit(sub(&b, None, Some(b.charge_micro()))).await,
        Err(Refusal::NoCredit)
    );
    assert_eq!(s.balance("u").await.unwrap(), Some(400_000));
    assert_eq!(s.queue_depth("up").await.unwrap(), 1);
    assert_eq!(
        s.cancel("a", "someone-else").await.unwrap(),
        CancelOutcome::NotFound
    );
    assert_eq!(s.cancel("a", "u").await.unwrap(), CancelOutcome::Cancelled);
    assert_eq!(s.balance("u").await.unwrap(), Some(1_000_000));
    assert_eq!(s.queue_depth("up").await.unwrap(), 0);
    assert_eq!(state(&s, "a").await, MessageState::Deleted);
    assert_eq!(s.cancel("a", "u").await.unwrap(), CancelOutcome::TooLate);
    assert_eq!(s.balance("u").await.unwrap(), Some(1_000_000));
    assert!(take(&s, 10).await.is_empty());
}

#[tokio::test]
async fn throttle_refusal_changes_nothing() {
    let (s, t) = clocked();
    s.init_credit("u", 10_000_000).await.unwrap();
    let limit = Some(Limit { rate: 10, burst: 2 });
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
    t.fetch_add(100_000, Ordering::Relaxed);
    s.submit(sub(&m, limit, Some(1_000_000))).await.unwrap();
}

#[tokio::test]
async fn queue_limit_and_taking_in_order() {
    let s = MemoryStore::new();
    for i in 0..3 {
        let m = message(&format!("m{i}"), "u", 1, 0);
        let mut x = sub(&m, None, None);
        x.queue_limit = 3;
        s.submit(x).await.unwrap();
    }
    let m = message("m3", "u", 1, 0);
    let mut x = sub(&m, None, None);
    x.queue_limit = 3;
    assert_eq!(s.submit(x).await, Err(Refusal::QueueFull));
    assert_eq!(ids(&take(&s, 2).await), vec!["m0", "m1"]);
    assert_eq!(s.queue_depth("up").await.unwrap(), 1);
    // Taken (being sent upstream): too late to cancel.
    assert_eq!(s.cancel("m0", "u").await.unwrap(), CancelOutcome::TooLate);
    assert_eq!(state(&s, "m2").await, MessageState::Enroute);
    assert!(
        s.take("up", "w", 0, Duration::ZERO)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        s.take("nowhere", "w", 10, Duration::ZERO)
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn sent_maps_upstream_ids_until_their_ttl() {
    let (s, t) = clocked();
    let m = message("a", "u", 2, 0);
    s.submit(sub(&m, None, None)).await.unwrap();
    let taken = take(&s, 10).await;
    assert_eq!(ids(&taken), vec!["a"]);
    assert_eq!(*taken[0].message, m);
    let up = vec!["x1".to_string(), "x2".to_string()];
    s.sent("up", &taken[0], &up, Duration::from_secs(10))
        .await
        .unwrap();
    assert_eq!(s.upstream("up", "x1").await.unwrap().as_deref(), Some("a"));
    assert_eq!(s.upstream("up", "x2").await.unwrap().as_deref(), Some("a"));
    // Per connector.
    assert_eq!(s.upstream("other", "x1").await.unwrap(), None);
    assert_eq!(s.upstream("up", "nope").await.unwrap(), None);
    // Sent: still ENROUTE (until its receipt), too late to cancel,
    // settled (a retry of the settled token changes nothing).
    assert_eq!(state(&s, "a").await, MessageState::Enroute);
    assert_eq!(s.cancel("a", "u").await.unwrap(), CancelOutcome::TooLate);
    s.retry("up", &taken[0], Duration::ZERO).await.unwrap();
    assert!(take(&s, 10).await.is_empty());
    assert_eq!(s.queue_depth("up").await.unwrap(), 0);

    advance(&t, 9_999);
    assert_eq!(s.upstream("up", "x1").await.unwrap().as_deref(), Some("a"));
    advance(&t, 1);
    assert_eq!(s.upstream("up", "x1").await.unwrap(), None);
    // A later sent sweeps the expired mappings.
    let b = message("b", "u", 1, 0);
    s.submit(sub(&b, None, None)).await.unwrap();
    let taken = take(&s, 10).await;
    s.sent("up", &taken[0], &["y".into()], Duration::from_secs(10))
        .await
        .unwrap();
    let g = s.lock().unwrap();
    assert_eq!(g.receipts.upstream.len(), 1);
    assert_eq!(g.receipts.upstream_expiry.len(), 1);
    assert!(g.mt.held.is_empty());
}

#[tokio::test]
async fn retry_waits_for_its_delay_and_rejoins_the_queue() {
    let (s, t) = clocked();
    s.init_credit("u", 1_000_000).await.unwrap();
    let a = message("a", "u", 1, 1_000);
    s.submit(sub(&a, None, Some(1_000))).await.unwrap();
    let taken = take(&s, 10).await;
    assert_eq!(s.queue_depth("up").await.unwrap(), 0);
    s.retry("up", &taken[0], Duration::from_secs(5))
        .await
        .unwrap();
    // Waiting in the retry set counts as queued.
    assert_eq!(s.queue_depth("up").await.unwrap(), 1);
    assert_eq!(state(&s, "a").await, MessageState::Enroute);
    let b = message("b", "u", 1, 1_000);
    s.submit(sub(&b, None, Some(1_000))).await.unwrap();
    assert_eq!(s.queue_depth("up").await.unwrap(), 2);
    advance(&t, 4_999);
    assert_eq!(ids(&take(&s, 10).await), vec!["b"]);
    assert!(take(&s, 10).await.is_empty());
    advance(&t, 1);
    let again = take(&s, 10).await;
    assert_eq!(ids(&again), vec!["a"]);
    assert_ne!(again[0].token, taken[0].token);
    assert_eq!(s.queue_depth("up").await.unwrap(), 0);
    // The first token was settled by the retry: no second retry.
    s.retry("up", &taken[0], Duration::ZERO).await.unwrap();
    assert!(take(&s, 10).await.is_empty());
    // Charged once, never refunded by retries.
    assert_eq!(s.balance("u").await.unwrap(), Some(998_000));
}

#[tokio::test]
async fn fail_is_final_and_refunds_tracked_credit_once() {
    let (s, t) = clocked();
    s.init_credit("u", 1_000_000).await.unwrap();
    let a = message("a", "u", 2, 100_000);
    s.submit(sub(&a, None, Some(a.charge_micro())))
        .await
        .unwrap();
    assert_eq!(s.balance("u").await.unwrap(), Some(800_000));
    let taken = take(&s, 10).await;
    advance(&t, 1_234);
    s.fail(
        "up",
        &taken[0],
        MessageState::Rejected,
        0x45,
        Duration::from_secs(60),
    )
    .await
    .unwrap();
    let st = s.status("a").await.unwrap().unwrap();
    assert_eq!(st.state, MessageState::Rejected);
    assert_eq!(st.error_code, 0x45);
    assert_eq!(st.final_ms, Some(1_000_000_000 + 1_234));
    assert_eq!(s.balance("u").await.unwrap(), Some(1_000_000));
    // Settled: a second fail (or a cancel) refunds nothing more.
    s.fail(
        "up",
        &taken[0],
        MessageState::Undeliverable,
        1,
        Duration::from_secs(60),
    )
    .await
    .unwrap();
    assert_eq!(state(&s, "a").await, MessageState::Rejected);
    assert_eq!(s.balance("u").await.unwrap(), Some(1_000_000));
    assert_eq!(s.cancel("a", "u").await.unwrap(), CancelOutcome::TooLate);

    // Unlimited: no credit tracked, none appears.
    let f = message("f", "free", 1, 100_000);
    s.submit(sub(&f, None, None)).await.unwrap();
    let taken = take(&s, 10).await;
    s.fail(
        "up",
        &taken[0],
        MessageState::Expired,
        0,
        Duration::from_secs(60),
    )
    .await
    .unwrap();
    assert_eq!(state(&s, "f").await, MessageState::Expired);
    assert_eq!(s.balance("free").await.unwrap(), None);
    // Submitted while unlimited, credit tracked since: nothing was
    // charged, so nothing is refunded.
    let g = message("g", "v", 1, 100_000);
    s.submit(sub(&g, None, None)).await.unwrap();
    s.init_credit("v", 5).await.unwrap();
    let taken = take(&s, 10).await;
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

#[tokio::test]
async fn a_message_in_the_retry_set_can_be_cancelled() {
    let (s, t) = clocked();
    s.init_credit("u", 1_000_000).await.unwrap();
    let a = message("a", "u", 1, 1_000);
    s.submit(sub(&a, None, Some(1_000))).await.unwrap();
    let taken = take(&s, 10).await;
    s.retry("up", &taken[0], Duration::from_secs(5))
        .await
        .unwrap();
    assert_eq!(s.cancel("a", "v").await.unwrap(), CancelOutcome::NotFound);
    assert_eq!(s.cancel("a", "u").await.unwrap(), CancelOutcome::Cancelled);
    assert_eq!(state(&s, "a").await, MessageState::Deleted);
    assert_eq!(s.balance("u").await.unwrap(), Some(1_000_000));
    assert_eq!(s.queue_depth("up").await.unwrap(), 0);
    advance(&t, 10_000);
    assert!(take(&s, 10).await.is_empty());
    assert_eq!(s.cancel("a", "u").await.unwrap(), CancelOutcome::TooLate);

    // Due and back in the queue, not taken yet: still cancellable.
    let b = message("b", "u", 1, 1_000);
    s.submit(sub(&b, None, Some(1_000))).await.unwrap();
    let taken = take(&s, 10).await;
    s.retry("up", &taken[0], Duration::from_secs(1))
        .await
        .unwrap();
    let c = message("c", "u", 1, 1_000);
    s.submit(sub(&c, None, Some(1_000))).await.unwrap();
    advance(&t, 1_000);
    // This take moves b to the queue's back and takes only c.
    assert_eq!(ids(&take(&s, 1).await), vec!["c"]);
    assert_eq!(s.queue_depth("up").await.unwrap(), 1);
    assert_eq!(s.cancel("b", "u").await.unwrap(), CancelOutcome::Cancelled);
    assert_eq!(s.queue_depth("up").await.unwrap(), 0);
    assert!(take(&s, 10).await.is_empty());
    assert_eq!(s.balance("u").await.unwrap(), Some(999_000));
}

#[tokio::test]
async fn an_unsettled_message_is_handed_out_again() {
    let (s, t) = clocked();
    for i in 0..2 {
        let m = message(&format!("m{i}"), "u", 1, 0);
        s.submit(sub(&m, None, None)).await.unwrap();
    }
    let first = take(&s, 1).await;
    assert_eq!(ids(&first), vec!["m0"]);
    advance(&t, RECLAIM_AFTER_MS as i64 - 1);
    assert_eq!(ids(&take(&s, 10).await), vec!["m1"]);
    advance(&t, 1);
    // m0's taker died: the same token, to whoever takes next, first.
    let m2 = message("m2", "u", 1, 0);
    s.submit(sub(&m2, None, None)).await.unwrap();
    let again = take(&s, 10).await;
    assert_eq!(ids(&again), vec!["m0", "m2"]);
    assert_eq!(again[0], first[0]);
    // Handed out again: idle time starts over.
    assert!(take(&s, 10).await.is_empty());
    s.sent("up", &again[0], &["x".into()], Duration::from_secs(60))
        .await
        .unwrap();
    advance(&t, RECLAIM_AFTER_MS as i64);
    // m0 is settled; m1 and m2 were never settled.
    assert_eq!(ids(&take(&s, 10).await), vec!["m1", "m2"]);
}

#[tokio::test]
async fn a_blocking_take_waits_and_wakes_for_a_submit_or_a_retry() {
    let s = MemoryStore::new();
    let t0 = std::time::Instant::now();
    let got = s
        .take("up", "w", 10, Duration::from_millis(150))
        .await
        .unwrap();
    assert!(got.is_empty());
    assert!(t0.elapsed() >= Duration::from_millis(150));

    let waiter = {
        let s = s.clone();
        tokio::spawn(async move { s.take("up", "w", 10, Duration::from_secs(10)).await })
    };
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(!waiter.is_finished());
    // Another connector's submit does not hand it anything.
    let mut o = message("o", "u", 1, 0);
    o.connectors = vec!["other".into()];
    s.submit(sub(&o, None, None)).await.unwrap();
    let t0 = std::time::Instant::now();
    let m = message("late", "u", 1, 0);
    s.submit(sub(&m, None, None)).await.unwrap();
    let got = waiter.await.unwrap().unwrap();
    assert_eq!(ids(&got), vec!["late"]);
    assert!(t0.elapsed() < Duration::from_secs(2));

    // A retry falling due while blocked is taken when due.
    s.retry("up", &got[0], Duration::from_millis(200))
        .await
        .unwrap();
    let t0 = std::time::Instant::now();
    let again = s
        .take("up", "w", 10, Duration::from_secs(10))
        .await
        .unwrap();
    assert_eq!(ids(&again), vec!["late"]);
    let waited = t0.elapsed();
    assert!(
        waited >= Duration::from_millis(150) && waited < Duration::from_secs(5),
        "{waited:?}"
    );
}

#[tokio::test]
async fn forgetting_old_states_spares_messages_in_flight() {
    let (s, t) = clocked();
    let a = message("a", "u", 1, 0);
    let b = message("b", "u", 1, 0);
    s.submit(sub(&a, None, None)).await.unwrap();
    s.submit(sub(&b, None, None)).await.unwrap();
    let taken = take(&s, 1).await;
    s.sent("up", &taken[0], &[], Duration::from_secs(1))
        .await
        .unwrap();
    advance(&t, STATUS_RETENTION_MS);
    let c = message("c", "u", 1, 0);
    s.submit(sub(&c, None, None)).await.unwrap();
    assert_eq!(s.status("a").await.unwrap(), None);
    assert!(s.status("b").await.unwrap().is_some());
    assert_eq!(ids(&take(&s, 10).await), vec!["b", "c"]);
}

// ---- receipts and delivery queues ----

const TTL: Duration = Duration::from_secs(3600);

fn with_rd(id: &str, rd: u8) -> StoredMessage {
    let mut m = message(id, "u", 1, 0);
    m.submit.registered_delivery = smpp::pdu::RegisteredDelivery(rd);
    m
}

fn part(state: MessageState) -> PartReceipt {
    PartReceipt {
        state,
        error_code: if state == MessageState::Delivered {
            0
        } else {
            7
        },
        done_ms: 5,
    }
}

/// Submit, take and send `m` with these upstream ids.
async fn sent_as(s: &MemoryStore, m: &StoredMessage, ups: &[&str]) {
    s.submit(sub(m, None, None)).await.unwrap();
    let t = take(s, 1).await;
    let ups: Vec<String> = ups.iter().map(|u| u.to_string()).collect();
    s.sent("up", &t[0], &ups, TTL).await.unwrap();
}

async fn receipts(s: &MemoryStore, user: &str) -> Vec<UserReceipt> {
    let got = s
        .take_deliveries(user, "c", 100, Duration::ZERO)
        .await
        .unwrap();
    let mut out = Vec::new();
    for d in got {
        s.delivered(user, std::slice::from_ref(&d.token))
            .await
            .unwrap();
        if let DeliveryItem::Receipt(r) = d.item {
            out.push(*r);
        }
    }
    out
}

#[tokio::test]
async fn a_final_receipt_is_queued_per_registered_delivery() {
    let s = MemoryStore::new();
    for (id, rd) in [("none", 0), ("final", 1), ("fail-only", 2)] {
        sent_as(&s, &with_rd(id, rd), &[id]).await;
        let out = s
            .receipt("up", id, part(MessageState::Delivered), TTL)
            .await
            .unwrap();
        assert_eq!(
            out,
            ReceiptOutcome::Final {
                state: MessageState::Delivered,
                queued: rd == 1
            }
        );
        assert_eq!(state(&s, id).await, MessageState::Delivered);
    }
    let r = receipts(&s, "u").await;
    assert_eq!(r.len(), 1);
    assert_eq!(
        (r[0].message.id.as_str(), r[0].sub, r[0].dlvrd),
        ("final", 1, 1)
    );
    // Failure-only gets the failure.
    sent_as(&s, &with_rd("bad", 2), &["bad"]).await;
    s.receipt("up", "bad", part(MessageState::Undeliverable), TTL)
        .await
        .unwrap();
    let r = receipts(&s, "u").await;
    assert_eq!(r.len(), 1);
    assert_eq!(
        (r[0].state, r[0].error_code),
        (MessageState::Undeliverable, 7)
    );
    assert_eq!(s.status("bad").await.unwrap().unwrap().error_code, 7);
    // A repeated receipt changes nothing.
    assert_eq!(
        s.receipt("up", "bad", part(MessageState::Undeliverable), TTL)
            .await
            .unwrap(),
        ReceiptOutcome::Duplicate
    );
    assert!(receipts(&s, "u").await.is_empty());
}

#[tokio::test]
async fn parts_are_summed_into_one_receipt() {
    let s = MemoryStore::new();
    sent_as(&s, &with_rd("m", 1), &["p1", "p2", "p3"]).await;
    let r = |u: &'static str, st| s.receipt("up", u, part(st), TTL);
    assert_eq!(
        r("p1", MessageState::Delivered).await.unwrap(),
        ReceiptOutcome::Partial
    );
    assert_eq!(
        r("p2", MessageState::Undeliverable).await.unwrap(),
        ReceiptOutcome::Partial
    );
    assert_eq!(
        r("p2", MessageState::Delivered).await.unwrap(),
        ReceiptOutcome::Duplicate
    );
    assert_eq!(state(&s, "m").await, MessageState::Enroute);
    assert_eq!(
        r("p3", MessageState::Delivered).await.unwrap(),
        ReceiptOutcome::Final {
            state: MessageState::Undeliverable,
            queued: true
        }
    );
    let got = receipts(&s, "u").await;
    assert_eq!(got.len(), 1);
    assert_eq!((got[0].sub, got[0].dlvrd), (3, 2));
}

#[tokio::test]
async fn a_receipt_before_its_mapping_is_held_and_applied() {
    let s = MemoryStore::new();
    let m = with_rd("m", 1);
    s.submit(sub(&m, None, None)).await.unwrap();
    let t = take(&s, 1).await;
    assert_eq!(
        s.receipt("up", "u1", part(MessageState::Delivered), TTL)
            .await
            .unwrap(),
        ReceiptOutcome::Held
    );
    assert!(receipts(&s, "u").await.is_empty());
    s.sent("up", &t[0], &["u1".to_string()], TTL).await.unwrap();
    assert_eq!(state(&s, "m").await, MessageState::Delivered);
    assert_eq!(receipts(&s, "u").await.len(), 1);
    // Sent again (a repeated settle): nothing more.
    s.sent("up", &t[0], &["u1".to_string()], TTL).await.unwrap();
    assert!(receipts(&s, "u").await.is_empty());
}

#[tokio::test]
async fn intermediate_receipts_only_when_asked() {
    let s = MemoryStore::new();
    sent_as(&s, &with_rd("i", 0x11), &["ui"]).await;
    sent_as(&s, &with_rd("f", 0x01), &["uf"]).await;
    for u in ["ui", "uf"] {
        s.receipt("up", u, part(MessageState::Enroute), TTL)
            .await
            .unwrap();
    }
    let got = receipts(&s, "u").await;
    assert_eq!(got.len(), 1);
    assert_eq!(
        (got[0].message.id.as_str(), got[0].state),
        ("i", MessageState::Enroute)
    );
    assert_eq!(state(&s, "i").await, MessageState::Enroute);
}

#[tokio::test]
async fn a_permanent_failure_queues_its_receipt_once() {
    let s = MemoryStore::new();
    let m = with_rd("r", 1);
    s.submit(sub(&m, None, None)).await.unwrap();
    let t = take(&s, 1).await;
    s.fail("up", &t[0], MessageState::Rejected, 0x45, TTL)
        .await
        .unwrap();
    s.fail("up", &t[0], MessageState::Rejected, 0x45, TTL)
        .await
        .unwrap();
    let got = receipts(&s, "u").await;
    assert_eq!(got.len(), 1);
    assert_eq!(
        (got[0].state, got[0].dlvrd, got[0].error_code),
        (MessageState::Rejected, 0, 0x45)
    );
}

#[tokio::test]
async fn deliveries_wait_are_given_back_and_expire() {
    let (s, clock) = clocked();
    let mo = DeliveryItem::Mo(Default::default());
    s.deliver("u", &mo, Duration::from_secs(10)).await.unwrap();
    s.deliver("u", &mo, Duration::from_secs(10)).await.unwrap();
    assert_eq!(s.delivery_depth("u").await.unwrap(), 2);
    let got = s
        .take_deliveries("u", "c", 1, Duration::ZERO)
        .await
        .unwrap();
    assert_eq!(got.len(), 1);
    s.redeliver("u", &got[0].token).await.unwrap();
    s.redeliver("u", &got[0].token).await.unwrap(); // not held: nothing
    assert_eq!(s.delivery_depth("u").await.unwrap(), 2);
    let all = s
        .take_deliveries("u", "c", 10, Duration::ZERO)
        .await
        .unwrap();
    assert_eq!(all.len(), 2);
    s.delivered("u", std::slice::from_ref(&all[0].token))
        .await
        .unwrap();
    assert_eq!(s.delivery_depth("u").await.unwrap(), 1);
    assert!(all[1].expires_ms > all[1].queued_ms);
    // Taken and never settled: handed out again after the reclaim time.
    assert!(
        s.take_deliveries("u", "c", 10, Duration::ZERO)
            .await
            .unwrap()
            .is_empty()
    );
    advance(&clock, RECLAIM_AFTER_MS as i64);
    let again = s
        .take_deliveries("u", "c", 10, Duration::ZERO)
        .await
        .unwrap();
    assert_eq!(again.len(), 1);
    assert!(again[0].expires_ms <= s.now_ms());
}

#[tokio::test]
async fn a_queue_nobody_takes_from_drops_what_expired() {
    let (s, clock) = clocked();
    let mo = DeliveryItem::Mo(Default::default());
    s.deliver("u", &mo, Duration::from_secs(10)).await.unwrap();
    s.deliver("u", &mo, Duration::from_secs(10)).await.unwrap();
    advance(&clock, 11_000);
    s.deliver("u", &mo, Duration::from_secs(10)).await.unwrap();
    assert_eq!(s.delivery_depth("u").await.unwrap(), 1);
}

// ---- submit is idempotent on the message id (as the redis script) ----

#[tokio::test]
async fn a_second_submit_of_an_accepted_id_changes_nothing() {
    let s = MemoryStore::new();
    s.init_credit("u", 1_000_000).await.unwrap();
    let a = message("a", "u", 2, 100_000);
    let limit = Some(Limit { rate: 1, burst: 2 });
    s.submit(sub(&a, limit, Some(a.charge_micro())))
        .await
        .unwrap();
    assert_eq!(s.balance("u").await.unwrap(), Some(800_000));
    // Again, as after a lost answer: Ok, nothing charged, queued,
    // throttled or refused, even when the queue is full now and the
    // throttle would refuse.
    let mut again = sub(&a, limit, Some(a.charge_micro()));
    again.queue_limit = 0;
    assert_eq!(s.submit(again).await, Ok(()));
    let mut other = a.clone();
    other.connectors = vec!["elsewhere".into()];
    s.submit(sub(&other, None, Some(other.charge_micro())))
        .await
        .unwrap();
    assert_eq!(s.balance("u").await.unwrap(), Some(800_000));
    assert_eq!(s.queue_depth("up").await.unwrap(), 1);
    assert_eq!(s.queue_depth("elsewhere").await.unwrap(), 0);
    let taken = take(&s, 10).await;
    assert_eq!(ids(&taken), vec!["a"]);
    // Taken (or final): still Ok and nothing, not a second message.
    s.submit(sub(&a, None, Some(a.charge_micro())))
        .await
        .unwrap();
    assert!(take(&s, 10).await.is_empty());
    assert_eq!(s.balance("u").await.unwrap(), Some(800_000));
    assert_eq!(state(&s, "a").await, MessageState::Enroute);
}

/// The parts are recorded by the first `sent` that has upstream ids (as
/// the redis script: `n > 0 and HSETNX pn`): a `sent` without any does
/// not leave the message with no parts and its held receipts unapplied.
#[tokio::test]
async fn parts_come_from_the_first_sent_with_upstream_ids() {
    let s = MemoryStore::new();
    let m = with_rd("m", 1);
    s.submit(sub(&m, None, None)).await.unwrap();
    let t = take(&s, 1).await;
    s.sent("up", &t[0], &[], TTL).await.unwrap();
    assert_eq!(
        s.receipt("up", "u1", part(MessageState::Delivered), TTL)
            .await
            .unwrap(),
        ReceiptOutcome::Held
    );
    s.sent("up", &t[0], &["u1".to_string()], TTL).await.unwrap();
    assert_eq!(state(&s, "m").await, MessageState::Delivered);
    let r = receipts(&s, "u").await;
    assert_eq!((r.len(), r[0].sub, r[0].dlvrd), (1, 1, 1));
}
