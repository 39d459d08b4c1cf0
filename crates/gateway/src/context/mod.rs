//! What the stages share, and nothing else: the configuration (swapped
//! whole on reload), the accounts, the router, the store, the users'
//! receiver binds, the shutdown signal, which connectors are bound, and
//! the TCP connections open per client address on the front ends.
//!
//! This module depends on no stage. The stages — `server` (SMPP front
//! end), `connector`, `delivery` (and the coming `http` and `metrics`) —
//! each take an `Arc<Context<S>>` and never import one another: the front
//! end registers a receiver bind in [`Receivers`], the delivery stage
//! serves it; the connectors and the delivery stage meet only in the
//! store.

mod connections;
mod connectors;
mod receivers;
mod shutdown;

use std::sync::Arc;

use arc_swap::ArcSwap;

use crate::accounts::Accounts;
use crate::config::{Config, Credit};
use crate::metrics::Metrics;
use crate::router::Router;
use crate::store::{Store, StoreError};

pub use connections::{Connections, Open, PerClient};
pub use connectors::{ConnectorStates, Up};
pub use receivers::Receivers;
pub use shutdown::Shutdown;

/// What every stage shares. The configuration and the router are
/// swapped whole on reload; stages read them per request.
pub struct Context<S> {
    pub config: ArcSwap<Config>,
    pub accounts: Accounts,
    pub router: ArcSwap<Router>,
    pub store: S,
    /// The users' receiver binds in this process, for the way back.
    pub receivers: Receivers,
    /// When the front ends stop accepting, and when the connectors stop.
    pub shutdown: Shutdown,
    /// Which connectors are bound upstream, for readiness and metrics.
    pub connectors: ConnectorStates,
    /// This gateway's Prometheus metrics, moved by the stages.
    pub metrics: Metrics,
    /// TCP connections open per client address on each front end.
    pub connections: Connections,
}

impl<S: Store> Context<S> {
    /// Build the context and start tracking each limited user's credit in
    /// the store (a balance already tracked is kept).
    pub async fn new(config: Arc<Config>, store: S) -> Result<Arc<Self>, StoreError> {
        init_credits(&store, &config).await?;
        Ok(Arc::new(Context {
            accounts: Accounts::new(&config),
            router: ArcSwap::from_pointee(Router::new(&config)),
            config: ArcSwap::new(config),
            store,
            receivers: Receivers::default(),
            shutdown: Shutdown::default(),
            connectors: ConnectorStates::default(),
            metrics: Metrics::new(),
            connections: Connections::default(),
        }))
    }

    /// Swap in a new, already checked configuration: users, routes and
    /// filters take effect for the next request; live binds stay. Settings
    /// read only at start (listen addresses, store) are reported, not
    /// applied.
    pub async fn reload(&self, config: Arc<Config>) -> Result<Vec<String>, StoreError> {
        let old = self.config.load_full();
        let mut needs_restart = Vec::new();
        if old.smpp_server.bind != config.smpp_server.bind
            || old.smpp_server.port != config.smpp_server.port
        {
            needs_restart.push("[smpp-server] bind/port".to_string());
        }
        // The TLS listener is bound at start; its certificate is not
        // (read again with the file, served to new connections).
        let tls_port = |c: &Config| c.smpp_server.tls.as_ref().map(|t| t.port);
        if tls_port(&old) != tls_port(&config) {
            needs_restart.push("[smpp-server] tls_port".to_string());
        }
        if (old.http_api.bind, old.http_api.port) != (config.http_api.bind, config.http_api.port) {
            needs_restart.push("[http-api] bind/port".to_string());
        }
        if old.store != config.store {
            needs_restart.push("[store]".to_string());
        }
        init_credits(&self.store, &config).await?;
        self.accounts.reload(&config);
        self.router.store(Arc::new(Router::new(&config)));
        self.config.store(config);
        Ok(needs_restart)
    }
}

/// Start tracking each limited user's credit (a tracked balance is kept).
async fn init_credits<S: Store>(store: &S, config: &Config) -> Result<(), StoreError> {
    for u in config.users.values() {
        if let Credit::Micro(c) = u.credit {
            store.init_credit(&u.system_id, c).await?;
        }
    }
    Ok(())
}
