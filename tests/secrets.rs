//! Secrets are never logged (DESIGN.md, issue 14): one full run of a real
//! `tern` per log format (text at trace level, json at debug) on the
//! redis backend with a `requirepass` password in the store URL, in front
//! of an `smsc-sim` that checks the connector's password. The run binds
//! (good passwords, plain and argon2id; a wrong password; an unknown
//! user; a bind during the cool-down), submits with a receipt, sends over
//! HTTP (password in the query, in a form body, in Basic auth with a JSON
//! body, a wrong one), reloads a changed password on SIGHUP, runs `tern
//! check-config` (on the good file and on files whose errors are about
//! secret values) and shuts down. Then no line tern printed, nor any
//! `/metrics` or `/health` answer, holds any configured or tried password,
//! raw, percent-encoded or in a Basic auth token.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Read;
use std::net::Ipv4Addr;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use bytes::BytesMut;
use e2e::*;
use smpp::pdu::{Body, CommandId, Limits, Pdu};
use smpp::{CommandStatus as S, FrameDecoder};
use smpp_session::BindMode;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::timeout;

const PROMPT: Duration = Duration::from_secs(10);

/// alice: plain text.
const ALICE_PW: &str = "Zq81xK7w";
/// bob: argon2id; `+` and `/` so its percent-encoded form differs.
const BOB_PW: &str = "Wm47+L/t";
/// carol: plain text, changed by the reload to [`CAROL_NEW_PW`].
const CAROL_PW: &str = "Hv29pQ3s";
const CAROL_NEW_PW: &str = "Jd56rT8y";
/// The connector's password, which smsc-sim checks.
const UPSTREAM_PW: &str = "Up5kN2vR";
/// A second connector's password, which smsc-sim refuses.
const WRONG_UPSTREAM_PW: &str = "Ye3mB8qC";
/// Redis' requirepass, in the store URL.
const REDIS_PW: &str = "rdPw-Xc93Lm0Tq";
/// Passwords clients try: a wrong one, an unknown user's, wrong ones
/// during the cool-down, a wrong one over HTTP.
const TRIED: [&str; 6] = [
    "Bd4gu3sX", "Uk9pw1zQ", "Cg1tryAa", "Cg2tryBb", "Cg3tryCc", "Ht7wr0nG",
];
/// A too-long password and a bad store URL's password, in the configs
/// check-config refuses.
const LONG_PW: &str = "Lg-Vb62Kd0Pw-Yt38Hs1Nm-Rc74Xq9Ez";
const BAD_URL_PW: &str = "urlPw-Kp05Wd7Gm";

fn config(sim: u16, redis: u16, level: &str, format: &str, bob_phc: &str, carol: &str) -> String {
    format!(
        "[smpp-server]\nbind = 127.0.0.1\nport = {{smpp_port}}\nbind_fail_limit = 3\n\
         bind_fail_cooldown = 60\n\
         [http-api]\nbind = 127.0.0.1\nport = {{http_port}}\n\
         [store]\nbackend = redis\nurl = redis://:{REDIS_PW}@127.0.0.1:{redis}/0\n\
         [log]\nlevel = {level}\nformat = {format}\n\
         [user:alice]\npassword = {ALICE_PW}\n\
         [user:bob]\npassword = {bob_phc}\n\
         [user:carol]\npassword = {carol}\n\
         [connector:sim]\nhost = 127.0.0.1\nport = {sim}\nusername = up\npassword = {UPSTREAM_PW}\n\
         reconnect_delay = 1\n\
         [connector:refused]\nhost = 127.0.0.1\nport = {sim}\nusername = up\n\
         password = {WRONG_UPSTREAM_PW}\nreconnect_delay = 1\n\
         [mt-route:0]\ntype = default\nconnectors = sim\n"
    )
}

/// A redis-server on a free loopback port that wants [`REDIS_PW`].
struct Redis {
    port: u16,
    child: Child,
}

