//! bind_transmitter, bind_receiver and bind_transceiver (§4.1), their
//! responses, and outbind (§4.1.7): the types, and the decoders and
//! encoders the dispatch in [`super`] calls. Outbind's two fields are read
//! and written in the dispatch itself.

use bytes::{BufMut, BytesMut};

use super::{ADDRESS_RANGE_MAX, PASSWORD_MAX, SYSTEM_ID_MAX, SYSTEM_TYPE_MAX};
use crate::pdu::fields::{Npi, Ton};
use crate::pdu::wire::{Reader, put_c_octet_string};
use crate::pdu::{Buffer, EncodeError, Limits};
use crate::status::CommandStatus as S;
use crate::tlv::Tlvs;

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

impl<B: Buffer> Bind<B> {
    pub(super) fn decode(r: &mut Reader<'_, B>, limits: &Limits) -> Result<Self, S> {
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
    pub(super) fn decode(r: &mut Reader<'_, B>, limits: &Limits) -> Result<Self, S> {
        Ok(BindResp {
            system_id: r.c_octet_string(limits.system_id, S::ESME_RINVSYSID)?,
            tlvs: r.tlvs()?,
        })
    }
}

pub(super) fn put_bind<B: AsRef<[u8]>>(buf: &mut BytesMut, b: &Bind<B>) -> Result<(), EncodeError> {
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

pub(super) fn put_bind_resp<B: AsRef<[u8]>>(
    buf: &mut BytesMut,
    b: &BindResp<B>,
) -> Result<(), EncodeError> {
    put_c_octet_string(buf, b.system_id.as_ref(), SYSTEM_ID_MAX, "system_id")?;
    buf.put_slice(b.tlvs.raw());
    Ok(())
}
