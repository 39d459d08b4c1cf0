//! `--rate`: one submit schedule shared by every bind's sender.
//!
//! The schedule says how many submit_sm may have gone out by now
//! (`elapsed × rate`); a sender takes a batch of what is due in one atomic
//! step and sleeps until the next one is due when nothing is. Pacing in
//! batches keeps it accurate from 1/s to hundreds of thousands per second
//! with millisecond timers. A schedule that falls more than a second
//! behind (the window, not the rate, is the limit) forgets the excess
//! rather than bursting to catch up.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::time::Instant;

/// How far behind the schedule may fall before the backlog is dropped.
const MAX_LAG: Duration = Duration::from_secs(1);

/// A shared submit schedule; `rate == 0` means no limit.
#[derive(Debug)]
pub struct Pacer {
    rate: u64,
    start: Instant,
    issued: AtomicU64,
}

impl Pacer {
    pub fn new(rate: u64, start: Instant) -> Self {
        Pacer {
            rate,
            start,
            issued: AtomicU64::new(0),
        }
    }

    /// Submits due by `now`, counted from the start.
    fn due(&self, now: Instant) -> u64 {
        let elapsed = now.saturating_duration_since(self.start);
        let due = elapsed.as_nanos() * u128::from(self.rate) / 1_000_000_000;
        u64::try_from(due).unwrap_or(u64::MAX)
    }

    /// When `n` submits are due.
    fn due_at(&self, n: u64) -> Instant {
        // Rounded up, so that `due` at that instant counts submit `n`.
        let rate = u128::from(self.rate.max(1));
        let nanos = (u128::from(n) * 1_000_000_000).div_ceil(rate);
        let nanos = u64::try_from(nanos).unwrap_or(u64::MAX);
        self.start + Duration::from_nanos(nanos)
    }

    /// Take up to `max` submits that are due now without waiting; 0 when
    /// none is.
    pub fn try_take(&self, max: u64, now: Instant) -> u64 {
        if self.rate == 0 {
            return max;
        }
        let due = self.due(now);
        let lag = self.rate.saturating_mul(MAX_LAG.as_secs()).max(1);
        let mut cur = self.issued.load(Ordering::Relaxed);
        loop {
            if due <= cur {
                return 0;
            }
            let base = cur.max(due.saturating_sub(lag));
            let n = (due - base).min(max);
            match self.issued.compare_exchange_weak(
                cur,
                base + n,
                Ordering::Relaxed,
                Ordering::Relaxed,
            ) {
                Ok(_) => return n,
                Err(actual) => cur = actual,
            }
        }
    }

    /// Take between 1 and `max` submits, waiting until at least one is due.
    pub async fn take(&self, max: u64) -> u64 {
        if self.rate == 0 || max == 0 {
            return max;
        }
        loop {
            let n = self.try_take(max, Instant::now());
            if n > 0 {
                return n;
            }
            let next = self.issued.load(Ordering::Relaxed);
            tokio::time::sleep_until(self.due_at(next + 1)).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unlimited() {
        let p = Pacer::new(0, Instant::now());
        assert_eq!(p.try_take(64, Instant::now()), 64);
    }

    #[test]
    fn follows_the_schedule() {
        let start = Instant::now();
        let p = Pacer::new(1000, start);
        assert_eq!(p.try_take(64, start), 0);
        // 10 ms at 1000/s: 10 due
        assert_eq!(p.try_take(64, start + Duration::from_millis(10)), 10);
        assert_eq!(p.try_take(64, start + Duration::from_millis(10)), 0);
        // 100 ms: 90 more due, taken in batches of at most 64
        let t = start + Duration::from_millis(100);
        assert_eq!(p.try_take(64, t), 64);
        assert_eq!(p.try_take(64, t), 26);
        assert_eq!(p.try_take(64, t), 0);
    }

    #[test]
    fn high_rates_are_exact() {
        let start = Instant::now();
        let p = Pacer::new(200_000, start);
        let mut total = 0;
        for ms in 1..=1000u64 {
            let t = start + Duration::from_millis(ms);
            loop {
                let n = p.try_take(256, t);
                if n == 0 {
                    break;
                }
                total += n;
            }
        }
        assert_eq!(total, 200_000);
    }

    #[test]
    fn a_long_stall_drops_the_backlog() {
        let start = Instant::now();
        let p = Pacer::new(100, start);
        // 10 s late: only one second's worth (100) may go at once
        let t = start + Duration::from_secs(10);
        let mut total = 0;
        loop {
            let n = p.try_take(1000, t);
            if n == 0 {
                break;
            }
            total += n;
        }
        assert_eq!(total, 100);
    }

    #[tokio::test(start_paused = true)]
    async fn take_waits_for_the_next_due() {
        let start = Instant::now();
        let p = Pacer::new(10, start);
        let n = p.take(5).await;
        assert_eq!(n, 1);
        assert!(Instant::now() >= start + Duration::from_millis(100));
    }
}
