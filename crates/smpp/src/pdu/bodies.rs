//! The body of every SMPP 3.4 PDU (§4), with its decoder and encoder.
//!
//! Field limits are those of the specification (lengths include the NUL);
//! a decoder returns the status named for the field that is wrong.

use bytes::{BufMut, BytesMut};

use super::fields::{
    Address, DataCoding, Destination, EsmClass, Npi, RegisteredDelivery, Ton, UnsuccessSme,
};
use super::wire::{Reader, put_c_octet_string, put_time};
use super::{Buffer, CommandId, EncodeError, Limits};
use crate::message_state::MessageState;
use crate::status::CommandStatus as S;
use crate::tlv::Tlvs;

const SYSTEM_ID_MAX: usize = 16;
const PASSWORD_MAX: usize = 9;
const SYSTEM_TYPE_MAX: usize = 13;
const ADDRESS_RANGE_MAX: usize = 41;
const SERVICE_TYPE_MAX: usize = 6;
const ADDR_MAX: usize = 21;
const ADDR_65_MAX: usize = 65;
const TIME_MAX: usize = 17;
const MESSAGE_ID_MAX: usize = 65;
const SHORT_MESSAGE_MAX: usize = 254;
const DESTS_MAX: usize = 254;

/// bind_transmitter, bind_receiver and bind_transceiver (§4.1).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Bind<B> {
    pub system_id: B,
    pub password: B,
    pub system_type: B,
    /// 0x34 for SMPP 3.4.
    pub interface_version: u8,
    pub addr_ton: Ton,
    pub addr_npi: Npi,
    pub address_range: B,
}

/// The responses to the three binds: the SMSC's system_id, and the
/// sc_interface_version TLV when the SMSC sends it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct BindResp<B> {
    pub system_id: B,
    pub tlvs: Tlvs<B>,
}

/// outbind (§4.1.7): an SMSC asks an ESME to bind.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Outbind<B> {
    pub system_id: B,
    pub password: B,
}

/// submit_sm (§4.4.1), and deliver_sm (§4.6.1), which has the same fields.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SubmitSm<B> {
    pub service_type: B,
    pub source: Address<B>,
    pub destination: Address<B>,
    pub esm_class: EsmClass,
    pub protocol_id: u8,
    pub priority_flag: u8,
    /// Empty, or 16 characters (see [`crate::time`]).
    pub schedule_delivery_time: B,
    /// Empty, or 16 characters (see [`crate::time`]).
    pub validity_period: B,
    pub registered_delivery: RegisteredDelivery,
    pub replace_if_present_flag: u8,
    pub data_coding: DataCoding,
    pub sm_default_msg_id: u8,
    /// At most 254 octets; longer content goes in message_payload.
    pub short_message: B,
    pub tlvs: Tlvs<B>,
}

/// deliver_sm: the fields of submit_sm (§4.6.1).
pub type DeliverSm<B> = SubmitSm<B>;

impl<B: AsRef<[u8]>> SubmitSm<B> {
    /// The message body: short_message, or the message_payload TLV when
    /// short_message is empty (UDH included when `esm_class` says so).
    pub fn body(&self) -> &[u8] {
        match self.short_message.as_ref() {
            [] => self.tlvs.message_payload().unwrap_or_default(),
            sm => sm,
        }
    }

    /// The body without its UDH: the text's bytes (the whole body when
    /// there is no UDH or it does not parse).
    pub fn content(&self) -> &[u8] {
        let body = self.body();
        if !self.esm_class.udhi() {
            return body;
        }
        crate::udh::Udh::parse(body)
            .ok()
            .and_then(|u| body.get(u.payload_offset()..))
            .unwrap_or(body)
    }
}

/// A data_sm as the submit_sm (or deliver_sm) with the same fields; its
/// text is in message_payload.
impl<B: Default> From<DataSm<B>> for SubmitSm<B> {
    fn from(d: DataSm<B>) -> Self {
        SubmitSm {
            service_type: d.service_type,
            source: d.source,
            destination: d.destination,
            esm_class: d.esm_class,
            registered_delivery: d.registered_delivery,
            data_coding: d.data_coding,
            tlvs: d.tlvs,
            ..Default::default()
        }
    }
}

/// submit_sm_resp, deliver_sm_resp and data_sm_resp: a message_id and,
/// from peers that speak later versions, TLVs.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SubmitSmResp<B> {
    pub message_id: B,
    pub tlvs: Tlvs<B>,
}

/// deliver_sm_resp: message_id is unused (NULL) in 3.4.
pub type DeliverSmResp<B> = SubmitSmResp<B>;
/// data_sm_resp (§4.7.2).
pub type DataSmResp<B> = SubmitSmResp<B>;

