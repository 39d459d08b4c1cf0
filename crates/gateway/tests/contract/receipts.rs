//! Receipts: part receipts are summed into the message's state and into
//! the user's one final receipt, as registered_delivery asks; a receipt
//! before its mapping is held for `sent`; intermediate receipts only when
//! asked for (store/delivery.rs has the rules).

use std::time::Duration;

use gateway::store::{ReceiptOutcome, Store, UserReceipt};
use smpp::MessageState;

use super::{Backend, assert_stamped, drain, sent, taken};
use crate::common::fixtures::{DONE, TTL, fin, ms, part, receipt_of, with_rd};

async fn rcpt<B: Backend>(b: &B, up: &str, state: MessageState, err: u16) -> ReceiptOutcome {
    b.store()
        .receipt("up", up, part(state, err), TTL)
        .await
        .unwrap()
}

pub async fn a_final_receipt_is_queued_as_registered_delivery_asks<B: Backend>(b: &B) {
    let s = b.store();
    // rd = 1: always.
    let a = with_rd("a", 1, 1);
    sent(b, &a, &["xa"]).await;
    assert_eq!(s.delivery_depth("u").await.unwrap(), 0);
    let before = b.now_ms();
    assert_eq!(
        rcpt(b, "xa", MessageState::Delivered, 0).await,
        fin(MessageState::Delivered, true)
    );
    let after = b.now_ms();
    let st = s.status("a").await.unwrap().unwrap();
    assert_eq!(st.state, MessageState::Delivered);
    assert_eq!(st.final_ms, Some(DONE));
    assert_eq!(st.error_code, 0);
    assert_eq!(s.delivery_depth("u").await.unwrap(), 1);
    // The SMSC sends it again: counted once, queued once.
    assert_eq!(
        rcpt(b, "xa", MessageState::Delivered, 0).await,
        ReceiptOutcome::Duplicate
    );
    assert_eq!(
        rcpt(b, "xa", MessageState::Undeliverable, 1).await,
        ReceiptOutcome::Duplicate
    );
    assert_eq!(s.status("a").await.unwrap().unwrap(), st);
    assert_eq!(s.delivery_depth("u").await.unwrap(), 1);
    let got = b
        .take_deliveries("u", "rx", 10, Duration::ZERO)
        .await
        .unwrap();
    assert_eq!(got.len(), 1);
    assert_eq!(
        receipt_of(&got[0]),
        &UserReceipt {
            message: a.clone().into(),
            state: MessageState::Delivered,
            error_code: 0,
            sub: 1,
            dlvrd: 1,
            done_ms: DONE,
        }
    );
    assert_stamped(b, &got[0], TTL, before, after);
    // Taken, not delivered yet: still counted.
    assert_eq!(s.delivery_depth("u").await.unwrap(), 1);
    s.delivered("u", std::slice::from_ref(&got[0].token))
        .await
        .unwrap();
    assert_eq!(s.delivery_depth("u").await.unwrap(), 0);

    // rd = 0: never.
    sent(b, &with_rd("b", 1, 0), &["xb"]).await;
    assert_eq!(
        rcpt(b, "xb", MessageState::Delivered, 0).await,
        fin(MessageState::Delivered, false)
    );
    assert_eq!(
        s.status("b").await.unwrap().unwrap().state,
        MessageState::Delivered
    );
    // rd = 2: on failure only.
    sent(b, &with_rd("c", 1, 2), &["xc"]).await;
    assert_eq!(
        rcpt(b, "xc", MessageState::Delivered, 0).await,
        fin(MessageState::Delivered, false)
    );
    assert_eq!(
        s.status("c").await.unwrap().unwrap().state,
        MessageState::Delivered
    );
    assert_eq!(s.delivery_depth("u").await.unwrap(), 0);
    let d = with_rd("d", 1, 2);
    sent(b, &d, &["xd"]).await;
    // An error code wider than query_sm's one octet.
    assert_eq!(
        rcpt(b, "xd", MessageState::Undeliverable, 0x1ff).await,
        fin(MessageState::Undeliverable, true)
    );
    let st = s.status("d").await.unwrap().unwrap();
    assert_eq!(st.state, MessageState::Undeliverable);
    assert_eq!(st.error_code, 0xff, "clamped for query_sm");
    assert_eq!(st.final_ms, Some(DONE));
    let got = drain(b, "u").await;
    assert_eq!(got.len(), 1);
    let rc = receipt_of(&got[0]);
    assert_eq!(*rc.message, d);
    assert_eq!(rc.state, MessageState::Undeliverable);
    assert_eq!(rc.error_code, 0x1ff, "kept whole for the receipt");
    assert_eq!((rc.sub, rc.dlvrd), (1, 0));
    // A repeated receipt changes nothing.
    assert_eq!(
        rcpt(b, "xd", MessageState::Undeliverable, 0x1ff).await,
        ReceiptOutcome::Duplicate
    );
    assert!(drain(b, "u").await.is_empty());
    assert_eq!(s.status("d").await.unwrap().unwrap(), st);
}

