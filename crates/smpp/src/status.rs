//! command_status (SMPP 3.4 §5.1.3): the whole 3.4 table, by name.
//!
//! A status is a newtype over the wire value so that codes outside the table
//! (vendor codes 0x400-0x4FF, or anything a peer sends) are kept exactly.

use std::fmt;

/// An SMPP command_status. Unknown values are kept as sent.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct CommandStatus(pub u32);

macro_rules! statuses {
    ($($name:ident = $value:literal, $text:literal;)*) => {
        impl CommandStatus {
            $(
                #[doc = $text]
                pub const $name: CommandStatus = CommandStatus($value);
            )*

            /// The 3.4 name (`ESME_RTHROTTLED`), or None outside the table.
            pub fn name(self) -> Option<&'static str> {
                match self.0 {
                    $($value => Some(stringify!($name)),)*
                    _ => None,
                }
            }

            /// The 3.4 description, or None outside the table.
            pub fn description(self) -> Option<&'static str> {
                match self.0 {
                    $($value => Some($text),)*
                    _ => None,
                }
            }

            /// Every status of the 3.4 table.
            pub const ALL: &'static [CommandStatus] = &[$(CommandStatus($value)),*];
        }
    };
}

statuses! {
    ESME_ROK = 0x0000_0000, "No Error";
    ESME_RINVMSGLEN = 0x0000_0001, "Message Length is invalid";
    ESME_RINVCMDLEN = 0x0000_0002, "Command Length is invalid";
    ESME_RINVCMDID = 0x0000_0003, "Invalid Command ID";
    ESME_RINVBNDSTS = 0x0000_0004, "Incorrect BIND Status for given command";
    ESME_RALYBND = 0x0000_0005, "ESME Already in Bound State";
    ESME_RINVPRTFLG = 0x0000_0006, "Invalid Priority Flag";
    ESME_RINVREGDLVFLG = 0x0000_0007, "Invalid Registered Delivery Flag";
    ESME_RSYSERR = 0x0000_0008, "System Error";
    ESME_RINVSRCADR = 0x0000_000A, "Invalid Source Address";
    ESME_RINVDSTADR = 0x0000_000B, "Invalid Dest Addr";
    ESME_RINVMSGID = 0x0000_000C, "Message ID is invalid";
    ESME_RBINDFAIL = 0x0000_000D, "Bind Failed";
    ESME_RINVPASWD = 0x0000_000E, "Invalid Password";
    ESME_RINVSYSID = 0x0000_000F, "Invalid System ID";
    ESME_RCANCELFAIL = 0x0000_0011, "Cancel SM Failed";
    ESME_RREPLACEFAIL = 0x0000_0013, "Replace SM Failed";
    ESME_RMSGQFUL = 0x0000_0014, "Message Queue Full";
    ESME_RINVSERTYP = 0x0000_0015, "Invalid Service Type";
    ESME_RINVNUMDESTS = 0x0000_0033, "Invalid number of destinations";
    ESME_RINVDLNAME = 0x0000_0034, "Invalid Distribution List name";
    ESME_RINVDESTFLAG = 0x0000_0040, "Destination flag is invalid (submit_multi)";
    ESME_RINVSUBREP = 0x0000_0042, "Invalid 'submit with replace' request";
    ESME_RINVESMCLASS = 0x0000_0043, "Invalid esm_class field data";
    ESME_RCNTSUBDL = 0x0000_0044, "Cannot Submit to Distribution List";
    ESME_RSUBMITFAIL = 0x0000_0045, "submit_sm or submit_multi failed";
    ESME_RINVSRCTON = 0x0000_0048, "Invalid Source address TON";
    ESME_RINVSRCNPI = 0x0000_0049, "Invalid Source address NPI";
    ESME_RINVDSTTON = 0x0000_0050, "Invalid Destination address TON";
    ESME_RINVDSTNPI = 0x0000_0051, "Invalid Destination address NPI";
    ESME_RINVSYSTYP = 0x0000_0053, "Invalid system_type field";
    ESME_RINVREPFLAG = 0x0000_0054, "Invalid replace_if_present flag";
    ESME_RINVNUMMSGS = 0x0000_0055, "Invalid number of messages";
    ESME_RTHROTTLED = 0x0000_0058, "Throttling error (ESME has exceeded allowed message limits)";
    ESME_RINVSCHED = 0x0000_0061, "Invalid Scheduled Delivery Time";
    ESME_RINVEXPIRY = 0x0000_0062, "Invalid message validity period (Expiry time)";
    ESME_RINVDFTMSGID = 0x0000_0063, "Predefined Message Invalid or Not Found";
    ESME_RX_T_APPN = 0x0000_0064, "ESME Receiver Temporary App Error Code";
    ESME_RX_P_APPN = 0x0000_0065, "ESME Receiver Permanent App Error Code";
    ESME_RX_R_APPN = 0x0000_0066, "ESME Receiver Reject Message Error Code";
    ESME_RQUERYFAIL = 0x0000_0067, "query_sm request failed";
    ESME_RINVOPTPARSTREAM = 0x0000_00C0, "Error in the optional part of the PDU Body";
    ESME_ROPTPARNOTALLWD = 0x0000_00C1, "Optional Parameter not allowed";
    ESME_RINVPARLEN = 0x0000_00C2, "Invalid Parameter Length";
    ESME_RMISSINGOPTPARAM = 0x0000_00C3, "Expected Optional Parameter missing";
    ESME_RINVOPTPARAMVAL = 0x0000_00C4, "Invalid Optional Parameter Value";
    ESME_RDELIVERYFAILURE = 0x0000_00FE, "Delivery Failure (used for data_sm_resp)";
    ESME_RUNKNOWNERR = 0x0000_00FF, "Unknown Error";
}

