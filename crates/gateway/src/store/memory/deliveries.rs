//! The users' delivery queues in memory: receipts and MO messages waiting
//! for one of the user's receiver binds.
//!
//! A user's queue keeps every item (taken or not) by token, the untaken
//! ones in order, the taken ones by when they were handed out (for the
//! reclaim); a new item first drops untaken ones past their expiry, so a
//! queue no receiver takes from stays bounded.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Notify;

use super::{Inner, Map, MemoryStore, Seq, TimeKey, ms, slot};
use crate::store::{Delivery, DeliveryItem, RECLAIM_AFTER_MS, StoreError};

#[cfg(doc)]
use crate::store::Store;

/// An item of a user's delivery queue.
struct Queued {
    item: DeliveryItem,
    queued_ms: i64,
    expires_ms: i64,
    /// When it was handed out (its key in `UserQueue::taken`), if it is
    /// taken.
    taken_ms: Option<TimeKey>,
}

/// A user's delivery queue.
#[derive(Default)]
struct UserQueue {
    /// Every item, taken or not, by token.
    items: Map<u64, Queued>,
    /// Tokens not taken, oldest first.
    ready: VecDeque<u64>,
    /// Taken tokens by when they were handed out (for reclaiming).
    taken: BTreeMap<TimeKey, u64>,
    wake: Arc<Notify>,
}

/// Every user's delivery queue.
#[derive(Default)]
pub(super) struct DeliveryQueues {
    users: Map<String, UserQueue>,
}

impl DeliveryQueues {
    /// Queue an item for `user` at `now_ms`, kept up to `ttl`.
    fn queue(&mut self, seq: &mut Seq, user: &str, item: DeliveryItem, now_ms: i64, ttl: Duration) {
        let token = seq.next();
        let q = slot(&mut self.users, user);
        // What waited past its expiry with nobody taking it goes: a queue
        // no receiver takes from stays bounded (the worker drops and
        // counts the expired items it takes).
        while let Some(first) = q.ready.front() {
            match q.items.get(first) {
                Some(i) if i.expires_ms > now_ms => break,
                _ => {
                    if let Some(t) = q.ready.pop_front() {
                        q.items.remove(&t);
                    }
                }
            }
        }
        q.items.insert(
            token,
            Queued {
                item,
                queued_ms: now_ms,
                expires_ms: now_ms.saturating_add(ms(ttl)),
                taken_ms: None,
            },
        );
        q.ready.push_back(token);
        q.wake.notify_waiters();
    }

    fn waker(&mut self, user: &str) -> Arc<Notify> {
        slot(&mut self.users, user).wake.clone()
    }

    /// Up to `max` items for `user` at `now_ms`: taken and never settled
    /// for the reclaim time first, then the queue.
    fn take(&mut self, seq: &mut Seq, user: &str, max: usize, now_ms: i64) -> Vec<Delivery> {
        let q = slot(&mut self.users, user);
        let mut tokens = Vec::new();
        while tokens.len() < max {
            let Some(first) = q.taken.first_entry() else {
                break;
            };
            if first.key().0.saturating_add(RECLAIM_AFTER_MS as i64) > now_ms {
                break;
            }
            tokens.push(first.remove());
        }
        while tokens.len() < max {
            let Some(t) = q.ready.pop_front() else { break };
            tokens.push(t);
        }
        let mut out = Vec::new();
        for token in tokens {
            let Some(i) = q.items.get_mut(&token) else {
                continue;
            };
            let key = (now_ms, seq.next());
            i.taken_ms = Some(key);
            q.taken.insert(key, token);
            out.push(Delivery {
                token: token.to_string(),
                item: i.item.clone(),
                queued_ms: i.queued_ms,
                expires_ms: i.expires_ms,
            });
        }
        out
    }

    /// [`Store::delivered`]: taken items leave the queue.
    pub(super) fn delivered(&mut self, user: &str, tokens: &[String]) {
        let Some(q) = self.users.get_mut(user) else {
            return;
        };
        for token in tokens {
            let Ok(token) = token.parse::<u64>() else {
                continue;
            };
            if let Some(key) = q.items.get(&token).and_then(|i| i.taken_ms) {
                q.items.remove(&token);
                q.taken.remove(&key);
            }
        }
    }

    /// [`Store::redeliver`]: a taken item goes back to the queue's tail
    /// under a new token.
    pub(super) fn redeliver(&mut self, seq: &mut Seq, user: &str, token: &str) {
        let Ok(token) = token.parse::<u64>() else {
            return;
        };
        let Some(q) = self.users.get_mut(user) else {
            return;
        };
        let Some(key) = q.items.get(&token).and_then(|i| i.taken_ms) else {
            return;
        };
        q.taken.remove(&key);
        let Some(mut i) = q.items.remove(&token) else {
            return;
        };
        i.taken_ms = None;
        let new = seq.next();
        q.items.insert(new, i);
        q.ready.push_back(new);
        q.wake.notify_waiters();
    }

    /// [`Store::delivery_depth`]: items waiting, taken ones included.
    pub(super) fn depth(&self, user: &str) -> u64 {
        self.users.get(user).map_or(0, |q| q.items.len() as u64)
    }
}

impl Inner {
    /// Queue an item for `user` ([`Store::deliver`], and receipts).
    pub(super) fn queue_delivery(
        &mut self,
        user: &str,
        item: DeliveryItem,
        now_ms: i64,
        ttl: Duration,
    ) {
        self.deliveries
            .queue(&mut self.seq, user, item, now_ms, ttl);
    }
}

impl MemoryStore {
    /// [`Store::take_deliveries`]: what there is now, else wait (up to
    /// `block`) for an item to be queued.
    pub(super) async fn take_deliveries_waiting(
        &self,
        user: &str,
        max: usize,
        block: Duration,
    ) -> Result<Vec<Delivery>, StoreError> {
        let wake = self.lock()?.deliveries.waker(user);
        self.take_or_wait(&wake, max, block, |inner, now_ms| {
            let out = inner.deliveries.take(&mut inner.seq, user, max, now_ms);
            (out, None)
        })
        .await
    }
}
