//! Prometheus metrics (shared/DESIGN.md, "HTTP API"; docs/metrics.md):
//! every family, its labels and buckets are defined here, once, in a
//! registry of their own per [`crate::context::Context`] (not the
//! process-wide default registry, so tests run several gateways in one
//! process). `GET /metrics` on the HTTP API renders it ([`Metrics::render`]).
//!
//! Counters, histograms and the bind gauge move where their event
//! happens: the stages call the small methods below (one line at each
//! site). Queue depths are store reads, and which connectors are bound is
//! the context's: [`sample`] reads them when a scrape comes, for the
//! configured connectors and users only.
//!
//! Label values come from the configuration (a user's system_id, a
//! connector's name) or from the fixed sets of [`labels`]; a request's
//! data (a destination, a path, a peer's status code) never becomes one,
//! so the number of series is bounded by the configuration. This module
//! depends on no stage.

pub mod labels;
pub mod sample;

use std::time::Duration;

use prometheus::{
    Encoder, Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge,
    IntGaugeVec, Opts, Registry, TextEncoder,
};
use smpp::{CommandStatus, MessageState};

use labels::{
    CallbackKind, CallbackResult, DeliveryResult, ExpiryReason, Listener, RefusedReason,
    RerouteReason,
};

/// The content type of the text format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4";

/// Buckets of the answer times (submit_sm_resp, upstream): 0.5 ms to 5 s.
const RESP_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
];
/// Buckets of the receipt latency (accepted → receipt handed to the
/// user): 10 ms to an hour.
const RECEIPT_BUCKETS: &[f64] = &[
    0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0,
];

