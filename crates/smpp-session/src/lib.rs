//! Async SMPP session on tokio, for either role (ESME or SMSC).
//!
//! Not built yet: issue 4 fills this crate (bind states, window, sequence
//! numbers, timers, enquire_link, generic_nack, unbind). It holds no code so
//! that nothing pretends to work.
