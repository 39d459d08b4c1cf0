//! The embedded store: everything in this process's memory, behind one
//! mutex held only for map updates (never across an await).
//!
//! For a single node and tests. It is as atomic as the redis backend but
//! not durable across a process restart.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};

use smpp::MessageState;

use super::*;

type Clock = Arc<dyn Fn() -> i64 + Send + Sync>;

struct Entry {
    message: Arc<StoredMessage>,
    state: MessageState,
    final_ms: Option<i64>,
    error_code: u8,
    /// Still in its connector's queue (not yet taken by a connector).
    queued: bool,
}

#[derive(Default)]
struct Inner {
    messages: HashMap<String, Entry>,
    /// Per connector: message ids in arrival order. Cancelled ids stay
    /// until taken and are skipped then.
    queues: HashMap<String, VecDeque<String>>,
    /// Per connector: how many queued messages are not cancelled.
    depth: HashMap<String, u64>,
    credit: HashMap<String, i64>,
    tat: HashMap<String, i64>,
    /// (forget at, id), in acceptance order.
    retention: VecDeque<(i64, String)>,
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

    /// Take up to `max` messages from a connector's queue, oldest first
    /// (the connector's side; issue 6 builds on it).
    pub fn take(&self, connector: &str, max: usize) -> Result<Vec<Arc<StoredMessage>>, StoreError> {
        let mut g = self.lock()?;
        let inner = &mut *g;
        let mut out = Vec::new();
        let Some(q) = inner.queues.get_mut(connector) else {
            return Ok(out);
        };
        while out.len() < max {
            let Some(id) = q.pop_front() else { break };
            if let Some(e) = inner.messages.get_mut(&id) {
                if e.queued {
                    e.queued = false;
                    if let Some(d) = inner.depth.get_mut(connector) {
                        *d = d.saturating_sub(1);
                    }
                    out.push(e.message.clone());
                }
            }
        }
        Ok(out)
    }

    fn forget_old(inner: &mut Inner, now_ms: i64) {
        while let Some((at, _)) = inner.retention.front() {
            if *at > now_ms {
                break;
            }
            if let Some((_, id)) = inner.retention.pop_front() {
                if inner.messages.get(&id).is_some_and(|e| !e.queued) {
                    inner.messages.remove(&id);
                }
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
        *inner.depth.entry(connector).or_default() += 1;
        inner
            .retention
            .push_back((now_ms + STATUS_RETENTION_MS, m.id.clone()));
        inner.messages.insert(
            m.id.clone(),
            Entry {
                message: Arc::new(m.clone()),
                state: MessageState::Enroute,
                final_ms: None,
                error_code: 0,
                queued: true,
            },
        );
        Ok(())
    }

    async fn status(&self, id: &str) -> Result<Option<MessageStatus>, StoreError> {
        let g = self.lock()?;
        Ok(g.messages.get(id).map(|e| MessageStatus {
            id: id.to_string(),
            user: e.message.user.clone(),
            state: e.state,
            accepted_ms: e.message.accepted_ms,
            final_ms: e.final_ms,
            error_code: e.error_code,
        }))
    }

    async fn cancel(&self, id: &str, user: &str) -> Result<CancelOutcome, StoreError> {
        let now_ms = (self.clock)() / 1000;
        let mut g = self.lock()?;
        let inner = &mut *g;
        let Some(e) = inner
            .messages
            .get_mut(id)
            .filter(|e| e.message.user == user)
        else {
            return Ok(CancelOutcome::NotFound);
        };
        if !e.queued {
            return Ok(CancelOutcome::TooLate);
        }
        e.queued = false;
        e.state = MessageState::Deleted;
        e.final_ms = Some(now_ms);
        let charge = e.message.charge_micro();
        let connector = e.message.connectors.first().cloned().unwrap_or_default();
        if let Some(d) = inner.depth.get_mut(&connector) {
            *d = d.saturating_sub(1);
        }
        if let Some(b) = inner.credit.get_mut(user) {
            *b += charge;
        }
        Ok(CancelOutcome::Cancelled)
    }

    async fn balance(&self, user: &str) -> Result<Option<i64>, StoreError> {
        Ok(self.lock()?.credit.get(user).copied())
    }

    async fn init_credit(&self, user: &str, micro: i64) -> Result<(), StoreError> {
        self.lock()?.credit.entry(user.to_string()).or_insert(micro);
        Ok(())
    }

    async fn queue_depth(&self, connector: &str) -> Result<u64, StoreError> {
        Ok(self.lock()?.depth.get(connector).copied().unwrap_or(0))
    }

    async fn ping(&self) -> Result<(), StoreError> {
        self.lock().map(|_| ())
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
        assert_eq!(
            s.status("a").await.unwrap().unwrap().state,
            MessageState::Deleted
        );
        assert_eq!(s.cancel("a", "u").await.unwrap(), CancelOutcome::TooLate);
        assert!(s.take("up", 10).unwrap().is_empty());
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
        let taken: Vec<String> = s
            .take("up", 2)
            .unwrap()
            .iter()
            .map(|m| m.id.clone())
            .collect();
        assert_eq!(taken, vec!["m0", "m1"]);
        assert_eq!(s.queue_depth("up").await.unwrap(), 1);
        // Taken (sent upstream): too late to cancel.
        assert_eq!(s.cancel("m0", "u").await.unwrap(), CancelOutcome::TooLate);
        assert_eq!(
            s.status("m2").await.unwrap().unwrap().state,
            MessageState::Enroute
        );
    }
}
