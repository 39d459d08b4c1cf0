//! The SMPP front end of a real `tern` process on the memory store: every
//! row of DESIGN.md's status table that this store can show, credit running
//! out, throttling, query_sm and cancel_sm.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use bytes::{Bytes, BytesMut};
use e2e::*;
use smpp::pdu::*;
use smpp::tlv::{TlvTag, TlvsBuilder};
use smpp::{CommandStatus as S, FrameDecoder, MessageState};
use smpp_session::{BindMode, Session, SessionError};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const CONFIG: &str = "
[smpp-server]
bind = 127.0.0.1
port = {smpp_port}
max_binds = 6
bind_fail_limit = 3
bind_fail_cooldown = 60
[http-api]
port = {http_port}
[user:alice]
password = alice-pw
credit = 0.3
source_addr = ^(Tern|[0-9]+)$
[user:bob]
password = bob-pw
throughput = 5
burst = 5
[user:rxonly]
password = rx
bind_modes = rx
[user:far]
password = far
allowed_ips = 10.0.0.0/8
[user:one]
password = one
max_binds = 1
[user:cooled]
password = right
[connector:up]
host = 127.0.0.1
port = 9
username = u
password = p
[mt-route:0]
type = default
connectors = up
rate = 0.1
";

fn submit(dest: &str) -> SubmitSm<Bytes> {
    sms(dest, "hello", 0)
}

async fn status_of(s: &Session, body: SubmitSm<Bytes>) -> S {
    s.request(Body::SubmitSm(body))
        .await
        .unwrap()
        .command_status
}

async fn refused(port: u16, mode: BindMode, user: &str, pw: &str) -> S {
    match bind(port, mode, user, pw).await {
        Err(SessionError::BindRefused(s)) => s,
        Ok(_) => S::ESME_ROK,
        Err(e) => panic!("{e}"),
    }
}

#[tokio::test]
async fn binds_and_their_refusals() {
    let t = Tern::start(CONFIG);
    let p = t.port;
    // Unknown user and wrong password look the same.
    assert_eq!(
        refused(p, BindMode::Transceiver, "nobody", "x").await,
        S::ESME_RINVPASWD
    );
    assert_eq!(
        refused(p, BindMode::Transceiver, "alice", "wrong").await,
        S::ESME_RINVPASWD
    );
    // Mode, IP, the user's max_binds.
    assert_eq!(
        refused(p, BindMode::Transmitter, "rxonly", "rx").await,
        S::ESME_RBINDFAIL
    );
    assert_eq!(
        refused(p, BindMode::Receiver, "rxonly", "rx").await,
        S::ESME_ROK
    );
    assert_eq!(
        refused(p, BindMode::Transceiver, "far", "far").await,
        S::ESME_RBINDFAIL
    );
    let (_one, _e) = bind(p, BindMode::Transceiver, "one", "one").await.unwrap();
    assert_eq!(
        refused(p, BindMode::Transceiver, "one", "one").await,
        S::ESME_RBINDFAIL
    );
    // The server's max_binds (6): fill it up with bob.
    let mut held = Vec::new();
    for _ in 0..5 {
        held.push(
            bind(p, BindMode::Transmitter, "bob", "bob-pw")
                .await
                .unwrap(),
        );
    }
    assert_eq!(
        refused(p, BindMode::Transmitter, "bob", "bob-pw").await,
        S::ESME_RBINDFAIL
    );
    drop(held);
}

#[tokio::test]
async fn repeated_failures_cool_an_address_down() {
    let t = Tern::start(CONFIG);
    for _ in 0..3 {
        assert_eq!(
            refused(t.port, BindMode::Transceiver, "cooled", "wrong").await,
            S::ESME_RINVPASWD
        );
    }
    // Now even the right password is refused, without being checked.
    assert_eq!(
        refused(t.port, BindMode::Transceiver, "cooled", "right").await,
        S::ESME_RBINDFAIL
    );
}

