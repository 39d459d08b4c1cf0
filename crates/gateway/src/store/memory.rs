//! The embedded store: everything in this process's memory, behind one
//! mutex held only for map updates (never across an await).
//!
//! For a single node and tests. It is as atomic as the redis backend but
//! not durable across a process restart.
//!
//! # The connector's side
//!
//! A message is in one place at a time: queued (its connector's
//! queue), taken (handed to a connector by [`Store::take`], a record kept
//! under its token until [`Store::sent`], [`Store::retry`] or
//! [`Store::fail`] settles it), retrying (in its connector's retry set
//! until its due time), or done.
//!
//! - Order: a take first hands out again messages taken and never
//!   settled for [`RECLAIM_AFTER_MS`] (a worker that panicked or was
//!   dropped mid-send; same token, at least once, as redis' XAUTOCLAIM),
//!   then the queue, oldest first. Retries whose time has come join the
//!   *back* of the queue when a take notices them, exactly as the redis
//!   backend re-XADDs them to the stream's tail.
//! - A message waiting in the retry set counts in [`Store::queue_depth`]
//!   and against the submit's queue limit (it is still waiting for its
//!   connector), like a queued one; a taken one does not.
//! - A message in the retry set has not been sent upstream, so cancel
//!   succeeds for it (it leaves the retry set, DELETED, refunded), and
//!   for a due retry back in the queue and not taken yet. A taken
//!   message is too late.
//! - Refunds (cancel, fail) give back what submit actually charged
//!   (nothing for an unlimited user), to a tracked balance only, once.
//! - Settling a token that is no longer held (settled already, or handed
//!   out again and settled by the other taker) does not retry or refund
//!   twice: [`Store::retry`] and [`Store::fail`] then change nothing;
//!   [`Store::sent`] still records the upstream ids (the message really
//!   was accepted upstream).
//! - Upstream id mappings expire after their ttl: a lookup ignores an
//!   expired one, and each `sent` sweeps those that expired.
//!
//! # Receipts and delivery queues
//!
//! The rules are store/delivery.rs's. A receipt without a mapping waits
//! in `held_receipts` (swept by expiry) until `sent` applies it; a sent
//! message keeps its parts' bookkeeping until it is final, and a final
//! message lets go of its text (its receipt holds its own reference).
//! A user's queue keeps every item (taken or not) by token, the untaken
//! ones in order, the taken ones by when they were handed out (for the
//! reclaim); a new item first drops untaken ones past their expiry.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use smpp::MessageState;
use tokio::sync::Notify;

use super::*;

type Clock = Arc<dyn Fn() -> i64 + Send + Sync>;

/// A key ordered by time (Unix ms), unique by a sequence number.
type TimeKey = (i64, u64);

/// Where a message is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Place {
    /// In its connector's queue, not yet taken.
    Queued,
    /// Taken by a connector and not settled.
    Taken,
    /// In its connector's retry set under this key (due time first).
    Retrying(TimeKey),
    /// Sent upstream, failed or cancelled: nothing waits for it here.
    Done,
}

struct Entry {
    user: String,
    accepted_ms: i64,
    /// The message, until it is final: a final message keeps only what
    /// query_sm reports (its receipt, if any, holds its own reference).
    message: Option<Arc<StoredMessage>>,
    state: MessageState,
    final_ms: Option<i64>,
    error_code: u8,
    /// The connector whose queue or retry set holds it.
    connector: String,
    /// Credit actually charged (0 when unlimited), refunded at most once.
    charged: i64,
    place: Place,
    /// Receipt bookkeeping, from `sent` on.
    parts: Option<Parts>,
}

/// A sent message's parts, for summing their receipts.
#[derive(Default)]
struct Parts {
    /// Upstream ids recorded by `sent`.
    total: u32,
    /// Upstream ids whose final receipt was counted.
    done: std::collections::HashSet<String>,
    delivered: u32,
    /// The last part that was not delivered: its state and error code.
    failed: Option<(MessageState, u16)>,
}

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
    items: HashMap<u64, Queued>,
    /// Tokens not taken, oldest first.
    ready: VecDeque<u64>,
    /// Taken tokens by when they were handed out (for reclaiming).
    taken: BTreeMap<TimeKey, u64>,
    wake: Arc<Notify>,
}

/// A taken message's record until it is settled.
struct Held {
    message: Arc<StoredMessage>,
    connector: String,
    /// When it was last handed out, its key in `Inner::held_order`.
    key: TimeKey,
}

#[derive(Default)]
struct Inner {
    messages: HashMap<String, Entry>,
    /// Per connector: message ids in arrival order. Cancelled ids stay
    /// until taken and are skipped then.
    queues: HashMap<String, VecDeque<String>>,
    /// Per connector: messages queued (not cancelled) or in its retry set.
    depth: HashMap<String, u64>,
    credit: HashMap<String, i64>,
    tat: HashMap<String, i64>,
    /// (forget at, id), in acceptance order.
    retention: VecDeque<(i64, String)>,
    /// Taken and not settled, by token.
    held: HashMap<String, Held>,
    /// Per connector: the held tokens by when they were handed out.
    held_order: HashMap<String, BTreeMap<TimeKey, String>>,
    /// Per connector: message ids waiting for their retry time.
    retries: HashMap<String, BTreeMap<TimeKey, String>>,
    /// (connector, upstream id) → (message id, expires at ms).
    upstream: HashMap<(String, String), (String, i64)>,
    /// The upstream mappings by expiry, for sweeping.
    upstream_expiry: BTreeMap<TimeKey, (String, String)>,
    /// Per connector: signalled by a submit or a retry, for blocked takes.
    wake: HashMap<String, Arc<Notify>>,
    /// (connector, upstream id) → a receipt that came before its mapping,
    /// and when it is forgotten.
    held_receipts: HashMap<(String, String), (PartReceipt, i64)>,
    /// The held receipts by expiry, for sweeping.
    held_expiry: BTreeMap<TimeKey, (String, String)>,
    /// Per user: the delivery queue.
    deliveries: HashMap<String, UserQueue>,
    seq: u64,
}

impl Inner {
    fn next_seq(&mut self) -> u64 {
        self.seq += 1;
        self.seq
    }

    fn wake(&self, connector: &str) {
        if let Some(n) = self.wake.get(connector) {
            n.notify_waiters();
        }
    }

    /// Forget a token's record; the message it held, if it was held.
    fn settle(&mut self, token: &str) -> Option<Held> {
        let h = self.held.remove(token)?;
        if let Some(order) = self.held_order.get_mut(&h.connector) {
            order.remove(&h.key);
        }
        Some(h)
    }

