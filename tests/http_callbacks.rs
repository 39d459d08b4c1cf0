//! HTTP callbacks of a real `tern` against a real `smsc-sim`, received by
//! a test HTTP endpoint (support/sink.rs): the receipts of a /send with
//! `dlr=yes` and a `dlr-url` at each `dlr-level` and `dlr-method`, with
//! Jasmin's parameters; retries with back-off until a 2xx, and never a
//! call after it; the callback across a tern SIGKILL and restart on redis,
//! exactly once after its 2xx; the upstream's refusal at level 1; and MO
//! to a user's `mo_url`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

mod http_support;

use e2e::sink::{Call, Sink};
use e2e::*;
use http_support::{config_with, encode, get, http_basic, start_with, success_id};

/// tern on `store` with smsc-sim (`sim_args`) and the `extra` sections,
/// ready: the connector bound.
fn start(sim_args: &[&str], store: &str, extra: &str) -> (Sim, Tern, String) {
    let (sim, tern, base) = start_with(sim_args, store, extra);
    ready(&base);
    (sim, tern, base)
}

/// Wait for /health to say ready (a connector bound).
fn ready(base: &str) {
    wait_for_port(base.rsplit(':').next().unwrap().parse().unwrap());
    let deadline = Instant::now() + Duration::from_secs(20);
    while get(&format!("{base}/health")).status != 200 {
        assert!(Instant::now() < deadline, "tern not ready");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A /send of "hello" to 447700900123 with the receipt to `dlr_url`.
fn send(base: &str, dlr_url: &str, level: u8, method: &str) -> String {
    success_id(&get(&format!(
        "{base}/send?username=alice&password=alice-pw&to=447700900123&content=hello\
         &dlr=yes&dlr-url={}&dlr-level={level}&dlr-method={method}",
        encode(dlr_url)
    )))
}

fn of<'a>(calls: &'a [Call], id: &str) -> Vec<&'a Call> {
    calls.iter().filter(|c| c.get("id") == id).collect()
}

#[test]
fn receipts_reach_the_dlr_url_at_each_level_with_jasmins_parameters() {
    let sink = Sink::start();
    let (_sim, _tern, base) = start(&[], "[store]\nbackend = memory\n", "");
    // Level 3, POST: the SMSC's answer, then the receipt.
    let url = sink.url("/dlr?token=abc");
    let id = send(&base, &url, 3, "POST");
    let calls = sink.wait_for("both levels", Duration::from_secs(20), |c| {
        of(c, &id).len() >= 2
    });
    let mine = of(&calls, &id);
    // Sent side by side: they may come in either order.
    let by_level = |l: &str| *mine.iter().find(|c| c.get("level") == l).unwrap();
    let (l1, l2) = (by_level("1"), by_level("3"));
    assert_eq!(l1.method, "POST");
    assert_eq!(l1.path, "/dlr");
    // The URL's own query comes along.
    assert_eq!(l1.get("token"), "abc");
    assert_eq!(l1.get("level"), "1");
    assert_eq!(l1.get("message_status"), "ESME_ROK");
    assert_eq!(l1.get("connector"), "sim");
    assert_eq!(l2.get("level"), "3");
    assert_eq!(l2.get("message_status"), "DELIVRD");
    assert!(!l2.get("id_smsc").is_empty(), "{l2:?}");
    assert_eq!(l2.get("sub"), "001");
    assert_eq!(l2.get("dlvrd"), "001");
    assert_eq!(l2.get("err"), "000");
    assert_eq!(l2.get("text"), "hello");
    assert_eq!(l2.get("subdate").len(), 10, "{l2:?}");
    assert_eq!(l2.get("donedate").len(), 10, "{l2:?}");
    // Level 2, GET: the receipt only. Level 1: the SMSC's answer only.
    let id2 = send(&base, &sink.url("/two"), 2, "GET");
    let id1 = send(&base, &sink.url("/one"), 1, "GET");
    let calls = sink.wait_for("levels 2 and 1", Duration::from_secs(20), |c| {
        !of(c, &id2).is_empty() && !of(c, &id1).is_empty()
    });
    let two = of(&calls, &id2)[0];
    assert_eq!((two.method.as_str(), two.path.as_str()), ("GET", "/two"));
    assert_eq!(two.get("message_status"), "DELIVRD");
    assert_eq!(two.get("level"), "2");
    let one = of(&calls, &id1)[0];
    assert_eq!(one.get("message_status"), "ESME_ROK");
    // Each answered 200 once: nothing more comes.
    std::thread::sleep(Duration::from_secs(3));
    let calls = sink.calls();
    assert_eq!(of(&calls, &id).len(), 2, "{calls:#?}");
    assert_eq!(of(&calls, &id2).len(), 1, "{calls:#?}");
    assert_eq!(of(&calls, &id1).len(), 1, "{calls:#?}");
}

