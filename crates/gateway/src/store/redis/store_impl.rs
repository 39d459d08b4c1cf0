//! The [`Store`] operations on Redis: each one command or one script
//! (see `lua/`), with what it is safe to repeat said beside it.

use std::time::Duration;

use smpp::MessageState;

use super::batching::Part;
use super::codes::*;
use super::decode::{delivery_fields, is_stream_id};
use super::keys::*;
use super::pool::Req;
use super::{RedisStore, scripts};
use crate::store::message::UnstorableMessage;
use crate::store::{
    CallbackTaken, CancelOutcome, Delivery, DeliveryItem, EXPIRY_GRACE_MS, EXPIRY_RECHECK_MS,
    HttpCall, MessageStatus, PartReceipt, RECLAIM_AFTER_MS, ReceiptCallback, ReceiptOutcome,
    Refusal, ReplaceOutcome, Replacement, Store, StoreError, StoredMessage, Submission, Taken,
};

/// The parts of `key` around a `\0` placeholder, for a script that
/// names a key from what it reads.
fn split_key(key: &str) -> (&str, &str) {
    key.split_once('\0').unwrap_or((key, ""))
}

/// The longest ttl or retry delay the scripts are given: ten years.
const MAX_MS: u64 = 10 * 366 * 24 * 3600 * 1000;

/// A ttl in whole milliseconds for PX and expiry stamps: at least 1 (PX
/// refuses 0), at most ten years (an absurd ttl is not an error).
fn ttl_ms(ttl: Duration) -> u64 {
    u64::try_from(ttl.as_millis())
        .unwrap_or(MAX_MS)
        .clamp(1, MAX_MS)
}

/// A retry delay in whole milliseconds, at most ten years: a longer one
/// would overflow the due time the script formats (`now + delay` past
/// 2^63 formats as a negative score) and be due at once instead of never.
fn delay_ms(delay: Duration) -> u64 {
    u64::try_from(delay.as_millis())
        .unwrap_or(MAX_MS)
        .min(MAX_MS)
}

/// A message (or MO) that does not encode: an error of the operation,
/// never bytes that decode as nothing.
fn unstorable(e: UnstorableMessage) -> StoreError {
    StoreError(format!("redis: cannot store: {e}"))
}

/// A message's callback level for the scripts ('' for none).
fn callback_level(c: &Option<ReceiptCallback>) -> String {
    c.as_ref()
        .map(|c| c.level.as_u8().to_string())
        .unwrap_or_default()
}

/// A message an expiry index (or the head of a stream) names as due:
/// its id, its owner and its parts (1 when its stored form does not
/// read), and when it is due for a message the index does not hold ('':
/// the index says).
struct Due {
    id: String,
    user: String,
    parts: u32,
    until: String,
}

/// Entries of a connector's stream a sweep reads at a time, and pages at
/// most (messages with a validity_period of their own, in the index, are
/// passed over).
const HEAD_PAGE: usize = 256;
const HEAD_PAGES: usize = 16;

/// How many of the expiry scripts' runs made a message final; the first
/// error when one failed (the sweep runs again).
fn count(runs: Vec<Result<i64, StoreError>>) -> Result<u64, StoreError> {
    let mut n = 0;
    for r in runs {
        n += u64::from(r? == 1);
    }
    Ok(n)
}

impl RedisStore {
    /// [`Store::expire_waiting`], an entry held by a consumer for
    /// `reclaim_after_ms` counting as its dead taker's (let go and
    /// expired): [`RECLAIM_AFTER_MS`] but in tests.
    #[doc(hidden)]
    pub async fn expire_waiting_with_reclaim(
        &self,
        connector: &str,
        max: usize,
        ttl: Duration,
        reclaim_after_ms: u64,
    ) -> Result<u64, StoreError> {
        let index = waiting_key(connector);
        let mut due = self.due(&index, max).await?;
        if due.len() < max {
            for d in self.due_at_the_head(connector, max - due.len()).await? {
                if !due.iter().any(|x| x.id == d.id) {
                    due.push(d);
                }
            }
        }
        let runs = due.into_iter().map(|d| {
            let mut inv = scripts::EXPIRE.prepare_invoke();
            inv.key(message_key(&d.id))
                .key(queue_key(connector))
                .key(credit_key(&d.user))
                .key(retry_key(connector))
                .key(retry_messages_key(connector))
                .key(requeued_key(connector))
                .key(delivery_key(&d.user))
                .key(callback_key())
                .key(&index)
                .arg(&d.id)
                .arg(GROUP)
                .arg(MessageState::Enroute.as_u8())
                .arg(MessageState::Expired.as_u8())
                .arg(d.parts)
                .arg(ttl_ms(ttl))
                .arg(connector)
                // Looked at again sooner when a taker counts as dead sooner
                // (tests).
                .arg(EXPIRY_RECHECK_MS.min(i64::try_from(reclaim_after_ms).unwrap_or(i64::MAX)))
                .arg(d.until)
                .arg(reclaim_after_ms)
                .arg(self.retention_ms());
            self.script::<i64>(inv)
        });
        // Safe to repeat: a second run finds it final, or not due.
        count(futures_util::future::join_all(runs).await)
    }

