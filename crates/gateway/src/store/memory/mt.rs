//! The connectors' MT queues in memory: submit, take, retry, cancel and
//! fail, and the records of what is taken and not settled.
//!
//! A message is in one place at a time: queued (its connector's queue),
//! taken (handed to a connector by [`Store::take`], a record kept under
//! its token until [`Store::sent`], [`Store::retry`] or [`Store::fail`]
//! settles it), retrying (in its connector's retry set until its due
//! time), or done.
//!
//! - Order: a take first hands out again messages taken and never
//!   settled for [`RECLAIM_AFTER_MS`] (a worker that panicked or was
//!   dropped mid-send; same token, at least once, as redis' XAUTOCLAIM),
//!   then the queue, oldest first. Retries whose time has come join the
//!   *back* of the queue when a take notices them, at most `max` per
//!   take, earliest due first (equal due times by message id), exactly
//!   as the redis backend's `promote` re-XADDs them to the stream's tail
//!   (ZRANGEBYSCORE … LIMIT 0 max: score, then member). A take of 0
//!   changes nothing, as redis' answers at once.
//! - A message waiting in the retry set counts in [`Store::queue_depth`]
//!   and against the submit's queue limit (it is still waiting for its
//!   connector), like a queued one; a taken one does not.
//! - A message in the retry set has not been sent upstream, so cancel
//!   succeeds for it (it leaves the retry set, DELETED, refunded), and
//!   for a due retry back in the queue and not taken yet. A taken
//!   message is too late.
//! - Reroute settles a taken message and queues it, as it now is, at
//!   the back of its next connector's queue (`Entry::connector` follows
//!   it, so cancel and replace find it there).
//! - Replace (of a message queued or in the retry set, as cancel) swaps
//!   the message in its record; a queued one moves to the back of its
//!   queue, as on redis, where a stream entry cannot be rewritten.
//! - Refunds (cancel, fail) give back what submit actually charged
//!   (nothing for an unlimited user), to a tracked balance only, once
//!   ([`rules::take_refund`]).
//! - Settling a token that is no longer held (settled already, or handed
//!   out again and settled by the other taker) does not retry or refund
//!   twice: [`Store::retry`] and [`Store::fail`] then change nothing;
//!   [`Store::sent`] still records the upstream ids (the message really
//!   was accepted upstream).

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use smpp::MessageState;
use tokio::sync::Notify;

use super::{Entry, Id, Inner, Kept, Map, MemoryStore, TimeKey, ms, slot};
use crate::store::{
    CancelOutcome, EXPIRY_GRACE_MS, RECLAIM_AFTER_MS, Refusal, ReplaceOutcome, Replacement,
    StoreError, StoredMessage, Submission, Taken, rules,
};

#[cfg(doc)]
use crate::store::Store;

/// Where a message is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Place {
    /// In its connector's queue, not yet taken.
    Queued,
    /// Taken by a connector and not settled.
    Taken,
    /// In its connector's retry set, due at this time (Unix ms).
    Retrying(i64),
    /// Sent upstream, failed or cancelled: nothing waits for it here.
    Done,
}

/// A taken message's record until it is settled.
pub(super) struct Held {
    /// The message's id as its record holds it.
    pub(super) id: Id,
    message: Arc<crate::store::StoredMessage>,
    connector: Arc<str>,
    /// When it was last handed out, its key in `MtQueues::held_order`.
    key: TimeKey,
}

/// The connectors' queues, retry sets and taken records.
#[derive(Default)]
pub(super) struct MtQueues {
    /// Per connector: message ids in arrival order. Cancelled ids stay
    /// until taken and are skipped then.
    queues: Map<String, VecDeque<Id>>,
    /// Per connector: messages queued (not cancelled) or in its retry set.
    depth: Map<String, u64>,
    /// Taken and not settled, by token (a number of the store's `Seq`).
    pub(super) held: Map<u64, Held>,
    /// Per connector: the held tokens by when they were handed out.
    held_order: Map<String, BTreeMap<TimeKey, u64>>,
    /// Per connector: (due at ms, message id) of the messages waiting for
    /// their retry time, ordered as redis' retry set (score, then member).
    retries: Map<String, BTreeSet<(i64, Id)>>,
    /// Per connector: signalled by a submit or a retry, for blocked takes.
    wake: Map<String, Arc<Notify>>,
}

