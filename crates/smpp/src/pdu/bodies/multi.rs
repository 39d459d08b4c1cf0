//! submit_multi (§4.5) and its response: the types, and the decoders and
//! encoders the dispatch in [`super`] calls.

use bytes::{BufMut, BytesMut};

use super::submit::{address, put_address, put_short_message, short_message};
use super::{ADDR_MAX, DESTS_MAX, MESSAGE_ID_MAX, SERVICE_TYPE_MAX, TIME_MAX};
use crate::pdu::fields::{
    Address, DataCoding, Destination, EsmClass, RegisteredDelivery, UnsuccessSme,
};
use crate::pdu::wire::{Reader, put_c_octet_string, put_time};
use crate::pdu::{Buffer, EncodeError};
use crate::status::CommandStatus as S;
use crate::tlv::Tlvs;

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

impl<B: Buffer> SubmitMulti<B> {
    pub(super) fn decode(r: &mut Reader<'_, B>) -> Result<Self, S> {
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
    pub(super) fn decode(r: &mut Reader<'_, B>) -> Result<Self, S> {
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

pub(super) fn put_submit_multi<B: AsRef<[u8]>>(
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

pub(super) fn put_submit_multi_resp<B: AsRef<[u8]>>(
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
