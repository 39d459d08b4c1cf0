//! The embedded store: everything in this process's memory, behind one
//! mutex held only for map updates (never across an await).
//!
//! For a single node and tests. It is as atomic as the redis backend but
//! not durable across a process restart. The rules it applies (receipt
//! aggregation, which receipts a user gets, refunds, the throttle) are
//! [`super::rules`]'s, called, not copied.
//!
//! One `Inner` under the mutex, split by concern, each concern a file
//! owning its maps:
//!
//! - `mt`: the connectors' MT queues — submit, take, retry, cancel,
//!   fail, and what is taken and not settled;
//! - `receipts`: upstream id mappings, receipts held before their
//!   mapping, and each sent message's part count;
//! - `deliveries`: the users' delivery queues (receipts and MO);
//! - `callbacks`: the callback queue (HTTP receipts and MO) and its
//!   retries;
//! - `expiry`: the messages not final by when their wait ends (validity
//!   while waiting, the receipt wait once sent), and the sweeps that end
//!   them.
//!
//! This file holds what they share: the message records (for query_sm
//! and cancel, forgotten after [`STATUS_RETENTION_MS`]), credit and
//! throttle state, the sequence that makes tokens and time keys unique,
//! and the names (users, connectors) every record shares.
//!
//! Cost per message (issue 13): every map hashes with foldhash, not
//! SipHash (its keys are ids tern makes, names from the configuration
//! and the SMSC's upstream ids; each map is seeded at random); a message
//! id is one allocation shared by every map that holds it ([`Id`]); user
//! and connector names are interned ([`Inner::name`]); per-connector and
//! per-user maps are looked up by `&str` and allocate a key only the
//! first time ([`slot`]).

mod callbacks;
mod deliveries;
mod expiry;
mod mt;
mod receipts;
#[cfg(test)]
mod tests;

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use smpp::MessageState;
use tokio::sync::Notify;

use super::*;

type Clock = Arc<dyn Fn() -> i64 + Send + Sync>;

/// The store's hash maps and sets: foldhash, seeded per map.
type Map<K, V> = HashMap<K, V, foldhash::fast::RandomState>;
type Set<T> = HashSet<T, foldhash::fast::RandomState>;

/// A message id as the maps hold it: one allocation, shared.
type Id = Arc<str>;

/// The message records by id, in [`SHARDS`] maps: a map that grows
/// doubles and moves every entry at once, under the store's lock — with
/// a day of messages in one map that is a pause every submit and
/// receipt waits behind (the receipt latency's tail); a shard moves a
/// 64th of them.
struct ById<V> {
    shards: Box<[Map<Id, V>]>,
    hasher: foldhash::fast::RandomState,
}

/// Shards of [`ById`].
const SHARDS: usize = 64;

impl<V> Default for ById<V> {
    fn default() -> Self {
        ById {
            shards: (0..SHARDS).map(|_| Map::default()).collect(),
            hasher: foldhash::fast::RandomState::default(),
        }
    }
}

impl<V> ById<V> {
    fn shard(&self, id: &str) -> usize {
        use std::hash::BuildHasher;
        (self.hasher.hash_one(id) as usize) % SHARDS
    }

    fn get(&self, id: &str) -> Option<&V> {
        self.shards[self.shard(id)].get(id)
    }

    fn get_mut(&mut self, id: &str) -> Option<&mut V> {
        let i = self.shard(id);
        self.shards[i].get_mut(id)
    }

    fn get_key_value(&self, id: &str) -> Option<(&Id, &V)> {
        self.shards[self.shard(id)].get_key_value(id)
    }

    fn contains_key(&self, id: &str) -> bool {
        self.shards[self.shard(id)].contains_key(id)
    }

    fn insert(&mut self, id: Id, v: V) -> Option<V> {
        let i = self.shard(&id);
        self.shards[i].insert(id, v)
    }

    fn remove(&mut self, id: &str) -> Option<V> {
        let i = self.shard(id);
        self.shards[i].remove(id)
    }
}

/// `map`'s value for `key`, made (default) when missing: the key is
/// allocated only then, not at every lookup as `entry` would.
fn slot<'a, V: Default>(map: &'a mut Map<String, V>, key: &str) -> &'a mut V {
    if !map.contains_key(key) {
        map.insert(key.to_string(), V::default());
    }
    map.get_mut(key)
        .unwrap_or_else(|| unreachable!("inserted above"))
}

