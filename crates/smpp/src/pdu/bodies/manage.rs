//! query_sm (§4.8), cancel_sm (§4.9) and replace_sm (§4.10), which act on
//! a message already submitted, and alert_notification (§4.12): the types.
//! Their bodies are short, so the dispatch in [`super`] reads and writes
//! them itself.

use crate::message_state::MessageState;
use crate::pdu::fields::{Address, RegisteredDelivery};
use crate::tlv::Tlvs;

/// query_sm (§4.8.1).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct QuerySm<B> {
    pub message_id: B,
    pub source: Address<B>,
}

/// query_sm_resp (§4.8.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuerySmResp<B> {
    pub message_id: B,
    /// Empty while the message is not final.
    pub final_date: B,
    pub message_state: MessageState,
    /// A network-specific error code, 0 when none.
    pub error_code: u8,
}

impl<B: Default> Default for QuerySmResp<B> {
    fn default() -> Self {
        QuerySmResp {
            message_id: B::default(),
            final_date: B::default(),
            message_state: MessageState::Unknown,
            error_code: 0,
        }
    }
}

/// cancel_sm (§4.9.1).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CancelSm<B> {
    pub service_type: B,
    pub message_id: B,
    pub source: Address<B>,
    pub destination: Address<B>,
}

/// replace_sm (§4.10.1).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ReplaceSm<B> {
    pub message_id: B,
    pub source: Address<B>,
    pub schedule_delivery_time: B,
    pub validity_period: B,
    pub registered_delivery: RegisteredDelivery,
    pub sm_default_msg_id: u8,
    pub short_message: B,
}

/// alert_notification (§4.12.1): an MS became available.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AlertNotification<B> {
    pub source: Address<B>,
    pub esme: Address<B>,
    pub tlvs: Tlvs<B>,
}
