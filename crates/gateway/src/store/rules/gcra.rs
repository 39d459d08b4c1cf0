//! The throughput limit: a GCRA (generic cell rate algorithm) over message
//! parts, the same arithmetic in every backend: the memory backend calls
//! [`check`]; the redis backend runs it in its submit script
//! (`store/redis/lua/submit.lua`, marked `-- rules::gcra::check`) so
//! several tern processes share one limit.
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

    proptest::proptest! {
        /// Over any window of `w` µs, no more than `burst + w / T` parts
        /// are allowed (T = [`Limit::interval_us`], 1/rate rounded down),
        /// whatever the requests.
        #[test]
        fn never_more_than_burst_plus_rate_over_any_window(
            rate in 1u32..2_000,
            burst in 0u32..50,
            requests in proptest::collection::vec((0i64..50_000, 1u32..5), 1..200),
        ) {
            let l = Limit { rate, burst };
            let mut tat = None;
            let mut now = 1_000_000_000i64;
            let mut allowed = Vec::new();
            for (gap, parts) in requests {
                now += gap;
                if let Some(t) = check(l, tat, now, parts) {
                    tat = Some(t);
                    allowed.push((now, parts));
                }
            }
            let t = l.interval_us();
            let burst = i64::from(burst.max(1));
            for i in 0..allowed.len() {
                let mut sum = 0i64;
                for &(at, parts) in &allowed[i..] {
                    sum += i64::from(parts);
                    let window = at - allowed[i].0;
                    proptest::prop_assert!(
                        sum <= burst + window / t,
                        "{sum} parts in {window} µs (burst {burst}, T {t})"
                    );
                }
            }
        }

        /// An allowed request moves TAT on by its parts from `max(TAT, now)`.
        #[test]
        fn an_allowed_request_advances_tat_by_its_parts(
            rate in 1u32..2_000, burst in 1u32..50, parts in 1u32..5, tat in 0i64..10_000_000,
        ) {
            let l = Limit { rate, burst };
            let now = 5_000_000;
            if let Some(new) = check(l, Some(tat), now, parts) {
                proptest::prop_assert_eq!(new, tat.max(now) + l.interval_us() * i64::from(parts));
            }
        }
    }
}
