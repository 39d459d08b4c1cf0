//! The two backends as the contract cases see them: a store, plus what a
//! case needs besides the [`Store`] trait to make time pass and to see
//! messages handed out again.
//!
//! Memory runs on its injected test clock ([`MemoryStore::with_clock`]):
//! time passes when a case says so, to the millisecond, without sleeping,
//! so a case can stand one millisecond before a boundary and then on it.
//! Redis runs on Redis' own clock, so time passes by sleeping; cases keep
//! their delays short (hundreds of ms) and stand [`Backend::tick`] before
//! a boundary, a margin real scheduling cannot eat. Redis' takes hand out
//! again what was idle for [`REDIS_RECLAIM_MS`] instead of
//! [`RECLAIM_AFTER_MS`] (300 s), through
//! [`RedisStore::take_with_reclaim`] (and its `take_deliveries_` and
//! `take_callbacks_` siblings), the same code with another constant.
//!
//! A case that needs time to pass *by itself* (a blocked take waiting for
//! a retry to fall due) runs memory on the real clock instead
//! ([`Memory::real_time`]).

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use gateway::store::memory::MemoryStore;
use gateway::store::redis::{RedisOptions, RedisStore};
use gateway::store::{CallbackTaken, Delivery, RECLAIM_AFTER_MS, Store, StoreError, Taken};

use crate::common::redis_server::Server;

/// The reclaim time of redis' takes in these cases.
pub const REDIS_RECLAIM_MS: u64 = 400;

/// Real time's margin: more than a loaded machine's scheduling delay
/// between two steps of a case, and more than a quarter of
/// [`REDIS_RECLAIM_MS`] (redis starts a reclaim scan at most that often).
const REAL_TICK_MS: u64 = 150;

/// How far a timestamp Redis wrote may stray from the wall clock read
/// around the call that wrote it (ms rounding, clock reads).
const REAL_SLACK_MS: i64 = 50;

/// A store under test and its time.
pub trait Backend: Send + Sync {
    type Store: Store + Clone;

    fn store(&self) -> &Self::Store;

    /// Let `ms` milliseconds of the store's time pass.
    fn pass(&self, ms: u64) -> impl Future<Output = ()> + Send;

    /// The step a case stands before a time boundary to be sure it is
    /// before it: 1 ms on a test clock.
    fn tick(&self) -> u64;

    /// Now by the store's clock, Unix ms.
    fn now_ms(&self) -> i64;

    /// How far a timestamp the store wrote may be outside the
    /// [`Backend::now_ms`] readings taken around the call: 0 on a test
    /// clock.
    fn slack_ms(&self) -> i64;

    /// After how long a taken and unsettled message, delivery or callback
    /// is handed out again by [`Backend::take`] /
    /// [`Backend::take_deliveries`] / [`Backend::take_callbacks`].
    fn reclaim_ms(&self) -> u64;

    /// [`Store::take`], with this backend's reclaim time.
    fn take(
        &self,
        connector: &str,
        consumer: &str,
        max: usize,
        block: Duration,
    ) -> impl Future<Output = Result<Vec<Taken>, StoreError>> + Send;

    /// [`Store::take_deliveries`], with this backend's reclaim time.
    fn take_deliveries(
        &self,
        user: &str,
        consumer: &str,
        max: usize,
        block: Duration,
    ) -> impl Future<Output = Result<Vec<Delivery>, StoreError>> + Send;

    /// [`Store::take_callbacks`], with this backend's reclaim time.
    fn take_callbacks(
        &self,
        consumer: &str,
        max: usize,
        block: Duration,
    ) -> impl Future<Output = Result<Vec<CallbackTaken>, StoreError>> + Send;

    /// [`Store::expire_waiting`], with this backend's reclaim time (an
    /// entry held that long is its dead taker's).
    fn expire_waiting(
        &self,
        connector: &str,
        max: usize,
        ttl: Duration,
    ) -> impl Future<Output = Result<u64, StoreError>> + Send;

    /// Assert that `at`, a time the store wrote during a call, lies
    /// between `before` and `after`, [`Backend::now_ms`] read before and
    /// after the call (exactly the test clock's time on memory).
    fn assert_between(&self, at: i64, before: i64, after: i64) {
        let slack = self.slack_ms();
        assert!(
            before - slack <= at && at <= after + slack,
            "{at} is not within [{before}, {after}] ± {slack}"
        );
    }
}

/// The memory backend on a test clock or on the real one.
pub struct Memory {
    store: MemoryStore,
    /// The test clock (Unix µs); None on the real clock.
    clock: Option<Arc<AtomicI64>>,
}

