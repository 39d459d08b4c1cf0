//! The store: the only place that knows where accepted messages, credit
//! and throttle state live. One trait, two backends: [`memory`] (embedded,
//! one node, the default) and redis (several tern processes on one Redis).
//!
//! Every stage of the pipeline hands work to the next through the store,
//! so a process can die between two stages and nothing accepted is lost
//! (with redis). The front end calls [`Store::submit`] and answers
//! ESME_ROK only when it returns `Ok`: the message is then durable in its
//! connector's queue, its credit charged and its parts counted against the
//! user's throughput, all in one atomic step.

pub mod gcra;
pub mod memory;
pub mod message;
pub mod redis;

use std::future::Future;

use smpp::MessageState;

pub use gcra::Limit;
pub use message::StoredMessage;

/// What the front end asks of the store for one accepted submit.
#[derive(Debug, Clone, Copy)]
pub struct Submission<'a> {
    pub message: &'a StoredMessage,
    /// The user's throughput limit; None for unlimited.
    pub throttle: Option<Limit>,
    /// The charge in millionths; None when the user's credit is unlimited.
    pub charge_micro: Option<i64>,
    /// Refuse with [`Refusal::QueueFull`] when the connector's queue holds
    /// this many messages or more.
    pub queue_limit: u64,
}

/// Why a submit was not accepted. Nothing was changed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// Over the user's throughput: ESME_RTHROTTLED.
    #[error("throttled")]
    Throttled,
    /// Not enough credit: ESME_RSUBMITFAIL.
    #[error("not enough credit")]
    NoCredit,
    /// The connector's queue is over its limit: ESME_RMSGQFUL.
    #[error("queue full")]
    QueueFull,
    /// The store cannot be reached: ESME_RMSGQFUL (temporary).
    #[error("store unavailable: {0}")]
    Unavailable(String),
}

/// The store could not answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("store unavailable: {0}")]
pub struct StoreError(pub String);

/// What query_sm reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageStatus {
    pub id: String,
    pub user: String,
    pub state: MessageState,
    pub accepted_ms: i64,
    /// When it reached a final state.
    pub final_ms: Option<i64>,
    /// The network error code of a failed message, 0 otherwise.
    pub error_code: u8,
}

/// What cancel_sm found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CancelOutcome {
    /// Removed from its queue before it was sent; credit refunded.
    Cancelled,
    /// Already sent upstream or final.
    TooLate,
    /// No such message for this user.
    NotFound,
}

/// A message a connector took from its queue. It stays the connector's
/// until [`Store::sent`], [`Store::retry`] or [`Store::fail`] settles it;
/// if the process dies first, the message is taken again (redis:
/// XAUTOCLAIM after [`RECLAIM_AFTER_MS`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Taken {
    /// The backend's handle on the queue entry (a stream id on redis).
    pub token: String,
    pub message: StoredMessage,
}

/// A taken message not settled within this time belongs to a consumer
/// that died: another may take it. It must exceed a connector's
/// `response_timeout` by a margin: a live connector settles what it took
/// within one response time (it waits for its pace before taking).
pub const RECLAIM_AFTER_MS: u64 = 300_000;

/// How long message states are kept for query_sm: at least 24 h.
pub const STATUS_RETENTION_MS: i64 = 48 * 3600 * 1000;

/// The store's operations. Implementations are cheap to share (`Arc`).
pub trait Store: Send + Sync + 'static {
    /// Throttle, charge and queue one message, atomically: either all
    /// three happen or none.
    fn submit(&self, s: Submission<'_>) -> impl Future<Output = Result<(), Refusal>> + Send;

    /// A message's state, if it is this recent.
    fn status(
        &self,
        id: &str,
    ) -> impl Future<Output = Result<Option<MessageStatus>, StoreError>> + Send;

    /// Cancel `user`'s message `id` if it has not been sent yet, refunding
    /// its charge.
    fn cancel(
        &self,
        id: &str,
        user: &str,
    ) -> impl Future<Output = Result<CancelOutcome, StoreError>> + Send;

    /// A user's credit balance in millionths; None when not tracked
    /// (unlimited).
    fn balance(&self, user: &str) -> impl Future<Output = Result<Option<i64>, StoreError>> + Send;

    /// Start tracking a user's credit at `micro` unless it is tracked
    /// already (a restart or a second process must not reset a balance).
    fn init_credit(
        &self,
        user: &str,
        micro: i64,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Messages waiting in a connector's queue.
    fn queue_depth(&self, connector: &str) -> impl Future<Output = Result<u64, StoreError>> + Send;

    /// Whether the store answers.
    fn ping(&self) -> impl Future<Output = Result<(), StoreError>> + Send;

    // ---- the connector's side (issue 6) ----

    /// Up to `max` messages from `connector`'s queue for `consumer` (a
    /// name unique to one process's worker), oldest first, including
    /// messages whose retry time has come and messages another consumer
    /// took and never settled (after [`RECLAIM_AFTER_MS`]). Waits up to
    /// `block` when there are none.
    fn take(
        &self,
        connector: &str,
        consumer: &str,
        max: usize,
        block: std::time::Duration,
    ) -> impl Future<Output = Result<Vec<Taken>, StoreError>> + Send;

    /// The message was accepted upstream: remember each part's upstream
    /// message id for receipt matching for `ttl`, mark it sent (query_sm:
    /// ENROUTE), and settle it — atomically, so a receipt finds its
    /// message from the moment the queue entry is gone.
    fn sent(
        &self,
        connector: &str,
        taken: &Taken,
        upstream_ids: &[String],
        ttl: std::time::Duration,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// A temporary failure: settle the entry now and queue the message
    /// again for `connector` after `delay` (the retry set).
    fn retry(
        &self,
        connector: &str,
        taken: &Taken,
        delay: std::time::Duration,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// A permanent failure (rejected upstream, or expired while queued):
    /// final `state` and `error_code` for query_sm, the charge refunded,
    /// the entry settled.
    fn fail(
        &self,
        connector: &str,
        taken: &Taken,
        state: MessageState,
        error_code: u8,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// The message id an upstream message id of `connector` belongs to.
    fn upstream(
        &self,
        connector: &str,
        upstream_id: &str,
    ) -> impl Future<Output = Result<Option<String>, StoreError>> + Send;
}

/// Wall-clock time in microseconds since the Unix epoch.
pub fn now_us() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_micros() as i64)
        .unwrap_or(0)
}
