//! submit_multi and replace_sm against a real `tern`: each destination of
//! a submit_multi a message of its own through the submit path (refusals
//! listed with their status, receipts from smsc-sim for each accepted
//! message), and replace_sm of a message still queued — before its
//! connector is up — whose new text is what the upstream SMSC receives,
//! on the memory and the redis store. One test speaks to tern with
//! rusmpp's codec alone (nobody here wrote it), so ours is cross-checked
//! on both requests and their answers.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use e2e::*;
use smpp::pdu::*;
use smpp::{CommandStatus as S, MessageState};
use smpp_session::{BindMode, Event, Session, SessionConfig};

const WAIT: Duration = Duration::from_secs(20);

/// alice pays 0.1 a part from 0.3: three parts. bob is someone else.
fn config(upstream: u16, store: &str) -> String {
    format!(
        "
[smpp-server]
bind = 127.0.0.1
port = {{smpp_port}}
[http-api]
port = {{http_port}}
{store}
[user:alice]
password = alice-pw
credit = 0.3
source_addr = ^Tern$
[user:bob]
password = bob-pw
[connector:up]
host = 127.0.0.1
port = {upstream}
username = smppclient1
password = password
reconnect_delay = 1
[mt-route:0]
type = default
connectors = up
rate = 0.1
"
    )
}

fn addr(a: &str) -> Address<Bytes> {
    Address {
        ton: Ton::INTERNATIONAL,
        npi: Npi::ISDN,
        addr: Bytes::copy_from_slice(a.as_bytes()),
    }
}

fn tern_source() -> Address<Bytes> {
    Address {
        ton: Ton::ALPHANUMERIC,
        npi: Npi::UNKNOWN,
        addr: Bytes::from_static(b"Tern"),
    }
}

fn multi(destinations: Vec<Destination<Bytes>>) -> SubmitMulti<Bytes> {
    SubmitMulti {
        source: tern_source(),
        destinations,
        registered_delivery: RegisteredDelivery::FINAL,
        short_message: Bytes::from_static(b"hello all"),
        ..Default::default()
    }
}

async fn request(s: &Session, body: Body<Bytes>) -> Pdu<Bytes> {
    tokio::time::timeout(WAIT, s.request(body))
        .await
        .expect("an answer in time")
        .unwrap()
}

#[tokio::test]
async fn submit_multi_makes_a_message_per_destination_each_with_its_receipt() {
    let sim = Sim::start(&["--dlr-delay-ms", "50"]);
    let t = Tern::start(&config(sim.port, ""));
    let (s, mut ev) = bind(t.port, BindMode::Transceiver, "alice", "alice-pw")
        .await
        .unwrap();
    let m = multi(vec![
        Destination::Sme(addr("447700900001")),
        Destination::DistributionList(Bytes::from_static(b"friends")),
        Destination::Sme(addr("44-77")),
        Destination::Sme(addr("447700900002")),
        Destination::Sme(addr("447700900003")),
        // Credit for three parts: this one is refused.
        Destination::Sme(addr("447700900004")),
    ]);
    let r = request(&s, Body::SubmitMulti(m)).await;
    assert_eq!(r.command_status, S::ESME_ROK);
    let Body::SubmitMultiResp(resp) = r.body else {
        panic!("{:?}", r.body)
    };
    let refused: Vec<(&[u8], S)> = resp
        .unsuccess_smes
        .iter()
        .map(|u| (&u.address.addr[..], u.error_status))
        .collect();
    assert_eq!(
        refused,
        vec![
            (&b"friends"[..], S::ESME_RINVDLNAME),
            (b"44-77", S::ESME_RINVDSTADR),
            (b"447700900004", S::ESME_RSUBMITFAIL),
        ]
    );
    let first = String::from_utf8(resp.message_id.to_vec()).unwrap();
    assert!(!first.is_empty());
    // One receipt per accepted destination, each for a message id of its
    // own, the first of them the answer's.
    let mut ids = BTreeSet::new();
    let mut from = BTreeSet::new();
    for _ in 0..3 {
        let d = next_deliver(&s, &mut ev, WAIT).await;
        assert!(d.esm_class.is_receipt(), "{d:?}");
        ids.insert(String::from_utf8(d.tlvs.receipted_message_id().unwrap().to_vec()).unwrap());
        from.insert(String::from_utf8(d.source.addr.to_vec()).unwrap());
    }
    assert_eq!(ids.len(), 3, "{ids:?}");
    assert!(ids.contains(&first), "{first} not in {ids:?}");
    let want: BTreeSet<String> = ["447700900001", "447700900002", "447700900003"]
        .map(String::from)
        .into();
    assert_eq!(from, want);
    let c = sim.counters();
    assert_eq!(c["submit_sm"], 3, "{c}");
    let q = request(
        &s,
        Body::QuerySm(QuerySm {
            message_id: Bytes::from(first),
            source: tern_source(),
        }),
    )
    .await;
    let Body::QuerySmResp(q) = q.body else {
        panic!()
    };
    assert_eq!(q.message_state, MessageState::Delivered);

    // Every destination refused: the first refusal is the status.
    let r = request(
        &s,
        Body::SubmitMulti(multi(vec![
            Destination::DistributionList(Bytes::from_static(b"all")),
            Destination::Sme(addr("447700900005")),
        ])),
    )
    .await;
    assert_eq!(r.command_status, S::ESME_RINVDLNAME);
    let Body::SubmitMultiResp(resp) = r.body else {
        panic!()
    };
    assert!(resp.message_id.is_empty());
    assert_eq!(resp.unsuccess_smes.len(), 2);
    let r = request(&s, Body::SubmitMulti(multi(Vec::new()))).await;
    assert_eq!(r.command_status, S::ESME_RINVNUMDESTS);
}

