//! Failed binds per client, and the cool-down that follows too many.
//!
//! A client is an IPv4 address, or an IPv6 /64 (one host usually holds a
//! whole /64, so counting single IPv6 addresses would let it rotate past
//! the limit). Memory is bounded: at most [`MAX_CLIENTS`] clients are
//! tracked, and fewer when the limit is high, so that no more than
//! [`FAILURE_BUDGET`] failure times are kept in all; when full, clients
//! with nothing left to remember go first, then the one whose last failure
//! is oldest. Time is always passed in, never read, so tests need no sleep.

use std::collections::{HashMap, VecDeque};
use std::net::{IpAddr, Ipv6Addr};
use std::time::{Duration, Instant};

/// Failures older than this are forgotten.
pub const WINDOW: Duration = Duration::from_secs(60);

/// The most clients tracked at once.
pub const MAX_CLIENTS: usize = 4096;

/// The most failure times kept over all clients (each client keeps up to
/// the limit's worth).
pub const FAILURE_BUDGET: usize = 65_536;

/// The longest cool-down honoured, so that `Instant + cool-down` cannot
/// overflow.
const MAX_COOLDOWN: Duration = Duration::from_secs(365 * 24 * 3600);

/// Whom failures are counted against: an IPv4 address or an IPv6 /64.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct Client(IpAddr);

impl Client {
    fn of(ip: IpAddr) -> Client {
        Client(client_address(ip))
    }
}

/// The address that stands for one client: `ip` itself for IPv4 (an
/// IPv4-mapped IPv6 address as the IPv4 one), its /64 for IPv6. The
/// front ends count connections per client with it too.
pub fn client_address(ip: IpAddr) -> IpAddr {
    match ip.to_canonical() {
        IpAddr::V4(v4) => IpAddr::V4(v4),
        IpAddr::V6(v6) => {
            let prefix = u128::from(v6) & !(u128::from(u64::MAX));
            IpAddr::V6(Ipv6Addr::from(prefix))
        }
    }
}

#[derive(Debug)]
struct Entry {
    /// Times of the failures within [`WINDOW`], oldest first; never more
    /// than the limit.
    failures: VecDeque<Instant>,
    /// Binds are refused until then.
    cooldown_until: Option<Instant>,
    /// The last failure, for eviction.
    last: Instant,
}

impl Entry {
    /// Nothing worth keeping: no cool-down running and no recent failure.
    fn idle(&self, now: Instant) -> bool {
        self.cooldown_until.is_none_or(|until| now >= until)
            && self
                .failures
                .back()
                .is_none_or(|&t| now.saturating_duration_since(t) >= WINDOW)
    }
}

/// Counts failed binds per client and says when one is cooling down.
#[derive(Debug, Default)]
pub struct BindCooldown {
    clients: HashMap<Client, Entry>,
}

impl BindCooldown {
    /// Whether binds from `ip` are refused at `now`. A cool-down that has
    /// ended is forgotten with its failures: the client starts afresh.
    pub fn cooling_down(&mut self, ip: IpAddr, now: Instant) -> bool {
        let key = Client::of(ip);
        let Some(entry) = self.clients.get(&key) else {
            return false;
        };
        match entry.cooldown_until {
            Some(until) if now < until => true,
            Some(_) => {
                self.clients.remove(&key);
                false
            }
            None => false,
        }
    }

    /// Count a failed bind from `ip`. With `limit` failures within
    /// [`WINDOW`], a cool-down of `cooldown` starts. A limit of 0 turns
    /// the cooldown off.
    pub fn record_failure(&mut self, ip: IpAddr, now: Instant, limit: u32, cooldown: Duration) {
        if limit == 0 {
            return;
        }
        let limit = usize::try_from(limit).unwrap_or(usize::MAX);
        let key = Client::of(ip);
        if !self.clients.contains_key(&key) {
            self.make_room(now, capacity(limit));
        }
        let entry = self.clients.entry(key).or_insert_with(|| Entry {
            failures: VecDeque::new(),
            cooldown_until: None,
            last: now,
        });
        entry.last = entry.last.max(now);
        if entry.cooldown_until.is_some_and(|until| now < until) {
            // A check that began before the cool-down: it changes nothing.
            return;
        }
        entry.cooldown_until = None;
        while entry
            .failures
            .front()
            .is_some_and(|&t| now.saturating_duration_since(t) >= WINDOW)
        {
            entry.failures.pop_front();
        }
        entry.failures.push_back(now);
        if entry.failures.len() >= limit {
            entry.failures.clear();
            let cooldown = cooldown.min(MAX_COOLDOWN);
            entry.cooldown_until = Some(now.checked_add(cooldown).unwrap_or(now));
        }
    }

    /// How many clients are tracked.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.clients.len()
    }

    /// Make room for one more client: drop idle ones, then the oldest.
    fn make_room(&mut self, now: Instant, capacity: usize) {
        if self.clients.len() < capacity {
            return;
        }
        self.clients.retain(|_, e| !e.idle(now));
        while self.clients.len() >= capacity {
            let oldest = self
                .clients
                .iter()
                .min_by_key(|(_, e)| e.last)
                .map(|(k, _)| *k);
            match oldest {
                Some(k) => {
                    self.clients.remove(&k);
                }
                None => break,
            }
        }
    }
}

