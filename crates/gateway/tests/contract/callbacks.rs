//! The callback queue: receipts of a message sent with a `dlr-url` are
//! queued there (and not in its user's delivery queue) in the step that
//! makes them, with the upstream's answer when the message's level asks
//! for it; calls made whole are queued by `queue_callback`; a taken
//! callback is done or retried (with one attempt more, due after its
//! delay, at the queue's back), and handed out again when its taker died.

use std::time::{Duration, Instant};

use gateway::store::{Callback, DlrLevel, ReceiptOutcome, Store, StoredMessage, UserReceipt};
use smpp::MessageState;

use super::{Backend, assert_cb_stamped, drain_callbacks, sent, take_cbs, taken};
use crate::common::fixtures::{
    DONE, TTL, call, call_texts, cb_items, cb_tokens, fin, mo, ms, part, with_callback, with_rd,
};

async fn rcpt<B: Backend>(b: &B, up: &str, state: MessageState, err: u16) -> ReceiptOutcome {
    b.store()
        .receipt("up", up, part(state, err), TTL)
        .await
        .unwrap()
}

/// `m`'s receipt as the callback queue holds it, made by connector "up"'s
/// upstream id `up`.
fn receipt(
    m: &StoredMessage,
    state: MessageState,
    error_code: u16,
    (sub, dlvrd): (u32, u32),
    done_ms: i64,
    up: &str,
) -> Callback {
    Callback::Receipt {
        receipt: Box::new(UserReceipt {
            message: m.clone().into(),
            state,
            error_code,
            sub,
            dlvrd,
            done_ms,
        }),
        connector: "up".into(),
        upstream_id: up.into(),
    }
}

/// The upstream's answer to `m`'s submit on connector "up".
fn submitted(m: &StoredMessage, status: u32, up: &str) -> Callback {
    Callback::Submitted {
        message: m.clone().into(),
        connector: "up".into(),
        status,
        upstream_id: up.into(),
    }
}

/// Nothing went to user "u"'s delivery queue.
async fn nothing_for_the_user<B: Backend>(b: &B) {
    assert_eq!(b.store().delivery_depth("u").await.unwrap(), 0);
}