/// A fake upstream SMSC that records the text of every submit_sm.
async fn recording_smsc(listener: tokio::net::TcpListener) -> Arc<Mutex<Vec<Bytes>>> {
    let texts = Arc::new(Mutex::new(Vec::new()));
    let t = texts.clone();
    tokio::spawn(async move {
        let mut n = 0u32;
        while let Ok((stream, peer)) = listener.accept().await {
            let config = SessionConfig {
                limits: Limits::JASMIN,
                ..SessionConfig::default()
            };
            let (session, mut events) =
                smpp_session::smsc::accept(stream, peer.to_string(), config);
            let t = t.clone();
            while let Some(Event::Request(pdu)) = events.recv().await {
                let seq = pdu.sequence_number;
                let resp = BindResp {
                    system_id: Bytes::from_static(b"rec"),
                    tlvs: Default::default(),
                };
                let body = match pdu.body {
                    Body::BindTransmitter(_) => Body::BindTransmitterResp(resp),
                    Body::BindReceiver(_) => Body::BindReceiverResp(resp),
                    Body::BindTransceiver(_) => Body::BindTransceiverResp(resp),
                    Body::SubmitSm(sm) => {
                        t.lock().unwrap().push(sm.short_message.clone());
                        n += 1;
                        Body::SubmitSmResp(SubmitSmResp {
                            message_id: Bytes::from(format!("up{n}")),
                            tlvs: Default::default(),
                        })
                    }
                    other => {
                        let _ = session
                            .respond_error(&Pdu::new(seq, other), S::ESME_RINVCMDID)
                            .await;
                        continue;
                    }
                };
                let _ = session.respond(seq, S::ESME_ROK, body).await;
            }
        }
    });
    texts
}

fn replace_sm(id: &str, text: &[u8]) -> ReplaceSm<Bytes> {
    ReplaceSm {
        message_id: Bytes::copy_from_slice(id.as_bytes()),
        source: tern_source(),
        short_message: Bytes::copy_from_slice(text),
        registered_delivery: RegisteredDelivery::FINAL,
        ..Default::default()
    }
}

async fn replaced_before_the_connector_is_up(store: &str) {
    let upstream = free_port();
    let t = Tern::start(&config(upstream, store));
    let (alice, _ev) = bind(t.port, BindMode::Transceiver, "alice", "alice-pw")
        .await
        .unwrap();
    let (bob, _bev) = bind(t.port, BindMode::Transceiver, "bob", "bob-pw")
        .await
        .unwrap();
    let r = request(
        &alice,
        Body::SubmitSm(SubmitSm {
            source: tern_source(),
            destination: addr("447700900001"),
            short_message: Bytes::from_static(b"the first text"),
            ..Default::default()
        }),
    )
    .await;
    assert_eq!(r.command_status, S::ESME_ROK);
    let Body::SubmitSmResp(r) = r.body else {
        panic!()
    };
    let id = String::from_utf8(r.message_id.to_vec()).unwrap();
    let status = |pdu: Pdu<Bytes>| {
        assert_eq!(pdu.command_id(), CommandId::REPLACE_SM_RESP);
        pdu.command_status
    };
    // Not bob's; not two parts for a message charged one; not a field
    // a submit would refuse.
    let bobs = request(&bob, Body::ReplaceSm(replace_sm(&id, b"bob's text"))).await;
    assert_eq!(status(bobs), S::ESME_RREPLACEFAIL);
    let long = request(&alice, Body::ReplaceSm(replace_sm(&id, &[b'a'; 161]))).await;
    assert_eq!(status(long), S::ESME_RREPLACEFAIL);
    let mut bad = replace_sm(&id, b"x");
    bad.validity_period = Bytes::from_static(b"nonsense");
    assert_eq!(
        status(request(&alice, Body::ReplaceSm(bad)).await),
        S::ESME_RINVEXPIRY
    );
    let ok = request(&alice, Body::ReplaceSm(replace_sm(&id, b"the second text"))).await;
    assert_eq!(status(ok), S::ESME_ROK);
    let q = request(
        &alice,
        Body::QuerySm(QuerySm {
            message_id: Bytes::from(id.clone()),
            source: tern_source(),
        }),
    )
    .await;
    assert_eq!(q.command_status, S::ESME_ROK);
    let Body::QuerySmResp(q) = q.body else {
        panic!()
    };
    assert_eq!(q.message_state, MessageState::Enroute);

    // Now the upstream comes up: it gets the replaced text, once.
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", upstream))
        .await
        .unwrap();
    let texts = recording_smsc(listener).await;
    let deadline = tokio::time::Instant::now() + WAIT;
    while texts.lock().unwrap().is_empty() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "nothing sent upstream"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        *texts.lock().unwrap(),
        vec![Bytes::from_static(b"the second text")]
    );
    // Sent upstream: too late.
    let late = request(&alice, Body::ReplaceSm(replace_sm(&id, b"the third text"))).await;
    assert_eq!(status(late), S::ESME_RREPLACEFAIL);
}