impl MtQueues {
    /// Messages waiting for `connector`: queued or in its retry set.
    pub(super) fn depth(&self, connector: &str) -> u64 {
        self.depth.get(connector).copied().unwrap_or(0)
    }

    pub(super) fn less_depth(&mut self, connector: &str) {
        if let Some(d) = self.depth.get_mut(connector) {
            *d = d.saturating_sub(1);
        }
    }

    /// Let go of `connector`'s held record of message `id` when it was
    /// handed out [`RECLAIM_AFTER_MS`] or more before `now_ms` (its taker
    /// died: a take would hand it out again); whether it did.
    pub(super) fn release_stale(&mut self, connector: &str, id: &str, now_ms: i64) -> bool {
        let Some(order) = self.held_order.get(connector) else {
            return false;
        };
        let stale = order
            .iter()
            .take_while(|(k, _)| k.0.saturating_add(RECLAIM_AFTER_MS as i64) <= now_ms)
            .find(|(_, token)| self.held.get(token).is_some_and(|h| &*h.id == id))
            .map(|(_, token)| token.to_string());
        match stale {
            Some(token) => self.settle(&token).is_some(),
            None => false,
        }
    }

    /// Take message `id`, due at `due`, out of `connector`'s retry set.
    pub(super) fn unretry(&mut self, connector: &str, due: i64, id: &Id) {
        if let Some(r) = self.retries.get_mut(connector) {
            r.remove(&(due, id.clone()));
        }
    }

    fn wake(&self, connector: &str) {
        if let Some(n) = self.wake.get(connector) {
            n.notify_waiters();
        }
    }

    /// Forget a token's record; the message it held, if it was held.
    pub(super) fn settle(&mut self, token: &str) -> Option<Held> {
        let h = self.held.remove(&token.parse::<u64>().ok()?)?;
        if let Some(order) = self.held_order.get_mut(&*h.connector) {
            order.remove(&h.key);
        }
        Some(h)
    }

    /// When the next retry or reclaim of `connector` falls due (ms).
    fn next_due(&self, connector: &str) -> Option<i64> {
        let next_retry = self
            .retries
            .get(connector)
            .and_then(|r| r.first())
            .map(|(due, _)| *due);
        let next_reclaim = self
            .held_order
            .get(connector)
            .and_then(|o| o.first_key_value())
            .map(|(k, _)| k.0.saturating_add(RECLAIM_AFTER_MS as i64));
        match (next_retry, next_reclaim) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }
}