pub async fn receipts_of_a_callback_message_go_to_the_callback_queue<B: Backend>(b: &B) {
    let s = b.store();
    assert_eq!(s.callback_depth().await.unwrap(), 0);
    // One part, rd = 1, level 2 (receipts only).
    let a = with_callback("a", 1, 1, DlrLevel::Terminal);
    sent(b, &a, &["xa"]).await;
    assert_eq!(s.callback_depth().await.unwrap(), 0, "no level-1 answer");
    let before = b.now_ms();
    assert_eq!(
        rcpt(b, "xa", MessageState::Delivered, 0).await,
        fin(MessageState::Delivered, true)
    );
    let after = b.now_ms();
    nothing_for_the_user(b).await;
    assert_eq!(s.callback_depth().await.unwrap(), 1);
    assert_eq!(
        s.status("a").await.unwrap().unwrap().state,
        MessageState::Delivered
    );
    // A repeated receipt queues nothing more.
    assert_eq!(
        rcpt(b, "xa", MessageState::Delivered, 0).await,
        ReceiptOutcome::Duplicate
    );
    assert_eq!(s.callback_depth().await.unwrap(), 1);
    let got = drain_callbacks(b).await;
    assert_eq!(
        cb_items(&got),
        vec![receipt(&a, MessageState::Delivered, 0, (1, 1), DONE, "xa")]
    );
    assert_eq!(got[0].attempts, 0);
    assert_eq!(
        got[0].item.target(),
        Some((
            "http://127.0.0.1:9/dlr",
            a.callback.as_ref().unwrap().method
        ))
    );
    assert_cb_stamped(b, &got[0], TTL, before, after);
    assert_eq!(s.callback_depth().await.unwrap(), 0);

    // Two parts, level 3: the upstream's answer at sent, then the one
    // final receipt once both parts are in, made by the last part.
    let m = with_callback("b", 2, 1, DlrLevel::Both);
    sent(b, &m, &["y1", "y2"]).await;
    assert_eq!(
        rcpt(b, "y1", MessageState::Delivered, 0).await,
        ReceiptOutcome::Partial
    );
    assert_eq!(s.callback_depth().await.unwrap(), 1);
    assert_eq!(
        rcpt(b, "y2", MessageState::Undeliverable, 5).await,
        fin(MessageState::Undeliverable, true)
    );
    nothing_for_the_user(b).await;
    assert_eq!(
        cb_items(&drain_callbacks(b).await),
        vec![
            submitted(&m, 0, "y1"),
            receipt(&m, MessageState::Undeliverable, 5, (2, 1), DONE, "y2"),
        ]
    );

    // A receipt held before its mapping: sent queues the answer first,
    // then applies the receipt, both kept for sent's ttl.
    let c = with_callback("c", 1, 1, DlrLevel::Both);
    let t = taken(b, &c).await;
    assert_eq!(
        rcpt(b, "z1", MessageState::Delivered, 0).await,
        ReceiptOutcome::Held
    );
    assert_eq!(s.callback_depth().await.unwrap(), 0);
    let ttl = ms(60_000);
    let before = b.now_ms();
    s.sent("up", &t, &["z1".into()], ttl).await.unwrap();
    let after = b.now_ms();
    assert_eq!(
        s.status("c").await.unwrap().unwrap().state,
        MessageState::Delivered
    );
    // Sent again: nothing applied or answered twice.
    s.sent("up", &t, &["z1".into()], ttl).await.unwrap();
    nothing_for_the_user(b).await;
    let got = drain_callbacks(b).await;
    assert_eq!(
        cb_items(&got),
        vec![
            submitted(&c, 0, "z1"),
            receipt(&c, MessageState::Delivered, 0, (1, 1), DONE, "z1"),
        ]
    );
    for g in &got {
        assert_cb_stamped(b, g, ttl, before, after);
    }

    // Intermediate receipts when rd asks for them (0x11), then the final.
    let d = with_callback("d", 2, 0x11, DlrLevel::Terminal);
    sent(b, &d, &["w1", "w2"]).await;
    assert_eq!(
        rcpt(b, "w1", MessageState::Enroute, 0).await,
        ReceiptOutcome::Intermediate { queued: true }
    );
    assert_eq!(
        rcpt(b, "w1", MessageState::Delivered, 0).await,
        ReceiptOutcome::Partial
    );
    assert_eq!(
        rcpt(b, "w2", MessageState::Delivered, 0).await,
        fin(MessageState::Delivered, true)
    );
    nothing_for_the_user(b).await;
    assert_eq!(
        cb_items(&drain_callbacks(b).await),
        vec![
            receipt(&d, MessageState::Enroute, 0, (2, 0), DONE, "w1"),
            receipt(&d, MessageState::Delivered, 0, (2, 2), DONE, "w2"),
        ]
    );
    // Not asked for (rd = 1): no intermediate one.
    let e = with_callback("e", 1, 1, DlrLevel::Terminal);
    sent(b, &e, &["v1"]).await;
    assert_eq!(
        rcpt(b, "v1", MessageState::Enroute, 0).await,
        ReceiptOutcome::Intermediate { queued: false }
    );
    // rd = 0: no receipt at all, anywhere.
    let f = with_callback("f", 1, 0, DlrLevel::Terminal);
    sent(b, &f, &["u1"]).await;
    assert_eq!(
        rcpt(b, "u1", MessageState::Delivered, 0).await,
        fin(MessageState::Delivered, false)
    );
    assert_eq!(s.callback_depth().await.unwrap(), 0);
    nothing_for_the_user(b).await;

    // A message without a callback still has its receipts delivered to
    // its user, not called back.
    let g = with_rd("g", 1, 1);
    sent(b, &g, &["t1"]).await;
    assert_eq!(
        rcpt(b, "t1", MessageState::Delivered, 0).await,
        fin(MessageState::Delivered, true)
    );
    assert_eq!(s.delivery_depth("u").await.unwrap(), 1);
    assert_eq!(s.callback_depth().await.unwrap(), 0);
}

