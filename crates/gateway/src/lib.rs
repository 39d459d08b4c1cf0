//! The gateway library: config, accounts, router, store, server,
//! connectors, delivery, HTTP API and metrics, one module per concept, in
//! the order messages flow through them (shared/DESIGN.md).

pub mod accounts;
pub mod config;
pub mod connector;
pub mod context;
pub mod delivery;
pub mod router;
pub mod server;
pub mod store;
