//! Session behaviour over in-memory pipes (so timers run on paused time)
//! and real loopback TCP: binds, the window, every timer, state errors,
//! malformed input, unbind from each side, batching and back-pressure.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use smpp::pdu::*;
use smpp::{CommandStatus as S, FrameDecoder};
use smpp_session::{
    BindMode, BindState, CloseReason, Event, Session, SessionConfig, SessionError, esme, smsc,
};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, DuplexStream, ReadBuf};
use tokio::sync::mpsc;

fn bind_body(user: &str) -> Bind<Bytes> {
    Bind {
        system_id: Bytes::copy_from_slice(user.as_bytes()),
        password: Bytes::from_static(b"pw"),
        interface_version: 0x34,
        ..Default::default()
    }
}

fn submit(text: &str) -> Body<Bytes> {
    Body::SubmitSm(SubmitSm {
        destination: Address {
            ton: Ton::INTERNATIONAL,
            npi: Npi::ISDN,
            addr: Bytes::from_static(b"4477"),
        },
        short_message: Bytes::copy_from_slice(text.as_bytes()),
        ..Default::default()
    })
}

/// An SMSC that accepts any bind and answers submit_sm with the id "id-N".
fn simple_smsc(io: DuplexStream, config: SessionConfig) -> Session {
    let (session, mut events) = smsc::accept(io, "test".into(), config);
    let s = session.clone();
    tokio::spawn(async move {
        let mut n = 0;
        while let Some(Event::Request(pdu)) = events.recv().await {
            let seq = pdu.sequence_number;
            let body = match pdu.body {
                Body::BindTransmitter(_) => Body::BindTransmitterResp(BindResp {
                    system_id: Bytes::from_static(b"sim"),
                    tlvs: Default::default(),
                }),
                Body::BindReceiver(_) => Body::BindReceiverResp(BindResp::default()),
                Body::BindTransceiver(_) => Body::BindTransceiverResp(BindResp::default()),
                Body::SubmitSm(_) => {
                    n += 1;
                    Body::SubmitSmResp(SubmitSmResp {
                        message_id: Bytes::from(format!("id-{n}")),
                        tlvs: Default::default(),
                    })
                }
                _ => continue,
            };
            if s.respond(seq, S::ESME_ROK, body).await.is_err() {
                break;
            }
        }
    });
    session
}

/// A raw peer: write PDUs and read frames by hand.
struct Raw {
    io: DuplexStream,
    buf: BytesMut,
}

impl Raw {
    async fn send(&mut self, pdu: Pdu<Bytes>) {
        self.io.write_all(&pdu.to_bytes().unwrap()).await.unwrap();
    }

    async fn send_bytes(&mut self, b: &[u8]) {
        self.io.write_all(b).await.unwrap();
    }

    /// The next PDU, or None at end of stream.
    async fn recv(&mut self) -> Option<Pdu<Bytes>> {
        let d = FrameDecoder::default();
        loop {
            if let Some(raw) = d.decode(&mut self.buf).unwrap() {
                return Some(raw.decode(&Limits::SMPP34).unwrap());
            }
            if self.io.read_buf(&mut self.buf).await.unwrap() == 0 {
                return None;
            }
        }
    }
}

fn pipe() -> (DuplexStream, Raw) {
    let (a, b) = tokio::io::duplex(64 * 1024);
    (
        a,
        Raw {
            io: b,
            buf: BytesMut::new(),
        },
    )
}

fn quiet() -> SessionConfig {
    SessionConfig {
        session_init_timer: None,
        enquire_link_timer: None,
        inactivity_timer: None,
        pdu_read_timer: None,
        ..Default::default()
    }
}

async fn bound_pair(
    mode: BindMode,
    config: SessionConfig,
) -> (Session, mpsc::Receiver<Event>, Session) {
    let (a, b) = tokio::io::duplex(256 * 1024);
    let server = simple_smsc(b, config.clone());
    let (client, events, resp) = esme::bind(a, "test".into(), mode, bind_body("u"), config)
        .await
        .unwrap();
    if mode == BindMode::Transmitter {
        assert_eq!(resp.system_id, Bytes::from_static(b"sim"));
    }
    (client, events, server)
}

