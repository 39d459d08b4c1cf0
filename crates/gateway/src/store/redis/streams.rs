//! Reading the streams: a connector's queue and a user's delivery queue
//! are both Redis Streams read by the consumer group [`GROUP`]. A take
//! runs restart recovery (a consumer's own pending entries, once), the
//! reclaim of a dead consumer's entries (XAUTOCLAIM from a kept cursor),
//! the promotion of due retries (connector queues), then XREADGROUP for
//! new entries, blocking on a dedicated connection when there is nothing
//! (docs/store.md, "The connector's side" and "Restart recovery").

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::sync::{MutexGuard, PoisonError};
use std::time::Duration;

use ::redis::Value;

use super::decode::{Entry, array, bulk, entry, pairs};
use super::keys::{
    GROUP, callback_key, callback_retry_items_key, callback_retry_key, delivery_key, queue_key,
    requeued_key, retry_key, retry_messages_key,
};
use super::pool::Req;
use super::{RedisStore, scripts};
use crate::store::{CallbackTaken, Delivery, StoreError, Taken};

#[cfg(doc)]
use crate::store::{RECLAIM_AFTER_MS, Store};

/// The longest one XREADGROUP blocks; a longer take blocks again.
const MAX_BLOCK_MS: u64 = 60_000;

/// A duration in whole milliseconds, rounded up (a BLOCK of 0 would wait
/// for ever).
fn ceil_ms(d: Duration) -> u64 {
    u64::try_from(d.as_micros().div_ceil(1000)).unwrap_or(u64::MAX)
}

impl RedisStore {
    fn groups(&self) -> MutexGuard<'_, HashSet<String>> {
        self.inner
            .groups
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Create a stream's consumer group (and the stream) unless it is
    /// known to exist.
    pub(super) async fn ensure_group(&self, key: &str) -> Result<(), StoreError> {
        if self.groups().contains(key) {
            return Ok(());
        }
        let mut cmd = ::redis::cmd("XGROUP");
        cmd.arg("CREATE")
            .arg(key)
            .arg(GROUP)
            .arg("0")
            .arg("MKSTREAM");
        match self.run::<()>(Req::Cmd(&cmd)).await {
            Ok(()) => {}
            Err(e) if e.0.contains("BUSYGROUP") => {}
            Err(e) => return Err(e),
        }
        self.groups().insert(key.to_string());
        Ok(())
    }

    /// Run a group command on `key`; when Redis lost the group (it
    /// restarted without its data), make it again and run once more.
    pub(super) async fn with_group<F, Fut>(&self, key: &str, f: F) -> Result<Value, StoreError>
    where
        F: Fn() -> Fut,
        Fut: Future<Output = Result<Value, StoreError>>,
    {
        match f().await {
            Err(e) if e.0.contains("NOGROUP") => {
                self.groups().remove(key);
                self.ensure_group(key).await?;
                f().await
            }
            r => r,
        }
    }

    /// [`Store::take`] with a reclaim time of `reclaim_after_ms` instead
    /// of [`RECLAIM_AFTER_MS`] (tests use a short one): at the first take
    /// by `consumer` in this store, what it had taken and not settled
    /// before (a previous run of this process) comes first; then due
    /// retries are moved to the stream, entries idle longer than
    /// `reclaim_after_ms` (a dead consumer's) are claimed for `consumer`
    /// and handed out, then new entries are read; with nothing found,
    /// waits up to `block` (on a dedicated connection) for a submit or for
    /// a retry to fall due. An entry that does not decode is logged and
    /// acknowledged (it can never be sent).
    pub async fn take_with_reclaim(
        &self,
        connector: &str,
        consumer: &str,
        max: usize,
        block: Duration,
        reclaim_after_ms: u64,
    ) -> Result<Vec<Taken>, StoreError> {
        self.take_from(
            &Connector(connector),
            consumer,
            max,
            block,
            reclaim_after_ms,
        )
        .await
    }

