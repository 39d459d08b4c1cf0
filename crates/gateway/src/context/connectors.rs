//! Which connectors are bound upstream in this process, and with how
//! many sessions: connector sessions say so while they are bound
//! ([`ConnectorStates::up`] gives a guard that says "down" when dropped,
//! on every way out of a session), and whoever reports readiness or
//! metrics reads it.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

/// Bound sessions per connector name.
#[derive(Default)]
pub struct ConnectorStates {
    bound: Arc<Mutex<BTreeMap<String, State>>>,
}

/// One connector's bound sessions, and since when it has none.
#[derive(Clone, Copy)]
struct State {
    sessions: u32,
    /// When its last bound session ended (meaningful with none).
    down_since: Instant,
}

/// A connector session's "bound" while it lives.
pub struct Up {
    bound: Arc<Mutex<BTreeMap<String, State>>>,
    name: String,
}

impl ConnectorStates {
    /// A session of `connector` is bound until the guard is dropped.
    pub fn up(&self, connector: &str) -> Up {
        self.bound
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(connector.to_string())
            .or_insert(State {
                sessions: 0,
                down_since: Instant::now(),
            })
            .sessions += 1;
        Up {
            bound: self.bound.clone(),
            name: connector.to_string(),
        }
    }

    /// Whether `connector` has a bound session now.
    pub fn is_bound(&self, connector: &str) -> bool {
        self.bound
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(connector)
            .is_some_and(|s| s.sessions > 0)
    }

    /// How long `connector` has had no bound session, counted from
    /// `since` at the earliest (when whoever asks started watching: a
    /// connector never bound is down since then); None while bound.
    pub fn down_for(&self, connector: &str, since: Instant) -> Option<Duration> {
        let down_since = match self
            .bound
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(connector)
        {
            Some(s) if s.sessions > 0 => return None,
            Some(s) => s.down_since.max(since),
            None => since,
        };
        Some(down_since.elapsed())
    }

    /// Bound sessions of each connector that has or had one.
    pub fn snapshot(&self) -> BTreeMap<String, u32> {
        self.bound
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .map(|(name, s)| (name.clone(), s.sessions))
            .collect()
    }
}

impl Drop for Up {
    fn drop(&mut self) {
        let mut bound = self.bound.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(s) = bound.get_mut(&self.name) {
            s.sessions = s.sessions.saturating_sub(1);
            if s.sessions == 0 {
                s.down_since = Instant::now();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_session_is_up_while_its_guard_lives() {
        let s = ConnectorStates::default();
        assert!(s.snapshot().is_empty());
        let a = s.up("a");
        let a2 = s.up("a");
        assert_eq!(s.snapshot()["a"], 2);
        assert!(s.is_bound("a") && !s.is_bound("b"));
        drop(a);
        assert_eq!(s.snapshot()["a"], 1);
        drop(a2);
        assert_eq!(s.snapshot()["a"], 0);
        assert!(!s.is_bound("a"));
    }

    #[test]
    fn down_is_counted_from_the_last_session_or_from_when_asked() {
        let s = ConnectorStates::default();
        let long_ago = Instant::now() - Duration::from_secs(60);
        // Never bound: down since the asker started watching.
        assert!(s.down_for("a", long_ago).unwrap() >= Duration::from_secs(60));
        let a = s.up("a");
        assert_eq!(s.down_for("a", long_ago), None);
        let a2 = s.up("a");
        drop(a);
        assert_eq!(s.down_for("a", long_ago), None);
        drop(a2);
        // Down since its last session ended, not since long ago.
        assert!(s.down_for("a", long_ago).unwrap() < Duration::from_secs(60));
        let later = Instant::now() + Duration::from_secs(5);
        assert!(s.down_for("a", later).unwrap() <= Duration::from_millis(1));
    }
}