    /// How long a message's state is kept from acceptance.
    fn retention_ms(&self) -> i64 {
        i64::try_from(self.inner.options.status_retention.as_millis())
            .unwrap_or(i64::MAX)
            .max(1)
    }

    /// Up to `max` messages without a validity_period of their own, in
    /// their first entry of `connector`'s stream, whose default validity
    /// ended by now (tern's clock; the script checks again). Such
    /// entries are in the order of acceptance, the oldest at the head,
    /// so the scan stops at the first that is not due.
    async fn due_at_the_head(&self, connector: &str, max: usize) -> Result<Vec<Due>, StoreError> {
        let now = crate::store::now_us() / 1000;
        let key = queue_key(connector);
        let mut out = Vec::new();
        let mut from = "-".to_string();
        for _ in 0..HEAD_PAGES {
            let mut cmd = ::redis::cmd("XRANGE");
            cmd.arg(&key)
                .arg(&from)
                .arg("+")
                .arg("COUNT")
                .arg(HEAD_PAGE);
            let page: Vec<(String, Vec<Vec<u8>>)> = self.run(Req::Cmd(&cmd)).await?;
            let last = page.len() < HEAD_PAGE;
            for (entry, fields) in page {
                from = format!("({entry}");
                let m = fields
                    .chunks(2)
                    .find(|f| f.first().is_some_and(|k| k == b"m"))
                    .and_then(|f| f.get(1))
                    .and_then(|m| StoredMessage::decode(m.clone().into()).ok());
                let Some(m) = m else { continue };
                if m.expires_ms.is_some() {
                    continue;
                }
                let until = m.valid_until();
                if until > now {
                    return Ok(out);
                }
                out.push(Due {
                    id: m.id,
                    user: m.user,
                    parts: m.parts,
                    until: until.to_string(),
                });
                if out.len() >= max {
                    return Ok(out);
                }
            }
            if last {
                break;
            }
        }
        Ok(out)
    }

    /// Up to `max` messages of the expiry index `index` due by now
    /// (tern's clock: the scripts check again by Redis'). An id whose
    /// message is gone (past its retention) leaves the index here.
    async fn due(&self, index: &str, max: usize) -> Result<Vec<Due>, StoreError> {
        let mut cmd = ::redis::cmd("ZRANGEBYSCORE");
        cmd.arg(index)
            .arg("-inf")
            .arg(crate::store::now_us() / 1000)
            .arg("LIMIT")
            .arg(0)
            .arg(max);
        let ids: Vec<String> = self.run(Req::Cmd(&cmd)).await?;
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut p = ::redis::pipe();
        for id in &ids {
            p.cmd("HMGET").arg(message_key(id)).arg("user").arg("m");
        }
        let rows: Vec<(Option<String>, Option<Vec<u8>>)> = self.run(Req::Pipe(&p)).await?;
        let mut gone = ::redis::pipe();
        let mut out = Vec::with_capacity(ids.len());
        for (id, row) in ids.into_iter().zip(rows) {
            match row {
                (Some(user), Some(m)) => {
                    let parts = StoredMessage::decode(m.into()).map_or(1, |m| m.parts);
                    out.push(Due {
                        id,
                        user,
                        parts,
                        until: String::new(),
                    });
                }
                _ => {
                    gone.cmd("ZREM").arg(index).arg(id).ignore();
                }
            }
        }
        if !gone.is_empty() {
            self.run::<()>(Req::Pipe(&gone)).await?;
        }
        Ok(out)
    }
}

