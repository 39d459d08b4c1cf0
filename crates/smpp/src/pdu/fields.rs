//! Typed mandatory fields: TON, NPI, esm_class, registered_delivery,
//! data_coding, addresses.
//!
//! Each is a newtype over its octet, so any value a peer sends is kept and
//! re-encoded as it came; the named constants and accessors give it meaning.

use std::fmt;

macro_rules! octet_newtype {
    ($(#[$doc:meta])* $name:ident { $($cname:ident = $cval:literal),* $(,)? }) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, Default, PartialOrd, Ord)]
        pub struct $name(pub u8);

        impl $name {
            $(pub const $cname: $name = $name($cval);)*
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                match self.0 {
                    $($cval => f.write_str(stringify!($cname)),)*
                    v => write!(f, "{}({v:#04x})", stringify!($name)),
                }
            }
        }

        impl From<u8> for $name {
            fn from(v: u8) -> Self {
                $name(v)
            }
        }
    };
}

octet_newtype! {
    /// Type of Number (§5.2.5).
    Ton {
        UNKNOWN = 0,
        INTERNATIONAL = 1,
        NATIONAL = 2,
        NETWORK_SPECIFIC = 3,
        SUBSCRIBER_NUMBER = 4,
        ALPHANUMERIC = 5,
        ABBREVIATED = 6,
    }
}

octet_newtype! {
    /// Numbering Plan Indicator (§5.2.6).
    Npi {
        UNKNOWN = 0,
        ISDN = 1,
        DATA = 3,
        TELEX = 4,
        LAND_MOBILE = 6,
        NATIONAL = 8,
        PRIVATE = 9,
        ERMES = 10,
        INTERNET = 14,
        WAP_CLIENT_ID = 18,
    }
}

octet_newtype! {
    /// esm_class (§5.2.12): messaging mode, message type and GSM features.
    EsmClass {
        DEFAULT = 0x00,
    }
}

impl EsmClass {
    /// Bits 1-0: messaging mode (0 default, 1 datagram, 2 forward, 3 store and forward).
    pub const MODE_MASK: u8 = 0x03;
    /// Bits 5-2: message type.
    pub const TYPE_MASK: u8 = 0x3C;
    /// SMSC delivery receipt (in deliver_sm).
    pub const TYPE_DELIVERY_RECEIPT: u8 = 0x04;
    /// SME delivery acknowledgement.
    pub const TYPE_DELIVERY_ACK: u8 = 0x08;
    /// SME manual/user acknowledgement.
    pub const TYPE_USER_ACK: u8 = 0x10;
    /// Conversation abort (Korean CDMA).
    pub const TYPE_CONVERSATION_ABORT: u8 = 0x18;
    /// Intermediate delivery notification.
    pub const TYPE_INTERMEDIATE_NOTIFICATION: u8 = 0x20;
    /// UDH indicator: short_message starts with a User Data Header.
    pub const UDHI: u8 = 0x40;
    /// Reply path.
    pub const REPLY_PATH: u8 = 0x80;

    pub fn messaging_mode(self) -> u8 {
        self.0 & Self::MODE_MASK
    }

    pub fn message_type(self) -> u8 {
        self.0 & Self::TYPE_MASK
    }

    pub fn udhi(self) -> bool {
        self.0 & Self::UDHI != 0
    }

    /// A delivery receipt or an intermediate notification, not a user message.
    pub fn is_receipt(self) -> bool {
        matches!(
            self.message_type(),
            Self::TYPE_DELIVERY_RECEIPT | Self::TYPE_INTERMEDIATE_NOTIFICATION
        )
    }

    pub fn with_udhi(self, on: bool) -> Self {
        if on {
            EsmClass(self.0 | Self::UDHI)
        } else {
            EsmClass(self.0 & !Self::UDHI)
        }
    }
}

octet_newtype! {
    /// registered_delivery (§5.2.17): which receipts the sender wants.
    RegisteredDelivery {
        NONE = 0,
        FINAL = 1,
        FAILURE = 2,
    }
}

impl RegisteredDelivery {
    /// Bits 1-0: SMSC delivery receipt (0 none, 1 final, 2 failure only, 3 reserved).
    pub fn smsc_receipt(self) -> u8 {
        self.0 & 0x03
    }

    /// Bits 3-2: SME originated acknowledgement.
    pub fn sme_ack(self) -> u8 {
        (self.0 >> 2) & 0x03
    }

    /// Bit 4: intermediate notification requested.
    pub fn intermediate(self) -> bool {
        self.0 & 0x10 != 0
    }

    /// Whether a final receipt in this state should be sent.
    pub fn wants_final(self, delivered: bool) -> bool {
        match self.smsc_receipt() {
            1 => true,
            2 => !delivered,
            _ => false,
        }
    }

    /// Reserved bits (7-5) clear and the receipt value not the reserved 3.
    pub fn is_valid(self) -> bool {
        self.0 & 0xE0 == 0 && self.smsc_receipt() != 3
    }
}

octet_newtype! {
    /// data_coding (§5.2.19).
    DataCoding {
        DEFAULT = 0x00,
        IA5 = 0x01,
        BINARY_2 = 0x02,
        LATIN1 = 0x03,
        BINARY = 0x04,
        JIS = 0x05,
        CYRILLIC = 0x06,
        HEBREW = 0x07,
        UCS2 = 0x08,
        PICTOGRAM = 0x09,
        ISO_2022_JP = 0x0A,
        EXTENDED_KANJI = 0x0D,
        KS_C_5601 = 0x0E,
    }
}

/// An SME address: TON, NPI and the address itself (without its NUL).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct Address<B> {
    pub ton: Ton,
    pub npi: Npi,
    pub addr: B,
}

/// One destination of a submit_multi (§4.5.1.1).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Destination<B> {
    /// dest_flag 1: an SME address.
    Sme(Address<B>),
    /// dest_flag 2: a distribution list name.
    DistributionList(B),
}

/// A destination a submit_multi could not reach (§4.5.2.1).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct UnsuccessSme<B> {
    pub address: Address<B>,
    pub error_status: crate::status::CommandStatus,
}
