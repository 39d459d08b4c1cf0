//! The store's rules, written once as pure code: no I/O, no async, no
//! clock (time is passed in). Both backends are held to them: the memory
//! backend calls these functions; the redis backend runs the same rules in
//! Lua (`store/redis/lua/`), and each Lua rule names the function here it
//! mirrors (`-- rules::…`), so a change here has one place to go there.
//!
//! - [`receipts`]: how part receipts add up to a message's final state
//!   ([`PartCounts`]), which receipts a registered_delivery wants
//!   ([`wants_receipt`]), which held receipt wins ([`held_replaces`]), a
//!   receipt without a done date ([`done_or_now`]) and the error-code
//!   clamp ([`error_code_for_status`]).
//! - [`credit`]: a charge is refunded at most once ([`take_refund`]).
//! - [`gcra`]: the throughput limit.
//!
//! What this module must not do: touch a map, a key or a lock. The
//! backends own where state lives; this module owns what it means.

pub mod credit;
pub mod gcra;
pub mod receipts;

pub use credit::take_refund;
pub use gcra::Limit;
pub use receipts::{
    PartCounts, PartStep, done_or_now, error_code_for_status, held_replaces, wants_receipt,
};