/// A receipt without a done date (0) makes the message final now, by
/// the store's clock: its `final_ms` and its receipt's `done_ms`
/// ([`rules::done_or_now`](gateway::store::rules::done_or_now)).
pub async fn a_receipt_without_a_done_date_is_final_now<B: Backend>(b: &B) {
    let s = b.store();
    sent(b, &with_rd("e", 1, 1), &["xe"]).await;
    let mut p = part(MessageState::Expired, 0);
    p.done_ms = 0;
    b.pass(b.tick()).await;
    let before = b.now_ms();
    assert_eq!(
        s.receipt("up", "xe", p, TTL).await.unwrap(),
        fin(MessageState::Expired, true)
    );
    let after = b.now_ms();
    let final_ms = s.status("e").await.unwrap().unwrap().final_ms.unwrap();
    b.assert_between(final_ms, before, after);
    let got = drain(b, "u").await;
    assert_eq!(receipt_of(&got[0]).done_ms, final_ms);
    assert_stamped(b, &got[0], TTL, before, after);
}

pub async fn a_receipt_before_its_mapping_is_held_and_applied<B: Backend>(b: &B) {
    const HELD_MS: u64 = 300;
    let s = b.store();
    let a = with_rd("a", 1, 1);
    let t = taken(b, &a).await;
    // The SMSC answered the submit_sm and sent the receipt before tern
    // recorded the upstream id.
    let ttl = ms(60_000);
    assert_eq!(
        s.receipt("up", "xa", part(MessageState::Delivered, 0), ttl)
            .await
            .unwrap(),
        ReceiptOutcome::Held
    );
    assert_eq!(
        s.status("a").await.unwrap().unwrap().state,
        MessageState::Enroute
    );
    assert_eq!(s.delivery_depth("u").await.unwrap(), 0);
    let before = b.now_ms();
    s.sent("up", &t, &["xa".into()], ttl).await.unwrap();
    let after = b.now_ms();
    let st = s.status("a").await.unwrap().unwrap();
    assert_eq!(st.state, MessageState::Delivered);
    assert_eq!(st.final_ms, Some(DONE));
    assert_eq!(s.delivery_depth("u").await.unwrap(), 1);
    // A repeated sent applies nothing twice.
    s.sent("up", &t, &["xa".into()], ttl).await.unwrap();
    assert_eq!(
        rcpt(b, "xa", MessageState::Delivered, 0).await,
        ReceiptOutcome::Duplicate
    );
    let got = drain(b, "u").await;
    assert_eq!(got.len(), 1);
    assert_eq!(receipt_of(&got[0]).state, MessageState::Delivered);
    assert_eq!(*receipt_of(&got[0]).message, a);
    // Queued by sent, kept for sent's ttl.
    assert_stamped(b, &got[0], ttl, before, after);

    // Two parts, one held (replaced by a later one for the same id), one
    // after sent.
    let m = with_rd("b", 2, 1);
    let t = taken(b, &m).await;
    assert_eq!(
        rcpt(b, "y2", MessageState::Delivered, 0).await,
        ReceiptOutcome::Held
    );
    assert_eq!(
        rcpt(b, "y2", MessageState::Undeliverable, 7).await,
        ReceiptOutcome::Held
    );
    s.sent("up", &t, &["y1".into(), "y2".into()], TTL)
        .await
        .unwrap();
    assert_eq!(
        s.status("b").await.unwrap().unwrap().state,
        MessageState::Enroute
    );
    assert_eq!(s.delivery_depth("u").await.unwrap(), 0);
    assert_eq!(
        rcpt(b, "y1", MessageState::Delivered, 0).await,
        fin(MessageState::Undeliverable, true)
    );
    let st = s.status("b").await.unwrap().unwrap();
    assert_eq!((st.state, st.error_code), (MessageState::Undeliverable, 7));
    let got = drain(b, "u").await;
    assert_eq!(got.len(), 1);
    let rc = receipt_of(&got[0]);
    assert_eq!((rc.sub, rc.dlvrd, rc.error_code), (2, 1, 7));

    // A non-final receipt held does not replace a final one.
    let m = with_rd("z", 1, 0x11);
    let t = taken(b, &m).await;
    assert_eq!(
        rcpt(b, "z1", MessageState::Delivered, 0).await,
        ReceiptOutcome::Held
    );
    assert_eq!(
        rcpt(b, "z1", MessageState::Enroute, 0).await,
        ReceiptOutcome::Held
    );
    s.sent("up", &t, &["z1".into()], TTL).await.unwrap();
    assert_eq!(
        s.status("z").await.unwrap().unwrap().state,
        MessageState::Delivered
    );
    let got = drain(b, "u").await;
    assert_eq!(got.len(), 1);
    assert_eq!(receipt_of(&got[0]).state, MessageState::Delivered);

    // A held receipt with nobody to apply it expires.
    assert_eq!(
        s.receipt("up", "lost", part(MessageState::Delivered, 0), ms(HELD_MS))
            .await
            .unwrap(),
        ReceiptOutcome::Held
    );
    b.pass(HELD_MS).await;
    sent(b, &with_rd("c", 1, 1), &["lost"]).await;
    assert_eq!(
        s.status("c").await.unwrap().unwrap().state,
        MessageState::Enroute
    );
    assert_eq!(s.delivery_depth("u").await.unwrap(), 0);
}

