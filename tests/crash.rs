//! The property that matters most, under load and through a crash: every
//! message accepted with a receipt request gets its final receipt, also
//! when tern is killed with SIGKILL mid-run and started again (redis
//! backend, same `[smpp-server] id`, so the restarted process recovers the
//! work the dead one had taken).
//!
//! One ESME (bound trx) submits at a steady pace through tern to smsc-sim
//! (short receipt delay, so receipts are in flight everywhere at the
//! kill): the front end, the connector queue, the upstream, the user's
//! delivery queue and the deliver_sm window to the ESME. Midway, tern is
//! killed (on a receipt the ESME has not answered yet, while submits are
//! unanswered too) and started again on the same ports; the ESME binds
//! again and goes on. Then:
//!
//! - every accepted id has a final receipt (none lost), and the receipt
//!   left unanswered at the kill comes again;
//! - an id can have a second one only if its receipt was delivered and
//!   answered but not yet settled (XACK) when tern died: at least once. So
//!   the ids with a duplicate are at most the user's delivery stream's
//!   pending entries at the kill (themselves at most the delivery window,
//!   [`DELIVERY_WINDOW`]), and never more than two receipts;
//! - a submit whose answer was lost to the kill is "unknown": it may or
//!   may not have been accepted, and its receipt, if any, is not counted;
//! - a control batch after the restart, with no kill, gets exactly one
//!   receipt per message;
//! - smsc-sim ends with nothing owed and every receipt it sent
//!   acknowledged.
//!
//! Every wait is bounded; the whole test is bounded by [`LIMIT`].
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use e2e::*;
use smpp::CommandStatus as S;
use smpp::pdu::*;
use smpp::receipt::Receipt;
use smpp_session::{BindMode, Event, Session, SessionConfig, esme};
use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tokio::time::MissedTickBehavior;

/// The test never runs longer than this.
const LIMIT: Duration = Duration::from_secs(120);
/// Messages of the batch tern is killed in.
const N_CRASH: usize = 3000;
/// Messages of the control batch, after the restart, with no kill.
const N_CONTROL: usize = 1000;
/// The pace: this many submits every [`TICK`] (1000/s, steady).
const PER_TICK: usize = 2;
const TICK: Duration = Duration::from_millis(2);
/// tern is killed once the ESME has received this many deliver_sm
/// (midway), on one that comes while submits are in flight too.
const KILL_AT: u64 = N_CRASH as u64 / 2;
/// ... or on this one, whatever is in flight.
const KILL_AT_THE_LATEST: u64 = KILL_AT + 200;
/// The ESME's window (outstanding submit_sm).
const ESME_WINDOW: usize = 32;
/// smsc-sim's receipt delay.
const DLR_DELAY_MS: &str = "100";
/// tern's delivery window per user (crates/gateway/src/delivery.rs WINDOW).
const DELIVERY_WINDOW: usize = 256;
/// How long all receipts of a batch may take to come.
const COLLECT_WITHIN: Duration = Duration::from_secs(60);
/// How long the restarted tern may take to answer a bind.
const REBIND_WITHIN: Duration = Duration::from_secs(30);
/// How long "nothing more arrives" is watched for.
const QUIET: Duration = Duration::from_millis(1500);
const USER: &str = "acme";
const SERVER_ID: &str = "crash_01";

fn config(redis: &Redis, sim_port: u16) -> String {
    format!(
        "
[smpp-server]
id = {SERVER_ID}
bind = 127.0.0.1
port = {{smpp_port}}
[http-api]
port = {{http_port}}
[store]
backend = redis
url = {}
[log]
level = warn
[user:{USER}]
password = pw
max_binds = 8
[connector:sim]
host = 127.0.0.1
port = {sim_port}
username = tern
password = pw
reconnect_delay = 1
[mt-route:0]
type = default
connectors = sim
",
        redis.url()
    )
}

// ------------------------------------------------------------ receipts

/// What the ESME received, over all its sessions.
#[derive(Default)]
struct Received {
    /// Final receipts per message id.
    finals: Mutex<HashMap<String, u32>>,
    /// deliver_sm that were not a final receipt with a readable id.
    other: Mutex<Vec<DeliverSm<Bytes>>>,
    total: AtomicU64,
    /// Run instead of answering the first deliver_sm from the number
    /// given on that comes while submits are in flight on its session (or
    /// [`KILL_AT_THE_LATEST`], whatever is in flight).
    hook: Mutex<Option<Hook>>,
}

