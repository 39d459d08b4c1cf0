//! Jasmin's REST API (`/secure/*`) of a real `tern` in front of a real
//! `smsc-sim`, driven with Python's urllib as a client written against
//! Jasmin's REST API drives it: Basic auth, JSON bodies with `_` names
//! and numbers, `{"data": ...}` answers, `{"message": ...}` refusals with
//! the plain API's statuses, Falcon's 401/412/415 bodies, and batches
//! (globals, `to` lists, skipped messages, the size bound, callbacks
//! refused until they are queued).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod http_support;

use std::time::Duration;

use http_support::*;

const BULK: (&str, &str) = ("bulk", "bulk-pw");
const ALICE: (&str, &str) = ("alice", "alice-pw");

fn post(base: &str, path: &str, body: &str, basic: (&str, &str)) -> Answer {
    // No Content-Type of ours: urllib sends a form's, as curl -d does;
    // Jasmin reads the body as JSON whatever it says.
    http_basic("POST", &format!("{base}{path}"), Some(body), &[], basic)
}

/// The id in Jasmin REST's `{"data": "Success \"<id>"}`.
fn rest_id(a: &Answer) -> String {
    assert_eq!(a.status, 200, "{}", a.body);
    let data = a.json()["data"].as_str().unwrap().to_string();
    let id = data
        .strip_prefix("Success \"")
        .unwrap_or_else(|| panic!("not a Jasmin REST success: {data}"));
    assert!(!id.ends_with('"'), "{data}");
    assert_eq!(id.len(), 36, "{data}");
    id.to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secure_send_balance_and_rate_answer_as_jasmins_rest_api() {
    let (sim, _tern, base) = start("[store]\nbackend = memory\n");
    // Jasmin's documented examples: a number as `to`, `hex_content`.
    rest_id(&post(
        &base,
        "/secure/send",
        r#"{"to": 447700900123, "from": "Jookies", "content": "Hello"}"#,
        BULK,
    ));
    rest_id(&post(
        &base,
        "/secure/send",
        r#"{"to": "447700900124", "coding": 8, "hex_content": "0623063106460628"}"#,
        BULK,
    ));
    sim.wait_for("the 2 messages", Duration::from_secs(30), |c| {
        c["submit_sm"].as_u64() == Some(2)
    });

    // Refusals: the plain API's status, Jasmin REST's body.
    let a = post(&base, "/secure/send", r#"{"content": "x"}"#, BULK);
    assert_eq!(a.status, 400, "{}", a.body);
    assert_eq!(a.json()["message"], "Error \"to is missing");
    let a = post(
        &base,
        "/secure/send",
        r#"{"to": "33612345678", "content": "x"}"#,
        BULK,
    );
    assert_eq!(a.status, 412, "{}", a.body);
    assert_eq!(a.json()["message"], "Error \"No route found");
    let a = post(
        &base,
        "/secure/send",
        r#"{"to": ["1", "2"], "content": "x"}"#,
        BULK,
    );
    assert_eq!(a.status, 400, "{}", a.body);
    assert!(a.json()["message"].as_str().unwrap().contains("to must be"));
    let a = post(
        &base,
        "/secure/send",
        r#"{"to": "447700900123", "content": "x"}"#,
        ("bulk", "nope"),
    );
    assert_eq!(a.status, 403, "{}", a.body);
    assert_eq!(a.json()["message"], "Error \"Authentication failure");
    // No credentials: Falcon's 401, with a challenge.
    let a = http(
        "POST",
        &format!("{base}/secure/send"),
        Some(r#"{"to": "447700900123", "content": "x"}"#),
        &[],
    );
    assert_eq!(a.status, 401, "{}", a.body);
    assert_eq!(a.json()["title"], "Authentication required");
    assert!(a.header("www-authenticate").unwrap().starts_with("Basic"));
    // Credentials in the body do not count (Basic auth is the REST API's).
    let a = http(
        "POST",
        &format!("{base}/secure/send"),
        Some(
            r#"{"username": "bulk", "password": "bulk-pw", "to": "447700900123", "content": "x"}"#,
        ),
        &[],
    );
    assert_eq!(a.status, 401, "{}", a.body);
    // Not JSON: 412 as Jasmin; no JSON accepted: 415.
    let a = post(&base, "/secure/send", "to=447700900123&content=x", BULK);
    assert_eq!(a.status, 412, "{}", a.body);
    assert_eq!(a.json()["title"], "Cannot parse JSON data");
    let a = http_basic(
        "POST",
        &format!("{base}/secure/send"),
        Some(r#"{"to": "447700900123", "content": "x"}"#),
        &[("Accept", "text/html")],
        BULK,
    );
    assert_eq!(a.status, 415, "{}", a.body);

    // Balance and rate, in {"data": ...}.
    let a = http_basic("GET", &format!("{base}/secure/balance"), None, &[], ALICE);
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(
        a.json(),
        serde_json::json!({"data": {"balance": 1.0, "sms_count": null}})
    );
    let a = http_basic("GET", &format!("{base}/secure/balance"), None, &[], BULK);
    assert_eq!(a.json()["data"]["balance"], serde_json::Value::Null);
    // Jasmin's documented /secure/rate?to=... (no content: one part).
    let a = http_basic(
        "GET",
        &format!("{base}/secure/rate?to=447700900123"),
        None,
        &[],
        ALICE,
    );
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(
        a.json(),
        serde_json::json!({"data": {"submit_sm_count": 1, "unit_rate": 0.1}})
    );
    let long = "0123456789".repeat(40);
    let a = http_basic(
        "GET",
        &format!("{base}/secure/rate?to=447700900123&content={long}"),
        None,
        &[],
        ALICE,
    );
    assert_eq!(a.json()["data"]["submit_sm_count"], 3, "{}", a.body);
    let a = http_basic(
        "GET",
        &format!("{base}/secure/rate?to=33612345678"),
        None,
        &[],
        ALICE,
    );
    assert_eq!(a.status, 412, "{}", a.body);
    assert_eq!(a.json()["message"], "Error \"No route found");
    // Nothing was charged by rating.
    let a = http_basic("GET", &format!("{base}/secure/balance"), None, &[], ALICE);
    assert_eq!(a.json()["data"]["balance"], 1.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_is_taken_message_by_message() {
    let (sim, _tern, base) = start("[store]\nbackend = memory\n");
    // Jasmin's documented batch: globals, a `to` list, a message of its
    // own; one with no route (refused, counted), one with no content
    // (skipped, not counted).
    let a = post(
        &base,
        "/secure/sendbatch",
        r#"{
          "globals": {"from": "Brand2", "dlr_level": 3},
          "messages": [
            {"from": "Brand1", "to": ["447700900001", "447700900002", 447700900003],
             "content": "Message 1 goes to 3 numbers"},
            {"to": "447700900004", "hex_content": "48656c6c6f"},
            {"to": "33612345678", "content": "no route"},
            {"to": "447700900005"}
          ]
        }"#,
        BULK,
    );
    assert_eq!(a.status, 200, "{}", a.body);
    let v = a.json();
    assert_eq!(v["data"]["messageCount"], 5, "{v}");
    assert_eq!(v["data"]["batchId"].as_str().unwrap().len(), 36, "{v}");
    sim.wait_for("the 4 accepted messages", Duration::from_secs(30), |c| {
        c["submit_sm"].as_u64() == Some(4)
    });

    // A batch's refusals name the parameter.
    let refused = |body: &str| {
        let a = post(&base, "/secure/sendbatch", body, BULK);
        assert_eq!(a.status, 400, "{}", a.body);
        a.json()["message"].as_str().unwrap().to_string()
    };
    // A callback URL must be one (the calls themselves:
    // http_callbacks.rs).
    let m = refused(
        r#"{"batch_config": {"callback_url": "ftp://127.0.0.1:1/ok"},
            "messages": [{"to": "447700900006", "content": "x"}]}"#,
    );
    assert!(m.contains("batch_config.callback_url"), "{m}");
    let m = refused(
        r#"{"batch_config": {"errback_url": "not a url"},
            "messages": [{"to": "447700900006", "content": "x"}]}"#,
    );
    assert!(m.contains("batch_config.errback_url"), "{m}");
    let m = refused(r#"{"globals": {"from": "x"}}"#);
    assert!(m.contains("messages is missing"), "{m}");
    let many: Vec<String> = (0..1001).map(|i| format!("4477009{i:05}")).collect();
    let body = serde_json::json!({"messages": [{"to": many, "content": "x"}]}).to_string();
    let m = refused(&body);
    assert!(m.contains("messages: a batch has at most 1000"), "{m}");
    // Nothing of the refused batches was sent.
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(sim.counters()["submit_sm"], 4);
    // Exactly the bound is taken.
    let many: Vec<String> = (0..1000).map(|i| format!("4477009{i:05}")).collect();
    let body = serde_json::json!({"messages": [{"to": many, "content": "x"}]}).to_string();
    let a = post(&base, "/secure/sendbatch", &body, BULK);
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.json()["data"]["messageCount"], 1000);
    sim.wait_for("the batch of 1000", Duration::from_secs(60), |c| {
        c["submit_sm"].as_u64() == Some(1004)
    });
    // Unauthenticated: 401 before anything is read.
    let a = http(
        "POST",
        &format!("{base}/secure/sendbatch"),
        Some(r#"{"messages": []}"#),
        &[],
    );
    assert_eq!(a.status, 401, "{}", a.body);
}
