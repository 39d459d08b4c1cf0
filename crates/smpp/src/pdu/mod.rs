//! SMPP PDUs: the header, every 3.4 command as typed fields, and the
//! decode/encode entry points.
//!
//! A [`Pdu`] is generic over its byte buffer `B`. Decoding a frame as
//! `Pdu<&[u8]>` borrows every field from the frame and allocates nothing;
//! as `Pdu<Bytes>` the fields are reference-counted slices of the frame, so
//! the PDU can cross tasks. Encoding writes into a caller's `BytesMut`.
//!
//! Decoding never panics. A body that is wrong gives a [`DecodeError`]
//! carrying the sequence number and the status the peer must get, and
//! [`DecodeError::response`] builds that answer, so a session stays up.

mod bodies;
mod fields;
mod wire;

pub use bodies::*;
pub use fields::*;

use bytes::{BufMut, Bytes, BytesMut};
use std::fmt;
use std::ops::Range;

use crate::status::CommandStatus;

/// A byte buffer a PDU's fields can live in: a borrowed slice, `Bytes`, or
/// an owned `Vec<u8>`.
pub trait Buffer: AsRef<[u8]> + Clone + Default {
    /// The sub-buffer `start..end` of this one.
    fn slice_range(&self, start: usize, end: usize) -> Self;
}

impl Buffer for &[u8] {
    fn slice_range(&self, start: usize, end: usize) -> Self {
        &self[start..end]
    }
}

impl Buffer for Bytes {
    fn slice_range(&self, start: usize, end: usize) -> Self {
        self.slice(Range { start, end })
    }
}

impl Buffer for Vec<u8> {
    fn slice_range(&self, start: usize, end: usize) -> Self {
        self[start..end].to_vec()
    }
}

/// command_id (§5.1.2). Unknown values are kept.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CommandId(pub u32);

macro_rules! command_ids {
    ($($name:ident = $value:literal, $text:literal;)*) => {
        impl CommandId {
            $(pub const $name: CommandId = CommandId($value);)*

            /// The 3.4 name (`submit_sm`), or None outside the table.
            pub fn name(self) -> Option<&'static str> {
                match self.0 {
                    $($value => Some($text),)*
                    _ => None,
                }
            }

            /// Every command_id of the 3.4 table.
            pub const ALL: &'static [CommandId] = &[$(CommandId($value)),*];
        }
    };
}

command_ids! {
    GENERIC_NACK = 0x8000_0000, "generic_nack";
    BIND_RECEIVER = 0x0000_0001, "bind_receiver";
    BIND_RECEIVER_RESP = 0x8000_0001, "bind_receiver_resp";
    BIND_TRANSMITTER = 0x0000_0002, "bind_transmitter";
    BIND_TRANSMITTER_RESP = 0x8000_0002, "bind_transmitter_resp";
    QUERY_SM = 0x0000_0003, "query_sm";
    QUERY_SM_RESP = 0x8000_0003, "query_sm_resp";
    SUBMIT_SM = 0x0000_0004, "submit_sm";
    SUBMIT_SM_RESP = 0x8000_0004, "submit_sm_resp";
    DELIVER_SM = 0x0000_0005, "deliver_sm";
    DELIVER_SM_RESP = 0x8000_0005, "deliver_sm_resp";
    UNBIND = 0x0000_0006, "unbind";
    UNBIND_RESP = 0x8000_0006, "unbind_resp";
    REPLACE_SM = 0x0000_0007, "replace_sm";
    REPLACE_SM_RESP = 0x8000_0007, "replace_sm_resp";
    CANCEL_SM = 0x0000_0008, "cancel_sm";
    CANCEL_SM_RESP = 0x8000_0008, "cancel_sm_resp";
    BIND_TRANSCEIVER = 0x0000_0009, "bind_transceiver";
    BIND_TRANSCEIVER_RESP = 0x8000_0009, "bind_transceiver_resp";
    OUTBIND = 0x0000_000B, "outbind";
    ENQUIRE_LINK = 0x0000_0015, "enquire_link";
    ENQUIRE_LINK_RESP = 0x8000_0015, "enquire_link_resp";
    SUBMIT_MULTI = 0x0000_0021, "submit_multi";
    SUBMIT_MULTI_RESP = 0x8000_0021, "submit_multi_resp";
    ALERT_NOTIFICATION = 0x0000_0102, "alert_notification";
    DATA_SM = 0x0000_0103, "data_sm";
    DATA_SM_RESP = 0x8000_0103, "data_sm_resp";
}

impl CommandId {
    /// Responses have the top bit set.
    pub fn is_response(self) -> bool {
        self.0 & 0x8000_0000 != 0
    }

    /// The response a request is answered with; None for a response and for
    /// the requests that have none (outbind, alert_notification).
    pub fn response(self) -> Option<CommandId> {
        if self.is_response() || self.name().is_none() {
            return None;
        }
        match self {
            CommandId::OUTBIND | CommandId::ALERT_NOTIFICATION => None,
            CommandId(v) => Some(CommandId(v | 0x8000_0000)),
        }
    }
}

impl fmt::Debug for CommandId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(n) => f.write_str(n),
            None => write!(f, "CommandId({:#010x})", self.0),
        }
    }
}

impl fmt::Display for CommandId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

/// The 16-octet PDU header (§3.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    pub command_length: u32,
    pub command_id: CommandId,
    pub command_status: CommandStatus,
    pub sequence_number: u32,
}

