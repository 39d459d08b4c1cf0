//! Reroute's contract: a taken message moves on to the next connector of
//! its route with its id, state, charge and receipt request, once (a
//! settled token moves nothing), and is found where it now waits by
//! take, queue_depth, cancel and replace; its one final receipt comes
//! from the connector that finally sends it.

use std::time::Duration;

use bytes::Bytes;
use gateway::store::{CancelOutcome, ReplaceOutcome, Replacement, Store, StoredMessage};
use smpp::MessageState;

use super::{Backend, drain, take};
use crate::common::fixtures::{TTL, fin, ids, message, part, receipt_of, sub};

/// A message of user "u" for "up", then "next", then "last".
fn routed(id: &str, parts: u32, rate: i64) -> StoredMessage {
    let mut m = message(id, "u", parts, rate);
    m.connectors = vec!["up".into(), "next".into(), "last".into()];
    m.route = Some(30);
    m.submit.registered_delivery = smpp::pdu::RegisteredDelivery::FINAL;
    m
}

async fn take_from<B: Backend>(b: &B, connector: &str) -> Vec<gateway::store::Taken> {
    b.take(connector, "w", 10, Duration::ZERO).await.unwrap()
}

pub async fn a_rerouted_message_keeps_its_charge_and_gets_one_receipt_from_its_next_connector<
    B: Backend,
>(
    b: &B,
) {
    let s = b.store();
    s.init_credit("u", 1_000_000).await.unwrap();
    let m = routed("a", 2, 100_000);
    s.submit(sub(&m, None, Some(m.charge_micro())))
        .await
        .unwrap();
    assert_eq!(s.balance("u").await.unwrap(), Some(800_000));
    let t = take(b, 10).await;
    assert_eq!(ids(&t), vec!["a"]);
    let next = m.moved_on(|_| true).unwrap();
    assert!(s.reroute("up", &t[0], &next).await.unwrap());
    // Settled on "up", waiting on "next"; nothing refunded, no receipt.
    assert_eq!(s.queue_depth("up").await.unwrap(), 0);
    assert_eq!(s.queue_depth("next").await.unwrap(), 1);
    assert_eq!(s.balance("u").await.unwrap(), Some(800_000));
    assert_eq!(s.delivery_depth("u").await.unwrap(), 0);
    let st = s.status("a").await.unwrap().unwrap();
    assert_eq!((st.state, st.final_ms), (MessageState::Enroute, None));
    // Repeated, or settled otherwise after: nothing more.
    assert!(!s.reroute("up", &t[0], &next).await.unwrap());
    s.retry("up", &t[0], Duration::ZERO).await.unwrap();
    s.fail("up", &t[0], MessageState::Rejected, 0x0b, TTL)
        .await
        .unwrap();
    assert_eq!(s.queue_depth("next").await.unwrap(), 1);
    assert_eq!(s.queue_depth("up").await.unwrap(), 0);
    assert!(take(b, 10).await.is_empty());
    assert_eq!(s.balance("u").await.unwrap(), Some(800_000));
    assert_eq!(s.delivery_depth("u").await.unwrap(), 0);

    // Taken from "next" as it now is; sent there, its receipts come
    // from "next" and make one final receipt.
    let t = take_from(b, "next").await;
    assert_eq!(t.len(), 1);
    assert_eq!(*t[0].message, next);
    let ups = vec!["n1".to_string(), "n2".to_string()];
    s.sent("next", &t[0], &ups, TTL).await.unwrap();
    assert_eq!(
        s.upstream("next", "n1").await.unwrap().as_deref(),
        Some("a")
    );
    assert_eq!(s.upstream("up", "n1").await.unwrap(), None);
    for (up, last) in [("n1", false), ("n2", true)] {
        let got = s
            .receipt("next", up, part(MessageState::Delivered, 0), TTL)
            .await
            .unwrap();
        if last {
            assert_eq!(got, fin(MessageState::Delivered, true));
        }
    }
    let got = drain(b, "u").await;
    assert_eq!(got.len(), 1);
    let r = receipt_of(&got[0]);
    assert_eq!((r.state, r.sub, r.dlvrd), (MessageState::Delivered, 2, 2));
    assert_eq!(r.message.id, "a");
    assert_eq!(s.balance("u").await.unwrap(), Some(800_000));

    // Refused on its last connector: failed as any message, refunded
    // once, one final receipt.
    let m = routed("b", 1, 100_000);
    s.submit(sub(&m, None, Some(m.charge_micro())))
        .await
        .unwrap();
    let t = take(b, 10).await;
    let next = m.moved_on(|c| c != "next").unwrap();
    assert_eq!(next.connectors, vec!["last".to_string()]);
    s.reroute("up", &t[0], &next).await.unwrap();
    assert_eq!(s.queue_depth("next").await.unwrap(), 0);
    let t = take_from(b, "last").await;
    assert_eq!(ids(&t), vec!["b"]);
    assert_eq!(t[0].message.moved_on(|_| true), None);
    s.fail("last", &t[0], MessageState::Rejected, 0x0b, TTL)
        .await
        .unwrap();
    assert_eq!(s.balance("u").await.unwrap(), Some(800_000));
    let got = drain(b, "u").await;
    assert_eq!(got.len(), 1);
    assert_eq!(receipt_of(&got[0]).state, MessageState::Rejected);
    assert_eq!(receipt_of(&got[0]).error_code, 0x0b);
}

pub async fn a_rerouted_message_is_cancelled_and_replaced_where_it_waits<B: Backend>(b: &B) {
    let s = b.store();
    s.init_credit("u", 1_000_000).await.unwrap();
    for id in ["a", "b"] {
        let m = routed(id, 1, 100_000);
        s.submit(sub(&m, None, Some(m.charge_micro())))
            .await
            .unwrap();
    }
    for t in take(b, 10).await {
        let next = t.message.moved_on(|_| true).unwrap();
        s.reroute("up", &t, &next).await.unwrap();
    }
    assert_eq!(s.queue_depth("next").await.unwrap(), 2);
    assert_eq!(s.balance("u").await.unwrap(), Some(800_000));
    // Cancelled on "next": refunded, DELETED, gone from its queue.
    assert_eq!(s.cancel("a", "u").await.unwrap(), CancelOutcome::Cancelled);
    assert_eq!(s.balance("u").await.unwrap(), Some(900_000));
    assert_eq!(
        s.status("a").await.unwrap().unwrap().state,
        MessageState::Deleted
    );
    assert_eq!(s.queue_depth("next").await.unwrap(), 1);
    // Replaced on "next": taken from there with its new text and the
    // connectors it has left.
    let edit = |old: &StoredMessage| -> Result<Replacement, ()> {
        let mut submit = old.submit.clone();
        submit.short_message = Bytes::from_static(b"changed");
        Ok(Replacement {
            submit,
            parts: old.parts,
            expires_ms: old.expires_ms,
        })
    };
    assert_eq!(
        s.replace("b", "u", edit).await.unwrap(),
        ReplaceOutcome::Replaced
    );
    let t = take_from(b, "next").await;
    assert_eq!(ids(&t), vec!["b"]);
    assert_eq!(&t[0].message.submit.short_message[..], b"changed");
    assert_eq!(
        t[0].message.connectors,
        vec!["next".to_string(), "last".to_string()]
    );
    assert_eq!(s.cancel("b", "u").await.unwrap(), CancelOutcome::TooLate);
    assert!(take(b, 10).await.is_empty());
}