/// Every metric of one gateway, in its own registry.
pub struct Metrics {
    registry: Registry,
    binds: IntGaugeVec,
    bind_failures: IntCounterVec,
    submits: IntCounterVec,
    throttled: IntCounterVec,
    credit_refused: IntCounterVec,
    submit_resp: Histogram,
    upstream_submits: IntCounterVec,
    upstream_resp: HistogramVec,
    receipts: IntCounterVec,
    receipt_latency: Histogram,
    mo: IntCounterVec,
    deliveries: IntCounterVec,
    http_requests: IntCounterVec,
    callbacks: IntCounterVec,
    rerouted: IntCounterVec,
    expired: IntCounterVec,
    connections: IntGaugeVec,
    connections_refused: IntCounterVec,
    /// Caught up with the accounts' count at each scrape, one scrape at
    /// a time (the lock).
    password_verifications: std::sync::Mutex<IntCounter>,
    pub(crate) queue_depth: IntGaugeVec,
    pub(crate) delivery_depth: IntGaugeVec,
    pub(crate) callback_depth: IntGaugeVec,
    pub(crate) connector_up: IntGaugeVec,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// A registry with every family registered.
    pub fn new() -> Self {
        let registry = Registry::new();
        let counter = |name: &str, help: &str, labels: &[&str]| {
            let c = IntCounterVec::new(Opts::new(name, help), labels)
                .expect("metric names and labels are valid");
            registry
                .register(Box::new(c.clone()))
                .expect("metric names are distinct");
            c
        };
        let gauge = |name: &str, help: &str, labels: &[&str]| {
            let g = IntGaugeVec::new(Opts::new(name, help), labels)
                .expect("metric names and labels are valid");
            registry
                .register(Box::new(g.clone()))
                .expect("metric names are distinct");
            g
        };
        let histogram = |name: &str, help: &str, buckets: &[f64], labels: &[&str]| {
            let h = HistogramVec::new(
                HistogramOpts::new(name, help).buckets(buckets.to_vec()),
                labels,
            )
            .expect("metric names and buckets are valid");
            registry
                .register(Box::new(h.clone()))
                .expect("metric names are distinct");
            h
        };
        Metrics {
            binds: gauge("tern_binds", "ESME binds open now.", &["user", "mode"]),
            bind_failures: counter(
                "tern_bind_failures_total",
                "Binds refused, by why.",
                &["reason"],
            ),
            submits: counter(
                "tern_submit_total",
                "Submits answered (SMPP and HTTP), by SMPP status.",
                &["user", "status"],
            ),
            throttled: counter(
                "tern_throttled_total",
                "Submits refused over the user's throughput.",
                &["user"],
            ),
            credit_refused: counter(
                "tern_credit_refused_total",
                "Submits refused for want of credit.",
                &["user"],
            ),
            submit_resp: histogram(
                "tern_submit_resp_seconds",
                "Time from a submit's arrival to its answer.",
                RESP_BUCKETS,
                &[],
            )
            .with_label_values::<&str>(&[]),
            upstream_submits: counter(
                "tern_upstream_submit_total",
                "submit_sm sent upstream, by the SMSC's answer.",
                &["connector", "status"],
            ),
            upstream_resp: histogram(
                "tern_upstream_resp_seconds",
                "Time from a submit_sm sent upstream to its submit_sm_resp.",
                RESP_BUCKETS,
                &["connector"],
            ),
            receipts: counter(
                "tern_receipts_total",
                "Receipts handed to their user (deliver_sm accepted, or dlr-url answered 2xx).",
                &["user", "stat"],
            ),
            receipt_latency: histogram(
                "tern_receipt_latency_seconds",
                "Time from a message's acceptance to its receipt handed to the user.",
                RECEIPT_BUCKETS,
                &[],
            )
            .with_label_values::<&str>(&[]),
            mo: counter(
                "tern_mo_total",
                "MO messages queued for their user (SMPP or mo_url).",
                &["user"],
            ),
            deliveries: counter(
                "tern_deliveries_total",
                "Items of the users' delivery queues settled, by how.",
                &["user", "result"],
            ),
            http_requests: counter(
                "tern_http_requests_total",
                "HTTP API requests, by route and answer code.",
                &["endpoint", "code"],
            ),
            callbacks: counter(
                "tern_callbacks_total",
                "HTTP callback attempts, by what they carried and how they ended.",
                &["kind", "result"],
            ),
            rerouted: counter(
                "tern_messages_rerouted_total",
                "Messages moved on to the next connector of their route, by the connector they left and why.",
                &["connector", "reason"],
            ),
            expired: counter(
                "tern_messages_expired_total",
                "Messages made final by the expiry sweeps, by connector and why: past their validity while waiting, or no final receipt within dlr_expiry.",
                &["connector", "reason"],
            ),
            connections: gauge(
                "tern_connections",
                "TCP connections open now on a front-end listener, bound or not.",
                &["listener"],
            ),
            connections_refused: counter(
                "tern_connections_refused_total",
                "TCP connections closed at their accept, before any read, by listener and why.",
                &["listener", "reason"],
            ),
            password_verifications: std::sync::Mutex::new(
                counter(
                    "tern_password_verifications_total",
                    "argon2 password verifications run (binds and HTTP requests; a cached or plain-text password runs none).",
                    &[],
                )
                .with_label_values::<&str>(&[]),
            ),
            queue_depth: gauge(
                "tern_queue_depth",
                "Messages waiting in a connector's queue.",
                &["queue"],
            ),
            delivery_depth: gauge(
                "tern_delivery_queue_depth",
                "Receipts and MO waiting in a user's delivery queue, taken ones included.",
                &["user"],
            ),
            connector_up: gauge(
                "tern_connector_up",
                "1 when a session of the connector is bound upstream, else 0.",
                &["connector"],
            ),
            callback_depth: gauge(
                "tern_callback_queue_depth",
                "HTTP callbacks waiting in the store, taken ones and retries included.",
                &[],
            ),
            registry,
        }
    }

    /// The registry in Prometheus' text format ([`CONTENT_TYPE`]).
    pub fn render(&self) -> Vec<u8> {
        let mut out = Vec::new();
        // Writing to a Vec fails only on a malformed family, which the
        // definitions above cannot make.
        let _ = TextEncoder::new().encode(&self.registry.gather(), &mut out);
        out
    }

    /// A message left `connector` for the next connector of its route.
    pub fn rerouted(&self, connector: &str, reason: RerouteReason) {
        self.rerouted
            .with_label_values(&[connector, reason.as_str()])
            .inc();
    }

    /// `n` messages of `connector` made final by an expiry sweep.
    pub fn expired(&self, connector: &str, reason: ExpiryReason, n: u64) {
        self.expired
            .with_label_values(&[connector, reason.as_str()])
            .inc_by(n);
    }

    /// `user` bound in `mode` (`tx`, `rx`, `trx`): counted in
    /// `tern_binds` until the guard is dropped.
    pub fn bound(&self, user: &str, mode: &'static str) -> BindGauge {
        let g = self.binds.with_label_values(&[user, mode]);
        g.inc();
        BindGauge(g)
    }

