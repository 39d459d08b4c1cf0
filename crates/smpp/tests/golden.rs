//! Golden byte vectors for every SMPP 3.4 PDU, written by hand from the
//! specification's field tables (§4), and the statuses malformed bodies get.
//!
//! Each vector is checked both ways: decoding gives the typed PDU, and
//! encoding that PDU gives the same bytes.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use bytes::BytesMut;
use smpp::pdu::*;
use smpp::tlv::{TlvTag, Tlvs, TlvsBuilder};
use smpp::{CommandStatus as S, MessageState};

type B = Vec<u8>;

fn hex(s: &str) -> Vec<u8> {
    let s: String = s.split_whitespace().collect::<String>();
    assert!(s.len() % 2 == 0, "odd hex: {s}");
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

fn v(s: &str) -> B {
    s.as_bytes().to_vec()
}

fn tlvs(build: impl FnOnce(&mut TlvsBuilder)) -> Tlvs<B> {
    let mut b = TlvsBuilder::new();
    build(&mut b);
    Tlvs::from_raw(b.build().raw().to_vec()).unwrap()
}

fn addr(ton: u8, npi: u8, a: &str) -> Address<B> {
    Address {
        ton: Ton(ton),
        npi: Npi(npi),
        addr: v(a),
    }
}

/// Decode `bytes`, compare with `pdu`, and encode `pdu` back to `bytes`.
fn golden(bytes: &str, status: S, seq: u32, body: Body<B>) {
    let bytes = hex(bytes);
    let pdu = Pdu {
        command_status: status,
        sequence_number: seq,
        body,
    };
    let decoded = Pdu::<B>::decode(&bytes, &Limits::SMPP34).unwrap();
    assert_eq!(decoded, pdu);
    let mut buf = BytesMut::new();
    pdu.encode(&mut buf).unwrap();
    assert_eq!(buf.to_vec(), bytes, "encoding {:?}", pdu.command_id());
}

fn bind_body() -> Bind<B> {
    Bind {
        system_id: v("SMPP3TEST"),
        password: v("secret08"),
        system_type: v("SUBMIT1"),
        interface_version: 0x34,
        addr_ton: Ton::INTERNATIONAL,
        addr_npi: Npi::ISDN,
        address_range: v(""),
    }
}

const BIND_BODY: &str = "534d50503354455354 00 7365637265743038 00 5355424d495431 00 34 01 01 00";

#[test]
fn bind_transmitter() {
    golden(
        &format!("0000002F 00000002 00000000 00000001 {BIND_BODY}"),
        S::ESME_ROK,
        1,
        Body::BindTransmitter(bind_body()),
    );
}

#[test]
fn bind_receiver() {
    golden(
        &format!("0000002F 00000001 00000000 00000002 {BIND_BODY}"),
        S::ESME_ROK,
        2,
        Body::BindReceiver(bind_body()),
    );
}

#[test]
fn bind_transceiver() {
    golden(
        &format!("0000002F 00000009 00000000 00000003 {BIND_BODY}"),
        S::ESME_ROK,
        3,
        Body::BindTransceiver(bind_body()),
    );
}

#[test]
fn bind_resps_with_sc_interface_version() {
    let resp = || BindResp {
        system_id: v("SMSC"),
        tlvs: tlvs(|t| {
            t.push_u8(TlvTag::SC_INTERFACE_VERSION, 0x34);
        }),
    };
    let body = "534d534300 0210 0001 34";
    golden(
        &format!("0000001A 80000002 00000000 00000001 {body}"),
        S::ESME_ROK,
        1,
        Body::BindTransmitterResp(resp()),
    );
    golden(
        &format!("0000001A 80000001 00000000 00000001 {body}"),
        S::ESME_ROK,
        1,
        Body::BindReceiverResp(resp()),
    );
    golden(
        &format!("0000001A 80000009 00000000 00000001 {body}"),
        S::ESME_ROK,
        1,
        Body::BindTransceiverResp(resp()),
    );
}

#[test]
fn error_responses_without_a_body_decode() {
    // §3.3: a response with an error status may carry no body. We accept
    // that and encode the empty C-Octet String (one NUL) ourselves.
    let frame = hex("00000010 80000001 0000000D 00000005");
    let p = Pdu::<B>::decode(&frame, &Limits::SMPP34).unwrap();
    assert_eq!(p.command_status, S::ESME_RBINDFAIL);
    assert_eq!(p.body, Body::BindReceiverResp(BindResp::default()));
    let frame = hex("00000010 80000004 00000058 00000006");
    let p = Pdu::<B>::decode(&frame, &Limits::SMPP34).unwrap();
    assert_eq!(p.body, Body::SubmitSmResp(SubmitSmResp::default()));
    golden(
        "00000011 80000004 00000058 00000006 00",
        S::ESME_RTHROTTLED,
        6,
        Body::SubmitSmResp(SubmitSmResp::default()),
    );
}

#[test]
fn outbind() {
    golden(
        "00000018 0000000B 00000000 00000001 534d534300 707700",
        S::ESME_ROK,
        1,
        Body::Outbind(Outbind {
            system_id: v("SMSC"),
            password: v("pw"),
        }),
    );
}

#[test]
fn header_only_pdus() {
    golden(
        "00000010 00000006 00000000 00000007",
        S::ESME_ROK,
        7,
        Body::Unbind,
    );
    golden(
        "00000010 80000006 00000000 00000007",
        S::ESME_ROK,
        7,
        Body::UnbindResp,
    );
    golden(
        "00000010 00000015 00000000 00000008",
        S::ESME_ROK,
        8,
        Body::EnquireLink,
    );
    golden(
        "00000010 80000015 00000000 00000008",
        S::ESME_ROK,
        8,
        Body::EnquireLinkResp,
    );
    golden(
        "00000010 80000000 00000003 00000009",
        S::ESME_RINVCMDID,
        9,
        Body::GenericNack,
    );
    golden(
        "00000010 80000008 00000000 0000000A",
        S::ESME_ROK,
        10,
        Body::CancelSmResp,
    );
    golden(
        "00000010 80000007 00000000 0000000B",
        S::ESME_ROK,
        11,
        Body::ReplaceSmResp,
    );
}

fn hello_submit() -> SubmitSm<B> {
    SubmitSm {
        service_type: v(""),
        source: addr(1, 1, "447700900123"),
        destination: addr(1, 1, "33612345678"),
        esm_class: EsmClass(0),
        protocol_id: 0,
        priority_flag: 0,
        schedule_delivery_time: v(""),
        validity_period: v("000001000000000R"),
        registered_delivery: RegisteredDelivery::FINAL,
        replace_if_present_flag: 0,
        data_coding: DataCoding::DEFAULT,
        sm_default_msg_id: 0,
        short_message: v("Hello"),
        tlvs: tlvs(|t| {
            t.push_u16(TlvTag::USER_MESSAGE_REFERENCE, 1);
        }),
    }
}

const HELLO_SUBMIT: &str = "00 \
    01 01 343437373030393030313233 00 \
    01 01 3333363132333435363738 00 \
    00 00 00 \
    00 \
    30303030303130303030303030303052 00 \
    01 00 00 00 \
    05 48656c6c6f \
    0204 0002 0001";

#[test]
fn submit_sm() {
    golden(
        &format!("00000053 00000004 00000000 00000002 {HELLO_SUBMIT}"),
        S::ESME_ROK,
        2,
        Body::SubmitSm(hello_submit()),
    );
}

#[test]
fn submit_sm_resp() {
    golden(
        "00000015 80000004 00000000 00000002 6162313200",
        S::ESME_ROK,
        2,
        Body::SubmitSmResp(SubmitSmResp {
            message_id: v("ab12"),
            tlvs: Tlvs::default(),
        }),
    );
}

#[test]
fn deliver_sm_receipt() {
    let text = "id:1 stat:DELIVRD";
    let body = DeliverSm {
        source: addr(1, 1, "33612345678"),
        destination: addr(1, 1, "447700900123"),
        esm_class: EsmClass(EsmClass::TYPE_DELIVERY_RECEIPT),
        short_message: v(text),
        tlvs: tlvs(|t| {
            t.push_c_octet_string(TlvTag::RECEIPTED_MESSAGE_ID, b"1")
                .push_u8(TlvTag::MESSAGE_STATE, 2);
        }),
        ..Default::default()
    };
    // 1 + 14 + 15 + 3 + 1 + 1 + 4 + 1 + 17 + 6 + 5 = 68 octets of body.
    golden(
        "00000054 00000005 00000000 00000003 \
         00 0101 3333363132333435363738 00 0101 343437373030393030313233 00 \
         04 00 00 00 00 00 00 00 00 \
         11 69643a3120737461743a44454c49565244 \
         001E 0002 3100 0427 0001 02",
        S::ESME_ROK,
        3,
        Body::DeliverSm(body.clone()),
    );
    assert!(body.esm_class.is_receipt());
    assert_eq!(body.tlvs.receipted_message_id(), Some(&b"1"[..]));
    assert_eq!(body.tlvs.message_state(), Some(MessageState::Delivered));
}

#[test]
fn deliver_sm_resp() {
    golden(
        "00000011 80000005 00000000 00000003 00",
        S::ESME_ROK,
        3,
        Body::DeliverSmResp(SubmitSmResp::default()),
    );
}

#[test]
fn data_sm_and_resp() {
    golden(
        "00000029 00000103 00000000 00000004 \
         00 0000 31323300 0101 3434373700 00 01 08 0424 0004 00480069",
        S::ESME_ROK,
        4,
        Body::DataSm(DataSm {
            service_type: v(""),
            source: addr(0, 0, "123"),
            destination: addr(1, 1, "4477"),
            esm_class: EsmClass(0),
            registered_delivery: RegisteredDelivery::FINAL,
            data_coding: DataCoding::UCS2,
            tlvs: tlvs(|t| {
                t.push(TlvTag::MESSAGE_PAYLOAD, &[0, 0x48, 0, 0x69]);
            }),
        }),
    );
    golden(
        "00000012 80000103 00000000 00000004 7800",
        S::ESME_ROK,
        4,
        Body::DataSmResp(SubmitSmResp {
            message_id: v("x"),
            tlvs: Tlvs::default(),
        }),
    );
}

#[test]
fn query_sm_and_resp() {
    golden(
        "0000001A 00000003 00000000 00000005 61626300 0101 31323300",
        S::ESME_ROK,
        5,
        Body::QuerySm(QuerySm {
            message_id: v("abc"),
            source: addr(1, 1, "123"),
        }),
    );
    golden(
        "00000017 80000003 00000000 00000005 61626300 00 02 00",
        S::ESME_ROK,
        5,
        Body::QuerySmResp(QuerySmResp {
            message_id: v("abc"),
            final_date: v(""),
            message_state: MessageState::Delivered,
            error_code: 0,
        }),
    );
}

#[test]
fn cancel_sm() {
    golden(
        "00000021 00000008 00000000 00000006 00 61626300 0101 31323300 0101 34353600",
        S::ESME_ROK,
        6,
        Body::CancelSm(CancelSm {
            service_type: v(""),
            message_id: v("abc"),
            source: addr(1, 1, "123"),
            destination: addr(1, 1, "456"),
        }),
    );
}

#[test]
fn replace_sm() {
    golden(
        "00000021 00000007 00000000 00000007 61626300 0101 31323300 00 00 01 00 02 4869",
        S::ESME_ROK,
        7,
        Body::ReplaceSm(ReplaceSm {
            message_id: v("abc"),
            source: addr(1, 1, "123"),
            schedule_delivery_time: v(""),
            validity_period: v(""),
            registered_delivery: RegisteredDelivery::FINAL,
            sm_default_msg_id: 0,
            short_message: v("Hi"),
        }),
    );
}

#[test]
fn submit_multi_and_resp() {
    golden(
        "00000032 00000021 00000000 00000008 \
         00 0101 31323300 02 01 0101 34353600 02 6c6973743100 \
         00 00 00 00 00 00 00 00 00 02 4869",
        S::ESME_ROK,
        8,
        Body::SubmitMulti(SubmitMulti {
            service_type: v(""),
            source: addr(1, 1, "123"),
            destinations: vec![
                Destination::Sme(addr(1, 1, "456")),
                Destination::DistributionList(v("list1")),
            ],
            short_message: v("Hi"),
            ..Default::default()
        }),
    );
    golden(
        "0000001F 80000021 00000000 00000008 61626300 01 0101 34353600 0000000B",
        S::ESME_ROK,
        8,
        Body::SubmitMultiResp(SubmitMultiResp {
            message_id: v("abc"),
            unsuccess_smes: vec![UnsuccessSme {
                address: addr(1, 1, "456"),
                error_status: S::ESME_RINVDSTADR,
            }],
            tlvs: Tlvs::default(),
        }),
    );
}

#[test]
fn alert_notification() {
    golden(
        "00000021 00000102 00000000 00000009 0101 31323300 0101 34353600 0422 0001 00",
        S::ESME_ROK,
        9,
        Body::AlertNotification(AlertNotification {
            source: addr(1, 1, "123"),
            esme: addr(1, 1, "456"),
            tlvs: tlvs(|t| {
                t.push_u8(TlvTag::MS_AVAILABILITY_STATUS, 0);
            }),
        }),
    );
}

// ---- malformed bodies: the status and the answer ----

fn frame(id: u32, body: &[u8]) -> Vec<u8> {
    let mut f = Vec::new();
    f.extend_from_slice(&((16 + body.len()) as u32).to_be_bytes());
    f.extend_from_slice(&id.to_be_bytes());
    f.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 42]);
    f.extend_from_slice(body);
    f
}