/// submit_multi (§4.5.1).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SubmitMulti<B> {
    pub service_type: B,
    pub source: Address<B>,
    pub destinations: Vec<Destination<B>>,
    pub esm_class: EsmClass,
    pub protocol_id: u8,
    pub priority_flag: u8,
    pub schedule_delivery_time: B,
    pub validity_period: B,
    pub registered_delivery: RegisteredDelivery,
    pub replace_if_present_flag: u8,
    pub data_coding: DataCoding,
    pub sm_default_msg_id: u8,
    pub short_message: B,
    pub tlvs: Tlvs<B>,
}

/// submit_multi_resp (§4.5.2).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SubmitMultiResp<B> {
    pub message_id: B,
    pub unsuccess_smes: Vec<UnsuccessSme<B>>,
    pub tlvs: Tlvs<B>,
}

/// data_sm (§4.7.1).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DataSm<B> {
    pub service_type: B,
    pub source: Address<B>,
    pub destination: Address<B>,
    pub esm_class: EsmClass,
    pub registered_delivery: RegisteredDelivery,
    pub data_coding: DataCoding,
    pub tlvs: Tlvs<B>,
}

/// query_sm (§4.8.1).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct QuerySm<B> {
    pub message_id: B,
    pub source: Address<B>,
}

/// query_sm_resp (§4.8.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuerySmResp<B> {
    pub message_id: B,
    /// Empty while the message is not final.
    pub final_date: B,
    pub message_state: MessageState,
    /// A network-specific error code, 0 when none.
    pub error_code: u8,
}

impl<B: Default> Default for QuerySmResp<B> {
    fn default() -> Self {
        QuerySmResp {
            message_id: B::default(),
            final_date: B::default(),
            message_state: MessageState::Unknown,
            error_code: 0,
        }
    }
}

/// cancel_sm (§4.9.1).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CancelSm<B> {
    pub service_type: B,
    pub message_id: B,
    pub source: Address<B>,
    pub destination: Address<B>,
}

/// replace_sm (§4.10.1).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ReplaceSm<B> {
    pub message_id: B,
    pub source: Address<B>,
    pub schedule_delivery_time: B,
    pub validity_period: B,
    pub registered_delivery: RegisteredDelivery,
    pub sm_default_msg_id: u8,
    pub short_message: B,
}

/// alert_notification (§4.12.1): an MS became available.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AlertNotification<B> {
    pub source: Address<B>,
    pub esme: Address<B>,
    pub tlvs: Tlvs<B>,
}

/// The body of a PDU; the variant is the command_id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Body<B> {
    GenericNack,
    BindReceiver(Bind<B>),
    BindReceiverResp(BindResp<B>),
    BindTransmitter(Bind<B>),
    BindTransmitterResp(BindResp<B>),
    BindTransceiver(Bind<B>),
    BindTransceiverResp(BindResp<B>),
    Outbind(Outbind<B>),
    Unbind,
    UnbindResp,
    EnquireLink,
    EnquireLinkResp,
    SubmitSm(SubmitSm<B>),
    SubmitSmResp(SubmitSmResp<B>),
    SubmitMulti(SubmitMulti<B>),
    SubmitMultiResp(SubmitMultiResp<B>),
    DeliverSm(DeliverSm<B>),
    DeliverSmResp(DeliverSmResp<B>),
    DataSm(DataSm<B>),
    DataSmResp(DataSmResp<B>),
    QuerySm(QuerySm<B>),
    QuerySmResp(QuerySmResp<B>),
    CancelSm(CancelSm<B>),
    CancelSmResp,
    ReplaceSm(ReplaceSm<B>),
    ReplaceSmResp,
    AlertNotification(AlertNotification<B>),
}

