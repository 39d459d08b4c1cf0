//! Connectors: tern takes accepted messages from its queue and submits them
//! to a real smsc-sim, splitting long content, retrying temporary errors,
//! failing permanent ones with a refund, reconnecting when dropped.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use bytes::Bytes;
use e2e::*;
use smpp::pdu::*;
use smpp::tlv::{TlvTag, TlvsBuilder};
use smpp::{CommandStatus as S, MessageState};
use smpp_session::{BindMode, Session};

fn config(sim_port: u16, store: &str, extra_connector: &str) -> String {
    format!(
        "
[smpp-server]
bind = 127.0.0.1
port = {{smpp_port}}
[http-api]
port = {{http_port}}
{store}
[user:acme]
password = pw
max_binds = 8
[user:paying]
password = pw
credit = 0.1
[connector:sim]
host = 127.0.0.1
port = {sim_port}
username = smppclient1
password = password
reconnect_delay = 1
{extra_connector}
[mt-route:0]
type = default
connectors = sim
rate = 0.1
"
    )
}

fn submit(text: &[u8]) -> Body<Bytes> {
    Body::SubmitSm(SubmitSm {
        source: Address {
            addr: Bytes::from_static(b"Tern"),
            ..Default::default()
        },
        destination: Address {
            addr: Bytes::from_static(b"447700900123"),
            ..Default::default()
        },
        short_message: Bytes::copy_from_slice(text),
        ..Default::default()
    })
}

async fn submit_ok(s: &Session, body: Body<Bytes>) -> Bytes {
    let r = s.request(body).await.unwrap();
    assert_eq!(r.command_status, S::ESME_ROK);
    match r.body {
        Body::SubmitSmResp(r) => r.message_id,
        other => panic!("{other:?}"),
    }
}

async fn state(s: &Session, id: &Bytes) -> MessageState {
    let r = s
        .request(Body::QuerySm(QuerySm {
            message_id: id.clone(),
            ..Default::default()
        }))
        .await
        .unwrap();
    let Body::QuerySmResp(q) = r.body else {
        panic!()
    };
    q.message_state
}

fn sim_args() -> Vec<&'static str> {
    vec!["--system-id", "smppclient1", "--password", "password"]
}

#[tokio::test]
async fn messages_reach_the_smsc_on_memory_and_redis() {
    let redis = Redis::start();
    for store in [
        "[store]\nbackend = memory".to_string(),
        format!("[store]\nbackend = redis\nurl = {}", redis.url()),
    ] {
        let sim = Sim::start(&sim_args());
        let t = Tern::start(&config(sim.port, &store, ""));
        let port = t.port.to_string();
        let out = run_with_timeout(
            "smpp-load",
            &[
                "--port", &port, "-u", "acme", "-p", "pw", "--count", "2000", "--binds", "2",
                "--json",
            ],
            Duration::from_secs(60),
        );
        let s: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(s["ok"], 2000, "{s}");
        sim.wait_for("2000 submits", Duration::from_secs(20), |c| {
            c["submit_ok"] == 2000
        });
        if store.contains("redis") {
            assert_eq!(redis.cli(&["XLEN", "tern:{c:sim}:mt"]).trim(), "0");
        }
    }
}

#[tokio::test]
async fn long_content_is_split_for_the_smsc() {
    let sim = Sim::start(&sim_args());
    let t = Tern::start(&config(sim.port, "", ""));
    let (s, _e) = bind(t.port, BindMode::Transmitter, "acme", "pw")
        .await
        .unwrap();
    let mut t400 = TlvsBuilder::new();
    t400.push(TlvTag::MESSAGE_PAYLOAD, &[b'x'; 400]);
    let body = Body::SubmitSm(SubmitSm {
        destination: Address {
            addr: Bytes::from_static(b"4477"),
            ..Default::default()
        },
        tlvs: t400.build(),
        ..Default::default()
    });
    submit_ok(&s, body).await;
    sim.wait_for("3 parts", Duration::from_secs(10), |c| c["submit_ok"] == 3);
}

#[tokio::test]
async fn permanent_rejections_fail_the_message_and_refund() {
    let mut args = sim_args();
    args.extend(["--fail-rate", "1", "--fail-status", "0x45"]);
    let sim = Sim::start(&args);
    let t = Tern::start(&config(sim.port, "", ""));
    let (s, _e) = bind(t.port, BindMode::Transceiver, "paying", "pw")
        .await
        .unwrap();
    let id = submit_ok(&s, submit(b"one")).await;
    // Credit 0.1 was spent on it; after the rejection it is refunded.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while state(&s, &id).await != MessageState::Rejected {
        assert!(std::time::Instant::now() < deadline, "not rejected in time");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    submit_ok(&s, submit(b"two")).await;
    assert!(sim.counters()["submit_failed"].as_u64().unwrap() >= 1);
}

#[tokio::test]
async fn a_dropped_connection_is_rebound_and_nothing_is_lost() {
    let mut args = sim_args();
    // The SMSC drops the connection after every 150 PDUs it receives.
    args.extend(["--drop-after", "150"]);
    let sim = Sim::start(&args);
    let t = Tern::start(&config(sim.port, "", ""));
    let (s, _e) = bind(t.port, BindMode::Transmitter, "acme", "pw")
        .await
        .unwrap();
    for i in 0..500 {
        submit_ok(&s, submit(format!("m{i}").as_bytes())).await;
    }
    // Every message reaches the SMSC at least once across the reconnects.
    let c = sim.wait_for("500 submits", Duration::from_secs(60), |c| {
        c["submit_ok"].as_u64().unwrap() >= 500
    });
    assert!(c["binds"].as_u64().unwrap() >= 4, "{c}");
}

#[tokio::test]
async fn throttling_upstream_is_retried_and_tx_rx_binds_work() {
    let mut args = sim_args();
    args.extend(["--max-tps", "20"]);
    let sim = Sim::start(&args);
    let t = Tern::start(&config(sim.port, "", "bind = tx+rx"));
    let (s, _e) = bind(t.port, BindMode::Transmitter, "acme", "pw")
        .await
        .unwrap();
    for i in 0..60 {
        submit_ok(&s, submit(format!("m{i}").as_bytes())).await;
    }
    // Above 20/s the SMSC throttles; tern slows down and retries until all
    // 60 are through.
    let c = sim.wait_for("60 submits", Duration::from_secs(30), |c| {
        c["submit_ok"] == 60
    });
    assert!(c["throttled"].as_u64().unwrap() > 0, "{c}");
    assert_eq!(c["binds_active"], 2, "a transmitter and a receiver: {c}");
}

#[tokio::test]
async fn sigterm_on_the_memory_store_sends_what_is_queued_first() {
    let mut args = sim_args();
    // A slow upstream, so messages are still queued when tern is told to stop.
    args.extend(["--max-tps", "200"]);
    let sim = Sim::start(&args);
    let t = Tern::start(&config(sim.port, "", "submit_throughput = 150"));
    let (s, _e) = bind(t.port, BindMode::Transmitter, "acme", "pw")
        .await
        .unwrap();
    for i in 0..300 {
        submit_ok(&s, submit(format!("m{i}").as_bytes())).await;
    }
    t.proc.signal("TERM");
    let mut t = t;
    let status = t.proc.child.take().unwrap().wait().unwrap();
    assert!(status.success(), "{status:?}");
    // Every accepted message went upstream before tern exited.
    assert_eq!(sim.counters()["submit_ok"], 300);
}
