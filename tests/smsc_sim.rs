//! smsc-sim as a real process, driven over SMPP on loopback.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use bytes::Bytes;
use e2e::*;
use smpp::pdu::*;
use smpp::receipt::Receipt;
use smpp::{CommandStatus as S, MessageState};
use smpp_session::{BindMode, Session, SessionError};
use tokio::time::timeout;

fn submit(rd: u8, text: &str) -> Body<Bytes> {
    Body::SubmitSm(SubmitSm {
        source: Address {
            ton: Ton::ALPHANUMERIC,
            npi: Npi::UNKNOWN,
            addr: Bytes::from_static(b"Tern"),
        },
        destination: Address {
            ton: Ton::INTERNATIONAL,
            npi: Npi::ISDN,
            addr: Bytes::from_static(b"447700900123"),
        },
        registered_delivery: RegisteredDelivery(rd),
        short_message: Bytes::copy_from_slice(text.as_bytes()),
        ..Default::default()
    })
}

async fn submit_ok(s: &Session, rd: u8, text: &str) -> String {
    let r = s.request(submit(rd, text)).await.unwrap();
    assert_eq!(r.command_status, S::ESME_ROK);
    let Body::SubmitSmResp(r) = r.body else {
        panic!()
    };
    String::from_utf8(r.message_id.to_vec()).unwrap()
}

#[tokio::test]
async fn receipt_on_the_same_transceiver_with_tlvs_and_text() {
    let (_sim, port) = smsc_sim(&[]);
    let (s, mut ev) = bind(port, BindMode::Transceiver, "acme", "pw")
        .await
        .unwrap();
    let id = submit_ok(&s, 1, "hello from the test suite").await;
    assert!(u64::from_str_radix(&id, 16).is_ok(), "hex id {id}");
    let d = next_deliver(&s, &mut ev, Duration::from_secs(5)).await;
    assert!(d.esm_class.is_receipt());
    assert_eq!(d.tlvs.receipted_message_id(), Some(id.as_bytes()));
    assert_eq!(d.tlvs.message_state(), Some(MessageState::Delivered));
    let r = Receipt::parse(&d.short_message).unwrap();
    assert_eq!(
        (r.id.as_str(), r.stat, r.sub, r.dlvrd),
        (id.as_str(), MessageState::Delivered, Some(1), Some(1))
    );
    assert_eq!(r.text.as_deref(), Some("hello from the test "));
    assert_eq!(d.source.addr, Bytes::from_static(b"447700900123"));
    s.unbind().await.unwrap();
}

#[tokio::test]
async fn decimal_ids_and_a_stat_mix_with_error_codes() {
    let (_sim, port) = smsc_sim(&["--id-format", "dec", "--dlr-stat", "UNDELIV:034=1"]);
    let (s, mut ev) = bind(port, BindMode::Transceiver, "acme", "pw")
        .await
        .unwrap();
    let id = submit_ok(&s, 1, "x").await;
    assert!(id.parse::<u64>().is_ok(), "decimal id {id}");
    let d = next_deliver(&s, &mut ev, Duration::from_secs(5)).await;
    let r = Receipt::from_tlvs(&d.short_message, &d.tlvs).unwrap();
    assert_eq!(
        (r.stat, r.err.as_deref()),
        (MessageState::Undeliverable, Some("034"))
    );
    assert_eq!(d.tlvs.network_error_code(), Some((3, 34)));
    // registered_delivery 2 (failure only) still gets it; 0 gets nothing.
    submit_ok(&s, 2, "y").await;
    next_deliver(&s, &mut ev, Duration::from_secs(5)).await;
    submit_ok(&s, 0, "z").await;
    assert!(
        timeout(Duration::from_millis(300), ev.recv())
            .await
            .is_err()
    );
}

#[tokio::test]
async fn receipts_are_owed_until_a_receiver_binds() {
    let (_sim, port) = smsc_sim(&["--dlr-delay-ms", "100"]);
    let (tx, _tx_ev) = bind(port, BindMode::Transmitter, "owed", "pw")
        .await
        .unwrap();
    let ids = [submit_ok(&tx, 1, "a").await, submit_ok(&tx, 1, "b").await];
    tokio::time::sleep(Duration::from_millis(400)).await;
    let (rx, mut ev) = bind(port, BindMode::Receiver, "owed", "pw").await.unwrap();
    let mut got = vec![
        next_deliver(&rx, &mut ev, Duration::from_secs(5)).await,
        next_deliver(&rx, &mut ev, Duration::from_secs(5)).await,
    ]
    .into_iter()
    .map(|d| String::from_utf8(d.tlvs.receipted_message_id().unwrap().to_vec()).unwrap())
    .collect::<Vec<_>>();
    got.sort();
    let mut want = ids.to_vec();
    want.sort();
    assert_eq!(got, want);
}

