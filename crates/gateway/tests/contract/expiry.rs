//! Messages whose end never comes: a message still waiting for its
//! connector past its validity expires then (not when a connector takes
//! it), and a message sent whose final receipts never all come ends in
//! the connector's `dlr_expiry_state` when its receipt wait is over;
//! either way its user gets exactly one final receipt
//! ([`Store::expire_waiting`], [`Store::expire_unanswered`]).

use gateway::store::{
    ReceiptOutcome, ReplaceOutcome, Replacement, Store, StoredMessage, UserReceipt,
};
use smpp::MessageState;

use super::{Backend, drain, take, taken};
use crate::common::fixtures::{ms, part, receipt_of, sub, with_rd};

/// `m` with a validity that ends at `until` (ms).
fn valid_until(mut m: StoredMessage, until: i64) -> StoredMessage {
    m.expires_ms = Some(until);
    m
}

/// The receipts waiting for `user`, taken and delivered, by message id.
async fn receipts<B: Backend>(b: &B, user: &str) -> Vec<UserReceipt> {
    let mut got: Vec<UserReceipt> = drain(b, user)
        .await
        .iter()
        .map(|d| receipt_of(d).clone())
        .collect();
    got.sort_by(|a, b| a.message.id.cmp(&b.message.id));
    got
}

/// Queued, in the retry set, taken, and later: only the first two
/// expire when their validity ends, refunded, each with one final
/// EXPIRED receipt (sub = its parts, dlvrd 0); the taken one is its
/// taker's; a second sweep ends nothing more.
pub async fn a_waiting_message_expires_on_time_with_one_receipt<B: Backend>(b: &B) {
    let s = b.store();
    let tick = b.tick();
    let ttl = ms(90_000);
    s.init_credit("u", 10_000_000).await.unwrap();
    let until = b.now_ms() + 4 * tick as i64;
    // Taken first (the queue hands out oldest first), then settled as a
    // retry far off, then taken and held.
    let r = valid_until(with_rd("r", 1, 1), until);
    let t = taken(b, &r).await;
    s.retry("up", &t, ms(3_600_000)).await.unwrap();
    let h = valid_until(with_rd("h", 1, 1), until);
    let held = taken(b, &h).await;
    let q = valid_until(with_rd("q", 3, 1), until);
    s.submit(sub(&q, None, Some(3_000_000))).await.unwrap();
    let later = valid_until(with_rd("later", 1, 1), until + 3_600_000);
    s.submit(sub(&later, None, None)).await.unwrap();
    assert_eq!(s.balance("u").await.unwrap(), Some(7_000_000));
    assert_eq!(s.queue_depth("up").await.unwrap(), 3);

    b.pass(tick).await;
    assert_eq!(s.expire_waiting("up", 100, ttl).await.unwrap(), 0);
    assert_eq!(s.delivery_depth("u").await.unwrap(), 0);

    b.pass(4 * tick).await;
    let before = b.now_ms();
    assert_eq!(s.expire_waiting("up", 100, ttl).await.unwrap(), 2);
    let after = b.now_ms();
    // Once only.
    assert_eq!(s.expire_waiting("up", 100, ttl).await.unwrap(), 0);
    assert_eq!(s.balance("u").await.unwrap(), Some(10_000_000));
    assert_eq!(s.queue_depth("up").await.unwrap(), 1);
    for id in ["q", "r"] {
        let st = s.status(id).await.unwrap().unwrap();
        assert_eq!(st.state, MessageState::Expired, "{id}");
        b.assert_between(st.final_ms.unwrap(), before, after);
        assert_eq!(st.error_code, 0);
    }
    assert_eq!(
        s.status("h").await.unwrap().unwrap().state,
        MessageState::Enroute
    );
    let got = receipts(b, "u").await;
    assert_eq!(got.len(), 2);
    for (r, (m, parts)) in got.iter().zip([(&q, 3), (&r, 1)]) {
        assert_eq!(&*r.message, m);
        assert_eq!(r.state, MessageState::Expired);
        assert_eq!((r.error_code, r.sub, r.dlvrd), (0, parts, 0));
        b.assert_between(r.done_ms, before, after);
    }
    // Not handed out any more: the queue has the later one only (and
    // redis' short reclaim here hands out the held one again); what was
    // taken is settled by its taker (here: sent, as it would be).
    let next: Vec<String> = take(b, 10)
        .await
        .iter()
        .map(|t| t.message.id.clone())
        .collect();
    assert!(next.contains(&"later".to_string()), "{next:?}");
    assert!(next.iter().all(|id| id == "later" || id == "h"), "{next:?}");
    s.sent("up", &held, &["xh".into()], ttl).await.unwrap();
    assert_eq!(s.expire_waiting("up", 100, ttl).await.unwrap(), 0);
    assert_eq!(
        s.status("h").await.unwrap().unwrap().state,
        MessageState::Enroute
    );
    // Cancelled in time: nothing left for the sweep.
    let c = valid_until(with_rd("c", 1, 1), b.now_ms() + tick as i64);
    s.submit(sub(&c, None, None)).await.unwrap();
    assert_eq!(
        s.cancel("c", "u").await.unwrap(),
        gateway::store::CancelOutcome::Cancelled
    );
    b.pass(2 * tick).await;
    assert_eq!(s.expire_waiting("up", 100, ttl).await.unwrap(), 0);
    assert_eq!(s.delivery_depth("u").await.unwrap(), 0);
}