impl<B> Body<B> {
    pub fn command_id(&self) -> CommandId {
        match self {
            Body::GenericNack => CommandId::GENERIC_NACK,
            Body::BindReceiver(_) => CommandId::BIND_RECEIVER,
            Body::BindReceiverResp(_) => CommandId::BIND_RECEIVER_RESP,
            Body::BindTransmitter(_) => CommandId::BIND_TRANSMITTER,
            Body::BindTransmitterResp(_) => CommandId::BIND_TRANSMITTER_RESP,
            Body::BindTransceiver(_) => CommandId::BIND_TRANSCEIVER,
            Body::BindTransceiverResp(_) => CommandId::BIND_TRANSCEIVER_RESP,
            Body::Outbind(_) => CommandId::OUTBIND,
            Body::Unbind => CommandId::UNBIND,
            Body::UnbindResp => CommandId::UNBIND_RESP,
            Body::EnquireLink => CommandId::ENQUIRE_LINK,
            Body::EnquireLinkResp => CommandId::ENQUIRE_LINK_RESP,
            Body::SubmitSm(_) => CommandId::SUBMIT_SM,
            Body::SubmitSmResp(_) => CommandId::SUBMIT_SM_RESP,
            Body::SubmitMulti(_) => CommandId::SUBMIT_MULTI,
            Body::SubmitMultiResp(_) => CommandId::SUBMIT_MULTI_RESP,
            Body::DeliverSm(_) => CommandId::DELIVER_SM,
            Body::DeliverSmResp(_) => CommandId::DELIVER_SM_RESP,
            Body::DataSm(_) => CommandId::DATA_SM,
            Body::DataSmResp(_) => CommandId::DATA_SM_RESP,
            Body::QuerySm(_) => CommandId::QUERY_SM,
            Body::QuerySmResp(_) => CommandId::QUERY_SM_RESP,
            Body::CancelSm(_) => CommandId::CANCEL_SM,
            Body::CancelSmResp => CommandId::CANCEL_SM_RESP,
            Body::ReplaceSm(_) => CommandId::REPLACE_SM,
            Body::ReplaceSmResp => CommandId::REPLACE_SM_RESP,
            Body::AlertNotification(_) => CommandId::ALERT_NOTIFICATION,
        }
    }
}

impl<B: Default> Body<B> {
    /// The body of a response that carries only an error status: empty
    /// fields. None when `id` is not a response.
    pub fn error_response(id: CommandId) -> Option<Body<B>> {
        Some(match id {
            CommandId::GENERIC_NACK => Body::GenericNack,
            CommandId::BIND_RECEIVER_RESP => Body::BindReceiverResp(BindResp::default()),
            CommandId::BIND_TRANSMITTER_RESP => Body::BindTransmitterResp(BindResp::default()),
            CommandId::BIND_TRANSCEIVER_RESP => Body::BindTransceiverResp(BindResp::default()),
            CommandId::UNBIND_RESP => Body::UnbindResp,
            CommandId::ENQUIRE_LINK_RESP => Body::EnquireLinkResp,
            CommandId::SUBMIT_SM_RESP => Body::SubmitSmResp(SubmitSmResp::default()),
            CommandId::SUBMIT_MULTI_RESP => Body::SubmitMultiResp(SubmitMultiResp::default()),
            CommandId::DELIVER_SM_RESP => Body::DeliverSmResp(SubmitSmResp::default()),
            CommandId::DATA_SM_RESP => Body::DataSmResp(SubmitSmResp::default()),
            CommandId::QUERY_SM_RESP => Body::QuerySmResp(QuerySmResp::default()),
            CommandId::CANCEL_SM_RESP => Body::CancelSmResp,
            CommandId::REPLACE_SM_RESP => Body::ReplaceSmResp,
            _ => return None,
        })
    }
}

