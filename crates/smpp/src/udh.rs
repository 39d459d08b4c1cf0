//! User Data Header (3GPP TS 23.040 §9.2.3.24): the information elements at
//! the start of a short_message whose esm_class has UDHI (0x40) set.
//!
//! This module owns parsing a UDH without trusting it (every length is
//! checked against the message; malformed input is an error, never a panic)
//! and building the two concatenation headers long messages need:
//! 8-bit reference `05 00 03 ref total seq` and 16-bit reference
//! `06 08 04 ref_hi ref_lo total seq`.

/// IE identifier: concatenated short message, 8-bit reference.
pub const IEI_CONCAT_8: u8 = 0x00;
/// IE identifier: concatenated short message, 16-bit reference.
pub const IEI_CONCAT_16: u8 = 0x08;

/// Length of an 8-bit-reference concatenation UDH, UDHL octet included.
pub const CONCAT_8_LEN: usize = 6;
/// Length of a 16-bit-reference concatenation UDH, UDHL octet included.
pub const CONCAT_16_LEN: usize = 7;

/// Why a UDH could not be parsed or built.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum UdhError {
    /// UDHI was set but the message has no octets at all.
    #[error("UDHI set on an empty short_message")]
    Empty,
    /// The UDHL octet claims more octets than the message has.
    #[error("UDH length {udhl} exceeds the {available} octets after it")]
    LengthBeyondMessage {
        /// The UDHL value.
        udhl: u8,
        /// Octets actually following the UDHL octet.
        available: usize,
    },
    /// An information element runs past the end of the UDH.
    #[error("information element at UDH offset {offset} overflows the header")]
    ElementOverflow {
        /// Offset of the element's identifier within the UDH (after UDHL).
        offset: usize,
    },
    /// Building: the elements do not fit the one-octet UDHL or IE length.
    #[error("information elements too long for a UDH")]
    TooLong,
}

/// One information element: identifier and data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct InformationElement<'a> {
    /// IEI.
    pub id: u8,
    /// The element's data, without the identifier and length octets.
    pub data: &'a [u8],
}

/// A concatenation reference number, whose width is part of its identity:
/// 8-bit 5 and 16-bit 5 are different messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Reference {
    /// From IE 0x00.
    Ref8(u8),
    /// From IE 0x08.
    Ref16(u16),
}

impl Reference {
    /// The number, widened.
    pub const fn value(self) -> u16 {
        match self {
            Reference::Ref8(r) => r as u16,
            Reference::Ref16(r) => r,
        }
    }
}

/// Concatenation info: this is part `seq` (1-based) of `total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Concat {
    /// The reference shared by all parts.
    pub reference: Reference,
    /// Number of parts, at least 1.
    pub total: u8,
    /// This part's number, 1..=total.
    pub seq: u8,
}

impl Concat {
    /// Reads a concatenation element; `None` if it is not one, has the wrong
    /// length, or has total 0, seq 0 or seq > total (TS 23.040 says to
    /// ignore such an element).
    pub fn from_element(ie: InformationElement<'_>) -> Option<Concat> {
        let (reference, total, seq) = match (ie.id, ie.data) {
            (IEI_CONCAT_8, &[r, total, seq]) => (Reference::Ref8(r), total, seq),
            (IEI_CONCAT_16, &[hi, lo, total, seq]) => {
                (Reference::Ref16(u16::from_be_bytes([hi, lo])), total, seq)
            }
            _ => return None,
        };
        (total != 0 && seq != 0 && seq <= total).then_some(Concat {
            reference,
            total,
            seq,
        })
    }
}

/// A whole 8-bit-reference concatenation UDH, UDHL included.
pub const fn concat8(reference: u8, total: u8, seq: u8) -> [u8; CONCAT_8_LEN] {
    [0x05, IEI_CONCAT_8, 0x03, reference, total, seq]
}

/// A whole 16-bit-reference concatenation UDH, UDHL included.
pub const fn concat16(reference: u16, total: u8, seq: u8) -> [u8; CONCAT_16_LEN] {
    let [hi, lo] = reference.to_be_bytes();
    [0x06, IEI_CONCAT_16, 0x04, hi, lo, total, seq]
}