#[tokio::test]
async fn replace_sm_on_memory_changes_what_the_connector_sends() {
    replaced_before_the_connector_is_up("").await;
}

#[tokio::test]
async fn replace_sm_on_redis_changes_what_the_connector_sends() {
    let redis = Redis::start();
    replaced_before_the_connector_is_up(&format!(
        "[store]\nbackend = redis\nurl = {}",
        redis.url()
    ))
    .await;
}

mod rusmpp_client {
    //! The requests encoded, and their answers decoded, by rusmpp.

    use super::*;
    use bytes::BufMut;
    use rusmpp::decode::DecodeWithLength;
    use rusmpp::encode::Length;
    use rusmpp::pdus as rp;
    use rusmpp::pdus::parts as rpp;
    use rusmpp::types as rt;
    use rusmpp::values as rv;
    use rusmpp::{Command, Pdu as RPdu};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    fn c<const MIN: usize, const MAX: usize>(s: &str) -> rt::COctetString<MIN, MAX> {
        let mut v = s.as_bytes().to_vec();
        v.push(0);
        rt::COctetString::from_vec(v).unwrap()
    }

    fn empty_time() -> rt::EmptyOrFullCOctetString<17> {
        rt::EmptyOrFullCOctetString::from_vec(vec![0]).unwrap()
    }

    async fn send(sock: &mut tokio::net::TcpStream, seq: u32, pdu: RPdu) {
        let cmd = Command::new(rusmpp::CommandStatus::EsmeRok, seq, pdu);
        let len = 4 + cmd.length();
        let mut buf = BytesMut::with_capacity(len);
        buf.put_u32(len as u32);
        rusmpp::encode::owned::Encode::encode(&cmd, &mut buf);
        sock.write_all(&buf).await.unwrap();
    }

    async fn recv(sock: &mut tokio::net::TcpStream) -> Command {
        let mut len = [0u8; 4];
        tokio::time::timeout(WAIT, sock.read_exact(&mut len))
            .await
            .unwrap()
            .unwrap();
        let len = u32::from_be_bytes(len) as usize;
        let mut rest = vec![0u8; len - 4];
        sock.read_exact(&mut rest).await.unwrap();
        let mut src = BytesMut::from(&rest[..]);
        let (cmd, _) = <Command as DecodeWithLength>::decode(&mut src, len - 4).unwrap();
        cmd
    }

    fn sme(a: &str) -> rv::DestAddress {
        rv::DestAddress::SmeAddress(rv::SmeAddress::new(
            rv::Ton::International,
            rv::Npi::Isdn,
            c(a),
        ))
    }