impl<B: Buffer> Body<B> {
    /// Decode the body of `frame` (which starts with its 16-octet header).
    pub(crate) fn decode(
        id: CommandId,
        status: S,
        frame: &B,
        limits: &Limits,
    ) -> Result<Body<B>, S> {
        let mut r = Reader::new(frame, super::Header::LEN);
        // A response carrying an error may come without a body (§3.3).
        if r.is_empty() && id.is_response() && (!status.is_ok() || has_optional_body(id)) {
            return Body::error_response(id).ok_or(S::ESME_RINVCMDID);
        }
        let body = match id {
            CommandId::GENERIC_NACK => Body::GenericNack,
            CommandId::BIND_RECEIVER => Body::BindReceiver(Bind::decode(&mut r, limits)?),
            CommandId::BIND_TRANSMITTER => Body::BindTransmitter(Bind::decode(&mut r, limits)?),
            CommandId::BIND_TRANSCEIVER => Body::BindTransceiver(Bind::decode(&mut r, limits)?),
            CommandId::BIND_RECEIVER_RESP => {
                Body::BindReceiverResp(BindResp::decode(&mut r, limits)?)
            }
            CommandId::BIND_TRANSMITTER_RESP => {
                Body::BindTransmitterResp(BindResp::decode(&mut r, limits)?)
            }
            CommandId::BIND_TRANSCEIVER_RESP => {
                Body::BindTransceiverResp(BindResp::decode(&mut r, limits)?)
            }
            CommandId::OUTBIND => Body::Outbind(Outbind {
                system_id: r.c_octet_string(limits.system_id, S::ESME_RINVSYSID)?,
                password: r.c_octet_string(limits.password, S::ESME_RINVPASWD)?,
            }),
            CommandId::UNBIND => Body::Unbind,
            CommandId::UNBIND_RESP => Body::UnbindResp,
            CommandId::ENQUIRE_LINK => Body::EnquireLink,
            CommandId::ENQUIRE_LINK_RESP => Body::EnquireLinkResp,
            CommandId::SUBMIT_SM => Body::SubmitSm(SubmitSm::decode(&mut r)?),
            CommandId::DELIVER_SM => Body::DeliverSm(SubmitSm::decode(&mut r)?),
            CommandId::SUBMIT_SM_RESP => Body::SubmitSmResp(SubmitSmResp::decode(&mut r)?),
            CommandId::DELIVER_SM_RESP => Body::DeliverSmResp(SubmitSmResp::decode(&mut r)?),
            CommandId::DATA_SM_RESP => Body::DataSmResp(SubmitSmResp::decode(&mut r)?),
            CommandId::SUBMIT_MULTI => Body::SubmitMulti(SubmitMulti::decode(&mut r)?),
            CommandId::SUBMIT_MULTI_RESP => Body::SubmitMultiResp(SubmitMultiResp::decode(&mut r)?),
            CommandId::DATA_SM => Body::DataSm(DataSm {
                service_type: r.c_octet_string(SERVICE_TYPE_MAX, S::ESME_RINVSERTYP)?,
                source: address(&mut r, ADDR_65_MAX, S::ESME_RINVSRCADR)?,
                destination: address(&mut r, ADDR_65_MAX, S::ESME_RINVDSTADR)?,
                esm_class: EsmClass(r.u8()?),
                registered_delivery: RegisteredDelivery(r.u8()?),
                data_coding: DataCoding(r.u8()?),
                tlvs: r.tlvs()?,
            }),
            CommandId::QUERY_SM => Body::QuerySm(QuerySm {
                message_id: r.c_octet_string(MESSAGE_ID_MAX, S::ESME_RINVMSGID)?,
                source: address(&mut r, ADDR_MAX, S::ESME_RINVSRCADR)?,
            }),
            CommandId::QUERY_SM_RESP => Body::QuerySmResp(QuerySmResp {
                message_id: r.c_octet_string(MESSAGE_ID_MAX, S::ESME_RINVMSGID)?,
                final_date: r.c_octet_string(TIME_MAX, S::ESME_RINVCMDLEN)?,
                message_state: MessageState::from_u8(r.u8()?),
                error_code: r.u8()?,
            }),
            CommandId::CANCEL_SM => Body::CancelSm(CancelSm {
                service_type: r.c_octet_string(SERVICE_TYPE_MAX, S::ESME_RINVSERTYP)?,
                message_id: r.c_octet_string(MESSAGE_ID_MAX, S::ESME_RINVMSGID)?,
                source: address(&mut r, ADDR_MAX, S::ESME_RINVSRCADR)?,
                destination: address(&mut r, ADDR_MAX, S::ESME_RINVDSTADR)?,
            }),
            CommandId::CANCEL_SM_RESP => Body::CancelSmResp,
            CommandId::REPLACE_SM => Body::ReplaceSm(ReplaceSm {
                message_id: r.c_octet_string(MESSAGE_ID_MAX, S::ESME_RINVMSGID)?,
                source: address(&mut r, ADDR_MAX, S::ESME_RINVSRCADR)?,
                schedule_delivery_time: r.c_octet_string(TIME_MAX, S::ESME_RINVSCHED)?,
                validity_period: r.c_octet_string(TIME_MAX, S::ESME_RINVEXPIRY)?,
                registered_delivery: RegisteredDelivery(r.u8()?),
                sm_default_msg_id: r.u8()?,
                short_message: short_message(&mut r)?,
            }),
            CommandId::REPLACE_SM_RESP => Body::ReplaceSmResp,
            CommandId::ALERT_NOTIFICATION => Body::AlertNotification(AlertNotification {
                source: address(&mut r, ADDR_65_MAX, S::ESME_RINVSRCADR)?,
                esme: address(&mut r, ADDR_65_MAX, S::ESME_RINVDSTADR)?,
                tlvs: r.tlvs()?,
            }),
            _ => return Err(S::ESME_RINVCMDID),
        };
        r.finish()?;
        Ok(body)
    }
}

