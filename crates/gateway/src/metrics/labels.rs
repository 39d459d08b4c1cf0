//! Label values, each from a fixed set or from the configuration, never
//! from request data: a submit to a random destination, a request to a
//! random path or a peer's made-up status code adds no series.
//!
//! `user` and `connector` values are configured names the caller holds
//! (an authenticated user, a running connector); everything else is
//! mapped here to a `&'static str` of a closed set.

use smpp::{CommandStatus, MessageState};

/// The `status` of a submit or an upstream answer: the SMPP 3.4 name
/// (`ESME_ROK`, `ESME_RTHROTTLED`), `other` for a code outside the
/// table (vendor codes, anything a peer sends).
pub fn status(s: CommandStatus) -> &'static str {
    s.name().unwrap_or("other")
}

/// The `status` of an upstream submit_sm that got no answer (the session
/// closed, or its response timer expired).
pub const NO_RESPONSE: &str = "no_response";

/// The `stat` of a receipt: the receipt text's name (`DELIVRD`,
/// `UNDELIV`, ..., `UNKNOWN` for a state outside the 3.4 table).
pub fn stat(s: MessageState) -> &'static str {
    s.receipt_stat()
}

/// The `endpoint` of an HTTP request: the path template of the route
/// that served it, `other` when none did (a 404). The template comes from
/// the API's own route table, never the request's path.
pub fn endpoint(route: Option<&str>) -> &str {
    route.unwrap_or("other")
}

/// What a callback carried: `kind` of `tern_callbacks_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallbackKind {
    /// A receipt (dlr-level 1, the SMSC's answer, or 2, the handset's).
    Receipt,
    /// Any other call: an MO to a user's `mo_url`, a batch's
    /// `callback_url`.
    Call,
}

impl CallbackKind {
    pub fn as_str(self) -> &'static str {
        match self {
            CallbackKind::Receipt => "receipt",
            CallbackKind::Call => "call",
        }
    }
}

/// How a callback attempt ended: `result` of `tern_callbacks_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallbackResult {
    /// Answered 2xx: settled.
    Ok,
    /// Answered, not 2xx: retried later.
    Refused,
    /// No answer (connection error, timeout): retried later.
    Failed,
    /// Put off without a try (its host is failing with a full backlog).
    PutOff,
    /// Dropped: past its expiry (`dlr_expiry`), or with nowhere to go.
    Dropped,
}

impl CallbackResult {
    pub fn as_str(self) -> &'static str {
        match self {
            CallbackResult::Ok => "ok",
            CallbackResult::Refused => "refused",
            CallbackResult::Failed => "failed",
            CallbackResult::PutOff => "put_off",
            CallbackResult::Dropped => "dropped",
        }
    }
}

/// Why a message moved on to the next connector of its route: `reason`
/// of `tern_messages_rerouted_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RerouteReason {
    /// Its connector was down longer than the route's `failover_after`.
    Down,
    /// Refused upstream with a status of the route's `reroute_on`.
    Refused,
}

impl RerouteReason {
    pub fn as_str(self) -> &'static str {
        match self {
            RerouteReason::Down => "down",
            RerouteReason::Refused => "refused",
        }
    }
}

/// Why an expiry sweep made a message final: `reason` of
/// `tern_messages_expired_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExpiryReason {
    /// Past its validity while it waited for its connector: EXPIRED.
    Validity,
    /// Sent, and its final receipts did not all come within the
    /// connector's `dlr_expiry`: its `dlr_expiry_state`.
    NoReceipt,
}

impl ExpiryReason {
    pub fn as_str(self) -> &'static str {
        match self {
            ExpiryReason::Validity => "validity",
            ExpiryReason::NoReceipt => "no_receipt",
        }
    }
}

/// What became of an item of a user's delivery queue: `result` of
/// `tern_deliveries_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryResult {
    /// deliver_sm_resp ESME_ROK.
    Delivered,
    /// Refused for good (ESME_RX_P_APPN, ESME_RX_R_APPN): dropped.
    Refused,
    /// Past its expiry (the connector's `dlr_expiry`) before a receiver
    /// took it: dropped.
    Expired,
}

impl DeliveryResult {
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryResult::Delivered => "delivered",
            DeliveryResult::Refused => "refused",
            DeliveryResult::Expired => "expired",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_are_named_from_the_table_or_other() {
        assert_eq!(status(CommandStatus::ESME_ROK), "ESME_ROK");
        assert_eq!(status(CommandStatus::ESME_RTHROTTLED), "ESME_RTHROTTLED");
        assert_eq!(status(CommandStatus(0x0000_0400)), "other");
        assert_eq!(status(CommandStatus(0xdead_beef)), "other");
        // Every value maps into the table's names plus one.
        let mut seen: Vec<&str> = CommandStatus::ALL.iter().map(|s| status(*s)).collect();
        seen.push("other");
        for v in (0..0x600u32).chain([u32::MAX, 0x8000_0000]) {
            assert!(seen.contains(&status(CommandStatus(v))), "{v:#x}");
        }
    }

    #[test]
    fn receipt_states_map_to_their_receipt_names() {
        assert_eq!(stat(MessageState::Delivered), "DELIVRD");
        assert_eq!(stat(MessageState::Undeliverable), "UNDELIV");
        assert_eq!(stat(MessageState::Other(200)), "UNKNOWN");
        let names: std::collections::BTreeSet<&str> = (0..=255u8)
            .map(|v| stat(MessageState::from_u8(v)))
            .collect();
        assert!(names.len() <= 8, "{names:?}");
    }

    #[test]
    fn endpoints_are_route_templates_or_other() {
        assert_eq!(endpoint(Some("/send")), "/send");
        assert_eq!(endpoint(None), "other");
    }

    #[test]
    fn fixed_sets_have_distinct_names() {
        use CallbackResult as R;
        let results = [R::Ok, R::Refused, R::Failed, R::PutOff, R::Dropped].map(R::as_str);
        let set: std::collections::BTreeSet<_> = results.iter().collect();
        assert_eq!(set.len(), results.len());
        assert_ne!(CallbackKind::Receipt.as_str(), CallbackKind::Call.as_str());
        use DeliveryResult as D;
        let d = [D::Delivered, D::Refused, D::Expired].map(D::as_str);
        assert_eq!(d.iter().collect::<std::collections::BTreeSet<_>>().len(), 3);
    }
}

/// The front-end listener a connection came to: `listener` of the
/// connection metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Listener {
    /// `[smpp-server] port`.
    Smpp,
    /// `[smpp-server] tls_port`.
    SmppTls,
    /// `[http-api] port`.
    Http,
}

impl Listener {
    pub fn as_str(self) -> &'static str {
        match self {
            Listener::Smpp => "smpp",
            Listener::SmppTls => "smpp_tls",
            Listener::Http => "http",
        }
    }
}

/// Why a connection was closed at its accept: `reason` of
/// `tern_connections_refused_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefusedReason {
    /// Its client address had `max_connections_per_ip` open already.
    PerIp,
}

impl RefusedReason {
    pub fn as_str(self) -> &'static str {
        match self {
            RefusedReason::PerIp => "per_ip",
        }
    }
}