    /// A bind refused for `reason` (a [`crate::accounts::RefusalReason`]
    /// label: the user is not named, it may not exist).
    pub fn bind_failed(&self, reason: &'static str) {
        self.bind_failures.with_label_values(&[reason]).inc();
    }

    /// A connection accepted on `listener`: counted in `tern_connections`
    /// until the guard is dropped.
    pub fn connection_open(&self, listener: Listener) -> ConnectionGauge {
        let g = self.connections.with_label_values(&[listener.as_str()]);
        g.inc();
        ConnectionGauge(g)
    }

    /// A connection on `listener` closed at its accept for `reason`.
    pub fn connection_refused(&self, listener: Listener, reason: RefusedReason) {
        self.connections_refused
            .with_label_values(&[listener.as_str(), reason.as_str()])
            .inc();
    }

    /// The argon2 verifications run so far, `total` (the accounts'
    /// count, read when a scrape comes).
    pub fn password_verifications(&self, total: u64) {
        let counter = self
            .password_verifications
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let seen = counter.get();
        if total > seen {
            counter.inc_by(total - seen);
        }
    }

    /// A submit of `user` answered with `status` after `elapsed`.
    pub fn submitted(&self, user: &str, status: CommandStatus, elapsed: Duration) {
        self.submits
            .with_label_values(&[user, labels::status(status)])
            .inc();
        self.submit_resp.observe(elapsed.as_secs_f64());
    }

    /// A submit of `user` refused over its throughput.
    pub fn throttled(&self, user: &str) {
        self.throttled.with_label_values(&[user]).inc();
    }

    /// A submit of `user` refused for want of credit.
    pub fn credit_refused(&self, user: &str) {
        self.credit_refused.with_label_values(&[user]).inc();
    }

    /// The upstream counters of `connector`, for its sessions.
    pub fn upstream(&self, connector: &str) -> Upstream {
        Upstream {
            connector: connector.into(),
            submits: self.upstream_submits.clone(),
            resp: self.upstream_resp.with_label_values(&[connector]),
        }
    }

    /// A receipt of `user`'s message accepted at `accepted_ms` (Unix ms)
    /// handed to the user at `now_ms` in `state`.
    pub fn receipt(&self, user: &str, state: MessageState, accepted_ms: i64, now_ms: i64) {
        self.receipts
            .with_label_values(&[user, labels::stat(state)])
            .inc();
        let latency = now_ms.saturating_sub(accepted_ms).max(0) as f64 / 1000.0;
        self.receipt_latency.observe(latency);
    }

    /// An MO queued for `user`.
    pub fn mo(&self, user: &str) {
        self.mo.with_label_values(&[user]).inc();
    }

    /// An item of `user`'s delivery queue settled as `result`.
    pub fn delivery(&self, user: &str, result: DeliveryResult) {
        self.deliveries
            .with_label_values(&[user, result.as_str()])
            .inc();
    }

    /// An HTTP request served by the route `endpoint` (its path template,
    /// [`labels::endpoint`]) answered with `code` (its three digits).
    pub fn http_request(&self, endpoint: &str, code: &str) {
        self.http_requests
            .with_label_values(&[endpoint, code])
            .inc();
    }

    /// A callback attempt of `kind` ended as `result`.
    pub fn callback(&self, kind: CallbackKind, result: CallbackResult) {
        self.callbacks
            .with_label_values(&[kind.as_str(), result.as_str()])
            .inc();
    }
}

/// One open bind in `tern_binds`, until dropped.
pub struct BindGauge(IntGauge);

impl Drop for BindGauge {
    fn drop(&mut self) {
        self.0.dec();
    }
}

/// One open connection in `tern_connections`, until dropped.
pub struct ConnectionGauge(IntGauge);

impl Drop for ConnectionGauge {
    fn drop(&mut self) {
        self.0.dec();
    }
}

/// One connector's upstream counters (its name resolved once).
#[derive(Clone)]
pub struct Upstream {
    connector: std::sync::Arc<str>,
    submits: IntCounterVec,
    resp: Histogram,
}

impl Upstream {
    /// A submit_sm answered with `status` (None: no answer) after
    /// `elapsed`.
    pub fn answered(&self, status: Option<CommandStatus>, elapsed: Duration) {
        let status = status.map_or(labels::NO_RESPONSE, labels::status);
        self.submits
            .with_label_values(&[&*self.connector, status])
            .inc();
        if status != labels::NO_RESPONSE {
            self.resp.observe(elapsed.as_secs_f64());
        }
    }
}

#[cfg(test)]
mod tests;
