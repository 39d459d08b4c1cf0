//! Framing: cut a byte stream into whole PDUs.
//!
//! The decoder reads the 16-octet header, checks command_length against
//! 16 and a configured maximum, and yields a frame only when all of it has
//! arrived. It never reserves more than the announced command_length, and a
//! length outside the bounds is an error after which the stream cannot be
//! trusted (the session answers generic_nack ESME_RINVCMDLEN and closes).

use bytes::{Bytes, BytesMut};

use crate::pdu::{Body, CommandId, DecodeError, Header, Limits, Pdu};
use crate::status::CommandStatus;

/// The default maximum command_length: room for a 64 KiB message_payload.
pub const DEFAULT_MAX_COMMAND_LENGTH: usize = 70_000;

/// One whole PDU as it came off the wire.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawPdu {
    pub header: Header,
    /// The whole PDU, header included.
    pub bytes: Bytes,
}

impl RawPdu {
    /// Decode the PDU; its fields share this frame's memory.
    pub fn decode(&self, limits: &Limits) -> Result<Pdu<Bytes>, DecodeError> {
        Pdu::decode(&self.bytes, limits)
    }
}

/// A header whose command_length cannot be right.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error(
    "command_length {command_length} is outside 16..={max} ({command_id}, sequence {sequence_number})"
)]
pub struct FrameError {
    pub command_length: u32,
    pub max: usize,
    pub command_id: CommandId,
    pub sequence_number: u32,
}

impl FrameError {
    /// The answer SMPP prescribes: generic_nack with ESME_RINVCMDLEN.
    pub fn response(&self) -> Pdu<Bytes> {
        Pdu {
            command_status: CommandStatus::ESME_RINVCMDLEN,
            sequence_number: self.sequence_number,
            body: Body::GenericNack,
        }
    }
}

/// Splits a stream into PDUs.
#[derive(Debug, Clone, Copy)]
pub struct FrameDecoder {
    max_command_length: usize,
}

impl Default for FrameDecoder {
    fn default() -> Self {
        Self::new(DEFAULT_MAX_COMMAND_LENGTH)
    }
}

impl FrameDecoder {
    /// A decoder refusing PDUs longer than `max_command_length` octets.
    pub fn new(max_command_length: usize) -> Self {
        Self {
            max_command_length: max_command_length.max(Header::LEN),
        }
    }

    pub fn max_command_length(&self) -> usize {
        self.max_command_length
    }

    /// Take the next whole PDU off the front of `buf`, if it is all there.
    ///
    /// `Ok(None)` means more bytes are needed; `buf` then has capacity for
    /// the rest of the announced PDU and no more.
    pub fn decode(&self, buf: &mut BytesMut) -> Result<Option<RawPdu>, FrameError> {
        let Some(header) = Header::parse(buf) else {
            return Ok(None);
        };
        let len = header.command_length as usize;
        if len < Header::LEN || len > self.max_command_length {
            return Err(FrameError {
                command_length: header.command_length,
                max: self.max_command_length,
                command_id: header.command_id,
                sequence_number: header.sequence_number,
            });
        }
        if buf.len() < len {
            buf.reserve(len - buf.len());
            return Ok(None);
        }
        let bytes = buf.split_to(len).freeze();
        Ok(Some(RawPdu { header, bytes }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn enquire_link(seq: u32) -> Vec<u8> {
        let mut v = vec![0, 0, 0, 16, 0, 0, 0, 0x15, 0, 0, 0, 0];
        v.extend_from_slice(&seq.to_be_bytes());
        v
    }

    #[test]
    fn yields_whole_frames_byte_by_byte() {
        let d = FrameDecoder::default();
        let mut stream = enquire_link(1);
        stream.extend(enquire_link(2));
        let mut buf = BytesMut::new();
        let mut got = Vec::new();
        for b in stream {
            buf.extend_from_slice(&[b]);
            while let Some(f) = d.decode(&mut buf).unwrap() {
                got.push(f.header.sequence_number);
            }
        }
        assert_eq!(got, vec![1, 2]);
        assert!(buf.is_empty());
    }

    #[test]
    fn rejects_short_and_oversize_lengths() {
        let d = FrameDecoder::new(1000);
        let mut buf = BytesMut::from(&[0u8, 0, 0, 15, 0, 0, 0, 0x15, 0, 0, 0, 0, 0, 0, 0, 7][..]);
        let e = d.decode(&mut buf).unwrap_err();
        assert_eq!(e.sequence_number, 7);
        assert_eq!(e.response().command_status, CommandStatus::ESME_RINVCMDLEN);
        let mut buf = BytesMut::from(&[0u8, 0, 3, 233, 0, 0, 0, 4, 0, 0, 0, 0, 0, 0, 0, 9][..]);
        assert_eq!(d.decode(&mut buf).unwrap_err().command_length, 1001);
    }

    #[test]
    fn reserves_no_more_than_command_length() {
        let d = FrameDecoder::new(100_000);
        let mut buf = BytesMut::new();
        buf.extend_from_slice(&[0, 0, 0x10, 0, 0, 0, 0, 4, 0, 0, 0, 0, 0, 0, 0, 1]);
        assert!(d.decode(&mut buf).unwrap().is_none());
        assert!(buf.capacity() >= 0x1000);
        assert!(buf.capacity() < 2 * 0x1000 + 64);
    }
}
