//! TLS with real processes: ESMEs bind to tern's `tls_port` (our session
//! crate, Python's smpplib over `ssl`, `openssl s_client`); a plain-text
//! or silent client there ends alone; a connector with `tls = yes`
//! reaches a TLS smsc-sim, and one that does not trust its upstream
//! retries and loses nothing. Certificates are made with the openssl
//! commands of docs/tls.md ([`e2e::pki`]).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use bytes::Bytes;
use e2e::pki::{Pki, path};
use e2e::*;
use smpp::CommandStatus as S;
use smpp::pdu::*;
use smpp::receipt::Receipt;
use smpp_session::{BindMode, Event, Session, SessionConfig, esme, tls};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;

/// A directory of the test's own.
fn test_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("tern-tls-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// `[smpp-server]` with a TLS listener on `tls_port` beside the plain one.
fn server_section(pki: &Pki, tls_port: u16) -> String {
    format!(
        "[smpp-server]\nbind = 127.0.0.1\nport = {{smpp_port}}\ntls_port = {tls_port}\n\
         tls_cert = {}\ntls_key = {}\n[http-api]\nbind = 127.0.0.1\nport = {{http_port}}\n",
        path(&pki.cert),
        path(&pki.key)
    )
}

/// A user and a default route to a connector `sim` on `sim_port` with
/// `connector_extra` keys.
fn rest(sim_port: u16, connector_extra: &str) -> String {
    format!(
        "[user:acme]\npassword = pw\nmax_binds = 8\n\
         [connector:sim]\nhost = 127.0.0.1\nport = {sim_port}\nusername = tern\npassword = pw\n\
         reconnect_delay = 1\n{connector_extra}\n\
         [mt-route:0]\ntype = default\nconnectors = sim\n"
    )
}

/// Bind to tern's TLS port as `acme`, trusting `ca`.
async fn bind_tls(port: u16, ca: &Path, mode: BindMode) -> (Session, mpsc::Receiver<Event>) {
    let connector = tls::connector(&std::fs::read(ca).unwrap(), path(ca)).unwrap();
    let (s, ev, _) = esme::connect_tls(
        &format!("127.0.0.1:{port}"),
        &connector,
        tls::server_name("localhost").unwrap(),
        mode,
        bind_body("acme", "pw"),
        SessionConfig::default(),
    )
    .await
    .unwrap();
    (s, ev)
}

fn submit(text: &str, receipt: bool) -> Body<Bytes> {
    Body::SubmitSm(SubmitSm {
        source: Address {
            addr: Bytes::from_static(b"Tern"),
            ..Default::default()
        },
        destination: Address {
            addr: Bytes::from_static(b"447700900123"),
            ..Default::default()
        },
        registered_delivery: RegisteredDelivery(u8::from(receipt)),
        short_message: Bytes::copy_from_slice(text.as_bytes()),
        ..Default::default()
    })
}

async fn submit_ok(s: &Session, body: Body<Bytes>) -> String {
    let r = s.request(body).await.unwrap();
    assert_eq!(r.command_status, S::ESME_ROK);
    let Body::SubmitSmResp(r) = r.body else {
        panic!("{:?}", r.body)
    };
    String::from_utf8(r.message_id.to_vec()).unwrap()
}

/// The ids of the next `n` receipts on `s`.
async fn receipts(s: &Session, ev: &mut mpsc::Receiver<Event>, n: usize) -> Vec<String> {
    let mut ids = Vec::new();
    for _ in 0..n {
        let d = next_deliver(s, ev, Duration::from_secs(20)).await;
        let r = Receipt::parse(&d.short_message).unwrap();
        ids.push(r.id.to_string());
    }
    ids.sort();
    ids
}

/// Start `tern run` on the config at `config` with its log in `log`.
fn tern_logged(config: &Path, log: &Path, port: u16) -> Proc {
    let child = Command::new(bin("tern"))
        .args(["run", "-c", path(config)])
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(log).unwrap())
        .spawn()
        .unwrap();
    let p = Proc {
        child: Some(child),
        name: "tern".into(),
    };
    wait_for_port(port);
    p
}

