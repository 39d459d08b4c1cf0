//! The redis backend: every tern process that points at one Redis shares
//! its queues, credit and throttle state, and an accepted message survives
//! a tern restart (as far as the Redis itself is durable).
//!
//! # What it owns
//!
//! The connector MT queues (one Redis Stream per connector, consumed by a
//! consumer group so several tern processes share a connector's work),
//! users' credit and throttle state, each message's state for
//! query_sm / cancel_sm and its receipt count, receipts that came before
//! their message was recorded as sent, and the users' delivery queues
//! (one stream per user: receipts and MO messages for the user's receiver
//! binds, consumed the same way). Needs Redis ≥ 6.2 (XAUTOCLAIM).
//!
//! # Key layout
//!
//! Every key carries a hash tag naming its owner (`{c:…}` connector,
//! `{u:…}` user, `{m:…}` message):
//!
//! | key | type | content |
//! |---|---|---|
//! | `tern:{c:<connector>}:mt` | stream | the connector's queue: entries `id` (message id) and `m` (the encoded [`StoredMessage`]); consumer group [`GROUP`] |
//! | `tern:{c:<connector>}:retry` | sorted set | message ids waiting to be retried, scored by their due time (Unix ms, Redis' clock) |
//! | `tern:{c:<connector>}:retry:m` | hash | message id → encoded message, for the ids in the retry set |
//! | `tern:{c:<connector>}:requeued` | hash | message id → its new stream entry id, for a retried message back in the stream and not settled yet (cancel finds it there) |
//! | `tern:{c:<connector>}:up:<upstream id>` | string | the message id an upstream message id belongs to; expires after the ttl given to [`Store::sent`] |
//! | `tern:{c:<connector>}:held:<upstream id>` | string | a receipt that came before its upstream id was mapped: `<message_state>:<error code>:<done ms>` (decimal); expires after the ttl given to [`Store::receipt`]; [`Store::sent`] applies and deletes it |
//! | `tern:{u:<user>}:credit` | string | credit in millionths; absent = not tracked (unlimited) |
//! | `tern:{u:<user>}:tat` | string | the GCRA state (theoretical arrival time, Unix µs by Redis' clock); expires once it is in the past, when absent and present-but-past mean the same |
//! | `tern:{u:<user>}:dlv` | stream | the user's delivery queue (entries below); consumer group [`GROUP`] |
//! | `tern:{m:<id>}` | hash | `m` (encoded message), `user`, `conn` (its queue's connector), `sid` (stream entry id at submit), `state` (SMPP message_state), `accepted_ms`, `final_ms`, `error_code`, `charge` (millionths actually charged and not yet refunded), `taken` (set when it is settled by a connector), `sent_ms` (accepted upstream), `rd` (registered_delivery), and for receipts: `pn` (parts = upstream ids, set by the first `sent`), `pd` / `pdl` (parts final / delivered), `d:<upstream id>` (that part's final state: counted), `fst` / `ferr` (state and error code of the last part not delivered); expires [`STATUS_RETENTION_MS`] after acceptance |
//!
//! A delivery queue entry has `k` (`r` receipt, `mo` MO message), `q`
//! (queued) and `exp` (dropped undelivered after; Unix ms by Redis'
//! clock, `exp` = `q` + the ttl given), and for a receipt `id` (message
//! id), `st` (message_state), `err` (the receipt's error code, up to 16
//! bits), `sub`, `dlvrd`, `done` (Unix ms) and `m` (the encoded
//! [`StoredMessage`], copied from the message hash), for an MO `p` (the
//! deliver_sm PDU, [`encode_mo`]).
//!
//! A queue's depth is its stream's length less the entries delivered to a
//! consumer and not yet acknowledged (the group's pending list), plus its
//! retry set: a message waiting for its retry time is still waiting for
//! its connector, so it counts in [`Store::queue_depth`] and against the
//! submit's queue limit. An acknowledged entry is deleted (XACK + XDEL),
//! a cancelled one is deleted (XDEL). A delivery queue's depth
//! ([`Store::delivery_depth`]) is its stream's length (XLEN), taken items
//! included.
//!
//! # The connector's side
//!
//! [`Store::take`] (= [`RedisStore::take_with_reclaim`] with
//! [`RECLAIM_AFTER_MS`]) runs, in order:
//!
//! 1. at the first take by a consumer name in this [`RedisStore`], that
//!    consumer's own pending entries (see *Restart recovery*): when there
//!    are any, the take answers with them alone;
//! 2. one XAUTOCLAIM, from a cursor kept per stream, of entries idle
//!    longer than the reclaim time (a dead consumer's); a scan from the
//!    start of the pending list begins at most every quarter of the
//!    reclaim time (every second at most), not at every take;
//! 3. one script that moves up to `max` due retries (by Redis `TIME`)
//!    from the retry set to the *tail* of the stream (XADD, ZREM, HDEL,
//!    and the new entry id in `requeued`), atomically; it answers when
//!    the next retry falls due;
//! 4. XREADGROUP `>` for the rest, with BLOCK (on a dedicated connection)
//!    only when nothing was found; the BLOCK is cut short when the next
//!    retry falls due, and steps 3 and 4 repeat until `block` is over.
//!
//! `Taken::token` is the stream entry id. [`Store::sent`],
//! [`Store::retry`] and [`Store::fail`] are each one script that settles
//! the entry (XACK + XDEL, and HDEL from `requeued`) with its effect:
//! upstream ids SET with PX and `sent_ms` (state stays ENROUTE), and the
//! receipt bookkeeping below; ZADD to the retry set; final state,
//! `final_ms`, `error_code`, the refund (INCRBY only when the credit key
//! EXISTS; `charge` zeroed, so never twice) and the user's final receipt
//! when `registered_delivery` asks for one (sub = the message's parts,
//! dlvrd 0, done = `final_ms`). Retry and fail do nothing when XACK finds
//! the entry not pending (settled already), so a repeated call neither
//! queues twice nor refunds twice; sent records its upstream ids
//! regardless (they are true). A consumer that settles an entry after it
//! was reclaimed settles it for the reclaimer too (at least once, never
//! lost). A message hash is never created by these scripts (HSET only
//! when it EXISTS, so nothing lingers without a TTL).
//!
//! A message in the retry set has not been sent upstream, so cancel
//! succeeds for it (ZREM decides, atomically against the mover), and
//! for a retried message back in the stream and not taken yet.
//!
//! # Receipts
//!
//! The rules are [`super::delivery`]'s; the scripts carry them in Lua
//! (one shared prelude: `wants` mirrors
//! [`wants_receipt`](super::delivery::wants_receipt), a state is
//! final when it is 2..=8, as [`MessageState::is_final`] says).
//!
//! [`Store::receipt`] reads the upstream mapping and the message's user
//! (to name the message hash and the user's delivery stream in `KEYS`),
//! then runs one script that checks both are still what it read (else it
//! answers "raced" before writing anything, and the caller reads again)
//! and:
//!
//! - no mapping: SET the held key with PX ttl (a later one replaces it,
//!   except that a non-final receipt never replaces a final one)
//!   → Held;
//! - a mapping but no message hash (past its retention) → Duplicate;
//! - a non-final state: an intermediate receipt (sub = `pn`, dlvrd =
//!   `pdl`, the part's state and error code) XADDed to the user's stream
//!   when `rd` asks for intermediate notification; the hash's `state` is
//!   unchanged → Intermediate;
//! - a final state for a part that has its `d:<upstream id>` mark (HSETNX
//!   decides; a single-part message needs no mark: `pd` = `pn` says it),
//!   or for a message whose parts are all final → Duplicate;
//! - a final state: the mark set, `pd` (and `pdl` when DELIVERED) counted,
//!   `fst` / `ferr` set when not DELIVERED → Partial while `pd` < `pn`
//!   (one HSET);
//!   when `pd` reaches `pn` the hash becomes final: `state` DELIVERED when
//!   `pdl` = `pd`, else `fst`; `error_code` `ferr` clamped to 255 (query_sm
//!   has one octet; the receipt keeps the whole code); `final_ms` the
//!   receipt's done time (Redis' clock when it has none) — and the user's
//!   final receipt is XADDed when `rd` asks for it → Final.
//!
//! A receipt whose upstream id has no mapping yet (the SMSC was faster
//! than [`Store::sent`]) is held. `sent` writes the mappings and, the
//! first time (HSETNX `pn`, the number of upstream ids), applies each
//! held receipt exactly as `receipt` would and deletes it, in the same
//! script: a receipt either finds the mapping or is held where the
//! `sent` that writes it will find it. A message hash without `pn` (sent
//! before `pn` existed) counts as one part.
//!
//! Everything queued for a user carries the ttl given (`exp`); the
//! stream itself never expires. Receipts touch the connector's, the
//! message's and the user's slots (see *Redis Cluster*).
//!
//! # Users' delivery queues
//!
//! [`Store::deliver`] is one script (XADD with `q` and `exp` by Redis'
//! clock). [`Store::take_deliveries`] (=
//! [`RedisStore::take_deliveries_with_reclaim`] with [`RECLAIM_AFTER_MS`])
//! runs the connector's steps 1, 2 and 4 on the user's stream (the
//! group is made with MKSTREAM from id 0 at the first take, so items
//! queued before are read); `Delivery::token` is the stream entry id.
//! Expired items are handed out like the others (the caller drops them).
//! An entry that does not decode is logged (`warn`) and dropped (XACK +
//! XDEL), so it cannot wedge the queue. [`Store::delivered`] is one
//! script: XACK, and XDEL only when it was pending. [`Store::redeliver`]
//! is one script: when the entry is pending, XACK + XDEL and XADD of the
//! same fields (the same `q` and `exp`) at the tail; otherwise nothing.
//! A token that is not a stream id changes nothing.
//!
//! # Restart recovery
//!
//! Entries a consumer was handed stay in the group's pending list under
//! its name until they are settled. A tern process killed mid-work
//! leaves them there, and another consumer may take them only after
//! [`RECLAIM_AFTER_MS`] (300 s). So the first take (connector queue or
//! delivery queue) by a consumer name in a [`RedisStore`] starts with
//! XREADGROUP from id `0`: that name's own pending entries, oldest first,
//! `max` at a time (later takes continue after the last one handed out
//! until a read finds fewer than `max`). A take that recovers entries
//! answers with those alone, at once, so nothing read after them can fail
//! and lose them from the answer. A restarted process that uses
//! the same consumer names therefore resends its in-flight work at once.
//! Recovery happens once per (stream, consumer name) per [`RedisStore`]:
//! a name that two live processes share would take each other's work
//! (names must be unique to one process's worker, and stable across its
//! restarts).
//!
//! # Atomicity
//!
//! - [`Store::submit`] is one Lua script (EVALSHA, one round trip): queue
//!   limit, GCRA (with Redis `TIME`, so every tern process uses one
//!   clock), credit check and DECRBY, XADD, the message hash and the new
//!   TAT. A refusal returns before the first write, so it changes nothing.
//!   The script is idempotent on the message id (an existing message hash
//!   answers "accepted" without writing), so a submit whose connection
//!   dropped can be retried safely.
//! - [`Store::cancel`] reads the message's connector, then runs one script:
//!   it checks the owner, that the entry is neither in the group's
//!   pending list (taken by a connector) nor gone (acknowledged), XDELs it,
//!   marks the hash DELETED with `final_ms` and refunds the charge
//!   (INCRBY, only when the user's credit is tracked).
//! - [`Store::take`] uses XREADGROUP, which moves entries into the
//!   pending list atomically, so a cancel racing a take is decided by
//!   Redis: either the cancel deletes the entry first (the take never
//!   sees it) or the take has it (the cancel answers TooLate).
//! - [`Store::sent`] and [`Store::receipt`] are one script each (above),
//!   so a receipt is counted once whichever comes first. `receipt` is one
//!   round trip: its script names the message hash and the user's stream
//!   from what it reads (the one exception to "every key in KEYS", fine
//!   on one Redis).
//! - [`Store::receipt`] and [`Store::deliver`] are not idempotent (an
//!   intermediate receipt or an MO would be queued twice); like every
//!   request, they are sent again only when they failed on a pooled
//!   connection found dead, which Redis most likely never ran. Delivery
//!   to the user is at least once in any case.
//!
//! # Redis Cluster
//!
//! Every key a script touches is passed in `KEYS` (never built inside
//! Lua, except by the receipt script, which names the message hash and
//! the user's delivery stream from what it reads) and is hash-tagged, so the layout is Cluster-shaped, but this
//! backend talks to one Redis (a single-node connection pool) and does
//! not support Cluster yet: the submit script touches three slots
//! (`{c:<connector>}` for the queue, `{u:<user>}` for credit and TAT,
//! `{m:<id>}` for the message hash); cancel, fail, sent and receipt
//! touch the same three (sent and receipt: `{c:…}` for the mapping and
//! held keys, `{m:…}`, and `{u:…}` for the delivery stream), which a
//! Cluster refuses with CROSSSLOT. (Taking and retrying stay in the
//! connector's slot: the retry set keeps its own copy of each message for
//! that reason; the delivery queue scripts stay in the user's.) Correct
//! atomic submit on one Redis was chosen over a Cluster-ready design that
//! weakens it. To support Cluster, the plan is:
//!
//! 1. Move the message hash into the user's slot
//!    (`tern:{u:<user>}:m:<id>`); `status(id)` then needs the user
//!    (query_sm knows it) or an id that carries it.
//! 2. Split submit in two scripts: one on the user's slot (throttle,
//!    charge, message hash written as "reserved") and one on the
//!    connector's slot (queue limit, XADD). When the second refuses, a
//!    compensating call refunds the charge (the consumed throttle slot is
//!    not given back); a sweeper refunds "reserved" messages whose XADD
//!    never happened (tern died between the two). That keeps "nothing
//!    accepted is lost" but turns "a refusal changes nothing" into "a
//!    refusal is undone shortly after".
//!
//! Per-(user, connector) streams under the user's tag would make submit
//! single-slot, but then a connector cannot read its queue in one call
//! (XREADGROUP across slots is refused) and its queue limit can no longer
//! be checked atomically, so that layout was not chosen.
//!
//! # Connections
//!
//! Ordinary commands use a bounded [`deadpool`] pool of multiplexed
//! connections with connect and response timeouts (1 s by default), so a
//! dead Redis fails fast with [`Refusal::Unavailable`] / [`StoreError`]
//! instead of hanging, and the pool reconnects by itself when Redis comes
//! back: a connection that fails is dropped, and so is every idle one
//! made before the failure (they shared the server that went away). A
//! connection idle for [`IDLE_CHECK`] is PINGed when taken from the pool;
//! a busy one is not, so the hot path is one round trip. (The pool is
//! `deadpool` with this module's manager rather than `deadpool-redis`,
//! whose manager PINGs on every checkout and cannot set timeouts.)
//!
//! Blocking reads ([`Store::take`] and [`Store::take_deliveries`] with a
//! `block`) use dedicated connections, never the pool's, with a response timeout longer than the
//! BLOCK time. The Redis URL may carry a password: it is never logged, and
//! errors never repeat the URL.

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, LazyLock, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use ::redis::aio::MultiplexedConnection;
use ::redis::{
    AsyncConnectionConfig, Client, FromRedisValue, RedisError, RedisResult, Script, Value,
};
use bytes::Bytes;
use deadpool::managed::{self, Metrics, Object, Pool, QueueMode, RecycleError, RecycleResult};
use smpp::MessageState;

