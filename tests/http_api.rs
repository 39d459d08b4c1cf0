//! The HTTP API of a real `tern` (issue 11, first step), driven with
//! Python's urllib — a client nobody here wrote, making the requests a
//! Jasmin user's client makes — against a real `smsc-sim` upstream:
//! /ping, /send (GET query, POST form, POST JSON with Basic auth) and its
//! answers and statuses, /balance, a long /send split and charged per
//! part, an HTTP-sent message queried and its receipt delivered over
//! SMPP, and 503 with Retry-After when the store (redis) is down.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod http_support;

use std::time::Duration;

use bytes::Bytes;
use e2e::*;
use http_support::*;
use smpp::pdu::{Body, QuerySm};
use smpp::receipt::Receipt;
use smpp::{CommandStatus as S, MessageState};
use smpp_session::BindMode;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn send_answers_as_jasmin_and_the_message_goes_the_smpp_way() {
    let (sim, tern, base) = start("[store]\nbackend = memory\n");
    let a = get(&format!("{base}/ping"));
    assert_eq!((a.status, a.body.as_str()), (200, "PONG"));
    // Ready once the connector is bound to smsc-sim.
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let health = loop {
        let a = get(&format!("{base}/health"));
        if a.status == 200 || std::time::Instant::now() > deadline {
            break a;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(health.status, 200, "{}", health.body);
    let v: serde_json::Value = serde_json::from_str(&health.body).unwrap();
    assert_eq!(
        (v["ready"].clone(), v["store"].clone()),
        (true.into(), "ok".into())
    );
    assert_eq!(v["connectors"]["sim"], 1);
    // /rate: parts and price per part, nothing sent.
    let long = "0123456789".repeat(40);
    let a = get(&format!(
        "{base}/rate?username=alice&password=alice-pw&to=447700900123&content={long}"
    ));
    assert_eq!(a.status, 200, "{}", a.body);
    let v: serde_json::Value = serde_json::from_str(&a.body).unwrap();
    assert_eq!(v["submit_sm_count"], 3);
    assert_eq!(v["unit_rate"], 0.1);
    let a = get(&format!(
        "{base}/rate?username=free&password=free-pw&to=447700900123&content=x"
    ));
    let v: serde_json::Value = serde_json::from_str(&a.body).unwrap();
    assert_eq!(
        (v["submit_sm_count"].clone(), v["unit_rate"].clone()),
        (1.into(), serde_json::Value::Null)
    );
    let a = get(&format!(
        "{base}/rate?username=alice&password=alice-pw&to=33612345678&content=x"
    ));
    assert_eq!(
        (a.status, a.body.as_str()),
        (412, "Error \"No route found\"")
    );

    // A receiver bind of alice's gets the receipt of an HTTP-sent message.
    let (esme, mut events) = bind(tern.port, BindMode::Transceiver, "alice", "alice-pw")
        .await
        .unwrap();
    let id = success_id(&get(&format!(
        "{base}/send?username=alice&password=alice-pw&to=447700900123&from=Tern&content=hello&dlr=yes"
    )));
    let receipt = next_deliver(&esme, &mut events, Duration::from_secs(30)).await;
    let r = Receipt::from_tlvs(&receipt.short_message, &receipt.tlvs).unwrap();
    assert_eq!(
        (r.id.as_str(), r.stat),
        (id.as_str(), MessageState::Delivered)
    );
    // query_sm over SMPP for the HTTP-sent message.
    let q = esme
        .request(Body::QuerySm(QuerySm {
            message_id: Bytes::copy_from_slice(id.as_bytes()),
            ..Default::default()
        }))
        .await
        .unwrap();
    assert_eq!(q.command_status, S::ESME_ROK);
    let Body::QuerySmResp(q) = q.body else {
        panic!()
    };
    assert_eq!(q.message_state, MessageState::Delivered);

    // POST form, and the JSON /send of the HTTP-to-SMPP example.
    let a = http(
        "POST",
        &format!("{base}/send"),
        Some("username=alice&password=alice-pw&to=%2B447700900124&content=hi+there"),
        &[("Content-Type", "application/x-www-form-urlencoded")],
    );
    success_id(&a);
    let a = http(
        "POST",
        &format!("{base}/send"),
        Some(
            r#"{"sourceAddress":"16111","message":"Hi! This is the first test SMS message.","destinationAddress":"447700900125"}"#,
        ),
        &[
            ("Content-Type", "application/json"),
            ("Authorization", "Basic YWxpY2U6YWxpY2UtcHc="), // alice:alice-pw
        ],
    );
    assert_eq!(a.status, 200, "{}", a.body);
    let v: serde_json::Value = serde_json::from_str(&a.body).unwrap();
    assert!(
        v["messageId"].as_str().is_some_and(|s| !s.is_empty()),
        "{v}"
    );

    // A long /send: split for the connector (3 parts of 153 GSM
    // characters) and charged per part.
    let before = balance(&base, "alice", "alice-pw");
    success_id(&get(&format!(
        "{base}/send?username=alice&password=alice-pw&to=447700900126&content={long}"
    )));
    let after = balance(&base, "alice", "alice-pw");
    assert!((before - after - 0.3).abs() < 1e-9, "{before} -> {after}");
    sim.wait_for("the 4 messages, 6 parts", Duration::from_secs(30), |c| {
        c["submit_sm"].as_u64() == Some(6)
    });
    // Unlimited credit: null.
    let a = get(&format!("{base}/balance?username=free&password=free-pw"));
    assert_eq!(a.status, 200);
    let v: serde_json::Value = serde_json::from_str(&a.body).unwrap();
    assert!(v["balance"].is_null(), "{v}");
    drop(tern);
}

fn balance(base: &str, user: &str, pw: &str) -> f64 {
    let a = get(&format!("{base}/balance?username={user}&password={pw}"));
    assert_eq!(a.status, 200, "{}", a.body);
    let v: serde_json::Value = serde_json::from_str(&a.body).unwrap();
    v["balance"].as_f64().unwrap_or_else(|| panic!("{v}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_refusal_has_its_status_and_reason() {
    let (_sim, _tern, base) = start("[store]\nbackend = memory\n");
    let send = |q: &str| get(&format!("{base}/send?{q}"));
    // 400: a bad or missing parameter, named.
    let a = send("username=alice&password=alice-pw&content=x");
    assert_eq!(
        (a.status, a.body.as_str()),
        (400, "Error \"to is missing\"")
    );
    let a = send("username=alice&password=alice-pw&to=44-77&content=x");
    assert_eq!(a.status, 400);
    assert!(a.body.starts_with("Error \"to "), "{}", a.body);
    let a = send("username=alice&password=alice-pw&to=447700900123&content=x&priority=9");
    assert_eq!(a.status, 400);
    assert!(a.body.contains("priority"), "{}", a.body);
    let a = send("to=447700900123&content=x");
    assert_eq!(a.status, 400, "{}", a.body);
    // 403: bad credentials (unknown user and wrong password alike).
    let a = send("username=alice&password=nope&to=447700900123&content=x");
    assert_eq!(
        (a.status, a.body.as_str()),
        (403, "Error \"Authentication failure\"")
    );
    let a = send("username=nobody&password=nope&to=447700900123&content=x");
    assert_eq!(
        (a.status, a.body.as_str()),
        (403, "Error \"Authentication failure\"")
    );
    let a = get(&format!("{base}/balance?username=alice&password=nope"));
    assert_eq!(a.status, 403);
    // 412: no route (there is no default route).
    let a = send("username=alice&password=alice-pw&to=33612345678&content=x");
    assert_eq!(
        (a.status, a.body.as_str()),
        (412, "Error \"No route found\"")
    );
    // 403: over throughput (a burst of one).
    let ok = send("username=free&password=free-pw&to=447700900123&content=x");
    success_id(&ok);
    let a = send("username=free&password=free-pw&to=447700900123&content=x");
    assert_eq!(a.status, 403, "{}", a.body);
    assert!(a.body.contains("throughput"), "{}", a.body);
    // 403: no credit (1.0 buys ten parts at 0.1).
    for _ in 0..10 {
        success_id(&send(
            "username=alice&password=alice-pw&to=447700900123&content=x",
        ));
    }
    let a = send("username=alice&password=alice-pw&to=447700900123&content=x");
    assert_eq!(
        (a.status, a.body.as_str()),
        (403, "Error \"not enough credit\"")
    );
    // JSON errors are JSON.
    let a = http(
        "POST",
        &format!("{base}/send"),
        Some(r#"{"message":"x","destinationAddress":"447700900123"}"#),
        &[
            ("Content-Type", "application/json"),
            ("Authorization", "Basic YWxpY2U6bm9wZQ=="),
        ],
    );
    assert_eq!(a.status, 403);
    let v: serde_json::Value = serde_json::from_str(&a.body).unwrap();
    assert_eq!(v["error"], "Authentication failure");
    // An oversize body: 413.
    let big = format!(
        "username=alice&password=alice-pw&to=447700900123&content={}",
        "a".repeat(70_000)
    );
    let a = http(
        "POST",
        &format!("{base}/send"),
        Some(&big),
        &[("Content-Type", "application/x-www-form-urlencoded")],
    );
    assert_eq!(a.status, 413, "{}", a.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_that_is_down_answers_503_with_retry_after() {
    let mut redis = Redis::start();
    let (_sim, _tern, base) = start(&format!(
        "[store]\nbackend = redis\nurl = {}\n",
        redis.url()
    ));
    success_id(&get(&format!(
        "{base}/send?username=alice&password=alice-pw&to=447700900123&content=x"
    )));
    redis.kill();
    let a = get(&format!(
        "{base}/send?username=alice&password=alice-pw&to=447700900123&content=x"
    ));
    assert_eq!(
        (a.status, a.body.as_str()),
        (503, "Error \"store unavailable\"")
    );
    assert_eq!(a.header("retry-after"), Some("1"), "{}", a.headers);
    let a = get(&format!("{base}/health"));
    assert_eq!(a.status, 503, "{}", a.body);
    let v: serde_json::Value = serde_json::from_str(&a.body).unwrap();
    assert_eq!(v["store"], "unavailable");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn not_ready_while_no_connector_is_bound() {
    // The connector points at a port nothing listens on.
    let http_port = free_port();
    let _tern = Tern::start_on(
        &config(free_port(), "[store]\nbackend = memory\n"),
        free_port(),
        http_port,
    );
    wait_for_port(http_port);
    let a = get(&format!("http://127.0.0.1:{http_port}/health"));
    assert_eq!(a.status, 503, "{}", a.body);
    let v: serde_json::Value = serde_json::from_str(&a.body).unwrap();
    assert_eq!(v["ready"], false);
    assert_eq!(v["store"], "ok");
    assert_eq!(v["connectors"]["sim"], 0);
    // Alive all the same.
    assert_eq!(
        get(&format!("http://127.0.0.1:{http_port}/ping")).status,
        200
    );
}