pub async fn parts_are_summed_into_one_receipt<B: Backend>(b: &B) {
    let s = b.store();
    let a = with_rd("a", 3, 1);
    sent(b, &a, &["x1", "x2", "x3"]).await;
    assert_eq!(
        rcpt(b, "x1", MessageState::Delivered, 0).await,
        ReceiptOutcome::Partial
    );
    assert_eq!(
        rcpt(b, "x1", MessageState::Delivered, 0).await,
        ReceiptOutcome::Duplicate
    );
    assert_eq!(
        rcpt(b, "x2", MessageState::Delivered, 0).await,
        ReceiptOutcome::Partial
    );
    let st = s.status("a").await.unwrap().unwrap();
    assert_eq!((st.state, st.final_ms), (MessageState::Enroute, None));
    assert_eq!(s.delivery_depth("u").await.unwrap(), 0);
    assert_eq!(
        rcpt(b, "x3", MessageState::Delivered, 0).await,
        fin(MessageState::Delivered, true)
    );
    assert_eq!(
        rcpt(b, "x3", MessageState::Delivered, 0).await,
        ReceiptOutcome::Duplicate
    );
    let got = drain(b, "u").await;
    assert_eq!(got.len(), 1);
    let rc = receipt_of(&got[0]);
    assert_eq!(
        (rc.state, rc.sub, rc.dlvrd),
        (MessageState::Delivered, 3, 3)
    );

    // One part undeliverable: the message is, with that part's error.
    let m = with_rd("b", 3, 1);
    let t = sent(b, &m, &["y1", "y2", "y3"]).await;
    assert_eq!(
        rcpt(b, "y1", MessageState::Delivered, 0).await,
        ReceiptOutcome::Partial
    );
    assert_eq!(
        rcpt(b, "y2", MessageState::Undeliverable, 5).await,
        ReceiptOutcome::Partial
    );
    assert_eq!(
        rcpt(b, "y2", MessageState::Delivered, 0).await,
        ReceiptOutcome::Duplicate
    );
    assert_eq!(
        s.status("b").await.unwrap().unwrap().state,
        MessageState::Enroute
    );
    assert_eq!(
        rcpt(b, "y3", MessageState::Delivered, 0).await,
        fin(MessageState::Undeliverable, true)
    );
    let st = s.status("b").await.unwrap().unwrap();
    assert_eq!(st.state, MessageState::Undeliverable);
    assert_eq!(st.error_code, 5);
    assert_eq!(st.final_ms, Some(DONE));
    let got = drain(b, "u").await;
    assert_eq!(got.len(), 1);
    let rc = receipt_of(&got[0]);
    assert_eq!(
        (rc.state, rc.error_code, rc.sub, rc.dlvrd),
        (MessageState::Undeliverable, 5, 3, 2)
    );
    // Two parts not delivered: the message takes the last one's state
    // and error code.
    let m = with_rd("c", 3, 1);
    sent(b, &m, &["z1", "z2", "z3"]).await;
    for (up, state, err, outcome) in [
        (
            "z1",
            MessageState::Undeliverable,
            5,
            ReceiptOutcome::Partial,
        ),
        ("z2", MessageState::Expired, 3, ReceiptOutcome::Partial),
        (
            "z3",
            MessageState::Delivered,
            0,
            fin(MessageState::Expired, true),
        ),
    ] {
        assert_eq!(rcpt(b, up, state, err).await, outcome);
    }
    let c = s.status("c").await.unwrap().unwrap();
    assert_eq!((c.state, c.error_code), (MessageState::Expired, 3));
    let got = drain(b, "u").await;
    let rc = receipt_of(&got[0]);
    assert_eq!(
        (rc.state, rc.error_code, rc.sub, rc.dlvrd),
        (MessageState::Expired, 3, 3, 1)
    );
    // A repeated sent (other ids even) does not change the parts.
    s.sent("up", &t, &["y1".into(), "y2".into()], TTL)
        .await
        .unwrap();
    assert_eq!(s.status("b").await.unwrap().unwrap(), st);
    assert_eq!(
        rcpt(b, "y1", MessageState::Delivered, 0).await,
        ReceiptOutcome::Duplicate
    );
    assert!(drain(b, "u").await.is_empty());
}