use super::delivery::{decode_mo, encode_mo};
use super::{
    CancelOutcome, Delivery, DeliveryItem, MessageStatus, PartReceipt, RECLAIM_AFTER_MS,
    ReceiptOutcome, Refusal, STATUS_RETENTION_MS, Store, StoreError, StoredMessage, Submission,
    Taken, UserReceipt,
};

/// The consumer group every tern process reads a connector's queue with.
pub const GROUP: &str = "tern";

/// A pooled connection idle this long is PINGed before it is used.
pub const IDLE_CHECK: Duration = Duration::from_secs(2);

/// The longest one XREADGROUP blocks; a longer take blocks again.
const MAX_BLOCK_MS: u64 = 60_000;

/// Dedicated blocking connections kept for reuse. Every connector
/// session and every user with a receiver bound here blocks on one of its
/// own, so this is sized for hundreds of bound users: fewer would make
/// the rest connect and disconnect at every read (one reader over many
/// user streams would need none of this; not built).
const BLOCKING_KEPT: usize = 1024;

/// The connector's queue (a stream).
pub fn queue_key(connector: &str) -> String {
    format!("tern:{{c:{connector}}}:mt")
}

/// The connector's retry set (message ids by due time).
pub fn retry_key(connector: &str) -> String {
    format!("tern:{{c:{connector}}}:retry")
}