/// A key ordered by time (Unix ms), unique by a sequence number.
type TimeKey = (i64, u64);

/// The one counter behind every token and [`TimeKey`] of a store.
#[derive(Default)]
struct Seq(u64);

impl Seq {
    fn next(&mut self) -> u64 {
        self.0 += 1;
        self.0
    }
}

/// What the store keeps of one accepted message.
struct Entry {
    user: Arc<str>,
    accepted_ms: i64,
    /// The message, until it is final: a final message keeps only what
    /// query_sm reports (its receipt, if any, holds its own reference).
    message: Option<Kept>,
    state: MessageState,
    final_ms: Option<i64>,
    error_code: u8,
    /// The connector whose queue or retry set holds it.
    connector: Arc<str>,
    /// Credit actually charged (0 when unlimited), refunded at most once
    /// ([`rules::take_refund`]).
    charged: i64,
    place: mt::Place,
    /// Receipt bookkeeping, from `sent` on (boxed: a waiting message
    /// has none, and its record stays small).
    parts: Option<Box<receipts::Parts>>,
    /// Its key in the expiry index it is in (`expiry`), Unix ms.
    until: i64,
}

/// A message as its record keeps it: while it waits for its connector,
/// its stored form alone (what redis keeps: about 250 bytes, not the
/// decoded message, its strings and the session read buffer its fields
/// point into — issue 13's million waiting messages); once taken, the
/// message its connector and its receipts share.
enum Kept {
    Waiting(bytes::Bytes),
    Live(Arc<StoredMessage>),
}

impl Kept {
    /// The message, decoded when it is in its stored form (which this
    /// store wrote: it decodes).
    fn message(&self) -> Result<Arc<StoredMessage>, StoreError> {
        match self {
            Kept::Live(m) => Ok(m.clone()),
            Kept::Waiting(b) => StoredMessage::decode(b.clone())
                .map(Arc::new)
                .map_err(|e| StoreError(format!("memory: {e}"))),
        }
    }

    /// `m`'s stored form, in an allocation of its size.
    fn waiting(m: &StoredMessage) -> Result<Kept, message::UnstorableMessage> {
        Ok(Kept::Waiting(bytes::Bytes::copy_from_slice(&m.encode()?)))
    }
}

#[derive(Default)]
struct Inner {
    messages: ById<Entry>,
    /// (forget at, id), in acceptance order.
    retention: VecDeque<(i64, Id)>,
    credit: Map<String, i64>,
    tat: Map<String, i64>,
    /// Every user and connector name a record holds, once.
    names: Set<Arc<str>>,
    mt: mt::MtQueues,
    receipts: receipts::Receipts,
    deliveries: deliveries::DeliveryQueues,
    callbacks: callbacks::CallbackQueue,
    expiry: expiry::Expiry,
    seq: Seq,
    /// How long a final message's record is kept, from acceptance.
    retention_ms: i64,
}

impl Inner {
    /// `name` (a user's or a connector's), shared.
    fn name(&mut self, name: &str) -> Arc<str> {
        if let Some(n) = self.names.get(name) {
            return n.clone();
        }
        let n: Arc<str> = Arc::from(name);
        self.names.insert(n.clone());
        n
    }

    /// The id of message `id` as its record holds it, or a new one.
    fn id(&self, id: &str) -> Id {
        match self.messages.get_key_value(id) {
            Some((k, _)) => k.clone(),
            None => Arc::from(id),
        }
    }

    /// A final message keeps only what query_sm reports.
    fn finish(&mut self, id: &str) {
        if let Some(e) = self.messages.get_mut(id) {
            e.message = None;
            e.parts = None;
        }
    }