/// Sent, and the receipt wait ends: a message with a part's receipt
/// missing, and one sent without upstream ids, end in the state given
/// with one final receipt (sub = parts, dlvrd = those delivered); one
/// whose receipt came is untouched; a receipt after the end changes
/// nothing.
pub async fn a_sent_message_whose_receipts_never_come_ends_in_the_expiry_state<B: Backend>(b: &B) {
    let s = b.store();
    let tick = b.tick();
    let wait = ms(4 * tick);
    let ttl = ms(90_000);
    let two = with_rd("two", 2, 1);
    let t = taken(b, &two).await;
    s.sent("up", &t, &["x1".into(), "x2".into()], wait)
        .await
        .unwrap();
    let none = with_rd("none", 1, 1);
    let t = taken(b, &none).await;
    s.sent("up", &t, &[], wait).await.unwrap();
    let ok = with_rd("ok", 1, 1);
    let t = taken(b, &ok).await;
    s.sent("up", &t, &["y1".into()], wait).await.unwrap();
    let quiet = with_rd("quiet", 1, 0);
    let t = taken(b, &quiet).await;
    s.sent("up", &t, &["z1".into()], wait).await.unwrap();
    let rcpt = |up: &'static str| s.receipt("up", up, part(MessageState::Delivered, 0), ttl);
    assert_eq!(rcpt("x1").await.unwrap(), ReceiptOutcome::Partial);
    assert!(matches!(
        rcpt("y1").await.unwrap(),
        ReceiptOutcome::Final { .. }
    ));
    assert_eq!(drain(b, "u").await.len(), 1);

    b.pass(tick).await;
    let unknown = MessageState::Unknown;
    assert_eq!(
        s.expire_unanswered("up", unknown, 100, ttl).await.unwrap(),
        0
    );
    b.pass(4 * tick).await;
    let before = b.now_ms();
    assert_eq!(
        s.expire_unanswered("up", unknown, 100, ttl).await.unwrap(),
        3
    );
    let after = b.now_ms();
    assert_eq!(
        s.expire_unanswered("up", unknown, 100, ttl).await.unwrap(),
        0
    );
    for id in ["two", "none", "quiet"] {
        let st = s.status(id).await.unwrap().unwrap();
        assert_eq!(st.state, unknown, "{id}");
        b.assert_between(st.final_ms.unwrap(), before, after);
    }
    assert_eq!(
        s.status("ok").await.unwrap().unwrap().state,
        MessageState::Delivered
    );
    // rd 1 asks for every final receipt, rd 0 for none.
    let got = receipts(b, "u").await;
    assert_eq!(got.len(), 2);
    for (r, (m, sub, dlvrd)) in got.iter().zip([(&none, 1, 0), (&two, 2, 1)]) {
        assert_eq!(&*r.message, m);
        assert_eq!(r.state, unknown);
        assert_eq!((r.error_code, r.sub, r.dlvrd), (0, sub, dlvrd));
        b.assert_between(r.done_ms, before, after);
    }
    // The missing part's receipt comes after all: nothing changes.
    assert!(!matches!(
        rcpt("x2").await.unwrap(),
        ReceiptOutcome::Final { .. }
    ));
    assert_eq!(s.status("two").await.unwrap().unwrap().state, unknown);
    assert_eq!(s.delivery_depth("u").await.unwrap(), 0);

    // EXPIRED when the connector says so.
    let e = with_rd("e", 1, 1);
    let t = taken(b, &e).await;
    s.sent("up", &t, &["w1".into()], wait).await.unwrap();
    b.pass(5 * tick).await;
    assert_eq!(
        s.expire_unanswered("up", MessageState::Expired, 100, ttl)
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        s.status("e").await.unwrap().unwrap().state,
        MessageState::Expired
    );
    let got = drain(b, "u").await;
    assert_eq!(got.len(), 1);
    assert_eq!(receipt_of(&got[0]).state, MessageState::Expired);
}

