//! systemd's service notifications (sd_notify(3)) for `Type=notify` (and
//! `Type=notify-reload`, systemd 253 and later): `READY=1` once every
//! listener is bound and the store has answered, `RELOADING=1` (with
//! `MONOTONIC_USEC`) and `READY=1` again around a SIGHUP, `STOPPING=1` at
//! SIGTERM/SIGINT, `STATUS=` lines for `systemctl status`, and
//! `WATCHDOG=1` pings while `WATCHDOG_USEC` is set.
//!
//! Every call is a no-op without `NOTIFY_SOCKET` (not started by systemd).
//! A notification that cannot be sent is logged (once) and never stops
//! tern: serving matters more than telling.
//!
//! The watchdog is pinged from `tern run`'s main loop itself ([`Watchdog`]
//! is one of its `select!` arms), so the pings stop when that loop (or the
//! runtime under it) stops turning: systemd then restarts a tern that
//! hangs, which a ping from a timer thread of its own would hide.

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use sd_notify::NotifyState;
use tokio::time::{Interval, MissedTickBehavior};
use tracing::warn;

/// Tell systemd that tern serves (the first time: start-up is over; after
/// a reload: the reload is over).
pub fn ready(status: &str) {
    send(&[NotifyState::Ready, NotifyState::Status(status)]);
}

/// Tell systemd a reload has begun; [`ready`] ends it. `MONOTONIC_USEC`
/// is what `Type=notify-reload` (systemd 253 and later) matches the
/// reload with.
pub fn reloading() {
    let status = NotifyState::Status("reloading the configuration");
    match NotifyState::monotonic_usec_now() {
        Ok(now) => send(&[NotifyState::Reloading, now, status]),
        Err(_) => send(&[NotifyState::Reloading, status]),
    }
}

/// Tell systemd tern is stopping (SIGTERM or SIGINT): from here it drains.
pub fn stopping(status: &str) {
    send(&[NotifyState::Stopping, NotifyState::Status(status)]);
}

/// A line for `systemctl status` about what tern is doing; a line break
/// in it (an error's text) would end the assignment, so it becomes a space.
pub fn status(status: &str) {
    let line = status.replace(['\n', '\r'], " ");
    send(&[NotifyState::Status(&line)]);
}

/// Whether a failed send was already logged (they would repeat with each
/// watchdog ping).
static WARNED: AtomicBool = AtomicBool::new(false);

fn send(states: &[NotifyState<'_>]) {
    if let Err(e) = sd_notify::notify(states) {
        if !WARNED.swap(true, Ordering::Relaxed) {
            warn!(error = %e, "cannot notify systemd (NOTIFY_SOCKET); tern goes on without");
        }
    }
}

/// The watchdog's pings: every half of `WATCHDOG_USEC` (as sd_watchdog_enabled(3)
/// advises), or never when it is not set (or set for another process).
pub struct Watchdog {
    interval: Option<Interval>,
}

impl Watchdog {
    /// From the environment systemd gives (`WATCHDOG_USEC`, `WATCHDOG_PID`).
    pub fn from_env() -> Watchdog {
        Watchdog::every(sd_notify::watchdog_enabled().map(|timeout| timeout / 2))
    }

    fn every(period: Option<Duration>) -> Watchdog {
        let interval = period.filter(|p| !p.is_zero()).map(|p| {
            let mut i = tokio::time::interval(p);
            // A loop that was busy pings once when it is back, not a burst.
            i.set_missed_tick_behavior(MissedTickBehavior::Delay);
            i
        });
        Watchdog { interval }
    }

    /// The period between pings, if the watchdog is on.
    pub fn period(&self) -> Option<Duration> {
        self.interval.as_ref().map(Interval::period)
    }

    /// Wait for the next ping's time and send it; pending forever when the
    /// watchdog is off (a `select!` arm that never fires).
    pub async fn ping_when_due(&mut self) {
        match &mut self.interval {
            Some(i) => {
                i.tick().await;
                send(&[NotifyState::Watchdog]);
            }
            None => std::future::pending().await,
        }
    }

    /// Run `work` from the main loop and keep pinging meanwhile: a reload
    /// that takes a while is the main loop at work, not a hang.
    pub async fn keep_alive<F: Future>(&mut self, work: F) -> F::Output {
        tokio::pin!(work);
        loop {
            tokio::select! {
                out = &mut work => return out,
                _ = self.ping_when_due() => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn off_never_fires_and_keep_alive_still_runs_the_work() {
        let mut w = Watchdog::every(None);
        assert_eq!(w.period(), None);
        let fired = tokio::time::timeout(Duration::from_secs(3600), w.ping_when_due()).await;
        assert!(fired.is_err(), "a watchdog that is off fired");
        let out = w
            .keep_alive(async {
                tokio::time::sleep(Duration::from_secs(5)).await;
                7
            })
            .await;
        assert_eq!(out, 7);
    }

    #[tokio::test(start_paused = true)]
    async fn a_zero_period_is_off() {
        assert_eq!(Watchdog::every(Some(Duration::ZERO)).period(), None);
    }

    #[tokio::test(start_paused = true)]
    async fn pings_at_the_period() {
        let mut w = Watchdog::every(Some(Duration::from_millis(100)));
        assert_eq!(w.period(), Some(Duration::from_millis(100)));
        let start = tokio::time::Instant::now();
        // The first is at once, then one per period.
        for _ in 0..4 {
            w.ping_when_due().await;
        }
        assert_eq!(start.elapsed(), Duration::from_millis(300));
    }
}
