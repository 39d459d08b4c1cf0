//! The SMPP 3.4 bind state machine (§2.2-2.3): which PDUs each side may
//! send in each state. The modes themselves are [`BindMode`]'s.

use smpp::CommandId;

use crate::bind_mode::BindMode;

/// Which end of the link this session is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// We connected and bind (a client: an ESME, or a gateway's connector).
    Esme,
    /// We accepted the connection and answer binds.
    Smsc,
}

/// Where a session is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BindState {
    /// Connected, not bound.
    Open,
    Bound(BindMode),
    /// An unbind is under way.
    Unbinding,
    Closed,
}

/// Requests the ESME sends to the SMSC.
fn esme_to_smsc(id: CommandId, mode: BindMode) -> bool {
    match id {
        CommandId::SUBMIT_SM
        | CommandId::SUBMIT_MULTI
        | CommandId::QUERY_SM
        | CommandId::CANCEL_SM
        | CommandId::REPLACE_SM
        | CommandId::DATA_SM => mode.can_transmit(),
        _ => false,
    }
}

/// Requests the SMSC sends to the ESME.
fn smsc_to_esme(id: CommandId, mode: BindMode) -> bool {
    match id {
        CommandId::DELIVER_SM | CommandId::DATA_SM | CommandId::ALERT_NOTIFICATION => {
            mode.can_receive()
        }
        _ => false,
    }
}

/// May a request with this id be sent by `sender` in `state`? Responses
/// are checked against outstanding requests instead.
pub(crate) fn request_allowed(sender: Role, state: BindState, id: CommandId) -> bool {
    match id {
        CommandId::ENQUIRE_LINK | CommandId::GENERIC_NACK => state != BindState::Closed,
        CommandId::UNBIND => matches!(state, BindState::Bound(_)),
        CommandId::BIND_TRANSMITTER | CommandId::BIND_RECEIVER | CommandId::BIND_TRANSCEIVER => {
            sender == Role::Esme && state == BindState::Open
        }
        CommandId::OUTBIND => sender == Role::Smsc && state == BindState::Open,
        _ => match (sender, state) {
            (Role::Esme, BindState::Bound(mode)) => esme_to_smsc(id, mode),
            (Role::Smsc, BindState::Bound(mode)) => smsc_to_esme(id, mode),
            _ => false,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_34_table() {
        use BindMode::*;
        use BindState::*;
        assert!(request_allowed(
            Role::Esme,
            Bound(Transmitter),
            CommandId::SUBMIT_SM
        ));
        assert!(!request_allowed(
            Role::Esme,
            Bound(Receiver),
            CommandId::SUBMIT_SM
        ));
        assert!(request_allowed(
            Role::Esme,
            Bound(Transceiver),
            CommandId::DATA_SM
        ));
        assert!(request_allowed(
            Role::Smsc,
            Bound(Receiver),
            CommandId::DELIVER_SM
        ));
        assert!(!request_allowed(
            Role::Smsc,
            Bound(Transmitter),
            CommandId::DELIVER_SM
        ));
        assert!(!request_allowed(Role::Esme, Open, CommandId::SUBMIT_SM));
        assert!(request_allowed(
            Role::Esme,
            Open,
            CommandId::BIND_TRANSCEIVER
        ));
        assert!(!request_allowed(
            Role::Esme,
            Bound(Transceiver),
            CommandId::BIND_TRANSCEIVER
        ));
        assert!(request_allowed(Role::Esme, Open, CommandId::ENQUIRE_LINK));
        assert!(!request_allowed(Role::Esme, Open, CommandId::UNBIND));
        assert!(request_allowed(Role::Smsc, Open, CommandId::OUTBIND));
    }
}
