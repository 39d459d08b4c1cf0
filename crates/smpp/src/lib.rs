//! SMPP 3.4, the protocol alone: no sockets, no runtime.
//!
//! This crate owns the wire format and the text rules of SMS and nothing
//! else, so it can be fuzzed, benchmarked and reused without tokio
//! (the split `postgres-protocol` / `tokio-postgres` makes).
//!
//! - [`frame`]: cut a byte stream into whole PDUs, enforcing a maximum
//!   command_length.
//! - [`pdu`]: every SMPP 3.4 PDU as typed fields; [`pdu::Pdu::decode`] gives the
//!   PDU or the [`CommandStatus`] to answer with; encoding writes into a
//!   reusable `BytesMut`.
//! - [`tlv`]: optional parameters, kept intact when unknown.
//! - [`status`]: command_status, the whole 3.4 table.
//! - [`text`]: GSM 03.38, Latin-1, UCS-2/UTF-16, and choosing between them.
//! - [`split`], [`udh`], [`reassembly`]: long messages.
//! - [`receipt`]: delivery receipt text and TLVs.
//! - [`time`]: SMPP absolute and relative times.

pub mod frame;
pub mod message_state;
pub mod pdu;
pub mod reassembly;
pub mod receipt;
pub mod split;
pub mod status;
pub mod text;
pub mod time;
pub mod tlv;
pub mod udh;

pub use frame::{FrameDecoder, FrameError, RawPdu};
pub use message_state::MessageState;
pub use pdu::{Body, CommandId, DecodeError, Header, Limits, Pdu};
pub use status::CommandStatus;
pub use tlv::{Tlv, TlvTag, Tlvs};
