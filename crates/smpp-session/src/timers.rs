//! The session's clocks (SMPP 3.4 §7.2): session_init, enquire_link,
//! inactivity and the partial-PDU read timer, the close flush deadline,
//! and the one tokio `Sleep` that wakes the connection task at the
//! earliest of them and of the window's response deadlines.
//!
//! It owns the instants each timer counts from and says when a timer is
//! due; the connection says which timers are armed in its state and what
//! firing one does (close, unbind, send enquire_link). Every check takes
//! `now` as an argument, so nothing here reads the clock.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::time::{Instant, Sleep};

use crate::config::SessionConfig;

/// Which timers the connection's state arms now.
#[derive(Clone, Copy)]
pub(crate) struct Armed {
    /// Closing: only the flush deadline counts (the others may be past
    /// already and would wake the task on every turn).
    pub closing: bool,
    /// SMSC role, no bind accepted yet: session_init runs.
    pub awaiting_bind: bool,
    /// Bound: inactivity runs.
    pub bound: bool,
    /// Bound, no enquire_link out, and reading: enquire_link runs.
    pub enquire_link: bool,
    /// Reading (not holding off for back-pressure): the partial-PDU timer
    /// runs.
    pub reading: bool,
}

pub(crate) struct Timers {
    session_init: Option<Duration>,
    enquire_link: Option<Duration>,
    inactivity: Option<Duration>,
    pdu_read: Option<Duration>,
    /// When the connection began (session_init counts from here).
    started: Instant,
    /// Last octets from the peer, or the application taking a held event
    /// (enquire_link counts from here).
    pub last_rx: Instant,
    /// Last PDU other than enquire_link(_resp), either way (inactivity).
    pub last_activity: Instant,
    /// Since when a PDU has been partly read.
    pub partial_since: Option<Instant>,
    /// When a closing session stops waiting for its output to flush.
    pub close_deadline: Option<Instant>,
    sleep: Pin<Box<Sleep>>,
    /// What `sleep` is set to, while it is armed.
    sleep_at: Option<Instant>,
}

impl Timers {
    pub fn new(config: &SessionConfig, now: Instant) -> Self {
        Timers {
            session_init: config.session_init_timer,
            enquire_link: config.enquire_link_timer,
            inactivity: config.inactivity_timer,
            pdu_read: config.pdu_read_timer,
            started: now,
            last_rx: now,
            last_activity: now,
            partial_since: None,
            close_deadline: None,
            sleep: Box::pin(tokio::time::sleep_until(now)),
            sleep_at: None,
        }
    }

