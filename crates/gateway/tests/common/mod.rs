//! What the store's integration tests share: a real `redis-server` to
//! run against ([`redis_server`]) and the messages, submissions and
//! receipts they are built from ([`fixtures`]).
//!
//! Every test binary that says `mod common;` compiles all of it and uses
//! a part, hence the `dead_code` allowance.

#![allow(dead_code)]

pub mod fixtures;
pub mod redis_server;