/// The encoded messages of the connector's retry set, by id.
pub fn retry_messages_key(connector: &str) -> String {
    format!("tern:{{c:{connector}}}:retry:m")
}

/// Retried messages back in the connector's stream: id → stream entry id.
pub fn requeued_key(connector: &str) -> String {
    format!("tern:{{c:{connector}}}:requeued")
}

/// The message id an upstream message id of `connector` belongs to.
pub fn upstream_key(connector: &str, upstream_id: &str) -> String {
    format!("tern:{{c:{connector}}}:up:{upstream_id}")
}

/// A receipt for an upstream message id of `connector` that came before
/// its [`Store::sent`] (held until `sent` applies it).
pub fn held_key(connector: &str, upstream_id: &str) -> String {
    format!("tern:{{c:{connector}}}:held:{upstream_id}")
}

/// A user's delivery queue (a stream): receipts and MO messages.
pub fn delivery_key(user: &str) -> String {
    format!("tern:{{u:{user}}}:dlv")
}

/// A user's credit in millionths.
pub fn credit_key(user: &str) -> String {
    format!("tern:{{u:{user}}}:credit")
}

/// A user's throttle state.
pub fn tat_key(user: &str) -> String {
    format!("tern:{{u:{user}}}:tat")
}

/// A message's state.
pub fn message_key(id: &str) -> String {
    format!("tern:{{m:{id}}}")
}

/// Connection settings.
#[derive(Debug, Clone)]
pub struct RedisOptions {
    /// Pooled connections at most (each is multiplexed).
    pub pool_size: usize,
    /// Time to connect (TCP, AUTH, SELECT) before giving up.
    pub connect_timeout: Duration,
    /// Time to wait for an answer, and for a free pooled connection.
    pub response_timeout: Duration,
}

impl Default for RedisOptions {
    fn default() -> Self {
        RedisOptions {
            pool_size: 16,
            connect_timeout: Duration::from_secs(1),
            response_timeout: Duration::from_secs(1),
        }
    }
}

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
    /// they are all handed out. Absent: not started.
    recovery: Mutex<HashMap<(String, String), Option<String>>>,
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

/// Makes the pool's connections.
struct Manager {
    client: Client,
    config: AsyncConnectionConfig,
    /// Bumped on every connection failure; a connection made before the
    /// latest failure is not reused.
    epoch: AtomicU64,
}

struct Conn {
    conn: MultiplexedConnection,
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
fn connection_failed(e: &RedisError) -> bool {
    e.is_io_error() || e.is_timeout() || e.is_connection_dropped() || e.is_unrecoverable_error()
}

fn unavailable(e: impl std::fmt::Display) -> StoreError {
    StoreError(format!("redis: {e}"))
}

/// One request to run on a pooled connection.
enum Req<'a> {
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

// Script results.
const OK: i64 = 0;
const QUEUE_FULL: i64 = 1;
const THROTTLED: i64 = 2;
const NO_CREDIT: i64 = 3;
const ALREADY_ACCEPTED: i64 = 4;

const NOT_FOUND: i64 = 0;
const TOO_LATE: i64 = 1;
const CANCELLED: i64 = 2;

/// KEYS: 1 queue stream, 2 credit, 3 tat, 4 message hash, 5 retry set.
/// ARGV: 1 queue limit, 2 rate ('' = unlimited), 3 burst, 4 parts,
/// 5 charge ('' = unlimited), 6 encoded message, 7 message id, 8 user,
/// 9 connector, 10 accepted_ms, 11 retention ms, 12 group, 13 ENROUTE,
/// 14 registered_delivery.
static SUBMIT: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r#"
if redis.call('EXISTS', KEYS[4]) == 1 then return 4 end
local limit = tonumber(ARGV[1])
local xlen = redis.call('XLEN', KEYS[1])
local len = xlen + redis.call('ZCARD', KEYS[5])
if len >= limit then
  local pending = 0
  local p = redis.pcall('XPENDING', KEYS[1], ARGV[12])
  if type(p) == 'table' and not p.err then pending = tonumber(p[1]) or 0 end
  if len - pending >= limit then return 1 end
end
local now, new_tat
if ARGV[2] ~= '' then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000000 + tonumber(t[2])
  local interval = math.floor(1000000 / math.max(tonumber(ARGV[2]), 1))
  local tat = tonumber(redis.call('GET', KEYS[3])) or now
  if tat < now then tat = now end
  new_tat = tat + interval * tonumber(ARGV[4])
  if new_tat - interval * math.max(tonumber(ARGV[3]), 1) > now then return 2 end
end
local charge = '0'
if ARGV[5] ~= '' then
  local balance = tonumber(redis.call('GET', KEYS[2])) or 0
  if balance < tonumber(ARGV[5]) then return 3 end
  redis.call('DECRBY', KEYS[2], ARGV[5])
  charge = ARGV[5]
end
if new_tat then
  redis.call('SET', KEYS[3], string.format('%d', new_tat), 'PX',
    string.format('%d', math.floor((new_tat - now) / 1000) + 1000))
end
if xlen == 0 and redis.call('EXISTS', KEYS[1]) == 0 then
  redis.call('XGROUP', 'CREATE', KEYS[1], ARGV[12], '0', 'MKSTREAM')
end
local sid = redis.call('XADD', KEYS[1], '*', 'id', ARGV[7], 'm', ARGV[6])
redis.call('HSET', KEYS[4], 'm', ARGV[6], 'user', ARGV[8], 'conn', ARGV[9], 'sid', sid,
  'state', ARGV[13], 'accepted_ms', ARGV[10], 'charge', charge, 'error_code', '0',
  'rd', ARGV[14])
redis.call('PEXPIRE', KEYS[4], ARGV[11])
return 0
"#,
    )
});

