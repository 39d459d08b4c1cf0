//! SIGHUP reconciles connectors and users under load (issue 12), on a real
//! `tern` with three real `smsc-sim`s: while an ESME submits without a
//! pause, a reload adds connector `b`, changes connector `c` (it
//! restarts) and removes user `bob` (his bind is closed); connector `a`,
//! unchanged, is never bound again. A second reload removes `c` (it
//! drains: what it had taken is sent, what waits in its queue stays in the
//! store) and a third brings it back (what waited is sent). No accepted
//! message is lost: every one reaches an SMSC and its one receipt reaches
//! the ESME, and every submit is answered.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use bytes::Bytes;
use e2e::*;
use smpp::CommandStatus as S;
use smpp::pdu::{Body, DeliverSmResp};
use smpp_session::{BindMode, Event};
use tokio::sync::Mutex;

fn connector(name: &str, port: u16, extra: &str) -> String {
    format!(
        "[connector:{name}]\nhost = 127.0.0.1\nport = {port}\nusername = u\npassword = p\n\
         reconnect_delay = 1\n{extra}"
    )
}

fn route(order: u32, connector: &str, prefix: &str) -> String {
    format!(
        "[filter:to-{connector}]\ntype = destination_addr\nvalue = ^{prefix}\n\
         [mt-route:{order}]\ntype = static\nconnectors = {connector}\nfilters = to-{connector}\n"
    )
}

const HEAD: &str = "[smpp-server]\nbind = 127.0.0.1\nport = {smpp_port}\n\
    [http-api]\nbind = 127.0.0.1\nport = {http_port}\n[store]\nbackend = memory\n\
    [user:alice]\npassword = pw\nmax_binds = 4\n";