/// Builds a UDH (UDHL included) from arbitrary elements.
pub fn build(elements: &[InformationElement<'_>]) -> Result<Vec<u8>, UdhError> {
    let body: usize = elements.iter().map(|ie| 2 + ie.data.len()).sum();
    let udhl = u8::try_from(body).map_err(|_| UdhError::TooLong)?;
    let mut out = Vec::with_capacity(1 + body);
    out.push(udhl);
    for ie in elements {
        // Cannot fail: each element is shorter than the whole, which fits.
        let len = u8::try_from(ie.data.len()).map_err(|_| UdhError::TooLong)?;
        out.push(ie.id);
        out.push(len);
        out.extend_from_slice(ie.data);
    }
    Ok(out)
}

/// A parsed, validated UDH borrowed from its short_message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Udh<'a> {
    /// The elements' octets, after UDHL.
    elements: &'a [u8],
    concat: Option<Concat>,
}

impl<'a> Udh<'a> {
    /// Parses the UDH at the start of `short_message`. Call it only when
    /// esm_class has UDHI set; the payload starts at
    /// [`payload_offset`](Self::payload_offset).
    pub fn parse(short_message: &'a [u8]) -> Result<Udh<'a>, UdhError> {
        let (&udhl, rest) = short_message.split_first().ok_or(UdhError::Empty)?;
        let elements = rest
            .get(..usize::from(udhl))
            .ok_or(UdhError::LengthBeyondMessage {
                udhl,
                available: rest.len(),
            })?;
        let mut concat = None;
        let mut offset = 0;
        while offset < elements.len() {
            let ie = read_element(elements, offset).ok_or(UdhError::ElementOverflow { offset })?;
            offset += 2 + ie.data.len();
            // A repeated element: the last occurrence counts (TS 23.040).
            if let Some(c) = Concat::from_element(ie) {
                concat = Some(c);
            }
        }
        Ok(Udh { elements, concat })
    }

    /// Offset of the payload in the short_message: UDHL + 1.
    pub fn payload_offset(&self) -> usize {
        self.elements.len() + 1
    }

    /// The concatenation info, if a valid concatenation element is present.
    pub fn concat(&self) -> Option<Concat> {
        self.concat
    }

    /// The information elements, in order.
    pub fn elements(&self) -> Elements<'a> {
        Elements {
            rest: self.elements,
        }
    }
}

fn read_element(elements: &[u8], offset: usize) -> Option<InformationElement<'_>> {
    let id = *elements.get(offset)?;
    let len = usize::from(*elements.get(offset + 1)?);
    let data = elements.get(offset + 2..offset + 2 + len)?;
    Some(InformationElement { id, data })
}

/// Iterator over a parsed UDH's information elements.
#[derive(Debug, Clone)]
pub struct Elements<'a> {
    rest: &'a [u8],
}

impl<'a> Iterator for Elements<'a> {
    type Item = InformationElement<'a>;