/// Responses whose body some peers leave out even on success.
fn has_optional_body(id: CommandId) -> bool {
    matches!(
        id,
        CommandId::DELIVER_SM_RESP
            | CommandId::DATA_SM_RESP
            | CommandId::SUBMIT_SM_RESP
            | CommandId::BIND_RECEIVER_RESP
            | CommandId::BIND_TRANSMITTER_RESP
            | CommandId::BIND_TRANSCEIVER_RESP
    )
}

fn address<B: Buffer>(r: &mut Reader<'_, B>, max: usize, status: S) -> Result<Address<B>, S> {
    Ok(Address {
        ton: Ton(r.u8()?),
        npi: Npi(r.u8()?),
        addr: r.c_octet_string(max, status)?,
    })
}

fn short_message<B: Buffer>(r: &mut Reader<'_, B>) -> Result<B, S> {
    let len = r.u8()? as usize;
    if len > SHORT_MESSAGE_MAX {
        return Err(S::ESME_RINVMSGLEN);
    }
    r.octets(len, S::ESME_RINVMSGLEN)
}

impl<B: Buffer> Bind<B> {
    fn decode(r: &mut Reader<'_, B>, limits: &Limits) -> Result<Self, S> {
        Ok(Bind {
            system_id: r.c_octet_string(limits.system_id, S::ESME_RINVSYSID)?,
            password: r.c_octet_string(limits.password, S::ESME_RINVPASWD)?,
            system_type: r.c_octet_string(SYSTEM_TYPE_MAX, S::ESME_RINVSYSTYP)?,
            interface_version: r.u8()?,
            addr_ton: Ton(r.u8()?),
            addr_npi: Npi(r.u8()?),
            address_range: r.c_octet_string(ADDRESS_RANGE_MAX, S::ESME_RINVSRCADR)?,
        })
    }
}

impl<B: Buffer> BindResp<B> {
    fn decode(r: &mut Reader<'_, B>, limits: &Limits) -> Result<Self, S> {
        Ok(BindResp {
            system_id: r.c_octet_string(limits.system_id, S::ESME_RINVSYSID)?,
            tlvs: r.tlvs()?,
        })
    }
}

impl<B: Buffer> SubmitSm<B> {
    fn decode(r: &mut Reader<'_, B>) -> Result<Self, S> {
        Ok(SubmitSm {
            service_type: r.c_octet_string(SERVICE_TYPE_MAX, S::ESME_RINVSERTYP)?,
            source: address(r, ADDR_MAX, S::ESME_RINVSRCADR)?,
            destination: address(r, ADDR_MAX, S::ESME_RINVDSTADR)?,
            esm_class: EsmClass(r.u8()?),
            protocol_id: r.u8()?,
            priority_flag: r.u8()?,
            schedule_delivery_time: r.c_octet_string(TIME_MAX, S::ESME_RINVSCHED)?,
            validity_period: r.c_octet_string(TIME_MAX, S::ESME_RINVEXPIRY)?,
            registered_delivery: RegisteredDelivery(r.u8()?),
            replace_if_present_flag: r.u8()?,
            data_coding: DataCoding(r.u8()?),
            sm_default_msg_id: r.u8()?,
            short_message: short_message(r)?,
            tlvs: r.tlvs()?,
        })
    }
}

impl<B: Buffer> SubmitSmResp<B> {
    fn decode(r: &mut Reader<'_, B>) -> Result<Self, S> {
        Ok(SubmitSmResp {
            message_id: r.c_octet_string(MESSAGE_ID_MAX, S::ESME_RINVMSGID)?,
            tlvs: r.tlvs()?,
        })
    }
}

impl<B: Buffer> SubmitMulti<B> {
    fn decode(r: &mut Reader<'_, B>) -> Result<Self, S> {
        let service_type = r.c_octet_string(SERVICE_TYPE_MAX, S::ESME_RINVSERTYP)?;
        let source = address(r, ADDR_MAX, S::ESME_RINVSRCADR)?;
        let count = r.u8()? as usize;
        let mut destinations = Vec::with_capacity(count);
        for _ in 0..count {
            destinations.push(match r.u8()? {
                1 => Destination::Sme(address(r, ADDR_MAX, S::ESME_RINVDSTADR)?),
                2 => Destination::DistributionList(r.c_octet_string(ADDR_MAX, S::ESME_RINVDLNAME)?),
                _ => return Err(S::ESME_RINVDESTFLAG),
            });
        }
        Ok(SubmitMulti {
            service_type,
            source,
            destinations,
            esm_class: EsmClass(r.u8()?),
            protocol_id: r.u8()?,
            priority_flag: r.u8()?,
            schedule_delivery_time: r.c_octet_string(TIME_MAX, S::ESME_RINVSCHED)?,
            validity_period: r.c_octet_string(TIME_MAX, S::ESME_RINVEXPIRY)?,
            registered_delivery: RegisteredDelivery(r.u8()?),
            replace_if_present_flag: r.u8()?,
            data_coding: DataCoding(r.u8()?),
            sm_default_msg_id: r.u8()?,
            short_message: short_message(r)?,
            tlvs: r.tlvs()?,
        })
    }
}

