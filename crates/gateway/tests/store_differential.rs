//! The two store backends side by side: random sequences of store
//! operations, applied to a [`MemoryStore`] and to a [`RedisStore`] in
//! the same order, must get the same answers and leave the same state.
//!
//! The sequences are the ones the gateway makes (see
//! `connector/worker.rs` and `delivery.rs`): submits (throttled, charged,
//! queue-limited, some refused), takes, and only a taken message is
//! settled by sent (with 0 to 3 upstream ids), retry (due at once, in a
//! moment, or not within the case), fail or reroute (each message is for
//! both connectors, one of them first: a reroute moves it to the other);
//! receipts for upstream ids
//! already mapped or still to come (held), final or not, repeated; MO
//! deliveries, takes of the users' delivery queues, delivered and
//! redeliver on what was taken; replaces (new text and
//! registered_delivery, by the owner or not, refused by the caller or
//! with another number of parts, of messages in every state); the
//! callback queue (some submits carry a `dlr-url` at level 1, 2 or 3, so
//! their receipts and upstream answers are queued there; calls queued
//! whole; takes, done and retries, due at once, in a moment or not within
//! the case, on what was taken); the expiry sweeps (half the messages
//! valid for a day, half past their validity from the start; a sent
//! whose receipt wait is 1 ms or an hour); and queries (status,
//! balance, depths, upstream ids). Settling again what was settled (documented to change
//! nothing) is in the mix too.
//!
//! What legitimately differs is normalised before comparing: tokens (a
//! stream id on redis, a counter on memory) become the identity of what
//! they were handed out for, and a time the store took from its own
//! clock (a fail's or a cancel's final time, a receipt's without a done
//! date, a queued item's stamps) becomes "now" (the two clocks are read
//! a moment apart); a queued item's life (`expires_ms - queued_ms`) and
//! a callback's attempts are compared exactly.
//!
//! One `redis-server` serves the whole run, FLUSHALLed before each case.
//! 512 cases of up to 40 operations by default (a few seconds);
//! `PROPTEST_CASES` sets another number.
//!
//! [`mostly_callbacks`] has three submits in four carry a `dlr-url`, so
//! that receipts and upstream answers meet in the callback queue often.
//!
//! [`repeated_message_ids`] also submits message ids again (the front end
//! retrying a submit whose answer it did not get).
//!
//! Takes ask for 0 to 3 messages, whatever number of retries is due: a
//! take moves at most `max` due retries to the queue's back, and a take
//! of 0 moves none (the two divergences this test found; the contract's
//! `connector::a_take_moves_at_most_max_due_retries_earliest_due_first`
//! and `connector::a_take_of_none_moves_nothing` pin the order).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;
use std::time::Duration;

use gateway::store::memory::MemoryStore;
use gateway::store::redis::{RedisOptions, RedisStore};
use gateway::store::{
    CallMethod, Callback, CallbackTaken, Delivery, DeliveryItem, DlrLevel, HttpCall, Limit,
    MessageStatus, PartReceipt, ReceiptCallback, Replacement, Store, StoredMessage, Submission,
    Taken, UserReceipt,
};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestError, TestRunner};
use smpp::MessageState;
use smpp::pdu::RegisteredDelivery;

use common::fixtures::{ACCEPTED, DONE, TTL, mo};
use common::redis_server::Server;

const USERS: [&str; 2] = ["u", "v"];
const CONNECTORS: [&str; 2] = ["up", "alt"];
const MO_TEXTS: [&str; 3] = ["hi", "stop", "yes"];

/// A retry delay: due at once, due in a moment (the runner lets the
/// moment pass before the next operation), or not within the case.
#[derive(Debug, Clone, Copy)]
enum Delay {
    Now,
    Moment,
    Later,
}

impl Delay {
    fn duration(self) -> Duration {
        match self {
            Delay::Now => Duration::ZERO,
            Delay::Moment => Duration::from_millis(1),
            Delay::Later => Duration::from_secs(600),
        }
    }
}

