//! The SMPP front end: ESMEs bind here and submit. Binds are
//! authenticated (accounts); each submit goes through the one submit path
//! every front end shares ([`crate::submit`]: checked, limited, routed and
//! made durable) before it is answered.
//!
//! What every session shares (config, accounts, router, store, receivers)
//! is the [`crate::context::Context`]; this stage imports no other.
//!
//! - [`serve`]: the accept loop; each connection gets its own task
//!   ([`session`]);
//! - [`submit_multi`]: a submit_multi as one submit per destination.
//!
//! replace_sm is the submit path's ([`crate::submit::replace`]).

pub mod session;
pub mod submit_multi;

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::TcpListener;
use tracing::{Instrument, info, info_span, warn};

use crate::config::Config;
use crate::context::Context;
use crate::store::Store;

/// Accept ESME connections until the context's front-end shutdown.
pub async fn serve<S: Store>(ctx: Arc<Context<S>>, listener: TcpListener) {
    let mut shutdown = ctx.shutdown.front_end();
    if let Ok(addr) = listener.local_addr() {
        info!(%addr, "SMPP server listening");
    }
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    let _ = stream.set_nodelay(true);
                    let span = info_span!("session", %peer, user = tracing::field::Empty);
                    let session = session::run(ctx.clone(), stream, peer, shutdown.clone());
                    tokio::spawn(session.instrument(span));
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