impl Inner {
    /// [`Store::submit`] at `now` (µs).
    pub(super) fn submit(
        &mut self,
        s: Submission<'_>,
        kept: Kept,
        now: i64,
    ) -> Result<(), Refusal> {
        let m = s.message;
        // Idempotent on the id, as the redis script (ALREADY_ACCEPTED): a
        // submit whose answer was lost can be repeated safely.
        if self.messages.contains_key(m.id.as_str()) {
            return Ok(());
        }
        let connector = m.connectors.first().map_or("", String::as_str);
        if self.mt.depth(connector) >= s.queue_limit {
            return Err(Refusal::QueueFull);
        }
        let new_tat = match s.throttle {
            Some(limit) => {
                match rules::gcra::check(limit, self.tat.get(&m.user).copied(), now, m.parts) {
                    Some(t) => Some(t),
                    None => return Err(Refusal::Throttled),
                }
            }
            None => None,
        };
        if let Some(charge) = s.charge_micro {
            // An untracked balance is 0 (and tracked from here, as
            // redis' DECRBY makes the key).
            let balance = self.credit.get(m.user.as_str()).copied().unwrap_or(0);
            if balance < charge {
                return Err(Refusal::NoCredit);
            }
            *slot(&mut self.credit, &m.user) = balance - charge;
        }
        if let Some(t) = new_tat {
            *slot(&mut self.tat, &m.user) = t;
        }
        let now_ms = now / 1000;
        self.forget_old(now_ms);
        let id: Id = Arc::from(m.id.as_str());
        slot(&mut self.mt.queues, connector).push_back(id.clone());
        *slot(&mut self.mt.depth, connector) += 1;
        // Looked at then; a record not final by then stays until it is.
        self.retention
            .push_back((now_ms + self.retention_ms, id.clone()));
        let user = self.name(&m.user);
        let connector = self.name(connector);
        self.messages.insert(
            id.clone(),
            Entry {
                user,
                accepted_ms: m.accepted_ms,
                message: Some(kept),
                state: MessageState::Enroute,
                final_ms: None,
                error_code: 0,
                connector: connector.clone(),
                charged: s.charge_micro.unwrap_or(0),
                place: Place::Queued,
                parts: None,
                until: 0,
            },
        );
        self.index_waiting(&id, m.valid_until());
        self.mt.wake(&connector);
        Ok(())
    }

    /// Forget the states of messages done and past their retention.
    fn forget_old(&mut self, now_ms: i64) {
        while let Some((at, _)) = self.retention.front() {
            if *at > now_ms {
                break;
            }
            let Some((_, id)) = self.retention.pop_front() else {
                break;
            };
            match self.messages.get(&id) {
                // Final, or sent and past its receipt wait by the grace
                // the sweep had to end it (as redis' hash expires).
                Some(e)
                    if e.place == Place::Done
                        && (e.state.is_final()
                            || e.until.saturating_add(EXPIRY_GRACE_MS) <= now_ms) =>
                {
                    self.messages.remove(&id);
                }
                // Still waiting, in flight, or waiting for its receipts:
                // looked at again later.
                Some(_) => self.retention.push_back((now_ms + EXPIRY_GRACE_MS, id)),
                None => {}
            }
        }
    }

    /// [`Store::cancel`] at `now_ms`.
    pub(super) fn cancel(&mut self, id: &str, user: &str, now_ms: i64) -> CancelOutcome {
        let key = self.id(id);
        match self.messages.get(id).filter(|e| &*e.user == user) {
            None => return CancelOutcome::NotFound,
            Some(e) if matches!(e.place, Place::Queued | Place::Retrying(_)) => self.unindex(id),
            Some(_) => {}
        }
        let Some(e) = self.messages.get_mut(id) else {
            return CancelOutcome::NotFound;
        };
        match e.place {
            // Its id stays in the queue and is skipped when reached.
            Place::Queued => {}
            // Not sent upstream yet: it leaves the retry set.
            Place::Retrying(due) => {
                if let Some(r) = self.mt.retries.get_mut(&*e.connector) {
                    r.remove(&(due, key.clone()));
                }
            }
            Place::Taken | Place::Done => return CancelOutcome::TooLate,
        }
        e.place = Place::Done;
        e.state = MessageState::Deleted;
        e.final_ms = Some(now_ms);
        self.mt.less_depth(&e.connector.clone());
        self.refund(id);
        self.finish(id);
        CancelOutcome::Cancelled
    }