impl Header {
    pub const LEN: usize = 16;

    /// Read a header from the first 16 octets, if there are 16.
    pub fn parse(b: &[u8]) -> Option<Header> {
        let b: &[u8; 16] = b.get(..16)?.try_into().ok()?;
        let word = |i: usize| u32::from_be_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
        Some(Header {
            command_length: word(0),
            command_id: CommandId(word(4)),
            command_status: CommandStatus(word(8)),
            sequence_number: word(12),
        })
    }
}

/// Field-length allowances the decoder enforces.
///
/// SMPP 3.4 allows a system_id of 15 and a password of 8 characters; Jasmin
/// and many ESMEs use longer ones, so a server may raise these. Encoding
/// always keeps to the 3.4 limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest system_id, in octets including the NUL.
    pub system_id: usize,
    /// Largest password, in octets including the NUL.
    pub password: usize,
}

impl Limits {
    /// The SMPP 3.4 limits.
    pub const SMPP34: Limits = Limits {
        system_id: 16,
        password: 9,
    };
    /// Jasmin's: system_id and password of up to 30 characters.
    pub const JASMIN: Limits = Limits {
        system_id: 31,
        password: 31,
    };
}

impl Default for Limits {
    fn default() -> Self {
        Limits::SMPP34
    }
}

/// A PDU that could not be decoded, and what to answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("{command_id} (sequence {sequence_number}) is malformed: {status}")]
pub struct DecodeError {
    pub command_id: CommandId,
    pub sequence_number: u32,
    /// The status the peer must get.
    pub status: CommandStatus,
}

impl DecodeError {
    /// The PDU to send back: generic_nack for an unknown command_id, the
    /// command's own response with the error status for a known request,
    /// and nothing for a malformed response or a request that has no
    /// response (outbind, alert_notification).
    pub fn response<B: Buffer>(&self) -> Option<Pdu<B>> {
        if self.command_id.name().is_none() || self.status == CommandStatus::ESME_RINVCMDID {
            return Some(Pdu {
                command_status: CommandStatus::ESME_RINVCMDID,
                sequence_number: self.sequence_number,
                body: Body::GenericNack,
            });
        }
        let body = Body::error_response(self.command_id.response()?)?;
        Some(Pdu {
            command_status: self.status,
            sequence_number: self.sequence_number,
            body,
        })
    }
}

/// A PDU that could not be encoded: a field beyond its 3.4 limit.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EncodeError {
    #[error("{field} is longer than {max} octets")]
    FieldTooLong { field: &'static str, max: usize },
    #[error("{field} contains a NUL octet")]
    NulInField { field: &'static str },
    #[error("{field} has {count} entries; at most {max} fit")]
    TooMany {
        field: &'static str,
        count: usize,
        max: usize,
    },
}

/// A whole PDU: the header's status and sequence number, and the body.
/// command_length and command_id follow from the body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pdu<B = Bytes> {
    pub command_status: CommandStatus,
    pub sequence_number: u32,
    pub body: Body<B>,
}

impl<B> Pdu<B> {
    /// A PDU with status ESME_ROK.
    pub fn new(sequence_number: u32, body: Body<B>) -> Self {
        Pdu {
            command_status: CommandStatus::ESME_ROK,
            sequence_number,
            body,
        }
    }

    pub fn command_id(&self) -> CommandId {
        self.body.command_id()
    }
}

impl<B: Buffer> Pdu<B> {
    /// Decode a whole frame (header and body, as [`crate::frame`] yields
    /// it). command_length must equal the frame's length.
    pub fn decode(frame: &B, limits: &Limits) -> Result<Self, DecodeError> {
        let Some(header) = Header::parse(frame.as_ref()) else {
            return Err(DecodeError {
                command_id: CommandId(0),
                sequence_number: 0,
                status: CommandStatus::ESME_RINVCMDLEN,
            });
        };
        let err = |status| DecodeError {
            command_id: header.command_id,
            sequence_number: header.sequence_number,
            status,
        };
        if header.command_length as usize != frame.as_ref().len() {
            return Err(err(CommandStatus::ESME_RINVCMDLEN));
        }
        let body =
            Body::decode(header.command_id, header.command_status, frame, limits).map_err(err)?;
        Ok(Pdu {
            command_status: header.command_status,
            sequence_number: header.sequence_number,
            body,
        })
    }
}

impl<B: AsRef<[u8]>> Pdu<B> {
    /// Append the encoded PDU to `buf`. On error `buf` is left as it was.
    pub fn encode(&self, buf: &mut BytesMut) -> Result<(), EncodeError> {
        let start = buf.len();
        buf.reserve(64 + self.body.payload_len());
        // The header in one write: command_length (0 until the body is
        // written), command_id, command_status, sequence_number.
        buf.put_u128(
            u128::from(self.command_id().0) << 64
                | u128::from(self.command_status.0) << 32
                | u128::from(self.sequence_number),
        );
        if let Err(e) = self.body.encode(buf) {
            buf.truncate(start);
            return Err(e);
        }
        let len = (buf.len() - start) as u32;
        buf[start..start + 4].copy_from_slice(&len.to_be_bytes());
        Ok(())
    }

    /// The encoded PDU as a new buffer.
    pub fn to_bytes(&self) -> Result<Bytes, EncodeError> {
        let mut buf = BytesMut::new();
        self.encode(&mut buf)?;
        Ok(buf.freeze())
    }
}
