//! Connections: a bounded [`deadpool`] pool of multiplexed connections
//! for ordinary commands (with connect and response timeouts, and
//! reconnection after a failure), and dedicated connections for blocking
//! reads, kept for reuse (docs/store.md, "Connections").
//!
//! The pool is `deadpool` with this module's manager rather than
//! `deadpool-redis`, whose manager PINGs on every checkout and cannot set
//! timeouts. The Redis URL may carry a password: it is never logged, and
//! errors never repeat it.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use ::redis::aio::MultiplexedConnection;
use ::redis::{AsyncConnectionConfig, Client, FromRedisValue, RedisError, RedisResult, Value};
use deadpool::managed::{self, Metrics, Object, Pool, QueueMode, RecycleError, RecycleResult};

use super::{Inner, RedisStore};
use crate::store::StoreError;

#[cfg(doc)]
use crate::store::{Refusal, Store};

/// A pooled connection idle this long is PINGed before it is used.
pub const IDLE_CHECK: Duration = Duration::from_secs(2);

/// Dedicated blocking connections kept for reuse. Every connector
/// session and every user with a receiver bound here blocks on one of its
/// own, so this is sized for hundreds of bound users: fewer would make
/// the rest connect and disconnect at every read (one reader over many
/// user streams would need none of this; not built).
const BLOCKING_KEPT: usize = 1024;

/// Connection settings.
#[derive(Debug, Clone)]
pub struct RedisOptions {
    /// Pooled connections at most (each is multiplexed).
    pub pool_size: usize,
    /// Time to connect (TCP, AUTH, SELECT) before giving up.
    pub connect_timeout: Duration,
    /// Time to wait for an answer, and for a free pooled connection.
    pub response_timeout: Duration,
    /// How long a message's state is kept from acceptance (`[store]
    /// status_retention`).
    pub status_retention: Duration,
}

impl Default for RedisOptions {
    fn default() -> Self {
        RedisOptions {
            pool_size: 16,
            connect_timeout: Duration::from_secs(1),
            response_timeout: Duration::from_secs(1),
            status_retention: Duration::from_millis(crate::store::STATUS_RETENTION_MS as u64),
        }
    }
}

/// Makes the pool's connections.
pub(super) struct Manager {
    client: Client,
    config: AsyncConnectionConfig,
    /// Bumped on every connection failure; a connection made before the
    /// latest failure is not reused.
    epoch: AtomicU64,
}

pub(super) struct Conn {
    pub(super) conn: MultiplexedConnection,
    epoch: u64,
    broken: bool,
}

impl managed::Manager for Manager {
    type Type = Conn;
    type Error = RedisError;

    async fn create(&self) -> Result<Conn, RedisError> {
        let epoch = self.epoch.load(Ordering::Acquire);
        let conn = self
            .client
            .get_multiplexed_async_connection_with_config(&self.config)
            .await?;
        Ok(Conn {
            conn,
            epoch,
            broken: false,
        })
    }

    async fn recycle(&self, c: &mut Conn, metrics: &Metrics) -> RecycleResult<RedisError> {
        if c.broken || c.epoch < self.epoch.load(Ordering::Acquire) {
            return Err(RecycleError::message("connection failed"));
        }
        if metrics.last_used() >= IDLE_CHECK {
            ::redis::cmd("PING")
                .query_async::<()>(&mut c.conn)
                .await
                .map_err(RecycleError::Backend)?;
        }
        Ok(())
    }
}

/// Whether an error means the connection (or the server) is gone, as
/// opposed to an error reply.
pub(super) fn connection_failed(e: &RedisError) -> bool {
    e.is_io_error() || e.is_timeout() || e.is_connection_dropped() || e.is_unrecoverable_error()
}

pub(super) fn unavailable(e: impl std::fmt::Display) -> StoreError {
    StoreError(format!("redis: {e}"))
}

/// One request to run on a pooled connection.
pub(super) enum Req<'a> {
    Cmd(&'a ::redis::Cmd),
    Pipe(&'a ::redis::Pipeline),
}

impl Req<'_> {
    async fn send<T: FromRedisValue>(&self, c: &mut MultiplexedConnection) -> RedisResult<T> {
        match self {
            Req::Cmd(cmd) => cmd.query_async(c).await,
            Req::Pipe(p) => p.query_async(c).await,
        }
    }
}

