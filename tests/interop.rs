//! Interop with a client nobody here wrote: Python's smpplib (PyPI,
//! installed by scripts/test-deps.sh) binds to smsc-sim, submits, and must
//! get every receipt. Two of our own bugs cannot agree here.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;
use std::process::Command;

use e2e::smsc_sim;

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
