//! The gateway library: config, accounts, router, store, server,
//! connectors, delivery, HTTP API and metrics, one module per concept, in
//! the order messages flow through them (shared/DESIGN.md). `context` is
//! what the stages share; `submit` is the one submit path the front ends
//! (SMPP, HTTP) share; `callbacks` sends the store's callback queue out
//! over HTTP, with `jasmin`'s parameters.

pub mod accounts;
pub mod callbacks;
pub mod config;
pub mod connector;
pub mod context;
pub mod delivery;
pub mod http;
pub mod jasmin;
pub mod metrics;
pub mod router;
pub mod server;
pub mod settle;
pub mod store;
pub mod submit;
