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

use crate::store::StoreError;

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

/// `op` until the store answers: up to 5 tries, pausing 200 ms, then
/// twice as long each time (3 s in all), for settles, which are safe to
/// repeat. A settle given up is left taken and handed out again after
/// the reclaim time: sent or delivered twice.
pub async fn retrying<T, Fut>(mut op: impl FnMut() -> Fut) -> Result<T, StoreError>
where
    Fut: Future<Output = Result<T, StoreError>>,
{
    let mut pause = Duration::from_millis(200);
    let mut attempt = 1;
    loop {
        match op().await {
            Ok(v) => return Ok(v),
            Err(e) if attempt == 5 => return Err(e),
            Err(_) => {
                tokio::time::sleep(pause).await;
                pause *= 2;
                attempt += 1;
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

    #[tokio::test(start_paused = true)]
    async fn a_settle_is_tried_again_while_the_store_does_not_answer_for_3_s() {
        let tries = std::sync::atomic::AtomicU32::new(0);
        let t0 = tokio::time::Instant::now();
        let down_for = Duration::from_millis(2_500);
        let r = retrying(|| async {
            tries.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            if t0.elapsed() < down_for {
                Err(StoreError("down".into()))
            } else {
                Ok(7)
            }
        })
        .await;
        assert_eq!(r.unwrap(), 7);
        // 0, 0.2, 0.6, 1.4, 3.0 s: the fifth try finds the store back.
        assert_eq!(tries.into_inner(), 5);
        let r: Result<(), _> = retrying(|| async { Err(StoreError("down".into())) }).await;
        assert!(r.is_err());
    }
}