impl<B: Buffer> SubmitMultiResp<B> {
    fn decode(r: &mut Reader<'_, B>) -> Result<Self, S> {
        let message_id = r.c_octet_string(MESSAGE_ID_MAX, S::ESME_RINVMSGID)?;
        let count = r.u8()? as usize;
        let mut unsuccess_smes = Vec::with_capacity(count);
        for _ in 0..count {
            unsuccess_smes.push(UnsuccessSme {
                address: address(r, ADDR_MAX, S::ESME_RINVDSTADR)?,
                error_status: S(r.u32()?),
            });
        }
        Ok(SubmitMultiResp {
            message_id,
            unsuccess_smes,
            tlvs: r.tlvs()?,
        })
    }
}

// ---- encoding ----

fn put_address<B: AsRef<[u8]>>(
    buf: &mut BytesMut,
    a: &Address<B>,
    max: usize,
    field: &'static str,
) -> Result<(), EncodeError> {
    buf.put_u8(a.ton.0);
    buf.put_u8(a.npi.0);
    put_c_octet_string(buf, a.addr.as_ref(), max, field)
}

fn put_short_message(buf: &mut BytesMut, sm: &[u8]) -> Result<(), EncodeError> {
    if sm.len() > SHORT_MESSAGE_MAX {
        return Err(EncodeError::FieldTooLong {
            field: "short_message",
            max: SHORT_MESSAGE_MAX,
        });
    }
    buf.put_u8(sm.len() as u8);
    buf.put_slice(sm);
    Ok(())
}

fn put_bind<B: AsRef<[u8]>>(buf: &mut BytesMut, b: &Bind<B>) -> Result<(), EncodeError> {
    put_c_octet_string(buf, b.system_id.as_ref(), SYSTEM_ID_MAX, "system_id")?;
    put_c_octet_string(buf, b.password.as_ref(), PASSWORD_MAX, "password")?;
    put_c_octet_string(buf, b.system_type.as_ref(), SYSTEM_TYPE_MAX, "system_type")?;
    buf.put_u8(b.interface_version);
    buf.put_u8(b.addr_ton.0);
    buf.put_u8(b.addr_npi.0);
    put_c_octet_string(
        buf,
        b.address_range.as_ref(),
        ADDRESS_RANGE_MAX,
        "address_range",
    )
}

fn put_bind_resp<B: AsRef<[u8]>>(buf: &mut BytesMut, b: &BindResp<B>) -> Result<(), EncodeError> {
    put_c_octet_string(buf, b.system_id.as_ref(), SYSTEM_ID_MAX, "system_id")?;
    buf.put_slice(b.tlvs.raw());
    Ok(())
}

fn put_submit_sm<B: AsRef<[u8]>>(buf: &mut BytesMut, s: &SubmitSm<B>) -> Result<(), EncodeError> {
    put_c_octet_string(
        buf,
        s.service_type.as_ref(),
        SERVICE_TYPE_MAX,
        "service_type",
    )?;
    put_address(buf, &s.source, ADDR_MAX, "source_addr")?;
    put_address(buf, &s.destination, ADDR_MAX, "destination_addr")?;
    buf.put_u8(s.esm_class.0);
    buf.put_u8(s.protocol_id);
    buf.put_u8(s.priority_flag);
    put_time(
        buf,
        s.schedule_delivery_time.as_ref(),
        "schedule_delivery_time",
    )?;
    put_time(buf, s.validity_period.as_ref(), "validity_period")?;
    buf.put_u8(s.registered_delivery.0);
    buf.put_u8(s.replace_if_present_flag);
    buf.put_u8(s.data_coding.0);
    buf.put_u8(s.sm_default_msg_id);
    put_short_message(buf, s.short_message.as_ref())?;
    buf.put_slice(s.tlvs.raw());
    Ok(())
}

fn put_submit_sm_resp<B: AsRef<[u8]>>(
    buf: &mut BytesMut,
    s: &SubmitSmResp<B>,
) -> Result<(), EncodeError> {
    put_c_octet_string(buf, s.message_id.as_ref(), MESSAGE_ID_MAX, "message_id")?;
    buf.put_slice(s.tlvs.raw());
    Ok(())
}

