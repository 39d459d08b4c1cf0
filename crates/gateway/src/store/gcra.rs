//! The throughput limit: a GCRA (generic cell rate algorithm) over message
//! parts, the same arithmetic in every backend (the Redis backend runs it
//! in Lua so several tern processes share one limit).
//!
//! State is one number per user: the theoretical arrival time (TAT) in
//! microseconds. With `rate` parts per second and a `burst`, a request of
//! `n` parts at `now` is allowed when `max(TAT, now) + n·T − burst·T ≤ now`
//! (T = 1/rate); TAT then advances by `n·T`. A refused request changes
//! nothing.

/// A user's limit: parts per second and how many may come at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit {
    pub rate: u32,
    pub burst: u32,
}

impl Limit {
    /// Microseconds per part.
    pub fn interval_us(self) -> i64 {
        1_000_000 / i64::from(self.rate.max(1))
    }
}

/// Decide a request of `parts` at `now_us` given the stored `tat_us`
/// (None when the user has none yet). Returns the new TAT when allowed.
pub fn check(limit: Limit, tat_us: Option<i64>, now_us: i64, parts: u32) -> Option<i64> {
    let t = limit.interval_us();
    let tat = tat_us.unwrap_or(now_us).max(now_us);
    let new_tat = tat.saturating_add(t.saturating_mul(i64::from(parts)));
    let allow_at = new_tat.saturating_sub(t.saturating_mul(i64::from(limit.burst.max(1))));
    (allow_at <= now_us).then_some(new_tat)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_then_the_rate() {
        let l = Limit {
            rate: 100,
            burst: 10,
        };
        let mut tat = None;
        let now = 1_000_000_000;
        for _ in 0..10 {
            tat = Some(check(l, tat, now, 1).expect("within burst"));
        }
        assert_eq!(check(l, tat, now, 1), None);
        // 10 ms later one more fits.
        assert!(check(l, tat, now + 10_000, 1).is_some());
        // A 3-part message needs room for 3.
        assert_eq!(check(l, tat, now + 20_000, 3), None);
        assert!(check(l, tat, now + 30_000, 3).is_some());
    }

    #[test]
    fn long_run_rate_is_the_limit() {
        let l = Limit { rate: 50, burst: 5 };
        let mut tat = None;
        let mut allowed = 0;
        // Offer 1000 parts/s for 10 s, one every millisecond.
        for ms in 0..10_000i64 {
            if let Some(t) = check(l, tat, ms * 1000, 1) {
                tat = Some(t);
                allowed += 1;
            }
        }
        assert!((500..=506).contains(&allowed), "{allowed}");
    }
}