    /// Queue an item for `user`.
    fn queue_delivery(&mut self, user: &str, item: DeliveryItem, now_ms: i64, ttl: Duration) {
        let token = self.next_seq();
        let q = self.deliveries.entry(user.to_string()).or_default();
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

    /// Queue `id`'s receipt in `state` for its user when it asked for one;
    /// whether it was queued.
    fn queue_receipt(
        &mut self,
        id: &str,
        state: MessageState,
        error_code: u16,
        done_ms: i64,
        now_ms: i64,
        ttl: Duration,
    ) -> bool {
        let Some(e) = self.messages.get(id) else {
            return false;
        };
        let Some(m) = &e.message else {
            return false;
        };
        if !delivery::wants_receipt(m.submit.registered_delivery.0, state) {
            return false;
        }
        let (sub, dlvrd) = match &e.parts {
            Some(p) => (p.total, p.delivered),
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
        let user = m.user.clone();
        self.queue_delivery(&user, DeliveryItem::Receipt(Box::new(receipt)), now_ms, ttl);
        true
    }

    /// Apply a part receipt to message `id` (its mapping exists).
    fn apply_receipt(
        &mut self,
        id: &str,
        upstream_id: &str,
        r: PartReceipt,
        now_ms: i64,
        ttl: Duration,
    ) -> ReceiptOutcome {
        let Some(e) = self.messages.get_mut(id) else {
            return ReceiptOutcome::Duplicate;
        };
        // Nothing changes a final message.
        if e.state.is_final() {
            return ReceiptOutcome::Duplicate;
        }
        if !r.state.is_final() {
            // Nothing after the part is final (the message's state was
            // checked above).
            let part_final = e
                .parts
                .as_ref()
                .is_some_and(|p| p.done.contains(upstream_id) || p.done.len() as u32 >= p.total);
            if part_final {
                return ReceiptOutcome::Duplicate;
            }
            let queued = self.queue_receipt(id, r.state, r.error_code, r.done_ms, now_ms, ttl);
            return ReceiptOutcome::Intermediate { queued };
        }
        let parts = e.parts.get_or_insert_with(Parts::default);
        if !parts.done.insert(upstream_id.to_string()) {
            return ReceiptOutcome::Duplicate;
        }
        if r.state == MessageState::Delivered {
            parts.delivered += 1;
        } else {
            parts.failed = Some((r.state, r.error_code));
        }
        if (parts.done.len() as u32) < parts.total {
            return ReceiptOutcome::Partial;
        }
        let (state, error_code) = parts.failed.unwrap_or((MessageState::Delivered, 0));
        e.state = state;
        e.final_ms = Some(r.done_ms);
        e.error_code = error_code.min(255) as u8;
        let queued = self.queue_receipt(id, state, error_code, r.done_ms, now_ms, ttl);
        self.finish(id);
        ReceiptOutcome::Final { state, queued }
    }

    /// Forget held receipts and upstream mappings that expired by `now_ms`.
    fn sweep(&mut self, now_ms: i64) {
        while let Some(first) = self.upstream_expiry.first_entry() {
            if first.key().0 > now_ms {
                break;
            }
            let (at, _) = *first.key();
            let k = first.remove();
            if self.upstream.get(&k).is_some_and(|(_, exp)| *exp <= at) {
                self.upstream.remove(&k);
            }
        }
        while let Some(first) = self.held_expiry.first_entry() {
            if first.key().0 > now_ms {
                break;
            }
            let (at, _) = *first.key();
            let k = first.remove();
            if self
                .held_receipts
                .get(&k)
                .is_some_and(|(_, exp)| *exp <= at)
            {
                self.held_receipts.remove(&k);
            }
        }
    }

    /// A final message keeps only what query_sm reports.
    fn finish(&mut self, id: &str) {
        if let Some(e) = self.messages.get_mut(id) {
            e.message = None;
            e.parts = None;
        }
    }

    fn refund(&mut self, id: &str) {
        let Some(e) = self.messages.get_mut(id) else {
            return;
        };
        let charged = std::mem::take(&mut e.charged);
        if charged != 0 {
            if let Some(b) = self.credit.get_mut(&e.user) {
                *b += charged;
            }
        }
    }
}

/// A duration in whole milliseconds, saturating.
fn ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// The memory backend.
#[derive(Clone)]
pub struct MemoryStore {
    inner: Arc<Mutex<Inner>>,
    clock: Clock,
}

impl Default for MemoryStore {
    fn default() -> Self {
        Self::new()
    }
}

impl MemoryStore {
    pub fn new() -> Self {
        Self::with_clock(Arc::new(now_us))
    }

    /// A store reading time (Unix microseconds) from `clock`, for tests.
    pub fn with_clock(clock: Clock) -> Self {
        MemoryStore {
            inner: Arc::new(Mutex::new(Inner::default())),
            clock,
        }
    }

    fn lock(&self) -> Result<MutexGuard<'_, Inner>, StoreError> {
        self.inner
            .lock()
            .map_err(|_| StoreError("memory store poisoned".into()))
    }

    fn now_ms(&self) -> i64 {
        (self.clock)() / 1000
    }

    /// What a take can have now, without waiting: up to `max` messages
    /// (unsettled ones due for reclaim, then the queue after due retries
    /// joined it), and when the next retry or reclaim falls due (ms).
    fn take_now(
        &self,
        connector: &str,
        max: usize,
    ) -> Result<(Vec<Taken>, Option<i64>), StoreError> {
        let now_ms = self.now_ms();
        let mut g = self.lock()?;
        let inner = &mut *g;
        // Due retries join the back of the queue.
        if let Some(r) = inner.retries.get_mut(connector) {
            while let Some(due) = r.first_entry() {
                if due.key().0 > now_ms {
                    break;
                }
                let id = due.remove();
                if let Some(e) = inner.messages.get_mut(&id) {
                    e.place = Place::Queued;
                    inner
                        .queues
                        .entry(connector.to_string())
                        .or_default()
                        .push_back(id);
                }
            }
        }
        let mut out = Vec::new();
        // Taken and never settled: the taker died. Handed out again.
        if let Some(order) = inner.held_order.get_mut(connector) {
            while out.len() < max {
                let Some(first) = order.first_entry() else {
                    break;
                };
                if first.key().0.saturating_add(RECLAIM_AFTER_MS as i64) > now_ms {
                    break;
                }
                let token = first.remove();
                inner.seq += 1;
                let key = (now_ms, inner.seq);
                if let Some(h) = inner.held.get_mut(&token) {
                    h.key = key;
                    order.insert(key, token.clone());
                    out.push(Taken {
                        token,
                        message: h.message.clone(),
                    });
                }
            }
        }
        if let Some(q) = inner.queues.get_mut(connector) {
            while out.len() < max {
                let Some(id) = q.pop_front() else { break };
                let Some(e) = inner.messages.get_mut(&id) else {
                    continue;
                };
                if e.place != Place::Queued {
                    continue;
                }
                e.place = Place::Taken;
                if let Some(d) = inner.depth.get_mut(connector) {
                    *d = d.saturating_sub(1);
                }
                let Some(message) = e.message.clone() else {
                    continue;
                };
                inner.seq += 1;
                let token = inner.seq.to_string();
                let key = (now_ms, inner.seq);
                inner.held.insert(
                    token.clone(),
                    Held {
                        message: message.clone(),
                        connector: connector.to_string(),
                        key,
                    },
                );
                inner
                    .held_order
                    .entry(connector.to_string())
                    .or_default()
                    .insert(key, token.clone());
                out.push(Taken { token, message });
            }
        }
        let next_retry = inner
            .retries
            .get(connector)
            .and_then(|r| r.first_key_value())
            .map(|(k, _)| k.0);
        let next_reclaim = inner
            .held_order
            .get(connector)
            .and_then(|o| o.first_key_value())
            .map(|(k, _)| k.0.saturating_add(RECLAIM_AFTER_MS as i64));
        let next = match (next_retry, next_reclaim) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        Ok((out, next))
    }

    fn waker(&self, connector: &str) -> Result<Arc<Notify>, StoreError> {
        Ok(self
            .lock()?
            .wake
            .entry(connector.to_string())
            .or_default()
            .clone())
    }

    fn forget_old(inner: &mut Inner, now_ms: i64) {
        while let Some((at, _)) = inner.retention.front() {
            if *at > now_ms {
                break;
            }
            let Some((_, id)) = inner.retention.pop_front() else {
                break;
            };
            match inner.messages.get(&id) {
                Some(e) if e.place == Place::Done => {
                    inner.messages.remove(&id);
                }
                // Still waiting or in flight: looked at again later.
                Some(_) => inner
                    .retention
                    .push_back((now_ms + STATUS_RETENTION_MS, id)),
                None => {}
            }
        }
    }
}

impl Store for MemoryStore {
    async fn submit(&self, s: Submission<'_>) -> Result<(), Refusal> {
        let now = (self.clock)();
        let mut g = self.lock().map_err(|e| Refusal::Unavailable(e.0))?;
        let inner = &mut *g;
        let m = s.message;
        let connector = m.connectors.first().cloned().unwrap_or_default();
        if inner.depth.get(&connector).copied().unwrap_or(0) >= s.queue_limit {
            return Err(Refusal::QueueFull);
        }
        let new_tat = match s.throttle {
            Some(limit) => {
                match gcra::check(limit, inner.tat.get(&m.user).copied(), now, m.parts) {
                    Some(t) => Some(t),
                    None => return Err(Refusal::Throttled),
                }
            }
            None => None,
        };
        if let Some(charge) = s.charge_micro {
            let balance = inner.credit.get(&m.user).copied().unwrap_or(0);
            if balance < charge {
                return Err(Refusal::NoCredit);
            }
            inner.credit.insert(m.user.clone(), balance - charge);
        }
        if let Some(t) = new_tat {
            inner.tat.insert(m.user.clone(), t);
        }
        let now_ms = now / 1000;
        Self::forget_old(inner, now_ms);
        inner
            .queues
            .entry(connector.clone())
            .or_default()
            .push_back(m.id.clone());
        *inner.depth.entry(connector.clone()).or_default() += 1;
        inner
            .retention
            .push_back((now_ms + STATUS_RETENTION_MS, m.id.clone()));
        inner.messages.insert(
            m.id.clone(),
            Entry {
                user: m.user.clone(),
                accepted_ms: m.accepted_ms,
                message: Some(Arc::new(m.clone())),
                state: MessageState::Enroute,
                final_ms: None,
                error_code: 0,
                connector: connector.clone(),
                charged: s.charge_micro.unwrap_or(0),
                place: Place::Queued,
                parts: None,
            },
        );
        inner.wake(&connector);
        Ok(())
    }

