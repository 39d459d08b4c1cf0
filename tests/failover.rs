//! Failover routes on a real `tern` (issue 12, DESIGN.md "Routing:
//! failover and re-routing"): a message goes to the first connector of
//! its failover route that is bound, so with the first one's SMSC down
//! messages go to the second, and back to the first once it is up. A
//! message refused upstream with a status of its route's `reroute_on`,
//! or waiting for a connector down longer than its route's
//! `failover_after`, moves on to the next connector of its route, and
//! its user gets exactly one final receipt, from that connector.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "http_support/mod.rs"]
mod http_support;

use std::collections::BTreeMap;
use std::time::Duration;

use bytes::Bytes;
use e2e::*;
use smpp::pdu::{Body, DeliverSm};
use smpp::{CommandStatus as S, MessageState};
use smpp_session::{BindMode, Event, Session};
use tokio::sync::mpsc;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failover_route_sends_to_its_first_bound_connector() {
    // The first connector's SMSC is not there yet.
    let first_port = free_port();
    let second = Sim::start(&[]);
    let tern = Tern::start(&format!(
        "[smpp-server]\nbind = 127.0.0.1\nport = {{smpp_port}}\n\
         [http-api]\nbind = 127.0.0.1\nport = {{http_port}}\n\
         [user:alice]\npassword = pw\n\
         [connector:first]\nhost = 127.0.0.1\nport = {first_port}\nusername = u\npassword = p\nreconnect_delay = 1\n\
         [connector:second]\nhost = 127.0.0.1\nport = {}\nusername = u\npassword = p\nreconnect_delay = 1\n\
         [mt-route:10]\ntype = failover\nconnectors = first, second\n",
        second.port
    ));
    second.wait_for("second bound", Duration::from_secs(20), |c| {
        c["binds_active"] == 1
    });
    let (s, _events) = bind(tern.port, BindMode::Transmitter, "alice", "pw")
        .await
        .unwrap();
    let submit = |i| {
        let s = s.clone();
        async move {
            let r = s
                .send_request(Body::SubmitSm(sms(
                    "447700900123",
                    &format!("failover {i}"),
                    0,
                )))
                .await
                .unwrap();
            assert_eq!(r.await.unwrap().command_status, S::ESME_ROK);
        }
    };
    for i in 0..20 {
        submit(i).await;
    }
    second.wait_for("all 20 at the second", Duration::from_secs(20), |c| {
        c["submit_sm"] == 20
    });
    // The first comes up: new messages go to it.
    let first = Sim::start_on(first_port, &[]);
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let mut i = 20;
    // Sent until one reaches the first (it binds within its reconnect
    // delay); none is lost on the way.
    loop {
        submit(i).await;
        i += 1;
        tokio::time::sleep(Duration::from_millis(100)).await;
        let at_second = second.counters()["submit_sm"].as_u64().unwrap() as usize;
        if at_second < i {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the first never took over"
        );
    }
    // Every message reached one SMSC or the other, once.
    first.wait_for("the rest at the first", Duration::from_secs(20), |c| {
        c["submit_sm"].as_u64().unwrap() as usize
            + second.counters()["submit_sm"].as_u64().unwrap() as usize
            == i
    });
}

/// The server and user sections every test below shares, and `store`.
fn head(store: &str) -> String {
    format!(
        "[smpp-server]\nbind = 127.0.0.1\nport = {{smpp_port}}\n\
         [http-api]\nbind = 127.0.0.1\nport = {{http_port}}\n\
         {store}\n\
         [user:alice]\npassword = pw\n\
         [filter:de]\ntype = destination_addr\nvalue = ^49\n"
    )
}

fn connector(name: &str, port: u16) -> String {
    format!(
        "[connector:{name}]\nhost = 127.0.0.1\nport = {port}\nusername = u\npassword = p\nreconnect_delay = 1\n"
    )
}

/// Submit `text` to `dest` asking for a final receipt; its message id.
async fn submit(s: &Session, dest: &str, text: &str) -> String {
    let r = s
        .send_request(Body::SubmitSm(sms(dest, text, 1)))
        .await
        .unwrap()
        .await
        .unwrap();
    assert_eq!(r.command_status, S::ESME_ROK);
    match r.body {
        Body::SubmitSmResp(r) => String::from_utf8(r.message_id.to_vec()).unwrap(),
        other => panic!("{other:?}"),
    }
}

