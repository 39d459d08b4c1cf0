//! The SMPP front end: ESMEs bind here and submit. Each request is checked
//! ([`validate`]), authenticated and limited (accounts, store), routed
//! (router) and made durable (store) before it is answered.
//!
//! Built so far: [`validate`]. The session loop arrives next (issue 5).

pub mod validate;