    fn next(&mut self) -> Option<Self::Item> {
        let ie = read_element(self.rest, 0)?;
        self.rest = self.rest.get(2 + ie.data.len()..).unwrap_or_default();
        Some(ie)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parses_concat8() {
        let sm = [0x05, 0x00, 0x03, 0x2A, 0x03, 0x02, b'h', b'i'];
        let udh = Udh::parse(&sm).unwrap();
        assert_eq!(udh.payload_offset(), 6);
        assert_eq!(&sm[udh.payload_offset()..], b"hi");
        assert_eq!(
            udh.concat(),
            Some(Concat {
                reference: Reference::Ref8(0x2A),
                total: 3,
                seq: 2
            })
        );
        let ies: Vec<_> = udh.elements().collect();
        assert_eq!(
            ies,
            vec![InformationElement {
                id: 0,
                data: &[0x2A, 3, 2]
            }]
        );
        assert_eq!(concat8(0x2A, 3, 2), sm[..6]);
    }

    #[test]
    fn parses_concat16_among_others() {
        // Port addressing (0x05, 4 octets), then 16-bit concatenation.
        let sm = [
            0x0C, 0x05, 0x04, 0x0B, 0x84, 0x23, 0xF0, 0x08, 0x04, 0x12, 0x34, 0x02, 0x01, 0xFF,
        ];
        let udh = Udh::parse(&sm).unwrap();
        assert_eq!(udh.payload_offset(), 13);
        let c = udh.concat().unwrap();
        assert_eq!(c.reference, Reference::Ref16(0x1234));
        assert_eq!(c.reference.value(), 0x1234);
        assert_eq!((c.total, c.seq), (2, 1));
        assert_eq!(udh.elements().count(), 2);
        assert_eq!(concat16(0x1234, 2, 1)[1..], sm[7..13]);
        assert_eq!(sm[0], 0x0C);
    }

    #[test]
    fn ignores_invalid_concat() {
        for sm in [
            [0x05, 0x00, 0x03, 1, 0, 1],
            [0x05, 0x00, 0x03, 1, 2, 0],
            [0x05, 0x00, 0x03, 1, 2, 3],
        ] {
            let udh = Udh::parse(&sm).unwrap();
            assert_eq!(udh.concat(), None);
            assert_eq!(udh.elements().count(), 1);
        }
        // Wrong length for IE 0x00.
        let udh = Udh::parse(&[0x04, 0x00, 0x02, 1, 2]).unwrap();
        assert_eq!(udh.concat(), None);
    }

    #[test]
    fn malformed() {
        assert_eq!(Udh::parse(&[]), Err(UdhError::Empty));
        assert_eq!(
            Udh::parse(&[0x05, 0x00, 0x03, 1]),
            Err(UdhError::LengthBeyondMessage {
                udhl: 5,
                available: 3
            })
        );
        assert_eq!(
            Udh::parse(&[0x03, 0x00, 0x03, 1, 2, 3]),
            Err(UdhError::ElementOverflow { offset: 0 })
        );
        assert_eq!(
            Udh::parse(&[0x01, 0x00]),
            Err(UdhError::ElementOverflow { offset: 0 })
        );
        // Empty UDH is well-formed.
        let udh = Udh::parse(&[0x00, b'x']).unwrap();
        assert_eq!(udh.payload_offset(), 1);
        assert_eq!(udh.elements().count(), 0);
    }

    #[test]
    fn builds() {
        let ies = [
            InformationElement {
                id: 0x00,
                data: &[7, 2, 1],
            },
            InformationElement {
                id: 0x24,
                data: &[],
            },
        ];
        let udh = build(&ies).unwrap();
        assert_eq!(udh, vec![0x07, 0x00, 0x03, 7, 2, 1, 0x24, 0x00]);
        let parsed = Udh::parse(&udh).unwrap();
        assert_eq!(parsed.elements().collect::<Vec<_>>(), ies);
        let big = [0u8; 254];
        assert_eq!(
            build(&[InformationElement { id: 1, data: &big }]),
            Err(UdhError::TooLong)
        );
    }

    proptest! {
        #[test]
        fn parsing_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
            if let Ok(udh) = Udh::parse(&bytes) {
                prop_assert!(udh.payload_offset() <= bytes.len());
                let total: usize = udh.elements().map(|ie| 2 + ie.data.len()).sum();
                prop_assert_eq!(total + 1, udh.payload_offset());
                if let Some(c) = udh.concat() {
                    prop_assert!(c.seq >= 1 && c.seq <= c.total);
                }
            }
        }

        #[test]
        fn build_parse_round_trip(ies in proptest::collection::vec((any::<u8>(), proptest::collection::vec(any::<u8>(), 0..20)), 0..10)) {
            let ies: Vec<_> = ies.iter().map(|(id, d)| InformationElement { id: *id, data: d }).collect();
            let udh = build(&ies).unwrap();
            let parsed = Udh::parse(&udh).unwrap();
            prop_assert_eq!(parsed.elements().collect::<Vec<_>>(), ies);
        }
    }
}
