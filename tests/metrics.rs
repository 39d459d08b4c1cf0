//! `GET /metrics` of a real `tern` in front of a real `smsc-sim`, read
//! by a parser nobody here wrote (Python's prometheus_client, through
//! tests/interop/metrics_scrape.py): every family is scraped before and
//! after the event that moves it — a bind (the gauge up, then down at
//! unbind), refused binds, submits (accepted, throttled, refused for
//! credit), the upstream submit and its answer, a receipt over SMPP and
//! to a dlr-url (accepted, then refused and retried), MO from smsc-sim
//! (`--mo-rate`) queued for a user with no receiver, HTTP requests, the
//! connector going down (smsc-sim stopped) and its queue growing — and
//! the label sets are bounded: 200 submits to random destinations and
//! 200 requests to random paths add no series.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

mod http_support;

use bytes::Bytes;
use e2e::sink::Sink;
use e2e::*;
use http_support::{config_with, encode, get, success_id};
use smpp::CommandStatus as S;
use smpp::pdu::*;
use smpp_session::{BindMode, Session};

/// One scrape as the Python parser read it.
struct Scrape {
    status: u16,
    content_type: String,
    types: BTreeMap<String, String>,
    samples: BTreeMap<String, f64>,
}

impl Scrape {
    /// A sample's value; 0 when the series does not exist (yet).
    fn v(&self, key: &str) -> f64 {
        self.samples.get(key).copied().unwrap_or(0.0)
    }
}