impl Redis {
    fn start() -> Redis {
        let port = free_port();
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args([
                "--requirepass",
                REDIS_PW,
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server (apt-get install redis-server; make test does)");
        let r = Redis { port, child };
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            let out = Command::new("redis-cli")
                .args(["-p", &port.to_string(), "--no-auth-warning", "-a", REDIS_PW])
                .arg("PING")
                .output()
                .unwrap();
            if String::from_utf8_lossy(&out.stdout).trim() == "PONG" {
                return r;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("redis-server on {port} did not start");
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// tern's stdout and stderr, read as they come.
struct Output {
    child: Child,
    readers: Vec<std::thread::JoinHandle<Vec<u8>>>,
}

impl Output {
    fn spawn(mut cmd: Command) -> Output {
        let mut child = cmd
            .env_remove("RUST_LOG")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut readers = Vec::new();
        let out: Box<dyn Read + Send> = Box::new(child.stdout.take().unwrap());
        let err: Box<dyn Read + Send> = Box::new(child.stderr.take().unwrap());
        for mut r in [out, err] {
            readers.push(std::thread::spawn(move || {
                let mut b = Vec::new();
                let _ = r.read_to_end(&mut b);
                b
            }));
        }
        Output { child, readers }
    }

    fn signal(&self, sig: &str) {
        let _ = Command::new("kill")
            .args([&format!("-{sig}"), &self.child.id().to_string()])
            .status();
    }

    /// SIGTERM, wait (20 s at most) and everything it printed.
    fn stop(mut self) -> String {
        self.signal("TERM");
        let deadline = Instant::now() + Duration::from_secs(20);
        while self.child.try_wait().unwrap().is_none() {
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!("tern did not stop on SIGTERM within 20 s");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let mut text = String::new();
        for r in self.readers.drain(..) {
            text.push_str(&String::from_utf8_lossy(&r.join().unwrap()));
        }
        text
    }
}

impl Drop for Output {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn connect_from(source: Ipv4Addr, port: u16) -> TcpStream {
    connect_from_within(source, port, PROMPT).await
}

/// One bind_transceiver from `source`: its status.
async fn bind_from(source: Ipv4Addr, port: u16, user: &str, password: &str) -> S {
    let mut sock = connect_from(source, port).await;
    let pdu = Pdu::new(1, Body::BindTransceiver(bind_body(user, password)))
        .to_bytes()
        .unwrap();
    sock.write_all(&pdu).await.unwrap();
    let mut buf = BytesMut::new();
    let d = FrameDecoder::default();
    loop {
        if let Some(raw) = d.decode(&mut buf).unwrap() {
            let r = raw.decode(&Limits::SMPP34).unwrap();
            assert_eq!(r.command_id(), CommandId::BIND_TRANSCEIVER_RESP);
            return r.command_status;
        }
        let n = timeout(PROMPT, sock.read_buf(&mut buf))
            .await
            .expect("bind answered in time")
            .unwrap();
        assert!(n > 0, "closed before the bind_transceiver_resp");
    }
}

/// An HTTP/1.1 request from `source`: the whole answer.
async fn http_from(source: Ipv4Addr, port: u16, head: &str, body: &str) -> String {
    let mut s = connect_from(source, port).await;
    let req = format!(
        "{head}\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).await.unwrap();
    let mut out = Vec::new();
    timeout(PROMPT, s.read_to_end(&mut out))
        .await
        .expect("answered in time")
        .unwrap();
    String::from_utf8_lossy(&out).into_owned()
}

fn status(answer: &str) -> u16 {
    answer
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("not an HTTP answer: {answer}"))
}

/// `s` percent-encoded as a query value.
fn encode(s: &str) -> String {
    serde_urlencoded::to_string([("", s)])
        .unwrap()
        .trim_start_matches('=')
        .to_string()
}

/// Standard base64 (for Basic auth).
fn base64(input: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in input.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(A[(n >> (18 - 6 * i)) as usize & 63] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Every form of every secret that must not be printed.
fn needles(bob_phc: &str) -> Vec<String> {
    let mut passwords = vec![
        ALICE_PW,
        BOB_PW,
        CAROL_PW,
        CAROL_NEW_PW,
        UPSTREAM_PW,
        WRONG_UPSTREAM_PW,
        REDIS_PW,
        LONG_PW,
        BAD_URL_PW,
    ];
    passwords.extend(TRIED);
    let mut n = Vec::new();
    for p in passwords {
        n.push(p.to_string());
        n.push(encode(p));
        for user in ["alice", "bob", "carol", "nobody", "up", ""] {
            n.push(base64(format!("{user}:{p}").as_bytes()));
        }
    }
    // The hash is no password, but it is as good as one to a guesser.
    n.push(bob_phc.to_string());
    n.sort();
    n.dedup();
    n
}

fn assert_clean(what: &str, text: &str, needles: &[String]) {
    for (i, line) in text.lines().enumerate() {
        for s in needles {
            assert!(
                !line.contains(s.as_str()),
                "{what}, line {}, holds the secret {s:?}: {line}",
                i + 1
            );
        }
    }
}

async fn scrape(http: u16, path: &str) -> String {
    http_from(local(1), http, &format!("GET {path} HTTP/1.1"), "").await
}

async fn run(level: &str, format: &str) {
    let bob_phc = hash_password(BOB_PW);
    let needles = needles(&bob_phc);
    let sim = Sim::start(&["--system-id", "up", "--password", UPSTREAM_PW]);
    let redis = Redis::start();
    let (port, http) = (free_port(), free_port());
    let dir = std::env::temp_dir().join(format!("tern-secrets-{}-{port}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("tern.ini");
    let write = |carol: &str| {
        let text = config(sim.port, redis.port, level, format, &bob_phc, carol)
            .replace("{smpp_port}", &port.to_string())
            .replace("{http_port}", &http.to_string());
        std::fs::write(&path, text).unwrap();
    };
    write(CAROL_PW);
    let mut cmd = Command::new(bin("tern"));
    cmd.args(["run", "-c", path.to_str().unwrap()]);
    let tern = Output::spawn(cmd);
    wait_for_port(port);
    wait_for_port(http);
    let mut scrapes = Vec::new();

    // The good connector binds (smsc-sim checked its password); the
    // other is refused and retries.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let h = scrape(http, "/health").await;
        if status(&h) == 200 {
            scrapes.push(h);
            break;
        }
        assert!(Instant::now() < deadline, "never ready: {h}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // Good binds, plain and argon2id; a submit_sm with its receipt.
    let (alice, mut alice_events) = bind(port, BindMode::Transceiver, "alice", ALICE_PW)
        .await
        .expect("alice binds");
    let (bob, _bob_events) = bind(port, BindMode::Transceiver, "bob", BOB_PW)
        .await
        .expect("bob binds");
    let r = alice
        .request(Body::SubmitSm(sms("447700900123", "receipt please", 1)))
        .await
        .unwrap();
    assert_eq!(r.command_status, S::ESME_ROK);
    let receipt = next_deliver(&alice, &mut alice_events, Duration::from_secs(30)).await;
    assert!(receipt.esm_class.is_receipt());

    // A wrong password, an unknown user, and a cool-down, each from an
    // address of its own.
    let p = port;
    assert_eq!(
        bind_from(local(3), p, "alice", TRIED[0]).await,
        S::ESME_RINVPASWD
    );
    assert_eq!(
        bind_from(local(4), p, "nobody", TRIED[1]).await,
        S::ESME_RINVPASWD
    );
    for tried in &TRIED[2..5] {
        assert_eq!(
            bind_from(local(2), p, "bob", tried).await,
            S::ESME_RINVPASWD
        );
    }
    assert_eq!(
        bind_from(local(2), p, "bob", BOB_PW).await,
        S::ESME_RBINDFAIL
    );
    assert_eq!(
        bind_from(local(2), p, "alice", ALICE_PW).await,
        S::ESME_RBINDFAIL
    );

    // HTTP: the password in the query, a form body, Basic auth with a
    // JSON body (and one in the body, which /secure/ ignores), a wrong one.
    let query = format!(
        "username=bob&password={}&to=447700900123&from=Tern&content=hi&dlr=yes",
        encode(BOB_PW)
    );
    let a = http_from(local(1), http, &format!("GET /send?{query} HTTP/1.1"), "").await;
    assert_eq!(status(&a), 200, "{a}");
    let a = http_from(
        local(1),
        http,
        "POST /send HTTP/1.1\r\nContent-Type: application/x-www-form-urlencoded",
        &query,
    )
    .await;
    assert_eq!(status(&a), 200, "{a}");
    let basic = base64(format!("alice:{ALICE_PW}").as_bytes());
    let a = http_from(
        local(1),
        http,
        &format!(
            "POST /send HTTP/1.1\r\nContent-Type: application/json\r\nAuthorization: Basic {basic}"
        ),
        r#"{"sourceAddress":"16111","destinationAddress":"447700900123","message":"Hi!"}"#,
    )
    .await;
    assert_eq!(status(&a), 200, "{a}");
    let a = http_from(
        local(1),
        http,
        &format!(
            "POST /secure/send HTTP/1.1\r\nContent-Type: application/json\r\n\
             Authorization: Basic {basic}"
        ),
        &format!(
            r#"{{"to":"447700900123","from":"Tern","content":"hi","username":"alice","password":"{ALICE_PW}"}}"#
        ),
    )
    .await;
    assert_eq!(status(&a), 200, "{a}");
    let wrong = format!(
        "GET /send?username=alice&password={}&to=447700900123&content=hi HTTP/1.1",
        encode(TRIED[5])
    );
    let a = http_from(local(5), http, &wrong, "").await;
    assert_eq!(status(&a), 403, "{a}");
    let a = http_from(
        local(5),
        http,
        &format!(
            "POST /secure/send HTTP/1.1\r\nAuthorization: Basic {}",
            base64(format!("alice:{}", TRIED[5]).as_bytes())
        ),
        r#"{"to":"447700900123","content":"hi"}"#,
    )
    .await;
    assert_eq!(status(&a), 403, "{a}");
    scrapes.push(scrape(http, "/metrics").await);

    // SIGHUP with carol's password changed: the new one binds, the old
    // one no longer does (each try from an address of its own).
    assert_eq!(bind_from(local(6), p, "carol", CAROL_PW).await, S::ESME_ROK);
    write(CAROL_NEW_PW);
    tern.signal("HUP");
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut source = 10;
    while bind_from(local(source), p, "carol", CAROL_NEW_PW).await != S::ESME_ROK {
        assert!(Instant::now() < deadline, "the new password never bound");
        source += 1;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        bind_from(local(7), p, "carol", CAROL_PW).await,
        S::ESME_RINVPASWD
    );
    scrapes.push(scrape(http, "/metrics").await);
    scrapes.push(scrape(http, "/health").await);

    // check-config: the running file, then files refused for a secret's
    // sake (a password too long, a store URL that is no URL).
    let mut printed = Vec::new();
    let check = |file: &std::path::Path| {
        let out = run_command_with_timeout(
            Command::new(bin("tern"))
                .args(["check-config", "-c", file.to_str().unwrap()])
                .env_remove("RUST_LOG"),
            Duration::from_secs(30),
        );
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        (out.status.success(), text)
    };
    let (ok, text) = check(&path);
    assert!(ok, "{text}");
    printed.push(("check-config", text));
    let good = std::fs::read_to_string(&path).unwrap();
    let bad = dir.join("bad.ini");
    for (what, broken) in [
        (
            "check-config, a long password",
            good.replace(
                &format!("password = {ALICE_PW}"),
                &format!("password = {LONG_PW}"),
            ),
        ),
        (
            "check-config, a bad URL",
            good.replace(
                &format!("url = redis://:{REDIS_PW}@127.0.0.1:{}/0", redis.port),
                &format!("url = redis://:{BAD_URL_PW}@127.0.0.1:port/0"),
            ),
        ),
        (
            "check-config, a bad connector password",
            good.replace(
                &format!("password = {UPSTREAM_PW}"),
                &format!("password = {LONG_PW}"),
            ),
        ),
    ] {
        assert_ne!(broken, good, "{what}: the replacement applies");
        std::fs::write(&bad, &broken).unwrap();
        // Refused or not, what it prints is checked below.
        let (_ok, text) = check(&bad);
        printed.push((what, text));
    }
    // `tern run` on the bad URL stops at once, saying why.
    std::fs::write(
        &bad,
        good.replace(
            &format!("url = redis://:{REDIS_PW}@127.0.0.1:{}/0", redis.port),
            &format!("url = redis://:{BAD_URL_PW}@127.0.0.1:port/0"),
        ),
    )
    .unwrap();
    let out = run_command_with_timeout(
        Command::new(bin("tern"))
            .args(["run", "-c", bad.to_str().unwrap()])
            .env_remove("RUST_LOG"),
        Duration::from_secs(30),
    );
    assert!(!out.status.success());
    let text = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(text.contains("[store] url"), "{text}");
    printed.push(("tern run, a bad URL", text));

    let _ = alice.unbind().await;
    let _ = bob.unbind().await;
    let log = tern.stop();
    let _ = std::fs::remove_dir_all(&dir);

    // What is looked through is what was expected: the refusals are there.
    assert!(log.lines().count() > 20, "tern logged: {log}");
    assert!(log.contains("nobody"), "the unknown user's refusal: {log}");
    assert!(log.contains("refused"), "the refused connector: {log}");
    if format == "json" {
        for line in log.lines() {
            assert!(
                serde_json::from_str::<serde_json::Value>(line).is_ok(),
                "not JSON: {line}"
            );
        }
    }
    assert_clean(&format!("tern run ({format}, {level})"), &log, &needles);
    for (what, text) in printed {
        assert_clean(what, &text, &needles);
    }
    for s in scrapes {
        assert_clean("a /metrics or /health answer", &s, &needles);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_secret_in_text_logs_at_trace() {
    run("trace", "text").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_secret_in_json_logs_at_debug() {
    run("debug", "json").await;
}
