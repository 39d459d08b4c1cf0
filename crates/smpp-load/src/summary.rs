//! What a run measured: the counters each task keeps ([`Stats`]), their
//! merge, and the [`Summary`] printed at the end with its exit status.
//!
//! Each task counts into its own `Stats` (no sharing on the hot path); the
//! run merges them once everything has stopped. The JSON field names are
//! a contract with scripts and tests (see the crate's binary docs): add
//! fields, do not rename them.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::time::Duration;

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};
use smpp::{CommandStatus, MessageState};
use tokio::time::Instant;

/// Highest latency recorded, in microseconds (one hour); above it values
/// are clamped.
const LATENCY_MAX_US: u64 = 3_600_000_000;

/// A latency histogram in microseconds, 3 significant figures.
pub(crate) fn latency_histogram() -> Histogram<u64> {
    #[allow(clippy::expect_used)]
    Histogram::new_with_bounds(1, LATENCY_MAX_US, 3).expect("constant bounds are valid")
}

/// Counters one task keeps; merged at the end.
pub(crate) struct Stats {
    pub messages: u64,
    pub sent: u64,
    pub ok: u64,
    pub errors: HashMap<u32, u64>,
    pub timeouts: u64,
    pub failed: u64,
    pub submit_latency: Histogram<u64>,
    pub last_response: Option<Instant>,
    pub dlr_received: u64,
    pub dlr_matched: u64,
    pub dlr_intermediate: u64,
    pub dlr_invalid: u64,
    pub duplicates: u64,
    pub dlr_latency: Histogram<u64>,
    pub dlr_by_state: [u64; 256],
    pub last_matched: Option<Instant>,
    pub mo: u64,
}

impl Stats {
    pub fn new() -> Self {
        Stats {
            messages: 0,
            sent: 0,
            ok: 0,
            errors: HashMap::new(),
            timeouts: 0,
            failed: 0,
            submit_latency: latency_histogram(),
            last_response: None,
            dlr_received: 0,
            dlr_matched: 0,
            dlr_intermediate: 0,
            dlr_invalid: 0,
            duplicates: 0,
            dlr_latency: latency_histogram(),
            dlr_by_state: [0; 256],
            last_matched: None,
            mo: 0,
        }
    }

    /// A submit_sm_resp arrived `latency` after its submit_sm.
    pub fn response(&mut self, status: CommandStatus, latency: Duration, at: Instant) {
        record(&mut self.submit_latency, latency);
        self.last_response = later(self.last_response, at);
        if status.is_ok() {
            self.ok += 1;
        } else {
            *self.errors.entry(status.0).or_default() += 1;
        }
    }

    /// A receipt matched its submit.
    pub fn matched(&mut self, latency: Duration, received_at: Instant) {
        self.dlr_matched += 1;
        record(&mut self.dlr_latency, latency);
        self.last_matched = later(self.last_matched, received_at);
    }

    /// A receipt with this final state arrived.
    pub fn receipt_state(&mut self, state: MessageState) {
        self.dlr_received += 1;
        self.dlr_by_state[usize::from(state.as_u8())] += 1;
    }

    pub fn merge(&mut self, o: &Stats) {
        self.messages += o.messages;
        self.sent += o.sent;
        self.ok += o.ok;
        for (k, v) in &o.errors {
            *self.errors.entry(*k).or_default() += v;
        }
        self.timeouts += o.timeouts;
        self.failed += o.failed;
        // Same bounds on both sides: adding cannot fail.
        let _ = self.submit_latency.add(&o.submit_latency);
        self.last_response = o
            .last_response
            .map_or(self.last_response, |t| later(self.last_response, t));
        self.dlr_received += o.dlr_received;
        self.dlr_matched += o.dlr_matched;
        self.dlr_intermediate += o.dlr_intermediate;
        self.dlr_invalid += o.dlr_invalid;
        self.duplicates += o.duplicates;
        let _ = self.dlr_latency.add(&o.dlr_latency);
        for (a, b) in self.dlr_by_state.iter_mut().zip(o.dlr_by_state.iter()) {
            *a += b;
        }
        self.last_matched = o
            .last_matched
            .map_or(self.last_matched, |t| later(self.last_matched, t));
        self.mo += o.mo;
    }
}

fn later(a: Option<Instant>, b: Instant) -> Option<Instant> {
    Some(a.map_or(b, |a| a.max(b)))
}

pub(crate) fn record(h: &mut Histogram<u64>, d: Duration) {
    let us = u64::try_from(d.as_micros()).unwrap_or(u64::MAX);
    h.saturating_record(us.min(LATENCY_MAX_US));
}

