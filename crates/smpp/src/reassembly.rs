//! Reassembling the parts of incoming long messages.
//!
//! This module owns holding parts until their message is complete, and
//! bounding that: parts may arrive in any order, duplicated, or never. The
//! caller extracts (key, total, seq, payload) from a UDH ([`crate::udh`]) or
//! SAR TLVs and chooses the key, typically (source, destination, reference)
//! so that references reused by different senders do not mix.
//!
//! Time is passed in (`now`) rather than read, so behaviour is deterministic
//! and tests need no sleeping. Policies:
//!
//! - **Timeout**: a message must complete within [`Config::timeout`] of its
//!   first part. [`Reassembler::expire`] returns those that did not; a part
//!   arriving for a key whose message has already timed out starts a new
//!   message (the old one is handed back as expired), whether or not
//!   `expire` ran in between.
//! - **Duplicates**: the first copy of a seq wins; later ones are ignored.
//! - **Inconsistent total**: a part whose total differs from the pending
//!   message's is taken as a new message reusing the key (8-bit references
//!   wrap quickly), so the old partial is handed back as superseded and the
//!   new part starts afresh.
//! - **Memory**: at most [`Config::max_pending`] incomplete messages; a new
//!   one beyond that evicts the one whose first part is oldest.
//! - A single-part message (total 1) completes at once and never touches the
//!   pending set.

use std::collections::{BTreeMap, HashMap};
use std::hash::Hash;
use std::time::{Duration, Instant};

/// Limits of a [`Reassembler`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Config {
    /// How long after its first part a message may wait for the rest.
    pub timeout: Duration,
    /// Most incomplete messages held at once (at least 1 is always allowed).
    pub max_pending: usize,
}

impl Default for Config {
    /// 10 minutes (parts normally arrive within seconds, but SMSC retries
    /// can delay one) and 10 000 pending messages.
    fn default() -> Config {
        Config {
            timeout: Duration::from_secs(600),
            max_pending: 10_000,
        }
    }
}

/// A part the reassembler refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ReassemblyError {
    /// total was 0.
    #[error("total number of parts is 0")]
    ZeroTotal,
    /// seq was 0 or above total.
    #[error("part number {seq} outside 1..={total}")]
    BadSeq {
        /// The part number given.
        seq: u8,
        /// The total given.
        total: u8,
    },
}

/// What became of a pushed part.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// That was the last missing part: the payloads in seq order.
    Complete(Vec<u8>),
    /// Stored; the message is still missing parts.
    Incomplete {
        /// Distinct parts held so far.
        received: u8,
        /// Parts expected.
        total: u8,
    },
    /// This seq was already held for the key; the part was ignored.
    Duplicate,
}

/// Why an incomplete message was given up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DropReason {
    /// Its timeout passed.
    Expired,
    /// [`Config::max_pending`] was reached and it was the oldest.
    Evicted,
    /// A part with the same key but a different total arrived.
    Superseded,
}

/// An incomplete message given up on, with what had arrived, so the caller
/// can log it or deliver it partially.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Partial<K> {
    /// The caller's key.
    pub key: K,
    /// Parts expected.
    pub total: u8,
    /// The parts that arrived, as (seq, payload), in seq order.
    pub parts: Vec<(u8, Vec<u8>)>,
    /// When its first part arrived.
    pub first_seen: Instant,
    /// Why it was dropped.
    pub reason: DropReason,
}

/// The result of [`Reassembler::push`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pushed<K> {
    /// What happened to the part.
    pub outcome: Outcome,
    /// An incomplete message this push displaced, if any.
    pub dropped: Option<Partial<K>>,
}

#[derive(Debug)]
struct Pending {
    id: u64,
    first_seen: Instant,
    total: u8,
    received: u8,
    len: usize,
    parts: Vec<Option<Vec<u8>>>,
}

impl Pending {
    fn into_partial<K>(self, key: K, reason: DropReason) -> Partial<K> {
        let parts = (1..=self.total)
            .zip(self.parts)
            .filter_map(|(seq, p)| Some((seq, p?)))
            .collect();
        Partial {
            key,
            total: self.total,
            parts,
            first_seen: self.first_seen,
            reason,
        }
    }
}

/// Collects parts by key until each message is whole; see the module
/// documentation for its policies.
#[derive(Debug)]
pub struct Reassembler<K> {
    config: Config,
    pending: HashMap<K, Pending>,
    /// (first_seen, id) → key, oldest first, for expiry and eviction.
    by_age: BTreeMap<(Instant, u64), K>,
    next_id: u64,
}

