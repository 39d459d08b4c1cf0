//! Shared proptest strategies: arbitrary valid PDUs within the 3.4 limits.
#![allow(clippy::unwrap_used, clippy::expect_used)]
#![allow(dead_code)]

use proptest::collection::vec;
use proptest::prelude::*;
use smpp::pdu::*;
use smpp::tlv::{TlvTag, Tlvs, TlvsBuilder};
use smpp::{CommandStatus, MessageState};

pub type B = Vec<u8>;

/// A C-Octet String value (no NUL) of at most `max` octets, mostly printable.
pub fn cstr(max: usize) -> impl Strategy<Value = B> {
    vec(prop_oneof![8 => 0x20u8..0x7f, 1 => 1u8..=255], 0..=max)
}

/// An SMPP time: empty or 16 characters.
pub fn time() -> impl Strategy<Value = B> {
    prop_oneof![
        Just(Vec::new()),
        "[0-9]{12}[0-9][0-4][0-9][+R-]".prop_map(|s| s.into_bytes())
    ]
}

pub fn address(max: usize) -> impl Strategy<Value = Address<B>> {
    (any::<u8>(), any::<u8>(), cstr(max)).prop_map(|(t, n, a)| Address {
        ton: Ton(t),
        npi: Npi(n),
        addr: a,
    })
}

/// A TLV value valid for its tag.
fn tlv() -> impl Strategy<Value = (u16, B)> {
    prop_oneof![
        (prop::sample::select(TlvTag::ALL.to_vec()), any::<u64>()).prop_flat_map(|(tag, _)| {
            let (lo, hi) = match tag.length() {
                Some(smpp::tlv::TlvLength::Exact(n)) => (n, n),
                Some(smpp::tlv::TlvLength::Range(lo, hi)) => (lo, hi.min(300)),
                None => (0, 10),
            };
            vec(any::<u8>(), lo..=hi).prop_map(move |v| (tag.0, v))
        }),
        (0x1400u16..0x3fff, vec(any::<u8>(), 0..20)),
    ]
}

pub fn tlvs() -> impl Strategy<Value = Tlvs<B>> {
    vec(tlv(), 0..4).prop_map(|ts| {
        let mut b = TlvsBuilder::new();
        for (tag, v) in ts {
            b.push(TlvTag(tag), &v);
        }
        Tlvs::from_raw(b.build().raw().to_vec()).expect("built TLVs are valid")
    })
}

pub fn bind() -> impl Strategy<Value = Bind<B>> {
    (
        cstr(15),
        cstr(8),
        cstr(12),
        any::<u8>(),
        any::<u8>(),
        any::<u8>(),
        cstr(40),
    )
        .prop_map(
            |(system_id, password, system_type, interface_version, t, n, address_range)| Bind {
                system_id,
                password,
                system_type,
                interface_version,
                addr_ton: Ton(t),
                addr_npi: Npi(n),
                address_range,
            },
        )
}

pub fn submit_sm() -> impl Strategy<Value = SubmitSm<B>> {
    (
        (
            cstr(5),
            address(20),
            address(20),
            any::<u8>(),
            any::<u8>(),
            any::<u8>(),
        ),
        (
            time(),
            time(),
            any::<u8>(),
            any::<u8>(),
            any::<u8>(),
            any::<u8>(),
        ),
        vec(any::<u8>(), 0..=254),
        tlvs(),
    )
        .prop_map(
            |((st, src, dst, esm, pid, prio), (sched, valid, rd, rip, dc, dmid), sm, tlvs)| {
                SubmitSm {
                    service_type: st,
                    source: src,
                    destination: dst,
                    esm_class: EsmClass(esm),
                    protocol_id: pid,
                    priority_flag: prio,
                    schedule_delivery_time: sched,
                    validity_period: valid,
                    registered_delivery: RegisteredDelivery(rd),
                    replace_if_present_flag: rip,
                    data_coding: DataCoding(dc),
                    sm_default_msg_id: dmid,
                    short_message: sm,
                    tlvs,
                }
            },
        )
}

pub fn sm_resp() -> impl Strategy<Value = SubmitSmResp<B>> {
    (cstr(64), tlvs()).prop_map(|(message_id, tlvs)| SubmitSmResp { message_id, tlvs })
}

pub fn destination() -> impl Strategy<Value = Destination<B>> {
    prop_oneof![
        address(20).prop_map(Destination::Sme),
        cstr(20).prop_map(Destination::DistributionList),
    ]
}

