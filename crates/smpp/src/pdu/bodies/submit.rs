//! submit_sm (§4.4), deliver_sm (§4.6, the same fields) and data_sm
//! (§4.7), and their responses: the types, what a message's body and text
//! are, the decoders and encoders the dispatch in [`super`] calls (data_sm
//! is read and written in the dispatch itself), and the readers and
//! writers of the address and short_message fields that every command
//! family shares.

use bytes::{BufMut, BytesMut};

use super::{ADDR_MAX, MESSAGE_ID_MAX, SERVICE_TYPE_MAX, SHORT_MESSAGE_MAX, TIME_MAX};
use crate::pdu::fields::{Address, DataCoding, EsmClass, Npi, RegisteredDelivery, Ton};
use crate::pdu::wire::{Reader, put_c_octet_string, put_time};
use crate::pdu::{Buffer, EncodeError};
use crate::status::CommandStatus as S;
use crate::tlv::Tlvs;

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

pub(super) fn address<B: Buffer>(
    r: &mut Reader<'_, B>,
    max: usize,
    status: S,
) -> Result<Address<B>, S> {
    Ok(Address {
        ton: Ton(r.u8()?),
        npi: Npi(r.u8()?),
        addr: r.c_octet_string(max, status)?,
    })
}

pub(super) fn short_message<B: Buffer>(r: &mut Reader<'_, B>) -> Result<B, S> {
    let len = r.u8()? as usize;
    if len > SHORT_MESSAGE_MAX {
        return Err(S::ESME_RINVMSGLEN);
    }
    r.octets(len, S::ESME_RINVMSGLEN)
}

impl<B: Buffer> SubmitSm<B> {
    pub(super) fn decode(r: &mut Reader<'_, B>) -> Result<Self, S> {
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
    pub(super) fn decode(r: &mut Reader<'_, B>) -> Result<Self, S> {
        Ok(SubmitSmResp {
            message_id: r.c_octet_string(MESSAGE_ID_MAX, S::ESME_RINVMSGID)?,
            tlvs: r.tlvs()?,
        })
    }
}

#[inline]
pub(super) fn put_address<B: AsRef<[u8]>>(
    buf: &mut BytesMut,
    a: &Address<B>,
    max: usize,
    field: &'static str,
) -> Result<(), EncodeError> {
    buf.put_slice(&[a.ton.0, a.npi.0]);
    put_c_octet_string(buf, a.addr.as_ref(), max, field)
}

#[inline]
pub(super) fn put_short_message(buf: &mut BytesMut, sm: &[u8]) -> Result<(), EncodeError> {
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

pub(super) fn put_submit_sm<B: AsRef<[u8]>>(
    buf: &mut BytesMut,
    s: &SubmitSm<B>,
) -> Result<(), EncodeError> {
    put_c_octet_string(
        buf,
        s.service_type.as_ref(),
        SERVICE_TYPE_MAX,
        "service_type",
    )?;
    put_address(buf, &s.source, ADDR_MAX, "source_addr")?;
    put_address(buf, &s.destination, ADDR_MAX, "destination_addr")?;
    buf.put_slice(&[s.esm_class.0, s.protocol_id, s.priority_flag]);
    put_time(
        buf,
        s.schedule_delivery_time.as_ref(),
        "schedule_delivery_time",
    )?;
    put_time(buf, s.validity_period.as_ref(), "validity_period")?;
    buf.put_slice(&[
        s.registered_delivery.0,
        s.replace_if_present_flag,
        s.data_coding.0,
        s.sm_default_msg_id,
    ]);
    put_short_message(buf, s.short_message.as_ref())?;
    buf.put_slice(s.tlvs.raw());
    Ok(())
}

pub(super) fn put_submit_sm_resp<B: AsRef<[u8]>>(
    buf: &mut BytesMut,
    s: &SubmitSmResp<B>,
) -> Result<(), EncodeError> {
    put_c_octet_string(buf, s.message_id.as_ref(), MESSAGE_ID_MAX, "message_id")?;
    buf.put_slice(s.tlvs.raw());
    Ok(())
}
