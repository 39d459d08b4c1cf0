//! The callback queue in memory: receipts of messages sent with a
//! `dlr-url` and calls made whole (MO for a `mo_url`), waiting for the
//! sender; failed ones wait in a retry set until they are due again.
//!
//! Every item (taken, ready or waiting to retry) is kept by token; the
//! ready ones in order, the taken ones by when they were handed out (for
//! the reclaim), the retries by when they are due.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Notify;

use super::{Inner, Map, MemoryStore, Seq, TimeKey, ms};
use crate::store::{Callback, CallbackTaken, RECLAIM_AFTER_MS, StoreError};

#[cfg(doc)]
use crate::store::Store;

struct Queued {
    item: Callback,
    queued_ms: i64,
    expires_ms: i64,
    attempts: u32,
    /// When it was handed out (its key in `taken`), if it is taken.
    taken_ms: Option<TimeKey>,
}

/// The one callback queue.
#[derive(Default)]
pub(super) struct CallbackQueue {
    items: Map<u64, Queued>,
    ready: VecDeque<u64>,
    taken: BTreeMap<TimeKey, u64>,
    /// Failed items by when they are due again.
    retries: BTreeMap<TimeKey, u64>,
    wake: Arc<Notify>,
}

impl CallbackQueue {
    /// Queue `item` at `now_ms`, kept up to `ttl`.
    pub(super) fn queue(&mut self, seq: &mut Seq, item: Callback, now_ms: i64, ttl: Duration) {
        let token = seq.next();
        self.items.insert(
            token,
            Queued {
                item,
                queued_ms: now_ms,
                expires_ms: now_ms.saturating_add(ms(ttl)),
                attempts: 0,
                taken_ms: None,
            },
        );
        self.ready.push_back(token);
        self.wake.notify_waiters();
    }

    /// Up to `max` items at `now_ms` ([`Store::take_callbacks`]), and when
    /// the next retry or reclaim falls due.
    fn take(
        &mut self,
        seq: &mut Seq,
        max: usize,
        now_ms: i64,
    ) -> (Vec<CallbackTaken>, Option<i64>) {
        if max == 0 {
            return (Vec::new(), None);
        }
        let mut tokens = Vec::new();
        while tokens.len() < max {
            let Some(first) = self.taken.first_entry() else {
                break;
            };
            if first.key().0.saturating_add(RECLAIM_AFTER_MS as i64) > now_ms {
                break;
            }
            tokens.push(first.remove());
        }
        // Due retries join the back of the queue (at most `max`), under a
        // new token, as a new stream entry on redis.
        for _ in 0..max {
            let Some(first) = self.retries.first_entry() else {
                break;
            };
            if first.key().0 > now_ms {
                break;
            }
            let old = first.remove();
            if let Some(i) = self.items.remove(&old) {
                let new = seq.next();
                self.items.insert(new, i);
                self.ready.push_back(new);
            }
        }
        while tokens.len() < max {
            let Some(t) = self.ready.pop_front() else {
                break;
            };
            tokens.push(t);
        }
        let mut out = Vec::with_capacity(tokens.len());
        for token in tokens {
            let Some(i) = self.items.get_mut(&token) else {
                continue;
            };
            let key = (now_ms, seq.next());
            i.taken_ms = Some(key);
            self.taken.insert(key, token);
            out.push(CallbackTaken {
                token: token.to_string(),
                item: i.item.clone(),
                queued_ms: i.queued_ms,
                expires_ms: i.expires_ms,
                attempts: i.attempts,
            });
        }
        let next_retry = self.retries.first_key_value().map(|(k, _)| k.0);
        let next_reclaim = self
            .taken
            .first_key_value()
            .map(|(k, _)| k.0.saturating_add(RECLAIM_AFTER_MS as i64));
        let next = match (next_retry, next_reclaim) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        (out, next)
    }

    /// The taken item of `token`, out of the taken list.
    fn untake(&mut self, token: &str) -> Option<u64> {
        let token = token.parse::<u64>().ok()?;
        let key = self.items.get(&token)?.taken_ms?;
        self.taken.remove(&key);
        Some(token)
    }

    /// [`Store::callbacks_done`].
    pub(super) fn done(&mut self, tokens: &[String]) {
        for t in tokens {
            if let Some(token) = self.untake(t) {
                self.items.remove(&token);
            }
        }
    }

    /// [`Store::retry_callback`] at `now_ms`.
    pub(super) fn retry(&mut self, seq: &mut Seq, token: &str, now_ms: i64, delay: Duration) {
        let Some(token) = self.untake(token) else {
            return;
        };
        if let Some(i) = self.items.get_mut(&token) {
            i.taken_ms = None;
            i.attempts = i.attempts.saturating_add(1);
            let due = now_ms.saturating_add(ms(delay));
            self.retries.insert((due, seq.next()), token);
            // A sleeping take must wake for it.
            self.wake.notify_waiters();
        }
    }

    /// [`Store::callback_depth`].
    pub(super) fn depth(&self) -> u64 {
        self.items.len() as u64
    }
}

impl Inner {
    /// Queue a callback ([`Store::queue_callback`], and receipts of a
    /// message with a callback).
    pub(super) fn queue_callback(&mut self, item: Callback, now_ms: i64, ttl: Duration) {
        self.callbacks.queue(&mut self.seq, item, now_ms, ttl);
    }
}

impl MemoryStore {
    /// [`Store::take_callbacks`]: what there is now, else wait (up to
    /// `block`) for a callback to be queued or a retry to fall due.
    pub(super) async fn take_callbacks_waiting(
        &self,
        max: usize,
        block: Duration,
    ) -> Result<Vec<CallbackTaken>, StoreError> {
        let wake = self.lock()?.callbacks.wake.clone();
        self.take_or_wait(&wake, max, block, |inner, now_ms| {
            inner.callbacks.take(&mut inner.seq, max, now_ms)
        })
        .await
    }
}