fn python(args: &[&str]) -> serde_json::Value {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("interop/metrics_scrape.py");
    let out = run_command_with_timeout(
        Command::new("python3").arg(script).args(args),
        Duration::from_secs(120),
    );
    assert!(
        out.status.success(),
        "metrics_scrape.py failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn scrape(base: &str) -> Scrape {
    let v = python(&["scrape", &format!("{base}/metrics")]);
    let map = |k: &str| v[k].as_object().unwrap().clone();
    Scrape {
        status: v["status"].as_u64().unwrap() as u16,
        content_type: v["content_type"].as_str().unwrap().to_string(),
        types: map("types")
            .into_iter()
            .map(|(k, t)| (k, t.as_str().unwrap().to_string()))
            .collect(),
        samples: map("samples")
            .into_iter()
            .map(|(k, x)| (k, x.as_f64().unwrap()))
            .collect(),
    }
}

/// Scrape until `f` holds (an event's effect may trail its answer by a
/// moment: a receipt is counted when the ESME's deliver_sm_resp is read).
fn scrape_until(base: &str, what: &str, f: impl Fn(&Scrape) -> bool) -> Scrape {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let s = scrape(base);
        if f(&s) {
            return s;
        }
        assert!(
            Instant::now() < deadline,
            "{what}: not seen in 20 s; last scrape: {:#?}",
            s.samples
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn submit(dest: &str, registered_delivery: u8) -> SubmitSm<Bytes> {
    sms(dest, "hello", registered_delivery)
}

async fn submit_status(s: &Session, m: SubmitSm<Bytes>) -> S {
    s.request(Body::SubmitSm(m)).await.unwrap().command_status
}

/// Digits from a cheap generator seeded by the clock: random enough that
/// no two runs (or submits) share destinations.
fn random_digits(state: &mut u64, n: usize) -> String {
    (0..n)
        .map(|_| {
            *state ^= *state << 13;
            *state ^= *state >> 7;
            *state ^= *state << 17;
            char::from(b'0' + (*state % 10) as u8)
        })
        .collect()
}

const EXTRA: &str = "
[user:poor]
password = poor-pw
credit = 0.05
[user:inbound]
password = in-pw
[mo-route:0]
type = default
users = inbound
";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_family_moves_with_its_event_and_series_stay_bounded() {
    let sink = Sink::start();
    let sim = Sim::start(&["--mo-rate", "5"]);
    let http_port = free_port();
    let tern = Tern::start_on(
        &config_with(sim.port, "[store]\nbackend = memory\n", EXTRA),
        free_port(),
        http_port,
    );
    wait_for_port(http_port);
    let base = format!("http://127.0.0.1:{http_port}");

    // The connector binds: tern_connector_up says so; the text is
    // Prometheus' and its families have the types DESIGN gives.
    let s0 = scrape_until(&base, "connector up", |s| {
        s.v(r#"tern_connector_up{connector="sim"}"#) == 1.0
    });
    assert_eq!(s0.status, 200);
    assert_eq!(s0.content_type, "text/plain; version=0.0.4");
    for (family, kind) in [
        ("tern_connector_up", "gauge"),
        ("tern_queue_depth", "gauge"),
        ("tern_delivery_queue_depth", "gauge"),
        ("tern_callback_queue_depth", "gauge"),
        ("tern_submit_resp_seconds", "histogram"),
        ("tern_receipt_latency_seconds", "histogram"),
    ] {
        assert_eq!(
            s0.types.get(family).map(String::as_str),
            Some(kind),
            "{family}: {:?}",
            s0.types
        );
    }

    // A bind: the gauge goes up.
    let (alice, mut alice_ev) = bind(tern.port, BindMode::Transceiver, "alice", "alice-pw")
        .await
        .unwrap();
    let binds = r#"tern_binds{mode="trx",user="alice"}"#;
    let s1 = scrape_until(&base, "alice's bind", |s| s.v(binds) == 1.0);
    assert_eq!(s1.types["tern_binds"], "gauge");

    // Refused binds: a bad password, an unknown user. Neither names a user.
    assert!(
        bind(tern.port, BindMode::Transmitter, "alice", "wrong")
            .await
            .is_err()
    );
    assert!(
        bind(tern.port, BindMode::Transmitter, "nobody-xyz", "pw")
            .await
            .is_err()
    );
    let failures = r#"tern_bind_failures_total{reason="credentials"}"#;
    let s2 = scrape_until(&base, "bind failures", |s| {
        s.v(failures) == s1.v(failures) + 2.0
    });
    assert_eq!(s2.types["tern_bind_failures"], "counter");
    assert!(
        s2.samples.keys().all(|k| !k.contains("nobody-xyz")),
        "an unknown user became a label"
    );

    // A submit over SMPP with a receipt: the submit, its time, the
    // upstream submit and its answer time, then the receipt at the ESME.
    let before = scrape(&base);
    assert_eq!(
        submit_status(&alice, submit("447700900123", 1)).await,
        S::ESME_ROK
    );
    let d = next_deliver(&alice, &mut alice_ev, Duration::from_secs(20)).await;
    assert!(d.esm_class.is_receipt());
    let ok = r#"tern_submit_total{status="ESME_ROK",user="alice"}"#;
    let upstream = r#"tern_upstream_submit_total{connector="sim",status="ESME_ROK"}"#;
    let upstream_time = r#"tern_upstream_resp_seconds_count{connector="sim"}"#;
    let receipts = r#"tern_receipts_total{stat="DELIVRD",user="alice"}"#;
    let delivered = r#"tern_deliveries_total{result="delivered",user="alice"}"#;
    let s3 = scrape_until(&base, "the receipt counted", |s| {
        s.v(receipts) == before.v(receipts) + 1.0
    });
    assert_eq!(s3.v(ok), before.v(ok) + 1.0);
    assert_eq!(
        s3.v("tern_submit_resp_seconds_count"),
        before.v("tern_submit_resp_seconds_count") + 1.0
    );
    assert_eq!(s3.v(upstream), before.v(upstream) + 1.0);
    assert_eq!(s3.v(upstream_time), before.v(upstream_time) + 1.0);
    assert_eq!(s3.v(delivered), before.v(delivered) + 1.0);
    assert_eq!(
        s3.v("tern_receipt_latency_seconds_count"),
        before.v("tern_receipt_latency_seconds_count") + 1.0
    );
    assert_eq!(s3.types["tern_upstream_resp_seconds"], "histogram");

    // Throttled (free: 1/s, burst 1) and refused for credit (poor: 0.05
    // for a 0.1 message), over HTTP; and the HTTP requests themselves.
    let before = scrape(&base);
    let send = |user: &str, pw: &str| {
        get(&format!(
            "{base}/send?username={user}&password={pw}&to=447700900123&content=x"
        ))
    };
    let mut throttled = false;
    for _ in 0..5 {
        throttled |= send("free", "free-pw").status == 403;
    }
    assert!(throttled, "free was never throttled");
    assert_eq!(send("poor", "poor-pw").status, 403);
    assert_eq!(get(&format!("{base}/ping")).status, 200);
    assert_eq!(get(&format!("{base}/no/such/path")).status, 404);
    let s4 = scrape(&base);
    let moved = |key: &str| s4.v(key) > before.v(key);
    assert!(moved(r#"tern_throttled_total{user="free"}"#));
    assert!(moved(
        r#"tern_submit_total{status="ESME_RTHROTTLED",user="free"}"#
    ));
    assert!(moved(r#"tern_credit_refused_total{user="poor"}"#));
    assert!(moved(
        r#"tern_submit_total{status="ESME_RSUBMITFAIL",user="poor"}"#
    ));
    assert!(moved(
        r#"tern_http_requests_total{code="200",endpoint="/send"}"#
    ));
    assert!(moved(
        r#"tern_http_requests_total{code="403",endpoint="/send"}"#
    ));
    assert!(moved(
        r#"tern_http_requests_total{code="200",endpoint="/ping"}"#
    ));
    assert!(moved(
        r#"tern_http_requests_total{code="404",endpoint="other"}"#
    ));
    // The scrape before this one is counted too.
    assert!(moved(
        r#"tern_http_requests_total{code="200",endpoint="/metrics"}"#
    ));

    // A receipt to a dlr-url: refused (500) first, so it waits in the
    // callback queue and is tried again; then answered.
    let before = scrape(&base);
    sink.answer_always(Some(500));
    let id = success_id(&get(&format!(
        "{base}/send?username=alice&password=alice-pw&to=447700900123&content=hi\
         &dlr=yes&dlr-level=2&dlr-url={}",
        encode(&sink.url("/dlr"))
    )));
    let refused = r#"tern_callbacks_total{kind="receipt",result="refused"}"#;
    let s5 = scrape_until(&base, "a refused callback waiting", |s| {
        s.v(refused) > before.v(refused) && s.v("tern_callback_queue_depth") >= 1.0
    });
    sink.answer_always(None);
    let cb_ok = r#"tern_callbacks_total{kind="receipt",result="ok"}"#;
    let s6 = scrape_until(&base, "the callback answered", |s| {
        s.v(cb_ok) == s5.v(cb_ok) + 1.0 && s.v("tern_callback_queue_depth") == 0.0
    });
    assert!(sink.calls().iter().any(|c| c.get("id") == id));
    assert_eq!(s6.types["tern_callbacks"], "counter");
    // Handed to alice through its dlr-url: a receipt of alice's.
    assert_eq!(s6.v(receipts), s5.v(receipts) + 1.0);

    // MO from smsc-sim for `inbound`, which has no receiver: counted and
    // waiting in its delivery queue.
    let s7 = scrape_until(&base, "MO queued for inbound", |s| {
        s.v(r#"tern_mo_total{user="inbound"}"#) >= 2.0
            && s.v(r#"tern_delivery_queue_depth{user="inbound"}"#) >= 2.0
    });
    assert_eq!(s7.types["tern_mo"], "counter");

    // Cardinality: once each label value has been seen, 200 submits to
    // random destinations (routed and not) and 200 requests to random
    // paths add no series.
    let (bulk, _bulk_ev) = bind(tern.port, BindMode::Transmitter, "bulk", "bulk-pw")
        .await
        .unwrap();
    assert_eq!(submit_status(&bulk, submit("4477", 0)).await, S::ESME_ROK);
    assert_eq!(
        submit_status(&bulk, submit("3377", 0)).await,
        S::ESME_RINVDSTADR
    );
    python(&["random-paths", &base, "1"]);
    let before = scrape(&base);
    let mut seed = (std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64)
        | 1;
    for i in 0..200 {
        let prefix = if i % 2 == 0 { "44" } else { "33" };
        let dest = format!("{prefix}{}", random_digits(&mut seed, 10));
        let status = submit_status(&bulk, submit(&dest, 0)).await;
        assert!(
            matches!(status, S::ESME_ROK | S::ESME_RINVDSTADR),
            "{status:?}"
        );
    }
    let paths = python(&["random-paths", &base, "200"]);
    assert_eq!(paths["statuses"]["404"], 200, "{paths}");
    let after = scrape(&base);
    let new: Vec<&String> = after
        .samples
        .keys()
        .filter(|k| !before.samples.contains_key(*k))
        .collect();
    assert!(new.is_empty(), "new series: {new:?}");
    assert_eq!(after.samples.len(), before.samples.len());
    let bulk_ok = r#"tern_submit_total{status="ESME_ROK",user="bulk"}"#;
    assert_eq!(after.v(bulk_ok), before.v(bulk_ok) + 100.0);

    // The bind gauge goes down at unbind.
    alice.unbind().await.unwrap();
    scrape_until(&base, "alice's bind gone", |s| s.v(binds) == 0.0);

    // The connector goes down with smsc-sim; what is sent now waits in its
    // queue.
    let Sim { proc, .. } = sim;
    proc.stop();
    scrape_until(&base, "connector down", |s| {
        s.v(r#"tern_connector_up{connector="sim"}"#) == 0.0
    });
    let before = scrape(&base);
    for _ in 0..3 {
        success_id(&send("bulk", "bulk-pw"));
    }
    let s8 = scrape(&base);
    assert!(
        s8.v(r#"tern_queue_depth{queue="sim"}"#)
            >= before.v(r#"tern_queue_depth{queue="sim"}"#) + 3.0,
        "{:?}",
        s8.samples.get(r#"tern_queue_depth{queue="sim"}"#)
    );
    drop(tern);
}

/// On redis the depths are the store's: a connector that never binds
/// (nothing listens at its port) shows down and its queue grows with
/// each accepted message; when redis goes away the scrape still answers,
/// with the depths left out rather than shown as 0.
#[test]
fn queue_depths_come_from_redis_and_are_left_out_while_it_is_down() {
    let mut redis = Redis::start();
    let nowhere = free_port();
    let http_port = free_port();
    let store = format!("[store]\nbackend = redis\nurl = {}\n", redis.url());
    let _tern = Tern::start_on(&config_with(nowhere, &store, EXTRA), free_port(), http_port);
    wait_for_port(http_port);
    let base = format!("http://127.0.0.1:{http_port}");
    let depth = r#"tern_queue_depth{queue="sim"}"#;
    let up = r#"tern_connector_up{connector="sim"}"#;
    let s0 = scrape(&base);
    assert_eq!(s0.samples.get(up), Some(&0.0), "{:?}", s0.samples);
    for _ in 0..3 {
        success_id(&get(&format!(
            "{base}/send?username=bulk&password=bulk-pw&to=447700900123&content=x"
        )));
    }
    let s1 = scrape(&base);
    assert_eq!(s1.v(depth), s0.v(depth) + 3.0);
    assert_eq!(
        s1.samples
            .get(r#"tern_delivery_queue_depth{user="inbound"}"#),
        Some(&0.0)
    );
    assert_eq!(s1.samples.get("tern_callback_queue_depth"), Some(&0.0));

    redis.kill();
    let s2 = scrape(&base);
    assert_eq!(s2.status, 200);
    assert!(!s2.samples.contains_key(depth), "{:?}", s2.samples);
    assert!(!s2.samples.contains_key("tern_callback_queue_depth"));
    assert_eq!(s2.samples.get(up), Some(&0.0));
}
