//! The two expiry indexes of the memory store ([`Store::expire_waiting`],
//! [`Store::expire_unanswered`]) and the sweeps that end what is past
//! its time.
//!
//! A message that is not final is in exactly one of them, under its
//! connector (`Entry::connector`) and its record's `until`: `waiting`
//! while its place is queued, retrying or taken (until its validity
//! ends), `unanswered` once sent upstream (place done, state not final:
//! until its receipt wait ends). Every change of place or state that
//! moves a message out of one goes through [`Inner::unindex`] first,
//! which finds it by that rule; a final message is in neither.

use std::collections::BTreeSet;
use std::time::Duration;

use smpp::MessageState;

use super::mt::Place;
use super::{Id, Inner, Map, slot};
use crate::store::EXPIRY_RECHECK_MS;

#[cfg(doc)]
use crate::store::Store;

/// Per connector: (until ms, message id), earliest first.
type ByTime = Map<String, BTreeSet<(i64, Id)>>;

#[derive(Default)]
pub(super) struct Expiry {
    /// Messages waiting for their connector, by the end of validity.
    waiting: ByTime,
    /// Messages sent and not final, by the end of their receipt wait.
    unanswered: ByTime,
}

/// The first up to `max` of `set` due by `now_ms`, taken out.
fn due(set: Option<&mut BTreeSet<(i64, Id)>>, max: usize, now_ms: i64) -> Vec<(i64, Id)> {
    let mut out = Vec::new();
    let Some(set) = set else { return out };
    while out.len() < max && set.first().is_some_and(|(t, _)| *t <= now_ms) {
        out.extend(set.pop_first());
    }
    out
}

impl Inner {
    /// Index `id` (its record made or moved already) as waiting for its
    /// connector until `until`.
    pub(super) fn index_waiting(&mut self, id: &Id, until: i64) {
        let Some(e) = self.messages.get_mut(id) else {
            return;
        };
        e.until = until;
        slot(&mut self.expiry.waiting, &e.connector).insert((until, id.clone()));
    }

    /// Index `id` (sent upstream, its place done) as waiting for its
    /// receipts until `until`.
    pub(super) fn index_unanswered(&mut self, id: &Id, until: i64) {
        let Some(e) = self.messages.get_mut(id) else {
            return;
        };
        e.until = until;
        slot(&mut self.expiry.unanswered, &e.connector).insert((until, id.clone()));
    }

    /// Take `id` out of the index it is in, by its place and state now:
    /// called before either changes.
    pub(super) fn unindex(&mut self, id: &str) {
        let key = self.id(id);
        let Some(e) = self.messages.get(id) else {
            return;
        };
        if e.state.is_final() {
            return;
        }
        let index = if e.place == Place::Done {
            &mut self.expiry.unanswered
        } else {
            &mut self.expiry.waiting
        };
        if let Some(set) = index.get_mut(&*e.connector) {
            set.remove(&(e.until, key));
        }
    }

    /// [`Store::expire_waiting`] at `now_ms`.
    pub(super) fn expire_waiting(
        &mut self,
        connector: &str,
        max: usize,
        now_ms: i64,
        ttl: Duration,
    ) -> u64 {
        let mut n = 0;
        for (_, id) in due(self.expiry.waiting.get_mut(connector), max, now_ms) {
            let Some(place) = self
                .messages
                .get(&id)
                .filter(|e| !e.state.is_final())
                .map(|e| e.place)
            else {
                continue;
            };
            // Whether it counts in the queue's depth (a taken one does not).
            let counted = match place {
                // Its id stays in the queue and is skipped when reached.
                Place::Queued => true,
                Place::Retrying(due) => {
                    self.mt.unretry(connector, due, &id);
                    true
                }
                // Held so long that its taker died (a take would hand it
                // out again; with the connector down none does): let go,
                // and expired.
                Place::Taken if self.mt.release_stale(connector, &id, now_ms) => false,
                // Its taker's: looked at again later.
                Place::Taken => {
                    let later = now_ms.saturating_add(EXPIRY_RECHECK_MS);
                    self.index_waiting(&id, later);
                    continue;
                }
                Place::Done => continue,
            };
            let Some(e) = self.messages.get_mut(&id) else {
                continue;
            };
            e.place = Place::Done;
            e.state = MessageState::Expired;
            e.final_ms = Some(now_ms);
            e.error_code = 0;
            if counted {
                self.mt.less_depth(connector);
            }
            self.refund(&id);
            self.queue_receipt(
                &id,
                MessageState::Expired,
                0,
                now_ms,
                (connector, ""),
                now_ms,
                ttl,
            );
            self.finish(&id);
            n += 1;
        }
        n
    }

    /// [`Store::expire_unanswered`] at `now_ms`.
    pub(super) fn expire_unanswered(
        &mut self,
        connector: &str,
        state: MessageState,
        max: usize,
        now_ms: i64,
        ttl: Duration,
    ) -> u64 {
        let mut n = 0;
        for (_, id) in due(self.expiry.unanswered.get_mut(connector), max, now_ms) {
            let Some(e) = self.messages.get_mut(&id) else {
                continue;
            };
            if e.state.is_final() || e.place != Place::Done {
                continue;
            }
            e.state = state;
            e.final_ms = Some(now_ms);
            e.error_code = 0;
            self.queue_receipt(&id, state, 0, now_ms, (connector, ""), now_ms, ttl);
            self.finish(&id);
            n += 1;
        }
        n
    }
}