/// Level 1 (and 3): `sent` that settles the entry answers status 0 with
/// the first upstream id, once; `fail` REJECTED answers its error code
/// before the final receipt; nothing else answers.
pub async fn the_upstreams_answer_is_called_back_when_the_level_asks<B: Backend>(b: &B) {
    let s = b.store();
    // Level 1, rd 0: the answer and nothing else.
    let a = with_callback("a", 2, 0, DlrLevel::Smsc);
    let t = taken(b, &a).await;
    let before = b.now_ms();
    s.sent("up", &t, &["x1".into(), "x2".into()], TTL)
        .await
        .unwrap();
    let after = b.now_ms();
    assert_eq!(s.callback_depth().await.unwrap(), 1);
    // Settling again answers nothing more.
    s.sent("up", &t, &["x1".into(), "x2".into()], TTL)
        .await
        .unwrap();
    s.fail("up", &t, MessageState::Rejected, 3, TTL)
        .await
        .unwrap();
    s.retry("up", &t, Duration::ZERO).await.unwrap();
    assert_eq!(s.callback_depth().await.unwrap(), 1);
    let got = drain_callbacks(b).await;
    assert_eq!(cb_items(&got), vec![submitted(&a, 0, "x1")]);
    assert_cb_stamped(b, &got[0], TTL, before, after);
    assert_eq!(got[0].item.message(), Some(&a));
    assert_eq!(
        rcpt(b, "x1", MessageState::Delivered, 0).await,
        ReceiptOutcome::Partial
    );
    assert_eq!(
        rcpt(b, "x2", MessageState::Delivered, 0).await,
        fin(MessageState::Delivered, false)
    );
    assert_eq!(s.callback_depth().await.unwrap(), 0);
    // Sent without upstream ids: answered with none.
    let n = with_callback("n", 1, 0, DlrLevel::Smsc);
    sent(b, &n, &[]).await;
    assert_eq!(
        cb_items(&drain_callbacks(b).await),
        vec![submitted(&n, 0, "")]
    );

    // Rejected upstream, level 1 and rd 1: the refusal, then the final
    // receipt (sub = parts, dlvrd 0, no upstream id); once.
    let r = with_callback("r", 2, 1, DlrLevel::Smsc);
    let t = taken(b, &r).await;
    let ttl = ms(90_000);
    let before = b.now_ms();
    s.fail("up", &t, MessageState::Rejected, 0x45, ttl)
        .await
        .unwrap();
    let after = b.now_ms();
    s.fail("up", &t, MessageState::Rejected, 0x45, ttl)
        .await
        .unwrap();
    s.sent("up", &t, &["x9".into()], ttl).await.unwrap();
    nothing_for_the_user(b).await;
    assert_eq!(s.callback_depth().await.unwrap(), 2);
    let final_ms = s.status("r").await.unwrap().unwrap().final_ms.unwrap();
    let got = drain_callbacks(b).await;
    assert_eq!(
        cb_items(&got),
        vec![
            submitted(&r, 0x45, ""),
            receipt(&r, MessageState::Rejected, 0x45, (2, 0), final_ms, ""),
        ]
    );
    for g in &got {
        assert_cb_stamped(b, g, ttl, before, after);
    }

    // Expired while queued (level 3): no answer from upstream, only the
    // final receipt.
    let x = with_callback("x", 1, 1, DlrLevel::Both);
    let t = taken(b, &x).await;
    s.fail("up", &t, MessageState::Expired, 0, TTL)
        .await
        .unwrap();
    let final_ms = s.status("x").await.unwrap().unwrap().final_ms.unwrap();
    assert_eq!(
        cb_items(&drain_callbacks(b).await),
        vec![receipt(&x, MessageState::Expired, 0, (1, 0), final_ms, "")]
    );
    // Level 1, rd 0, undeliverable: nothing at all.
    let u = with_callback("u", 1, 0, DlrLevel::Smsc);
    let t = taken(b, &u).await;
    s.fail("up", &t, MessageState::Undeliverable, 1, TTL)
        .await
        .unwrap();
    assert_eq!(s.callback_depth().await.unwrap(), 0);

    // Level 2: no answer from sent nor from a rejection; the receipts.
    let p = with_callback("p", 1, 1, DlrLevel::Terminal);
    sent(b, &p, &["p1"]).await;
    assert_eq!(s.callback_depth().await.unwrap(), 0);
    let q = with_callback("q", 1, 1, DlrLevel::Terminal);
    let t = taken(b, &q).await;
    s.fail("up", &t, MessageState::Rejected, 7, TTL)
        .await
        .unwrap();
    let final_ms = s.status("q").await.unwrap().unwrap().final_ms.unwrap();
    assert_eq!(
        cb_items(&drain_callbacks(b).await),
        vec![receipt(&q, MessageState::Rejected, 7, (1, 0), final_ms, "")]
    );
    nothing_for_the_user(b).await;
}

