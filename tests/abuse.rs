//! What a public SMPP port and HTTP API see from people who are not
//! customers (issue 14, "Abuse"), against a real `tern` in front of a real
//! `smsc-sim`: password guessing from many addresses, slowloris, idle
//! connections that never bind, `max_connections_per_ip` on both SMPP
//! ports and on the HTTP API (with its metric), PDU floods, oversize and
//! truncated PDUs, oversize HTTP bodies and request floods, and an accept
//! loop out of file descriptors. Each test ends with tern alive and
//! another user bound and served: a submit_sm answered ESME_ROK.
//!
//! Clients pick their source among 127.0.0.0/8 (Linux answers the whole
//! /8 on loopback), so "many source IPs" is real: tern sees each as its
//! own peer.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::Ipv4Addr;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use e2e::*;
use smpp::pdu::{Body, CommandId, Limits, Pdu};
use smpp::{CommandStatus as S, FrameDecoder};
use smpp_session::BindMode;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::timeout;

/// How long anything that should be prompt may take (CI is noisy).
const PROMPT: Duration = Duration::from_secs(5);

/// A tern with a simulator upstream. `{server}` and `{http}` take extra
/// `[smpp-server]` and `[http-api]` keys, `{victim}` the victim's
/// password (plain or a PHC string), `{init}` sessionInitTimerSecs.
const CONFIG: &str = "
[smpp-server]
bind = 127.0.0.1
port = {smpp_port}
sessionInitTimerSecs = {init}
pduReadTimerSecs = 2
bind_fail_limit = 3
bind_fail_cooldown = 60
{server}
[http-api]
bind = 127.0.0.1
port = {http_port}
{http}
[user:good]
password = good-pw
[user:victim]
password = {victim}
[user:flood]
password = flood-pw
[connector:sim]
host = 127.0.0.1
port = {sim}
username = u
password = p
reconnect_delay = 1
[mt-route:0]
type = default
connectors = sim
";

struct Setup {
    _sim: Sim,
    tern: Tern,
    http: u16,
}

fn start(server: &str, http_keys: &str, victim: &str) -> Setup {
    start_init(3, server, http_keys, victim)
}

fn config(init: u32, server: &str, http_keys: &str, victim: &str, sim: u16) -> String {
    CONFIG
        .replace("{init}", &init.to_string())
        .replace("{server}", server)
        .replace("{http}", http_keys)
        .replace("{victim}", victim)
        .replace("{sim}", &sim.to_string())
}

/// [`start`] with sessionInitTimerSecs `init`.
fn start_init(init: u32, server: &str, http_keys: &str, victim: &str) -> Setup {
    let sim = Sim::start(&[]);
    let config = config(init, server, http_keys, victim, sim.port);
    let http = free_port();
    let tern = Tern::start_on(&config, free_port(), http);
    wait_for_port(http);
    Setup {
        _sim: sim,
        tern,
        http,
    }
}

/// A TCP connection to 127.0.0.1:`port` from `source`.
async fn connect_from(source: Ipv4Addr, port: u16) -> TcpStream {
    connect_from_within(source, port, PROMPT).await
}

/// The next PDU from `sock`, or None once it is closed (EOF or reset).
async fn read_pdu(
    sock: &mut TcpStream,
    buf: &mut BytesMut,
    within: Duration,
) -> Option<Pdu<Bytes>> {
    let d = FrameDecoder::default();
    loop {
        if let Some(raw) = d.decode(buf).unwrap() {
            return Some(raw.decode(&Limits::SMPP34).unwrap());
        }
        match timeout(within, sock.read_buf(buf))
            .await
            .expect("tern answered or closed in time")
        {
            Ok(0) | Err(_) => return None,
            Ok(_) => {}
        }
    }
}

/// Whether tern closes `sock` within `within`, whatever it sends first.
async fn closed_within(sock: &mut TcpStream, within: Duration) -> bool {
    let deadline = tokio::time::Instant::now() + within;
    let mut scratch = [0u8; 4096];
    loop {
        match tokio::time::timeout_at(deadline, sock.read(&mut scratch)).await {
            Err(_) => return false,
            Ok(Ok(0) | Err(_)) => return true,
            Ok(Ok(_)) => {}
        }
    }
}

fn bind_pdu(seq: u32, user: &str, password: &str) -> Vec<u8> {
    Pdu::new(seq, Body::BindTransceiver(bind_body(user, password)))
        .to_bytes()
        .unwrap()
        .to_vec()
}

