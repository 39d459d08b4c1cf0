//! Settling many items in one store call: a stage that answers items one
//! by one (a deliver_sm_resp, a callback's 2xx) hands each item's token
//! and its slot to a task of its own, which gathers what comes within a
//! linger and settles the batch at once (one store call for a batch costs
//! the store about what one for a single item does). An item's slot
//! ([`OwnedSemaphorePermit`]) is given back only once it is settled.
//! Not a stage: the delivery workers and the callback sender use it;
//! the connectors and the delivery workers settle through [`retrying`].

use std::future::Future;
use std::time::Duration;

use tokio::sync::OwnedSemaphorePermit;
use tokio::sync::mpsc::UnboundedReceiver;

use crate::store::{RECLAIM_AFTER_MS, StoreError};

/// An item to settle: its store token and the slot it holds.
pub type Settled = (String, OwnedSemaphorePermit);

/// Settle what comes on `rx` with `settle`, each batch what arrived
/// within `linger` of its first item (up to `max`), until the channel is
/// closed and empty.
pub async fn gather<F, Fut>(
    mut rx: UnboundedReceiver<Settled>,
    linger: Duration,
    max: usize,
    settle: F,
) where
    F: Fn(Vec<String>) -> Fut,
    Fut: Future<Output = ()>,
{
    let mut permits = Vec::new();
    while let Some((t, p)) = rx.recv().await {
        let mut tokens = vec![t];
        permits.push(p);
        tokio::time::sleep(linger).await;
        while tokens.len() < max {
            match rx.try_recv() {
                Ok((t, p)) => {
                    tokens.push(t);
                    permits.push(p);
                }
                Err(_) => break,
            }
        }
        settle(tokens).await;
        permits.clear();
    }
}

/// How long a settle is tried for: a third of the reclaim time, as a
/// connector's tries of a message's parts (a Redis restart with a large
/// AOF to load takes seconds; the chaos run saw more than 3 s).
pub const SETTLE_FOR: Duration = Duration::from_millis(RECLAIM_AFTER_MS / 3);
/// The longest pause between two tries of a settle.
const PAUSE_MAX: Duration = Duration::from_secs(5);

/// `op` until the store answers, for settles, which are safe to repeat:
/// pausing 200 ms, then twice as long each time up to [`PAUSE_MAX`], for
/// [`SETTLE_FOR`]. A settle given up is left taken and handed out again
/// after the reclaim time: sent or delivered twice.
pub async fn retrying<T, Fut>(mut op: impl FnMut() -> Fut) -> Result<T, StoreError>
where
    Fut: Future<Output = Result<T, StoreError>>,
{
    let give_up = tokio::time::Instant::now() + SETTLE_FOR;
    let mut pause = Duration::from_millis(200);
    loop {
        match op().await {
            Ok(v) => return Ok(v),
            Err(e) if tokio::time::Instant::now() + pause > give_up => return Err(e),
            Err(_) => {
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(PAUSE_MAX);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use tokio::sync::Semaphore;

    use super::*;

    #[tokio::test]
    async fn what_comes_within_the_linger_is_one_batch_and_slots_come_back_after() {
        let slots = Arc::new(Semaphore::new(4));
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        let batches = Arc::new(Mutex::new(Vec::new()));
        let b = batches.clone();
        let s = slots.clone();
        let task = tokio::spawn(gather(rx, Duration::from_millis(20), 3, move |tokens| {
            let (b, s) = (b.clone(), s.clone());
            async move {
                // Settling: the batch's slots are still held.
                b.lock().unwrap().push((tokens, s.available_permits()));
            }
        }));
        for t in ["a", "b", "c", "d"] {
            tx.send((t.to_string(), slots.clone().acquire_owned().await.unwrap()))
                .unwrap();
        }
        drop(tx);
        task.await.unwrap();
        let got = batches.lock().unwrap().clone();
        assert_eq!(
            got,
            vec![
                (vec!["a".to_string(), "b".into(), "c".into()], 0),
                (vec!["d".to_string()], 3)
            ]
        );
        assert_eq!(slots.available_permits(), 4);
    }

    /// A Redis that takes 30 s to come back (a large AOF to load):
    /// the settle goes through; one that never comes back: given up
    /// after SETTLE_FOR, before anyone could reclaim the item.
    #[tokio::test(start_paused = true)]
    async fn a_settle_is_tried_again_while_the_store_does_not_answer() {
        let tries = std::sync::atomic::AtomicU32::new(0);
        let t0 = tokio::time::Instant::now();
        let r = retrying(|| async {
            tries.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            if t0.elapsed() < Duration::from_secs(30) {
                Err(StoreError("down".into()))
            } else {
                Ok(7)
            }
        })
        .await;
        assert_eq!(r.unwrap(), 7);
        // 0, 0.2, 0.6, 1.4, 3.0, 6.2, then every 5 s: 31.2 s.
        assert_eq!(tries.into_inner(), 11);
        assert!(t0.elapsed() < Duration::from_secs(32), "{:?}", t0.elapsed());
        let t0 = tokio::time::Instant::now();
        let r: Result<(), _> = retrying(|| async { Err(StoreError("down".into())) }).await;
        assert!(r.is_err());
        let took = t0.elapsed();
        assert!(
            took <= SETTLE_FOR && took + PAUSE_MAX >= SETTLE_FOR,
            "gave up after {took:?}"
        );
        assert!(SETTLE_FOR * 3 <= Duration::from_millis(RECLAIM_AFTER_MS));
    }
}
