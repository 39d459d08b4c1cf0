//! One run, start to end: bind every session, start each bind's tasks,
//! wait for the submits, their responses and (with `--dlr`) the receipts,
//! unbind, and build the [`Summary`].
//!
//! This module owns the run's phases and the state the binds share
//! ([`Shared`]); the work on each bind is in [`crate::submit`] and
//! [`crate::deliver`].

use std::sync::Arc;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use smpp::pdu::{Bind, Limits};
use smpp_session::{BindMode, BindState, Event, Session, SessionConfig, SessionError, esme, tls};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tracing::{debug, info, warn};

use crate::cli::Args;
use crate::intervals::Intervals;
use crate::message::{MessagePlan, PlanError};
use crate::pacer::Pacer;
use crate::receipts::Tracker;
use crate::summary::{RunFacts, Stats, Summary, status_name};

/// How long an unbind may take before the session is just closed.
const UNBIND_TIMEOUT: Duration = Duration::from_secs(5);
/// How often the receipt wait looks at the count of receipts owed.
const DLR_POLL: Duration = Duration::from_millis(5);
/// How often `--hold` looks for a stop request.
const HOLD_POLL: Duration = Duration::from_millis(50);

/// Why a run could not start.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("{0}")]
    Usage(String),
    #[error(transparent)]
    Plan(#[from] PlanError),
    /// The SMSC answered the bind with an error status.
    #[error("bind refused: {0}")]
    BindRefused(String),
    #[error("cannot connect to {addr}: {reason}")]
    Connect { addr: String, reason: String },
    #[error("bind failed: {0}")]
    Bind(String),
}

/// Ask a run to stop early: the first request stops submitting (the run
/// still waits for responses and receipts), the second stops waiting for
/// receipts.
#[derive(Debug, Clone, Default)]
pub struct Stop(Arc<AtomicU8>);

impl Stop {
    pub fn new() -> Self {
        Self::default()
    }

    /// One more stop request; returns how many there have been.
    pub fn request(&self) -> u8 {
        self.0.fetch_add(1, Ordering::AcqRel).saturating_add(1)
    }

    fn level(&self) -> u8 {
        self.0.load(Ordering::Acquire)
    }
}

/// What every bind's tasks share.
pub(crate) struct Shared {
    pub plan: MessagePlan,
    pub pacer: Pacer,
    /// Messages not yet claimed by a sender (u64::MAX with --duration).
    remaining: AtomicU64,
    deadline: Option<Instant>,
    stop: Stop,
    pub tracker: Tracker,
    pub dlr: bool,
    /// `--intervals`: the window latencies are also recorded in.
    pub intervals: Option<Arc<Intervals>>,
}

impl Shared {
    /// Claim up to `n` messages of the count.
    pub fn claim(&self, n: u64) -> u64 {
        match self
            .remaining
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |r| {
                (r > 0).then(|| r - r.min(n))
            }) {
            Ok(before) => before.min(n),
            Err(_) => 0,
        }
    }

    /// Give back claimed messages a sender will not send.
    pub fn unclaim(&self, n: u64) {
        if n > 0 {
            let _ = self
                .remaining
                .fetch_update(Ordering::AcqRel, Ordering::Acquire, |r| {
                    Some(r.saturating_add(n))
                });
        }
    }

    /// Whether a new message may start: before the deadline and no stop.
    pub fn may_start(&self) -> bool {
        self.stop.level() == 0 && self.deadline.is_none_or(|d| Instant::now() < d)
    }
}

/// A bound session and its events.
struct Link {
    session: Session,
    events: mpsc::Receiver<Event>,
    mode: BindMode,
}

/// Run the load as `args` say and return its summary.
pub async fn run(args: &Args) -> Result<Summary, LoadError> {
    run_until(args, Stop::new()).await
}