#[tokio::test]
async fn state_errors_and_malformed_pdus_over_raw_tcp() {
    let t = Tern::start(CONFIG);
    let mut sock = tokio::net::TcpStream::connect(("127.0.0.1", t.port))
        .await
        .unwrap();
    let mut buf = BytesMut::new();
    let d = FrameDecoder::default();
    async fn send(sock: &mut tokio::net::TcpStream, p: Pdu<Bytes>) {
        sock.write_all(&p.to_bytes().unwrap()).await.unwrap();
    }
    async fn recv(
        sock: &mut tokio::net::TcpStream,
        buf: &mut BytesMut,
        d: &FrameDecoder,
    ) -> Option<Pdu<Bytes>> {
        loop {
            if let Some(raw) = d.decode(buf).unwrap() {
                return Some(raw.decode(&Limits::SMPP34).unwrap());
            }
            if tokio::time::timeout(Duration::from_secs(5), sock.read_buf(buf))
                .await
                .unwrap()
                .unwrap()
                == 0
            {
                return None;
            }
        }
    }
    // submit_sm before bind.
    send(&mut sock, Pdu::new(1, Body::SubmitSm(submit("4477")))).await;
    let r = recv(&mut sock, &mut buf, &d).await.unwrap();
    assert_eq!(
        (r.command_id(), r.command_status),
        (CommandId::SUBMIT_SM_RESP, S::ESME_RINVBNDSTS)
    );
    let b = Bind {
        system_id: Bytes::from_static(b"bob"),
        password: Bytes::from_static(b"bob-pw"),
        interface_version: 0x34,
        ..Default::default()
    };
    send(&mut sock, Pdu::new(2, Body::BindTransceiver(b.clone()))).await;
    assert_eq!(
        recv(&mut sock, &mut buf, &d).await.unwrap().command_status,
        S::ESME_ROK
    );
    // A second bind on a bound session.
    send(&mut sock, Pdu::new(3, Body::BindTransceiver(b))).await;
    assert_eq!(
        recv(&mut sock, &mut buf, &d).await.unwrap().command_status,
        S::ESME_RALYBND
    );
    // Unknown command: generic_nack, and the session stays up.
    sock.write_all(&[0, 0, 0, 16, 0, 0, 0, 0x77, 0, 0, 0, 0, 0, 0, 0, 4])
        .await
        .unwrap();
    let r = recv(&mut sock, &mut buf, &d).await.unwrap();
    assert_eq!(
        (r.command_id(), r.command_status, r.sequence_number),
        (CommandId::GENERIC_NACK, S::ESME_RINVCMDID, 4)
    );
    // Malformed TLVs.
    let mut f = Pdu::new(5, Body::SubmitSm(submit("4477")))
        .to_bytes()
        .unwrap()
        .to_vec();
    f.extend_from_slice(&[0x04, 0x27, 0x00, 0x02, 0x01, 0x02]);
    let len = f.len() as u32;
    f[..4].copy_from_slice(&len.to_be_bytes());
    sock.write_all(&f).await.unwrap();
    assert_eq!(
        recv(&mut sock, &mut buf, &d).await.unwrap().command_status,
        S::ESME_RINVTLVLEN
    );
    let mut f = Pdu::new(6, Body::SubmitSm(submit("4477")))
        .to_bytes()
        .unwrap()
        .to_vec();
    f.extend_from_slice(&[0x04, 0x27, 0x00]);
    let len = f.len() as u32;
    f[..4].copy_from_slice(&len.to_be_bytes());
    sock.write_all(&f).await.unwrap();
    assert_eq!(
        recv(&mut sock, &mut buf, &d).await.unwrap().command_status,
        S::ESME_RINVTLVSTREAM
    );
    send(&mut sock, Pdu::new(7, Body::EnquireLink)).await;
    assert_eq!(
        recv(&mut sock, &mut buf, &d).await.unwrap().command_id(),
        CommandId::ENQUIRE_LINK_RESP
    );
    // command_length below 16: generic_nack ESME_RINVCMDLEN, then close.
    sock.write_all(&[0, 0, 0, 8, 0, 0, 0, 4, 0, 0, 0, 0, 0, 0, 0, 8])
        .await
        .unwrap();
    let r = recv(&mut sock, &mut buf, &d).await.unwrap();
    assert_eq!(
        (r.command_id(), r.command_status),
        (CommandId::GENERIC_NACK, S::ESME_RINVCMDLEN)
    );
    assert!(
        recv(&mut sock, &mut buf, &d).await.is_none(),
        "closed after an invalid command_length"
    );
    // And tern is still serving.
    bind(t.port, BindMode::Transmitter, "bob", "bob-pw")
        .await
        .unwrap();
}

#[tokio::test]
async fn receiver_binds_cannot_submit() {
    let t = Tern::start(CONFIG);
    let mut sock = tokio::net::TcpStream::connect(("127.0.0.1", t.port))
        .await
        .unwrap();
    let b = Bind {
        system_id: Bytes::from_static(b"rxonly"),
        password: Bytes::from_static(b"rx"),
        interface_version: 0x34,
        ..Default::default()
    };
    sock.write_all(&Pdu::new(1, Body::BindReceiver(b)).to_bytes().unwrap())
        .await
        .unwrap();
    sock.write_all(
        &Pdu::new(2, Body::SubmitSm(submit("4477")))
            .to_bytes()
            .unwrap(),
    )
    .await
    .unwrap();
    let d = FrameDecoder::default();
    let mut buf = BytesMut::new();
    let mut got = Vec::new();
    while got.len() < 2 {
        if let Some(raw) = d.decode(&mut buf).unwrap() {
            let p = raw.decode(&Limits::SMPP34).unwrap();
            got.push((p.command_id(), p.command_status));
            continue;
        }
        assert!(sock.read_buf(&mut buf).await.unwrap() > 0);
    }
    // The submit may be answered before the bind completes: either way it
    // is refused, and the bind succeeds.
    got.sort();
    assert_eq!(
        got,
        vec![
            (CommandId::BIND_RECEIVER_RESP, S::ESME_ROK),
            (CommandId::SUBMIT_SM_RESP, S::ESME_RINVBNDSTS)
        ]
    );
}