    /// [`Store::replace`]: under the one lock, so the message `edit` sees
    /// is the one replaced.
    pub(super) fn replace<E, F>(
        &mut self,
        id: &str,
        user: &str,
        edit: F,
    ) -> Result<ReplaceOutcome<E>, StoreError>
    where
        F: Fn(&StoredMessage) -> Result<Replacement, E>,
    {
        let key = self.id(id);
        let Some(e) = self.messages.get_mut(id).filter(|e| &*e.user == user) else {
            return Ok(ReplaceOutcome::NotFound);
        };
        let waiting = matches!(e.place, Place::Queued | Place::Retrying(_));
        let Some(old) = e.message.as_ref().filter(|_| waiting) else {
            return Ok(ReplaceOutcome::TooLate);
        };
        let old = old.message()?;
        let r = match edit(&old) {
            Ok(r) => r,
            Err(refused) => return Ok(ReplaceOutcome::Refused(refused)),
        };
        let new = match old.replaced(r) {
            Ok(new) => new,
            Err((was, now)) => return Ok(ReplaceOutcome::PartsDiffer { was, now }),
        };
        // Stored as redis would store it, or refused as redis refuses it.
        let kept =
            Kept::waiting(&new).map_err(|e| StoreError(format!("memory: cannot store: {e}")))?;
        // Its validity is the replacement's.
        self.unindex(id);
        self.index_waiting(&key, new.valid_until());
        let Some(e) = self.messages.get_mut(id) else {
            return Ok(ReplaceOutcome::NotFound);
        };
        e.message = Some(kept);
        if e.place == Place::Queued {
            // To the back of the queue, as redis (a new stream entry).
            if let Some(q) = self.mt.queues.get_mut(&*e.connector) {
                if let Some(at) = q.iter().position(|q| &**q == id) {
                    q.remove(at);
                }
                q.push_back(key.clone());
            }
        }
        Ok(ReplaceOutcome::Replaced)
    }

    /// What a take can have at `now_ms`, without waiting: up to `max`
    /// messages (unsettled ones due for reclaim, then the queue after up
    /// to `max` due retries joined it), and when the next retry or
    /// reclaim falls due (ms).
    fn take_now(&mut self, connector: &str, max: usize, now_ms: i64) -> (Vec<Taken>, Option<i64>) {
        if max == 0 {
            return (Vec::new(), self.mt.next_due(connector));
        }
        let name = self.name(connector);
        let mt = &mut self.mt;
        // Up to `max` due retries join the back of the queue, earliest
        // due first, as redis' `promote`.
        if let Some(r) = mt.retries.get_mut(connector) {
            for _ in 0..max {
                if r.first().is_none_or(|(due, _)| *due > now_ms) {
                    break;
                }
                let Some((_, id)) = r.pop_first() else { break };
                if let Some(e) = self.messages.get_mut(&id) {
                    e.place = Place::Queued;
                    slot(&mut mt.queues, connector).push_back(id);
                }
            }
        }
        let mut out = Vec::new();
        // Taken and never settled: the taker died. Handed out again.
        if let Some(order) = mt.held_order.get_mut(connector) {
            while out.len() < max {
                let Some(first) = order.first_entry() else {
                    break;
                };
                if first.key().0.saturating_add(RECLAIM_AFTER_MS as i64) > now_ms {
                    break;
                }
                let token = first.remove();
                let key = (now_ms, self.seq.next());
                if let Some(h) = mt.held.get_mut(&token) {
                    h.key = key;
                    order.insert(key, token);
                    out.push(Taken {
                        token: token.to_string(),
                        message: h.message.clone(),
                    });
                }
            }
        }
        if let Some(q) = mt.queues.get_mut(connector) {
            while out.len() < max {
                let Some(id) = q.pop_front() else { break };
                let Some(e) = self.messages.get_mut(&id) else {
                    continue;
                };
                if e.place != Place::Queued {
                    continue;
                }
                e.place = Place::Taken;
                if let Some(d) = mt.depth.get_mut(connector) {
                    *d = d.saturating_sub(1);
                }
                // Taken: decoded once, shared from here by its connector
                // and its receipts.
                let message = match e.message.as_ref().map(Kept::message) {
                    Some(Ok(m)) => m,
                    Some(Err(err)) => {
                        tracing::error!(message = %id, error = %err, "cannot read a stored message");
                        continue;
                    }
                    None => continue,
                };
                e.message = Some(Kept::Live(message.clone()));
                let seq = self.seq.next();
                let key = (now_ms, seq);
                mt.held.insert(
                    seq,
                    Held {
                        id: id.clone(),
                        message: message.clone(),
                        connector: name.clone(),
                        key,
                    },
                );
                slot(&mut mt.held_order, connector).insert(key, seq);
                out.push(Taken {
                    token: seq.to_string(),
                    message,
                });
            }
        }
        (out, mt.next_due(connector))
    }

