use std::time::Duration;

use smpp::{CommandStatus, MessageState};

use super::Metrics;
use super::labels::{CallbackKind, CallbackResult, DeliveryResult, Listener, RefusedReason};

fn text(m: &Metrics) -> String {
    String::from_utf8(m.render()).unwrap()
}

/// The value of the series whose line starts with `series` (name and
/// labels as rendered), if any.
fn value(m: &Metrics, series: &str) -> Option<f64> {
    text(m)
        .lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

fn series_count(m: &Metrics) -> usize {
    text(m)
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .count()
}

#[test]
fn two_gateways_in_one_process_keep_their_own_counts() {
    let (a, b) = (Metrics::new(), Metrics::new());
    a.mo("alice");
    assert_eq!(value(&a, r#"tern_mo_total{user="alice"}"#), Some(1.0));
    assert_eq!(value(&b, r#"tern_mo_total{user="alice"}"#), None);
}

#[test]
fn a_bind_is_counted_while_its_guard_lives() {
    let m = Metrics::new();
    let g = m.bound("alice", "trx");
    let g2 = m.bound("alice", "trx");
    assert_eq!(
        value(&m, r#"tern_binds{mode="trx",user="alice"}"#),
        Some(2.0)
    );
    drop(g);
    drop(g2);
    assert_eq!(
        value(&m, r#"tern_binds{mode="trx",user="alice"}"#),
        Some(0.0)
    );
}

#[test]
fn connections_are_counted_per_listener_and_refusals_by_why() {
    let m = Metrics::new();
    let plain = m.connection_open(Listener::Smpp);
    let tls = m.connection_open(Listener::SmppTls);
    m.connection_refused(Listener::Http, RefusedReason::PerIp);
    assert_eq!(value(&m, r#"tern_connections{listener="smpp"}"#), Some(1.0));
    assert_eq!(
        value(&m, r#"tern_connections{listener="smpp_tls"}"#),
        Some(1.0)
    );
    assert_eq!(
        value(
            &m,
            r#"tern_connections_refused_total{listener="http",reason="per_ip"}"#
        ),
        Some(1.0)
    );
    drop((plain, tls));
    assert_eq!(value(&m, r#"tern_connections{listener="smpp"}"#), Some(0.0));
}

#[test]
fn password_verifications_catch_up_with_the_accounts_count() {
    let m = Metrics::new();
    m.password_verifications(3);
    m.password_verifications(3);
    m.password_verifications(2);
    assert_eq!(value(&m, "tern_password_verifications_total"), Some(3.0));
    m.password_verifications(5);
    assert_eq!(value(&m, "tern_password_verifications_total"), Some(5.0));
}

#[test]
fn submits_are_counted_by_status_name_and_timed() {
    let m = Metrics::new();
    m.submitted("alice", CommandStatus::ESME_ROK, Duration::from_millis(2));
    m.submitted("alice", CommandStatus::ESME_RTHROTTLED, Duration::ZERO);
    m.throttled("alice");
    m.credit_refused("alice");
    assert_eq!(
        value(&m, r#"tern_submit_total{status="ESME_ROK",user="alice"}"#),
        Some(1.0)
    );
    assert_eq!(
        value(
            &m,
            r#"tern_submit_total{status="ESME_RTHROTTLED",user="alice"}"#
        ),
        Some(1.0)
    );
    assert_eq!(
        value(&m, r#"tern_throttled_total{user="alice"}"#),
        Some(1.0)
    );
    assert_eq!(
        value(&m, r#"tern_credit_refused_total{user="alice"}"#),
        Some(1.0)
    );
    assert_eq!(value(&m, "tern_submit_resp_seconds_count"), Some(2.0));
}

#[test]
fn upstream_answers_are_named_and_unknown_codes_share_one_series() {
    let m = Metrics::new();
    let up = m.upstream("smsc1");
    up.answered(Some(CommandStatus::ESME_ROK), Duration::from_millis(1));
    up.answered(None, Duration::from_secs(30));
    let before = series_count(&m);
    for code in 0x400..0x4ff {
        up.answered(Some(CommandStatus(code)), Duration::ZERO);
    }
    // One new series for every vendor code: status="other".
    assert_eq!(series_count(&m), before + 1);
    assert_eq!(
        value(
            &m,
            r#"tern_upstream_submit_total{connector="smsc1",status="other"}"#
        ),
        Some(255.0)
    );
    assert_eq!(
        value(
            &m,
            r#"tern_upstream_submit_total{connector="smsc1",status="no_response"}"#
        ),
        Some(1.0)
    );
    // An answer is timed; no answer is not.
    assert_eq!(
        value(&m, r#"tern_upstream_resp_seconds_count{connector="smsc1"}"#),
        Some(256.0)
    );
}

#[test]
fn receipts_deliveries_and_callbacks_have_fixed_labels() {
    let m = Metrics::new();
    m.receipt("alice", MessageState::Delivered, 1_000, 3_500);
    m.receipt("alice", MessageState::Other(77), 1_000, 500);
    m.delivery("alice", DeliveryResult::Expired);
    m.callback(CallbackKind::Receipt, CallbackResult::Ok);
    m.http_request("/send", "200");
    assert_eq!(
        value(&m, r#"tern_receipts_total{stat="DELIVRD",user="alice"}"#),
        Some(1.0)
    );
    assert_eq!(
        value(&m, r#"tern_receipts_total{stat="UNKNOWN",user="alice"}"#),
        Some(1.0)
    );
    assert_eq!(value(&m, "tern_receipt_latency_seconds_sum"), Some(2.5));
    assert_eq!(
        value(
            &m,
            r#"tern_deliveries_total{result="expired",user="alice"}"#
        ),
        Some(1.0)
    );
    assert_eq!(
        value(&m, r#"tern_callbacks_total{kind="receipt",result="ok"}"#),
        Some(1.0)
    );
    assert_eq!(
        value(
            &m,
            r#"tern_http_requests_total{code="200",endpoint="/send"}"#
        ),
        Some(1.0)
    );
}

mod sampled {
    use std::sync::Arc;

    use bytes::Bytes;
    use smpp::pdu::{Address, SubmitSm};

    use super::value;
    use crate::config::Config;
    use crate::context::Context;
    use crate::metrics::sample::sample;
    use crate::store::memory::MemoryStore;

    const CONFIG: &str = "
[user:bob]
password = pw
[user:fast]
password = pw
throughput = 1
burst = 1
[connector:one]
host = 127.0.0.1
port = 9
username = u
password = p
[connector:two]
host = 127.0.0.1
port = 9
username = u
password = p
[mt-route:0]
type = default
connectors = one
";

    fn sms(to: &str) -> SubmitSm<Bytes> {
        SubmitSm {
            destination: Address {
                addr: Bytes::copy_from_slice(to.as_bytes()),
                ..Default::default()
            },
            short_message: Bytes::from_static(b"hi"),
            ..Default::default()
        }
    }

    async fn scrape(ctx: &Context<MemoryStore>) -> String {
        let config = ctx.config.load_full();
        sample(
            &ctx.metrics,
            &ctx.store,
            &config,
            &ctx.connectors.snapshot(),
        )
        .await;
        String::from_utf8(ctx.metrics.render()).unwrap()
    }

    #[tokio::test]
    async fn submits_move_their_counters_and_depths_are_the_stores() {
        let config = Config::parse(CONFIG, "test.ini", &|_| None).unwrap();
        let ctx = Context::new(Arc::new(config), MemoryStore::new())
            .await
            .unwrap();
        let bob = ctx.config.load().users["bob"].clone();
        let fast = ctx.config.load().users["fast"].clone();
        for to in ["33600000001", "447700900123"] {
            crate::submit::submit(&ctx, &bob, sms(to), &[])
                .await
                .unwrap();
        }
        assert!(
            crate::submit::submit(&ctx, &fast, sms("1"), &[])
                .await
                .is_ok()
        );
        assert!(
            crate::submit::submit(&ctx, &fast, sms("2"), &[])
                .await
                .is_err()
        );
        let _ = scrape(&ctx).await;
        let m = &ctx.metrics;
        assert_eq!(
            value(m, r#"tern_submit_total{status="ESME_ROK",user="bob"}"#),
            Some(2.0)
        );
        assert_eq!(value(m, r#"tern_throttled_total{user="fast"}"#), Some(1.0));
        assert_eq!(value(m, r#"tern_queue_depth{queue="one"}"#), Some(3.0));
        assert_eq!(value(m, r#"tern_queue_depth{queue="two"}"#), Some(0.0));
        assert_eq!(value(m, r#"tern_connector_up{connector="one"}"#), Some(0.0));
        assert_eq!(
            value(m, r#"tern_delivery_queue_depth{user="bob"}"#),
            Some(0.0)
        );
        assert_eq!(value(m, "tern_callback_queue_depth"), Some(0.0));

        // A connector bound shows up; one removed by a reload is gone.
        let _up = ctx.connectors.up("one");
        let reloaded = CONFIG.replace("[connector:two]", "[connector:three]");
        let config = Config::parse(&reloaded, "test.ini", &|_| None).unwrap();
        ctx.reload(Arc::new(config)).await.unwrap();
        let text = scrape(&ctx).await;
        assert_eq!(value(m, r#"tern_connector_up{connector="one"}"#), Some(1.0));
        assert!(!text.contains(r#""two""#), "{text}");
        assert_eq!(value(m, r#"tern_queue_depth{queue="three"}"#), Some(0.0));
    }
}
