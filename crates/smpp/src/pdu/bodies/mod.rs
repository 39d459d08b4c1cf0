//! The body of every SMPP 3.4 PDU (§4): [`Body`], whose variant is the
//! command_id, and the dispatch that decodes and encodes it.
//!
//! Field limits are those of the specification (lengths include the NUL);
//! a decoder returns the status named for the field that is wrong. The
//! limits are written once, here, for every command family:
//!
//! - [`bind`]: bind_transmitter, bind_receiver, bind_transceiver, their
//!   responses, and outbind.
//! - [`submit`]: submit_sm, deliver_sm (the same fields), data_sm, their
//!   responses, and the address and short_message fields they share with
//!   the other families.
//! - [`multi`]: submit_multi and its response.
//! - [`manage`]: query_sm, cancel_sm and replace_sm on a message already
//!   submitted, and alert_notification.
//!
//! Outbind, data_sm and the bodies in [`manage`] are read and written in
//! the dispatch itself; the others have their own decoder and `put_`
//! encoder in their family's file.

mod bind;
mod manage;
mod multi;
mod submit;
#[cfg(test)]
mod tests;

pub use bind::{Bind, BindResp, Outbind};
pub use manage::{AlertNotification, CancelSm, QuerySm, QuerySmResp, ReplaceSm};
pub use multi::{SubmitMulti, SubmitMultiResp};
pub use submit::{DataSm, DataSmResp, DeliverSm, DeliverSmResp, SubmitSm, SubmitSmResp};

use bytes::{BufMut, BytesMut};

use super::fields::{DataCoding, EsmClass, RegisteredDelivery};
use super::wire::{Reader, put_c_octet_string, put_time};
use super::{Buffer, CommandId, EncodeError, Limits};
use crate::message_state::MessageState;
use crate::status::CommandStatus as S;
use bind::{put_bind, put_bind_resp};
use multi::{put_submit_multi, put_submit_multi_resp};
use submit::{
    address, put_address, put_short_message, put_submit_sm, put_submit_sm_resp, short_message,
};

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