fn put_submit_multi<B: AsRef<[u8]>>(
    buf: &mut BytesMut,
    s: &SubmitMulti<B>,
) -> Result<(), EncodeError> {
    put_c_octet_string(
        buf,
        s.service_type.as_ref(),
        SERVICE_TYPE_MAX,
        "service_type",
    )?;
    put_address(buf, &s.source, ADDR_MAX, "source_addr")?;
    if s.destinations.len() > DESTS_MAX {
        return Err(EncodeError::TooMany {
            field: "number_of_dests",
            count: s.destinations.len(),
            max: DESTS_MAX,
        });
    }
    buf.put_u8(s.destinations.len() as u8);
    for d in &s.destinations {
        match d {
            Destination::Sme(a) => {
                buf.put_u8(1);
                put_address(buf, a, ADDR_MAX, "destination_addr")?;
            }
            Destination::DistributionList(name) => {
                buf.put_u8(2);
                put_c_octet_string(buf, name.as_ref(), ADDR_MAX, "dl_name")?;
            }
        }
    }
    buf.put_u8(s.esm_class.0);
    buf.put_u8(s.protocol_id);
    buf.put_u8(s.priority_flag);
    put_time(
        buf,
        s.schedule_delivery_time.as_ref(),
        "schedule_delivery_time",
    )?;
    put_time(buf, s.validity_period.as_ref(), "validity_period")?;
    buf.put_u8(s.registered_delivery.0);
    buf.put_u8(s.replace_if_present_flag);
    buf.put_u8(s.data_coding.0);
    buf.put_u8(s.sm_default_msg_id);
    put_short_message(buf, s.short_message.as_ref())?;
    buf.put_slice(s.tlvs.raw());
    Ok(())
}

fn put_submit_multi_resp<B: AsRef<[u8]>>(
    buf: &mut BytesMut,
    s: &SubmitMultiResp<B>,
) -> Result<(), EncodeError> {
    put_c_octet_string(buf, s.message_id.as_ref(), MESSAGE_ID_MAX, "message_id")?;
    if s.unsuccess_smes.len() > DESTS_MAX {
        return Err(EncodeError::TooMany {
            field: "no_unsuccess",
            count: s.unsuccess_smes.len(),
            max: DESTS_MAX,
        });
    }
    buf.put_u8(s.unsuccess_smes.len() as u8);
    for u in &s.unsuccess_smes {
        put_address(buf, &u.address, ADDR_MAX, "destination_addr")?;
        buf.put_u32(u.error_status.0);
    }
    buf.put_slice(s.tlvs.raw());
    Ok(())
}

impl<B: AsRef<[u8]>> Body<B> {
    /// The octets of the variable payload (short_message and TLVs), to size
    /// the buffer before encoding.
    pub(crate) fn payload_len(&self) -> usize {
        match self {
            Body::SubmitSm(s) | Body::DeliverSm(s) => {
                s.short_message.as_ref().len() + s.tlvs.raw().len()
            }
            Body::SubmitMulti(s) => {
                s.short_message.as_ref().len() + s.tlvs.raw().len() + 24 * s.destinations.len()
            }
            Body::DataSm(s) => s.tlvs.raw().len(),
            _ => 0,
        }
    }

