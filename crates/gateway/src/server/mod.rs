//! The SMPP front end: ESMEs bind here and submit. Each request is checked
//! ([`validate`]), authenticated and limited (accounts, store), routed
//! (router) and made durable (store) before it is answered.
//!
//! - [`Gateway`]: what every session shares (config, accounts, router,
//!   store).
//! - [`serve`]: the accept loop; each connection gets its own task
//!   ([`session`]).

pub mod session;
pub mod validate;

use std::net::SocketAddr;
use std::sync::Arc;

use arc_swap::ArcSwap;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tracing::{Instrument, info, info_span, warn};

use crate::accounts::Accounts;
use crate::config::{Config, Credit};
use crate::router::Router;
use crate::store::Store;

/// What every session shares. The configuration and the router are
/// swapped whole on reload; sessions read them per request.
pub struct Gateway<S> {
    pub config: ArcSwap<Config>,
    pub accounts: Accounts,
    pub router: ArcSwap<Router>,
    pub store: S,
    /// The users' receiver binds, for the way back.
    pub receivers: crate::delivery::Receivers,
}

impl<S: Store> Gateway<S> {
    /// Build the gateway and start tracking each limited user's credit in
    /// the store (a balance already tracked is kept).
    pub async fn new(config: Arc<Config>, store: S) -> Result<Arc<Self>, crate::store::StoreError> {
        init_credits(&store, &config).await?;
        Ok(Arc::new(Gateway {
            accounts: Accounts::new(&config),
            router: ArcSwap::from_pointee(Router::new(&config)),
            config: ArcSwap::new(config),
            store,
            receivers: Default::default(),
        }))
    }

    /// Swap in a new, already checked configuration: users, routes and
    /// filters take effect for the next request; live binds stay. Settings
    /// read only at start (listen addresses, store) are reported, not
    /// applied.
    pub async fn reload(
        &self,
        config: Arc<Config>,
    ) -> Result<Vec<String>, crate::store::StoreError> {
        let old = self.config.load_full();
        let mut needs_restart = Vec::new();
        if old.smpp_server.bind != config.smpp_server.bind
            || old.smpp_server.port != config.smpp_server.port
        {
            needs_restart.push("[smpp-server] bind/port".to_string());
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
async fn init_credits<S: Store>(
    store: &S,
    config: &Config,
) -> Result<(), crate::store::StoreError> {
    for u in config.users.values() {
        if let Credit::Micro(c) = u.credit {
            store.init_credit(&u.system_id, c).await?;
        }
    }
    Ok(())
}

/// Accept ESME connections until `shutdown` turns true.
pub async fn serve<S: Store>(
    gateway: Arc<Gateway<S>>,
    listener: TcpListener,
    mut shutdown: watch::Receiver<bool>,
) {
    if let Ok(addr) = listener.local_addr() {
        info!(%addr, "SMPP server listening");
    }
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    let _ = stream.set_nodelay(true);
                    let gw = gateway.clone();
                    let shutdown = shutdown.clone();
                    let span = info_span!("session", %peer, user = tracing::field::Empty);
                    tokio::spawn(session::run(gw, stream, peer, shutdown).instrument(span));
                }
                Err(e) => warn!(error = %e, "accept failed"),
            },
            _ = shutdown.changed() => {
                if *shutdown.borrow() {
                    info!("SMPP server stops accepting");
                    return;
                }
            }
        }
    }
}

/// Bind a listener for the configured SMPP address.
pub async fn listen(config: &Config) -> std::io::Result<TcpListener> {
    TcpListener::bind(SocketAddr::new(
        config.smpp_server.bind,
        config.smpp_server.port,
    ))
    .await
}
