//! Interop with a client nobody here wrote: Python's smpplib (PyPI,
//! installed by scripts/test-deps.sh) binds to smsc-sim, submits, and must
//! get every receipt. Two of our own bugs cannot agree here.
//!
//! The `tern_*` tests bind smpplib to tern itself (tern -> connector ->
//! smsc-sim, receipts back through tern), driven by
//! `interop/smpplib_tern.py`, whose one-line JSON report is asserted on here.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashSet;
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use e2e::{Sim, Tern, run_command_with_timeout, smsc_sim};
use serde_json::Value;

fn smpplib_client(port: u16, extra: &[&str]) -> serde_json::Value {
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("interop/smpplib_client.py");
    let port = port.to_string();
    let mut args = vec![
        script.to_str().unwrap(),
        "--host",
        "127.0.0.1",
        "--port",
        &port,
        "--system-id",
        "interop",
        "--password",
        "secret",
        "--timeout",
        "20",
    ];
    args.extend_from_slice(extra);
    let out = Command::new("python3")
        .args(&args)
        .output()
        .expect("python3 runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "smpplib client failed ({:?}):\nstdout: {stdout}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_str(stdout.lines().last().unwrap_or_default()).expect("one JSON line")
}

#[test]
fn smpplib_transceiver_gets_every_receipt() {
    let (_sim, port) = smsc_sim(&[]);
    let r = smpplib_client(port, &["--count", "5"]);
    assert_eq!(r["accepted"], 5);
    assert_eq!(r["matched"], 5);
}

#[test]
fn smpplib_transmitter_and_receiver_with_delayed_receipts() {
    let (_sim, port) = smsc_sim(&["--dlr-delay-ms", "300", "--id-format", "dec"]);
    let r = smpplib_client(port, &["--mode", "tx+rx", "--count", "3"]);
    assert_eq!(r["matched"], 3);
}

#[test]
fn smpplib_long_ucs2_messages() {
    let (_sim, port) = smsc_sim(&[]);
    let r = smpplib_client(port, &["--long", "--ucs2", "--count", "2"]);
    // Each long UCS-2 message is several parts, each with its receipt.
    assert!(r["accepted"].as_u64().unwrap() >= 4, "{r}");
    assert_eq!(r["accepted"], r["matched"]);
}

// ------------------------------------------------ smpplib bound to tern

/// The user smpplib binds as.
const USER: &str = "interop";
const PASSWORD: &str = "secret";
/// smpplib_tern.py's own limit for a whole run (every socket operation is
/// bounded by it too); the Rust side kills it after [`PY_LIMIT`].
const PY_TIMEOUT: &str = "30";
const PY_LIMIT: Duration = Duration::from_secs(60);

/// tern on the memory store, one user, every message to the simulator.
fn tern_to(sim: &Sim) -> Tern {
    Tern::start(&format!(
        "
[smpp-server]
bind = 127.0.0.1
port = {{smpp_port}}
[http-api]
bind = 127.0.0.1
port = {{http_port}}
[store]
backend = memory
[user:{USER}]
password = {PASSWORD}
max_binds = 4
[connector:sim]
host = 127.0.0.1
port = {}
username = tern
password = pw
reconnect_delay = 1
[mt-route:0]
type = default
connectors = sim
",
        sim.port
    ))
}

/// Run smpplib_tern.py against tern; its JSON report, and whether it
/// exited 0 (it prints the report either way; the reasons go to stderr).
fn smpplib_tern(port: u16, extra: &[&str]) -> (Value, bool, String) {
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("interop/smpplib_tern.py");
    let port = port.to_string();
    let mut args = vec![
        script.to_str().unwrap(),
        "--host",
        "127.0.0.1",
        "--port",
        &port,
        "--system-id",
        USER,
        "--password",
        PASSWORD,
        "--timeout",
        PY_TIMEOUT,
    ];
    args.extend_from_slice(extra);
    let out = run_command_with_timeout(Command::new("python3").args(&args), PY_LIMIT);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let report = serde_json::from_str(stdout.lines().last().unwrap_or_default())
        .unwrap_or_else(|e| {
            panic!(
                "smpplib_tern.py printed no JSON report ({e}; {:?}):\nstdout: {stdout}\nstderr: {stderr}",
                out.status
            )
        });
    (report, out.status.success(), stderr)
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap_or_else(|| panic!("not an array: {v}"))
        .iter()
        .map(|s| {
            s.as_str()
                .unwrap_or_else(|| panic!("not a string: {s}"))
                .to_string()
        })
        .collect()
}

/// The run bound, was answered ESME_ROK on every submit_sm with distinct
/// ids, and unbound cleanly; the ids.
fn assert_clean_run(r: &Value, role: &str) -> Vec<String> {
    assert_eq!(r["role"], role, "{r}");
    assert_eq!(r["bind_status"], 0, "bind_{role} refused: {r}");
    assert_eq!(r["errors"], Value::Array(vec![]), "errors: {r}");
    for s in r["submits"].as_array().unwrap() {
        assert_eq!(s["status"], 0, "submit_sm {} not ESME_ROK: {r}", s["kind"]);
        assert!(
            s["id"].is_string(),
            "submit_sm {} without an id: {r}",
            s["kind"]
        );
    }
    let ids = strings(&r["message_ids"]);
    assert_eq!(ids.len(), r["submits"].as_array().unwrap().len(), "{r}");
    let distinct: HashSet<&String> = ids.iter().collect();
    assert_eq!(distinct.len(), ids.len(), "an id given twice: {r}");
    assert_eq!(r["unbind_status"], 0, "unbind not answered ESME_ROK: {r}");
    ids
}

/// Exactly one final receipt (esm_class 0x04, DELIVRD / message_state 2,
/// receipted_message_id and the text's `id:` both the submit's id) per
/// id in `ids`, and no other deliver_sm.
fn assert_one_receipt_each(r: &Value, ids: &[String]) {
    let receipts = r["receipts"].as_array().unwrap();
    for rc in receipts {
        assert_eq!(rc["esm_class"], 0x04, "receipt esm_class: {rc}\n{r}");
        assert!(
            rc["tlv_id"].is_string(),
            "no receipted_message_id: {rc}\n{r}"
        );
        assert_eq!(rc["tlv_id"], rc["text_id"], "TLV and text ids: {rc}\n{r}");
        assert_eq!(rc["message_state"], 2, "message_state DELIVERED: {rc}\n{r}");
        assert_eq!(rc["stat"], "DELIVRD", "text stat: {rc}\n{r}");
    }
    let got: Vec<String> = receipts
        .iter()
        .map(|rc| rc["id"].as_str().unwrap_or_default().to_string())
        .collect();
    let mut want = ids.to_vec();
    want.sort();
    let mut sorted = got.clone();
    sorted.sort();
    assert_eq!(sorted, want, "one receipt per message id: {r}");
    assert_eq!(strings(&r["matched"]), ids, "{r}");
    assert!(strings(&r["missing"]).is_empty(), "{r}");
    assert!(strings(&r["duplicates"]).is_empty(), "{r}");
    assert!(strings(&r["unexpected"]).is_empty(), "{r}");
    assert_eq!(r["not_receipts"], Value::Array(vec![]), "{r}");
}

/// query_sm answered ESME_ROK with DELIVERED and a final_date for each id.
fn assert_queried_delivered(r: &Value, ids: &[String]) {
    let queries = r["queries"].as_array().unwrap();
    let queried: Vec<String> = queries
        .iter()
        .map(|q| q["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(queried, ids, "every id queried: {r}");
    for q in queries {
        assert_eq!(q["status"], 0, "query_sm not ESME_ROK: {q}\n{r}");
        assert_eq!(q["message_state"], 2, "query_sm: not DELIVERED: {q}\n{r}");
        assert_eq!(q["error_code"], 0, "{q}\n{r}");
        assert!(
            q["final_date"].as_str().is_some_and(|d| !d.is_empty()),
            "a delivered message has a final_date: {q}\n{r}"
        );
    }
}

/// smpplib binds to tern as a transceiver and submits a short GSM message,
/// a long one it splits itself into UDH parts (each part its own message
/// for tern) and a long one in message_payload (one message, split by
/// tern upstream), all with registered_delivery=1; it gets exactly one
/// receipt per message id tern returned, query_sm says DELIVERED, and the
/// unbind is answered.
#[test]
fn tern_smpplib_transceiver_submits_and_gets_its_receipts() {
    let sim = Sim::start(&[]);
    let t = tern_to(&sim);
    let (r, ok, stderr) = smpplib_tern(
        t.port,
        &["--role", "trx", "--messages", "short,udh,payload"],
    );
    let ids = assert_clean_run(&r, "trx");
    let kinds: Vec<&str> = r["submits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds.first(), Some(&"short"), "{r}");
    assert_eq!(kinds.last(), Some(&"payload"), "{r}");
    let parts = r["udh_parts"].as_u64().unwrap() as usize;
    assert!(parts >= 2, "smpplib split the long text in parts: {r}");
    assert_eq!(ids.len(), 1 + parts + 1, "{r}");
    assert_one_receipt_each(&r, &ids);
    assert_queried_delivered(&r, &ids);
    assert!(ok, "smpplib_tern.py failed:\n{stderr}\n{r}");
    // Upstream: every UDH part as it came, the payload split by tern.
    let c = sim.wait_for(
        "every upstream receipt acknowledged",
        Duration::from_secs(20),
        |c| c["receipts_owed"] == 0 && c["receipts_sent"] == c["receipts_acked"],
    );
    let upstream = c["submit_ok"].as_u64().unwrap() as usize;
    assert!(
        upstream > ids.len(),
        "the payload message went upstream in parts: {upstream} submits for {} ids: {c}",
        ids.len()
    );
    assert_eq!(c["receipts_acked"], c["submit_ok"], "{c}");
}

/// Store and forward: smpplib submits as a transmitter (short + UDH parts),
/// waits (query_sm) until every message is DELIVERED, unbinds; only then
/// binds a receiver, which gets every stored receipt once; a second
/// receiver bind gets nothing more.
#[test]
fn tern_smpplib_receiver_gets_receipts_stored_before_it_bound() {
    let sim = Sim::start(&[]);
    let t = tern_to(&sim);
    let (tx, ok, stderr) = smpplib_tern(t.port, &["--role", "tx", "--messages", "short,udh"]);
    let ids = assert_clean_run(&tx, "tx");
    assert!(tx["udh_parts"].as_u64().unwrap() >= 2, "{tx}");
    assert_eq!(
        tx["receipts"],
        Value::Array(vec![]),
        "a transmitter gets no deliver_sm: {tx}"
    );
    assert_queried_delivered(&tx, &ids);
    assert!(ok, "smpplib_tern.py (tx) failed:\n{stderr}\n{tx}");
    // Every upstream receipt is in tern, with no receiver of the user bound.
    sim.wait_for(
        "every upstream receipt acknowledged",
        Duration::from_secs(20),
        |c| {
            c["submit_ok"].as_u64() == Some(ids.len() as u64)
                && c["receipts_acked"] == c["submit_ok"]
        },
    );

    let expect = ids.join(",");
    let (rx, ok, stderr) = smpplib_tern(
        t.port,
        &["--role", "rx", "--expect", &expect, "--quiet", "1.5"],
    );
    assert_clean_run(&rx, "rx");
    assert_one_receipt_each(&rx, &ids);
    assert!(ok, "smpplib_tern.py (rx) failed:\n{stderr}\n{rx}");

    // Acknowledged with deliver_sm_resp: a new receiver gets nothing.
    let (again, ok, stderr) = smpplib_tern(t.port, &["--role", "rx", "--quiet", "1.5"]);
    assert_clean_run(&again, "rx");
    assert_one_receipt_each(&again, &[]);
    assert!(ok, "smpplib_tern.py (second rx) failed:\n{stderr}\n{again}");
}