    /// Give back what is left of `id`'s charge, to a tracked balance.
    fn refund(&mut self, id: &str) {
        let Some(e) = self.messages.get_mut(id) else {
            return;
        };
        if let Some(charged) = rules::take_refund(&mut e.charged) {
            if let Some(b) = self.credit.get_mut(&*e.user) {
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
            inner: Arc::new(Mutex::new(Inner {
                retention_ms: STATUS_RETENTION_MS,
                ..Inner::default()
            })),
            clock,
        }
    }

    /// This store, keeping message states `retention` from acceptance
    /// (`[store] status_retention`; at least a millisecond).
    pub fn with_retention(self, retention: Duration) -> Self {
        if let Ok(mut inner) = self.inner.lock() {
            inner.retention_ms = ms(retention).max(1);
        }
        self
    }

    fn lock(&self) -> Result<MutexGuard<'_, Inner>, StoreError> {
        self.inner
            .lock()
            .map_err(|_| StoreError("memory store poisoned".into()))
    }

    fn now_ms(&self) -> i64 {
        (self.clock)() / 1000
    }

    /// A take: what `look` finds now (up to `max` items, and when
    /// something falls due, Unix ms), else wait up to `block` for `wake`
    /// or for that time, and look again.
    async fn take_or_wait<T>(
        &self,
        wake: &Notify,
        max: usize,
        block: Duration,
        mut look: impl FnMut(&mut Inner, i64) -> (Vec<T>, Option<i64>),
    ) -> Result<Vec<T>, StoreError> {
        let start = tokio::time::Instant::now();
        loop {
            // Registered before looking, so a submit in between wakes it.
            let mut notified = std::pin::pin!(wake.notified());
            notified.as_mut().enable();
            let now_ms = self.now_ms();
            let (out, next_ms) = look(&mut *self.lock()?, now_ms);
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
}

impl Store for MemoryStore {
    /// Idempotent on the message id, as redis: an id already accepted
    /// (and not yet forgotten) answers `Ok` and changes nothing.
    async fn submit(&self, s: Submission<'_>) -> Result<(), Refusal> {
        // Refused as redis refuses it: a message without a stored form
        // (this backend keeps it as it is, but must not accept what the
        // other would not).
        let kept = Kept::waiting(s.message)
            .map_err(|e| Refusal::Unstorable(format!("message {}: {e}", s.message.id)))?;
        let now = (self.clock)();
        let mut g = self.lock().map_err(|e| Refusal::Unavailable(e.0))?;
        g.submit(s, kept, now)
    }

    async fn status(&self, id: &str) -> Result<Option<MessageStatus>, StoreError> {
        let g = self.lock()?;
        Ok(g.messages.get(id).map(|e| MessageStatus {
            id: id.to_string(),
            user: e.user.to_string(),
            state: e.state,
            accepted_ms: e.accepted_ms,
            final_ms: e.final_ms,
            error_code: e.error_code,
        }))
    }

    async fn cancel(&self, id: &str, user: &str) -> Result<CancelOutcome, StoreError> {
        let now_ms = self.now_ms();
        Ok(self.lock()?.cancel(id, user, now_ms))
    }

    async fn replace<E, F>(
        &self,
        id: &str,
        user: &str,
        edit: F,
    ) -> Result<ReplaceOutcome<E>, StoreError>
    where
        E: Send,
        F: Fn(&StoredMessage) -> Result<Replacement, E> + Send + Sync,
    {
        self.lock()?.replace(id, user, edit)
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
        Ok(self.lock()?.mt.depth(connector))
    }

    async fn ping(&self) -> Result<(), StoreError> {
        self.lock().map(|_| ())
    }

    /// Reclaimable messages, then the queue (which up to `max` due
    /// retries join at the back, earliest due first). `consumer` is not
    /// needed in one process. With nothing
    /// to take, waits up to `block` for a submit or a retry (woken by
    /// [`tokio::sync::Notify`]) or for the next retry or reclaim to fall
    /// due.
    async fn take(
        &self,
        connector: &str,
        _consumer: &str,
        max: usize,
        block: Duration,
    ) -> Result<Vec<Taken>, StoreError> {
        self.take_waiting(connector, max, block).await
    }

    async fn sent(
        &self,
        connector: &str,
        taken: &Taken,
        upstream_ids: &[String],
        ttl: Duration,
    ) -> Result<(), StoreError> {
        let now_ms = self.now_ms();
        self.lock()?
            .sent(connector, taken, upstream_ids, now_ms, ttl);
        Ok(())
    }

    async fn retry(
        &self,
        connector: &str,
        taken: &Taken,
        delay: Duration,
    ) -> Result<(), StoreError> {
        let now_ms = self.now_ms();
        self.lock()?.retry(connector, taken, now_ms, delay);
        Ok(())
    }

    async fn reroute(
        &self,
        _connector: &str,
        taken: &Taken,
        next: &StoredMessage,
    ) -> Result<bool, StoreError> {
        // Stored as redis would store it, or refused as redis refuses it.
        let kept =
            Kept::waiting(next).map_err(|e| StoreError(format!("memory: cannot store: {e}")))?;
        Ok(self.lock()?.reroute(taken, next, kept))
    }

    async fn fail(
        &self,
        connector: &str,
        taken: &Taken,
        state: MessageState,
        error_code: u8,
        ttl: Duration,
    ) -> Result<(), StoreError> {
        let now_ms = self.now_ms();
        self.lock()?
            .fail(connector, taken, state, error_code, now_ms, ttl);
        Ok(())
    }

    async fn upstream(
        &self,
        connector: &str,
        upstream_id: &str,
    ) -> Result<Option<String>, StoreError> {
        let now_ms = self.now_ms();
        Ok(self
            .lock()?
            .receipts
            .lookup(connector, upstream_id, now_ms)
            .map(|(id, _)| id.to_string()))
    }

    async fn receipt(
        &self,
        connector: &str,
        upstream_id: &str,
        receipt: PartReceipt,
        ttl: Duration,
    ) -> Result<ReceiptOutcome, StoreError> {
        let now_ms = self.now_ms();
        Ok(self
            .lock()?
            .receipt(connector, upstream_id, receipt, now_ms, ttl))
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
        self.take_deliveries_waiting(user, max, block).await
    }

    async fn delivered(&self, user: &str, tokens: &[String]) -> Result<(), StoreError> {
        self.lock()?.deliveries.delivered(user, tokens);
        Ok(())
    }

    async fn redeliver(&self, user: &str, token: &str) -> Result<(), StoreError> {
        let mut g = self.lock()?;
        let inner = &mut *g;
        inner.deliveries.redeliver(&mut inner.seq, user, token);
        Ok(())
    }

    async fn delivery_depth(&self, user: &str) -> Result<u64, StoreError> {
        Ok(self.lock()?.deliveries.depth(user))
    }

    async fn queue_callback(&self, call: &HttpCall, ttl: Duration) -> Result<(), StoreError> {
        let now_ms = self.now_ms();
        self.lock()?
            .queue_callback(Callback::Call(call.clone()), now_ms, ttl);
        Ok(())
    }

    /// Items taken and not settled for [`RECLAIM_AFTER_MS`] first, then
    /// due retries joining the queue's back, then the queue. A restart of
    /// this process loses the queue.
    async fn take_callbacks(
        &self,
        _consumer: &str,
        max: usize,
        block: Duration,
    ) -> Result<Vec<CallbackTaken>, StoreError> {
        self.take_callbacks_waiting(max, block).await
    }

    async fn callbacks_done(&self, tokens: &[String]) -> Result<(), StoreError> {
        self.lock()?.callbacks.done(tokens);
        Ok(())
    }

    async fn retry_callback(&self, token: &str, delay: Duration) -> Result<(), StoreError> {
        let now_ms = self.now_ms();
        let mut g = self.lock()?;
        let inner = &mut *g;
        inner.callbacks.retry(&mut inner.seq, token, now_ms, delay);
        Ok(())
    }

    async fn expire_waiting(
        &self,
        connector: &str,
        max: usize,
        ttl: Duration,
    ) -> Result<u64, StoreError> {
        let now_ms = self.now_ms();
        Ok(self.lock()?.expire_waiting(connector, max, now_ms, ttl))
    }

    async fn expire_unanswered(
        &self,
        connector: &str,
        state: MessageState,
        max: usize,
        ttl: Duration,
    ) -> Result<u64, StoreError> {
        let now_ms = self.now_ms();
        Ok(self
            .lock()?
            .expire_unanswered(connector, state, max, now_ms, ttl))
    }

    async fn callback_depth(&self) -> Result<u64, StoreError> {
        Ok(self.lock()?.callbacks.depth())
    }
}
