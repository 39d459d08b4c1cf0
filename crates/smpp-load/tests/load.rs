//! `smpp-load` against a small SMSC built in the test on
//! `smpp_session::smsc::accept` (loopback TCP): receipts matched across
//! binds and before their submit_sm_resp, lost and duplicate receipts,
//! error statuses, long and UCS-2 messages, pacing, `--hold`, bind failures, and
//! the binary's JSON output and exit status.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use clap::Parser;
use smpp::CommandStatus as S;
use smpp::pdu::*;
use smpp::tlv::{TlvTag, TlvsBuilder};
use smpp_load::{Args, EXIT_LOST, EXIT_OK, LoadError, Summary};
use smpp_session::{BindState, Event, Session, SessionConfig, smsc};

/// How the test SMSC behaves.
#[derive(Clone, Default)]
struct Behaviour {
    /// Send a receipt per accepted submit_sm with registered_delivery.
    receipts: bool,
    /// Receipts carry only text (no receipted_message_id / message_state).
    text_only: bool,
    /// Send the receipt before the submit_sm_resp.
    receipt_first: bool,
    /// Drop every Nth receipt (0: none).
    drop_every: u64,
    /// Send every receipt twice.
    twice: bool,
    /// Answer every Nth submit_sm with ESME_RTHROTTLED (0: none).
    throttle_every: u64,
    /// Send an MO deliver_sm after every Nth submit_sm (0: none).
    mo_every: u64,
}

#[derive(Default)]
struct Seen {
    /// Binds answered ESME_ROK.
    binds: AtomicU64,
    submits: AtomicU64,
    udhi: AtomicU64,
    ucs2: AtomicU64,
}

struct Smsc {
    port: u16,
    seen: Arc<Seen>,
}

fn smsc_config() -> SessionConfig {
    SessionConfig {
        // Large enough that sending receipts never waits for the window,
        // so the event loop below cannot block on the ESME.
        window: 1 << 20,
        inactivity_timer: None,
        ..Default::default()
    }
}

async fn start_smsc(b: Behaviour) -> Smsc {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let seen = Arc::new(Seen::default());
    let counter = Arc::new(AtomicU64::new(0));
    let receivers: Arc<Mutex<Vec<Session>>> = Arc::default();
    let seen2 = seen.clone();
    tokio::spawn(async move {
        loop {
            let Ok((stream, peer)) = listener.accept().await else {
                return;
            };
            stream.set_nodelay(true).ok();
            let (session, events) = smsc::accept(stream, peer.to_string(), smsc_config());
            tokio::spawn(serve(
                session,
                events,
                b.clone(),
                counter.clone(),
                receivers.clone(),
                seen2.clone(),
            ));
        }
    });
    Smsc { port, seen }
}

fn receipt(id: &str, text_only: bool, submit: &SubmitSm<Bytes>) -> Body<Bytes> {
    let text = format!(
        "id:{id} sub:001 dlvrd:001 submit date:2401011200 done date:2401011200 stat:DELIVRD err:000 text:"
    );
    let mut tlvs = TlvsBuilder::new();
    if !text_only {
        tlvs.push_c_octet_string(TlvTag::RECEIPTED_MESSAGE_ID, id.as_bytes())
            .push_u8(TlvTag::MESSAGE_STATE, 2);
    }
    Body::DeliverSm(SubmitSm {
        source: submit.destination.clone(),
        destination: submit.source.clone(),
        esm_class: EsmClass(EsmClass::TYPE_DELIVERY_RECEIPT),
        short_message: Bytes::from(text),
        tlvs: tlvs.build(),
        ..Default::default()
    })
}