/// Reads and compare-and-swaps a replace tries before giving up.
const REPLACE_ROUNDS: usize = 8;

/// `HMGET user state accepted_ms final_ms error_code`.
type StatusFields = (
    Option<String>,
    Option<u8>,
    Option<i64>,
    Option<i64>,
    Option<u8>,
);

impl Store for RedisStore {
    async fn submit(&self, s: Submission<'_>) -> Result<(), Refusal> {
        let m = s.message;
        let connector = m.connectors.first().map(String::as_str).unwrap_or_default();
        let (rate, burst) = match s.throttle {
            Some(l) => (l.rate.to_string(), l.burst.to_string()),
            None => (String::new(), String::new()),
        };
        let charge = s.charge_micro.map(|c| c.to_string()).unwrap_or_default();
        // A message that cannot be stored is refused before it is accepted
        // (it would be queued as bytes that decode as nothing).
        let encoded = m
            .encode()
            .map_err(|e| Refusal::Unstorable(format!("message {}: {e}", m.id)))?;
        let mut inv = Part::default();
        inv.key(queue_key(connector))
            .key(credit_key(&m.user))
            .key(tat_key(&m.user))
            .key(message_key(&m.id))
            .key(retry_key(connector))
            .key(waiting_key(connector))
            .arg(s.queue_limit)
            .arg(rate)
            .arg(burst)
            .arg(m.parts)
            .arg(charge)
            .arg(&encoded[..])
            .arg(&m.id)
            .arg(&m.user)
            .arg(connector)
            .arg(m.accepted_ms)
            .arg(m.retention_ms(self.retention_ms()))
            .arg(GROUP)
            .arg(MessageState::Enroute.as_u8())
            .arg(m.submit.registered_delivery.0)
            .arg(callback_level(&m.callback));
        // Without a validity_period its first stream entry is its place
        // in the expiry order (docs/store.md, *Expiry*): no index entry.
        match m.expires_ms {
            Some(_) => inv.arg(m.valid_until()),
            None => inv.arg(""),
        };
        // Safe to repeat: the script is idempotent on the message id. With
        // the others waiting (batching).
        let code: i64 = self
            .merged(&scripts::SUBMIT, inv)
            .await
            .map_err(|e| Refusal::Unavailable(e.0))?;
        match code {
            SUBMIT_OK | ALREADY_ACCEPTED => Ok(()),
            QUEUE_FULL => Err(Refusal::QueueFull),
            THROTTLED => Err(Refusal::Throttled),
            NO_CREDIT => Err(Refusal::NoCredit),
            other => Err(Refusal::Unavailable(format!(
                "redis: unexpected submit answer {other}"
            ))),
        }
    }

    async fn status(&self, id: &str) -> Result<Option<MessageStatus>, StoreError> {
        let mut cmd = ::redis::cmd("HMGET");
        cmd.arg(message_key(id))
            .arg("user")
            .arg("state")
            .arg("accepted_ms")
            .arg("final_ms")
            .arg("error_code");
        let (user, state, accepted_ms, final_ms, error_code): StatusFields =
            self.run(Req::Cmd(&cmd)).await?;
        Ok(user.map(|user| MessageStatus {
            id: id.to_string(),
            user,
            state: state.map_or(MessageState::Unknown, MessageState::from_u8),
            accepted_ms: accepted_ms.unwrap_or(0),
            final_ms,
            error_code: error_code.unwrap_or(0),
        }))
    }

