//! `--intervals FILE`: the latency of each window of the run (10 s by
//! default, `--interval`), one CSV line per window, for soaks. The
//! summary's percentiles cover the whole run; these say *when* a tail
//! happened, to set beside what else was sampled then (RSS, an AOF
//! rewrite).
//!
//! Columns: `seconds` (end of the window, from the start of submitting),
//! `submits` (submit_sm_resp in the window), `submit_p50_ms`,
//! `submit_p99_ms`, `submit_max_ms`, `receipts` (receipts matched in the
//! window), `receipt_p50_ms`, `receipt_p99_ms`, `receipt_max_ms`. A
//! window without a sample has empty percentiles.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use hdrhistogram::Histogram;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::summary::{latency_histogram, record};

/// The CSV's first line.
pub const HEADER: &str = "seconds,submits,submit_p50_ms,submit_p99_ms,submit_max_ms,\
receipts,receipt_p50_ms,receipt_p99_ms,receipt_max_ms";

struct Window {
    out: BufWriter<File>,
    submit: Histogram<u64>,
    receipt: Histogram<u64>,
}

/// The current window, shared by every task that records a latency.
pub(crate) struct Intervals {
    start: Instant,
    window: Mutex<Window>,
}

impl Intervals {
    /// Create (truncate) `path` and write the header.
    pub fn create(path: &Path, start: Instant) -> io::Result<Arc<Self>> {
        let mut out = BufWriter::new(File::create(path)?);
        writeln!(out, "{HEADER}")?;
        out.flush()?;
        Ok(Arc::new(Intervals {
            start,
            window: Mutex::new(Window {
                out,
                submit: latency_histogram(),
                receipt: latency_histogram(),
            }),
        }))
    }

    fn lock(&self) -> MutexGuard<'_, Window> {
        // A panic while holding it leaves histograms, still usable.
        self.window.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn submit(&self, latency: Duration) {
        record(&mut self.lock().submit, latency);
    }

    pub fn receipt(&self, latency: Duration) {
        record(&mut self.lock().receipt, latency);
    }

    /// Write the window ending now and start the next.
    pub fn close_window(&self) -> io::Result<()> {
        let seconds = self.start.elapsed().as_secs_f64();
        let mut w = self.lock();
        let line = format!(
            "{seconds:.1},{},{}",
            columns(&w.submit),
            columns(&w.receipt)
        );
        w.submit.reset();
        w.receipt.reset();
        writeln!(w.out, "{line}")?;
        w.out.flush()
    }

    /// Close a window every `every` until aborted.
    pub fn spawn(self: &Arc<Self>, every: Duration) -> JoinHandle<()> {
        let this = self.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval_at(this.start + every, every);
            loop {
                tick.tick().await;
                if let Err(e) = this.close_window() {
                    tracing::warn!(error = %e, "cannot write --intervals; no more windows");
                    return;
                }
            }
        })
    }
}

/// `count,p50,p99,max` in milliseconds, or `0,,,` for an empty window.
fn columns(h: &Histogram<u64>) -> String {
    if h.is_empty() {
        return "0,,,".into();
    }
    let ms = |us: u64| us as f64 / 1000.0;
    format!(
        "{},{:.3},{:.3},{:.3}",
        h.len(),
        ms(h.value_at_quantile(0.5)),
        ms(h.value_at_quantile(0.99)),
        ms(h.max())
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn each_window_has_its_own_percentiles() {
        let path = std::env::temp_dir().join(format!("smpp-load-intervals-{}", std::process::id()));
        let i = Intervals::create(&path, Instant::now()).unwrap();
        for ms in 1..=100 {
            i.submit(Duration::from_millis(ms));
        }
        i.receipt(Duration::from_millis(7));
        i.close_window().unwrap();
        i.receipt(Duration::from_secs(2));
        i.close_window().unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        std::fs::remove_file(&path).unwrap();
        let lines: Vec<Vec<&str>> = text.lines().map(|l| l.split(',').collect()).collect();
        assert_eq!(lines[0].join(","), HEADER);
        assert_eq!(lines.len(), 3);
        // Within the histogram's 3 significant figures.
        let near = |cell: &str, want: f64| {
            let got: f64 = cell.parse().unwrap();
            assert!((got - want).abs() <= want / 500.0, "{cell} vs {want}");
        };
        // 100 submits of 1..=100 ms, one receipt of 7 ms.
        assert_eq!((lines[1][1], lines[1][5]), ("100", "1"));
        near(lines[1][2], 50.0);
        near(lines[1][3], 99.0);
        near(lines[1][4], 100.0);
        for c in &lines[1][6..] {
            near(c, 7.0);
        }
        // The second window: no submit, one receipt of 2 s.
        assert_eq!(&lines[2][1..5], ["0", "", "", ""]);
        assert_eq!(lines[2][5], "1");
        for c in &lines[2][6..] {
            near(c, 2000.0);
        }
    }
}