    /// [`Store::take_deliveries`] with a reclaim time of
    /// `reclaim_after_ms` instead of [`RECLAIM_AFTER_MS`] (tests use a
    /// short one): at the first take by `consumer` in this store, what it
    /// had taken and not settled before comes first; then items idle
    /// longer than `reclaim_after_ms` (a dead consumer's) are claimed for
    /// `consumer`, then new items are read; with nothing found, waits up
    /// to `block` (on a dedicated connection). An item that does not
    /// decode is logged and dropped (acknowledged and deleted).
    pub async fn take_deliveries_with_reclaim(
        &self,
        user: &str,
        consumer: &str,
        max: usize,
        block: Duration,
        reclaim_after_ms: u64,
    ) -> Result<Vec<Delivery>, StoreError> {
        self.take_from(&Deliveries(user), consumer, max, block, reclaim_after_ms)
            .await
    }

    /// [`Store::take_callbacks`] with a reclaim time of
    /// `reclaim_after_ms` instead of [`RECLAIM_AFTER_MS`] (tests use a
    /// short one): as [`Self::take_deliveries_with_reclaim`] on the
    /// callback stream, with due retries moved to the stream's tail
    /// before each read and no block past the next retry's due time.
    pub async fn take_callbacks_with_reclaim(
        &self,
        consumer: &str,
        max: usize,
        block: Duration,
        reclaim_after_ms: u64,
    ) -> Result<Vec<CallbackTaken>, StoreError> {
        self.take_from(&Callbacks, consumer, max, block, reclaim_after_ms)
            .await
    }

    /// Move up to `limit` due callback retries to the callback stream's
    /// tail; the ms until the next one is due, if any.
    async fn promote_callbacks(&self, limit: usize) -> Result<Option<u64>, StoreError> {
        let mut inv = scripts::CB_PROMOTE.prepare_invoke();
        inv.key(callback_retry_key())
            .key(callback_retry_items_key())
            .key(callback_key())
            .arg(limit);
        let next: i64 = self.script(inv).await?;
        Ok(u64::try_from(next).ok())
    }

    /// The take every queue shares: at the first take by `consumer` in
    /// this store, what it had taken and not settled before (handed out
    /// alone: nothing after its read can fail and lose it from this
    /// answer); then entries idle longer than `reclaim_after_ms` (a dead
    /// consumer's), claimed for `consumer`; then, after moving due
    /// retries to the stream (queues with a retry set), new entries,
    /// waiting up to `block` (on a dedicated connection) when there are
    /// none, and not past the next retry's due time. After a take that
    /// failed, the next starts with the consumer's own pending entries
    /// after the last one handed out ([`Self::answer_may_be_lost`]).
    async fn take_from<Q: Queue>(
        &self,
        q: &Q,
        consumer: &str,
        max: usize,
        block: Duration,
        reclaim_after_ms: u64,
    ) -> Result<Vec<Q::Item>, StoreError> {
        if max == 0 {
            return Ok(Vec::new());
        }
        let key = q.key();
        let taken = self
            .take_entries(q, &key, consumer, max, block, reclaim_after_ms)
            .await;
        if taken.is_err() {
            self.answer_may_be_lost(&key, consumer);
        }
        taken
    }

    /// [`Self::take_from`] but for what a failure leaves to do.
    async fn take_entries<Q: Queue>(
        &self,
        q: &Q,
        key: &str,
        consumer: &str,
        max: usize,
        block: Duration,
        reclaim_after_ms: u64,
    ) -> Result<Vec<Q::Item>, StoreError> {
        self.ensure_group(key).await?;
        let start = tokio::time::Instant::now();
        let recovered = self.recover(key, consumer, max).await?;
        self.note_handed(key, consumer, &recovered);
        let recovered = q.decode(self, recovered).await;
        if !recovered.is_empty() {
            return Ok(recovered);
        }
        let claimed = self
            .reclaim_some(key, consumer, reclaim_after_ms, max)
            .await?;
        self.note_handed(key, consumer, &claimed);
        let mut out = q.decode(self, claimed).await;
        loop {
            let next_due = q.promote(self, max).await?;
            if out.len() >= max {
                return Ok(out);
            }
            // Block only with nothing in hand, and not past the next
            // retry's due time (0 = more are due now: no block).
            let mut block_ms = if out.is_empty() {
                ceil_ms(block.saturating_sub(start.elapsed())).min(MAX_BLOCK_MS)
            } else {
                0
            };
            if let Some(due) = next_due {
                block_ms = block_ms.min(due);
            }
            let got = self
                .read_entries(key, consumer, max - out.len(), block_ms, ">")
                .await?;
            self.note_handed(key, consumer, &got);
            out.extend(q.decode(self, got).await);
            if !out.is_empty() || start.elapsed() >= block {
                return Ok(out);
            }
        }
    }