/// Every final receipt that comes on `ev` until `n` have come, then
/// for `quiet` more (a second receipt for a message fails the test): the
/// state and network error code of each, by message id.
async fn receipts(
    s: &Session,
    ev: &mut mpsc::Receiver<Event>,
    n: usize,
    quiet: Duration,
) -> BTreeMap<String, (MessageState, u16)> {
    let mut got = BTreeMap::new();
    let add = |got: &mut BTreeMap<String, (MessageState, u16)>, d: DeliverSm<Bytes>| {
        assert!(d.esm_class.is_receipt(), "not a receipt: {d:?}");
        let id = String::from_utf8(d.tlvs.receipted_message_id().unwrap().to_vec()).unwrap();
        let state = d.tlvs.message_state().unwrap();
        let (_, err) = d.tlvs.network_error_code().unwrap_or((0, 0));
        assert!(
            got.insert(id.clone(), (state, err)).is_none(),
            "a second receipt for {id}"
        );
    };
    while got.len() < n {
        add(&mut got, next_deliver(s, ev, Duration::from_secs(30)).await);
    }
    // Nothing more: exactly one final receipt each.
    let deadline = tokio::time::Instant::now() + quiet;
    while let Ok(Some(Event::Request(p))) = tokio::time::timeout_at(deadline, ev.recv()).await {
        let Body::DeliverSm(d) = p.body else {
            panic!("{:?}", p.body)
        };
        add(&mut got, d);
    }
    got
}

/// The value of one series on tern's /metrics (0 when absent).
fn metric(http_port: u16, series: &str) -> f64 {
    let a = http_support::get(&format!("http://127.0.0.1:{http_port}/metrics"));
    assert_eq!(a.status, 200);
    a.body
        .lines()
        .find_map(|l| l.strip_prefix(series)?.trim().parse().ok())
        .unwrap_or(0.0)
}

/// alice's balance, by /balance.
fn balance(http_port: u16) -> f64 {
    let a = http_support::get(&format!(
        "http://127.0.0.1:{http_port}/balance?username=alice&password=pw"
    ));
    assert_eq!(a.status, 200, "{}", a.body);
    a.json()["balance"]
        .as_f64()
        .unwrap_or_else(|| panic!("{}", a.body))
}