#[tokio::test]
async fn bind_submit_and_unbind_from_the_esme() {
    let (client, _events, server) = bound_pair(BindMode::Transmitter, quiet()).await;
    assert_eq!(client.state(), BindState::Bound(BindMode::Transmitter));
    assert_eq!(server.state(), BindState::Bound(BindMode::Transmitter));
    let resp = client.request(submit("hello")).await.unwrap();
    assert_eq!(resp.command_status, S::ESME_ROK);
    let Body::SubmitSmResp(r) = resp.body else {
        panic!()
    };
    assert_eq!(r.message_id, Bytes::from_static(b"id-1"));
    client.unbind().await.unwrap();
    assert_eq!(client.closed().await, CloseReason::Unbound);
    assert_eq!(server.closed().await, CloseReason::PeerUnbound);
}

#[tokio::test]
async fn unbind_from_the_smsc() {
    let (client, _events, server) = bound_pair(BindMode::Transceiver, quiet()).await;
    server.unbind().await.unwrap();
    assert_eq!(server.closed().await, CloseReason::Unbound);
    assert_eq!(client.closed().await, CloseReason::PeerUnbound);
    // Requests after the close fail cleanly.
    assert!(matches!(
        client.request(submit("late")).await,
        Err(SessionError::Closed(_))
    ));
}

#[tokio::test]
async fn bind_refused() {
    let (a, mut raw) = pipe();
    let t = tokio::spawn(async move {
        let p = raw.recv().await.unwrap();
        assert_eq!(p.command_id(), CommandId::BIND_TRANSCEIVER);
        raw.send(Pdu {
            command_status: S::ESME_RINVPASWD,
            sequence_number: p.sequence_number,
            body: Body::BindTransceiverResp(BindResp::default()),
        })
        .await;
        raw
    });
    let r = esme::bind(
        a,
        "t".into(),
        BindMode::Transceiver,
        bind_body("u"),
        quiet(),
    )
    .await;
    assert!(matches!(
        r,
        Err(SessionError::BindRefused(S::ESME_RINVPASWD))
    ));
    t.await.unwrap();
}

#[tokio::test]
async fn state_errors() {
    // Before bind: submit_sm gets ESME_RINVBNDSTS from the SMSC side.
    let (a, mut raw) = pipe();
    let (server, _ev) = smsc::accept(a, "t".into(), quiet());
    raw.send(Pdu::new(5, submit("x"))).await;
    let r = raw.recv().await.unwrap();
    assert_eq!(
        (r.command_id(), r.command_status, r.sequence_number),
        (CommandId::SUBMIT_SM_RESP, S::ESME_RINVBNDSTS, 5)
    );
    // enquire_link is answered in any state.
    raw.send(Pdu::new(6, Body::EnquireLink)).await;
    assert_eq!(
        raw.recv().await.unwrap().command_id(),
        CommandId::ENQUIRE_LINK_RESP
    );
    drop(server);

    // Bound as receiver: submit_sm is refused; a second bind gets RALYBND.
    let (a, mut raw) = pipe();
    let _server = simple_smsc(a, quiet());
    raw.send(Pdu::new(1, Body::BindReceiver(bind_body("u"))))
        .await;
    assert_eq!(raw.recv().await.unwrap().command_status, S::ESME_ROK);
    raw.send(Pdu::new(2, submit("x"))).await;
    let r = raw.recv().await.unwrap();
    assert_eq!(
        (r.command_id(), r.command_status),
        (CommandId::SUBMIT_SM_RESP, S::ESME_RINVBNDSTS)
    );
    raw.send(Pdu::new(3, Body::BindTransmitter(bind_body("u"))))
        .await;
    let r = raw.recv().await.unwrap();
    assert_eq!(
        (r.command_id(), r.command_status),
        (CommandId::BIND_TRANSMITTER_RESP, S::ESME_RALYBND)
    );

    // Our own side refuses to send what the state forbids.
    let (client, _e, _s) = bound_pair(BindMode::Receiver, quiet()).await;
    assert!(matches!(
        client.request(submit("x")).await,
        Err(SessionError::NotAllowed(..))
    ));
}

