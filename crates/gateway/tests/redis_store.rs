//! The redis store against a real `redis-server`: each test starts its own
//! on a free loopback port (no persistence) and kills it when done.
//!
//! Needs `redis-server` on PATH (Debian: `apt-get install redis-server`);
//! without it these tests fail, they do not skip.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use bytes::Bytes;
use gateway::store::redis::{self as rs, RedisOptions, RedisStore};
use gateway::store::{
    CancelOutcome, Delivery, DeliveryItem, Limit, PartReceipt, ReceiptOutcome, Refusal,
    STATUS_RETENTION_MS, Store, StoredMessage, Submission, Taken, UserReceipt,
};
use smpp::MessageState;
use smpp::pdu::{DeliverSm, RegisteredDelivery};

/// A redis-server child process, killed on drop.
struct Server {
    child: Option<Child>,
    port: u16,
}

impl Server {
    fn start() -> Server {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        Server::start_on(port)
    }

    fn start_on(port: u16) -> Server {
        let dir = std::env::temp_dir();
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string()])
            .args(["--bind", "127.0.0.1"])
            .args(["--save", ""])
            .args(["--appendonly", "no"])
            .args(["--daemonize", "no"])
            .arg("--dir")
            .arg(&dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn();
        let child = match child {
            Ok(c) => c,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => panic!(
                "redis-server is not on PATH: these tests need a real Redis. \
                 Install it (Debian/Ubuntu: `apt-get install -y redis-server`; \
                 `make test` does this) and run them again."
            ),
            Err(e) => panic!("cannot start redis-server: {e}"),
        };
        let mut s = Server {
            child: Some(child),
            port,
        };
        s.wait_ready();
        s
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/0", self.port)
    }

    fn wait_ready(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Ok(mut c) = TcpStream::connect(("127.0.0.1", self.port)) {
                let _ = c.set_read_timeout(Some(Duration::from_millis(500)));
                let mut buf = [0u8; 16];
                if c.write_all(b"PING\r\n").is_ok()
                    && c.read(&mut buf)
                        .is_ok_and(|n| buf[..n].starts_with(b"+PONG"))
                {
                    return;
                }
            }
            if let Some(Ok(Some(status))) = self.child.as_mut().map(|c| c.try_wait()) {
                panic!("redis-server exited early: {status}");
            }
            assert!(
                Instant::now() < deadline,
                "redis-server did not answer PING"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Send a signal to the server (STOP / CONT: a hung Redis).
    fn signal(&self, sig: &str) {
        let pid = self.child.as_ref().unwrap().id().to_string();
        let ok = Command::new("kill")
            .args([sig, &pid])
            .status()
            .unwrap()
            .success();
        assert!(ok, "kill {sig} {pid}");
    }

    fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

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

fn message(id: &str, user: &str, parts: u32, rate: i64) -> StoredMessage {
    StoredMessage {
        id: id.into(),
        user: user.into(),
        connectors: vec!["up".into()],
        submit: Default::default(),
        parts,
        rate_micro: rate,
        accepted_ms: 1_790_000_000_000,
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

fn limited(m: &StoredMessage) -> Submission<'_> {
    let mut x = sub(m, None, None);
    x.queue_limit = 3;
    x
}

fn ids(taken: &[Taken]) -> Vec<String> {
    taken.iter().map(|t| t.message.id.clone()).collect()
}

#[tokio::test]
async fn credit_is_charged_atomically_and_refunded_on_cancel() {
    let server = Server::start();
    let s = store(&server);
    s.ping().await.unwrap();
    assert_eq!(s.balance("u").await.unwrap(), None);
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
    // The refusal changed nothing.
    assert_eq!(s.balance("u").await.unwrap(), Some(400_000));
    assert_eq!(s.queue_depth("up").await.unwrap(), 1);
    assert_eq!(s.status("b").await.unwrap(), None);

    let st = s.status("a").await.unwrap().unwrap();
    assert_eq!(st.user, "u");
    assert_eq!(st.state, MessageState::Enroute);
    assert_eq!(st.accepted_ms, a.accepted_ms);
    assert_eq!(st.final_ms, None);
    assert_eq!(st.error_code, 0);

    assert_eq!(
        s.cancel("a", "someone-else").await.unwrap(),
        CancelOutcome::NotFound
    );
    assert_eq!(
        s.cancel("nope", "u").await.unwrap(),
        CancelOutcome::NotFound
    );
    assert_eq!(s.cancel("a", "u").await.unwrap(), CancelOutcome::Cancelled);
    assert_eq!(s.balance("u").await.unwrap(), Some(1_000_000));
    assert_eq!(s.queue_depth("up").await.unwrap(), 0);
    let st = s.status("a").await.unwrap().unwrap();
    assert_eq!(st.state, MessageState::Deleted);
    assert!(st.final_ms.is_some());
    assert_eq!(s.cancel("a", "u").await.unwrap(), CancelOutcome::TooLate);
    assert_eq!(s.balance("u").await.unwrap(), Some(1_000_000));
    assert!(
        s.take("up", "w1", 10, Duration::ZERO)
            .await
            .unwrap()
            .is_empty()
    );

    // Unlimited credit: nothing tracked, nothing charged or refunded.
    let c = message("c", "free", 1, 0);
    s.submit(sub(&c, None, None)).await.unwrap();
    assert_eq!(s.balance("free").await.unwrap(), None);
    assert_eq!(
        s.cancel("c", "free").await.unwrap(),
        CancelOutcome::Cancelled
    );
    assert_eq!(s.balance("free").await.unwrap(), None);
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
    assert!(
        ttl > STATUS_RETENTION_MS - 60_000 && ttl <= STATUS_RETENTION_MS,
        "{ttl}"
    );
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
async fn throttle_refusal_changes_nothing() {
    let server = Server::start();
    let s = store(&server);
    s.init_credit("u", 10_000_000).await.unwrap();
    let limit = Some(Limit { rate: 1, burst: 2 });
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
    assert_eq!(s.queue_depth("up").await.unwrap(), 2);
    assert_eq!(s.status("m2").await.unwrap(), None);
    // A 2-part message needs room for 2 even after one interval.
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    let big = message("big", "u", 2, 1_000_000);
    assert_eq!(
        s.submit(sub(&big, limit, Some(2_000_000))).await,
        Err(Refusal::Throttled)
    );
    s.submit(sub(&m, limit, Some(1_000_000))).await.unwrap();
    assert_eq!(s.balance("u").await.unwrap(), Some(7_000_000));
    // Another user has their own limit.
    let other = message("o", "v", 1, 0);
    s.submit(sub(&other, limit, None)).await.unwrap();
}

#[tokio::test]
async fn queue_limit_and_taking_in_order() {
    let server = Server::start();
    let s = store(&server);
    for i in 0..3 {
        let m = message(&format!("m{i}"), "u", 1, 0);
        s.submit(limited(&m)).await.unwrap();
    }
    let m3 = message("m3", "u", 1, 0);
    assert_eq!(s.submit(limited(&m3)).await, Err(Refusal::QueueFull));
    assert_eq!(s.status("m3").await.unwrap(), None);
    let taken = s.take("up", "w1", 2, Duration::ZERO).await.unwrap();
    assert_eq!(ids(&taken), vec!["m0", "m1"]);
    assert_eq!(s.queue_depth("up").await.unwrap(), 1);
    // Taken (being sent upstream): too late to cancel.
    assert_eq!(s.cancel("m0", "u").await.unwrap(), CancelOutcome::TooLate);
    assert_eq!(
        s.status("m2").await.unwrap().unwrap().state,
        MessageState::Enroute
    );
    // Decided by the group's pending list, not only by the advisory mark.
    let mut r = raw(&server).await;
    let _: i64 = redis::cmd("HDEL")
        .arg(rs::message_key("m1"))
        .arg("taken")
        .query_async(&mut r)
        .await
        .unwrap();
    assert_eq!(s.cancel("m1", "u").await.unwrap(), CancelOutcome::TooLate);
    // Taken messages no longer count against the limit.
    s.submit(limited(&m3)).await.unwrap();
    assert_eq!(s.queue_depth("up").await.unwrap(), 2);
    assert_eq!(s.ack("up", &[taken[0].token.clone()]).await.unwrap(), 1);
    // Acknowledged: gone from the queue, still too late to cancel.
    assert_eq!(s.cancel("m0", "u").await.unwrap(), CancelOutcome::TooLate);
    let rest = s.take("up", "w1", 10, Duration::ZERO).await.unwrap();
    assert_eq!(ids(&rest), vec!["m2", "m3"]);
    assert_eq!(s.queue_depth("up").await.unwrap(), 0);
    // An empty queue of an unknown connector.
    assert_eq!(s.queue_depth("nowhere").await.unwrap(), 0);
    assert!(
        s.take("nowhere", "w1", 10, Duration::ZERO)
            .await
            .unwrap()
            .is_empty()
    );
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

    // A blocking take on an empty queue waits, and wakes for a submit.
    let t0 = Instant::now();
    assert!(s.take("up", "a", 10, ms(300)).await.unwrap().is_empty());
    assert!(t0.elapsed() >= Duration::from_millis(250));
    let waiter = {
        let s = s.clone();
        tokio::spawn(async move { s.take("up", "a", 10, ms(5_000)).await })
    };
    tokio::time::sleep(Duration::from_millis(200)).await;
    let t0 = Instant::now();
    let m = message("late", "u", 1, 0);
    // The pool is not held up by the blocked read.
    s.submit(sub(&m, None, None)).await.unwrap();
    let got = waiter.await.unwrap().unwrap();
    assert_eq!(ids(&got), vec!["late"]);
    assert!(t0.elapsed() < Duration::from_secs(2));
    assert_eq!(s.cancel("late", "u").await.unwrap(), CancelOutcome::TooLate);

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

#[tokio::test]
async fn sent_maps_upstream_ids_until_their_ttl() {
    let server = Server::start();
    let s = store(&server);
    let mut r = raw(&server).await;
    let m = message("a", "u", 2, 0);
    s.submit(sub(&m, None, None)).await.unwrap();
    let taken = s.take("up", "w", 10, Duration::ZERO).await.unwrap();
    assert_eq!(ids(&taken), vec!["a"]);
    assert_eq!(*taken[0].message, m);
    let up = vec!["x1".to_string(), "x2".to_string()];
    s.sent("up", &taken[0], &up, ms(400)).await.unwrap();
    assert_eq!(rs::upstream_key("up", "x1"), "tern:{c:up}:up:x1");
    assert_eq!(s.upstream("up", "x1").await.unwrap().as_deref(), Some("a"));
    assert_eq!(s.upstream("up", "x2").await.unwrap().as_deref(), Some("a"));
    assert_eq!(s.upstream("other", "x1").await.unwrap(), None);
    assert_eq!(s.upstream("up", "nope").await.unwrap(), None);
    let ttl: i64 = redis::cmd("PTTL")
        .arg(rs::upstream_key("up", "x1"))
        .query_async(&mut r)
        .await
        .unwrap();
    assert!(ttl > 0 && ttl <= 400, "{ttl}");
    // Sent: ENROUTE until its receipt, too late to cancel, settled (the
    // entry is acknowledged and deleted).
    let st = s.status("a").await.unwrap().unwrap();
    assert_eq!(st.state, MessageState::Enroute);
    assert_eq!(st.final_ms, None);
    assert_eq!(s.cancel("a", "u").await.unwrap(), CancelOutcome::TooLate);
    assert_eq!(depth_parts(&mut r).await, (0, 0, 0, 0));
    assert_eq!(s.ack("up", &[taken[0].token.clone()]).await.unwrap(), 0);
    // Settling the settled token again queues nothing.
    s.retry("up", &taken[0], Duration::ZERO).await.unwrap();
    assert!(
        s.take("up", "w", 10, Duration::ZERO)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(s.queue_depth("up").await.unwrap(), 0);
    // A repeated sent is harmless.
    s.sent("up", &taken[0], &up, ms(400)).await.unwrap();
    assert_eq!(s.status("a").await.unwrap().unwrap(), st);

    tokio::time::sleep(ms(500)).await;
    assert_eq!(s.upstream("up", "x1").await.unwrap(), None);
    assert_eq!(s.upstream("up", "x2").await.unwrap(), None);
    // A zero ttl is not a Redis error.
    let b = message("b", "u", 1, 0);
    s.submit(sub(&b, None, None)).await.unwrap();
    let taken = s.take("up", "w", 10, Duration::ZERO).await.unwrap();
    s.sent("up", &taken[0], &["y".into()], Duration::ZERO)
        .await
        .unwrap();
    // No upstream ids: settled all the same.
    let c = message("c", "u", 1, 0);
    s.submit(sub(&c, None, None)).await.unwrap();
    let taken = s.take("up", "w", 10, Duration::ZERO).await.unwrap();
    s.sent("up", &taken[0], &[], ms(1_000)).await.unwrap();
    assert_eq!(depth_parts(&mut r).await, (0, 0, 0, 0));
}

#[tokio::test]
async fn retry_waits_for_its_delay_and_rejoins_the_queue() {
    let server = Server::start();
    let s = store(&server);
    let mut r = raw(&server).await;
    s.init_credit("u", 1_000_000).await.unwrap();
    let a = message("a", "u", 1, 1_000);
    s.submit(sub(&a, None, Some(1_000))).await.unwrap();
    let taken = s.take("up", "w", 10, Duration::ZERO).await.unwrap();
    assert_eq!(s.queue_depth("up").await.unwrap(), 0);
    s.retry("up", &taken[0], ms(400)).await.unwrap();
    // Waiting in the retry set counts as queued, and against the limit.
    assert_eq!(s.queue_depth("up").await.unwrap(), 1);
    assert_eq!(depth_parts(&mut r).await, (0, 1, 1, 0));
    assert_eq!(
        s.status("a").await.unwrap().unwrap().state,
        MessageState::Enroute
    );
    let b = message("b", "u", 1, 1_000);
    let mut x = sub(&b, None, Some(1_000));
    x.queue_limit = 1;
    assert_eq!(s.submit(x).await, Err(Refusal::QueueFull));
    s.submit(sub(&b, None, Some(1_000))).await.unwrap();
    assert_eq!(s.queue_depth("up").await.unwrap(), 2);
    let got_b = s.take("up", "w", 10, Duration::ZERO).await.unwrap();
    assert_eq!(ids(&got_b), vec!["b"]);
    s.sent("up", &got_b[0], &[], ms(1_000)).await.unwrap();
    assert!(
        s.take("up", "w", 10, Duration::ZERO)
            .await
            .unwrap()
            .is_empty()
    );
    tokio::time::sleep(ms(450)).await;
    let again = s.take("up", "w", 10, Duration::ZERO).await.unwrap();
    assert_eq!(ids(&again), vec!["a"]);
    assert_eq!(*again[0].message, a);
    assert_ne!(again[0].token, taken[0].token);
    assert_eq!(s.queue_depth("up").await.unwrap(), 0);
    // The first token was settled by the retry: no second retry.
    s.retry("up", &taken[0], Duration::ZERO).await.unwrap();
    assert_eq!(depth_parts(&mut r).await.1, 0);
    // Charged once, never refunded by retries.
    assert_eq!(s.balance("u").await.unwrap(), Some(998_000));

    // A blocking take wakes when a retry falls due.
    s.retry("up", &again[0], ms(300)).await.unwrap();
    let t0 = Instant::now();
    let third = s.take("up", "w", 10, ms(5_000)).await.unwrap();
    let waited = t0.elapsed();
    assert_eq!(ids(&third), vec!["a"]);
    assert!(
        waited >= ms(200) && waited < Duration::from_secs(2),
        "{waited:?}"
    );
    s.sent("up", &third[0], &["z".into()], ms(10_000))
        .await
        .unwrap();
    // Nothing left behind in the connector's keys.
    assert_eq!(depth_parts(&mut r).await, (0, 0, 0, 0));
    assert_eq!(s.upstream("up", "z").await.unwrap().as_deref(), Some("a"));
}

#[tokio::test]
async fn fail_is_final_and_refunds_tracked_credit_once() {
    let server = Server::start();
    let s = store(&server);
    let mut r = raw(&server).await;
    s.init_credit("u", 1_000_000).await.unwrap();
    let a = message("a", "u", 2, 100_000);
    s.submit(sub(&a, None, Some(a.charge_micro())))
        .await
        .unwrap();
    assert_eq!(s.balance("u").await.unwrap(), Some(800_000));
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
    let st = s.status("a").await.unwrap().unwrap();
    assert_eq!(st.state, MessageState::Rejected);
    assert_eq!(st.error_code, 0x45);
    assert!(st.final_ms.is_some());
    assert_eq!(s.balance("u").await.unwrap(), Some(1_000_000));
    assert_eq!(depth_parts(&mut r).await, (0, 0, 0, 0));
    // Settled: a second fail (or a cancel) refunds nothing more.
    s.fail(
        "up",
        &taken[0],
        MessageState::Undeliverable,
        1,
        Duration::from_secs(60),
    )
    .await
    .unwrap();
    assert_eq!(s.status("a").await.unwrap().unwrap(), st);
    assert_eq!(s.balance("u").await.unwrap(), Some(1_000_000));
    assert_eq!(s.cancel("a", "u").await.unwrap(), CancelOutcome::TooLate);
    // The message hash keeps its retention ttl.
    let ttl: i64 = redis::cmd("PTTL")
        .arg(rs::message_key("a"))
        .query_async(&mut r)
        .await
        .unwrap();
    assert!(ttl > STATUS_RETENTION_MS - 60_000, "{ttl}");

    // Unlimited: no credit key, and fail does not make one.
    let f = message("f", "free", 1, 100_000);
    s.submit(sub(&f, None, None)).await.unwrap();
    let taken = s.take("up", "w", 10, Duration::ZERO).await.unwrap();
    s.fail(
        "up",
        &taken[0],
        MessageState::Expired,
        0,
        Duration::from_secs(60),
    )
    .await
    .unwrap();
    assert_eq!(
        s.status("f").await.unwrap().unwrap().state,
        MessageState::Expired
    );
    assert_eq!(s.balance("free").await.unwrap(), None);
    // Submitted while unlimited, credit tracked since: nothing charged,
    // nothing refunded.
    let g = message("g", "v", 1, 100_000);
    s.submit(sub(&g, None, None)).await.unwrap();
    s.init_credit("v", 5).await.unwrap();
    let taken = s.take("up", "w", 10, Duration::ZERO).await.unwrap();
    s.fail(
        "up",
        &taken[0],
        MessageState::Rejected,
        0,
        Duration::from_secs(60),
    )
    .await
    .unwrap();
    assert_eq!(s.balance("v").await.unwrap(), Some(5));
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
async fn a_message_in_the_retry_set_can_be_cancelled() {
    let server = Server::start();
    let s = store(&server);
    let mut r = raw(&server).await;
    s.init_credit("u", 1_000_000).await.unwrap();
    let a = message("a", "u", 1, 1_000);
    s.submit(sub(&a, None, Some(1_000))).await.unwrap();
    let taken = s.take("up", "w", 10, Duration::ZERO).await.unwrap();
    s.retry("up", &taken[0], ms(60_000)).await.unwrap();
    assert_eq!(s.cancel("a", "v").await.unwrap(), CancelOutcome::NotFound);
    assert_eq!(s.cancel("a", "u").await.unwrap(), CancelOutcome::Cancelled);
    let st = s.status("a").await.unwrap().unwrap();
    assert_eq!(st.state, MessageState::Deleted);
    assert!(st.final_ms.is_some());
    assert_eq!(s.balance("u").await.unwrap(), Some(1_000_000));
    assert_eq!(s.queue_depth("up").await.unwrap(), 0);
    assert_eq!(depth_parts(&mut r).await, (0, 0, 0, 0));
    assert_eq!(s.cancel("a", "u").await.unwrap(), CancelOutcome::TooLate);
    assert_eq!(s.balance("u").await.unwrap(), Some(1_000_000));

    // Due and back in the stream, not taken yet: still cancellable.
    let b = message("b", "u", 1, 1_000);
    s.submit(sub(&b, None, Some(1_000))).await.unwrap();
    let taken = s.take("up", "w", 10, Duration::ZERO).await.unwrap();
    s.retry("up", &taken[0], ms(200)).await.unwrap();
    let c = message("c", "u", 1, 1_000);
    s.submit(sub(&c, None, Some(1_000))).await.unwrap();
    tokio::time::sleep(ms(250)).await;
    // This take moves b to the stream's tail and takes only c.
    let got_c = s.take("up", "w", 1, Duration::ZERO).await.unwrap();
    assert_eq!(ids(&got_c), vec!["c"]);
    assert_eq!(depth_parts(&mut r).await, (2, 0, 0, 1));
    assert_eq!(s.queue_depth("up").await.unwrap(), 1);
    assert_eq!(s.cancel("b", "u").await.unwrap(), CancelOutcome::Cancelled);
    assert_eq!(s.queue_depth("up").await.unwrap(), 0);
    assert!(
        s.take("up", "w", 10, Duration::ZERO)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(s.balance("u").await.unwrap(), Some(999_000));

    // Back in the stream and taken again: too late.
    s.retry("up", &got_c[0], ms(1)).await.unwrap();
    tokio::time::sleep(ms(20)).await;
    let again = s.take("up", "w", 10, Duration::ZERO).await.unwrap();
    assert_eq!(ids(&again), vec!["c"]);
    assert_eq!(s.cancel("c", "u").await.unwrap(), CancelOutcome::TooLate);
    s.sent("up", &again[0], &["c1".into()], ms(1_000))
        .await
        .unwrap();
    assert_eq!(s.cancel("c", "u").await.unwrap(), CancelOutcome::TooLate);
    assert_eq!(depth_parts(&mut r).await, (0, 0, 0, 0));
    assert_eq!(s.balance("u").await.unwrap(), Some(999_000));
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

async fn s_submit(s: &RedisStore, names: &[&str]) {
    for id in names {
        let m = message(id, "u", 1, 0);
        s.submit(sub(&m, None, None)).await.unwrap();
    }
}

// ---- receipts and the users' delivery queues ----

const TTL: Duration = Duration::from_secs(3_600);
const DONE: i64 = 1_790_000_100_000;

/// A one-connector message asking for receipts per `rd`.
fn with_rd(id: &str, parts: u32, rd: u8) -> StoredMessage {
    let mut m = message(id, "u", parts, 0);
    m.submit.registered_delivery = RegisteredDelivery(rd);
    m
}

/// Submit and take `m` (on connector "up").
async fn taken(s: &RedisStore, m: &StoredMessage) -> Taken {
    s.submit(sub(m, None, None)).await.unwrap();
    let mut t = s.take("up", "w", 1, Duration::ZERO).await.unwrap();
    assert_eq!(t.len(), 1);
    let t = t.remove(0);
    assert_eq!(&*t.message, m);
    t
}

/// Submit, take and send `m` upstream as `ups`.
async fn sent(s: &RedisStore, m: &StoredMessage, ups: &[&str]) -> Taken {
    let t = taken(s, m).await;
    let ups: Vec<String> = ups.iter().map(|u| u.to_string()).collect();
    s.sent("up", &t, &ups, TTL).await.unwrap();
    t
}

fn part(state: MessageState, error_code: u16) -> PartReceipt {
    PartReceipt {
        state,
        error_code,
        done_ms: DONE,
    }
}

async fn rcpt(s: &RedisStore, up: &str, state: MessageState, err: u16) -> ReceiptOutcome {
    s.receipt("up", up, part(state, err), TTL).await.unwrap()
}

fn fin(state: MessageState, queued: bool) -> ReceiptOutcome {
    ReceiptOutcome::Final { state, queued }
}

/// Everything waiting in `user`'s queue, taken and delivered.
async fn drain(s: &RedisStore, user: &str) -> Vec<Delivery> {
    let got = s
        .take_deliveries(user, "drain", 100, Duration::ZERO)
        .await
        .unwrap();
    for d in &got {
        s.delivered(user, std::slice::from_ref(&d.token))
            .await
            .unwrap();
    }
    got
}

fn receipt_of(d: &Delivery) -> &UserReceipt {
    match &d.item {
        DeliveryItem::Receipt(r) => r,
        other => panic!("not a receipt: {other:?}"),
    }
}

fn mo(text: &'static str) -> DeliveryItem {
    DeliveryItem::Mo(DeliverSm::<Bytes> {
        short_message: Bytes::from_static(text.as_bytes()),
        ..Default::default()
    })
}

fn mo_text(d: &Delivery) -> &[u8] {
    match &d.item {
        DeliveryItem::Mo(m) => &m.short_message,
        other => panic!("not an MO: {other:?}"),
    }
}

fn tokens(ds: &[Delivery]) -> Vec<String> {
    ds.iter().map(|d| d.token.clone()).collect()
}

/// The queue entry's stamps: queued by Redis' clock, expiring `ttl` later.
fn assert_stamped(d: &Delivery, ttl: Duration) {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    assert!((d.queued_ms - now).abs() < 60_000, "{d:?}");
    assert_eq!(d.expires_ms - d.queued_ms, ttl.as_millis() as i64, "{d:?}");
}

#[tokio::test]
async fn a_receipt_after_sent_is_queued_as_registered_delivery_asks() {
    let server = Server::start();
    let s = store(&server);
    let mut r = raw(&server).await;
    assert_eq!(rs::delivery_key("u"), "tern:{u:u}:dlv");
    assert_eq!(rs::held_key("up", "x"), "tern:{c:up}:held:x");

    // rd = 1: always.
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
    assert_eq!(s.delivery_depth("u").await.unwrap(), 0);
    assert_eq!(
        rcpt(&s, "xa", MessageState::Delivered, 0).await,
        fin(MessageState::Delivered, true)
    );
    let st = s.status("a").await.unwrap().unwrap();
    assert_eq!(st.state, MessageState::Delivered);
    assert_eq!(st.final_ms, Some(DONE));
    assert_eq!(st.error_code, 0);
    assert_eq!(s.delivery_depth("u").await.unwrap(), 1);
    // The SMSC sends it again: counted once, queued once.
    assert_eq!(
        rcpt(&s, "xa", MessageState::Delivered, 0).await,
        ReceiptOutcome::Duplicate
    );
    assert_eq!(
        rcpt(&s, "xa", MessageState::Undeliverable, 1).await,
        ReceiptOutcome::Duplicate
    );
    assert_eq!(s.status("a").await.unwrap().unwrap(), st);
    assert_eq!(s.delivery_depth("u").await.unwrap(), 1);
    let got = s
        .take_deliveries("u", "rx", 10, Duration::ZERO)
        .await
        .unwrap();
    assert_eq!(got.len(), 1);
    assert_eq!(
        receipt_of(&got[0]),
        &UserReceipt {
            message: a.clone().into(),
            state: MessageState::Delivered,
            error_code: 0,
            sub: 1,
            dlvrd: 1,
            done_ms: DONE,
        }
    );
    assert_stamped(&got[0], TTL);
    // Taken, not delivered yet: still counted.
    assert_eq!(s.delivery_depth("u").await.unwrap(), 1);
    s.delivered("u", std::slice::from_ref(&got[0].token))
        .await
        .unwrap();
    assert_eq!(s.delivery_depth("u").await.unwrap(), 0);

    // rd = 0: never.
    sent(&s, &with_rd("b", 1, 0), &["xb"]).await;
    assert_eq!(
        rcpt(&s, "xb", MessageState::Delivered, 0).await,
        fin(MessageState::Delivered, false)
    );
    assert_eq!(
        s.status("b").await.unwrap().unwrap().state,
        MessageState::Delivered
    );
    // rd = 2: on failure only.
    sent(&s, &with_rd("c", 1, 2), &["xc"]).await;
    assert_eq!(
        rcpt(&s, "xc", MessageState::Delivered, 0).await,
        fin(MessageState::Delivered, false)
    );
    assert_eq!(s.delivery_depth("u").await.unwrap(), 0);
    let d = with_rd("d", 1, 2);
    sent(&s, &d, &["xd"]).await;
    // An error code wider than query_sm's one octet.
    assert_eq!(
        rcpt(&s, "xd", MessageState::Undeliverable, 0x1ff).await,
        fin(MessageState::Undeliverable, true)
    );
    let st = s.status("d").await.unwrap().unwrap();
    assert_eq!(st.state, MessageState::Undeliverable);
    assert_eq!(st.error_code, 0xff, "clamped for query_sm");
    assert_eq!(st.final_ms, Some(DONE));
    let got = drain(&s, "u").await;
    assert_eq!(got.len(), 1);
    let rc = receipt_of(&got[0]);
    assert_eq!(*rc.message, d);
    assert_eq!(rc.state, MessageState::Undeliverable);
    assert_eq!(rc.error_code, 0x1ff, "kept whole for the receipt");
    assert_eq!((rc.sub, rc.dlvrd), (1, 0));

    // A receipt without a done date is final now.
    sent(&s, &with_rd("e", 1, 1), &["xe"]).await;
    let mut p = part(MessageState::Expired, 0);
    p.done_ms = 0;
    assert_eq!(
        s.receipt("up", "xe", p, TTL).await.unwrap(),
        fin(MessageState::Expired, true)
    );
    let final_ms = s.status("e").await.unwrap().unwrap().final_ms.unwrap();
    let got = drain(&s, "u").await;
    assert_eq!(receipt_of(&got[0]).done_ms, final_ms);
    assert!((got[0].queued_ms - final_ms).abs() < 1_000);

    // A message past its retention: nothing to do.
    sent(&s, &with_rd("f", 1, 1), &["xf"]).await;
    let _: i64 = redis::cmd("DEL")
        .arg(rs::message_key("f"))
        .query_async(&mut r)
        .await
        .unwrap();
    assert_eq!(
        rcpt(&s, "xf", MessageState::Delivered, 0).await,
        ReceiptOutcome::Duplicate
    );
    assert_eq!(s.status("f").await.unwrap(), None);
    assert_eq!(s.delivery_depth("u").await.unwrap(), 0);
}

#[tokio::test]
async fn a_receipt_before_sent_is_held_and_sent_applies_it() {
    let server = Server::start();
    let s = store(&server);
    let mut r = raw(&server).await;
    let a = with_rd("a", 1, 1);
    let t = taken(&s, &a).await;
    // The SMSC answered the submit_sm and sent the receipt before tern
    // recorded the upstream id.
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
    assert_eq!(
        s.status("a").await.unwrap().unwrap().state,
        MessageState::Enroute
    );
    assert_eq!(s.delivery_depth("u").await.unwrap(), 0);
    s.sent("up", &t, &["xa".into()], ttl).await.unwrap();
    let st = s.status("a").await.unwrap().unwrap();
    assert_eq!(st.state, MessageState::Delivered);
    assert_eq!(st.final_ms, Some(DONE));
    let exists: i64 = redis::cmd("EXISTS")
        .arg(rs::held_key("up", "xa"))
        .query_async(&mut r)
        .await
        .unwrap();
    assert_eq!(exists, 0, "applied and gone");
    // A repeated sent applies nothing twice.
    s.sent("up", &t, &["xa".into()], ttl).await.unwrap();
    assert_eq!(
        rcpt(&s, "xa", MessageState::Delivered, 0).await,
        ReceiptOutcome::Duplicate
    );
    let got = drain(&s, "u").await;
    assert_eq!(got.len(), 1);
    assert_eq!(receipt_of(&got[0]).state, MessageState::Delivered);
    assert_eq!(*receipt_of(&got[0]).message, a);
    assert_stamped(&got[0], ttl);

    // Two parts, one held (replaced by a later one for the same id), one
    // after sent.
    let b = with_rd("b", 2, 1);
    let t = taken(&s, &b).await;
    assert_eq!(
        rcpt(&s, "y2", MessageState::Delivered, 0).await,
        ReceiptOutcome::Held
    );
    assert_eq!(
        rcpt(&s, "y2", MessageState::Undeliverable, 7).await,
        ReceiptOutcome::Held
    );
    s.sent("up", &t, &["y1".into(), "y2".into()], TTL)
        .await
        .unwrap();
    assert_eq!(
        s.status("b").await.unwrap().unwrap().state,
        MessageState::Enroute
    );
    assert_eq!(s.delivery_depth("u").await.unwrap(), 0);
    assert_eq!(
        rcpt(&s, "y1", MessageState::Delivered, 0).await,
        fin(MessageState::Undeliverable, true)
    );
    let st = s.status("b").await.unwrap().unwrap();
    assert_eq!((st.state, st.error_code), (MessageState::Undeliverable, 7));
    let got = drain(&s, "u").await;
    assert_eq!(got.len(), 1);
    let rc = receipt_of(&got[0]);
    assert_eq!((rc.sub, rc.dlvrd, rc.error_code), (2, 1, 7));

    // A held receipt with nobody to apply it expires.
    assert_eq!(
        s.receipt("up", "lost", part(MessageState::Delivered, 0), ms(100))
            .await
            .unwrap(),
        ReceiptOutcome::Held
    );
    tokio::time::sleep(ms(200)).await;
    let c = with_rd("c", 1, 1);
    sent(&s, &c, &["lost"]).await;
    assert_eq!(
        s.status("c").await.unwrap().unwrap().state,
        MessageState::Enroute
    );
}

#[tokio::test]
async fn a_multipart_message_is_final_when_every_part_is() {
    let server = Server::start();
    let s = store(&server);
    let mut r = raw(&server).await;
    let a = with_rd("a", 3, 1);
    sent(&s, &a, &["x1", "x2", "x3"]).await;
    let pn: String = redis::cmd("HGET")
        .arg(rs::message_key("a"))
        .arg("pn")
        .query_async(&mut r)
        .await
        .unwrap();
    assert_eq!(pn, "3");
    assert_eq!(
        rcpt(&s, "x1", MessageState::Delivered, 0).await,
        ReceiptOutcome::Partial
    );
    assert_eq!(
        rcpt(&s, "x1", MessageState::Delivered, 0).await,
        ReceiptOutcome::Duplicate
    );
    assert_eq!(
        rcpt(&s, "x2", MessageState::Delivered, 0).await,
        ReceiptOutcome::Partial
    );
    let st = s.status("a").await.unwrap().unwrap();
    assert_eq!((st.state, st.final_ms), (MessageState::Enroute, None));
    assert_eq!(s.delivery_depth("u").await.unwrap(), 0);
    assert_eq!(
        rcpt(&s, "x3", MessageState::Delivered, 0).await,
        fin(MessageState::Delivered, true)
    );
    assert_eq!(
        rcpt(&s, "x3", MessageState::Delivered, 0).await,
        ReceiptOutcome::Duplicate
    );
    let got = drain(&s, "u").await;
    assert_eq!(got.len(), 1);
    let rc = receipt_of(&got[0]);
    assert_eq!(
        (rc.state, rc.sub, rc.dlvrd),
        (MessageState::Delivered, 3, 3)
    );

    // One part undeliverable: the message is, with that part's error.
    let b = with_rd("b", 3, 1);
    sent(&s, &b, &["y1", "y2", "y3"]).await;
    assert_eq!(
        rcpt(&s, "y1", MessageState::Delivered, 0).await,
        ReceiptOutcome::Partial
    );
    assert_eq!(
        rcpt(&s, "y2", MessageState::Undeliverable, 5).await,
        ReceiptOutcome::Partial
    );
    assert_eq!(
        rcpt(&s, "y3", MessageState::Delivered, 0).await,
        fin(MessageState::Undeliverable, true)
    );
    let st = s.status("b").await.unwrap().unwrap();
    assert_eq!(st.state, MessageState::Undeliverable);
    assert_eq!(st.error_code, 5);
    assert_eq!(st.final_ms, Some(DONE));
    let got = drain(&s, "u").await;
    assert_eq!(got.len(), 1);
    let rc = receipt_of(&got[0]);
    assert_eq!(
        (rc.state, rc.error_code, rc.sub, rc.dlvrd),
        (MessageState::Undeliverable, 5, 3, 2)
    );
    // A repeated sent (other ids even) does not change the parts.
    let t = Taken {
        token: "1-1".into(),
        message: b.clone().into(),
    };
    s.sent("up", &t, &["y1".into(), "y2".into()], TTL)
        .await
        .unwrap();
    let pn: String = redis::cmd("HGET")
        .arg(rs::message_key("b"))
        .arg("pn")
        .query_async(&mut r)
        .await
        .unwrap();
    assert_eq!(pn, "3");
    assert_eq!(s.status("b").await.unwrap().unwrap(), st);
}

#[tokio::test]
async fn intermediate_receipts_are_queued_when_asked_for() {
    let server = Server::start();
    let s = store(&server);
    let a = with_rd("a", 2, 0x11);
    sent(&s, &a, &["x1", "x2"]).await;
    assert_eq!(
        rcpt(&s, "x1", MessageState::Enroute, 0).await,
        ReceiptOutcome::Intermediate { queued: true }
    );
    // A value outside the table is not final either.
    assert_eq!(
        rcpt(&s, "x2", MessageState::Other(9), 3).await,
        ReceiptOutcome::Intermediate { queued: true }
    );
    let st = s.status("a").await.unwrap().unwrap();
    assert_eq!((st.state, st.final_ms), (MessageState::Enroute, None));
    assert_eq!(
        rcpt(&s, "x1", MessageState::Delivered, 0).await,
        ReceiptOutcome::Partial
    );
    assert_eq!(
        rcpt(&s, "x2", MessageState::Delivered, 0).await,
        fin(MessageState::Delivered, true)
    );
    let got = drain(&s, "u").await;
    let seen: Vec<_> = got
        .iter()
        .map(|d| {
            let r = receipt_of(d);
            (r.state, r.error_code, r.sub, r.dlvrd)
        })
        .collect();
    assert_eq!(
        seen,
        vec![
            (MessageState::Enroute, 0, 2, 0),
            (MessageState::Other(9), 3, 2, 0),
            (MessageState::Delivered, 0, 2, 2),
        ]
    );
    assert!(got.iter().all(|d| *receipt_of(d).message == a));

    // Not asked for: nothing queued, nothing changed.
    sent(&s, &with_rd("b", 1, 1), &["y"]).await;
    assert_eq!(
        rcpt(&s, "y", MessageState::Enroute, 0).await,
        ReceiptOutcome::Intermediate { queued: false }
    );
    // Intermediate only (0x10): no final receipt.
    sent(&s, &with_rd("c", 1, 0x10), &["z"]).await;
    assert_eq!(
        rcpt(&s, "z", MessageState::Enroute, 0).await,
        ReceiptOutcome::Intermediate { queued: true }
    );
    assert_eq!(
        rcpt(&s, "z", MessageState::Delivered, 0).await,
        fin(MessageState::Delivered, false)
    );
    assert_eq!(drain(&s, "u").await.len(), 1);
}

#[tokio::test]
async fn fail_queues_one_final_receipt_when_asked_for() {
    let server = Server::start();
    let s = store(&server);
    let a = with_rd("a", 2, 1);
    let t = taken(&s, &a).await;
    let ttl = ms(90_000);
    s.fail("up", &t, MessageState::Rejected, 0x45, ttl)
        .await
        .unwrap();
    assert_eq!(s.delivery_depth("u").await.unwrap(), 1);
    // Settled already: no second receipt.
    s.fail("up", &t, MessageState::Rejected, 0x45, ttl)
        .await
        .unwrap();
    s.fail("up", &t, MessageState::Undeliverable, 1, ttl)
        .await
        .unwrap();
    assert_eq!(s.delivery_depth("u").await.unwrap(), 1);
    let st = s.status("a").await.unwrap().unwrap();
    let got = drain(&s, "u").await;
    assert_eq!(got.len(), 1);
    assert_eq!(
        receipt_of(&got[0]),
        &UserReceipt {
            message: a.into(),
            state: MessageState::Rejected,
            error_code: 0x45,
            sub: 2,
            dlvrd: 0,
            done_ms: st.final_ms.unwrap(),
        }
    );
    assert_stamped(&got[0], ttl);

    // rd = 0: nothing; rd = 2: a failure is reported.
    let t = taken(&s, &with_rd("b", 1, 0)).await;
    s.fail("up", &t, MessageState::Rejected, 1, ttl)
        .await
        .unwrap();
    assert_eq!(s.delivery_depth("u").await.unwrap(), 0);
    let t = taken(&s, &with_rd("c", 1, 2)).await;
    s.fail("up", &t, MessageState::Expired, 0, ttl)
        .await
        .unwrap();
    let got = drain(&s, "u").await;
    assert_eq!(got.len(), 1);
    assert_eq!(receipt_of(&got[0]).state, MessageState::Expired);
}

#[tokio::test]
async fn deliveries_are_taken_settled_and_redelivered_at_the_tail() {
    let server = Server::start();
    let s = store(&server);
    let other = store(&server);
    let mut r = raw(&server).await;
    assert_eq!(s.delivery_depth("v").await.unwrap(), 0);
    assert!(
        s.take_deliveries("v", "a", 10, Duration::ZERO)
            .await
            .unwrap()
            .is_empty()
    );
    for text in ["one", "two", "three"] {
        s.deliver("v", &mo(text), ms(30_000)).await.unwrap();
    }
    assert_eq!(s.delivery_depth("v").await.unwrap(), 3);
    let first = s
        .take_deliveries("v", "a", 2, Duration::ZERO)
        .await
        .unwrap();
    assert_eq!(first.len(), 2);
    assert_eq!(mo_text(&first[0]), b"one");
    assert_eq!(mo_text(&first[1]), b"two");
    assert_eq!(first[0].item, mo("one"));
    assert_stamped(&first[0], ms(30_000));
    // Taken ones are still in the queue.
    assert_eq!(s.delivery_depth("v").await.unwrap(), 3);
    // "one" could not be delivered now: back to the tail.
    s.redeliver("v", &first[0].token).await.unwrap();
    assert_eq!(s.delivery_depth("v").await.unwrap(), 3);
    s.delivered("v", std::slice::from_ref(&first[1].token))
        .await
        .unwrap();
    assert_eq!(s.delivery_depth("v").await.unwrap(), 2);
    // Tokens no longer held, or never: nothing changes.
    s.redeliver("v", &first[0].token).await.unwrap();
    s.delivered("v", std::slice::from_ref(&first[1].token))
        .await
        .unwrap();
    s.redeliver("v", "99999999999999-0").await.unwrap();
    s.delivered("v", &["not a token".to_string()])
        .await
        .unwrap();
    s.redeliver("nobody", "1-0").await.unwrap();
    assert_eq!(s.delivery_depth("v").await.unwrap(), 2);
    let rest = s
        .take_deliveries("v", "a", 10, Duration::ZERO)
        .await
        .unwrap();
    assert_eq!(rest.len(), 2);
    assert_eq!(mo_text(&rest[0]), b"three");
    assert_eq!(mo_text(&rest[1]), b"one");
    assert_ne!(rest[1].token, first[0].token);
    // The same stamps: redelivery does not extend its life.
    assert_eq!(rest[1].queued_ms, first[0].queued_ms);
    assert_eq!(rest[1].expires_ms, first[0].expires_ms);
    // Another consumer gets nothing taken and not idle yet.
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
    assert_eq!(tokens(&back), tokens(&rest));
    for d in &back {
        other
            .delivered("v", std::slice::from_ref(&d.token))
            .await
            .unwrap();
    }
    assert_eq!(s.delivery_depth("v").await.unwrap(), 0);

    // A receipt queued with deliver round-trips too.
    let receipt = DeliveryItem::Receipt(Box::new(UserReceipt {
        message: with_rd("m", 2, 1).into(),
        state: MessageState::Expired,
        error_code: 300,
        sub: 2,
        dlvrd: 1,
        done_ms: DONE,
    }));
    s.deliver("v", &receipt, TTL).await.unwrap();
    let got = drain(&s, "v").await;
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].item, receipt);

    // A blocking take waits, and wakes for a deliver.
    let t0 = Instant::now();
    assert!(
        s.take_deliveries("v", "a", 10, ms(300))
            .await
            .unwrap()
            .is_empty()
    );
    assert!(t0.elapsed() >= ms(250));
    let waiter = {
        let s = s.clone();
        tokio::spawn(async move { s.take_deliveries("v", "a", 10, ms(5_000)).await })
    };
    tokio::time::sleep(ms(200)).await;
    let t0 = Instant::now();
    s.deliver("v", &mo("late"), TTL).await.unwrap();
    let got = waiter.await.unwrap().unwrap();
    assert_eq!(got.len(), 1);
    assert_eq!(mo_text(&got[0]), b"late");
    assert!(t0.elapsed() < Duration::from_secs(2));
    s.delivered("v", std::slice::from_ref(&got[0].token))
        .await
        .unwrap();

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