fn decode_err(f: &[u8], limits: &Limits) -> DecodeError {
    Pdu::<&[u8]>::decode(&f, limits).unwrap_err()
}

#[test]
fn field_errors_get_the_fields_status() {
    let good = hex(HELLO_SUBMIT);
    // source_addr of 21 characters: no NUL within its 21 octets.
    let mut b = good.clone();
    let long: Vec<u8> = std::iter::repeat_n(b'1', 21).collect();
    b.splice(3..15, long);
    let e = decode_err(&frame(4, &b), &Limits::SMPP34);
    assert_eq!(e.status, S::ESME_RINVSRCADR);
    assert_eq!(e.sequence_number, 42);
    let resp = e.response::<B>().unwrap();
    assert_eq!(resp.body, Body::SubmitSmResp(SubmitSmResp::default()));
    assert_eq!(resp.command_status, S::ESME_RINVSRCADR);
    assert_eq!(resp.sequence_number, 42);

    // sm_length beyond the body.
    let mut b = good.clone();
    let sm_len_at = b.len() - 6 - 6;
    b[sm_len_at] = 50;
    assert_eq!(
        decode_err(&frame(4, &b), &Limits::SMPP34).status,
        S::ESME_RINVMSGLEN
    );
    // sm_length 255 is beyond 3.4's 254.
    b[sm_len_at] = 255;
    assert_eq!(
        decode_err(&frame(4, &b), &Limits::SMPP34).status,
        S::ESME_RINVMSGLEN
    );

    // A TLV cut short, and a TLV of the wrong length for its tag.
    let mut b = good.clone();
    b.pop();
    assert_eq!(
        decode_err(&frame(4, &b), &Limits::SMPP34).status,
        S::ESME_RINVTLVSTREAM
    );
    let mut b = good.clone();
    b.extend_from_slice(&hex("0427 0002 0102"));
    assert_eq!(
        decode_err(&frame(4, &b), &Limits::SMPP34).status,
        S::ESME_RINVTLVLEN
    );

    // A validity_period longer than 16 characters.
    let mut b = good.clone();
    b.splice(35..35, *b"0");
    assert_eq!(
        decode_err(&frame(4, &b), &Limits::SMPP34).status,
        S::ESME_RINVEXPIRY
    );
}