/// The number to run from, and what to run: given the receipt's id, the
/// submits in flight and the deliver_sm received so far.
type Hook = (u64, Box<dyn FnOnce(Option<String>, usize, u64) + Send>);

impl Received {
    /// Count `d`, which came while `submits` were in flight on its
    /// session; whether to answer it (no when the hook ran).
    fn record(&self, d: &DeliverSm<Bytes>, submits: usize) -> bool {
        let total = self.total.fetch_add(1, Ordering::Relaxed) + 1;
        let hook = {
            let mut h = self.hook.lock().unwrap();
            let due = |at: u64| total >= at && (submits > 0 || total >= KILL_AT_THE_LATEST);
            if h.as_ref().is_some_and(|(at, _)| due(*at)) {
                h.take()
            } else {
                None
            }
        };
        let id = self.record_receipt(d);
        match hook {
            Some((_, action)) => {
                action(id, submits, total);
                false
            }
            None => true,
        }
    }

    /// Count `d` as a final receipt (its id) or as something else (None).
    fn record_receipt(&self, d: &DeliverSm<Bytes>) -> Option<String> {
        let text = Receipt::parse(&d.short_message).ok();
        let id = d
            .tlvs
            .receipted_message_id()
            .map(|v| String::from_utf8_lossy(v).into_owned())
            .or_else(|| text.as_ref().map(|r| r.id.clone()));
        let state = d
            .tlvs
            .message_state()
            .or_else(|| text.as_ref().map(|r| r.stat));
        match (id, state) {
            (Some(id), Some(state))
                if d.esm_class.0 == EsmClass::TYPE_DELIVERY_RECEIPT && state.is_final() =>
            {
                *self.finals.lock().unwrap().entry(id.clone()).or_insert(0) += 1;
                Some(id)
            }
            _ => {
                self.other.lock().unwrap().push(d.clone());
                None
            }
        }
    }

    fn count(&self, id: &str) -> u32 {
        self.finals.lock().unwrap().get(id).copied().unwrap_or(0)
    }

    fn snapshot(&self) -> HashMap<String, u32> {
        self.finals.lock().unwrap().clone()
    }

    /// Wait until each of `ids` has a final receipt; the ones still
    /// without one when [`COLLECT_WITHIN`] is over.
    async fn wait_all(&self, ids: &[String]) -> Vec<String> {
        let deadline = Instant::now() + COLLECT_WITHIN;
        loop {
            let missing: Vec<String> = {
                let finals = self.finals.lock().unwrap();
                ids.iter()
                    .filter(|id| !finals.contains_key(*id))
                    .cloned()
                    .collect()
            };
            if missing.is_empty() || Instant::now() > deadline {
                return missing;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Wait until no deliver_sm has come for [`QUIET`].
    async fn quiet(&self) {
        let deadline = Instant::now() + COLLECT_WITHIN;
        let mut last = self.total.load(Ordering::Relaxed);
        let mut since = Instant::now();
        while since.elapsed() < QUIET && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(100)).await;
            let now = self.total.load(Ordering::Relaxed);
            if now != last {
                last = now;
                since = Instant::now();
            }
        }
    }
}

// ------------------------------------------------------------- the ESME

/// The ESME: one trx bind at a time, bound again when tern goes away.
/// Every deliver_sm is recorded, then answered ESME_ROK.
struct Esme {
    port: u16,
    session: Session,
    received: Arc<Received>,
    binds: usize,
}

impl Esme {
    async fn bind(port: u16, received: Arc<Received>) -> Esme {
        let session = Esme::connect(port, &received)
            .await
            .expect("binding to tern");
        Esme {
            port,
            session,
            received,
            binds: 1,
        }
    }

    async fn connect(
        port: u16,
        received: &Arc<Received>,
    ) -> Result<Session, smpp_session::SessionError> {
        let config = SessionConfig {
            window: ESME_WINDOW,
            response_timer: Duration::from_secs(10),
            ..SessionConfig::default()
        };
        let (session, events, _) = tokio::time::timeout(
            Duration::from_secs(10),
            esme::connect(
                &format!("127.0.0.1:{port}"),
                BindMode::Transceiver,
                bind_body(USER, "pw"),
                config,
            ),
        )
        .await
        .map_err(|_| smpp_session::SessionError::Io("bind timed out".into()))??;
        spawn_inbox(session.clone(), events, received.clone());
        Ok(session)
    }