    async fn status(&self, id: &str) -> Result<Option<MessageStatus>, StoreError> {
        let g = self.lock()?;
        Ok(g.messages.get(id).map(|e| MessageStatus {
            id: id.to_string(),
            user: e.user.clone(),
            state: e.state,
            accepted_ms: e.accepted_ms,
            final_ms: e.final_ms,
            error_code: e.error_code,
        }))
    }

    async fn cancel(&self, id: &str, user: &str) -> Result<CancelOutcome, StoreError> {
        let now_ms = self.now_ms();
        let mut g = self.lock()?;
        let inner = &mut *g;
        let Some(e) = inner.messages.get_mut(id).filter(|e| e.user == user) else {
            return Ok(CancelOutcome::NotFound);
        };
        match e.place {
            // Its id stays in the queue and is skipped when reached.
            Place::Queued => {}
            // Not sent upstream yet: it leaves the retry set.
            Place::Retrying(key) => {
                if let Some(r) = inner.retries.get_mut(&e.connector) {
                    r.remove(&key);
                }
            }
            Place::Taken | Place::Done => return Ok(CancelOutcome::TooLate),
        }
        e.place = Place::Done;
        e.state = MessageState::Deleted;
        e.final_ms = Some(now_ms);
        if let Some(d) = inner.depth.get_mut(&e.connector) {
            *d = d.saturating_sub(1);
        }
        inner.refund(id);
        inner.finish(id);
        Ok(CancelOutcome::Cancelled)
    }

    async fn balance(&self, user: &str) -> Result<Option<i64>, StoreError> {
        Ok(self.lock()?.credit.get(user).copied())
    }

    async fn init_credit(&self, user: &str, micro: i64) -> Result<(), StoreError> {
        self.lock()?.credit.entry(user.to_string()).or_insert(micro);
        Ok(())
    }

    /// Queued messages and those waiting in the retry set.
    async fn queue_depth(&self, connector: &str) -> Result<u64, StoreError> {
        Ok(self.lock()?.depth.get(connector).copied().unwrap_or(0))
    }

    async fn ping(&self) -> Result<(), StoreError> {
        self.lock().map(|_| ())
    }

    /// Reclaimable messages, then the queue (which due retries join at
    /// the back). `consumer` is not needed in one process. With nothing
    /// to take, waits up to `block` for a submit or a retry (woken by
    /// [`Notify`]) or for the next retry or reclaim to fall due.
    async fn take(
        &self,
        connector: &str,
        _consumer: &str,
        max: usize,
        block: Duration,
    ) -> Result<Vec<Taken>, StoreError> {
        let start = tokio::time::Instant::now();
        let wake = self.waker(connector)?;
        loop {
            // Registered before looking, so a submit in between wakes it.
            let mut notified = std::pin::pin!(wake.notified());
            notified.as_mut().enable();
            let (out, next_ms) = self.take_now(connector, max)?;
            let waited = start.elapsed();
            if !out.is_empty() || max == 0 || waited >= block {
                return Ok(out);
            }
            let mut wait = block - waited;
            if let Some(at) = next_ms {
                let ms = at.saturating_sub(self.now_ms()).max(1);
                wait = wait.min(Duration::from_millis(ms as u64));
            }
            let _ = tokio::time::timeout(wait, notified).await;
        }
    }