#[test]
fn truncated_and_overlong_bodies() {
    // A body cut inside a field: command length is wrong for the command.
    let e = decode_err(&frame(4, &hex("00 0101 3434")), &Limits::SMPP34);
    assert_eq!(e.status, S::ESME_RINVCMDLEN);
    // enquire_link has no body.
    let e = decode_err(&frame(0x15, &[0]), &Limits::SMPP34);
    assert_eq!(e.status, S::ESME_RINVCMDLEN);
    assert_eq!(e.response::<B>().unwrap().body, Body::EnquireLinkResp);
    // command_length disagreeing with the frame.
    let mut f = frame(0x15, &[]);
    f[3] = 20;
    assert_eq!(decode_err(&f, &Limits::SMPP34).status, S::ESME_RINVCMDLEN);
}

#[test]
fn unknown_command_gets_generic_nack() {
    let e = decode_err(&frame(0x99, &[1, 2, 3]), &Limits::SMPP34);
    assert_eq!(e.status, S::ESME_RINVCMDID);
    let r = e.response::<B>().unwrap();
    assert_eq!(r.body, Body::GenericNack);
    assert_eq!(r.command_status, S::ESME_RINVCMDID);
    assert_eq!(r.sequence_number, 42);
}

#[test]
fn malformed_responses_get_no_answer() {
    let e = decode_err(&frame(0x8000_0004, b"ab"), &Limits::SMPP34);
    assert_eq!(e.status, S::ESME_RINVCMDLEN);
    assert!(e.response::<B>().is_none());
}