async fn serve(
    session: Session,
    mut events: tokio::sync::mpsc::Receiver<Event>,
    b: Behaviour,
    counter: Arc<AtomicU64>,
    receivers: Arc<Mutex<Vec<Session>>>,
    seen: Arc<Seen>,
) {
    let mut trx = false;
    while let Some(Event::Request(pdu)) = events.recv().await {
        let seq = pdu.sequence_number;
        let command = pdu.command_id();
        match pdu.body {
            Body::BindTransmitter(bind)
            | Body::BindReceiver(bind)
            | Body::BindTransceiver(bind) => {
                let ok = &bind.password[..] == b"secret";
                let status = if ok { S::ESME_ROK } else { S::ESME_RINVPASWD };
                let resp = BindResp {
                    system_id: Bytes::from_static(b"test-smsc"),
                    tlvs: Default::default(),
                };
                let body = match command {
                    CommandId::BIND_TRANSMITTER => Body::BindTransmitterResp(resp),
                    CommandId::BIND_RECEIVER => Body::BindReceiverResp(resp),
                    _ => Body::BindTransceiverResp(resp),
                };
                let is_tx = command == CommandId::BIND_TRANSMITTER;
                trx = command == CommandId::BIND_TRANSCEIVER;
                let _ = session.respond(seq, status, body).await;
                if ok {
                    seen.binds.fetch_add(1, Ordering::Relaxed);
                }
                if ok && !is_tx && !trx {
                    receivers.lock().unwrap().push(session.clone());
                }
            }
            Body::SubmitSm(submit) => {
                seen.submits.fetch_add(1, Ordering::Relaxed);
                if submit.esm_class.udhi() {
                    seen.udhi.fetch_add(1, Ordering::Relaxed);
                }
                if submit.data_coding == DataCoding::UCS2 {
                    seen.ucs2.fetch_add(1, Ordering::Relaxed);
                }
                let n = counter.fetch_add(1, Ordering::Relaxed) + 1;
                if b.throttle_every > 0 && n % b.throttle_every == 0 {
                    let _ = session
                        .respond(
                            seq,
                            S::ESME_RTHROTTLED,
                            Body::SubmitSmResp(Default::default()),
                        )
                        .await;
                    continue;
                }
                let id = format!("{n:X}");
                let wants = submit.registered_delivery.smsc_receipt() == 1;
                let send_receipt =
                    b.receipts && wants && !(b.drop_every > 0 && n % b.drop_every == 0);
                // The receipt goes on this session if it can take it, else
                // on a receiver bound earlier.
                let target = if trx {
                    Some(session.clone())
                } else {
                    let r = receivers.lock().unwrap();
                    r.get(n as usize % r.len().max(1)).cloned()
                };
                let resp = Body::SubmitSmResp(SubmitSmResp {
                    // lower case in the response, upper case in the receipt
                    message_id: Bytes::from(id.to_lowercase()),
                    tlvs: Default::default(),
                });
                if !b.receipt_first {
                    let _ = session.respond(seq, S::ESME_ROK, resp.clone()).await;
                }
                if let (true, Some(target)) = (send_receipt, target) {
                    let times = if b.twice { 2 } else { 1 };
                    for _ in 0..times {
                        // The response future is dropped: the window slot
                        // frees itself when the deliver_sm_resp arrives.
                        let _ = target
                            .send_request(receipt(&id, b.text_only, &submit))
                            .await;
                    }
                }
                if b.receipt_first {
                    let _ = session.respond(seq, S::ESME_ROK, resp).await;
                }
                if b.mo_every > 0 && n % b.mo_every == 0 && trx {
                    let mo = Body::DeliverSm(SubmitSm {
                        source: submit.destination.clone(),
                        destination: submit.source.clone(),
                        short_message: Bytes::from_static(b"hello back"),
                        ..Default::default()
                    });
                    let _ = session.send_request(mo).await;
                }
            }
            _ => {
                let _ = session.respond_error(&pdu, S::ESME_RINVCMDID).await;
            }
        }
    }
}

fn args(port: u16, extra: &[&str]) -> Args {
    let port = port.to_string();
    let base = [
        "smpp-load",
        "--host",
        "127.0.0.1",
        "--port",
        &port,
        "-u",
        "load",
        "-p",
        "secret",
    ];
    Args::try_parse_from(base.iter().chain(extra.iter()).copied()).unwrap()
}

