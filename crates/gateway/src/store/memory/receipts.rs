//! Receipts in memory: upstream id mappings, receipts that came before
//! their mapping, and each sent message's part count, applied by
//! [`rules::PartCounts`].
//!
//! - Upstream id mappings expire after their ttl: a lookup ignores an
//!   expired one, and each `sent` sweeps those that expired.
//! - A receipt without a mapping waits in `held_receipts` (swept by
//!   expiry, replaced per [`rules::held_replaces`]) until `sent` applies
//!   it, exactly as if it had come after.
//! - A receipt without a done date is done at the store's now, as redis'
//!   ([`rules::done_or_now`]): the message's final_ms and its receipts.
//! - A sent message keeps its parts' bookkeeping until it is final, and a
//!   final message lets go of its text (its receipt holds its own
//!   reference).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use smpp::MessageState;

use super::{ById, Id, Inner, Kept, Map, Seq, TimeKey, ms, slot};
use crate::store::rules::{self, PartCounts, PartStep};
use crate::store::{
    Callback, DeliveryItem, PartReceipt, ReceiptOutcome, StoredMessage, Taken, UserReceipt,
};

#[cfg(doc)]
use crate::store::Store;

/// (connector, upstream id), as the expiry orders hold them.
type UpstreamKey = (Arc<str>, Arc<str>);

/// Per connector (looked up by `&str`), per upstream id (sharded as the
/// message records are: a connector maps a day of messages).
type ByUpstream<V> = Map<String, ById<V>>;

/// A sent message's parts, for summing their receipts.
pub(super) struct Parts {
    counts: PartCounts,
    /// Upstream ids whose final receipt was counted (a message has few
    /// parts: a list, not a set).
    done: Vec<Arc<str>>,
}

impl Parts {
    fn new(total: u32) -> Parts {
        Parts {
            counts: PartCounts::new(total),
            done: Vec::new(),
        }
    }
}

/// The upstream mappings and the held receipts.
#[derive(Default)]
pub(super) struct Receipts {
    /// connector → upstream id → (message id, expires at ms).
    pub(super) upstream: ByUpstream<(Id, i64)>,
    /// The upstream mappings by expiry, for sweeping.
    pub(super) upstream_expiry: BTreeMap<TimeKey, UpstreamKey>,
    /// connector → upstream id → a receipt that came before its mapping,
    /// and when it is forgotten.
    held_receipts: ByUpstream<(PartReceipt, i64)>,
    /// The held receipts by expiry, for sweeping.
    held_expiry: BTreeMap<TimeKey, UpstreamKey>,
}

impl Receipts {
    /// The message id `upstream_id` of `connector` belongs to, and the
    /// upstream id as the map holds it, unless the mapping expired by
    /// `now_ms`.
    pub(super) fn lookup(
        &self,
        connector: &str,
        upstream_id: &str,
        now_ms: i64,
    ) -> Option<(Id, Arc<str>)> {
        let (up, (id, exp)) = self.upstream.get(connector)?.get_key_value(upstream_id)?;
        (*exp > now_ms).then(|| (id.clone(), up.clone()))
    }

    fn map(&mut self, seq: &mut Seq, k: UpstreamKey, id: Id, expires: i64) {
        slot(&mut self.upstream, &k.0).insert(k.1.clone(), (id, expires));
        self.upstream_expiry.insert((expires, seq.next()), k);
    }

    /// Hold `r` for `k` until `expires`, unless the receipt held there
    /// wins ([`rules::held_replaces`]).
    fn hold(&mut self, seq: &mut Seq, k: UpstreamKey, r: PartReceipt, now_ms: i64, expires: i64) {
        let held = self
            .held_receipts
            .get(&*k.0)
            .and_then(|m| m.get(&k.1))
            .filter(|(_, exp)| *exp > now_ms)
            .map(|(r, _)| r.state);
        if !rules::held_replaces(held, r.state) {
            return;
        }
        slot(&mut self.held_receipts, &k.0).insert(k.1.clone(), (r, expires));
        self.held_expiry.insert((expires, seq.next()), k);
    }

    /// The receipt held for `upstream_id` of `connector`, taken out,
    /// unless it expired by `now_ms`.
    fn take_held(
        &mut self,
        connector: &str,
        upstream_id: &str,
        now_ms: i64,
    ) -> Option<PartReceipt> {
        self.held_receipts
            .get_mut(connector)?
            .remove(upstream_id)
            .and_then(|(r, exp)| (exp > now_ms).then_some(r))
    }

