//! TCP connections open now per client address, on each front end, and
//! the `max_connections_per_ip` check the accept loops make before they
//! read a byte.
//!
//! A client is an IPv4 address or an IPv6 /64, as for the bind
//! cool-down ([`crate::accounts::client_address`]). The SMPP front end's
//! two ports (plain and TLS) share one count; the HTTP API has its own.
//! A connection is counted from its accept until its [`Open`] is
//! dropped (its task ends), bound or not. Memory is one map entry per
//! client with a connection open: an entry goes with its last
//! connection, so the map is bounded by the open sockets themselves.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use crate::accounts::client_address;

/// The open connections of each front end.
#[derive(Debug, Default)]
pub struct Connections {
    /// `[smpp-server] port` and `tls_port` together.
    pub smpp: PerClient,
    /// `[http-api] port`.
    pub http: PerClient,
}

/// Open connections per client address on one front end.
#[derive(Debug, Default, Clone)]
pub struct PerClient(Arc<Mutex<HashMap<IpAddr, u32>>>);

impl PerClient {
    /// Count a connection from `peer`, unless the client has `limit`
    /// open already (a `limit` of 0: no limit). The connection counts
    /// until the returned [`Open`] is dropped.
    pub fn open(&self, peer: IpAddr, limit: u32) -> Option<Open> {
        let client = client_address(peer);
        let mut open = self.lock();
        // limit ≥ 1 when it refuses: a refused client has an entry already.
        let n = open.entry(client).or_insert(0);
        if limit != 0 && *n >= limit {
            return None;
        }
        *n += 1;
        Some(Open {
            counts: self.clone(),
            client,
        })
    }

    /// Connections open now from `peer`'s client address.
    pub fn of(&self, peer: IpAddr) -> u32 {
        self.lock().get(&client_address(peer)).copied().unwrap_or(0)
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<IpAddr, u32>> {
        // A panic while counting leaves a count that is still usable.
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// One counted connection, until dropped.
#[derive(Debug)]
pub struct Open {
    counts: PerClient,
    client: IpAddr,
}

impl Drop for Open {
    fn drop(&mut self) {
        let mut open = self.counts.lock();
        if let Some(n) = open.get_mut(&self.client) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                open.remove(&self.client);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    #[test]
    fn the_limit_counts_open_connections_per_client() {
        let c = PerClient::default();
        let a = c.open(ip("127.0.0.2"), 2);
        let b = c.open(ip("127.0.0.2"), 2);
        assert!(a.is_some() && b.is_some());
        assert!(c.open(ip("127.0.0.2"), 2).is_none());
        // Another address has its own count.
        let other = c.open(ip("127.0.0.3"), 2);
        assert!(other.is_some());
        drop(a);
        assert_eq!(c.of(ip("127.0.0.2")), 1);
        assert!(c.open(ip("127.0.0.2"), 2).is_some());
    }

    #[test]
    fn ipv6_counts_per_64_and_mapped_ipv4_as_ipv4() {
        let c = PerClient::default();
        let _a = c.open(ip("2001:db8::1"), 1);
        assert!(c.open(ip("2001:db8::2"), 1).is_none());
        assert!(c.open(ip("2001:db8:0:1::1"), 1).is_some());
        let _v4 = c.open(ip("192.0.2.1"), 1);
        assert!(c.open(ip("::ffff:192.0.2.1"), 1).is_none());
    }

    #[test]
    fn zero_is_no_limit_and_closed_clients_leave_no_entry() {
        let c = PerClient::default();
        let held: Vec<_> = (0..10_000).map(|_| c.open(ip("127.0.0.1"), 0)).collect();
        assert!(held.iter().all(Option::is_some));
        assert_eq!(c.of(ip("127.0.0.1")), 10_000);
        drop(held);
        assert!(c.lock().is_empty());
        // A connection that comes and goes leaves nothing either.
        assert!(c.open(ip("127.0.0.1"), 1).is_some());
        assert!(c.lock().is_empty());
    }
}