    async fn sent(
        &self,
        connector: &str,
        taken: &Taken,
        upstream_ids: &[String],
        ttl: Duration,
    ) -> Result<(), StoreError> {
        let now_ms = self.now_ms();
        let mut g = self.lock()?;
        let inner = &mut *g;
        if inner.settle(&taken.token).is_some() {
            if let Some(e) = inner.messages.get_mut(&taken.message.id) {
                e.place = Place::Done;
            }
        }
        inner.sweep(now_ms);
        let first = match inner.messages.get_mut(&taken.message.id) {
            Some(e) if e.parts.is_none() && !e.state.is_final() => {
                e.parts = Some(Parts {
                    total: upstream_ids.len() as u32,
                    ..Parts::default()
                });
                true
            }
            _ => false,
        };
        let expires = now_ms.saturating_add(ms(ttl));
        for u in upstream_ids {
            let k = (connector.to_string(), u.clone());
            let seq = inner.next_seq();
            inner.upstream_expiry.insert((expires, seq), k.clone());
            inner
                .upstream
                .insert(k, (taken.message.id.clone(), expires));
        }
        if first {
            for u in upstream_ids {
                let k = (connector.to_string(), u.clone());
                if let Some((r, exp)) = inner.held_receipts.remove(&k) {
                    if exp > now_ms {
                        inner.apply_receipt(&taken.message.id, u, r, now_ms, ttl);
                    }
                }
            }
        }
        Ok(())
    }

    async fn retry(
        &self,
        connector: &str,
        taken: &Taken,
        delay: Duration,
    ) -> Result<(), StoreError> {
        let now_ms = self.now_ms();
        let mut g = self.lock()?;
        let inner = &mut *g;
        if inner.settle(&taken.token).is_none() {
            return Ok(());
        }
        let delay_ms = i64::try_from(delay.as_millis()).unwrap_or(i64::MAX);
        let key = (now_ms.saturating_add(delay_ms), inner.next_seq());
        let Some(e) = inner.messages.get_mut(&taken.message.id) else {
            return Ok(());
        };
        e.place = Place::Retrying(key);
        e.connector = connector.to_string();
        inner
            .retries
            .entry(connector.to_string())
            .or_default()
            .insert(key, taken.message.id.clone());
        *inner.depth.entry(connector.to_string()).or_default() += 1;
        inner.wake(connector);
        Ok(())
    }

    async fn fail(
        &self,
        _connector: &str,
        taken: &Taken,
        state: MessageState,
        error_code: u8,
        ttl: Duration,
    ) -> Result<(), StoreError> {
        let now_ms = self.now_ms();
        let mut g = self.lock()?;
        let inner = &mut *g;
        if inner.settle(&taken.token).is_none() {
            return Ok(());
        }
        let Some(e) = inner.messages.get_mut(&taken.message.id) else {
            return Ok(());
        };
        e.place = Place::Done;
        e.state = state;
        e.final_ms = Some(now_ms);
        e.error_code = error_code;
        inner.refund(&taken.message.id);
        inner.queue_receipt(
            &taken.message.id,
            state,
            u16::from(error_code),
            now_ms,
            now_ms,
            ttl,
        );
        inner.finish(&taken.message.id);
        Ok(())
    }

    async fn upstream(
        &self,
        connector: &str,
        upstream_id: &str,
    ) -> Result<Option<String>, StoreError> {
        let now_ms = self.now_ms();
        let g = self.lock()?;
        Ok(g.upstream
            .get(&(connector.to_string(), upstream_id.to_string()))
            .filter(|(_, exp)| *exp > now_ms)
            .map(|(id, _)| id.clone()))
    }
    async fn receipt(
        &self,
        connector: &str,
        upstream_id: &str,
        receipt: PartReceipt,
        ttl: Duration,
    ) -> Result<ReceiptOutcome, StoreError> {
        let now_ms = self.now_ms();
        let mut g = self.lock()?;
        let inner = &mut *g;
        let k = (connector.to_string(), upstream_id.to_string());
        let id = inner
            .upstream
            .get(&k)
            .filter(|(_, exp)| *exp > now_ms)
            .map(|(id, _)| id.clone());
        match id {
            Some(id) => Ok(inner.apply_receipt(&id, upstream_id, receipt, now_ms, ttl)),
            None => {
                // A final receipt held is not replaced by a non-final one.
                if !receipt.state.is_final()
                    && inner
                        .held_receipts
                        .get(&k)
                        .is_some_and(|(r, exp)| r.state.is_final() && *exp > now_ms)
                {
                    return Ok(ReceiptOutcome::Held);
                }
                let expires = now_ms.saturating_add(ms(ttl));
                let seq = inner.next_seq();
                inner.held_expiry.insert((expires, seq), k.clone());
                inner.held_receipts.insert(k, (receipt, expires));
                Ok(ReceiptOutcome::Held)
            }
        }
    }

    async fn deliver(
        &self,
        user: &str,
        item: &DeliveryItem,
        ttl: Duration,
    ) -> Result<(), StoreError> {
        let now_ms = self.now_ms();
        self.lock()?.queue_delivery(user, item.clone(), now_ms, ttl);
        Ok(())
    }

    /// Items taken and not settled for [`RECLAIM_AFTER_MS`] first (a
    /// worker that died mid-send), then the queue. A restart of this
    /// process loses the queue, so there is nothing of an earlier run.
    async fn take_deliveries(
        &self,
        user: &str,
        _consumer: &str,
        max: usize,
        block: Duration,
    ) -> Result<Vec<Delivery>, StoreError> {
        let start = tokio::time::Instant::now();
        let wake = self
            .lock()?
            .deliveries
            .entry(user.to_string())
            .or_default()
            .wake
            .clone();
        loop {
            let mut notified = std::pin::pin!(wake.notified());
            notified.as_mut().enable();
            let now_ms = self.now_ms();
            let mut out = Vec::new();
            {
                let mut g = self.lock()?;
                let inner = &mut *g;
                let q = inner.deliveries.entry(user.to_string()).or_default();
                // Taken and never settled for the reclaim time first.
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
                for token in tokens {
                    let Some(i) = q.items.get_mut(&token) else {
                        continue;
                    };
                    inner.seq += 1;
                    let key = (now_ms, inner.seq);
                    i.taken_ms = Some(key);
                    q.taken.insert(key, token);
                    out.push(Delivery {
                        token: token.to_string(),
                        item: i.item.clone(),
                        queued_ms: i.queued_ms,
                        expires_ms: i.expires_ms,
                    });
                }
            }
            let waited = start.elapsed();
            if !out.is_empty() || max == 0 || waited >= block {
                return Ok(out);
            }
            let _ = tokio::time::timeout(block - waited, notified).await;
        }
    }