    async fn cancel(&self, id: &str, user: &str) -> Result<CancelOutcome, StoreError> {
        let key = message_key(id);
        let mut cmd = ::redis::cmd("HMGET");
        cmd.arg(&key).arg("user").arg("conn");
        let (owner, connector): (Option<String>, Option<String>) = self.run(Req::Cmd(&cmd)).await?;
        let (Some(owner), Some(connector)) = (owner, connector) else {
            return Ok(CancelOutcome::NotFound);
        };
        if owner != user {
            return Ok(CancelOutcome::NotFound);
        }
        let mut inv = scripts::CANCEL.prepare_invoke();
        inv.key(&key)
            .key(queue_key(&connector))
            .key(credit_key(user))
            .key(retry_key(&connector))
            .key(retry_messages_key(&connector))
            .key(requeued_key(&connector))
            .key(waiting_key(&connector))
            .arg(user)
            .arg(GROUP)
            .arg(MessageState::Enroute.as_u8())
            .arg(MessageState::Deleted.as_u8())
            .arg(id)
            .arg(self.retention_ms());
        // Harmless to repeat (a second run finds it DELETED: no second
        // refund), though a retry after a lost reply answers TooLate.
        match self.script::<i64>(inv).await? {
            NOT_FOUND => Ok(CancelOutcome::NotFound),
            CANCELLED => Ok(CancelOutcome::Cancelled),
            TOO_LATE => Ok(CancelOutcome::TooLate),
            other => Err(StoreError(format!(
                "redis: unexpected cancel answer {other}"
            ))),
        }
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
        let key = message_key(id);
        // Another replace between the read and the script makes it read
        // again; a few rounds, then the store is too busy to say.
        for _ in 0..REPLACE_ROUNDS {
            let mut cmd = ::redis::cmd("HMGET");
            cmd.arg(&key).arg("user").arg("conn").arg("m");
            let (owner, connector, read): (Option<String>, Option<String>, Option<Vec<u8>>) =
                self.run(Req::Cmd(&cmd)).await?;
            let (Some(owner), Some(connector), Some(read)) = (owner, connector, read) else {
                return Ok(ReplaceOutcome::NotFound);
            };
            if owner != user {
                return Ok(ReplaceOutcome::NotFound);
            }
            let old = StoredMessage::decode(read.clone().into())
                .map_err(|e| StoreError(format!("redis: message {id}: {e}")))?;
            // What `edit` or the parts rule refuses is said only of a
            // message that still waits (as memory, which looks first):
            // the script then checks without writing.
            let now_ms = crate::store::now_us() / 1000;
            let (encoded, refusal) = match edit(&old).map(|r| old.replaced(r)) {
                Ok(Ok(new)) => (
                    Some((
                        new.encode().map_err(unstorable)?,
                        new.submit.registered_delivery.0,
                        new.valid_until(),
                        // Kept as a submit of the replacement would keep it.
                        (new.accepted_ms)
                            .saturating_add(new.retention_ms(self.retention_ms()))
                            .saturating_sub(now_ms)
                            .max(1),
                    )),
                    None,
                ),
                Ok(Err((was, now))) => (None, Some(ReplaceOutcome::PartsDiffer { was, now })),
                Err(refused) => (None, Some(ReplaceOutcome::Refused(refused))),
            };
            let mut inv = scripts::REPLACE.prepare_invoke();
            inv.key(&key)
                .key(queue_key(&connector))
                .key(retry_key(&connector))
                .key(retry_messages_key(&connector))
                .key(requeued_key(&connector))
                .key(waiting_key(&connector))
                .arg(user)
                .arg(GROUP)
                .arg(MessageState::Enroute.as_u8())
                .arg(&read[..]);
            match &encoded {
                Some((bytes, rd, until, keep)) => {
                    inv.arg(&bytes[..]).arg(id).arg(*rd).arg(*until).arg(*keep)
                }
                None => inv.arg("").arg(id).arg(0).arg(0).arg(0),
            };
            // Safe to repeat: a second run finds the replacement in place
            // of what was read (raced), reads it and stores it again.
            match self.script::<i64>(inv).await? {
                NOT_FOUND => return Ok(ReplaceOutcome::NotFound),
                TOO_LATE => return Ok(ReplaceOutcome::TooLate),
                REPLACED => return Ok(refusal.unwrap_or(ReplaceOutcome::Replaced)),
                REPLACE_RACED => continue,
                other => {
                    return Err(StoreError(format!(
                        "redis: unexpected replace answer {other}"
                    )));
                }
            }
        }
        Err(StoreError(format!(
            "redis: message {id} changed {REPLACE_ROUNDS} times while being replaced"
        )))
    }

    async fn balance(&self, user: &str) -> Result<Option<i64>, StoreError> {
        let mut cmd = ::redis::cmd("GET");
        cmd.arg(credit_key(user));
        self.run(Req::Cmd(&cmd)).await
    }