/// KEYS: 1 message hash, 2 queue stream, 3 credit, 4 retry set,
/// 5 retry messages, 6 requeued.
/// ARGV: 1 user, 2 group, 3 ENROUTE, 4 DELETED, 5 message id.
static CANCEL: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r#"
local h = redis.call('HMGET', KEYS[1], 'user', 'sid', 'state', 'taken', 'charge', 'sent_ms')
if h[1] ~= ARGV[1] then return 0 end
if h[3] ~= ARGV[3] or h[6] then return 1 end
local function pending(sid)
  local p = redis.pcall('XPENDING', KEYS[2], ARGV[2], sid, sid, 1)
  return type(p) == 'table' and not p.err and #p > 0
end
if redis.call('ZREM', KEYS[4], ARGV[5]) == 1 then
  redis.call('HDEL', KEYS[5], ARGV[5])
else
  local sid = redis.call('HGET', KEYS[6], ARGV[5])
  if sid then
    if pending(sid) then return 1 end
    if redis.call('XDEL', KEYS[2], sid) == 0 then return 1 end
    redis.call('HDEL', KEYS[6], ARGV[5])
  else
    if h[4] or not h[2] then return 1 end
    if pending(h[2]) then return 1 end
    if redis.call('XDEL', KEYS[2], h[2]) == 0 then return 1 end
  end
end
local t = redis.call('TIME')
redis.call('HSET', KEYS[1], 'state', ARGV[4], 'charge', '0', 'final_ms',
  string.format('%d', tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)))
if (tonumber(h[5]) or 0) > 0 and redis.call('EXISTS', KEYS[3]) == 1 then
  redis.call('INCRBY', KEYS[3], h[5])
end
return 2
"#,
    )
});

/// KEYS: 1 queue stream, 2 retry set. ARGV: 1 group.
static DEPTH: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r#"
local n = redis.call('XLEN', KEYS[1])
if n > 0 then
  local p = redis.pcall('XPENDING', KEYS[1], ARGV[1])
  if type(p) == 'table' and not p.err then n = n - (tonumber(p[1]) or 0) end
  if n < 0 then n = 0 end
end
return n + redis.call('ZCARD', KEYS[2])
"#,
    )
});

/// Moves due retries to the stream's tail. Answers -1 when the retry set
/// is empty after, else the ms until the next retry is due (0: more are
/// due now than `limit`).
/// KEYS: 1 retry set, 2 retry messages, 3 queue stream, 4 requeued.
/// ARGV: 1 limit.
static PROMOTE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r#"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, tonumber(ARGV[1]))
for _, id in ipairs(due) do
  redis.call('ZREM', KEYS[1], id)
  local m = redis.call('HGET', KEYS[2], id)
  redis.call('HDEL', KEYS[2], id)
  if m then
    local sid = redis.call('XADD', KEYS[3], '*', 'id', id, 'm', m)
    redis.call('HSET', KEYS[4], id, sid)
  end
end
local nxt = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
if #nxt == 0 then return -1 end
local d = math.floor(tonumber(nxt[2]) - now)
if d < 0 then d = 0 end
return d
"#,
    )
});

/// Sent upstream: maps the upstream ids, marks the hash, settles; the
/// first time, records the parts for receipts and applies the receipts
/// held for these ids.
/// KEYS: 1 queue stream, 2 message hash, 3 requeued, 4 the user's
/// delivery stream, then per upstream id its mapping key and its held key.
/// ARGV: 1 group, 2 stream entry id, 3 message id, 4 ttl ms, 5.. the
/// upstream ids.
static SENT: LazyLock<Script> = LazyLock::new(|| {
    Script::new(&format!(
        "{RECEIPT_LUA}{}",
        r#"
local n = #ARGV - 4
for i = 1, n do
  redis.call('SET', KEYS[3 + 2 * i], ARGV[3], 'PX', ARGV[4])
end
local st = redis.call('HMGET', KEYS[2], 'user', 'state')
if st[1] then
  redis.call('HSET', KEYS[2], 'taken', '1', 'sent_ms', fmt(now_ms()))
  -- A message already final (another taker failed it) takes no parts.
  if n > 0 and not is_final(tonumber(st[2]) or 0)
      and redis.call('HSETNX', KEYS[2], 'pn', fmt(n)) == 1 then
    for i = 1, n do
      local held = redis.call('GET', KEYS[4 + 2 * i])
      if held then
        redis.call('DEL', KEYS[4 + 2 * i])
        local st, err, done = string.match(held, '^(%d+):(%d+):(%-?%d+)$')
        if st then
          apply(KEYS[2], KEYS[4], ARGV[3], ARGV[4 + i], tonumber(st), tonumber(err),
            tonumber(done), tonumber(ARGV[4]))
        end
      end
    end
  end
end
local acked = redis.call('XACK', KEYS[1], ARGV[1], ARGV[2])
redis.call('XDEL', KEYS[1], ARGV[2])
redis.call('HDEL', KEYS[3], ARGV[3])
return acked
"#
    ))
});

/// A temporary failure: settles the entry and puts the message in the
/// retry set, unless the entry was not pending (settled already).
/// KEYS: 1 queue stream, 2 retry set, 3 retry messages, 4 requeued.
/// ARGV: 1 group, 2 stream entry id, 3 message id, 4 delay ms,
/// 5 encoded message.
static RETRY: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r#"
if redis.call('XACK', KEYS[1], ARGV[1], ARGV[2]) == 0 then return 0 end
redis.call('XDEL', KEYS[1], ARGV[2])
redis.call('HDEL', KEYS[4], ARGV[3])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZADD', KEYS[2], string.format('%d', now + tonumber(ARGV[4])), ARGV[3])
redis.call('HSET', KEYS[3], ARGV[3], ARGV[5])
return 1
"#,
    )
});

/// A permanent failure: final state, refund, settled, and the user's
/// final receipt queued when wanted; nothing when the entry was not
/// pending (settled already).
/// KEYS: 1 queue stream, 2 message hash, 3 credit, 4 requeued, 5 the
/// user's delivery stream.
/// ARGV: 1 group, 2 stream entry id, 3 message id, 4 state, 5 error code,
/// 6 registered_delivery, 7 parts, 8 ttl ms, 9 encoded message.
static FAIL: LazyLock<Script> = LazyLock::new(|| {
    Script::new(&format!(
        "{RECEIPT_LUA}{}",
        r#"
if redis.call('XACK', KEYS[1], ARGV[1], ARGV[2]) == 0 then return 0 end
redis.call('XDEL', KEYS[1], ARGV[2])
redis.call('HDEL', KEYS[4], ARGV[3])
local now = now_ms()
if redis.call('EXISTS', KEYS[2]) == 1 then
  local charge = redis.call('HGET', KEYS[2], 'charge')
  redis.call('HSET', KEYS[2], 'state', ARGV[4], 'error_code', ARGV[5], 'charge', '0',
    'final_ms', fmt(now))
  if (tonumber(charge) or 0) > 0 and redis.call('EXISTS', KEYS[3]) == 1 then
    redis.call('INCRBY', KEYS[3], charge)
  end
end
local st = tonumber(ARGV[4])
if wants(tonumber(ARGV[6]), st) then
  queue_receipt(KEYS[5], ARGV[3], ARGV[9], st, tonumber(ARGV[5]), tonumber(ARGV[7]), 0, now,
    tonumber(ARGV[8]))
end
return 1
"#
    ))
});