    /// [`Store::retry`] at `now_ms`.
    pub(super) fn retry(&mut self, connector: &str, taken: &Taken, now_ms: i64, delay: Duration) {
        let Some(Held { id, .. }) = self.mt.settle(&taken.token) else {
            return;
        };
        let due = now_ms.saturating_add(ms(delay));
        let name = self.name(connector);
        self.unindex(&id);
        let Some(e) = self.messages.get_mut(&id) else {
            return;
        };
        e.place = Place::Retrying(due);
        e.connector = name;
        // No longer taken: indexed by its validity again (not by a later
        // look a sweep gave it while it was taken).
        self.index_waiting(&id, taken.message.valid_until());
        slot(&mut self.mt.retries, connector).insert((due, id.clone()));
        *slot(&mut self.mt.depth, connector) += 1;
        self.mt.wake(connector);
    }

    /// [`Store::reroute`].
    pub(super) fn reroute(&mut self, taken: &Taken, next: &StoredMessage, kept: Kept) -> bool {
        let Some(Held { id, .. }) = self.mt.settle(&taken.token) else {
            return false;
        };
        let connector = next.connectors.first().map_or("", String::as_str);
        let name = self.name(connector);
        self.unindex(&id);
        let Some(e) = self.messages.get_mut(&id) else {
            return true;
        };
        e.message = Some(kept);
        e.place = Place::Queued;
        e.connector = name;
        self.index_waiting(&id, next.valid_until());
        slot(&mut self.mt.queues, connector).push_back(id.clone());
        *slot(&mut self.mt.depth, connector) += 1;
        self.mt.wake(connector);
        true
    }

    /// [`Store::fail`] at `now_ms`.
    pub(super) fn fail(
        &mut self,
        connector: &str,
        taken: &Taken,
        state: MessageState,
        error_code: u8,
        now_ms: i64,
        ttl: Duration,
    ) {
        if self.mt.settle(&taken.token).is_none() {
            return;
        }
        self.unindex(&taken.message.id);
        let Some(e) = self.messages.get_mut(taken.message.id.as_str()) else {
            return;
        };
        e.place = Place::Done;
        e.state = state;
        e.final_ms = Some(now_ms);
        e.error_code = error_code;
        self.refund(&taken.message.id);
        // The upstream's refusal, for a callback that asked for it.
        if state == MessageState::Rejected {
            self.queue_submitted(
                connector,
                &taken.message,
                u32::from(error_code),
                "",
                now_ms,
                ttl,
            );
        }
        self.queue_receipt(
            &taken.message.id,
            state,
            u16::from(error_code),
            now_ms,
            (connector, ""),
            now_ms,
            ttl,
        );
        self.finish(&taken.message.id);
    }
}

impl MemoryStore {
    fn waker(&self, connector: &str) -> Result<Arc<Notify>, StoreError> {
        Ok(slot(&mut self.lock()?.mt.wake, connector).clone())
    }

    /// [`Store::take`]: what there is now, else wait (up to `block`) for
    /// a submit, a retry, or the next retry or reclaim to fall due.
    pub(super) async fn take_waiting(
        &self,
        connector: &str,
        max: usize,
        block: Duration,
    ) -> Result<Vec<Taken>, StoreError> {
        let wake = self.waker(connector)?;
        self.take_or_wait(&wake, max, block, |inner, now_ms| {
            inner.take_now(connector, max, now_ms)
        })
        .await
    }
}