pub async fn callbacks_are_taken_done_and_retried_with_attempts<B: Backend>(b: &B) {
    const DELAY_MS: u64 = 400;
    let s = b.store();
    assert_eq!(s.callback_depth().await.unwrap(), 0);
    assert!(take_cbs(b, "a", 10).await.is_empty());
    let before = b.now_ms();
    for text in ["one", "two", "three"] {
        s.queue_callback(&call(text), ms(30_000)).await.unwrap();
    }
    let after = b.now_ms();
    assert_eq!(s.callback_depth().await.unwrap(), 3);
    assert!(take_cbs(b, "a", 0).await.is_empty());
    let first = take_cbs(b, "a", 2).await;
    assert_eq!(call_texts(&first), vec!["one", "two"]);
    assert_eq!(first[0].item, Callback::Call(call("one")));
    assert_eq!(
        first[0].item.target(),
        Some(("http://127.0.0.1:9/mo", call("one").method))
    );
    assert_eq!(first[0].item.message(), None);
    for c in &first {
        assert_eq!(c.attempts, 0);
        assert_cb_stamped(b, c, ms(30_000), before, after);
    }
    // Taken ones are still counted.
    assert_eq!(s.callback_depth().await.unwrap(), 3);
    s.callbacks_done(std::slice::from_ref(&first[1].token))
        .await
        .unwrap();
    assert_eq!(s.callback_depth().await.unwrap(), 2);
    // "one" failed: to the retry set, still counted.
    s.retry_callback(&first[0].token, ms(DELAY_MS))
        .await
        .unwrap();
    assert_eq!(s.callback_depth().await.unwrap(), 2);
    // Tokens no longer held, or never: nothing changes.
    s.retry_callback(&first[0].token, Duration::ZERO)
        .await
        .unwrap();
    s.retry_callback(&first[1].token, Duration::ZERO)
        .await
        .unwrap();
    s.callbacks_done(std::slice::from_ref(&first[1].token))
        .await
        .unwrap();
    s.callbacks_done(std::slice::from_ref(&first[0].token))
        .await
        .unwrap();
    s.retry_callback("99999999999999-0", Duration::ZERO)
        .await
        .unwrap();
    s.retry_callback("not a token", Duration::ZERO)
        .await
        .unwrap();
    s.callbacks_done(&["not a token".to_string(), "1-0".to_string()])
        .await
        .unwrap();
    s.callbacks_done(&[]).await.unwrap();
    assert_eq!(s.callback_depth().await.unwrap(), 2);
    // The retry is not due yet: only "three".
    let three = take_cbs(b, "a", 10).await;
    assert_eq!(call_texts(&three), vec!["three"]);
    s.callbacks_done(&cb_tokens(&three)).await.unwrap();
    b.pass(DELAY_MS - b.tick()).await;
    assert!(take_cbs(b, "a", 10).await.is_empty());
    b.pass(b.tick()).await;
    // Due: back with one attempt more, a new token, the same stamps.
    let again = take_cbs(b, "a", 10).await;
    assert_eq!(call_texts(&again), vec!["one"]);
    assert_eq!(again[0].attempts, 1);
    assert_ne!(again[0].token, first[0].token);
    assert_eq!(
        (again[0].queued_ms, again[0].expires_ms),
        (first[0].queued_ms, first[0].expires_ms)
    );
    assert_eq!(s.callback_depth().await.unwrap(), 1);
    // Once more, due at once: attempts count on.
    s.retry_callback(&again[0].token, Duration::ZERO)
        .await
        .unwrap();
    let third = take_cbs(b, "a", 10).await;
    assert_eq!(call_texts(&third), vec!["one"]);
    assert_eq!(third[0].attempts, 2);
    s.callbacks_done(&cb_tokens(&third)).await.unwrap();
    assert_eq!(s.callback_depth().await.unwrap(), 0);
    assert!(take_cbs(b, "a", 10).await.is_empty());

    // Due retries join the queue's back, at most `max` per take, in the
    // order they fell due: one not moved is overtaken by what is queued
    // before the next take.
    for text in ["r1", "r2", "r3"] {
        s.queue_callback(&call(text), TTL).await.unwrap();
    }
    let rs = take_cbs(b, "a", 10).await;
    assert_eq!(call_texts(&rs), vec!["r1", "r2", "r3"]);
    for r in &rs {
        s.retry_callback(&r.token, Duration::ZERO).await.unwrap();
        b.pass(b.tick()).await;
    }
    assert_eq!(s.callback_depth().await.unwrap(), 3);
    let one = take_cbs(b, "a", 1).await;
    assert_eq!(call_texts(&one), vec!["r1"]);
    s.queue_callback(&call("new"), TTL).await.unwrap();
    let rest = take_cbs(b, "a", 10).await;
    assert_eq!(call_texts(&rest), vec!["new", "r2", "r3"]);
    assert!(rest[1..].iter().all(|c| c.attempts == 1));
    assert_eq!(rest[0].attempts, 0);
    let all: Vec<String> = one.iter().chain(&rest).map(|c| c.token.clone()).collect();
    s.callbacks_done(&all).await.unwrap();
    assert_eq!(s.callback_depth().await.unwrap(), 0);

    // Receipt callbacks retry the same way, whole.
    let m = with_callback("m", 1, 1, DlrLevel::Both);
    sent(b, &m, &["xm"]).await;
    rcpt(b, "xm", MessageState::Delivered, 0).await;
    let got = take_cbs(b, "a", 10).await;
    assert_eq!(got.len(), 2);
    for g in &got {
        s.retry_callback(&g.token, Duration::ZERO).await.unwrap();
    }
    let back = take_cbs(b, "a", 10).await;
    assert_eq!(cb_items(&back), cb_items(&got));
    assert!(back.iter().all(|c| c.attempts == 1));
    assert_eq!(
        back.iter()
            .map(|c| (c.queued_ms, c.expires_ms))
            .collect::<Vec<_>>(),
        got.iter()
            .map(|c| (c.queued_ms, c.expires_ms))
            .collect::<Vec<_>>()
    );
    s.callbacks_done(&cb_tokens(&back)).await.unwrap();
    assert_eq!(s.callback_depth().await.unwrap(), 0);
}