#[tokio::test]
async fn malformed_input_keeps_the_session_up() {
    let (a, mut raw) = pipe();
    let _server = simple_smsc(a, quiet());
    raw.send(Pdu::new(1, Body::BindTransceiver(bind_body("u"))))
        .await;
    raw.recv().await.unwrap();
    // Unknown command_id: generic_nack, the session stays up.
    raw.send_bytes(&[
        0, 0, 0, 20, 0, 0, 0, 0x99, 0, 0, 0, 0, 0, 0, 0, 9, 1, 2, 3, 4,
    ])
    .await;
    let r = raw.recv().await.unwrap();
    assert_eq!(
        (r.command_id(), r.command_status, r.sequence_number),
        (CommandId::GENERIC_NACK, S::ESME_RINVCMDID, 9)
    );
    // A submit_sm with a TLV cut short: submit_sm_resp ESME_RINVTLVSTREAM.
    let mut f = Pdu::new(10, submit("x")).to_bytes().unwrap().to_vec();
    f.extend_from_slice(&[0x04, 0x24, 0x00]);
    let len = f.len() as u32;
    f[..4].copy_from_slice(&len.to_be_bytes());
    raw.send_bytes(&f).await;
    let r = raw.recv().await.unwrap();
    assert_eq!(
        (r.command_id(), r.command_status),
        (CommandId::SUBMIT_SM_RESP, S::ESME_RINVTLVSTREAM)
    );
    raw.send(Pdu::new(11, submit("ok"))).await;
    let r = raw.recv().await.unwrap();
    assert_eq!((r.command_status, r.sequence_number), (S::ESME_ROK, 11));
    // A response nobody waits for is dropped without harm.
    raw.send(Pdu::new(999, Body::DeliverSmResp(SubmitSmResp::default())))
        .await;
    raw.send(Pdu::new(12, Body::EnquireLink)).await;
    assert_eq!(raw.recv().await.unwrap().sequence_number, 12);
}

#[tokio::test]
async fn oversize_command_length_closes_after_generic_nack() {
    let (a, mut raw) = pipe();
    let server = simple_smsc(
        a,
        SessionConfig {
            max_command_length: 1000,
            ..quiet()
        },
    );
    raw.send_bytes(&[0, 0, 0x10, 0, 0, 0, 0, 4, 0, 0, 0, 0, 0, 0, 0, 3])
        .await;
    let r = raw.recv().await.unwrap();
    assert_eq!(
        (r.command_id(), r.command_status, r.sequence_number),
        (CommandId::GENERIC_NACK, S::ESME_RINVCMDLEN, 3)
    );
    assert!(raw.recv().await.is_none());
    assert_eq!(
        server.closed().await,
        CloseReason::InvalidCommandLength(0x1000)
    );
}