    /// Forget held receipts and upstream mappings that expired by `now_ms`.
    fn sweep(&mut self, now_ms: i64) {
        sweep(&mut self.upstream_expiry, &mut self.upstream, now_ms, |v| {
            v.1
        });
        sweep(
            &mut self.held_expiry,
            &mut self.held_receipts,
            now_ms,
            |v| v.1,
        );
    }
}

/// Drop from `map` the keys `by_expiry` lists as expired by `now_ms`,
/// unless a later write gave them a later expiry (`expiry` of the value).
fn sweep<V>(
    by_expiry: &mut BTreeMap<TimeKey, UpstreamKey>,
    map: &mut ByUpstream<V>,
    now_ms: i64,
    expiry: impl Fn(&V) -> i64,
) {
    while let Some(first) = by_expiry.first_entry() {
        if first.key().0 > now_ms {
            break;
        }
        let (at, _) = *first.key();
        let (connector, up) = first.remove();
        if let Some(m) = map.get_mut(&*connector) {
            if m.get(&up).is_some_and(|v| expiry(v) <= at) {
                m.remove(&up);
            }
        }
    }
}

impl Inner {
    /// [`Store::sent`] at `now_ms`.
    pub(super) fn sent(
        &mut self,
        connector: &str,
        taken: &Taken,
        upstream_ids: &[String],
        now_ms: i64,
        ttl: Duration,
    ) {
        let settled = self.mt.settle(&taken.token);
        // Settled already: its record is looked up by the id.
        let id = match &settled {
            Some(h) => h.id.clone(),
            None => self.id(&taken.message.id),
        };
        if settled.is_some() {
            // From waiting for its connector to waiting for its receipts
            // (indexed below, once the held ones are applied).
            self.unindex(&id);
            if let Some(e) = self.messages.get_mut(&id) {
                e.place = super::mt::Place::Done;
                // The upstream's answer, for a callback that asked for it.
                let first = upstream_ids.first().map_or("", String::as_str);
                self.queue_submitted(connector, &taken.message, 0, first, now_ms, ttl);
            }
        }
        self.receipts.sweep(now_ms);
        // The parts are recorded by the first sent with upstream ids, as
        // the redis script's `n > 0 and HSETNX pn`; a message already
        // final (another taker failed it) takes none.
        let first = match self.messages.get_mut(&id) {
            Some(e) if e.parts.is_none() && !e.state.is_final() && !upstream_ids.is_empty() => {
                e.parts = Some(Box::new(Parts::new(upstream_ids.len() as u32)));
                true
            }
            _ => false,
        };
        let expires = now_ms.saturating_add(ms(ttl));
        let name = self.name(connector);
        let ups: Vec<Arc<str>> = upstream_ids.iter().map(|u| Arc::from(u.as_str())).collect();
        for u in &ups {
            let k = (name.clone(), u.clone());
            self.receipts.map(&mut self.seq, k, id.clone(), expires);
        }
        // Indexed as waiting for its receipts before the held ones are
        // applied: a final one takes it out again.
        if settled.is_some() && self.messages.get(&id).is_some_and(|e| !e.state.is_final()) {
            self.index_unanswered(&id, expires);
        }
        if first {
            for u in &ups {
                if let Some(r) = self.receipts.take_held(connector, u, now_ms) {
                    self.apply_receipt(connector, &id, u, r, now_ms, ttl);
                }
            }
        }
    }

    /// [`Store::receipt`] at `now_ms`.
    pub(super) fn receipt(
        &mut self,
        connector: &str,
        upstream_id: &str,
        r: PartReceipt,
        now_ms: i64,
        ttl: Duration,
    ) -> ReceiptOutcome {
        match self.receipts.lookup(connector, upstream_id, now_ms) {
            Some((id, up)) => self.apply_receipt(connector, &id, &up, r, now_ms, ttl),
            None => {
                let k = (self.name(connector), Arc::from(upstream_id));
                let expires = now_ms.saturating_add(ms(ttl));
                self.receipts.hold(&mut self.seq, k, r, now_ms, expires);
                ReceiptOutcome::Held
            }
        }
    }

