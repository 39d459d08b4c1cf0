//! Session settings: the SMPP timers, the window, and limits.

use std::time::Duration;

use smpp::pdu::Limits;

/// Settings for one session. `None` disables a timer.
#[derive(Debug, Clone)]
pub struct SessionConfig {
    /// SMSC role: close when no bind arrives within this time.
    pub session_init_timer: Option<Duration>,
    /// Send enquire_link after this long without a PDU from the peer.
    pub enquire_link_timer: Option<Duration>,
    /// Unbind and close after this long without a PDU other than
    /// enquire_link in either direction.
    pub inactivity_timer: Option<Duration>,
    /// A request not answered within this time fails with
    /// [`crate::SessionError::Timeout`]; an unanswered enquire_link closes
    /// the session.
    pub response_timer: Duration,
    /// A PDU whose first octet has arrived must be complete within this time.
    pub pdu_read_timer: Option<Duration>,
    /// Outstanding requests we may have sent and not had answered.
    pub window: usize,
    /// Largest command_length accepted from the peer.
    pub max_command_length: usize,
    /// Field allowances for decoding (system_id and password lengths).
    pub limits: Limits,
    /// Peer requests buffered for the application before reading stops.
    pub event_queue: usize,
    /// Octets waiting to be written before reading and sending stop.
    pub write_high_water: usize,
}

impl Default for SessionConfig {
    fn default() -> Self {
        SessionConfig {
            session_init_timer: Some(Duration::from_secs(30)),
            enquire_link_timer: Some(Duration::from_secs(30)),
            inactivity_timer: Some(Duration::from_secs(300)),
            response_timer: Duration::from_secs(60),
            pdu_read_timer: Some(Duration::from_secs(30)),
            window: 64,
            max_command_length: smpp::frame::DEFAULT_MAX_COMMAND_LENGTH,
            limits: Limits::SMPP34,
            event_queue: 1024,
            write_high_water: 256 * 1024,
        }
    }
}
