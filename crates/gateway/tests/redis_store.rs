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

use gateway::store::redis::{self as rs, RedisOptions, RedisStore};
use gateway::store::{
    CancelOutcome, Limit, Refusal, STATUS_RETENTION_MS, Store, StoredMessage, Submission,
};
use smpp::MessageState;

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

fn ids(taken: &[rs::Taken]) -> Vec<String> {
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
    assert!(s.take("up", "w1", 10, 0).await.unwrap().is_empty());

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
    let taken = s.take("up", "w1", 10, 0).await.unwrap();
    assert_eq!(taken.len(), 1);
    assert_eq!(taken[0].message, m);
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
    let taken = s.take("up", "w1", 2, 0).await.unwrap();
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
    assert_eq!(s.ack("up", &[taken[0].stream_id.clone()]).await.unwrap(), 1);
    // Acknowledged: gone from the queue, still too late to cancel.
    assert_eq!(s.cancel("m0", "u").await.unwrap(), CancelOutcome::TooLate);
    let rest = s.take("up", "w1", 10, 0).await.unwrap();
    assert_eq!(ids(&rest), vec!["m2", "m3"]);
    assert_eq!(s.queue_depth("up").await.unwrap(), 0);
    // An empty queue of an unknown connector.
    assert_eq!(s.queue_depth("nowhere").await.unwrap(), 0);
    assert!(s.take("nowhere", "w1", 10, 0).await.unwrap().is_empty());
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
    let first = s.take("up", "a", 2, 0).await.unwrap();
    assert_eq!(ids(&first), vec!["m0", "m1"]);
    let second = other.take("up", "b", 10, 0).await.unwrap();
    assert_eq!(ids(&second), vec!["m2", "m3"]);
    assert_eq!(s.queue_depth("up").await.unwrap(), 0);
    let sids: Vec<String> = second.iter().map(|t| t.stream_id.clone()).collect();
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
    let sids: Vec<String> = reclaimed.iter().map(|t| t.stream_id.clone()).collect();
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
    assert!(s.take("up", "a", 10, 300).await.unwrap().is_empty());
    assert!(t0.elapsed() >= Duration::from_millis(250));
    let waiter = {
        let s = s.clone();
        tokio::spawn(async move { s.take("up", "a", 10, 5_000).await })
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
    assert_eq!(ids(&s.take("up", "a", 10, 0).await.unwrap()), vec!["after"]);
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
    assert!(s.take("other", "w", 10, 50).await.unwrap().is_empty());

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
    assert!(s.take("up", "w", 10, 0).await.is_err());
    assert!(s.take("up", "w", 10, 100).await.is_err());
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
    let taken = s.take("up", "w", 10, 100).await.unwrap();
    assert_eq!(ids(&taken), vec!["after"]);
    assert!(s.take("other", "w", 10, 50).await.unwrap().is_empty());
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
    assert_eq!(s.take("up", "w", 100, 50).await.unwrap().len(), 8);

    server.kill();
    let _server = Server::start_on(port);
    // Every connection is dead without knowing it yet: the first use of
    // each finds out and retries on a new one.
    s.init_credit("u", 1_000_000).await.unwrap();
    let m = message("q", "u", 1, 1_000);
    s.submit(sub(&m, None, Some(1_000))).await.unwrap();
    assert_eq!(s.balance("u").await.unwrap(), Some(999_000));
    assert_eq!(ids(&s.take("up", "w", 10, 100).await.unwrap()), vec!["q"]);
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
