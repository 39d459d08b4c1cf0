//! The SMPP front end: ESMEs bind here and submit. Binds are
//! authenticated (accounts); each submit goes through the one submit path
//! every front end shares ([`crate::submit`]: checked, limited, routed and
//! made durable) before it is answered.
//!
//! What every session shares (config, accounts, router, store, receivers)
//! is the [`crate::context::Context`]; this stage imports no other.
//!
//! - [`serve`]: the accept loop; each connection gets its own task
//!   ([`session`]), once its client address is within
//!   `max_connections_per_ip` (both ports together,
//!   [`crate::context::Connections`]);
//! - [`serve_tls`]: the same on `tls_port`, a TLS handshake first
//!   (`tls.rs`);
//! - [`submit_multi`]: a submit_multi as one submit per destination.
//!
//! replace_sm is the submit path's ([`crate::submit::replace`]).

pub mod session;
pub mod submit_multi;
mod tls;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use smpp_session::tls::TlsAcceptor;
use tokio::net::TcpListener;
use tracing::{Instrument, debug, info, info_span, warn};

use crate::config::Config;
use crate::context::Context;
use crate::metrics::labels::{Listener, RefusedReason};
use crate::store::Store;

/// How long the accept loop waits after an accept error (EMFILE: out of
/// file descriptors) before it tries again.
const ACCEPT_ERROR_PAUSE: Duration = Duration::from_millis(50);

/// Accept ESME connections until the context's front-end shutdown.
pub async fn serve<S: Store>(ctx: Arc<Context<S>>, listener: TcpListener) {
    accept(ctx, listener, None).await
}

/// Accept ESME connections over TLS until the front-end shutdown, with
/// the configuration's certificate (`[smpp-server] tls_cert/tls_key`,
/// re-read on SIGHUP). Returns at once without `tls_port`.
pub async fn serve_tls<S: Store>(ctx: Arc<Context<S>>, listener: TcpListener) {
    let acceptor = ctx
        .config
        .load()
        .smpp_server
        .tls
        .as_ref()
        .map(|t| t.acceptor.clone());
    if acceptor.is_some() {
        accept(ctx, listener, acceptor).await
    }
}

/// The accept loop of either listener: with `tls`, a handshake first.
/// A connection from a client address that has `max_connections_per_ip`
/// open on either port is closed before anything is read from it.
async fn accept<S: Store>(ctx: Arc<Context<S>>, listener: TcpListener, tls: Option<TlsAcceptor>) {
    let mut shutdown = ctx.shutdown.front_end();
    let label = if tls.is_some() {
        Listener::SmppTls
    } else {
        Listener::Smpp
    };
    if let Ok(addr) = listener.local_addr() {
        info!(%addr, tls = tls.is_some(), "SMPP server listening");
    }
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    let limit = ctx.config.load().smpp_server.max_connections_per_ip;
                    let Some(open) = ctx.connections.smpp.open(peer.ip(), limit) else {
                        ctx.metrics.connection_refused(label, RefusedReason::PerIp);
                        debug!(%peer, limit, "connection refused: max_connections_per_ip");
                        drop(stream);
                        continue;
                    };
                    let counted = (open, ctx.metrics.connection_open(label));
                    let _ = stream.set_nodelay(true);
                    let span = info_span!("session", %peer, user = tracing::field::Empty);
                    match &tls {
                        None => {
                            let session = session::run(ctx.clone(), stream, peer, shutdown.clone());
                            tokio::spawn(async move {
                                session.await;
                                drop(counted);
                            }.instrument(span));
                        }
                        Some(acceptor) => {
                            let session = tls::run(ctx.clone(), stream, peer, shutdown.clone(), acceptor.clone());
                            tokio::spawn(async move {
                                session.await;
                                drop(counted);
                            }.instrument(span));
                        }
                    }
                }
                Err(e) => {
                    // Out of file descriptors, most likely: the error comes
                    // back at once until one is free, so wait, not spin.
                    warn!(error = %e, "accept failed");
                    tokio::time::sleep(ACCEPT_ERROR_PAUSE).await;
                }
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

/// Bind the TLS listener, when `tls_port` is configured: on the same
/// address as the plain one.
pub async fn listen_tls(config: &Config) -> std::io::Result<Option<TcpListener>> {
    let Some(tls) = &config.smpp_server.tls else {
        return Ok(None);
    };
    let addr = SocketAddr::new(config.smpp_server.bind, tls.port);
    TcpListener::bind(addr).await.map(Some)
}

/// Bind a listener for the configured SMPP address.
pub async fn listen(config: &Config) -> std::io::Result<TcpListener> {
    TcpListener::bind(SocketAddr::new(
        config.smpp_server.bind,
        config.smpp_server.port,
    ))
    .await
}