#[tokio::test]
async fn field_validation_statuses() {
    let t = Tern::start(CONFIG);
    let (s, _e) = bind(t.port, BindMode::Transceiver, "bob", "bob-pw")
        .await
        .unwrap();
    assert_eq!(status_of(&s, submit("44-77")).await, S::ESME_RINVDSTADR);
    let mut m = submit("4477");
    m.tlvs = {
        let mut b = TlvsBuilder::new();
        b.push(TlvTag::MESSAGE_PAYLOAD, b"also");
        b.build()
    };
    assert_eq!(status_of(&s, m).await, S::ESME_RINVMSGLEN);
    let mut m = submit("4477");
    m.registered_delivery = RegisteredDelivery(3);
    assert_eq!(status_of(&s, m).await, S::ESME_RINVREGDLVFLG);
    let mut m = submit("4477");
    m.schedule_delivery_time = Bytes::from_static(b"991399000000000+");
    assert_eq!(status_of(&s, m).await, S::ESME_RINVSCHED);
    let mut m = submit("4477");
    m.validity_period = Bytes::from_static(b"010101000000000+");
    assert_eq!(status_of(&s, m).await, S::ESME_RINVEXPIRY);
    let mut m = submit("4477");
    m.esm_class = EsmClass(EsmClass::TYPE_DELIVERY_RECEIPT);
    assert_eq!(status_of(&s, m).await, S::ESME_RINVESMCLASS);
    assert_eq!(status_of(&s, submit("+4477")).await, S::ESME_ROK);
}

#[tokio::test]
async fn source_addr_rule_credit_and_refund() {
    let t = Tern::start(CONFIG);
    let (s, _e) = bind(t.port, BindMode::Transceiver, "alice", "alice-pw")
        .await
        .unwrap();
    let mut m = submit("4477");
    m.source.addr = Bytes::from_static(b"Other");
    assert_eq!(status_of(&s, m).await, S::ESME_RINVSRCADR);
    // Credit 0.3 at 0.1 a part: three parts, then ESME_RSUBMITFAIL.
    let mut ids = Vec::new();
    for _ in 0..3 {
        let r = s.request(Body::SubmitSm(submit("4477"))).await.unwrap();
        assert_eq!(r.command_status, S::ESME_ROK);
        let Body::SubmitSmResp(r) = r.body else {
            panic!()
        };
        ids.push(r.message_id);
    }
    assert_eq!(status_of(&s, submit("4477")).await, S::ESME_RSUBMITFAIL);
    // cancel_sm refunds: one more fits.
    let cancel = |id: Bytes| {
        Body::CancelSm(CancelSm {
            message_id: id,
            ..Default::default()
        })
    };
    assert_eq!(
        s.request(cancel(ids[0].clone()))
            .await
            .unwrap()
            .command_status,
        S::ESME_ROK
    );
    assert_eq!(
        s.request(cancel(ids[0].clone()))
            .await
            .unwrap()
            .command_status,
        S::ESME_RCANCELFAIL
    );
    assert_eq!(status_of(&s, submit("4477")).await, S::ESME_ROK);
    // query_sm: this user's messages only.
    let query = |id: Bytes| {
        Body::QuerySm(QuerySm {
            message_id: id,
            ..Default::default()
        })
    };
    let r = s.request(query(ids[1].clone())).await.unwrap();
    let Body::QuerySmResp(q) = r.body else {
        panic!()
    };
    assert_eq!(
        (r.command_status, q.message_state),
        (S::ESME_ROK, MessageState::Enroute)
    );
    let r = s.request(query(ids[0].clone())).await.unwrap();
    let Body::QuerySmResp(q) = r.body else {
        panic!()
    };
    assert_eq!(q.message_state, MessageState::Deleted);
    assert_eq!(q.final_date.len(), 16);
    let (bob, _e) = bind(t.port, BindMode::Transceiver, "bob", "bob-pw")
        .await
        .unwrap();
    assert_eq!(
        bob.request(query(ids[1].clone()))
            .await
            .unwrap()
            .command_status,
        S::ESME_RQUERYFAIL
    );
    assert_eq!(
        bob.request(cancel(ids[1].clone()))
            .await
            .unwrap()
            .command_status,
        S::ESME_RCANCELFAIL
    );
}