    async fn init_credit(&self, user: &str, micro: i64) -> Result<(), StoreError> {
        let mut cmd = ::redis::cmd("SET");
        cmd.arg(credit_key(user)).arg(micro).arg("NX");
        self.run::<Option<String>>(Req::Cmd(&cmd)).await.map(|_| ())
    }

    async fn queue_depth(&self, connector: &str) -> Result<u64, StoreError> {
        let mut inv = scripts::DEPTH.prepare_invoke();
        inv.key(queue_key(connector))
            .key(retry_key(connector))
            .arg(GROUP);
        self.script(inv).await
    }

    async fn ping(&self) -> Result<(), StoreError> {
        let cmd = ::redis::cmd("PING");
        self.run::<String>(Req::Cmd(&cmd)).await.map(|_| ())
    }

    async fn take(
        &self,
        connector: &str,
        consumer: &str,
        max: usize,
        block: Duration,
    ) -> Result<Vec<Taken>, StoreError> {
        self.take_with_reclaim(connector, consumer, max, block, RECLAIM_AFTER_MS)
            .await
    }

    async fn sent(
        &self,
        connector: &str,
        taken: &Taken,
        upstream_ids: &[String],
        ttl: Duration,
    ) -> Result<(), StoreError> {
        let mut inv = Part::default();
        inv.key(queue_key(connector))
            .key(message_key(&taken.message.id))
            .key(requeued_key(connector))
            .key(delivery_key(&taken.message.user));
        for u in upstream_ids {
            inv.key(upstream_key(connector, u))
                .key(held_key(connector, u));
        }
        inv.key(callback_key())
            .key(waiting_key(connector))
            .key(unanswered_key(connector))
            .arg(GROUP)
            .arg(&taken.token)
            .arg(&taken.message.id)
            .arg(ttl_ms(ttl))
            .arg(callback_level(&taken.message.callback))
            .arg(connector);
        // Its state is kept to the end of its receipt wait and a grace at
        // least, for the expiry sweep (the script lengthens, never
        // shortens: a PTTL read, nothing written for most messages).
        let wait_ms = i64::try_from(ttl_ms(ttl))
            .unwrap_or(i64::MAX)
            .saturating_add(EXPIRY_GRACE_MS);
        inv.arg(wait_ms).arg(self.retention_ms());
        for u in upstream_ids {
            inv.arg(u);
        }
        // Safe to repeat: the same mappings again; the parts and held
        // receipts only the first time. With the others waiting (batching).
        self.merged::<i64>(&scripts::SENT, inv).await.map(|_| ())
    }

    async fn retry(
        &self,
        connector: &str,
        taken: &Taken,
        delay: Duration,
    ) -> Result<(), StoreError> {
        let encoded = taken.message.encode().map_err(unstorable)?;
        let mut inv = scripts::RETRY.prepare_invoke();
        inv.key(queue_key(connector))
            .key(retry_key(connector))
            .key(retry_messages_key(connector))
            .key(requeued_key(connector))
            .key(waiting_key(connector))
            .arg(GROUP)
            .arg(&taken.token)
            .arg(&taken.message.id)
            .arg(delay_ms(delay))
            .arg(&encoded[..])
            .arg(taken.message.valid_until());
        // Safe to repeat: a second run finds the entry settled.
        self.script::<i64>(inv).await.map(|_| ())
    }

    async fn reroute(
        &self,
        connector: &str,
        taken: &Taken,
        next: &StoredMessage,
    ) -> Result<bool, StoreError> {
        let encoded = next.encode().map_err(unstorable)?;
        let to = next
            .connectors
            .first()
            .map(String::as_str)
            .unwrap_or_default();
        let mut inv = scripts::REROUTE.prepare_invoke();
        inv.key(queue_key(connector))
            .key(requeued_key(connector))
            .key(message_key(&next.id))
            .key(queue_key(to))
            .key(waiting_key(connector))
            .key(waiting_key(to))
            .arg(GROUP)
            .arg(&taken.token)
            .arg(&next.id)
            .arg(&encoded[..])
            .arg(to)
            .arg(next.valid_until());
        // Safe to repeat: a second run finds the entry settled (0).
        self.script::<i64>(inv).await.map(|moved| moved == 1)
    }