/// Lua shared by the scripts that count receipts and queue them for
/// users: the rules of [`super::delivery`], [`delivery::wants_receipt`]
/// included, written once more.
///
/// `apply(hash, stream, id, upstream id, state, err, done, ttl)` applies
/// one part's receipt to the message hash and answers `{outcome, queued,
/// state}` (outcomes: the `R_*` constants).
///
/// [`delivery::wants_receipt`]: super::delivery::wants_receipt
const RECEIPT_LUA: &str = r#"
local function fmt(n) return string.format('%d', n) end
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local function is_final(st) return st >= 2 and st <= 8 end
local function wants(rd, st)
  if is_final(st) then
    local r = rd % 4
    return r == 1 or (r == 2 and st ~= 2)
  end
  return math.floor(rd / 16) % 2 == 1
end
local function queue_receipt(sk, id, m, st, err, sub, dlvrd, done, ttl)
  local now = now_ms()
  -- MINID: what was queued more than a ttl ago has expired undelivered
  -- (no receiver bound all that time): trimmed, so a queue nobody takes
  -- from stays bounded.
  redis.call('XADD', sk, 'MINID', '~', fmt(now - ttl), '*', 'k', 'r', 'id', id, 'st', fmt(st), 'err', fmt(err),
    'sub', fmt(sub), 'dlvrd', fmt(dlvrd), 'done', fmt(done), 'q', fmt(now),
    'exp', fmt(now + ttl), 'm', m)
end
-- sk: the user's delivery stream, or a function naming it from the user.
-- A single-part message needs no per-part mark: its part count says it.
local function apply(hk, sk, id, upid, st, err, done, ttl)
  local h = redis.call('HMGET', hk, 'm', 'rd', 'pn', 'pd', 'pdl', 'user', 'state')
  if not h[1] then return {1, 0, 0} end
  -- Nothing changes a final message (failed, expired, cancelled, or
  -- every part counted).
  if is_final(tonumber(h[7]) or 0) then return {1, 0, 0} end
  if type(sk) == 'function' then sk = sk(h[6]) end
  local rd = tonumber(h[2]) or 0
  -- A message sent before parts were recorded counts as one part.
  local pn = math.max(tonumber(h[3]) or 0, 1)
  local pd = tonumber(h[4]) or 0
  local pdl = tonumber(h[5]) or 0
  if done <= 0 then done = now_ms() end
  if not is_final(st) then
    -- Nothing after the part (or the whole message) is final.
    if pd >= pn or (pn > 1 and redis.call('HEXISTS', hk, 'd:' .. upid) == 1) then
      return {1, 0, 0}
    end
    if wants(rd, st) then
      queue_receipt(sk, id, h[1], st, err, pn, pdl, done, ttl)
      return {2, 1, st}
    end
    return {2, 0, st}
  end
  if pd >= pn then return {1, 0, 0} end
  if pn > 1 and redis.call('HSETNX', hk, 'd:' .. upid, fmt(st)) == 0 then return {1, 0, 0} end
  pd = pd + 1
  if st == 2 then pdl = pdl + 1 end
  if pd < pn then
    if st == 2 then
      redis.call('HSET', hk, 'pd', fmt(pd), 'pdl', fmt(pdl))
    else
      redis.call('HSET', hk, 'pd', fmt(pd), 'pdl', fmt(pdl), 'fst', fmt(st), 'ferr', fmt(err))
    end
    return {3, 0, 0}
  end
  -- The last part: the message is final, failed as the last failed part.
  local fst, ferr = 2, 0
  if st ~= 2 then
    fst, ferr = st, err
  elseif pdl < pd then
    local f = redis.call('HMGET', hk, 'fst', 'ferr')
    fst = tonumber(f[1]) or st
    ferr = tonumber(f[2]) or 0
  end
  redis.call('HSET', hk, 'pd', fmt(pd), 'pdl', fmt(pdl), 'state', fmt(fst),
    'final_ms', fmt(done), 'error_code', fmt(math.min(ferr, 255)))
  if wants(rd, fst) then
    queue_receipt(sk, id, h[1], fst, ferr, pn, pdl, done, ttl)
    return {4, 1, fst}
  end
  return {4, 0, fst}
end
"#;

// Receipt outcomes (RECEIPT_LUA, RECEIPT).
const R_HELD: i64 = 0;
const R_DUPLICATE: i64 = 1;
const R_INTERMEDIATE: i64 = 2;
const R_PARTIAL: i64 = 3;
const R_FINAL: i64 = 4;

/// One part's receipt: held when its upstream id has no mapping yet,
/// else applied. Answers `{outcome, queued, state}`.
/// KEYS: 1 mapping, 2 held. The message hash and the user's delivery
/// stream are named inside the script from what it reads, from the
/// prefixes and suffixes in ARGV (one round trip instead of three; this
/// is the one script that names keys it was not given, which a single
/// Redis allows and a Cluster would not — see "Redis Cluster").
/// ARGV: 1 upstream id, 2 state, 3 error code, 4 done ms, 5 ttl ms,
/// 6/7 message key prefix/suffix, 8/9 delivery key prefix/suffix.
static RECEIPT: LazyLock<Script> = LazyLock::new(|| {
    Script::new(&format!(
        "{RECEIPT_LUA}{}",
        r#"
local id = redis.call('GET', KEYS[1])
if not id then
  -- A final receipt held is not replaced by a non-final one.
  local st = tonumber(ARGV[2])
  if st < 2 or st > 8 then
    local old = redis.call('GET', KEYS[2])
    local ost = old and tonumber(string.match(old, '^(%d+):'))
    if ost and ost >= 2 and ost <= 8 then return {0, 0, 0} end
  end
  redis.call('SET', KEYS[2], ARGV[2] .. ':' .. ARGV[3] .. ':' .. ARGV[4], 'PX', ARGV[5])
  return {0, 0, 0}
end
-- Keys named by what was read (single Redis only: see "Redis Cluster").
local mkey = ARGV[6] .. id .. ARGV[7]
local function stream(user) return ARGV[8] .. (user or '') .. ARGV[9] end
return apply(mkey, stream, id, ARGV[1], tonumber(ARGV[2]),
  tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5]))
"#
    ))
});

/// Queues an item for a user, stamped with Redis' clock.
/// KEYS: 1 the user's delivery stream. ARGV: 1 ttl ms, 2.. field, value.
static DELIVER: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r#"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
-- MINID: items queued more than a ttl ago have expired (see queue_receipt).
local args = {KEYS[1], 'MINID', '~', string.format('%d', now - tonumber(ARGV[1])), '*'}
for i = 2, #ARGV do args[#args + 1] = ARGV[i] end
args[#args + 1] = 'q'
args[#args + 1] = string.format('%d', now)
args[#args + 1] = 'exp'
args[#args + 1] = string.format('%d', now + tonumber(ARGV[1]))
return redis.call('XADD', unpack(args))
"#,
    )
});

/// Delivered (or dropped) items leave the queue, those that were pending.
/// KEYS: 1 delivery stream. ARGV: 1 group, 2.. stream entry ids.
static DELIVERED: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r#"
-- Two calls for the whole batch. An id no longer pending here (settled
-- already, or reclaimed by another consumer after we delivered it) is
-- deleted too: it was delivered.
local ids = {}
for i = 2, #ARGV do ids[#ids + 1] = ARGV[i] end
local n = redis.call('XACK', KEYS[1], ARGV[1], unpack(ids))
redis.call('XDEL', KEYS[1], unpack(ids))
return n
"#,
    )
});