/// `reroute_on`: the first SMSC refuses every message with
/// ESME_RINVDSTADR; the route that names that status moves its messages
/// to the second connector, where they are delivered, each with one
/// DELIVRD receipt and charged once; a route that does not name it fails
/// its messages as before (one REJECTD receipt, error 0x0B).
async fn a_refusal_in_reroute_on_moves_a_message_on(store: &str) {
    let refusing = Sim::start(&["--fail-rate", "1", "--fail-status", "0x0b"]);
    let good = Sim::start(&[]);
    let http_port = free_port();
    let tern = Tern::start_on(
        &format!(
            "{}{}{}\
             [mt-route:20]\ntype = failover\nconnectors = first, second\nfilters = de\nrate = 1\n\
             [mt-route:10]\ntype = failover\nconnectors = first, second\nrate = 1\n\
             reroute_on = ESME_RINVDSTADR, ESME_RINVSRCADR\n",
            head(store).replace("password = pw\n", "password = pw\ncredit = 100\n"),
            connector("first", refusing.port),
            connector("second", good.port),
        ),
        free_port(),
        http_port,
    );
    for sim in [&refusing, &good] {
        sim.wait_for("bound", Duration::from_secs(20), |c| c["binds_active"] == 1);
    }
    let (s, mut ev) = bind(tern.port, BindMode::Transceiver, "alice", "pw")
        .await
        .unwrap();
    let mut moved = Vec::new();
    let mut failed = Vec::new();
    for i in 0..20 {
        moved.push(submit(&s, "447700900123", &format!("moved {i}")).await);
    }
    for i in 0..5 {
        failed.push(submit(&s, "4915100000000", &format!("failed {i}")).await);
    }
    let got = receipts(&s, &mut ev, 25, Duration::from_secs(2)).await;
    for id in &moved {
        assert_eq!(got[id], (MessageState::Delivered, 0), "{id}");
    }
    for id in &failed {
        assert_eq!(got[id], (MessageState::Rejected, 0x0b), "{id}");
    }
    // Every message was tried at the first; only the moved ones reached
    // the second, once each.
    let (r, g) = (refusing.counters(), good.counters());
    assert_eq!(
        (r["submit_sm"].as_u64(), r["submit_ok"].as_u64()),
        (Some(25), Some(0))
    );
    assert_eq!(
        (g["submit_sm"].as_u64(), g["submit_ok"].as_u64()),
        (Some(20), Some(20))
    );
    assert_eq!(
        metric(
            http_port,
            r#"tern_messages_rerouted_total{connector="first",reason="refused"}"#
        ),
        20.0
    );
    // Charged once for each message delivered, refunded for each failed.
    assert_eq!(balance(http_port), 80.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reroute_on_moves_a_refused_message_to_the_next_connector_on_memory() {
    a_refusal_in_reroute_on_moves_a_message_on("").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reroute_on_moves_a_refused_message_to_the_next_connector_on_redis() {
    let redis = Redis::start();
    a_refusal_in_reroute_on_moves_a_message_on(&format!(
        "[store]\nbackend = redis\nurl = {}\n",
        redis.url()
    ))
    .await;
}

/// `failover_after`: messages accepted while neither connector is bound
/// wait on the first (a failover route's first when none is bound);
/// the second's SMSC comes up, the first's never does, and after
/// `failover_after` they move to the second and are delivered, each with
/// one DELIVRD receipt. Messages of a route without `failover_after`
/// keep waiting for the first, and are delivered when it comes up.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failover_after_moves_waiting_messages_off_a_down_connector_on_memory() {
    waiting_messages_move_off_a_down_connector("").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failover_after_moves_waiting_messages_off_a_down_connector_on_redis() {
    let redis = Redis::start();
    waiting_messages_move_off_a_down_connector(&format!(
        "[store]\nbackend = redis\nurl = {}\n",
        redis.url()
    ))
    .await;
}

async fn waiting_messages_move_off_a_down_connector(store: &str) {
    let first_port = free_port();
    let second_port = free_port();
    let http_port = free_port();
    // Before tern starts: it cannot count its connector down for longer.
    let started = std::time::Instant::now();
    let tern = Tern::start_on(
        &format!(
            "{}{}{}\
             [mt-route:20]\ntype = failover\nconnectors = first, second\nfilters = de\n\
             [mt-route:10]\ntype = failover\nconnectors = first, second\nfailover_after = 5\n",
            head(store),
            connector("first", first_port),
            connector("second", second_port),
        ),
        free_port(),
        http_port,
    );
    let (s, mut ev) = bind(tern.port, BindMode::Transceiver, "alice", "pw")
        .await
        .unwrap();
    let mut moved = Vec::new();
    let mut kept = Vec::new();
    for i in 0..30 {
        moved.push(submit(&s, "447700900123", &format!("moved {i}")).await);
    }
    for i in 0..5 {
        kept.push(submit(&s, "4915100000000", &format!("kept {i}")).await);
    }
    let queued = |c: &str| metric(http_port, &format!(r#"tern_queue_depth{{queue="{c}"}}"#));
    assert_eq!(queued("first"), 35.0);
    let second = Sim::start_on(second_port, &[]);
    let got = receipts(&s, &mut ev, 30, Duration::from_secs(2)).await;
    // Not before failover_after.
    assert!(started.elapsed() >= Duration::from_secs(5));
    for id in &moved {
        assert_eq!(got[id], (MessageState::Delivered, 0), "{id}");
    }
    assert_eq!(second.counters()["submit_sm"].as_u64(), Some(30));
    // The other route's wait for the first, which comes up at last.
    assert_eq!(queued("first"), 5.0);
    assert_eq!(
        metric(
            http_port,
            r#"tern_messages_rerouted_total{connector="first",reason="down"}"#
        ),
        30.0
    );
    let first = Sim::start_on(first_port, &[]);
    let got = receipts(&s, &mut ev, 5, Duration::from_secs(2)).await;
    for id in &kept {
        assert_eq!(got[id], (MessageState::Delivered, 0), "{id}");
    }
    assert_eq!(first.counters()["submit_sm"].as_u64(), Some(5));
    assert_eq!(second.counters()["submit_sm"].as_u64(), Some(30));
}