#[tokio::test]
async fn esmes_bind_over_tls_submit_and_get_their_receipts() {
    let dir = test_dir("front");
    let pki = Pki::new(&dir, "front");
    let sim = Sim::start(&[]);
    let tls_port = free_port();
    let t = Tern::start(&format!(
        "{}{}",
        server_section(&pki, tls_port),
        rest(sim.port, "")
    ));
    wait_for_port(tls_port);

    // Our session crate over rustls, trusting the test CA.
    let (s, mut ev) = bind_tls(tls_port, &pki.ca, BindMode::Transceiver).await;
    let mut ids = vec![
        submit_ok(&s, submit("over tls 1", true)).await,
        submit_ok(&s, submit("over tls 2", true)).await,
    ];
    ids.sort();
    assert_eq!(receipts(&s, &mut ev, 2).await, ids);

    // The plain port serves beside it.
    let (p, mut pev) = bind(t.port, BindMode::Transceiver, "acme", "pw")
        .await
        .unwrap();
    let id = submit_ok(&p, submit("plain", true)).await;
    assert_eq!(receipts(&p, &mut pev, 1).await, vec![id]);

    // openssl s_client: the handshake, the chain checked against the CA.
    let out = run_command_with_timeout(
        Command::new("openssl").args([
            "s_client",
            "-connect",
            &format!("127.0.0.1:{tls_port}"),
            "-servername",
            "localhost",
            "-CAfile",
            path(&pki.ca),
            "-verify_return_error",
        ]),
        Duration::from_secs(20),
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("Verify return code: 0 (ok)"),
        "openssl s_client:\n{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // Python's smpplib over ssl, trusting only the test CA (alone: a
    // user's receipts go to any of its receiver binds).
    s.unbind().await.unwrap();
    p.unbind().await.unwrap();
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("interop/smpplib_tern.py");
    let port = tls_port.to_string();
    let out = run_command_with_timeout(
        Command::new("python3").args([
            script.to_str().unwrap(),
            "--port",
            &port,
            "--system-id",
            "acme",
            "--password",
            "pw",
            "--role",
            "trx",
            "--messages",
            "short",
            "--tls-ca",
            path(&pki.ca),
            "--timeout",
            "30",
        ]),
        Duration::from_secs(60),
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let report: serde_json::Value = serde_json::from_str(stdout.lines().last().unwrap_or_default())
        .unwrap_or_else(|e| {
            panic!(
                "no report ({e}): {stdout}\n{}",
                String::from_utf8_lossy(&out.stderr)
            )
        });
    assert!(
        out.status.success(),
        "smpplib over TLS: {report}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(report["bind_status"], 0, "{report}");
    assert_eq!(
        report["matched"].as_array().map(Vec::len),
        Some(1),
        "{report}"
    );

    s.unbind().await.unwrap();
    p.unbind().await.unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn plain_and_silent_clients_on_the_tls_port_end_alone() {
    let dir = test_dir("refuse");
    let pki = Pki::new(&dir, "refuse");
    let sim = Sim::start(&[]);
    let tls_port = free_port();
    let _t = Tern::start(&format!(
        "{}{}",
        server_section(&pki, tls_port),
        rest(sim.port, "")
    ));
    wait_for_port(tls_port);
    let (s, _ev) = bind_tls(tls_port, &pki.ca, BindMode::Transceiver).await;

    // A client that never starts a handshake.
    let mut silent = tokio::net::TcpStream::connect(("127.0.0.1", tls_port))
        .await
        .unwrap();
    let silent_since = Instant::now();

    // A plain-text client: its bind gets no SMPP answer, only the
    // connection closed (after a TLS alert at most).
    let mut plain = tokio::net::TcpStream::connect(("127.0.0.1", tls_port))
        .await
        .unwrap();
    let mut pdu = bytes::BytesMut::new();
    Pdu::new(
        1,
        Body::BindTransceiver(Bind::<Bytes> {
            system_id: Bytes::from_static(b"acme"),
            password: Bytes::from_static(b"pw"),
            interface_version: 0x34,
            ..Default::default()
        }),
    )
    .encode(&mut pdu)
    .unwrap();
    plain.write_all(&pdu).await.unwrap();
    let mut got = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), plain.read_to_end(&mut got))
        .await
        .expect("the plain-text client is disconnected")
        .ok();
    assert!(
        got.is_empty() || got[0] == 0x15,
        "only a TLS alert, never an SMPP answer: {got:02x?}"
    );

    // The TLS session is unharmed.
    submit_ok(&s, submit("still here", false)).await;

    // The silent one is let go after the handshake timeout (10 s).
    let mut buf = [0u8; 64];
    let n = tokio::time::timeout(Duration::from_secs(15), silent.read(&mut buf))
        .await
        .expect("the silent client is disconnected")
        .unwrap_or(0);
    assert_eq!(n, 0);
    let waited = silent_since.elapsed();
    assert!(
        waited >= Duration::from_secs(9) && waited < Duration::from_secs(14),
        "{waited:?}"
    );
    submit_ok(&s, submit("and still", false)).await;
    s.unbind().await.unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn a_connector_with_tls_reaches_a_tls_smsc_sim() {
    let dir = test_dir("connector");
    let pki = Pki::new(&dir, "upstream");
    let sim = Sim::start(&["--tls-cert", path(&pki.cert), "--tls-key", path(&pki.key)]);
    let t = Tern::start(&format!(
        "[smpp-server]\nbind = 127.0.0.1\nport = {{smpp_port}}\n[http-api]\nport = {{http_port}}\n{}",
        rest(
            sim.port,
            &format!(
                "tls = yes\ntls_ca = {}\ntls_server_name = localhost\n",
                path(&pki.ca)
            )
        )
    ));
    let (s, mut ev) = bind(t.port, BindMode::Transceiver, "acme", "pw")
        .await
        .unwrap();
    let mut ids = Vec::new();
    for i in 0..5 {
        ids.push(submit_ok(&s, submit(&format!("tls upstream {i}"), true)).await);
    }
    ids.sort();
    assert_eq!(receipts(&s, &mut ev, 5).await, ids);
    let c = sim.counters();
    assert_eq!(c["submit_ok"], 5, "{c}");
    assert_eq!(c["receipts_acked"], 5, "{c}");
    s.unbind().await.unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn a_connector_that_does_not_trust_its_upstream_retries_and_loses_nothing() {
    let dir = test_dir("wrong-ca");
    let upstream = Pki::new(&dir, "upstream");
    let other = Pki::new(&dir, "other");
    let sim = Sim::start(&[
        "--tls-cert",
        path(&upstream.cert),
        "--tls-key",
        path(&upstream.key),
    ]);
    let redis = Redis::start();
    let (port, http) = (free_port(), free_port());
    let config = |ca: &Path| {
        format!(
            "[smpp-server]\nbind = 127.0.0.1\nport = {port}\n[http-api]\nport = {http}\n\
             [store]\nbackend = redis\nurl = {}\n{}",
            redis.url(),
            rest(
                sim.port,
                &format!(
                    "tls = yes\ntls_ca = {}\ntls_server_name = localhost\n",
                    path(ca)
                )
            )
        )
    };
    let ini = dir.join("tern.ini");
    let log = dir.join("tern.log");
    std::fs::write(&ini, config(&other.ca)).unwrap();
    let tern = tern_logged(&ini, &log, port);

    let (s, _ev) = bind(port, BindMode::Transmitter, "acme", "pw")
        .await
        .unwrap();
    let mut ids = Vec::new();
    for i in 0..3 {
        ids.push(submit_ok(&s, submit(&format!("waits for trust {i}"), true)).await);
    }
    ids.sort();
    // Refused at the handshake, tried again (reconnect_delay 1 s, doubling).
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let text = std::fs::read_to_string(&log).unwrap();
        let failures = text
            .lines()
            .filter(|l| l.contains("bind failed") && l.contains("TLS handshake failed"))
            .count();
        if failures >= 2 {
            assert!(text.contains("connector=sim"), "{text}");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no repeated TLS bind failure:\n{text}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let c = sim.counters();
    assert_eq!(
        (c["binds"].as_u64(), c["submit_sm"].as_u64()),
        (Some(0), Some(0)),
        "{c}"
    );
    s.unbind().await.unwrap();
    let out = tern.stop();
    assert!(out.status.success(), "{out:?}");

    // Trusting the right CA, the next start sends what was queued.
    std::fs::write(&ini, config(&upstream.ca)).unwrap();
    let _tern = tern_logged(&ini, &log, port);
    let (r, mut rev) = bind(port, BindMode::Receiver, "acme", "pw").await.unwrap();
    assert_eq!(receipts(&r, &mut rev, 3).await, ids);
    let c = sim.counters();
    assert_eq!(c["submit_ok"], 3, "{c}");
    r.unbind().await.unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn tls_files_that_cannot_serve_are_configuration_errors() {
    let dir = test_dir("config");
    let a = Pki::new(&dir, "a");
    let b = Pki::new(&dir, "b");
    let check = |text: &str| {
        let ini = dir.join("check.ini");
        std::fs::write(&ini, text).unwrap();
        let out = run_with_timeout(
            "tern",
            &["check-config", "-c", path(&ini)],
            Duration::from_secs(20),
        );
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let server = |cert: &Path, key: &Path| {
        format!(
            "[smpp-server]\ntls_port = 2776\ntls_cert = {}\ntls_key = {}\n",
            path(cert),
            path(key)
        )
    };
    let file = path(&dir.join("check.ini")).to_string();

    let (ok, err) = check(&server(&a.cert, &a.key));
    assert!(ok, "{err}");
    let missing = dir.join("missing.pem");
    let (ok, err) = check(&server(&missing, &a.key));
    assert!(!ok);
    assert!(
        err.contains(&format!(
            "{file}:3: [smpp-server] tls_cert: cannot read {}",
            path(&missing)
        )),
        "{err}"
    );
    let (ok, err) = check(&server(&a.cert, &b.key));
    assert!(!ok);
    assert!(
        err.contains(&format!(
            "{file}:4: [smpp-server] tls_key: is not the key of tls_cert's certificate"
        )),
        "{err}"
    );
    // A key file where the certificate belongs, and the key's contents
    // never printed.
    let (ok, err) = check(&server(&a.key, &a.key));
    assert!(!ok);
    assert!(
        err.contains(&format!(
            "{file}:3: [smpp-server] tls_cert: {}: no certificate found",
            path(&a.key)
        )),
        "{err}"
    );
    assert!(!err.contains("PRIVATE KEY"), "{err}");
    let (ok, err) = check("[smpp-server]\ntls_port = 2776\n");
    assert!(!ok);
    assert!(
        err.contains("[smpp-server] tls_cert: required key is missing"),
        "{err}"
    );
    assert!(
        err.contains("[smpp-server] tls_key: required key is missing"),
        "{err}"
    );

    let connector = |extra: &str| {
        format!(
            "[connector:up]\nhost = smsc.example.net\nport = 2775\nusername = u\ntls = yes\n{extra}"
        )
    };
    let (ok, err) = check(&connector(&format!("tls_ca = {}\n", path(&a.ca))));
    assert!(ok, "{err}");
    let (ok, err) = check(&connector(&format!("tls_ca = {}\n", path(&missing))));
    assert!(!ok);
    assert!(
        err.contains(&format!(
            "{file}:6: [connector:up] tls_ca: cannot read {}",
            path(&missing)
        )),
        "{err}"
    );
    let (ok, err) = check(&connector(&format!("tls_ca = {}\n", path(&a.key))));
    assert!(!ok);
    assert!(err.contains("[connector:up] tls_ca:"), "{err}");
    let (ok, err) = check(&connector("tls_server_name = not a name\n"));
    assert!(!ok);
    assert!(
        err.contains(
            "[connector:up] tls_server_name: \"not a name\" is not a DNS name or IP address for TLS"
        ),
        "{err}"
    );
    // Without tls_ca, the system's bundle (present on Debian).
    if Path::new("/etc/ssl/certs/ca-certificates.crt").exists() {
        let (ok, err) = check(&connector(""));
        assert!(ok, "{err}");
    }
    let (ok, err) = check(&connector("tls_verify = maybe\n"));
    assert!(!ok);
    assert!(err.contains("[connector:up] tls_verify:"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// Whether a TLS bind trusting `ca` succeeds now.
async fn binds_trusting(port: u16, ca: &Path) -> bool {
    let connector = tls::connector(&std::fs::read(ca).unwrap(), path(ca)).unwrap();
    match esme::connect_tls(
        &format!("127.0.0.1:{port}"),
        &connector,
        tls::server_name("localhost").unwrap(),
        BindMode::Transmitter,
        bind_body("acme", "pw"),
        SessionConfig::default(),
    )
    .await
    {
        Ok((s, _, _)) => {
            s.unbind().await.unwrap();
            true
        }
        Err(_) => false,
    }
}

#[tokio::test]
async fn sighup_serves_renewed_certificates_and_keeps_the_old_on_a_bad_pair() {
    let dir = test_dir("renew");
    let a = Pki::new(&dir, "a");
    let b = Pki::new(&dir, "b");
    let live = dir.join("live");
    std::fs::create_dir_all(&live).unwrap();
    let install = |cert: &Path, key: &Path| {
        std::fs::copy(cert, live.join("cert.pem")).unwrap();
        std::fs::copy(key, live.join("key.pem")).unwrap();
    };
    install(&a.cert, &a.key);
    let sim = Sim::start(&[]);
    let (port, tls_port) = (free_port(), free_port());
    let config = |tls_port: u16| {
        format!(
            "[smpp-server]\nbind = 127.0.0.1\nport = {port}\ntls_port = {tls_port}\n\
             tls_cert = {}\ntls_key = {}\n[http-api]\nport = {}\n{}",
            path(&live.join("cert.pem")),
            path(&live.join("key.pem")),
            free_port(),
            rest(sim.port, "")
        )
    };
    let ini = dir.join("tern.ini");
    let log = dir.join("tern.log");
    std::fs::write(&ini, config(tls_port)).unwrap();
    let tern = tern_logged(&ini, &log, port);
    wait_for_port(tls_port);
    let (old, _ev) = bind_tls(tls_port, &a.ca, BindMode::Transceiver).await;
    assert!(!binds_trusting(tls_port, &b.ca).await);

    // Renewed files, then SIGHUP: new connections get the new certificate,
    // the live session keeps going.
    install(&b.cert, &b.key);
    tern.signal("HUP");
    let deadline = Instant::now() + Duration::from_secs(10);
    while !binds_trusting(tls_port, &b.ca).await {
        assert!(
            Instant::now() < deadline,
            "the renewed certificate is not served"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(!binds_trusting(tls_port, &a.ca).await);
    submit_ok(&old, submit("the old session", false)).await;

    // A certificate without its key: the reload is rejected, the last
    // good pair still served.
    std::fs::copy(&a.cert, live.join("cert.pem")).unwrap();
    tern.signal("HUP");
    let deadline = Instant::now() + Duration::from_secs(10);
    while !std::fs::read_to_string(&log)
        .unwrap()
        .contains("reload rejected")
    {
        assert!(Instant::now() < deadline, "no rejected reload");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(
        text.contains("[smpp-server] tls_key: is not the key of tls_cert's certificate"),
        "{text}"
    );
    assert!(binds_trusting(tls_port, &b.ca).await);

    // A new tls_port takes effect at the next start, and says so.
    install(&b.cert, &b.key);
    std::fs::write(&ini, config(free_port())).unwrap();
    tern.signal("HUP");
    let deadline = Instant::now() + Duration::from_secs(10);
    while !std::fs::read_to_string(&log)
        .unwrap()
        .contains("[smpp-server] tls_port")
    {
        assert!(Instant::now() < deadline, "tls_port change not reported");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(binds_trusting(tls_port, &b.ca).await);
    old.unbind().await.unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn tls_verify_no_reaches_an_upstream_nobody_trusts_and_warns() {
    let dir = test_dir("noverify");
    let pki = Pki::new(&dir, "upstream");
    let sim = Sim::start(&["--tls-cert", path(&pki.cert), "--tls-key", path(&pki.key)]);
    let port = free_port();
    let ini = dir.join("tern.ini");
    let log = dir.join("tern.log");
    std::fs::write(
        &ini,
        format!(
            "[smpp-server]\nbind = 127.0.0.1\nport = {port}\n[http-api]\nport = {}\n{}",
            free_port(),
            rest(sim.port, "tls = yes\ntls_verify = no\n")
        ),
    )
    .unwrap();
    let _tern = tern_logged(&ini, &log, port);
    let (s, mut ev) = bind(port, BindMode::Transceiver, "acme", "pw")
        .await
        .unwrap();
    let id = submit_ok(&s, submit("unverified", true)).await;
    assert_eq!(receipts(&s, &mut ev, 1).await, vec![id]);
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(
        text.lines().any(|l| l.contains("WARN")
            && l.contains("tls_verify = no")
            && l.contains("connector=sim")),
        "{text}"
    );
    s.unbind().await.unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}