#[tokio::test]
async fn injected_failures_throttling_and_max_tps() {
    let (_sim, port) = smsc_sim(&["--fail-rate", "1", "--fail-status", "0x45"]);
    let (s, _ev) = bind(port, BindMode::Transmitter, "u", "p").await.unwrap();
    assert_eq!(
        s.request(submit(1, "x")).await.unwrap().command_status,
        S::ESME_RSUBMITFAIL
    );

    let (_sim, port) = smsc_sim(&["--throttle-rate", "1"]);
    let (s, _ev) = bind(port, BindMode::Transmitter, "u", "p").await.unwrap();
    assert_eq!(
        s.request(submit(1, "x")).await.unwrap().command_status,
        S::ESME_RTHROTTLED
    );

    let (_sim, port) = smsc_sim(&["--max-tps", "5"]);
    let (s, _ev) = bind(port, BindMode::Transmitter, "u", "p").await.unwrap();
    let mut throttled = 0;
    for _ in 0..20 {
        if s.request(submit(0, "x")).await.unwrap().command_status == S::ESME_RTHROTTLED {
            throttled += 1;
        }
    }
    // Twenty in well under two seconds: at most ten fit under 5/s.
    assert!(throttled >= 10, "{throttled} throttled");
}

#[tokio::test]
async fn credentials_are_checked_when_configured() {
    let (_sim, port) = smsc_sim(&["--system-id", "smppclient1", "--password", "password"]);
    let e = bind(port, BindMode::Transceiver, "smppclient1", "wrong")
        .await
        .err()
        .unwrap();
    assert_eq!(e, SessionError::BindRefused(S::ESME_RINVPASWD));
    bind(port, BindMode::Transceiver, "smppclient1", "password")
        .await
        .unwrap();
}

#[tokio::test]
async fn query_and_cancel() {
    let (_sim, port) = smsc_sim(&["--dlr-delay-ms", "1500"]);
    let (s, mut ev) = bind(port, BindMode::Transceiver, "q", "p").await.unwrap();
    let query = |id: &str| {
        Body::QuerySm(QuerySm {
            message_id: Bytes::copy_from_slice(id.as_bytes()),
            ..Default::default()
        })
    };
    let a = submit_ok(&s, 1, "to cancel").await;
    let b = submit_ok(&s, 1, "to deliver").await;
    let r = s.request(query(&a)).await.unwrap();
    let Body::QuerySmResp(q) = r.body else {
        panic!()
    };
    assert_eq!(
        (r.command_status, q.message_state),
        (S::ESME_ROK, MessageState::Enroute)
    );
    let cancel = Body::CancelSm(CancelSm {
        message_id: Bytes::copy_from_slice(a.as_bytes()),
        ..Default::default()
    });
    assert_eq!(
        s.request(cancel.clone()).await.unwrap().command_status,
        S::ESME_ROK
    );
    assert_eq!(
        s.request(cancel).await.unwrap().command_status,
        S::ESME_RCANCELFAIL
    );
    let Body::QuerySmResp(q) = s.request(query(&a)).await.unwrap().body else {
        panic!()
    };
    assert_eq!(q.message_state, MessageState::Deleted);
    // Another system_id cannot see it.
    let (other, _e) = bind(port, BindMode::Transceiver, "someone-else", "p")
        .await
        .unwrap();
    assert_eq!(
        other.request(query(&b)).await.unwrap().command_status,
        S::ESME_RQUERYFAIL
    );
    // The cancelled one's receipt says DELETED; the other is delivered, and
    // then query_sm says so with a final date.
    let mut stats = Vec::new();
    for _ in 0..2 {
        let d = next_deliver(&s, &mut ev, Duration::from_secs(5)).await;
        let r = Receipt::from_tlvs(&d.short_message, &d.tlvs).unwrap();
        // Both come from the handset: the message's addresses, swapped.
        assert_eq!(
            (&d.source.addr[..], &d.destination.addr[..]),
            (&b"447700900123"[..], &b"Tern"[..]),
            "{:?}",
            r.stat
        );
        stats.push((r.id, r.stat));
    }
    stats.sort_by(|x, y| x.0.cmp(&y.0));
    let mut want = vec![
        (a.clone(), MessageState::Deleted),
        (b.clone(), MessageState::Delivered),
    ];
    want.sort_by(|x, y| x.0.cmp(&y.0));
    assert_eq!(stats, want);
    let Body::QuerySmResp(q) = s.request(query(&b)).await.unwrap().body else {
        panic!()
    };
    assert_eq!(q.message_state, MessageState::Delivered);
    assert_eq!(q.final_date.len(), 16);
}