/// How many clients may be tracked with this limit.
fn capacity(limit: usize) -> usize {
    (FAILURE_BUDGET / limit.max(1)).clamp(64, MAX_CLIENTS)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    fn v4(a: u8, b: u8, c: u8, d: u8) -> IpAddr {
        IpAddr::V4(Ipv4Addr::new(a, b, c, d))
    }

    #[test]
    fn cools_down_at_the_limit_and_ends_after_it() {
        let mut l = BindCooldown::default();
        let t0 = Instant::now();
        let cd = Duration::from_secs(30);
        let ip = v4(192, 0, 2, 1);
        l.record_failure(ip, t0, 3, cd);
        l.record_failure(ip, t0, 3, cd);
        assert!(!l.cooling_down(ip, t0));
        l.record_failure(ip, t0, 3, cd);
        assert!(l.cooling_down(ip, t0));
        assert!(l.cooling_down(ip, t0 + Duration::from_secs(29)));
        assert!(!l.cooling_down(v4(192, 0, 2, 2), t0));
        assert!(!l.cooling_down(ip, t0 + cd));
        // Afresh after the cool-down.
        l.record_failure(ip, t0 + cd, 3, cd);
        assert!(!l.cooling_down(ip, t0 + cd));
    }

    #[test]
    fn failures_older_than_the_window_do_not_count() {
        let mut l = BindCooldown::default();
        let t0 = Instant::now();
        let cd = Duration::from_secs(30);
        let ip = v4(192, 0, 2, 1);
        l.record_failure(ip, t0, 3, cd);
        l.record_failure(ip, t0 + Duration::from_secs(30), 3, cd);
        l.record_failure(ip, t0 + Duration::from_secs(60), 3, cd);
        assert!(!l.cooling_down(ip, t0 + Duration::from_secs(60)));
        l.record_failure(ip, t0 + Duration::from_secs(61), 3, cd);
        assert!(l.cooling_down(ip, t0 + Duration::from_secs(61)));
    }

    #[test]
    fn limit_zero_is_off() {
        let mut l = BindCooldown::default();
        let t0 = Instant::now();
        for _ in 0..100 {
            l.record_failure(v4(192, 0, 2, 1), t0, 0, Duration::from_secs(60));
        }
        assert!(!l.cooling_down(v4(192, 0, 2, 1), t0));
        assert_eq!(l.len(), 0);
    }

    #[test]
    fn ipv6_counts_per_slash_64_and_mapped_ipv4_as_ipv4() {
        let mut l = BindCooldown::default();
        let t0 = Instant::now();
        let cd = Duration::from_secs(60);
        let a: IpAddr = "2001:db8:1:2::1".parse().expect("ip");
        let b: IpAddr = "2001:db8:1:2:ffff::9".parse().expect("ip");
        let other: IpAddr = "2001:db8:1:3::1".parse().expect("ip");
        l.record_failure(a, t0, 2, cd);
        l.record_failure(b, t0, 2, cd);
        assert!(l.cooling_down(a, t0));
        assert!(!l.cooling_down(other, t0));

        let mapped: IpAddr = "::ffff:192.0.2.7".parse().expect("ip");
        l.record_failure(mapped, t0, 2, cd);
        l.record_failure(v4(192, 0, 2, 7), t0, 2, cd);
        assert!(l.cooling_down(v4(192, 0, 2, 7), t0));
    }

    #[test]
    fn memory_is_bounded_and_the_oldest_go_first() {
        let mut l = BindCooldown::default();
        let t0 = Instant::now();
        let cd = Duration::from_secs(60);
        // The first client cools down; then many others fail once each,
        // all within the window so none is idle.
        let first = v4(10, 0, 0, 1);
        l.record_failure(first, t0, 1, cd);
        assert!(l.cooling_down(first, t0));
        for i in 0..(MAX_CLIENTS as u32 + 100) {
            let ip = IpAddr::V4(Ipv4Addr::from(0x0b00_0000 + i));
            l.record_failure(ip, t0 + Duration::from_millis(1 + u64::from(i)), 10, cd);
            assert!(l.len() <= MAX_CLIENTS);
        }
        assert_eq!(l.len(), MAX_CLIENTS);
        // The oldest (the first) was evicted.
        assert!(!l.cooling_down(first, t0 + Duration::from_secs(1)));
    }

    #[test]
    fn idle_clients_are_dropped_before_active_ones() {
        let mut l = BindCooldown::default();
        let t0 = Instant::now();
        let cd = Duration::from_secs(600);
        let long = v4(10, 0, 0, 1);
        l.record_failure(long, t0, 1, cd);
        for i in 0..(MAX_CLIENTS as u32 - 1) {
            let ip = IpAddr::V4(Ipv4Addr::from(0x0b00_0000 + i));
            l.record_failure(ip, t0, 10, cd);
        }
        assert_eq!(l.len(), MAX_CLIENTS);
        // Later than the window: everyone but the cooling-down client is idle.
        let later = t0 + Duration::from_secs(120);
        l.record_failure(v4(12, 0, 0, 1), later, 10, cd);
        assert_eq!(l.len(), 2);
        assert!(l.cooling_down(long, later));
    }

    #[test]
    fn a_high_limit_tracks_fewer_clients() {
        assert_eq!(capacity(10), MAX_CLIENTS);
        assert_eq!(capacity(1024), 64);
        assert_eq!(capacity(usize::MAX), 64);
    }
}