#[test]
fn long_system_ids_need_the_servers_allowance() {
    let mut b = bind_body();
    b.system_id = v("a-customer-with-a-long-name"); // 27 characters
    b.password = v("longer-password");
    let mut body = Vec::new();
    for s in [&b.system_id, &b.password, &b.system_type] {
        body.extend_from_slice(s);
        body.push(0);
    }
    body.extend_from_slice(&[0x34, 1, 1, 0]);
    let f = frame(2, &body);
    assert_eq!(decode_err(&f, &Limits::SMPP34).status, S::ESME_RINVSYSID);
    let p = Pdu::<&[u8]>::decode(&&f[..], &Limits::JASMIN).unwrap();
    let Body::BindTransmitter(got) = &p.body else {
        panic!("{p:?}")
    };
    assert_eq!(got.system_id, b"a-customer-with-a-long-name");
    // Encoding keeps to 3.4.
    let err = Pdu::new(1, Body::BindTransmitter(b))
        .encode(&mut BytesMut::new())
        .unwrap_err();
    assert_eq!(
        err,
        EncodeError::FieldTooLong {
            field: "system_id",
            max: 15
        }
    );
}

#[test]
fn unknown_tlvs_are_kept_byte_for_byte() {
    let mut b = hex(HELLO_SUBMIT);
    b.extend_from_slice(&hex("1401 0003 aabbcc 3fff 0000"));
    let f = frame(4, &b);
    let p = Pdu::<&[u8]>::decode(&&f[..], &Limits::SMPP34).unwrap();
    let Body::SubmitSm(s) = &p.body else { panic!() };
    let tags: Vec<u16> = s.tlvs.iter().map(|t| t.tag.0).collect();
    assert_eq!(tags, vec![0x0204, 0x1401, 0x3fff]);
    assert_eq!(s.tlvs.get(TlvTag(0x1401)), Some(&[0xaa, 0xbb, 0xcc][..]));
    let mut out = BytesMut::new();
    p.encode(&mut out).unwrap();
    assert_eq!(&out[..], &f[..]);
}

