//! The receipt rules: how receipts for a message's parts add up to its
//! final state, and which receipts its user gets.
//!
//! - A message's parts for receipts are its upstream ids (what
//!   [`Store::sent`](crate::store::Store::sent) recorded; at least one).
//!   A final receipt for a part counts once; when every part is final the
//!   message is final: DELIVERED when every part was delivered, otherwise
//!   the state and error code of the last part that was not
//!   ([`PartCounts::apply`]).
//! - Anything after a part is final, or after the message is final
//!   (every part counted, or failed, expired or cancelled), is a
//!   duplicate: it changes nothing.
//! - The user gets exactly one final receipt per message that asked for
//!   one (registered_delivery bits 1-0: 1 = always, 2 = on failure), and
//!   an intermediate receipt for each non-final part receipt when it
//!   asked for intermediate notification (bit 4): [`wants_receipt`].
//! - A receipt that came before its upstream id was mapped is held; a
//!   later one for the same id replaces it, except that a non-final one
//!   never replaces a final one ([`held_replaces`]).
//! - A receipt without a done date (0 or less) is done when the store
//!   applies it ([`done_or_now`]).
//! - query_sm's error_code is one octet: a network error code above 255
//!   reads 255 there ([`error_code_for_status`]); the user's receipt
//!   keeps the whole code.

use smpp::MessageState;
use smpp::pdu::RegisteredDelivery;

/// A sent message's receipt count: how many of its parts are final and
/// delivered, and the last part that was not delivered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PartCounts {
    /// The message's parts (its upstream ids), at least 1.
    pub total: u32,
    /// Parts whose final receipt was counted.
    pub done: u32,
    /// Of those, the parts delivered.
    pub delivered: u32,
    /// The last part counted that was not delivered: its state and
    /// network error code.
    pub failed: Option<(MessageState, u16)>,
}

/// What one part receipt does to a message ([`PartCounts::apply`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PartStep {
    /// The part or the message was final already: nothing changes.
    Duplicate,
    /// A non-final state for a part not final yet: nothing is counted
    /// (the user may get an intermediate receipt, [`wants_receipt`]).
    Intermediate,
    /// The part is counted; other parts are not final yet.
    Partial,
    /// The part is counted and it was the last: the message is final in
    /// `state` with `error_code`.
    Final {
        state: MessageState,
        error_code: u16,
    },
}

impl PartCounts {
    /// The count of a message sent as `total` upstream parts; a message
    /// with none recorded counts as one part.
    pub fn new(total: u32) -> PartCounts {
        PartCounts {
            total: total.max(1),
            done: 0,
            delivered: 0,
            failed: None,
        }
    }

    /// Whether every part is final.
    pub fn complete(&self) -> bool {
        self.done >= self.total
    }

    /// Apply one part's receipt in `state` with `error_code`.
    /// `message_final`: the message is final already (failed, expired or
    /// cancelled); `part_done`: this part's final receipt was counted
    /// already. The caller marks the part done when this answers
    /// [`PartStep::Partial`] or [`PartStep::Final`].
    pub fn apply(
        &mut self,
        message_final: bool,
        part_done: bool,
        state: MessageState,
        error_code: u16,
    ) -> PartStep {
        if message_final || part_done || self.complete() {
            return PartStep::Duplicate;
        }
        if !state.is_final() {
            return PartStep::Intermediate;
        }
        self.done += 1;
        if state == MessageState::Delivered {
            self.delivered += 1;
        } else {
            self.failed = Some((state, error_code));
        }
        if !self.complete() {
            return PartStep::Partial;
        }
        let (state, error_code) = self.failed.unwrap_or((MessageState::Delivered, 0));
        PartStep::Final { state, error_code }
    }
}

/// Whether a message with `registered_delivery` gets a receipt for this
/// state: a final one per bits 1-0, an intermediate one per bit 4.
pub fn wants_receipt(registered_delivery: u8, state: MessageState) -> bool {
    let rd = RegisteredDelivery(registered_delivery);
    if state.is_final() {
        rd.wants_final(state == MessageState::Delivered)
    } else {
        rd.intermediate()
    }
}