/// A message waits where it was moved to, until its validity as it is
/// now: rerouted, it expires from its next connector (not the one it
/// left); replaced with a later validity, it waits on; replaced with an
/// earlier one, it expires then.
pub async fn a_moved_or_replaced_message_expires_where_and_when_it_waits_now<B: Backend>(b: &B) {
    let s = b.store();
    let tick = b.tick() as i64;
    let ttl = ms(90_000);
    let until = b.now_ms() + 4 * tick;
    let mut a = valid_until(with_rd("a", 1, 1), until);
    a.connectors = vec!["up".into(), "next".into()];
    a.route = Some(1);
    let t = taken(b, &a).await;
    let moved = a.moved_on(|_| true).unwrap();
    assert!(s.reroute("up", &t, &moved).await.unwrap());
    let later = valid_until(with_rd("later", 1, 1), until);
    s.submit(sub(&later, None, None)).await.unwrap();
    let sooner = valid_until(with_rd("sooner", 1, 1), until + 3_600_000);
    s.submit(sub(&sooner, None, None)).await.unwrap();
    let edit = |until: i64| {
        move |old: &StoredMessage| -> Result<Replacement, ()> {
            Ok(Replacement {
                submit: old.submit.clone(),
                parts: old.parts,
                expires_ms: Some(until),
            })
        }
    };
    assert_eq!(
        s.replace("later", "u", edit(until + 3_600_000))
            .await
            .unwrap(),
        ReplaceOutcome::Replaced
    );
    assert_eq!(
        s.replace("sooner", "u", edit(until)).await.unwrap(),
        ReplaceOutcome::Replaced
    );
    b.pass(5 * tick as u64).await;
    assert_eq!(s.expire_waiting("up", 100, ttl).await.unwrap(), 1);
    assert_eq!(s.expire_waiting("next", 100, ttl).await.unwrap(), 1);
    for (id, state) in [
        ("a", MessageState::Expired),
        ("sooner", MessageState::Expired),
        ("later", MessageState::Enroute),
    ] {
        assert_eq!(s.status(id).await.unwrap().unwrap().state, state, "{id}");
    }
    assert_eq!(s.queue_depth("next").await.unwrap(), 0);
    assert_eq!(s.queue_depth("up").await.unwrap(), 1);
    assert_eq!(drain(b, "u").await.len(), 2);
}