#[derive(Debug, Clone)]
enum Op {
    InitCredit {
        user: usize,
        micro: i64,
    },
    /// `again`: submit the `again`-th id submitted before once more
    /// (only in [`repeated_message_ids`]).
    Submit {
        again: Option<usize>,
        user: usize,
        connector: usize,
        parts: u32,
        rate: i64,
        rd: u8,
        /// Under the user's limit ([`limit`]) or unthrottled.
        throttled: bool,
        charged: bool,
        queue_limit: u64,
        /// The `dlr-level` of its callback, if it has one.
        callback: Option<u8>,
        /// Valid for a day from now; else without a validity_period,
        /// which for the fixtures' acceptance time has ended already.
        lasting: bool,
    },
    Take {
        connector: usize,
        max: usize,
    },
    /// Settle an unsettled taken message; `pick` chooses which.
    Sent {
        pick: usize,
        ids: usize,
        /// Its receipt wait (and its mappings) one millisecond, over by
        /// the next operation; else an hour.
        short: bool,
    },
    /// [`Store::expire_waiting`] of a connector.
    ExpireWaiting {
        connector: usize,
    },
    /// [`Store::expire_unanswered`] of a connector, ending in EXPIRED or
    /// UNKNOWN.
    ExpireUnanswered {
        connector: usize,
        expired: bool,
    },
    Retry {
        pick: usize,
        delay: Delay,
    },
    Fail {
        pick: usize,
        state: MessageState,
        code: u8,
    },
    /// Move an unsettled taken message on to its next connector.
    Reroute {
        pick: usize,
    },
    /// Settle a settled one again the same way (changes nothing).
    SettleAgain {
        pick: usize,
    },
    /// A receipt for an upstream id ([`Pair::upstream_id`]): mostly one
    /// that a sent handed out already, else one that a later sent hands
    /// out (held until then). `dated`: done at [`DONE`], else without a
    /// done date (0: done when the store applies it).
    Receipt {
        connector: usize,
        target: usize,
        state: MessageState,
        error_code: u16,
        dated: bool,
    },
    Cancel {
        pick: usize,
        owner: bool,
    },
    /// Replace a submitted message's text (and its registered_delivery)
    /// as its owner or not, the caller refusing or not, with the same
    /// parts or one more.
    Replace {
        pick: usize,
        owner: bool,
        refuse: bool,
        more_parts: bool,
        rd: u8,
    },
    Deliver {
        user: usize,
        text: usize,
    },
    TakeDeliveries {
        user: usize,
        max: usize,
    },
    /// Delivered: some of the deliveries handed out (settled or not).
    Delivered {
        picks: Vec<usize>,
    },
    Redeliver {
        pick: usize,
    },
    Status {
        pick: usize,
    },
    Balance {
        user: usize,
    },
    QueueDepth {
        connector: usize,
    },
    DeliveryDepth {
        user: usize,
    },
    Upstream {
        connector: usize,
        target: usize,
    },
    /// A call made whole (an MO for a `mo_url`).
    QueueCallback {
        text: usize,
    },
    TakeCallbacks {
        max: usize,
    },
    /// Done: some of the callbacks handed out (settled or not).
    CallbacksDone {
        picks: Vec<usize>,
    },
    /// Retry one of the callbacks handed out (settled or not).
    RetryCallback {
        pick: usize,
        delay: Delay,
    },
    CallbackDepth,
}

fn delay() -> impl Strategy<Value = Delay> {
    prop_oneof![Just(Delay::Now), Just(Delay::Moment), Just(Delay::Later)]
}

fn state() -> impl Strategy<Value = MessageState> {
    prop_oneof![
        4 => Just(MessageState::Delivered),
        2 => Just(MessageState::Undeliverable),
        1 => Just(MessageState::Expired),
        1 => Just(MessageState::Rejected),
        1 => Just(MessageState::Unknown),
        1 => Just(MessageState::Accepted),
        2 => Just(MessageState::Enroute),
        1 => Just(MessageState::Other(9)),
    ]
}

fn final_state() -> impl Strategy<Value = MessageState> {
    prop_oneof![
        Just(MessageState::Rejected),
        Just(MessageState::Undeliverable),
        Just(MessageState::Expired),
    ]
}

/// Each user's throughput limit, the same for the whole case (a limit
/// that changed between two submits would make the answer depend on
/// the microseconds between them): one part a second, so within a case
/// only the burst passes.
fn limit(user: usize) -> Limit {
    Limit {
        rate: 1,
        burst: 2 + user as u32,
    }
}

/// Mostly connector "up" and user "u", so that messages meet in one queue.
fn connector() -> impl Strategy<Value = usize> + Clone {
    prop_oneof![4 => Just(0usize), 1 => Just(1usize)]
}

fn user() -> impl Strategy<Value = usize> + Clone {
    prop_oneof![4 => Just(0usize), 1 => Just(1usize)]
}

/// What a run's sequences are made of.
#[derive(Debug, Clone, Copy)]
struct Mix {
    /// Submit message ids again.
    repeat: bool,
    /// The weights of a submit without a callback and with one.
    callbacks: (u32, u32),
}

/// Mostly as the front end submits: a third of the submits with a
/// callback.
const PLAIN: Mix = Mix {
    repeat: false,
    callbacks: (2, 1),
};

fn submit(mix: Mix) -> impl Strategy<Value = Op> {
    let repeat = mix.repeat;
    let again = if repeat {
        prop_oneof![3 => Just(None), 1 => any::<usize>().prop_map(Some)].boxed()
    } else {
        Just(None).boxed()
    };
    (
        again,
        user(),
        connector(),
        1u32..=3,
        prop_oneof![Just(0i64), Just(100_000i64)],
        prop_oneof![
            Just(0u8),
            Just(1),
            Just(2),
            Just(0x10),
            Just(0x11),
            Just(0x12)
        ],
        any::<bool>(),
        any::<bool>(),
        prop_oneof![4 => Just(1_000u64), 1 => 1u64..=3],
        prop_oneof![mix.callbacks.0 => Just(None), mix.callbacks.1 => (1u8..=3).prop_map(Some)],
        any::<bool>(),
    )
        .prop_map(
            |(
                again,
                user,
                connector,
                parts,
                rate,
                rd,
                throttled,
                charged,
                queue_limit,
                callback,
                lasting,
            )| {
                Op::Submit {
                    again,
                    user,
                    connector,
                    parts,
                    rate,
                    rd,
                    throttled,
                    charged,
                    queue_limit,
                    callback,
                    lasting,
                }
            },
        )
}