impl<K: Hash + Eq + Clone> Reassembler<K> {
    /// An empty reassembler.
    pub fn new(config: Config) -> Reassembler<K> {
        Reassembler {
            config,
            pending: HashMap::new(),
            by_age: BTreeMap::new(),
            next_id: 0,
        }
    }

    /// The limits in force.
    pub fn config(&self) -> Config {
        self.config
    }

    /// Number of incomplete messages held.
    pub fn len(&self) -> usize {
        self.pending.len()
    }

    /// Whether no incomplete message is held.
    pub fn is_empty(&self) -> bool {
        self.pending.is_empty()
    }

    /// Adds part `seq` (1-based) of `total` for `key`, received at `now`.
    /// The payload is copied, so the PDU's buffer is not kept alive.
    pub fn push(
        &mut self,
        key: K,
        total: u8,
        seq: u8,
        payload: &[u8],
        now: Instant,
    ) -> Result<Pushed<K>, ReassemblyError> {
        if total == 0 {
            return Err(ReassemblyError::ZeroTotal);
        }
        if seq == 0 || seq > total {
            return Err(ReassemblyError::BadSeq { seq, total });
        }
        if total == 1 {
            return Ok(Pushed {
                outcome: Outcome::Complete(payload.to_vec()),
                dropped: None,
            });
        }

        let mut dropped = None;
        if let Some(p) = self.pending.get(&key) {
            let reason = if p.total != total {
                Some(DropReason::Superseded)
            } else if self.timed_out(p.first_seen, now) {
                Some(DropReason::Expired)
            } else {
                None
            };
            if let Some(reason) = reason {
                dropped = self.remove(&key, reason);
            }
        }

        if !self.pending.contains_key(&key) {
            if self.pending.len() >= self.config.max_pending.max(1) {
                dropped = self.evict_oldest();
            }
            let id = self.next_id;
            self.next_id = self.next_id.wrapping_add(1);
            self.by_age.insert((now, id), key.clone());
            self.pending.insert(
                key.clone(),
                Pending {
                    id,
                    first_seen: now,
                    total,
                    received: 0,
                    len: 0,
                    parts: vec![None; usize::from(total)],
                },
            );
        }

        let Some(p) = self.pending.get_mut(&key) else {
            // Just inserted; unreachable, but not worth a panic.
            return Ok(Pushed {
                outcome: Outcome::Duplicate,
                dropped,
            });
        };
        let slot = p.parts.get_mut(usize::from(seq - 1));
        match slot {
            Some(slot @ None) => {
                *slot = Some(payload.to_vec());
                p.received += 1;
                p.len += payload.len();
            }
            _ => {
                return Ok(Pushed {
                    outcome: Outcome::Duplicate,
                    dropped,
                });
            }
        }
        if p.received < p.total {
            let outcome = Outcome::Incomplete {
                received: p.received,
                total: p.total,
            };
            return Ok(Pushed { outcome, dropped });
        }

        let mut whole = Vec::new();
        if let Some(p) = self.pending.remove(&key) {
            self.by_age.remove(&(p.first_seen, p.id));
            whole.reserve_exact(p.len);
            for part in p.parts.into_iter().flatten() {
                whole.extend_from_slice(&part);
            }
        }
        Ok(Pushed {
            outcome: Outcome::Complete(whole),
            dropped,
        })
    }

    /// Removes and returns every message whose timeout has passed at `now`,
    /// oldest first.
    pub fn expire(&mut self, now: Instant) -> Vec<Partial<K>> {
        let mut out = Vec::new();
        while let Some((&(first_seen, _), _)) = self.by_age.first_key_value() {
            if !self.timed_out(first_seen, now) {
                break;
            }
            let Some((_, key)) = self.by_age.pop_first() else {
                break;
            };
            if let Some(p) = self.pending.remove(&key) {
                out.push(p.into_partial(key, DropReason::Expired));
            }
        }
        out
    }

    /// The earliest instant at which [`expire`](Self::expire) will return
    /// something, for scheduling a timer; `None` when nothing is pending.
    pub fn next_expiry(&self) -> Option<Instant> {
        let (&(first_seen, _), _) = self.by_age.first_key_value()?;
        Some(
            first_seen
                .checked_add(self.config.timeout)
                .unwrap_or(first_seen),
        )
    }

    /// Forgets the incomplete message for `key`, returning what had arrived.
    pub fn discard(&mut self, key: &K) -> Option<Partial<K>> {
        self.remove(key, DropReason::Evicted)
    }

    fn timed_out(&self, first_seen: Instant, now: Instant) -> bool {
        now.saturating_duration_since(first_seen) >= self.config.timeout
    }