#[tokio::test]
async fn throughput_is_enforced() {
    let t = Tern::start(CONFIG);
    let (s, _e) = bind(t.port, BindMode::Transmitter, "bob", "bob-pw")
        .await
        .unwrap();
    let mut statuses = Vec::new();
    for _ in 0..10 {
        statuses.push(status_of(&s, submit("4477")).await);
    }
    let ok = statuses.iter().filter(|s| **s == S::ESME_ROK).count();
    let throttled = statuses
        .iter()
        .filter(|s| **s == S::ESME_RTHROTTLED)
        .count();
    // Burst 5 at 5/s: about five now, the rest throttled.
    assert!((5..=6).contains(&ok), "{statuses:?}");
    assert_eq!(ok + throttled, 10);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(status_of(&s, submit("4477")).await, S::ESME_ROK);
}

#[tokio::test]
async fn sigterm_unbinds_esmes_and_exits_zero() {
    let t = Tern::start(CONFIG);
    let (s, _e) = bind(t.port, BindMode::Transceiver, "bob", "bob-pw")
        .await
        .unwrap();
    t.proc.signal("TERM");
    let reason = tokio::time::timeout(Duration::from_secs(10), s.closed())
        .await
        .unwrap();
    assert_eq!(reason, smpp_session::CloseReason::PeerUnbound);
    let mut t = t;
    let status = t.proc.child.take().unwrap().wait().unwrap();
    assert!(status.success(), "{status:?}");
}

#[tokio::test]
async fn sighup_swaps_the_configuration_or_keeps_the_old_one() {
    let base = "[smpp-server]\nbind = 127.0.0.1\nport = {smpp_port}\n[http-api]\nport = {http_port}\n[connector:up]\nhost = 127.0.0.1\nport = 9\nusername = u\npassword = p\n[mt-route:0]\ntype = default\nconnectors = up\n";
    let t = Tern::start(&format!("{base}[user:a]\npassword = first\n"));
    let (held, _e) = bind(t.port, BindMode::Transceiver, "a", "first")
        .await
        .unwrap();
    let path = t.dir.join("tern.ini");
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(
        &path,
        text.replace("password = first", "password = second") + "[user:b]\npassword = bee\n",
    )
    .unwrap();
    t.proc.signal("HUP");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        refused(t.port, BindMode::Transceiver, "a", "first").await,
        S::ESME_RINVPASWD
    );
    assert_eq!(
        refused(t.port, BindMode::Transceiver, "a", "second").await,
        S::ESME_ROK
    );
    assert_eq!(
        refused(t.port, BindMode::Transceiver, "b", "bee").await,
        S::ESME_ROK
    );
    // A broken file is rejected whole: the previous configuration stays.
    std::fs::write(&path, "[user:b]\npassword = bee\nthroughput = lots\n").unwrap();
    t.proc.signal("HUP");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        refused(t.port, BindMode::Transceiver, "b", "bee").await,
        S::ESME_ROK
    );
    // The bind made before the reloads is still up.
    assert_eq!(
        held.request(Body::SubmitSm(submit("4477")))
            .await
            .unwrap()
            .command_status,
        S::ESME_ROK
    );
}

#[tokio::test]
async fn a_full_queue_answers_msgqful() {
    let t = Tern::start(&CONFIG.replace("[http-api]", "[store]\nqueue_limit = 3\n[http-api]"));
    let (s, _e) = bind(t.port, BindMode::Transmitter, "bob", "bob-pw")
        .await
        .unwrap();
    let mut got = Vec::new();
    for _ in 0..4 {
        got.push(status_of(&s, submit("4477")).await);
    }
    assert_eq!(
        got,
        vec![S::ESME_ROK, S::ESME_ROK, S::ESME_ROK, S::ESME_RMSGQFUL]
    );
}

/// No default route (issue 11): a file that routes only by prefix is
/// valid, and a submit no route matches is refused with ESME_RINVDSTADR.
#[tokio::test]
async fn without_a_default_route_what_no_route_matches_is_refused() {
    let t = Tern::start(
        "
[smpp-server]
bind = 127.0.0.1
port = {smpp_port}
[http-api]
port = {http_port}
[user:bob]
password = bob-pw
[connector:fr]
host = 127.0.0.1
port = 9
username = u
password = p
[filter:to-france]
type = destination_addr
value = ^\\+?33
[mt-route:10]
type = static
connectors = fr
filters = to-france
",
    );
    let (s, _e) = bind(t.port, BindMode::Transceiver, "bob", "bob-pw")
        .await
        .unwrap();
    assert_eq!(status_of(&s, submit("33612345678")).await, S::ESME_ROK);
    assert_eq!(
        status_of(&s, submit("447700900123")).await,
        S::ESME_RINVDSTADR
    );
}
