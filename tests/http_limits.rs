//! The HTTP API's limits, access log and stop, on a real `tern` in front
//! of a real `smsc-sim`: a client sending its headers or its body one
//! byte a second is cut off within a bounded time; over the bound of
//! requests in flight the next is shed with 503 and Retry-After; an
//! oversize parameter is refused naming it; the access log has a line per
//! request and never a password (query, form, JSON or Basic auth), even
//! at debug level; SIGTERM with an idle keep-alive connection and a
//! request in progress: the request is answered, the idle connection
//! closed, tern exits in a bounded time, and the accepted message
//! reaches the upstream. Raw TCP clients for what urllib cannot do
//! slowly; urllib for the rest.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod http_support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use e2e::*;
use http_support::*;

/// Read until the peer closes (or `limit` passes, which panics): what it
/// sent and when it closed.
fn read_to_close(s: &mut TcpStream, limit: Duration) -> (String, Instant) {
    s.set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let deadline = Instant::now() + limit;
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return (String::from_utf8_lossy(&got).into(), Instant::now()),
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {
                return (String::from_utf8_lossy(&got).into(), Instant::now());
            }
            Err(_) => {}
        }
        assert!(
            Instant::now() < deadline,
            "still open after {limit:?}; got {:?}",
            String::from_utf8_lossy(&got)
        );
    }
}

/// Read one response whose body is `Content-Length` long.
fn read_response(s: &mut TcpStream) -> String {
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let text = String::from_utf8_lossy(&got).to_string();
        if let Some(end) = text.find("\r\n\r\n") {
            let len = text[..end]
                .lines()
                .find_map(|l| {
                    let (k, v) = l.split_once(':')?;
                    k.eq_ignore_ascii_case("content-length")
                        .then(|| v.trim().parse::<usize>().ok())?
                })
                .unwrap_or(0);
            if got.len() >= end + 4 + len {
                return text;
            }
        }
        let n = s.read(&mut buf).unwrap();
        assert!(n > 0, "closed before a whole response: {text:?}");
        got.extend_from_slice(&buf[..n]);
    }
}

