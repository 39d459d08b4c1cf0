//! Matching delivery receipts to the submits they report on.
//!
//! The [`Tracker`] is shared by every bind: a submit_sm_resp on one bind
//! registers its message_id, and the receipt may come back on any bind,
//! before or after that registration (an SMSC can send the receipt before
//! we have read its submit_sm_resp). Whichever comes first waits in the map
//! for the other. A receipt for an id already matched is a duplicate.
//!
//! Ids are compared trimmed and ASCII-case-insensitively, and kept as a
//! 64-bit fingerprint rather than as text: no allocation per message, and
//! a run of 100 million messages has a chance of about 1 in 3,000 of one
//! false match. The map is sharded so binds on different threads rarely
//! wait for one another.
//!
//! Memory stays bounded on long runs: matched ids are remembered (to tell
//! duplicates) in two generations per shard, the older dropped when the
//! newer fills, so a duplicate is recognised if it arrives within at least
//! the last [`REMEMBERED`] matches; one that comes later counts as
//! unmatched.

use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasherDefault, DefaultHasher, Hasher};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::time::Instant;

const SHARDS: usize = 16;
/// Matched ids a shard keeps per generation.
#[cfg(not(test))]
const GENERATION: usize = 256 * 1024;
#[cfg(test)]
const GENERATION: usize = 1024;
/// Matched ids remembered at least, over all shards.
pub const REMEMBERED: usize = SHARDS * GENERATION;

/// What the map holds for an id seen once.
#[derive(Debug, Clone, Copy)]
enum Entry {
    /// Accepted by the SMSC; its receipt has not arrived.
    Awaiting { submitted_at: Instant },
    /// A receipt whose submit_sm_resp has not been seen (yet).
    Held { received_at: Instant },
}

/// What happened to a submit_sm_resp's message_id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Submitted {
    /// Now waiting for its receipt.
    Awaiting,
    /// Its receipt had already arrived (at `received_at`).
    Matched { received_at: Instant },
}

/// What happened to a receipt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Received {
    /// It matched a submit made at `submitted_at`.
    Matched { submitted_at: Instant },
    /// No submit with its id yet: held until one comes.
    Held,
    /// Its id already had a receipt.
    Duplicate,
}

/// The fingerprints are already uniformly distributed: hash them no more.
#[derive(Default)]
struct Identity(u64);

impl Hasher for Identity {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }

    fn write_u64(&mut self, v: u64) {
        self.0 = v;
    }
}

type Fast = BuildHasherDefault<Identity>;

#[derive(Default)]
struct Shard {
    live: HashMap<u64, Entry, Fast>,
    /// Ids whose receipt matched, to tell duplicates: this generation...
    done: HashSet<u64, Fast>,
    /// ...and the one before.
    done_before: HashSet<u64, Fast>,
}

impl Shard {
    fn is_done(&self, key: u64) -> bool {
        self.done.contains(&key) || self.done_before.contains(&key)
    }

    fn set_done(&mut self, key: u64) {
        if self.done.len() >= GENERATION {
            self.done_before = std::mem::take(&mut self.done);
        }
        self.done.insert(key);
    }

    fn forget_done(&mut self, key: u64) {
        self.done.remove(&key);
        self.done_before.remove(&key);
    }
}

/// The receipt-matching map shared by all binds.
pub struct Tracker {
    shards: Vec<Mutex<Shard>>,
    awaiting: AtomicU64,
    held: AtomicU64,
}

impl Default for Tracker {
    fn default() -> Self {
        Self::new()
    }
}

impl Tracker {
    pub fn new() -> Self {
        Tracker {
            shards: (0..SHARDS).map(|_| Mutex::new(Shard::default())).collect(),
            awaiting: AtomicU64::new(0),
            held: AtomicU64::new(0),
        }
    }

    /// Accepted submits still waiting for their receipt.
    pub fn awaiting(&self) -> u64 {
        self.awaiting.load(Ordering::Acquire)
    }

    /// Receipts held that matched no submit (yet).
    pub fn held(&self) -> u64 {
        self.held.load(Ordering::Acquire)
    }