/// A callback taken and never settled (its taker died) is handed out to
/// another consumer after the reclaim time, same token, oldest first,
/// expired or not; the new taker can settle it.
pub async fn a_dead_consumers_callbacks_are_taken_again<B: Backend>(b: &B) {
    let s = b.store();
    let short = ms(b.reclaim_ms() / 2);
    s.queue_callback(&call("one"), TTL).await.unwrap();
    s.queue_callback(&call("short"), short).await.unwrap();
    let dead = take_cbs(b, "a", 10).await;
    assert_eq!(call_texts(&dead), vec!["one", "short"]);
    // Another consumer gets nothing taken and not idle yet ...
    assert!(take_cbs(b, "b", 10).await.is_empty());
    b.pass(b.reclaim_ms() - b.tick()).await;
    assert!(take_cbs(b, "b", 10).await.is_empty());
    // ... until it is, oldest first, same tokens, at most `max`, before
    // what waits in the queue.
    s.queue_callback(&call("fresh"), TTL).await.unwrap();
    b.pass(b.tick()).await;
    let back = take_cbs(b, "b", 1).await;
    let mut rest = take_cbs(b, "b", 10).await;
    assert_eq!(cb_tokens(&back), cb_tokens(&dead[..1]));
    assert_eq!(call_texts(&rest), vec!["short", "fresh"]);
    let fresh = rest.split_off(1);
    s.callbacks_done(&cb_tokens(&fresh)).await.unwrap();
    assert_eq!(cb_tokens(&rest), cb_tokens(&dead[1..]));
    assert_eq!(cb_items(&rest), cb_items(&dead[1..]));
    // The expired one is handed out all the same (the sender drops it).
    assert!(rest[0].expires_ms <= b.now_ms() + b.slack_ms());
    assert_eq!(rest[0].attempts, 0);
    // Claimed: idle time starts over.
    assert!(take_cbs(b, "b", 10).await.is_empty());
    assert_eq!(s.callback_depth().await.unwrap(), 2);
    // The new taker settles them: one retried, one done.
    s.retry_callback(&back[0].token, Duration::ZERO)
        .await
        .unwrap();
    s.callbacks_done(&cb_tokens(&rest)).await.unwrap();
    let again = take_cbs(b, "b", 10).await;
    assert_eq!(call_texts(&again), vec!["one"]);
    assert_eq!(again[0].attempts, 1);
    s.callbacks_done(&cb_tokens(&again)).await.unwrap();
    assert_eq!(s.callback_depth().await.unwrap(), 0);
}

