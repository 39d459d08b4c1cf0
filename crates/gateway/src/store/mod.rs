//! The store: the only place that knows where accepted messages, credit
//! and throttle state live. One trait, two backends: [`memory`] (embedded,
//! one node, the default) and [`redis`] (several tern processes on one
//! Redis), both held to the rules written once in [`rules`] (pure code:
//! receipt aggregation, which receipts a user gets, refunds, the
//! throttle). [`message`] is a message as stored, [`way_back`] what waits
//! for the way back to users (receipts and MO), [`callback`] what waits
//! in the callback queue for an HTTP call (receipts of messages sent with
//! a `dlr-url`, MO for a user's `mo_url`). The design, with the redis key
//! layout, is docs/store.md.
//!
//! Every stage of the pipeline hands work to the next through the store,
//! so a process can die between two stages and nothing accepted is lost
//! (with redis). The front end calls [`Store::submit`] and answers
//! ESME_ROK only when it returns `Ok`: the message is then durable in its
//! connector's queue, its credit charged and its parts counted against the
//! user's throughput, all in one atomic step.

pub mod callback;
pub mod memory;
pub mod message;
pub mod redis;
pub mod rules;
pub mod way_back;

/// The throughput limit's module, where it was before [`rules`] held it.
pub use rules::gcra;

use std::future::Future;

use smpp::MessageState;

pub use callback::{CallMethod, Callback, CallbackTaken, DlrLevel, HttpCall, ReceiptCallback};
pub use message::{StoredMessage, UnstorableMessage};
pub use rules::Limit;
pub use way_back::{Delivery, DeliveryItem, PartReceipt, ReceiptOutcome, UserReceipt};

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
    /// The message has no stored form ([`UnstorableMessage`]): a field
    /// too long for its length prefix, or a submit_sm that does not
    /// encode. Permanent: the same message is refused every time.
    #[error("message cannot be stored: {0}")]
    Unstorable(String),
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

/// What [`Store::replace`] puts in place of a queued message: the new
/// submit_sm, its parts and its expiry. Everything else (id, owner,
/// connectors, rate, acceptance time) stays the original's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Replacement {
    pub submit: smpp::pdu::SubmitSm<bytes::Bytes>,
    /// The parts the new content is sent as: it must be the original's
    /// (its charge and the throughput it used were counted for those).
    pub parts: u32,
    /// When it expires if still queued, Unix milliseconds.
    pub expires_ms: Option<i64>,
}

/// What [`Store::replace`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReplaceOutcome<E> {
    /// The message now waits, where it waited, as the replacement says
    /// (in the queue it joins the back, as a retry that falls due does).
    Replaced,
    /// The caller's `edit` refused it; nothing changed.
    Refused(E),
    /// The replacement has another number of parts than the message
    /// (`was`, `now`); nothing changed.
    PartsDiffer { was: u32, now: u32 },
    /// Already taken by a connector, sent upstream or final.
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
    /// Shared, not copied: the store keeps it too.
    pub message: std::sync::Arc<StoredMessage>,
}

/// A taken message not settled within this time belongs to a consumer
/// that died: another may take it. It must exceed a connector's
/// `response_timeout` by a margin: a live connector settles what it took
/// within one response time (it waits for its pace before taking).
pub const RECLAIM_AFTER_MS: u64 = 300_000;

/// How long message states are kept for query_sm by default (`[store]
/// status_retention`), from acceptance. A message not final by then is
/// kept longer: until the end of its
/// validity and [`EXPIRY_GRACE_MS`] while it waits for its connector
/// ([`StoredMessage::retention_ms`]), until the end of its receipt wait
/// and [`EXPIRY_GRACE_MS`] once sent, so that the expiry sweeps find it.
pub const STATUS_RETENTION_MS: i64 = 48 * 3600 * 1000;

/// How long a message's state outlives the end of its validity or of its
/// receipt wait: time for an expiry sweep to come (one runs every
/// second while a tern runs).
pub const EXPIRY_GRACE_MS: i64 = 3600 * 1000;

