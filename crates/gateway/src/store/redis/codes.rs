//! The scripts' answers, defined once: the Rust side of the names the Lua
//! prelude (`lua/prelude.lua`) gives them. A unit test reads the prelude
//! and checks every name there has the value here, and every name here is
//! there, so the two cannot drift.

// submit.lua
pub(super) const SUBMIT_OK: i64 = 0;
pub(super) const QUEUE_FULL: i64 = 1;
pub(super) const THROTTLED: i64 = 2;
pub(super) const NO_CREDIT: i64 = 3;
pub(super) const ALREADY_ACCEPTED: i64 = 4;

// cancel.lua
pub(super) const NOT_FOUND: i64 = 0;
pub(super) const TOO_LATE: i64 = 1;
pub(super) const CANCELLED: i64 = 2;

// replace.lua, with NOT_FOUND and TOO_LATE above.
pub(super) const REPLACED: i64 = 3;
/// The message changed between its read and the script: read it again.
pub(super) const REPLACE_RACED: i64 = 4;

// receipt.lua and receipts.lua's apply(): the first element of the answer.
pub(super) const R_HELD: i64 = 0;
pub(super) const R_DUPLICATE: i64 = 1;
pub(super) const R_INTERMEDIATE: i64 = 2;
pub(super) const R_PARTIAL: i64 = 3;
pub(super) const R_FINAL: i64 = 4;

#[cfg(test)]
mod tests {
    use super::*;
    use smpp::MessageState;
    use std::collections::BTreeMap;

    /// Every name the prelude defines, with the value it must have: the
    /// codes above, and the message_state values the Lua rules use.
    fn prelude_names() -> Vec<(&'static str, i64)> {
        vec![
            ("SUBMIT_OK", SUBMIT_OK),
            ("QUEUE_FULL", QUEUE_FULL),
            ("THROTTLED", THROTTLED),
            ("NO_CREDIT", NO_CREDIT),
            ("ALREADY_ACCEPTED", ALREADY_ACCEPTED),
            ("NOT_FOUND", NOT_FOUND),
            ("TOO_LATE", TOO_LATE),
            ("CANCELLED", CANCELLED),
            ("REPLACED", REPLACED),
            ("REPLACE_RACED", REPLACE_RACED),
            ("R_HELD", R_HELD),
            ("R_DUPLICATE", R_DUPLICATE),
            ("R_INTERMEDIATE", R_INTERMEDIATE),
            ("R_PARTIAL", R_PARTIAL),
            ("R_FINAL", R_FINAL),
            ("DELIVERED", MessageState::Delivered.as_u8() as i64),
            ("FINAL_FIRST", FINAL_STATES.0 as i64),
            ("FINAL_LAST", FINAL_STATES.1 as i64),
            ("REJECTED", MessageState::Rejected.as_u8() as i64),
            ("KEEP_AFTER_FINAL", crate::store::EXPIRY_GRACE_MS),
        ]
    }

    /// The message_state values that are final, first and last: the Lua
    /// `is_final` is a range check, so [`MessageState::is_final`] must hold
    /// for exactly these.
    const FINAL_STATES: (u8, u8) = (2, 8);

    /// The prelude's constants, as name → value.
    fn prelude_constants() -> BTreeMap<String, i64> {
        let mut out = BTreeMap::new();
        for (n, v) in super::super::scripts::prelude_constants() {
            let v: i64 = v
                .parse()
                .unwrap_or_else(|_| panic!("{n} = {v}: not a number"));
            assert!(out.insert(n.to_string(), v).is_none(), "{n} twice");
        }
        out
    }

    #[test]
    fn the_prelude_names_match_the_rust_codes() {
        let lua = prelude_constants();
        let rust: BTreeMap<String, i64> = prelude_names()
            .into_iter()
            .map(|(n, v)| (n.to_string(), v))
            .collect();
        assert_eq!(lua, rust);
    }

    #[test]
    fn the_final_states_are_a_range() {
        for v in 0..=255u8 {
            let in_range = (FINAL_STATES.0..=FINAL_STATES.1).contains(&v);
            assert_eq!(MessageState::from_u8(v).is_final(), in_range, "{v}");
        }
    }
}
