//! Settling many items in one store call: a stage that answers items one
//! by one (a deliver_sm_resp, a callback's 2xx) hands each item's token
//! and its slot to a task of its own, which gathers what comes within a
//! linger and settles the batch at once (one store call for a batch costs
//! the store about what one for a single item does). An item's slot
//! ([`OwnedSemaphorePermit`]) is given back only once it is settled.
//! Not a stage: the delivery workers and the callback sender use it.

use std::future::Future;
use std::time::Duration;

use tokio::sync::OwnedSemaphorePermit;
use tokio::sync::mpsc::UnboundedReceiver;

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
}
