//! A bind and a submit over TLS, with a certificate made for the test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use bytes::Bytes;
use smpp::CommandStatus as S;
use smpp::pdu::*;
use smpp_session::{BindMode, BindState, Event, SessionConfig, esme, smsc, tls};

#[tokio::test]
async fn bind_and_submit_over_tls() {
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    let cert_pem = cert.cert.pem();
    let key_pem = cert.key_pair.serialize_pem();
    let acceptor = tls::acceptor(
        cert_pem.as_bytes(),
        key_pem.as_bytes(),
        "cert.pem",
        "key.pem",
    )
    .unwrap();
    let connector = tls::connector(cert_pem.as_bytes(), "ca.pem").unwrap();

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move {
        let (tcp, peer) = listener.accept().await.unwrap();
        let stream = acceptor.accept(tcp).await.unwrap();
        let (session, mut events) =
            smsc::accept(stream, peer.to_string(), SessionConfig::default());
        while let Some(Event::Request(pdu)) = events.recv().await {
            let body = match pdu.body {
                Body::BindTransceiver(b) => {
                    assert_eq!(b.system_id, Bytes::from_static(b"tlsuser"));
                    Body::BindTransceiverResp(BindResp::default())
                }
                Body::SubmitSm(_) => Body::SubmitSmResp(SubmitSmResp {
                    message_id: Bytes::from_static(b"tls-1"),
                    tlvs: Default::default(),
                }),
                _ => continue,
            };
            session
                .respond(pdu.sequence_number, S::ESME_ROK, body)
                .await
                .unwrap();
        }
    });

    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let stream = connector
        .connect(tls::server_name("localhost").unwrap(), tcp)
        .await
        .unwrap();
    let bind = Bind {
        system_id: Bytes::from_static(b"tlsuser"),
        password: Bytes::from_static(b"pw"),
        interface_version: 0x34,
        ..Default::default()
    };
    let (client, _events, _) = esme::bind(
        stream,
        addr.to_string(),
        BindMode::Transceiver,
        bind,
        SessionConfig::default(),
    )
    .await
    .unwrap();
    assert_eq!(client.state(), BindState::Bound(BindMode::Transceiver));
    let resp = client
        .request(Body::SubmitSm(SubmitSm {
            short_message: Bytes::from_static(b"over tls"),
            ..Default::default()
        }))
        .await
        .unwrap();
    let Body::SubmitSmResp(r) = resp.body else {
        panic!()
    };
    assert_eq!(r.message_id, Bytes::from_static(b"tls-1"));
    client.unbind().await.unwrap();
    server.await.unwrap();
}

#[test]
fn bad_pem_names_the_file() {
    let Err(e) = tls::acceptor(
        b"nonsense",
        b"nonsense",
        "/etc/tern/cert.pem",
        "/etc/tern/key.pem",
    ) else {
        panic!("accepted nonsense")
    };
    assert!(e.to_string().contains("/etc/tern/cert.pem"), "{e}");
}
