//! The window: the requests this end sent and has not had answered, by
//! sequence number, and their response deadlines.
//!
//! It owns which answer completes which request and when an unanswered
//! one times out (SMPP 3.4 §2.7: response_timer). What a completion or a
//! timeout means — replying to the application, closing after an
//! unanswered enquire_link — is the connection's. The application side of
//! the window (how many it may have out) is the `Session`'s semaphore; the
//! permit travels in [`PendingKind::App`] and is released when the entry
//! goes.
//!
//! Nothing here allocates per request once the map and queue have grown
//! to the window: one map entry and one queue slot each. They start
//! empty and grow with use, so an idle session (most of a server's binds
//! at any time) holds no room for a window it does not use.

use std::collections::{HashMap, VecDeque};
use std::time::Duration;

use bytes::Bytes;
use smpp::CommandId;
use smpp::pdu::Pdu;
use tokio::sync::{OwnedSemaphorePermit, oneshot};
use tokio::time::Instant;

use crate::error::SessionError;

/// Who waits for a response.
pub(crate) enum PendingKind {
    /// The application, through [`crate::Session::send_request`].
    App {
        reply: oneshot::Sender<Result<Pdu<Bytes>, SessionError>>,
        _permit: OwnedSemaphorePermit,
    },
    /// The session's own enquire_link.
    EnquireLink,
    /// The session's own unbind.
    Unbind,
}

/// A request sent and not yet answered.
pub(crate) struct Pending {
    pub kind: PendingKind,
    pub command_id: CommandId,
}

pub(crate) struct Window {
    pending: HashMap<u32, Pending>,
    /// Response deadlines in send order (the timer is one constant, so
    /// this is also deadline order).
    deadlines: VecDeque<(u32, Instant)>,
    response_timer: Duration,
}

impl Window {
    /// An empty window, growing to what is outstanding.
    pub fn new(response_timer: Duration) -> Self {
        Window {
            pending: HashMap::new(),
            deadlines: VecDeque::new(),
            response_timer,
        }
    }

    /// A request sent at `now`: its response is due `response_timer` later.
    #[inline]
    pub fn track(&mut self, seq: u32, command_id: CommandId, kind: PendingKind, now: Instant) {
        self.pending.insert(seq, Pending { kind, command_id });
        self.deadlines.push_back((seq, now + self.response_timer));
    }

    /// The request a response with `seq` answers, if one waits for it.
    #[inline]
    pub fn answered(&mut self, seq: u32) -> Option<Pending> {
        let p = self.pending.remove(&seq)?;
        self.trim_deadlines();
        Some(p)
    }

    /// The earliest response deadline.
    #[inline]
    pub fn next_deadline(&self) -> Option<Instant> {
        self.deadlines.front().map(|d| d.1)
    }

    /// The next request whose deadline is past at `now`, taken out of the
    /// window; `None` when no more are due.
    pub fn pop_due(&mut self, now: Instant) -> Option<(u32, Pending)> {
        while let Some(&(seq, at)) = self.deadlines.front() {
            if at > now {
                break;
            }
            self.deadlines.pop_front();
            if let Some(p) = self.pending.remove(&seq) {
                return Some((seq, p));
            }
        }
        None
    }

    /// Every request still waiting, taken out (the session is over).
    pub fn drain(&mut self) -> impl Iterator<Item = Pending> + '_ {
        self.pending.drain().map(|(_, p)| p)
    }

    /// Drop deadlines of requests already answered: from the front (where
    /// in-order answers leave them), and all at once when a slow request
    /// holds the front while many behind it are answered.
    fn trim_deadlines(&mut self) {
        while let Some(&(seq, _)) = self.deadlines.front() {
            if self.pending.contains_key(&seq) {
                break;
            }
            self.deadlines.pop_front();
        }
        if self.deadlines.len() > 4 * self.pending.len() + 64 {
            let pending = &self.pending;
            self.deadlines.retain(|(seq, _)| pending.contains_key(seq));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TIMEOUT: Duration = Duration::from_secs(10);

    fn sent(w: &mut Window, seq: u32, at: Instant) {
        w.track(seq, CommandId::ENQUIRE_LINK, PendingKind::EnquireLink, at);
    }

    #[test]
    fn an_answer_completes_its_request_once() {
        let t0 = Instant::now();
        let mut w = Window::new(TIMEOUT);
        sent(&mut w, 1, t0);
        sent(&mut w, 2, t0);
        assert!(w.answered(1).is_some());
        assert!(w.answered(1).is_none());
        assert!(w.answered(7).is_none());
        assert_eq!(w.next_deadline(), Some(t0 + TIMEOUT));
        assert!(w.answered(2).is_some());
        assert_eq!(w.next_deadline(), None);
    }

    #[test]
    fn due_requests_come_out_in_send_order_answered_ones_skipped() {
        let t0 = Instant::now();
        let step = Duration::from_secs(1);
        let mut w = Window::new(TIMEOUT);
        sent(&mut w, 1, t0);
        sent(&mut w, 2, t0 + step);
        sent(&mut w, 3, t0 + 2 * step);
        // 1 holds the front, so 2's deadline stays queued until it is due.
        assert!(w.answered(2).is_some());
        let later = t0 + TIMEOUT + 2 * step;
        assert_eq!(w.pop_due(later).map(|(s, _)| s), Some(1));
        assert_eq!(w.pop_due(later).map(|(s, _)| s), Some(3));
        assert!(w.pop_due(later).is_none());
        assert_eq!(w.next_deadline(), None);
    }

    #[test]
    fn nothing_is_due_before_its_deadline() {
        let t0 = Instant::now();
        let mut w = Window::new(TIMEOUT);
        sent(&mut w, 1, t0);
        assert!(w.pop_due(t0 + TIMEOUT - Duration::from_millis(1)).is_none());
        assert!(w.pop_due(t0 + TIMEOUT).is_some());
    }

    #[test]
    fn answered_deadlines_behind_a_slow_one_are_dropped_in_bulk() {
        let t0 = Instant::now();
        let mut w = Window::new(TIMEOUT);
        for seq in 0..200 {
            sent(&mut w, seq, t0);
        }
        for seq in 1..200 {
            assert!(w.answered(seq).is_some());
        }
        // Only 0 is pending: at most 4 * 1 + 64 stale deadlines are kept.
        assert!(w.deadlines.len() <= 4 + 64 + 1, "{}", w.deadlines.len());
        assert_eq!(w.drain().count(), 1);
    }
}