#[test]
fn unknown_statuses_are_kept() {
    let f = hex("00000011 80000004 00000400 00000001 00");
    let p = Pdu::<B>::decode(&f, &Limits::SMPP34).unwrap();
    assert_eq!(p.command_status, S(0x400));
    assert_eq!(p.to_bytes().unwrap().to_vec(), f);
}

#[test]
fn receipt_from_a_deliver_sm_prefers_tlvs() {
    let mut t = TlvsBuilder::new();
    t.push_c_octet_string(TlvTag::RECEIPTED_MESSAGE_ID, b"1A2B")
        .push_u8(TlvTag::MESSAGE_STATE, 5)
        .push(TlvTag::NETWORK_ERROR_CODE, &[3, 0, 11]);
    let tlvs = t.build();
    let text = b"id:6699 sub:001 dlvrd:000 submit date:2611231200 done date:2611231201 stat:DELIVRD err:000 text:hi";
    let r = smpp::receipt::Receipt::from_tlvs(text, &tlvs).unwrap();
    assert_eq!(r.id, "1A2B");
    assert_eq!(r.stat, MessageState::Undeliverable);
    assert_eq!(r.text.as_deref(), Some("hi"));
    // data_sm receipts carry their text in message_payload.
    let mut t = TlvsBuilder::new();
    t.push(TlvTag::MESSAGE_PAYLOAD, b"id:77 stat:EXPIRED err:001");
    let r = smpp::receipt::Receipt::from_tlvs(b"", &t.build()).unwrap();
    assert_eq!((r.id.as_str(), r.stat), ("77", MessageState::Expired));
}