/// Runs on the real clock: a blocked take of callbacks waits out its
/// time, wakes for a queued callback, and (taken after the retry) for a
/// retry falling due.
pub async fn a_blocking_take_of_callbacks_wakes_for_a_queue_or_a_retry<B: Backend>(b: &B) {
    let s = b.store();
    let t0 = Instant::now();
    assert!(b.take_callbacks("a", 10, ms(300)).await.unwrap().is_empty());
    assert!(t0.elapsed() >= ms(300), "{:?}", t0.elapsed());
    let waiter = {
        let s = s.clone();
        tokio::spawn(async move { s.take_callbacks("a", 10, ms(5_000)).await })
    };
    tokio::time::sleep(ms(200)).await;
    assert!(!waiter.is_finished());
    // A delivery for a user does not wake it with anything.
    s.deliver("u", &mo("not a callback"), TTL).await.unwrap();
    tokio::time::sleep(ms(50)).await;
    assert!(!waiter.is_finished());
    let t0 = Instant::now();
    s.queue_callback(&call("late"), TTL).await.unwrap();
    let got = waiter.await.unwrap().unwrap();
    assert_eq!(call_texts(&got), vec!["late"]);
    assert!(t0.elapsed() < Duration::from_secs(2), "{:?}", t0.elapsed());

    // A retry falling due while blocked is taken when due (the take
    // waits no longer than the next retry's due time).
    s.retry_callback(&got[0].token, ms(300)).await.unwrap();
    let t0 = Instant::now();
    let third = b.take_callbacks("a", 10, ms(5_000)).await.unwrap();
    let waited = t0.elapsed();
    assert_eq!(call_texts(&third), vec!["late"]);
    assert_eq!(third[0].attempts, 1);
    assert!(
        waited >= ms(250) && waited < Duration::from_secs(2),
        "{waited:?}"
    );
    s.callbacks_done(&cb_tokens(&third)).await.unwrap();
    assert_eq!(s.callback_depth().await.unwrap(), 0);
}

/// A retry delay too long to mean anything (a sender's back-off gone
/// wild: `Duration::MAX`) is not due: the callback stays in the retry
/// set, counted, and is not handed out.
pub async fn an_absurd_callback_retry_delay_is_never_due<B: Backend>(b: &B) {
    let s = b.store();
    for text in ["max", "ms"] {
        s.queue_callback(&call(text), TTL).await.unwrap();
    }
    let got = take_cbs(b, "a", 10).await;
    s.retry_callback(&got[0].token, Duration::MAX)
        .await
        .unwrap();
    s.retry_callback(&got[1].token, Duration::from_millis(u64::MAX))
        .await
        .unwrap();
    b.pass(b.tick()).await;
    assert!(take_cbs(b, "a", 10).await.is_empty());
    assert_eq!(s.callback_depth().await.unwrap(), 2);
}