#[tokio::test(start_paused = true)]
async fn window_limits_outstanding_requests_and_response_timer_fails_them() {
    let (a, mut raw) = pipe();
    let config = SessionConfig {
        window: 2,
        response_timer: Duration::from_secs(10),
        ..quiet()
    };
    let peer = tokio::spawn(async move {
        let b = raw.recv().await.unwrap();
        raw.send(Pdu::new(
            b.sequence_number,
            Body::BindTransmitterResp(BindResp::default()),
        ))
        .await;
        // Read submits but never answer them.
        let mut seen = 0;
        while let Some(p) = raw.recv().await {
            if p.command_id() == CommandId::SUBMIT_SM {
                seen += 1;
            }
            if seen == 2 {
                break;
            }
        }
        (raw, seen)
    });
    let (client, _e, _) = esme::bind(a, "t".into(), BindMode::Transmitter, bind_body("u"), config)
        .await
        .unwrap();
    let p1 = client.send_request(submit("1")).await.unwrap();
    let p2 = client.send_request(submit("2")).await.unwrap();
    assert_eq!(client.outstanding(), 2);
    // The window is full: a third waits.
    let c = client.clone();
    let third = tokio::spawn(async move { c.send_request(submit("3")).await.map(|_| ()) });
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert!(!third.is_finished());
    // After the response timer both fail and the third goes out.
    assert_eq!(p1.await.unwrap_err(), SessionError::Timeout);
    assert_eq!(p2.await.unwrap_err(), SessionError::Timeout);
    third.await.unwrap().unwrap();
    let (_raw, seen) = peer.await.unwrap();
    assert_eq!(seen, 2);
    assert!(matches!(client.state(), BindState::Bound(_)));
}