/// A message without a validity_period expires
/// [`DEFAULT_VALIDITY_MS`](gateway::store::DEFAULT_VALIDITY_MS) after its
/// acceptance, queued (on redis: found at the head of its stream, with
/// no index entry) or in the retry set; a younger one waits on.
pub async fn a_message_without_a_validity_period_expires_48_hours_after_acceptance<B: Backend>(
    b: &B,
) {
    let s = b.store();
    let tick = b.tick() as i64;
    let ttl = ms(90_000);
    let long_ago = b.now_ms() - gateway::store::DEFAULT_VALIDITY_MS + 3 * tick;
    let mut retried = with_rd("retried", 1, 1);
    retried.accepted_ms = long_ago;
    let t = taken(b, &retried).await;
    s.retry("up", &t, ms(3_600_000)).await.unwrap();
    let mut old = with_rd("old", 2, 1);
    old.accepted_ms = long_ago;
    s.submit(sub(&old, None, None)).await.unwrap();
    let mut young = with_rd("young", 1, 1);
    young.accepted_ms = b.now_ms();
    s.submit(sub(&young, None, None)).await.unwrap();
    assert_eq!(s.expire_waiting("up", 100, ttl).await.unwrap(), 0);
    b.pass(5 * tick as u64).await;
    assert_eq!(s.expire_waiting("up", 100, ttl).await.unwrap(), 2);
    assert_eq!(s.expire_waiting("up", 100, ttl).await.unwrap(), 0);
    for (id, state) in [
        ("old", MessageState::Expired),
        ("retried", MessageState::Expired),
        ("young", MessageState::Enroute),
    ] {
        assert_eq!(s.status(id).await.unwrap().unwrap().state, state, "{id}");
    }
    let got = receipts(b, "u").await;
    assert_eq!(got.len(), 2);
    assert_eq!((got[0].message.id.as_str(), got[0].sub), ("old", 2));
    assert_eq!(got[1].message.id, "retried");
    let next = take(b, 10).await;
    assert_eq!(next.len(), 1);
    assert_eq!(next[0].message.id, "young");
}

/// A message taken by a consumer that died, past its validity, while no
/// take runs (its connector down: nothing reclaims it): once it has been
/// held for the reclaim time the sweep lets it go and expires it, with
/// its one receipt and its refund; the dead taker's late settle changes
/// nothing.
pub async fn a_dead_takers_message_expires_once_held_for_the_reclaim_time<B: Backend>(b: &B) {
    let s = b.store();
    let tick = b.tick();
    let ttl = ms(90_000);
    s.init_credit("u", 1_000_000).await.unwrap();
    // Past its validity already when taken.
    let m = valid_until(with_rd("m", 1, 1), b.now_ms() - 1);
    s.submit(sub(&m, None, Some(250_000))).await.unwrap();
    let t = take(b, 1).await.remove(0);
    // Held, not for long: its taker's.
    assert_eq!(b.expire_waiting("up", 100, ttl).await.unwrap(), 0);
    assert_eq!(
        s.status("m").await.unwrap().unwrap().state,
        MessageState::Enroute
    );
    b.pass(b.reclaim_ms() + tick).await;
    let before = b.now_ms();
    assert_eq!(b.expire_waiting("up", 100, ttl).await.unwrap(), 1);
    let after = b.now_ms();
    assert_eq!(b.expire_waiting("up", 100, ttl).await.unwrap(), 0);
    let st = s.status("m").await.unwrap().unwrap();
    assert_eq!(st.state, MessageState::Expired);
    b.assert_between(st.final_ms.unwrap(), before, after);
    assert_eq!(s.balance("u").await.unwrap(), Some(1_000_000));
    assert_eq!(s.queue_depth("up").await.unwrap(), 0);
    let got = receipts(b, "u").await;
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].state, MessageState::Expired);
    // The taker was not dead after all: its settle comes too late.
    s.fail("up", &t, MessageState::Rejected, 1, ttl)
        .await
        .unwrap();
    s.retry("up", &t, ms(1)).await.unwrap();
    assert_eq!(
        s.status("m").await.unwrap().unwrap().state,
        MessageState::Expired
    );
    assert_eq!(s.balance("u").await.unwrap(), Some(1_000_000));
    assert_eq!(s.delivery_depth("u").await.unwrap(), 0);
    assert!(take(b, 10).await.is_empty());
}
