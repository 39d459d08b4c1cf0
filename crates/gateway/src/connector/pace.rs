//! `submit_throughput`: submits per second for a connector, shared by its
//! sessions, slowed for a while when the SMSC answers ESME_RTHROTTLED.

use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

/// A token bucket with a rate that halves on throttling and recovers.
pub struct Pace {
    configured: f64,
    state: Mutex<State>,
}

struct State {
    rate: f64,
    tokens: f64,
    last: Instant,
    slowed_until: Option<Instant>,
    /// Submits counted in the current second, and the last second's count.
    window_start: Instant,
    window_count: u32,
    observed: f64,
}

impl Pace {
    /// `per_second` 0 means unlimited (until the SMSC throttles).
    pub fn new(per_second: u32) -> Pace {
        let configured = if per_second == 0 {
            f64::INFINITY
        } else {
            f64::from(per_second)
        };
        Pace {
            configured,
            state: Mutex::new(State {
                rate: configured,
                tokens: 1.0,
                last: Instant::now(),
                slowed_until: None,
                window_start: Instant::now(),
                window_count: 0,
                observed: 0.0,
            }),
        }
    }

    /// Wait until one more submit may go.
    pub async fn wait(&self) {
        loop {
            let delay = {
                let Ok(mut s) = self.state.lock() else { return };
                let now = Instant::now();
                if s.slowed_until.is_some_and(|t| now >= t) {
                    s.slowed_until = None;
                    s.rate = self.configured;
                }
                let in_window = now.duration_since(s.window_start);
                if in_window >= Duration::from_secs(1) {
                    s.observed = f64::from(s.window_count) / in_window.as_secs_f64();
                    s.window_start = now;
                    s.window_count = 0;
                }
                if s.rate.is_infinite() {
                    s.window_count += 1;
                    return;
                }
                let elapsed = now.duration_since(s.last).as_secs_f64();
                s.last = now;
                // A burst of at most one second's worth.
                s.tokens = (s.tokens + elapsed * s.rate).min(s.rate.max(1.0));
                if s.tokens >= 1.0 {
                    s.tokens -= 1.0;
                    s.window_count += 1;
                    return;
                }
                Duration::from_secs_f64((1.0 - s.tokens) / s.rate)
            };
            tokio::time::sleep(delay).await;
        }
    }

    /// The SMSC said ESME_RTHROTTLED: halve the pace (from the rate
    /// observed over the last second when unlimited) for ten seconds.
    pub fn throttled(&self) {
        if let Ok(mut s) = self.state.lock() {
            let base = if s.rate.is_infinite() {
                s.observed.max(10.0)
            } else {
                s.rate
            };
            s.rate = (base / 2.0).max(1.0);
            s.tokens = s.tokens.min(1.0);
            s.slowed_until = Some(Instant::now() + Duration::from_secs(10));
        }
    }

    /// The current pace (for logs and metrics); infinite when unlimited.
    pub fn rate(&self) -> f64 {
        self.state.lock().map(|s| s.rate).unwrap_or(self.configured)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn paces_and_slows_on_throttling() {
        let p = Pace::new(100);
        let t0 = Instant::now();
        for _ in 0..201 {
            p.wait().await;
        }
        let took = t0.elapsed();
        assert!(
            took >= Duration::from_millis(1900) && took <= Duration::from_millis(2100),
            "{took:?}"
        );
        p.throttled();
        assert_eq!(p.rate(), 50.0);
        tokio::time::sleep(Duration::from_secs(11)).await;
        p.wait().await;
        assert_eq!(p.rate(), 100.0);
        let unlimited = Pace::new(0);
        unlimited.wait().await;
        assert!(unlimited.rate().is_infinite());
    }
}