#[tokio::test(start_paused = true)]
async fn enquire_link_is_sent_when_idle_and_unanswered_closes() {
    let (a, mut raw) = pipe();
    let config = SessionConfig {
        enquire_link_timer: Some(Duration::from_secs(30)),
        response_timer: Duration::from_secs(5),
        ..quiet()
    };
    let peer = tokio::spawn(async move {
        let b = raw.recv().await.unwrap();
        raw.send(Pdu::new(
            b.sequence_number,
            Body::BindTransceiverResp(BindResp::default()),
        ))
        .await;
        let start = tokio::time::Instant::now();
        // Answer the first enquire_link, ignore the second.
        let e = raw.recv().await.unwrap();
        assert_eq!(e.command_id(), CommandId::ENQUIRE_LINK);
        let first_at = start.elapsed();
        raw.send(Pdu::new(e.sequence_number, Body::EnquireLinkResp))
            .await;
        let e = raw.recv().await.unwrap();
        assert_eq!(e.command_id(), CommandId::ENQUIRE_LINK);
        (raw, first_at)
    });
    let (client, _e, _) = esme::bind(a, "t".into(), BindMode::Transceiver, bind_body("u"), config)
        .await
        .unwrap();
    let reason = client.closed().await;
    assert_eq!(reason, CloseReason::EnquireLinkTimeout);
    let (_raw, first_at) = peer.await.unwrap();
    assert!(
        first_at >= Duration::from_secs(30) && first_at < Duration::from_secs(31),
        "{first_at:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn session_init_timer_closes_an_unbound_connection() {
    let (a, mut raw) = pipe();
    let config = SessionConfig {
        session_init_timer: Some(Duration::from_secs(7)),
        ..quiet()
    };
    let (server, _ev) = smsc::accept(a, "t".into(), config);
    let t0 = tokio::time::Instant::now();
    assert_eq!(server.closed().await, CloseReason::SessionInitTimeout);
    assert!(t0.elapsed() >= Duration::from_secs(7));
    assert!(raw.recv().await.is_none());
}

#[tokio::test(start_paused = true)]
async fn inactivity_timer_unbinds() {
    let (a, mut raw) = pipe();
    let config = SessionConfig {
        inactivity_timer: Some(Duration::from_secs(60)),
        enquire_link_timer: Some(Duration::from_secs(10)),
        ..quiet()
    };
    let server = simple_smsc(a, config);
    raw.send(Pdu::new(1, Body::BindTransceiver(bind_body("u"))))
        .await;
    raw.recv().await.unwrap();
    // The peer keeps the link alive with enquire_links: that is not activity.
    let t0 = tokio::time::Instant::now();
    loop {
        let p = raw.recv().await.unwrap();
        match p.command_id() {
            CommandId::ENQUIRE_LINK => {
                raw.send(Pdu::new(p.sequence_number, Body::EnquireLinkResp))
                    .await
            }
            CommandId::UNBIND => {
                raw.send(Pdu::new(p.sequence_number, Body::UnbindResp))
                    .await;
                break;
            }
            other => panic!("{other:?}"),
        }
    }
    assert!(t0.elapsed() >= Duration::from_secs(60));
    assert_eq!(server.closed().await, CloseReason::Inactivity);
}

#[tokio::test(start_paused = true)]
async fn pdu_read_timer_closes_on_a_stalled_pdu() {
    let (a, mut raw) = pipe();
    let config = SessionConfig {
        pdu_read_timer: Some(Duration::from_secs(3)),
        ..quiet()
    };
    let server = simple_smsc(a, config);
    raw.send_bytes(&[0, 0, 0, 40, 0, 0, 0, 4, 0, 0]).await;
    assert_eq!(server.closed().await, CloseReason::PduReadTimeout);
}

/// Counts write calls, to see batching.
struct CountingWrites<T> {
    inner: T,
    writes: Arc<AtomicUsize>,
}

impl<T: AsyncRead + Unpin> AsyncRead for CountingWrites<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for CountingWrites<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        self.writes.fetch_add(1, Ordering::Relaxed);
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[tokio::test(flavor = "current_thread")]
async fn pdus_ready_together_go_out_in_one_write() {
    let (a, b) = tokio::io::duplex(1 << 20);
    let writes = Arc::new(AtomicUsize::new(0));
    let _server = simple_smsc(b, quiet());
    let io = CountingWrites {
        inner: a,
        writes: writes.clone(),
    };
    let (client, _e, _) = esme::bind(
        io,
        "t".into(),
        BindMode::Transmitter,
        bind_body("u"),
        SessionConfig {
            window: 64,
            ..quiet()
        },
    )
    .await
    .unwrap();
    let before = writes.load(Ordering::Relaxed);
    // 64 requests queued before the session task runs again.
    let mut pending = Vec::new();
    for i in 0..64 {
        pending.push(client.send_request(submit(&format!("m{i}"))).await.unwrap());
    }
    for p in pending {
        assert_eq!(p.await.unwrap().command_status, S::ESME_ROK);
    }
    let used = writes.load(Ordering::Relaxed) - before;
    assert!(used <= 4, "64 submit_sm took {used} writes");
}

#[tokio::test]
async fn a_flood_from_a_peer_that_does_not_read_is_bounded() {
    // The peer sends unknown commands (each earns a generic_nack) and never
    // reads. The session must stop reading once its output is stuck, so
    // the flood stalls instead of growing memory.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move {
        let (s, _) = listener.accept().await.unwrap();
        let (session, events) = smsc::accept(
            s,
            "flood".into(),
            SessionConfig {
                write_high_water: 64 * 1024,
                ..quiet()
            },
        );
        (session, events)
    });
    let mut peer = tokio::net::TcpStream::connect(addr).await.unwrap();
    let (_session, _events) = server.await.unwrap();
    let bad = [0u8, 0, 0, 16, 0, 0, 0, 0x99, 0, 0, 0, 0, 0, 0, 0, 1];
    let chunk: Vec<u8> = bad.iter().copied().cycle().take(16 * 4096).collect();
    let mut sent = 0usize;
    loop {
        match tokio::time::timeout(Duration::from_millis(500), peer.write_all(&chunk)).await {
            Ok(Ok(())) => sent += chunk.len(),
            Ok(Err(e)) => panic!("{e}"),
            Err(_) => break,
        }
        assert!(
            sent < 512 << 20,
            "session kept reading a peer that never reads"
        );
    }
    // Stalled: kernel buffers plus our bounded output, far below the flood.
    assert!(sent < 64 << 20, "{sent}");
}