/// Whether a receipt in state `new` replaces the receipt held for the
/// same upstream id (`held`: its state, None when none is held or it
/// expired): always, except a non-final one over a final one.
pub fn held_replaces(held: Option<MessageState>, new: MessageState) -> bool {
    new.is_final() || !held.is_some_and(MessageState::is_final)
}

/// The error code query_sm reports for a network error code: one octet,
/// so anything above 255 reads 255.
pub fn error_code_for_status(error_code: u16) -> u8 {
    u8::try_from(error_code).unwrap_or(u8::MAX)
}

/// A receipt's done date (Unix ms), or `now_ms` when it has none (0 or
/// less: the SMSC sent no parsable done date): the message is final when
/// the store applies the receipt, and its user's receipts (final or
/// intermediate) carry that time.
pub fn done_or_now(done_ms: i64, now_ms: i64) -> i64 {
    if done_ms <= 0 { now_ms } else { done_ms }
}

#[cfg(test)]
mod tests {
    use super::*;
    use MessageState::*;
    use proptest::prelude::*;

    #[test]
    fn a_receipt_without_a_done_date_is_done_now() {
        assert_eq!(done_or_now(1_790_000_100_000, 5), 1_790_000_100_000);
        assert_eq!(done_or_now(1, 5), 1);
        assert_eq!(done_or_now(0, 5), 5);
        assert_eq!(done_or_now(-3, 5), 5);
    }

    #[test]
    fn receipt_wishes_follow_registered_delivery() {
        assert!(!wants_receipt(0, Delivered));
        assert!(!wants_receipt(0, Undeliverable));
        assert!(wants_receipt(1, Delivered));
        assert!(wants_receipt(1, Expired));
        assert!(!wants_receipt(2, Delivered));
        assert!(wants_receipt(2, Rejected));
        assert!(!wants_receipt(1, Enroute));
        assert!(wants_receipt(0x11, Enroute));
        assert!(!wants_receipt(0x10, Delivered));
    }

    #[test]
    fn three_parts_one_failed() {
        let mut c = PartCounts::new(3);
        assert_eq!(c.apply(false, false, Delivered, 0), PartStep::Partial);
        assert_eq!(c.apply(false, false, Undeliverable, 7), PartStep::Partial);
        assert_eq!(c.apply(false, true, Delivered, 0), PartStep::Duplicate);
        assert_eq!(c.apply(false, false, Enroute, 0), PartStep::Intermediate);
        assert_eq!(
            c.apply(false, false, Delivered, 0),
            PartStep::Final {
                state: Undeliverable,
                error_code: 7
            }
        );
        assert_eq!((c.done, c.delivered), (3, 2));
        // Complete: anything more is a duplicate, final or not.
        assert_eq!(c.apply(false, false, Enroute, 0), PartStep::Duplicate);
        assert_eq!(c.apply(false, false, Delivered, 0), PartStep::Duplicate);
    }

    #[test]
    fn a_final_message_takes_nothing_and_none_counts_as_one_part() {
        let mut c = PartCounts::new(0);
        assert_eq!(c.total, 1);
        assert_eq!(c.apply(true, false, Delivered, 0), PartStep::Duplicate);
        assert_eq!(c.done, 0);
        assert_eq!(
            c.apply(false, false, Delivered, 0),
            PartStep::Final {
                state: Delivered,
                error_code: 0
            }
        );
    }

    #[test]
    fn a_held_final_receipt_is_kept() {
        assert!(held_replaces(None, Enroute));
        assert!(held_replaces(Some(Enroute), Enroute));
        assert!(held_replaces(Some(Enroute), Delivered));
        assert!(held_replaces(Some(Delivered), Undeliverable));
        assert!(!held_replaces(Some(Delivered), Enroute));
        assert!(!held_replaces(Some(Rejected), Other(0x42)));
    }

    #[test]
    fn error_codes_clamp_to_one_octet() {
        assert_eq!(error_code_for_status(0), 0);
        assert_eq!(error_code_for_status(255), 255);
        assert_eq!(error_code_for_status(256), 255);
        assert_eq!(error_code_for_status(u16::MAX), 255);
    }

    fn final_state() -> impl Strategy<Value = MessageState> {
        prop::sample::select(vec![
            Delivered,
            Delivered,
            Expired,
            Deleted,
            Undeliverable,
            Accepted,
            Unknown,
            Rejected,
        ])
    }

