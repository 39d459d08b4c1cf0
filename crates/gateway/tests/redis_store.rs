//! What only the redis store does, against a real `redis-server`: its
//! key layout and retention, consumer groups shared by several processes
//! (reclaim, restart recovery), a Redis that dies, restarts or hangs, and
//! one round trip per submit. Each test starts its own server (see
//! `common/redis_server.rs`). The behaviour both backends share is the
//! contract in `store_contract.rs`, run against redis too.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::{Duration, Instant};

use gateway::store::redis::{self as rs, RedisOptions, RedisStore};
use gateway::store::{
    Callback, CancelOutcome, DlrLevel, EXPIRY_GRACE_MS, Limit, ReceiptOutcome, Refusal,
    STATUS_RETENTION_MS, Store, StoredMessage, Taken,
};
use smpp::MessageState;

use common::fixtures::{
    TTL, call, call_texts, cb_tokens, ids, message, mo, mo_text, ms, part, sub, tokens,
    with_callback, with_rd,
};
use common::redis_server::Server;

fn store(server: &Server) -> RedisStore {
    RedisStore::connect(&server.url(), RedisOptions::default()).unwrap()
}

async fn raw(server: &Server) -> redis::aio::MultiplexedConnection {
    redis::Client::open(server.url())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap()
}

async fn s_submit(s: &RedisStore, names: &[&str]) {
    for id in names {
        let m = message(id, "u", 1, 0);
        s.submit(sub(&m, None, None)).await.unwrap();
    }
}

/// Submit and take `m` (on connector "up").
async fn taken(s: &RedisStore, m: &StoredMessage) -> Taken {
    s.submit(sub(m, None, None)).await.unwrap();
    let mut t = s.take("up", "w", 1, Duration::ZERO).await.unwrap();
    assert_eq!(t.len(), 1);
    t.remove(0)
}

/// Submit, take and send `m` upstream as `ups`.
async fn sent(s: &RedisStore, m: &StoredMessage, ups: &[&str]) -> Taken {
    let t = taken(s, m).await;
    let ups: Vec<String> = ups.iter().map(|u| u.to_string()).collect();
    s.sent("up", &t, &ups, TTL).await.unwrap();
    t
}

/// What connector "up" keeps: its stream's length, its retry set's and
/// retry messages' sizes, and the requeued entries.
async fn depth_parts(r: &mut redis::aio::MultiplexedConnection) -> (u64, u64, u64, u64) {
    let mut p = redis::pipe();
    p.cmd("XLEN")
        .arg(rs::queue_key("up"))
        .cmd("ZCARD")
        .arg(rs::retry_key("up"))
        .cmd("HLEN")
        .arg(rs::retry_messages_key("up"))
        .cmd("HLEN")
        .arg(rs::requeued_key("up"));
    p.query_async(r).await.unwrap()
}

/// `[store] status_retention` sets the message hash's expiry, still
/// kept past the end of a validity that is later, by the grace.
#[tokio::test]
async fn status_retention_is_the_stores_setting() {
    let server = Server::start();
    let options = RedisOptions {
        status_retention: Duration::from_secs(7200),
        ..RedisOptions::default()
    };
    let s = RedisStore::connect(&server.url(), options).unwrap();
    let mut r = raw(&server).await;
    let mut short = message("short", "u", 1, 0);
    short.expires_ms = Some(short.accepted_ms + 60_000);
    let long = message("long", "u", 1, 0);
    for m in [&short, &long] {
        s.submit(sub(m, None, None)).await.unwrap();
    }
    for (id, kept) in [
        ("short", 7_200_000),
        ("long", (48 * 3600 * 1000) + EXPIRY_GRACE_MS),
    ] {
        let ttl: i64 = redis::cmd("PTTL")
            .arg(rs::message_key(id))
            .query_async(&mut r)
            .await
            .unwrap();
        assert!(ttl > kept - 60_000 && ttl <= kept, "{id}: {ttl}");
    }
}

/// A message once final keeps its state for `[store] status_retention`
/// from its acceptance, however it became final (delivered, by a held
/// receipt at `sent`, failed, cancelled, its receipt wait over), no
/// longer to the end of a validity or receipt wait it no longer has; one
/// final after its retention keeps it the retention again, at most an
/// hour (EXPIRY_GRACE_MS). Found by the soak: with the 48 h default
/// validity every hash was kept 49 h whatever the retention.
#[tokio::test]
async fn a_final_message_is_kept_for_the_status_retention_only() {
    final_message_kept_for(7_200_000).await;
}

/// The same with a retention shorter than an hour (the soak's 600 s): a
/// message final at once keeps its hash 600 s, not the hour a final
/// state was given as its least (d89b2c7 did, and Redis grew for an
/// hour of the third soak at 5 000/s, to 13.5 GB).
#[tokio::test]
async fn a_retention_shorter_than_an_hour_is_not_lengthened_when_final() {
    final_message_kept_for(600_000).await;
}

async fn final_message_kept_for(retention: i64) {
    let server = Server::start();
    let options = RedisOptions {
        status_retention: Duration::from_millis(retention as u64),
        ..RedisOptions::default()
    };
    let s = RedisStore::connect(&server.url(), options).unwrap();
    let mut r = raw(&server).await;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let fresh = |id: &str| {
        let mut m = with_rd(id, 1, 1);
        m.accepted_ms = now;
        m
    };
    // Delivered.
    sent(&s, &fresh("delivered"), &["u-d"]).await;
    s.receipt("up", "u-d", part(MessageState::Delivered, 0), TTL)
        .await
        .unwrap();
    // Its receipt came first, and `sent` (asking for a day's wait) made
    // it final.
    s.receipt("up", "u-h", part(MessageState::Undeliverable, 1), TTL)
        .await
        .unwrap();
    let t = taken(&s, &fresh("held")).await;
    s.sent("up", &t, &["u-h".to_string()], Duration::from_secs(86_400))
        .await
        .unwrap();
    // Failed.
    let t = taken(&s, &fresh("failed")).await;
    s.fail("up", &t, MessageState::Rejected, 1, TTL)
        .await
        .unwrap();
    // Cancelled.
    s.submit(sub(&fresh("cancelled"), None, None))
        .await
        .unwrap();
    assert_eq!(
        s.cancel("cancelled", "u").await.unwrap(),
        CancelOutcome::Cancelled
    );
    // No receipt within its wait.
    let t = taken(&s, &fresh("unanswered")).await;
    s.sent("up", &t, &["u-u".to_string()], ms(1)).await.unwrap();
    tokio::time::sleep(ms(20)).await;
    assert_eq!(
        s.expire_unanswered("up", MessageState::Unknown, 10, TTL)
            .await
            .unwrap(),
        1
    );
    // Accepted three hours ago, delivered now: the retention more, at
    // most an hour.
    let mut old = fresh("old");
    old.accepted_ms = now - 3 * 3_600_000;
    sent(&s, &old, &["u-o"]).await;
    s.receipt("up", "u-o", part(MessageState::Delivered, 0), TTL)
        .await
        .unwrap();
    for (id, kept) in [
        ("delivered", retention),
        ("held", retention),
        ("failed", retention),
        ("cancelled", retention),
        ("unanswered", retention),
        ("old", retention.min(EXPIRY_GRACE_MS)),
    ] {
        let st = s.status(id).await.unwrap().expect(id);
        assert!(st.state.is_final(), "{id}: {:?}", st.state);
        let ttl: i64 = redis::cmd("PTTL")
            .arg(rs::message_key(id))
            .query_async(&mut r)
            .await
            .unwrap();
        assert!(ttl > kept - 60_000 && ttl <= kept, "{id}: {ttl}");
    }
}