#[tokio::test(flavor = "current_thread")]
async fn many_requests_with_one_slow_one_keep_working() {
    // One request is never answered while thousands behind it are: the
    // session keeps serving them and the slow one fails at its deadline.
    let (a, mut raw) = pipe();
    let config = SessionConfig {
        window: 8,
        response_timer: Duration::from_millis(300),
        ..quiet()
    };
    let peer = tokio::spawn(async move {
        let b = raw.recv().await.unwrap();
        raw.send(Pdu::new(
            b.sequence_number,
            Body::BindTransmitterResp(BindResp::default()),
        ))
        .await;
        let mut first = true;
        while let Some(p) = raw.recv().await {
            if p.command_id() != CommandId::SUBMIT_SM {
                continue;
            }
            if first {
                first = false;
                continue;
            }
            raw.send(Pdu::new(
                p.sequence_number,
                Body::SubmitSmResp(SubmitSmResp::default()),
            ))
            .await;
        }
    });
    let (client, _e, _) = esme::bind(a, "t".into(), BindMode::Transmitter, bind_body("u"), config)
        .await
        .unwrap();
    let slow = client.send_request(submit("slow")).await.unwrap();
    let mut ok = 0;
    for _ in 0..5000 {
        if client
            .request(submit("fast"))
            .await
            .unwrap()
            .command_status
            .is_ok()
        {
            ok += 1;
        }
    }
    assert_eq!(ok, 5000);
    assert_eq!(slow.await.unwrap_err(), SessionError::Timeout);
    client.close();
    let _ = peer.await;
}

#[tokio::test]
async fn reads_grow_from_a_small_room_to_bursts_and_large_pdus() {
    // The read buffer starts with room for a bind and grows only with the
    // traffic: a burst of small PDUs and one PDU larger than the largest
    // read must still arrive whole and in order.
    let (a, mut raw) = pipe();
    let (session, mut events) = smsc::accept(a, "burst".into(), quiet());
    raw.send(Pdu::new(1, Body::BindTransceiver(bind_body("u"))))
        .await;
    let Some(Event::Request(bind)) = events.recv().await else {
        panic!("no bind")
    };
    session
        .respond(
            bind.sequence_number,
            S::ESME_ROK,
            Body::BindTransceiverResp(BindResp::default()),
        )
        .await
        .unwrap();
    assert_eq!(
        raw.recv().await.unwrap().command_id(),
        CommandId::BIND_TRANSCEIVER_RESP
    );

    let payload: Vec<u8> = (0..40_000u32).map(|i| (i % 251) as u8).collect();
    let mut tlvs = smpp::tlv::TlvsBuilder::new();
    tlvs.push(smpp::tlv::TlvTag::MESSAGE_PAYLOAD, &payload);
    let big = Body::SubmitSm(SubmitSm {
        destination: Address {
            ton: Ton::INTERNATIONAL,
            npi: Npi::ISDN,
            addr: Bytes::from_static(b"4477"),
        },
        tlvs: tlvs.build(),
        ..Default::default()
    });
    // One write: 300 submit_sm, the large one, 300 more.
    let mut burst = BytesMut::new();
    for seq in 2..302 {
        burst.extend_from_slice(
            &Pdu::new(seq, submit(&format!("m{seq}")))
                .to_bytes()
                .unwrap(),
        );
    }
    burst.extend_from_slice(&Pdu::new(302, big).to_bytes().unwrap());
    for seq in 303..603 {
        burst.extend_from_slice(
            &Pdu::new(seq, submit(&format!("m{seq}")))
                .to_bytes()
                .unwrap(),
        );
    }
    let writer = tokio::spawn(async move {
        raw.send_bytes(&burst).await;
        raw
    });
    for seq in 2..603u32 {
        let Some(Event::Request(pdu)) = events.recv().await else {
            panic!("session ended before {seq}")
        };
        assert_eq!(pdu.sequence_number, seq);
        let Body::SubmitSm(s) = pdu.body else {
            panic!("{seq} is not a submit_sm")
        };
        if seq == 302 {
            assert_eq!(s.tlvs.message_payload(), Some(&payload[..]));
        } else {
            assert_eq!(s.short_message, Bytes::from(format!("m{seq}")));
        }
    }
    let _raw = writer.await.unwrap();
    assert_eq!(session.state(), BindState::Bound(BindMode::Transceiver));
}
