//! The redis backend: every tern process that points at one Redis shares
//! its queues, credit and throttle state, and an accepted message survives
//! a tern restart (as far as the Redis itself is durable). Needs Redis ≥
//! 6.2 (XAUTOCLAIM).
//!
//! The connector MT queues and the users' delivery queues are Redis
//! Streams read by one consumer group; credit, throttle state, each
//! message's state and receipt count, and receipts held before their
//! mapping are plain keys. Every operation that changes more than one key
//! is one Lua script, so it is atomic; the scripts share one prelude that
//! names their answers (`codes`), and fragments (taken by the scripts
//! that call them) that carry shared functions and the store's rules
//! ([`super::rules`]) in Lua.
//!
//! The design — key layout, the order of a take, receipts, restart
//! recovery, atomicity, why not Redis Cluster yet, connections — is in
//! `docs/store.md`. The files:
//!
//! - [`keys`]: the key names (and the consumer group);
//! - `pool`: connections (the pool's manager, blocking connections);
//! - `batching`: scripts sent together as pipelines;
//! - `scripts` and `lua/`: the scripts, with the shared prelude and
//!   fragments;
//! - `codes`: the scripts' answers, checked against the prelude;
//! - `streams`: taking from streams (recovery, reclaim, promotion of
//!   retries, XREADGROUP);
//! - `decode`: replies and stream entries as values;
//! - `store_impl`: the [`Store`] operations.

mod batching;
mod codes;
mod decode;
pub mod keys;
mod pool;
mod scripts;
mod store_impl;
mod streams;

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use ::redis::Client;
use ::redis::aio::MultiplexedConnection;
use deadpool::managed::Pool;

pub use keys::{
    GROUP, credit_key, delivery_key, held_key, message_key, queue_key, requeued_key, retry_key,
    retry_messages_key, tat_key, upstream_key,
};
pub use pool::{IDLE_CHECK, RedisOptions};

use batching::Job;
use pool::Manager;

#[cfg(doc)]
use super::Store;

/// The redis backend. Cheap to clone; clones share the pool.
#[derive(Clone)]
pub struct RedisStore {
    inner: Arc<Inner>,
}

struct Inner {
    pool: Pool<Manager>,
    /// Scripts waiting to go to Redis in the next pipeline (see
    /// [`RedisStore::script`]); the batching task starts with the first.
    batch: std::sync::OnceLock<tokio::sync::mpsc::UnboundedSender<Job>>,
    client: Client,
    options: RedisOptions,
    /// Idle dedicated connections for blocking reads.
    blocking: Mutex<Vec<MultiplexedConnection>>,
    /// Streams (by key) whose consumer group is known to exist.
    groups: Mutex<HashSet<String>>,
    /// Per stream key: where the next XAUTOCLAIM of a take starts.
    reclaim_cursor: Mutex<HashMap<String, String>>,
    /// Per stream key: when the last scan from the start began.
    reclaim_started: Mutex<HashMap<String, std::time::Instant>>,
    /// Per (stream key, consumer): how far the first takes have read the
    /// consumer's own pending entries (restart recovery); `None` once
    /// they are all handed out. Absent: not started. A take that fails
    /// sets it again, to read after [`Inner::handed`] (a read whose
    /// answer was lost: docs/store.md, "Restart recovery").
    recovery: Mutex<HashMap<(String, String), Option<String>>>,
    /// Per (stream key, consumer): the greatest entry id a take handed
    /// out (ms, seq). What the consumer holds beyond it in its pending
    /// list was handed to it by a read whose answer never came.
    handed: Mutex<HashMap<(String, String), (u64, u64)>>,
}

impl std::fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the URL: it may hold a password.
        f.debug_struct("RedisStore")
            .field("pool", &self.inner.pool.status())
            .field("options", &self.inner.options)
            .finish()
    }
}