    /// Apply a part receipt to message `id` (its mapping exists).
    fn apply_receipt(
        &mut self,
        connector: &str,
        id: &str,
        upstream_id: &Arc<str>,
        r: PartReceipt,
        now_ms: i64,
        ttl: Duration,
    ) -> ReceiptOutcome {
        let Some(e) = self.messages.get_mut(id) else {
            return ReceiptOutcome::Duplicate;
        };
        let done_ms = rules::done_or_now(r.done_ms, now_ms);
        let message_final = e.state.is_final();
        // A final receipt before any part was recorded counts the message
        // as one part (as redis counts a hash without `pn`).
        let parts = if r.state.is_final() && !message_final {
            Some(&mut **e.parts.get_or_insert_with(|| Box::new(Parts::new(0))))
        } else {
            e.parts.as_deref_mut()
        };
        let step = match parts {
            Some(p) => {
                let part_done = p.done.contains(upstream_id);
                let step = p
                    .counts
                    .apply(message_final, part_done, r.state, r.error_code);
                if matches!(step, PartStep::Partial | PartStep::Final { .. }) {
                    p.done.push(upstream_id.clone());
                }
                step
            }
            None => PartCounts::new(0).apply(message_final, false, r.state, r.error_code),
        };
        match step {
            PartStep::Duplicate => ReceiptOutcome::Duplicate,
            PartStep::Partial => ReceiptOutcome::Partial,
            PartStep::Intermediate => {
                let by = (connector, &**upstream_id);
                let queued =
                    self.queue_receipt(id, r.state, r.error_code, done_ms, by, now_ms, ttl);
                ReceiptOutcome::Intermediate { queued }
            }
            PartStep::Final { state, error_code } => {
                self.unindex(id);
                let Some(e) = self.messages.get_mut(id) else {
                    return ReceiptOutcome::Duplicate;
                };
                e.state = state;
                e.final_ms = Some(done_ms);
                e.error_code = rules::error_code_for_status(error_code);
                let by = (connector, &**upstream_id);
                let queued = self.queue_receipt(id, state, error_code, done_ms, by, now_ms, ttl);
                self.finish(id);
                ReceiptOutcome::Final { state, queued }
            }
        }
    }

    /// Queue `id`'s receipt in `state` for its user when it asked for one
    /// ([`rules::wants_receipt`]); whether it was queued. Its sub and
    /// dlvrd are the part count's, or (not sent) the message's parts and 0.
    /// It goes to the callback queue when the message has a callback
    /// (`by`: the connector and upstream id it came by), else to the
    /// user's delivery queue.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn queue_receipt(
        &mut self,
        id: &str,
        state: MessageState,
        error_code: u16,
        done_ms: i64,
        by: (&str, &str),
        now_ms: i64,
        ttl: Duration,
    ) -> bool {
        let Some(e) = self.messages.get(id) else {
            return false;
        };
        let Some(Ok(m)) = e.message.as_ref().map(Kept::message) else {
            return false;
        };
        if !rules::wants_receipt(m.submit.registered_delivery.0, state) {
            return false;
        }
        let (sub, dlvrd) = match &e.parts {
            Some(p) => (p.counts.total, p.counts.delivered),
            None => (m.parts, 0),
        };
        let receipt = UserReceipt {
            message: m.clone(),
            state,
            error_code,
            sub,
            dlvrd,
            done_ms,
        };
        if m.callback.is_some() {
            let item = crate::store::callback::receipt_callback(receipt, by.0, by.1);
            self.queue_callback(item, now_ms, ttl);
        } else {
            self.queue_delivery(
                &m.user,
                DeliveryItem::Receipt(Box::new(receipt)),
                now_ms,
                ttl,
            );
        }
        true
    }

    /// Queue the upstream's answer (`status`, 0 for ESME_ROK) to `m`'s
    /// submit when its callback's level asks for it.
    pub(super) fn queue_submitted(
        &mut self,
        connector: &str,
        m: &Arc<StoredMessage>,
        status: u32,
        upstream_id: &str,
        now_ms: i64,
        ttl: Duration,
    ) {
        if m.callback.as_ref().is_some_and(|c| c.level.smsc()) {
            let item = Callback::Submitted {
                message: m.clone(),
                connector: connector.to_string(),
                status,
                upstream_id: upstream_id.to_string(),
            };
            self.queue_callback(item, now_ms, ttl);
        }
    }
}