/// One bind_transceiver on a new connection from `source`: its status.
async fn bind_from(source: Ipv4Addr, port: u16, user: &str, password: &str) -> S {
    let mut sock = connect_from(source, port).await;
    sock.write_all(&bind_pdu(1, user, password)).await.unwrap();
    let mut buf = BytesMut::new();
    let r = read_pdu(&mut sock, &mut buf, PROMPT)
        .await
        .expect("a bind_transceiver_resp");
    assert_eq!(r.command_id(), CommandId::BIND_TRANSCEIVER_RESP);
    r.command_status
}

/// A raw connection from 127.0.0.1 bound as `user` (bind_transceiver
/// answered ESME_ROK), and its read buffer.
async fn bound_raw(port: u16, user: &str, password: &str) -> (TcpStream, BytesMut) {
    let mut sock = connect_from(local(1), port).await;
    sock.write_all(&bind_pdu(1, user, password)).await.unwrap();
    let mut buf = BytesMut::new();
    let r = read_pdu(&mut sock, &mut buf, PROMPT).await.unwrap();
    assert_eq!(r.command_status, S::ESME_ROK);
    (sock, buf)
}

/// Another user binds (from 127.0.0.1) and a submit_sm of theirs is
/// answered ESME_ROK, each within [`PROMPT`].
async fn served(port: u16) {
    served_as(port, "good", "good-pw").await;
}

/// `user` binds (from 127.0.0.1) and a submit_sm of theirs is answered
/// ESME_ROK, each within [`PROMPT`].
async fn served_as(port: u16, user: &str, password: &str) {
    let (s, _events) = timeout(PROMPT, bind(port, BindMode::Transceiver, user, password))
        .await
        .expect("bound in time")
        .expect("bound");
    let r = timeout(
        PROMPT,
        s.request(Body::SubmitSm(sms("447700900123", "still here", 0))),
    )
    .await
    .expect("submit_sm answered in time")
    .unwrap();
    assert_eq!(r.command_status, S::ESME_ROK);
    let _ = s.unbind().await;
}

/// An HTTP/1.1 request on a new connection from `source` (the connection
/// closed after it): the whole answer, or "" when tern closed it unread.
async fn http_from(source: Ipv4Addr, port: u16, request: &str) -> String {
    let mut s = connect_from(source, port).await;
    if s.write_all(request.as_bytes()).await.is_err() {
        return String::new();
    }
    let mut out = Vec::new();
    let _ = timeout(Duration::from_secs(15), s.read_to_end(&mut out))
        .await
        .expect("answered in time");
    String::from_utf8_lossy(&out).into_owned()
}