    /// The earliest deadline among the armed timers and `response` (the
    /// window's earliest).
    #[inline]
    pub fn next_deadline(&self, armed: Armed, response: Option<Instant>) -> Option<Instant> {
        if armed.closing {
            return self.close_deadline;
        }
        [
            armed
                .awaiting_bind
                .then_some(self.session_init.map(|t| self.started + t))
                .flatten(),
            armed
                .enquire_link
                .then_some(self.enquire_link.map(|t| self.last_rx + t))
                .flatten(),
            armed
                .bound
                .then_some(self.inactivity.map(|t| self.last_activity + t))
                .flatten(),
            self.partial_since
                .filter(|_| armed.reading)
                .zip(self.pdu_read)
                .map(|(s, t)| s + t),
            response,
            self.close_deadline,
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// Sleep until `next` (moving the sleep only to an earlier instant);
    /// true when it has passed and the due timers should fire.
    #[inline]
    pub fn poll(&mut self, cx: &mut Context<'_>, next: Option<Instant>) -> bool {
        let Some(next) = next else {
            self.sleep_at = None;
            return false;
        };
        if self.sleep_at.is_none_or(|at| next < at) {
            self.sleep.as_mut().reset(next);
            self.sleep_at = Some(next);
        }
        match self.sleep.as_mut().poll(cx) {
            Poll::Ready(()) => {
                self.sleep_at = None;
                true
            }
            Poll::Pending => false,
        }
    }

    /// No bind accepted within session_init_timer of the start.
    pub fn session_init_due(&self, now: Instant) -> bool {
        self.session_init.is_some_and(|t| now >= self.started + t)
    }

    /// A PDU partly read for pdu_read_timer.
    pub fn pdu_read_due(&self, now: Instant) -> bool {
        self.partial_since
            .zip(self.pdu_read)
            .is_some_and(|(s, t)| now >= s + t)
    }

    /// Nothing but enquire_link either way for inactivity_timer.
    pub fn inactivity_due(&self, now: Instant) -> bool {
        self.inactivity
            .is_some_and(|t| now >= self.last_activity + t)
    }

    /// Nothing from the peer for enquire_link_timer.
    pub fn enquire_link_due(&self, now: Instant) -> bool {
        self.enquire_link.is_some_and(|t| now >= self.last_rx + t)
    }

    /// The close flush deadline has passed.
    #[inline]
    pub fn close_late(&self, now: Instant) -> bool {
        self.close_deadline.is_some_and(|d| now >= d)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Timers hold a tokio Sleep, so each test runs in a runtime.

    const S: Duration = Duration::from_secs(1);

    fn config() -> SessionConfig {
        SessionConfig {
            session_init_timer: Some(10 * S),
            enquire_link_timer: Some(20 * S),
            inactivity_timer: Some(30 * S),
            pdu_read_timer: Some(5 * S),
            ..SessionConfig::default()
        }
    }

    const NONE: Armed = Armed {
        closing: false,
        awaiting_bind: false,
        bound: false,
        enquire_link: false,
        reading: false,
    };

    #[tokio::test]
    async fn the_earliest_armed_deadline() {
        let t0 = Instant::now();
        let mut t = Timers::new(&config(), t0);
        assert_eq!(t.next_deadline(NONE, None), None);
        let waiting = Armed {
            awaiting_bind: true,
            ..NONE
        };
        assert_eq!(t.next_deadline(waiting, None), Some(t0 + 10 * S));
        assert_eq!(t.next_deadline(waiting, Some(t0 + S)), Some(t0 + S));
        let bound = Armed {
            bound: true,
            enquire_link: true,
            reading: true,
            ..NONE
        };
        assert_eq!(t.next_deadline(bound, None), Some(t0 + 20 * S));
        t.partial_since = Some(t0 + S);
        assert_eq!(t.next_deadline(bound, None), Some(t0 + 6 * S));
        // Not reading: the partial PDU waits on us, not the peer.
        let held = Armed {
            reading: false,
            enquire_link: false,
            ..bound
        };
        assert_eq!(t.next_deadline(held, None), Some(t0 + 30 * S));
    }

    #[tokio::test]
    async fn closing_counts_only_the_flush_deadline() {
        let t0 = Instant::now();
        let mut t = Timers::new(&config(), t0);
        let closing = Armed {
            closing: true,
            awaiting_bind: true,
            ..NONE
        };
        assert_eq!(t.next_deadline(closing, Some(t0)), None);
        t.close_deadline = Some(t0 + 5 * S);
        assert_eq!(t.next_deadline(closing, Some(t0)), Some(t0 + 5 * S));
        assert!(!t.close_late(t0 + 4 * S));
        assert!(t.close_late(t0 + 5 * S));
    }

    #[tokio::test]
    async fn each_timer_is_due_from_its_own_instant() {
        let t0 = Instant::now();
        let mut t = Timers::new(&config(), t0);
        t.last_rx = t0 + 5 * S;
        t.last_activity = t0 + 7 * S;
        assert!(!t.session_init_due(t0 + 9 * S));
        assert!(t.session_init_due(t0 + 10 * S));
        assert!(!t.enquire_link_due(t0 + 24 * S));
        assert!(t.enquire_link_due(t0 + 25 * S));
        assert!(!t.inactivity_due(t0 + 36 * S));
        assert!(t.inactivity_due(t0 + 37 * S));
        assert!(!t.pdu_read_due(t0 + 100 * S));
        t.partial_since = Some(t0);
        assert!(t.pdu_read_due(t0 + 5 * S));
    }

    #[tokio::test]
    async fn disabled_timers_never_fire() {
        let t0 = Instant::now();
        let off = SessionConfig {
            session_init_timer: None,
            enquire_link_timer: None,
            inactivity_timer: None,
            pdu_read_timer: None,
            ..SessionConfig::default()
        };
        let mut t = Timers::new(&off, t0);
        t.partial_since = Some(t0);
        let all = Armed {
            closing: false,
            awaiting_bind: true,
            bound: true,
            enquire_link: true,
            reading: true,
        };
        assert_eq!(t.next_deadline(all, None), None);
        let far = t0 + 1_000_000 * S;
        assert!(!t.session_init_due(far));
        assert!(!t.enquire_link_due(far));
        assert!(!t.inactivity_due(far));
        assert!(!t.pdu_read_due(far));
    }
}