fn op(mix: Mix) -> impl Strategy<Value = Op> {
    let pick = any::<usize>();
    prop_oneof![
        1 => (user(), prop_oneof![Just(0i64), Just(250_000), Just(1_000_000)])
            .prop_map(|(user, micro)| Op::InitCredit { user, micro }),
        6 => submit(mix),
        4 => (connector(), 0usize..=3).prop_map(|(connector, max)| Op::Take { connector, max }),
        4 => (pick, 0usize..=3, any::<bool>())
            .prop_map(|(pick, ids, short)| Op::Sent { pick, ids, short }),
        2 => connector().prop_map(|connector| Op::ExpireWaiting { connector }),
        2 => (connector(), any::<bool>())
            .prop_map(|(connector, expired)| Op::ExpireUnanswered { connector, expired }),
        3 => (pick, delay())
            .prop_map(|(pick, delay)| Op::Retry { pick, delay }),
        1 => (pick, final_state(), prop_oneof![Just(0u8), Just(0x45)])
            .prop_map(|(pick, state, code)| Op::Fail { pick, state, code }),
        1 => pick.prop_map(|pick| Op::Reroute { pick }),
        1 => pick.prop_map(|pick| Op::SettleAgain { pick }),
        6 => (connector(), any::<usize>(), state(), prop_oneof![Just(0u16), Just(7), Just(0x1ff)], prop_oneof![4 => Just(true), 1 => Just(false)])
            .prop_map(|(connector, target, state, error_code, dated)| Op::Receipt { connector, target, state, error_code, dated }),
        2 => (pick, any::<bool>()).prop_map(|(pick, owner)| Op::Cancel { pick, owner }),
        2 => (pick, prop_oneof![4 => Just(true), 1 => Just(false)], prop_oneof![1 => Just(true), 6 => Just(false)], prop_oneof![1 => Just(true), 4 => Just(false)], prop_oneof![Just(0u8), Just(1), Just(0x11)])
            .prop_map(|(pick, owner, refuse, more_parts, rd)| Op::Replace { pick, owner, refuse, more_parts, rd }),
        2 => (user(), 0..MO_TEXTS.len()).prop_map(|(user, text)| Op::Deliver { user, text }),
        3 => (user(), 0usize..=3).prop_map(|(user, max)| Op::TakeDeliveries { user, max }),
        2 => proptest::collection::vec(pick, 1..=3).prop_map(|picks| Op::Delivered { picks }),
        1 => pick.prop_map(|pick| Op::Redeliver { pick }),
        1 => pick.prop_map(|pick| Op::Status { pick }),
        1 => (user()).prop_map(|user| Op::Balance { user }),
        1 => (connector()).prop_map(|connector| Op::QueueDepth { connector }),
        1 => (user()).prop_map(|user| Op::DeliveryDepth { user }),
        1 => (connector(), any::<usize>()).prop_map(|(connector, target)| Op::Upstream { connector, target }),
        1 => (0..MO_TEXTS.len()).prop_map(|text| Op::QueueCallback { text }),
        3 => (0usize..=3).prop_map(|max| Op::TakeCallbacks { max }),
        2 => proptest::collection::vec(pick, 1..=3).prop_map(|picks| Op::CallbacksDone { picks }),
        3 => (pick, delay()).prop_map(|(pick, delay)| Op::RetryCallback { pick, delay }),
        1 => Just(Op::CallbackDepth),
    ]
}

/// How a taken message was settled, to settle it again the same way.
#[derive(Debug, Clone)]
enum Settled {
    Sent(Vec<String>),
    Retry(Delay),
    Fail(MessageState, u8),
    Reroute(Box<StoredMessage>),
}

/// A message handed out by a take: each backend's handle on it.
struct Handle {
    connector: &'static str,
    memory: Taken,
    redis: Taken,
    settled: Option<Settled>,
}

/// A delivery handed out by a take of a user's queue.
struct DeliveryHandle {
    user: &'static str,
    memory: Delivery,
    redis: Delivery,
}

/// A callback handed out by a take of the callback queue.
struct CallbackHandle {
    memory: CallbackTaken,
    redis: CallbackTaken,
}

/// A submitted message and how it was submitted.
struct Submitted {
    message: StoredMessage,
    throttle: Option<Limit>,
    charge: Option<i64>,
    queue_limit: u64,
}

impl Submitted {
    fn submission(&self) -> Submission<'_> {
        Submission {
            message: &self.message,
            throttle: self.throttle,
            charge_micro: self.charge,
            queue_limit: self.queue_limit,
        }
    }
}

/// A time the store wrote, normalised: the receipts' done date is kept,
/// a time the store took from its own clock is "now".
#[derive(Debug, Clone, PartialEq, Eq)]
enum Time {
    Exact(i64),
    Now,
}

fn time(at: i64, now_ms: i64) -> Time {
    if at != DONE && (at - now_ms).abs() < 60_000 {
        Time::Now
    } else {
        Time::Exact(at)
    }
}

fn now_ms() -> i64 {
    gateway::store::now_us() / 1000
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Status {
    id: String,
    user: String,
    state: MessageState,
    accepted_ms: i64,
    final_ms: Option<Time>,
    error_code: u8,
}

fn status(s: Option<MessageStatus>) -> Option<Status> {
    let now = now_ms();
    s.map(|s| Status {
        id: s.id,
        user: s.user,
        state: s.state,
        accepted_ms: s.accepted_ms,
        final_ms: s.final_ms.map(|t| time(t, now)),
        error_code: s.error_code,
    })
}

/// A delivery as both backends must hand it out: its item, its receipt's
/// done time normalised, and its life (`expires_ms - queued_ms`).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Item {
    item: DeliveryItem,
    done: Option<Time>,
    queued: Time,
    life_ms: i64,
}