async fn run(port: u16, extra: &[&str]) -> Summary {
    smpp_load::run(&args(port, extra)).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_receipt_matched_across_binds() {
    let smsc = start_smsc(Behaviour {
        receipts: true,
        ..Default::default()
    })
    .await;
    let s = run(
        smsc.port,
        &["--binds", "3", "--window", "16", "--count", "3000", "--dlr"],
    )
    .await;
    assert_eq!(s.messages, 3000);
    assert_eq!(s.sent, 3000);
    assert_eq!(s.ok, 3000);
    assert!(s.errors.is_empty());
    assert_eq!(s.dlr_requested, 3000);
    assert_eq!(s.dlr_received, 3000);
    assert_eq!(s.dlr_matched, 3000);
    assert_eq!((s.lost, s.duplicates, s.dlr_unmatched), (0, 0, 0));
    assert_eq!(s.dlr_by_stat.get("DELIVRD"), Some(&3000));
    assert!(s.submit_per_s > 0.0 && s.dlr_per_s > 0.0);
    assert!(s.submit_latency_ms.max >= s.submit_latency_ms.p50);
    assert!(s.dlr_latency_ms.p50 > 0.0);
    assert_eq!(s.exit_code(), EXIT_OK);
    assert_eq!(smsc.seen.submits.load(Ordering::Relaxed), 3000);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn receipts_before_their_submit_sm_resp_and_text_only() {
    let smsc = start_smsc(Behaviour {
        receipts: true,
        receipt_first: true,
        text_only: true,
        ..Default::default()
    })
    .await;
    let s = run(smsc.port, &["--binds", "2", "--count", "2000", "--dlr"]).await;
    assert_eq!((s.ok, s.dlr_matched, s.lost), (2000, 2000, 0));
    assert_eq!((s.duplicates, s.dlr_unmatched), (0, 0));
    assert_eq!(s.exit_code(), EXIT_OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lost_receipts_fail_the_run() {
    let smsc = start_smsc(Behaviour {
        receipts: true,
        drop_every: 10,
        ..Default::default()
    })
    .await;
    let s = run(
        smsc.port,
        &["--count", "500", "--dlr", "--dlr-timeout", "0.3"],
    )
    .await;
    assert_eq!(s.ok, 500);
    assert_eq!(s.dlr_matched, 450);
    assert_eq!(s.lost, 50);
    assert_eq!(s.exit_code(), EXIT_LOST);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicate_receipts_and_mo() {
    let smsc = start_smsc(Behaviour {
        receipts: true,
        twice: true,
        mo_every: 10,
        ..Default::default()
    })
    .await;
    let s = run(smsc.port, &["--count", "300", "--dlr"]).await;
    // Wait-for-receipts ends when all matched; the second copies may still
    // be on their way then, so duplicates are at most one per message.
    assert_eq!((s.dlr_matched, s.lost), (300, 0));
    assert!(s.duplicates <= 300);
    assert_eq!(s.dlr_received, 300 + s.duplicates);
    assert!(s.mo <= 30);
    assert_eq!(s.exit_code(), EXIT_OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn error_statuses_are_counted_by_name() {
    let smsc = start_smsc(Behaviour {
        receipts: true,
        throttle_every: 4,
        ..Default::default()
    })
    .await;
    let s = run(smsc.port, &["--count", "400", "--dlr", "--binds", "2"]).await;
    assert_eq!(s.sent, 400);
    assert_eq!(s.ok, 300);
    assert_eq!(s.errors.get("ESME_RTHROTTLED"), Some(&100));
    assert_eq!((s.dlr_requested, s.dlr_matched, s.lost), (300, 300, 0));
    assert_eq!(s.exit_code(), EXIT_OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn long_ucs2_messages_send_each_part() {
    let smsc = start_smsc(Behaviour {
        receipts: true,
        ..Default::default()
    })
    .await;
    let s = run(smsc.port, &["--count", "50", "--long", "--ucs2", "--dlr"]).await;
    assert_eq!(s.messages, 50);
    assert!(s.sent >= 150, "{s:?}");
    assert_eq!(s.sent % 50, 0);
    assert_eq!((s.ok, s.dlr_matched, s.lost), (s.sent, s.sent, 0));
    assert_eq!(smsc.seen.udhi.load(Ordering::Relaxed), s.sent);
    assert_eq!(smsc.seen.ucs2.load(Ordering::Relaxed), s.sent);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transmitters_with_receivers() {
    let smsc = start_smsc(Behaviour {
        receipts: true,
        ..Default::default()
    })
    .await;
    let s = run(
        smsc.port,
        &[
            "--bind-mode",
            "tx",
            "--binds",
            "2",
            "--count",
            "1000",
            "--dlr",
        ],
    )
    .await;
    assert_eq!(s.bind_mode, "tx");
    assert_eq!((s.ok, s.dlr_matched, s.lost), (1000, 1000, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_and_duration() {
    let smsc = start_smsc(Behaviour::default()).await;
    // 1000 submits at 4000/s over two binds: about 0.25 s
    let s = run(
        smsc.port,
        &["--binds", "2", "--rate", "4000", "--count", "1000"],
    )
    .await;
    assert_eq!(s.ok, 1000);
    assert!((0.2..0.6).contains(&s.elapsed_s), "{}", s.elapsed_s);
    // 0.3 s at 2000/s: about 600 messages
    let s = run(smsc.port, &["--rate", "2000", "--duration", "0.3"]).await;
    assert!((500..=700).contains(&s.ok), "{}", s.ok);
    assert!(s.elapsed_s < 0.6);
}

/// `--intervals`: one CSV line per window as the run goes, and a last one
/// at its end; the windows together count every response and receipt.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn intervals_count_every_response_and_receipt_by_window() {
    let smsc = start_smsc(Behaviour {
        receipts: true,
        ..Default::default()
    })
    .await;
    let path = std::env::temp_dir().join(format!("smpp-load-windows-{}.csv", std::process::id()));
    let p = path.to_str().unwrap();
    let s = run(
        smsc.port,
        &[
            "--rate",
            "2000",
            "--count",
            "1000",
            "--dlr",
            "--intervals",
            p,
            "--interval",
            "0.1",
        ],
    )
    .await;
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::remove_file(&path).unwrap();
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some(smpp_load::intervals::HEADER));
    let rows: Vec<Vec<String>> = lines
        .map(|l| l.split(',').map(str::to_string).collect())
        .collect();
    // About 0.5 s of submits in 0.1 s windows.
    assert!(rows.len() >= 4, "{text}");
    let sum = |col: usize| {
        rows.iter()
            .map(|r| r[col].parse::<u64>().unwrap())
            .sum::<u64>()
    };
    assert_eq!(sum(1), s.ok);
    assert_eq!(sum(5), s.dlr_matched);
    assert_eq!(s.dlr_matched, 1000);
    for r in &rows {
        assert_eq!(r.len(), 9, "{r:?}");
        if r[1] != "0" {
            let (p50, p99, max): (f64, f64, f64) = (
                r[2].parse().unwrap(),
                r[3].parse().unwrap(),
                r[4].parse().unwrap(),
            );
            assert!(p50 <= p99 && p99 <= max, "{r:?}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hold_keeps_the_binds_idle_before_submitting() {
    let smsc = start_smsc(Behaviour::default()).await;
    // --count 0 --hold: bind, stay bound without a submit, unbind.
    let started = std::time::Instant::now();
    let a = args(
        smsc.port,
        &["--binds", "3", "--count", "0", "--hold", "0.6"],
    );
    let held = tokio::spawn(async move { smpp_load::run(&a).await });
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(smsc.seen.binds.load(Ordering::Relaxed), 3);
    assert!(!held.is_finished());
    let s = held.await.unwrap().unwrap();
    assert!(started.elapsed() >= std::time::Duration::from_millis(600));
    assert_eq!(
        (s.binds, s.messages, s.sent, s.ok, s.disconnects),
        (3, 0, 0, 0, 0)
    );
    assert_eq!(s.exit_code(), EXIT_OK);
    assert_eq!(smsc.seen.submits.load(Ordering::Relaxed), 0);

    // With a count, the submits start once the hold is over.
    let a = args(smsc.port, &["--count", "50", "--hold", "0.4"]);
    let held = tokio::spawn(async move { smpp_load::run(&a).await });
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    assert_eq!(smsc.seen.binds.load(Ordering::Relaxed), 4);
    assert_eq!(smsc.seen.submits.load(Ordering::Relaxed), 0);
    let s = held.await.unwrap().unwrap();
    assert_eq!(s.ok, 50);
    assert_eq!(smsc.seen.submits.load(Ordering::Relaxed), 50);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bind_refused_and_nothing_listening() {
    let smsc = start_smsc(Behaviour::default()).await;
    let mut a = args(smsc.port, &["--binds", "2"]);
    a.password = "wrong".into();
    let e = smpp_load::run(&a).await.unwrap_err();
    assert!(matches!(e, LoadError::BindRefused(_)));
    assert_eq!(e.to_string(), "bind refused: ESME_RINVPASWD");

    let free = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = free.local_addr().unwrap().port();
    drop(free);
    let e = smpp_load::run(&args(port, &[])).await.unwrap_err();
    assert!(matches!(e, LoadError::Connect { .. }), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_session_is_a_connection_error() {
    // An SMSC that binds, answers 10 submits, then closes the connection.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        let (stream, _) = listener.accept().await.unwrap();
        let (session, mut events) = smsc::accept(stream, "t".into(), smsc_config());
        let mut n = 0;
        while let Some(Event::Request(pdu)) = events.recv().await {
            let seq = pdu.sequence_number;
            let body = match pdu.body {
                Body::BindTransceiver(_) => Body::BindTransceiverResp(BindResp::default()),
                Body::SubmitSm(_) => {
                    n += 1;
                    if n > 10 {
                        session.close();
                        break;
                    }
                    Body::SubmitSmResp(SubmitSmResp {
                        message_id: Bytes::from(n.to_string()),
                        tlvs: Default::default(),
                    })
                }
                _ => continue,
            };
            let _ = session.respond(seq, S::ESME_ROK, body).await;
        }
        let _ = session.closed().await;
        assert_eq!(session.state(), BindState::Closed);
    });
    let s = run(port, &["--count", "100"]).await;
    assert_eq!(s.ok, 10);
    assert_eq!(s.disconnects, 1);
    assert!(s.failed > 0);
    assert_eq!(s.exit_code(), smpp_load::EXIT_CONNECTION);
}

/// Run the binary against the test SMSC: stdout is one JSON object and the
/// exit status follows the summary.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_prints_json_and_sets_its_exit_status() {
    let good = start_smsc(Behaviour {
        receipts: true,
        ..Default::default()
    })
    .await;
    let lossy = start_smsc(Behaviour {
        receipts: true,
        drop_every: 2,
        ..Default::default()
    })
    .await;
    let bin = env!("CARGO_BIN_EXE_smpp-load");
    let exec = |port: u16, password: &'static str, extra: &'static [&'static str]| {
        tokio::task::spawn_blocking(move || {
            std::process::Command::new(bin)
                .args(["--host", "127.0.0.1", "--port", &port.to_string()])
                .args(["-u", "load", "-p", password, "--json"])
                .args(extra)
                .output()
                .unwrap()
        })
    };

    let out = exec(good.port, "secret", &["--count", "200", "--dlr"])
        .await
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let s: Summary = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!((s.sent, s.ok, s.dlr_matched, s.lost), (200, 200, 200, 0));

    let out = exec(
        lossy.port,
        "secret",
        &["--count", "100", "--dlr", "--dlr-timeout", "0.2"],
    )
    .await
    .unwrap();
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let s: Summary = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(s.lost, 50);

    let out = exec(good.port, "wrong", &[]).await.unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("bind refused: ESME_RINVPASWD"), "{stderr}");

    let out = exec(good.port, "secret", &["--count", "1", "--duration", "1"])
        .await
        .unwrap();
    assert_eq!(out.status.code(), Some(64));
}
