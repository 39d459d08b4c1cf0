//! message_state (SMPP 3.4 §5.2.28): the state of a short message, as
//! query_sm_resp and the message_state TLV of a receipt carry it.

/// The state of a short message. Unknown values are kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MessageState {
    Enroute,
    Delivered,
    Expired,
    Deleted,
    Undeliverable,
    Accepted,
    Unknown,
    Rejected,
    /// A value outside the 3.4 table, kept as sent.
    Other(u8),
}

impl MessageState {
    pub fn from_u8(v: u8) -> Self {
        match v {
            1 => Self::Enroute,
            2 => Self::Delivered,
            3 => Self::Expired,
            4 => Self::Deleted,
            5 => Self::Undeliverable,
            6 => Self::Accepted,
            7 => Self::Unknown,
            8 => Self::Rejected,
            v => Self::Other(v),
        }
    }

    pub fn as_u8(self) -> u8 {
        match self {
            Self::Enroute => 1,
            Self::Delivered => 2,
            Self::Expired => 3,
            Self::Deleted => 4,
            Self::Undeliverable => 5,
            Self::Accepted => 6,
            Self::Unknown => 7,
            Self::Rejected => 8,
            Self::Other(v) => v,
        }
    }

    /// The name SMSCs write in a receipt's `stat:` field (7 characters).
    pub fn receipt_stat(self) -> &'static str {
        match self {
            Self::Enroute => "ENROUTE",
            Self::Delivered => "DELIVRD",
            Self::Expired => "EXPIRED",
            Self::Deleted => "DELETED",
            Self::Undeliverable => "UNDELIV",
            Self::Accepted => "ACCEPTD",
            Self::Unknown | Self::Other(_) => "UNKNOWN",
            Self::Rejected => "REJECTD",
        }
    }

    /// Parse a receipt `stat:` value, any case; the common long spellings too.
    pub fn from_receipt_stat(s: &str) -> Option<Self> {
        let s = s.trim();
        let eq = |a: &str| s.eq_ignore_ascii_case(a);
        Some(if eq("DELIVRD") || eq("DELIVERED") {
            Self::Delivered
        } else if eq("EXPIRED") {
            Self::Expired
        } else if eq("DELETED") {
            Self::Deleted
        } else if eq("UNDELIV") || eq("UNDELIVERABLE") || eq("FAILED") {
            Self::Undeliverable
        } else if eq("ACCEPTD") || eq("ACCEPTED") {
            Self::Accepted
        } else if eq("UNKNOWN") {
            Self::Unknown
        } else if eq("REJECTD") || eq("REJECTED") {
            Self::Rejected
        } else if eq("ENROUTE") {
            Self::Enroute
        } else {
            return None;
        })
    }

    /// A final state (3.4 §5.2.28): no further receipt follows. ENROUTE is
    /// the only intermediate state; values outside the table are not final.
    pub fn is_final(self) -> bool {
        !matches!(self, Self::Enroute | Self::Other(_))
    }
}