fn item(d: &Delivery) -> Item {
    let now = now_ms();
    let mut item = d.item.clone();
    let done = match &mut item {
        DeliveryItem::Receipt(r) => {
            let t = time(r.done_ms, now);
            r.done_ms = 0;
            Some(t)
        }
        DeliveryItem::Mo(_) => None,
    };
    Item {
        item,
        done,
        queued: time(d.queued_ms, now),
        life_ms: d.expires_ms - d.queued_ms,
    }
}

fn items(ds: &[Delivery]) -> Vec<Item> {
    ds.iter().map(item).collect()
}

/// A taken callback as both backends must hand it out: its item (a
/// receipt's done time normalised), its life, its attempts.
#[derive(Debug, Clone, PartialEq, Eq)]
struct CallbackItem {
    item: Callback,
    done: Option<Time>,
    queued: Time,
    life_ms: i64,
    attempts: u32,
}

fn callback_item(c: &CallbackTaken) -> CallbackItem {
    let now = now_ms();
    let mut item = c.item.clone();
    let done = match &mut item {
        Callback::Receipt { receipt, .. } => {
            let t = time(receipt.done_ms, now);
            receipt.done_ms = 0;
            Some(t)
        }
        Callback::Submitted { .. } | Callback::Call(_) => None,
    };
    CallbackItem {
        item,
        done,
        queued: time(c.queued_ms, now),
        life_ms: c.expires_ms - c.queued_ms,
        attempts: c.attempts,
    }
}

fn callback_items(cs: &[CallbackTaken]) -> Vec<CallbackItem> {
    cs.iter().map(callback_item).collect()
}

/// The `dlr-level` `level` as a message's callback.
fn receipt_callback(level: u8) -> Option<ReceiptCallback> {
    Some(ReceiptCallback {
        url: "http://127.0.0.1:9/dlr".into(),
        method: CallMethod::Post,
        level: DlrLevel::from_u8(level)?,
    })
}

/// A call made whole, told apart by its text.
fn call(text: &str) -> HttpCall {
    HttpCall {
        url: "http://127.0.0.1:9/mo".into(),
        method: CallMethod::Get,
        params: vec![("content".into(), text.into())],
    }
}

/// A taken message, compared whole, shown by its id.
#[derive(Clone, PartialEq, Eq)]
struct Message(StoredMessage);

impl std::fmt::Debug for Message {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0.id)
    }
}

fn messages(ts: &[Taken]) -> Vec<Message> {
    ts.iter().map(|t| Message((*t.message).clone())).collect()
}

/// Both backends and what the case handed out so far.
struct Pair {
    memory: MemoryStore,
    redis: RedisStore,
    submitted: Vec<Submitted>,
    taken: Vec<Handle>,
    deliveries: Vec<DeliveryHandle>,
    callbacks: Vec<CallbackHandle>,
    /// Upstream ids handed out by sent so far: x0 .. x<next_upstream - 1>.
    next_upstream: usize,
    /// Upstream ids handed out by short sents: s0 .. s<next_short - 1>,
    /// which no receipt names (a receipt a short sent applied would be
    /// queued for 1 ms, and expired delivery items are trimmed
    /// differently: docs/store.md, "Where the backends may differ").
    next_short: usize,
    log: Vec<String>,
}

macro_rules! same {
    ($pair:expr, $memory:expr, $redis:expr) => {{
        let (m, r) = ($memory, $redis);
        if m != r {
            return Err(TestCaseError::fail(format!(
                "the backends differ after\n  {}\nmemory: {:?}\nredis:  {:?}",
                $pair.log.join("\n  "),
                m,
                r
            )));
        }
    }};
}