#[tokio::test]
async fn drop_after_n_pdus() {
    let (_sim, port) = smsc_sim(&["--drop-after", "3"]);
    let (s, _ev) = bind(port, BindMode::Transmitter, "d", "p").await.unwrap();
    // The bind was the first; two submits are answered, the third is not.
    submit_ok(&s, 0, "1").await;
    submit_ok(&s, 0, "2").await;
    let r = s.request(submit(0, "3")).await;
    assert!(matches!(r, Err(SessionError::Closed(_))), "{r:?}");
}

#[tokio::test]
async fn mo_messages_at_a_rate() {
    let (_sim, port) = smsc_sim(&["--mo-rate", "20"]);
    let (s, mut ev) = bind(port, BindMode::Receiver, "mo", "p").await.unwrap();
    for _ in 0..3 {
        let d = next_deliver(&s, &mut ev, Duration::from_secs(5)).await;
        assert!(!d.esm_class.is_receipt());
        assert!(d.short_message.starts_with(b"MO message"));
    }
}

#[tokio::test]
async fn counters_on_sigusr1_and_exit() {
    let (sim, port) = smsc_sim(&[]);
    let (s, mut ev) = bind(port, BindMode::Transceiver, "c", "p").await.unwrap();
    submit_ok(&s, 1, "count me").await;
    next_deliver(&s, &mut ev, Duration::from_secs(5)).await;
    s.unbind().await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    sim.signal("USR1");
    tokio::time::sleep(Duration::from_millis(200)).await;
    let out = sim.stop();
    assert!(out.status.success(), "{:?}", out.status);
    let lines: Vec<serde_json::Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2, "one line on SIGUSR1, one on exit");
    let last = &lines[1];
    assert_eq!(last["submit_ok"], 1);
    assert_eq!(last["receipts_acked"], 1);
    assert_eq!(last["binds"], 1);
    assert_eq!(last["binds_active"], 0);
}

#[test]
fn smpp_load_against_smsc_sim_gets_every_receipt() {
    let (_sim, port) = smsc_sim(&[]);
    let port = port.to_string();
    for extra in [
        &["--binds", "2"][..],
        &["--long", "--ucs2"][..],
        &["--bind-mode", "tx"][..],
    ] {
        let mut args = vec![
            "--port",
            &port,
            "-u",
            "load",
            "-p",
            "pw",
            "--count",
            "3000",
            "--window",
            "32",
            "--dlr",
            "--json",
            "--dlr-timeout",
            "20",
        ];
        args.extend_from_slice(extra);
        let out = run_with_timeout("smpp-load", &args, std::time::Duration::from_secs(60));
        let s: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!(
                "{e}: {}\n{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            )
        });
        assert_eq!(out.status.code(), Some(0), "{extra:?}: {s}");
        assert_eq!(s["ok"], s["sent"], "{s}");
        assert_eq!(s["dlr_matched"], s["ok"], "{s}");
        assert_eq!(s["lost"], 0);
        assert_eq!(s["duplicates"], 0);
    }
}

#[test]
fn smpp_load_exits_non_zero_when_receipts_are_lost() {
    // Receipts far later than smpp-load waits for: every one is lost.
    let (_sim, port) = smsc_sim(&["--dlr-delay-ms", "60000"]);
    let port = port.to_string();
    let out = run_with_timeout(
        "smpp-load",
        &[
            "--port",
            &port,
            "-u",
            "l",
            "-p",
            "p",
            "--count",
            "10",
            "--dlr",
            "--json",
            "--dlr-timeout",
            "1",
        ],
        std::time::Duration::from_secs(30),
    );
    assert_eq!(out.status.code(), Some(2));
    let s: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(s["lost"], 10);
}