    /// Restart recovery: at the first takes by `consumer` from the stream
    /// `key` in this store, up to `max` of the entries that `consumer`
    /// was handed before and has not acknowledged (XREADGROUP from `0`:
    /// its own pending list, which a previous run of this process left
    /// behind when it was killed). Over once a read finds fewer than
    /// `max`; then nothing, until a take fails
    /// ([`Self::answer_may_be_lost`]).
    pub(super) async fn recover(
        &self,
        key: &str,
        consumer: &str,
        max: usize,
    ) -> Result<Vec<Entry>, StoreError> {
        let name = (key.to_string(), consumer.to_string());
        let from = match self.recovery().get(&name) {
            Some(None) => return Ok(Vec::new()),
            Some(Some(after)) => after.clone(),
            None => "0".to_string(),
        };
        let entries = self.read_entries(key, consumer, max, 0, &from).await?;
        let next = if entries.len() < max {
            None
        } else {
            entries.last().map(|e| e.id.clone())
        };
        if !entries.is_empty() {
            tracing::info!(
                stream = key,
                consumer,
                count = entries.len(),
                "handing out again what this consumer was handed and did not get \
                 (before a restart, or in an answer that was lost)"
            );
        }
        self.recovery().insert(name, next);
        Ok(entries)
    }

    /// A take by `consumer` from `key` failed: a read in it may have been
    /// run by Redis with its answer lost (Redis killed, or the
    /// connection cut, after the read and before its answer came), which
    /// leaves entries in the consumer's pending list that nobody holds,
    /// and that another consumer would take only after the reclaim time.
    /// So the next take reads the consumer's own pending entries after
    /// the last one handed out (those before it are held, in flight:
    /// handing them out again would send them twice) — recovery as at a
    /// restart, from there. Entries a read hands out always come after
    /// every entry handed out before (`>` reads the stream past the
    /// group's last delivered id).
    fn answer_may_be_lost(&self, key: &str, consumer: &str) {
        let name = (key.to_string(), consumer.to_string());
        let after = self
            .handed()
            .get(&name)
            .map(|(ms, seq)| format!("{ms}-{seq}"))
            .unwrap_or_else(|| "0".to_string());
        if let Some(state) = self.recovery().get_mut(&name) {
            // Not started: it reads from 0 anyway; under way: it goes on.
            if state.is_none() {
                *state = Some(after);
            }
        }
    }

    /// Remember the greatest id of `entries`, handed out to `consumer`.
    fn note_handed(&self, key: &str, consumer: &str, entries: &[Entry]) {
        let Some(max) = entries.iter().filter_map(|e| stream_id(&e.id)).max() else {
            return;
        };
        let mut handed = self.handed();
        let last = handed
            .entry((key.to_string(), consumer.to_string()))
            .or_insert(max);
        *last = (*last).max(max);
    }

    fn handed(&self) -> MutexGuard<'_, HashMap<(String, String), (u64, u64)>> {
        self.inner
            .handed
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Move up to `limit` due retries to the stream's tail; the ms until
    /// the next one is due, if any.
    pub(super) async fn promote(
        &self,
        connector: &str,
        limit: usize,
    ) -> Result<Option<u64>, StoreError> {
        let mut inv = scripts::PROMOTE.prepare_invoke();
        inv.key(retry_key(connector))
            .key(retry_messages_key(connector))
            .key(queue_key(connector))
            .key(requeued_key(connector))
            .arg(limit);
        let next: i64 = self.script(inv).await?;
        Ok(u64::try_from(next).ok())
    }