/// [`run`], stopping early when `stop` is requested.
pub async fn run_until(args: &Args, stop: Stop) -> Result<Summary, LoadError> {
    args.validate().map_err(LoadError::Usage)?;
    let plan = MessagePlan::new(args)?;
    let links = bind_all(args).await?;
    hold(args.hold(), links.len(), &stop).await;
    let start = Instant::now();
    info!(binds = links.len(), "bound; submitting");
    let intervals = match &args.intervals {
        Some(path) => Some(
            Intervals::create(path, start)
                .map_err(|e| LoadError::Usage(format!("--intervals {}: {e}", path.display())))?,
        ),
        None => None,
    };
    let windows = intervals.as_ref().map(|i| i.spawn(args.interval()));
    let shared = Arc::new(Shared {
        plan,
        pacer: Pacer::new(args.rate, start),
        remaining: AtomicU64::new(args.message_limit().unwrap_or(u64::MAX)),
        deadline: args.duration().map(|d| start + d),
        stop: stop.clone(),
        tracker: Tracker::new(),
        dlr: args.dlr,
        intervals: intervals.clone(),
    });

    let mut senders = Vec::new();
    let mut collectors = Vec::new();
    let mut receivers = Vec::new();
    let mut sessions = Vec::new();
    let variants_per_bind = shared.plan.len() / links.len().max(1);
    for (i, link) in links.into_iter().enumerate() {
        if link.mode.can_transmit() {
            let (tx, rx) = mpsc::unbounded_channel();
            senders.push(tokio::spawn(crate::submit::sender(
                shared.clone(),
                link.session.clone(),
                tx,
                i * variants_per_bind,
            )));
            collectors.push(tokio::spawn(crate::submit::collector(shared.clone(), rx)));
        }
        receivers.push(tokio::spawn(crate::deliver::receiver(
            shared.clone(),
            link.session.clone(),
            link.events,
        )));
        sessions.push(link.session);
    }

    let mut stats = Stats::new();
    join_into(&mut stats, senders).await;
    join_into(&mut stats, collectors).await;
    let submitted = Instant::now();
    debug!(
        elapsed_ms = submitted.duration_since(start).as_millis() as u64,
        "submit phase done"
    );

    if args.dlr {
        // The clock for --dlr-timeout starts at the last submit_sm_resp.
        let from = stats.last_response.unwrap_or(submitted);
        let deadline = from + args.dlr_timeout();
        wait_for_receipts(&shared, &sessions, deadline, &stop).await;
    }

    let disconnects = sessions
        .iter()
        .filter(|s| s.state() == BindState::Closed)
        .count() as u64;
    if disconnects > 0 {
        warn!(disconnects, "sessions closed before the end of the run");
    }
    let end = Instant::now();
    if let (Some(i), Some(w)) = (&intervals, windows) {
        w.abort();
        // The last window, however short.
        if let Err(e) = i.close_window() {
            warn!(error = %e, "cannot write --intervals");
        }
    }
    unbind_all(&sessions).await;
    drop(sessions);
    // The receivers end when their session has closed; a session that
    // will not close costs its receiver's counts, not a hang.
    let receivers = receivers.into_iter().map(|t| async move {
        tokio::time::timeout(2 * UNBIND_TIMEOUT, t)
            .await
            .unwrap_or_else(|_| {
                warn!("a session did not close; its receipt counts are missing");
                Ok(Stats::new())
            })
    });
    for r in receivers {
        match r.await {
            Ok(s) => stats.merge(&s),
            Err(e) => warn!(error = %e, "a task failed; its counts are missing"),
        }
    }

    let facts = RunFacts {
        binds: args.binds,
        window: args.window,
        bind_mode: args.bind_mode.mode().as_str(),
        rate: args.rate,
        dlr: args.dlr,
        start,
        end,
        lost: if args.dlr {
            shared.tracker.awaiting()
        } else {
            0
        },
        unmatched: shared.tracker.held(),
        disconnects,
    };
    Ok(Summary::build(&stats, &facts))
}

/// `--hold`: keep the binds idle (their sessions still answer
/// enquire_link) until the time is up or a stop is requested.
async fn hold(time: Duration, binds: usize, stop: &Stop) {
    if time.is_zero() {
        return;
    }
    info!(binds, seconds = time.as_secs_f64(), "all binds up; holding");
    let until = Instant::now() + time;
    while stop.level() == 0 && Instant::now() < until {
        tokio::time::sleep(HOLD_POLL.min(until.saturating_duration_since(Instant::now()))).await;
    }
}

/// Merge each finished task's counters into `total`.
async fn join_into(total: &mut Stats, tasks: Vec<JoinHandle<Stats>>) {
    for t in tasks {
        match t.await {
            Ok(s) => total.merge(&s),
            Err(e) => warn!(error = %e, "a task failed; its counts are missing"),
        }
    }
}

/// Wait until every accepted submit has its receipt, the deadline passes,
/// no session is left to bring receipts, or a second stop request.
async fn wait_for_receipts(shared: &Shared, sessions: &[Session], deadline: Instant, stop: &Stop) {
    loop {
        if shared.tracker.awaiting() == 0 {
            return;
        }
        if Instant::now() >= deadline {
            info!(
                awaiting = shared.tracker.awaiting(),
                "receipt timeout; counting the rest as lost"
            );
            return;
        }
        if stop.level() >= 2 {
            return;
        }
        let receiving = sessions
            .iter()
            .any(|s| matches!(s.state(), BindState::Bound(m) if m.can_receive()));
        if !receiving {
            warn!("no bound session left to receive receipts");
            return;
        }
        tokio::time::sleep(DLR_POLL).await;
    }
}

async fn unbind_all(sessions: &[Session]) {
    let unbinds = sessions.iter().map(|s| {
        let s = s.clone();
        tokio::spawn(async move {
            if tokio::time::timeout(UNBIND_TIMEOUT, s.unbind())
                .await
                .is_err()
            {
                s.close();
            }
        })
    });
    let unbinds: Vec<_> = unbinds.collect();
    for u in unbinds {
        let _ = u.await;
    }
}