fn submitted(sims: &[&Sim]) -> u64 {
    sims.iter()
        .map(|s| s.counters()["submit_sm"].as_u64().unwrap())
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connectors_and_users_follow_a_reload_under_load_and_nothing_is_lost() {
    let (sim_a, sim_b, sim_c) = (Sim::start(&[]), Sim::start(&[]), Sim::start(&[]));
    let first = format!(
        "{HEAD}[user:bob]\npassword = bob-pw\n{}{}{}{}",
        connector("a", sim_a.port, ""),
        connector("c", sim_c.port, "window = 8\n"),
        route(10, "a", "331"),
        route(20, "c", "333"),
    );
    let (smpp_port, http_port) = (free_port(), free_port());
    let tern = Tern::start_on(&first, smpp_port, http_port);
    let path = tern.dir.join("tern.ini");
    // The files a reload reads, with the ports tern listens on.
    let write = |text: &str| {
        let text = text
            .replace("{smpp_port}", &smpp_port.to_string())
            .replace("{http_port}", &http_port.to_string());
        std::fs::write(&path, text).unwrap();
    };
    let all = [&sim_a, &sim_b, &sim_c];
    sim_a.wait_for("a bound", Duration::from_secs(20), |c| {
        c["binds_active"] == 1
    });
    sim_c.wait_for("c bound", Duration::from_secs(20), |c| {
        c["binds_active"] == 1
    });

    // Bob's bind, to be closed when bob is removed.
    let (_bob, mut bob_events) = bind(tern.port, BindMode::Transceiver, "bob", "bob-pw")
        .await
        .unwrap();
    // Alice submits without a pause to a, c and (once it exists) b, and
    // takes her receipts.
    let (alice, mut events) = bind(tern.port, BindMode::Transceiver, "alice", "pw")
        .await
        .unwrap();
    let receipts = Arc::new(Mutex::new(Vec::<Bytes>::new()));
    let (r, s) = (receipts.clone(), alice.clone());
    tokio::spawn(async move {
        while let Some(Event::Request(p)) = events.recv().await {
            if let Body::DeliverSm(d) = p.body {
                r.lock().await.push(d.short_message.clone());
                let resp = Body::DeliverSmResp(DeliverSmResp::default());
                let _ = s.respond(p.sequence_number, S::ESME_ROK, resp).await;
            }
        }
    });
    let accepted = Arc::new(Mutex::new(Vec::<String>::new()));
    let refused = Arc::new(Mutex::new(Vec::<(String, S)>::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let load = {
        let (accepted, refused, stop, s) = (
            accepted.clone(),
            refused.clone(),
            stop.clone(),
            alice.clone(),
        );
        tokio::spawn(async move {
            let mut i = 0usize;
            while !stop.load(Ordering::Relaxed) {
                let dest = ["33100000", "33200000", "33300000"][i % 3];
                let dest = format!("{dest}{:03}", i % 1000);
                let r = s
                    .send_request(Body::SubmitSm(sms(&dest, &format!("reload {i}"), 1)))
                    .await
                    .unwrap();
                let r = r.await.unwrap();
                match (r.command_status, r.body) {
                    (S::ESME_ROK, Body::SubmitSmResp(b)) => accepted
                        .lock()
                        .await
                        .push(String::from_utf8_lossy(&b.message_id).into_owned()),
                    (status, _) => refused.lock().await.push((dest, status)),
                }
                i += 1;
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        })
    };
    tokio::time::sleep(Duration::from_millis(800)).await;
    // Before b exists, its prefix has no route.
    assert!(
        refused
            .lock()
            .await
            .iter()
            .all(|(d, s)| d.starts_with("332") && *s == S::ESME_RINVDSTADR),
        "{:?}",
        refused.lock().await
    );
    let a_binds = sim_a.counters()["binds"].as_u64().unwrap();
    let c_binds = sim_c.counters()["binds"].as_u64().unwrap();

    // Reload 1: b added with its route, c changed, bob removed.
    let second = format!(
        "{HEAD}{}{}{}{}{}{}",
        connector("a", sim_a.port, ""),
        connector("b", sim_b.port, ""),
        connector("c", sim_c.port, "window = 16\n"),
        route(10, "a", "331"),
        route(15, "b", "332"),
        route(20, "c", "333"),
    );
    write(&second);
    tern.proc.signal("HUP");
    sim_b.wait_for("b bound", Duration::from_secs(20), |c| {
        c["binds_active"] == 1
    });
    sim_c.wait_for("c bound again", Duration::from_secs(20), |c| {
        c["binds"].as_u64().unwrap() > c_binds && c["binds_active"] == 1
    });
    // Bob's bind is closed: tern unbinds it (the session answers and ends).
    let closed = tokio::time::timeout(Duration::from_secs(10), async {
        while bob_events.recv().await.is_some() {}
    })
    .await;
    assert!(closed.is_ok(), "bob's session still open");
    assert!(
        bind(tern.port, BindMode::Transceiver, "bob", "bob-pw")
            .await
            .is_err(),
        "bob binds after his removal"
    );
    refused.lock().await.clear();
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert!(
        refused.lock().await.is_empty(),
        "refused after b was added: {:?}",
        refused.lock().await
    );
    sim_b.wait_for("b sends", Duration::from_secs(20), |c| {
        c["submit_sm"].as_u64().unwrap() > 0
    });

    // Reload 2: c removed with its route. Its prefix has no route now.
    let third = format!(
        "{HEAD}{}{}{}{}",
        connector("a", sim_a.port, ""),
        connector("b", sim_b.port, ""),
        route(10, "a", "331"),
        route(15, "b", "332"),
    );
    write(&third);
    tern.proc.signal("HUP");
    sim_c.wait_for("c unbound", Duration::from_secs(20), |c| {
        c["binds_active"] == 0
    });
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert!(
        refused
            .lock()
            .await
            .iter()
            .any(|(d, s)| d.starts_with("333") && *s == S::ESME_RINVDSTADR)
    );

    // Reload 3: c back (what waited in its queue goes out), load stops.
    write(&second);
    tern.proc.signal("HUP");
    sim_c.wait_for("c bound once more", Duration::from_secs(20), |c| {
        c["binds_active"] == 1
    });
    tokio::time::sleep(Duration::from_millis(500)).await;
    stop.store(true, Ordering::Relaxed);
    load.await.unwrap();

    // a was never bound again.
    assert_eq!(sim_a.counters()["binds"].as_u64().unwrap(), a_binds);
    // Every accepted message reached an SMSC, once, and its one receipt
    // came back.
    let accepted: Vec<String> = accepted.lock().await.clone();
    assert!(accepted.len() > 100, "{} accepted", accepted.len());
    let n = accepted.len() as u64;
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while submitted(&all) < n && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(submitted(&all), n, "accepted {n}");
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while (receipts.lock().await.len() as u64) < n && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let got = receipts.lock().await.clone();
    let ids: HashSet<String> = got
        .iter()
        .map(|t| {
            let t = String::from_utf8_lossy(t);
            t.strip_prefix("id:")
                .and_then(|r| r.split(' ').next())
                .unwrap_or("")
                .to_string()
        })
        .collect();
    assert_eq!(
        got.len(),
        accepted.len(),
        "one receipt per accepted message"
    );
    assert_eq!(ids, accepted.iter().cloned().collect::<HashSet<_>>());
}

/// A reload's new user settings apply to the user's live binds at their
/// next submit: here `source_addr`, which the bind did not have.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reload_applies_new_user_settings_to_live_binds() {
    let sim = Sim::start(&[]);
    let base = format!(
        "{}{}",
        connector("a", sim.port, ""),
        "[mt-route:0]\ntype = default\nconnectors = a\n"
    );
    let (smpp_port, http_port) = (free_port(), free_port());
    let tern = Tern::start_on(&format!("{HEAD}{base}"), smpp_port, http_port);
    let (alice, _events) = bind(tern.port, BindMode::Transmitter, "alice", "pw")
        .await
        .unwrap();
    let submit = |from: &'static str| {
        let s = alice.clone();
        async move {
            let mut m = sms("33100000001", "reload 0", 1);
            m.source.addr = Bytes::from_static(from.as_bytes());
            let r = s.send_request(Body::SubmitSm(m)).await.unwrap();
            r.await.unwrap().command_status
        }
    };
    assert_eq!(submit("Tern").await, S::ESME_ROK);
    let text = format!("{HEAD}{base}")
        .replace(
            "[user:alice]\npassword = pw\n",
            "[user:alice]\npassword = pw\nsource_addr = ^Shop$\n",
        )
        .replace("{smpp_port}", &smpp_port.to_string())
        .replace("{http_port}", &http_port.to_string());
    std::fs::write(tern.dir.join("tern.ini"), text).unwrap();
    tern.proc.signal("HUP");
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while submit("Tern").await == S::ESME_ROK {
        assert!(
            std::time::Instant::now() < deadline,
            "the reload did not reach the bind"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(submit("Tern").await, S::ESME_RINVSRCADR);
    assert_eq!(submit("Shop").await, S::ESME_ROK);
}
