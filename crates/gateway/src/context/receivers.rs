//! The users' receiver binds (bind_receiver or bind_transceiver) in this
//! process: the front end adds and removes them, the delivery stage sends
//! over them. Neither knows the other; they meet here.
//!
//! A user's entry exists exactly while the user's delivery worker runs:
//! the first receiver of a user makes the entry and asks for a worker
//! ([`Receivers::take_worker_requests`]), and the worker removes the
//! entry when it stops ([`Receivers::stop_if_idle`]) under the same lock a
//! new receiver would make it with, so a user never has two workers and a
//! receiver never waits without one.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use smpp_session::Session;
use tokio::sync::mpsc;

/// The receiver binds of every user (what became of the items sent over
/// them is counted in `tern_deliveries_total`, [`crate::metrics`]).
pub struct Receivers {
    users: Mutex<HashMap<String, Bound>>,
    next_id: AtomicU64,
    /// Users whose first receiver just bound: they need a worker.
    worker_requests: mpsc::UnboundedSender<String>,
    worker_requests_rx: Mutex<Option<mpsc::UnboundedReceiver<String>>>,
}

/// A user's receivers, and whose turn is next.
#[derive(Default)]
struct Bound {
    sessions: Vec<(u64, Session)>,
    turn: usize,
}

impl Default for Receivers {
    fn default() -> Self {
        let (tx, rx) = mpsc::unbounded_channel();
        Receivers {
            users: Mutex::default(),
            next_id: AtomicU64::new(0),
            worker_requests: tx,
            worker_requests_rx: Mutex::new(Some(rx)),
        }
    }
}

impl Receivers {
    /// Register a receiver bind of `user`; when the user had no worker,
    /// ask for one. Returns the id to [`Receivers::remove`] it with.
    pub fn add(&self, user: &str, session: Session) -> u64 {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let start = match self.users.lock() {
            Ok(mut users) => {
                let start = !users.contains_key(user);
                users
                    .entry(user.to_string())
                    .or_default()
                    .sessions
                    .push((id, session));
                start
            }
            Err(_) => false,
        };
        if start {
            // Only fails when nobody serves the way back (no delivery
            // stage): the receiver then stays bound and idle.
            let _ = self.worker_requests.send(user.to_string());
        }
        id
    }

    /// Forget receiver `id` of `user` (its session ended).
    pub fn remove(&self, user: &str, id: u64) {
        if let Ok(mut users) = self.users.lock() {
            if let Some(b) = users.get_mut(user) {
                b.sessions.retain(|(i, _)| *i != id);
            }
        }
    }

    /// The users that need a worker, as their first receiver binds. The
    /// delivery stage takes this once; later calls get None.
    pub fn take_worker_requests(&self) -> Option<mpsc::UnboundedReceiver<String>> {
        self.worker_requests_rx.lock().ok()?.take()
    }

    /// How many receivers `user` has here.
    pub fn count(&self, user: &str) -> usize {
        self.users
            .lock()
            .map(|u| u.get(user).map_or(0, |b| b.sessions.len()))
            .unwrap_or(0)
    }

    /// The next receiver of `user`, in turn.
    pub fn pick(&self, user: &str) -> Option<Session> {
        let mut users = self.users.lock().ok()?;
        let b = users.get_mut(user)?;
        if b.sessions.is_empty() {
            return None;
        }
        b.turn = b.turn.wrapping_add(1);
        let i = b.turn % b.sessions.len();
        Some(b.sessions[i].1.clone())
    }

    /// Whether the worker of `user` should stop: no receiver left. When
    /// it says so the user's entry is gone, under the same lock a new
    /// receiver would ask for a worker with.
    pub fn stop_if_idle(&self, user: &str) -> bool {
        let Ok(mut users) = self.users.lock() else {
            return true;
        };
        match users.get_mut(user) {
            Some(b) if !b.sessions.is_empty() => false,
            Some(_) => {
                users.remove(user);
                true
            }
            None => true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session() -> Session {
        let (a, _b) = tokio::io::duplex(64);
        smpp_session::smsc::accept(a, "test".into(), Default::default()).0
    }

    #[tokio::test]
    async fn the_first_receiver_asks_for_a_worker_and_the_idle_worker_stops() {
        let r = Receivers::default();
        let mut requests = r.take_worker_requests().expect("first take");
        assert!(r.take_worker_requests().is_none());
        let a = r.add("alice", session());
        let b = r.add("alice", session());
        assert_eq!(requests.try_recv().ok().as_deref(), Some("alice"));
        assert!(requests.try_recv().is_err(), "one worker per user");
        assert_eq!(r.count("alice"), 2);
        assert!(r.pick("alice").is_some());
        r.remove("alice", a);
        assert!(!r.stop_if_idle("alice"));
        r.remove("alice", b);
        assert!(r.pick("alice").is_none());
        assert!(r.stop_if_idle("alice"));
        // The entry is gone: the next receiver asks again.
        r.add("alice", session());
        assert_eq!(requests.try_recv().ok().as_deref(), Some("alice"));
    }
}