    /// XREADGROUP on the stream `key` for `consumer`, up to `max` entries
    /// after `from` (`>`: new entries, waiting up to `block_ms` when there
    /// are none; a stream id: the consumer's own pending entries after
    /// it).
    pub(super) async fn read_entries(
        &self,
        key: &str,
        consumer: &str,
        max: usize,
        block_ms: u64,
        from: &str,
    ) -> Result<Vec<Entry>, StoreError> {
        let mut cmd = ::redis::cmd("XREADGROUP");
        cmd.arg("GROUP")
            .arg(GROUP)
            .arg(consumer)
            .arg("COUNT")
            .arg(max);
        if block_ms > 0 {
            cmd.arg("BLOCK").arg(block_ms);
        }
        cmd.arg("STREAMS").arg(key).arg(from);
        let reply = self
            .with_group(key, || self.read_group(&cmd, block_ms))
            .await?;
        let mut entries = Vec::new();
        for (_, list) in pairs(reply) {
            for e in array(list).unwrap_or_default() {
                entries.extend(entry(e));
            }
        }
        Ok(entries)
    }

    /// Acknowledge taken entries and delete them from the queue, with no
    /// other effect (connectors settle with [`Store::sent`],
    /// [`Store::retry`] or [`Store::fail`]; this drops corrupt entries).
    /// Returns how many were pending.
    pub async fn ack(&self, connector: &str, stream_ids: &[String]) -> Result<u64, StoreError> {
        self.ack_entries(&queue_key(connector), stream_ids).await
    }

    /// XACK + XDEL on the stream `key`; how many were pending.
    pub(super) async fn ack_entries(
        &self,
        key: &str,
        stream_ids: &[String],
    ) -> Result<u64, StoreError> {
        if stream_ids.is_empty() {
            return Ok(0);
        }
        let mut p = ::redis::pipe();
        p.atomic()
            .cmd("XACK")
            .arg(key)
            .arg(GROUP)
            .arg(stream_ids)
            .cmd("XDEL")
            .arg(key)
            .arg(stream_ids)
            .ignore();
        let (acked,): (u64,) = self.run(Req::Pipe(&p)).await?;
        Ok(acked)
    }

    /// Claim for `consumer` up to `max` messages that another consumer
    /// took at least `min_idle_ms` ago and never acknowledged (it
    /// crashed), oldest first, scanning the whole pending list.
    pub async fn reclaim(
        &self,
        connector: &str,
        consumer: &str,
        min_idle_ms: u64,
        max: usize,
    ) -> Result<Vec<Taken>, StoreError> {
        if max == 0 {
            return Ok(Vec::new());
        }
        let key = queue_key(connector);
        self.ensure_group(&key).await?;
        let mut cursor = "0-0".to_string();
        let mut entries = Vec::new();
        // Each call scans a bounded part of the pending list; a few
        // calls cover a large one without holding Redis for long.
        for _ in 0..16 {
            let next = self
                .autoclaim(
                    &key,
                    consumer,
                    min_idle_ms,
                    max - entries.len(),
                    &cursor,
                    &mut entries,
                )
                .await?;
            cursor = next;
            if entries.len() >= max || cursor == "0-0" {
                break;
            }
        }
        Ok(self.decode_entries(connector, entries).await)
    }

    /// One XAUTOCLAIM on the stream `key` per take, from where the
    /// previous one of this process stopped, so a large pending list
    /// costs each take one bounded call and is covered over several; a
    /// scan from the start waits a quarter of the idle time (1 s at most)
    /// after the previous one began.
    pub(super) async fn reclaim_some(
        &self,
        key: &str,
        consumer: &str,
        min_idle_ms: u64,
        max: usize,
    ) -> Result<Vec<Entry>, StoreError> {
        let cursor = self
            .reclaim_cursor()
            .get(key)
            .cloned()
            .unwrap_or_else(|| "0-0".to_string());
        if cursor == "0-0" {
            // A new scan of the pending list at most every quarter of the
            // idle time (1 s at most): what it finds has been idle that
            // long already, and a scan per take costs Redis more than the
            // take itself.
            let every = Duration::from_millis(min_idle_ms / 4).min(Duration::from_secs(1));
            let now = std::time::Instant::now();
            let mut started = self
                .inner
                .reclaim_started
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            if started
                .get(key)
                .is_some_and(|t| now.duration_since(*t) < every)
            {
                return Ok(Vec::new());
            }
            started.insert(key.to_string(), now);
        }
        let mut entries = Vec::new();
        let next = self
            .autoclaim(key, consumer, min_idle_ms, max, &cursor, &mut entries)
            .await?;
        self.reclaim_cursor().insert(key.to_string(), next);
        Ok(entries)
    }