/// Latency percentiles in milliseconds (microsecond resolution).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Latency {
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub max: f64,
}

impl Latency {
    pub(crate) fn of(h: &Histogram<u64>) -> Self {
        if h.is_empty() {
            return Latency::default();
        }
        let ms = |us: u64| us as f64 / 1000.0;
        Latency {
            p50: ms(h.value_at_quantile(0.50)),
            p90: ms(h.value_at_quantile(0.90)),
            p99: ms(h.value_at_quantile(0.99)),
            max: ms(h.max()),
        }
    }
}

/// The result of a run, printed as JSON with `--json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    /// Submitting binds.
    pub binds: u32,
    /// Window per bind.
    pub window: u32,
    /// trx or tx.
    pub bind_mode: String,
    /// Target submits per second, 0 for flat out.
    pub rate: u64,
    /// Messages started (a long message counts once).
    pub messages: u64,
    /// submit_sm sent (every part of a long message).
    pub sent: u64,
    /// submit_sm_resp ESME_ROK.
    pub ok: u64,
    /// Other submit_sm_resp statuses, by name (hex when unnamed).
    pub errors: BTreeMap<String, u64>,
    /// submit_sm with no response within the response timeout.
    pub timeouts: u64,
    /// submit_sm whose session closed before the response.
    pub failed: u64,
    /// Sessions that closed before the run unbound them.
    pub disconnects: u64,
    /// All binds up → last submit_sm_resp, in seconds.
    pub elapsed_s: f64,
    /// `ok / elapsed_s`.
    pub submit_per_s: f64,
    /// submit_sm → submit_sm_resp (any status).
    pub submit_latency_ms: Latency,
    /// Accepted submits that asked for a receipt.
    pub dlr_requested: u64,
    /// Final receipts received (matched or not, duplicates included).
    pub dlr_received: u64,
    /// Receipts matched to a submit of this run.
    pub dlr_matched: u64,
    /// All binds up → last matched receipt, in seconds.
    pub dlr_elapsed_s: f64,
    /// `dlr_matched / dlr_elapsed_s`.
    pub dlr_per_s: f64,
    /// submit_sm → its receipt.
    pub dlr_latency_ms: Latency,
    /// Final receipts received, by `stat:` name (DELIVRD, UNDELIV...).
    pub dlr_by_stat: BTreeMap<String, u64>,
    /// Accepted with a receipt requested, and no receipt by the end.
    pub lost: u64,
    /// Second and later receipts for one message id.
    pub duplicates: u64,
    /// Receipts whose id no submit of this run got (an earlier run's,
    /// say).
    pub dlr_unmatched: u64,
    /// Intermediate notifications (not matched).
    pub dlr_intermediate: u64,
    /// Receipts without a readable id or state.
    pub dlr_invalid: u64,
    /// deliver_sm / data_sm that were not receipts.
    pub mo: u64,
}

/// Exit status: everything went as asked.
pub const EXIT_OK: u8 = 0;
/// Exit status: a bind was refused or a connection failed or dropped.
pub const EXIT_CONNECTION: u8 = 1;
/// Exit status: an accepted message got no receipt within the timeout.
pub const EXIT_LOST: u8 = 2;
/// Exit status: bad command line.
pub const EXIT_USAGE: u8 = 64;

/// What a run knew besides the counters, to build its summary.
pub(crate) struct RunFacts {
    pub binds: u32,
    pub window: u32,
    pub bind_mode: &'static str,
    pub rate: u64,
    pub dlr: bool,
    pub start: Instant,
    pub end: Instant,
    pub lost: u64,
    pub unmatched: u64,
    pub disconnects: u64,
}