#[test]
fn long_messages_become_submit_sms_per_method() {
    use bytes::Bytes;
    use smpp::split::{Method, split_text};
    use smpp::text::Encoding;
    let template = SubmitSm::<Bytes> {
        destination: Address {
            ton: Ton::INTERNATIONAL,
            npi: Npi::ISDN,
            addr: Bytes::from_static(b"4477"),
        },
        registered_delivery: RegisteredDelivery::FINAL,
        ..Default::default()
    };
    let text = "a".repeat(200);
    let udh = split_text(&text, Encoding::Gsm7, Method::Udh8, 0x42).unwrap();
    assert_eq!(udh.len(), 2);
    let first = udh[0].to_submit_sm(&template);
    assert!(first.esm_class.udhi());
    assert_eq!(&first.short_message[..6], &[5, 0, 3, 0x42, 2, 1]);
    assert_eq!(first.short_message.len(), 6 + 153);
    assert_eq!(first.registered_delivery, RegisteredDelivery::FINAL);

    let sar = split_text(&text, Encoding::Gsm7, Method::Sar, 0x1234).unwrap();
    let second = sar[1].to_submit_sm(&template);
    assert!(!second.esm_class.udhi());
    assert_eq!(second.tlvs.sar_msg_ref_num(), Some(0x1234));
    assert_eq!(second.tlvs.sar_total_segments(), Some(2));
    assert_eq!(second.tlvs.sar_segment_seqnum(), Some(2));

    let long = "b".repeat(1000);
    let payload = split_text(&long, Encoding::Gsm7, Method::Payload, 0).unwrap();
    assert_eq!(payload.len(), 1);
    let only = payload[0].to_submit_sm(&template);
    assert!(only.short_message.is_empty());
    assert_eq!(only.tlvs.message_payload().map(|p| p.len()), Some(1000));
    // And each of them encodes.
    for s in [first, second, only] {
        Pdu::new(1, Body::SubmitSm(s)).to_bytes().unwrap();
    }
}
