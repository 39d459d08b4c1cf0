//! The gateway library: config, accounts, router, store, server, connectors,
//! delivery, HTTP API and metrics.
//!
//! Not built yet: issues 5 and 6 fill this crate. It holds no code so that
//! nothing pretends to work.