    #[tokio::test]
    async fn rusmpp_encodes_submit_multi_and_replace_sm_and_reads_the_answers() {
        // Nothing upstream: the messages stay queued, to be replaced.
        let t = Tern::start(&config(free_port(), ""));
        let mut sock = tokio::net::TcpStream::connect(("127.0.0.1", t.port))
            .await
            .unwrap();
        send(
            &mut sock,
            1,
            RPdu::BindTransceiver(rp::BindTransceiver::new(
                c("alice"),
                c("alice-pw"),
                c(""),
                rv::InterfaceVersion::Smpp3_4,
                rv::Ton::Unknown,
                rv::Npi::Unknown,
                c(""),
            )),
        )
        .await;
        let r = recv(&mut sock).await;
        assert_eq!(r.status(), rusmpp::CommandStatus::EsmeRok, "{r:?}");

        let multi = rp::SubmitMulti::from_parts(rpp::SubmitMultiParts {
            service_type: rv::ServiceType::new(c("")),
            source_addr_ton: rv::Ton::Alphanumeric,
            source_addr_npi: rv::Npi::Unknown,
            source_addr: c("Tern"),
            number_of_dests: 3,
            dest_address: vec![
                sme("447700900001"),
                rv::DestAddress::DistributionListName(rv::DistributionListName::new(c("friends"))),
                sme("447700900002"),
            ],
            esm_class: rv::EsmClass::from(0),
            protocol_id: 0,
            priority_flag: rv::PriorityFlag::from(0),
            schedule_delivery_time: empty_time(),
            validity_period: empty_time(),
            registered_delivery: rv::RegisteredDelivery::from(1),
            replace_if_present_flag: rv::ReplaceIfPresentFlag::from(0),
            data_coding: rv::DataCoding::from(0),
            sm_default_msg_id: 0,
            sm_length: 5,
            short_message: rt::OctetString::from_slice(b"hello").unwrap(),
            tlvs: Vec::new(),
        });
        send(&mut sock, 2, RPdu::SubmitMulti(multi)).await;
        let r = recv(&mut sock).await;
        assert_eq!(r.sequence_number(), 2);
        assert_eq!(r.status(), rusmpp::CommandStatus::EsmeRok, "{r:?}");
        let Some(RPdu::SubmitMultiResp(resp)) = r.pdu() else {
            panic!("{r:?}")
        };
        let p = resp.clone().into_parts();
        assert_eq!(p.no_unsuccess, 1);
        let u = &p.unsuccess_sme[0];
        assert_eq!(&u.destination_addr.as_ref()[..7], b"friends");
        assert_eq!(
            u.error_status_code,
            rusmpp::CommandStatus::EsmeRinvdlname,
            "{u:?}"
        );
        let id = p.message_id.as_ref();
        let id = std::str::from_utf8(&id[..id.len() - 1])
            .unwrap()
            .to_string();
        assert_eq!(id.len(), 36, "a UUID: {id}");

        let replace = rp::ReplaceSm::from_parts(rpp::ReplaceSmParts {
            message_id: c(&id),
            source_addr_ton: rv::Ton::Alphanumeric,
            source_addr_npi: rv::Npi::Unknown,
            source_addr: c("Tern"),
            schedule_delivery_time: empty_time(),
            validity_period: empty_time(),
            registered_delivery: rv::RegisteredDelivery::from(1),
            sm_default_msg_id: 0,
            sm_length: 9,
            short_message: rt::OctetString::from_slice(b"hello too").unwrap(),
            message_payload: None,
        });
        send(&mut sock, 3, RPdu::ReplaceSm(replace)).await;
        let r = recv(&mut sock).await;
        assert_eq!(r.sequence_number(), 3);
        assert_eq!(r.status(), rusmpp::CommandStatus::EsmeRok, "{r:?}");
        assert!(matches!(r.pdu(), Some(RPdu::ReplaceSmResp) | None), "{r:?}");

        // An id that is nobody's: ESME_RREPLACEFAIL.
        let replace = rp::ReplaceSm::from_parts(rpp::ReplaceSmParts {
            message_id: c("no-such-message"),
            source_addr_ton: rv::Ton::Unknown,
            source_addr_npi: rv::Npi::Unknown,
            source_addr: c(""),
            schedule_delivery_time: empty_time(),
            validity_period: empty_time(),
            registered_delivery: rv::RegisteredDelivery::from(0),
            sm_default_msg_id: 0,
            sm_length: 1,
            short_message: rt::OctetString::from_slice(b"x").unwrap(),
            message_payload: None,
        });
        send(&mut sock, 4, RPdu::ReplaceSm(replace)).await;
        let r = recv(&mut sock).await;
        assert_eq!(r.status(), rusmpp::CommandStatus::EsmeRreplacefail, "{r:?}");

        send(
            &mut sock,
            5,
            RPdu::QuerySm(rp::QuerySm::new(
                c(&id),
                rv::Ton::Alphanumeric,
                rv::Npi::Unknown,
                c("Tern"),
            )),
        )
        .await;
        let r = recv(&mut sock).await;
        assert_eq!(r.status(), rusmpp::CommandStatus::EsmeRok, "{r:?}");
        let Some(RPdu::QuerySmResp(q)) = r.pdu() else {
            panic!("{r:?}")
        };
        assert_eq!(u8::from(q.message_state), MessageState::Enroute.as_u8());
    }
}
