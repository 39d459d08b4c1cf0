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

use tokio::net::TcpListener;
use tokio::sync::watch;
use tracing::{Instrument, info, info_span, warn};

use crate::accounts::Accounts;
use crate::config::{Config, Credit};
use crate::router::Router;
use crate::store::Store;

/// Messages a connector's queue may hold before submits get ESME_RMSGQFUL.
pub const DEFAULT_QUEUE_LIMIT: u64 = 1_000_000;

/// What every session shares.
pub struct Gateway<S> {
    pub config: Arc<Config>,
    pub accounts: Accounts,
    pub router: Router,
    pub store: S,
    pub queue_limit: u64,
}

impl<S: Store> Gateway<S> {
    /// Build the gateway and start tracking each limited user's credit in
    /// the store (a balance already tracked is kept).
    pub async fn new(config: Arc<Config>, store: S) -> Result<Arc<Self>, crate::store::StoreError> {
        for u in config.users.values() {
            if let Credit::Micro(c) = u.credit {
                store.init_credit(&u.system_id, c).await?;
            }
        }
        Ok(Arc::new(Gateway {
            accounts: Accounts::new(&config),
            router: Router::new(&config),
            config,
            store,
            queue_limit: DEFAULT_QUEUE_LIMIT,
        }))
    }
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