    /// One receipt as an SMSC might send it: for part `part`, final or
    /// not.
    #[derive(Debug, Clone)]
    struct Arrival {
        part: usize,
        state: MessageState,
        error_code: u16,
    }

    /// Each part's final receipt once, in some order, with repeats and
    /// non-final receipts mixed in.
    fn arrivals() -> impl Strategy<Value = (Vec<(MessageState, u16)>, Vec<Arrival>)> {
        prop::collection::vec((final_state(), any::<u16>()), 1..8).prop_flat_map(|parts| {
            let n = parts.len();
            let finals: Vec<Arrival> = parts
                .iter()
                .enumerate()
                .map(|(part, &(state, error_code))| Arrival {
                    part,
                    state,
                    error_code,
                })
                .collect();
            let extra = prop::collection::vec(
                (
                    0..n,
                    prop::sample::select(vec![Enroute, Other(0x42), Delivered, Rejected]),
                ),
                0..6,
            );
            (Just(parts), Just(finals).prop_shuffle(), extra).prop_map(
                |(parts, mut order, extra)| {
                    for (i, (part, state)) in extra.into_iter().enumerate() {
                        let at = (i * 7 + part) % (order.len() + 1);
                        order.insert(
                            at,
                            Arrival {
                                part,
                                state,
                                error_code: 1,
                            },
                        );
                    }
                    (parts, order)
                },
            )
        })
    }

    proptest! {
        /// However the receipts arrive: one Final, on the first arrival
        /// that makes every part final; the counts are the parts'; the
        /// message is DELIVERED iff every part was, else the last failed
        /// part's state and code; nothing after a part is final counts.
        #[test]
        fn aggregation_is_order_independent((parts, order) in arrivals()) {
            let mut c = PartCounts::new(parts.len() as u32);
            let mut final_part = vec![false; parts.len()];
            let mut finals = 0;
            let mut last_failed = None;
            for a in &order {
                let was_complete = c.complete();
                let step = c.apply(false, final_part[a.part], a.state, a.error_code);
                let counted = !was_complete && !final_part[a.part] && a.state.is_final();
                if counted {
                    final_part[a.part] = true;
                    if a.state != Delivered {
                        last_failed = Some((a.state, a.error_code));
                    }
                }
                match step {
                    PartStep::Duplicate => prop_assert!(was_complete || !counted),
                    PartStep::Intermediate => prop_assert!(!a.state.is_final() && !was_complete),
                    PartStep::Partial => prop_assert!(counted && !c.complete()),
                    PartStep::Final { state, error_code } => {
                        finals += 1;
                        prop_assert!(counted && c.complete());
                        let all = final_part.iter().all(|f| *f);
                        prop_assert!(all);
                        prop_assert_eq!(
                            (state, error_code),
                            last_failed.unwrap_or((Delivered, 0))
                        );
                    }
                }
            }
            prop_assert_eq!(finals, 1);
            prop_assert_eq!(c.done as usize, parts.len());
            // The counts are the first final receipt of each part, in
            // whatever order they came.
            let mut first = vec![None; parts.len()];
            for a in order.iter().filter(|a| a.state.is_final()) {
                first[a.part].get_or_insert(a.state);
            }
            let delivered = first.iter().filter(|s| **s == Some(Delivered)).count();
            prop_assert_eq!(c.delivered as usize, delivered);
            prop_assert_eq!(c.failed.is_none(), delivered == parts.len());
        }

        /// DELIVERED exactly when every part was delivered, for every
        /// arrival order of the parts' final receipts.
        #[test]
        fn delivered_iff_every_part_was(
            states in prop::collection::vec(final_state(), 1..8).prop_shuffle()
        ) {
            let mut c = PartCounts::new(states.len() as u32);
            let mut last = PartStep::Duplicate;
            for s in &states {
                last = c.apply(false, false, *s, 3);
            }
            let all = states.iter().all(|s| *s == Delivered);
            let delivered = matches!(last, PartStep::Final { state: Delivered, .. });
            prop_assert_eq!(delivered, all);
            let is_final = matches!(last, PartStep::Final { .. });
            prop_assert!(is_final);
        }
    }
}