impl Pair {
    async fn apply(&mut self, op: &Op) -> Result<(), TestCaseError> {
        let (m, r) = (&self.memory, &self.redis);
        match op.clone() {
            Op::InitCredit { user, micro } => {
                self.log.push(format!("{op:?}"));
                same!(
                    self,
                    m.init_credit(USERS[user], micro).await,
                    r.init_credit(USERS[user], micro).await
                );
            }
            Op::Submit {
                again,
                user,
                connector,
                parts,
                rate,
                rd,
                throttled,
                charged,
                queue_limit,
                callback,
                lasting,
            } => {
                let i = match again {
                    Some(k) if !self.submitted.is_empty() => k % self.submitted.len(),
                    _ => {
                        let mut message = StoredMessage {
                            id: format!("m{}", self.submitted.len()),
                            user: USERS[user].into(),
                            // Both, this one first: a reroute moves it
                            // to the other.
                            connectors: vec![
                                CONNECTORS[connector].into(),
                                CONNECTORS[1 - connector].into(),
                            ],
                            submit: Default::default(),
                            parts,
                            rate_micro: rate,
                            accepted_ms: ACCEPTED,
                            expires_ms: lasting.then(|| now_ms() + 86_400_000),
                            callback: callback.and_then(receipt_callback),
                            route: None,
                        };
                        message.submit.registered_delivery = RegisteredDelivery(rd);
                        let charge = charged.then(|| message.charge_micro());
                        self.submitted.push(Submitted {
                            message,
                            throttle: throttled.then(|| limit(user)),
                            charge,
                            queue_limit,
                        });
                        self.submitted.len() - 1
                    }
                };
                let s = &self.submitted[i];
                self.log.push(format!(
                    "submit {} of {} to {} ({} parts, rd {:#x}, throttle {:?}, charge {:?}, queue limit {}, dlr-level {:?})",
                    s.message.id,
                    s.message.user,
                    s.message.connectors[0],
                    s.message.parts,
                    s.message.submit.registered_delivery.0,
                    s.throttle,
                    s.charge,
                    s.queue_limit,
                    s.message.callback.as_ref().map(|c| c.level.as_u8())
                ));
                let (a, b) = (
                    m.submit(s.submission()).await,
                    r.submit(s.submission()).await,
                );
                same!(self, a, b);
            }
            Op::Take { connector, max } => {
                let c = CONNECTORS[connector];
                self.log.push(format!("take {max} of {c}"));
                let a = m.take(c, "w", max, Duration::ZERO).await;
                let b = r.take(c, "w", max, Duration::ZERO).await;
                let (a, b) = (
                    a.map_err(|e| TestCaseError::fail(e.0))?,
                    b.map_err(|e| TestCaseError::fail(e.0))?,
                );
                same!(self, messages(&a), messages(&b));
                for (memory, redis) in a.into_iter().zip(b) {
                    self.log
                        .push(format!("  = t{} ({})", self.taken.len(), memory.message.id));
                    self.taken.push(Handle {
                        connector: c,
                        memory,
                        redis,
                        settled: None,
                    });
                }
            }
            Op::Sent { pick, ids, short } => {
                let Some(h) = self.unsettled(pick) else {
                    return Ok(());
                };
                let (prefix, next) = if short {
                    ("s", &mut self.next_short)
                } else {
                    ("x", &mut self.next_upstream)
                };
                let ups: Vec<String> = (0..ids).map(|k| format!("{prefix}{}", *next + k)).collect();
                *next += ids;
                let ttl = if short { Duration::from_millis(1) } else { TTL };
                self.log.push(format!("sent t{h} as {ups:?} for {ttl:?}"));
                let h = &mut self.taken[h];
                let (a, b) = (
                    m.sent(h.connector, &h.memory, &ups, ttl).await,
                    r.sent(h.connector, &h.redis, &ups, ttl).await,
                );
                h.settled = Some(Settled::Sent(ups));
                same!(self, a, b);
                if short {
                    // Its wait is over at the next operation on both.
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
            }
            Op::ExpireWaiting { connector } => {
                let c = CONNECTORS[connector];
                self.log.push(format!("expire waiting of {c}"));
                same!(
                    self,
                    m.expire_waiting(c, 100, TTL).await,
                    r.expire_waiting(c, 100, TTL).await
                );
            }
            Op::ExpireUnanswered { connector, expired } => {
                let c = CONNECTORS[connector];
                let state = if expired {
                    MessageState::Expired
                } else {
                    MessageState::Unknown
                };
                self.log
                    .push(format!("expire unanswered of {c} as {state:?}"));
                same!(
                    self,
                    m.expire_unanswered(c, state, 100, TTL).await,
                    r.expire_unanswered(c, state, 100, TTL).await
                );
            }
            Op::Retry { pick, delay } => {
                let Some(h) = self.unsettled(pick) else {
                    return Ok(());
                };
                self.log.push(format!("retry t{h} {delay:?}"));
                let h = &mut self.taken[h];
                let (a, b) = (
                    m.retry(h.connector, &h.memory, delay.duration()).await,
                    r.retry(h.connector, &h.redis, delay.duration()).await,
                );
                h.settled = Some(Settled::Retry(delay));
                same!(self, a, b);
                // A moment passes: due at the next take on both.
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            Op::Fail { pick, state, code } => {
                let Some(h) = self.unsettled(pick) else {
                    return Ok(());
                };
                self.log.push(format!("fail t{h} {state:?} {code:#x}"));
                let h = &mut self.taken[h];
                let (a, b) = (
                    m.fail(h.connector, &h.memory, state, code, TTL).await,
                    r.fail(h.connector, &h.redis, state, code, TTL).await,
                );
                h.settled = Some(Settled::Fail(state, code));
                same!(self, a, b);
            }
            Op::Reroute { pick } => {
                let Some(h) = self.unsettled(pick) else {
                    return Ok(());
                };
                let Some(next) = self.taken[h].memory.message.moved_on(|_| true) else {
                    return Ok(());
                };
                self.log
                    .push(format!("reroute t{h} to {}", next.connectors[0]));
                let h = &mut self.taken[h];
                let (a, b) = (
                    m.reroute(h.connector, &h.memory, &next).await,
                    r.reroute(h.connector, &h.redis, &next).await,
                );
                h.settled = Some(Settled::Reroute(Box::new(next)));
                same!(self, a, b);
            }
            Op::SettleAgain { pick } => {
                let settled: Vec<usize> = (0..self.taken.len())
                    .filter(|&i| self.taken[i].settled.is_some())
                    .collect();
                if settled.is_empty() {
                    return Ok(());
                }
                let i = settled[pick % settled.len()];
                let h = &self.taken[i];
                let how = h.settled.clone().expect("settled");
                self.log.push(format!("settle t{i} again: {how:?}"));
                // The answer, and whether it moved (a reroute's: never
                // again).
                let (a, b) = match &how {
                    Settled::Sent(ups) => (
                        m.sent(h.connector, &h.memory, ups, TTL)
                            .await
                            .map(|()| false),
                        r.sent(h.connector, &h.redis, ups, TTL)
                            .await
                            .map(|()| false),
                    ),
                    Settled::Retry(delay) => (
                        m.retry(h.connector, &h.memory, delay.duration())
                            .await
                            .map(|()| false),
                        r.retry(h.connector, &h.redis, delay.duration())
                            .await
                            .map(|()| false),
                    ),
                    Settled::Fail(state, code) => (
                        m.fail(h.connector, &h.memory, *state, *code, TTL)
                            .await
                            .map(|()| false),
                        r.fail(h.connector, &h.redis, *state, *code, TTL)
                            .await
                            .map(|()| false),
                    ),
                    Settled::Reroute(next) => (
                        m.reroute(h.connector, &h.memory, next).await,
                        r.reroute(h.connector, &h.redis, next).await,
                    ),
                };
                same!(self, a, b);
            }
            Op::Receipt {
                connector,
                target,
                state,
                error_code,
                dated,
            } => {
                let c = CONNECTORS[connector];
                let up = self.upstream_id(target);
                let done_ms = if dated { DONE } else { 0 };
                self.log.push(format!(
                    "receipt {c} {up} {state:?} err {error_code:#x} done {done_ms}"
                ));
                let p = PartReceipt {
                    state,
                    error_code,
                    done_ms,
                };
                let (a, b) = (
                    m.receipt(c, &up, p, TTL).await,
                    r.receipt(c, &up, p, TTL).await,
                );
                same!(self, a, b);
            }
            Op::Cancel { pick, owner } => {
                if self.submitted.is_empty() {
                    return Ok(());
                }
                let msg = &self.submitted[pick % self.submitted.len()].message;
                let user = if owner { msg.user.as_str() } else { "nobody" };
                self.log.push(format!("cancel {} as {user}", msg.id));
                let (id, user) = (msg.id.clone(), user.to_string());
                same!(self, m.cancel(&id, &user).await, r.cancel(&id, &user).await);
            }
            Op::Replace {
                pick,
                owner,
                refuse,
                more_parts,
                rd,
            } => {
                if self.submitted.is_empty() {
                    return Ok(());
                }
                let msg = &self.submitted[pick % self.submitted.len()].message;
                let user = if owner { msg.user.as_str() } else { "nobody" };
                let text = format!("r{}", self.log.len());
                self.log.push(format!(
                    "replace {} as {user} with {text:?} (rd {rd:#x}, refuse {refuse}, more parts {more_parts})",
                    msg.id
                ));
                let (id, user) = (msg.id.clone(), user.to_string());
                let edit = |old: &StoredMessage| -> Result<Replacement, &'static str> {
                    if refuse {
                        return Err("refused");
                    }
                    let mut submit = old.submit.clone();
                    submit.short_message = text.clone().into();
                    submit.registered_delivery = RegisteredDelivery(rd);
                    Ok(Replacement {
                        submit,
                        parts: old.parts + u32::from(more_parts),
                        expires_ms: Some(ACCEPTED + 1),
                    })
                };
                same!(
                    self,
                    m.replace(&id, &user, edit).await,
                    r.replace(&id, &user, edit).await
                );
            }
            Op::Deliver { user, text } => {
                self.log
                    .push(format!("deliver {:?} to {}", MO_TEXTS[text], USERS[user]));
                let item = mo(MO_TEXTS[text]);
                same!(
                    self,
                    m.deliver(USERS[user], &item, TTL).await,
                    r.deliver(USERS[user], &item, TTL).await
                );
            }
            Op::TakeDeliveries { user, max } => {
                let u = USERS[user];
                self.log.push(format!("take {max} deliveries of {u}"));
                let a = m.take_deliveries(u, "rx", max, Duration::ZERO).await;
                let b = r.take_deliveries(u, "rx", max, Duration::ZERO).await;
                let (a, b) = (
                    a.map_err(|e| TestCaseError::fail(e.0))?,
                    b.map_err(|e| TestCaseError::fail(e.0))?,
                );
                same!(self, items(&a), items(&b));
                for (memory, redis) in a.into_iter().zip(b) {
                    self.log.push(format!("  = d{}", self.deliveries.len()));
                    self.deliveries.push(DeliveryHandle {
                        user: u,
                        memory,
                        redis,
                    });
                }
            }
            Op::Delivered { picks } => {
                if self.deliveries.is_empty() {
                    return Ok(());
                }
                let n = self.deliveries.len();
                let mut picks: Vec<usize> = picks.iter().map(|p| p % n).collect();
                picks.dedup();
                self.log.push(format!("delivered {picks:?}"));
                // One call per user, as the delivery worker gathers them.
                for user in USERS {
                    let mine: Vec<&DeliveryHandle> = picks
                        .iter()
                        .map(|&i| &self.deliveries[i])
                        .filter(|d| d.user == user)
                        .collect();
                    if mine.is_empty() {
                        continue;
                    }
                    let a: Vec<String> = mine.iter().map(|d| d.memory.token.clone()).collect();
                    let b: Vec<String> = mine.iter().map(|d| d.redis.token.clone()).collect();
                    same!(
                        self,
                        m.delivered(user, &a).await,
                        r.delivered(user, &b).await
                    );
                }
            }
            Op::Redeliver { pick } => {
                if self.deliveries.is_empty() {
                    return Ok(());
                }
                let i = pick % self.deliveries.len();
                self.log.push(format!("redeliver d{i}"));
                let d = &self.deliveries[i];
                same!(
                    self,
                    m.redeliver(d.user, &d.memory.token).await,
                    r.redeliver(d.user, &d.redis.token).await
                );
            }
            Op::Status { pick } => {
                if self.submitted.is_empty() {
                    return Ok(());
                }
                let id = self.submitted[pick % self.submitted.len()]
                    .message
                    .id
                    .clone();
                self.log.push(format!("status {id}"));
                let a = m.status(&id).await.map(status);
                let b = r.status(&id).await.map(status);
                same!(self, a, b);
            }
            Op::Balance { user } => {
                self.log.push(format!("balance {}", USERS[user]));
                same!(
                    self,
                    m.balance(USERS[user]).await,
                    r.balance(USERS[user]).await
                );
            }
            Op::QueueDepth { connector } => {
                self.log
                    .push(format!("queue depth {}", CONNECTORS[connector]));
                same!(
                    self,
                    m.queue_depth(CONNECTORS[connector]).await,
                    r.queue_depth(CONNECTORS[connector]).await
                );
            }
            Op::DeliveryDepth { user } => {
                self.log.push(format!("delivery depth {}", USERS[user]));
                same!(
                    self,
                    m.delivery_depth(USERS[user]).await,
                    r.delivery_depth(USERS[user]).await
                );
            }
            Op::Upstream { connector, target } => {
                let c = CONNECTORS[connector];
                let up = self.upstream_id(target);
                self.log.push(format!("upstream {c} {up}"));
                same!(self, m.upstream(c, &up).await, r.upstream(c, &up).await);
            }
            Op::QueueCallback { text } => {
                self.log.push(format!("queue call {:?}", MO_TEXTS[text]));
                let c = call(MO_TEXTS[text]);
                same!(
                    self,
                    m.queue_callback(&c, TTL).await,
                    r.queue_callback(&c, TTL).await
                );
            }
            Op::TakeCallbacks { max } => {
                self.log.push(format!("take {max} callbacks"));
                let a = m.take_callbacks("cb", max, Duration::ZERO).await;
                let b = r.take_callbacks("cb", max, Duration::ZERO).await;
                let (a, b) = (
                    a.map_err(|e| TestCaseError::fail(e.0))?,
                    b.map_err(|e| TestCaseError::fail(e.0))?,
                );
                same!(self, callback_items(&a), callback_items(&b));
                for (memory, redis) in a.into_iter().zip(b) {
                    self.log.push(format!("  = c{}", self.callbacks.len()));
                    self.callbacks.push(CallbackHandle { memory, redis });
                }
            }
            Op::CallbacksDone { picks } => {
                if self.callbacks.is_empty() {
                    return Ok(());
                }
                let n = self.callbacks.len();
                let mut picks: Vec<usize> = picks.iter().map(|p| p % n).collect();
                picks.dedup();
                self.log.push(format!("callbacks done {picks:?}"));
                let a: Vec<String> = picks
                    .iter()
                    .map(|&i| self.callbacks[i].memory.token.clone())
                    .collect();
                let b: Vec<String> = picks
                    .iter()
                    .map(|&i| self.callbacks[i].redis.token.clone())
                    .collect();
                same!(self, m.callbacks_done(&a).await, r.callbacks_done(&b).await);
            }
            Op::RetryCallback { pick, delay } => {
                if self.callbacks.is_empty() {
                    return Ok(());
                }
                let i = pick % self.callbacks.len();
                self.log.push(format!("retry c{i} {delay:?}"));
                let c = &self.callbacks[i];
                same!(
                    self,
                    m.retry_callback(&c.memory.token, delay.duration()).await,
                    r.retry_callback(&c.redis.token, delay.duration()).await
                );
                // A moment passes: due at the next take on both.
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            Op::CallbackDepth => {
                self.log.push("callback depth".into());
                same!(self, m.callback_depth().await, r.callback_depth().await);
            }
        }
        Ok(())
    }

    /// Three times in four an upstream id a sent handed out already
    /// (when there is one), else one of the next three to come.
    fn upstream_id(&self, target: usize) -> String {
        let n = if self.next_upstream > 0 && target % 4 != 0 {
            target / 4 % self.next_upstream
        } else {
            self.next_upstream + target % 3
        };
        format!("x{n}")
    }

    /// The `pick`-th unsettled taken message, if any.
    fn unsettled(&self, pick: usize) -> Option<usize> {
        let open: Vec<usize> = (0..self.taken.len())
            .filter(|&i| self.taken[i].settled.is_none())
            .collect();
        (!open.is_empty()).then(|| open[pick % open.len()])
    }

    /// Everything either backend holds at the end: every message's
    /// status, balances, depths, and what is left to take.
    async fn compare_final_state(&mut self) -> Result<(), TestCaseError> {
        self.log.push("(final state)".into());
        let (m, r) = (self.memory.clone(), self.redis.clone());
        for s in &self.submitted {
            let id = &s.message.id;
            same!(
                self,
                (id, m.status(id).await.map(status)),
                (id, r.status(id).await.map(status))
            );
        }
        for user in USERS {
            same!(
                self,
                (user, m.balance(user).await),
                (user, r.balance(user).await)
            );
            same!(
                self,
                (user, m.delivery_depth(user).await),
                (user, r.delivery_depth(user).await)
            );
            let a = m.take_deliveries(user, "rx", 1_000, Duration::ZERO).await;
            let b = r.take_deliveries(user, "rx", 1_000, Duration::ZERO).await;
            same!(
                self,
                (user, a.map(|d| items(&d))),
                (user, b.map(|d| items(&d)))
            );
        }
        for c in CONNECTORS {
            same!(
                self,
                (c, m.queue_depth(c).await),
                (c, r.queue_depth(c).await)
            );
            let a = m.take(c, "w", 1_000, Duration::ZERO).await;
            let b = r.take(c, "w", 1_000, Duration::ZERO).await;
            same!(
                self,
                (c, a.map(|t| messages(&t))),
                (c, b.map(|t| messages(&t)))
            );
        }
        same!(self, m.callback_depth().await, r.callback_depth().await);
        let a = m.take_callbacks("cb", 1_000, Duration::ZERO).await;
        let b = r.take_callbacks("cb", 1_000, Duration::ZERO).await;
        same!(
            self,
            a.map(|c| callback_items(&c)),
            b.map(|c| callback_items(&c))
        );
        Ok(())
    }
}

async fn run_case(server: &Server, ops: &[Op]) -> Result<(), TestCaseError> {
    let mut raw = redis::Client::open(server.url())
        .and_then(|c| c.get_connection())
        .map_err(|e| TestCaseError::fail(e.to_string()))?;
    redis::cmd("FLUSHALL")
        .query::<()>(&mut raw)
        .map_err(|e| TestCaseError::fail(e.to_string()))?;
    let redis = RedisStore::connect(&server.url(), RedisOptions::default())
        .map_err(|e| TestCaseError::fail(e.0))?;
    let mut pair = Pair {
        memory: MemoryStore::new(),
        redis,
        submitted: Vec::new(),
        taken: Vec::new(),
        deliveries: Vec::new(),
        callbacks: Vec::new(),
        next_upstream: 0,
        next_short: 0,
        log: Vec::new(),
    };
    for op in ops {
        pair.apply(op).await?;
    }
    pair.compare_final_state().await
}

/// Run 512 sequences of up to 40 operations (`PROPTEST_CASES` sets
/// another number) against one redis-server.
fn differential(mix: Mix) {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(512);
    let server = Server::start();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let mut runner = TestRunner::new(Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    });
    let strategy = proptest::collection::vec(op(mix), 1..=40);
    let result = runner.run(&strategy, |ops| rt.block_on(run_case(&server, &ops)));
    match result {
        Ok(()) => {}
        Err(TestError::Fail(why, ops)) => {
            panic!("{why}\n\nminimal sequence ({} ops): {ops:#?}", ops.len())
        }
        Err(e) => panic!("{e}"),
    }
}

#[test]
fn the_backends_agree() {
    differential(PLAIN);
}

/// With message ids submitted again.
#[test]
fn repeated_message_ids() {
    differential(Mix {
        repeat: true,
        ..PLAIN
    });
}

/// With three submits in four carrying a callback.
#[test]
fn mostly_callbacks() {
    differential(Mix {
        callbacks: (1, 3),
        ..PLAIN
    });
}

/// The receipt of a queued item must not depend on which backend made
/// it: a guard on the normalisation above, which blanks `done_ms`.
#[test]
fn normalising_keeps_what_a_receipt_says() {
    let m = Arc::new(common::fixtures::with_rd("a", 2, 1));
    // One reading: two could straddle a millisecond (a life of 11).
    let now = now_ms();
    let d = |state, dlvrd| Delivery {
        token: "1".into(),
        item: DeliveryItem::Receipt(Box::new(UserReceipt {
            message: m.clone(),
            state,
            error_code: 0,
            sub: 2,
            dlvrd,
            done_ms: DONE,
        })),
        queued_ms: now,
        expires_ms: now + 10,
    };
    assert_eq!(
        item(&d(MessageState::Delivered, 2)),
        item(&d(MessageState::Delivered, 2))
    );
    assert_ne!(
        item(&d(MessageState::Delivered, 2)),
        item(&d(MessageState::Delivered, 1))
    );
    assert_ne!(
        item(&d(MessageState::Delivered, 2)),
        item(&d(MessageState::Undeliverable, 2))
    );
    assert_eq!(
        item(&d(MessageState::Delivered, 2)).done,
        Some(Time::Exact(DONE))
    );
}

/// The same guard for the callback queue: the normalisation keeps what a
/// receipt callback says, where it came from, and its attempts.
#[test]
fn normalising_keeps_what_a_callback_says() {
    let m = Arc::new(common::fixtures::with_rd("a", 2, 1));
    let now = now_ms();
    let c = |state, up: &str, attempts| CallbackTaken {
        token: "1".into(),
        item: Callback::Receipt {
            receipt: Box::new(UserReceipt {
                message: m.clone(),
                state,
                error_code: 0,
                sub: 2,
                dlvrd: 2,
                done_ms: DONE,
            }),
            connector: "up".into(),
            upstream_id: up.into(),
        },
        queued_ms: now,
        expires_ms: now + 10,
        attempts,
    };
    let a = callback_item(&c(MessageState::Delivered, "x1", 0));
    assert_eq!(a, callback_item(&c(MessageState::Delivered, "x1", 0)));
    assert_ne!(a, callback_item(&c(MessageState::Undeliverable, "x1", 0)));
    assert_ne!(a, callback_item(&c(MessageState::Delivered, "x2", 0)));
    assert_ne!(a, callback_item(&c(MessageState::Delivered, "x1", 1)));
    assert_eq!(a.done, Some(Time::Exact(DONE)));
    assert_eq!(a.life_ms, 10);
}