/// Send `bytes` one a second until the peer stops taking them; when it
/// did, and what it answered.
fn trickle(s: &mut TcpStream, bytes: &[u8], limit: Duration) -> (String, Duration) {
    let started = Instant::now();
    for b in bytes {
        if s.write_all(&[*b]).is_err() {
            break;
        }
        // Closed yet? Read what came without waiting long.
        s.set_read_timeout(Some(Duration::from_millis(1000)))
            .unwrap();
        let mut buf = [0u8; 4096];
        match s.read(&mut buf) {
            Ok(0) => return (String::new(), started.elapsed()),
            Ok(n) => {
                let mut text = String::from_utf8_lossy(&buf[..n]).to_string();
                let (rest, _) = read_to_close(s, Duration::from_secs(5));
                text.push_str(&rest);
                return (text, started.elapsed());
            }
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {
                return (String::new(), started.elapsed());
            }
            Err(_) => {}
        }
        assert!(started.elapsed() < limit, "not cut off within {limit:?}");
    }
    panic!("the whole request went through at a byte a second");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_clients_are_cut_off_and_floods_shed() {
    let (_sim, _tern, base) = start("[store]\nbackend = memory\n");
    let port: u16 = base.rsplit(':').next().unwrap().parse().unwrap();
    let slow = Duration::from_secs(16);

    // Headers at a byte a second: closed (10 s to send them).
    let headers = std::thread::spawn(move || {
        let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
        let request = format!(
            "GET /ping HTTP/1.1\r\nHost: x\r\nX-Slow: {}\r\n\r\n",
            "a".repeat(60)
        );
        trickle(&mut s, request.as_bytes(), slow)
    });
    // A body at a byte a second: 408 and closed (10 s to send it).
    let body = std::thread::spawn(move || {
        let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
        let form = format!(
            "username=alice&password=alice-pw&to=447700900123&content={}",
            "a".repeat(40)
        );
        write!(
            s,
            "POST /send HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n",
            form.len()
        )
        .unwrap();
        trickle(&mut s, form.as_bytes(), slow)
    });

    // An idle keep-alive connection: closed after the header timeout.
    let idle = std::thread::spawn(move || {
        let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
        s.write_all(b"GET /ping HTTP/1.1\r\nHost: x\r\n\r\n")
            .unwrap();
        assert!(read_response(&mut s).ends_with("PONG"));
        let idle_from = Instant::now();
        let (rest, closed_at) = read_to_close(&mut s, slow);
        assert!(rest.is_empty(), "{rest}");
        closed_at - idle_from
    });

    // An oversize parameter: 400 naming it.
    let a = get(&format!(
        "{base}/send?username=alice&password=alice-pw&to=447700900123&content=x&from={}",
        "a".repeat(300)
    ));
    assert_eq!(
        (a.status, a.body.as_str()),
        (400, "Error \"from is longer than 256 characters\"")
    );
    let a = get(&format!(
        "{base}/send?username=alice&password=alice-pw&to=447700900123&content=x&{}=1",
        "k".repeat(65)
    ));
    assert_eq!(a.status, 400, "{}", a.body);
    assert!(a.body.contains("parameter name"), "{}", a.body);

    // A request line over the header bound: 414.
    let a = get(&format!(
        "{base}/send?username=alice&password=alice-pw&to=447700900123&content={}",
        "a".repeat(70_000)
    ));
    assert_eq!(a.status, 414, "{}", a.body);

    let (answer, took) = headers.join().unwrap();
    assert!(
        answer.is_empty() || answer.starts_with("HTTP/1.1 408"),
        "{answer}"
    );
    assert!(took < slow, "{took:?}");
    let idle_for = idle.join().unwrap();
    assert!(idle_for >= Duration::from_secs(9), "{idle_for:?}");
    let (answer, took) = body.join().unwrap();
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(took < slow, "{took:?}");

    // 1024 requests in flight (their bodies not sent yet): the next is
    // shed at once with 503 and Retry-After; once they go, all is well.
    let mut held = Vec::new();
    for _ in 0..1024 {
        let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
        s.write_all(b"POST /send HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n")
            .unwrap();
        held.push(s);
    }
    let deadline = Instant::now() + Duration::from_secs(5);
    let shed = loop {
        let a = get(&format!("{base}/ping"));
        if a.status == 503 || Instant::now() > deadline {
            break a;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(shed.status, 503, "{}", shed.body);
    assert_eq!(shed.header("retry-after"), Some("1"), "{}", shed.headers);
    drop(held);
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let a = get(&format!("{base}/ping"));
        if a.status == 200 {
            break;
        }
        assert!(Instant::now() < deadline, "still {}", a.status);
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_access_log_has_every_request_and_never_a_password() {
    const PW: &str = "Zq9-unlogged-Pw";
    const WRONG: &str = "Zq9-wrong-Pw";
    // base64("logu:Zq9-unlogged-Pw"): the Basic auth header's value.
    const TOKEN: &str = "bG9ndTpacTktdW5sb2dnZWQtUHc=";
    let sim = Sim::start(&[]);
    let (port, http_port) = (free_port(), free_port());
    let dir = std::env::temp_dir().join(format!("tern-e2e-log-{}-{port}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let ini = dir.join("tern.ini");
    let config = config(sim.port, "[store]\nbackend = memory\n")
        .replace("{smpp_port}", &port.to_string())
        .replace("{http_port}", &http_port.to_string());
    std::fs::write(
        &ini,
        format!("[log]\nlevel = debug\n{config}\n[user:logu]\npassword = {PW}\n"),
    )
    .unwrap();
    let log = dir.join("tern.log");
    let mut tern = Command::new(bin("tern"))
        .args(["run", "-c", ini.to_str().unwrap()])
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    wait_for_port(http_port);
    let base = format!("http://127.0.0.1:{http_port}");
    let form = [("Content-Type", "application/x-www-form-urlencoded")];
    let json = [("Content-Type", "application/json")];
    let user = ("logu", PW);
    // Query, form, JSON with Basic auth, REST with a password in the body
    // too, a wrong password, and rate and balance.
    success_id(&get(&format!(
        "{base}/send?username=logu&password={PW}&to=447700900123&content=x"
    )));
    success_id(&http(
        "POST",
        &format!("{base}/send"),
        Some(&format!(
            "username=logu&password={PW}&to=447700900123&content=x"
        )),
        &form,
    ));
    let a = http_basic(
        "POST",
        &format!("{base}/send"),
        Some(r#"{"destinationAddress":"447700900123","message":"x"}"#),
        &json,
        user,
    );
    assert_eq!(a.status, 200, "{}", a.body);
    let a = http_basic(
        "POST",
        &format!("{base}/secure/send"),
        Some(&format!(
            r#"{{"to":"447700900123","content":"x","password":"{PW}"}}"#
        )),
        &json,
        user,
    );
    assert_eq!(a.status, 200, "{}", a.body);
    let a = get(&format!("{base}/balance?username=logu&password={WRONG}"));
    assert_eq!(a.status, 403);
    let a = get(&format!(
        "{base}/rate?username=logu&PASSWORD={PW}&password={PW}&to=447700900123"
    ));
    assert_eq!(a.status, 200, "{}", a.body);
    let _ = Command::new("kill")
        .args(["-TERM", &tern.id().to_string()])
        .status();
    let status = tern.wait().unwrap();
    assert!(status.success(), "{status}");

    let text = std::fs::read_to_string(&log).unwrap();
    let access: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("tern::http") && l.contains("status="))
        .collect();
    assert_eq!(access.len(), 6, "{text}");
    let first = access[0];
    for field in [
        "method=GET",
        "/send",
        "status=200",
        "user=\"logu\"",
        "peer=\"127.0.0.1\"",
        "duration_us=",
        "password=***",
    ] {
        assert!(first.contains(field), "{field} not in {first}");
    }
    assert!(access[1].contains("method=POST"), "{}", access[1]);
    assert!(access[3].contains("/secure/send"), "{}", access[3]);
    assert!(
        access[4].contains("status=403") && access[4].contains("user=\"\""),
        "{}",
        access[4]
    );
    for secret in [PW, WRONG, TOKEN, "Zq9"] {
        assert!(!text.contains(secret), "{secret} is in the log:\n{text}");
    }
    // Debug level was on: the log is more than the access lines.
    assert!(text.contains("DEBUG"), "{text}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_answers_the_request_in_progress_and_closes_idle_connections() {
    let (sim, mut tern, base) = start("[store]\nbackend = memory\n");
    let port: u16 = base.rsplit(':').next().unwrap().parse().unwrap();
    // Bound upstream, so the accepted message can go before tern exits.
    let deadline = Instant::now() + Duration::from_secs(20);
    while get(&format!("{base}/health")).status != 200 {
        assert!(Instant::now() < deadline, "never ready");
        std::thread::sleep(Duration::from_millis(100));
    }
    // An idle keep-alive connection, after one request.
    let mut idle = TcpStream::connect(("127.0.0.1", port)).unwrap();
    idle.write_all(b"GET /ping HTTP/1.1\r\nHost: x\r\nConnection: keep-alive\r\n\r\n")
        .unwrap();
    let answer = read_response(&mut idle);
    assert!(
        answer.starts_with("HTTP/1.1 200") && answer.ends_with("PONG"),
        "{answer}"
    );
    // A request in progress: its headers and half its body.
    let form = "username=alice&password=alice-pw&to=447700900123&content=last+words";
    let (head, tail) = form.split_at(form.len() / 2);
    let mut slow = TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(
        slow,
        "POST /send HTTP/1.1\r\nHost: x\r\nConnection: keep-alive\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{head}",
        form.len()
    )
    .unwrap();
    std::thread::sleep(Duration::from_millis(500));

    let stopped_at = Instant::now();
    tern.proc.signal("TERM");
    // The idle connection is closed at once.
    let (rest, closed_at) = read_to_close(&mut idle, Duration::from_secs(5));
    assert!(rest.is_empty(), "{rest}");
    assert!(closed_at - stopped_at < Duration::from_secs(3));
    // The request in progress is answered, then its connection closed.
    std::thread::sleep(Duration::from_millis(500));
    slow.write_all(tail.as_bytes()).unwrap();
    let answer = read_response(&mut slow);
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    let id = answer
        .split("\r\n\r\n")
        .nth(1)
        .and_then(|b| b.strip_prefix("Success \""))
        .and_then(|b| b.strip_suffix('"'))
        .unwrap_or_else(|| panic!("{answer}"))
        .to_string();
    assert_eq!(id.len(), 36, "{answer}");
    read_to_close(&mut slow, Duration::from_secs(5));
    // tern exits cleanly, in a bounded time, the message sent upstream.
    let child = tern.proc.child.as_mut().unwrap();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(
            stopped_at.elapsed() < Duration::from_secs(20),
            "tern still running 20 s after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "{status}");
    assert_eq!(sim.counters()["submit_sm"], 1);
}