    /// Bind again, retrying until tern answers (within [`REBIND_WITHIN`]).
    async fn rebind(&mut self) {
        self.session.close();
        let deadline = Instant::now() + REBIND_WITHIN;
        loop {
            match Esme::connect(self.port, &self.received).await {
                Ok(s) => {
                    self.session = s;
                    self.binds += 1;
                    return;
                }
                Err(e) => assert!(
                    Instant::now() < deadline,
                    "no bind to tern on port {} within {REBIND_WITHIN:?}: {e}",
                    self.port
                ),
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// Record then answer every deliver_sm of one session (what was answered
/// was counted; a receipt counted whose answer tern never read comes
/// again).
fn spawn_inbox(session: Session, mut events: mpsc::Receiver<Event>, received: Arc<Received>) {
    tokio::spawn(async move {
        while let Some(Event::Request(pdu)) = events.recv().await {
            let seq = pdu.sequence_number;
            match pdu.body {
                Body::DeliverSm(d) => {
                    if !received.record(&d, session.outstanding()) {
                        continue;
                    }
                    let resp = Body::DeliverSmResp(DeliverSmResp::default());
                    let _ = session.respond(seq, S::ESME_ROK, resp).await;
                }
                other => {
                    let _ = session
                        .respond_error(&Pdu::new(seq, other), S::ESME_RINVCMDID)
                        .await;
                }
            }
        }
    });
}

fn sms(tag: &str, i: usize) -> Body<Bytes> {
    Body::SubmitSm(SubmitSm {
        source: Address {
            ton: Ton::ALPHANUMERIC,
            npi: Npi::UNKNOWN,
            addr: Bytes::from_static(b"Tern"),
        },
        destination: Address {
            ton: Ton::INTERNATIONAL,
            npi: Npi::ISDN,
            addr: Bytes::from_static(b"447700900123"),
        },
        registered_delivery: RegisteredDelivery(1),
        short_message: Bytes::from(format!("{tag} {i}")),
        ..Default::default()
    })
}

/// What became of a batch's submits.
#[derive(Default)]
struct Batch {
    /// Message ids of the submit_sm_resp ESME_ROK.
    accepted: Vec<String>,
    /// Submits sent whose answer never came (the session ended first).
    unknown: usize,
    /// Submits answered with an error status.
    refused: Vec<S>,
}

/// Submit `n` messages at the pace, binding again whenever the session is
/// gone (a submit that could not be sent is sent on the next bind).
async fn submit_batch(esme: &mut Esme, tag: &str, n: usize) -> Batch {
    let mut tick = tokio::time::interval(TICK);
    tick.set_missed_tick_behavior(MissedTickBehavior::Burst);
    let mut answers = JoinSet::new();
    let mut i = 0;
    while i < n {
        tick.tick().await;
        for _ in 0..PER_TICK.min(n - i) {
            loop {
                match esme.session.send_request(sms(tag, i)).await {
                    Ok(pending) => {
                        answers.spawn(pending);
                        break;
                    }
                    Err(_) => esme.rebind().await,
                }
            }
            i += 1;
        }
    }
    let mut batch = Batch::default();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while let Some(r) = tokio::time::timeout_at(deadline, answers.join_next())
        .await
        .expect("submit_sm_resp not within 30 s of the last submit")
    {
        match r.unwrap() {
            Ok(pdu) if pdu.command_status == S::ESME_ROK => match pdu.body {
                Body::SubmitSmResp(r) => batch
                    .accepted
                    .push(String::from_utf8(r.message_id.to_vec()).unwrap()),
                other => panic!("{other:?}"),
            },
            Ok(pdu) => batch.refused.push(pdu.command_status),
            Err(_) => batch.unknown += 1,
        }
    }
    batch
}

/// The pending entries of a consumer group on a stream (XPENDING summary).
fn pending(redis: &Redis, stream: &str) -> u64 {
    redis
        .cli(&["XPENDING", stream, "tern"])
        .lines()
        .next()
        .and_then(|l| l.trim().parse().ok())
        .unwrap_or(0)
}

/// Diagnostics for receipts that never came: the message hashes.
fn explain_missing(redis: &Redis, missing: &[String]) -> String {
    let mut out = String::new();
    for id in missing.iter().take(5) {
        let h = redis.cli(&["HGETALL", &format!("tern:{{m:{id}}}")]);
        let fields: Vec<&str> = h.lines().collect();
        let pairs: Vec<String> = fields
            .chunks(2)
            .filter(|kv| kv[0] != "m")
            .map(|kv| kv.join("="))
            .collect();
        out.push_str(&format!("\n  {id}: {}", pairs.join(" ")));
    }
    for key in [
        "tern:{c:sim}:mt".to_string(),
        format!("tern:{{u:{USER}}}:dlv"),
    ] {
        out.push_str(&format!(
            "\n  {key}: XLEN {} pending {}",
            redis.cli(&["XLEN", &key]).trim(),
            pending(redis, &key)
        ));
    }
    out.push_str(&format!(
        "\n  retry set: {}",
        redis.cli(&["ZCARD", "tern:{c:sim}:retry"]).trim()
    ));
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_mid_run_every_accepted_message_gets_its_final_receipt() {
    tokio::time::timeout(LIMIT, crash_and_control())
        .await
        .expect("the test did not finish within its limit");
}

async fn crash_and_control() {
    let started = Instant::now();
    let redis = Redis::start();
    let sim = Sim::start(&["--dlr-delay-ms", DLR_DELAY_MS]);
    let cfg = config(&redis, sim.port);
    let (smpp_port, http_port) = (free_port(), free_port());
    let tern = Tern::start_on(&cfg, smpp_port, http_port);
    let received = Arc::new(Received::default());
    let mut esme = Esme::bind(smpp_port, received.clone()).await;

    // ------------------------------------------- the batch with the kill
    // SIGKILL (Child::kill) midway, with receipts and submits in flight:
    // on the first deliver_sm from KILL_AT on that comes while submits
    // are unanswered, before it is answered (so that receipt must come
    // again).
    let (killed_tx, killed_rx) = tokio::sync::oneshot::channel();
    let mut tern = tern;
    *received.hook.lock().unwrap() = Some((
        KILL_AT,
        Box::new(move |id, submits, received| {
            tern.proc.child.as_mut().unwrap().kill().unwrap();
            let _ = killed_tx.send((tern, id, submits, received));
        }),
    ));
    let submitter = tokio::spawn(async move {
        let batch = submit_batch(&mut esme, "crash", N_CRASH).await;
        (esme, batch)
    });
    let (tern, unanswered, submits_at_kill, received_at_kill) =
        tokio::time::timeout(Duration::from_secs(30), killed_rx)
            .await
            .expect("the kill's receipt not within 30 s")
            .unwrap();
    let unanswered = unanswered.expect("the kill came on a final receipt");
    // Wait for the process, remove its directory.
    tokio::task::block_in_place(|| drop(tern));
    // What the dead process had taken and not settled: its delivery
    // worker's entries are the only receipts that may come twice.
    let dlv_stream = format!("tern:{{u:{USER}}}:dlv");
    let dlv_pending_at_kill = pending(&redis, &dlv_stream);
    let mt_pending_at_kill = pending(&redis, "tern:{c:sim}:mt");
    let killed = Instant::now();
    let cfg2 = cfg.clone();
    let tern = tokio::task::spawn_blocking(move || Tern::start_on(&cfg2, smpp_port, http_port))
        .await
        .unwrap();
    let restart_took = killed.elapsed();
    let (mut esme, crash) = tokio::time::timeout(Duration::from_secs(60), submitter)
        .await
        .expect("the batch was not submitted within 60 s")
        .unwrap();
    assert!(esme.binds >= 2, "the ESME never bound again");
    assert!(crash.refused.is_empty(), "refused: {:?}", crash.refused);
    assert_eq!(crash.accepted.len() + crash.unknown, N_CRASH);
    let accepted: HashSet<&String> = crash.accepted.iter().collect();
    assert_eq!(accepted.len(), crash.accepted.len(), "an id given twice");

    let missing = received.wait_all(&crash.accepted).await;
    assert!(
        missing.is_empty(),
        "{} of {} accepted messages got no final receipt within {COLLECT_WITHIN:?} \
         after tern was killed and restarted (first ones below); sim: {}{}\n  missing: {:?}",
        missing.len(),
        crash.accepted.len(),
        sim.counters(),
        explain_missing(&redis, &missing),
        &missing[..missing.len().min(20)]
    );
    received.quiet().await;
    let after_crash = received.snapshot();
    let dups: Vec<(&String, u32)> = crash
        .accepted
        .iter()
        .map(|id| (id, after_crash[id]))
        .filter(|(_, n)| *n > 1)
        .collect();
    let unknown_ids: Vec<&String> = after_crash
        .keys()
        .filter(|id| !accepted.contains(id))
        .collect();
    let crash_receipts: u32 = crash.accepted.iter().map(|id| after_crash[id]).sum();
    eprintln!(
        "crash batch: {N_CRASH} submitted, {} accepted, {} unknown (receipts for {} of them), \
         {crash_receipts} final receipts for accepted ids, {} ids twice; \
         at the kill: {received_at_kill} deliver_sm received, {submits_at_kill} submits \
         unanswered, {dlv_pending_at_kill} deliveries and {mt_pending_at_kill} messages taken \
         and unsettled; restart took {restart_took:?}",
        crash.accepted.len(),
        crash.unknown,
        unknown_ids.len(),
        dups.len(),
    );
    assert!(
        !accepted.contains(&unanswered) || after_crash[&unanswered] == 2,
        "the receipt tern was killed before it had its answer ({unanswered}) came {} times, \
         not twice",
        after_crash[&unanswered]
    );
    assert!(
        dups.iter().all(|(_, n)| *n == 2),
        "a receipt came more than twice: {:?}",
        dups.iter().filter(|(_, n)| *n > 2).collect::<Vec<_>>()
    );
    assert!(
        dups.len() as u64 <= dlv_pending_at_kill && dups.len() <= DELIVERY_WINDOW,
        "{} ids got their receipt twice, more than the {dlv_pending_at_kill} deliveries \
         pending at the kill (delivery window {DELIVERY_WINDOW}): {:?}",
        dups.len(),
        &dups[..dups.len().min(20)]
    );
    assert!(
        unknown_ids.len() <= crash.unknown,
        "receipts for {} ids never accepted, but only {} submits unanswered: {:?}",
        unknown_ids.len(),
        crash.unknown,
        unknown_ids
    );

    // ------------------------------------ the control batch, no kill
    let binds = esme.binds;
    let control = submit_batch(&mut esme, "control", N_CONTROL).await;
    assert_eq!(esme.binds, binds, "the ESME lost its bind with no kill");
    assert!(control.refused.is_empty(), "refused: {:?}", control.refused);
    assert_eq!(control.unknown, 0, "unanswered submits with no kill");
    assert_eq!(control.accepted.len(), N_CONTROL);
    let missing = received.wait_all(&control.accepted).await;
    assert!(
        missing.is_empty(),
        "{} of {N_CONTROL} control messages got no final receipt within {COLLECT_WITHIN:?}: \
         sim: {}{}\n  missing: {:?}",
        missing.len(),
        sim.counters(),
        explain_missing(&redis, &missing),
        &missing[..missing.len().min(20)]
    );
    received.quiet().await;
    let twice: Vec<(&String, u32)> = control
        .accepted
        .iter()
        .map(|id| (id, received.count(id)))
        .filter(|(_, n)| *n != 1)
        .collect();
    assert!(
        twice.is_empty(),
        "control batch (no kill): {} ids got more than one receipt: {:?}",
        twice.len(),
        &twice[..twice.len().min(20)]
    );
    // Nothing more came for the crash batch meanwhile.
    let later: Vec<(&String, u32, u32)> = after_crash
        .iter()
        .map(|(id, n)| (id, *n, received.count(id)))
        .filter(|(_, before, now)| before != now)
        .collect();
    assert!(
        later.is_empty(),
        "receipts for the crash batch came after it was complete: {later:?}"
    );
    let other = received.other.lock().unwrap().clone();
    assert!(
        other.is_empty(),
        "{} deliver_sm that are not final receipts, first: {:?}",
        other.len(),
        other.first()
    );

    // ----------------------------------------- smsc-sim: nothing stuck
    let c = tokio::task::block_in_place(|| {
        sim.wait_for(
            "every receipt acknowledged, none owed",
            Duration::from_secs(15),
            |c| c["receipts_owed"] == 0 && c["receipts_acked"].as_u64() == c["submit_ok"].as_u64(),
        )
    });
    eprintln!(
        "control batch: {N_CONTROL} accepted, one final receipt each; smsc-sim: {} submits \
         accepted ({} resubmitted after the restart or unknown), {} receipts acknowledged, \
         {} deliver_sm failed and resent; {:?} in all",
        c["submit_ok"],
        c["submit_ok"]
            .as_u64()
            .unwrap()
            .saturating_sub((crash.accepted.len() + control.accepted.len()) as u64),
        c["receipts_acked"],
        c["receipts_failed"],
        started.elapsed()
    );
    assert!(
        c["submit_ok"].as_u64().unwrap() >= (crash.accepted.len() + N_CONTROL) as u64,
        "{c}"
    );
    let _ = esme.session.unbind().await;
    drop(tern);
}