/// A replace that gives a message a later validity keeps its hash that
/// much longer (and an hour), so the expiry sweep still finds it; one
/// with an earlier validity does not shorten it.
#[tokio::test]
async fn a_later_validity_by_replace_keeps_the_hash_longer() {
    use gateway::store::{ReplaceOutcome, Replacement};
    let server = Server::start();
    let s = store(&server);
    let r = raw(&server).await;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let mut m = message("r", "u", 1, 0);
    m.accepted_ms = now;
    m.expires_ms = Some(now + 3_600_000);
    s.submit(sub(&m, None, None)).await.unwrap();
    let pttl = || {
        let mut r = r.clone();
        async move {
            let t: i64 = redis::cmd("PTTL")
                .arg(rs::message_key("r"))
                .query_async(&mut r)
                .await
                .unwrap();
            t
        }
    };
    let kept = STATUS_RETENTION_MS;
    let t = pttl().await;
    assert!(t > kept - 60_000 && t <= kept, "{t}");
    let week = 7 * 24 * 3_600_000;
    for (until, kept) in [
        (now + week, week + EXPIRY_GRACE_MS),
        (now + 60_000, week + EXPIRY_GRACE_MS),
    ] {
        let edit = move |old: &StoredMessage| -> Result<Replacement, ()> {
            Ok(Replacement {
                submit: old.submit.clone(),
                parts: old.parts,
                expires_ms: Some(until),
            })
        };
        assert_eq!(
            s.replace("r", "u", edit).await.unwrap(),
            ReplaceOutcome::Replaced
        );
        let t = pttl().await;
        assert!(t > kept - 60_000 && t <= kept, "{until}: {t}");
    }
}

/// A message sent so late that its hash would expire before its receipt
/// wait ends is kept to the end of it and an hour; `sent` never
/// shortens a hash's life.
#[tokio::test]
async fn a_message_sent_late_is_kept_past_its_receipt_wait() {
    let server = Server::start();
    let s = store(&server);
    let r = raw(&server).await;
    // Accepted (the fixtures' time) months before now: by tern's reading
    // its hash expires before any receipt wait ends.
    for id in ["long", "short"] {
        s.submit(sub(&message(id, "u", 1, 0), None, None))
            .await
            .unwrap();
    }
    let taken = s.take("up", "w", 2, Duration::ZERO).await.unwrap();
    let pttl = |id: &'static str| {
        let mut r = r.clone();
        async move {
            let t: i64 = redis::cmd("PTTL")
                .arg(rs::message_key(id))
                .query_async(&mut r)
                .await
                .unwrap();
            t
        }
    };
    let hundred_hours = Duration::from_secs(100 * 3600);
    s.sent("up", &taken[0], &["x1".into()], hundred_hours)
        .await
        .unwrap();
    s.sent("up", &taken[1], &["x2".into()], Duration::from_secs(1))
        .await
        .unwrap();
    let want = 100 * 3600 * 1000 + EXPIRY_GRACE_MS;
    let long = pttl("long").await;
    assert!(long > want - 60_000 && long <= want, "{long}");
    // Its submit kept it 49 h: not shortened to the second's wait.
    let short = pttl("short").await;
    let kept = 48 * 3600 * 1000 + EXPIRY_GRACE_MS;
    assert!(short > kept - 60_000 && short <= kept, "{short}");
}

#[tokio::test]
async fn keys_and_retention() {
    let server = Server::start();
    let s = store(&server);
    let mut r = raw(&server).await;
    s.init_credit("u", 5_000_000).await.unwrap();
    let m = message("k1", "u", 1, 1_000_000);
    let limit = Some(Limit { rate: 10, burst: 5 });
    s.submit(sub(&m, limit, Some(1_000_000))).await.unwrap();
    let credit: i64 = redis::cmd("GET")
        .arg(rs::credit_key("u"))
        .query_async(&mut r)
        .await
        .unwrap();
    assert_eq!(credit, 4_000_000);
    assert_eq!(rs::credit_key("u"), "tern:{u:u}:credit");
    assert_eq!(rs::queue_key("up"), "tern:{c:up}:mt");
    let ttl: i64 = redis::cmd("PTTL")
        .arg(rs::message_key("k1"))
        .query_async(&mut r)
        .await
        .unwrap();
    // Kept for query_sm at least STATUS_RETENTION_MS, and past the end
    // of its validity by the grace the expiry sweep has (without a
    // validity_period: 48 h after acceptance).
    let kept = m.retention_ms(STATUS_RETENTION_MS);
    assert_eq!(
        kept,
        STATUS_RETENTION_MS.max(m.valid_until() - m.accepted_ms + EXPIRY_GRACE_MS)
    );
    assert!(kept >= STATUS_RETENTION_MS);
    assert!(ttl > kept - 60_000 && ttl <= kept, "{ttl}");
    // The throttle state vanishes by itself once it is in the past.
    let tat_ttl: i64 = redis::cmd("PTTL")
        .arg(rs::tat_key("u"))
        .query_async(&mut r)
        .await
        .unwrap();
    assert!(tat_ttl > 0 && tat_ttl <= 1_100, "{tat_ttl}");
    // The stream entry holds the message itself.
    let len: u64 = redis::cmd("XLEN")
        .arg(rs::queue_key("up"))
        .query_async(&mut r)
        .await
        .unwrap();
    assert_eq!(len, 1);
    let taken = s.take("up", "w1", 10, Duration::ZERO).await.unwrap();
    assert_eq!(taken.len(), 1);
    assert_eq!(*taken[0].message, m);
    // A retried submit of an accepted message is not charged twice.
    s.submit(sub(&m, limit, Some(1_000_000))).await.unwrap();
    assert_eq!(s.balance("u").await.unwrap(), Some(4_000_000));
}

#[tokio::test]
async fn two_processes_share_credit_and_throttle() {
    let server = Server::start();
    let a = store(&server);
    let b = store(&server);
    a.init_credit("u", 5_000_000).await.unwrap();
    b.init_credit("u", 99).await.unwrap();
    // 20 submits of one unit each, half through each store, concurrently.
    let mut tasks = Vec::new();
    for i in 0..20 {
        let s = if i % 2 == 0 { a.clone() } else { b.clone() };
        tasks.push(tokio::spawn(async move {
            let m = message(&format!("c{i}"), "u", 1, 1_000_000);
            s.submit(sub(&m, None, Some(1_000_000))).await
        }));
    }
    let mut ok = 0;
    for t in tasks {
        match t.await.unwrap() {
            Ok(()) => ok += 1,
            Err(e) => assert_eq!(e, Refusal::NoCredit),
        }
    }
    assert_eq!(ok, 5);
    assert_eq!(a.balance("u").await.unwrap(), Some(0));
    assert_eq!(b.balance("u").await.unwrap(), Some(0));
    assert_eq!(b.queue_depth("up").await.unwrap(), 5);

    // One limit for both: a burst of 3 at one part per second.
    let limit = Some(Limit { rate: 1, burst: 3 });
    let mut tasks = Vec::new();
    for i in 0..10 {
        let s = if i % 2 == 0 { a.clone() } else { b.clone() };
        tasks.push(tokio::spawn(async move {
            let m = message(&format!("t{i}"), "w", 1, 0);
            s.submit(sub(&m, limit, None)).await
        }));
    }
    let mut ok = 0;
    for t in tasks {
        match t.await.unwrap() {
            Ok(()) => ok += 1,
            Err(e) => assert_eq!(e, Refusal::Throttled),
        }
    }
    assert_eq!(ok, 3);

    // A message accepted through one is cancelled through the other.
    let m = message("x", "w", 1, 0);
    a.submit(sub(&m, None, None)).await.unwrap();
    assert_eq!(b.cancel("x", "w").await.unwrap(), CancelOutcome::Cancelled);
}