#[test]
fn a_refused_callback_is_retried_with_back_off_until_a_2xx_and_never_after() {
    let sink = Sink::start();
    let (_sim, _tern, base) = start(&[], "[store]\nbackend = memory\n", "");
    sink.answer_next(&[500, 404]);
    let id = send(&base, &sink.url("/dlr"), 1, "GET");
    let calls = sink.wait_for("a 200 at the third try", Duration::from_secs(30), |c| {
        of(c, &id).iter().any(|c| c.answered == 200)
    });
    let mine = of(&calls, &id);
    let answered: Vec<u16> = mine.iter().map(|c| c.answered).collect();
    assert_eq!(answered, [500, 404, 200]);
    // The same callback each time.
    assert!(mine.iter().all(|c| c.get("message_status") == "ESME_ROK"));
    std::thread::sleep(Duration::from_secs(5));
    assert_eq!(of(&sink.calls(), &id).len(), 3);
}

#[test]
fn the_upstream_refusal_is_called_back_at_level_1_and_its_receipt_at_level_2() {
    let sink = Sink::start();
    let (_sim, _tern, base) = start(
        &["--fail-rate", "1", "--fail-status", "0x0b"],
        "[store]\nbackend = memory\n",
        "",
    );
    let id = send(&base, &sink.url("/dlr"), 3, "GET");
    let calls = sink.wait_for(
        "the refusal and its receipt",
        Duration::from_secs(20),
        |c| of(c, &id).len() >= 2,
    );
    let mine = of(&calls, &id);
    let by_level = |l: &str| *mine.iter().find(|c| c.get("level") == l).unwrap();
    assert_eq!(by_level("1").get("message_status"), "ESME_RINVDSTADR");
    assert_eq!(by_level("3").get("message_status"), "REJECTD");
    assert_eq!(by_level("3").get("dlvrd"), "000");
}

/// On redis: the receipt callback waits in the store across a tern
/// SIGKILL and restart, and once answered 2xx it is never sent again,
/// across a second SIGKILL and restart too.
#[test]
fn a_callback_survives_a_sigkill_on_redis_and_is_sent_once_after_its_2xx() {
    let redis = Redis::start();
    let store = format!("[store]\nbackend = redis\nurl = {}\n", redis.url());
    let sink = Sink::start();
    sink.answer_always(Some(503));
    let sim = Sim::start(&[]);
    let (port, http_port) = (free_port(), free_port());
    let ini = config_with(sim.port, &store, "");
    let base = format!("http://127.0.0.1:{http_port}");
    let tern = Tern::start_on(&ini, port, http_port);
    ready(&base);
    let id = send(&base, &sink.url("/dlr"), 2, "POST");
    sink.wait_for("a refused try", Duration::from_secs(20), |c| {
        !of(c, &id).is_empty()
    });
    // Killed while the callback waits for its next try.
    drop(tern);
    sink.answer_always(None);
    let tern = Tern::start_on(&ini, port, http_port);
    let calls = sink.wait_for(
        "the callback after the restart",
        Duration::from_secs(30),
        |c| of(c, &id).iter().any(|c| c.answered == 200),
    );
    let ok = of(&calls, &id)
        .into_iter()
        .find(|c| c.answered == 200)
        .unwrap()
        .clone();
    assert_eq!(ok.get("message_status"), "DELIVRD");
    assert_eq!(ok.get("level"), "2");
    // Killed again once the 2xx is settled (a kill between the answer
    // and the store's settle, a few ms, would send it once more: at least
    // once, as any delivery): the settled callback stays so.
    std::thread::sleep(Duration::from_millis(500));
    drop(tern);
    let _tern = Tern::start_on(&ini, port, http_port);
    ready(&base);
    std::thread::sleep(Duration::from_secs(4));
    let calls = sink.calls();
    let answered_ok = of(&calls, &id).iter().filter(|c| c.answered == 200).count();
    assert_eq!(answered_ok, 1, "{calls:#?}");
    // Nothing after the 2xx.
    let last = of(&calls, &id).last().map(|c| c.answered);
    assert_eq!(last, Some(200), "{calls:#?}");
}

/// A user with an mo_url gets smsc-sim's MO as HTTP calls with Jasmin's
/// MO parameters, each once.
#[test]
fn mo_goes_to_the_users_mo_url() {
    let sink = Sink::start();
    let users = format!(
        "[user:inbound]\npassword = in-pw\nmo_url = {}\nmo_method = POST\n\
         [mo-route:0]\ntype = default\nusers = inbound\n",
        sink.url("/mo")
    );
    let (_sim, _tern, _base) = start(&["--mo-rate", "20"], "[store]\nbackend = memory\n", &users);
    let calls = sink.wait_for("5 MO", Duration::from_secs(20), |c| c.len() >= 5);
    let mut ids = std::collections::HashSet::new();
    for c in &calls {
        assert_eq!((c.method.as_str(), c.path.as_str()), ("POST", "/mo"));
        assert_eq!(c.get("to"), "12345");
        assert!(c.get("content").starts_with("MO message "), "{c:?}");
        assert_eq!(c.get("origin-connector"), "sim");
        assert!(!c.get("binary").is_empty());
        assert!(!c.get("from").is_empty());
        ids.insert(c.get("id").to_string());
    }
    assert_eq!(ids.len(), calls.len(), "each MO once");
}

