//! Log lines carry their stage's span: a real `tern` at debug level, its
//! stderr in a file, one message through `smsc-sim` and its receipt back.
//! A receipt handled in a task the connector spawned still says which
//! connector it came from, and the delivery worker's lines say which user
//! they serve (STYLE.md: spawned tasks carry their span).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::{Command, Stdio};
use std::time::Duration;

use bytes::Bytes;
use e2e::*;
use smpp::CommandStatus as S;
use smpp::pdu::*;
use smpp_session::BindMode;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn receipt_and_delivery_logs_name_their_connector_and_user() {
    let sim = Sim::start(&[]);
    let port = free_port();
    let dir = std::env::temp_dir().join(format!("tern-spans-{}-{port}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let config = dir.join("tern.ini");
    std::fs::write(
        &config,
        format!(
            "[smpp-server]\nbind = 127.0.0.1\nport = {port}\n[http-api]\nport = {}\n\
             [log]\nlevel = debug\n[store]\nbackend = memory\n\
             [user:alice]\npassword = pw\n\
             [connector:upstream-a]\nhost = 127.0.0.1\nport = {}\nusername = alice\npassword = pw\nreconnect_delay = 1\n\
             [mt-route:0]\ntype = default\nconnectors = upstream-a\n",
            free_port(),
            sim.port
        ),
    )
    .unwrap();
    let log = dir.join("tern.log");
    let child = Command::new(bin("tern"))
        .args(["run", "-c", config.to_str().unwrap()])
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let tern = Proc {
        child: Some(child),
        name: "tern".into(),
    };
    wait_for_port(port);

    let (esme, mut events) = bind(port, BindMode::Transceiver, "alice", "pw")
        .await
        .unwrap();
    let r = esme
        .request(Body::SubmitSm(SubmitSm {
            source: Address {
                addr: Bytes::from_static(b"Tern"),
                ..Default::default()
            },
            destination: Address {
                addr: Bytes::from_static(b"447700900123"),
                ..Default::default()
            },
            registered_delivery: RegisteredDelivery(1),
            short_message: Bytes::from_static(b"hello"),
            ..Default::default()
        }))
        .await
        .unwrap();
    assert_eq!(r.command_status, S::ESME_ROK);
    let receipt = next_deliver(&esme, &mut events, Duration::from_secs(30)).await;
    assert!(receipt.esm_class.is_receipt());
    let _ = esme.unbind().await;
    tern.stop();

    let text = std::fs::read_to_string(&log).unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    let line = |what: &str| {
        text.lines()
            .find(|l| l.contains(what))
            .unwrap_or_else(|| panic!("no line with {what:?} in tern's log:\n{text}"))
            .to_string()
    };
    // The receipt is handled in a task inbound::spawn started.
    let receipt_line = line(": receipt upstream_id=");
    assert!(
        receipt_line.contains("connector{connector=upstream-a session=0}"),
        "{receipt_line}"
    );
    // The delivery worker runs in a task of its own, as do its acker and
    // each send.
    let worker_line = line("delivery worker starts");
    assert!(
        worker_line.contains("delivery{user=alice}"),
        "{worker_line}"
    );
}