async fn scrape(http: u16) -> String {
    let a = http_from(
        local(1),
        http,
        "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert!(a.starts_with("HTTP/1.1 200"), "{a}");
    a
}

/// A series' value in a scrape (0 when absent).
fn value(text: &str, series: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or(0.0)
}

/// Wait until `series` reads `want`, or panic with what it read.
async fn wait_metric(http: u16, series: &str, want: f64, within: Duration) {
    let deadline = Instant::now() + within;
    loop {
        let got = value(&scrape(http).await, series);
        if got == want {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{series} is {got}, not {want}, after {within:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A process's resident set, in KiB.
fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

/// Let this process hold many sockets (a shell's soft limit is often
/// 1024): up to the hard limit.
fn raise_file_limit(need: u64) {
    let got = rlimit::increase_nofile_limit(u64::MAX).unwrap();
    assert!(
        got >= need,
        "this test needs {need} open files; the hard limit allows {got}"
    );
}

/// Password guessing from twenty addresses at once, against a user with
/// an argon2id password: each address gets `bind_fail_limit` (3) answers
/// ESME_RINVPASWD, then ESME_RBINDFAIL for any bind — the right password
/// and another user's included — without its password being checked
/// (counted as `cooldown`, not `credentials`, and in
/// `tern_password_verifications_total`: three argon2 checks per address,
/// however many guesses). The victim still binds from its own address.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn password_guessing_from_many_addresses_is_cooled_down_per_address() {
    let victim = hash_password("vict1mpw");
    let t = start("", "", &victim);
    let port = t.tern.port;
    let attackers: Vec<Ipv4Addr> = (2..22).map(local).collect();
    let mut tasks = Vec::new();
    for &source in &attackers {
        tasks.push(tokio::spawn(async move {
            let mut got = Vec::new();
            for guess in 0..3 {
                got.push(bind_from(source, port, "victim", &format!("guess-{guess}")).await);
            }
            got.push(bind_from(source, port, "victim", "vict1mpw").await);
            got.push(bind_from(source, port, "good", "good-pw").await);
            for guess in 3..6 {
                got.push(bind_from(source, port, "victim", &format!("guess-{guess}")).await);
            }
            (source, got)
        }));
    }
    // Meanwhile the victim binds from its own address and is served.
    served_as(port, "victim", "vict1mpw").await;
    for task in tasks {
        let (source, got) = task.await.unwrap();
        let mut want = vec![S::ESME_RINVPASWD; 3];
        want.extend([S::ESME_RBINDFAIL; 5]);
        assert_eq!(got, want, "from {source}");
    }
    let m = scrape(t.http).await;
    assert_eq!(
        value(&m, r#"tern_bind_failures_total{reason="credentials"}"#),
        60.0,
        "three password checks per address"
    );
    assert_eq!(
        value(&m, r#"tern_bind_failures_total{reason="cooldown"}"#),
        100.0
    );
    // argon2 ran for those 60 and the victim's own bind, nothing else.
    assert_eq!(value(&m, "tern_password_verifications_total"), 61.0);
    served(port).await;
}

/// Slowloris: 300 connections sending a bind one byte a second, and 10
/// bound sessions sending an enquire_link the same way. Others are served
/// meanwhile; the unbound ones are closed by sessionInitTimerSecs (3 s)
/// or pduReadTimerSecs (2 s), the bound ones by pduReadTimerSecs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slowloris_connections_are_closed_by_the_timers() {
    raise_file_limit(1024);
    let t = start("", "", "vict1mpw");
    let port = t.tern.port;
    let started = Instant::now();

    async fn trickle(mut sock: TcpStream, bytes: Vec<u8>) -> Duration {
        let from = Instant::now();
        let mut scratch = [0u8; 1024];
        for b in bytes {
            if sock.write_all(&[b]).await.is_err() {
                return from.elapsed();
            }
            // A byte a second; tern may close meanwhile.
            let deadline = tokio::time::Instant::now() + Duration::from_secs(1);
            loop {
                match tokio::time::timeout_at(deadline, sock.read(&mut scratch)).await {
                    Err(_) => break,
                    Ok(Ok(0) | Err(_)) => return from.elapsed(),
                    Ok(Ok(_)) => {}
                }
            }
        }
        panic!("the whole PDU went through at a byte a second");
    }

    let mut slow = Vec::new();
    for _ in 0..300 {
        let sock = connect_from(local(1), port).await;
        slow.push(tokio::spawn(trickle(sock, bind_pdu(1, "good", "good-pw"))));
    }
    for _ in 0..10 {
        let (sock, _) = bound_raw(port, "flood", "flood-pw").await;
        let enquire = Pdu::new(2, Body::<Bytes>::EnquireLink)
            .to_bytes()
            .unwrap()
            .to_vec();
        slow.push(tokio::spawn(trickle(sock, enquire)));
    }
    served(port).await;
    for task in slow {
        let lasted = timeout(Duration::from_secs(20), task)
            .await
            .expect("closed by a timer")
            .unwrap();
        assert!(lasted < Duration::from_secs(10), "open for {lasted:?}");
    }
    wait_metric(t.http, r#"tern_connections{listener="smpp"}"#, 0.0, PROMPT).await;
    served(port).await;
    assert!(started.elapsed() < Duration::from_secs(30));
}

/// 2000 idle connections that never bind, from one address, with
/// `max_connections_per_ip = 2000`: all are counted; the next ones from
/// that address, on the plain port and on the TLS port alike, are closed
/// as they are accepted (nothing sent to them, nothing read) and counted
/// in `tern_connections_refused_total`; another address is served; one
/// idle connection going makes room for one more; and
/// sessionInitTimerSecs closes the idle ones.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_connections_are_capped_per_address_and_timed_out() {
    raise_file_limit(2500);
    let dir = std::env::temp_dir().join(format!("tern-abuse-pki-{}", std::process::id()));
    let pki = pki::Pki::new(&dir, "idle");
    let tls_port = free_port();
    let server = format!(
        "max_connections_per_ip = 2000\ntls_port = {tls_port}\ntls_cert = {}\ntls_key = {}\n",
        pki::path(&pki.cert),
        pki::path(&pki.key)
    );
    // Longer than opening 2000 connections takes.
    let t = start_init(8, &server, "", "vict1mpw");
    let port = t.tern.port;
    wait_for_port(tls_port);

    let rss_before = rss_kib(t.tern.proc.pid());
    let mut idle = Vec::new();
    for _ in 0..1000 {
        idle.push(connect_from(local(2), port).await);
        idle.push(connect_from(local(2), tls_port).await);
    }
    let opened = Instant::now();
    // 2000 counted (a TLS one waits for its handshake).
    wait_metric(
        t.http,
        r#"tern_connections{listener="smpp"}"#,
        1000.0,
        PROMPT,
    )
    .await;
    wait_metric(
        t.http,
        r#"tern_connections{listener="smpp_tls"}"#,
        1000.0,
        PROMPT,
    )
    .await;
    // Reported, not asserted: what an idle connection costs.
    let grown = rss_kib(t.tern.proc.pid()).saturating_sub(rss_before);
    eprintln!(
        "tern's RSS grew {grown} KiB for 1000 plain and 1000 TLS idle connections ({} bytes each)",
        grown * 1024 / 2000
    );
    for listener in [port, tls_port] {
        for _ in 0..50 {
            let mut sock = connect_from(local(2), listener).await;
            assert!(
                closed_within(&mut sock, PROMPT).await,
                "over the limit: closed at once"
            );
        }
    }
    let m = scrape(t.http).await;
    assert_eq!(
        value(
            &m,
            r#"tern_connections_refused_total{listener="smpp",reason="per_ip"}"#
        ),
        50.0
    );
    assert_eq!(
        value(
            &m,
            r#"tern_connections_refused_total{listener="smpp_tls",reason="per_ip"}"#
        ),
        50.0
    );
    served(port).await;
    // One goes, one more fits.
    drop(idle.pop());
    wait_metric(
        t.http,
        r#"tern_connections{listener="smpp_tls"}"#,
        999.0,
        PROMPT,
    )
    .await;
    let mut one_more = connect_from(local(2), tls_port).await;
    wait_metric(
        t.http,
        r#"tern_connections{listener="smpp_tls"}"#,
        1000.0,
        PROMPT,
    )
    .await;
    assert!(!closed_within(&mut one_more, Duration::from_millis(200)).await);
    // sessionInitTimerSecs (8 s) closes the plain ones, the TLS
    // handshake's time (10 s) the others.
    for sock in idle.iter_mut() {
        let left = Duration::from_secs(20).saturating_sub(opened.elapsed());
        assert!(closed_within(sock, left).await, "an idle connection stays");
    }
    wait_metric(t.http, r#"tern_connections{listener="smpp"}"#, 0.0, PROMPT).await;
    served(port).await;
    drop(pki);
    let _ = std::fs::remove_dir_all(&dir);
}

/// `max_connections_per_ip` is read again on SIGHUP, as the other limits
/// are: the next connection gets the new limit, open ones stay.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_connections_per_ip_reloads() {
    let t = start("max_connections_per_ip = 2", "", "vict1mpw");
    let port = t.tern.port;
    let _a = connect_from(local(3), port).await;
    let _b = connect_from(local(3), port).await;
    let mut c = connect_from(local(3), port).await;
    assert!(closed_within(&mut c, PROMPT).await);
    let path = t.tern.config_path();
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(
        &path,
        text.replace("max_connections_per_ip = 2", "max_connections_per_ip = 3"),
    )
    .unwrap();
    t.tern.proc.signal("HUP");
    let deadline = Instant::now() + PROMPT;
    let _third = loop {
        let mut c = connect_from(local(3), port).await;
        if !closed_within(&mut c, Duration::from_millis(300)).await {
            break c;
        }
        assert!(Instant::now() < deadline, "the new limit is not applied");
    };
    let mut fourth = connect_from(local(3), port).await;
    assert!(closed_within(&mut fourth, PROMPT).await);
    // A bad value is refused with the old configuration kept.
    std::fs::write(
        &path,
        text.replace(
            "max_connections_per_ip = 2",
            "max_connections_per_ip = lots",
        ),
    )
    .unwrap();
    t.tern.proc.signal("HUP");
    let check = Command::new(bin("tern"))
        .args(["check-config", "-c", path.to_str().unwrap()])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&check.stderr);
    assert!(!check.status.success());
    assert!(
        err.contains("[smpp-server]") && err.contains("max_connections_per_ip"),
        "{err}"
    );
    let mut fifth = connect_from(local(3), port).await;
    assert!(closed_within(&mut fifth, PROMPT).await, "still 3");
    served(port).await;
}

/// A PDU flood from one bound session: 5000 enquire_link and 5000
/// submit_sm written without waiting for an answer. Every one is
/// answered, another user is served meanwhile, and tern lives.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pdu_flood_from_one_session_is_answered_and_others_served() {
    let t = start("", "", "vict1mpw");
    let port = t.tern.port;
    let (sock, mut buf) = bound_raw(port, "flood", "flood-pw").await;
    const N: u32 = 5000;
    let mut flood = Vec::new();
    for i in 0..N {
        flood.extend_from_slice(
            &Pdu::new(2 + i, Body::<Bytes>::EnquireLink)
                .to_bytes()
                .unwrap(),
        );
    }
    let submit = Body::SubmitSm(sms("447700900123", "flood", 0));
    for i in 0..N {
        flood.extend_from_slice(&Pdu::new(2 + N + i, submit.clone()).to_bytes().unwrap());
    }
    let (mut rd, mut wr) = sock.into_split();
    let writer = tokio::spawn(async move {
        wr.write_all(&flood).await.unwrap();
        wr
    });
    let reader = tokio::spawn(async move {
        let (mut enquire, mut ok) = (0, 0);
        let d = FrameDecoder::default();
        while enquire + ok < 2 * N {
            if let Some(raw) = d.decode(&mut buf).unwrap() {
                let p = raw.decode(&Limits::SMPP34).unwrap();
                match (p.command_id(), p.command_status) {
                    (CommandId::ENQUIRE_LINK_RESP, S::ESME_ROK) => enquire += 1,
                    (CommandId::SUBMIT_SM_RESP, S::ESME_ROK) => ok += 1,
                    other => panic!("{other:?}"),
                }
                continue;
            }
            let n = timeout(Duration::from_secs(20), rd.read_buf(&mut buf))
                .await
                .expect("answers keep coming")
                .unwrap();
            assert!(n > 0, "closed after {enquire} + {ok} answers");
        }
        (enquire, ok)
    });
    served(port).await;
    let (enquire, ok) = reader.await.unwrap();
    assert_eq!((enquire, ok), (N, N));
    let _wr = writer.await.unwrap();
    let m = scrape(t.http).await;
    assert_eq!(
        value(&m, r#"tern_submit_total{status="ESME_ROK",user="flood"}"#),
        f64::from(N)
    );
    served(port).await;
}

/// command_length over the maximum (0x7fffffff, and 70 001 just above
/// 70 000) or under 16, bound or not: generic_nack ESME_RINVCMDLEN with
/// the header's sequence_number, then the connection closes. A PDU cut
/// off by the client closing, or left half sent (pduReadTimerSecs), and a
/// body that does not decode under a sound header: tern lives, and the
/// last keeps its session.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversize_undersize_truncated_and_garbled_pdus() {
    let t = start("", "", "vict1mpw");
    let port = t.tern.port;
    let header = |len: u32, id: u32, seq: u32| {
        let mut h = Vec::new();
        for w in [len, id, 0, seq] {
            h.extend_from_slice(&w.to_be_bytes());
        }
        h
    };
    for (bound, len) in [
        (false, 0x7fff_ffff),
        (false, 70_001),
        (true, 0x7fff_ffff),
        (true, 70_001),
        (false, 15),
        (true, 0),
    ] {
        let mut sock = connect_from(local(1), port).await;
        let mut buf = BytesMut::new();
        if bound {
            sock.write_all(&bind_pdu(1, "flood", "flood-pw"))
                .await
                .unwrap();
            let r = read_pdu(&mut sock, &mut buf, PROMPT).await.unwrap();
            assert_eq!(r.command_status, S::ESME_ROK);
        }
        // submit_sm's command_id.
        sock.write_all(&header(len, 0x0000_0004, 77)).await.unwrap();
        let r = read_pdu(&mut sock, &mut buf, PROMPT)
            .await
            .unwrap_or_else(|| panic!("no generic_nack for command_length {len}"));
        assert_eq!(
            (r.command_id(), r.command_status, r.sequence_number),
            (CommandId::GENERIC_NACK, S::ESME_RINVCMDLEN, 77),
            "command_length {len}, bound {bound}"
        );
        assert!(read_pdu(&mut sock, &mut buf, PROMPT).await.is_none());
    }
    // Cut off mid-PDU: the client closes after 40 of 100 octets, or after
    // 10 octets of a header.
    for sent in [40usize, 10] {
        let mut sock = connect_from(local(1), port).await;
        let mut pdu = header(100, 0x0000_0004, 5);
        pdu.resize(100, 0x41);
        sock.write_all(&pdu[..sent]).await.unwrap();
        sock.shutdown().await.unwrap();
        assert!(closed_within(&mut sock, PROMPT).await);
    }
    // Half a PDU, left there: pduReadTimerSecs (2 s) closes it.
    let mut sock = connect_from(local(1), port).await;
    sock.write_all(&bind_pdu(1, "flood", "flood-pw")[..20])
        .await
        .unwrap();
    assert!(closed_within(&mut sock, Duration::from_secs(10)).await);
    // A sound header over a body that does not decode (no NUL ends the
    // service_type) on a bound session: answered, and the session stays.
    let mut sock = connect_from(local(1), port).await;
    let mut buf = BytesMut::new();
    sock.write_all(&bind_pdu(1, "flood", "flood-pw"))
        .await
        .unwrap();
    let r = read_pdu(&mut sock, &mut buf, PROMPT).await.unwrap();
    assert_eq!(r.command_status, S::ESME_ROK);
    let mut garbled = header(16 + 40, 0x0000_0004, 9);
    garbled.extend_from_slice(&[0xff; 40]);
    sock.write_all(&garbled).await.unwrap();
    let r = read_pdu(&mut sock, &mut buf, PROMPT).await.unwrap();
    assert_eq!(r.sequence_number, 9);
    assert_ne!(r.command_status, S::ESME_ROK);
    let submit = Pdu::new(10, Body::SubmitSm(sms("447700900123", "after", 0)));
    sock.write_all(&submit.to_bytes().unwrap()).await.unwrap();
    let r = read_pdu(&mut sock, &mut buf, PROMPT).await.unwrap();
    assert_eq!(
        (r.command_id(), r.command_status, r.sequence_number),
        (CommandId::SUBMIT_SM_RESP, S::ESME_ROK, 10)
    );
    served(port).await;
}

/// The HTTP API: an oversize JSON body to `POST /send` (by its
/// Content-Length, announced far over the bound, and chunked with no
/// length) is 413; a flood of 2000 requests from 100 connections at once
/// leaves tern serving; `[http-api] max_connections_per_ip` closes the
/// excess at accept, counted with `listener="http"`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_oversize_json_floods_and_connections_per_address() {
    let t = start("", "max_connections_per_ip = 100", "vict1mpw");
    let http = t.http;
    // "good:good-pw"
    let auth = "Authorization: Basic Z29vZDpnb29kLXB3";
    let big = format!(
        "{{\"sourceAddress\":\"Tern\",\"destinationAddress\":\"447700900123\",\"message\":\"{}\"}}",
        "a".repeat(70_000)
    );
    let a = http_from(
        local(1),
        http,
        &format!(
            "POST /send HTTP/1.1\r\nHost: x\r\n{auth}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{big}",
            big.len()
        ),
    )
    .await;
    assert!(a.starts_with("HTTP/1.1 413"), "{}", &a[..a.len().min(200)]);
    // Announced as 10 GB, nothing sent: 413 without waiting for it.
    let a = http_from(
        local(1),
        http,
        &format!("POST /send HTTP/1.1\r\nHost: x\r\n{auth}\r\nContent-Type: application/json\r\nContent-Length: 10000000000\r\nConnection: close\r\n\r\n"),
    )
    .await;
    assert!(a.starts_with("HTTP/1.1 413"), "{a}");
    // Chunked, no length: cut off at the bound.
    let mut chunked = format!(
        "POST /send HTTP/1.1\r\nHost: x\r\n{auth}\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    );
    for _ in 0..20 {
        chunked.push_str(&format!("1000\r\n{}\r\n", "a".repeat(0x1000)));
    }
    chunked.push_str("0\r\n\r\n");
    let a = http_from(local(1), http, &chunked).await;
    assert!(a.starts_with("HTTP/1.1 413"), "{}", &a[..a.len().min(200)]);

    // A flood: 100 connections from 127.0.0.4 asking 20 times each, at
    // once (keep-alive).
    let mut flood = Vec::new();
    for _ in 0..100 {
        flood.push(tokio::spawn(async move {
            let mut s = connect_from(local(4), http).await;
            let mut answers = 0;
            let mut buf = Vec::new();
            for _ in 0..20 {
                if s.write_all(b"GET /ping HTTP/1.1\r\nHost: x\r\n\r\n")
                    .await
                    .is_err()
                {
                    break;
                }
                // Each answer ends with its body, PONG.
                loop {
                    let mut chunk = [0u8; 512];
                    let n = timeout(Duration::from_secs(15), s.read(&mut chunk))
                        .await
                        .expect("an answer in time")
                        .unwrap_or(0);
                    if n == 0 {
                        return answers;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                    if buf.ends_with(b"PONG") {
                        buf.clear();
                        answers += 1;
                        break;
                    }
                }
            }
            answers
        }));
    }
    let mut answered = 0;
    for f in flood {
        answered += f.await.unwrap();
    }
    assert_eq!(answered, 2000);

    // 100 connections open from 127.0.0.5: the next ones are closed.
    let mut held = Vec::new();
    for _ in 0..100 {
        held.push(connect_from(local(5), http).await);
    }
    // Those, and the scrape's own.
    wait_metric(http, r#"tern_connections{listener="http"}"#, 101.0, PROMPT).await;
    for _ in 0..10 {
        let mut s = connect_from(local(5), http).await;
        assert!(closed_within(&mut s, PROMPT).await);
    }
    let m = scrape(http).await;
    assert_eq!(
        value(
            &m,
            r#"tern_connections_refused_total{listener="http",reason="per_ip"}"#
        ),
        10.0
    );
    // Another address is served, over HTTP and SMPP.
    let body =
        "{\"sourceAddress\":\"Tern\",\"destinationAddress\":\"447700900123\",\"message\":\"hi\"}";
    let a = http_from(
        local(1),
        http,
        &format!(
            "POST /send HTTP/1.1\r\nHost: x\r\n{auth}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        ),
    )
    .await;
    assert!(a.starts_with("HTTP/1.1 200"), "{a}");
    assert!(a.contains("messageId"), "{a}");
    drop(held);
    served(t.tern.port).await;
}

/// Out of file descriptors (tern started with a limit of 48), the SMPP
/// accept loop waits between tries instead of spinning on EMFILE: while
/// 100 connections hold or wait, tern uses little CPU; once they go,
/// tern serves again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn out_of_file_descriptors_the_accept_loop_does_not_spin() {
    let sim = Sim::start(&[]);
    let port = free_port();
    let http = free_port();
    let dir = std::env::temp_dir().join(format!("tern-abuse-fd-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let config = config(30, "", "", "vict1mpw", sim.port)
        .replace("{smpp_port}", &port.to_string())
        .replace("{http_port}", &http.to_string());
    let path = dir.join("tern.ini");
    std::fs::write(&path, config).unwrap();
    let child = Command::new("prlimit")
        .arg("--nofile=48:48")
        .arg(bin("tern"))
        .args(["run", "-c", path.to_str().unwrap()])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("prlimit (util-linux)");
    let tern = Proc {
        child: Some(child),
        name: "tern".into(),
    };
    wait_for_port(port);
    wait_for_port(http);
    let mut held = Vec::new();
    for _ in 0..100 {
        held.push(connect_from(local(6), port).await);
    }
    // Give the accept loop time to run out of descriptors.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let cpu = |pid: u32| -> u64 {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
        // utime and stime: fields 14 and 15, after the ")" of the name.
        let rest = &stat[stat.rfind(')').unwrap() + 2..];
        let f: Vec<&str> = rest.split(' ').collect();
        f[11].parse::<u64>().unwrap() + f[12].parse::<u64>().unwrap()
    };
    let before = cpu(tern.pid());
    tokio::time::sleep(Duration::from_secs(2)).await;
    let ticks = cpu(tern.pid()) - before;
    // Spinning takes a whole core: ~200 ticks in 2 s.
    assert!(
        ticks < 60,
        "{ticks} clock ticks of CPU in 2 s while out of descriptors"
    );
    drop(held);
    served(port).await;
    drop(tern);
    let _ = std::fs::remove_dir_all(&dir);
}