impl Summary {
    pub(crate) fn build(stats: &Stats, facts: &RunFacts) -> Summary {
        let since_start = |t: Option<Instant>| {
            t.unwrap_or(facts.end)
                .saturating_duration_since(facts.start)
                .as_secs_f64()
        };
        let per_s = |n: u64, s: f64| if s > 0.0 { n as f64 / s } else { 0.0 };
        let elapsed_s = since_start(stats.last_response);
        let dlr_elapsed_s = if stats.dlr_matched > 0 {
            since_start(stats.last_matched)
        } else {
            0.0
        };
        let errors = stats
            .errors
            .iter()
            .map(|(&s, &n)| (status_name(CommandStatus(s)), n))
            .collect();
        let mut dlr_by_stat = BTreeMap::new();
        for (v, &n) in stats.dlr_by_state.iter().enumerate() {
            if n > 0 {
                let state = MessageState::from_u8(u8::try_from(v).unwrap_or(0));
                *dlr_by_stat
                    .entry(state.receipt_stat().to_string())
                    .or_default() += n;
            }
        }
        Summary {
            binds: facts.binds,
            window: facts.window,
            bind_mode: facts.bind_mode.to_string(),
            rate: facts.rate,
            messages: stats.messages,
            sent: stats.sent,
            ok: stats.ok,
            errors,
            timeouts: stats.timeouts,
            failed: stats.failed,
            disconnects: facts.disconnects,
            elapsed_s: round3(elapsed_s),
            submit_per_s: round3(per_s(stats.ok, elapsed_s)),
            submit_latency_ms: Latency::of(&stats.submit_latency),
            dlr_requested: if facts.dlr { stats.ok } else { 0 },
            dlr_received: stats.dlr_received,
            dlr_matched: stats.dlr_matched,
            dlr_elapsed_s: round3(dlr_elapsed_s),
            dlr_per_s: round3(per_s(stats.dlr_matched, dlr_elapsed_s)),
            dlr_latency_ms: Latency::of(&stats.dlr_latency),
            dlr_by_stat,
            lost: facts.lost,
            duplicates: stats.duplicates,
            dlr_unmatched: facts.unmatched,
            dlr_intermediate: stats.dlr_intermediate,
            dlr_invalid: stats.dlr_invalid,
            mo: stats.mo,
        }
    }

    /// The process exit status for this run: [`EXIT_CONNECTION`] when a
    /// session dropped, else [`EXIT_LOST`] when receipts were lost, else
    /// [`EXIT_OK`]. Submit errors (throttling, say) do not fail a run:
    /// they are what a load test measures.
    pub fn exit_code(&self) -> u8 {
        if self.disconnects > 0 {
            EXIT_CONNECTION
        } else if self.lost > 0 {
            EXIT_LOST
        } else {
            EXIT_OK
        }
    }

    /// One JSON object on one line.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
    }
}

/// A status as the summary names it: `ESME_RTHROTTLED`, or `0x00000400`.
pub fn status_name(s: CommandStatus) -> String {
    match s.name() {
        Some(n) => n.to_string(),
        None => format!("{:#010x}", s.0),
    }
}

fn round3(v: f64) -> f64 {
    (v * 1000.0).round() / 1000.0
}