/// The validity of a message that did not set validity_period (48 h, as
/// most SMSCs default): [`StoredMessage::valid_until`].
pub const DEFAULT_VALIDITY_MS: i64 = 48 * 3600 * 1000;

/// The store's operations. Implementations are cheap to share (`Arc`).
pub trait Store: Send + Sync + 'static {
    /// Throttle, charge and queue one message, atomically: either all
    /// three happen or none. Idempotent on the message id: a second
    /// submit of an id already accepted (and not yet forgotten) answers
    /// `Ok` and changes nothing, so a submit whose answer was lost can be
    /// repeated.
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

    /// Replace `user`'s message `id` while it waits for its connector
    /// (queued, or in the retry set; not taken, not sent upstream) with
    /// what `edit` makes of it ([`StoredMessage::replaced`]: the same
    /// parts, so its charge and throughput stay right). Atomic: the
    /// replacement is stored only if the message is still the one `edit`
    /// saw and still waits (redis: a compare-and-swap, `edit` called
    /// again when another replace came in between), so a connector takes
    /// either the old message or the new one, never a mix and never
    /// both. A queued message joins the back of its queue (redis cannot
    /// rewrite a stream entry in place); a message in the retry set keeps
    /// its due time. `edit` may be called more than once and must not
    /// have effects. Repeating a replace stores the same message again.
    fn replace<E, F>(
        &self,
        id: &str,
        user: &str,
        edit: F,
    ) -> impl Future<Output = Result<ReplaceOutcome<E>, StoreError>> + Send
    where
        E: Send,
        F: Fn(&StoredMessage) -> Result<Replacement, E> + Send + Sync;

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
    /// name unique to one process's worker), including messages whose
    /// retry time has come and messages another consumer took and never
    /// settled (after [`RECLAIM_AFTER_MS`]), and — at the first take by a
    /// consumer name in this process — what that name had taken and not
    /// settled before (a previous run of this process that was killed:
    /// consumer names are stable across restarts). Waits up to `block`
    /// when there are none.
    ///
    /// The order: what that name had taken before a restart (handed out
    /// alone), then messages taken and never settled (same token), then
    /// the queue, oldest first. Retries whose
    /// time has come join the queue's *back* when a take notices them:
    /// each take first moves at most `max` of them, earliest due first
    /// (equal due times by message id), so a due retry a take did not
    /// move is overtaken by what is submitted before the next take. A
    /// take of 0 answers at once and moves nothing.
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
    ///
    /// The number of upstream ids is the message's part count for
    /// receipts (`sub`). A receipt held for one of these ids (it came
    /// before this call, see [`Store::receipt`]) is applied here, in the
    /// same atomic step, exactly as if it had come after; receipts this
    /// completes are queued for the user with `ttl` too. Calling `sent`
    /// again for a message that has its ids already changes nothing.
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

    /// The message moves on to the next connector of its route
    /// (`failover_after`, `reroute_on`; DESIGN.md, "Routing: failover and
    /// re-routing"): settle `taken` on `connector` and queue `next` — the
    /// same message for the connectors after it
    /// ([`StoredMessage::moved_on`]) — at the back of its first
    /// connector's queue, atomically. Its id, state (ENROUTE), charge and
    /// receipt request stay: nothing is refunded, no receipt is queued,
    /// and cancel, replace and query_sm find it where it now waits. The
    /// queue limit is not applied (the message is accepted already).
    /// Nothing changes when the token was settled already, so it is safe
    /// to repeat: the answer says whether it moved. `next.id` is
    /// `taken`'s message's.
    fn reroute(
        &self,
        connector: &str,
        taken: &Taken,
        next: &StoredMessage,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// A permanent failure (rejected upstream, or expired while queued):
    /// final `state` and `error_code` for query_sm, the charge refunded,
    /// the entry settled, and — when the message's registered_delivery
    /// asks for it ([`rules::wants_receipt`]) — its one final receipt
    /// (sub = its parts, dlvrd 0) queued for its user, kept there up to
    /// `ttl`. Nothing is queued when the token was settled already.
    fn fail(
        &self,
        connector: &str,
        taken: &Taken,
        state: MessageState,
        error_code: u8,
        ttl: std::time::Duration,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// The message id an upstream message id of `connector` belongs to.
    fn upstream(
        &self,
        connector: &str,
        upstream_id: &str,
    ) -> impl Future<Output = Result<Option<String>, StoreError>> + Send;

    // ---- receipts and the users' delivery queues (issue 6) ----

    /// A receipt from `connector` for one part, `upstream_id` as
    /// normalised by the connector's id_format. Atomically:
    ///
    /// - no mapping for the id yet (its `sent` has not run): the receipt
    ///   is held for `ttl` (a later held receipt for the same id replaces
    ///   it, except that a non-final one never replaces a final one) and
    ///   `sent` applies it → [`ReceiptOutcome::Held`];
    /// - a non-final state (ENROUTE, or a value outside the 3.4 table; see
    ///   [`MessageState::is_final`]): an intermediate receipt
    ///   is queued for the user when the message asked for intermediate
    ///   notification; the message's state is unchanged;
    /// - any receipt for a part already final (or for a message already
    ///   final): nothing changes → [`ReceiptOutcome::Duplicate`] (an
    ///   SMSC that redelivers, or an ENROUTE overtaken by the final);
    /// - a final state: the part is counted (done, delivered); when every
    ///   part is done the message becomes final — DELIVERED when every
    ///   part was, otherwise the last failed part's state and error code,
    ///   with `final_ms` — and its one final receipt (sub = parts,
    ///   dlvrd = parts delivered) is queued for the user when
    ///   [`rules::wants_receipt`] says so.
    ///
    /// Everything queued for the user waits there up to `ttl`.
    fn receipt(
        &self,
        connector: &str,
        upstream_id: &str,
        receipt: PartReceipt,
        ttl: std::time::Duration,
    ) -> impl Future<Output = Result<ReceiptOutcome, StoreError>> + Send;

    /// Queue an item (an MO message) for `user`, kept up to `ttl`.
    fn deliver(
        &self,
        user: &str,
        item: &DeliveryItem,
        ttl: std::time::Duration,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Up to `max` items from `user`'s delivery queue for `consumer`,
    /// oldest first, including items another consumer took and never
    /// settled (after [`RECLAIM_AFTER_MS`]) and — at the first take by a
    /// consumer name in this process — what that name had taken and not
    /// settled before (a previous run of this process that was killed).
    /// Waits up to `block` when there is none. Expired items are handed
    /// out like the others (their `expires_ms` is past): the caller drops
    /// them with [`Store::delivered`] and counts them.
    fn take_deliveries(
        &self,
        user: &str,
        consumer: &str,
        max: usize,
        block: std::time::Duration,
    ) -> impl Future<Output = Result<Vec<Delivery>, StoreError>> + Send;

    /// The items were delivered (deliver_sm_resp OK) or dropped: they
    /// leave the queue (one call for many: the delivery worker gathers
    /// them). A token no longer held changes nothing.
    fn delivered(
        &self,
        user: &str,
        tokens: &[String],
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// The item could not be delivered now: it goes back to the tail of
    /// `user`'s queue, atomically. A token no longer held changes nothing.
    fn redeliver(
        &self,
        user: &str,
        token: &str,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Items waiting in `user`'s delivery queue, taken ones included.
    fn delivery_depth(&self, user: &str) -> impl Future<Output = Result<u64, StoreError>> + Send;

    // ---- the callback queue (issue 11) ----
    //
    // One queue for every user. Receipts of a message with a
    // [`ReceiptCallback`] are queued here by `sent`, `fail` and `receipt`
    // (in the same atomic step, instead of the user's delivery queue):
    // a [`Callback::Receipt`] where a receipt would go to the user, and a
    // [`Callback::Submitted`] for the upstream's answer when its level
    // asks for it (`sent` that settles the entry: status 0; `fail` of a
    // message REJECTED upstream: its error code). A callback waits up to
    // the `ttl` of the call that queued it.

    /// Queue a call made whole (an MO for a user's `mo_url`), kept up to
    /// `ttl`.
    fn queue_callback(
        &self,
        call: &HttpCall,
        ttl: std::time::Duration,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Up to `max` callbacks for `consumer`: as [`Store::take_deliveries`]
    /// (what this consumer name had taken before a restart, alone; then
    /// what another consumer took and never settled after
    /// [`RECLAIM_AFTER_MS`]; then the queue, oldest first), with retries
    /// whose time has come joining the queue's back first (at most `max`
    /// per take, earliest due first). Waits up to `block` when there is
    /// none (and not past the next retry's due time). Expired items are
    /// handed out like the others: the caller drops and counts them.
    fn take_callbacks(
        &self,
        consumer: &str,
        max: usize,
        block: std::time::Duration,
    ) -> impl Future<Output = Result<Vec<CallbackTaken>, StoreError>> + Send;

    /// The callbacks were answered 2xx (or dropped): they leave the
    /// queue for good. A token no longer held changes nothing.
    fn callbacks_done(
        &self,
        tokens: &[String],
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// The callback failed: it leaves the queue and comes back after
    /// `delay` with one attempt more, atomically. A token no longer held
    /// changes nothing.
    fn retry_callback(
        &self,
        token: &str,
        delay: std::time::Duration,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Callbacks waiting, taken ones and retries included.
    fn callback_depth(&self) -> impl Future<Output = Result<u64, StoreError>> + Send;

    // ---- messages whose end never comes (issue 14) ----
    //
    // Every message not final is in one of two indexes of its connector,
    // by time: waiting for the connector (queued, in the retry set, or
    // taken and not settled) until its validity ends
    // ([`StoredMessage::valid_until`]), or sent upstream and waiting for
    // its receipts until the `ttl` of its [`Store::sent`] (the
    // connector's `dlr_expiry`) ends. These two calls end what is past
    // its time, so every message reaches a final state, and gets its one
    // final receipt, even when its connector stays down or its SMSC
    // never answers.

    /// Messages waiting for `connector` (queued or in its retry set)
    /// whose validity ended by now: each becomes final EXPIRED (error 0),
    /// its charge refunded and its one final receipt (sub = its parts,
    /// dlvrd 0) queued when it asked for one, kept up to `ttl` — as
    /// [`Store::fail`] with EXPIRED does, without waiting for a connector
    /// to take it. A message taken and not settled is its taker's (the
    /// connector expires what it takes past its validity): it is looked
    /// at again [`EXPIRY_RECHECK_MS`] later. At most `max` per call,
    /// earliest first; answers how many became final.
    fn expire_waiting(
        &self,
        connector: &str,
        max: usize,
        ttl: std::time::Duration,
    ) -> impl Future<Output = Result<u64, StoreError>> + Send;

    /// Messages sent upstream by `connector` whose wait for receipts
    /// ended by now without every part's final receipt: each becomes
    /// final in `state` (the connector's `dlr_expiry_state`: UNKNOWN or
    /// EXPIRED), error code 0, final_ms now, and its one final receipt
    /// (sub = its parts, dlvrd = those delivered) is queued when it asked
    /// for one, kept up to `ttl`. Nothing is refunded (the SMSC accepted
    /// it). A receipt that comes later changes nothing
    /// ([`ReceiptOutcome::Duplicate`], or held for a mapping that is
    /// gone). At most `max` per call, earliest first; answers how many
    /// became final.
    fn expire_unanswered(
        &self,
        connector: &str,
        state: MessageState,
        max: usize,
        ttl: std::time::Duration,
    ) -> impl Future<Output = Result<u64, StoreError>> + Send;
}

/// How much later [`Store::expire_waiting`] looks again at a message
/// past its validity that a connector holds taken.
pub const EXPIRY_RECHECK_MS: i64 = 10_000;

/// Wall-clock time in microseconds since the Unix epoch.
pub fn now_us() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_micros() as i64)
        .unwrap_or(0)
}
