//! Which connectors are bound upstream in this process, and with how
//! many sessions: connector sessions say so while they are bound
//! ([`ConnectorStates::up`] gives a guard that says "down" when dropped,
//! on every way out of a session), and whoever reports readiness or
//! metrics reads it.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};

/// Bound sessions per connector name.
#[derive(Default)]
pub struct ConnectorStates {
    bound: Arc<Mutex<BTreeMap<String, u32>>>,
}

/// A connector session's "bound" while it lives.
pub struct Up {
    bound: Arc<Mutex<BTreeMap<String, u32>>>,
    name: String,
}

impl ConnectorStates {
    /// A session of `connector` is bound until the guard is dropped.
    pub fn up(&self, connector: &str) -> Up {
        *self
            .bound
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(connector.to_string())
            .or_insert(0) += 1;
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
            .is_some_and(|n| *n > 0)
    }

    /// Bound sessions of each connector that has or had one.
    pub fn snapshot(&self) -> BTreeMap<String, u32> {
        self.bound
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

impl Drop for Up {
    fn drop(&mut self) {
        let mut bound = self.bound.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(n) = bound.get_mut(&self.name) {
            *n = n.saturating_sub(1);
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
}