#[tokio::test]
async fn take_ack_and_reclaim_with_consumer_groups() {
    let server = Server::start();
    let s = store(&server);
    let other = store(&server);
    for i in 0..4 {
        let m = message(&format!("m{i}"), "u", 1, 0);
        s.submit(sub(&m, None, None)).await.unwrap();
    }
    // Two consumers (in two processes) share the queue.
    let first = s.take("up", "a", 2, Duration::ZERO).await.unwrap();
    assert_eq!(ids(&first), vec!["m0", "m1"]);
    let second = other.take("up", "b", 10, Duration::ZERO).await.unwrap();
    assert_eq!(ids(&second), vec!["m2", "m3"]);
    assert_eq!(s.queue_depth("up").await.unwrap(), 0);
    let sids: Vec<String> = second.iter().map(|t| t.token.clone()).collect();
    assert_eq!(other.ack("up", &sids).await.unwrap(), 2);
    assert_eq!(other.ack("up", &sids).await.unwrap(), 0);

    // "a" crashed with m0 and m1 unacknowledged: not yet idle long enough.
    assert!(
        other
            .reclaim("up", "b", 60_000, 10)
            .await
            .unwrap()
            .is_empty()
    );
    tokio::time::sleep(Duration::from_millis(150)).await;
    let reclaimed = other.reclaim("up", "b", 100, 10).await.unwrap();
    assert_eq!(ids(&reclaimed), vec!["m0", "m1"]);
    assert_eq!(reclaimed[0].message, first[0].message);
    let sids: Vec<String> = reclaimed.iter().map(|t| t.token.clone()).collect();
    assert_eq!(other.ack("up", &sids).await.unwrap(), 2);
    assert!(other.reclaim("up", "b", 0, 10).await.unwrap().is_empty());
    let mut r = raw(&server).await;
    let len: u64 = redis::cmd("XLEN")
        .arg(rs::queue_key("up"))
        .query_async(&mut r)
        .await
        .unwrap();
    assert_eq!(len, 0, "acknowledged entries are deleted");

    // An entry that is not a stored message is dropped, not a wedge.
    let _: String = redis::cmd("XADD")
        .arg(rs::queue_key("up"))
        .arg("*")
        .arg("id")
        .arg("junk")
        .arg("m")
        .arg("not a message")
        .query_async(&mut r)
        .await
        .unwrap();
    let m = message("after", "u", 1, 0);
    s.submit(sub(&m, None, None)).await.unwrap();
    assert_eq!(
        ids(&s.take("up", "a", 10, Duration::ZERO).await.unwrap()),
        vec!["after"]
    );
    assert!(s.reclaim("up", "a", 0, 10).await.unwrap().len() <= 2);
}

#[tokio::test]
async fn redis_down_fails_fast_and_recovery_needs_no_rebuild() {
    let mut server = Server::start();
    let port = server.port;
    let s = store(&server);
    s.init_credit("u", 10_000_000).await.unwrap();
    let m = message("before", "u", 1, 1_000_000);
    s.submit(sub(&m, None, Some(1_000_000))).await.unwrap();
    // Leave a dedicated blocking connection behind, to be found dead.
    assert!(s.take("other", "w", 10, ms(50)).await.unwrap().is_empty());

    server.kill();
    let t0 = Instant::now();
    let m = message("during", "u", 1, 1_000_000);
    match s.submit(sub(&m, None, Some(1_000_000))).await {
        Err(Refusal::Unavailable(e)) => assert!(!e.contains("127.0.0.1:"), "{e}"),
        other => panic!("{other:?}"),
    }
    assert!(s.status("before").await.is_err());
    assert!(s.balance("u").await.is_err());
    assert!(s.cancel("before", "u").await.is_err());
    assert!(s.queue_depth("up").await.is_err());
    assert!(s.ping().await.is_err());
    assert!(s.take("up", "w", 10, Duration::ZERO).await.is_err());
    assert!(s.take("up", "w", 10, ms(100)).await.is_err());
    assert!(s.ack("up", &["1-0".to_string()]).await.is_err());
    assert!(
        t0.elapsed() < Duration::from_secs(2),
        "took {:?}",
        t0.elapsed()
    );

    // Back on the same port (empty: no persistence in these tests).
    let _server = Server::start_on(port);
    s.ping().await.unwrap();
    s.init_credit("u", 3_000_000).await.unwrap();
    let m = message("after", "u", 1, 1_000_000);
    s.submit(sub(&m, None, Some(1_000_000))).await.unwrap();
    assert_eq!(s.balance("u").await.unwrap(), Some(2_000_000));
    let taken = s.take("up", "w", 10, ms(100)).await.unwrap();
    assert_eq!(ids(&taken), vec!["after"]);
    assert!(s.take("other", "w", 10, ms(50)).await.unwrap().is_empty());
}

#[tokio::test]
async fn a_bad_url_is_an_error_that_hides_it() {
    let e = RedisStore::connect("http://user:hunter2@host", RedisOptions::default()).unwrap_err();
    assert!(!e.0.contains("hunter2"), "{e}");
    let s = RedisStore::connect("redis://:hunter2@127.0.0.1:1/0", RedisOptions::default()).unwrap();
    assert!(!format!("{s:?}").contains("hunter2"));
    let e = s.ping().await.unwrap_err();
    assert!(!e.0.contains("hunter2"), "{e}");
}

#[tokio::test]
async fn a_restart_between_operations_is_invisible() {
    let mut server = Server::start();
    let port = server.port;
    let s = store(&server);
    // Several pooled connections and a kept blocking one, all idle.
    let mut tasks = Vec::new();
    for i in 0..8 {
        let s = s.clone();
        tasks.push(tokio::spawn(async move {
            let m = message(&format!("p{i}"), "u", 1, 0);
            s.submit(sub(&m, None, None)).await
        }));
    }
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    assert_eq!(s.take("up", "w", 100, ms(50)).await.unwrap().len(), 8);

    server.kill();
    let _server = Server::start_on(port);
    // Every connection is dead without knowing it yet: the first use of
    // each finds out and retries on a new one.
    s.init_credit("u", 1_000_000).await.unwrap();
    let m = message("q", "u", 1, 1_000);
    s.submit(sub(&m, None, Some(1_000))).await.unwrap();
    assert_eq!(s.balance("u").await.unwrap(), Some(999_000));
    assert_eq!(
        ids(&s.take("up", "w", 10, ms(100)).await.unwrap()),
        vec!["q"]
    );
}