    async fn fail(
        &self,
        connector: &str,
        taken: &Taken,
        state: MessageState,
        error_code: u8,
        ttl: Duration,
    ) -> Result<(), StoreError> {
        let m = &taken.message;
        let encoded = m.encode().map_err(unstorable)?;
        let mut inv = scripts::FAIL.prepare_invoke();
        inv.key(queue_key(connector))
            .key(message_key(&m.id))
            .key(credit_key(&m.user))
            .key(requeued_key(connector))
            .key(delivery_key(&m.user))
            .key(callback_key())
            .key(waiting_key(connector))
            .arg(GROUP)
            .arg(&taken.token)
            .arg(&m.id)
            .arg(state.as_u8())
            .arg(error_code)
            .arg(m.submit.registered_delivery.0)
            .arg(m.parts)
            .arg(ttl_ms(ttl))
            .arg(&encoded[..])
            .arg(callback_level(&m.callback))
            .arg(connector)
            .arg(self.retention_ms());
        // Safe to repeat: a second run finds the entry settled.
        self.script::<i64>(inv).await.map(|_| ())
    }

    async fn upstream(
        &self,
        connector: &str,
        upstream_id: &str,
    ) -> Result<Option<String>, StoreError> {
        let mut cmd = ::redis::cmd("GET");
        cmd.arg(upstream_key(connector, upstream_id));
        self.run(Req::Cmd(&cmd)).await
    }

    async fn receipt(
        &self,
        connector: &str,
        upstream_id: &str,
        receipt: PartReceipt,
        ttl: Duration,
    ) -> Result<ReceiptOutcome, StoreError> {
        let mut inv = Part::default();
        let (m_key, d_key) = (message_key("\0"), delivery_key("\0"));
        let (m_prefix, m_suffix) = split_key(&m_key);
        let (d_prefix, d_suffix) = split_key(&d_key);
        inv.key(upstream_key(connector, upstream_id))
            .key(held_key(connector, upstream_id))
            .key(unanswered_key(connector))
            .arg(upstream_id)
            .arg(receipt.state.as_u8())
            .arg(receipt.error_code)
            .arg(receipt.done_ms)
            .arg(ttl_ms(ttl))
            .arg(m_prefix)
            .arg(m_suffix)
            .arg(d_prefix)
            .arg(d_suffix)
            .arg(callback_key())
            .arg(connector)
            .arg(self.retention_ms());
        // Not idempotent (an intermediate receipt is queued again): `run`
        // repeats only a request that failed on a connection found dead,
        // which Redis most likely never ran. With the others waiting
        // (batching).
        let reply: Vec<i64> = self.merged(&scripts::RECEIPT, inv).await?;
        let code = reply.first().copied().unwrap_or(i64::MIN);
        let queued = reply.get(1).is_some_and(|q| *q == 1);
        let state = reply
            .get(2)
            .and_then(|s| u8::try_from(*s).ok())
            .map(MessageState::from_u8);
        match (code, state) {
            (R_HELD, _) => Ok(ReceiptOutcome::Held),
            (R_DUPLICATE, _) => Ok(ReceiptOutcome::Duplicate),
            (R_INTERMEDIATE, _) => Ok(ReceiptOutcome::Intermediate { queued }),
            (R_PARTIAL, _) => Ok(ReceiptOutcome::Partial),
            (R_FINAL, Some(state)) => Ok(ReceiptOutcome::Final { state, queued }),
            _ => Err(StoreError(format!(
                "redis: unexpected receipt answer {reply:?}"
            ))),
        }
    }

    async fn deliver(
        &self,
        user: &str,
        item: &DeliveryItem,
        ttl: Duration,
    ) -> Result<(), StoreError> {
        let mut inv = scripts::DELIVER.prepare_invoke();
        inv.key(delivery_key(user)).arg(ttl_ms(ttl));
        for (field, value) in delivery_fields(item).map_err(unstorable)? {
            inv.arg(field).arg(value);
        }
        // Not idempotent (it would queue twice), like `receipt`; delivery
        // to the user is at least once anyway.
        self.script::<String>(inv).await.map(|_| ())
    }

    async fn take_deliveries(
        &self,
        user: &str,
        consumer: &str,
        max: usize,
        block: Duration,
    ) -> Result<Vec<Delivery>, StoreError> {
        self.take_deliveries_with_reclaim(user, consumer, max, block, RECLAIM_AFTER_MS)
            .await
    }