    pub(crate) fn encode(&self, buf: &mut BytesMut) -> Result<(), EncodeError> {
        match self {
            Body::GenericNack
            | Body::Unbind
            | Body::UnbindResp
            | Body::EnquireLink
            | Body::EnquireLinkResp
            | Body::CancelSmResp
            | Body::ReplaceSmResp => Ok(()),
            Body::BindReceiver(b) | Body::BindTransmitter(b) | Body::BindTransceiver(b) => {
                put_bind(buf, b)
            }
            Body::BindReceiverResp(b)
            | Body::BindTransmitterResp(b)
            | Body::BindTransceiverResp(b) => put_bind_resp(buf, b),
            Body::Outbind(o) => {
                put_c_octet_string(buf, o.system_id.as_ref(), SYSTEM_ID_MAX, "system_id")?;
                put_c_octet_string(buf, o.password.as_ref(), PASSWORD_MAX, "password")
            }
            Body::SubmitSm(s) | Body::DeliverSm(s) => put_submit_sm(buf, s),
            Body::SubmitSmResp(s) | Body::DeliverSmResp(s) | Body::DataSmResp(s) => {
                put_submit_sm_resp(buf, s)
            }
            Body::SubmitMulti(s) => put_submit_multi(buf, s),
            Body::SubmitMultiResp(s) => put_submit_multi_resp(buf, s),
            Body::DataSm(d) => {
                put_c_octet_string(
                    buf,
                    d.service_type.as_ref(),
                    SERVICE_TYPE_MAX,
                    "service_type",
                )?;
                put_address(buf, &d.source, ADDR_65_MAX, "source_addr")?;
                put_address(buf, &d.destination, ADDR_65_MAX, "destination_addr")?;
                buf.put_u8(d.esm_class.0);
                buf.put_u8(d.registered_delivery.0);
                buf.put_u8(d.data_coding.0);
                buf.put_slice(d.tlvs.raw());
                Ok(())
            }
            Body::QuerySm(q) => {
                put_c_octet_string(buf, q.message_id.as_ref(), MESSAGE_ID_MAX, "message_id")?;
                put_address(buf, &q.source, ADDR_MAX, "source_addr")
            }
            Body::QuerySmResp(q) => {
                put_c_octet_string(buf, q.message_id.as_ref(), MESSAGE_ID_MAX, "message_id")?;
                put_time(buf, q.final_date.as_ref(), "final_date")?;
                buf.put_u8(q.message_state.as_u8());
                buf.put_u8(q.error_code);
                Ok(())
            }
            Body::CancelSm(c) => {
                put_c_octet_string(
                    buf,
                    c.service_type.as_ref(),
                    SERVICE_TYPE_MAX,
                    "service_type",
                )?;
                put_c_octet_string(buf, c.message_id.as_ref(), MESSAGE_ID_MAX, "message_id")?;
                put_address(buf, &c.source, ADDR_MAX, "source_addr")?;
                put_address(buf, &c.destination, ADDR_MAX, "destination_addr")
            }
            Body::ReplaceSm(s) => {
                put_c_octet_string(buf, s.message_id.as_ref(), MESSAGE_ID_MAX, "message_id")?;
                put_address(buf, &s.source, ADDR_MAX, "source_addr")?;
                put_time(
                    buf,
                    s.schedule_delivery_time.as_ref(),
                    "schedule_delivery_time",
                )?;
                put_time(buf, s.validity_period.as_ref(), "validity_period")?;
                buf.put_u8(s.registered_delivery.0);
                buf.put_u8(s.sm_default_msg_id);
                put_short_message(buf, s.short_message.as_ref())
            }
            Body::AlertNotification(a) => {
                put_address(buf, &a.source, ADDR_65_MAX, "source_addr")?;
                put_address(buf, &a.esme, ADDR_65_MAX, "esme_addr")?;
                buf.put_slice(a.tlvs.raw());
                Ok(())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tlv::{TlvTag, TlvsBuilder};
    use bytes::Bytes;

    #[test]
    fn body_and_content() {
        let plain = SubmitSm::<Bytes> {
            short_message: Bytes::from_static(b"hi"),
            ..Default::default()
        };
        assert_eq!((plain.body(), plain.content()), (&b"hi"[..], &b"hi"[..]));
        let mut t = TlvsBuilder::new();
        t.push(TlvTag::MESSAGE_PAYLOAD, b"long");
        let payload = SubmitSm::<Bytes> {
            tlvs: t.build(),
            ..Default::default()
        };
        assert_eq!(payload.body(), b"long");
        let udh = SubmitSm::<Bytes> {
            esm_class: EsmClass(0x40),
            short_message: Bytes::from_static(b"\x05\x00\x03\x07\x02\x01hi"),
            ..Default::default()
        };
        assert_eq!(udh.body().len(), 8);
        assert_eq!(udh.content(), b"hi");
        let bad = SubmitSm::<Bytes> {
            esm_class: EsmClass(0x40),
            short_message: Bytes::from_static(b"\x09hi"),
            ..Default::default()
        };
        assert_eq!(
            bad.content(),
            b"\x09hi",
            "an unreadable UDH leaves the body whole"
        );
    }

    #[test]
    fn a_data_sm_reads_as_a_submit_sm() {
        let mut t = TlvsBuilder::new();
        t.push(TlvTag::MESSAGE_PAYLOAD, b"text");
        let d = DataSm::<Bytes> {
            service_type: Bytes::from_static(b"WAP"),
            registered_delivery: RegisteredDelivery(1),
            data_coding: DataCoding(8),
            tlvs: t.build(),
            ..Default::default()
        };
        let s = SubmitSm::from(d.clone());
        assert_eq!(s.service_type, d.service_type);
        assert_eq!(
            (s.registered_delivery, s.data_coding),
            (d.registered_delivery, d.data_coding)
        );
        assert_eq!(s.body(), b"text");
        assert!(s.short_message.is_empty());
    }
}