/// /secure/sendbatch's `callback_url` gets each accepted message and
/// `errback_url` each refused one, with Jasmin's batch parameters.
#[test]
fn a_batch_reports_each_message_to_its_callback_or_errback_url() {
    let sink = Sink::start();
    let (sim, _tern, base) = start(
        &[],
        "[store]\nbackend = memory\n",
        "[user:shop]\npassword = shop-pw\n",
    );
    let body = serde_json::json!({
        "batch_config": {"callback_url": sink.url("/ok"), "errback_url": sink.url("/ko")},
        "messages": [
            {"to": ["447700900001", "447700900002"], "content": "hi"},
            {"to": "447700900003", "content": "x", "coding": 99},
        ],
    })
    .to_string();
    let a = http_basic(
        "POST",
        &format!("{base}/secure/sendbatch"),
        Some(&body),
        &[("Content-Type", "application/json")],
        ("shop", "shop-pw"),
    );
    assert_eq!(a.status, 200, "{}", a.body);
    let v: serde_json::Value = serde_json::from_str(&a.body).unwrap();
    let batch = v["data"]["batchId"].as_str().unwrap().to_string();
    assert_eq!(v["data"]["messageCount"], 3);
    let calls = sink.wait_for("3 batch callbacks", Duration::from_secs(20), |c| {
        c.len() >= 3
    });
    let ok: Vec<&Call> = calls.iter().filter(|c| c.path == "/ok").collect();
    let ko: Vec<&Call> = calls.iter().filter(|c| c.path == "/ko").collect();
    assert_eq!((ok.len(), ko.len()), (2, 1), "{calls:#?}");
    for c in &ok {
        assert_eq!(c.method, "GET");
        assert_eq!(c.get("batchId"), batch);
        assert_eq!(c.get("status"), "1");
        assert!(c.get("statusText").starts_with("Success \""), "{c:?}");
    }
    let mut tos: Vec<&str> = ok.iter().map(|c| c.get("to")).collect();
    tos.sort_unstable();
    assert_eq!(tos, ["447700900001", "447700900002"]);
    assert_eq!(ko[0].get("to"), "447700900003");
    assert_eq!(ko[0].get("status"), "0");
    assert!(ko[0].get("statusText").contains("coding"), "{:?}", ko[0]);
    sim.wait_for("the 2 accepted sent", Duration::from_secs(20), |c| {
        c["submit_sm"].as_u64() == Some(2)
    });
}

/// SIGHUP applies to the HTTP API and the callbacks: a user added to the
/// file can /send at once, a removed one is refused, and an MO goes to
/// the mo_url the new file gives.
#[test]
fn a_reload_applies_to_the_http_api_and_the_mo_url() {
    let sink = Sink::start();
    let users = "[user:inbound]\npassword = in-pw\n[mo-route:0]\ntype = default\nusers = inbound\n";
    let (_sim, tern, base) = start(&["--mo-rate", "5"], "[store]\nbackend = memory\n", users);
    let send_as = |user: &str, pw: &str| {
        get(&format!(
            "{base}/send?username={user}&password={pw}&to=447700900123&content=x"
        ))
        .status
    };
    assert_eq!(send_as("alice", "alice-pw"), 200);
    assert_eq!(send_as("carol", "carol-pw"), 403);
    // Without an mo_url, MO waits for an SMPP receiver.
    std::thread::sleep(Duration::from_secs(1));
    assert!(sink.calls().is_empty());
    let path = tern.dir.join("tern.ini");
    let text = std::fs::read_to_string(&path).unwrap();
    let text = text
        .replace(
            "[user:alice]\npassword = alice-pw\n",
            "[user:carol]\npassword = carol-pw\n",
        )
        .replace(
            "[user:inbound]\npassword = in-pw\n",
            &format!(
                "[user:inbound]\npassword = in-pw\nmo_url = {}\n",
                sink.url("/mo")
            ),
        );
    std::fs::write(&path, text).unwrap();
    tern.proc.signal("HUP");
    let deadline = Instant::now() + Duration::from_secs(10);
    while send_as("carol", "carol-pw") != 200 {
        assert!(Instant::now() < deadline, "the reload did not take");
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(send_as("alice", "alice-pw"), 403);
    let calls = sink.wait_for("MO at the new mo_url", Duration::from_secs(20), |c| {
        c.len() >= 2
    });
    assert!(
        calls
            .iter()
            .all(|c| c.path == "/mo" && c.get("to") == "12345")
    );
}
