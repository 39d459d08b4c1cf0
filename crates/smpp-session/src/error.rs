//! Why a request failed, and why a session closed.

use smpp::CommandStatus;

/// Why a session ended.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CloseReason {
    #[error("unbound by us")]
    Unbound,
    #[error("unbound by the peer")]
    PeerUnbound,
    #[error("the peer closed the connection")]
    PeerClosed,
    #[error("closed by the application")]
    Closed,
    #[error("no bind within the session init timer")]
    SessionInitTimeout,
    #[error("enquire_link not answered within the response timer")]
    EnquireLinkTimeout,
    #[error("no traffic within the inactivity timer")]
    Inactivity,
    #[error("a PDU was not completed within the PDU read timer")]
    PduReadTimeout,
    #[error("command_length {0} out of bounds")]
    InvalidCommandLength(u32),
    #[error("bind refused: {0}")]
    BindRefused(CommandStatus),
    #[error("i/o error: {0}")]
    Io(String),
}

/// Why a request got no ordinary response.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SessionError {
    #[error("no response within the response timer")]
    Timeout,
    #[error("session closed: {0}")]
    Closed(CloseReason),
    #[error("{0} may not be sent in bind state {1:?}")]
    NotAllowed(smpp::CommandId, crate::BindState),
    #[error("cannot encode the PDU: {0}")]
    Encode(#[from] smpp::pdu::EncodeError),
    #[error("bind refused: {0}")]
    BindRefused(CommandStatus),
    #[error("unexpected response {0}")]
    UnexpectedResponse(smpp::CommandId),
    #[error("i/o error: {0}")]
    Io(String),
    #[error("TLS handshake failed: {0}")]
    Tls(String),
}