#[tokio::test]
async fn a_hung_redis_fails_fast() {
    let server = Server::start();
    let s = store(&server);
    s.ping().await.unwrap();
    server.signal("-STOP");
    let t0 = Instant::now();
    let m = message("h", "u", 1, 0);
    let r = s.submit(sub(&m, None, None)).await;
    let first = t0.elapsed();
    let status = s.status("h").await;
    let total = t0.elapsed();
    server.signal("-CONT");
    assert!(matches!(r, Err(Refusal::Unavailable(_))), "{r:?}");
    assert!(status.is_err(), "{status:?}");
    assert!(
        first < Duration::from_millis(2_500),
        "submit took {first:?}"
    );
    assert!(total < Duration::from_secs(5), "took {total:?}");
    // Back: the same store works.
    let deadline = Instant::now() + Duration::from_secs(5);
    while s.ping().await.is_err() {
        assert!(Instant::now() < deadline, "no recovery");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let m = message("h2", "u", 1, 0);
    s.submit(sub(&m, None, None)).await.unwrap();
}

/// The hot path: one EVALSHA per submit, no PING or other command.
#[tokio::test]
async fn submit_is_one_round_trip() {
    let server = Server::start();
    let s = store(&server);
    s.init_credit("u", 1_000_000_000).await.unwrap();
    let limit = Some(Limit {
        rate: 10_000,
        burst: 10_000,
    });
    // Load the script once.
    let m = message("warm", "u", 1, 1);
    s.submit(sub(&m, limit, Some(1))).await.unwrap();
    let mut r = raw(&server).await;
    let _: () = redis::cmd("CONFIG")
        .arg("RESETSTAT")
        .query_async(&mut r)
        .await
        .unwrap();
    for i in 0..50 {
        let m = message(&format!("h{i}"), "u", 1, 1);
        s.submit(sub(&m, limit, Some(1))).await.unwrap();
    }
    let info: String = redis::cmd("INFO")
        .arg("commandstats")
        .query_async(&mut r)
        .await
        .unwrap();
    let calls = |cmd: &str| -> u64 {
        info.lines()
            .find_map(|l| l.strip_prefix(&format!("cmdstat_{cmd}:calls=")))
            .and_then(|rest| rest.split(',').next())
            .map_or(0, |n| n.parse().unwrap())
    };
    assert_eq!(calls("evalsha"), 50, "{info}");
    assert_eq!(calls("ping"), 0, "{info}");
    assert_eq!(calls("eval"), 0, "{info}");
}

/// A message redis cannot encode (a short_message longer than its 254
/// octets) is refused for good (Unstorable, as memory refuses it: the
/// contract's `submit::a_message_without_a_stored_form_is_refused`)
/// before the script runs: nothing charged, throttled, queued or kept.
#[tokio::test]
async fn a_message_that_cannot_be_encoded_is_refused_and_changes_nothing() {
    let server = Server::start();
    let s = store(&server);
    let mut r = raw(&server).await;
    s.init_credit("u", 1_000_000).await.unwrap();
    let limit = Some(Limit { rate: 1, burst: 1 });
    let mut long = message("m-long", "u", 1, 100_000);
    long.submit.short_message = bytes::Bytes::from(vec![b'x'; 255]);
    assert!(long.encode().is_err());
    match s.submit(sub(&long, limit, Some(100_000))).await {
        Err(Refusal::Unstorable(why)) => assert!(why.contains("m-long"), "{why}"),
        other => panic!("not refused as unstorable: {other:?}"),
    }
    assert_eq!(s.balance("u").await.unwrap(), Some(1_000_000));
    assert_eq!(s.queue_depth("up").await.unwrap(), 0);
    assert_eq!(s.status("m-long").await.unwrap(), None);
    assert_eq!(depth_parts(&mut r).await, (0, 0, 0, 0));
    for key in [rs::message_key("m-long"), rs::tat_key("u")] {
        let exists: i64 = redis::cmd("EXISTS")
            .arg(&key)
            .query_async(&mut r)
            .await
            .unwrap();
        assert_eq!(exists, 0, "{key}");
    }
    // Not throttled either: the burst of one is still there.
    let m = message("fits", "u", 1, 100_000);
    s.submit(sub(&m, limit, Some(100_000))).await.unwrap();
    assert_eq!(s.balance("u").await.unwrap(), Some(900_000));
    assert_eq!(
        ids(&s.take("up", "w", 10, Duration::ZERO).await.unwrap()),
        vec!["fits"]
    );
}

#[tokio::test]
async fn a_dead_consumers_messages_are_reclaimed() {
    let server = Server::start();
    let a = store(&server);
    let b = store(&server);
    s_submit(&a, &["m0", "m1", "m2"]).await;
    // Consumer A takes two and dies without settling them.
    let dead = a
        .take_with_reclaim("up", "A", 2, Duration::ZERO, 200)
        .await
        .unwrap();
    assert_eq!(ids(&dead), vec!["m0", "m1"]);
    // Not idle long enough yet: B gets only the queue.
    let fresh = b
        .take_with_reclaim("up", "B", 10, Duration::ZERO, 200)
        .await
        .unwrap();
    assert_eq!(ids(&fresh), vec!["m2"]);
    assert!(
        b.take_with_reclaim("up", "B", 10, Duration::ZERO, 200)
            .await
            .unwrap()
            .is_empty()
    );
    tokio::time::sleep(ms(300)).await;
    // With the real reclaim time, nothing yet.
    assert!(
        b.take("up", "B", 10, Duration::ZERO)
            .await
            .unwrap()
            .is_empty()
    );
    // m2 is B's own and idle too; B reclaims all three, oldest first,
    // with the same tokens.
    let back = b
        .take_with_reclaim("up", "B", 10, Duration::ZERO, 200)
        .await
        .unwrap();
    assert_eq!(ids(&back), vec!["m0", "m1", "m2"]);
    assert_eq!(back[0], dead[0]);
    assert_eq!(back[1], dead[1]);
    // Claimed: idle time starts over.
    assert!(
        b.take_with_reclaim("up", "B", 10, Duration::ZERO, 200)
            .await
            .unwrap()
            .is_empty()
    );
    b.sent("up", &back[0], &["u0".into()], ms(10_000))
        .await
        .unwrap();
    b.fail(
        "up",
        &back[1],
        MessageState::Rejected,
        1,
        Duration::from_secs(60),
    )
    .await
    .unwrap();
    b.retry("up", &back[2], ms(60_000)).await.unwrap();
    // A comes back late: its settles change nothing.
    a.retry("up", &dead[0], Duration::ZERO).await.unwrap();
    a.fail(
        "up",
        &dead[1],
        MessageState::Undeliverable,
        9,
        Duration::from_secs(60),
    )
    .await
    .unwrap();
    let mut r = raw(&server).await;
    assert_eq!(depth_parts(&mut r).await, (0, 1, 1, 0));
    assert_eq!(
        a.status("m1").await.unwrap().unwrap().state,
        MessageState::Rejected
    );
    assert_eq!(a.upstream("up", "u0").await.unwrap().as_deref(), Some("m0"));
    tokio::time::sleep(ms(300)).await;
    assert!(
        a.take_with_reclaim("up", "A", 10, Duration::ZERO, 200)
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn a_restarted_process_resends_its_unsettled_work_at_once() {
    let server = Server::start();
    // The process before the restart: takes and dies without settling.
    let before = store(&server);
    s_submit(&before, &["m0", "m1", "m2"]).await;
    let dead = before.take("up", "w1", 2, Duration::ZERO).await.unwrap();
    assert_eq!(ids(&dead), vec!["m0", "m1"]);
    for text in ["d0", "d1", "d2"] {
        before.deliver("u", &mo(text), TTL).await.unwrap();
    }
    let dead_d = before
        .take_deliveries("u", "rx1", 2, Duration::ZERO)
        .await
        .unwrap();
    assert_eq!(dead_d.len(), 2);
    drop(before);

    // Another process's consumers get none of it: not idle long enough.
    let third = store(&server);
    assert_eq!(
        ids(&third.take("up", "w2", 10, Duration::ZERO).await.unwrap()),
        vec!["m2"]
    );
    let d2 = third
        .take_deliveries("u", "rx2", 10, Duration::ZERO)
        .await
        .unwrap();
    assert_eq!(d2.len(), 1);
    assert_eq!(mo_text(&d2[0]), b"d2");

    // The restarted process, same consumer names: its own unsettled work
    // first, at once, a page at a time.
    let after = store(&server);
    let t0 = Instant::now();
    let again = after.take("up", "w1", 1, ms(5_000)).await.unwrap();
    assert!(t0.elapsed() < Duration::from_secs(1), "{:?}", t0.elapsed());
    assert_eq!(again, dead[..1]);
    let again = after.take("up", "w1", 1, Duration::ZERO).await.unwrap();
    assert_eq!(again, dead[1..]);
    // Recovered once: from now on, only new work.
    assert!(
        after
            .take("up", "w1", 10, Duration::ZERO)
            .await
            .unwrap()
            .is_empty()
    );
    s_submit(&after, &["m3"]).await;
    assert_eq!(
        ids(&after.take("up", "w1", 10, Duration::ZERO).await.unwrap()),
        vec!["m3"]
    );
    for t in &dead {
        after.sent("up", t, &[], TTL).await.unwrap();
    }

    // Deliveries: the recovered ones at once (alone), then new ones.
    after.deliver("u", &mo("d3"), TTL).await.unwrap();
    let t0 = Instant::now();
    let got = after
        .take_deliveries("u", "rx1", 10, ms(5_000))
        .await
        .unwrap();
    assert!(t0.elapsed() < Duration::from_secs(1), "{:?}", t0.elapsed());
    assert_eq!(got, dead_d);
    let new = after
        .take_deliveries("u", "rx1", 10, Duration::ZERO)
        .await
        .unwrap();
    assert_eq!(new.len(), 1);
    assert_eq!(mo_text(&new[0]), b"d3");
    assert!(
        after
            .take_deliveries("u", "rx1", 10, Duration::ZERO)
            .await
            .unwrap()
            .is_empty()
    );
    for d in got.iter().chain(&new).chain(&d2) {
        after
            .delivered("u", std::slice::from_ref(&d.token))
            .await
            .unwrap();
    }
    assert_eq!(after.delivery_depth("u").await.unwrap(), 0);
}

/// A read whose answer is lost — Redis runs the XREADGROUP, but its
/// answer never reaches the take (here Redis hangs past the response
/// timeout and runs the read once it is back; a Redis killed between a
/// read and its answer does the same) — leaves entries pending under the
/// consumer's name that nobody holds. The next take hands them out at
/// once, not after the reclaim time (found by tests/chaos.rs: receipts
/// 5 minutes late after a Redis kill), and nothing the consumer still
/// holds.
#[tokio::test]
async fn entries_a_lost_answer_left_pending_are_handed_out_by_the_next_take() {
    let server = Server::start();
    let s = store(&server);
    let mut r = raw(&server).await;
    s.deliver("u", &mo("held"), TTL).await.unwrap();
    let held = s
        .take_deliveries("u", "rx", 10, Duration::ZERO)
        .await
        .unwrap();
    assert_eq!(held.len(), 1);
    for text in ["lost1", "lost2"] {
        s.deliver("u", &mo(text), TTL).await.unwrap();
    }
    // The take's read goes out to a hung Redis and times out; Redis runs
    // it when it is back, for nobody.
    server.signal("-STOP");
    let failed = s.take_deliveries("u", "rx", 10, Duration::ZERO).await;
    server.signal("-CONT");
    assert!(failed.is_err(), "{failed:?}");
    let key = "tern:{u:u}:dlv";
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let p: redis::Value = redis::cmd("XPENDING")
            .arg(key)
            .arg("tern")
            .query_async(&mut r)
            .await
            .unwrap();
        let n = match p {
            redis::Value::Array(v) => match v.first() {
                Some(redis::Value::Int(n)) => *n,
                _ => 0,
            },
            _ => 0,
        };
        if n == 3 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the lost read never ran: {n} pending"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // What the lost answer carried comes now; what is held does not.
    let again = s
        .take_deliveries("u", "rx", 10, Duration::ZERO)
        .await
        .unwrap();
    let texts: Vec<&[u8]> = again.iter().map(mo_text).collect();
    assert_eq!(texts, vec![&b"lost1"[..], &b"lost2"[..]]);
    assert!(
        s.take_deliveries("u", "rx", 10, Duration::ZERO)
            .await
            .unwrap()
            .is_empty()
    );
    for d in held.iter().chain(&again) {
        s.delivered("u", std::slice::from_ref(&d.token))
            .await
            .unwrap();
    }
    assert_eq!(s.delivery_depth("u").await.unwrap(), 0);
}

/// The callback queue's restart recovery: a consumer name's callbacks
/// taken and not settled are handed out again, at once and alone, by a
/// new store with the same consumer name; another process's consumer
/// gets none of them before the reclaim time, but does get what was in
/// the retry set and what waits in the queue.
#[tokio::test]
async fn a_restarted_process_resends_its_unsettled_callbacks_at_once() {
    let server = Server::start();
    let before = store(&server);
    // A level-1 answer first, then calls made whole.
    let m = with_callback("s", 1, 0, DlrLevel::Smsc);
    sent(&before, &m, &["xs"]).await;
    for text in ["c1", "c2", "c3"] {
        before.queue_callback(&call(text), TTL).await.unwrap();
    }
    let dead = before
        .take_callbacks("cb1", 3, Duration::ZERO)
        .await
        .unwrap();
    assert_eq!(dead.len(), 3);
    assert!(matches!(
        dead[0].item,
        Callback::Submitted { status: 0, .. }
    ));
    assert_eq!(call_texts(&dead[1..]), vec!["c1", "c2"]);
    // "c2" failed once before the process died: in the retry set.
    before
        .retry_callback(&dead[2].token, Duration::ZERO)
        .await
        .unwrap();
    drop(before);

    // Another process's consumer: the queue and the due retry, not what
    // cb1 holds (not idle long enough).
    let third = store(&server);
    let other = third
        .take_callbacks("cb2", 10, Duration::ZERO)
        .await
        .unwrap();
    assert_eq!(call_texts(&other), vec!["c3", "c2"]);
    assert_eq!((other[0].attempts, other[1].attempts), (0, 1));
    third.callbacks_done(&cb_tokens(&other)).await.unwrap();
    assert_eq!(third.callback_depth().await.unwrap(), 2);

    // The restarted process, same consumer name: its own unsettled
    // callbacks first, at once, a page at a time, same tokens.
    let after = store(&server);
    after.queue_callback(&call("c4"), TTL).await.unwrap();
    let t0 = Instant::now();
    let again = after.take_callbacks("cb1", 1, ms(5_000)).await.unwrap();
    assert!(t0.elapsed() < Duration::from_secs(1), "{:?}", t0.elapsed());
    assert_eq!(again, dead[..1]);
    let again = after
        .take_callbacks("cb1", 2, Duration::ZERO)
        .await
        .unwrap();
    assert_eq!(again, dead[1..2]);
    // Recovered once: from now on, only new work.
    let new = after
        .take_callbacks("cb1", 10, Duration::ZERO)
        .await
        .unwrap();
    assert_eq!(call_texts(&new), vec!["c4"]);
    assert!(
        after
            .take_callbacks("cb1", 10, Duration::ZERO)
            .await
            .unwrap()
            .is_empty()
    );
    // What was recovered settles as anything taken.
    after
        .retry_callback(&dead[1].token, Duration::ZERO)
        .await
        .unwrap();
    let retried = after
        .take_callbacks("cb1", 10, Duration::ZERO)
        .await
        .unwrap();
    assert_eq!(call_texts(&retried), vec!["c1"]);
    assert_eq!(retried[0].attempts, 1);
    let mut done = cb_tokens(&dead[..1]);
    done.extend(cb_tokens(&new));
    done.extend(cb_tokens(&retried));
    after.callbacks_done(&done).await.unwrap();
    assert_eq!(after.callback_depth().await.unwrap(), 0);
}

#[tokio::test]
async fn cancel_is_decided_by_the_pending_list_and_ack_settles() {
    let server = Server::start();
    let s = store(&server);
    s_submit(&s, &["m0", "m1", "m2"]).await;
    let taken = s.take("up", "w1", 2, Duration::ZERO).await.unwrap();
    assert_eq!(ids(&taken), vec!["m0", "m1"]);
    // Decided by the group's pending list, not only by the advisory mark.
    let mut r = raw(&server).await;
    let _: i64 = redis::cmd("HDEL")
        .arg(rs::message_key("m1"))
        .arg("taken")
        .query_async(&mut r)
        .await
        .unwrap();
    assert_eq!(s.cancel("m1", "u").await.unwrap(), CancelOutcome::TooLate);
    assert_eq!(s.ack("up", &[taken[0].token.clone()]).await.unwrap(), 1);
    // Acknowledged: gone from the queue, still too late to cancel.
    assert_eq!(s.cancel("m0", "u").await.unwrap(), CancelOutcome::TooLate);
    let rest = s.take("up", "w1", 10, Duration::ZERO).await.unwrap();
    assert_eq!(ids(&rest), vec!["m2"]);
    assert_eq!(s.queue_depth("up").await.unwrap(), 0);
}

#[tokio::test]
async fn sent_sets_expiring_mappings_and_settles_the_entry() {
    let server = Server::start();
    let s = store(&server);
    let mut r = raw(&server).await;
    let m = message("a", "u", 2, 0);
    let taken = {
        s.submit(sub(&m, None, None)).await.unwrap();
        s.take("up", "w", 10, Duration::ZERO).await.unwrap()
    };
    let up = vec!["x1".to_string(), "x2".to_string()];
    s.sent("up", &taken[0], &up, ms(400)).await.unwrap();
    assert_eq!(rs::upstream_key("up", "x1"), "tern:{c:up}:up:x1");
    let ttl: i64 = redis::cmd("PTTL")
        .arg(rs::upstream_key("up", "x1"))
        .query_async(&mut r)
        .await
        .unwrap();
    assert!(ttl > 0 && ttl <= 400, "{ttl}");
    // Settled: the entry is acknowledged and deleted.
    assert_eq!(depth_parts(&mut r).await, (0, 0, 0, 0));
    assert_eq!(s.ack("up", &[taken[0].token.clone()]).await.unwrap(), 0);
    // A zero ttl, and no upstream ids: settled all the same.
    let b = message("b", "u", 1, 0);
    s.submit(sub(&b, None, None)).await.unwrap();
    let taken = s.take("up", "w", 10, Duration::ZERO).await.unwrap();
    s.sent("up", &taken[0], &["y".into()], Duration::ZERO)
        .await
        .unwrap();
    let c = message("c", "u", 1, 0);
    s.submit(sub(&c, None, None)).await.unwrap();
    let taken = s.take("up", "w", 10, Duration::ZERO).await.unwrap();
    s.sent("up", &taken[0], &[], ms(1_000)).await.unwrap();
    assert_eq!(depth_parts(&mut r).await, (0, 0, 0, 0));
}

#[tokio::test]
async fn a_retry_moves_between_the_retry_set_and_the_stream() {
    let server = Server::start();
    let s = store(&server);
    let mut r = raw(&server).await;
    let a = message("a", "u", 1, 0);
    let taken = taken(&s, &a).await;
    s.retry("up", &taken, ms(400)).await.unwrap();
    assert_eq!(depth_parts(&mut r).await, (0, 1, 1, 0));
    tokio::time::sleep(ms(450)).await;
    let again = s.take("up", "w", 10, Duration::ZERO).await.unwrap();
    assert_eq!(ids(&again), vec!["a"]);
    // The first token was settled by the retry: no second retry.
    s.retry("up", &taken, Duration::ZERO).await.unwrap();
    assert_eq!(depth_parts(&mut r).await.1, 0);
    // Due while a take blocks: moved to the stream and read.
    s.retry("up", &again[0], ms(300)).await.unwrap();
    let third = s.take("up", "w", 10, ms(5_000)).await.unwrap();
    assert_eq!(ids(&third), vec!["a"]);
    s.sent("up", &third[0], &["z".into()], ms(10_000))
        .await
        .unwrap();
    // Nothing left behind in the connector's keys.
    assert_eq!(depth_parts(&mut r).await, (0, 0, 0, 0));
}

#[tokio::test]
async fn fail_settles_and_keeps_the_message_hash_ttl() {
    let server = Server::start();
    let s = store(&server);
    let mut r = raw(&server).await;
    s.init_credit("u", 1_000_000).await.unwrap();
    let mut a = message("a", "u", 2, 100_000);
    // Accepted now: a final message keeps its state for the retention
    // from its acceptance (the fixture's acceptance is months ago).
    a.accepted_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    s.submit(sub(&a, None, Some(a.charge_micro())))
        .await
        .unwrap();
    let taken = s.take("up", "w", 10, Duration::ZERO).await.unwrap();
    s.fail(
        "up",
        &taken[0],
        MessageState::Rejected,
        0x45,
        Duration::from_secs(60),
    )
    .await
    .unwrap();
    assert_eq!(depth_parts(&mut r).await, (0, 0, 0, 0));
    // The message hash keeps its retention ttl.
    let ttl: i64 = redis::cmd("PTTL")
        .arg(rs::message_key("a"))
        .query_async(&mut r)
        .await
        .unwrap();
    assert!(
        ttl > STATUS_RETENTION_MS - 60_000 && ttl <= STATUS_RETENTION_MS,
        "{ttl}"
    );
    // A message whose hash expired: settled, no hash without a ttl made.
    let h = message("h", "u", 1, 1_000);
    s.submit(sub(&h, None, Some(1_000))).await.unwrap();
    let taken = s.take("up", "w", 10, Duration::ZERO).await.unwrap();
    let _: i64 = redis::cmd("DEL")
        .arg(rs::message_key("h"))
        .query_async(&mut r)
        .await
        .unwrap();
    s.fail(
        "up",
        &taken[0],
        MessageState::Rejected,
        0,
        Duration::from_secs(60),
    )
    .await
    .unwrap();
    s.sent("up", &taken[0], &[], ms(1_000)).await.unwrap();
    assert_eq!(s.status("h").await.unwrap(), None);
    assert_eq!(depth_parts(&mut r).await, (0, 0, 0, 0));
}

#[tokio::test]
async fn a_cancelled_retry_leaves_nothing_in_the_connectors_keys() {
    let server = Server::start();
    let s = store(&server);
    let mut r = raw(&server).await;
    let a = message("a", "u", 1, 0);
    let t = taken(&s, &a).await;
    s.retry("up", &t, ms(60_000)).await.unwrap();
    assert_eq!(s.cancel("a", "u").await.unwrap(), CancelOutcome::Cancelled);
    assert_eq!(depth_parts(&mut r).await, (0, 0, 0, 0));

    // Due and back in the stream, not taken yet: cancelled from there.
    let b = message("b", "u", 1, 0);
    let t = taken(&s, &b).await;
    s.retry("up", &t, ms(200)).await.unwrap();
    let c = message("c", "u", 1, 0);
    s.submit(sub(&c, None, None)).await.unwrap();
    tokio::time::sleep(ms(250)).await;
    // This take moves b to the stream's tail and takes only c.
    let got_c = s.take("up", "w", 1, Duration::ZERO).await.unwrap();
    assert_eq!(ids(&got_c), vec!["c"]);
    assert_eq!(depth_parts(&mut r).await, (2, 0, 0, 1));
    assert_eq!(s.cancel("b", "u").await.unwrap(), CancelOutcome::Cancelled);

    // Back in the stream and taken again, then sent.
    s.retry("up", &got_c[0], ms(1)).await.unwrap();
    tokio::time::sleep(ms(20)).await;
    let again = s.take("up", "w", 10, Duration::ZERO).await.unwrap();
    assert_eq!(ids(&again), vec!["c"]);
    s.sent("up", &again[0], &["c1".into()], ms(1_000))
        .await
        .unwrap();
    assert_eq!(depth_parts(&mut r).await, (0, 0, 0, 0));
}

#[tokio::test]
async fn receipt_keys_and_a_message_past_its_retention() {
    let server = Server::start();
    let s = store(&server);
    let mut r = raw(&server).await;
    assert_eq!(rs::delivery_key("u"), "tern:{u:u}:dlv");
    assert_eq!(rs::held_key("up", "x"), "tern:{c:up}:held:x");
    let a = with_rd("a", 1, 1);
    let rd: String = redis::cmd("HGET")
        .arg(rs::message_key("a"))
        .arg("rd")
        .query_async(&mut r)
        .await
        .map(|v: Option<String>| v.unwrap_or_default())
        .unwrap();
    assert_eq!(rd, "", "not submitted yet");
    sent(&s, &a, &["xa"]).await;
    let rd: String = redis::cmd("HGET")
        .arg(rs::message_key("a"))
        .arg("rd")
        .query_async(&mut r)
        .await
        .unwrap();
    assert_eq!(rd, "1");

    // A message past its retention: nothing to do.
    sent(&s, &with_rd("f", 1, 1), &["xf"]).await;
    let _: i64 = redis::cmd("DEL")
        .arg(rs::message_key("f"))
        .query_async(&mut r)
        .await
        .unwrap();
    assert_eq!(
        s.receipt("up", "xf", part(MessageState::Delivered, 0), TTL)
            .await
            .unwrap(),
        ReceiptOutcome::Duplicate
    );
    assert_eq!(s.status("f").await.unwrap(), None);
    assert_eq!(s.delivery_depth("u").await.unwrap(), 0);
}

#[tokio::test]
async fn a_held_receipt_is_a_key_with_its_ttl_until_sent_applies_it() {
    let server = Server::start();
    let s = store(&server);
    let mut r = raw(&server).await;
    let a = with_rd("a", 1, 1);
    let t = taken(&s, &a).await;
    let ttl = ms(60_000);
    assert_eq!(
        s.receipt("up", "xa", part(MessageState::Delivered, 0), ttl)
            .await
            .unwrap(),
        ReceiptOutcome::Held
    );
    let pttl: i64 = redis::cmd("PTTL")
        .arg(rs::held_key("up", "xa"))
        .query_async(&mut r)
        .await
        .unwrap();
    assert!(pttl > 50_000 && pttl <= 60_000, "{pttl}");
    s.sent("up", &t, &["xa".into()], ttl).await.unwrap();
    let exists: i64 = redis::cmd("EXISTS")
        .arg(rs::held_key("up", "xa"))
        .query_async(&mut r)
        .await
        .unwrap();
    assert_eq!(exists, 0, "applied and gone");
}

/// The message hash's part count (`pn`).
async fn parts_of(r: &mut redis::aio::MultiplexedConnection, id: &str) -> String {
    redis::cmd("HGET")
        .arg(rs::message_key(id))
        .arg("pn")
        .query_async(r)
        .await
        .unwrap()
}

#[tokio::test]
async fn the_first_sent_records_the_parts() {
    let server = Server::start();
    let s = store(&server);
    let mut r = raw(&server).await;
    let b = with_rd("b", 3, 1);
    sent(&s, &b, &["y1", "y2", "y3"]).await;
    assert_eq!(parts_of(&mut r, "b").await, "3");
    let st = s.status("b").await.unwrap().unwrap();
    // A repeated sent (another token, other ids even) does not change them.
    let t = Taken {
        token: "1-1".into(),
        message: b.clone().into(),
    };
    s.sent("up", &t, &["y1".into(), "y2".into()], TTL)
        .await
        .unwrap();
    assert_eq!(parts_of(&mut r, "b").await, "3");
    assert_eq!(s.status("b").await.unwrap().unwrap(), st);
}

#[tokio::test]
async fn deliveries_are_reclaimed_across_processes_and_corrupt_ones_dropped() {
    let server = Server::start();
    let s = store(&server);
    let other = store(&server);
    let mut r = raw(&server).await;
    for text in ["one", "two"] {
        s.deliver("v", &mo(text), ms(30_000)).await.unwrap();
    }
    let first = s
        .take_deliveries("v", "a", 10, Duration::ZERO)
        .await
        .unwrap();
    assert_eq!(first.len(), 2);
    // Another process's consumer gets nothing taken and not idle yet ...
    assert!(
        other
            .take_deliveries("v", "b", 10, Duration::ZERO)
            .await
            .unwrap()
            .is_empty()
    );
    // ... until it is (a dead consumer's), oldest first, same tokens.
    tokio::time::sleep(ms(150)).await;
    let back = other
        .take_deliveries_with_reclaim("v", "b", 10, Duration::ZERO, 100)
        .await
        .unwrap();
    assert_eq!(tokens(&back), tokens(&first));
    for d in &back {
        other
            .delivered("v", std::slice::from_ref(&d.token))
            .await
            .unwrap();
    }
    assert_eq!(s.delivery_depth("v").await.unwrap(), 0);

    // Entries that do not decode are dropped, not a wedge.
    for fields in [
        vec!["k", "mo", "p", "junk", "q", "1", "exp", "2"],
        vec!["k", "r", "q", "1", "exp", "2", "m", "junk"],
        vec!["k", "??", "q", "1", "exp", "2"],
        vec!["k", "mo"],
    ] {
        let _: String = redis::cmd("XADD")
            .arg(rs::delivery_key("v"))
            .arg("*")
            .arg(&fields)
            .query_async(&mut r)
            .await
            .unwrap();
    }
    s.deliver("v", &mo("after"), TTL).await.unwrap();
    let got = s
        .take_deliveries("v", "a", 10, Duration::ZERO)
        .await
        .unwrap();
    assert_eq!(got.len(), 1);
    assert_eq!(mo_text(&got[0]), b"after");
    assert_eq!(s.delivery_depth("v").await.unwrap(), 1);
}

/// A replace whose message changes between its read and its script (a
/// second replace in between) reads again and calls `edit` again on what
/// it finds: the compare-and-swap never stores a replacement made from a
/// message that is no longer there.
#[tokio::test]
async fn a_replace_that_races_another_reads_again() {
    use gateway::store::{ReplaceOutcome, Replacement};
    let server = Server::start();
    let s = store(&server);
    let m = message("r", "u", 1, 0);
    s.submit(sub(&m, None, None)).await.unwrap();
    let mut sneaked = m.clone();
    sneaked.submit.short_message = bytes::Bytes::from_static(b"sneaked in");
    let sneaked_bytes = sneaked.encode().unwrap().to_vec();
    let other = std::sync::Mutex::new(
        redis::Client::open(server.url())
            .unwrap()
            .get_connection()
            .unwrap(),
    );
    let seen = std::sync::Mutex::new(Vec::new());
    let edit = |old: &StoredMessage| -> Result<Replacement, ()> {
        let mut seen = seen.lock().unwrap();
        seen.push(old.submit.short_message.clone());
        if seen.len() == 1 {
            // Another replace lands between this read and the script.
            redis::cmd("HSET")
                .arg(rs::message_key("r"))
                .arg("m")
                .arg(&sneaked_bytes[..])
                .query::<()>(&mut *other.lock().unwrap())
                .unwrap();
        }
        let mut submit = old.submit.clone();
        submit.short_message = bytes::Bytes::from_static(b"mine");
        Ok(Replacement {
            submit,
            parts: old.parts,
            expires_ms: None,
        })
    };
    assert_eq!(
        s.replace("r", "u", edit).await.unwrap(),
        ReplaceOutcome::Replaced
    );
    assert_eq!(
        *seen.lock().unwrap(),
        vec![
            bytes::Bytes::new(),
            bytes::Bytes::from_static(b"sneaked in")
        ]
    );
    let t = s.take("up", "w", 10, Duration::ZERO).await.unwrap();
    assert_eq!(ids(&t), vec!["r"]);
    assert_eq!(&t[0].message.submit.short_message[..], b"mine");
}

/// The callback queue's keys: the stream holds what is ready or taken,
/// a retry leaves it for the retry set (its fields packed in
/// `retry:v`, its id from `seq`) and comes back as a new entry; the
/// message hash keeps a callback's level; entries that do not decode
/// are dropped, not a wedge.
#[tokio::test]
async fn the_callback_queue_keys_and_corrupt_entries() {
    use rs::keys::{callback_key, callback_retry_items_key, callback_retry_key, callback_seq_key};
    let server = Server::start();
    let s = store(&server);
    let mut r = raw(&server).await;
    async fn sizes(r: &mut redis::aio::MultiplexedConnection) -> (u64, u64, u64) {
        redis::pipe()
            .cmd("XLEN")
            .arg(callback_key())
            .cmd("ZCARD")
            .arg(callback_retry_key())
            .cmd("HLEN")
            .arg(callback_retry_items_key())
            .query_async(r)
            .await
            .unwrap()
    }
    let m = with_callback("a", 1, 1, DlrLevel::Both);
    sent(&s, &m, &["xa"]).await;
    let level: Option<String> = redis::cmd("HGET")
        .arg(rs::message_key("a"))
        .arg("cb")
        .query_async(&mut r)
        .await
        .unwrap();
    assert_eq!(level.as_deref(), Some("3"));
    sent(&s, &message("b", "u", 1, 0), &["xb"]).await;
    let plain: Option<String> = redis::cmd("HGET")
        .arg(rs::message_key("b"))
        .arg("cb")
        .query_async(&mut r)
        .await
        .unwrap();
    assert_eq!(plain, None);
    assert_eq!(sizes(&mut r).await, (1, 0, 0));
    let got = s.take_callbacks("c", 10, Duration::ZERO).await.unwrap();
    assert_eq!(got.len(), 1);
    s.retry_callback(&got[0].token, ms(60_000)).await.unwrap();
    assert_eq!(sizes(&mut r).await, (0, 1, 1));
    let seq: u64 = redis::cmd("GET")
        .arg(callback_seq_key())
        .query_async(&mut r)
        .await
        .unwrap();
    assert_eq!(seq, 1);
    assert_eq!(s.callback_depth().await.unwrap(), 1);
    // Due now (the test moves its score): back in the stream, whole.
    let _: () = redis::cmd("ZADD")
        .arg(callback_retry_key())
        .arg(0)
        .arg(format!("{seq:020}"))
        .query_async(&mut r)
        .await
        .unwrap();
    let back = s.take_callbacks("c", 10, Duration::ZERO).await.unwrap();
    assert_eq!(sizes(&mut r).await, (1, 0, 0));
    assert_eq!(back.len(), 1);
    assert_eq!(back[0].item, got[0].item);
    assert_eq!(back[0].attempts, 1);
    s.callbacks_done(&cb_tokens(&back)).await.unwrap();
    assert_eq!(sizes(&mut r).await, (0, 0, 0));

    for fields in [
        vec!["k", "c", "v", "junk", "q", "1", "exp", "2", "n", "0"],
        vec![
            "k", "r", "q", "1", "exp", "2", "n", "0", "c", "up", "up", "x", "m", "junk",
        ],
        vec!["k", "s", "q", "1", "exp", "2", "n", "0"],
        vec!["k", "??", "q", "1", "exp", "2", "n", "0"],
        vec!["k", "c"],
    ] {
        let _: String = redis::cmd("XADD")
            .arg(callback_key())
            .arg("*")
            .arg(&fields)
            .query_async(&mut r)
            .await
            .unwrap();
    }
    s.queue_callback(&call("after"), TTL).await.unwrap();
    let got = s.take_callbacks("c", 10, Duration::ZERO).await.unwrap();
    assert_eq!(call_texts(&got), vec!["after"]);
    assert_eq!(s.callback_depth().await.unwrap(), 1);
}

/// `evalsha` calls that ran since Redis' last `CONFIG RESETSTAT`: its
/// calls less the NOSCRIPT refusals (before the first load).
async fn evalsha_calls(r: &mut redis::aio::MultiplexedConnection) -> u64 {
    let info: String = redis::cmd("INFO")
        .arg("commandstats")
        .arg("errorstats")
        .query_async(r)
        .await
        .unwrap();
    let stat = |line: &str, field: &str| -> u64 {
        info.lines()
            .find_map(|l| l.strip_prefix(line))
            .and_then(|l| l.split(',').find_map(|f| f.strip_prefix(field)))
            .map_or(0, |n| n.trim().parse().unwrap())
    };
    stat("cmdstat_evalsha:", "calls=") - stat("errorstat_NOSCRIPT:", "count=")
}

#[tokio::test]
async fn sents_and_receipts_waiting_together_run_as_one_script_each_answered_alone() {
    let server = Server::start();
    let s = store(&server);
    let mut r = raw(&server).await;
    let n = 40;
    let messages: Vec<StoredMessage> = (0..n).map(|i| with_rd(&format!("m{i}"), 1, 1)).collect();
    for m in &messages {
        s.submit(sub(m, None, None)).await.unwrap();
    }
    let taken = s.take("up", "w", n, Duration::ZERO).await.unwrap();
    assert_eq!(taken.len(), n);
    let ups: Vec<Vec<String>> = (0..n).map(|i| vec![format!("x{i}")]).collect();
    let _: () = redis::cmd("CONFIG")
        .arg("RESETSTAT")
        .query_async(&mut r)
        .await
        .unwrap();
    // Every sent waits for the same pipeline: one invocation of the
    // merged script serves them all (a current-thread runtime: the
    // batching task runs once they are all queued).
    let answers = futures_util::future::join_all(
        taken.iter().zip(&ups).map(|(t, u)| s.sent("up", t, u, TTL)),
    )
    .await;
    assert!(answers.iter().all(Result::is_ok), "{answers:?}");
    assert_eq!(evalsha_calls(&mut r).await, 1);
    for i in 0..n {
        let id: Option<String> = redis::cmd("GET")
            .arg(rs::upstream_key("up", &format!("x{i}")))
            .query_async(&mut r)
            .await
            .unwrap();
        assert_eq!(id.as_deref(), Some(format!("m{i}").as_str()));
    }
    assert_eq!(depth_parts(&mut r).await, (0, 0, 0, 0));
    // One message whose hash is not a hash: its receipt fails, alone.
    let bad = rs::message_key("m7");
    let _: () = redis::cmd("DEL")
        .arg(&bad)
        .query_async(&mut r)
        .await
        .unwrap();
    let _: () = redis::cmd("SET")
        .arg(&bad)
        .arg("x")
        .query_async(&mut r)
        .await
        .unwrap();
    let _: () = redis::cmd("CONFIG")
        .arg("RESETSTAT")
        .query_async(&mut r)
        .await
        .unwrap();
    let outcomes = futures_util::future::join_all(
        ups.iter()
            .map(|u| s.receipt("up", &u[0], part(MessageState::Delivered, 0), TTL)),
    )
    .await;
    assert_eq!(evalsha_calls(&mut r).await, 1);
    for (i, o) in outcomes.iter().enumerate() {
        if i == 7 {
            let e = o.as_ref().unwrap_err();
            assert!(e.0.contains("WRONGTYPE"), "{e}");
        } else {
            assert_eq!(
                o,
                &Ok(ReceiptOutcome::Final {
                    state: MessageState::Delivered,
                    queued: true
                }),
                "m{i}"
            );
        }
    }
    // The others' receipts are queued for the user, once each.
    let len: u64 = redis::cmd("XLEN")
        .arg(rs::delivery_key("u"))
        .query_async(&mut r)
        .await
        .unwrap();
    assert_eq!(len, n as u64 - 1);
}