impl Memory {
    /// On a test clock that starts at 1_000_000_000 ms (2001) and moves
    /// only by [`Backend::pass`].
    pub fn test_clock() -> Memory {
        let t = Arc::new(AtomicI64::new(1_000_000_000_000));
        let c = t.clone();
        Memory {
            store: MemoryStore::with_clock(Arc::new(move || c.load(Ordering::Relaxed))),
            clock: Some(t),
        }
    }

    /// On the real clock, for cases where time must pass by itself.
    pub fn real_time() -> Memory {
        Memory {
            store: MemoryStore::new(),
            clock: None,
        }
    }
}

fn wall_ms() -> i64 {
    gateway::store::now_us() / 1000
}

impl Backend for Memory {
    type Store = MemoryStore;

    fn store(&self) -> &MemoryStore {
        &self.store
    }

    async fn pass(&self, ms: u64) {
        match &self.clock {
            Some(t) => {
                t.fetch_add(ms as i64 * 1000, Ordering::Relaxed);
            }
            None => tokio::time::sleep(Duration::from_millis(ms)).await,
        }
    }

    fn tick(&self) -> u64 {
        if self.clock.is_some() {
            1
        } else {
            REAL_TICK_MS
        }
    }

    fn now_ms(&self) -> i64 {
        match &self.clock {
            Some(t) => t.load(Ordering::Relaxed) / 1000,
            None => wall_ms(),
        }
    }

    fn slack_ms(&self) -> i64 {
        if self.clock.is_some() {
            0
        } else {
            REAL_SLACK_MS
        }
    }

    fn reclaim_ms(&self) -> u64 {
        RECLAIM_AFTER_MS
    }

    async fn take(
        &self,
        connector: &str,
        consumer: &str,
        max: usize,
        block: Duration,
    ) -> Result<Vec<Taken>, StoreError> {
        self.store.take(connector, consumer, max, block).await
    }

    async fn take_deliveries(
        &self,
        user: &str,
        consumer: &str,
        max: usize,
        block: Duration,
    ) -> Result<Vec<Delivery>, StoreError> {
        self.store.take_deliveries(user, consumer, max, block).await
    }

    async fn take_callbacks(
        &self,
        consumer: &str,
        max: usize,
        block: Duration,
    ) -> Result<Vec<CallbackTaken>, StoreError> {
        self.store.take_callbacks(consumer, max, block).await
    }

    async fn expire_waiting(
        &self,
        connector: &str,
        max: usize,
        ttl: Duration,
    ) -> Result<u64, StoreError> {
        self.store.expire_waiting(connector, max, ttl).await
    }
}

/// The redis backend on its own `redis-server`, killed when dropped.
pub struct Redis {
    store: RedisStore,
    _server: Server,
}

impl Redis {
    pub fn start() -> Redis {
        let server = Server::start();
        let store =
            RedisStore::connect(&server.url(), RedisOptions::default()).expect("a redis url");
        Redis {
            store,
            _server: server,
        }
    }
}

impl Backend for Redis {
    type Store = RedisStore;

    fn store(&self) -> &RedisStore {
        &self.store
    }

    async fn pass(&self, ms: u64) {
        tokio::time::sleep(Duration::from_millis(ms)).await;
    }

    fn tick(&self) -> u64 {
        REAL_TICK_MS
    }

    fn now_ms(&self) -> i64 {
        wall_ms()
    }

    fn slack_ms(&self) -> i64 {
        REAL_SLACK_MS
    }

    fn reclaim_ms(&self) -> u64 {
        REDIS_RECLAIM_MS
    }

    async fn take(
        &self,
        connector: &str,
        consumer: &str,
        max: usize,
        block: Duration,
    ) -> Result<Vec<Taken>, StoreError> {
        self.store
            .take_with_reclaim(connector, consumer, max, block, REDIS_RECLAIM_MS)
            .await
    }

    async fn take_deliveries(
        &self,
        user: &str,
        consumer: &str,
        max: usize,
        block: Duration,
    ) -> Result<Vec<Delivery>, StoreError> {
        self.store
            .take_deliveries_with_reclaim(user, consumer, max, block, REDIS_RECLAIM_MS)
            .await
    }

    async fn take_callbacks(
        &self,
        consumer: &str,
        max: usize,
        block: Duration,
    ) -> Result<Vec<CallbackTaken>, StoreError> {
        self.store
            .take_callbacks_with_reclaim(consumer, max, block, REDIS_RECLAIM_MS)
            .await
    }

    async fn expire_waiting(
        &self,
        connector: &str,
        max: usize,
        ttl: Duration,
    ) -> Result<u64, StoreError> {
        self.store
            .expire_waiting_with_reclaim(connector, max, ttl, REDIS_RECLAIM_MS)
            .await
    }
}