    fn shard(&self, key: u64) -> std::sync::MutexGuard<'_, Shard> {
        // Middle bits pick the shard: the hash map uses the low ones for
        // the bucket and the top ones for its control bytes.
        let i = (key >> 32) as usize % self.shards.len();
        match self.shards[i].lock() {
            Ok(g) => g,
            // A panic elsewhere cannot leave a shard half-updated in a way
            // that matters to counting: keep going.
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    /// A submit_sm_resp accepted `id` for a submit made at `submitted_at`.
    pub fn submitted(&self, id: &[u8], submitted_at: Instant) -> Submitted {
        let key = fingerprint(id);
        let mut shard = self.shard(key);
        match shard.live.get(&key).copied() {
            Some(Entry::Held { received_at }) => {
                shard.live.remove(&key);
                shard.set_done(key);
                self.held.fetch_sub(1, Ordering::AcqRel);
                Submitted::Matched { received_at }
            }
            // The SMSC gave the same id twice: one receipt is owed.
            Some(Entry::Awaiting { .. }) => Submitted::Awaiting,
            None => {
                shard.forget_done(key);
                shard.live.insert(key, Entry::Awaiting { submitted_at });
                self.awaiting.fetch_add(1, Ordering::AcqRel);
                Submitted::Awaiting
            }
        }
    }

    /// A receipt for `id` arrived at `received_at`.
    pub fn received(&self, id: &[u8], received_at: Instant) -> Received {
        let key = fingerprint(id);
        let mut shard = self.shard(key);
        match shard.live.get(&key).copied() {
            Some(Entry::Awaiting { submitted_at }) => {
                shard.live.remove(&key);
                shard.set_done(key);
                self.awaiting.fetch_sub(1, Ordering::AcqRel);
                Received::Matched { submitted_at }
            }
            Some(Entry::Held { .. }) => Received::Duplicate,
            None if shard.is_done(key) => Received::Duplicate,
            None => {
                shard.live.insert(key, Entry::Held { received_at });
                self.held.fetch_add(1, Ordering::AcqRel);
                Received::Held
            }
        }
    }
}

/// The id's fingerprint: SipHash (fixed keys) of the id trimmed of spaces
/// and NULs, ASCII-lowercased.
pub fn fingerprint(id: &[u8]) -> u64 {
    let id = id.trim_ascii();
    let id = match id.iter().rposition(|&b| b != 0) {
        Some(end) => &id[..=end],
        None => &[],
    };
    let mut h = DefaultHasher::new();
    let mut buf = [0u8; 64];
    for chunk in id.chunks(buf.len()) {
        let out = &mut buf[..chunk.len()];
        for (o, &b) in out.iter_mut().zip(chunk) {
            *o = b.to_ascii_lowercase();
        }
        h.write(out);
    }
    h.write_usize(id.len());
    h.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn receipt_after_submit_sm_resp() {
        let t = Tracker::new();
        let t0 = Instant::now();
        assert_eq!(t.submitted(b"id-1", t0), Submitted::Awaiting);
        assert_eq!(t.awaiting(), 1);
        let t1 = t0 + Duration::from_millis(5);
        assert_eq!(
            t.received(b"id-1", t1),
            Received::Matched { submitted_at: t0 }
        );
        assert_eq!((t.awaiting(), t.held()), (0, 0));
    }

    #[test]
    fn receipt_before_submit_sm_resp() {
        let t = Tracker::new();
        let t0 = Instant::now();
        let t1 = t0 + Duration::from_millis(1);
        assert_eq!(t.received(b"abc", t1), Received::Held);
        assert_eq!(t.held(), 1);
        assert_eq!(
            t.submitted(b"abc", t0),
            Submitted::Matched { received_at: t1 }
        );
        assert_eq!((t.awaiting(), t.held()), (0, 0));
        // and a second receipt for it is a duplicate
        assert_eq!(t.received(b"abc", t1), Received::Duplicate);
    }

    #[test]
    fn duplicates() {
        let t = Tracker::new();
        let t0 = Instant::now();
        t.submitted(b"7", t0);
        assert!(matches!(t.received(b"7", t0), Received::Matched { .. }));
        assert_eq!(t.received(b"7", t0), Received::Duplicate);
        // two receipts before the submit_sm_resp
        assert_eq!(t.received(b"8", t0), Received::Held);
        assert_eq!(t.received(b"8", t0), Received::Duplicate);
        assert!(matches!(t.submitted(b"8", t0), Submitted::Matched { .. }));
        assert_eq!((t.awaiting(), t.held()), (0, 0));
    }

    #[test]
    fn unmatched_and_lost() {
        let t = Tracker::new();
        let t0 = Instant::now();
        t.submitted(b"a", t0);
        t.submitted(b"b", t0);
        t.received(b"b", t0);
        t.received(b"stale-from-an-earlier-run", t0);
        assert_eq!(t.awaiting(), 1);
        assert_eq!(t.held(), 1);
    }

    #[test]
    fn ids_are_normalised() {
        assert_eq!(fingerprint(b"1A2B"), fingerprint(b"1a2b"));
        assert_eq!(fingerprint(b" 1a2b\0"), fingerprint(b"1a2b"));
        assert_ne!(fingerprint(b"1a2b"), fingerprint(b"1a2c"));
        let long_a = [b'a'; 100];
        let mut long_b = long_a;
        long_b[99] = b'b';
        assert_ne!(fingerprint(&long_a), fingerprint(&long_b));
        let t = Tracker::new();
        let t0 = Instant::now();
        t.submitted(b"ABC-def", t0);
        assert!(matches!(
            t.received(b"abc-DEF", t0),
            Received::Matched { .. }
        ));
    }

    #[test]
    fn old_matches_are_forgotten_by_generations() {
        let t = Tracker::new();
        let t0 = Instant::now();
        let n = REMEMBERED * 3;
        for i in 0..n {
            let id = (i as u64).to_le_bytes();
            t.submitted(&id, t0);
            t.received(&id, t0);
        }
        let remembered: usize = t
            .shards
            .iter()
            .map(|s| {
                let s = s.lock().unwrap_or_else(|p| p.into_inner());
                s.done.len() + s.done_before.len()
            })
            .sum();
        assert!((REMEMBERED..=2 * REMEMBERED).contains(&remembered));
        // the latest are still known as duplicates
        let last = ((n - 1) as u64).to_le_bytes();
        assert_eq!(t.received(&last, t0), Received::Duplicate);
    }

    #[test]
    fn many_ids_from_two_threads() {
        let t = std::sync::Arc::new(Tracker::new());
        let t0 = Instant::now();
        let ids: Vec<String> = (0..20_000).map(|i| format!("{i:08x}")).collect();
        let ids = std::sync::Arc::new(ids);
        let (a, b) = (t.clone(), ids.clone());
        let subs = std::thread::spawn(move || {
            for id in b.iter() {
                a.submitted(id.as_bytes(), t0);
            }
        });
        for id in ids.iter().rev() {
            t.received(id.as_bytes(), t0);
        }
        subs.join().ok();
        assert_eq!((t.awaiting(), t.held()), (0, 0));
    }
}