/// A pending item goes back to the queue's tail, with the same fields.
/// KEYS: 1 delivery stream. ARGV: 1 group, 2 stream entry id.
static REDELIVER: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r#"
local r = redis.call('XRANGE', KEYS[1], ARGV[2], ARGV[2])
if redis.call('XACK', KEYS[1], ARGV[1], ARGV[2]) == 0 then return 0 end
redis.call('XDEL', KEYS[1], ARGV[2])
if #r == 0 then return 0 end
local args = {KEYS[1], '*'}
for _, v in ipairs(r[1][2]) do args[#args + 1] = v end
redis.call('XADD', unpack(args))
return 1
"#,
    )
});

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
                batch: std::sync::OnceLock::new(),
            }),
        })
    }

    /// Run one script invocation. Invocations from every task go to Redis
    /// together: a batching task sends whatever is waiting as one pipeline
    /// (up to [`BATCH_MAX`], with up to [`BATCHES_IN_FLIGHT`] pipelines
    /// out at once), so under load a round trip, a write and a read serve
    /// many requests — on both sides — while a lone request still goes at
    /// once. Each script still runs atomically on its own; a pipeline is
    /// not a transaction. A script Redis does not know (NOSCRIPT: it
    /// restarted) is loaded and run again on its own.
    async fn script<T: FromRedisValue>(
        &self,
        inv: ::redis::ScriptInvocation<'static>,
    ) -> Result<T, StoreError> {
        let tx = self.inner.batch.get_or_init(|| {
            let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
            tokio::spawn(batch_loop(Arc::downgrade(&self.inner), rx));
            tx
        });
        let (reply, answer) = tokio::sync::oneshot::channel();
        tx.send(Job { inv, reply })
            .map_err(|_| StoreError("redis: batching stopped".into()))?;
        let v = answer
            .await
            .map_err(|_| StoreError("redis: batching stopped".into()))??;
        T::from_redis_value(v).map_err(unavailable)
    }

    /// Run a batch of scripts as one pipeline and answer each.
    async fn run_batch(&self, mut jobs: Vec<Job>) {
        let mut pipe = ::redis::pipe();
        pipe.ignore_errors();
        for j in &jobs {
            pipe.invoke_script(&j.inv);
        }
        let results: Vec<RedisResult<Value>> = match self.run(Req::Pipe(&pipe)).await {
            Ok(r) => r,
            Err(e) => {
                for j in jobs {
                    let _ = j.reply.send(Err(e.clone()));
                }
                return;
            }
        };
        let mut results = results.into_iter();
        for j in jobs.drain(..) {
            let r = match results.next() {
                Some(Err(e))
                    if e.kind()
                        == ::redis::ErrorKind::Server(::redis::ServerErrorKind::NoScript) =>
                {
                    // Loads the script and runs it again.
                    match self.inner.pool.get().await {
                        Ok(mut c) => j.inv.invoke_async(&mut c.conn).await.map_err(unavailable),
                        Err(e) => Err(unavailable(e)),
                    }
                }
                Some(Err(e)) => Err(unavailable(e)),
                Some(Ok(v)) => Ok(v),
                None => Err(StoreError("redis: a pipeline answer is missing".into())),
            };
            let _ = j.reply.send(r);
        }
    }

    /// Run one request on a pooled connection. A connection that fails is
    /// dropped with every idle one made before; a request that failed on
    /// a reused connection without timing out (it was dead, e.g. Redis
    /// restarted) is tried once more on a new one. Only requests that
    /// are safe to repeat come here.
    async fn run<T: FromRedisValue>(&self, req: Req<'_>) -> Result<T, StoreError> {
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

    fn discard(&self, c: &mut Conn) {
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

    fn groups(&self) -> MutexGuard<'_, HashSet<String>> {
        self.inner
            .groups
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Create a stream's consumer group (and the stream) unless it is
    /// known to exist.
    async fn ensure_group(&self, key: &str) -> Result<(), StoreError> {
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
    async fn with_group<F, Fut>(&self, key: &str, f: F) -> Result<Value, StoreError>
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
        if max == 0 {
            return Ok(Vec::new());
        }
        let key = queue_key(connector);
        self.ensure_group(&key).await?;
        let start = tokio::time::Instant::now();
        // Recovered work is handed out alone: nothing after its read can
        // fail and lose it from this answer.
        let recovered = self.recover(&key, consumer, max).await?;
        let recovered = self.decode_entries(connector, recovered).await;
        if !recovered.is_empty() {
            return Ok(recovered);
        }
        let claimed = self
            .reclaim_some(&key, consumer, reclaim_after_ms, max)
            .await?;
        let mut out = self.decode_entries(connector, claimed).await;
        loop {
            let next_due = self.promote(connector, max).await?;
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
                .read_new(connector, consumer, max - out.len(), block_ms)
                .await?;
            out.extend(got);
            if !out.is_empty() || start.elapsed() >= block {
                return Ok(out);
            }
        }
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
        if max == 0 {
            return Ok(Vec::new());
        }
        let key = delivery_key(user);
        self.ensure_group(&key).await?;
        let start = tokio::time::Instant::now();
        // Recovered items are handed out alone, as in `take_with_reclaim`.
        let recovered = self.recover(&key, consumer, max).await?;
        let recovered = self.decode_deliveries(user, recovered).await;
        if !recovered.is_empty() {
            return Ok(recovered);
        }
        let claimed = self
            .reclaim_some(&key, consumer, reclaim_after_ms, max)
            .await?;
        let mut out = self.decode_deliveries(user, claimed).await;
        loop {
            if out.len() >= max {
                return Ok(out);
            }
            let block_ms = if out.is_empty() {
                ceil_ms(block.saturating_sub(start.elapsed())).min(MAX_BLOCK_MS)
            } else {
                0
            };
            let got = self
                .read_entries(&key, consumer, max - out.len(), block_ms, ">")
                .await?;
            out.extend(self.decode_deliveries(user, got).await);
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
    /// `max`; then nothing.
    async fn recover(
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
                "handing out again what this consumer took before a restart"
            );
        }
        self.recovery().insert(name, next);
        Ok(entries)
    }

    /// Move up to `limit` due retries to the stream's tail; the ms until
    /// the next one is due, if any.
    async fn promote(&self, connector: &str, limit: usize) -> Result<Option<u64>, StoreError> {
        let mut inv = PROMOTE.prepare_invoke();
        inv.key(retry_key(connector))
            .key(retry_messages_key(connector))
            .key(queue_key(connector))
            .key(requeued_key(connector))
            .arg(limit);
        let next: i64 = self.script(inv).await?;
        Ok(u64::try_from(next).ok())
    }

    /// XREADGROUP `>` on a connector's queue: up to `max` new entries for
    /// `consumer`, waiting up to `block_ms` when there are none.
    async fn read_new(
        &self,
        connector: &str,
        consumer: &str,
        max: usize,
        block_ms: u64,
    ) -> Result<Vec<Taken>, StoreError> {
        let entries = self
            .read_entries(&queue_key(connector), consumer, max, block_ms, ">")
            .await?;
        Ok(self.decode_entries(connector, entries).await)
    }

    /// XREADGROUP on the stream `key` for `consumer`, up to `max` entries
    /// after `from` (`>`: new entries, waiting up to `block_ms` when there
    /// are none; a stream id: the consumer's own pending entries after
    /// it).
    async fn read_entries(
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

    /// XREADGROUP: on the pool when it does not block, else on a
    /// dedicated connection whose response timeout outlasts the BLOCK.
    async fn read_group(&self, cmd: &::redis::Cmd, block_ms: u64) -> Result<Value, StoreError> {
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

    /// Decode queue entries; acknowledge (and log) those that are not
    /// stored messages.
    async fn decode_entries(&self, connector: &str, entries: Vec<Entry>) -> Vec<Taken> {
        let mut out = Vec::with_capacity(entries.len());
        let mut corrupt = Vec::new();
        for mut e in entries {
            match e.take(b"m").map(|b| StoredMessage::decode(Bytes::from(b))) {
                Some(Ok(message)) => out.push(Taken {
                    token: e.id,
                    message: message.into(),
                }),
                Some(Err(err)) => {
                    tracing::error!(connector, stream_id = e.id, error = %err, "dropping a corrupt queued message");
                    corrupt.push(e.id);
                }
                None => {
                    tracing::error!(
                        connector,
                        stream_id = e.id,
                        "dropping a queue entry without a message"
                    );
                    corrupt.push(e.id);
                }
            }
        }
        if !corrupt.is_empty() {
            if let Err(e) = self.ack_entries(&queue_key(connector), &corrupt).await {
                tracing::warn!(connector, error = %e, "could not drop corrupt queue entries");
            }
        }
        out
    }

    /// Decode delivery queue entries; drop (acknowledge, delete and log)
    /// those that do not decode, so they cannot wedge the queue.
    async fn decode_deliveries(&self, user: &str, entries: Vec<Entry>) -> Vec<Delivery> {
        let mut out = Vec::with_capacity(entries.len());
        let mut corrupt = Vec::new();
        for e in entries {
            let id = e.id.clone();
            match delivery_of(e) {
                Ok(d) => out.push(d),
                Err(field) => {
                    tracing::warn!(
                        user,
                        stream_id = id,
                        field,
                        "dropping a corrupt delivery queue entry"
                    );
                    corrupt.push(id);
                }
            }
        }
        if !corrupt.is_empty() {
            if let Err(e) = self.ack_entries(&delivery_key(user), &corrupt).await {
                tracing::warn!(user, error = %e, "could not drop corrupt delivery queue entries");
            }
        }
        out
    }

    /// Acknowledge taken entries and delete them from the queue, with no
    /// other effect (connectors settle with [`Store::sent`],
    /// [`Store::retry`] or [`Store::fail`]; this drops corrupt entries).
    /// Returns how many were pending.
    pub async fn ack(&self, connector: &str, stream_ids: &[String]) -> Result<u64, StoreError> {
        self.ack_entries(&queue_key(connector), stream_ids).await
    }

    /// XACK + XDEL on the stream `key`; how many were pending.
    async fn ack_entries(&self, key: &str, stream_ids: &[String]) -> Result<u64, StoreError> {
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
    async fn reclaim_some(
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
    async fn autoclaim(
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

/// A duration in whole milliseconds, rounded up (a BLOCK of 0 would wait
/// for ever).
/// Scripts in one pipeline at most.
const BATCH_MAX: usize = 256;
/// Pipelines out at once.
const BATCHES_IN_FLIGHT: usize = 4;

/// A script invocation waiting for its pipeline, and where its answer goes.
struct Job {
    inv: ::redis::ScriptInvocation<'static>,
    reply: tokio::sync::oneshot::Sender<Result<Value, StoreError>>,
}

/// Gather waiting scripts into pipelines until the store is dropped.
async fn batch_loop(
    inner: std::sync::Weak<Inner>,
    mut rx: tokio::sync::mpsc::UnboundedReceiver<Job>,
) {
    let slots = Arc::new(tokio::sync::Semaphore::new(BATCHES_IN_FLIGHT));
    while let Some(first) = rx.recv().await {
        // While every slot is busy, more jobs gather for the next batch.
        let Ok(slot) = slots.clone().acquire_owned().await else {
            return;
        };
        let mut jobs = vec![first];
        while jobs.len() < BATCH_MAX {
            match rx.try_recv() {
                Ok(j) => jobs.push(j),
                Err(_) => break,
            }
        }
        let Some(inner) = inner.upgrade() else {
            return;
        };
        let store = RedisStore { inner };
        tokio::spawn(async move {
            store.run_batch(jobs).await;
            drop(slot);
        });
    }
}

/// The parts of `key` around a `\0` placeholder, for a script that
/// names a key from what it reads.
fn split_key(key: &str) -> (&str, &str) {
    key.split_once('\0').unwrap_or((key, ""))
}

fn ceil_ms(d: Duration) -> u64 {
    u64::try_from(d.as_micros().div_ceil(1000)).unwrap_or(u64::MAX)
}

/// The elements of an array reply.
fn array(v: Value) -> Option<Vec<Value>> {
    match v {
        Value::Array(a) | Value::Set(a) => Some(a),
        _ => None,
    }
}

/// A string reply's bytes.
fn bulk(v: Value) -> Option<Vec<u8>> {
    match v {
        Value::BulkString(b) => Some(b),
        Value::SimpleString(s) => Some(s.into_bytes()),
        _ => None,
    }
}

/// Key/value pairs of a map reply (RESP3) or of an array of two-element
/// arrays (RESP2), as XREADGROUP answers per stream.
fn pairs(v: Value) -> Vec<(Value, Value)> {
    match v {
        Value::Map(m) => m,
        Value::Array(a) => a
            .into_iter()
            .filter_map(|kv| {
                let mut it = array(kv)?.into_iter();
                Some((it.next()?, it.next()?))
            })
            .collect(),
        _ => Vec::new(),
    }
}

/// A stream entry as read: its id and its fields.
struct Entry {
    id: String,
    fields: Vec<(Vec<u8>, Vec<u8>)>,
}

impl Entry {
    /// The value of the field `name`, taken out.
    fn take(&mut self, name: &[u8]) -> Option<Vec<u8>> {
        let i = self.fields.iter().position(|(k, _)| k == name)?;
        Some(self.fields.swap_remove(i).1)
    }

    /// The value of the field `name` as a decimal number.
    fn number<T: std::str::FromStr>(&self, name: &'static str) -> Result<T, &'static str> {
        self.fields
            .iter()
            .find(|(k, _)| k == name.as_bytes())
            .and_then(|(_, v)| std::str::from_utf8(v).ok()?.parse().ok())
            .ok_or(name)
    }
}

/// A stream entry `[id, [field, value, ...]]`. An entry deleted from the
/// stream while pending (nil) has no fields.
fn entry(v: Value) -> Option<Entry> {
    let mut it = array(v)?.into_iter();
    let id = String::from_utf8(bulk(it.next()?)?).ok()?;
    let raw = match it.next() {
        Some(Value::Map(m)) => m,
        Some(v) => {
            let mut flat = array(v).unwrap_or_default().into_iter();
            let mut kv = Vec::new();
            while let (Some(k), Some(v)) = (flat.next(), flat.next()) {
                kv.push((k, v));
            }
            kv
        }
        None => Vec::new(),
    };
    let fields = raw
        .into_iter()
        .filter_map(|(k, v)| Some((bulk(k)?, bulk(v)?)))
        .collect();
    Some(Entry { id, fields })
}

/// A delivery queue entry as a [`Delivery`]; the field at fault when it
/// does not decode.
fn delivery_of(mut e: Entry) -> Result<Delivery, &'static str> {
    let queued_ms = e.number("q")?;
    let expires_ms = e.number("exp")?;
    let item = match e.take(b"k").as_deref() {
        Some(b"r") => {
            let receipt = UserReceipt {
                state: MessageState::from_u8(e.number("st")?),
                error_code: e.number("err")?,
                sub: e.number("sub")?,
                dlvrd: e.number("dlvrd")?,
                done_ms: e.number("done")?,
                message: e
                    .take(b"m")
                    .and_then(|m| StoredMessage::decode(Bytes::from(m)).ok())
                    .ok_or("m")?
                    .into(),
            };
            DeliveryItem::Receipt(Box::new(receipt))
        }
        Some(b"mo") => DeliveryItem::Mo(e.take(b"p").and_then(|p| decode_mo(&p).ok()).ok_or("p")?),
        _ => return Err("k"),
    };
    Ok(Delivery {
        token: e.id,
        item,
        queued_ms,
        expires_ms,
    })
}

/// The fields a queued item is stored with (`q` and `exp` are added by
/// the script, by Redis' clock).
fn delivery_fields(item: &DeliveryItem) -> Vec<(&'static str, Vec<u8>)> {
    match item {
        DeliveryItem::Receipt(r) => vec![
            ("k", b"r".to_vec()),
            ("id", r.message.id.as_bytes().to_vec()),
            ("st", r.state.as_u8().to_string().into_bytes()),
            ("err", r.error_code.to_string().into_bytes()),
            ("sub", r.sub.to_string().into_bytes()),
            ("dlvrd", r.dlvrd.to_string().into_bytes()),
            ("done", r.done_ms.to_string().into_bytes()),
            ("m", r.message.encode().to_vec()),
        ],
        DeliveryItem::Mo(d) => vec![("k", b"mo".to_vec()), ("p", encode_mo(d).to_vec())],
    }
}

/// Whether `token` has the shape of a stream entry id (`<ms>-<seq>`):
/// anything else was never handed out, and Redis would refuse it.
fn is_stream_id(token: &str) -> bool {
    token.split_once('-').is_some_and(|(ms, seq)| {
        !ms.is_empty()
            && !seq.is_empty()
            && ms.bytes().all(|b| b.is_ascii_digit())
            && seq.bytes().all(|b| b.is_ascii_digit())
    })
}

/// A ttl in whole milliseconds for PX and expiry stamps: at least 1 (PX
/// refuses 0), at most ten years (an absurd ttl is not an error).
fn ttl_ms(ttl: Duration) -> u64 {
    const MAX_MS: u64 = 10 * 366 * 24 * 3600 * 1000;
    u64::try_from(ttl.as_millis())
        .unwrap_or(MAX_MS)
        .clamp(1, MAX_MS)
}

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
        let mut inv = SUBMIT.prepare_invoke();
        inv.key(queue_key(connector))
            .key(credit_key(&m.user))
            .key(tat_key(&m.user))
            .key(message_key(&m.id))
            .key(retry_key(connector))
            .arg(s.queue_limit)
            .arg(rate)
            .arg(burst)
            .arg(m.parts)
            .arg(charge)
            .arg(&m.encode()[..])
            .arg(&m.id)
            .arg(&m.user)
            .arg(connector)
            .arg(m.accepted_ms)
            .arg(STATUS_RETENTION_MS)
            .arg(GROUP)
            .arg(MessageState::Enroute.as_u8())
            .arg(m.submit.registered_delivery.0);
        // Safe to repeat: the script is idempotent on the message id.
        let code: i64 = self
            .script(inv)
            .await
            .map_err(|e| Refusal::Unavailable(e.0))?;
        match code {
            OK | ALREADY_ACCEPTED => Ok(()),
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
        let mut inv = CANCEL.prepare_invoke();
        inv.key(&key)
            .key(queue_key(&connector))
            .key(credit_key(user))
            .key(retry_key(&connector))
            .key(retry_messages_key(&connector))
            .key(requeued_key(&connector))
            .arg(user)
            .arg(GROUP)
            .arg(MessageState::Enroute.as_u8())
            .arg(MessageState::Deleted.as_u8())
            .arg(id);
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
        let mut inv = DEPTH.prepare_invoke();
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
        let mut inv = SENT.prepare_invoke();
        inv.key(queue_key(connector))
            .key(message_key(&taken.message.id))
            .key(requeued_key(connector))
            .key(delivery_key(&taken.message.user));
        for u in upstream_ids {
            inv.key(upstream_key(connector, u))
                .key(held_key(connector, u));
        }
        inv.arg(GROUP)
            .arg(&taken.token)
            .arg(&taken.message.id)
            .arg(ttl_ms(ttl));
        for u in upstream_ids {
            inv.arg(u);
        }
        // Safe to repeat: the same mappings again; the parts and held
        // receipts only the first time.
        self.script::<i64>(inv).await.map(|_| ())
    }

    async fn retry(
        &self,
        connector: &str,
        taken: &Taken,
        delay: Duration,
    ) -> Result<(), StoreError> {
        let mut inv = RETRY.prepare_invoke();
        inv.key(queue_key(connector))
            .key(retry_key(connector))
            .key(retry_messages_key(connector))
            .key(requeued_key(connector))
            .arg(GROUP)
            .arg(&taken.token)
            .arg(&taken.message.id)
            .arg(u64::try_from(delay.as_millis()).unwrap_or(u64::MAX))
            .arg(&taken.message.encode()[..]);
        // Safe to repeat: a second run finds the entry settled.
        self.script::<i64>(inv).await.map(|_| ())
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
        let mut inv = FAIL.prepare_invoke();
        inv.key(queue_key(connector))
            .key(message_key(&m.id))
            .key(credit_key(&m.user))
            .key(requeued_key(connector))
            .key(delivery_key(&m.user))
            .arg(GROUP)
            .arg(&taken.token)
            .arg(&m.id)
            .arg(state.as_u8())
            .arg(error_code)
            .arg(m.submit.registered_delivery.0)
            .arg(m.parts)
            .arg(ttl_ms(ttl))
            .arg(&m.encode()[..]);
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
        let mut inv = RECEIPT.prepare_invoke();
        let (m_key, d_key) = (message_key("\0"), delivery_key("\0"));
        let (m_prefix, m_suffix) = split_key(&m_key);
        let (d_prefix, d_suffix) = split_key(&d_key);
        inv.key(upstream_key(connector, upstream_id))
            .key(held_key(connector, upstream_id))
            .arg(upstream_id)
            .arg(receipt.state.as_u8())
            .arg(receipt.error_code)
            .arg(receipt.done_ms)
            .arg(ttl_ms(ttl))
            .arg(m_prefix)
            .arg(m_suffix)
            .arg(d_prefix)
            .arg(d_suffix);
        // Not idempotent (an intermediate receipt is queued again): `run`
        // repeats only a request that failed on a connection found dead,
        // which Redis most likely never ran.
        let reply: Vec<i64> = self.script(inv).await?;
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
        let mut inv = DELIVER.prepare_invoke();
        inv.key(delivery_key(user)).arg(ttl_ms(ttl));
        for (field, value) in delivery_fields(item) {
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
        let mut inv = DELIVERED.prepare_invoke();
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
        let mut inv = REDELIVER.prepare_invoke();
        inv.key(delivery_key(user)).arg(GROUP).arg(token);
        // Safe to repeat: a second run finds it settled.
        self.script::<i64>(inv).await.map(|_| ())
    }

    async fn delivery_depth(&self, user: &str) -> Result<u64, StoreError> {
        let mut cmd = ::redis::cmd("XLEN");
        cmd.arg(delivery_key(user));
        self.run(Req::Cmd(&cmd)).await
    }
}
