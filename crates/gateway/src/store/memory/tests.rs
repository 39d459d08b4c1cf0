//! What only this backend's private state shows. Everything the memory
//! store shares with redis is held to the contract suite in
//! `tests/store_contract.rs`, and what memory alone does through its
//! public API is in `tests/memory_store.rs`; these two look inside, or
//! need two retries due in the same millisecond (a test clock).

use super::*;
use std::sync::atomic::{AtomicI64, Ordering};

fn message(id: &str) -> StoredMessage {
    StoredMessage {
        id: id.into(),
        user: "u".into(),
        connectors: vec!["up".into()],
        submit: Default::default(),
        parts: 1,
        rate_micro: 0,
        accepted_ms: 0,
        expires_ms: None,
        callback: None,
        route: None,
    }
}

fn sub(m: &StoredMessage) -> Submission<'_> {
    Submission {
        message: m,
        throttle: None,
        charge_micro: None,
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

async fn take(s: &MemoryStore, max: usize) -> Vec<Taken> {
    s.take("up", "w", max, Duration::ZERO).await.unwrap()
}

fn ids(taken: &[Taken]) -> Vec<String> {
    taken.iter().map(|t| t.message.id.clone()).collect()
}

/// A later `sent` sweeps the mappings that expired, and a settled
/// message leaves no taken record behind.
#[tokio::test]
async fn sent_sweeps_expired_upstream_mappings() {
    let (s, t) = clocked();
    let a = message("a");
    s.submit(sub(&a)).await.unwrap();
    let taken = take(&s, 10).await;
    let up = vec!["x1".to_string(), "x2".to_string()];
    s.sent("up", &taken[0], &up, Duration::from_secs(10))
        .await
        .unwrap();
    t.fetch_add(10_000_000, Ordering::Relaxed);
    assert_eq!(s.upstream("up", "x1").await.unwrap(), None);
    let b = message("b");
    s.submit(sub(&b)).await.unwrap();
    let taken = take(&s, 10).await;
    s.sent("up", &taken[0], &["y".into()], Duration::from_secs(10))
        .await
        .unwrap();
    let g = s.lock().unwrap();
    assert_eq!(g.receipts.upstream.len(), 1);
    assert_eq!(g.receipts.upstream_expiry.len(), 1);
    assert!(g.mt.held.is_empty());
}

/// Retries due in the same millisecond join the queue by message id, as
/// redis' retry set orders equal scores by member.
#[tokio::test]
async fn retries_due_at_once_join_the_queue_by_message_id() {
    let (s, _t) = clocked();
    for id in ["b", "a", "c"] {
        s.submit(sub(&message(id))).await.unwrap();
    }
    let taken = take(&s, 3).await;
    assert_eq!(ids(&taken), vec!["b", "a", "c"]);
    for t in [&taken[2], &taken[0], &taken[1]] {
        s.retry("up", t, Duration::ZERO).await.unwrap();
    }
    assert_eq!(ids(&take(&s, 2).await), vec!["a", "b"]);
    assert_eq!(ids(&take(&s, 2).await), vec!["c"]);
}
