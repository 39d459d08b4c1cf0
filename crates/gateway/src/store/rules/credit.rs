//! Refunds: a message's charge goes back to its user at most once, and
//! only what submit actually charged (nothing for a user whose credit was
//! unlimited then), to a balance that is tracked.
//!
//! A backend keeps, per message, the charge not yet refunded; a refund
//! takes it (leaving 0), so a second cancel or fail finds nothing to give
//! back. Whether the user's balance is tracked is the backend's to check
//! (memory: the balance exists; redis: `EXISTS` on the credit key).

/// Take what is left of a message's charge: `Some(amount)` to add to the
/// user's tracked balance, `None` when nothing is owed (never charged,
/// or refunded already). `charged` is 0 afterwards either way.
///
/// Charges are never negative (a rate cannot be negative), so "nothing
/// owed" is `<= 0`.
pub fn take_refund(charged: &mut i64) -> Option<i64> {
    let c = std::mem::take(charged);
    (c > 0).then_some(c)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn a_charge_is_refunded_once() {
        let mut c = 25_000;
        assert_eq!(take_refund(&mut c), Some(25_000));
        assert_eq!(take_refund(&mut c), None);
        assert_eq!(c, 0);
        let mut free = 0;
        assert_eq!(take_refund(&mut free), None);
    }

    proptest! {
        /// However many refunds are asked for, the total given back is
        /// the charge, once.
        #[test]
        fn refund_never_twice(charge in 0i64..1_000_000_000, tries in 1usize..10) {
            let mut left = charge;
            let total: i64 = (0..tries).filter_map(|_| take_refund(&mut left)).sum();
            prop_assert_eq!(total, charge);
            prop_assert_eq!(left, 0);
        }
    }
}