pub async fn intermediate_receipts_are_queued_when_asked_for<B: Backend>(b: &B) {
    let s = b.store();
    let a = with_rd("a", 2, 0x11);
    sent(b, &a, &["x1", "x2"]).await;
    assert_eq!(
        rcpt(b, "x1", MessageState::Enroute, 0).await,
        ReceiptOutcome::Intermediate { queued: true }
    );
    // A value outside the table is not final either.
    assert_eq!(
        rcpt(b, "x2", MessageState::Other(9), 3).await,
        ReceiptOutcome::Intermediate { queued: true }
    );
    let st = s.status("a").await.unwrap().unwrap();
    assert_eq!((st.state, st.final_ms), (MessageState::Enroute, None));
    assert_eq!(
        rcpt(b, "x1", MessageState::Delivered, 0).await,
        ReceiptOutcome::Partial
    );
    // An ENROUTE overtaken by the part's final receipt.
    assert_eq!(
        rcpt(b, "x1", MessageState::Enroute, 0).await,
        ReceiptOutcome::Duplicate
    );
    assert_eq!(
        rcpt(b, "x2", MessageState::Delivered, 0).await,
        fin(MessageState::Delivered, true)
    );
    let got = drain(b, "u").await;
    let seen: Vec<_> = got
        .iter()
        .map(|d| {
            let r = receipt_of(d);
            (r.state, r.error_code, r.sub, r.dlvrd)
        })
        .collect();
    assert_eq!(
        seen,
        vec![
            (MessageState::Enroute, 0, 2, 0),
            (MessageState::Other(9), 3, 2, 0),
            (MessageState::Delivered, 0, 2, 2),
        ]
    );
    assert!(got.iter().all(|d| *receipt_of(d).message == a));
    assert_eq!(
        s.status("a").await.unwrap().unwrap().state,
        MessageState::Delivered
    );

    // Not asked for: nothing queued, nothing changed.
    sent(b, &with_rd("b", 1, 1), &["y"]).await;
    assert_eq!(
        rcpt(b, "y", MessageState::Enroute, 0).await,
        ReceiptOutcome::Intermediate { queued: false }
    );
    assert_eq!(
        s.status("b").await.unwrap().unwrap().state,
        MessageState::Enroute
    );
    assert_eq!(s.delivery_depth("u").await.unwrap(), 0);
    // Intermediate only (0x10): no final receipt.
    sent(b, &with_rd("c", 1, 0x10), &["z"]).await;
    assert_eq!(
        rcpt(b, "z", MessageState::Enroute, 0).await,
        ReceiptOutcome::Intermediate { queued: true }
    );
    assert_eq!(
        rcpt(b, "z", MessageState::Delivered, 0).await,
        fin(MessageState::Delivered, false)
    );
    assert_eq!(drain(b, "u").await.len(), 1);
}

