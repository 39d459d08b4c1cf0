//! Receipts and MO back to the users, end to end: a real `tern` between
//! ESMEs bound with our session crate and an upstream that is either a real
//! `smsc-sim` or a fake SMSC written here (for the orderings and PDUs the
//! simulator does not make). Every test runs on the memory store; the redis
//! variants (`..._redis`) run the same code on a redis-server of their own.
//!
//! Each test is bounded ([`LIMIT`]); waiting for something that should come
//! fails after [`WITHIN`]; "nothing more arrives" is watched for [`QUIET`].
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use e2e::*;
use smpp::pdu::*;
use smpp::receipt::Receipt;
use smpp::tlv::{TlvTag, TlvsBuilder};
use smpp::{CommandStatus as S, MessageState};
use smpp_session::{BindMode, Event, Session, SessionConfig};
use tokio::sync::{mpsc, watch};

/// No test runs longer than this.
const LIMIT: Duration = Duration::from_secs(150);
/// How long one expected thing may take to come.
const WITHIN: Duration = Duration::from_secs(40);
/// How long "nothing more arrives" is watched for.
const QUIET: Duration = Duration::from_millis(1500);

async fn bounded(f: impl Future<Output = ()>) {
    tokio::time::timeout(LIMIT, f)
        .await
        .expect("the test did not finish within its limit");
}

// ---------------------------------------------------------------- config

/// The store a tern runs on (a redis-server of the test's own for redis).
enum Backend {
    Memory,
    Redis(Redis),
}

impl Backend {
    fn memory() -> Backend {
        Backend::Memory
    }

    fn redis() -> Backend {
        Backend::Redis(Redis::start())
    }

    fn section(&self) -> String {
        match self {
            Backend::Memory => "[store]\nbackend = memory\n".into(),
            Backend::Redis(r) => format!("[store]\nbackend = redis\nurl = {}\n", r.url()),
        }
    }
}

/// A whole tern config: server, store, then `rest` (users, connectors,
/// filters, routes).
fn config(backend: &Backend, rest: &str) -> String {
    format!(
        "
[smpp-server]
bind = 127.0.0.1
port = {{smpp_port}}
[http-api]
port = {{http_port}}
{}
{rest}
",
        backend.section()
    )
}

fn user(name: &str, extra: &str) -> String {
    format!("[user:{name}]\npassword = pw\nmax_binds = 8\n{extra}\n")
}

/// A connector to 127.0.0.1:port binding as `username` (smsc-sim without
/// --system-id takes any; its receipts go back to the same system_id).
fn connector(name: &str, port: u16, username: &str, extra: &str) -> String {
    format!(
        "[connector:{name}]\nhost = 127.0.0.1\nport = {port}\nusername = {username}\npassword = pw\nreconnect_delay = 1\n{extra}\n"
    )
}

fn default_route(connector: &str) -> String {
    format!("[mt-route:0]\ntype = default\nconnectors = {connector}\n")
}

// --------------------------------------------------------------- the ESME

fn addr(ton: Ton, npi: Npi, a: &str) -> Address<Bytes> {
    Address {
        ton,
        npi,
        addr: Bytes::copy_from_slice(a.as_bytes()),
    }
}

/// Submit; the message id of an ESME_ROK.
/// A long GSM message of `len` digits in message_payload, rd 1, for tern
/// to split.
fn long_sms(len: usize) -> SubmitSm<Bytes> {
    let text: String = "0123456789".chars().cycle().take(len).collect();
    let mut tlvs = TlvsBuilder::new();
    tlvs.push(TlvTag::MESSAGE_PAYLOAD, text.as_bytes());
    SubmitSm {
        tlvs: tlvs.build(),
        ..sms("447700900123", "", 1)
    }
}

async fn submit(s: &Session, sm: SubmitSm<Bytes>) -> String {
    let r = s.request(Body::SubmitSm(sm)).await.unwrap();
    assert_eq!(r.command_status, S::ESME_ROK, "submit_sm refused");
    match r.body {
        Body::SubmitSmResp(r) => String::from_utf8(r.message_id.to_vec()).unwrap(),
        other => panic!("{other:?}"),
    }
}

async fn query(s: &Session, id: &str) -> QuerySmResp<Bytes> {
    let r = s
        .request(Body::QuerySm(QuerySm {
            message_id: Bytes::copy_from_slice(id.as_bytes()),
            ..Default::default()
        }))
        .await
        .unwrap();
    assert_eq!(r.command_status, S::ESME_ROK, "query_sm {id}");
    match r.body {
        Body::QuerySmResp(q) => q,
        other => panic!("{other:?}"),
    }
}