    async fn delivered(&self, user: &str, tokens: &[String]) -> Result<(), StoreError> {
        let tokens: Vec<&String> = tokens.iter().filter(|t| is_stream_id(t)).collect();
        if tokens.is_empty() {
            return Ok(());
        }
        let mut inv = scripts::DELIVERED.prepare_invoke();
        inv.key(delivery_key(user)).arg(GROUP);
        for t in tokens {
            inv.arg(t.as_str());
        }
        // Safe to repeat: a second run finds it settled.
        self.script::<i64>(inv).await.map(|_| ())
    }

    async fn redeliver(&self, user: &str, token: &str) -> Result<(), StoreError> {
        if !is_stream_id(token) {
            return Ok(());
        }
        let mut inv = scripts::REDELIVER.prepare_invoke();
        inv.key(delivery_key(user)).arg(GROUP).arg(token);
        // Safe to repeat: a second run finds it settled.
        self.script::<i64>(inv).await.map(|_| ())
    }

    async fn delivery_depth(&self, user: &str) -> Result<u64, StoreError> {
        let mut cmd = ::redis::cmd("XLEN");
        cmd.arg(delivery_key(user));
        self.run(Req::Cmd(&cmd)).await
    }

    async fn queue_callback(&self, call: &HttpCall, ttl: Duration) -> Result<(), StoreError> {
        let encoded = call.encode().map_err(unstorable)?;
        let mut inv = scripts::CB_QUEUE.prepare_invoke();
        inv.key(callback_key()).arg(ttl_ms(ttl)).arg(&encoded[..]);
        // Not idempotent (it would queue twice), like `deliver`.
        self.script::<String>(inv).await.map(|_| ())
    }

    async fn take_callbacks(
        &self,
        consumer: &str,
        max: usize,
        block: Duration,
    ) -> Result<Vec<CallbackTaken>, StoreError> {
        self.take_callbacks_with_reclaim(consumer, max, block, RECLAIM_AFTER_MS)
            .await
    }

    async fn callbacks_done(&self, tokens: &[String]) -> Result<(), StoreError> {
        let tokens: Vec<String> = tokens.iter().filter(|t| is_stream_id(t)).cloned().collect();
        // Safe to repeat: a second run finds them gone.
        self.ack_entries(callback_key(), &tokens).await.map(|_| ())
    }

    async fn retry_callback(&self, token: &str, delay: Duration) -> Result<(), StoreError> {
        if !is_stream_id(token) {
            return Ok(());
        }
        let mut inv = scripts::CB_RETRY.prepare_invoke();
        inv.key(callback_key())
            .key(callback_retry_key())
            .key(callback_retry_items_key())
            .key(callback_seq_key())
            .arg(GROUP)
            .arg(token)
            .arg(delay_ms(delay));
        // Safe to repeat: a second run finds the entry settled.
        self.script::<i64>(inv).await.map(|_| ())
    }

    async fn expire_waiting(
        &self,
        connector: &str,
        max: usize,
        ttl: Duration,
    ) -> Result<u64, StoreError> {
        self.expire_waiting_with_reclaim(connector, max, ttl, RECLAIM_AFTER_MS)
            .await
    }

    async fn expire_unanswered(
        &self,
        connector: &str,
        state: MessageState,
        max: usize,
        ttl: Duration,
    ) -> Result<u64, StoreError> {
        let index = unanswered_key(connector);
        let runs = self.due(&index, max).await?.into_iter().map(|d| {
            let mut inv = scripts::UNANSWERED.prepare_invoke();
            inv.key(message_key(&d.id))
                .key(delivery_key(&d.user))
                .key(callback_key())
                .key(&index)
                .arg(&d.id)
                .arg(state.as_u8())
                .arg(d.parts)
                .arg(ttl_ms(ttl))
                .arg(connector)
                .arg(self.retention_ms());
            self.script::<i64>(inv)
        });
        // Safe to repeat: a second run finds it gone from the index.
        count(futures_util::future::join_all(runs).await)
    }

    async fn callback_depth(&self) -> Result<u64, StoreError> {
        let mut p = ::redis::pipe();
        p.cmd("XLEN")
            .arg(callback_key())
            .cmd("ZCARD")
            .arg(callback_retry_key());
        let (stream, retries): (u64, u64) = self.run(Req::Pipe(&p)).await?;
        Ok(stream + retries)
    }
}