/// Bind every session the arguments ask for, all at once. On any failure
/// the sessions already bound are closed and the first error returned.
async fn bind_all(args: &Args) -> Result<Vec<Link>, LoadError> {
    let mode = args.bind_mode.mode();
    let mut modes = vec![mode; args.binds as usize];
    if args.dlr && !mode.can_receive() {
        modes.extend(std::iter::repeat_n(BindMode::Receiver, args.binds as usize));
    }
    let addr = args.address();
    let tasks: Vec<_> = modes
        .into_iter()
        .map(|mode| {
            let (addr, args) = (addr.clone(), args.clone());
            tokio::spawn(async move { bind_one(&addr, mode, &args).await })
        })
        .collect();
    let mut links = Vec::with_capacity(tasks.len());
    let mut first_error = None;
    for t in tasks {
        match t.await {
            Ok(Ok(link)) => links.push(link),
            Ok(Err(e)) => {
                first_error.get_or_insert(e);
            }
            Err(e) => {
                first_error.get_or_insert(LoadError::Bind(e.to_string()));
            }
        }
    }
    if let Some(e) = first_error {
        let sessions: Vec<Session> = links.into_iter().map(|l| l.session).collect();
        unbind_all(&sessions).await;
        return Err(e);
    }
    Ok(links)
}

async fn bind_one(addr: &str, mode: BindMode, args: &Args) -> Result<Link, LoadError> {
    let bind = Bind {
        system_id: Bytes::copy_from_slice(args.user.as_bytes()),
        password: Bytes::copy_from_slice(args.password.as_bytes()),
        system_type: Bytes::new(),
        interface_version: 0x34,
        ..Default::default()
    };
    let config = SessionConfig {
        window: args.window as usize,
        response_timer: args.response_timeout(),
        inactivity_timer: None,
        // Lenient with long system_ids in the SMSC's bind_resp.
        limits: Limits::JASMIN,
        event_queue: 4096,
        ..Default::default()
    };
    let connect = async {
        match &args.tls_ca {
            None => esme::connect(addr, mode, bind, config).await,
            Some(ca) => {
                let tls = tls_connector(ca, &args.tls_name)
                    .map_err(|e| SessionError::Tls(e.to_string()))?;
                esme::connect_tls(addr, &tls.0, tls.1, mode, bind, config).await
            }
        }
    };
    let bound = tokio::time::timeout(args.response_timeout(), connect).await;
    match bound {
        Ok(Ok((session, events, _resp))) => Ok(Link {
            session,
            events,
            mode,
        }),
        Ok(Err(SessionError::BindRefused(status))) => {
            Err(LoadError::BindRefused(status_name(status)))
        }
        Ok(Err(SessionError::Io(reason))) => Err(LoadError::Connect {
            addr: addr.to_string(),
            reason,
        }),
        Ok(Err(e)) => Err(LoadError::Bind(e.to_string())),
        Err(_) => Err(LoadError::Bind(format!(
            "no bind_resp from {addr} within {:?}",
            args.response_timeout()
        ))),
    }
}

/// The TLS client of --tls-ca and the name of --tls-name.
fn tls_connector(
    ca: &std::path::Path,
    name: &str,
) -> Result<(tls::TlsConnector, tls::ServerName<'static>), anyhow::Error> {
    let path = ca.display().to_string();
    let pem = std::fs::read(ca).map_err(|e| anyhow::anyhow!("{path}: {e}"))?;
    Ok((tls::connector(&pem, &path)?, tls::server_name(name)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shared(remaining: u64) -> Shared {
        let start = Instant::now();
        let args = <Args as clap::Parser>::try_parse_from([
            "smpp-load",
            "--port",
            "1",
            "-u",
            "u",
            "-p",
            "p",
        ]);
        let plan = match args {
            Ok(a) => MessagePlan::new(&a).ok(),
            Err(_) => None,
        };
        Shared {
            plan: plan.unwrap_or_else(|| panic!("plan")),
            pacer: Pacer::new(0, start),
            remaining: AtomicU64::new(remaining),
            deadline: None,
            stop: Stop::new(),
            tracker: Tracker::new(),
            dlr: false,
            intervals: None,
        }
    }

    #[test]
    fn claims_share_the_count() {
        let s = shared(40);
        assert_eq!(s.claim(16), 16);
        assert_eq!(s.claim(16), 16);
        assert_eq!(s.claim(16), 8);
        assert_eq!(s.claim(16), 0);
        s.unclaim(3);
        assert_eq!(s.claim(16), 3);
    }

    #[test]
    fn stop_requests() {
        let s = shared(1);
        assert!(s.may_start());
        assert_eq!(s.stop.request(), 1);
        assert!(!s.may_start());
        assert_eq!(s.stop.request(), 2);
    }
}