impl fmt::Display for Latency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "p50 {:.3} ms, p90 {:.3} ms, p99 {:.3} ms, max {:.3} ms",
            self.p50, self.p90, self.p99, self.max
        )
    }
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let rate = if self.rate == 0 {
            "flat out".to_string()
        } else {
            format!("{}/s", self.rate)
        };
        writeln!(
            f,
            "binds {} ({}), window {}, rate {rate}",
            self.binds, self.bind_mode, self.window
        )?;
        writeln!(
            f,
            "submit_sm: {} messages, {} sent, {} ok, {} timeouts, {} failed",
            self.messages, self.sent, self.ok, self.timeouts, self.failed
        )?;
        if !self.errors.is_empty() {
            let list: Vec<String> = self
                .errors
                .iter()
                .map(|(k, v)| format!("{k} {v}"))
                .collect();
            writeln!(f, "errors: {}", list.join(", "))?;
        }
        writeln!(
            f,
            "throughput: {:.0} submit/s over {:.3} s",
            self.submit_per_s, self.elapsed_s
        )?;
        writeln!(f, "submit_sm_resp latency: {}", self.submit_latency_ms)?;
        if self.dlr_requested > 0 || self.dlr_received > 0 {
            writeln!(
                f,
                "receipts: {} requested, {} received, {} matched, {} lost, {} duplicates, {} unmatched",
                self.dlr_requested,
                self.dlr_received,
                self.dlr_matched,
                self.lost,
                self.duplicates,
                self.dlr_unmatched
            )?;
            writeln!(
                f,
                "receipt throughput: {:.0}/s over {:.3} s",
                self.dlr_per_s, self.dlr_elapsed_s
            )?;
            writeln!(f, "receipt latency: {}", self.dlr_latency_ms)?;
            if !self.dlr_by_stat.is_empty() {
                let list: Vec<String> = self
                    .dlr_by_stat
                    .iter()
                    .map(|(k, v)| format!("{k} {v}"))
                    .collect();
                writeln!(f, "receipt states: {}", list.join(", "))?;
            }
        }
        if self.mo > 0 {
            writeln!(f, "mo: {}", self.mo)?;
        }
        if self.disconnects > 0 {
            writeln!(f, "disconnects: {}", self.disconnects)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    fn facts(start: Instant) -> RunFacts {
        RunFacts {
            binds: 2,
            window: 64,
            bind_mode: "trx",
            rate: 0,
            dlr: true,
            start,
            end: start + Duration::from_secs(3),
            lost: 0,
            unmatched: 0,
            disconnects: 0,
        }
    }

    #[test]
    fn counts_rates_and_percentiles() {
        let start = Instant::now();
        let mut a = Stats::new();
        let mut b = Stats::new();
        for i in 0..100u64 {
            a.response(
                CommandStatus::ESME_ROK,
                Duration::from_micros(1000 + i),
                start + Duration::from_millis(500),
            );
        }
        b.response(
            CommandStatus::ESME_RTHROTTLED,
            Duration::from_millis(2),
            start + Duration::from_secs(1),
        );
        b.response(CommandStatus(0x0400), Duration::from_millis(2), start);
        b.receipt_state(MessageState::Delivered);
        b.receipt_state(MessageState::Undeliverable);
        b.matched(Duration::from_millis(10), start + Duration::from_secs(2));
        a.sent = 102;
        a.merge(&b);
        let s = Summary::build(&a, &facts(start));
        assert_eq!((s.sent, s.ok), (102, 100));
        assert_eq!(s.errors.get("ESME_RTHROTTLED"), Some(&1));
        assert_eq!(s.errors.get("0x00000400"), Some(&1));
        assert_eq!(s.elapsed_s, 1.0);
        assert_eq!(s.submit_per_s, 100.0);
        assert!((1.0..=1.1).contains(&s.submit_latency_ms.p50));
        assert!((2.0..2.01).contains(&s.submit_latency_ms.max));
        assert_eq!(s.dlr_requested, 100);
        assert_eq!(s.dlr_matched, 1);
        assert_eq!(s.dlr_elapsed_s, 2.0);
        assert_eq!(s.dlr_per_s, 0.5);
        assert!((10.0..10.01).contains(&s.dlr_latency_ms.p99));
        assert_eq!(s.dlr_by_stat.get("DELIVRD"), Some(&1));
        assert_eq!(s.dlr_by_stat.get("UNDELIV"), Some(&1));
    }

    #[test]
    fn exit_codes() {
        let start = Instant::now();
        let stats = Stats::new();
        let mut f = facts(start);
        assert_eq!(Summary::build(&stats, &f).exit_code(), EXIT_OK);
        f.lost = 3;
        let s = Summary::build(&stats, &f);
        assert_eq!(s.lost, 3);
        assert_eq!(s.exit_code(), EXIT_LOST);
        f.disconnects = 1;
        assert_eq!(Summary::build(&stats, &f).exit_code(), EXIT_CONNECTION);
        // submit errors alone do not fail the run
        let mut stats = Stats::new();
        stats.response(CommandStatus::ESME_RTHROTTLED, Duration::ZERO, start);
        assert_eq!(Summary::build(&stats, &facts(start)).exit_code(), EXIT_OK);
    }

    #[test]
    fn json_is_stable() {
        let start = Instant::now();
        let s = Summary::build(&Stats::new(), &facts(start));
        let v: serde_json::Value = serde_json::from_str(&s.to_json()).unwrap();
        for key in [
            "binds",
            "window",
            "sent",
            "ok",
            "errors",
            "timeouts",
            "elapsed_s",
            "submit_per_s",
            "submit_latency_ms",
            "dlr_requested",
            "dlr_received",
            "dlr_matched",
            "dlr_per_s",
            "dlr_latency_ms",
            "dlr_by_stat",
            "lost",
            "duplicates",
            "mo",
        ] {
            assert!(v.get(key).is_some(), "{key} missing");
        }
        for key in ["p50", "p90", "p99", "max"] {
            assert!(v["submit_latency_ms"].get(key).is_some());
            assert!(v["dlr_latency_ms"].get(key).is_some());
        }
        let back: Summary = serde_json::from_value(v).unwrap();
        assert_eq!(back, s);
        // the text form names the essentials
        assert!(s.to_string().contains("submit_sm:"));
        let mut stats = Stats::new();
        stats.response(CommandStatus::ESME_ROK, Duration::ZERO, start);
        let text = Summary::build(&stats, &facts(start)).to_string();
        assert!(text.contains("receipts: 1 requested"), "{text}");
    }
}