    /// XAUTOCLAIM on the stream `key` from `cursor`: the claimed entries
    /// appended to `entries`; the next cursor ("0-0" once the scan is
    /// complete).
    pub(super) async fn autoclaim(
        &self,
        key: &str,
        consumer: &str,
        min_idle_ms: u64,
        count: usize,
        cursor: &str,
        entries: &mut Vec<Entry>,
    ) -> Result<String, StoreError> {
        let mut cmd = ::redis::cmd("XAUTOCLAIM");
        cmd.arg(key)
            .arg(GROUP)
            .arg(consumer)
            .arg(min_idle_ms)
            .arg(cursor)
            .arg("COUNT")
            .arg(count);
        let reply = self.with_group(key, || self.run(Req::Cmd(&cmd))).await?;
        let mut parts = array(reply).unwrap_or_default().into_iter();
        let next = parts.next().and_then(bulk).unwrap_or_default();
        for e in parts.next().and_then(array).unwrap_or_default() {
            entries.extend(entry(e));
        }
        Ok(String::from_utf8(next)
            .ok()
            .filter(|c| !c.is_empty())
            .unwrap_or_else(|| "0-0".to_string()))
    }

    fn reclaim_cursor(&self) -> MutexGuard<'_, HashMap<String, String>> {
        self.inner
            .reclaim_cursor
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn recovery(&self) -> MutexGuard<'_, HashMap<(String, String), Option<String>>> {
        self.inner
            .recovery
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

/// A stream entry id `ms-seq` as numbers, to compare (None: not one).
fn stream_id(id: &str) -> Option<(u64, u64)> {
    let (ms, seq) = id.split_once('-')?;
    Some((ms.parse().ok()?, seq.parse().ok()?))
}

/// A stream queue as [`RedisStore::take_from`] reads it: its key, how its
/// entries decode (dropping those that do not), and its retries.
trait Queue {
    type Item;

    fn key(&self) -> String;

    fn decode(
        &self,
        s: &RedisStore,
        entries: Vec<Entry>,
    ) -> impl Future<Output = Vec<Self::Item>> + Send;

    /// Move up to `max` due retries to the stream; the ms until the next
    /// is due (None: none waits, or the queue has no retries).
    fn promote(
        &self,
        _s: &RedisStore,
        _max: usize,
    ) -> impl Future<Output = Result<Option<u64>, StoreError>> + Send {
        async { Ok(None) }
    }
}

/// A connector's queue (with its retry set).
struct Connector<'a>(&'a str);

impl Queue for Connector<'_> {
    type Item = Taken;

    fn key(&self) -> String {
        queue_key(self.0)
    }

    async fn decode(&self, s: &RedisStore, entries: Vec<Entry>) -> Vec<Taken> {
        s.decode_entries(self.0, entries).await
    }

    async fn promote(&self, s: &RedisStore, max: usize) -> Result<Option<u64>, StoreError> {
        s.promote(self.0, max).await
    }
}

/// A user's delivery queue (no retry set: redeliver goes to its tail).
struct Deliveries<'a>(&'a str);

impl Queue for Deliveries<'_> {
    type Item = Delivery;

    fn key(&self) -> String {
        delivery_key(self.0)
    }

    async fn decode(&self, s: &RedisStore, entries: Vec<Entry>) -> Vec<Delivery> {
        s.decode_deliveries(self.0, entries).await
    }
}

/// The callback queue (with its retry set).
struct Callbacks;

impl Queue for Callbacks {
    type Item = CallbackTaken;

    fn key(&self) -> String {
        callback_key().to_string()
    }

    async fn decode(&self, s: &RedisStore, entries: Vec<Entry>) -> Vec<CallbackTaken> {
        s.decode_callbacks(entries).await
    }

    async fn promote(&self, s: &RedisStore, max: usize) -> Result<Option<u64>, StoreError> {
        s.promote_callbacks(max).await
    }
}