impl CommandStatus {
    /// The TLV-stream error under the name operators know from later
    /// versions and from Jasmin (`ESME_RINVTLVSTREAM` is 3.4's 0xC0).
    pub const ESME_RINVTLVSTREAM: CommandStatus = CommandStatus::ESME_RINVOPTPARSTREAM;
    /// A TLV whose length is wrong for its tag (3.4's 0xC2).
    pub const ESME_RINVTLVLEN: CommandStatus = CommandStatus::ESME_RINVPARLEN;
    /// A TLV whose value is invalid (3.4's 0xC4).
    pub const ESME_RINVTLVVAL: CommandStatus = CommandStatus::ESME_RINVOPTPARAMVAL;

    pub fn is_ok(self) -> bool {
        self.0 == 0
    }

    /// A temporary error: the sender should retry later (SMPP 3.4 leaves
    /// this to implementations; these are the ones every SMSC treats so).
    pub fn is_temporary(self) -> bool {
        matches!(
            self,
            Self::ESME_RTHROTTLED | Self::ESME_RMSGQFUL | Self::ESME_RSYSERR | Self::ESME_RX_T_APPN
        )
    }
}

impl From<u32> for CommandStatus {
    fn from(v: u32) -> Self {
        CommandStatus(v)
    }
}

impl fmt::Debug for CommandStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(n) => f.write_str(n),
            None => write!(f, "CommandStatus({:#010x})", self.0),
        }
    }
}

impl fmt::Display for CommandStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(n) => write!(f, "{n} ({:#04x})", self.0),
            None => write!(f, "{:#010x}", self.0),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_whole_and_distinct() {
        assert_eq!(CommandStatus::ALL.len(), 48);
        let mut v: Vec<u32> = CommandStatus::ALL.iter().map(|s| s.0).collect();
        v.sort();
        v.dedup();
        assert_eq!(v.len(), 48);
    }

    #[test]
    fn unknown_values_are_kept() {
        let s = CommandStatus(0x0000_0400);
        assert_eq!(s.name(), None);
        assert_eq!(format!("{s}"), "0x00000400");
        assert_eq!(CommandStatus(0x58).name(), Some("ESME_RTHROTTLED"));
        assert_eq!(
            format!("{}", CommandStatus::ESME_RTHROTTLED),
            "ESME_RTHROTTLED (0x58)"
        );
    }
}