impl RedisStore {
    /// A store on the Redis at `url` (`redis://[user:password@]host:port/db`).
    /// Connects lazily: a Redis that is down now does not make this
    /// fail (operations fail until it is up); [`Store::ping`] checks.
    pub fn connect(url: &str, options: RedisOptions) -> Result<RedisStore, StoreError> {
        // The parse error could quote the URL: say nothing of it.
        let client = Client::open(url).map_err(|_| {
            StoreError("invalid redis url (redis://[user:password@]host:port/db)".into())
        })?;
        let config = AsyncConnectionConfig::new()
            .set_connection_timeout(Some(options.connect_timeout))
            .set_response_timeout(Some(options.response_timeout));
        let manager = Manager {
            client: client.clone(),
            config,
            epoch: AtomicU64::new(0),
        };
        let pool = Pool::builder(manager)
            .max_size(options.pool_size.max(1))
            .queue_mode(QueueMode::Lifo)
            .runtime(deadpool::Runtime::Tokio1)
            .wait_timeout(Some(options.response_timeout))
            .create_timeout(Some(options.connect_timeout.saturating_mul(2)))
            .recycle_timeout(Some(options.response_timeout))
            .build()
            .map_err(unavailable)?;
        Ok(RedisStore {
            inner: Arc::new(Inner {
                pool,
                client,
                options,
                blocking: Mutex::new(Vec::new()),
                groups: Mutex::new(HashSet::new()),
                reclaim_cursor: Mutex::new(HashMap::new()),
                reclaim_started: Mutex::new(HashMap::new()),
                recovery: Mutex::new(HashMap::new()),
                handed: Mutex::new(HashMap::new()),
                batch: std::sync::OnceLock::new(),
            }),
        })
    }

    /// Run one request on a pooled connection. A connection that fails is
    /// dropped with every idle one made before; a request that failed on
    /// a reused connection without timing out (it was dead, e.g. Redis
    /// restarted) is tried once more on a new one. Only requests that
    /// are safe to repeat come here.
    pub(super) async fn run<T: FromRedisValue>(&self, req: Req<'_>) -> Result<T, StoreError> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let mut c = self.inner.pool.get().await.map_err(unavailable)?;
            let reused = Object::metrics(&c).recycle_count > 0;
            match req.send(&mut c.conn).await {
                Ok(v) => return Ok(v),
                Err(e) if connection_failed(&e) => {
                    self.discard(&mut c);
                    if !(reused && !e.is_timeout() && attempt < 2) {
                        return Err(unavailable(e));
                    }
                }
                Err(e) => return Err(unavailable(e)),
            }
        }
    }

    pub(super) fn discard(&self, c: &mut Conn) {
        c.broken = true;
        self.inner
            .pool
            .manager()
            .epoch
            .fetch_add(1, Ordering::AcqRel);
    }

    fn blocking(&self) -> MutexGuard<'_, Vec<MultiplexedConnection>> {
        self.inner
            .blocking
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// XREADGROUP: on the pool when it does not block, else on a
    /// dedicated connection whose response timeout outlasts the BLOCK.
    pub(super) async fn read_group(
        &self,
        cmd: &::redis::Cmd,
        block_ms: u64,
    ) -> Result<Value, StoreError> {
        if block_ms == 0 {
            return self.run(Req::Cmd(cmd)).await;
        }
        let timeout =
            Duration::from_millis(block_ms).saturating_add(self.inner.options.response_timeout);
        let mut attempt = 0;
        loop {
            attempt += 1;
            let cached = self.blocking().pop();
            let reused = cached.is_some();
            let mut conn = match cached {
                Some(c) => c,
                None => {
                    let config = AsyncConnectionConfig::new()
                        .set_connection_timeout(Some(self.inner.options.connect_timeout))
                        .set_response_timeout(Some(timeout));
                    self.inner
                        .client
                        .get_multiplexed_async_connection_with_config(&config)
                        .await
                        .map_err(unavailable)?
                }
            };
            conn.set_response_timeout(timeout);
            // If this future is dropped mid-BLOCK the connection goes with
            // it; anything it read stays pending for `reclaim`.
            match cmd.query_async::<Value>(&mut conn).await {
                Ok(v) => {
                    self.keep_blocking(conn);
                    return Ok(v);
                }
                Err(e) if connection_failed(&e) => {
                    if !(reused && !e.is_timeout() && attempt < 2) {
                        return Err(unavailable(e));
                    }
                    // A kept connection that died while idle: drop the
                    // others too, and retry on a new one.
                    self.blocking().clear();
                }
                Err(e) => {
                    self.keep_blocking(conn);
                    return Err(unavailable(e));
                }
            }
        }
    }

    fn keep_blocking(&self, conn: MultiplexedConnection) {
        let mut kept = self.blocking();
        if kept.len() < BLOCKING_KEPT {
            kept.push(conn);
        }
    }
}