pub fn submit_multi() -> impl Strategy<Value = SubmitMulti<B>> {
    (submit_sm(), vec(destination(), 0..5)).prop_map(|(s, destinations)| SubmitMulti {
        service_type: s.service_type,
        source: s.source,
        destinations,
        esm_class: s.esm_class,
        protocol_id: s.protocol_id,
        priority_flag: s.priority_flag,
        schedule_delivery_time: s.schedule_delivery_time,
        validity_period: s.validity_period,
        registered_delivery: s.registered_delivery,
        replace_if_present_flag: s.replace_if_present_flag,
        data_coding: s.data_coding,
        sm_default_msg_id: s.sm_default_msg_id,
        short_message: s.short_message,
        tlvs: s.tlvs,
    })
}

pub fn submit_multi_resp() -> impl Strategy<Value = SubmitMultiResp<B>> {
    (cstr(64), vec((address(20), any::<u32>()), 0..4), tlvs()).prop_map(|(message_id, u, tlvs)| {
        SubmitMultiResp {
            message_id,
            unsuccess_smes: u
                .into_iter()
                .map(|(address, s)| UnsuccessSme {
                    address,
                    error_status: CommandStatus(s),
                })
                .collect(),
            tlvs,
        }
    })
}

pub fn body() -> impl Strategy<Value = Body<B>> {
    prop_oneof![
        Just(Body::GenericNack),
        bind().prop_map(Body::BindReceiver),
        bind().prop_map(Body::BindTransmitter),
        bind().prop_map(Body::BindTransceiver),
        (cstr(15), tlvs())
            .prop_map(|(system_id, tlvs)| Body::BindReceiverResp(BindResp { system_id, tlvs })),
        (cstr(15), tlvs())
            .prop_map(|(system_id, tlvs)| Body::BindTransmitterResp(BindResp { system_id, tlvs })),
        (cstr(15), tlvs())
            .prop_map(|(system_id, tlvs)| Body::BindTransceiverResp(BindResp { system_id, tlvs })),
        (cstr(15), cstr(8)).prop_map(|(system_id, password)| Body::Outbind(Outbind {
            system_id,
            password
        })),
        Just(Body::Unbind),
        Just(Body::UnbindResp),
        Just(Body::EnquireLink),
        Just(Body::EnquireLinkResp),
        submit_sm().prop_map(Body::SubmitSm),
        sm_resp().prop_map(Body::SubmitSmResp),
        submit_multi().prop_map(Body::SubmitMulti),
        submit_multi_resp().prop_map(Body::SubmitMultiResp),
        submit_sm().prop_map(Body::DeliverSm),
        sm_resp().prop_map(Body::DeliverSmResp),
        (
            cstr(5),
            address(64),
            address(64),
            any::<u8>(),
            any::<u8>(),
            any::<u8>(),
            tlvs()
        )
            .prop_map(
                |(service_type, source, destination, e, r, d, tlvs)| Body::DataSm(DataSm {
                    service_type,
                    source,
                    destination,
                    esm_class: EsmClass(e),
                    registered_delivery: RegisteredDelivery(r),
                    data_coding: DataCoding(d),
                    tlvs,
                })
            ),
        sm_resp().prop_map(Body::DataSmResp),
        (cstr(64), address(20))
            .prop_map(|(message_id, source)| Body::QuerySm(QuerySm { message_id, source })),
        (cstr(64), time(), any::<u8>(), any::<u8>()).prop_map(|(message_id, final_date, s, e)| {
            Body::QuerySmResp(QuerySmResp {
                message_id,
                final_date,
                message_state: MessageState::from_u8(s),
                error_code: e,
            })
        }),
        (cstr(5), cstr(64), address(20), address(20)).prop_map(
            |(service_type, message_id, source, destination)| Body::CancelSm(CancelSm {
                service_type,
                message_id,
                source,
                destination,
            })
        ),
        Just(Body::CancelSmResp),
        (
            cstr(64),
            address(20),
            time(),
            time(),
            any::<u8>(),
            any::<u8>(),
            vec(any::<u8>(), 0..=254)
        )
            .prop_map(
                |(message_id, source, s, v, rd, d, sm)| Body::ReplaceSm(ReplaceSm {
                    message_id,
                    source,
                    schedule_delivery_time: s,
                    validity_period: v,
                    registered_delivery: RegisteredDelivery(rd),
                    sm_default_msg_id: d,
                    short_message: sm,
                })
            ),
        Just(Body::ReplaceSmResp),
        (address(64), address(64), tlvs()).prop_map(|(source, esme, tlvs)| {
            Body::AlertNotification(AlertNotification { source, esme, tlvs })
        }),
    ]
}

pub fn pdu() -> impl Strategy<Value = Pdu<B>> {
    (any::<u32>(), any::<u32>(), body()).prop_map(|(status, seq, body)| Pdu {
        command_status: CommandStatus(status),
        sequence_number: seq,
        body,
    })
}