/// Poll query_sm until the message is in `want`.
async fn wait_state(s: &Session, id: &str, want: MessageState) -> QuerySmResp<Bytes> {
    let deadline = tokio::time::Instant::now() + WITHIN;
    loop {
        let q = query(s, id).await;
        if q.message_state == want {
            return q;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{id} is {:?}, not {want:?}, after {WITHIN:?}",
            q.message_state
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A bind of a user that receives: every deliver_sm is answered (the first
/// ones with the statuses given, then ESME_ROK) and kept, with the status
/// it was answered with, for the test to read.
struct Inbox {
    session: Session,
    rx: mpsc::UnboundedReceiver<(DeliverSm<Bytes>, S)>,
}

impl Inbox {
    async fn bind(port: u16, mode: BindMode, user: &str) -> Inbox {
        Inbox::bind_answering(port, mode, user, Vec::new()).await
    }

    async fn bind_answering(port: u16, mode: BindMode, user: &str, first: Vec<S>) -> Inbox {
        let (session, mut events) = bind(port, mode, user, "pw").await.unwrap();
        let (tx, rx) = mpsc::unbounded_channel();
        let s = session.clone();
        tokio::spawn(async move {
            let mut first = first.into_iter();
            while let Some(Event::Request(pdu)) = events.recv().await {
                let seq = pdu.sequence_number;
                match pdu.body {
                    Body::DeliverSm(d) => {
                        let status = first.next().unwrap_or(S::ESME_ROK);
                        let resp = Body::DeliverSmResp(DeliverSmResp::default());
                        let _ = s.respond(seq, status, resp).await;
                        let _ = tx.send((d, status));
                    }
                    other => {
                        let _ = s
                            .respond_error(&Pdu::new(seq, other), S::ESME_RINVCMDID)
                            .await;
                    }
                }
            }
        });
        Inbox { session, rx }
    }

    /// The next deliver_sm and how it was answered.
    async fn next_answered(&mut self) -> (DeliverSm<Bytes>, S) {
        tokio::time::timeout(WITHIN, self.rx.recv())
            .await
            .unwrap_or_else(|_| panic!("no deliver_sm within {WITHIN:?}"))
            .expect("the receiver's session ended")
    }

    async fn next(&mut self) -> DeliverSm<Bytes> {
        self.next_answered().await.0
    }

    async fn take(&mut self, n: usize) -> Vec<DeliverSm<Bytes>> {
        let mut out = Vec::with_capacity(n);
        while out.len() < n {
            out.push(self.next().await);
        }
        out
    }

    /// What arrives until nothing has for [`QUIET`].
    async fn drain(&mut self) -> Vec<DeliverSm<Bytes>> {
        let mut out = Vec::new();
        while let Ok(Some((d, _))) = tokio::time::timeout(QUIET, self.rx.recv()).await {
            out.push(d);
        }
        out
    }

    /// Nothing arrives for [`QUIET`].
    async fn quiet(&mut self) {
        let more = self.drain().await;
        assert!(more.is_empty(), "unexpected deliver_sm: {more:#?}");
    }

    async fn unbind(self) {
        let _ = self.session.unbind().await;
    }
}

impl Drop for Inbox {
    fn drop(&mut self) {
        self.session.close();
    }
}

/// A receipt as the user got it, its TLVs and text checked against each
/// other.
#[derive(Debug)]
struct Got {
    /// receipted_message_id.
    id: String,
    /// message_state.
    state: MessageState,
    /// network_error_code's error code.
    error: u16,
    text: Receipt,
    pdu: DeliverSm<Bytes>,
}

fn receipt_of(d: &DeliverSm<Bytes>) -> Got {
    assert!(d.esm_class.is_receipt(), "not a receipt: {d:?}");
    let id = d
        .tlvs
        .receipted_message_id()
        .map(|v| String::from_utf8(v.to_vec()).unwrap())
        .unwrap_or_else(|| panic!("no receipted_message_id: {d:?}"));
    let state = d
        .tlvs
        .message_state()
        .unwrap_or_else(|| panic!("no message_state: {d:?}"));
    let (network, error) = d
        .tlvs
        .network_error_code()
        .unwrap_or_else(|| panic!("no network_error_code: {d:?}"));
    assert_eq!(network, 3, "network type GSM");
    let text = Receipt::parse(&d.short_message)
        .unwrap_or_else(|e| panic!("unreadable receipt text {:?}: {e}", d.short_message));
    assert_eq!(text.id, id, "text id and receipted_message_id");
    assert_eq!(text.stat, state, "text stat and message_state");
    assert_eq!(
        text.err.as_deref(),
        Some(format!("{error:03}").as_str()),
        "text err and network_error_code"
    );
    Got {
        id,
        state,
        error,
        text,
        pdu: d.clone(),
    }
}

/// A final receipt (esm_class 0x04, a final state).
fn final_receipt(d: &DeliverSm<Bytes>) -> Got {
    let g = receipt_of(d);
    assert_eq!(
        d.esm_class.0,
        EsmClass::TYPE_DELIVERY_RECEIPT,
        "final receipt esm_class"
    );
    assert!(g.state.is_final(), "not final: {g:?}");
    g
}

/// Every receipt's id, asserting there is one per message.
fn one_each(got: &[Got]) -> HashSet<String> {
    let mut seen = HashMap::new();
    for g in got {
        *seen.entry(g.id.clone()).or_insert(0) += 1;
    }
    let dup: Vec<_> = seen.iter().filter(|(_, n)| **n > 1).collect();
    assert!(dup.is_empty(), "receipts twice: {dup:?}");
    seen.into_keys().collect()
}

// ------------------------------------------------------------ a fake SMSC

type OnSubmit =
    Arc<dyn Fn(Session, u32, SubmitSm<Bytes>, String) -> BoxFuture + Send + Sync + 'static>;
type BoxFuture = Pin<Box<dyn Future<Output = ()> + Send>>;

/// An upstream SMSC that binds anyone and hands each submit_sm, with the
/// message id it gets (`id_of` the submit's number, from 1), to
/// `on_submit`, which answers it (and sends receipts) as the test wants.
struct Fake {
    port: u16,
    /// Bound sessions that may receive (for MO).
    receivers: Arc<Mutex<Vec<Session>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Fake {
    async fn start(id_of: fn(u64) -> String, on_submit: OnSubmit) -> Fake {
        Fake::start_on(0, id_of, on_submit).await
    }

    /// On a given port (0: any).
    async fn start_on(port: u16, id_of: fn(u64) -> String, on_submit: OnSubmit) -> Fake {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
            .await
            .unwrap();
        let port = listener.local_addr().unwrap().port();
        let receivers = Arc::new(Mutex::new(Vec::new()));
        let next = Arc::new(AtomicU64::new(1));
        let rs = receivers.clone();
        let task = tokio::spawn(async move {
            while let Ok((stream, peer)) = listener.accept().await {
                let config = SessionConfig {
                    limits: Limits::JASMIN,
                    ..SessionConfig::default()
                };
                let (session, mut events) =
                    smpp_session::smsc::accept(stream, peer.to_string(), config);
                let (rs, next, on_submit) = (rs.clone(), next.clone(), on_submit.clone());
                tokio::spawn(async move {
                    while let Some(Event::Request(pdu)) = events.recv().await {
                        let seq = pdu.sequence_number;
                        let resp = BindResp {
                            system_id: Bytes::from_static(b"fake"),
                            tlvs: Default::default(),
                        };
                        let (body, receives) = match pdu.body {
                            Body::BindTransmitter(_) => (Body::BindTransmitterResp(resp), false),
                            Body::BindReceiver(_) => (Body::BindReceiverResp(resp), true),
                            Body::BindTransceiver(_) => (Body::BindTransceiverResp(resp), true),
                            Body::SubmitSm(sm) => {
                                let id = id_of(next.fetch_add(1, Ordering::Relaxed));
                                tokio::spawn(on_submit(session.clone(), seq, sm, id));
                                continue;
                            }
                            other => {
                                let _ = session
                                    .respond_error(&Pdu::new(seq, other), S::ESME_RINVCMDID)
                                    .await;
                                continue;
                            }
                        };
                        let _ = session.respond(seq, S::ESME_ROK, body).await;
                        if receives {
                            rs.lock().unwrap().push(session.clone());
                        }
                    }
                });
            }
        });
        Fake {
            port,
            receivers,
            task,
        }
    }

    /// A session tern bound to receive on (waits for the bind).
    async fn receiver(&self) -> Session {
        let deadline = tokio::time::Instant::now() + WITHIN;
        loop {
            let bound = self
                .receivers
                .lock()
                .unwrap()
                .iter()
                .find(|s| s.may_send(smpp::CommandId::DELIVER_SM))
                .cloned();
            if let Some(s) = bound {
                return s;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "tern did not bind to the fake SMSC"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Drop for Fake {
    fn drop(&mut self) {
        self.task.abort();
        for s in self.receivers.lock().unwrap().iter() {
            s.close();
        }
    }
}

fn hex_id(n: u64) -> String {
    format!("{n:x}")
}

async fn answer_submit(s: &Session, seq: u32, id: &str) {
    let body = Body::SubmitSmResp(SubmitSmResp {
        message_id: Bytes::copy_from_slice(id.as_bytes()),
        tlvs: Default::default(),
    });
    let _ = s.respond(seq, S::ESME_ROK, body).await;
}

/// A receipt as an upstream sends it: the standard text and the
/// receipted_message_id and message_state TLVs.
fn upstream_receipt(id: &str, state: MessageState, esm_class: u8) -> Body<Bytes> {
    let delivered = state == MessageState::Delivered;
    let mut r = Receipt::new(id, state);
    r.sub = Some(1);
    r.dlvrd = Some(u32::from(delivered));
    r.err = Some(if delivered || !state.is_final() {
        "000".into()
    } else {
        "001".into()
    });
    r.text = Some("hello".into());
    let mut t = TlvsBuilder::new();
    t.push_c_octet_string(TlvTag::RECEIPTED_MESSAGE_ID, id.as_bytes())
        .push_u8(TlvTag::MESSAGE_STATE, state.as_u8());
    Body::DeliverSm(DeliverSm {
        source: addr(Ton::INTERNATIONAL, Npi::ISDN, "447700900123"),
        destination: addr(Ton::ALPHANUMERIC, Npi::UNKNOWN, "Tern"),
        esm_class: EsmClass(esm_class),
        short_message: Bytes::from(r.format()),
        tlvs: t.build(),
        ..Default::default()
    })
}

/// Send a deliver_sm upstream-side and expect ESME_ROK.
async fn deliver_ok(s: &Session, body: Body<Bytes>) {
    let r = s.request(body).await.unwrap();
    assert_eq!(r.command_status, S::ESME_ROK, "deliver_sm answered");
}

/// Wait until smsc-sim's counters satisfy `f` (polling, not blocking the
/// runtime's other work for long).
async fn sim_until(sim: &Sim, what: &str, f: impl Fn(&serde_json::Value) -> bool) {
    let deadline = tokio::time::Instant::now() + WITHIN;
    loop {
        let c = sim.counters();
        if f(&c) {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "smsc-sim: {what} not within {WITHIN:?}: {c}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

// ================================================================= tests

/// registered_delivery 0, 1 and 2 against an SMSC that delivers half and
/// fails half (UNDELIV, err 034).
async fn receipts_per_registered_delivery_on(backend: Backend) {
    let sim = Sim::start(&["--dlr-stat", "DELIVRD=0.5,UNDELIV:034=0.5"]);
    let t = Tern::start(&config(
        &backend,
        &format!(
            "{}{}{}",
            user("acme", ""),
            connector("sim", sim.port, "tern", ""),
            default_route("sim")
        ),
    ));
    let mut esme = Inbox::bind(t.port, BindMode::Transceiver, "acme").await;
    let s = esme.session.clone();
    const N: usize = 20;
    // rd 0 and 2 first, rd 1 last: the simulator answers one session in
    // order, so every receipt for rd 2 is on its way before the last rd 1.
    let mut ids: HashMap<u8, Vec<String>> = HashMap::new();
    let mut texts = HashMap::new();
    for rd in [0u8, 2, 1] {
        for i in 0..N {
            let text = format!("rd {rd} message number {i:02} and some more");
            let id = submit(&s, sms("447700900123", &text, rd)).await;
            texts.insert(id.clone(), text);
            ids.entry(rd).or_default().push(id);
        }
    }
    let rd1: HashSet<String> = ids[&1].iter().cloned().collect();
    let rd2: HashSet<String> = ids[&2].iter().cloned().collect();
    let mut got = Vec::new();
    while got.iter().filter(|g: &&Got| rd1.contains(&g.id)).count() < N {
        got.push(final_receipt(&esme.next().await));
    }
    sim_until(
        &sim,
        "every submit taken, every receipt acknowledged",
        |c| {
            c["submit_ok"] == 3 * N as u64
                && c["receipts_owed"] == 0
                && c["receipts_sent"] == c["receipts_acked"]
        },
    )
    .await;
    got.extend(esme.drain().await.iter().map(final_receipt));
    // Tern asks upstream for every message's receipt (query_sm needs the
    // final state), whatever the user asked for.
    let upstream = sim.counters()["receipts_acked"].as_u64().unwrap();
    assert_eq!(upstream, 3 * N as u64, "one upstream receipt per message");
    let seen = one_each(&got);
    assert!(rd1.is_subset(&seen), "every rd 1 message has its receipt");
    for id in &ids[&0] {
        assert!(!seen.contains(id), "rd 0 got a receipt: {id}");
    }
    let mut failed2 = 0;
    for g in &got {
        assert!(rd1.contains(&g.id) || rd2.contains(&g.id), "{g:?}");
        let delivered = g.state == MessageState::Delivered;
        if rd2.contains(&g.id) {
            assert!(!delivered, "rd 2 got a receipt for a delivered message");
            failed2 += 1;
        }
        assert!(
            [MessageState::Delivered, MessageState::Undeliverable].contains(&g.state),
            "{g:?}"
        );
        let r = &g.text;
        assert_eq!(r.sub, Some(1));
        assert_eq!(r.dlvrd, Some(u32::from(delivered)));
        assert_eq!(g.error, if delivered { 0 } else { 34 }, "{g:?}");
        let first20: String = texts[&g.id].chars().take(20).collect();
        assert_eq!(r.text.as_deref(), Some(first20.as_str()));
        assert!(r.submit_date.is_some() && r.done_date.is_some(), "{r:?}");
        // From the handset to the sender.
        assert_eq!(&g.pdu.source.addr[..], b"447700900123");
        assert_eq!(&g.pdu.destination.addr[..], b"Tern");
        let q = query(&s, &g.id).await;
        assert_eq!(q.message_state, g.state, "query_sm after the receipt");
        assert!(!q.final_date.is_empty(), "a final message has a final_date");
        assert_eq!(q.error_code, if delivered { 0 } else { 34 });
    }
    assert!(failed2 > 0, "with 20 coin tosses some rd 2 message failed");
    assert_eq!(
        got.len(),
        N + failed2,
        "rd 1: every message; rd 2: the failed"
    );
    // rd 0 messages reach their final state too.
    for id in &ids[&0] {
        let q = query(&s, id).await;
        assert!(
            [MessageState::Delivered, MessageState::Undeliverable].contains(&q.message_state),
            "rd 0 message {id} is {:?}",
            q.message_state
        );
    }
    // rd 2: a receipt for exactly the messages that failed.
    for id in &ids[&2] {
        let q = query(&s, id).await;
        assert_eq!(
            q.message_state == MessageState::Undeliverable,
            seen.contains(id),
            "rd 2 message {id} is {:?}",
            q.message_state
        );
    }
    esme.quiet().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn receipts_per_registered_delivery() {
    bounded(receipts_per_registered_delivery_on(Backend::memory())).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]

async fn receipts_per_registered_delivery_redis() {
    bounded(receipts_per_registered_delivery_on(Backend::redis())).await;
}

/// Receipts wait in the store for a receiver bound later, are delivered
/// once, and come again when the receiver refused them.
async fn store_and_forward_across_a_late_bind_on(backend: Backend) {
    let sim = Sim::start(&[]);
    let t = Tern::start(&config(
        &backend,
        &format!(
            "{}{}{}{}",
            user("late", ""),
            user("picky", ""),
            connector("sim", sim.port, "tern", ""),
            default_route("sim")
        ),
    ));
    let (tx, _e) = bind(t.port, BindMode::Transmitter, "late", "pw")
        .await
        .unwrap();
    let mut ids = HashSet::new();
    for i in 0..10 {
        ids.insert(submit(&tx, sms("447700900123", &format!("late {i}"), 1)).await);
    }
    // Delivered upstream, its receipt back in tern, with no receiver bound.
    for id in &ids {
        wait_state(&tx, id, MessageState::Delivered).await;
    }
    sim_until(&sim, "10 receipts acknowledged", |c| {
        c["receipts_acked"] == 10
    })
    .await;
    let mut rx = Inbox::bind(t.port, BindMode::Receiver, "late").await;
    let got: Vec<Got> = rx.take(10).await.iter().map(final_receipt).collect();
    assert_eq!(one_each(&got), ids);
    assert!(got.iter().all(|g| g.state == MessageState::Delivered));
    rx.quiet().await;
    rx.unbind().await;
    // Acknowledged: a second receiver gets nothing more.
    let mut rx2 = Inbox::bind(t.port, BindMode::Receiver, "late").await;
    rx2.quiet().await;

    // A receiver that answers with an error gets the receipt again.
    let (ptx, _pe) = bind(t.port, BindMode::Transmitter, "picky", "pw")
        .await
        .unwrap();
    let id = submit(&ptx, sms("447700900123", "picky one", 1)).await;
    wait_state(&ptx, &id, MessageState::Delivered).await;
    let mut picky =
        Inbox::bind_answering(t.port, BindMode::Receiver, "picky", vec![S::ESME_RX_T_APPN]).await;
    let (first, status) = picky.next_answered().await;
    assert_eq!(status, S::ESME_RX_T_APPN);
    assert_eq!(final_receipt(&first).id, id);
    let (second, status) = picky.next_answered().await;
    assert_eq!(status, S::ESME_ROK);
    let g = final_receipt(&second);
    assert_eq!(
        (g.id.as_str(), g.state),
        (id.as_str(), MessageState::Delivered)
    );
    picky.quiet().await;
    picky.unbind().await;

    // A receiver that refuses for good (ESME_RX_P_APPN): dropped, not sent
    // again.
    let id = submit(&ptx, sms("447700900123", "refused one", 1)).await;
    wait_state(&ptx, &id, MessageState::Delivered).await;
    let mut refusing =
        Inbox::bind_answering(t.port, BindMode::Receiver, "picky", vec![S::ESME_RX_P_APPN]).await;
    let (first, status) = refusing.next_answered().await;
    assert_eq!(
        (final_receipt(&first).id, status),
        (id.clone(), S::ESME_RX_P_APPN)
    );
    refusing.quiet().await;
    refusing.unbind().await;

    // A receiver that goes away without answering: the receipt waits for
    // the next one.
    let id = submit(&ptx, sms("447700900123", "picky two", 1)).await;
    wait_state(&ptx, &id, MessageState::Delivered).await;
    let (mute, mut events) = bind(t.port, BindMode::Receiver, "picky", "pw")
        .await
        .unwrap();
    let unanswered = tokio::time::timeout(WITHIN, events.recv())
        .await
        .expect("no deliver_sm for the mute receiver")
        .expect("the mute receiver's session ended");
    let Event::Request(pdu) = unanswered;
    let Pdu {
        body: Body::DeliverSm(d),
        ..
    } = *pdu
    else {
        panic!("not a deliver_sm")
    };
    assert_eq!(final_receipt(&d).id, id);
    mute.close();
    drop(events);
    let mut picky = Inbox::bind(t.port, BindMode::Receiver, "picky").await;
    let g = final_receipt(&picky.next().await);
    assert_eq!(
        (g.id.as_str(), g.state),
        (id.as_str(), MessageState::Delivered)
    );
    picky.quiet().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn store_and_forward_across_a_late_bind() {
    bounded(store_and_forward_across_a_late_bind_on(Backend::memory())).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]

async fn store_and_forward_across_a_late_bind_redis() {
    bounded(store_and_forward_across_a_late_bind_on(Backend::redis())).await;
}

/// A 400-character message goes upstream as 3 parts (UDH on one connector,
/// SAR TLVs on the other); the user gets one receipt for the whole.
async fn long_message_gets_one_receipt_on(backend: Backend) {
    let sim = Sim::start(&[]);
    let t = Tern::start(&config(
        &backend,
        &format!(
            "{}{}{}{}
[filter:sar]
type = destination_addr
value = ^2
[mt-route:10]
type = static
connectors = sar
filters = sar
",
            user("acme", ""),
            // Two accounts upstream, so each connector gets its own
            // receipts back.
            connector("udh", sim.port, "tern-udh", "split = udh"),
            connector("sar", sim.port, "tern-sar", "split = sar\nbind = tx+rx"),
            default_route("udh")
        ),
    ));
    let mut esme = Inbox::bind(t.port, BindMode::Transceiver, "acme").await;
    let s = esme.session.clone();
    let text: String = "The quick brown fox jumps over the lazy dog. "
        .chars()
        .cycle()
        .take(400)
        .collect();
    let mut ids = HashMap::new();
    for dest in ["1447700900123", "2447700900123"] {
        let mut tlvs = TlvsBuilder::new();
        tlvs.push(TlvTag::MESSAGE_PAYLOAD, text.as_bytes());
        let sm = SubmitSm {
            short_message: Bytes::new(),
            tlvs: tlvs.build(),
            ..sms(dest, "", 1)
        };
        ids.insert(submit(&s, sm).await, dest);
    }
    let got: Vec<Got> = esme.take(2).await.iter().map(final_receipt).collect();
    assert_eq!(one_each(&got), ids.keys().cloned().collect());
    for g in &got {
        assert_eq!(g.state, MessageState::Delivered, "{g:?}");
        assert_eq!((g.text.sub, g.text.dlvrd), (Some(3), Some(3)), "{g:?}");
        let first20: String = text.chars().take(20).collect();
        assert_eq!(g.text.text.as_deref(), Some(first20.as_str()));
        assert_eq!(
            query(&s, &g.id).await.message_state,
            MessageState::Delivered
        );
    }
    // Three parts each went upstream, and three receipts came back each.
    sim_until(&sim, "6 parts, 6 receipts", |c| {
        c["submit_ok"] == 6 && c["receipts_acked"] == 6
    })
    .await;
    esme.quiet().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn long_message_gets_one_receipt() {
    bounded(long_message_gets_one_receipt_on(Backend::memory())).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]

async fn long_message_gets_one_receipt_redis() {
    bounded(long_message_gets_one_receipt_on(Backend::redis())).await;
}

/// A 3-part message whose last part is not delivered: one receipt,
/// UNDELIV, sub 3, dlvrd 2, with the failed part's error.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn long_message_with_a_failed_part() {
    bounded(async {
        let fake = Fake::start(
            hex_id,
            Arc::new(|s, seq, _sm, id| {
                Box::pin(async move {
                    answer_submit(&s, seq, &id).await;
                    // Every third part (the last of each message) fails.
                    let n = u64::from_str_radix(&id, 16).unwrap();
                    let state = if n % 3 == 0 {
                        MessageState::Undeliverable
                    } else {
                        MessageState::Delivered
                    };
                    deliver_ok(&s, upstream_receipt(&id, state, 0x04)).await;
                })
            }),
        )
        .await;
        let t = Tern::start(&config(
            &Backend::memory(),
            &format!(
                "{}{}{}",
                user("acme", ""),
                connector("up", fake.port, "tern", "window = 1"),
                default_route("up")
            ),
        ));
        let mut esme = Inbox::bind(t.port, BindMode::Transceiver, "acme").await;
        let id = submit(&esme.session, long_sms(400)).await;
        let g = final_receipt(&esme.next().await);
        assert_eq!(
            (g.id.as_str(), g.state),
            (id.as_str(), MessageState::Undeliverable)
        );
        assert_eq!((g.text.sub, g.text.dlvrd), (Some(3), Some(2)), "{g:?}");
        assert_eq!(g.error, 1, "the failed part's err");
        let q = query(&esme.session, &id).await;
        assert_eq!(
            (q.message_state, q.error_code),
            (MessageState::Undeliverable, 1)
        );
        esme.quiet().await;
    })
    .await;
}

/// A long message whose second part is throttled once: that part alone is
/// sent again (not the whole message), and the user gets one receipt for
/// the three parts.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_throttled_part_is_sent_again_alone() {
    bounded(async {
        let submits = Arc::new(AtomicU64::new(0));
        let seen = submits.clone();
        let fake = Fake::start(
            hex_id,
            Arc::new(move |s, seq, _sm, id| {
                let n = seen.fetch_add(1, Ordering::SeqCst) + 1;
                Box::pin(async move {
                    if n == 2 {
                        let _ = s
                            .respond(
                                seq,
                                S::ESME_RTHROTTLED,
                                Body::SubmitSmResp(SubmitSmResp::default()),
                            )
                            .await;
                        return;
                    }
                    answer_submit(&s, seq, &id).await;
                    deliver_ok(&s, upstream_receipt(&id, MessageState::Delivered, 0x04)).await;
                })
            }),
        )
        .await;
        let t = Tern::start(&config(
            &Backend::memory(),
            &format!(
                "{}{}{}",
                user("acme", ""),
                connector("up", fake.port, "tern", ""),
                default_route("up")
            ),
        ));
        let mut esme = Inbox::bind(t.port, BindMode::Transceiver, "acme").await;
        let id = submit(&esme.session, long_sms(400)).await;
        let g = final_receipt(&esme.next().await);
        assert_eq!(
            (g.id.as_str(), g.state),
            (id.as_str(), MessageState::Delivered)
        );
        assert_eq!((g.text.sub, g.text.dlvrd), (Some(3), Some(3)), "{g:?}");
        esme.quiet().await;
        assert_eq!(
            submits.load(Ordering::SeqCst),
            4,
            "three parts and the throttled one again, nothing more"
        );
    })
    .await;
}

/// Rejected upstream (a permanent error): rd 1 and rd 2 get one REJECTD
/// receipt, rd 0 none.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rejected_upstream_gets_one_failure_receipt() {
    bounded(async {
        let sim = Sim::start(&["--fail-rate", "1", "--fail-status", "0x45"]);
        let t = Tern::start(&config(
            &Backend::memory(),
            &format!(
                "{}{}{}",
                user("acme", ""),
                connector("sim", sim.port, "tern", ""),
                default_route("sim")
            ),
        ));
        let mut esme = Inbox::bind(t.port, BindMode::Transceiver, "acme").await;
        let s = esme.session.clone();
        let none = submit(&s, sms("447700900123", "rd 0", 0)).await;
        let one = submit(&s, sms("447700900123", "rd 1", 1)).await;
        let two = submit(&s, sms("447700900123", "rd 2", 2)).await;
        let got: Vec<Got> = esme.take(2).await.iter().map(final_receipt).collect();
        assert_eq!(one_each(&got), HashSet::from([one, two]));
        for g in &got {
            assert_eq!(g.state, MessageState::Rejected, "{g:?}");
            assert_eq!((g.text.sub, g.text.dlvrd), (Some(1), Some(0)), "{g:?}");
        }
        wait_state(&s, &none, MessageState::Rejected).await;
        esme.quiet().await;
    })
    .await;
}

/// A receipt waits for a receiver up to the connector's dlr_expiry, and
/// no longer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn receipts_wait_up_to_dlr_expiry() {
    bounded(async {
        let sim = Sim::start(&[]);
        let t = Tern::start(&config(
            &Backend::memory(),
            &format!(
                "{}{}{}",
                user("acme", ""),
                connector("sim", sim.port, "tern", "dlr_expiry = 2"),
                default_route("sim")
            ),
        ));
        let (tx, _e) = bind(t.port, BindMode::Transmitter, "acme", "pw")
            .await
            .unwrap();
        let id = submit(&tx, sms("447700900123", "too late", 1)).await;
        wait_state(&tx, &id, MessageState::Delivered).await;
        tokio::time::sleep(Duration::from_secs(3)).await;
        let mut rx = Inbox::bind(t.port, BindMode::Receiver, "acme").await;
        rx.quiet().await;
    })
    .await;
}

/// A message whose validity passes while its connector cannot reach the
/// SMSC is not sent when it can: it gets one EXPIRED receipt.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_in_the_queue_gets_an_expired_receipt() {
    bounded(async {
        let submits = Arc::new(AtomicU64::new(0));
        let port = free_port();
        let t = Tern::start(&config(
            &Backend::memory(),
            &format!(
                "{}{}{}",
                user("acme", ""),
                connector("up", port, "tern", ""),
                default_route("up")
            ),
        ));
        let mut esme = Inbox::bind(t.port, BindMode::Transceiver, "acme").await;
        let sm = SubmitSm {
            // Relative: 2 seconds.
            validity_period: Bytes::from_static(b"000000000002000R"),
            ..sms("447700900123", "short-lived", 1)
        };
        let id = submit(&esme.session, sm).await;
        tokio::time::sleep(Duration::from_secs(3)).await;
        let n = submits.clone();
        let fake = Fake::start_on(
            port,
            hex_id,
            Arc::new(move |s, seq, _sm, id| {
                n.fetch_add(1, Ordering::Relaxed);
                Box::pin(async move { answer_submit(&s, seq, &id).await })
            }),
        )
        .await;
        let g = final_receipt(&esme.next().await);
        assert_eq!(
            (g.id.as_str(), g.state),
            (id.as_str(), MessageState::Expired)
        );
        assert_eq!(
            query(&esme.session, &id).await.message_state,
            MessageState::Expired
        );
        esme.quiet().await;
        assert_eq!(
            submits.load(Ordering::Relaxed),
            0,
            "sent after its validity"
        );
        drop(fake);
    })
    .await;
}

/// A message whose validity passes while its connector stays down
/// expires then, not when the connector comes back (it never does here):
/// one EXPIRED receipt (sub 1, dlvrd 0, err 000) while the connector is
/// still down, query_sm EXPIRED; a message without a validity_period
/// waits on.
async fn expires_while_its_connector_stays_down_on(backend: Backend) {
    let nowhere = free_port();
    let t = Tern::start(&config(
        &backend,
        &format!(
            "{}{}{}",
            user("acme", ""),
            connector("down", nowhere, "tern", ""),
            default_route("down")
        ),
    ));
    let mut esme = Inbox::bind(t.port, BindMode::Transceiver, "acme").await;
    let sm = SubmitSm {
        // Relative: 2 seconds.
        validity_period: Bytes::from_static(b"000000000002000R"),
        ..sms("447700900123", "short-lived", 1)
    };
    let submitted = tokio::time::Instant::now();
    let id = submit(&esme.session, sm).await;
    let waits = submit(&esme.session, sms("447700900123", "patient", 1)).await;
    let g = final_receipt(&esme.next().await);
    assert!(
        submitted.elapsed() >= Duration::from_millis(1500),
        "expired before its validity ended: {:?}",
        submitted.elapsed()
    );
    assert_eq!(
        (g.id.as_str(), g.state, g.error),
        (id.as_str(), MessageState::Expired, 0)
    );
    assert_eq!((g.text.sub, g.text.dlvrd), (Some(1), Some(0)));
    let q = query(&esme.session, &id).await;
    assert_eq!(q.message_state, MessageState::Expired);
    assert!(!q.final_date.is_empty());
    assert_eq!(
        query(&esme.session, &waits).await.message_state,
        MessageState::Enroute
    );
    esme.quiet().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expires_while_its_connector_stays_down() {
    bounded(expires_while_its_connector_stays_down_on(Backend::memory())).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expires_while_its_connector_stays_down_redis() {
    bounded(expires_while_its_connector_stays_down_on(Backend::redis())).await;
}

/// The SMSC accepts the messages and never sends their receipts (one
/// hour's delay): when the connector's `dlr_expiry` (2 s) has passed,
/// each becomes final in its `dlr_expiry_state` and its user gets that
/// one final receipt — UNKNOWN by default, EXPIRED where the connector
/// says so.
async fn no_receipt_within_dlr_expiry_ends_in_its_state_on(backend: Backend) {
    let sim = Sim::start(&["--dlr-delay-ms", "3600000"]);
    let rest = format!(
        "{}{}{}{}\
         [filter:expired]\ntype = destination_addr\nvalue = ^2\n\
         [mt-route:1]\ntype = static\nconnectors = expiring\nfilters = expired\n",
        user("acme", ""),
        connector("quiet", sim.port, "tern", "dlr_expiry = 2"),
        connector(
            "expiring",
            sim.port,
            "tern2",
            "dlr_expiry = 2\ndlr_expiry_state = EXPIRED"
        ),
        default_route("quiet"),
    );
    let t = Tern::start(&config(&backend, &rest));
    let mut esme = Inbox::bind(t.port, BindMode::Transceiver, "acme").await;
    let s = esme.session.clone();
    let unknown = submit(&s, sms("447700900123", "into the void", 1)).await;
    let expired = submit(&s, sms("247700900123", "into the void too", 1)).await;
    let silent = submit(&s, sms("447700900124", "no receipt wanted", 0)).await;
    sim_until(&sim, "every submit taken", |c| c["submit_ok"] == 3).await;
    let mut got: Vec<Got> = esme.take(2).await.iter().map(final_receipt).collect();
    got.sort_by_key(|g| g.id != unknown);
    assert_eq!(
        (got[0].id.as_str(), got[0].state),
        (unknown.as_str(), MessageState::Unknown)
    );
    assert_eq!(
        (got[1].id.as_str(), got[1].state),
        (expired.as_str(), MessageState::Expired)
    );
    for g in &got {
        assert_eq!(g.error, 0);
        assert_eq!((g.text.sub, g.text.dlvrd), (Some(1), Some(0)));
    }
    assert_eq!(
        query(&s, &unknown).await.message_state,
        MessageState::Unknown
    );
    assert_eq!(
        query(&s, &expired).await.message_state,
        MessageState::Expired
    );
    wait_state(&s, &silent, MessageState::Unknown).await;
    esme.quiet().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_receipt_within_dlr_expiry_ends_in_its_state() {
    bounded(no_receipt_within_dlr_expiry_ends_in_its_state_on(
        Backend::memory(),
    ))
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_receipt_within_dlr_expiry_ends_in_its_state_redis() {
    bounded(no_receipt_within_dlr_expiry_ends_in_its_state_on(
        Backend::redis(),
    ))
    .await;
}

/// Upstream ids in hex and in decimal, read with id_format auto, hex and
/// dec: every message gets its receipt.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hex_and_decimal_ids() {
    bounded(async {
        let hex = Sim::start(&["--id-format", "hex"]);
        let dec = Sim::start(&["--id-format", "dec"]);
        let cases = [
            ("hexauto", hex.port, "auto"),
            ("hexhex", hex.port, "hex"),
            ("decauto", dec.port, "auto"),
            ("decdec", dec.port, "dec"),
        ];
        let mut rest = user("acme", "");
        for (i, (name, port, format)) in cases.iter().enumerate() {
            rest += &connector(name, *port, name, &format!("id_format = {format}"));
            rest += &format!(
                "[filter:{name}]\ntype = destination_addr\nvalue = ^{d}\n[mt-route:{o}]\ntype = static\nconnectors = {name}\nfilters = {name}\n",
                d = i + 1,
                o = i + 1
            );
        }
        rest += &default_route("hexauto");
        let t = Tern::start(&config(&Backend::memory(), &rest));
        let mut esme = Inbox::bind(t.port, BindMode::Transceiver, "acme").await;
        let s = esme.session.clone();
        // 20 each: hex ids 1..14 have letters and digits only, decimal
        // ones 1..20.
        let mut ids = HashSet::new();
        for i in 0..20 {
            for d in 1..=cases.len() {
                let dest = format!("{d}4477009001{i:02}");
                ids.insert(submit(&s, sms(&dest, "ids", 1)).await);
            }
        }
        let got: Vec<Got> = esme.take(ids.len()).await.iter().map(final_receipt).collect();
        assert_eq!(one_each(&got), ids);
        for id in &ids {
            assert_eq!(query(&s, id).await.message_state, MessageState::Delivered);
        }
        esme.quiet().await;
    })
    .await;
}

/// An upstream that writes its ids as many do, upper-case hex with
/// leading zeros (the same in submit_sm_resp and in the receipt), read
/// with id_format hex or auto.
async fn upper_case_hex_ids_on(format: &str) {
    let fake = Fake::start(
        |n| format!("{:08X}", 0xABC + n),
        Arc::new(|s, seq, _sm, id| {
            Box::pin(async move {
                answer_submit(&s, seq, &id).await;
                deliver_ok(&s, upstream_receipt(&id, MessageState::Delivered, 0x04)).await;
            })
        }),
    )
    .await;
    let t = Tern::start(&config(
        &Backend::memory(),
        &format!(
            "{}{}{}",
            user("acme", ""),
            connector("up", fake.port, "tern", &format!("id_format = {format}")),
            default_route("up")
        ),
    ));
    let mut esme = Inbox::bind(t.port, BindMode::Transceiver, "acme").await;
    let id = submit(&esme.session, sms("447700900123", "upper", 1)).await;
    wait_state(&esme.session, &id, MessageState::Delivered).await;
    let g = final_receipt(&esme.next().await);
    assert_eq!(
        (g.id.as_str(), g.state),
        (id.as_str(), MessageState::Delivered)
    );
    esme.quiet().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upper_case_hex_ids_hex() {
    bounded(upper_case_hex_ids_on("hex")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upper_case_hex_ids_auto() {
    bounded(upper_case_hex_ids_on("auto")).await;
}

/// An SMSC that answers submit_sm with hex ids and writes the same ids
/// in decimal in its receipts (0xABD = 2749): submit_id_format = hex,
/// id_format = dec.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn decimal_receipts_for_hex_answers() {
    bounded(async {
        let fake = Fake::start(
            |n| format!("{:x}", 0xABC + n),
            Arc::new(|s, seq, _sm, id| {
                Box::pin(async move {
                    answer_submit(&s, seq, &id).await;
                    let dec = u64::from_str_radix(&id, 16).unwrap().to_string();
                    deliver_ok(&s, upstream_receipt(&dec, MessageState::Delivered, 0x04)).await;
                })
            }),
        )
        .await;
        let t = Tern::start(&config(
            &Backend::memory(),
            &format!(
                "{}{}{}",
                user("acme", ""),
                connector(
                    "up",
                    fake.port,
                    "tern",
                    "id_format = dec\nsubmit_id_format = hex"
                ),
                default_route("up")
            ),
        ));
        let mut esme = Inbox::bind(t.port, BindMode::Transceiver, "acme").await;
        let id = submit(&esme.session, sms("447700900123", "bases", 1)).await;
        wait_state(&esme.session, &id, MessageState::Delivered).await;
        let g = final_receipt(&esme.next().await);
        assert_eq!(
            (g.id.as_str(), g.state),
            (id.as_str(), MessageState::Delivered)
        );
        esme.quiet().await;
    })
    .await;
}

/// Many SMSCs send receipts as text only (no TLVs): the user's receipt
/// still has its TLVs, state and error from the text.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn text_only_receipts() {
    bounded(async {
        let fake = Fake::start(
            hex_id,
            Arc::new(|s, seq, _sm, id| {
                Box::pin(async move {
                    answer_submit(&s, seq, &id).await;
                    let n = u64::from_str_radix(&id, 16).unwrap();
                    let (stat, err) = if n % 2 == 0 {
                        ("UNDELIV", "034")
                    } else {
                        ("DELIVRD", "000")
                    };
                    let text = format!(
                        "id:{id} sub:001 dlvrd:00{} submit date:2601011200 done date:2601011201 stat:{stat} err:{err} text:hello",
                        n % 2
                    );
                    let body = Body::DeliverSm(DeliverSm {
                        source: addr(Ton::INTERNATIONAL, Npi::ISDN, "447700900123"),
                        destination: addr(Ton::ALPHANUMERIC, Npi::UNKNOWN, "Tern"),
                        esm_class: EsmClass(EsmClass::TYPE_DELIVERY_RECEIPT),
                        short_message: Bytes::from(text),
                        ..Default::default()
                    });
                    deliver_ok(&s, body).await;
                })
            }),
        )
        .await;
        let t = Tern::start(&config(
            &Backend::memory(),
            &format!(
                "{}{}{}",
                user("acme", ""),
                connector("up", fake.port, "tern", "window = 1"),
                default_route("up")
            ),
        ));
        let mut esme = Inbox::bind(t.port, BindMode::Transceiver, "acme").await;
        let mut ids = HashSet::new();
        for i in 0..4 {
            let id = submit(&esme.session, sms("447700900123", &format!("t{i}"), 1)).await;
            ids.insert(id);
        }
        let got: Vec<Got> = esme.take(4).await.iter().map(final_receipt).collect();
        assert_eq!(one_each(&got), ids);
        let mut states: Vec<(MessageState, u16)> = got.iter().map(|g| (g.state, g.error)).collect();
        states.sort_by_key(|(s, _)| s.as_u8());
        assert_eq!(
            states,
            [
                (MessageState::Delivered, 0),
                (MessageState::Delivered, 0),
                (MessageState::Undeliverable, 34),
                (MessageState::Undeliverable, 34)
            ]
        );
        esme.quiet().await;
    })
    .await;
}

/// The receipt comes on the same session before the submit_sm_resp that
/// gives its id: held, then matched, delivered once.
async fn receipt_before_its_mapping_on(backend: Backend) {
    let fake = Fake::start(
        hex_id,
        Arc::new(|s, seq, _sm, id| {
            Box::pin(async move {
                // Answered (so stored) before its mapping can exist.
                deliver_ok(&s, upstream_receipt(&id, MessageState::Delivered, 0x04)).await;
                tokio::time::sleep(Duration::from_millis(200)).await;
                answer_submit(&s, seq, &id).await;
            })
        }),
    )
    .await;
    let t = Tern::start(&config(
        &backend,
        &format!(
            "{}{}{}",
            user("acme", ""),
            connector("up", fake.port, "tern", ""),
            default_route("up")
        ),
    ));
    let mut esme = Inbox::bind(t.port, BindMode::Transceiver, "acme").await;
    let s = esme.session.clone();
    let mut ids = HashSet::new();
    for i in 0..5 {
        ids.insert(submit(&s, sms("447700900123", &format!("early {i}"), 1)).await);
    }
    let got: Vec<Got> = esme.take(5).await.iter().map(final_receipt).collect();
    assert_eq!(one_each(&got), ids);
    for g in &got {
        assert_eq!(g.state, MessageState::Delivered);
        assert_eq!(
            query(&s, &g.id).await.message_state,
            MessageState::Delivered
        );
    }
    esme.quiet().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn receipt_before_its_mapping() {
    bounded(receipt_before_its_mapping_on(Backend::memory())).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]

async fn receipt_before_its_mapping_redis() {
    bounded(receipt_before_its_mapping_on(Backend::redis())).await;
}

/// An upstream that answers, sends ENROUTE (intermediate notification,
/// message_state 1), and DELIVRD once the test releases it.
fn enroute_then_delivered(release: watch::Receiver<bool>) -> OnSubmit {
    Arc::new(move |s, seq, _sm, id| {
        let mut release = release.clone();
        Box::pin(async move {
            answer_submit(&s, seq, &id).await;
            let intermediate = EsmClass::TYPE_INTERMEDIATE_NOTIFICATION;
            deliver_ok(
                &s,
                upstream_receipt(&id, MessageState::Enroute, intermediate),
            )
            .await;
            let _ = release.wait_for(|go| *go).await;
            deliver_ok(&s, upstream_receipt(&id, MessageState::Delivered, 0x04)).await;
        })
    })
}

/// registered_delivery 0x11 gets the intermediate receipt and the final
/// one; 0x01 only the final one.
async fn intermediate_receipts_on(backend: Backend) {
    let (go, release) = watch::channel(false);
    let fake = Fake::start(hex_id, enroute_then_delivered(release)).await;
    let t = Tern::start(&config(
        &backend,
        &format!(
            "{}{}{}{}",
            user("both", ""),
            user("finals", ""),
            connector("up", fake.port, "tern", ""),
            default_route("up")
        ),
    ));
    let mut both = Inbox::bind(t.port, BindMode::Transceiver, "both").await;
    let mut finals = Inbox::bind(t.port, BindMode::Transceiver, "finals").await;
    let f = submit(&finals.session, sms("447700900123", "finals only", 0x01)).await;
    let b = submit(&both.session, sms("447700900123", "both please", 0x11)).await;
    // The intermediate one comes first (its mapping exists then: the final
    // one can only be matched).
    let d = both.next().await;
    let g = receipt_of(&d);
    assert_eq!(
        (g.id.as_str(), g.state),
        (b.as_str(), MessageState::Enroute)
    );
    assert_eq!(g.text.stat, MessageState::Enroute);
    assert!(
        [
            EsmClass::TYPE_DELIVERY_RECEIPT,
            EsmClass::TYPE_INTERMEDIATE_NOTIFICATION
        ]
        .contains(&d.esm_class.message_type()),
        "{d:?}"
    );
    assert_eq!(
        query(&both.session, &b).await.message_state,
        MessageState::Enroute
    );
    go.send(true).unwrap();
    let g = final_receipt(&both.next().await);
    assert_eq!(
        (g.id.as_str(), g.state),
        (b.as_str(), MessageState::Delivered)
    );
    let g = final_receipt(&finals.next().await);
    assert_eq!(
        (g.id.as_str(), g.state),
        (f.as_str(), MessageState::Delivered)
    );
    both.quiet().await;
    finals.quiet().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn intermediate_receipts() {
    bounded(intermediate_receipts_on(Backend::memory())).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]

async fn intermediate_receipts_redis() {
    bounded(intermediate_receipts_on(Backend::redis())).await;
}

/// SMPP 3.4 §5.2.12: an intermediate notification is esm_class 0x20 in
/// deliver_sm (smsc-sim sends it so, smpp-load reads it so).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn intermediate_receipts_are_marked_intermediate() {
    bounded(async {
        let (go, release) = watch::channel(false);
        let fake = Fake::start(hex_id, enroute_then_delivered(release)).await;
        let t = Tern::start(&config(
            &Backend::memory(),
            &format!(
                "{}{}{}",
                user("both", ""),
                connector("up", fake.port, "tern", ""),
                default_route("up")
            ),
        ));
        let mut both = Inbox::bind(t.port, BindMode::Transceiver, "both").await;
        submit(&both.session, sms("447700900123", "both please", 0x11)).await;
        let d = both.next().await;
        assert_eq!(receipt_of(&d).state, MessageState::Enroute);
        assert_eq!(
            d.esm_class.message_type(),
            EsmClass::TYPE_INTERMEDIATE_NOTIFICATION
        );
        go.send(true).unwrap();
        final_receipt(&both.next().await);
    })
    .await;
}

/// A final receipt held for want of its mapping must not be lost to an
/// intermediate one for the same id that comes after it (out of order, as
/// over two sessions or a resend).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_held_final_receipt_survives_a_later_intermediate() {
    bounded(async {
        let fake = Fake::start(
            hex_id,
            Arc::new(|s, seq, _sm, id| {
                Box::pin(async move {
                    deliver_ok(&s, upstream_receipt(&id, MessageState::Delivered, 0x04)).await;
                    let intermediate = EsmClass::TYPE_INTERMEDIATE_NOTIFICATION;
                    deliver_ok(
                        &s,
                        upstream_receipt(&id, MessageState::Enroute, intermediate),
                    )
                    .await;
                    answer_submit(&s, seq, &id).await;
                })
            }),
        )
        .await;
        let t = Tern::start(&config(
            &Backend::memory(),
            &format!(
                "{}{}{}",
                user("acme", ""),
                connector("up", fake.port, "tern", ""),
                default_route("up")
            ),
        ));
        let mut esme = Inbox::bind(t.port, BindMode::Transceiver, "acme").await;
        let id = submit(&esme.session, sms("447700900123", "out of order", 1)).await;
        wait_state(&esme.session, &id, MessageState::Delivered).await;
        let g = final_receipt(&esme.next().await);
        assert_eq!(
            (g.id.as_str(), g.state),
            (id.as_str(), MessageState::Delivered)
        );
        esme.quiet().await;
    })
    .await;
}

fn mo(source: &str, dest: &str, esm_class: u8, short_message: &[u8]) -> Body<Bytes> {
    Body::DeliverSm(DeliverSm {
        source: addr(Ton::INTERNATIONAL, Npi::ISDN, source),
        destination: addr(Ton::NATIONAL, Npi::ISDN, dest),
        esm_class: EsmClass(esm_class),
        short_message: Bytes::copy_from_slice(short_message),
        ..Default::default()
    })
}

/// A part of a concatenated MO: 8-bit reference UDH, then the text.
fn mo_part(dest: &str, reference: u8, total: u8, seq: u8, text: &str) -> Body<Bytes> {
    let mut sm = vec![0x05, 0x00, 0x03, reference, total, seq];
    sm.extend_from_slice(text.as_bytes());
    mo("447700900777", dest, EsmClass::UDHI, &sm)
}

/// MO goes to the user its mo-route names, by destination; a user with
/// mo_reassemble gets a concatenated MO whole, another gets the parts.
async fn mo_routing_on(backend: Backend) {
    let fake = Fake::start(
        hex_id,
        Arc::new(|s, seq, _sm, id| Box::pin(async move { answer_submit(&s, seq, &id).await })),
    )
    .await;
    let t = Tern::start(&config(
        &backend,
        &format!(
            "{}{}{}{}{}{}
[filter:to1]
type = destination_addr
value = ^1111$
[filter:to2]
type = destination_addr
value = ^2222$
[filter:to3]
type = destination_addr
value = ^3333$
[filter:to4]
type = destination_addr
value = ^4444$
[mo-route:40]
type = static
users = alice
filters = to1
[mo-route:30]
type = static
users = bob
filters = to2
[mo-route:20]
type = static
users = joiner
filters = to3
[mo-route:10]
type = static
users = raw
filters = to4
",
            user("alice", ""),
            user("bob", ""),
            user("joiner", "mo_reassemble = yes"),
            user("raw", ""),
            connector("up", fake.port, "tern", ""),
            default_route("up")
        ),
    ));
    let mut alice = Inbox::bind(t.port, BindMode::Receiver, "alice").await;
    let mut bob = Inbox::bind(t.port, BindMode::Transceiver, "bob").await;
    let up = fake.receiver().await;
    for i in 0..3 {
        deliver_ok(
            &up,
            mo(
                "447700900001",
                "1111",
                0,
                format!("to alice {i}").as_bytes(),
            ),
        )
        .await;
        deliver_ok(
            &up,
            mo("447700900002", "2222", 0, format!("to bob {i}").as_bytes()),
        )
        .await;
    }
    // An MO as data_sm: to the user as deliver_sm, the text in
    // message_payload.
    let mut payload = TlvsBuilder::new();
    payload.push(TlvTag::MESSAGE_PAYLOAD, b"to alice as data_sm");
    let r = up
        .request(Body::DataSm(DataSm {
            source: addr(Ton::INTERNATIONAL, Npi::ISDN, "447700900001"),
            destination: addr(Ton::NATIONAL, Npi::ISDN, "1111"),
            tlvs: payload.build(),
            ..Default::default()
        }))
        .await
        .unwrap();
    assert_eq!(r.command_status, S::ESME_ROK);
    assert!(matches!(r.body, Body::DataSmResp(_)), "{r:?}");
    // No route takes it: refused, so the SMSC knows.
    let r = up
        .request(mo("447700900003", "9999", 0, b"nobody"))
        .await
        .unwrap();
    assert_eq!(r.command_status, S::ESME_RX_R_APPN);
    for (inbox, who, from, to) in [
        (&mut alice, "alice", "447700900001", "1111"),
        (&mut bob, "bob", "447700900002", "2222"),
    ] {
        let got = inbox.take(3).await;
        let mut texts: Vec<String> = got
            .iter()
            .map(|d| {
                assert!(!d.esm_class.is_receipt(), "{d:?}");
                assert_eq!(&d.source.addr[..], from.as_bytes());
                assert_eq!(&d.destination.addr[..], to.as_bytes());
                String::from_utf8(d.short_message.to_vec()).unwrap()
            })
            .collect();
        texts.sort();
        let want: Vec<String> = (0..3).map(|i| format!("to {who} {i}")).collect();
        assert_eq!(texts, want);
    }
    let d = alice.next().await;
    assert!(d.short_message.is_empty(), "{d:?}");
    assert_eq!(d.tlvs.message_payload(), Some(&b"to alice as data_sm"[..]));

    // Reassembly: three UDH parts, sent together (a joining user's parts
    // are answered once the whole message is stored).
    let mut joiner = Inbox::bind(t.port, BindMode::Receiver, "joiner").await;
    let mut raw = Inbox::bind(t.port, BindMode::Receiver, "raw").await;
    let parts = ["first part, ", "second part, ", "third part."];
    for dest in ["3333", "4444"] {
        let mut pending = Vec::new();
        for (i, p) in parts.iter().enumerate() {
            let part = mo_part(dest, 0x42, 3, i as u8 + 1, p);
            pending.push(up.send_request(part).await.unwrap());
        }
        for p in pending {
            assert_eq!(p.await.unwrap().command_status, S::ESME_ROK);
        }
    }
    let whole = joiner.next().await;
    assert!(!whole.esm_class.udhi(), "{whole:?}");
    assert!(whole.short_message.is_empty(), "{whole:?}");
    assert_eq!(
        whole.tlvs.message_payload(),
        Some(parts.concat().as_bytes())
    );
    assert_eq!(&whole.destination.addr[..], b"3333");
    assert_eq!(&whole.source.addr[..], b"447700900777");
    // The same with SAR TLVs, parts out of order.
    let mut pending = Vec::new();
    for i in [2u8, 0, 1] {
        let mut t = TlvsBuilder::new();
        t.push_u16(TlvTag::SAR_MSG_REF_NUM, 0x0777)
            .push_u8(TlvTag::SAR_TOTAL_SEGMENTS, 3)
            .push_u8(TlvTag::SAR_SEGMENT_SEQNUM, i + 1);
        let Body::DeliverSm(part) = mo("447700900777", "3333", 0, parts[i as usize].as_bytes())
        else {
            unreachable!()
        };
        let part = DeliverSm {
            tlvs: t.build(),
            ..part
        };
        pending.push(up.send_request(Body::DeliverSm(part)).await.unwrap());
    }
    for p in pending {
        assert_eq!(p.await.unwrap().command_status, S::ESME_ROK);
    }
    let whole = joiner.next().await;
    assert_eq!(
        whole.tlvs.message_payload(),
        Some(parts.concat().as_bytes()),
        "{whole:?}"
    );
    assert!(whole.tlvs.sar_msg_ref_num().is_none(), "{whole:?}");
    let mut seqs: Vec<(u8, Vec<u8>)> = raw
        .take(3)
        .await
        .iter()
        .map(|d| {
            assert!(d.esm_class.udhi(), "{d:?}");
            assert_eq!(&d.short_message[..5], &[0x05, 0x00, 0x03, 0x42, 3]);
            (d.short_message[5], d.short_message[6..].to_vec())
        })
        .collect();
    seqs.sort();
    let want: Vec<(u8, Vec<u8>)> = parts
        .iter()
        .enumerate()
        .map(|(i, p)| (i as u8 + 1, p.as_bytes().to_vec()))
        .collect();
    assert_eq!(seqs, want);
    // Nothing else for anyone.
    tokio::join!(alice.quiet(), bob.quiet(), joiner.quiet(), raw.quiet());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mo_routing() {
    bounded(mo_routing_on(Backend::memory())).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]

async fn mo_routing_redis() {
    bounded(mo_routing_on(Backend::redis())).await;
}

/// An SMSC spreads MO over the binds it has (smsc-sim does, as real ones
/// do): the parts of one concatenated MO come on two sessions of one
/// connector and must still be joined.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mo_parts_over_two_sessions_are_joined() {
    bounded(async {
        let fake = Fake::start(
            hex_id,
            Arc::new(|s, seq, _sm, id| Box::pin(async move { answer_submit(&s, seq, &id).await })),
        )
        .await;
        let t = Tern::start(&config(
            &Backend::memory(),
            &format!(
                "{}{}{}[mo-route:0]\ntype = default\nusers = joiner\n",
                user("joiner", "mo_reassemble = yes"),
                connector("up", fake.port, "tern", "sessions = 2"),
                default_route("up")
            ),
        ));
        let mut joiner = Inbox::bind(t.port, BindMode::Receiver, "joiner").await;
        let deadline = tokio::time::Instant::now() + WITHIN;
        let (a, b) = loop {
            let bound: Vec<Session> = fake.receivers.lock().unwrap().clone();
            if let [a, b, ..] = &bound[..] {
                break (a.clone(), b.clone());
            }
            assert!(tokio::time::Instant::now() < deadline, "two binds");
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        let parts = ["first part, ", "second part, ", "third part."];
        let mut pending = Vec::new();
        for (i, p) in parts.iter().enumerate() {
            let on = if i == 0 { &a } else { &b };
            let part = mo_part("3333", 0x43, 3, i as u8 + 1, p);
            pending.push(on.send_request(part).await.unwrap());
        }
        let whole = joiner.next().await;
        assert!(!whole.esm_class.udhi(), "a part, not the whole: {whole:?}");
        assert_eq!(
            whole.tlvs.message_payload(),
            Some(parts.concat().as_bytes())
        );
        for p in pending {
            assert_eq!(p.await.unwrap().command_status, S::ESME_ROK);
        }
        joiner.quiet().await;
    })
    .await;
}

/// smsc-sim's MO (to 12345) reaches the user the default mo-route names.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn simulator_mo_reaches_its_user() {
    bounded(async {
        let sim = Sim::start(&["--mo-rate", "20"]);
        let t = Tern::start(&config(
            &Backend::memory(),
            &format!(
                "{}{}{}{}[mo-route:0]\ntype = default\nusers = inbound\n",
                user("acme", ""),
                user("inbound", ""),
                connector("sim", sim.port, "tern", ""),
                default_route("sim")
            ),
        ));
        let mut acme = Inbox::bind(t.port, BindMode::Receiver, "acme").await;
        // Taken by tern while the user has no receiver: they wait for one.
        sim_until(&sim, "5 MO acknowledged", |c| {
            c["mo_acked"].as_u64().unwrap() >= 5
        })
        .await;
        let mut inbound = Inbox::bind(t.port, BindMode::Receiver, "inbound").await;
        let mut texts = HashSet::new();
        for d in inbound.take(5).await {
            assert!(!d.esm_class.is_receipt(), "{d:?}");
            assert_eq!(&d.destination.addr[..], b"12345");
            assert!(d.short_message.starts_with(b"MO message "), "{d:?}");
            texts.insert(d.short_message.clone());
        }
        assert_eq!(texts.len(), 5, "each MO once");
        acme.quiet().await;
    })
    .await;
}

/// The SMSC drops the connection every 150 PDUs: with receipts flowing
/// and messages in flight, every message still gets exactly one receipt.
async fn dropped_connection_mid_window_on(backend: Backend) {
    let sim = Sim::start(&["--drop-after", "150"]);
    let t = Tern::start(&config(
        &backend,
        &format!(
            "{}{}{}",
            user("acme", ""),
            connector("sim", sim.port, "tern", ""),
            default_route("sim")
        ),
    ));
    let mut esme = Inbox::bind(t.port, BindMode::Transceiver, "acme").await;
    let s = esme.session.clone();
    const N: usize = 400;
    let mut pending = Vec::with_capacity(N);
    for i in 0..N {
        let body = Body::SubmitSm(sms("447700900123", &format!("drop {i}"), 1));
        pending.push(s.send_request(body).await.unwrap());
    }
    let mut ids = HashSet::new();
    for p in pending {
        let r = p.await.unwrap();
        assert_eq!(r.command_status, S::ESME_ROK);
        let Body::SubmitSmResp(r) = r.body else {
            panic!()
        };
        ids.insert(String::from_utf8(r.message_id.to_vec()).unwrap());
    }
    let got: Vec<Got> = esme.take(N).await.iter().map(final_receipt).collect();
    assert_eq!(one_each(&got), ids);
    esme.quiet().await;
    let c = sim.counters();
    assert!(c["drops"].as_u64().unwrap() >= 2, "{c}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropped_connection_mid_window() {
    bounded(dropped_connection_mid_window_on(Backend::memory())).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]

async fn dropped_connection_mid_window_redis() {
    bounded(dropped_connection_mid_window_on(Backend::redis())).await;
}

/// The SMSC throttles 30 % of submits: each is retried until accepted,
/// and gets one receipt.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upstream_throttling() {
    bounded(async {
        let sim = Sim::start(&["--throttle-rate", "0.3"]);
        let t = Tern::start(&config(
            &Backend::memory(),
            &format!(
                "{}{}{}",
                user("acme", ""),
                connector("sim", sim.port, "tern", ""),
                default_route("sim")
            ),
        ));
        let mut esme = Inbox::bind(t.port, BindMode::Transceiver, "acme").await;
        let s = esme.session.clone();
        let mut ids = HashSet::new();
        for i in 0..25 {
            ids.insert(submit(&s, sms("447700900123", &format!("slow {i}"), 1)).await);
        }
        let got: Vec<Got> = esme
            .take(ids.len())
            .await
            .iter()
            .map(final_receipt)
            .collect();
        assert_eq!(one_each(&got), ids);
        for id in &ids {
            assert_eq!(query(&s, id).await.message_state, MessageState::Delivered);
        }
        esme.quiet().await;
        assert!(sim.counters()["throttled"].as_u64().unwrap() > 0);
    })
    .await;
}

/// smpp-load through tern to smsc-sim: every message accepted, every
/// receipt matched once, none lost.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn load_every_receipt_exactly_once() {
    bounded(async {
        let sim = Sim::start(&[]);
        let t = Tern::start(&config(
            &Backend::memory(),
            &format!(
                "{}{}{}",
                user("acme", ""),
                connector("sim", sim.port, "tern", ""),
                default_route("sim")
            ),
        ));
        const COUNT: u64 = 20_000;
        let port = t.port.to_string();
        let out = tokio::task::spawn_blocking(move || {
            run_with_timeout(
                "smpp-load",
                &[
                    "--port",
                    &port,
                    "-u",
                    "acme",
                    "-p",
                    "pw",
                    "--count",
                    &COUNT.to_string(),
                    "--binds",
                    "2",
                    "--dlr",
                    "--json",
                ],
                Duration::from_secs(120),
            )
        })
        .await
        .unwrap();
        let s: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!(
                "smpp-load printed no JSON ({e}): {}",
                String::from_utf8_lossy(&out.stderr)
            )
        });
        assert_eq!(s["ok"], COUNT, "{s}");
        assert_eq!(s["dlr_matched"], COUNT, "{s}");
        assert_eq!(s["lost"], 0, "{s}");
        assert_eq!(s["duplicates"], 0, "{s}");
        assert_eq!(s["dlr_unmatched"], 0, "{s}");
        assert_eq!(s["dlr_invalid"], 0, "{s}");
        assert!(out.status.success(), "{s}");
        eprintln!("smpp-load: {s}");
    })
    .await;
}
