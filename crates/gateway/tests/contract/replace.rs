//! Replace's contract: a message that waits for its connector (queued,
//! in the retry set, or back in the queue after a retry) gets its new
//! content, its owner only, atomically; a taken, sent or final one is too
//! late; a refusal (the caller's, or another number of parts) changes
//! nothing.

use std::time::Duration;

use bytes::Bytes;
use gateway::store::{ReplaceOutcome, Replacement, Store, StoredMessage};
use smpp::MessageState;
use smpp::pdu::RegisteredDelivery;

use super::{Backend, drain, take};
use crate::common::fixtures::{TTL, ids, message, ms, sub};

/// `text` in place of the message's, the same parts, receipts asked for.
fn new_text(text: &'static str) -> impl Fn(&StoredMessage) -> Result<Replacement, ()> + Sync {
    move |old| {
        let mut submit = old.submit.clone();
        submit.short_message = Bytes::from_static(text.as_bytes());
        submit.registered_delivery = RegisteredDelivery::FINAL;
        Ok(Replacement {
            submit,
            parts: old.parts,
            expires_ms: Some(1_790_000_500_000),
        })
    }
}

fn text(m: &StoredMessage) -> &[u8] {
    &m.submit.short_message
}

pub async fn a_waiting_message_is_replaced_for_its_owner_only<B: Backend>(b: &B) {
    let s = b.store();
    s.init_credit("u", 1_000_000).await.unwrap();
    for id in ["a", "b", "c"] {
        let m = message(id, "u", 2, 100_000);
        s.submit(sub(&m, None, Some(m.charge_micro())))
            .await
            .unwrap();
    }
    assert_eq!(
        s.replace("b", "someone-else", new_text("x")).await.unwrap(),
        ReplaceOutcome::NotFound
    );
    assert_eq!(
        s.replace("nope", "u", new_text("x")).await.unwrap(),
        ReplaceOutcome::NotFound
    );
    // Refusals change nothing.
    let refuse = |_: &StoredMessage| -> Result<Replacement, &'static str> { Err("no") };
    assert_eq!(
        s.replace("b", "u", refuse).await.unwrap(),
        ReplaceOutcome::Refused("no")
    );
    let three_parts = |old: &StoredMessage| -> Result<Replacement, ()> {
        Ok(Replacement {
            submit: old.submit.clone(),
            parts: 3,
            expires_ms: None,
        })
    };
    assert_eq!(
        s.replace("b", "u", three_parts).await.unwrap(),
        ReplaceOutcome::PartsDiffer { was: 2, now: 3 }
    );
    assert_eq!(
        s.replace("b", "u", new_text("new b")).await.unwrap(),
        ReplaceOutcome::Replaced
    );
    // Again: the same content stored again.
    assert_eq!(
        s.replace("b", "u", new_text("new b")).await.unwrap(),
        ReplaceOutcome::Replaced
    );
    // The same charge, depth and state; the queue's back.
    assert_eq!(s.balance("u").await.unwrap(), Some(400_000));
    assert_eq!(s.queue_depth("up").await.unwrap(), 3);
    let st = s.status("b").await.unwrap().unwrap();
    assert_eq!((st.state, st.user.as_str()), (MessageState::Enroute, "u"));
    let taken = take(b, 10).await;
    assert_eq!(ids(&taken), vec!["a", "c", "b"]);
    let new = &taken[2].message;
    assert_eq!(text(new), b"new b");
    assert_eq!(new.expires_ms, Some(1_790_000_500_000));
    assert_eq!((new.parts, new.rate_micro), (2, 100_000));
    assert_eq!(text(&taken[0].message), b"");
    // Taken: too late, nothing changed.
    assert_eq!(
        s.replace("a", "u", new_text("late")).await.unwrap(),
        ReplaceOutcome::TooLate
    );
    assert_eq!(
        s.replace("a", "u", refuse).await.unwrap(),
        ReplaceOutcome::TooLate
    );
    // The receipt is the replacement's: it asked for one (the original
    // did not).
    s.fail("up", &taken[2], MessageState::Rejected, 1, TTL)
        .await
        .unwrap();
    let got = drain(b, "u").await;
    assert_eq!(got.len(), 1, "{got:?}");
    // Sent or final: too late.
    s.sent("up", &taken[0], &["x1".into()], TTL).await.unwrap();
    for id in ["a", "b"] {
        assert_eq!(
            s.replace(id, "u", new_text("late")).await.unwrap(),
            ReplaceOutcome::TooLate
        );
    }
    // Cancelled: too late.
    let d = message("d", "u", 1, 0);
    s.submit(sub(&d, None, None)).await.unwrap();
    s.cancel("d", "u").await.unwrap();
    assert_eq!(
        s.replace("d", "u", new_text("late")).await.unwrap(),
        ReplaceOutcome::TooLate
    );
    assert!(take(b, 10).await.is_empty());
}

/// In the retry set a message keeps its due time; back in the queue
/// after it (not yet taken) it is replaced there too.
pub async fn a_retrying_message_is_replaced_where_it_waits<B: Backend>(b: &B) {
    const DELAY_MS: u64 = 300;
    let s = b.store();
    let a = message("a", "u", 1, 0);
    s.submit(sub(&a, None, None)).await.unwrap();
    let t = take(b, 1).await;
    s.retry("up", &t[0], ms(DELAY_MS)).await.unwrap();
    assert_eq!(
        s.replace("a", "u", new_text("retried")).await.unwrap(),
        ReplaceOutcome::Replaced
    );
    assert_eq!(s.queue_depth("up").await.unwrap(), 1);
    assert!(take(b, 1).await.is_empty(), "not due yet");
    b.pass(DELAY_MS).await;
    let t = take(b, 1).await;
    assert_eq!(ids(&t), vec!["a"]);
    assert_eq!(text(&t[0].message), b"retried");

    // Due at once, moved back to the queue behind "x" by a take of one
    // that takes "x": replaced in the queue, and behind "y" now.
    s.retry("up", &t[0], Duration::ZERO).await.unwrap();
    for id in ["x", "y"] {
        s.submit(sub(&message(id, "u", 1, 0), None, None))
            .await
            .unwrap();
    }
    b.pass(b.tick()).await;
    assert_eq!(ids(&take(b, 1).await), vec!["x"]);
    assert_eq!(
        s.replace("a", "u", new_text("requeued")).await.unwrap(),
        ReplaceOutcome::Replaced
    );
    let t = take(b, 10).await;
    assert_eq!(ids(&t), vec!["y", "a"]);
    assert_eq!(text(&t[1].message), b"requeued");
    assert_eq!(s.queue_depth("up").await.unwrap(), 0);
}