    fn remove(&mut self, key: &K, reason: DropReason) -> Option<Partial<K>> {
        let (key, p) = self.pending.remove_entry(key)?;
        self.by_age.remove(&(p.first_seen, p.id));
        Some(p.into_partial(key, reason))
    }

    fn evict_oldest(&mut self) -> Option<Partial<K>> {
        let (_, key) = self.by_age.pop_first()?;
        let p = self.pending.remove(&key)?;
        Some(p.into_partial(key, DropReason::Evicted))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn config(timeout_s: u64, max_pending: usize) -> Config {
        Config {
            timeout: Duration::from_secs(timeout_s),
            max_pending,
        }
    }

    fn incomplete(received: u8, total: u8) -> Outcome {
        Outcome::Incomplete { received, total }
    }

    #[test]
    fn out_of_order() {
        let mut r = Reassembler::new(config(60, 10));
        let t = Instant::now();
        assert_eq!(
            r.push("k", 3, 3, b"c", t).unwrap().outcome,
            incomplete(1, 3)
        );
        assert_eq!(
            r.push("k", 3, 1, b"a", t).unwrap().outcome,
            incomplete(2, 3)
        );
        assert_eq!(r.len(), 1);
        let done = r.push("k", 3, 2, b"b", t).unwrap();
        assert_eq!(done.outcome, Outcome::Complete(b"abc".to_vec()));
        assert_eq!(done.dropped, None);
        assert!(r.is_empty());
        assert!(r.by_age.is_empty());
        assert_eq!(r.next_expiry(), None);
    }

    #[test]
    fn keys_are_separate() {
        let mut r = Reassembler::new(config(60, 10));
        let t = Instant::now();
        r.push(1, 2, 1, b"a1", t).unwrap();
        r.push(2, 2, 2, b"b2", t).unwrap();
        assert_eq!(
            r.push(2, 2, 1, b"b1", t).unwrap().outcome,
            Outcome::Complete(b"b1b2".to_vec())
        );
        assert_eq!(
            r.push(1, 2, 2, b"a2", t).unwrap().outcome,
            Outcome::Complete(b"a1a2".to_vec())
        );
    }

    #[test]
    fn duplicates_first_wins() {
        let mut r = Reassembler::new(config(60, 10));
        let t = Instant::now();
        r.push("k", 2, 1, b"first", t).unwrap();
        assert_eq!(
            r.push("k", 2, 1, b"second", t).unwrap().outcome,
            Outcome::Duplicate
        );
        assert_eq!(
            r.push("k", 2, 2, b"!", t).unwrap().outcome,
            Outcome::Complete(b"first!".to_vec())
        );
        // After completion the same key starts a new message.
        assert_eq!(
            r.push("k", 2, 2, b"x", t).unwrap().outcome,
            incomplete(1, 2)
        );
    }

    #[test]
    fn rejects_bad_numbers() {
        let mut r: Reassembler<u8> = Reassembler::new(Config::default());
        let t = Instant::now();
        assert_eq!(r.push(0, 0, 1, b"", t), Err(ReassemblyError::ZeroTotal));
        assert_eq!(
            r.push(0, 3, 0, b"", t),
            Err(ReassemblyError::BadSeq { seq: 0, total: 3 })
        );
        assert_eq!(
            r.push(0, 3, 4, b"", t),
            Err(ReassemblyError::BadSeq { seq: 4, total: 3 })
        );
        assert!(r.is_empty());
        assert_eq!(
            r.push(0, 1, 1, b"solo", t).unwrap().outcome,
            Outcome::Complete(b"solo".to_vec())
        );
        assert!(r.is_empty());
    }

    #[test]
    fn inconsistent_total_supersedes() {
        let mut r = Reassembler::new(config(60, 10));
        let t = Instant::now();
        r.push("k", 3, 1, b"old", t).unwrap();
        let p = r.push("k", 2, 2, b"new2", t).unwrap();
        assert_eq!(p.outcome, incomplete(1, 2));
        let d = p.dropped.unwrap();
        assert_eq!(d.reason, DropReason::Superseded);
        assert_eq!(d.total, 3);
        assert_eq!(d.parts, vec![(1, b"old".to_vec())]);
        assert_eq!(
            r.push("k", 2, 1, b"new1", t).unwrap().outcome,
            Outcome::Complete(b"new1new2".to_vec())
        );
        assert!(r.is_empty());
    }

    #[test]
    fn timeout() {
        let mut r = Reassembler::new(config(60, 10));
        let t0 = Instant::now();
        r.push("a", 2, 1, b"a1", t0).unwrap();
        r.push("b", 3, 2, b"b2", t0 + Duration::from_secs(30))
            .unwrap();
        assert_eq!(r.next_expiry(), Some(t0 + Duration::from_secs(60)));
        assert!(r.expire(t0 + Duration::from_secs(59)).is_empty());
        let gone = r.expire(t0 + Duration::from_secs(60));
        assert_eq!(gone.len(), 1);
        assert_eq!(gone[0].key, "a");
        assert_eq!(gone[0].reason, DropReason::Expired);
        assert_eq!(gone[0].parts, vec![(1, b"a1".to_vec())]);
        assert_eq!(r.len(), 1);
        // A late part for an expired-but-not-yet-collected message restarts it.
        let p = r
            .push("b", 3, 1, b"b1", t0 + Duration::from_secs(95))
            .unwrap();
        assert_eq!(p.outcome, incomplete(1, 3));
        assert_eq!(p.dropped.unwrap().reason, DropReason::Expired);
        let gone = r.expire(t0 + Duration::from_secs(1000));
        assert_eq!(gone.len(), 1);
        assert_eq!(gone[0].parts, vec![(1, b"b1".to_vec())]);
        assert!(r.is_empty());
        // A `now` earlier than first_seen never expires anything.
        r.push("c", 2, 1, b"", t0 + Duration::from_secs(10))
            .unwrap();
        assert!(r.expire(t0).is_empty());
    }

    #[test]
    fn eviction_of_oldest() {
        let mut r = Reassembler::new(config(60, 2));
        let t0 = Instant::now();
        r.push(1, 2, 1, b"1", t0).unwrap();
        r.push(2, 2, 1, b"2", t0 + Duration::from_secs(1)).unwrap();
        // Adding to an existing message never evicts.
        assert_eq!(r.push(2, 2, 1, b"2", t0).unwrap().dropped, None);
        let p = r.push(3, 2, 1, b"3", t0 + Duration::from_secs(2)).unwrap();
        let d = p.dropped.unwrap();
        assert_eq!((d.key, d.reason), (1, DropReason::Evicted));
        assert_eq!(r.len(), 2);
        assert_eq!(
            r.push(2, 2, 2, b"!", t0).unwrap().outcome,
            Outcome::Complete(b"2!".to_vec())
        );
        assert_eq!(r.discard(&3).map(|d| d.key), Some(3));
        assert!(r.is_empty());
        // max_pending 0 still holds one.
        let mut r = Reassembler::new(config(60, 0));
        r.push(1, 2, 1, b"", t0).unwrap();
        assert_eq!(
            r.push(2, 2, 1, b"", t0).unwrap().dropped.map(|d| d.key),
            Some(1)
        );
        assert_eq!(r.len(), 1);
    }

    proptest! {
        #[test]
        fn any_order_with_duplicates(
            payloads in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..20), 2..30),
            order in proptest::collection::vec(any::<prop::sample::Index>(), 0..60),
        ) {
            let total = u8::try_from(payloads.len()).unwrap();
            let mut r = Reassembler::new(Config::default());
            let t = Instant::now();
            // Some random (possibly duplicate) parts first, then all of them.
            let mut seqs: Vec<usize> = order.iter().map(|i| i.index(payloads.len())).collect();
            seqs.extend(0..payloads.len());
            let mut done = None;
            for i in seqs {
                let seq = u8::try_from(i + 1).unwrap();
                let pushed = r.push((), total, seq, &payloads[i], t).unwrap();
                prop_assert!(pushed.dropped.is_none());
                if let Outcome::Complete(m) = pushed.outcome {
                    prop_assert!(done.is_none());
                    done = Some(m);
                    break;
                }
            }
            prop_assert_eq!(done, Some(payloads.concat()));
            prop_assert!(r.is_empty());
        }

        #[test]
        fn never_panics_and_stays_bounded(
            ops in proptest::collection::vec((0u8..8, any::<u8>(), any::<u8>(), 0u64..200), 0..200),
        ) {
            let mut r = Reassembler::new(config(50, 4));
            let t0 = Instant::now();
            for (key, total, seq, at) in ops {
                let now = t0 + Duration::from_secs(at);
                let _ = r.push(key, total % 6, seq % 7, &[key], now);
                prop_assert!(r.len() <= 4);
                prop_assert_eq!(r.len(), r.by_age.len());
                if at % 10 == 0 {
                    for p in r.expire(now) {
                        prop_assert_eq!(p.reason, DropReason::Expired);
                    }
                }
            }
        }
    }
}
