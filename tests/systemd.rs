//! systemd's notifications from a real `tern run`, read on a
//! NOTIFY_SOCKET of the test's own (a unix datagram socket, as systemd
//! makes): READY once the listeners answer, RELOADING (with
//! MONOTONIC_USEC) then READY around SIGHUP, WATCHDOG pings at half of
//! WATCHDOG_USEC, STOPPING at SIGTERM; and no READY while the store does
//! not answer.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::os::unix::net::UnixDatagram;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use e2e::{Redis, Tern, free_port};

/// The test's NOTIFY_SOCKET: a bound datagram socket in a directory of
/// its own, removed at the end.
struct NotifySocket {
    sock: UnixDatagram,
    path: PathBuf,
    dir: PathBuf,
    /// WATCHDOG=1 datagrams seen so far, with when they came.
    pings: Vec<Instant>,
}

impl NotifySocket {
    fn new(name: &str) -> NotifySocket {
        let dir = std::env::temp_dir().join(format!("tern-notify-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("notify.sock");
        let sock = UnixDatagram::bind(&path).unwrap();
        NotifySocket {
            sock,
            path,
            dir,
            pings: Vec::new(),
        }
    }

    fn path(&self) -> &str {
        self.path.to_str().unwrap()
    }

    /// The next datagram's lines, or None when none comes within `within`.
    fn datagram(&self, within: Duration) -> Option<Vec<String>> {
        self.sock.set_read_timeout(Some(within)).unwrap();
        let mut buf = [0u8; 4096];
        match self.sock.recv(&mut buf) {
            Ok(n) => Some(
                String::from_utf8(buf[..n].to_vec())
                    .unwrap()
                    .lines()
                    .map(str::to_string)
                    .collect(),
            ),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                None
            }
            Err(e) => panic!("reading the notify socket: {e}"),
        }
    }

    /// The next notification other than a watchdog ping (those are
    /// counted), within `within`; None when none came.
    fn next_state(&mut self, within: Duration) -> Option<Vec<String>> {
        let deadline = Instant::now() + within;
        loop {
            let left = deadline.checked_duration_since(Instant::now())?;
            let lines = self.datagram(left.max(Duration::from_millis(1)))?;
            if lines == ["WATCHDOG=1"] {
                self.pings.push(Instant::now());
                continue;
            }
            return Some(lines);
        }
    }

    /// The next state, which must start with `first`.
    fn expect(&mut self, first: &str, within: Duration) -> Vec<String> {
        let lines = self
            .next_state(within)
            .unwrap_or_else(|| panic!("no {first} within {within:?}"));
        assert_eq!(lines.first().map(String::as_str), Some(first), "{lines:?}");
        lines
    }

    /// Count the watchdog pings for `window` (failing on anything else).
    fn pings_during(&mut self, window: Duration) -> usize {
        let before = self.pings.len();
        if let Some(other) = self.next_state(window) {
            panic!("only watchdog pings expected, got {other:?}");
        }
        self.pings.len() - before
    }
}

impl Drop for NotifySocket {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn config(store: &str) -> String {
    format!(
        "
[smpp-server]
bind = 127.0.0.1
port = {{smpp_port}}
[http-api]
bind = 127.0.0.1
port = {{http_port}}
{store}
[user:alice]
password = alice-pw
"
    )
}

fn status_of(lines: &[String]) -> &str {
    lines
        .iter()
        .find_map(|l| l.strip_prefix("STATUS="))
        .unwrap_or_else(|| panic!("no STATUS in {lines:?}"))
}

#[test]
fn ready_reloading_ready_watchdog_and_stopping_in_order() {
    let mut notify = NotifySocket::new("order");
    let (smpp, http) = (free_port(), free_port());
    let tern = Tern::spawn_env(
        &config("[store]\nbackend = memory"),
        smpp,
        http,
        &[
            ("NOTIFY_SOCKET", notify.path()),
            ("WATCHDOG_USEC", "200000"),
        ],
    );

    // READY: both listeners answer at once, no waiting for a port.
    let ready = notify.expect("READY=1", Duration::from_secs(20));
    assert!(status_of(&ready).starts_with("serving SMPP"), "{ready:?}");
    std::net::TcpStream::connect(("127.0.0.1", smpp)).expect("SMPP listening at READY");
    std::net::TcpStream::connect(("127.0.0.1", http)).expect("HTTP listening at READY");

    // WATCHDOG_USEC=200000: a ping every 100 ms. Within 1.5 s at least 5
    // (ten are due; a busy machine may delay some, never all).
    let n = notify.pings_during(Duration::from_millis(1500));
    assert!((5..=40).contains(&n), "{n} watchdog pings in 1.5 s");
    // Spread over the window at about the interval, not in a burst.
    let last: Vec<Instant> = notify.pings[notify.pings.len() - n..].to_vec();
    let mut gaps: Vec<Duration> = last.windows(2).map(|w| w[1] - w[0]).collect();
    gaps.sort();
    let median = gaps[gaps.len() / 2];
    assert!(
        median >= Duration::from_millis(50) && median <= Duration::from_millis(400),
        "median gap between pings {median:?} (100 ms due)"
    );

    // SIGHUP: RELOADING with the monotonic clock, then READY again.
    tern.proc.signal("HUP");
    let reloading = notify.expect("RELOADING=1", Duration::from_secs(10));
    let usec = reloading
        .iter()
        .find_map(|l| l.strip_prefix("MONOTONIC_USEC="))
        .unwrap_or_else(|| panic!("no MONOTONIC_USEC in {reloading:?}"));
    assert!(usec.parse::<u64>().unwrap() > 0, "{usec}");
    assert_eq!(status_of(&reloading), "reloading the configuration");
    let again = notify.expect("READY=1", Duration::from_secs(10));
    assert!(status_of(&again).starts_with("serving SMPP"), "{again:?}");

    // A rejected file is a reload too: RELOADING, READY, the old one kept.
    std::fs::write(tern.config_path(), "[smpp-server]\nport = many\n").unwrap();
    tern.proc.signal("HUP");
    notify.expect("RELOADING=1", Duration::from_secs(10));
    notify.expect("READY=1", Duration::from_secs(10));
    std::net::TcpStream::connect(("127.0.0.1", smpp)).expect("still serving");

    // The pings go on after reloads.
    let n = notify.pings_during(Duration::from_millis(1000));
    assert!(n >= 3, "{n} watchdog pings in 1 s after the reloads");

    // SIGTERM: STOPPING, then a clean exit.
    let mut tern = tern;
    tern.proc.signal("TERM");
    let stopping = notify.expect("STOPPING=1", Duration::from_secs(10));
    assert!(status_of(&stopping).starts_with("stopping"), "{stopping:?}");
    let out = tern.proc.child.take().unwrap().wait_with_output().unwrap();
    assert!(out.status.success(), "tern exited {:?}", out.status);
    // Once stopping, the main loop is gone: no ping, no READY after it.
    let mut after = Vec::new();
    while let Some(lines) = notify.datagram(Duration::from_millis(100)) {
        after.push(lines);
    }
    assert!(
        after
            .iter()
            .all(|l| !l.contains(&"WATCHDOG=1".to_string()) && !l.contains(&"READY=1".to_string())),
        "after STOPPING: {after:?}"
    );
}

#[test]
fn no_ready_until_the_store_answers() {
    let mut notify = NotifySocket::new("store");
    // A Redis that is down at first (started, then killed: its port is
    // known and free).
    let mut redis = Redis::start();
    redis.kill();
    let (smpp, http) = (free_port(), free_port());
    let tern = Tern::spawn_env(
        &config(&format!("[store]\nbackend = redis\nurl = {}", redis.url())),
        smpp,
        http,
        &[("NOTIFY_SOCKET", notify.path())],
    );
    // It serves (submits get ESME_RMSGQFUL), says why it is not ready,
    // and is not READY.
    e2e::wait_for_port(smpp);
    let waiting = notify.next_state(Duration::from_secs(10));
    let waiting = waiting.expect("a STATUS while the store is down");
    assert!(
        status_of(&waiting).starts_with("waiting for the store"),
        "{waiting:?}"
    );
    assert_eq!(notify.next_state(Duration::from_millis(1500)), None);

    // Redis back on its port: READY within a few retries.
    redis.restart();
    let ready = notify.expect("READY=1", Duration::from_secs(15));
    assert!(status_of(&ready).starts_with("serving SMPP"), "{ready:?}");
    // No watchdog without WATCHDOG_USEC.
    assert!(notify.pings.is_empty());
    let mut tern = tern;
    tern.proc.signal("TERM");
    notify.expect("STOPPING=1", Duration::from_secs(10));
    let out = tern.proc.child.take().unwrap().wait_with_output().unwrap();
    assert!(out.status.success(), "tern exited {:?}", out.status);
}