pub async fn fail_queues_one_final_receipt_when_asked_for<B: Backend>(b: &B) {
    let s = b.store();
    let a = with_rd("a", 2, 1);
    let t = taken(b, &a).await;
    let ttl = ms(90_000);
    let before = b.now_ms();
    s.fail("up", &t, MessageState::Rejected, 0x45, ttl)
        .await
        .unwrap();
    let after = b.now_ms();
    assert_eq!(s.delivery_depth("u").await.unwrap(), 1);
    // Settled already: no second receipt.
    s.fail("up", &t, MessageState::Rejected, 0x45, ttl)
        .await
        .unwrap();
    s.fail("up", &t, MessageState::Undeliverable, 1, ttl)
        .await
        .unwrap();
    assert_eq!(s.delivery_depth("u").await.unwrap(), 1);
    let st = s.status("a").await.unwrap().unwrap();
    let got = drain(b, "u").await;
    assert_eq!(got.len(), 1);
    assert_eq!(
        receipt_of(&got[0]),
        &UserReceipt {
            message: a.into(),
            state: MessageState::Rejected,
            error_code: 0x45,
            sub: 2,
            dlvrd: 0,
            done_ms: st.final_ms.unwrap(),
        }
    );
    assert_stamped(b, &got[0], ttl, before, after);

    // rd = 0: nothing; rd = 2: a failure is reported.
    let t = taken(b, &with_rd("b", 1, 0)).await;
    s.fail("up", &t, MessageState::Rejected, 1, ttl)
        .await
        .unwrap();
    assert_eq!(s.delivery_depth("u").await.unwrap(), 0);
    let t = taken(b, &with_rd("c", 1, 2)).await;
    s.fail("up", &t, MessageState::Expired, 0, ttl)
        .await
        .unwrap();
    let got = drain(b, "u").await;
    assert_eq!(got.len(), 1);
    assert_eq!(receipt_of(&got[0]).state, MessageState::Expired);
}

/// The parts are recorded by the first `sent` that has upstream ids: a
/// `sent` without any leaves the message without parts, and a receipt
/// held for an id that a later `sent` maps is applied then, the message
/// counted as that one part.
pub async fn parts_come_from_the_first_sent_with_upstream_ids<B: Backend>(b: &B) {
    let s = b.store();
    let m = with_rd("m", 1, 1);
    let t = taken(b, &m).await;
    s.sent("up", &t, &[], TTL).await.unwrap();
    assert_eq!(
        rcpt(b, "xm", MessageState::Delivered, 0).await,
        ReceiptOutcome::Held
    );
    s.sent("up", &t, &["xm".into()], TTL).await.unwrap();
    let st = s.status("m").await.unwrap().unwrap();
    assert_eq!(
        (st.state, st.final_ms),
        (MessageState::Delivered, Some(DONE))
    );
    let got = drain(b, "u").await;
    assert_eq!(got.len(), 1);
    let rc = receipt_of(&got[0]);
    assert_eq!(
        (rc.state, rc.sub, rc.dlvrd),
        (MessageState::Delivered, 1, 1)
    );
}