    async fn delivered(&self, user: &str, tokens: &[String]) -> Result<(), StoreError> {
        let mut g = self.lock()?;
        let Some(q) = g.deliveries.get_mut(user) else {
            return Ok(());
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
        Ok(())
    }

    async fn redeliver(&self, user: &str, token: &str) -> Result<(), StoreError> {
        let Ok(token) = token.parse::<u64>() else {
            return Ok(());
        };
        let mut g = self.lock()?;
        let inner = &mut *g;
        let Some(q) = inner.deliveries.get_mut(user) else {
            return Ok(());
        };
        let Some(key) = q.items.get(&token).and_then(|i| i.taken_ms) else {
            return Ok(());
        };
        q.taken.remove(&key);
        let Some(mut i) = q.items.remove(&token) else {
            return Ok(());
        };
        i.taken_ms = None;
        inner.seq += 1;
        let new = inner.seq;
        q.items.insert(new, i);
        q.ready.push_back(new);
        q.wake.notify_waiters();
        Ok(())
    }

    async fn delivery_depth(&self, user: &str) -> Result<u64, StoreError> {
        Ok(self
            .lock()?
            .deliveries
            .get(user)
            .map_or(0, |q| q.items.len() as u64))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicI64, Ordering};

    fn message(id: &str, user: &str, parts: u32, rate: i64) -> StoredMessage {
        StoredMessage {
            id: id.into(),
            user: user.into(),
            connectors: vec!["up".into()],
            submit: Default::default(),
            parts,
            rate_micro: rate,
            accepted_ms: 0,
            expires_ms: None,
        }
    }

    fn sub(m: &StoredMessage, throttle: Option<Limit>, charge: Option<i64>) -> Submission<'_> {
        Submission {
            message: m,
            throttle,
            charge_micro: charge,
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

    /// Move a test clock on by `ms`.
    fn advance(t: &AtomicI64, ms: i64) {
        t.fetch_add(ms * 1000, Ordering::Relaxed);
    }

    async fn take(s: &MemoryStore, max: usize) -> Vec<Taken> {
        s.take("up", "w", max, Duration::ZERO).await.unwrap()
    }

    fn ids(taken: &[Taken]) -> Vec<String> {
        taken.iter().map(|t| t.message.id.clone()).collect()
    }

    async fn state(s: &MemoryStore, id: &str) -> MessageState {
        s.status(id).await.unwrap().unwrap().state
    }

    #[tokio::test]
    async fn credit_is_charged_atomically_and_refunded_on_cancel() {
        let s = MemoryStore::new();
        s.init_credit("u", 1_000_000).await.unwrap();
        s.init_credit("u", 99).await.unwrap(); // already tracked: unchanged
        let a = message("a", "u", 2, 300_000);
        s.submit(sub(&a, None, Some(a.charge_micro())))
            .await
            .unwrap();
        assert_eq!(s.balance("u").await.unwrap(), Some(400_000));
        let b = message("b", "u", 2, 300_000);
        assert_eq!(
            s.submit(sub(&b, None, Some(b.charge_micro()))).await,
            Err(Refusal::NoCredit)
        );
        assert_eq!(s.balance("u").await.unwrap(), Some(400_000));
        assert_eq!(s.queue_depth("up").await.unwrap(), 1);
        assert_eq!(
            s.cancel("a", "someone-else").await.unwrap(),
            CancelOutcome::NotFound
        );
        assert_eq!(s.cancel("a", "u").await.unwrap(), CancelOutcome::Cancelled);
        assert_eq!(s.balance("u").await.unwrap(), Some(1_000_000));
        assert_eq!(s.queue_depth("up").await.unwrap(), 0);
        assert_eq!(state(&s, "a").await, MessageState::Deleted);
        assert_eq!(s.cancel("a", "u").await.unwrap(), CancelOutcome::TooLate);
        assert_eq!(s.balance("u").await.unwrap(), Some(1_000_000));
        assert!(take(&s, 10).await.is_empty());
    }

    #[tokio::test]
    async fn throttle_refusal_changes_nothing() {
        let (s, t) = clocked();
        s.init_credit("u", 10_000_000).await.unwrap();
        let limit = Some(Limit { rate: 10, burst: 2 });
        for i in 0..2 {
            let m = message(&format!("m{i}"), "u", 1, 1_000_000);
            s.submit(sub(&m, limit, Some(1_000_000))).await.unwrap();
        }
        let m = message("m2", "u", 1, 1_000_000);
        assert_eq!(
            s.submit(sub(&m, limit, Some(1_000_000))).await,
            Err(Refusal::Throttled)
        );
        assert_eq!(s.balance("u").await.unwrap(), Some(8_000_000));
        t.fetch_add(100_000, Ordering::Relaxed);
        s.submit(sub(&m, limit, Some(1_000_000))).await.unwrap();
    }

    #[tokio::test]
    async fn queue_limit_and_taking_in_order() {
        let s = MemoryStore::new();
        for i in 0..3 {
            let m = message(&format!("m{i}"), "u", 1, 0);
            let mut x = sub(&m, None, None);
            x.queue_limit = 3;
            s.submit(x).await.unwrap();
        }
        let m = message("m3", "u", 1, 0);
        let mut x = sub(&m, None, None);
        x.queue_limit = 3;
        assert_eq!(s.submit(x).await, Err(Refusal::QueueFull));
        assert_eq!(ids(&take(&s, 2).await), vec!["m0", "m1"]);
        assert_eq!(s.queue_depth("up").await.unwrap(), 1);
        // Taken (being sent upstream): too late to cancel.
        assert_eq!(s.cancel("m0", "u").await.unwrap(), CancelOutcome::TooLate);
        assert_eq!(state(&s, "m2").await, MessageState::Enroute);
        assert!(
            s.take("up", "w", 0, Duration::ZERO)
                .await
                .unwrap()
                .is_empty()
        );
        assert!(
            s.take("nowhere", "w", 10, Duration::ZERO)
                .await
                .unwrap()
                .is_empty()
        );
    }

    #[tokio::test]
    async fn sent_maps_upstream_ids_until_their_ttl() {
        let (s, t) = clocked();
        let m = message("a", "u", 2, 0);
        s.submit(sub(&m, None, None)).await.unwrap();
        let taken = take(&s, 10).await;
        assert_eq!(ids(&taken), vec!["a"]);
        assert_eq!(*taken[0].message, m);
        let up = vec!["x1".to_string(), "x2".to_string()];
        s.sent("up", &taken[0], &up, Duration::from_secs(10))
            .await
            .unwrap();
        assert_eq!(s.upstream("up", "x1").await.unwrap().as_deref(), Some("a"));
        assert_eq!(s.upstream("up", "x2").await.unwrap().as_deref(), Some("a"));
        // Per connector.
        assert_eq!(s.upstream("other", "x1").await.unwrap(), None);
        assert_eq!(s.upstream("up", "nope").await.unwrap(), None);
        // Sent: still ENROUTE (until its receipt), too late to cancel,
        // settled (a retry of the settled token changes nothing).
        assert_eq!(state(&s, "a").await, MessageState::Enroute);
        assert_eq!(s.cancel("a", "u").await.unwrap(), CancelOutcome::TooLate);
        s.retry("up", &taken[0], Duration::ZERO).await.unwrap();
        assert!(take(&s, 10).await.is_empty());
        assert_eq!(s.queue_depth("up").await.unwrap(), 0);

        advance(&t, 9_999);
        assert_eq!(s.upstream("up", "x1").await.unwrap().as_deref(), Some("a"));
        advance(&t, 1);
        assert_eq!(s.upstream("up", "x1").await.unwrap(), None);
        // A later sent sweeps the expired mappings.
        let b = message("b", "u", 1, 0);
        s.submit(sub(&b, None, None)).await.unwrap();
        let taken = take(&s, 10).await;
        s.sent("up", &taken[0], &["y".into()], Duration::from_secs(10))
            .await
            .unwrap();
        let g = s.lock().unwrap();
        assert_eq!(g.upstream.len(), 1);
        assert_eq!(g.upstream_expiry.len(), 1);
        assert!(g.held.is_empty());
    }

    #[tokio::test]
    async fn retry_waits_for_its_delay_and_rejoins_the_queue() {
        let (s, t) = clocked();
        s.init_credit("u", 1_000_000).await.unwrap();
        let a = message("a", "u", 1, 1_000);
        s.submit(sub(&a, None, Some(1_000))).await.unwrap();
        let taken = take(&s, 10).await;
        assert_eq!(s.queue_depth("up").await.unwrap(), 0);
        s.retry("up", &taken[0], Duration::from_secs(5))
            .await
            .unwrap();
        // Waiting in the retry set counts as queued.
        assert_eq!(s.queue_depth("up").await.unwrap(), 1);
        assert_eq!(state(&s, "a").await, MessageState::Enroute);
        let b = message("b", "u", 1, 1_000);
        s.submit(sub(&b, None, Some(1_000))).await.unwrap();
        assert_eq!(s.queue_depth("up").await.unwrap(), 2);
        advance(&t, 4_999);
        assert_eq!(ids(&take(&s, 10).await), vec!["b"]);
        assert!(take(&s, 10).await.is_empty());
        advance(&t, 1);
        let again = take(&s, 10).await;
        assert_eq!(ids(&again), vec!["a"]);
        assert_ne!(again[0].token, taken[0].token);
        assert_eq!(s.queue_depth("up").await.unwrap(), 0);
        // The first token was settled by the retry: no second retry.
        s.retry("up", &taken[0], Duration::ZERO).await.unwrap();
        assert!(take(&s, 10).await.is_empty());
        // Charged once, never refunded by retries.
        assert_eq!(s.balance("u").await.unwrap(), Some(998_000));
    }

    #[tokio::test]
    async fn fail_is_final_and_refunds_tracked_credit_once() {
        let (s, t) = clocked();
        s.init_credit("u", 1_000_000).await.unwrap();
        let a = message("a", "u", 2, 100_000);
        s.submit(sub(&a, None, Some(a.charge_micro())))
            .await
            .unwrap();
        assert_eq!(s.balance("u").await.unwrap(), Some(800_000));
        let taken = take(&s, 10).await;
        advance(&t, 1_234);
        s.fail(
            "up",
            &taken[0],
            MessageState::Rejected,
            0x45,
            Duration::from_secs(60),
        )
        .await
        .unwrap();
        let st = s.status("a").await.unwrap().unwrap();
        assert_eq!(st.state, MessageState::Rejected);
        assert_eq!(st.error_code, 0x45);
        assert_eq!(st.final_ms, Some(1_000_000_000 + 1_234));
        assert_eq!(s.balance("u").await.unwrap(), Some(1_000_000));
        // Settled: a second fail (or a cancel) refunds nothing more.
        s.fail(
            "up",
            &taken[0],
            MessageState::Undeliverable,
            1,
            Duration::from_secs(60),
        )
        .await
        .unwrap();
        assert_eq!(state(&s, "a").await, MessageState::Rejected);
        assert_eq!(s.balance("u").await.unwrap(), Some(1_000_000));
        assert_eq!(s.cancel("a", "u").await.unwrap(), CancelOutcome::TooLate);

        // Unlimited: no credit tracked, none appears.
        let f = message("f", "free", 1, 100_000);
        s.submit(sub(&f, None, None)).await.unwrap();
        let taken = take(&s, 10).await;
        s.fail(
            "up",
            &taken[0],
            MessageState::Expired,
            0,
            Duration::from_secs(60),
        )
        .await
        .unwrap();
        assert_eq!(state(&s, "f").await, MessageState::Expired);
        assert_eq!(s.balance("free").await.unwrap(), None);
        // Submitted while unlimited, credit tracked since: nothing was
        // charged, so nothing is refunded.
        let g = message("g", "v", 1, 100_000);
        s.submit(sub(&g, None, None)).await.unwrap();
        s.init_credit("v", 5).await.unwrap();
        let taken = take(&s, 10).await;
        s.fail(
            "up",
            &taken[0],
            MessageState::Rejected,
            0,
            Duration::from_secs(60),
        )
        .await
        .unwrap();
        assert_eq!(s.balance("v").await.unwrap(), Some(5));
    }

    #[tokio::test]
    async fn a_message_in_the_retry_set_can_be_cancelled() {
        let (s, t) = clocked();
        s.init_credit("u", 1_000_000).await.unwrap();
        let a = message("a", "u", 1, 1_000);
        s.submit(sub(&a, None, Some(1_000))).await.unwrap();
        let taken = take(&s, 10).await;
        s.retry("up", &taken[0], Duration::from_secs(5))
            .await
            .unwrap();
        assert_eq!(s.cancel("a", "v").await.unwrap(), CancelOutcome::NotFound);
        assert_eq!(s.cancel("a", "u").await.unwrap(), CancelOutcome::Cancelled);
        assert_eq!(state(&s, "a").await, MessageState::Deleted);
        assert_eq!(s.balance("u").await.unwrap(), Some(1_000_000));
        assert_eq!(s.queue_depth("up").await.unwrap(), 0);
        advance(&t, 10_000);
        assert!(take(&s, 10).await.is_empty());
        assert_eq!(s.cancel("a", "u").await.unwrap(), CancelOutcome::TooLate);

        // Due and back in the queue, not taken yet: still cancellable.
        let b = message("b", "u", 1, 1_000);
        s.submit(sub(&b, None, Some(1_000))).await.unwrap();
        let taken = take(&s, 10).await;
        s.retry("up", &taken[0], Duration::from_secs(1))
            .await
            .unwrap();
        let c = message("c", "u", 1, 1_000);
        s.submit(sub(&c, None, Some(1_000))).await.unwrap();
        advance(&t, 1_000);
        // This take moves b to the queue's back and takes only c.
        assert_eq!(ids(&take(&s, 1).await), vec!["c"]);
        assert_eq!(s.queue_depth("up").await.unwrap(), 1);
        assert_eq!(s.cancel("b", "u").await.unwrap(), CancelOutcome::Cancelled);
        assert_eq!(s.queue_depth("up").await.unwrap(), 0);
        assert!(take(&s, 10).await.is_empty());
        assert_eq!(s.balance("u").await.unwrap(), Some(999_000));
    }

    #[tokio::test]
    async fn an_unsettled_message_is_handed_out_again() {
        let (s, t) = clocked();
        for i in 0..2 {
            let m = message(&format!("m{i}"), "u", 1, 0);
            s.submit(sub(&m, None, None)).await.unwrap();
        }
        let first = take(&s, 1).await;
        assert_eq!(ids(&first), vec!["m0"]);
        advance(&t, RECLAIM_AFTER_MS as i64 - 1);
        assert_eq!(ids(&take(&s, 10).await), vec!["m1"]);
        advance(&t, 1);
        // m0's taker died: the same token, to whoever takes next, first.
        let m2 = message("m2", "u", 1, 0);
        s.submit(sub(&m2, None, None)).await.unwrap();
        let again = take(&s, 10).await;
        assert_eq!(ids(&again), vec!["m0", "m2"]);
        assert_eq!(again[0], first[0]);
        // Handed out again: idle time starts over.
        assert!(take(&s, 10).await.is_empty());
        s.sent("up", &again[0], &["x".into()], Duration::from_secs(60))
            .await
            .unwrap();
        advance(&t, RECLAIM_AFTER_MS as i64);
        // m0 is settled; m1 and m2 were never settled.
        assert_eq!(ids(&take(&s, 10).await), vec!["m1", "m2"]);
    }

    #[tokio::test]
    async fn a_blocking_take_waits_and_wakes_for_a_submit_or_a_retry() {
        let s = MemoryStore::new();
        let t0 = std::time::Instant::now();
        let got = s
            .take("up", "w", 10, Duration::from_millis(150))
            .await
            .unwrap();
        assert!(got.is_empty());
        assert!(t0.elapsed() >= Duration::from_millis(150));

        let waiter = {
            let s = s.clone();
            tokio::spawn(async move { s.take("up", "w", 10, Duration::from_secs(10)).await })
        };
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert!(!waiter.is_finished());
        // Another connector's submit does not hand it anything.
        let mut o = message("o", "u", 1, 0);
        o.connectors = vec!["other".into()];
        s.submit(sub(&o, None, None)).await.unwrap();
        let t0 = std::time::Instant::now();
        let m = message("late", "u", 1, 0);
        s.submit(sub(&m, None, None)).await.unwrap();
        let got = waiter.await.unwrap().unwrap();
        assert_eq!(ids(&got), vec!["late"]);
        assert!(t0.elapsed() < Duration::from_secs(2));

        // A retry falling due while blocked is taken when due.
        s.retry("up", &got[0], Duration::from_millis(200))
            .await
            .unwrap();
        let t0 = std::time::Instant::now();
        let again = s
            .take("up", "w", 10, Duration::from_secs(10))
            .await
            .unwrap();
        assert_eq!(ids(&again), vec!["late"]);
        let waited = t0.elapsed();
        assert!(
            waited >= Duration::from_millis(150) && waited < Duration::from_secs(5),
            "{waited:?}"
        );
    }

    #[tokio::test]
    async fn forgetting_old_states_spares_messages_in_flight() {
        let (s, t) = clocked();
        let a = message("a", "u", 1, 0);
        let b = message("b", "u", 1, 0);
        s.submit(sub(&a, None, None)).await.unwrap();
        s.submit(sub(&b, None, None)).await.unwrap();
        let taken = take(&s, 1).await;
        s.sent("up", &taken[0], &[], Duration::from_secs(1))
            .await
            .unwrap();
        advance(&t, STATUS_RETENTION_MS);
        let c = message("c", "u", 1, 0);
        s.submit(sub(&c, None, None)).await.unwrap();
        assert_eq!(s.status("a").await.unwrap(), None);
        assert!(s.status("b").await.unwrap().is_some());
        assert_eq!(ids(&take(&s, 10).await), vec!["b", "c"]);
    }

    // ---- receipts and delivery queues ----

    const TTL: Duration = Duration::from_secs(3600);

    fn with_rd(id: &str, rd: u8) -> StoredMessage {
        let mut m = message(id, "u", 1, 0);
        m.submit.registered_delivery = smpp::pdu::RegisteredDelivery(rd);
        m
    }

    fn part(state: MessageState) -> PartReceipt {
        PartReceipt {
            state,
            error_code: if state == MessageState::Delivered {
                0
            } else {
                7
            },
            done_ms: 5,
        }
    }

    /// Submit, take and send `m` with these upstream ids.
    async fn sent_as(s: &MemoryStore, m: &StoredMessage, ups: &[&str]) {
        s.submit(sub(m, None, None)).await.unwrap();
        let t = take(s, 1).await;
        let ups: Vec<String> = ups.iter().map(|u| u.to_string()).collect();
        s.sent("up", &t[0], &ups, TTL).await.unwrap();
    }

    async fn receipts(s: &MemoryStore, user: &str) -> Vec<UserReceipt> {
        let got = s
            .take_deliveries(user, "c", 100, Duration::ZERO)
            .await
            .unwrap();
        let mut out = Vec::new();
        for d in got {
            s.delivered(user, std::slice::from_ref(&d.token))
                .await
                .unwrap();
            if let DeliveryItem::Receipt(r) = d.item {
                out.push(*r);
            }
        }
        out
    }

    #[tokio::test]
    async fn a_final_receipt_is_queued_per_registered_delivery() {
        let s = MemoryStore::new();
        for (id, rd) in [("none", 0), ("final", 1), ("fail-only", 2)] {
            sent_as(&s, &with_rd(id, rd), &[id]).await;
            let out = s
                .receipt("up", id, part(MessageState::Delivered), TTL)
                .await
                .unwrap();
            assert_eq!(
                out,
                ReceiptOutcome::Final {
                    state: MessageState::Delivered,
                    queued: rd == 1
                }
            );
            assert_eq!(state(&s, id).await, MessageState::Delivered);
        }
        let r = receipts(&s, "u").await;
        assert_eq!(r.len(), 1);
        assert_eq!(
            (r[0].message.id.as_str(), r[0].sub, r[0].dlvrd),
            ("final", 1, 1)
        );
        // Failure-only gets the failure.
        sent_as(&s, &with_rd("bad", 2), &["bad"]).await;
        s.receipt("up", "bad", part(MessageState::Undeliverable), TTL)
            .await
            .unwrap();
        let r = receipts(&s, "u").await;
        assert_eq!(r.len(), 1);
        assert_eq!(
            (r[0].state, r[0].error_code),
            (MessageState::Undeliverable, 7)
        );
        assert_eq!(s.status("bad").await.unwrap().unwrap().error_code, 7);
        // A repeated receipt changes nothing.
        assert_eq!(
            s.receipt("up", "bad", part(MessageState::Undeliverable), TTL)
                .await
                .unwrap(),
            ReceiptOutcome::Duplicate
        );
        assert!(receipts(&s, "u").await.is_empty());
    }

    #[tokio::test]
    async fn parts_are_summed_into_one_receipt() {
        let s = MemoryStore::new();
        sent_as(&s, &with_rd("m", 1), &["p1", "p2", "p3"]).await;
        let r = |u: &'static str, st| s.receipt("up", u, part(st), TTL);
        assert_eq!(
            r("p1", MessageState::Delivered).await.unwrap(),
            ReceiptOutcome::Partial
        );
        assert_eq!(
            r("p2", MessageState::Undeliverable).await.unwrap(),
            ReceiptOutcome::Partial
        );
        assert_eq!(
            r("p2", MessageState::Delivered).await.unwrap(),
            ReceiptOutcome::Duplicate
        );
        assert_eq!(state(&s, "m").await, MessageState::Enroute);
        assert_eq!(
            r("p3", MessageState::Delivered).await.unwrap(),
            ReceiptOutcome::Final {
                state: MessageState::Undeliverable,
                queued: true
            }
        );
        let got = receipts(&s, "u").await;
        assert_eq!(got.len(), 1);
        assert_eq!((got[0].sub, got[0].dlvrd), (3, 2));
    }

    #[tokio::test]
    async fn a_receipt_before_its_mapping_is_held_and_applied() {
        let s = MemoryStore::new();
        let m = with_rd("m", 1);
        s.submit(sub(&m, None, None)).await.unwrap();
        let t = take(&s, 1).await;
        assert_eq!(
            s.receipt("up", "u1", part(MessageState::Delivered), TTL)
                .await
                .unwrap(),
            ReceiptOutcome::Held
        );
        assert!(receipts(&s, "u").await.is_empty());
        s.sent("up", &t[0], &["u1".to_string()], TTL).await.unwrap();
        assert_eq!(state(&s, "m").await, MessageState::Delivered);
        assert_eq!(receipts(&s, "u").await.len(), 1);
        // Sent again (a repeated settle): nothing more.
        s.sent("up", &t[0], &["u1".to_string()], TTL).await.unwrap();
        assert!(receipts(&s, "u").await.is_empty());
    }

    #[tokio::test]
    async fn intermediate_receipts_only_when_asked() {
        let s = MemoryStore::new();
        sent_as(&s, &with_rd("i", 0x11), &["ui"]).await;
        sent_as(&s, &with_rd("f", 0x01), &["uf"]).await;
        for u in ["ui", "uf"] {
            s.receipt("up", u, part(MessageState::Enroute), TTL)
                .await
                .unwrap();
        }
        let got = receipts(&s, "u").await;
        assert_eq!(got.len(), 1);
        assert_eq!(
            (got[0].message.id.as_str(), got[0].state),
            ("i", MessageState::Enroute)
        );
        assert_eq!(state(&s, "i").await, MessageState::Enroute);
    }

    #[tokio::test]
    async fn a_permanent_failure_queues_its_receipt_once() {
        let s = MemoryStore::new();
        let m = with_rd("r", 1);
        s.submit(sub(&m, None, None)).await.unwrap();
        let t = take(&s, 1).await;
        s.fail("up", &t[0], MessageState::Rejected, 0x45, TTL)
            .await
            .unwrap();
        s.fail("up", &t[0], MessageState::Rejected, 0x45, TTL)
            .await
            .unwrap();
        let got = receipts(&s, "u").await;
        assert_eq!(got.len(), 1);
        assert_eq!(
            (got[0].state, got[0].dlvrd, got[0].error_code),
            (MessageState::Rejected, 0, 0x45)
        );
    }

    #[tokio::test]
    async fn deliveries_wait_are_given_back_and_expire() {
        let (s, clock) = clocked();
        let mo = DeliveryItem::Mo(Default::default());
        s.deliver("u", &mo, Duration::from_secs(10)).await.unwrap();
        s.deliver("u", &mo, Duration::from_secs(10)).await.unwrap();
        assert_eq!(s.delivery_depth("u").await.unwrap(), 2);
        let got = s
            .take_deliveries("u", "c", 1, Duration::ZERO)
            .await
            .unwrap();
        assert_eq!(got.len(), 1);
        s.redeliver("u", &got[0].token).await.unwrap();
        s.redeliver("u", &got[0].token).await.unwrap(); // not held: nothing
        assert_eq!(s.delivery_depth("u").await.unwrap(), 2);
        let all = s
            .take_deliveries("u", "c", 10, Duration::ZERO)
            .await
            .unwrap();
        assert_eq!(all.len(), 2);
        s.delivered("u", std::slice::from_ref(&all[0].token))
            .await
            .unwrap();
        assert_eq!(s.delivery_depth("u").await.unwrap(), 1);
        assert!(all[1].expires_ms > all[1].queued_ms);
        // Taken and never settled: handed out again after the reclaim time.
        assert!(
            s.take_deliveries("u", "c", 10, Duration::ZERO)
                .await
                .unwrap()
                .is_empty()
        );
        advance(&clock, RECLAIM_AFTER_MS as i64);
        let again = s
            .take_deliveries("u", "c", 10, Duration::ZERO)
            .await
            .unwrap();
        assert_eq!(again.len(), 1);
        assert!(again[0].expires_ms <= s.now_ms());
    }

    #[tokio::test]
    async fn a_queue_nobody_takes_from_drops_what_expired() {
        let (s, clock) = clocked();
        let mo = DeliveryItem::Mo(Default::default());
        s.deliver("u", &mo, Duration::from_secs(10)).await.unwrap();
        s.deliver("u", &mo, Duration::from_secs(10)).await.unwrap();
        advance(&clock, 11_000);
        s.deliver("u", &mo, Duration::from_secs(10)).await.unwrap();
        assert_eq!(s.delivery_depth("u").await.unwrap(), 1);
    }
}
