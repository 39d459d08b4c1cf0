//! [`BindMode`]: transmitter, receiver or transceiver, and the one place
//! that says which bind PDU carries which mode.
//!
//! The three bind requests and their three responses have the same body
//! each (`Bind`, `BindResp`); only the command tells the mode. Every
//! conversion between a mode and a command_id or a body is here, so the
//! ESME side ([`crate::esme`]), the session task, and the SMSC
//! applications (Tern's front end, the simulator) never write the match
//! themselves.

use smpp::CommandId;
use smpp::pdu::{Bind, BindResp, Body};

/// transmitter, receiver or transceiver.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BindMode {
    Transmitter,
    Receiver,
    Transceiver,
}

impl BindMode {
    /// The bind command for this mode.
    pub fn command_id(self) -> CommandId {
        match self {
            BindMode::Transmitter => CommandId::BIND_TRANSMITTER,
            BindMode::Receiver => CommandId::BIND_RECEIVER,
            BindMode::Transceiver => CommandId::BIND_TRANSCEIVER,
        }
    }

    /// The mode a bind or bind response command asks for.
    pub fn of(id: CommandId) -> Option<BindMode> {
        match CommandId(id.0 & !0x8000_0000) {
            CommandId::BIND_TRANSMITTER => Some(BindMode::Transmitter),
            CommandId::BIND_RECEIVER => Some(BindMode::Receiver),
            CommandId::BIND_TRANSCEIVER => Some(BindMode::Transceiver),
            _ => None,
        }
    }

    /// The bind request body for this mode.
    pub fn request<B>(self, bind: Bind<B>) -> Body<B> {
        match self {
            BindMode::Transmitter => Body::BindTransmitter(bind),
            BindMode::Receiver => Body::BindReceiver(bind),
            BindMode::Transceiver => Body::BindTransceiver(bind),
        }
    }

    /// The bind response body for this mode.
    pub fn response<B>(self, resp: BindResp<B>) -> Body<B> {
        match self {
            BindMode::Transmitter => Body::BindTransmitterResp(resp),
            BindMode::Receiver => Body::BindReceiverResp(resp),
            BindMode::Transceiver => Body::BindTransceiverResp(resp),
        }
    }

    /// A bind request's mode and fields; any other body is given back
    /// unchanged as the `Err`, for the caller to handle.
    pub fn from_request<B>(body: Body<B>) -> Result<(BindMode, Bind<B>), Body<B>> {
        match body {
            Body::BindTransmitter(b) => Ok((BindMode::Transmitter, b)),
            Body::BindReceiver(b) => Ok((BindMode::Receiver, b)),
            Body::BindTransceiver(b) => Ok((BindMode::Transceiver, b)),
            other => Err(other),
        }
    }

    /// A bind response's mode and fields; any other body is given back
    /// unchanged as the `Err`.
    pub fn from_response<B>(body: Body<B>) -> Result<(BindMode, BindResp<B>), Body<B>> {
        match body {
            Body::BindTransmitterResp(r) => Ok((BindMode::Transmitter, r)),
            Body::BindReceiverResp(r) => Ok((BindMode::Receiver, r)),
            Body::BindTransceiverResp(r) => Ok((BindMode::Transceiver, r)),
            other => Err(other),
        }
    }

    /// The short name operators use: tx, rx, trx.
    pub fn as_str(self) -> &'static str {
        match self {
            BindMode::Transmitter => "tx",
            BindMode::Receiver => "rx",
            BindMode::Transceiver => "trx",
        }
    }

    /// The ESME may send submissions.
    pub fn can_transmit(self) -> bool {
        matches!(self, BindMode::Transmitter | BindMode::Transceiver)
    }

    /// The ESME may be sent deliveries.
    pub fn can_receive(self) -> bool {
        matches!(self, BindMode::Receiver | BindMode::Transceiver)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    const ALL: [BindMode; 3] = [
        BindMode::Transmitter,
        BindMode::Receiver,
        BindMode::Transceiver,
    ];

    fn bind() -> Bind<Bytes> {
        Bind {
            system_id: Bytes::from_static(b"u"),
            password: Bytes::from_static(b"p"),
            ..Default::default()
        }
    }

    fn resp() -> BindResp<Bytes> {
        BindResp {
            system_id: Bytes::from_static(b"smsc"),
            tlvs: Default::default(),
        }
    }

    #[test]
    fn request_and_response_carry_the_mode_both_ways() {
        for mode in ALL {
            let req = mode.request(bind());
            assert_eq!(req.command_id(), mode.command_id());
            assert_eq!(BindMode::of(req.command_id()), Some(mode));
            assert_eq!(BindMode::from_request(req), Ok((mode, bind())));

            let res = mode.response(resp());
            assert_eq!(mode.command_id().response(), Some(res.command_id()));
            assert_eq!(BindMode::of(res.command_id()), Some(mode));
            assert_eq!(BindMode::from_response(res), Ok((mode, resp())));
        }
    }

    #[test]
    fn other_bodies_come_back_unchanged() {
        assert_eq!(
            BindMode::from_request(Body::<Bytes>::EnquireLink),
            Err(Body::EnquireLink)
        );
        let res = BindMode::Receiver.response(resp());
        assert_eq!(BindMode::from_request(res.clone()), Err(res));
        let req = BindMode::Receiver.request(bind());
        assert_eq!(BindMode::from_response(req.clone()), Err(req));
        assert_eq!(BindMode::of(CommandId::SUBMIT_SM), None);
        assert_eq!(BindMode::of(CommandId::OUTBIND), None);
    }

    #[test]
    fn what_each_mode_may_do() {
        let names: Vec<_> = ALL.iter().map(|m| m.as_str()).collect();
        assert_eq!(names, ["tx", "rx", "trx"]);
        let transmit: Vec<_> = ALL.iter().map(|m| m.can_transmit()).collect();
        assert_eq!(transmit, [true, false, true]);
        let receive: Vec<_> = ALL.iter().map(|m| m.can_receive()).collect();
        assert_eq!(receive, [false, true, true]);
    }
}
